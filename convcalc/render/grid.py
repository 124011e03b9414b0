"""A plain-text table laid out exactly as rich lays out ``Table(box=SIMPLE_HEAD)`` with no-wrap
columns, without rich's per-row cost (about 0.45 ms a row).

The text is built once, a line at a time, so a caller can stream it. It is used only where rich
would emit no styles (no colour system) and the table fits the width; anything else raises
:class:`Unsupported` and the caller prints the rich table instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class Unsupported(Exception):
    """This table needs rich itself (it would wrap, or a cell holds markup or control characters)."""


@dataclass
class Grid:
    title: str
    headers: list                 # column headings
    justify: list                 # "left" / "right" / "center" per column
    rows: list = field(default_factory=list)      # lists of cell strings
    sections: set = field(default_factory=set)    # indices of rows followed by a section line


_console = None


def _visible(text: str) -> str:
    """The text rich would show for a plain-string cell (markup and emoji codes applied)."""
    if "[" not in text and text.count(":") < 2:
        if text.isprintable():
            return text
        raise Unsupported("control characters")
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(color_system=None, highlight=False)
    shown = _console.render_str(text, highlight=False).plain
    if not shown.isprintable():
        raise Unsupported("control characters")
    return shown


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _fit(text: str, width: int, justify: str) -> str:
    excess = width - _width(text)
    if justify == "right":
        return " " * excess + text
    if justify == "center":
        left = excess // 2
        return " " * left + text + " " * (excess - left)
    return text + " " * excess


def lines(grid: Grid, max_width: int, pad_title: bool = True):
    """The table's lines (no newlines), as rich prints them at ``max_width`` columns.
    ``pad_title`` pads the title to the table's width (rich does unless soft-wrapping)."""
    headers = [_visible(h) for h in grid.headers]
    rows = [[_visible(c) for c in row] for row in grid.rows]
    widths = [_width(h) for h in headers]
    for row in rows:
        if len(row) != len(widths):
            raise Unsupported("ragged rows")
        for i, c in enumerate(row):
            w = _width(c)
            if w > widths[i]:
                widths[i] = w
    table_width = sum(widths) + 3 * len(widths) + 1
    title = _visible(grid.title) if grid.title else ""
    if not widths or table_width > max_width or _width(title) > table_width:
        raise Unsupported("too wide")
    return _lines(grid, title, headers, rows, widths, table_width, pad_title)


def _lines(grid, title, headers, rows, widths, table_width, pad_title):
    justify = grid.justify
    if title:
        yield _fit(title, table_width, "left") if pad_title else title
    blank = " " * table_width
    yield blank
    yield "  " + "   ".join(_fit(h, w, j) for h, w, j in zip(headers, widths, justify)) + "  "
    yield " " + "─" * (table_width - 2) + " "
    last = len(rows) - 1
    for n, row in enumerate(rows):
        yield "  " + "   ".join(_fit(c, w, j) for c, w, j in zip(row, widths, justify)) + "  "
        if n in grid.sections and n != last:
            yield blank
    yield blank


def text(grid: Grid, max_width: int, pad_title: bool = True) -> str:
    """All the lines, each ending in a newline."""
    return "".join(line + "\n" for line in lines(grid, max_width, pad_title))
