"""Tensor plumbing: flatten, add, mul, concat, channel_shuffle, permute and
upsample (interpolate), PyTorch semantics.  numpy + stdlib only.  None
performs MACs: each returns (y, 0)."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float, as_float_common

__all__ = ["flatten", "add", "mul", "concat", "channel_shuffle", "permute", "upsample", "zero_pad2d"]


def _axis(ndim, dim, name):
    n = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -n <= dim < n:
        raise ValueError(f"{name}: dim {dim!r} out of range for a {ndim}-d input")
    return int(dim) % n


def flatten(x, start_dim=1, end_dim=-1):
    x = as_float(x)
    if x.ndim == 0:
        return x.reshape(1), 0
    s = _axis(x.ndim, start_dim, "flatten")
    e = _axis(x.ndim, end_dim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim}")
    return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]), 0


def _broadcast(a, b, name):
    a, b = as_float_common(a, b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    return a, b


def add(a, b):
    a, b = _broadcast(a, b, "add")
    return a + b, 0


def mul(a, b):
    a, b = _broadcast(a, b, "mul")
    return a * b, 0


def concat(xs, dim=1):
    xs = list(xs)
    if not xs:
        raise ValueError("concat: expected a non-empty sequence of arrays")
    arrs = as_float_common(*xs)
    nd = arrs[0].ndim
    d = _axis(nd, dim, "concat")
    for a in arrs:
        if a.ndim != nd or a.shape[:d] + a.shape[d + 1:] != arrs[0].shape[:d] + arrs[0].shape[d + 1:]:
            raise ValueError(f"concat: shapes {[t.shape for t in arrs]} differ outside dim {dim}")
    return np.concatenate(arrs, axis=d), 0


def channel_shuffle(x, groups):
    """(N, C, *) -> view as (N, g, C/g, *), swap the two, flatten back."""
    x = as_float(x)
    if x.ndim < 3:
        raise ValueError(f"channel_shuffle: expected input (N, C, *spatial), got shape {x.shape}")
    N, C = x.shape[:2]
    if not isinstance(groups, (int, np.integer)) or groups < 1 or C % groups:
        raise ValueError(f"channel_shuffle: {C} channels not divisible by groups={groups!r}")
    y = x.reshape((N, groups, C // groups) + x.shape[2:]).swapaxes(1, 2)
    return np.ascontiguousarray(y).reshape(x.shape), 0


def permute(x, dims):
    x = as_float(x)
    dims = tuple(dims)
    axes = [_axis(x.ndim, d, "permute") for d in dims]
    if len(axes) != x.ndim or sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} is not a permutation of the {x.ndim} dims")
    return np.ascontiguousarray(np.transpose(x, axes)), 0


# --------------------------------------------------------------------------
# upsample / interpolate
# --------------------------------------------------------------------------

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _scales_and_sizes(x, size, scale_factor, nd, mode):
    if (size is None) == (scale_factor is None):
        raise ValueError("upsample: exactly one of size and scale_factor must be given")
    L = x.shape[2:]
    if size is not None:
        sizes = [size] * nd if isinstance(size, (int, np.integer)) else list(size)
        if len(sizes) != nd:
            raise ValueError(f"upsample: size needs {nd} entries for a {x.ndim}-d input, got {size!r}")
        sizes = [int(s) for s in sizes]
        scales = [None] * nd
    else:
        sf = [scale_factor] * nd if isinstance(scale_factor, (int, float, np.integer, np.floating)) \
            else list(scale_factor)
        if len(sf) != nd:
            raise ValueError(f"upsample: scale_factor needs {nd} entries for a {x.ndim}-d input, "
                             f"got {scale_factor!r}")
        scales = [float(s) for s in sf]
        sizes = [int(math.floor(float(l) * s)) for l, s in zip(L, scales)]   # torch's rule
    for l, o in zip(L, sizes):
        if l <= 0 or o < 0 or (o == 0 and mode != "area"):   # torch's area mode allows empty output
            raise ValueError(f"upsample: input and output sizes should be greater than 0, got input "
                             f"{tuple(L)} and output {tuple(sizes)}")
    return sizes, scales


def _nearest_index(L, out, scale, exact, shortcuts):
    """torch's nearest / nearest-exact source index, in float32 as torch:
    floor(dst * scale) (exact: floor((dst + 0.5) * scale)), clamped to L-1,
    scale = 1/scale_factor if given else L/out.  torch 2.x's 2-d nearest
    kernel short-cuts out == L (copy) and out == 2L (dst >> 1) even when a
    scale_factor is given; its 1-d and 3-d paths do not."""
    i = np.arange(out)
    if shortcuts and not exact:
        if out == L:
            return i
        if out == 2 * L:
            return i >> 1
    f32 = np.float32
    sc = f32(1.0 / scale) if (scale is not None and scale > 0) else f32(L) / f32(out)
    pos = i.astype(f32) + f32(0.5) if exact else i.astype(f32)
    src = np.floor(pos * sc).astype(np.int64)
    return np.minimum(src, L - 1)


def _linear_weights(L, out, scale, align_corners, dt):
    """torch's compute_source_index_and_lambda (in the op's math dtype), with the source index
    exact where it is a ratio of the sizes (align_corners, or no scale factor given)."""
    i = np.arange(out)
    if out == L:
        return i, i, np.ones(out, dt), np.zeros(out, dt)
    t = dt.type
    if align_corners or scale is None or scale <= 0:
        # the source as an exact fraction num/den, split into whole and fraction: torch's float32
        # ratio puts some whole sources (often the last) an ulp low, reading the pixel before with
        # a weight of ~5e-7, a dependence the operator does not have (verify measures fields)
        if align_corners:      # i (L-1) / (out-1)
            num, den = (i * (L - 1) if out > 1 else np.zeros_like(i)), max(out - 1, 1)
        else:                  # from the sizes: (i + 1/2) L/out - 1/2, at least 0
            num, den = np.maximum((2 * i + 1) * L - out, 0), 2 * out
        i0 = np.minimum(num // den, L - 1)
        lam1 = np.clip((num - i0 * den) / den, 0, 1).astype(dt)
    else:
        real = t(1.0 / scale) * (i.astype(dt) + t(0.5)) - t(0.5)
        real = np.where(real < 0, t(0), real)
        i0 = np.minimum(np.floor(real).astype(np.int64), L - 1)
        lam1 = np.clip(real - i0.astype(dt), 0, 1).astype(dt)
    i1 = i0 + (i0 < L - 1)
    lam0 = (t(1) - lam1).astype(dt)
    return i0, i1, lam0, lam1


def upsample(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """torch.nn.functional.interpolate for (N, C, *L) inputs.

    mode: 'nearest' | 'nearest-exact' (1-3d), 'linear' (1d), 'bilinear' (2d),
    'trilinear' (3d), 'area' (adaptive average).  With scale_factor the output
    size is floor(L * scale_factor) and the index mapping uses 1/scale_factor
    (torch's default recompute_scale_factor=None)."""
    x = as_float(x)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"upsample: expected input (N, C, *spatial) with 1-3 spatial dims, got {x.shape}")
    nd = x.ndim - 2
    if mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != nd:
            raise ValueError(f"upsample: mode {mode!r} needs a {_LINEAR_MODES[mode] + 2}-d input, "
                             f"got {x.ndim}-d")
    elif mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError("upsample: align_corners can only be set with the interpolating modes "
                             "linear | bilinear | trilinear")
    else:
        raise ValueError(f"upsample: unsupported mode {mode!r}")
    sizes, scales = _scales_and_sizes(x, size, scale_factor, nd, mode)
    if mode == "area":
        from .pool import adaptive_avg_pool
        return adaptive_avg_pool(x, tuple(sizes))
    y = x
    for ax in range(nd):
        axis = 2 + ax
        L = x.shape[axis]
        if mode in ("nearest", "nearest-exact"):
            idx = _nearest_index(L, sizes[ax], scales[ax], mode == "nearest-exact", shortcuts=(nd == 2))
            y = np.take(y, idx, axis=axis)
        else:
            i0, i1, l0, l1 = _linear_weights(L, sizes[ax], scales[ax], bool(align_corners), x.dtype)
            shape = [1] * x.ndim
            shape[axis] = sizes[ax]
            y = np.take(y, i0, axis=axis) * l0.reshape(shape) + np.take(y, i1, axis=axis) * l1.reshape(shape)
    if y is x:
        y = x.copy()
    return y.astype(x.dtype, copy=False), 0


def zero_pad2d(x, padding):
    """``nn.ZeroPad2d``: ``padding`` = (left, right, top, bottom) on the last two axes; a negative
    amount crops. Returns (y, 0): no MACs."""
    x = as_float(x)
    if x.ndim < 2:
        raise ValueError(f"zero_pad2d: needs at least 2 dims, got {x.ndim}")
    left, right, top, bottom = (int(p) for p in padding)
    H, W = x.shape[-2:]
    if H + top + bottom < 1 or W + left + right < 1:
        raise ValueError(f"zero_pad2d: padding {tuple(padding)} leaves no pixel of {H}x{W}")
    # crop first (negative amounts), then pad (positive ones)
    x = x[..., max(0, -top):H - max(0, -bottom), max(0, -left):W - max(0, -right)]
    widths = [(0, 0)] * (x.ndim - 2) + [(max(0, top), max(0, bottom)), (max(0, left), max(0, right))]
    return np.pad(x, widths), 0
