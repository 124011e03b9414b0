"""Rendering a verification result: a ✓/✗ grid, or JSON."""
from __future__ import annotations

import json

from rich import box
from rich.table import Table
from rich.text import Text

from ..report import jsonable

QUANTITIES = ("shape", "params", "macs", "rf")


def _cell(check) -> Text:
    if check is None:
        return Text("")
    if check.ok is None:
        return Text("–")
    if check.ok:
        note = f" ({check.note})" if check.note else ""
        return Text("✓" + note, style="green")
    return Text(f"✗ claimed {check.claimed}, measured {check.measured}", style="bold red")


def verify_table(result) -> Table:
    t = Table(title=f"verify {result.model} · input {'x'.join(str(d) for d in result.input)} · batch {result.batch}",
              box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("Layer", no_wrap=True)
    t.add_column("Kind", no_wrap=True)
    for q in ("Shape", "Params", "MACs", "RF"):
        t.add_column(q, no_wrap=True)
    for r in result.layers:
        t.add_row(r.name, r.desc, *[_cell(r.checks.get(q)) for q in QUANTITIES])
    return t


def verify_json(result) -> str:
    def enc(c):
        return {"ok": c.ok, "claimed": _plain(c.claimed), "measured": _plain(c.measured), "note": c.note}

    return json.dumps({
        "schema_version": 1, "model": result.model, "input": list(result.input), "batch": result.batch,
        "ok": result.ok,
        "layers": [{"name": r.name, "kind": r.desc, "ok": r.ok, "checks": {q: enc(c) for q, c in r.checks.items()}}
                   for r in result.layers],
    }, indent=2)


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return jsonable(v)
