"""verify --training: the backward executed over the graph in the NumPy core.

Expected backward MACs are written out as arithmetic (each matmul-bearing layer's input and
weight gradients each meet every (weight, output unit) pair once); broken backward kernels
must be caught (wrong shape by the gradient check, wrong values by finite differences)."""
import json

import numpy as np
import pytest

import convcalc as cc
import convcalc.kernels as K
from convcalc import verify_training as V
from convcalc.errors import ConvcalcError
from convcalc.training import TrainingOptions


def tiny():
    return cc.Sequential(cc.Conv2d(3, 8, 3, padding=1), cc.ReLU(), cc.MaxPool2d(2), cc.Conv2d(8, 16, 3, padding=1),
                         cc.BatchNorm2d(16), cc.ReLU(inplace=True), cc.Flatten(), cc.Linear(16 * 4 * 4, 10))


def measured(result):
    return {r.name: r.checks["bwd_macs"].measured for r in result.layers}


def test_tiny_network_backward_macs_by_hand():
    r = V.verify_training(tiny(), (3, 8, 8), batch=2)
    assert r.ok, [(x.name, x.checks) for x in r.layers if not x.ok]
    conv1, conv2, fc = 8 * 8 * 8 * 3 * 9, 16 * 4 * 4 * 8 * 9, 256 * 10
    m = measured(r)
    assert m["0"] == 2 * conv1                      # the image needs no gradient: dW only
    assert m["3"] == 2 * (conv2 + conv2) and m["7"] == 2 * (fc + fc)
    assert m["1"] == m["2"] == m["4"] == m["5"] == m["6"] == 0
    assert r.counts()["fd"] == (3, 0, 0) and all(p.ok for p in r.fd)


def test_grouped_depthwise_transposed_macs_by_hand():
    net = cc.Sequential(cc.Conv2d(4, 8, 3, padding=1), cc.Conv2d(8, 8, 3, padding=1, groups=4),
                        cc.Conv2d(8, 16, 3, stride=2, groups=8), cc.ConvTranspose2d(16, 6, 2, stride=2, groups=2),
                        cc.GroupNorm(2, 6), cc.GELU())
    r = V.verify_training(net, (4, 9, 9), batch=3)
    assert r.ok
    m, n = measured(r), 3
    assert m["0"] == n * 8 * 81 * 4 * 9                      # dW only
    assert m["1"] == n * 2 * (8 * 81 * 2 * 9)                # C_out * positions * C_in/g * k*k, twice
    assert m["2"] == n * 2 * (16 * 16 * 1 * 9)              # depthwise x2: 4x4 outputs
    assert m["3"] == n * 2 * (16 * 16 * 3 * 4)              # transposed: C_in * input positions * C_out/g * k*k


def test_frozen_layers_and_first_layer():
    r = V.verify_training(tiny(), (3, 8, 8), options=TrainingOptions(freeze=("0", "3")))
    assert r.ok
    m = measured(r)
    assert m["0"] == 0 and m["3"] == 0                       # frozen, fed by no gradient
    assert m["7"] == 2 * 256 * 10                           # bn trains upstream: dX and dW
    assert "dweight" not in r.layers[0].checks["grads"].measured and "dweight" in r.layers[7].checks["grads"].measured


def test_a_wrong_gradient_shape_is_caught(monkeypatch):
    good = V.BACKWARD.get(cc.MaxPool2d)

    def bad(c, dy):
        dxs, grads, macs = good(c, dy)
        return [dxs[0][..., :-1]], grads, macs

    monkeypatch.setitem(V.BACKWARD._entries, cc.MaxPool2d, bad)
    r = V.verify_training(tiny(), (3, 8, 8))
    assert not r.ok and r.counts()["grads"][1] == 1
    assert [x.name for x in r.layers if not x.ok] == ["2"]
    assert r.layers[2].checks["grads"].measured == "8x8x7"


