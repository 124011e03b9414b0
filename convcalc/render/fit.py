"""Tables that fit the terminal: drop or abbreviate columns in a stated order, never cut a cell.

On a terminal narrower than the layer table, these steps are taken one at a time until it fits
(``STEPS``, the stated priority order):

1. the share-of-total bars (``--bars``) go;
2. the totals row keeps the exact counts, without the ``(25.6M)`` beside them;
3. the Kind column goes;
4. the Memory column goes;
5. the RF column goes;
6. parameter and MAC counts are written with units (``1.81G``) instead of every digit;
7. the Input column (``--columns input``) goes, then FLOPs and Buffers;
8. the Output column goes.

Layer names and the Params column always stay; if even that is too wide the lines are longer
than the terminal (it wraps them) rather than cut. A note below the table names what was left out.
Piped output is never fitted: files keep the full table.
"""
from __future__ import annotations

from dataclasses import replace

from ..units import human_count
from .grid import Grid, _visible, _width

STEPS = (("drop", "bar"), ("totals", None), ("drop", "kind"), ("drop", "memory"), ("drop", "rf"),
         ("human", None), ("drop", "input"), ("drop", "flops"), ("drop", "buffers"), ("drop", "output"),
         ("drop", "backward"), ("drop", "saved"))
COUNTS = ("params", "macs", "flops", "buffers", "backward")


def cell_width(text: str) -> int:
    return _width(_visible(text))


def table_width(grid: Grid, width_of=cell_width) -> int:
    """Columns rich's SIMPLE_HEAD table of ``grid`` takes (padding 1 each side, 1 between);
    ``width_of`` gives a cell's width (a cache of :func:`cell_width` where the same cells recur)."""
    widths = [width_of(h) for h in grid.headers]
    for row in grid.rows:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], width_of(c))
    return sum(widths) + 3 * len(widths) + 1


def _drop(grid: Grid, roles: list, role: str):
    keep = [i for i, r in enumerate(roles) if r != role]
    if len(keep) == len(roles):
        return grid, roles, False
    g = Grid(grid.title, [grid.headers[i] for i in keep], [grid.justify[i] for i in keep],
             [[row[i] for i in keep] for row in grid.rows], set(grid.sections))
    return g, [roles[i] for i in keep], True


def _totals(grid: Grid, roles: list, report):
    row = [c.split(" (")[0] if role in COUNTS and c.endswith(")") else c for c, role in zip(grid.rows[-1], roles)]
    changed = row != grid.rows[-1]
    return replace(grid, rows=grid.rows[:-1] + [row], sections=set(grid.sections)), roles, changed


def _human(grid: Grid, roles: list, report):
    rows = []
    for n, row in enumerate(grid.rows):
        src = report.rows[n] if n < len(report.rows) else None
        cells = []
        for c, role in zip(row, roles):
            if role in COUNTS and c:
                value = getattr(src, role) if src is not None else report.totals[role]
                c = human_count(value) if isinstance(value, int) else c
            cells.append(c)
        rows.append(cells)
    return replace(grid, rows=rows, sections=set(grid.sections)), roles, True


NAMES = {"bar": "share bars", "kind": "Kind", "memory": "Memory", "rf": "RF", "input": "Input", "flops": "FLOPs",
         "buffers": "Buffers", "output": "Output", "backward": "Bwd MACs", "saved": "Saved"}


def fit(grid: Grid, roles: list, report, width: int):
    """(the grid, its roles, a note saying what was left out or ""), at most ``width`` wide when
    the steps allow it."""
    dropped, abbreviated = [], []
    for step, arg in STEPS:
        if table_width(grid) <= width:
            break
        if step == "drop":
            grid, roles, done = _drop(grid, roles, arg)
            if done:
                dropped.append(NAMES[arg])
        elif step == "totals":
            grid, roles, done = _totals(grid, roles, report)
            if done:
                abbreviated.append("totals without the short form")
        else:
            grid, roles, done = _human(grid, roles, report)
            if done:
                abbreviated.append("counts rounded (1.81G)")
    if not dropped and not abbreviated:
        return grid, roles, ""
    parts = ([f"without {', '.join(dropped)}"] if dropped else []) + abbreviated
    return grid, roles, f"({width} columns: {'; '.join(parts)}; a wider terminal or --columns shows them)"
