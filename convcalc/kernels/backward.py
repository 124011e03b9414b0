"""Backward of the matmul kernels: convolution, transposed convolution, linear.

Every backward returns ``(dx, dparams, (macs_dx, macs_dw))``: the input gradient (None when
it was not asked for), a dict of parameter gradients under the forward's argument names
(``weight``, ``bias``) and the multiply-accumulates of the input gradient and of the weight
gradient, each tallied from the operand shapes of the matmuls that computed it (a bias
gradient is a sum, not a matmul).  Asking for no input gradient (``need_dx=False``: the
first layer, whose input is the image) skips its matmul and tallies 0 for it.

* conv: the windows of the padded input are copied out per sample (im2col);
  dW = dY @ cols^T, and dcols = W^T @ dY scattered back onto the padded input, one strided
  add per kernel tap (col2im), i.e. a transposed convolution of dY with W; padding is then
  cropped (zeros) or folded back onto the pixels it copied (reflect, replicate, circular).
* transposed conv: dY's windows (the forward's scatter read backwards, a plain convolution of
  dY) give dX = W @ dcols and dW = X @ dcols^T.
* linear: dX = dY @ W and dW = dY^T @ X.

numpy + stdlib only."""

from __future__ import annotations

import math

import numpy as np

from ._util import _NP_MODES, as_float, copy_into, matmul_macs, ntuple, pad_pairs, pad_spatial, taps, windows, \
    workspace

__all__ = ["conv_backward", "conv_transpose_backward", "linear_backward", "pad_backward"]


def pad_backward(dxp, pairs, mode, spatial):
    """Gradient of :func:`pad_spatial`: the padded gradient ``dxp`` cropped to the interior,
    and for reflect / replicate / circular each padded position's gradient added onto the
    input pixel it copied (axis by axis: those paddings are separable)."""
    nd = len(pairs)
    lead = dxp.ndim - nd
    if all(lo == 0 and hi == 0 for lo, hi in pairs):
        return dxp
    if mode in ("zeros", "constant"):
        crop = (slice(None),) * lead + tuple(slice(lo, lo + L) for L, (lo, _) in zip(spatial, pairs))
        return np.ascontiguousarray(dxp[crop])
    g = dxp
    for ax, (L, (lo, hi)) in enumerate(zip(spatial, pairs)):
        axis = lead + ax
        src = np.pad(np.arange(L), (lo, hi), mode=_NP_MODES[mode])   # source pixel of each padded position
        out = np.array(np.take(g, np.arange(lo, lo + L), axis=axis))
        for j in list(range(lo)) + list(range(lo + L, lo + L + hi)):
            pre = (slice(None),) * axis
            out[pre + (int(src[j]),)] += g[pre + (j,)]
        g = out
    return g


def _conv_geometry(x, w, stride, padding, dilation, groups):
    nd = w.ndim - 2
    stride = ntuple(stride, nd, "stride", minimum=1)
    dilation = ntuple(dilation, nd, "dilation", minimum=1)
    pads = pad_pairs(padding, nd)
    g = int(groups)
    if x.ndim != w.ndim or x.shape[1] % g or w.shape[0] % g or w.shape[1] != x.shape[1] // g:
        raise ValueError(f"conv_backward: input {x.shape}, weight {w.shape} and groups={g} do not fit")
    return nd, stride, dilation, pads, g


def conv_backward(dy, x, w, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", bias=True,
                  need_dx=True, need_dw=True):
    """Gradients of :func:`conv` given the output gradient ``dy`` (N, C_out, *L_out).

    Returns (dx or None, {"weight": dW, "bias": db}, (macs_dx, macs_dw)); each MAC count is
    C_out/g * (C_in/g)*prod(k) * prod(L_out) * g * N, the forward's, read off the matmuls."""
    x, w, dy = as_float(x, w, dy)
    nd, stride, dilation, pads, g = _conv_geometry(x, w, stride, padding, dilation, groups)
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    ksize = tuple(w.shape[2:])
    xp = pad_spatial(x, pads, padding_mode, slot="bwd_pad")
    win = windows(xp, ksize, stride, dilation)                 # (N, C, *Lo, *k)
    Lo = win.shape[2:2 + nd]
    if tuple(dy.shape) != (N, Co) + tuple(Lo):
        raise ValueError(f"conv_backward: output gradient of shape {dy.shape}, expected {(N, Co) + tuple(Lo)}")
    P, K, Cog = math.prod(Lo), math.prod(ksize), Co // g
    wm = w.reshape(g, Cog, Cg * K)
    wt = wm.transpose(0, 2, 1)                                 # (g, Cg*K, Cog)
    order = (0,) + tuple(range(1 + nd, 1 + 2 * nd)) + tuple(range(1, 1 + nd))   # (C, *k, *Lo)
    dw = np.zeros((g, Cog, Cg * K), x.dtype) if need_dw else None
    pointwise = K == 1 and xp is x and all(s == 1 for s in stride)   # 1x1, stride 1, unpadded: dx = dcols
    dxp = (np.empty if pointwise else np.zeros)(xp.shape, x.dtype) if need_dx else None
    macs_dx = macs_dw = 0
    for n in range(N):
        dyn = dy[n].reshape(g, Cog, P)
        if need_dw:
            src = win[n].transpose(order)
            if src.flags.c_contiguous:                         # 1x1, stride 1, no padding: x itself
                cols = src.reshape(g, Cg * K, P)
            else:
                cols = copy_into(workspace("bwd_cols", src.shape, x.dtype), src).reshape(g, Cg * K, P)
            colsT = cols.transpose(0, 2, 1)
            dw += np.matmul(dyn, colsT)
            macs_dw += matmul_macs(dyn.shape, colsT.shape)
        if need_dx and pointwise:
            np.matmul(wt, dyn, out=dxp[n].reshape(g, Cg, P))
            macs_dx += matmul_macs(wt.shape, dyn.shape)
        elif need_dx:
            dcols = np.matmul(wt, dyn, out=workspace("bwd_dcols", (g, Cg * K, P), x.dtype))
            macs_dx += matmul_macs(wt.shape, dyn.shape)
            dcols = dcols.reshape((C,) + ksize + tuple(Lo))
            for t in taps(ksize):                              # col2im: tap t of output o lands on o*s + t*d
                dst = (n, slice(None)) + tuple(slice(j * d, j * d + (l - 1) * s + 1, s)
                                               for j, d, l, s in zip(t, dilation, Lo, stride))
                dxp[dst] += dcols[(slice(None),) + t]
    dx = pad_backward(dxp, pads, padding_mode, x.shape[2:]) if need_dx else None
    grads = {}
    if need_dw:
        grads["weight"] = dw.reshape(w.shape)
        if bias:
            grads["bias"] = dy.sum(axis=(0,) + tuple(range(2, dy.ndim)), dtype=np.float64).astype(x.dtype)
    return dx, grads, (macs_dx, macs_dw)


