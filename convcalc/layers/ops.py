"""Generic tensor ops, for networks read from PyTorch or ONNX code rather than built from blocks.

* :class:`View` — a shape-only op (reshape, view, transpose, indexing, expand): no MACs.
* :class:`Reduce` — ``mean``/``sum``/``amax``... over per-sample dims: no MACs (like pooling).
* :class:`Pointwise` — an elementwise op of one or more tensors and constants (``x * gamma``,
  ``x + pos_embedding``): no MACs by convcalc's convention (DESIGN §2: MACs are multiplications
  by weights or of tensors); the constants' parameters are counted here.
* :class:`MatMul` — ``a @ b`` of two tensors, broadcasting as PyTorch: ``prod(out) * K`` MACs.
* :class:`Op` — an op whose MACs were counted by an exact rule at import (einsum, attention,
  ``baddbmm``...): its output shape and MACs are given.
* :class:`Unknown` — an op that computes but has no MAC rule: counted as *not counted* by name
  (the summary line and JSON list them), never a silent zero.

Shapes are per sample. The fixed-shape kinds (View, Pointwise, Op, Unknown) take their output
shape from the tracer (torch's own propagation) and check only what they can.
"""
from __future__ import annotations

from ..errors import ConfigError, ShapeError
from ..sym import is_sym, prod, simplify
from .base import Inference, Layer, Window
from .merge import _broadcast


def _shape(shape, what) -> tuple:
    if shape is None or not isinstance(shape, (list, tuple)):
        raise ConfigError(f"{what}: shape must be a list of sizes, got {shape!r}")
    return tuple(shape)


def _text(shape) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def regroup_of(src: tuple, dst: tuple):
    """Which input dims each output dim of a reshape comes from (dims grouped where the running
    products meet), or None when the element counts differ or a size is a symbol."""
    if any(is_sym(d) for d in (*src, *dst)) or prod(src) != prod(dst):
        return None
    groups, i, j = [], 0, 0
    while j < len(dst):
        if i < len(src) and src[i] == dst[j]:
            groups.append((i,))
            i, j = i + 1, j + 1
            continue
        a, b, ins, outs = 1, 1, [], []
        while True:
            if a <= b and i < len(src):
                a, ins = a * src[i], ins + [i]
                i += 1
            elif j < len(dst):
                b, outs = b * dst[j], outs + [j]
                j += 1
            else:
                break
            if a == b and ins and outs:
                break
        groups.extend(tuple(ins) for _ in outs)
    return tuple(groups) if len(groups) == len(dst) else None


#: the steps of a view that copies elements (``View(index=...)``), on per-sample dims:
#: ``("slice", dim, start, stop, step)``, ``("take", dim, i)`` (drops the dim), ``("new", dim)``
#: (a size-1 dim), ``("tile", reps)`` (``np.tile``, one count per dim), ``("interleave", dim, r)``
INDEX_STEPS = {"slice": 4, "take": 2, "new": 1, "tile": 1, "interleave": 2}


class View(Layer):
    """A shape-only op: its output shape, per sample (reshape, transpose, indexing, expand).
    ``index``, where the importer could say it, is how the elements are picked and copied
    (indexing, expand, repeat, tile: the steps of ``INDEX_STEPS``), then reshaped to ``shape``:
    enough for the NumPy core to execute it."""

    kind = "view"

    def __init__(self, shape=None, op="view", index=None):
        self.shape, self.op = _shape(shape, "view"), op
        if index is not None:
            index = tuple(tuple(s) for s in index)
            bad = [s for s in index if not s or INDEX_STEPS.get(s[0]) != len(s) - 1]
            if bad:
                raise ConfigError(f"view: index steps must be one of {', '.join(INDEX_STEPS)}, got {bad[0]!r}")
        self.index = index

    def aliases_input(self):
        return True

    def infer(self, shape):
        if self.index:
            return _index_inference(tuple(shape), self.index, self.shape)
        regroup = regroup_of(tuple(shape), self.shape)
        return Inference(shape=self.shape, regroup=regroup,
                         rf="same" if regroup is not None or len(shape) == len(self.shape) else "global")

    def describe(self):
        return f"{self.op} {_text(self.shape)}"


