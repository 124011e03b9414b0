"""Backward of the elementwise rows of imported models (layers/ops.py Pointwise): each op's
partial derivatives by its arguments, times the output gradient, summed back to each
argument's shape. numpy + stdlib only. No MACs (elementwise, as the forward)."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float
from .backward_elem import unbroadcast
from .ops import bind


def _ties(a, b, first):
    """torch's maximum/minimum: the gradient goes to the winner, split in half on a tie."""
    win = (a > b) if first else (a < b)
    return np.where(a == b, 0.5, win.astype(np.float64))


def _clamp(a, k):
    """clamp/clip: the gradient passes inside the bounds, given by position (``x.clamp(lo, hi)``)
    or keyword (``min=``, ``max=``); a bound left out (or None) does not clip."""
    x, pos = a[0], list(a[1:3]) + [None, None]
    lo, hi = k.get("min", pos[0]), k.get("max", pos[1])
    inside = np.ones(np.shape(x), bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return [inside.astype(np.float64)]


#: op -> (args, y, keyword constants) -> one partial derivative per positional argument
_PARTIALS = {
    "add": lambda a, y, k: [1.0, 1.0], "sub": lambda a, y, k: [1.0, -1.0], "rsub": lambda a, y, k: [-1.0, 1.0],
    "mul": lambda a, y, k: [a[1], a[0]],
    "truediv": lambda a, y, k: [1 / a[1], -a[0] / a[1] ** 2], "div": lambda a, y, k: [1 / a[1], -a[0] / a[1] ** 2],
    "rtruediv": lambda a, y, k: [-a[1] / a[0] ** 2, 1 / a[0]],
    "floordiv": lambda a, y, k: [0.0, 0.0], "mod": lambda a, y, k: [1.0, -np.floor(a[0] / a[1])],
    "pow": lambda a, y, k: [a[1] * np.power(a[0], a[1] - 1), y * np.log(a[0])],
    "rpow": lambda a, y, k: [y * np.log(a[1]), a[0] * np.power(a[1], a[0] - 1)],
    "maximum": lambda a, y, k: [_ties(a[0], a[1], True), _ties(a[1], a[0], True)],
    "minimum": lambda a, y, k: [_ties(a[0], a[1], False), _ties(a[1], a[0], False)],
    "neg": lambda a, y, k: [-1.0], "pos": lambda a, y, k: [1.0],
    "exp": lambda a, y, k: [y], "exp2": lambda a, y, k: [y * math.log(2)], "expm1": lambda a, y, k: [y + 1],
    "log": lambda a, y, k: [1 / a[0]], "log2": lambda a, y, k: [1 / (a[0] * math.log(2))],
    "log10": lambda a, y, k: [1 / (a[0] * math.log(10))], "log1p": lambda a, y, k: [1 / (1 + a[0])],
    "sqrt": lambda a, y, k: [0.5 / y], "rsqrt": lambda a, y, k: [-0.5 * y ** 3],
    "abs": lambda a, y, k: [np.sign(a[0])], "sin": lambda a, y, k: [np.cos(a[0])],
    "cos": lambda a, y, k: [-np.sin(a[0])], "tanh": lambda a, y, k: [1 - y * y],
    "sigmoid": lambda a, y, k: [y * (1 - y)], "reciprocal": lambda a, y, k: [-y * y],
    "square": lambda a, y, k: [2 * a[0]],
    **{op: (lambda a, y, k: [0.0]) for op in ("sign", "floor", "ceil", "trunc", "round")},
    "clamp": lambda a, y, k: _clamp(a, k), "clip": lambda a, y, k: _clamp(a, k),
}


def pointwise_backward(dy, op, call, xs, y, weights, need_inputs, need_dw):
    """([dx per input], {weight name: grad}, (0, 0)) of the elementwise row ``op`` as recorded
    in ``call`` (("x", i) input i, ("c", v) a constant, ("p", name, shape) a weight,
    ("k", name, v) a keyword constant), at inputs ``xs`` (batch first) and output ``y``."""
    rule = _PARTIALS.get(op)
    if rule is None or call is None:
        raise ValueError(f"pointwise {op}: no NumPy backward")
    dy = as_float(dy)
    pos = [a for a in call if a[0] != "k"]
    args, kw = bind(call, xs, weights, lambda t: np.asarray(t, np.float64))
    with np.errstate(all="ignore"):
        parts = rule(args, np.asarray(y, np.float64), kw)
    dxs = [None] * len(xs)
    grads = {}
    for a, part in zip(pos, parts):
        if a[0] == "x" and need_inputs[a[1]]:
            g = unbroadcast(dy * part, np.shape(xs[a[1]])).astype(dy.dtype)
            dxs[a[1]] = g if dxs[a[1]] is None else dxs[a[1]] + g
        elif a[0] == "p" and need_dw:
            # summed over the batch too, to the parameter's own shape (which may have the batch's dim)
            g = unbroadcast(dy * part, np.shape(weights[a[1]])).astype(dy.dtype)
            grads[a[1]] = g if a[1] not in grads else grads[a[1]] + g
    return dxs, grads, (0, 0)
