"""Generic tensor ops of imported models (layers/ops.py): view, reduce over dims, matmul.
numpy + stdlib only. Each returns (y, MACs); only matmul multiplies."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float, as_float_common
from .act import _sigmoid

__all__ = ["view", "view_copy_backward", "reduce", "matmul", "pointwise"]

_REDUCERS = {"mean": np.mean, "sum": np.sum, "amax": np.max, "amin": np.min, "max": np.max, "min": np.min,
             "prod": np.prod, "std": np.std, "var": np.var, "nanmean": np.nanmean, "nansum": np.nansum,
             "median": np.median}


def _pick(x, steps):
    """The per-sample copy steps of a ``View(index=...)`` (layers/ops.py INDEX_STEPS)."""
    for step in steps:
        op, args = step[0], step[1:]
        if op == "slice":
            d, start, stop, by = args
            x = x[(slice(None),) * (d + 1) + (slice(start, stop, by),)]
        elif op == "take":
            x = x[(slice(None),) * (args[0] + 1) + (args[1],)]
        elif op == "new":
            x = np.expand_dims(x, args[0] + 1)
        elif op == "tile":
            x = np.tile(x, (1, *args[0]))
        elif op == "interleave":
            x = np.repeat(x, args[1], axis=args[0] + 1)
        else:
            raise ValueError(f"view: no index step {op!r}")
    return np.ascontiguousarray(x)


def view(x, shape, index=None):
    """A batch of samples reshaped to per-sample ``shape`` (element order kept, as torch's view),
    after the ``index`` steps that pick and copy elements (indexing, expand, repeat, tile)."""
    x = as_float(x)
    if index:
        x = _pick(x, index)
    shape = tuple(int(d) for d in shape)
    if math.prod(x.shape[1:]) != math.prod(shape):
        raise ValueError(f"view: {x.shape[1:]} has {math.prod(x.shape[1:])} elements per sample, "
                         f"{shape} needs {math.prod(shape)}")
    return x.reshape((x.shape[0],) + shape), 0


def view_copy_backward(dy, x_shape, index):
    """Gradient of :func:`view` with ``index`` steps: each output element copies one input
    element, so dx gathers (adds up) the gradients of its copies. Which element each output
    copies comes from running the steps on the input's element numbers."""
    dy = as_float(dy)
    n = math.prod(x_shape[1:])
    src = _pick(np.arange(n).reshape((1, *x_shape[1:])), index).reshape(-1)
    dx = np.zeros((dy.shape[0], n), np.float32)
    for b in range(dy.shape[0]):
        dx[b] = np.bincount(src, weights=dy[b].reshape(-1), minlength=n)
    return dx.reshape(x_shape), {}, (0, 0)


def reduce_axes(x, dims):
    """NumPy axes of per-sample ``dims`` (0-based, negative from the end, the batch dim excluded)."""
    return tuple(int(d) % max(x.ndim - 1, 1) + 1 for d in dims)


def reduce(x, op="mean", dims=(), keepdim=False):
    """``op`` over per-sample ``dims`` (0-based, the batch dim excluded)."""
    x = as_float(x)
    if op not in _REDUCERS:
        raise ValueError(f"reduce: no NumPy reduction for {op!r}")
    axes = reduce_axes(x, dims)
    kw = {"ddof": 1} if op in ("std", "var") else {}
    return _REDUCERS[op](x, axis=axes, keepdims=bool(keepdim), **kw), 0


def as_matrices(a, b):
    """Per-sample operands of ``a @ b`` with torch's promotion of 1-d ones: a (N, K) as a row
    (N, 1, K), b (N, K) as a column (N, K, 1)."""
    return a if a.ndim > 2 else a[:, None, :], b if b.ndim > 2 else b[:, :, None]


def matmul(a, b):
    """``a @ b`` of two batches (torch.matmul semantics per sample): prod(out) * K MACs."""
    a, b = as_float_common(a, b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError("matmul: each input needs a batch dim and at least one more")
    y = np.matmul(*as_matrices(a, b))
    k = a.shape[-1]
    if a.ndim == 2:
        y = y[..., 0, :]
    if b.ndim == 2:
        y = y[..., 0]
    return y, int(math.prod(y.shape)) * int(k)


#: torch's elementwise ops by op name -> NumPy (positional arguments as torch's)
_POINTWISE = {"add": np.add, "sub": np.subtract, "rsub": lambda a, b: np.subtract(b, a), "mul": np.multiply,
              "truediv": np.divide, "div": np.divide, "rtruediv": lambda a, b: np.divide(b, a),
              "floordiv": np.floor_divide, "mod": np.mod, "neg": np.negative, "pos": np.positive,
              "pow": np.power, "rpow": lambda a, b: np.power(b, a), "exp": np.exp, "exp2": np.exp2,
              "expm1": np.expm1, "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p,
              "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "abs": np.abs, "sin": np.sin, "cos": np.cos,
              "tanh": np.tanh, "sigmoid": lambda x: _sigmoid(np.asarray(x)), "reciprocal": np.reciprocal,
              "square": np.square,
              "maximum": np.maximum, "minimum": np.minimum, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
              "trunc": np.trunc, "round": np.round,
              "clamp": lambda x, min=None, max=None: np.clip(x, min, max),
              "clip": lambda x, min=None, max=None: np.clip(x, min, max)}


def bind(call, xs, weights, cast=None):
    """The positional and keyword arguments of a recorded Pointwise ``call``: ("x", i) input i,
    ("p", name, shape) a weight, ("c", v) a constant, ("k", name, v) a keyword constant; the
    inputs and weights through ``cast`` if given."""
    t = cast or (lambda a: a)
    args = [t(xs[a[1]]) if a[0] == "x" else t(weights[a[1]]) if a[0] == "p" else a[1] for a in call if a[0] != "k"]
    return args, {a[1]: a[2] for a in call if a[0] == "k"}


def pointwise(xs, op, call, shape, weights=None):
    """An elementwise op of per-sample tensors ``xs`` (batch first), numbers and ``weights``
    (by name), as recorded in ``call`` (layers/ops.py Pointwise); its result must have
    per-sample ``shape``."""
    fn = _POINTWISE.get(op)
    if fn is None or call is None:
        raise ValueError(f"pointwise {op}: no NumPy kernel" + ("" if fn else " for this op") +
                         ("" if call is not None or fn is None else " (its arguments were not recorded)"))
    xs = [as_float(x) for x in xs]
    args, kwargs = bind(call, xs, weights)
    with np.errstate(all="ignore"):  # (1/sqrt(0) on the receptive-field probe's zeros: as torch, inf)
        dtype = np.float64 if any(getattr(a, "dtype", None) == np.float64 for a in args) else np.float32
        y = np.asarray(fn(*args, **kwargs), dtype=dtype)  # (the float64 finite-difference re-run stays float64)
    if y.shape[1:] != tuple(int(d) for d in shape):
        raise ValueError(f"pointwise {op}: gives {y.shape[1:]}, the row says {tuple(shape)}")
    return y, 0