def _index_inference(shape: tuple, index: tuple, out: tuple) -> Inference:
    """Where each output dim of a copying view comes from: a new dim from none, the others from
    one input dim. A slice of a dim is a window of 1 at its step (offset by its start) and an
    interleave a nearest upsampling, where the dims stay in place; an index taken, a tile, two
    steps on one dim, or a step where dims moved: any position of that dim may reach every
    output unit (a bound)."""
    src, mixed, win = list(range(len(shape))), set(), {}
    for step in index:
        op, args = step[0], step[1:]
        if op == "new":
            src.insert(args[0], None)
        elif op == "take":
            d = src.pop(args[0])
            if d is not None:
                mixed.add(d)
        elif op == "tile":
            mixed.update(d for d, r in zip(src, args[0]) if d is not None and r != 1)
        elif src[args[0]] is not None:
            d = src[args[0]]
            if d in win:
                mixed.add(d)
            elif op == "slice":
                win[d] = Window(1, args[3], -args[1])
            else:
                win[d] = Window.repeat(args[1])
    if len(out) != len(src):  # a final reshape that changes the dims: as a reshape that does not say how
        return Inference(shape=out, rf="global")
    if any(d is not None and d != i for i, d in enumerate(src)):
        mixed.update(win)  # windows act on dims in place: where the dims moved, bound them instead
        win = {}
    windows = tuple(win.get(d, Window(1, 1, 0)) for d in range(1, len(out))) if win else ()
    return Inference(shape=out, rf="window" if win else "same", windows=windows,
                     mixed=tuple(sorted(d for d in mixed if d not in win)),
                     regroup=tuple(() if d is None else (d,) for d in src))


REDUCTIONS = ("mean", "sum", "amax", "amin", "max", "min", "prod", "std", "var", "norm", "logsumexp", "all", "any",
              "argmax", "argmin", "median", "nanmean", "nansum")


#: what autograd keeps for a reduction's backward (PyTorch's derivatives.yaml): mean and sum
#: only shapes; amax/amin, prod, std, norm, logsumexp their input and result; var its input;
#: max/min/median over a dim the int64 indices of the result
_REDUCE_SAVES = {"amax": ("input", "output"), "amin": ("input", "output"), "prod": ("input", "output"),
                 "std": ("input", "output"), "norm": ("input", "output"), "logsumexp": ("input", "output"),
                 "var": ("input",)}
_REDUCE_INDICES = ("max", "min", "median")


class Reduce(Layer):
    """``x.mean(dim=...)`` and its kin over per-sample ``dims`` (0-based, batch excluded)."""

    kind = "reduce"

    def saved(self, shapes, inf, input_grads):
        return _REDUCE_SAVES.get(self.op, ())

    def saved_extra(self, shapes, inf):
        return ((prod(inf.shape), 8, True),) if self.op in _REDUCE_INDICES else ()

    def __init__(self, op="mean", dims=(), keepdim=False):
        if op not in REDUCTIONS:
            raise ConfigError(f"reduce: op must be one of {', '.join(REDUCTIONS)}, got {op!r}")
        self.op, self.dims, self.keepdim = op, tuple(sorted(set(dims))), bool(keepdim)

    def infer(self, shape):
        dims = [d % len(shape) if len(shape) else d for d in self.dims]
        if any(not 0 <= d < max(len(shape), 1) for d in dims):
            raise ShapeError(f"reduce over dims {self.dims} of a {len(shape)}-d sample")
        out = tuple(1 if i in dims else s for i, s in enumerate(shape)) if self.keepdim else \
            tuple(s for i, s in enumerate(shape) if i not in dims)
        regroup = tuple((i,) for i in range(len(shape))) if self.keepdim else \
            tuple((i,) for i in range(len(shape)) if i not in dims)
        return Inference(shape=out, mixed=tuple(dims), regroup=regroup)

    def describe(self):
        return f"{self.op} over {','.join(map(str, self.dims))}" + (" keepdim" if self.keepdim else "")


