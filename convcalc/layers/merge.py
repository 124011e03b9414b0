"""Where paths meet: ``Add`` (residual), ``Concat`` (Inception, DenseNet) and ``Mul``
(squeeze-and-excitation gates, broadcasting as PyTorch). No parameters, no MACs.

They take two or more inputs (``arity = None``); the graph gives them every input's shape.
"""
from __future__ import annotations

from ..errors import ShapeError
from ..sym import fmt, is_sym, simplify
from .base import Inference, Layer


def _text(shape) -> str:
    return "x".join(fmt(d) for d in shape)


def _same(a, b, what, conds) -> None:
    """With symbols, an equality the merge needs becomes a validity condition."""
    if is_sym(a) or is_sym(b):
        from ..sym import sp

        eq = sp().Eq(a, b)
        if eq is not sp().true:
            conds.append((eq, f"{what} {fmt(a)} = {fmt(b)}"))


def _broadcast(shapes, conds) -> tuple:
    """PyTorch's broadcasting of per-sample shapes (aligned on the right; a size 1 stretches).
    Sizes that must be equal but are symbols become validity conditions."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for i, dims in enumerate(zip(*padded)):
        sizes = [d for d in dims if not (d == 1 and not is_sym(d))]
        numbers = {d for d in sizes if not is_sym(d)}
        if len(numbers) > 1:
            raise ShapeError(f"shapes {' and '.join(_text(s) for s in shapes)} do not broadcast")
        for d in sizes[1:]:
            _same(sizes[0], d, f"dim {i}", conds)
        out.append(sizes[0] if sizes else 1)
    return tuple(out)


class Merge(Layer):
    """Base of the merges; ``n`` is the number of inputs (set by the graph builder)."""

    arity = None
    label = "merge"

    def __init__(self, n=2):
        self.n = n

    def describe(self) -> str:
        return f"{self.label} of {self.n}"

    def infer(self, shape: tuple) -> Inference:
        return self.infer_all([shape])

    def infer_all(self, shapes) -> Inference:
        shapes = [tuple(s) for s in shapes]
        if len(shapes) < 2:
            raise ShapeError(f"{self.kind} needs at least two inputs, got {len(shapes)}")
        conds: list = []
        out = self.merged(shapes, conds)
        return Inference(shape=out, conditions=conds)

    def merged(self, shapes, conds) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError


class Add(Merge):
    """Element-wise sum of equal shapes (a residual connection)."""

    kind = label = "add"

    def merged(self, shapes, conds):
        # PyTorch broadcasts (a feature map plus a pooled 1x1 map); a residual adds equal shapes.
        try:
            return _broadcast(shapes, conds)
        except ShapeError:
            raise ShapeError(f"cannot add shapes {' and '.join(_text(s) for s in shapes)}"
                             " (a projection shortcut is needed)") from None


class Concat(Merge):
    """Shapes joined along ``dim`` (0 = channels of the per-sample shape)."""

    kind, label = "concat", "concat"

    def __init__(self, n=2, dim=0):
        self.n, self.dim = n, dim

    def merged(self, shapes, conds):
        rank = len(shapes[0])
        dim = self.dim % rank if -rank <= self.dim < rank else None
        if dim is None or any(len(s) != rank for s in shapes):
            raise ShapeError(f"cannot concatenate {', '.join(_text(s) for s in shapes)}")
        for s in shapes[1:]:
            if any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != dim and not (is_sym(a) or is_sym(b))):
                raise ShapeError(f"branch shapes {', '.join(_text(s) for s in shapes)} differ "
                                 f"outside the concatenated dim")
            for i, (a, b) in enumerate(zip(s, shapes[0])):
                if i != dim:
                    _same(a, b, f"dim {i}", conds)
        out = list(shapes[0])
        out[dim] = simplify(sum(s[dim] for s in shapes))
        return tuple(out)


class Mul(Merge):
    """Element-wise product with PyTorch's broadcasting (a gate times a feature map)."""

    kind = label = "mul"

    def saved(self, shapes, inf, input_grads):
        # d(a*b)/da needs b and d/db needs a: each input is kept when the *other* needs a gradient.
        return tuple(("input", i) for i in range(len(shapes)) if any(g for j, g in enumerate(input_grads) if j != i))

    def merged(self, shapes, conds):
        return _broadcast(shapes, conds)


#: the builders' ``combine`` words
COMBINE = {"add": Add, "cat": Concat, "mul": Mul}
