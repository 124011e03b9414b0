"""The column registry: what a layer table can show, and how each format writes a cell.

A :class:`Column` says where its value comes from (a row, and the totals row) and *what* the
value is (a name, a shape, a count, a receptive field, bytes). A :class:`Style` says how one
format writes each *what*: the terminal table leaves a zero count blank and gives totals as
``62,378,344 (62.4M)``, Markdown writes every count, CSV writes plain integers, LaTeX typesets.
The table, CSV, Markdown, LaTeX, HTML and notebook renderers all read ``COLUMNS`` (the idea
of torchinfo's ``enums.py`` / ``formatting.py``). ``--columns`` chooses from the same keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Callable, Optional

from ..errors import ConvcalcError
from ..units import exact, human_bytes, human_count, rf_text, shape_text


def _last_output(report):
    return report.rows[-1].output if report.rows else None


def _total(key: str):
    return lambda report: report.totals[key]


@dataclass(frozen=True)
class Column:
    key: str                       # the --columns name
    header: str                    # the heading of the table
    right: bool                    # right-aligned (numbers)
    what: str                      # name, text, shape, count, rf, bytes: how a Style writes it
    value: Callable                # row -> the cell's value
    total: Optional[Callable] = None  # report -> the totals row's value (None: an empty cell)
    csv: tuple = ()                # CSV header names ((): not a CSV column)


COLUMNS = {c.key: c for c in (
    Column("layer", "Layer", False, "name", attrgetter("name"), lambda report: "total", ("layer",)),
    Column("kind", "Kind", False, "text", attrgetter("desc"), None, ("kind",)),
    Column("input", "Input", False, "shape", attrgetter("input")),
    Column("output", "Output", False, "shape", attrgetter("output"), _last_output, ("output",)),
    Column("params", "Params", True, "count", attrgetter("params"), _total("params"), ("params",)),
    Column("buffers", "Buffers", True, "count", attrgetter("buffers"), _total("buffers"), ("buffers",)),
    Column("macs", "MACs", True, "count", attrgetter("macs"), _total("macs"), ("macs",)),
    Column("flops", "FLOPs", True, "count", attrgetter("flops"), _total("flops"), ("flops",)),
    Column("rf", "RF", True, "rf", attrgetter("rf"), None, ("rf_size", "rf_jump", "rf_start")),
    Column("memory", "Memory", True, "bytes", attrgetter("activation_bytes"), _total("activation_bytes"),
           ("activation_bytes",)),
    Column("backward", "Bwd MACs", True, "count", attrgetter("backward_macs"), _total("backward_macs"),
           ("backward_macs",)),
    Column("saved", "Saved", True, "bytes", attrgetter("saved_bytes"),
           lambda report: report.training["saved_activations"], ("saved_bytes",)),
)}
DEFAULT_COLUMNS = ("layer", "kind", "output", "params", "macs", "rf", "memory")
CSV_COLUMNS = ("layer", "kind", "output", "params", "buffers", "macs", "flops", "rf", "memory")
TRAINING_COLUMNS = ("backward", "saved")  # added when a report counts training


def default_columns(report, base=DEFAULT_COLUMNS) -> tuple:
    """``base``, plus the training columns when the report counts a training step."""
    return base + TRAINING_COLUMNS if getattr(report, "training", None) else base
BAR_COLUMNS = ("params", "macs")  # --bars puts a share-of-total bar right after these


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


@dataclass(frozen=True)
class Style:
    """How one format writes each kind of value: ``cell[what](value, layout)`` for a layer row,
    ``total[what](value, layout)`` for the totals row (a missing entry: an empty cell)."""

    cell: dict
    total: dict = field(default_factory=dict)

    def row(self, r, cols, layout: str = "chw") -> list:
        return [self.cell[COLUMNS[k].what](COLUMNS[k].value(r), layout) for k in cols]

    def totals(self, report, cols, layout: str = "chw") -> list:
        out = []
        for k in cols:
            col = COLUMNS[k]
            write = self.total.get(col.what) if col.total is not None else None
            value = col.total(report) if write is not None else None
            out.append(write(value, layout) if value is not None else "")
        return out


def _plain(v, layout):
    return v


def _count(n, layout=None) -> str:
    return "" if n == 0 else exact(n)


TABLE = Style(
    cell={"name": _plain, "text": _plain, "shape": shape_text, "count": _count,
          "rf": lambda rf, layout: rf_text(rf), "bytes": lambda n, layout: human_bytes(n)},
    total={"name": _plain, "shape": shape_text, "count": lambda n, layout: f"{exact(n)} ({human_count(n)})",
           "bytes": lambda n, layout: human_bytes(n)})


def cell(r, key: str, layout: str = "chw") -> str:
    """The terminal table's text of column ``key`` for row ``r``."""
    col = COLUMNS[key]
    return TABLE.cell[col.what](col.value(r), layout)


def total_cell(report, key: str, layout: str = "chw") -> str:
    """The terminal table's text of column ``key`` in the totals row."""
    return TABLE.totals(report, (key,), layout)[0]
