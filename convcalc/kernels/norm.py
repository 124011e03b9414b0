"""Normalisation layers (inference semantics unless stated), PyTorch
semantics.  numpy + stdlib only.  They perform no MACs: each returns 0.

Statistics are accumulated in float64; the normalisation itself is applied
as one precomputed scale-and-shift (y = x * scale + shift, scale and shift
folded in float64 and cast to x's dtype), so float32 in stays float32 with
no float64 temporaries of the size of x."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float, windows

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm"]


def _stats(x, axes):
    """float64 mean and biased variance over ``axes`` (keepdims).  The centred
    squares are formed in x's dtype and summed in float64."""
    mean = x.mean(axis=axes, dtype=np.float64, keepdims=True)
    d = x - mean.astype(x.dtype)
    np.square(d, out=d)
    return mean, d.mean(axis=axes, dtype=np.float64, keepdims=True)


def _centred(x, mean, var, eps, weight, bias, shape):
    """(x - mean) * scale + bias with scale = weight / sqrt(var + eps): for
    statistics of x itself, centring first keeps the digits a large mean
    would cancel.  Three passes in x's dtype."""
    y = np.subtract(x, mean.astype(x.dtype))
    scale = 1.0 / np.sqrt(var + eps)
    if weight is not None:
        scale = scale * weight.astype(np.float64).reshape(shape)
    y *= scale.astype(x.dtype)
    if bias is not None:
        y += bias.astype(x.dtype).reshape(shape)
    return y


def _check_param(p, n, what, name):
    if p is not None and p.size != n:
        raise ValueError(f"{name}: {what} must have {n} elements, got shape {p.shape}")


def batch_norm(x, running_mean, running_var, weight=None, bias=None, eps=1e-5, training=False, momentum=0.1):
    """Batch norm over channel dim 1 of x (N, C, *).  training=False uses the
    running statistics; training=True uses the batch statistics (biased
    variance) and leaves the running statistics alone.  Returns (y, 0)."""
    x, running_mean, running_var, weight, bias = as_float(x, running_mean, running_var, weight, bias)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, *), got shape {x.shape}")
    C = x.shape[1]
    shape = (1, C) + (1,) * (x.ndim - 2)
    for p, what in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_param(p, C, what, "batch_norm")
    if training:
        if x.size // max(C, 1) <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape}")
        mean, var = _stats(x, (0,) + tuple(range(2, x.ndim)))
        return _centred(x, mean, var, eps, weight, bias, shape), 0
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    # folded on the (C,) vectors in float64, cast once, then two passes over x in its dtype
    scale = 1.0 / np.sqrt(running_var.astype(np.float64).reshape(-1) + eps)
    if weight is not None:
        scale *= weight.reshape(-1)
    shift = -running_mean.reshape(-1) * scale
    if bias is not None:
        shift += bias.reshape(-1)
    y = np.multiply(x, scale.astype(x.dtype).reshape(shape))
    y += shift.astype(x.dtype).reshape(shape)
    return y, 0


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer norm over the trailing ``normalized_shape`` dims.  Returns (y, 0)."""
    x, weight, bias = as_float(x, weight, bias)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(v) for v in normalized_shape)
    if len(ns) == 0 or len(ns) > x.ndim or tuple(x.shape[x.ndim - len(ns):]) != ns:
        raise ValueError(f"layer_norm: normalized_shape {ns} does not match the trailing dims of input "
                         f"shape {x.shape}")
    for p, what in ((weight, "weight"), (bias, "bias")):
        if p is not None and tuple(p.shape) != ns:
            raise ValueError(f"layer_norm: {what} must have shape {ns}, got {p.shape}")
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    mean, var = _stats(x, axes)
    return _centred(x, mean, var, eps, weight, bias, ns), 0


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Group norm: x (N, C, *) split into num_groups along C; per-channel
    affine.  Returns (y, 0)."""
    x, weight, bias = as_float(x, weight, bias)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected input (N, C, *), got shape {x.shape}")
    N, C = x.shape[:2]
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: {C} channels are not divisible into num_groups={num_groups!r}")
    for p, what in ((weight, "weight"), (bias, "bias")):
        _check_param(p, C, what, "group_norm")
    xg = x.reshape(N, num_groups, -1)
    mean, var = _stats(xg, (-1,))
    y = _centred(xg, mean, var, eps, None, None, None).reshape(x.shape)
    shape = (1, C) + (1,) * (x.ndim - 2)
    if weight is not None:
        y *= weight.reshape(shape)
    if bias is not None:
        y += bias.reshape(shape)
    return y, 0


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Instance norm (input statistics, no running stats): per (n, c) over the
    spatial dims of x (N, C, *L).  Returns (y, 0)."""
    x, weight, bias = as_float(x, weight, bias)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input (N, C, *spatial), got shape {x.shape}")
    C = x.shape[1]
    if math.prod(x.shape[2:]) <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element, got input of shape {x.shape}")
    for p, what in ((weight, "weight"), (bias, "bias")):
        _check_param(p, C, what, "instance_norm")
    axes = tuple(range(2, x.ndim))
    mean, var = _stats(x, axes)
    return _centred(x, mean, var, eps, weight, bias, (1, C) + (1,) * (x.ndim - 2)), 0


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response norm across channels, torch's exact semantics:
    y = x / (k + alpha * mean_{window}(x^2))^beta, the window of ``size``
    channels zero-padded by size//2 before and (size-1)//2 after, the mean
    always divided by ``size``.  Returns (y, 0)."""
    x = as_float(x)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3-d or higher input, got shape {x.shape}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    sq = np.square(x, dtype=np.float64)
    C = x.shape[1]
    lo, hi = size // 2, (size - 1) // 2
    padded = np.zeros((x.shape[0], C + lo + hi) + x.shape[2:])
    padded[:, lo:lo + C] = sq
    moved = np.moveaxis(padded, 1, -1)
    s = windows(moved, (size,), (1,), (1,)).sum(-1)       # (N, *L, C)
    s = np.moveaxis(s, -1, 1)
    div = (k + alpha * (s / size)) ** beta
    return (x / div).astype(x.dtype, copy=False), 0