def conv_transpose_backward(dy, x, w, stride=1, padding=0, output_padding=0, dilation=1, groups=1, bias=True,
                            need_dx=True, need_dw=True):
    """Gradients of :func:`conv_transpose`.  The forward scatters input i, tap j onto
    i*s + j*d (then crops the padding); read backwards that is a convolution of dY (padding
    restored as zeros) with stride s and dilation d: dcols = im2col(dY), dX = W @ dcols,
    dW = X @ dcols^T.  MACs: C_in/g * (C_out/g)*prod(k) * prod(L_in) * g * N each."""
    x, w, dy = as_float(x, w, dy)
    nd = w.ndim - 2
    stride = ntuple(stride, nd, "stride", minimum=1)
    dilation = ntuple(dilation, nd, "dilation", minimum=1)
    out_pad = ntuple(output_padding, nd, "output_padding", minimum=0)
    pads = pad_pairs(padding, nd)
    g = int(groups)
    N, C = x.shape[:2]
    Cig, Cog = C // g, w.shape[1]
    Co = Cog * g
    ksize, L = tuple(w.shape[2:]), tuple(x.shape[2:])
    ext = tuple((l - 1) * s + (k - 1) * d + 1 + op for l, k, s, d, op in zip(L, ksize, stride, dilation, out_pad))
    out = tuple(e - lo - hi for e, (lo, hi) in zip(ext, pads))
    if tuple(dy.shape) != (N, Co) + out:
        raise ValueError(f"conv_transpose_backward: output gradient of shape {dy.shape}, expected {(N, Co) + out}")
    dbuf = pad_spatial(dy, pads, "zeros", slot="bwd_pad")
    win = windows(dbuf, ksize, stride, dilation)               # (N, Co, *Lw, *k), Lw >= L
    win = win[(slice(None), slice(None)) + tuple(slice(0, l) for l in L)]
    P, K = math.prod(L), math.prod(ksize)
    wm = w.reshape(g, Cig, Cog * K)
    order = (0,) + tuple(range(1 + nd, 1 + 2 * nd)) + tuple(range(1, 1 + nd))   # (Co, *k, *L)
    dx = np.empty((N, g, Cig, P), x.dtype) if need_dx else None
    dw = np.zeros((g, Cig, Cog * K), x.dtype) if need_dw else None
    macs_dx = macs_dw = 0
    for n in range(N):
        src = win[n].transpose(order)
        dcols = copy_into(workspace("bwd_cols", src.shape, x.dtype), src).reshape(g, Cog * K, P)
        if need_dx:
            np.matmul(wm, dcols, out=dx[n])
            macs_dx += matmul_macs(wm.shape, dcols.shape)
        if need_dw:
            xn = x[n].reshape(g, Cig, P)
            dT = dcols.transpose(0, 2, 1)
            dw += np.matmul(xn, dT)
            macs_dw += matmul_macs(xn.shape, dT.shape)
    grads = {}
    if need_dw:
        grads["weight"] = dw.reshape(w.shape)
        if bias:
            grads["bias"] = dy.sum(axis=(0,) + tuple(range(2, dy.ndim)), dtype=np.float64).astype(x.dtype)
    return (dx.reshape(x.shape) if need_dx else None), grads, (macs_dx, macs_dw)


def linear_backward(dy, x, w, bias=True, need_dx=True, need_dw=True):
    """Gradients of :func:`linear`: dX = dY @ W, dW = dY^T @ X, db = sum of dY.
    MACs: prod(leading) * in * out each."""
    x, w, dy = as_float(x, w, dy)
    out_f, in_f = w.shape
    dy2 = dy.reshape(-1, out_f)
    x2 = x.reshape(-1, in_f)
    dx, grads, macs_dx, macs_dw = None, {}, 0, 0
    if need_dx:
        dx = (dy2 @ w).reshape(x.shape)
        macs_dx = matmul_macs(dy2.shape, w.shape)
    if need_dw:
        dyT = dy2.T
        grads["weight"] = dyT @ x2
        macs_dw = matmul_macs(dyT.shape, x2.shape)
        if bias:
            grads["bias"] = dy2.sum(axis=0, dtype=np.float64).astype(x.dtype)
    return dx, grads, (macs_dx, macs_dw)
