"""Engine vs NumPy core: over random layer configurations they agree, or both reject.

The engine's numbers come from formulas; the core's from executing the layer (sizes
from the windowing, MACs from its matmuls, parameters from the arrays it was given,
receptive fields from impulse propagation). Neither imports the other.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import convcalc as cc
from convcalc.errors import ConvcalcError
from convcalc.verify import execute, verify


@st.composite
def layer_configs(draw):
    kind = draw(st.sampled_from(["conv", "convT", "maxpool", "avgpool", "adaptive", "linear", "bn", "lrn"]))
    nd = draw(st.integers(1, 3)) if kind != "linear" else 1
    size = st.integers(1, 12 if nd < 3 else 6)
    spatial = tuple(draw(size) for _ in range(nd))
    c_in = draw(st.sampled_from([1, 2, 3, 4, 6]))
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, 3))
    if kind == "conv":
        g = draw(st.sampled_from([1, 2, 3]))
        c_out = g * draw(st.integers(1, 3))
        mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
        padding = draw(st.sampled_from([p, "same", "valid"])) if s == 1 else p
        cls = [cc.Conv1d, cc.Conv2d, cc.Conv3d][nd - 1]
        make = lambda: cls(None, c_out, k, stride=s, padding=padding, dilation=d, groups=g,  # noqa: E731
                           bias=draw(st.booleans()), padding_mode=mode)
    elif kind == "convT":
        g = draw(st.sampled_from([1, 2]))
        c_out = g * draw(st.integers(1, 3))
        op = draw(st.integers(0, 2))
        cls = [cc.ConvTranspose1d, cc.ConvTranspose2d, cc.ConvTranspose3d][nd - 1]
        make = lambda: cls(None, c_out, k, stride=s, padding=p, output_padding=op, dilation=d,  # noqa: E731
                           groups=g)
    elif kind == "maxpool":
        cls = [cc.MaxPool1d, cc.MaxPool2d, cc.MaxPool3d][nd - 1]
        make = lambda: cls(k, s, padding=p, dilation=d, ceil_mode=draw(st.booleans()))  # noqa: E731
    elif kind == "avgpool":
        cls = [cc.AvgPool1d, cc.AvgPool2d, cc.AvgPool3d][nd - 1]
        make = lambda: cls(k, s, padding=p, ceil_mode=draw(st.booleans()),  # noqa: E731
                           count_include_pad=draw(st.booleans()))
    elif kind == "adaptive":
        cls = draw(st.sampled_from([[cc.AdaptiveAvgPool1d, cc.AdaptiveAvgPool2d, cc.AdaptiveAvgPool3d],
                                    [cc.AdaptiveMaxPool1d, cc.AdaptiveMaxPool2d, cc.AdaptiveMaxPool3d]]))[nd - 1]
        out = draw(st.integers(1, 5))
        make = lambda: cls(out)  # noqa: E731
    elif kind == "linear":
        make = lambda: cc.Linear(None, draw(st.integers(1, 9)), bias=draw(st.booleans()))  # noqa: E731
    elif kind == "bn":
        cls = [cc.BatchNorm1d, cc.BatchNorm2d, cc.BatchNorm3d][nd - 1]
        make = lambda: cls(c_in, affine=draw(st.booleans()))  # noqa: E731
    else:
        make = lambda: cc.LocalResponseNorm(draw(st.integers(1, 5)))  # noqa: E731
    batch = draw(st.integers(1, 2))
    return kind, make, (c_in, *spatial), batch


def kernel_accepts(layer, shape, batch) -> bool:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape)).astype(np.float32)
    try:
        execute(layer, [x], rng)  # weights of PyTorch's shapes from the layer's arguments
    except ValueError:
        return False
    return True


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(layer_configs())
def test_engine_and_core_agree_or_both_reject(cfg):
    kind, make, shape, batch = cfg
    try:
        layer = make()
    except ConvcalcError:
        return  # rejected on its own hyper-parameters (PyTorch rejects these at construction too)
    try:
        cc.analyze(cc.Sequential(layer), shape, batch=batch)
        engine_ok = True
    except ConvcalcError:
        engine_ok = False
    core_ok = kernel_accepts(layer, shape, batch)
    assert engine_ok == core_ok, (kind, layer, shape)
    if engine_ok:
        result = verify(cc.Sequential(layer), shape, batch=batch)
        bad = {q: (c.claimed, c.measured) for r in result.layers for q, c in r.checks.items() if c.ok is False}
        assert not bad, (kind, layer, shape, bad)


def test_engine_field_of_a_linear_over_space():
    """A linear over W reads every position of W: the engine's field and verify's measurement agree."""
    result = verify(cc.Sequential(cc.Linear(None, 3)), (1, 2, 5))
    assert result.layers[0].checks["rf"].ok


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(0, 1), st.integers(1, 2),
                          st.sampled_from(["conv", "max", "avg"])), min_size=1, max_size=5),
       st.integers(8, 30))
def test_stacks_verify(stack, size):
    """Receptive fields of random stacks: engine arithmetic == measured dependency."""
    layers = []
    for k, s, p, d, what in stack:
        p = min(p, k // 2)
        if what == "conv":
            layers.append(cc.Conv2d(None, 3, k, stride=s, padding=p, dilation=d))
        elif what == "max":
            layers.append(cc.MaxPool2d(k, s, padding=p, dilation=d))
        else:
            layers.append(cc.AvgPool2d(k, s, padding=p))
    net = cc.Sequential(*layers)
    try:
        cc.analyze(net, (3, size, size + 3))
    except ConvcalcError:
        return
    result = verify(net, (3, size, size + 3))
    assert result.ok, [(r.name, {q: (c.claimed, c.measured) for q, c in r.checks.items() if not c.ok})
                       for r in result.layers if not r.ok]


def test_branches_union_receptive_field():
    # Inception-like: 1x1, 3x3 and 5x5 branches joined; a strided residual with projection
    net = cc.Sequential(
        cc.Conv2d(3, 8, 3, stride=2, padding=1),
        cc.Concat(("a", cc.Conv2d(8, 4, 1)), ("b", cc.Conv2d(8, 4, 3, padding=1)),
                  ("c", cc.Sequential(cc.Conv2d(8, 4, 5, padding=2), cc.MaxPool2d(3, 1, padding=1)))),
        cc.Residual(cc.Sequential(cc.Conv2d(12, 16, 3, stride=2, padding=1), cc.ReLU(), cc.Conv2d(16, 16, 3, padding=1)),
                    cc.Sequential(cc.Conv2d(12, 16, 1, stride=2))),
    )
    r = cc.analyze(net, (3, 40, 40))
    c = r.row("1.cat")
    assert c.output == (12, 20, 20)
    # union of 1x1, 3x3, 5x5+3x3 branches after a stride-2 3x3: 3 + (5-1)*2 + (3-1)*2
    assert c.rf[0].size == 3 + 4 * 2 + 2 * 2
    assert verify(net, (3, 40, 40)).ok


def test_verify_catches_a_wrong_claim(monkeypatch):
    from convcalc.layers import conv

    real = conv._ConvNd.infer

    def off_by_one(self, shape):
        inf = real(self, shape)
        inf.macs += 1
        return inf

    monkeypatch.setattr(conv._ConvNd, "infer", off_by_one)
    result = verify(cc.Sequential(cc.Conv2d(3, 4, 3)), (3, 8, 8))
    assert not result.ok
    assert result.layers[0].checks["macs"].claimed == result.layers[0].checks["macs"].measured + 1


def test_verify_catches_a_wrong_receptive_field(monkeypatch):
    from convcalc.layers import pool

    real = pool._PoolNd.infer

    def wrong_window(self, shape):
        inf = real(self, shape)
        inf.windows = tuple(type(w)(k=w.k + 1, s=w.s, p=w.p) for w in inf.windows)
        return inf

    monkeypatch.setattr(pool._PoolNd, "infer", wrong_window)
    result = verify(cc.Sequential(cc.Conv2d(3, 4, 3), cc.MaxPool2d(2)), (3, 16, 16))
    assert not result.layers[1].checks["rf"].ok


def test_memory_guard_and_symbols():
    from convcalc import zoo
    from convcalc.errors import NeedsNumber
    from convcalc.sym import dims

    with pytest.raises(ConvcalcError, match="budget; the largest buffer is features"):
        verify(zoo.get("alexnet"), batch=64, max_memory=100 * 2**20)
    H, W = dims("H W")
    with pytest.raises(NeedsNumber):
        verify(zoo.get("alexnet"), (3, H, W))
