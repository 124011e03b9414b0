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


def _check_conv_args(x, w, groups, name):
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: weight must have 3, 4 or 5 dims (1d/2d/3d), got shape {w.shape}")
    if x.ndim != w.ndim:
        raise ValueError(f"{name}: expected a {w.ndim}-d input (N, C, *spatial) for a weight of shape "
                         f"{w.shape}, got input of shape {x.shape}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")


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
