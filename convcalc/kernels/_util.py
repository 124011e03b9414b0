"""Shared helpers of the execution core: argument normalisation, windowed
views, a reusable scratch workspace and a threaded copy.

Only numpy and the standard library are used here.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

__all__ = [
    "as_float",
    "as_float_common",
    "ntuple",
    "pad_pairs",
    "windows",
    "window_starts",
    "pad_spatial",
    "workspace",
    "copy_into",
    "matmul_macs",
    "taps",
]


# --------------------------------------------------------------------------
# argument normalisation
# --------------------------------------------------------------------------

def _float_dtype(dt):
    dt = np.dtype(dt)
    if dt == np.float16:
        return np.dtype(np.float32)
    if not np.issubdtype(dt, np.floating) or dt.itemsize > 8:
        return np.dtype(np.float64)
    return dt


def as_float(x, *params):
    """Cast ``x`` to a floating dtype (float32 and float64 stay as they are;
    ints and bools become float64; float16 becomes float32) and the parameter
    arrays to that same dtype, so float32 in gives float32 out.  ``None``
    parameters pass through.  Returns x alone or (x, *params)."""
    x = np.asarray(x)
    dt = _float_dtype(x.dtype)
    x = x.astype(dt, copy=False)
    if not params:
        return x
    return [x] + [None if p is None else np.asarray(p).astype(dt, copy=False) for p in params]


def as_float_common(*arrays):
    """Cast several inputs to their common floating dtype."""
    arrs = [np.asarray(a) for a in arrays]
    dt = _float_dtype(np.result_type(*arrs))
    return [a.astype(dt, copy=False) for a in arrs]


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def ntuple(value, nd, name, *, minimum=None):
    """Turn an int or a length-``nd`` sequence into a tuple of ``nd`` ints."""
    if _is_int(value):
        out = (int(value),) * nd
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(f"{name} must be an int or a sequence of {nd} ints, got {value!r}") from None
        if len(out) == 1 and nd != 1:
            out = out * nd
        if len(out) != nd or not all(_is_int(v) for v in out):
            raise ValueError(f"{name} must be an int or a sequence of {nd} ints, got {value!r}")
        out = tuple(int(v) for v in out)
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{name} must be >= {minimum} in every dimension, got {out}")
    return out


def pad_pairs(padding, nd, name="padding"):
    """Normalise padding to ``nd`` (lo, hi) pairs.

    Accepts an int (all sides), a sequence of ints (symmetric per axis) or a
    sequence of (lo, hi) pairs."""
    if _is_int(padding):
        pairs = ((int(padding), int(padding)),) * nd
    else:
        try:
            items = list(padding)
        except TypeError:
            raise ValueError(f"{name} must be an int or per-axis ints / (lo, hi) pairs, got {padding!r}") from None
        if len(items) == 1 and nd != 1:
            items = items * nd
        if len(items) != nd:
            raise ValueError(f"{name} needs {nd} entries (one per spatial axis), got {padding!r}")
        pairs = []
        for it in items:
            if _is_int(it):
                pairs.append((int(it), int(it)))
            else:
                try:
                    lo, hi = it
                except (TypeError, ValueError):
                    raise ValueError(f"{name} entries must be ints or (lo, hi) pairs, got {it!r}") from None
                if not (_is_int(lo) and _is_int(hi)):
                    raise ValueError(f"{name} entries must be ints or (lo, hi) pairs, got {it!r}")
                pairs.append((int(lo), int(hi)))
        pairs = tuple(pairs)
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        raise ValueError(f"negative {name} is not supported, got {pairs}")
    return pairs


def taps(kernel):
    """All kernel offsets (tuples) in C order."""
    return itertools.product(*(range(k) for k in kernel))


# --------------------------------------------------------------------------
# windowing
# --------------------------------------------------------------------------

def windows(xp, kernel, stride, dilation, what="kernel"):
    """Windowed view of the last ``len(kernel)`` axes of ``xp``.

    Returns a read-only view of shape ``(*lead, *L_out, *kernel)``.  The
    number of windows along each axis is whatever fits: it falls out of the
    view (``sliding_window_view`` over the dilated extent, then ``[::stride]``
    over window positions and ``[::dilation]`` inside each window)."""
    nd = len(kernel)
    spatial = xp.shape[xp.ndim - nd:]
    extent = []
    for L, k, d in zip(spatial, kernel, dilation):
        if k <= 0:
            raise ValueError(f"{what} size must be positive, got {tuple(kernel)}")
        e = (k - 1) * d + 1  # span of one dilated window
        if e > L:
            raise ValueError(
                f"{what} (size {tuple(kernel)}, dilation {tuple(dilation)}) is larger than the "
                f"padded input {tuple(spatial)}")
        extent.append(e)
    # sliding_window_view's own view, built directly (its argument checks cost more than a
    # small convolution): every start position along each axis, then the window's extent
    v = as_strided(xp, shape=xp.shape[:xp.ndim - nd] + tuple(L - e + 1 for L, e in zip(spatial, extent))
                   + tuple(extent), strides=xp.strides + xp.strides[xp.ndim - nd:], writeable=False)
    lead = (slice(None),) * (xp.ndim - nd)
    v = v[lead + tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)]
    return v


def window_starts(length, kernel, stride, dilation):
    """Start positions of the windows :func:`windows` yields along one axis
    of the given (padded) length (same view, same slicing)."""
    e = (kernel - 1) * dilation + 1
    if e > length:
        return np.zeros(0, dtype=np.int64)
    return sliding_window_view(np.arange(length), e)[::stride, 0]


# --------------------------------------------------------------------------
# workspace and threaded copy
# --------------------------------------------------------------------------

_tls = threading.local()
_pool = None
_pool_lock = threading.Lock()
_PAR_BYTES = 1 << 20


def _nthreads():
    for var in ("CONVCALC_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var)
        if v:
            try:
                n = int(v.split(",")[0])
            except ValueError:
                continue
            if n > 0:
                return min(n, os.cpu_count() or 1)
    return os.cpu_count() or 1


def _get_pool(n):
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="convcalc-copy")
        return _pool


def workspace(slot, shape, dtype):
    """A scratch array from a per-thread buffer that is reused across calls
    (avoids paying page faults on every large im2col).  Never return it."""
    dtype = np.dtype(dtype)
    nbytes = int(math.prod(shape)) * dtype.itemsize
    bufs = getattr(_tls, "bufs", None)
    if bufs is None:
        bufs = _tls.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 64), dtype=np.uint8)
        bufs[slot] = buf
    return buf[:nbytes].view(dtype).reshape(shape)


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_heap_steady = None


def steady_heap(limit: int = 32 << 20) -> bool:
    """Keep a network's activations out of fresh pages (glibc only; elsewhere
    a no-op that returns False).

    A forward pass allocates and frees arrays of a few MiB per layer.  By
    default glibc serves such arrays with mmap (or trims the heap after them),
    so each new one starts as untouched pages: on mobilenet_v2 that is about
    10,000 page faults and a third of the time per pass.  Arrays below
    ``limit`` are served from the heap instead, and freed memory below
    ``2 * limit`` is kept for the next one.  Process-wide and idempotent: the
    executor calls it before it runs a network."""
    global _heap_steady
    if _heap_steady is None:
        try:
            import ctypes
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError, TypeError):   # not glibc: no mallopt (macOS); CDLL(None) on Windows
            _heap_steady = False
        else:
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            _heap_steady = bool(mallopt(_M_MMAP_THRESHOLD, int(limit))) and \
                bool(mallopt(_M_TRIM_THRESHOLD, 2 * int(limit)))
    return _heap_steady


def release_workspace():
    """Drop this thread's scratch buffers."""
    _tls.bufs = {}


