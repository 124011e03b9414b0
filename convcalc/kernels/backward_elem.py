"""Backward of the element-wise kernels (activations, softmax, dropout) and of the tensor
plumbing (flatten, permute, upsample, channel shuffle, slice, crop, layer scale, merges).

Derivatives as PyTorch's autograd formulas take them (which side of a kink gets the
gradient included), e.g. relu from its output (y > 0), relu6 and hardsigmoid zero at their
kinks, leaky relu from x > 0.  None does a matmul: MAC tallies (0, 0).  Returns
``(dx, dparams, (0, 0))``; merges return a list of input gradients.

numpy + stdlib only."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float
from .act import _sigmoid, phi
from .misc import _LINEAR_MODES, _linear_weights, _nearest_index, _scales_and_sizes

__all__ = ["relu_backward", "relu6_backward", "leaky_relu_backward", "elu_backward", "sigmoid_backward",
           "tanh_backward", "silu_backward", "gelu_backward", "hardswish_backward", "hardsigmoid_backward",
           "prelu_backward", "softmax_backward", "log_softmax_backward", "dropout_train", "dropout_backward",
           "identity_backward", "flatten_backward", "permute_backward", "channel_shuffle_backward",
           "slice_backward", "zero_pad2d_backward", "upsample_backward", "add_backward", "mul_backward", "concat_backward",
           "unbroadcast"]

_NONE = (0, 0)


def _out(dx, dtype, params=None):
    return np.asarray(dx).astype(dtype, copy=False), params or {}, _NONE


def relu_backward(dy, y):
    dy, y = as_float(dy, y)
    return _out(np.where(y > 0, dy, 0), dy.dtype)


def relu6_backward(dy, x):
    dy, x = as_float(dy, x)
    return _out(np.where((x > 0) & (x < 6), dy, 0), dy.dtype)


def leaky_relu_backward(dy, x, negative_slope=0.01):
    dy, x = as_float(dy, x)
    return _out(np.where(x > 0, dy, dy * dy.dtype.type(negative_slope)), dy.dtype)


def elu_backward(dy, x, alpha=1.0):
    dy, x = as_float(dy, x)
    return _out(np.where(x > 0, dy, dy * alpha * np.exp(np.minimum(x, 0))), dy.dtype)


def sigmoid_backward(dy, y):
    dy, y = as_float(dy, y)
    return _out(dy * y * (1 - y), dy.dtype)


def tanh_backward(dy, y):
    dy, y = as_float(dy, y)
    return _out(dy * (1 - y * y), dy.dtype)


def silu_backward(dy, x):
    dy, x = as_float(dy, x)
    s = _sigmoid(x)
    return _out(dy * s * (1 + x * (1 - s)), dy.dtype)


def gelu_backward(dy, x, approximate="none"):
    dy, x = as_float(dy, x)
    x64 = x.astype(np.float64)
    if approximate == "none":
        cdf = phi(x)
        pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi)
        d = cdf + x64 * pdf
    else:
        c = math.sqrt(2.0 / math.pi)
        inner = c * (x64 + 0.044715 * x64 ** 3)
        t = np.tanh(inner)
        d = 0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * c * (1 + 3 * 0.044715 * x64 * x64)
    return _out(dy * d, dy.dtype)


def hardswish_backward(dy, x):
    dy, x = as_float(dy, x)
    return _out(np.where(x <= -3, 0, np.where(x < 3, dy * (x / 3 + 0.5), dy)), dy.dtype)


def hardsigmoid_backward(dy, x):
    dy, x = as_float(dy, x)
    return _out(np.where((x > -3) & (x < 3), dy / 6, 0), dy.dtype)


def prelu_backward(dy, x, weight):
    """dx = dy where x > 0 else weight * dy; dweight = sum of dy * x where x <= 0, per
    channel (or over everything for a single weight)."""
    dy, x, weight = as_float(dy, x, weight)
    w = weight.reshape(-1)
    shape = (1,) if w.size == 1 else (1, w.size) + (1,) * (x.ndim - 2)
    neg = x <= 0
    dx = np.where(neg, dy * w.reshape(shape), dy)
    contrib = np.where(neg, dy.astype(np.float64) * x, 0.0)
    dw = contrib.sum() if w.size == 1 else contrib.sum(axis=(0,) + tuple(range(2, x.ndim)))
    return _out(dx, dy.dtype, {"weight": np.asarray(dw, dtype=dy.dtype).reshape(weight.shape)})


def softmax_backward(dy, y, dim):
    dy, y = as_float(dy, y)
    return _out(y * (dy - (dy * y).sum(axis=dim, keepdims=True)), dy.dtype)


def log_softmax_backward(dy, y, dim):
    dy, y = as_float(dy, y)
    return _out(dy - np.exp(y) * dy.sum(axis=dim, keepdims=True), dy.dtype)


def dropout_train(x, p, rng, noise_dims=None):
    """Training dropout: y = x * noise with noise = keep / (1 - p), keep ~ Bernoulli(1 - p)
    per element, or per (sample, channel) with ``noise_dims=1`` (Dropout2d), per sample
    with ``noise_dims=0`` (stochastic depth).  Returns (y, noise, 0)."""
    x = as_float(x)
    shape = x.shape if noise_dims is None else x.shape[:1 + noise_dims] + (1,) * (x.ndim - 1 - noise_dims)
    keep = rng.random(shape) >= p
    noise = (keep / (1.0 - p) if p < 1 else np.zeros(shape)).astype(x.dtype)
    return x * noise, noise, 0


def dropout_backward(dy, noise):
    dy = as_float(dy)
    return _out(dy * noise, dy.dtype)


def identity_backward(dy):
    return _out(dy, as_float(dy).dtype)


def flatten_backward(dy, x_shape):
    return _out(np.reshape(dy, x_shape), as_float(dy).dtype)


def permute_backward(dy, dims):
    dy = as_float(dy)
    axes = [d % dy.ndim for d in dims]
    return _out(np.ascontiguousarray(np.transpose(dy, np.argsort(axes))), dy.dtype)


def channel_shuffle_backward(dy, groups):
    """The inverse shuffle: (N, C/g, g, *) swapped back to (N, g, C/g, *)."""
    dy = as_float(dy)
    N, C = dy.shape[:2]
    dx = dy.reshape((N, C // groups, groups) + dy.shape[2:]).swapaxes(1, 2)
    return _out(np.ascontiguousarray(dx).reshape(dy.shape), dy.dtype)


def slice_backward(dy, x_shape, index):
    """Gradient of ``x[index]`` (channel slices, centre crops): dy in place, zeros elsewhere."""
    dy = as_float(dy)
    dx = np.zeros(tuple(x_shape), dy.dtype)
    dx[index] = dy
    return _out(dx, dy.dtype)


def zero_pad2d_backward(dy, x_shape, padding):
    """Gradient of :func:`zero_pad2d`: the pixels that were kept (negative amounts cropped
    them), read back from inside the padding."""
    dy = as_float(dy)
    left, right, top, bottom = (int(p) for p in padding)
    H, W = x_shape[-2:]
    t0, b0, l0, r0 = max(0, -top), max(0, -bottom), max(0, -left), max(0, -right)
    h, w = H - t0 - b0, W - l0 - r0
    dx = np.zeros(tuple(x_shape), dy.dtype)
    dx[..., t0:t0 + h, l0:l0 + w] = dy[..., max(0, top):max(0, top) + h, max(0, left):max(0, left) + w]
    return _out(dx, dy.dtype)


def _segment_sum(g, axis, index, L):
    """dx[..., i, ...] = sum of g[..., j, ...] over the j with index[j] == i, for a
    non-decreasing ``index`` (what nearest and linear interpolation read): differences of
    a float64 running sum at the run boundaries."""
    cs = np.cumsum(np.moveaxis(g, axis, -1), axis=-1, dtype=np.float64)
    cs = np.concatenate([np.zeros(cs.shape[:-1] + (1,)), cs], axis=-1)
    bounds = np.searchsorted(index, np.arange(L + 1))
    return np.moveaxis(cs[..., bounds[1:]] - cs[..., bounds[:-1]], -1, axis)


def upsample_backward(dy, x_shape, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Gradient of :func:`upsample` (nearest, nearest-exact, linear, bilinear, trilinear,
    area), axis by axis from the last: each output's gradient goes back to the input
    positions it read, with the interpolation weights."""
    dy = as_float(dy)
    probe = np.broadcast_to(np.zeros((), dy.dtype), tuple(x_shape))
    nd = len(x_shape) - 2
    sizes, scales = _scales_and_sizes(probe, size, scale_factor, nd, mode)
    if mode == "area":
        from .backward_pool import adaptive_avg_pool_backward
        return adaptive_avg_pool_backward(dy, x_shape, tuple(sizes))
    g = dy.astype(np.float64)
    for ax in reversed(range(nd)):
        axis, L = 2 + ax, x_shape[2 + ax]
        if mode in ("nearest", "nearest-exact"):
            idx = _nearest_index(L, sizes[ax], scales[ax], mode == "nearest-exact", shortcuts=(nd == 2))
            g = _segment_sum(g, axis, idx, L)
        elif mode in _LINEAR_MODES:
            i0, i1, l0, l1 = _linear_weights(L, sizes[ax], scales[ax], bool(align_corners), dy.dtype)
            shape = [1] * g.ndim
            shape[axis] = sizes[ax]
            g = (_segment_sum(g * l0.reshape(shape), axis, i0, L)
                 + _segment_sum(g * l1.reshape(shape), axis, i1, L))
    return _out(g, dy.dtype)


def unbroadcast(g, shape):
    """Sum a broadcast gradient back down to ``shape`` (leading dims and stretched 1s)."""
    g = np.asarray(g)
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g


def add_backward(dy, shapes):
    """Gradients of a broadcasting sum of inputs of the given shapes."""
    dy = as_float(dy)
    return [unbroadcast(dy, s).astype(dy.dtype) for s in shapes], {}, _NONE


def mul_backward(dy, xs):
    """Gradients of a broadcasting product of the inputs ``xs``: each input's gradient is
    dy times the product of the others, summed back to its shape."""
    dy = as_float(dy)
    out = []
    for i, xi in enumerate(xs):
        g = dy
        for j, xj in enumerate(xs):
            if j != i:
                g = g * xj
        out.append(unbroadcast(g, np.shape(xi)).astype(dy.dtype))
    return out, {}, _NONE


def concat_backward(dy, sizes, dim=1):
    """Gradients of a concatenation: dy split along ``dim`` into the inputs' sizes."""
    dy = as_float(dy)
    cuts = np.cumsum(sizes)[:-1]
    return [np.ascontiguousarray(p) for p in np.split(dy, cuts, axis=dim)], {}, _NONE
