"""The Rich table: one row per layer, a totals row, a summary line.

The column set lives here too (``COLUMNS``) so that the LaTeX and HTML renderers offer the same
``--columns`` choices; rich itself is imported only when a table is built.
"""
from __future__ import annotations

from ..errors import ConvcalcError
from ..sym import is_sym
from ..units import exact, human_bytes, human_count, rf_text, shape_text

# key -> (header, right-aligned?)
COLUMNS = {
    "layer": ("Layer", False),
    "kind": ("Kind", False),
    "input": ("Input", False),
    "output": ("Output", False),
    "params": ("Params", True),
    "buffers": ("Buffers", True),
    "macs": ("MACs", True),
    "flops": ("FLOPs", True),
    "rf": ("RF", True),
    "memory": ("Memory", True),
}
DEFAULT_COLUMNS = ("layer", "kind", "output", "params", "macs", "rf", "memory")
BAR_COLUMNS = ("params", "macs")  # --bars puts a share-of-total bar right after these
BAR_WIDTH = 10
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def parse_columns(text) -> tuple:
    """``"layer,params,macs"`` -> ``("layer", "params", "macs")``; None -> the default columns."""
    if text is None:
        return DEFAULT_COLUMNS
    if isinstance(text, (list, tuple)):
        names = [str(c).strip().lower() for c in text]
    else:
        names = [c.strip().lower() for c in str(text).split(",")]
    names = [c for c in names if c]
    if not names:
        raise ConvcalcError(f"--columns: no column named; choose from {', '.join(COLUMNS)}")
    for c in names:
        if c not in COLUMNS:
            raise ConvcalcError(f"--columns: unknown column {c!r}; choose from {', '.join(COLUMNS)}")
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise ConvcalcError(f"--columns: column {dup!r} is named twice")
    return tuple(names)


def cell(r, key: str, layout: str = "chw", fmt_count=None) -> str:
    """The text of column ``key`` for row ``r`` (counts through ``fmt_count``, default ``exact``)."""
    count = fmt_count or _count
    if key == "layer":
        return r.name
    if key == "kind":
        return r.desc
    if key == "input":
        return shape_text(r.input, layout)
    if key == "output":
        return shape_text(r.output, layout)
    if key in ("params", "buffers", "macs", "flops"):
        return count(getattr(r, key))
    if key == "rf":
        return rf_text(r.rf)
    if key == "memory":
        return human_bytes(r.activation_bytes)
    raise KeyError(key)


def total_cell(report, key: str, layout: str = "chw", fmt_count=None) -> str:
    """The text of column ``key`` in the totals row."""
    tot = report.totals
    if key == "layer":
        return "total"
    if key == "output":
        return shape_text(report.rows[-1].output, layout) if report.rows else ""
    if key in ("params", "buffers", "macs", "flops"):
        n = tot[key]
        return fmt_count(n) if fmt_count else f"{exact(n)} ({human_count(n)})"
    if key == "memory":
        return human_bytes(tot["activation_bytes"])
    return ""


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


def layer_table(report, layout: str = "chw", verified=None, bars: bool = False, columns=None):
    """A Rich ``Table`` of ``report``; ``bars`` adds share-of-total bars beside params and MACs,
    ``columns`` (names from ``COLUMNS``, or a comma-separated string) chooses and orders columns."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    cols = parse_columns(columns)
    title = (f"{report.model} · input {shape_text(report.input, layout)} · batch {report.batch} · {report.dtype}")
    t = Table(title=title, box=box.SIMPLE_HEAD, show_footer=False, title_justify="left")
    for key in cols:
        header, right = COLUMNS[key]
        t.add_column(header, justify="right" if right else "left", no_wrap=True)
        if bars and key in BAR_COLUMNS:
            t.add_column(f"{header} %", justify="left", no_wrap=True)
    if verified is not None:
        t.add_column("Verified", justify="center", no_wrap=True)
    tot = report.totals
    for r in report.rows:
        style = "yellow" if r.warnings else None
        cells = []
        for key in cols:
            cells.append(cell(r, key, layout))
            if bars and key in BAR_COLUMNS:
                frac = share(getattr(r, key), tot[key])
                cells.append(Text(bar_text(frac) if getattr(r, key) != 0 else "", style="cyan"))
        if verified is not None:
            cells.append(Text("✓", style="green") if verified.get(r.name) else Text("✗", style="bold red"))
        t.add_row(*cells, style=style)
    t.add_section()
    cells = []
    for key in cols:
        text = total_cell(report, key, layout)
        cells.append(Text(text, style="bold") if key in ("layer", "params", "buffers", "macs", "flops", "memory")
                     else text)
        if bars and key in BAR_COLUMNS:
            cells.append("")
    if verified is not None:
        cells.append("")
    t.add_row(*cells)
    return t


def _count(n) -> str:
    return "" if n == 0 else exact(n)
