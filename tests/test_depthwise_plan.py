"""The depthwise kernel's geometry plan (cached per shape) follows the layout thresholds in force
at the call: a cached plan must not keep the layout chosen under other thresholds (the tests that
run every case in both layouts set them)."""
import importlib

import numpy as np
import pytest

conv_mod = importlib.import_module("convcalc.kernels.conv")  # (the package's ``conv`` is the function)
conv = conv_mod.conv


@pytest.mark.parametrize("first", ["last", "first"])
def test_each_call_uses_the_layout_its_thresholds_pick(monkeypatch, first):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    C = 8
    x = rng.standard_normal((2, C, 9, 7)).astype(np.float32) + 1   # a geometry no other test uses
    w = rng.standard_normal((2 * C, 1, 3, 2)).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.from_numpy(x), (0, 1, 2, 1)),
                                     torch.from_numpy(w), stride=(2, 1), dilation=(1, 2), groups=C).numpy()
    used = []
    real_first, real_einsum = conv_mod._dw_first, conv_mod._dw_einsum
    monkeypatch.setattr(conv_mod, "_dw_first", lambda *a: (used.append("first"), real_first(*a))[1])
    monkeypatch.setattr(conv_mod, "_dw_einsum", lambda *a: (used.append("last"), real_einsum(*a))[1])
    force = {"first": (10**9, 1), "last": (1, 10**9)}       # (_DW_FEW_CHANNELS, _DW_LONG_RUN)
    for layout in (first, "first" if first == "last" else "last"):
        monkeypatch.setattr(conv_mod, "_DW_FEW_CHANNELS", force[layout][0])
        monkeypatch.setattr(conv_mod, "_DW_LONG_RUN", force[layout][1])
        used.clear()
        y, macs = conv(x, w, stride=(2, 1), padding=((2, 1), (0, 1)), dilation=(1, 2), groups=C)
        assert set(used) == {layout}
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
        # N * C_out * prod(L_out) * prod(k)
        assert macs == 2 * 16 * ref.shape[2] * ref.shape[3] * 3 * 2
