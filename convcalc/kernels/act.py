"""Element-wise activations (and softmax), PyTorch semantics.
numpy + stdlib only.  None performs MACs: each returns (y, 0)."""

from __future__ import annotations

import math
import threading

import numpy as np

from ._util import as_float

__all__ = ["relu", "relu6", "leaky_relu", "elu", "prelu", "sigmoid", "tanh", "softmax", "log_softmax",
           "hardswish", "hardsigmoid", "silu", "gelu", "dropout", "identity", "erf"]


def relu(x):
    x = as_float(x)
    return np.maximum(x, x.dtype.type(0)), 0


def relu6(x):
    x = as_float(x)
    return np.clip(x, x.dtype.type(0), x.dtype.type(6)), 0


def leaky_relu(x, negative_slope=0.01):
    x = as_float(x)
    return np.where(x >= 0, x, x * x.dtype.type(negative_slope)), 0


def elu(x, alpha=1.0):
    x = as_float(x)
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0))), 0


def prelu(x, weight):
    """max(0,x) + weight * min(0,x); weight has 1 element or one per channel
    (dim 1)."""
    x, weight = as_float(x, weight)
    weight = weight.reshape(-1)
    if weight.size != 1:
        C = x.shape[1] if x.ndim >= 2 else 1
        if weight.size != C:
            raise ValueError(f"prelu: {weight.size} parameters do not match {C} input channels")
        weight = weight.reshape((C,) + (1,) * (x.ndim - 2))
    return np.where(x >= 0, x, weight * x).astype(x.dtype, copy=False), 0


def _sigmoid(x):
    """1 / (1 + exp(-x)) in x's dtype, in one scratch array (exp overflows to
    inf for very negative x, which gives the right limit 0)."""
    t = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    t += x.dtype.type(1)
    np.reciprocal(t, out=t)
    return t


def sigmoid(x):
    x = as_float(x)
    return _sigmoid(x), 0


def tanh(x):
    x = as_float(x)
    return np.tanh(x), 0


def _dim(x, dim, name):
    if not isinstance(dim, (int, np.integer)) or not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise ValueError(f"{name}: dim {dim!r} out of range for input of {x.ndim} dims")
    return int(dim)


def softmax(x, dim):
    x = as_float(x)
    dim = _dim(x, dim, "softmax")
    z = x - x.max(axis=dim, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=dim, keepdims=True), 0


def log_softmax(x, dim):
    x = as_float(x)
    dim = _dim(x, dim, "log_softmax")
    z = x - x.max(axis=dim, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=dim, keepdims=True)), 0


def _hard_gate(x):
    """min(max(x + 3, 0), 6) in one scratch array."""
    t = x + x.dtype.type(3)
    np.clip(t, x.dtype.type(0), x.dtype.type(6), out=t)
    return t


def hardsigmoid(x):
    x = as_float(x)
    t = _hard_gate(x)
    t /= x.dtype.type(6)
    return t, 0


def hardswish(x):
    """x * min(max(x + 3, 0), 6) / 6, in place in one scratch array."""
    x = as_float(x)
    t = _hard_gate(x)
    t *= x
    t /= x.dtype.type(6)
    return t, 0


def silu(x):
    """x * sigmoid(x) computed as x / (1 + exp(-x)) in one scratch array."""
    x = as_float(x)
    t = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    t += x.dtype.type(1)
    np.divide(x, t, out=t)
    return t, 0


# --------------------------------------------------------------------------
# erf, vectorised, double precision (numpy has none and scipy is not allowed)
# --------------------------------------------------------------------------

_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)


def _erf_series(z, terms):
    # erf(z) = 2/sqrt(pi) * exp(-z^2) * sum_n (2 z^2)^n z / (2n+1)!!  (all terms > 0)
    z2 = 2.0 * z * z
    term = z.copy()
    total = z.copy()
    for n in range(1, terms):
        term *= z2 / (2 * n + 1)
        total += term
    return _TWO_OVER_SQRTPI * np.exp(-z * z) * total


# The series' terms fall below 1e-17 of its sum from term 13 at z = 0.5, 19 at 1, 31 at 2 and 45
# at 3: the series sums 50 terms below 3 (the continued fraction takes over from there).
_SERIES_TERMS = 50


def _erfc_cf(z):
    # erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + ...)))))   z > 0
    f = z.copy()
    for n in range(60, 0, -1):
        f = z + (n / 2.0) / f
    return np.exp(-z * z) / (math.sqrt(math.pi) * f)


