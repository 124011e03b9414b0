"""HTML: a standalone page (``--format html``) and the fragment Jupyter shows (``Report._repr_html_``).

The page needs nothing from the network: the style is inline, and the cost figure (when
matplotlib is installed) is inlined as SVG. Without matplotlib the page holds the table only.
"""
from __future__ import annotations

from html import escape

from .columns import BAR_COLUMNS, COLUMNS, TABLE, default_columns, parse_columns
from .table import bar_text, share, title as table_title
from .text import summary_line

NUM = ' class="num"'
MAX_BARS = 60
STYLE = """
.convcalc { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 13px; color: #222; }
.convcalc table { border-collapse: collapse; margin: 0.5em 0; }
.convcalc caption { text-align: left; font-weight: 600; padding: 0 0 0.4em 0; }
.convcalc th, .convcalc td { padding: 2px 10px; white-space: nowrap; }
.convcalc thead th { border-bottom: 1.5px solid #444; text-align: left; }
.convcalc th.num, .convcalc td.num { text-align: right; font-variant-numeric: tabular-nums; }
.convcalc tbody tr:nth-child(even) { background: #f6f7f9; }
.convcalc tr.warn td { color: #8a6d00; }
.convcalc tfoot td { border-top: 1.5px solid #444; font-weight: 600; }
.convcalc td.share { min-width: 9em; }
.convcalc .bar { display: inline-block; height: 0.8em; background: #4C72B0; vertical-align: middle; }
.convcalc .pct { display: inline-block; min-width: 3.6em; text-align: right; color: #555; font-size: 11px; }
.convcalc p.summary { color: #444; }
.convcalc figure { margin: 1em 0; }
.convcalc figure svg { max-width: 100%; height: auto; }
"""


def _table(report, layout: str, columns, bars: bool, verified) -> str:
    cols = parse_columns(columns) if columns is not None else default_columns(report)
    tot = report.totals
    title = table_title(report, layout)
    head = []
    for key in cols:
        header, right = COLUMNS[key].header, COLUMNS[key].right
        head.append(f'<th{NUM if right else ""} scope="col">{escape(header)}</th>')
        if bars and key in BAR_COLUMNS:
            head.append(f'<th scope="col">{escape(header)} share</th>')
    if verified is not None:
        head.append('<th scope="col">Verified</th>')
    body = []
    for r in report.rows:
        cells = []
        for key, text in zip(cols, TABLE.row(r, cols, layout)):
            cells.append(f'<td{NUM if COLUMNS[key].right else ""}>{escape(text)}</td>')
            if bars and key in BAR_COLUMNS:
                value = getattr(r, key)
                frac = share(value, tot[key]) if value != 0 else None
                if frac is None:
                    cells.append('<td class="share"></td>')
                else:
                    pct = bar_text(frac).split()[-1]
                    cells.append(f'<td class="share" title="{escape(pct)} of the total">'
                                 f'<span class="bar" style="width:{100 * frac:.1f}px"></span> '
                                 f'<span class="pct">{escape(pct)}</span></td>')
        if verified is not None:
            cells.append("<td>✓</td>" if verified.get(r.name) else "<td>✗</td>")
        cls = ' class="warn"' if r.warnings else ""
        body.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    foot = []
    for key, text in zip(cols, TABLE.totals(report, cols, layout)):
        foot.append(f'<td{NUM if COLUMNS[key].right else ""}>{escape(text)}</td>')
        if bars and key in BAR_COLUMNS:
            foot.append("<td></td>")
    if verified is not None:
        foot.append("<td></td>")
    return ("<table>\n"
            f"<caption>{escape(title)}</caption>\n"
            "<thead><tr>" + "".join(head) + "</tr></thead>\n"
            "<tbody>\n" + "\n".join(body) + "\n</tbody>\n"
            "<tfoot><tr>" + "".join(foot) + "</tr></tfoot>\n"
            "</table>")


def report_html(report, layout: str = "chw", columns=None, bars: bool = False, verified=None,
                _extra: str = "") -> str:
    """The table and summary line as an HTML fragment with its own style (Jupyter's ``_repr_html_``)."""
    return (f'<div class="convcalc">\n<style>{STYLE}</style>\n'
            + _table(report, layout, columns, bars, verified)
            + f'\n<p class="summary">{escape(summary_line(report))}</p>\n'
            + "".join(f'<p class="warning">warning: {escape(w)}</p>\n' for w in report.warnings)
            + _extra + "</div>")


def cost_svg(report):
    """The cost figure as inline SVG, or None without matplotlib or for a symbolic report."""
    if report.symbolic:
        return None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    from .figures import cost_figure, cost_rows, svg_text

    # A page stays readable: deep networks are drawn by blocks (the deepest level with <= 60 bars).
    depth = max((r.depth for r in report.rows), default=1)
    shown = report
    while len(cost_rows(shown)) > MAX_BARS and depth > 1:
        depth -= 1
        shown = report.collapse(depth)
    return svg_text(cost_figure(shown))


def to_html(report, layout: str = "chw", columns=None, bars: bool = False, verified=None,
            figure: bool = True) -> str:
    """A standalone page: the table, the summary line and (with matplotlib) the cost figure."""
    svg = cost_svg(report) if figure else None
    fig = (f'<figure id="cost">\n{svg}\n<figcaption>Parameters, MACs and activation memory per layer'
           f'</figcaption>\n</figure>\n') if svg else ""
    title = escape(f"{report.model} · convcalc")
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n</head>\n<body>\n"
            f"<h1 style=\"font-family: system-ui, sans-serif; font-size: 20px\">{escape(report.model)}</h1>\n"
            + report_html(report, layout, columns, bars, verified, _extra=fig) + "\n</body>\n</html>\n")
