"""Slow, obviously-correct loop implementations used only as test oracles.

Nothing here is clever: every output element is computed by walking its
window tap by tap.  Output sizes are found by trying window starts one by one
until the window no longer fits.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def _grid(*sizes):
    return itertools.product(*(range(s) for s in sizes))


def conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, *L), w (Co, C/g, *k); zero padding given as (lo, hi) pairs or ints."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    st = (stride,) * nd if isinstance(stride, int) else tuple(stride)
    dl = (dilation,) * nd if isinstance(dilation, int) else tuple(dilation)
    if isinstance(padding, int):
        pads = ((padding, padding),) * nd
    else:
        pads = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    k = w.shape[2:]
    L = x.shape[2:]
    # output positions: every start o*s (in padded coordinates) whose last tap stays inside
    Lo = []
    for l, ki, s, d, (lo, hi) in zip(L, k, st, dl, pads):
        n = 0
        while n * s + (ki - 1) * d <= l + lo + hi - 1:
            n += 1
        Lo.append(n)
    Cog = Co // groups
    y = np.zeros((N, Co) + tuple(Lo))
    for n in range(N):
        for co in range(Co):
            grp = co // Cog
            for o in _grid(*Lo):
                acc = 0.0 if b is None else float(b[co])
                for ci in range(Cg):
                    c = grp * Cg + ci
                    for t in _grid(*k):
                        pos = [oi * s + ti * d - lo for oi, ti, s, d, (lo, _) in zip(o, t, st, dl, pads)]
                        if all(0 <= p < l for p, l in zip(pos, L)):
                            acc += x[(n, c) + tuple(pos)] * w[(co, ci) + t]
                y[(n, co) + o] = acc
    return y


def _pool_out_sizes(L, k, s, p, d, ceil_mode):
    """Count windows by walking starts (input coordinates, start = o*s - p).
    Floor mode: the window's last tap must be inside [-p, L+p).  Ceil mode:
    additionally allow a last window that sticks out on the right, provided it
    starts inside the input or the left padding (start < L)."""
    Lo = []
    for l, ki, si, pi, di in zip(L, k, s, p, d):
        n = 0
        while True:
            start = n * si - pi
            last = start + (ki - 1) * di
            if last <= l + pi - 1:            # fits inside input + padding
                n += 1
                continue
            if ceil_mode and last <= l + pi - 1 + si - 1 and start < l:
                n += 1                         # the one partial window ceil adds
            break
        Lo.append(n)
    return Lo


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    tup = lambda v: (v,) * nd if isinstance(v, int) else tuple(v)
    k = tup(kernel_size)
    s = k if stride is None else tup(stride)
    p, d = tup(padding), tup(dilation)
    L = x.shape[2:]
    Lo = _pool_out_sizes(L, k, s, p, d, ceil_mode)
    y = np.full(x.shape[:2] + tuple(Lo), -np.inf)
    for n, c in _grid(*x.shape[:2]):
        for o in _grid(*Lo):
            m = -np.inf
            for t in _grid(*k):
                pos = [oi * si + ti * di - pi for oi, ti, si, di, pi in zip(o, t, s, d, p)]
                if all(0 <= q < l for q, l in zip(pos, L)):
                    m = max(m, x[(n, c) + tuple(pos)])
            y[(n, c) + o] = m
    return y


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    tup = lambda v: (v,) * nd if isinstance(v, int) else tuple(v)
    k = tup(kernel_size)
    s = k if stride is None else tup(stride)
    p = tup(padding)
    L = x.shape[2:]
    Lo = _pool_out_sizes(L, k, s, p, (1,) * nd, ceil_mode)
    y = np.zeros(x.shape[:2] + tuple(Lo))
    for n, c in _grid(*x.shape[:2]):
        for o in _grid(*Lo):
            acc = 0.0
            in_padded = 0   # taps inside [-p, L+p): padding counts, ceil overhang does not
            in_input = 0
            for t in _grid(*k):
                pos = [oi * si + ti - pi for oi, ti, si, pi in zip(o, t, s, p)]
                if all(-pi <= q < l + pi for q, l, pi in zip(pos, L, p)):
                    in_padded += 1
                if all(0 <= q < l for q, l in zip(pos, L)):
                    in_input += 1
                    acc += x[(n, c) + tuple(pos)]
            if divisor_override is not None:
                div = divisor_override
            else:
                div = in_padded if count_include_pad else in_input
            y[(n, c) + o] = acc / div
    return y
