"""Convolution and transposed convolution as im2col / col2im + one batched
matmul.  numpy + stdlib only."""

from __future__ import annotations

import math

import numpy as np

from ._util import (as_float, copy_into, matmul_macs, ntuple, pad_pairs, pad_spatial, taps,
                    windows, workspace)

__all__ = ["conv", "conv_transpose", "linear"]

# With N > 1 and fewer than this many output positions per sample the batch
# is folded into the matmul's N dimension: one (g, Co/g, K) @ (g, K, N*P)
# product instead of N small ones, at the price of transposing the result.
# Also done when each per-sample product is tiny (depthwise convs), so that
# numpy issues g BLAS calls rather than N*g.
_FOLD_BATCH_BELOW = 256
_TINY_PRODUCT = 4096   # (Co/g) * (C/g) * prod(k): MACs per output position and group
# Depthwise convolution works on blocks of about this many output elements
# (per sample, whole channels) so that the running sum and the product of
# one tap stay in the L2 cache while all taps are folded in.
_DW_BLOCK = 1 << 16


def _check_conv_args(x, w, groups, name):
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: weight must have 3, 4 or 5 dims (1d/2d/3d), got shape {w.shape}")
    if x.ndim != w.ndim:
        raise ValueError(f"{name}: expected a {w.ndim}-d input (N, C, *spatial) for a weight of shape "
                         f"{w.shape}, got input of shape {x.shape}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")


def _phases_last(xp, n, stride, m):
    """Sample ``n`` of the padded input, polyphase-split and channels-last:
    P[a, q, c*m + j] = xp[n, c, q*s + a] per axis (a: phase, q: position in
    it; each input channel repeated m times), zeros where a phase runs past
    the input.  Returns (P flattened to (prod(s), prod(Q) * C * m), Q)."""
    C, Lp = xp.shape[1], xp.shape[2:]
    Q = tuple(-(-L // s) for L, s in zip(Lp, stride))
    P = workspace("dw_phases", tuple(stride) + Q + (C, m), xp.dtype)
    if any(L % s for L, s in zip(Lp, stride)):
        P[...] = 0
    for a in taps(stride):
        src = xp[(n, slice(None)) + tuple(slice(ai, None, s) for ai, s in zip(a, stride))]
        dst = P[a + tuple(slice(0, k) for k in src.shape[1:])]
        dst[...] = np.moveaxis(src, 0, -1)[..., None]
    return P.reshape(math.prod(stride), -1), Q


def _depthwise(xp, w, ksize, stride, dilation):
    """Depthwise convolution (groups == C_in, C_out = m * C_in) without im2col:
    one multiply-accumulate per kernel tap into the output.

    The output size is the shape of the window view.  Per sample, the input
    is laid out channels-last and polyphase-split by the stride, so that every
    tap reads one contiguous run of it and multiplies it by that tap's weights
    tiled along the run (long vector loops, no broadcasting along short rows);
    the outputs are computed on the input's row pitch (a few columns past
    L_out per row, cropped at the end), in cache-sized blocks.  The MACs are
    tallied per tap from the window view that tap multiplies into the output.
    Returns (y (N, C_out, *L_out), macs)."""
    nd = len(ksize)
    win = windows(xp, ksize, stride, dilation)          # (N, C, *Lo, *k)
    N, C = win.shape[:2]
    Lo = win.shape[2:2 + nd]
    Co = w.shape[0]
    R = max(1, 4096 // Co)                              # positions per vector row
    wt = np.tile(w.reshape(Co, -1).T, (1, R))           # tap j: weights of R positions (R*Co,)
    ops, macs = [], 0
    for t in taps(ksize):
        pos = [ti * di for ti, di in zip(t, dilation)]
        ph = int(np.ravel_multi_index(tuple(p % s for p, s in zip(pos, stride)), stride))
        ops.append((ph, Co * int(np.ravel_multi_index(tuple(p // s for p, s in zip(pos, stride)),
                                                       tuple(-(-L // s) for L, s in zip(xp.shape[2:], stride))))))
        macs += math.prod(np.broadcast_shapes(win[(Ellipsis,) + t][:, :, None].shape, (C, Co // C) + (1,) * nd))
    y = np.empty((N, Co) + Lo, xp.dtype)
    for n in range(N):
        P, Q = _phases_last(xp, n, stride, Co // C)
        total = Co * (int(np.ravel_multi_index(tuple(k - 1 for k in Lo), Q)) + 1)
        grid = workspace("dw_grid", (math.prod(Q) * Co,), xp.dtype)
        _dw_taps(P, ops, wt, grid, total, R * Co)
        crop = grid.reshape(Q + (Co,))[tuple(slice(0, k) for k in Lo)]
        y[n] = np.moveaxis(crop, -1, 0)
    return y, macs


def _dw_taps(P, ops, wt, grid, total, RC):
    """grid[:total] = sum over taps j of P[ph_j, off_j:off_j+total] * tiled
    weights, in blocks of whole vector rows of RC elements."""
    blk = RC * max(1, _DW_BLOCK // RC)
    tmp = workspace("dw_tmp", (blk,), grid.dtype)
    for b0 in range(0, total, blk):
        n = min(blk, total - b0)
        full = n - n % RC
        for j, (ph, off) in enumerate(ops):
            dst = grid[b0:b0 + n] if j == 0 else tmp[:n]
            src = P[ph, off + b0:off + b0 + n]
            if full:
                np.multiply(src[:full].reshape(-1, RC), wt[j], out=dst[:full].reshape(-1, RC))
            if n > full:
                np.multiply(src[full:], wt[j, :n - full], out=dst[full:])
            if j:
                np.add(grid[b0:b0 + n], dst, out=grid[b0:b0 + n])


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

    xp = pad_spatial(x, pads, padding_mode, slot="conv_pad")
    if g == C and g > 1:
        y, macs = _depthwise(xp, w, ksize, stride, dilation)
        if b is not None:
            y += b.reshape((Co,) + (1,) * nd)
        return y, macs
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
    else:
        # cols: (N, C, *k, *Lo) -> (N, g, Cg*K, P); (g,Cog,K)@(N,g,K,P) per sample
        src = win.transpose((0, 1) + k_axes + lo_axes)
        if src.flags.c_contiguous:          # 1x1, stride 1, no padding: x itself
            cols = src.reshape(N, g, Cg * K, P)
        else:
            cols = copy_into(workspace("conv_cols", src.shape, x.dtype), src).reshape(N, g, Cg * K, P)
        y = np.empty((N, g, Cog, P), x.dtype)
        np.matmul(wm, cols, out=y)
        macs = matmul_macs(wm.shape, cols.shape)
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
