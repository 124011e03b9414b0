"""Convolution and transposed convolution: im2col in cache-sized blocks + one
matmul per block (stride 1: copied on the padded row pitch, one contiguous run
per channel and tap), depthwise convolution on the padded stride phases
(channels-first: per-channel matrix-vector products over the taps' columns,
copied per block of channels; channels-last: one einsum per phase), col2im +
one batched matmul for the transpose.  numpy + stdlib only."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._util import (as_float, copy_into, matmul_macs, ntuple, pad_pairs, pad_spatial, taps,
                    windows, workspace)

__all__ = ["conv", "conv_transpose", "linear"]

# With N > 1 and fewer than this many output positions per sample the batch
# is folded into the matmul's N dimension: one (g, Co/g, K) @ (g, K, N*P)
# product instead of N small ones, at the price of transposing the result.
# Also done when each per-sample product is tiny (grouped convs with few
# channels per group), so that numpy issues g BLAS calls rather than N*g.
_FOLD_BATCH_BELOW = 256
_TINY_PRODUCT = 4096   # (Co/g) * (C/g) * prod(k): MACs per output position and group
# Per sample, im2col works on blocks of output rows whose columns hold about
# this many elements: the block is multiplied while it is still in cache, and
# BLAS runs at its best on a few thousand columns rather than on all of them.
_COL_BLOCK = 1 << 20
# Stride-1 convs copy their im2col on the padded pitch (one contiguous run per
# channel and tap) when a row of the padded grid is at most this many times
# a row of the output (the extra columns are computed, then cropped).
_FLAT_EXTRA = 1.05
# Channels-first depthwise convolution copies its taps' columns for blocks of
# channels of about this many elements (kept in the L2 cache until the
# matrix-vector products have read them).
_DW_BLOCK = 1 << 18
# Depthwise convs with fewer output channels run channels-first (per channel,
# the taps' columns times the taps' weights, one matrix-vector product); with
# more, channels-last (one einsum per stride phase, channels as its vector loop).
_DW_FEW_CHANNELS = 64
# ... unless the per-channel grid is this long: the products' long columns
# then cost less than numpy's transposing copies into and out of channels-last.
_DW_LONG_RUN = 700


def _check_conv_args(x, w, groups, name):
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: weight must have 3, 4 or 5 dims (1d/2d/3d), got shape {w.shape}")
    if x.ndim != w.ndim:
        raise ValueError(f"{name}: expected a {w.ndim}-d input (N, C, *spatial) for a weight of shape "
                         f"{w.shape}, got input of shape {x.shape}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")


def _flat_pays(stride, ksize, Lp, Lo):
    """The pitch-flat im2col of :func:`_flat_gemm` applies to stride 1; it pays
    when the extra columns (the pitch past L_out) cost less than the short-row
    gather they replace, and not for a 1x1 unpadded conv (x itself is the
    matrix there)."""
    if any(s != 1 for s in stride) or (all(k == 1 for k in ksize) and tuple(Lp) == tuple(Lo)):
        return False
    return math.prod(Lp[1:]) <= _FLAT_EXTRA * math.prod(Lo[1:])


def _im2col_gemm(win, wm, dtype):
    """Per sample, per block of output rows: the block's windows copied into a
    reusable (g, C/g*K, columns) buffer (or, for 1x1 stride-1 unpadded convs,
    the input itself viewed as columns) and multiplied into the output's
    columns with one matmul.  win: (N, C, *Lo, *k); wm: (g, Co/g, C/g*K).
    Returns (y (N, g, Co/g, P), macs tallied from every product's shapes)."""
    N = win.shape[0]
    nd = (win.ndim - 2) // 2
    Lo = win.shape[2:2 + nd]
    P = math.prod(Lo)
    g, Cog, CgK = wm.shape
    order = (0,) + tuple(range(1 + nd, 1 + 2 * nd)) + tuple(range(1, 1 + nd))   # (C, *k, *Lo)
    y = np.empty((N, g, Cog, P), dtype)
    rest = P // Lo[0] if P else 0
    rows = max(1, min(Lo[0], _COL_BLOCK // max(1, CgK * rest)))
    macs = 0
    for n in range(N):
        whole = win[n].transpose(order)
        direct = whole.flags.c_contiguous
        for r0 in range(0, Lo[0], rows):
            r1 = min(Lo[0], r0 + rows)
            if direct:                      # 1x1, stride 1, no padding: x itself
                cols = whole.reshape(g, CgK, P)[:, :, r0 * rest:r1 * rest]
            else:
                src = whole[(Ellipsis, slice(r0, r1)) + (slice(None),) * (nd - 1)]
                cols = copy_into(workspace("conv_cols", src.shape, dtype), src).reshape(g, CgK, -1)
            np.matmul(wm, cols, out=y[n, :, :, r0 * rest:r1 * rest])
            macs += matmul_macs(wm.shape, cols.shape)
    return y, macs


def _flat_gemm(xp, wm, ksize, dilation, Lo):
    """Stride-1 convolution on the padded input's own row pitch: per sample and
    block of output rows, column m of the im2col matrix is flat position m of
    the padded grid, so every (channel, tap) row of it is ONE contiguous run
    of the input (a fast copy, never a short-row gather).  The product then
    holds a few columns past L_out per row (the pitch), cropped when copied
    into y.  xp: (N, C, *Lp) padded; wm: (g, Co/g, C/g*K).  MACs are tallied
    from the product's shapes over the columns that are outputs.
    Returns (y (N, Co, *Lo), macs)."""
    xp = np.ascontiguousarray(xp)
    N, C = xp.shape[:2]
    Lp = xp.shape[2:]
    nd = len(Lp)
    dtype, item = xp.dtype, xp.itemsize
    pitch = [math.prod(Lp[a + 1:]) for a in range(nd)]
    g, Cog, CgK = wm.shape
    y = np.empty((N, g * Cog) + tuple(Lo), dtype)
    inner = sum((l - 1) * p for l, p in zip(Lo[1:], pitch[1:])) + 1     # flat extent of one output row
    rows = max(1, min(Lo[0], _COL_BLOCK // max(1, C * math.prod(ksize) * pitch[0])))
    tap_strides = tuple(d * p * item for d, p in zip(dilation, pitch))
    macs = 0
    for n in range(N):
        xf = xp[n].reshape(C, -1)
        for r0 in range(0, Lo[0], rows):
            r1 = min(Lo[0], r0 + rows)
            M = (r1 - r0 - 1) * pitch[0] + inner
            src = as_strided(xf[:, r0 * pitch[0]:], shape=(C,) + tuple(ksize) + (M,),
                             strides=(xf.strides[0],) + tap_strides + (item,), writeable=False)
            cols = copy_into(workspace("conv_cols", src.shape, dtype), src).reshape(g, CgK, M)
            out = workspace("conv_flat", (g, Cog, M), dtype)
            np.matmul(wm, cols, out=out)
            grid = as_strided(out, shape=(g * Cog, r1 - r0) + tuple(Lo[1:]),
                              strides=(M * item,) + tuple(p * item for p in pitch), writeable=False)
            y[n, :, r0:r1] = grid
            macs += matmul_macs(wm.shape, (g, CgK, grid[0].size))
    return y, macs


class _DwPlan:
    """What a depthwise convolution does that depends on its geometry alone (see _dw_plan)."""
    __slots__ = ("Lo", "Q", "M", "macs", "last", "crop", "ops", "tap_strides", "one_phase", "copies",
                 "groups", "lo")


@functools.lru_cache(maxsize=512)
def _dw_plan(shape, Co, pads, ksize, stride, dilation, item, few, long_run):
    """Worked out once per geometry (a network repeats a few): the output size (the shape of
    the window view over the padded extent) and the MACs (per tap, from the view that tap
    multiplies into the output); the stride-phase grid Q and the flat extent M of the outputs
    on it; each tap's phase and offset; the copies that split a sample into its phases; and,
    channels-last, each phase group's overlapping view of its phase and its taps' indices."""
    nd = len(ksize)
    N, C = shape[:2]
    L = shape[2:]
    Lp = tuple(l + lo + hi for l, (lo, hi) in zip(L, pads))
    win = windows(np.broadcast_to(np.zeros((), np.float32), (N, Co) + Lp), ksize, stride, dilation)
    p = _DwPlan()
    p.Lo = Lo = win.shape[2:2 + nd]
    p.Q = Q = tuple(-(-n // s) for n, s in zip(Lp, stride))
    p.lo = tuple(lo for lo, _ in pads)
    per_tap = math.prod(win.shape[:2 + nd])       # the shape of win[..., t]: (N, C_out, *L_out)
    ops, macs = [], 0
    for t in taps(ksize):
        pos = [ti * di for ti, di in zip(t, dilation)]
        ph = off = 0
        for p_, s_, q_ in zip(pos, stride, Q):
            ph, off = ph * s_ + p_ % s_, off * q_ + p_ // s_
        ops.append((ph, off))
        macs += per_tap
    p.ops, p.macs = tuple(ops), macs
    M = 0
    for n_, q_ in zip(Lo, Q):
        M = M * q_ + n_ - 1
    p.M = M + 1                                   # flat extent of the outputs on the Q grid
    p.crop = tuple(slice(0, k) for k in Lo)
    p.last = Co >= few and math.prod(Q) < long_run   # the thresholds are in the key: tests set them
    p.tap_strides = None
    if all(st == 1 for st in stride):
        p.tap_strides = tuple(d * math.prod(Q[a + 1:]) for a, d in enumerate(dilation))
    # one phase channels-first: the padded input itself, only its borders zeroed
    p.one_phase = not p.last and Co == C and all(s == 1 for s in stride)
    copies = []
    for a in taps(stride):
        dst, src = [], []
        for ai, s, l, lo, q in zip(a, stride, L, p.lo, Q):
            q0 = max(0, -(-(lo - ai) // s))           # first q with q*s + a - lo >= 0
            q1 = max(q0, min(q, (l - 1 + lo - ai) // s + 1))   # one past the last inside the input
            dst.append(slice(q0, q1))
            src.append(slice(q0 * s + ai - lo, q0 * s + ai - lo + (q1 - q0 - 1) * s + 1 if q1 > q0 else 0, s))
        copies.append((tuple(dst), (slice(None),) + tuple(src)))   # (phase k's cells, x's all channels)
    p.copies = tuple(copies)
    groups = []
    if p.last:
        pitch = [math.prod(Q[a + 1:]) for a in range(nd)]
        for phase, lists, firsts, steps in _phase_groups(ksize, stride, dilation):
            base = sum(f * pq for f, pq in zip(firsts, pitch)) * Co
            vshape = tuple(len(ts) for ts in lists) + (p.M, Co)
            vstrides = tuple(st * pq * Co * item for st, pq in zip(steps, pitch)) + (Co * item, item)
            idx = np.ravel_multi_index(np.ix_(*lists), ksize).ravel()
            groups.append((int(np.ravel_multi_index(phase, stride)), base, vshape, vstrides, tuple(idx.tolist())))
    p.groups = tuple(groups)
    return p


def _phases(xs, plan, m):
    """One sample xs (C, *L) zero-padded (``lo`` before each axis, zeros up to
    the grid), split into stride phases and each channel repeated m times, in
    one copy: P[c*m + j, a, q] = padded xs[c, q*s + a] per axis (a: phase, q:
    position within it).  Flattened to (C*m, prod(s), prod(Q)), or channels-last
    (plan.last) to (prod(s), prod(Q) * C*m)."""
    C, L, Q, last = xs.shape[0], xs.shape[1:], plan.Q, plan.last
    if plan.one_phase:
        pairs = tuple((p, q - l - p) for p, q, l in zip(plan.lo, Q, L))
        return pad_spatial(xs, pairs, slot="dw_phases").reshape(C, 1, -1)
    S = len(plan.copies)
    shape = (S,) + Q + (C, m) if last else (C, m, S) + Q
    P = workspace("dw_phases_last" if last else "dw_phases", shape, xs.dtype)
    P.fill(0)
    for k, (dst, src) in enumerate(plan.copies):
        part = xs[src]
        if last:
            P[(k,) + dst] = part.transpose(tuple(range(1, part.ndim)) + (0,))[..., None]
        else:
            P[(slice(None), slice(None), k) + dst] = part[:, None]
    Co = C * m
    return P.reshape(S, -1) if last else P.reshape(Co, S, -1)


def _depthwise(x, w, pads, ksize, stride, dilation):
    """Depthwise convolution (groups == C_in, C_out = m * C_in) without an
    im2col of the whole input: each kernel tap multiplies a shifted run of the
    padded input into the output.  x is unpadded
    (other padding modes are applied before); ``pads`` are zeros.

    Per sample, the input is padded and split into stride phases in one copy,
    so that every tap reads one contiguous run of it; outputs are computed on
    the padded row pitch (a few columns past L_out per row, cropped at the
    end).  Few channels run channels-first (per channel, the taps' columns
    times its weights in one matrix-vector product), more channels on small
    grids channels-last (one einsum per phase, channels as its vector loop).
    The geometry's bookkeeping is planned once (_dw_plan).
    Returns (y (N, C_out, *L_out), macs)."""
    nd = len(ksize)
    N, C = x.shape[:2]
    Co = w.shape[0]
    plan = _dw_plan(x.shape, Co, tuple(pads), tuple(ksize), tuple(stride), tuple(dilation), x.itemsize,
                    _DW_FEW_CHANNELS, _DW_LONG_RUN)
    y = np.empty((N, Co) + plan.Lo, x.dtype)
    crop = (slice(None),) + plan.crop
    wt = w.reshape(Co, -1)
    if plan.last:
        ws = [np.ascontiguousarray(wt[:, list(idx)].T).reshape(vshape[:-2] + (Co,))
              for _, _, vshape, _, idx in plan.groups]
        back = (nd,) + tuple(range(nd))
    for n in range(N):
        P = _phases(x[n], plan, Co // C)
        if plan.last:
            grid = _dw_einsum(P, ws, plan)
            y[n] = grid.reshape(plan.Q + (Co,))[plan.crop].transpose(back)
        else:
            grid = _dw_first(P, wt, plan, ksize)
            y[n] = grid.reshape((Co,) + plan.Q)[crop]
    return y, plan.macs


def _dw_first(P, wt, plan, ksize):
    """Channels-first taps as one matrix-vector product per channel:
    grid[c, :M] = wt[c] @ cols[c], cols[c, j] = P[c, ph_j, off_j:off_j+M], the
    columns copied per block of channels (each tap one contiguous run per
    channel) so that BLAS does the multiply-accumulate over the taps.  With
    one phase the taps sit ``tap_strides`` (elements, per axis) apart."""
    Co, T = wt.shape
    M, tap_strides = plan.M, plan.tap_strides
    grid = workspace("dw_grid", (Co, 1, P.shape[2]), P.dtype)
    cb = max(1, min(Co, _DW_BLOCK // (T * M)))
    cols = workspace("dw_cols", (cb, T, M), P.dtype)
    wv = wt.reshape(Co, 1, T)
    for c0 in range(0, Co, cb):
        c1 = min(Co, c0 + cb)
        cc = cols[:c1 - c0]
        if tap_strides is not None:         # one phase: all taps' columns in one strided copy
            src = as_strided(P[c0:c1, 0], shape=(c1 - c0,) + tuple(ksize) + (M,),
                             strides=(P.strides[0],) + tuple(t * P.itemsize for t in tap_strides)
                             + (P.itemsize,), writeable=False)
            np.copyto(cc.reshape(src.shape), src)
        else:
            for j, (ph, off) in enumerate(plan.ops):
                np.copyto(cc[:, j], P[c0:c1, ph, off:off + M])
        np.matmul(wv[c0:c1], cc, out=grid[c0:c1, :, :M])
    return grid.reshape(Co, -1)


def _phase_groups(ksize, stride, dilation):
    """Kernel taps grouped by the stride phase they read.  Per axis, the taps
    t with (t*d) % s == a read phase a at offsets (t*d) // s, an arithmetic
    progression.  Yields (phase, per-axis tap lists, first offsets, steps)."""
    per_axis = []
    for k, s, d in zip(ksize, stride, dilation):
        groups = {}
        for t in range(k):
            groups.setdefault((t * d) % s, []).append(t)
        per_axis.append(sorted(groups.items()))
    for combo in itertools.product(*per_axis):
        lists = [ts for _, ts in combo]
        firsts = [ts[0] * d // s for ts, s, d in zip(lists, stride, dilation)]
        steps = [((ts[1] - ts[0]) * d // s) if len(ts) > 1 else 0 for ts, s, d in zip(lists, stride, dilation)]
        yield tuple(a for a, _ in combo), lists, firsts, steps


def _dw_einsum(P, ws, plan):
    """Channels-last depthwise taps, one einsum per stride phase:
    grid[p, c] = sum over taps of P[phase, p + offset, c] * w[c, tap], the
    taps read through an overlapping strided view of the phase (no copy).
    ws: each phase group's weights (its taps..., C_out)."""
    M = plan.M
    Co = ws[0].shape[-1]
    grid = workspace("dw_grid", (math.prod(plan.Q), Co), P.dtype)
    tmp = None
    letters = "ijk"[:len(plan.Q)]
    for n, ((r, base, vshape, vstrides, _), W) in enumerate(zip(plan.groups, ws)):
        V = as_strided(P[r][base:], shape=vshape, strides=vstrides, writeable=False)
        if n == 0:
            np.einsum(f"{letters}pz,{letters}z->pz", V, W, out=grid[:M])
        else:
            tmp = workspace("dw_tmp", (M, Co), P.dtype) if tmp is None else tmp
            np.einsum(f"{letters}pz,{letters}z->pz", V, W, out=tmp)
            grid[:M] += tmp
    return grid


def conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """N-d convolution (cross-correlation), PyTorch semantics.

    x: (N, C_in, *L); w: (C_out, C_in/groups, *k); b: (C_out,) or None.
    padding: per-axis (lo, hi) pairs (ints also accepted, symmetric).
    padding_mode: 'zeros' | 'reflect' | 'replicate' | 'circular'.
    Returns (y, macs) with y of shape (N, C_out, *L_out)."""
    x, w, b = as_float(x, w, b)
    _check_conv_args(x, w, groups, "conv")
    nd = w.ndim - 2
    stride = ntuple(stride, nd, "stride", minimum=1)
    dilation = ntuple(dilation, nd, "dilation", minimum=1)
    pads = pad_pairs(padding, nd)
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    ksize = tuple(w.shape[2:])
    g = int(groups)
    if C % g:
        raise ValueError(f"conv: input channels {C} not divisible by groups {g}")
    if Co % g:
        raise ValueError(f"conv: output channels {Co} (weight dim 0) not divisible by groups {g}")
    if Cg != C // g:
        raise ValueError(f"conv: weight of shape {w.shape} expects {Cg * g} input channels with groups={g}, "
                         f"input has {C}")
    if b is not None and b.shape != (Co,):
        raise ValueError(f"conv: bias must have shape ({Co},), got {b.shape}")
    if any(k == 0 for k in ksize):
        raise ValueError(f"conv: kernel size must be positive, got {ksize}")
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(f"conv: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                         f"got {padding_mode!r}")

    if g == C and g > 1:
        if padding_mode != "zeros":
            x, pads = pad_spatial(x, pads, padding_mode), ((0, 0),) * nd
        y, macs = _depthwise(x, w, pads, ksize, stride, dilation)
        if b is not None:
            y += b.reshape((Co,) + (1,) * nd)
        return y, macs
    if (g == 1 and all(k == 1 for k in ksize) and all(st == 1 for st in stride)
            and not any(lo or hi for lo, hi in pads) and min(x.shape[2:]) >= 1
            and (N == 1 or math.prod(x.shape[2:]) >= _FOLD_BATCH_BELOW)):
        # a pointwise conv on an unpadded input: x itself is the matrix, one product per sample
        # (the general path's windows and blocks cost ~40 us a call: SE blocks' convs on 1x1 maps)
        xm = x.reshape(N, C, math.prod(x.shape[2:]))    # not -1: N = 0 leaves it undetermined
        y = np.matmul(w.reshape(Co, C), xm)
        macs = matmul_macs((Co, C), xm.shape)
        y = y.reshape((N, Co) + x.shape[2:])
        if b is not None:
            y += b.reshape((Co,) + (1,) * nd)
        return y, macs
    xp = pad_spatial(x, pads, padding_mode, slot="conv_pad")
    win = windows(xp, ksize, stride, dilation)          # (N, C, *Lo, *k)
    Lo = win.shape[2:2 + nd]
    P = math.prod(Lo)
    K = math.prod(ksize)
    Cog = Co // g
    wm = w.reshape(g, Cog, Cg * K)
    lo_axes = tuple(range(2, 2 + nd))
    k_axes = tuple(range(2 + nd, 2 + 2 * nd))

    if N > 1 and (P < _FOLD_BATCH_BELOW or Cog * Cg * K < _TINY_PRODUCT):
        # cols: (C, *k, N, *Lo) -> (g, Cg*K, N*P); one (g,Cog,K)@(g,K,N*P) product
        src = win.transpose((1,) + k_axes + (0,) + lo_axes)
        cols = copy_into(workspace("conv_cols", src.shape, x.dtype), src).reshape(g, Cg * K, N * P)
        yb = workspace("conv_out", (g, Cog, N * P), x.dtype)
        np.matmul(wm, cols, out=yb)
        macs = matmul_macs(wm.shape, cols.shape)
        y = np.empty((N, Co, P), x.dtype)
        copy_into(y, yb.reshape(Co, N, P).transpose(1, 0, 2))
    elif _flat_pays(stride, ksize, xp.shape[2:], Lo):
        y, macs = _flat_gemm(xp, wm, ksize, dilation, Lo)
    else:
        y, macs = _im2col_gemm(win, wm, x.dtype)
    y = y.reshape((N, Co) + Lo)
    if b is not None:
        y += b.reshape((Co,) + (1,) * nd)
    return y, macs


def conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """N-d transposed convolution, PyTorch semantics.

    x: (N, C_in, *L); w: (C_in, C_out/groups, *k); b: (C_out,) or None.
    padding: ints per axis (symmetric, as torch) or (lo, hi) pairs.
    Implemented as one batched matmul (g, C_out/g*K, C_in/g) @ (N, g, C_in/g, P)
    followed by a col2im scatter-add (one strided add per kernel tap).
    Returns (y, macs); macs = C_in * prod(L) * C_out/g * prod(k) * N."""
    x, w, b = as_float(x, w, b)
    _check_conv_args(x, w, groups, "conv_transpose")
    nd = w.ndim - 2
    stride = ntuple(stride, nd, "stride", minimum=1)
    dilation = ntuple(dilation, nd, "dilation", minimum=1)
    out_pad = ntuple(output_padding, nd, "output_padding", minimum=0)
    pads = pad_pairs(padding, nd)
    N, C = x.shape[:2]
    Cin_w, Cog = w.shape[:2]
    ksize = tuple(w.shape[2:])
    g = int(groups)
    if C % g:
        raise ValueError(f"conv_transpose: input channels {C} not divisible by groups {g}")
    if Cin_w != C:
        raise ValueError(f"conv_transpose: weight of shape {w.shape} expects {Cin_w} input channels, "
                         f"input has {C}")
    Co = Cog * g
    if b is not None and b.shape != (Co,):
        raise ValueError(f"conv_transpose: bias must have shape ({Co},), got {b.shape}")
    if any(k == 0 for k in ksize):
        raise ValueError(f"conv_transpose: kernel size must be positive, got {ksize}")
    for op, s, d in zip(out_pad, stride, dilation):
        if not (op < s or op < d):
            raise ValueError(f"conv_transpose: output_padding must be smaller than either stride or dilation, "
                             f"got output_padding={out_pad}, stride={stride}, dilation={dilation}")
    L = x.shape[2:]
    if any(l == 0 for l in L):
        raise ValueError(f"conv_transpose: empty spatial input {L}")

    # scatter geometry: input i, tap j lands on i*s + j*d
    ext = []
    for l, k, s, d, op, (lo, hi) in zip(L, ksize, stride, dilation, out_pad, pads):
        last = (l - 1) * s + (k - 1) * d      # last position the scatter writes
        e = last + 1 + op
        if e - lo - hi <= 0:
            raise ValueError(f"conv_transpose: output size is too small: input {tuple(L)}, kernel {ksize}, "
                             f"stride {stride}, padding {pads}, dilation {dilation}, output_padding {out_pad}")
        ext.append(e)

    Cig = C // g
    P = math.prod(L)
    K = math.prod(ksize)
    xm = np.ascontiguousarray(x).reshape(N, g, Cig, P)
    wt = w.reshape(g, Cig, Cog * K).transpose(0, 2, 1)        # (g, Cog*K, Cig)
    cols = workspace("convT_cols", (N, g, Cog * K, P), x.dtype)
    np.matmul(wt, xm, out=cols)
    macs = matmul_macs(wt.shape, xm.shape)
    cols = cols.reshape((N, Co) + ksize + tuple(L))

    buf = np.zeros((N, Co) + tuple(ext), x.dtype)
    lead = (slice(None), slice(None))
    for t in taps(ksize):
        dst = lead + tuple(slice(j * d, j * d + (l - 1) * s + 1, s)
                           for j, d, l, s in zip(t, dilation, L, stride))
        buf[dst] += cols[lead + t]
    crop = lead + tuple(slice(lo, e - hi) for e, (lo, hi) in zip(ext, pads))
    y = buf[crop]
    if not y.flags.c_contiguous:
        y = np.ascontiguousarray(y)
    if b is not None:
        y += b.reshape((Co,) + (1,) * nd)
    return y, macs


def linear(x, w, b=None):
    """y = x @ w.T + b over the last dim (any leading dims).
    w: (out, in).  macs = prod(leading) * in * out."""
    x, w, b = as_float(x, w, b)
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out, in), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input last dim {x.shape[-1:] if x.ndim else ()} does not match weight "
                         f"shape {w.shape}")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {b.shape}")
    x2 = x.reshape(-1, w.shape[1])
    wt = w.T
    y = x2 @ wt
    macs = matmul_macs(x2.shape, wt.shape)
    if b is not None:
        y += b
    return y.reshape(x.shape[:-1] + (w.shape[0],)), macs