def test_a_wrong_gradient_value_is_caught_by_finite_differences(monkeypatch):
    net = cc.Sequential(cc.Conv2d(3, 4, 3), cc.Sigmoid(), cc.Conv2d(4, 2, 3))
    monkeypatch.setitem(V.BACKWARD._entries, cc.Sigmoid, V._one(lambda c, dy: K.identity_backward(dy)))
    r = V.verify_training(net, (3, 7, 7), fd_points=2)
    assert r.counts()["bwd_macs"][1] == 0 and r.counts()["grads"][1] == 0
    bad = [p for p in r.fd if not p.ok]
    assert [p.name for p in bad] == ["0"] and not r.ok          # the first conv's gradient went through it


class Doubler(cc.Layer):
    """A kind with a forward kernel and no backward (every built-in kind has one)."""

    kind = "doubler"

    def infer(self, shape):
        return cc.Inference(shape=tuple(shape))


def test_memory_guard_and_missing_backward(monkeypatch):
    with pytest.raises(ConvcalcError, match="training step"):
        V.verify_training(tiny(), (3, 8, 8), max_memory=1000)
    from convcalc.verify import KERNELS, Kernel

    monkeypatch.setitem(KERNELS._entries, Doubler, Kernel(lambda l, x, w, b: (2 * x, 0)))
    with pytest.raises(ConvcalcError, match="no NumPy backward kernel for layer kind 'doubler'"):
        V.verify_training(cc.Sequential(cc.Conv2d(3, 4, 1), Doubler()), (3, 4, 4))


def test_estimate_covers_the_backward():
    r = cc.analyze(tiny(), (3, 8, 8), batch=2, training=TrainingOptions())
    from convcalc.graph import to_graph

    need, keys = V.training_need(r, to_graph(tiny()), 3, 2**31)
    forward_outputs = 2 * 4 * (8 * 64 + 8 * 64 + 8 * 16 + 16 * 16 * 3 + 256 + 10)
    assert need > forward_outputs + 2 * r.totals["params"] * 4
    assert set(keys) >= {"3", "4", "7"}


def _cli(*args):
    from click.testing import CliRunner

    from convcalc.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_cli_verify_training():
    spec = "3x8x8 | conv 8 k3 p1 | relu | maxpool 2 | flatten | linear 10"
    r = _cli("verify", spec, "--training")
    assert r.exit_code == 0, r.output
    assert "Bwd MACs" in r.output and "finite differences 2/2" in r.output
    r = _cli("verify", spec, "--training", "--format", "json", "--batch", "2")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    rows = {x["name"]: x for x in d["layers"]}
    assert d["training"] and d["ok"]
    assert rows["0"]["checks"]["bwd_macs"]["measured"] == 2 * 8 * 64 * 27                # dW only
    assert rows["4"]["checks"]["bwd_macs"]["measured"] == 2 * 2 * 128 * 10               # dX and dW
    r = _cli("verify", spec, "--training", "--max-memory", "1KiB")
    assert r.exit_code == 2 and "training step" in r.output and "Traceback" not in r.output


def test_kernels_stay_numpy_only():
    import ast
    from pathlib import Path

    for f in Path(K.__file__).parent.glob("backward*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    if getattr(node, "level", 0) == 0:
                        assert name.split(".")[0] in {"numpy", "math", "itertools", "__future__"}, (f.name, name)
    assert np is not None


def test_finite_differences_check_coordinates_the_gradient_reaches():
    """Only output channel 0 of the conv is read on, so 7/8 of its weights have a zero gradient:
    a check there compares 0 with 0. The point is taken where the backward's gradient is not
    zero (uniform picks would all land on channel 0 in 8 seeds with probability 8^-8)."""
    net = cc.Sequential(cc.Conv2d(3, 8, 3), cc.layers.ChannelSlice(0, 1), cc.Flatten(), cc.Linear(25, 2))
    for seed in range(8):
        r = V.verify_training(net, (3, 7, 7), seed=seed, fd_points=2)
        conv = next(p for p in r.fd if p.name == "0")
        assert r.ok and conv.index[0] == 0 and conv.analytic != 0 and conv.numeric != 0
