"""Every convention against the real tool, on every zoo model's PyTorch twin (see tests/peers.py):
fvcore, ptflops 0.7.5, torchinfo 1.8.0 and ultralytics-thop 2.2.3, as the ``peers`` extra pins them.
Each tool's total must equal ``conventions.count`` exactly. Skipped without torchvision or without
any of the tools; a tool that is not installed is left out."""
import pytest

import peers

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not peers.available(), reason='no peer tool installed (pip install ".[peers]")')]

#: rows the torchvision source computes with an op no tool counts, where the zoo has a layer a tool
#: would count: ShuffleNetV2 pools with ``x.mean([2, 3])``, the zoo with an adaptive average pool
NOT_A_MODULE = {"shufflenet_v2_x1_0": "mean"}


def _names():
    from convcalc import zoo

    return zoo.names()


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", _names())
def test_each_tool_prints_the_emulated_total(name):
    import convcalc as cc
    from convcalc.conventions import count, row_ops

    if name in peers.TORCHVISION and peers.tv.load() is None:
        pytest.skip("torchvision not installed (see tests/tv.py)")
    model, module = peers.twin(name)
    report = cc.analyze(model)
    if name not in peers.TORCHVISION:  # the export writes every layer as a module
        for row in report.rows:
            if row.layer is not None:
                row.layer.functional = False
    got = peers.totals(module, model.input)
    skip = [r for r in report.rows if r.name == NOT_A_MODULE.get(name)]
    assert got == {tool: count(report, tool) - sum(row_ops(r, tool) for r in skip) for tool in got}


def _kinds():
    """Layers the zoo does not have, in the forms the tools treat differently."""
    import convcalc as cc
    from convcalc import layers as L

    return cc.Sequential(
        cc.Conv2d(3, 8, 3, padding=1), L.InstanceNorm2d(8, affine=True), L.PReLU(8), L.LayerScale(8),
        cc.ConvTranspose2d(8, 8, 2, stride=2),
        L.GroupNorm(2, 8), L.ELU(), L.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        L.LeakyReLU(), L.Upsample(scale_factor=2, mode="bilinear"), L.BatchNorm2d(8, affine=False), L.GELU(),
        L.AdaptiveAvgPool2d(3), L.Upsample(scale_factor=2, mode="nearest"), L.SiLU(), L.Tanh(),
        L.AdaptiveMaxPool2d(2), L.Softmax(dim=1), L.LayerNorm(2), L.Flatten(), L.Linear(32, 10), L.LogSoftmax(dim=1))


def test_every_tool_on_the_other_kinds():
    import convcalc as cc
    from convcalc.conventions import count
    from convcalc.io.export import to_torch_source

    model = cc.analyze(_kinds(), (3, 13, 13))
    ns = {}
    exec(compile(to_torch_source(_kinds(), input=(3, 13, 13)), "kinds", "exec"), ns)
    got = peers.totals(ns["Net"]().eval(), (3, 13, 13))
    assert got == {tool: count(model, tool) for tool in got}


@pytest.mark.parametrize("shape, kw", [((4, 37), dict(scale_factor=1.5, mode="linear")),
                                       ((2, 5, 5), dict(scale_factor=1.5)),
                                       ((2, 5, 5), dict(scale_factor=(1.5, 2.0), mode="bilinear")),
                                       ((2, 5, 5), dict(size=(9, 11)))])
def test_ptflops_on_fractional_upsampling(shape, kw):
    import torch

    import convcalc as cc
    from convcalc import layers as L
    from convcalc.conventions import count

    got = peers.run("ptflops", torch.nn.Sequential(torch.nn.Upsample(**kw)), shape)
    if got is None:
        pytest.skip("ptflops is not installed")
    assert got == count(cc.analyze(cc.Sequential(L.Upsample(**kw)), shape), "ptflops")
