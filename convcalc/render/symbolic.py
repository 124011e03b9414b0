"""Symbolic reports: the same columns, with formulas that wrap instead of numbers."""
from __future__ import annotations

from ..shapes import from_chw
from ..sym import fmt, is_sym
from ..units import exact, rf_text


def shape_text(shape, layout: str = "chw") -> str:
    texts = [(fmt(d), d) for d in from_chw(shape, layout)]
    return " x ".join(f"({t})" if is_sym(d) and len(t) > 1 and " " in t else t for t, d in texts)


COLUMNS = (("Layer", dict(no_wrap=True)), ("Kind", dict(no_wrap=True)), ("Output", dict(no_wrap=True)),
           ("Params", dict(justify="right", overflow="fold")), ("MACs", dict(overflow="fold", min_width=44)),
           ("RF", dict(justify="right", no_wrap=True)))


def _title(report, layout: str) -> str:
    return f"{report.model} · input {shape_text(report.input, layout)} · batch {fmt(report.batch)} · {report.dtype}"


def _cells(report, layout: str) -> list:
    """The rows' cells, then the totals row's."""
    cells = [[r.name, r.desc, shape_text(r.output, layout), exact(r.params) if r.params else "",
              exact(r.macs) if r.macs else "", rf_text(r.rf)] for r in report.rows]
    tot = report.totals
    cells.append(["total", "", "", exact(tot["params"]), exact(tot["macs"]), ""])
    return cells


def symbolic_table(report, layout: str = "chw", cells=None):
    """The rich ``Table`` (rich is imported here: piped output builds the text without it)."""
    from rich import box
    from rich.table import Table

    t = Table(title=_title(report, layout), box=box.SIMPLE_HEAD, title_justify="left")
    for header, options in COLUMNS:
        t.add_column(header, **options)
    cells = _cells(report, layout) if cells is None else cells
    for n, row in enumerate(cells):
        t.add_row(*row, style="bold" if n == len(cells) - 1 else None)
    return t


def print_symbolic_table(console, report, layout: str = "chw") -> None:
    """:func:`symbolic_table` on ``console``: without colour the same text is built as plain lines
    (render/flow.py, rich's layout without its per-cell cost), else rich prints it."""
    from .console import write_lines
    from .flow import Column, lines
    from .grid import Unsupported

    cells = _cells(report, layout)
    columns = [Column(h, o.get("justify", "left"), o.get("no_wrap", False), o.get("min_width")) for h, o in COLUMNS]
    # flow folds wrapping columns and cuts no_wrap ones with "…": the overflows these columns ask for
    plain = all(o.get("overflow", "ellipsis") == ("ellipsis" if c.no_wrap else "fold")
                for c, (_, o) in zip(columns, COLUMNS))
    if plain and console.color_system is None and not console.record:
        try:
            out = list(lines(_title(report, layout), columns, cells, console.width))
        except Unsupported:
            pass
        else:
            return write_lines(console.file, out)
    console.print(symbolic_table(report, layout, cells))


def conditions_text(report) -> list:
    """One line per symbol: the smallest value every layer accepts, then any other conditions."""
    return [text for _, text in report.conditions]


def fitted_symbolic_table(report, layout: str, width: int):
    """(a rich Table no wider than ``width`` when possible, the notes below it): formulas longer
    than a limit become references ``[1]``, ``[2]`` ... written out under the table, so no layer
    name, kind or formula is cut. The limit is the largest that lets the table fit."""
    from rich import box
    from rich.table import Table

    headers = [h for h, _ in COLUMNS]
    cells = _cells(report, layout)
    rows, notes, fits = _fit_formulas(headers, cells, width)
    if not fits:  # the Kind column goes next (the layer table's order); then cells fold, never cut
        headers, cells = headers[:1] + headers[2:], [row[:1] + row[2:] for row in cells]
        rows, notes, fits = _fit_formulas(headers, cells, width, first=1)
    t = Table(title=_title(report, layout), box=box.SIMPLE_HEAD, title_justify="left")
    for h in headers:
        t.add_column(h, no_wrap=fits, overflow="fold", justify="right" if h in ("Params", "RF") else "left")
    for n, row in enumerate(rows):
        t.add_row(*row, style="bold" if n == len(rows) - 1 else None)
    return t, notes


def _fit_formulas(headers, cells, width, first: int = 2):
    """(rows, notes, whether it fits): the largest formula length that lets the table fit."""
    from .fit import table_width
    from .grid import Grid

    limit = max((len(c) for row in cells for c in row[first:]), default=0)
    while True:
        rows, notes = _referenced(cells, limit, first)
        fits = table_width(Grid("", headers, ["left"] * len(headers), rows)) <= width
        if fits or limit <= 6:
            return rows, notes, fits
        limit -= 1


def _referenced(cells, limit: int, first: int = 2):
    """Formula cells (Output onwards: from column ``first``) longer than ``limit`` replaced by
    ``[n]``; the same formula keeps one number."""
    refs: dict = {}
    rows = []
    for row in cells:
        out = row[:first]
        for c in row[first:]:
            if len(c) > limit:
                c = f"[{refs.setdefault(c, len(refs) + 1)}]"
            out.append(c)
        rows.append(out)
    return rows, [f"[{n}] {text}" for text, n in refs.items()]
