"""Symbolic reports: the same columns, with formulas that wrap instead of numbers."""
from __future__ import annotations

from rich import box
from rich.table import Table

from ..shapes import from_chw
from ..sym import fmt, is_sym
from ..units import exact, rf_text


def shape_text(shape, layout: str = "chw") -> str:
    dims = from_chw(shape, layout)
    return " x ".join(f"({fmt(d)})" if is_sym(d) and len(fmt(d)) > 1 and " " in fmt(d) else fmt(d) for d in dims)


def symbolic_table(report, layout: str = "chw") -> Table:
    title = f"{report.model} · input {shape_text(report.input, layout)} · batch {fmt(report.batch)} · {report.dtype}"
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("Layer", no_wrap=True)
    t.add_column("Kind", no_wrap=True)
    t.add_column("Output", no_wrap=True)
    t.add_column("Params", justify="right", overflow="fold")
    t.add_column("MACs", overflow="fold", min_width=44)
    t.add_column("RF", justify="right", no_wrap=True)
    for r in report.rows:
        t.add_row(r.name, r.desc, shape_text(r.output, layout), exact(r.params) if r.params else "",
                  exact(r.macs) if r.macs else "", rf_text(r.rf))
    tot = report.totals
    t.add_row("total", "", "", exact(tot["params"]), exact(tot["macs"]), "", style="bold")
    return t


def conditions_text(report) -> list:
    """One line per symbol: the smallest value every layer accepts, then any other conditions."""
    return [text for _, text in report.conditions]
