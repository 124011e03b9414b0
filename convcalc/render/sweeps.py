"""``convcalc sweep``'s table, JSON and CSV, and the closed forms below the table."""
from __future__ import annotations

import json

from ..report import jsonable
from ..sym import fmt
from ..units import exact, human_bytes, human_count, shape_text
from .grid import Grid


def sweep_grid(model: str, what: str, points) -> Grid:
    head = "Input side" if what == "input" else "Width"
    grid = Grid(f"{model} · sweep over {'the input size' if what == 'input' else 'the width'}",
                [head, "Input", "Params", "MACs", "Activations", "Forward peak"],
                ["right", "left", "right", "right", "right", "right"])
    for p in points:
        grid.rows.append([f"{p.value:g}" if what == "width" else str(p.value), shape_text(p.input),
                          f"{exact(p.params)} ({human_count(p.params)})", f"{exact(p.macs)} ({human_count(p.macs)})",
                          human_bytes(p.activation_bytes),
                          human_bytes(p.peak_bytes) if p.peak_bytes is not None else ""])
    return grid


def formula_lines(formulas) -> list:
    if not formulas:
        return []
    if "error" in formulas:
        return [f"no closed form in S: {formulas['error']}"]
    return [f"closed form at input {shape_text(formulas['input'])}:",
            f"  params = {fmt(formulas['params'])}",
            f"  MACs = {fmt(formulas['macs'])}",
            f"  activation bytes = {fmt(formulas['activation_bytes'])}"]


def sweep_json(model: str, what: str, points, formulas) -> str:
    out = {"model": model, "sweep": what,
           "points": [{"value": p.value, "input": [jsonable(d) for d in p.input], "params": p.params, "macs": p.macs,
                       "activation_bytes": p.activation_bytes, "peak_bytes": p.peak_bytes} for p in points]}
    if formulas:
        out["closed_form"] = ({"error": formulas["error"]} if "error" in formulas else
                              {k: jsonable(v) if k != "input" else [jsonable(d) for d in v]
                               for k, v in formulas.items()})
    return json.dumps(out, indent=2) + "\n"


def sweep_csv(what: str, points) -> str:
    lines = [f"{what},input,params,macs,activation_bytes,peak_bytes"]
    for p in points:
        lines.append(f"{p.value},{shape_text(p.input)},{p.params},{p.macs},{p.activation_bytes},"
                     f"{'' if p.peak_bytes is None else p.peak_bytes}")
    return "\n".join(lines) + "\n"
