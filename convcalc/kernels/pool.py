"""Max / average pooling (fixed and adaptive), PyTorch semantics.
numpy + stdlib only.  Pooling performs no MACs: every kernel returns 0."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float, ntuple, pad_spatial, taps, window_starts, windows

__all__ = ["max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool"]


def _pool_args(x, kernel_size, stride, padding, dilation, name):
    x = as_float(x)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: expected input (N, C, *spatial) with 1-3 spatial dims, got shape {x.shape}")
    nd = x.ndim - 2
    k = ntuple(kernel_size, nd, "kernel_size", minimum=1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k                                   # torch: stride defaults to kernel_size
    else:
        s = ntuple(stride, nd, "stride", minimum=1)
    p = ntuple(padding, nd, "padding", minimum=0)
    d = ntuple(dilation, nd, "dilation", minimum=1)
    for ki, pi in zip(k, p):
        if pi > ki // 2:
            raise ValueError(f"{name}: padding should be at most half of kernel size, got padding={p} "
                             f"and kernel_size={k}")
    return x, nd, k, s, p, d


def _pooling_windows(xp, L, k, s, p, d, ceil_mode):
    """Windows over ``xp`` (padded by p on the left and p [+ s-1 if ceil_mode]
    on the right).  In ceil mode, windows whose start lies beyond the input
    and the left padding (start >= L + p in padded coordinates) are dropped,
    as PyTorch does.  Returns (view, kept window count per axis)."""
    nd = len(k)
    win = windows(xp, k, s, d)
    keep = list(win.shape[2:2 + nd])
    if ceil_mode:
        for ax in range(nd):
            starts = window_starts(xp.shape[2 + ax], k[ax], s[ax], d[ax])
            keep[ax] = int(np.count_nonzero(starts < L[ax] + p[ax]))
        win = win[(slice(None), slice(None)) + tuple(slice(0, n) for n in keep)]
    if any(n < 1 for n in keep):
        raise ValueError("pooling: output size is too small")
    return win, tuple(keep)


def _pad_for_pool(x, k, s, p, d, ceil_mode, value):
    pairs = tuple((pi, pi + (si - 1 if ceil_mode else 0)) for pi, si in zip(p, s))
    return pad_spatial(x, pairs, "constant", value=value, slot="pool_pad")


def _reduce_windows(x, k, s, p, d, ceil_mode, fill, op, name):
    """Pad with ``fill``, window, and fold the kernel taps together with ``op`` (in place).
    Returns (y, padded x, windows kept per axis)."""
    L = x.shape[2:]
    xp = _pad_for_pool(x, k, s, p, d, ceil_mode, fill)
    try:
        win, keep = _pooling_windows(xp, L, k, s, p, d, ceil_mode)
    except ValueError as e:
        raise ValueError(f"{name}: input {tuple(L)} with kernel {k}, stride {s}, padding {p}, dilation {d}, "
                         f"ceil_mode={ceil_mode}: {e}") from None
    y = None
    for t in taps(k):
        v = win[(Ellipsis,) + t]
        if y is None:
            y = np.array(v, dtype=x.dtype, copy=True)
        else:
            op(y, v, out=y)
    return y, xp, keep


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling; x: (N, C, *L).  Implicit padding is -inf.  Returns (y, 0)."""
    x, nd, k, s, p, d = _pool_args(x, kernel_size, stride, padding, dilation, "max_pool")
    y, _, _ = _reduce_windows(x, k, s, p, d, ceil_mode, -np.inf, np.maximum, "max_pool")
    return y, 0


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
    """Average pooling; x: (N, C, *L).  Divisor as torch: with
    count_include_pad the window positions inside [-p, L+p) (padding counted,
    the ceil-mode overhang not), otherwise those inside the input;
    divisor_override replaces it.  Returns (y, 0)."""
    x, nd, k, s, p, d = _pool_args(x, kernel_size, stride, padding, 1, "avg_pool")
    L = x.shape[2:]
    if nd == 3 and any(l < ki for l, ki in zip(L, k)):
        # torch's avg_pool3d (only) insists on the unpadded input being >= kernel
        raise ValueError(f"avg_pool: input image {tuple(L)} smaller than kernel size {k}")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise ValueError(f"avg_pool: divisor_override must be a non-zero int, got {divisor_override!r}")
    y, xp, keep = _reduce_windows(x, k, s, p, d, ceil_mode, 0.0, np.add, "avg_pool")
    if divisor_override is not None:
        y /= x.dtype.type(divisor_override)
        return y, 0
    y /= avg_divisor(L, xp.shape[2:], k, s, p, keep, count_include_pad).astype(x.dtype)
    return y, 0