class Pointwise(Layer):
    """An elementwise op of the inputs and constants (no MACs of its own); ``params`` and ``macs``
    of the constants it uses (computed once per forward, like Swin v2's position-bias MLP)."""

    kind = "pointwise"
    arity = None

    def __init__(self, op="add", shape=None, params=0, macs=0, call=None):
        self.op, self.shape, self.params, self.macs = op, _shape(shape, "pointwise"), params, macs
        # where the importer could say it, the call's arguments in order: ("x", i) input i,
        # ("c", number) a constant, ("p", name, shape) a parameter (its weight), and
        # ("k", name, number) keyword constants: enough to run it
        self.call = tuple(tuple(a) for a in call) if call is not None else None

    def infer(self, shape):
        return self.infer_all([shape])

    def infer_all(self, shapes):
        return Inference(shape=self.shape, params=self.params, macs=self.macs)

    def describe(self):
        return self.op + (f" (+{self.params:,} params)" if self.params else "")


class MatMul(Layer):
    """``a @ b`` of two tensors (``torch.matmul`` semantics, broadcasting batch dims):
    ``prod(output) * K`` MACs, K the contracted size."""

    kind = "matmul"
    arity = 2

    def __init__(self):
        pass

    def infer_all(self, shapes):
        a, b = (tuple(s) for s in shapes)
        if not a or not b:
            raise ShapeError("matmul of a scalar")
        a2, b2 = (a if len(a) > 1 else (1, *a)), (b if len(b) > 1 else (*b, 1))
        if not is_sym(a2[-1]) and not is_sym(b2[-2]) and a2[-1] != b2[-2]:
            raise ShapeError(f"matmul {_text(a)} @ {_text(b)}: inner sizes {a2[-1]} and {b2[-2]} differ")
        conds: list = []
        batch = _broadcast([a2[:-2] or (1,), b2[:-2] or (1,)], conds) if len(a2) > 2 or len(b2) > 2 else ()
        out = (*batch, a2[-2], b2[-1])
        macs = simplify(prod(out) * a2[-1])
        if len(a) == 1:
            out = (*out[:-2], out[-1])
        if len(b) == 1:
            out = out[:-1]
        return Inference(shape=tuple(out), macs=macs, rf="global", conditions=conds)

    def saved(self, shapes, inf, input_grads):
        """Each operand, for the other's gradient: kept when the other needs one (as mm does)."""
        return tuple(("input", 1 - i) for i, g in enumerate(input_grads) if g)

    def backward_macs(self, shapes, inf):
        """dA = dY @ B^T and dB = A^T @ dY each meet every (output unit, K) pair once: the
        forward's ``prod(output) * K`` per operand that needs a gradient (one entry per input)."""
        return (inf.macs, inf.macs), 0

    def infer(self, shape):  # pragma: no cover - two inputs
        raise ShapeError("matmul takes two inputs")

    def describe(self):
        return "matmul"


class Op(Layer):
    """An op whose MACs an exact rule counted at import (``op`` names it): output shape,
    MACs and parameters are given; every output unit may see every input position."""

    kind = "op"
    arity = None

    def __init__(self, op="op", shape=None, macs=0, params=0):
        self.op, self.shape, self.macs, self.params = op, _shape(shape, "op"), macs, params

    def infer(self, shape):
        return self.infer_all([shape])

    def infer_all(self, shapes):
        return Inference(shape=self.shape, macs=self.macs, params=self.params, rf="global")

    def describe(self):
        return self.op


class Unknown(Op):
    """An op that computes but that convcalc has no MAC rule for: its MACs are *not counted*
    (reported by name, never a silent zero)."""

    kind = "unknown"

    def __init__(self, op="op", shape=None, params=0):
        super().__init__(op, shape, 0, params)

    def describe(self):
        return f"{self.op} (not counted)"


KINDS = (View, Reduce, Pointwise, MatMul, Op, Unknown)