_ERF_CHUNK = 1 << 14   # elements per pass of the series: its ~240 sweeps then stay in cache


def erf(x):
    """Error function, float64 accuracy (|err| < 1e-14), any shape; large arrays in chunks
    (the same arithmetic element by element: twice as fast as one sweep of the whole array)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size > _ERF_CHUNK:
        flat, out = x.reshape(-1), np.empty(x.size)
        for i in range(0, flat.size, _ERF_CHUNK):
            out[i:i + _ERF_CHUNK] = erf(flat[i:i + _ERF_CHUNK])
        return out.reshape(x.shape)
    a = np.abs(x)
    out = np.empty_like(a)
    small = a < 3.0
    if small.any():
        out[small] = _erf_series(a[small], _SERIES_TERMS)
    one = a >= 6.0   # erfc(6) = 2.2e-17: erf is 1 to the last bit of a float64
    out[one] = 1.0
    big = ~(small | one)   # 3 <= |x| < 6 (and NaN)
    if big.any():
        out[big] = 1.0 - _erfc_cf(a[big])
    return np.copysign(out, x)


# float32 GELU: erfc(z) = g(z) exp(-z^2), g smooth and slowly varying; g is a polynomial in
# s = (2t - 1 - A) / (1 - A), t = 1 / (1 + z/2), interpolated at Chebyshev points of math.erfc on
# 0 <= z <= 12 (A = 1/7) on first use. Degree 12: relative error 4e-10 (float32 resolves 6e-8),
# about 35 float64 sweeps per element against the series' ~150.
_ERFC_DEGREE = 12
_ERFC_A = 1.0 / 7.0
_erfc_coefs = None   # a tuple once interpolated: assigned whole, so no thread sees part of it
_erfc_lock = threading.Lock()


def _erfc_poly():
    global _erfc_coefs
    coefs = _erfc_coefs
    if coefs is None:
        with _erfc_lock:     # threads using it first at once: one interpolates, none adds to another's
            if _erfc_coefs is None:
                from numpy.polynomial import chebyshev

                def g(s):
                    z = 2.0 / ((s * (1.0 - _ERFC_A) + 1.0 + _ERFC_A) / 2.0) - 2.0
                    return np.array([math.erfc(v) for v in z]) * np.exp(z * z)

                _erfc_coefs = tuple(chebyshev.cheb2poly(chebyshev.chebinterpolate(g, _ERFC_DEGREE))[::-1])
            coefs = _erfc_coefs
    return coefs


def phi32(x):
    """Phi(x), the standard normal CDF, in float64 for float32 x (chunked): erfc(|x|/sqrt2)/2
    below 0 and 1 - erfc(|x|/sqrt2)/2 above, so that the negative tail keeps its relative precision."""
    coefs = _erfc_poly()
    out = np.empty(x.shape)
    flat, dst = x.reshape(-1), out.reshape(-1)
    lo = 0.5 * (1.0 - _ERFC_A)   # s = t / lo - (1 + A) / (1 - A)
    for i in range(0, flat.size, _ERF_CHUNK):
        xi = flat[i:i + _ERF_CHUNK].astype(np.float64)
        z = np.abs(xi)
        z *= 1.0 / math.sqrt(2.0)
        s = np.minimum(z, 12.0)
        s *= 0.5
        s += 1.0
        np.divide(1.0 / lo, s, out=s)
        s -= (1.0 + _ERFC_A) / (1.0 - _ERFC_A)
        p = np.full_like(s, coefs[0])
        for c in coefs[1:]:
            p *= s
            p += c
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        p *= z
        p *= 0.5                                     # erfc(|x|/sqrt2) / 2
        np.subtract(1.0, p, out=p, where=xi >= 0)
        dst[i:i + _ERF_CHUNK] = p
    return out


def phi(x):
    """Phi(x), the standard normal CDF, in float64: :func:`phi32` for float32 x, else the
    float64 erf (the training checks' 1e-15)."""
    if x.dtype == np.float32:
        return phi32(x)
    return 0.5 * (1.0 + erf(np.asarray(x, np.float64) / math.sqrt(2.0)))


def gelu(x, approximate="none"):
    """GELU: x * Phi(x) ('none', exact erf) or the tanh approximation."""
    x = as_float(x)
    if approximate == "none":
        y = phi(x)
        y *= x
    elif approximate == "tanh":
        y = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return y.astype(x.dtype, copy=False), 0


def dropout(x, p=0.5, training=False):
    """Inference dropout: the identity."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
    return as_float(x), 0


def identity(x):
    return as_float(x), 0
