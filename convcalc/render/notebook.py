"""A Report where people look at it: a terminal (``print(report)``, rich) and Jupyter (HTML).

``Report.__str__``, ``__rich__`` and ``_repr_html_`` call these lazily, so the engine never
imports rich.
"""
from __future__ import annotations

import html as _html
import io

from ..units import exact, human_bytes, human_count, rf_text, shape_text


def rich_renderable(report):
    from rich.console import Group
    from rich.text import Text

    from .table import layer_table
    from .text import summary_line

    return Group(layer_table(report), Text(summary_line(report)))


def text(report, width: int = 160) -> str:
    """The layer table and summary line as plain text (no colour)."""
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, highlight=False, force_terminal=False,
            color_system=None).print(rich_renderable(report))
    return buf.getvalue()


def html(report) -> str:
    """An HTML table for Jupyter: one row per layer, a total row and the summary line."""
    from .text import summary_line

    esc = _html.escape
    head = ("Layer", "Kind", "Output", "Params", "MACs", "RF", "Memory")
    right = {3, 4, 5, 6}

    def row(cells, bold=False):
        tds = "".join(f"<td style=\"text-align:{'right' if i in right else 'left'}\">"
                      f"{'<b>' if bold else ''}{esc(str(c))}{'</b>' if bold else ''}</td>"
                      for i, c in enumerate(cells))
        return f"<tr>{tds}</tr>"

    lines = [f"<div><b>{esc(report.model)}</b> · input {esc(shape_text(report.input))} · batch "
             f"{esc(str(report.batch))} · {esc(report.dtype)}",
             "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in report.rows:
        lines.append(row([r.name, r.desc, shape_text(r.output), "" if r.params == 0 else exact(r.params),
                          "" if r.macs == 0 else exact(r.macs), rf_text(r.rf), human_bytes(r.activation_bytes)]))
    t = report.totals
    lines.append(row(["total", "", shape_text(report.rows[-1].output) if report.rows else "",
                      f"{exact(t['params'])} ({human_count(t['params'])})",
                      f"{exact(t['macs'])} ({human_count(t['macs'])})", "", human_bytes(t["activation_bytes"])],
                     bold=True))
    lines.append(f"</tbody></table><p>{esc(summary_line(report))}</p></div>")
    return "\n".join(lines)
