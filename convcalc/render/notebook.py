"""A Report where people look at it: a terminal (``print(report)``, rich) and Jupyter (HTML).

``Report.__str__``, ``__rich__`` and ``_repr_html_`` reach these through ``report.DISPLAY``,
which ``convcalc.render`` fills in; the engine never imports a renderer or rich.
"""
from __future__ import annotations

import html as _html

from ..units import shape_text
from .columns import COLUMNS, TABLE, default_columns


def rich_renderable(report):
    from rich.console import Group
    from rich.text import Text

    from .table import layer_table
    from .text import summary_line

    return Group(layer_table(report), Text(summary_line(report)))


def text(report, width: int = 160) -> str:
    """The layer table and summary line as plain text (no colour)."""
    from .console import print_layer_table, print_text, text_console
    from .text import summary_line

    console = text_console(width)
    print_layer_table(console, report)
    print_text(console, summary_line(report))
    return console.file.getvalue()


def html(report) -> str:
    """An HTML table for Jupyter: one row per layer, a total row and the summary line."""
    from .text import summary_line

    esc = _html.escape
    cols = default_columns(report)

    def row(cells, bold=False):
        tds = "".join(f"<td style=\"text-align:{'right' if COLUMNS[k].right else 'left'}\">"
                      f"{'<b>' if bold else ''}{esc(str(c))}{'</b>' if bold else ''}</td>"
                      for k, c in zip(cols, cells))
        return f"<tr>{tds}</tr>"

    lines = [f"<div><b>{esc(report.model)}</b> · input {esc(shape_text(report.input))} · batch "
             f"{esc(str(report.batch))} · {esc(report.dtype)}",
             "<table><thead><tr>" + "".join(f"<th>{COLUMNS[k].header}</th>" for k in cols) + "</tr></thead><tbody>"]
    for r in report.rows:
        lines.append(row(TABLE.row(r, cols)))
    lines.append(row(TABLE.totals(report, cols), bold=True))
    lines.append(f"</tbody></table><p>{esc(summary_line(report))}</p></div>")
    return "\n".join(lines)
