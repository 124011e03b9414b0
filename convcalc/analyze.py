"""``analyze(model, input) -> Report``: walk a network, one row per layer.

Each layer's own numbers come from its ``infer``; this module only composes them:
shapes flow along the graph, receptive fields compose (rf.py), ``batch`` scales
MACs and activations (never parameters), and the forward peak of live activation
memory is tracked (a skip connection keeps its input alive while the body runs).
"""
from __future__ import annotations

from .errors import ConvcalcError, ShapeError
from .graph import Parallel, Sequential, join
from .layers.base import Layer
from .report import Report, Row
from . import rf as rfmath
from .sym import fmt, is_sym, prod, simplify

DTYPES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ConvcalcError(f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPES)}") from None


class _Walker:
    def __init__(self, batch, nbytes: int):
        self.batch, self.nbytes = batch, nbytes
        self.rows, self.warnings, self.conditions, self.tiling = [], [], [], []
        self.peak = 0

    def bytes_of(self, shape) -> object:
        return simplify(prod(shape) * self.batch * self.nbytes)

    def note_live(self, live) -> None:
        # With symbols the peak is a maximum over many expressions whose order depends on the
        # input size: sympy's Max of them is slow and unreadable, so it is left undetermined.
        if self.peak is None or is_sym(live):
            self.peak = None
        else:
            self.peak = max(self.peak, live)

    def walk(self, module, prefix, shape, rf, held):
        if isinstance(module, Layer):
            return self.leaf(module, prefix, shape, rf, held)
        if isinstance(module, Sequential):
            for name, child in module.children:
                shape, rf = self.walk(child, join(prefix, name), shape, rf, held)
            return shape, rf
        if isinstance(module, Parallel):
            return self.parallel(module, prefix, shape, rf, held)
        raise ConvcalcError(f"{prefix or 'model'}: not a layer or block: {type(module).__name__}")

    def leaf(self, layer, name, shape, rf, held):
        try:
            inf = layer.infer(tuple(shape))
        except ConvcalcError as e:
            raise type(e)(f"{name or layer.kind} ({layer.describe()}): {e}") from None
        out_rf = rf
        if rf is not None:
            if inf.rf == "window":
                out_rf = rfmath.through(rf, inf.windows)
            elif inf.rf == "global" and not all(a.is_global for a in rf):
                out_rf = rfmath.globalize(rf, tuple(shape[1:1 + len(rf)]) if len(shape) > 1 else ())
        act = self.bytes_of(inf.shape)
        self.note_live(held + self.bytes_of(shape) + act)
        for w in inf.warnings:
            self.warnings.append(f"{name}: {w}")
        for cond, text in inf.conditions:
            self.conditions.append((cond, f"{name}: {text}"))
        for left, text in inf.tiling:
            self.tiling.append((left, f"{name}: {text}"))
        self.rows.append(Row(name=name or layer.kind, kind=layer.kind, desc=layer.describe(), input=tuple(shape),
                             output=tuple(inf.shape), params=inf.params, buffers=inf.buffers,
                             macs=simplify(inf.macs * self.batch), rf=out_rf, activation_bytes=act,
                             warnings=tuple(inf.warnings), layer=layer, rf_in=rf))
        return inf.shape, out_rf

    def parallel(self, block, prefix, shape, rf, held):
        in_bytes = self.bytes_of(shape)
        outs = []
        for name, child in block.branches:
            if child is None:
                outs.append((tuple(shape), rf))
                continue
            live_outs = sum((self.bytes_of(s) for s, _ in outs), 0)
            outs.append(self.walk(child, join(prefix, name), shape, rf, held + in_bytes + live_outs))
        shapes = [tuple(s) for s, _ in outs]
        merged = merge_shapes(block, shapes, join(prefix, block.merge_name), self.conditions)
        out_rf = rfmath.union([r for _, r in outs]) if rf is not None else None
        act = self.bytes_of(merged)
        self.note_live(held + sum((self.bytes_of(s) for s in shapes), 0) + act)
        kind = {"add": "add", "cat": "concat", "mul": "mul"}[block.combine]
        self.rows.append(Row(name=join(prefix, block.merge_name), kind=kind,
                             desc=f"{kind} of {len(shapes)}", input=shapes[0], output=merged, params=0, buffers=0,
                             macs=0, rf=out_rf, activation_bytes=act))
        shape, rf = merged, out_rf
        for name, child in block.post:
            shape, rf = self.walk(child, join(prefix, name), shape, rf, held)
        return shape, rf


