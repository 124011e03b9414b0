"""A plain-text table laid out exactly as rich lays out ``Table(box=SIMPLE_HEAD)`` whose columns may
wrap (``overflow="fold"``) or be cut with an ellipsis (``no_wrap``): the symbolic table, whose
formulas are wider than the page. rich spends about 0.5 ms a row measuring and rendering cells
through its console; this builds the same lines from the same rules (measure, collapse the
wrapping columns, shrink evenly as a last resort, wrap each cell, pad) with plain strings.

Only ASCII cells without markup are handled (where a character's width is 1 and rich emits no
styles); anything else raises :class:`grid.Unsupported` and the caller prints the rich table.
``tests/test_grid.py`` compares this with rich itself on zoo models and on random tables.
"""
from __future__ import annotations

from dataclasses import dataclass

from .grid import Unsupported, _visible, _width


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "left"      # "left" / "right"
    no_wrap: bool = False       # no_wrap columns are cut with "…", the others fold
    min_width: int | None = None


def _column_widths(columns, cells, max_width: int) -> list:
    """rich's ``Table._calculate_column_widths`` for padding (0, 1), no expand, no fixed widths: a
    column measures its longest cell plus the padding, at most the width offered, at least its
    ``min_width``; only that maximum is used."""
    from rich._ratio import ratio_reduce

    longest = [max(len(row[i]) for row in cells) for i in range(len(columns))]

    def measure(i, width):
        if width < 1:  # rich measures nothing, and does not apply the minimum width either
            return 0
        hi = min(longest[i] + 2, width) if width > 2 else width  # no room inside the padding: all of it
        if columns[i].min_width is not None:
            hi = max(hi, columns[i].min_width + 2)
        return hi

    widths = [measure(i, max_width) or 1 for i in range(len(columns))]
    if sum(widths) > max_width:
        wrapable = [not c.no_wrap for c in columns]
        widths = _collapse(widths, wrapable, max_width, ratio_reduce)
        if sum(widths) > max_width:
            widths = ratio_reduce(sum(widths) - max_width, [1] * len(widths), widths, widths)
        widths = [measure(i, w) for i, w in enumerate(widths)]
    return widths


def _collapse(widths, wrapable, max_width, ratio_reduce):
    """rich's ``Table._collapse_widths``: shrink the widest wrapping columns first."""
    total = sum(widths)
    excess = total - max_width
    if any(wrapable):
        while total and excess > 0:
            top = max(w for w, ok in zip(widths, wrapable) if ok)
            second = max(w if ok and w != top else 0 for w, ok in zip(widths, wrapable))
            ratios = [1 if (w == top and ok) else 0 for w, ok in zip(widths, wrapable)]
            if not any(ratios) or not top - second:
                break
            widths = ratio_reduce(excess, ratios, [min(excess, top - second)] * len(widths), widths)
            total = sum(widths)
            excess = total - max_width
    return widths


def _cell_lines(text: str, width: int, col: Column) -> list:
    """The lines rich renders for one cell ``width`` wide (padding included): none when there is
    no room inside the padding (the row's other cells decide its height; this one is blank)."""
    inner = width - 2
    if inner < 1:
        return []
    if col.no_wrap:
        parts = [text]
    else:
        from rich._wrap import divide_line

        offsets = divide_line(text, inner, fold=True)
        bounds = [0, *offsets, len(text)]
        parts = []
        for a, b in zip(bounds, bounds[1:]):
            part = text[a:b]
            if len(part) > inner:  # rstrip_end: trailing blanks beyond the width go
                blanks = len(part) - len(part.rstrip())
                part = part[: len(part) - min(blanks, len(part) - inner)]
            parts.append(part)
    out = []
    for part in parts:
        if col.justify == "right":
            part = part.rstrip()
        if len(part) > inner:
            part = part[: inner - 1] + "…" if col.no_wrap else part[:inner]
        part = " " * (inner - len(part)) + part if col.justify == "right" else part + " " * (inner - len(part))
        out.append(" " + part + " ")
    return out


def lines(title: str, columns, rows, max_width: int):
    """The table's lines (no newlines), as rich prints ``Table(title=title, box=SIMPLE_HEAD,
    title_justify="left")`` with these columns at ``max_width`` columns."""
    headers = [_visible(c.header) for c in columns]
    body = [[_visible(c) for c in row] for row in rows]
    cells = [headers, *body]
    if not columns or any(len(row) != len(columns) for row in body) \
            or not all(c.isascii() for row in cells for c in row):
        raise Unsupported("no columns, ragged rows or wide characters")
    extra = 2 + len(columns) - 1
    widths = _column_widths(columns, cells, max_width - extra)
    table_width = sum(widths) + extra
    title = _visible(title) if title else ""
    if _width(title) > table_width or not title.isprintable() or _width(title) != len(title):
        raise Unsupported("title wraps or holds wide characters")
    # a minimum width can leave the table wider than the page: the console cuts its lines there
    return (line[:max_width] for line in _lines(title, columns, cells, widths, table_width))


def _lines(title, columns, cells, widths, table_width):
    if title:
        yield title + " " * (table_width - _width(title))
    blank = " " * table_width
    yield blank
    for n, row in enumerate(cells):
        rendered = [_cell_lines(c, w, col) for c, w, col in zip(row, widths, columns)]
        height = max(1, *map(len, rendered))
        for i, (r, w) in enumerate(zip(rendered, widths)):
            pad = [" " * w] * (height - len(r))
            rendered[i] = pad + r if n == 0 else r + pad  # the header sits at the bottom, cells at the top
        for k in range(height):
            yield " " + " ".join(r[k] for r in rendered) + " "
        if n == 0:
            yield " " + "─" * (table_width - 2) + " "
    yield blank
