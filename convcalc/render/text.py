"""Plain-text formats: JSON (the DESIGN §4 contract), CSV and Markdown."""
from __future__ import annotations

import csv
import io
import json

from ..report import jsonable
from ..units import exact, human_bytes, human_count, rf_text, shape_text

COLUMNS = ("layer", "kind", "output", "params", "buffers", "macs", "flops", "rf_size", "rf_jump", "rf_start",
           "activation_bytes")


def to_json(report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _rf_cells(rf):
    if not rf:
        return "", "", ""
    return (" ".join(str(jsonable(a.size)) for a in rf),
            " ".join("all" if a.jump is None else str(jsonable(a.jump)) for a in rf),
            " ".join(str(jsonable(a.start)) for a in rf))


def to_csv(report, layout: str = "chw") -> str:
    """One row per layer, exact integers, then a ``total`` row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in report.rows:
        w.writerow([r.name, r.desc, shape_text(r.output, layout), jsonable(r.params), jsonable(r.buffers),
                    jsonable(r.macs), jsonable(r.flops), *_rf_cells(r.rf), jsonable(r.activation_bytes)])
    t = report.totals
    w.writerow(["total", "", shape_text(report.rows[-1].output, layout) if report.rows else "", jsonable(t["params"]),
                jsonable(t["buffers"]), jsonable(t["macs"]), jsonable(t["flops"]), "", "", "",
                jsonable(t["activation_bytes"])])
    return buf.getvalue()


def to_markdown(report, layout: str = "chw") -> str:
    head = ["Layer", "Kind", "Output", "Params", "MACs", "RF", "Memory"]
    lines = [f"**{report.model}** — input {shape_text(report.input, layout)}, batch {report.batch}, {report.dtype}",
             "", "| " + " | ".join(head) + " |", "|" + "|".join(["---", "---", "---", "---:", "---:", "---", "---:"]) + "|"]
    for r in report.rows:
        lines.append("| " + " | ".join([r.name, r.desc, shape_text(r.output, layout), exact(r.params), exact(r.macs),
                                         rf_text(r.rf), human_bytes(r.activation_bytes)]) + " |")
    t = report.totals
    lines.append("| **total** | | | **" + exact(t["params"]) + "** | **" + exact(t["macs"]) + "** | | **"
                 + human_bytes(t["activation_bytes"]) + "** |")
    lines += ["", summary_line(report)]
    return "\n".join(lines) + "\n"


def summary_line(report) -> str:
    t = report.totals
    return (f"params {exact(t['params'])} ({human_count(t['params'])}, {human_bytes(t['param_bytes'])} {report.dtype})"
            f" · buffers {exact(t['buffers'])}"
            f" · MACs {exact(t['macs'])} ({human_count(t['macs'])} MACs = {human_count(t['flops'])} FLOPs)"
            f" · activations {human_bytes(t['activation_bytes'])}"
            + (f" · forward peak {human_bytes(t['peak_bytes'])}" if t["peak_bytes"] is not None else ""))
