"""The NumPy core's fast paths (issue #17) against PyTorch, each forced on and off so that
both sides of every size threshold are exercised on small inputs:

* stride-1 convolutions whose im2col is copied on the padded row pitch (``_flat_gemm``);
* channels-first depthwise convolution as per-channel matrix-vector products over copied tap
  columns, in blocks of one, a few or all channels;
* layers of the mobile networks' sizes on the path their size picks (depthwise both layouts,
  global average pool, batch norm), float32 in and out.

Tolerances are float32's: the products sum in a different order than torch's.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convcalc.kernels as K

torch = pytest.importorskip("torch")
F = torch.nn.functional
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_CONV = importlib.import_module("convcalc.kernels.conv")


def _close32(ours, ref, rtol=1e-4):
    ref = np.asarray(ref)
    assert ours.shape == ref.shape and ours.dtype == np.float32, (ours.shape, ref.shape, ours.dtype)
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=3e-6 * scale)


def _flat_both(fn):
    """fn() with the pitch-flat im2col taken for every stride-1 conv, then for none."""
    saved = _CONV._FLAT_EXTRA
    try:
        out = []
        for extra in (math.inf, -1.0):
            _CONV._FLAT_EXTRA = extra
            out.append(fn())
        return out
    finally:
        _CONV._FLAT_EXTRA = saved


@st.composite
def flat_cfgs(draw):
    nd = draw(st.integers(1, 3))
    g = draw(st.integers(1, 2))
    return dict(nd=nd, N=draw(st.integers(1, 2)), g=g, Cg=draw(st.integers(1, 4)), Cog=draw(st.integers(1, 4)),
                k=tuple(draw(st.integers(1, 3)) for _ in range(nd)),
                d=tuple(draw(st.integers(1, 2)) for _ in range(nd)),
                pads=tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd)),
                L=tuple(draw(st.integers(3, {1: 40, 2: 17, 3: 6}[nd])) for _ in range(nd)),
                mode=draw(st.sampled_from(["zeros", "zeros", "reflect", "circular"])),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


@settings(max_examples=120, **SETTINGS)
@given(flat_cfgs())
def test_stride1_conv_both_im2col_layouts_vs_torch(c):
    rng = np.random.default_rng(c["seed"])
    C, Co, nd = c["g"] * c["Cg"], c["g"] * c["Cog"], c["nd"]
    x = rng.standard_normal((c["N"], C) + c["L"], dtype=np.float32)
    w = rng.standard_normal((Co, c["Cg"]) + c["k"], dtype=np.float32)
    b = rng.standard_normal(Co, dtype=np.float32) if c["bias"] else None
    pads = tuple((min(lo, L - 1), min(hi, L - 1)) for (lo, hi), L in zip(c["pads"], c["L"]))  # reflect: pad < L
    if any((k - 1) * d + 1 > L + lo + hi for k, d, L, (lo, hi) in zip(c["k"], c["d"], c["L"], pads)):
        return
    flat = [v for pair in reversed(pads) for v in pair]
    xt = F.pad(torch.from_numpy(x), flat, mode="constant" if c["mode"] == "zeros" else c["mode"])
    ref = getattr(F, f"conv{nd}d")(xt, torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                                   stride=1, dilation=c["d"], groups=c["g"]).numpy()
    for y, macs in _flat_both(lambda: K.conv(x, w, b, 1, pads, c["d"], c["g"], c["mode"])):
        _close32(y, ref)
        assert y.flags.c_contiguous
        # C_out * prod(L_out) * C_in/g * prod(k) * N, L_out as torch found it: the pitch's extra
        # columns are computed and cropped, never counted
        assert macs == Co * math.prod(ref.shape[2:]) * c["Cg"] * math.prod(c["k"]) * c["N"]


def test_flat_layout_is_taken_for_resnet_sized_convs():
    """The threshold picks the pitch-flat copy for a 3x3 stride-1 conv on a 56x56 grid (58/56 of
    the columns) and not on a 7x7 one (9/7); its result is torch's either way."""
    assert _CONV._flat_pays((1, 1), (3, 3), (58, 58), (56, 56))
    assert not _CONV._flat_pays((1, 1), (3, 3), (9, 9), (7, 7))
    assert not _CONV._flat_pays((2, 2), (3, 3), (30, 30), (14, 14))
    assert not _CONV._flat_pays((1, 1), (1, 1), (28, 28), (28, 28))      # x itself is the matrix
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 16, 56, 56), dtype=np.float32)
    w = rng.standard_normal((24, 16, 3, 3), dtype=np.float32)
    y, _ = K.conv(x, w, None, 1, 1)
    _close32(y, F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy())


