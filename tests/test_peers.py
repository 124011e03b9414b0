"""Every convention against the real tool, on every zoo model's PyTorch twin (see tests/peers.py):
fvcore, ptflops 0.7.5, torchinfo 1.8.0 and ultralytics-thop 2.2.3, as the ``peers`` extra pins them.
Each tool's total must equal ``conventions.count`` exactly. Skipped without torchvision or without
any of the tools; a tool that is not installed is left out."""
import pytest

import peers

pytestmark = pytest.mark.skipif(not peers.available(), reason='no peer tool installed (pip install ".[peers]")')

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

    model, module = peers.twin(name)
    report = cc.analyze(model)
    if name not in peers.TORCHVISION:  # the export writes every layer as a module
        for row in report.rows:
            if row.layer is not None:
                row.layer.functional = False
    got = peers.totals(module, model.input)
    skip = [r for r in report.rows if r.name == NOT_A_MODULE.get(name)]
    assert got == {tool: count(report, tool) - sum(row_ops(r, tool) for r in skip) for tool in got}
