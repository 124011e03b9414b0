"""Symbolic reports: the same columns, with formulas that wrap instead of numbers."""
from __future__ import annotations

from ..shapes import from_chw
from ..sym import fmt, is_sym
from ..units import exact, rf_text


def shape_text(shape, layout: str = "chw") -> str:
    texts = [(fmt(d), d) for d in from_chw(shape, layout)]
    return " x ".join(f"({t})" if is_sym(d) and len(t) > 1 and " " in t else t for t, d in texts)


HEADERS = ("Layer", "Kind", "Output", "Params", "MACs", "RF")


def _title(report, layout: str) -> str:
    return f"{report.model} · input {shape_text(report.input, layout)} · batch {fmt(report.batch)} · {report.dtype}"


def _cells(report, layout: str) -> list:
    """The rows' cells, then the totals row's."""
    cells = [[r.name, r.desc, shape_text(r.output, layout), exact(r.params) if r.params else "",
              exact(r.macs) if r.macs else "", rf_text(r.rf)] for r in report.rows]
    tot = report.totals
    cells.append(["total", "", "", exact(tot["params"]), exact(tot["macs"]), ""])
    return cells


def conditions_text(report) -> list:
    """One line per symbol: the smallest value every layer accepts, then any other conditions."""
    return [text for _, text in report.conditions]


def _fitted(report, layout: str, width: int):
    """(headers, rows, notes, whether it fits in ``width``): formulas longer than a limit become
    references ``[1]``, ``[2]`` ... written out under the table, so no layer name, kind or
    formula is cut. The limit is the largest that lets the table fit."""
    headers = list(HEADERS)
    cells = _cells(report, layout)
    rows, notes, fits = _fit_formulas(headers, cells, width)
    if not fits:  # the Kind column goes next (the layer table's order); then cells fold, never cut
        headers, cells = headers[:1] + headers[2:], [row[:1] + row[2:] for row in cells]
        rows, notes, fits = _fit_formulas(headers, cells, width, first=1)
    return headers, rows, notes, fits


def _justify(header: str) -> str:
    return "right" if header in ("Params", "RF") else "left"


def fitted_symbolic_table(report, layout: str, width: int):
    """(a rich Table no wider than ``width`` when possible, the notes below it): see :func:`_fitted`."""
    headers, rows, notes, fits = _fitted(report, layout, width)
    return _rich_table(_title(report, layout), headers, rows, fits), notes


def _rich_table(title: str, headers, rows, fits: bool):
    from rich import box
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for h in headers:
        t.add_column(h, no_wrap=fits, overflow="fold", justify=_justify(h))
    for n, row in enumerate(rows):
        t.add_row(*row, style="bold" if n == len(rows) - 1 else None)
    return t


def print_fitted_table(console, report, layout: str = "chw") -> list:
    """The fitted table on ``console`` (plain lines without colour, as rich would print them;
    else rich), returning the notes that write out the referenced formulas."""
    from .console import print_plain_or_rich
    from .flow import Column, lines

    headers, rows, notes, fits = _fitted(report, layout, console.width)
    title = _title(report, layout)
    print_plain_or_rich(console, lambda: lines(title, [Column(h, _justify(h), fits) for h in headers], rows,
                                               console.width),
                        lambda: _rich_table(title, headers, rows, fits))  # (the fit above, not computed again)
    return notes


def _fit_formulas(headers, cells, width, first: int = 2):
    """(rows, notes, whether it fits): the largest formula length that lets the table fit
    (the table only narrows as the limit falls: searched by halves)."""
    import functools

    from .fit import cell_width, table_width
    from .grid import Grid

    cached_width = functools.lru_cache(maxsize=None)(cell_width)  # the search measures the same cells ~10 times

    def attempt(limit):
        rows, notes = _referenced(cells, limit, first)
        return rows, notes, table_width(Grid("", headers, ["left"] * len(headers), rows), cached_width) <= width

    lo, hi = 6, max((len(c) for row in cells for c in row[first:]), default=0)
    best = attempt(hi)
    if best[2] or hi <= lo:
        return best
    while hi - lo > 1:  # attempt(hi) does not fit; find the largest limit in [lo, hi) that does
        mid = (lo + hi) // 2
        if attempt(mid)[2]:
            lo = mid
        else:
            hi = mid
    return attempt(lo)


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
