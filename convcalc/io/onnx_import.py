"""ONNX in (the optional ``onnx`` extra): ``from_onnx(path_or_model, input_shape=None)``.

Every tensor's shape comes from ONNX shape inference at batch 1 (:mod:`convcalc.io.onnx_read`);
each node becomes a convcalc layer by the rules of :mod:`convcalc.io.onnx_ops` (a conv, a pool, a
norm, a linear layer for a Gemm or a MatMul by a weight...), or a generic ``view``, ``pointwise``
or ``op`` row, or an ``unknown`` row (an op with no MAC rule, counted as not counted by name, as
``from_torch`` does). Parameters are the float initializers an op uses as data (a weight used by
several nodes is counted once; shape constants, scales and running statistics are not
parameters); nodes computing on constants only (shape arithmetic, folded weights) are folded.
"""
from __future__ import annotations

import os
from typing import Optional

from ..errors import ConvcalcError
from ..graph import Graph
from ..layers import ops, tensor
from ..sym import prod
from ..zoo import Model
from . import onnx_read as rd
from .onnx_ops import CONFIG, rule

__all__ = ["from_onnx", "OnnxError"]

OnnxError = rd.OnnxError

#: ops whose output is their input where the shape does not change
_PASS = frozenset("Identity Cast CastLike Dropout".split())


class _A:
    """An activation: a graph node's key, its per-sample shape, whether a batch dim was dropped."""

    def __init__(self, key, ps, drop):
        self.key, self.ps, self.drop = key, tuple(ps), drop


class _K:
    """A constant (initializer, Constant node, or computed from those): parameter tensors it holds."""

    def __init__(self, params=None):
        self.params = dict(params or {})


def per_sample(full) -> tuple:
    """(per-sample shape, batch dropped) of a shape read at batch 1."""
    full = tuple(full)
    return (full[1:], True) if full and full[0] == 1 else (full, False)


def row_name(node, index: int) -> str:
    """A readable row name: torch's exports name nodes ``/layer1/layer1.0/conv1/Conv``."""
    name = node.name or (node.output[0] if node.output else "") or f"{node.op_type}_{index}"
    if not name.startswith("/"):
        return name
    parts = [p for p in name.strip("/").split("/") if p]
    if not parts:
        return node.op_type
    last, scope, prev = parts[-1], "", ""
    for p in parts[:-1]:  # module names relative to the one before (layer1, layer1.0, conv1)
        scope = scope[:len(scope) - len(prev)] + p if prev and p.startswith(prev + ".") else \
            (f"{scope}.{p}" if scope else p)
        prev = p
    if scope and last == node.op_type:
        return scope
    return f"{scope}.{last}" if scope else last


