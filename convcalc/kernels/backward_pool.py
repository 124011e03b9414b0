"""Backward of pooling: max pools through their argmax indices, average pools by spreading
each output's gradient over its window.  No pooling backward does a matmul: the MAC
tallies are (0, 0).  Same return convention as :mod:`.backward`:
``(dx, {}, (macs_dx, macs_dw))``.

The max pools' forward twins here (:func:`max_pool_with_indices`,
:func:`adaptive_max_pool_with_indices`) also return the indices, flat over each (n, c)
plane of the input, as ``torch.nn.functional.max_pool2d(..., return_indices=True)`` does;
the first maximum in the window's scan order wins, as in torch.

numpy + stdlib only."""

from __future__ import annotations

import itertools
import math

import numpy as np

from ._util import as_float, taps
from .pool import (_adaptive_bounds, _adaptive_sizes, _pad_for_pool, _pool_args, _pooling_windows,
                   avg_divisor)

__all__ = ["max_pool_with_indices", "max_pool_backward", "avg_pool_backward", "adaptive_avg_pool_backward",
           "adaptive_max_pool_with_indices", "adaptive_max_pool_backward"]

_NONE = (0, 0)


def _flat(coords, L):
    """Flat index over the spatial plane of per-axis coordinate arrays (broadcast)."""
    nd = len(L)
    out = 0
    for ax, c in enumerate(coords):
        shape = [1] * nd
        shape[ax] = c.size
        out = out + c.reshape(shape) * math.prod(L[ax + 1:])
    return out


def _track(y, idx, v, pos):
    """Fold one candidate (values v at flat positions pos) into the running max: strict >,
    so the first maximum in scan order wins."""
    if y is None:
        return np.array(v, copy=True), np.array(np.broadcast_to(pos, v.shape), dtype=np.int64)
    m = v > y
    np.copyto(y, v, where=m)
    np.copyto(idx, np.broadcast_to(pos, v.shape), where=m)
    return y, idx


def max_pool_with_indices(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling as :func:`max_pool`, plus the int64 argmax of every window (flat over
    the input plane; -1 for a window that saw only padding).  Returns (y, indices, 0)."""
    x, nd, k, s, p, d = _pool_args(x, kernel_size, stride, padding, dilation, "max_pool")
    L = x.shape[2:]
    xp = _pad_for_pool(x, k, s, p, d, ceil_mode, -np.inf)
    win, keep = _pooling_windows(xp, L, k, s, p, d, ceil_mode)
    y = idx = None
    starts = [np.arange(n) * si - pi for n, si, pi in zip(keep, s, p)]
    for t in taps(k):
        coords = [st + ti * di for st, ti, di in zip(starts, t, d)]
        y, idx = _track(y, idx, win[(Ellipsis,) + t], _flat(coords, L))
    idx[np.isneginf(y)] = -1
    return y, idx, 0


def _scatter(dy, idx, x_shape):
    """dx[n, c, idx[n, c, o]] += dy[n, c, o]: one bincount over all planes."""
    N, C = x_shape[:2]
    plane = math.prod(x_shape[2:])
    flat = idx.reshape(N * C, -1) + (np.arange(N * C, dtype=np.int64) * plane)[:, None]
    g = dy.reshape(N * C, -1)
    keep = idx.reshape(N * C, -1) >= 0
    dx = np.bincount(flat[keep], weights=g[keep].astype(np.float64), minlength=N * C * plane)
    return dx.astype(dy.dtype).reshape(x_shape)


def max_pool_backward(dy, indices, x_shape):
    """Gradient of max pooling: each output's gradient goes to the input element it took
    (overlapping windows add up).  Returns (dx, {}, (0, 0))."""
    dy = as_float(dy)
    return _scatter(dy, indices, tuple(x_shape)), {}, _NONE


def avg_pool_backward(dy, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                      divisor_override=None):
    """Gradient of :func:`avg_pool`: dy over each window's divisor, added onto every
    position of the window (one strided add per kernel tap), padding cropped."""
    dy = as_float(dy)
    probe = np.broadcast_to(np.zeros((), dy.dtype), tuple(x_shape))
    _, nd, k, s, p, _ = _pool_args(probe, kernel_size, stride, padding, 1, "avg_pool")
    L = tuple(x_shape[2:])
    Lp = tuple(l + 2 * pi + (si - 1 if ceil_mode else 0) for l, pi, si in zip(L, p, s))
    keep = tuple(dy.shape[2:])
    if divisor_override is not None:
        g = dy / dy.dtype.type(divisor_override)
    else:
        g = dy / avg_divisor(L, Lp, k, s, p, keep, count_include_pad).astype(dy.dtype)
    dxp = np.zeros(tuple(x_shape[:2]) + Lp, dy.dtype)
    lead = (slice(None), slice(None))
    for t in taps(k):
        dxp[lead + tuple(slice(ti, ti + (n - 1) * si + 1, si) for ti, n, si in zip(t, keep, s))] += g
    crop = lead + tuple(slice(pi, pi + l) for pi, l in zip(p, L))
    return np.ascontiguousarray(dxp[crop]), {}, _NONE


def adaptive_avg_pool_backward(dy, x_shape, output_size):
    """Gradient of :func:`adaptive_avg_pool`: per axis (last first), each output's
    gradient over its window length, added onto the window."""
    dy = as_float(dy)
    probe = np.broadcast_to(np.zeros((), dy.dtype), tuple(x_shape))
    _, nd, sizes = _adaptive_sizes(probe, output_size, "adaptive_avg_pool")
    if any(o == 0 for o in sizes):
        return np.zeros(tuple(x_shape), dy.dtype), {}, _NONE
    g = dy
    for ax in reversed(range(nd)):
        axis, L, o = 2 + ax, x_shape[2 + ax], sizes[ax]
        if o == L:
            continue
        start, end = _adaptive_bounds(L, o)
        shape = list(g.shape)
        shape[axis] = L
        out = np.zeros(shape, dy.dtype)
        pre = (slice(None),) * axis
        for i in range(o):
            out[pre + (slice(int(start[i]), int(end[i])),)] += g[pre + (slice(i, i + 1),)] / dy.dtype.type(
                end[i] - start[i])
        g = out
    return np.array(g, dtype=dy.dtype), {}, _NONE


def adaptive_max_pool_with_indices(x, output_size):
    """Adaptive max pooling plus the argmax of every (whole, multi-axis) window, flat over
    the input plane.  Returns (y, indices, 0)."""
    x, nd, sizes = _adaptive_sizes(x, output_size, "adaptive_max_pool")
    L = x.shape[2:]
    if any(o == 0 for o in sizes):
        shape = x.shape[:2] + tuple(sizes)
        return np.zeros(shape, x.dtype), np.zeros(shape, np.int64), 0
    bounds = [_adaptive_bounds(l, o) for l, o in zip(L, sizes)]
    longest = [int((e - s).max()) for s, e in bounds]
    y = idx = None
    for t in itertools.product(*(range(n) for n in longest)):
        coords = [np.minimum(s + j, e - 1) for (s, e), j in zip(bounds, t)]   # clamped to the window's last
        v = x[(slice(None), slice(None)) + np.ix_(*coords)]
        y, idx = _track(y, idx, v, _flat(coords, L))
    return y, idx, 0


def adaptive_max_pool_backward(dy, indices, x_shape):
    """Gradient of adaptive max pooling: as :func:`max_pool_backward`."""
    return max_pool_backward(dy, indices, x_shape)
