"""Backward of the normalisations with the statistics of their own input (training mode):
batch norm over (N, *spatial) per channel, layer norm over the trailing dims, group norm
per (sample, group), instance norm per (sample, channel); batch norm with running
statistics (eval mode) too.  Local response norm by its closed form.

With xhat = (x - mean) * invstd and g = dy * weight, the input gradient is
    dx = invstd * (g - mean(g) - xhat * mean(g * xhat))
(means over the statistics' axes), dweight = sum(dy * xhat), dbias = sum(dy) over
everything but the parameter's axes.  No matmul: MAC tallies (0, 0).  Returns
``(dx, {"weight": ..., "bias": ...}, (0, 0))``.  Element-wise work in x's dtype, every
reduction (statistics, means, parameter gradients) accumulated in float64.

numpy + stdlib only."""

from __future__ import annotations

import numpy as np

from ._util import as_float, windows

__all__ = ["batch_norm_backward", "layer_norm_backward", "group_norm_backward", "instance_norm_backward",
           "local_response_norm_backward"]

_NONE = (0, 0)


def _normalize(x, axes, eps):
    """xhat in x's dtype and invstd (float64, keepdims); the reductions in float64."""
    mean = x.mean(axis=axes, dtype=np.float64, keepdims=True)
    xhat = x - mean.astype(x.dtype)
    var = np.square(xhat).mean(axis=axes, dtype=np.float64, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat *= invstd.astype(x.dtype)
    return xhat, invstd


def _through(g, xhat, invstd, axes):
    """The input gradient of a normalisation, given g = dy * weight (in x's dtype)."""
    mg = g.mean(axis=axes, dtype=np.float64, keepdims=True)
    mgx = (g * xhat).mean(axis=axes, dtype=np.float64, keepdims=True)
    dx = g - mg.astype(g.dtype)
    dx -= xhat * mgx.astype(g.dtype)
    dx *= invstd.astype(g.dtype)
    return dx


def _affine_grads(dy, xhat, axes, weight, bias, shape):
    grads = {}
    if weight is not None:
        grads["weight"] = (dy * xhat).sum(axis=axes, dtype=np.float64).reshape(shape)
    if bias is not None:
        grads["bias"] = dy.sum(axis=axes, dtype=np.float64).reshape(shape)
    return grads


def _cast(dx, grads, dtype):
    return dx.astype(dtype, copy=False), {k: v.astype(dtype) for k, v in grads.items()}, _NONE


def _scaled(dy, weight, shape):
    return dy if weight is None else dy * weight.reshape(shape)


def batch_norm_backward(dy, x, weight=None, bias=None, eps=1e-5, training=True, running_mean=None,
                        running_var=None):
    """Gradients of :func:`batch_norm`: with the batch's statistics (training=True) or
    with the running ones (then dx = dy * weight / sqrt(running_var + eps))."""
    x, dy, weight, bias = as_float(x, dy, weight, bias)
    C = x.shape[1]
    shape = (1, C) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        xhat, invstd = _normalize(x, axes, eps)
        dx = _through(_scaled(dy, weight, shape), xhat, invstd, axes)
    else:
        invstd = 1.0 / np.sqrt(running_var.astype(np.float64).reshape(shape) + eps)
        xhat = (x - running_mean.reshape(shape)) * invstd.astype(x.dtype)
        dx = _scaled(dy, weight, shape) * invstd.astype(x.dtype)
    return _cast(dx, _affine_grads(dy, xhat, axes, weight, bias, (C,)), x.dtype)


def layer_norm_backward(dy, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Gradients of :func:`layer_norm` (statistics over the trailing ``normalized_shape``)."""
    x, dy, weight, bias = as_float(x, dy, weight, bias)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    lead = tuple(range(x.ndim - len(ns)))
    xhat, invstd = _normalize(x, axes, eps)
    g = dy if weight is None else dy * weight
    return _cast(_through(g, xhat, invstd, axes), _affine_grads(dy, xhat, lead, weight, bias, ns), x.dtype)


def group_norm_backward(dy, x, num_groups, weight=None, bias=None, eps=1e-5):
    """Gradients of :func:`group_norm` (statistics per sample and group of channels,
    per-channel affine)."""
    x, dy, weight, bias = as_float(x, dy, weight, bias)
    N, C = x.shape[:2]
    shape = (1, C) + (1,) * (x.ndim - 2)
    xhat, invstd = _normalize(x.reshape(N, num_groups, -1), (-1,), eps)
    g = _scaled(dy, weight, shape)
    dx = _through(g.reshape(N, num_groups, -1), xhat, invstd, (-1,)).reshape(x.shape)
    axes = (0,) + tuple(range(2, x.ndim))
    return _cast(dx, _affine_grads(dy, xhat.reshape(x.shape), axes, weight, bias, (C,)), x.dtype)


def instance_norm_backward(dy, x, weight=None, bias=None, eps=1e-5):
    """Gradients of :func:`instance_norm`: group norm with one channel per group."""
    return group_norm_backward(dy, x, x.shape[1], weight, bias, eps)


def local_response_norm_backward(dy, x, size, alpha=1e-4, beta=0.75, k=1.0):
    """Gradient of :func:`local_response_norm`, y = x * D^-beta with
    D = k + alpha/size * (sum of x^2 over the channel window):
    dx = dy * D^-beta - 2 alpha beta / size * x * (sum over the windows that hold the
    channel of dy * x * D^(-beta-1)); that second window sum runs with the padding
    mirrored (a channel c is in the window of c' iff c' is in c's mirrored window)."""
    x, dy = as_float(x, dy)
    x64 = x.astype(np.float64)
    C = x.shape[1]
    lo, hi = size // 2, (size - 1) // 2

    def window_sum(a, before, after):
        padded = np.zeros((a.shape[0], C + before + after) + a.shape[2:])
        padded[:, before:before + C] = a
        s = windows(np.moveaxis(padded, 1, -1), (size,), (1,), (1,)).sum(-1)
        return np.moveaxis(s, -1, 1)

    D = k + alpha / size * window_sum(x64 * x64, lo, hi)
    t = dy * x64 * D ** (-beta - 1)
    dx = dy * D ** -beta - 2.0 * alpha * beta / size * x64 * window_sum(t, hi, lo)
    return dx.astype(x.dtype), {}, _NONE
