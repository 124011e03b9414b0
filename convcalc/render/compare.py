"""``convcalc compare``: models side by side (one column each), and totals under every convention.

Renders :class:`convcalc.compare.Entry` values; computes nothing. Long model names (a one-liner)
head their column as ``[1]``, ``[2]`` ... with the full text below the table.
"""
from __future__ import annotations

import json

from ..report import jsonable, rf_dict
from ..units import exact, human_bytes, human_count, rf_text, shape_text
from .grid import Grid

NAME_WIDTH = 24  # longer model names become references


def _count(n) -> str:
    return f"{exact(n)} ({human_count(n)})"


def headers(entries) -> tuple:
    """(column headings, the references listed below the table)."""
    heads, refs = [], []
    for e in entries:
        if len(e.name) <= NAME_WIDTH and e.name.isprintable():
            heads.append(e.name)
        else:
            refs.append(e.name)
            heads.append(f"[{len(refs)}]")
    return heads, [f"[{i}] {name}" for i, name in enumerate(refs, 1)]


def compare_grid(entries, stages, layout: str = "chw") -> tuple:
    """(the Grid, the reference lines). ``stages``: the stage names to show, in order."""
    heads, refs = headers(entries)
    batch = entries[0].report.batch
    grid = Grid(f"compare · batch {batch} · {entries[0].report.dtype}", ["", *heads],
                ["left"] + ["right"] * len(entries))

    def peak(e):
        t = e.report.totals
        return human_bytes(t["peak_bytes"]) if t["peak_bytes"] is not None else ""

    rows = [
        ("Input", lambda e: shape_text(e.report.input, layout)),
        ("Params", lambda e: _count(e.report.totals["params"])),
        ("MACs", lambda e: _count(e.report.totals["macs"])),
        ("Activations", lambda e: human_bytes(e.report.totals["activation_bytes"])),
        ("Forward peak", peak),
        ("RF (last map)", lambda e: rf_text(e.rf)),
        ("Min input", lambda e: f"{e.min_input}x{e.min_input}" if e.min_input else "none"),
    ]
    for label, cell in rows:
        grid.rows.append([label, *[cell(e) for e in entries]])
    if stages:
        grid.sections.add(len(grid.rows) - 1)
        grid.rows.append(["Stage: params / MACs", *[""] * len(entries)])
        for name in stages:
            cells = []
            for e in entries:
                found = next(((p, m) for n, p, m in e.stages if n == name), None)
                cells.append(f"{human_count(found[0])} / {human_count(found[1])}" if found else "")
            grid.rows.append([f"  {name}", *cells])
    return grid, refs


def convention_grid(entries, table: list) -> tuple:
    """``table``: per entry, {convention: total}. One row per convention, one column per model."""
    heads, refs = headers(entries)
    grid = Grid(f"operation totals under each tool's convention · batch {entries[0].report.batch}",
                ["Convention", *heads], ["left"] + ["right"] * len(entries))
    for name in table[0]:
        grid.rows.append([name, *[_count(t[name]) for t in table]])
    return grid, refs


def compare_json(entries, table=None) -> str:
    out = []
    for i, e in enumerate(entries):
        t = e.report.totals
        item = {"model": e.name, "input": [jsonable(d) for d in e.report.input], "batch": jsonable(e.report.batch),
                "params": jsonable(t["params"]), "macs": jsonable(t["macs"]), "flops": jsonable(t["flops"]),
                "activation_bytes": jsonable(t["activation_bytes"]), "peak_bytes": jsonable(t["peak_bytes"]),
                "rf": rf_dict(e.rf), "min_input": e.min_input,
                "stages": [{"name": n, "params": jsonable(p), "macs": jsonable(m)} for n, p, m in e.stages]}
        if table is not None:
            item["conventions"] = {k: jsonable(v) for k, v in table[i].items()}
        out.append(item)
    return json.dumps(out, indent=2) + "\n"


def grid_csv(grid: Grid) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["quantity" if not grid.headers[0] else grid.headers[0], *grid.headers[1:]])
    for row in grid.rows:
        w.writerow([row[0].strip(), *row[1:]])
    return buf.getvalue()


def grid_markdown(grid: Grid) -> str:
    align = ["---" if j == "left" else "---:" for j in grid.justify]
    lines = ["| " + " | ".join(grid.headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(c.strip() if i == 0 else c for i, c in enumerate(row)) + " |" for row in grid.rows]
    return "\n".join(lines) + "\n"


def rich_table(grid: Grid):
    """The grid as a rich Table (a terminal: colour, wrapping)."""
    from rich import box
    from rich.table import Table

    t = Table(title=grid.title, box=box.SIMPLE_HEAD, title_justify="left")
    for h, j in zip(grid.headers, grid.justify):
        t.add_column(h, justify=j, no_wrap=True)
    for i, row in enumerate(grid.rows):
        t.add_row(*row, end_section=i in grid.sections)
    return t
