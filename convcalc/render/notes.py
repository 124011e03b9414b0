"""Warnings said once: identical warnings of several layers become one line naming them.

The engine words a layer's warning as ``"NAME: TEXT"``; :func:`grouped` merges every warning
whose TEXT is the same, naming the layers where the TEXT's own first clause ends
(``stride 2 does not tile H and W (layer2.0.downsample.0, layer3.0.downsample.0): ...``).
Warnings that name no layer of the report (a model's own notes) pass unchanged.
"""
from __future__ import annotations


def grouped(report) -> list:
    """The report's warnings, identical texts merged, in order of first appearance."""
    names = {r.name for r in report.rows}
    order, layers = [], {}
    for w in report.warnings:
        name, sep, text = w.partition(": ")
        parts = name.split(".")
        of_a_row = any(".".join(parts[:i]) in names for i in range(1, len(parts) + 1))  # rows may be collapsed
        key = text if sep and of_a_row else None
        if key is None:
            order.append(("", w))
            continue
        if key not in layers:
            layers[key] = []
            order.append((key, None))
        if name not in layers[key]:
            layers[key].append(name)
    out = []
    for key, plain in order:
        if plain is not None:
            if plain not in out:
                out.append(plain)
            continue
        who = layers[key]
        if len(who) == 1:
            out.append(f"{who[0]}: {key}")
            continue
        head, sep, tail = key.partition(": ")
        out.append(f"{head} ({', '.join(who)}){sep}{tail}")
    return out
