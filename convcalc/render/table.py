"""The Rich table: one row per layer, a totals row, a summary line."""
from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from ..units import exact, human_bytes, human_count, rf_text, shape_text


def layer_table(report, layout: str = "chw", verified=None) -> Table:
    title = (f"{report.model} · input {shape_text(report.input, layout)} · batch {report.batch} · {report.dtype}")
    t = Table(title=title, box=box.SIMPLE_HEAD, show_footer=False, title_justify="left")
    t.add_column("Layer", no_wrap=True)
    t.add_column("Kind", no_wrap=True)
    t.add_column("Output", no_wrap=True)
    t.add_column("Params", justify="right", no_wrap=True)
    t.add_column("MACs", justify="right", no_wrap=True)
    t.add_column("RF", justify="right", no_wrap=True)
    t.add_column("Memory", justify="right", no_wrap=True)
    if verified is not None:
        t.add_column("Verified", justify="center", no_wrap=True)
    for r in report.rows:
        style = "yellow" if r.warnings else None
        cells = [r.name, r.desc, shape_text(r.output, layout), _count(r.params), _count(r.macs), rf_text(r.rf),
                 human_bytes(r.activation_bytes)]
        if verified is not None:
            cells.append(Text("✓", style="green") if verified.get(r.name) else Text("✗", style="bold red"))
        t.add_row(*cells, style=style)
    tot = report.totals
    t.add_section()
    t.add_row(Text("total", style="bold"), "", shape_text(report.rows[-1].output, layout) if report.rows else "",
              Text(f"{exact(tot['params'])} ({human_count(tot['params'])})", style="bold"),
              Text(f"{exact(tot['macs'])} ({human_count(tot['macs'])})", style="bold"), "",
              Text(human_bytes(tot["activation_bytes"]), style="bold"), *([""] if verified is not None else []))
    return t


def _count(n) -> str:
    return "" if n == 0 else exact(n)
