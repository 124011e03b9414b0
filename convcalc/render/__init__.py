"""Renderers: pure functions of computed results. They format; they never compute numbers.

``RENDERERS`` maps a ``--format`` name to the function writing a report in it; ``FORMATS`` is
the one list the commands choose their ``--format`` choices from. Importing this package
registers how a :class:`~convcalc.report.Report` shows itself (``report.DISPLAY``). Nothing here
imports click, and rich only inside the functions that draw with it.
"""
from __future__ import annotations

from ..report import DISPLAY
from . import notebook

FORMATS = ("table", "json", "csv", "markdown", "latex", "html")
COLUMN_FORMATS = ("table", "latex", "html")   # --columns applies to these
BAR_FORMATS = ("table", "html")                # --bars applies to these
EXPLAIN_FORMATS = ("table", "markdown", "latex", "json")


def _table(report, layout="chw", columns=None, bars=False, verified=None) -> str:
    from .console import WIDE, print_layer_table, print_text, text_console
    from .text import summary_line

    console = text_console(WIDE)
    print_layer_table(console, report, layout, verified, bars=bars, columns=columns)
    print_text(console, summary_line(report))
    return console.file.getvalue()


def _json(report, layout="chw", columns=None, bars=False, verified=None) -> str:
    from .text import to_json

    return to_json(report) + "\n"


def _csv(report, layout="chw", columns=None, bars=False, verified=None) -> str:
    from .text import to_csv

    return to_csv(report, layout)


def _markdown(report, layout="chw", columns=None, bars=False, verified=None) -> str:
    from .text import to_markdown

    return to_markdown(report, layout)


def _latex(report, layout="chw", columns=None, bars=False, verified=None) -> str:
    from .latex import to_latex

    return to_latex(report, layout, columns=columns)


def _html(report, layout="chw", columns=None, bars=False, verified=None) -> str:
    from .html import to_html

    return to_html(report, layout, columns=columns, bars=bars, verified=verified)


RENDERERS = {"table": _table, "json": _json, "csv": _csv, "markdown": _markdown, "latex": _latex, "html": _html}


def render(fmt: str, report, layout="chw", columns=None, bars: bool = False, verified=None) -> str:
    """``report`` written in format ``fmt`` (one of ``FORMATS``), ending in a newline."""
    return RENDERERS[fmt](report, layout, columns=columns, bars=bars, verified=verified)


def explanation(fmt: str, explanations) -> str:
    """``--explain`` output in format ``fmt`` (one of ``EXPLAIN_FORMATS``; ``table`` is text)."""
    from . import explain

    if fmt == "json":
        return explain.to_json(explanations) + "\n"
    write = {"latex": explain.to_latex, "markdown": explain.to_markdown}.get(fmt, explain.to_text)
    return write(explanations)


DISPLAY.update(text=notebook.text, rich=notebook.rich_renderable, html=notebook.html)
