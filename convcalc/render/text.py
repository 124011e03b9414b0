"""Plain-text formats: JSON (the DESIGN §4 contract), CSV and Markdown."""
from __future__ import annotations

import csv
import io
import json

from ..report import jsonable, not_counted
from ..units import exact, human_bytes, human_count, rf_text, shape_text
from .columns import COLUMNS, CSV_COLUMNS, DEFAULT_COLUMNS, Style, default_columns


def _rf_cells(rf, layout=None):
    if not rf:
        return "", "", ""
    return (" ".join(str(jsonable(a.size)) for a in rf),
            " ".join("all" if a.jump is None else str(jsonable(a.jump)) for a in rf),
            " ".join(str(jsonable(a.start)) for a in rf))


def _plain(v, layout):
    return v


def _json(v, layout):
    return jsonable(v)


CSV = Style(cell={"name": _plain, "text": _plain, "shape": shape_text, "count": _json, "rf": _rf_cells,
                  "bytes": _json},
            total={"name": _plain, "shape": shape_text, "count": _json, "bytes": _json})
MARKDOWN = Style(cell={"name": _plain, "text": _plain, "shape": shape_text, "count": lambda n, layout: exact(n),
                       "rf": lambda rf, layout: rf_text(rf), "bytes": lambda n, layout: human_bytes(n)},
                 total={"name": lambda v, layout: f"**{v}**", "count": lambda n, layout: f"**{exact(n)}**",
                        "bytes": lambda n, layout: f"**{human_bytes(n)}**"})
MARKDOWN_ALIGN = {"rf": "---"}  # the receptive field reads left-aligned in Markdown


def to_json(report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _flat(cells) -> list:
    return [x for c in cells for x in (c if isinstance(c, tuple) else (c,))]


def to_csv(report, layout: str = "chw") -> str:
    """One row per layer, exact integers, then a ``total`` row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = default_columns(report, CSV_COLUMNS)
    w.writerow([name for key in cols for name in COLUMNS[key].csv])
    for r in report.rows:
        w.writerow(_flat(CSV.row(r, cols, layout)))
    totals = CSV.totals(report, cols, layout)
    w.writerow(_flat(("", "", "") if key == "rf" else c for key, c in zip(cols, totals)))
    return buf.getvalue()


def to_markdown(report, layout: str = "chw") -> str:
    cols = default_columns(report)
    align = [MARKDOWN_ALIGN.get(k, "---:" if COLUMNS[k].right else "---") for k in cols]
    lines = [f"**{report.model}** — input {shape_text(report.input, layout)}, batch {report.batch}, {report.dtype}",
             "", "| " + " | ".join(COLUMNS[k].header for k in cols) + " |", "|" + "|".join(align) + "|"]
    for r in report.rows:
        lines.append("| " + " | ".join(MARKDOWN.row(r, cols, layout)) + " |")
    totals = MARKDOWN.totals(report, cols, layout)  # no shape in Markdown's totals row
    lines.append("|" + "|".join(f" {c} " if c else " " for c in totals) + "|")
    lines += ["", summary_line(report)]
    return "\n".join(lines) + "\n"


def summary_line(report) -> str:
    t = report.totals
    return (f"params {exact(t['params'])} ({human_count(t['params'])}, {human_bytes(t['param_bytes'])} {report.dtype})"
            f" · buffers {exact(t['buffers'])}"
            f" · MACs {exact(t['macs'])} ({human_count(t['macs'])} MACs = {human_count(t['flops'])} FLOPs)"
            f" · activations {human_bytes(t['activation_bytes'])}"
            + (f" · forward peak {human_bytes(t['peak_bytes'])}" if t["peak_bytes"] is not None else "")
            + _not_counted(report)
            + (training_line(report) if report.training else ""))


def _not_counted(report) -> str:
    """`` · not counted: 2 ops, torch.foo ×2`` when ops without a MAC rule were imported."""
    nc = not_counted(report)
    if not nc:
        return ""
    ops = ", ".join(f"{name} \u00d7{n}" for name, n in nc["by_op"].items())
    return f" · not counted: {nc['ops']} op{'s' if nc['ops'] != 1 else ''}, {ops}"


def training_line(report) -> str:
    """The training step, as a second line: parameters by trainability (as Keras and torchinfo
    print them), then the memory of the step and its backward MACs."""
    tr, t = report.training, report.totals
    opt = tr["optimizer"] + (f", amp {tr['amp']}" if tr["amp"] else "")
    return (f"\ntraining ({opt}): trainable params {exact(tr['trainable_params'])}"
            f" · frozen {exact(tr['frozen_params'])}"
            f" · backward MACs {exact(t['backward_macs'])} ({human_count(t['backward_macs'])})"
            f"\nmemory of a step: weights {human_bytes(tr['parameters'])} · gradients {human_bytes(tr['gradients'])}"
            f" · optimizer state {human_bytes(tr['optimizer_state'])}"
            f" · saved activations {human_bytes(tr['saved_activations'])} · peak {human_bytes(tr['peak'])}")