def merge_shapes(block, shapes, where, conds=None) -> tuple:
    """The merged shape; with symbols, the equalities it needs become conditions."""
    conds = [] if conds is None else conds

    def same(a, b, what):
        if is_sym(a) or is_sym(b):
            from .sym import sp

            eq = sp().Eq(a, b)
            if eq is not sp().true:
                conds.append((eq, f"{where}: {what} {fmt(a)} = {fmt(b)}"))

    def text(s):
        return "x".join(fmt(d) for d in s)

    if block.combine == "cat":
        rank = len(shapes[0])
        dim = block.dim % rank if -rank <= block.dim < rank else None
        if dim is None or any(len(s) != rank for s in shapes):
            raise ShapeError(f"{where}: cannot concatenate {', '.join(text(s) for s in shapes)}")
        for s in shapes[1:]:
            if any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != dim and not (is_sym(a) or is_sym(b))):
                raise ShapeError(f"{where}: branch shapes {', '.join(text(s) for s in shapes)} differ "
                                 f"outside the concatenated dim")
            for i, (a, b) in enumerate(zip(s, shapes[0])):
                if i != dim:
                    same(a, b, f"dim {i}")
        out = list(shapes[0])
        out[dim] = simplify(sum(s[dim] for s in shapes))
        return tuple(out)
    if block.combine == "add":
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(a != b for a, b in zip(s, shapes[0])
                                               if not (is_sym(a) or is_sym(b))):
                raise ShapeError(f"{where}: cannot add shapes {' and '.join(text(s) for s in shapes)}"
                                 " (a projection shortcut is needed)")
            for i, (a, b) in enumerate(zip(s, shapes[0])):
                same(a, b, f"dim {i}")
        return shapes[0]
    # mul: broadcasting, as PyTorch
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1 and not any(is_sym(d) for d in sizes):
            raise ShapeError(f"{where}: shapes {' and '.join(text(s) for s in shapes)} do not broadcast")
        out.append(next(iter(sizes)) if sizes else 1)
    return tuple(out)


def analyze(model, input=None, batch=1, dtype: str = "fp32", name: str | None = None) -> Report:
    """Analyse ``model`` (a zoo ``Model``, a ``Sequential``/``Parallel`` or a single layer)
    for per-sample ``input`` shape ``(C, *spatial)``."""
    net = getattr(model, "net", model)
    if input is None:
        input = getattr(model, "input", None)
        if input is None:
            raise ConvcalcError("no input shape given")
    name = name or getattr(model, "name", None) or getattr(net, "kind", "model")
    input = tuple(input)
    if not is_sym(batch) and (not isinstance(batch, int) or batch < 1):
        raise ConvcalcError(f"batch must be a positive integer, got {batch!r}")
    for d in input:
        if not is_sym(d) and (not isinstance(d, int) or d < 1):
            raise ShapeError(f"input sizes must be positive integers, got {'x'.join(fmt(x) for x in input)}")
    nbytes = dtype_bytes(dtype)
    walker = _Walker(batch, nbytes)
    walker.warnings.extend(getattr(model, "warnings", None) or [])
    spatial = len(input) - 1
    rf0 = rfmath.initial(spatial) if spatial >= 1 else None
    walker.walk(net, "", input, rf0, 0)
    rows = tuple(walker.rows)
    from .sym import total  # one sum of all rows: linear in the number of layers, also with symbols
    from .validity import with_validity

    params, buffers, macs = (total(getattr(r, key) for r in rows) for key in ("params", "buffers", "macs"))
    param_bytes = simplify(params * nbytes)
    input_bytes = walker.bytes_of(input)
    totals = {
        "params": params, "buffers": buffers, "macs": macs, "flops": simplify(2 * macs),
        "activation_bytes": total(r.activation_bytes for r in rows),
        "input_bytes": input_bytes,
        "param_bytes": param_bytes, "buffer_bytes": simplify(buffers * nbytes),
        "peak_activation_bytes": walker.peak,
        "peak_bytes": None if walker.peak is None else simplify(walker.peak + param_bytes + buffers * nbytes),
    }
    return with_validity(Report(model=name, input=input, batch=batch, dtype=dtype, dtype_bytes=nbytes, rows=rows,
                                totals=totals, warnings=tuple(walker.warnings), conditions=tuple(walker.conditions),
                                tiling=tuple(walker.tiling)))
