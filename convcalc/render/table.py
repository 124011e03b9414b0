"""The layer table: one row per layer, a totals row, a summary line.

The cells come from the column registry (``columns.py``); :func:`layer_grid` lays them out as
plain strings once, and the two printers share it: :func:`layer_table` dresses it as a rich
``Table`` (colour, a terminal's width), :func:`grid.lines` writes the same text without rich's
per-row cost. rich is imported only when a rich table is built.
"""
from __future__ import annotations

from ..sym import is_sym
from ..units import shape_text
from .columns import (BAR_COLUMNS, COLUMNS, DEFAULT_COLUMNS, TABLE, cell, default_columns,  # noqa: F401
                      parse_columns, total_cell)
from .grid import Grid

BAR_WIDTH = 10
_EIGHTHS = " ▏▎▍▌▋▊▉█"
BOLD_TOTALS = ("layer", "params", "buffers", "macs", "flops", "memory")


def share(value, total):
    """``value / total`` as a float in [0, 1], or None when either is symbolic or the total is 0."""
    if is_sym(value) or is_sym(total) or not total:
        return None
    return float(value) / float(total)


def bar_text(fraction, width: int = BAR_WIDTH) -> str:
    """A left-aligned bar of ``width`` cells in eighths, then the percentage: ``█████▌     55.2%``."""
    if fraction is None:
        return ""
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    pct = f"{100 * fraction:.1f}%" if fraction >= 0.001 or fraction == 0 else "<0.1%"
    return f"{bar:<{width}} {pct:>6}"


def title(report, layout: str = "chw") -> str:
    return f"{report.model} · input {shape_text(report.input, layout)} · batch {report.batch} · {report.dtype}"


def layer_grid(report, layout: str = "chw", verified=None, bars: bool = False, columns=None):
    """(the table as plain strings, the role of each column): a role is a column key,
    ``"bar"`` (a share-of-total bar) or ``"verified"``. The last row is the totals row."""
    cols = parse_columns(columns) if columns is not None else default_columns(report)
    roles, headers, justify = [], [], []
    for key in cols:
        col = COLUMNS[key]
        roles.append(key), headers.append(col.header), justify.append("right" if col.right else "left")
        if bars and key in BAR_COLUMNS:
            roles.append("bar"), headers.append(f"{col.header} %"), justify.append("left")
    if verified is not None:
        roles.append("verified"), headers.append("Verified"), justify.append("center")
    grid = Grid(title(report, layout), headers, justify)
    tot = report.totals
    cell_of = {key: (COLUMNS[key].value, TABLE.cell[COLUMNS[key].what]) for key in cols}
    for r in report.rows:
        cells = []
        for key in cols:
            value_of, write = cell_of[key]
            cells.append(write(value_of(r), layout))
            if bars and key in BAR_COLUMNS:
                value = getattr(r, key)
                cells.append(bar_text(share(value, tot[key])) if value != 0 else "")
        if verified is not None:
            cells.append("✓" if verified.get(r.name) else "✗")
        grid.rows.append(cells)
    if grid.rows:
        grid.sections.add(len(grid.rows) - 1)
    totals = []
    for key in cols:
        totals.append(total_cell(report, key, layout))
        if bars and key in BAR_COLUMNS:
            totals.append("")
    if verified is not None:
        totals.append("")
    grid.rows.append(totals)
    return grid, roles


def layer_table(report, layout: str = "chw", verified=None, bars: bool = False, columns=None, grid=None):
    """A rich ``Table`` of ``report``; ``bars`` adds share-of-total bars beside params and MACs,
    ``columns`` (names from ``COLUMNS``, or a comma-separated string) chooses and orders columns;
    ``grid``: (grid, roles) already laid out (a table fitted to a terminal)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    grid, roles = grid if grid is not None else layer_grid(report, layout, verified, bars, columns)
    t = Table(title=grid.title, box=box.SIMPLE_HEAD, show_footer=False, title_justify="left")
    for header, justify in zip(grid.headers, grid.justify):
        t.add_column(header, justify=justify, no_wrap=True)
    for r, cells in zip(report.rows, grid.rows):
        shown = []
        for role, text in zip(roles, cells):
            if role == "bar":
                text = Text(text, style="cyan")
            elif role == "verified":
                text = Text(text, style="green" if text == "✓" else "bold red")
            shown.append(text)
        t.add_row(*shown, style="yellow" if r.warnings else None)
    t.add_section()
    t.add_row(*[Text(text, style="bold") if role in BOLD_TOTALS else text
                for role, text in zip(roles, grid.rows[-1])])
    return t