def copy_into(dst, src):
    """``dst[...] = src`` split over threads for large copies (numpy releases
    the GIL while copying)."""
    n = 1 if dst.nbytes < _PAR_BYTES else _nthreads()   # (small copies never ask for the pool)
    if n < 2:
        np.copyto(dst, src)
        return dst
    src = np.broadcast_to(src, dst.shape)
    for ax, ext in enumerate(dst.shape):
        if ext >= n:
            break
    else:
        np.copyto(dst, src)
        return dst
    cuts = [ext * i // n for i in range(n + 1)]
    pre = (slice(None),) * ax
    parts = [pre + (slice(a, b),) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    pool = _get_pool(n - 1)
    futs = [pool.submit(np.copyto, dst[p], src[p]) for p in parts[1:]]
    np.copyto(dst[parts[0]], src[parts[0]])
    for f in futs:
        f.result()
    return dst


# --------------------------------------------------------------------------
# padding
# --------------------------------------------------------------------------

_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad_spatial(x, pairs, mode="zeros", value=0.0, slot=None):
    """Pad the last ``len(pairs)`` axes of ``x``.

    mode: zeros / constant (with ``value``), reflect, replicate, circular --
    with torch's restrictions (reflect: pad < size; circular: pad <= size).
    With ``slot`` the constant-padded result lives in the workspace."""
    nd = len(pairs)
    spatial = x.shape[x.ndim - nd:]
    if all(lo == 0 and hi == 0 for lo, hi in pairs):
        return x
    if mode in ("zeros", "constant"):
        shape = x.shape[:x.ndim - nd] + tuple(L + lo + hi for L, (lo, hi) in zip(spatial, pairs))
        xp = workspace(slot, shape, x.dtype) if slot else np.empty(shape, x.dtype)
        lead = x.ndim - nd
        for i, (L, (lo, hi)) in enumerate(zip(spatial, pairs)):
            pre = (slice(None),) * (lead + i)
            if lo:
                xp[pre + (slice(0, lo),)] = value
            if hi:
                xp[pre + (slice(lo + L, None),)] = value
        interior = (slice(None),) * lead + tuple(slice(lo, lo + L) for L, (lo, _) in zip(spatial, pairs))
        copy_into(xp[interior], x)
        return xp
    if mode not in _NP_MODES:
        raise ValueError(f"padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular'; got {mode!r}")
    for L, (lo, hi) in zip(spatial, pairs):
        if L == 0 and (lo or hi):
            raise ValueError(f"cannot {mode}-pad an empty dimension")
        if mode == "reflect" and (lo >= L or hi >= L):
            raise ValueError(f"reflect padding {pairs} must be smaller than the input size {tuple(spatial)}")
        if mode == "circular" and (lo > L or hi > L):
            raise ValueError(f"circular padding {pairs} wraps around more than once for input size {tuple(spatial)}")
    full = ((0, 0),) * (x.ndim - nd) + tuple(pairs)
    return np.pad(x, full, mode=_NP_MODES[mode])


# --------------------------------------------------------------------------
# MAC tally
# --------------------------------------------------------------------------

def matmul_macs(a_shape, b_shape):
    """Multiply-accumulates of ``a @ b`` from the operand shapes:
    prod(broadcast batch) * M * K * N."""
    batch = np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    M, K = a_shape[-2], a_shape[-1]
    K2, N = b_shape[-2], b_shape[-1]
    assert K == K2
    return int(math.prod(batch)) * int(M) * int(K) * int(N)
