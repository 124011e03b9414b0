"""Shape arithmetic folded where ONNX shape inference cannot follow it (called by ``onnx_read``).

Exporters compute sizes in the graph (``Shape -> Gather -> Div -> Slice`` for a ``chunk``);
ONNX's data propagation follows some of these ops, not all. With the input's size fixed, every such
value is a constant: :func:`fold` evaluates the nodes whose inputs are all known constants (with
ONNX's reference implementation, one small node at a time) and replaces them by initializers, so
that a second inference sizes what comes after. Nodes reading a float initializer of the file (a
weight) are never folded: their parameters stay visible to the importer.
"""
from __future__ import annotations

#: no input of a folded node holds more elements than this (shape arithmetic is small)
SMALL = 1 << 16


def _shape_value(node, dims, np):
    a = {x.name: x.i for x in node.attribute}
    if node.op_type == "Size":
        return np.array(int(np.prod(dims, dtype=np.int64)), dtype=np.int64)
    n = len(dims)
    start, end = a.get("start", 0), a.get("end", n)
    return np.array(dims[start:end], dtype=np.int64)


def fold(model, weights, known, values) -> int:
    """Fold constant shape arithmetic of ``model`` in place; returns how many nodes were folded.
    ``weights``: names of the file's float initializers; ``known``: tensor name -> dims; ``values``:
    the constants' values (name -> array), kept from one round to the next."""
    import numpy as np
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    g = model.graph
    for t in g.initializer:
        if t.name not in weights and t.name not in values:
            try:
                values[t.name] = numpy_helper.to_array(t)
            except Exception:  # data it does not hold: not a value to fold with
                pass
    keep, folded = [], 0
    for node in g.node:
        outs = None
        if node.domain not in ("", "ai.onnx") or any(a.type in (5, 10) for a in node.attribute):  # subgraphs
            keep.append(node)
            continue
        if node.op_type in ("Shape", "Size") and node.input[0] in known:
            outs = [_shape_value(node, known[node.input[0]], np)]
        elif all(not n or n in values for n in node.input) and \
                sum(values[n].size for n in node.input if n) <= SMALL:
            try:
                outs = ReferenceEvaluator(node).run(None, {n: values[n] for n in node.input if n})
            except Exception:  # an op the reference cannot run here: left to inference
                outs = None
        if outs is None or len(outs) != len(node.output):
            keep.append(node)
            continue
        for name, v in zip(node.output, outs):
            if name:
                values[name] = np.asarray(v)
                g.initializer.append(numpy_helper.from_array(np.asarray(v), name))
        folded += 1
    del g.node[:]
    g.node.extend(keep)
    return folded