class Converter:
    """Builds ``self.graph`` from an inferred ONNX model (``rd.prepare``)."""

    def __init__(self, model, input_name, full_in, inits, source):
        self.source = source
        self.g = model.graph
        self.full = rd.shapes(model)
        self.full[input_name] = tuple(full_in)
        self.assumed = rd.assumed(model)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.graph = Graph()
        self.vals, self.seen, self.warnings = {}, {}, []
        self.consts = {i.name: i for i in self.g.initializer}  # values of the small ones and folded ones
        ps, drop = per_sample(full_in)
        self.vals[input_name] = _A(self.graph.inputs[0], ps, drop)
        for t in self.g.initializer:  # folded shape arithmetic: constants, never parameters
            self.full.setdefault(t.name, tuple(int(d) for d in t.dims))
            self.vals[t.name] = _K()
        for name, (dims, dtype) in inits.items():  # the file's initializers: floats are parameters
            self.full[name] = dims
            n = prod(dims)
            self.vals[name] = _K({name: n} if dtype in rd.FLOAT_TYPES and n else {})

    # -- what the rules ask ----------------------------------------------------------------------
    def is_act(self, v) -> bool:
        return isinstance(v, _A)

    def params(self, node, positions=None) -> dict:
        """Parameters among the node's constant inputs: at ``positions``, or else every data input
        (configuring inputs excluded, and scalar constants: ``x * 0.5`` holds no weight)."""
        out, skip = {}, CONFIG.get(node.op_type, set())
        for i, name in enumerate(node.input):
            v = self.vals.get(name) if name else None
            if not isinstance(v, _K) or (i not in positions if positions is not None else i in skip):
                continue
            out.update({k: n for k, n in v.params.items() if positions is not None or n > 1})
        return out

    def new_params(self, params) -> int:
        new = {k: v for k, v in params.items() if k not in self.seen}
        self.seen.update(new)
        return sum(new.values())

    def warn(self, node, text) -> None:
        self.warnings.append(f"{row_name(node, 0)}: {text}")

    def fits(self, layer, shapes, ps) -> bool:
        try:
            return tuple(layer.infer_all([tuple(s) for s in shapes]).shape) == tuple(ps)
        except (ConvcalcError, TypeError, ValueError, IndexError, ZeroDivisionError):
            return False

    def mapped(self, node, layer, xs, ps, params):
        """``layer`` where it gives ONNX's shape and the file's parameter count; a weight already
        counted (shared) makes the row an op with the layer's MACs and no parameters again."""
        shapes = [x.ps for x in xs]
        keys = list(dict.fromkeys(x.key for x in xs))
        try:
            inf = layer.infer_all(shapes)
        except ConvcalcError as e:
            self.warn(node, f"{node.op_type} is not counted ({e})")
            return None
        if tuple(inf.shape) != tuple(ps):
            self.warn(node, f"ONNX infers {rd.dims_text(ps)} but {layer.kind} gives {rd.dims_text(inf.shape)}; "
                            f"the {node.op_type} is not counted")
            return None
        shared = any(k in self.seen for k in params)
        counted = self.new_params(params)
        if shared:
            return ops.Op(f"{node.op_type} (shared)", ps, inf.macs, counted), keys, False
        if inf.params != sum(params.values()):
            return ops.Op(node.op_type, ps, inf.macs, counted), keys, False
        return layer, keys, False

    def value(self, name):
        """A constant's value (an initializer or a Constant node's), or None."""
        t = self.consts.get(name)
        return rd.array(t) if t is not None else None

    def clip_bounds(self, node, a):
        if "min" in a or "max" in a:
            return a.get("min"), a.get("max")
        vals = [self.value(n) if n else None for n in node.input[1:3]]
        return tuple(float(v.reshape(-1)[0]) if v is not None and v.size == 1 else None for v in vals + [None] * 2)[:2]

    # -- the walk --------------------------------------------------------------------------------
    def run(self):
        for i, node in enumerate(self.g.node):
            self.node(node, i)
        outputs = [self.vals[o.name].key for o in self.g.output if isinstance(self.vals.get(o.name), _A)]
        if not outputs:
            raise OnnxError(f"{self.source}: no output of the ONNX graph is computed from its input")
        from .torch_convert import _prune

        self.graph = _prune(self.graph, outputs)

    def node(self, node, index):
        missing = [n for n in node.input if n and n not in self.vals]
        if missing:
            raise OnnxError(f"{self.source}: node {node.name or node.op_type!r} reads {missing[0]!r}, which no "
                            "earlier node computes (the graph is not in topological order)")
        ins = [self.vals.get(n) if n else None for n in node.input]
        acts = [v for v in ins if isinstance(v, _A)]
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            self._constant(node)
            return
        if not acts:  # constants only: folded, their weights carried to the op that uses them
            params = {} if node.op_type in ("Shape", "Size") else self.params(node, range(len(node.input)))
            if node.op_type == "Identity" and params:  # an exporter's copy of a shared-looking tensor
                params = {node.output[0]: sum(params.values())}
            for out in node.output:
                if out:
                    self.vals[out] = _K(params)
            return
        if node.op_type in ("Shape", "Size"):  # sizes of an activation: a constant
            self.vals[node.output[0]] = _K()
            return
        self._compute(node, index, ins, acts)

    def _constant(self, node):
        for a in node.attribute:
            if a.name == "value" and a.HasField("t"):
                self.consts[node.output[0]] = a.t
        self.vals[node.output[0]] = _K()

    def _compute(self, node, index, ins, acts):
        out = node.output[0] if node.output else ""
        full = self.full.get(out)
        if full is None:  # not even an assumed shape: the input's
            full = self.full.get(node.input[0]) or (1, *acts[0].ps)
            self.warnings.append(f"{row_name(node, index)}: ONNX cannot size {node.op_type}'s output; "
                                 f"taken as its input's")
        ps, drop = per_sample(full)
        if out in self.assumed:
            self.warnings.append(f"{row_name(node, index)}: ONNX cannot infer the shape of {node.op_type}; "
                                 f"taken as its input's ({rd.dims_text(ps)})")
        x = acts[0]
        if node.op_type in _PASS and node.domain in ("", "ai.onnx") and len(acts) == 1 and ins[0] is x \
                and ps == x.ps and drop == x.drop:
            self.vals[out] = x
            self._extra_outputs(node, x, index)
            return
        if node.op_type == "Split" and node.domain in ("", "ai.onnx") and ins[0] is x:
            self._split(node, x, index)
            return
        got = rule(self, node, rd.attrs(node), ins, acts, ps)
        if got is None:
            label = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            got = ops.Unknown(label, ps, self.new_params(self.params(node))), \
                list(dict.fromkeys(t.key for t in acts)), False
        layer, keys, implicit = got
        key = self.graph.add(row_name(node, index), layer, keys, implicit=implicit)
        self.vals[out] = made = _A(key, ps, drop)
        self._extra_outputs(node, made, index)

    def _extra_outputs(self, node, first, index):
        """Further outputs (a mask, indices, a state): views of the first, where shapes are known."""
        for i, out in enumerate(node.output[1:], 1):
            if not out:
                continue
            full = self.full.get(out)
            if full is None:
                self.vals[out] = _K()
                continue
            ps, drop = per_sample(full)
            key = self.graph.add(f"{row_name(node, index)}.{i}", ops.View(ps, op="item"), [first.key])
            self.vals[out] = _A(key, ps, drop)

    def _split(self, node, x, index):
        """Split: every output a slice of the input (a channel slice along the channels)."""
        a = rd.attrs(node)
        full = self.full.get(node.input[0])
        axis = a.get("axis", 0) % len(full) if full else 0
        start = 0
        for i, out in enumerate(node.output):
            if not out or out not in self.full:
                continue
            ps, drop = per_sample(self.full[out])
            layer = ops.View(ps, op="Split")
            if x.drop and drop and axis == 1 and ps[1:] == x.ps[1:]:
                layer = tensor.ChannelSlice(start, start + ps[0])
            if x.drop and drop and axis >= 1:
                start += ps[axis - 1]
            key = self.graph.add(f"{row_name(node, index)}.{i}", layer, [x.key])
            self.vals[out] = _A(key, ps, drop)


def from_onnx(source, input_shape=None, name: Optional[str] = None) -> Model:
    """The model in ``source`` (a path to an ``.onnx`` file, or an ``onnx.ModelProto``), at per-sample
    ``input_shape`` (C, *spatial) where given: it overrides the file's sizes and is needed where
    they are dynamic. The batch dim is the first and is set to 1 (``--batch`` scales the MACs)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        proto, label = rd.read(path), path
        name = name or os.path.splitext(os.path.basename(path))[0]
    else:
        onnx = rd._onnx()
        if not isinstance(source, onnx.ModelProto):
            raise ConvcalcError(f"from_onnx expects a path or an onnx.ModelProto, got {type(source).__name__}")
        proto, label = source, "ONNX model"
        rd.check(proto, label)
        name = name or proto.graph.name or "onnx"
    model, input_name, full, inits = rd.prepare(proto, input_shape, label)
    conv = Converter(model, input_name, full, inits, label)
    conv.run()
    opset = conv.opset
    ps, _ = per_sample(full)
    m = Model(name, conv.graph, tuple(ps), f"read from ONNX ({os.path.basename(label)}, opset {opset})")
    m.warnings.extend(dict.fromkeys(conv.warnings))
    return m