def avg_divisor(L, Lp, k, s, p, keep, count_include_pad):
    """Per-window divisors of average pooling (broadcastable to the output's spatial dims):
    per-axis counts from windowing a mask of the positions that count."""
    div = None
    nd = len(k)
    for ax in range(nd):
        mask = np.zeros(Lp[ax])
        if count_include_pad:
            mask[: L[ax] + 2 * p[ax]] = 1.0
        else:
            mask[p[ax]: p[ax] + L[ax]] = 1.0
        cnt = windows(mask, (k[ax],), (s[ax],), (1,)).sum(-1)[: keep[ax]]
        shape = [1] * nd
        shape[ax] = keep[ax]
        cnt = cnt.reshape(shape)
        div = cnt if div is None else div * cnt
    return div


def _adaptive_sizes(x, output_size, name):
    x = as_float(x)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: expected input (N, C, *spatial) with 1-3 spatial dims, got shape {x.shape}")
    nd = x.ndim - 2
    if output_size is None or isinstance(output_size, (int, np.integer)):
        out = [output_size] * nd
    else:
        out = list(output_size)
        if len(out) == 1 and nd != 1:
            out = out * nd
        if len(out) != nd:
            raise ValueError(f"{name}: output_size needs {nd} entries, got {output_size!r}")
    sizes = []
    for L, o in zip(x.shape[2:], out):
        if o is None:
            o = L
        if not isinstance(o, (int, np.integer)) or o < 0:
            raise ValueError(f"{name}: output_size entries must be non-negative ints or None, got {output_size!r}")
        if L == 0 and o > 0:
            raise ValueError(f"{name}: empty input dimension")
        sizes.append(int(o))
    return x, nd, sizes


def _adaptive_bounds(L, out):
    """torch's adaptive windows: start = floor(i*L/out), end = ceil((i+1)*L/out)."""
    i = np.arange(out)
    return (i * L) // out, -((-(i + 1) * L) // out)


def _adaptive_axis(y, axis, o, reduce):
    """Pool one axis of ``y`` into ``o`` adaptive windows."""
    L = y.shape[axis]
    if L % o == 0:  # equal, disjoint windows: a reshape and one reduction
        shape = y.shape[:axis] + (o, L // o) + y.shape[axis + 1:]
        r = y.reshape(shape)
        return r.max(axis=axis + 1) if reduce == "max" else r.mean(axis=axis + 1, dtype=y.dtype)
    start, end = _adaptive_bounds(L, o)
    lens = end - start
    if reduce == "max":  # fold tap j of every window (clamped to its last element) in
        out = None
        for j in range(int(lens.max())):
            v = np.take(y, np.minimum(start + j, end - 1), axis=axis)
            out = v if out is None else np.maximum(out, v, out=out)
        return out
    # mean: one matmul with the (L, o) averaging matrix along the moved-last axis
    A = np.zeros((L, o), dtype=y.dtype)
    for i in range(o):
        A[start[i]:end[i], i] = y.dtype.type(1) / y.dtype.type(lens[i])
    return np.moveaxis(np.moveaxis(y, axis, -1) @ A, -1, axis)


def _adaptive(x, output_size, name, reduce):
    x, nd, sizes = _adaptive_sizes(x, output_size, name)
    if any(o == 0 for o in sizes):
        return np.zeros(x.shape[:2] + tuple(sizes), x.dtype), 0
    y = x
    if reduce == "avg" and all(o == 1 for o in sizes):  # global pooling
        # the sums as one matrix-vector product (BLAS), then divided by the count: torch's mean
        flat = x.reshape(math.prod(x.shape[:2]), -1)
        y = (flat @ np.ones(flat.shape[1], x.dtype)).reshape(x.shape[:2] + (1,) * nd)
        y /= x.dtype.type(flat.shape[1])
    else:
        for ax, o in enumerate(sizes):
            if o != y.shape[2 + ax]:  # o == L: windows of one element each
                y = _adaptive_axis(y, 2 + ax, o, reduce)
    if y is x:
        y = x.copy()
    return np.ascontiguousarray(y, dtype=x.dtype), 0


def adaptive_avg_pool(x, output_size):
    """Adaptive average pooling (torch's window rule); output_size entries may
    be None (keep that dim).  Returns (y, 0)."""
    return _adaptive(x, output_size, "adaptive_avg_pool", "avg")


def adaptive_max_pool(x, output_size):
    """Adaptive max pooling (torch's window rule); returns (y, 0)."""
    return _adaptive(x, output_size, "adaptive_max_pool", "max")
