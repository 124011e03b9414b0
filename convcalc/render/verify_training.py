"""Rendering a training verification (``verify --training``): a ✓/✗ grid per layer, the
finite-difference points, or JSON."""
from __future__ import annotations

import json

from rich import box
from rich.table import Table

from .verify import _cell, _plain

QUANTITIES = ("shape", "grads", "bwd_macs")


def training_table(result) -> Table:
    t = Table(title=f"verify --training {result.model} · input {'x'.join(str(d) for d in result.input)} · "
                    f"batch {result.batch}", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("Layer", "Kind", "Shape", "Gradients", "Bwd MACs"):
        t.add_column(col, no_wrap=True)
    for r in result.layers:
        t.add_row(r.name, r.desc, *[_cell(r.checks.get(q)) for q in QUANTITIES])
    return t


def fd_lines(result) -> list:
    return [f"{'✓' if p.ok else '✗'} d loss / d {p.name}.{p.param}[{', '.join(map(str, p.index))}]: "
            f"backward {p.analytic:.6g}, finite difference {p.numeric:.6g}" for p in result.fd]


def training_json(result) -> str:
    def enc(c):
        return {"ok": c.ok, "claimed": _plain(c.claimed), "measured": _plain(c.measured), "note": c.note}

    return json.dumps({
        "schema_version": 1, "model": result.model, "input": list(result.input), "batch": result.batch,
        "training": True, "ok": result.ok,
        "layers": [{"name": r.name, "kind": r.desc, "ok": r.ok, "checks": {q: enc(c) for q, c in r.checks.items()}}
                   for r in result.layers],
        "finite_differences": [{"layer": p.name, "param": p.param, "index": list(p.index), "backward": p.analytic,
                                "numeric": p.numeric, "ok": p.ok} for p in result.fd],
    }, indent=2)