@st.composite
def dw_cfgs(draw):
    nd = draw(st.integers(1, 3))
    return dict(nd=nd, N=draw(st.integers(1, 2)), C=draw(st.integers(1, 5)), m=draw(st.integers(1, 2)),
                k=tuple(draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd)),
                s=tuple(draw(st.sampled_from([1, 1, 2, 3])) for _ in range(nd)),
                d=tuple(draw(st.integers(1, 2)) for _ in range(nd)),
                pads=tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd)),
                L=tuple(draw(st.integers(1, {1: 30, 2: 12, 3: 5}[nd])) for _ in range(nd)),
                block=draw(st.sampled_from([1, 7, 1 << 18])), seed=draw(st.integers(0, 2**31 - 1)))


@settings(max_examples=120, **SETTINGS)
@given(dw_cfgs())
def test_depthwise_matrix_vector_taps_vs_torch(c):
    """Channels-first depthwise: the taps' columns copied per block of channels (one channel per
    block, a few, or all) and multiplied by the taps' weights, against torch in float32."""
    rng = np.random.default_rng(c["seed"])
    nd, C, Co = c["nd"], c["C"], c["C"] * c["m"]
    x = rng.standard_normal((c["N"], C) + c["L"], dtype=np.float32)
    w = rng.standard_normal((Co, 1) + c["k"], dtype=np.float32)
    if any((k - 1) * d + 1 > L + lo + hi for k, d, L, (lo, hi) in zip(c["k"], c["d"], c["L"], c["pads"])):
        return
    flat = [v for pair in reversed(c["pads"]) for v in pair]
    ref = getattr(F, f"conv{nd}d")(F.pad(torch.from_numpy(x), flat), torch.from_numpy(w), stride=c["s"],
                                   dilation=c["d"], groups=C).numpy()
    saved = _CONV._DW_FEW_CHANNELS, _CONV._DW_LONG_RUN, _CONV._DW_BLOCK
    try:
        _CONV._DW_FEW_CHANNELS, _CONV._DW_LONG_RUN, _CONV._DW_BLOCK = 10**9, 1, c["block"]
        y, macs = K.conv(x, w, None, c["s"], c["pads"], c["d"], C)
    finally:
        _CONV._DW_FEW_CHANNELS, _CONV._DW_LONG_RUN, _CONV._DW_BLOCK = saved
    _close32(y, ref)
    assert y.flags.c_contiguous
    assert macs == Co * math.prod(ref.shape[2:]) * math.prod(c["k"]) * c["N"]


def test_mobile_sized_layers_vs_torch():
    """Layers of mobilenet_v2/efficientnet_b0's sizes, each on the path its size picks: depthwise
    channels-first (32@112, 144@56 stride 2) and channels-last (672@14 5x5), the global average
    pool of a squeeze-excitation block, batch norm: float32 in, float32 out, torch's values."""
    rng = np.random.default_rng(5)
    for C, L, k, s in [(32, 112, 3, 1), (144, 56, 3, 2), (672, 14, 5, 1)]:
        x = rng.standard_normal((1, C, L, L), dtype=np.float32)
        w = rng.standard_normal((C, 1, k, k), dtype=np.float32)
        y, _ = K.conv(x, w, None, s, k // 2, 1, C)
        _close32(y, F.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, s, k // 2, 1, C).numpy())
    x = rng.standard_normal((2, 240, 28, 28), dtype=np.float32)
    y, _ = K.adaptive_avg_pool(x, 1)
    _close32(y, F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy())
    m, g, b = (rng.standard_normal(240, dtype=np.float32) for _ in range(3))
    v = rng.random(240, dtype=np.float32) + np.float32(0.5)
    y, _ = K.batch_norm(x, m, v, g, b, 1e-3)
    T = torch.from_numpy
    _close32(y, F.batch_norm(T(x), T(m), T(v), T(g), T(b), False, 0.1, 1e-3).numpy())
