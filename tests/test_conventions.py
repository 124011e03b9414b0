"""Peers' operation counts, from the formulas in each tool's source (see conventions.py)."""
import pytest

import convcalc as cc
from convcalc import zoo
from convcalc.conventions import count

NET = cc.Sequential(
    cc.Conv2d(3, 8, 3, padding=1), cc.BatchNorm2d(8), cc.ReLU(), cc.MaxPool2d(2),
    cc.ConvTranspose2d(8, 4, 2, stride=2), cc.AdaptiveAvgPool2d(2), cc.Flatten(), cc.Linear(16, 10),
)
# per sample, input 3x8x8:
CONV = 8 * 8 * 8 * 3 * 9          # conv MACs: C_out * H*W * C_in * k*k
CONV_BIAS = 8 * 8 * 8             # one add per output element
BN = 8 * 8 * 8                    # elements
RELU = 8 * 8 * 8
POOL_IN = 8 * 8 * 8
CONVT_IN = 8 * 4 * 4 * 4 * 4      # C_in * H_in*W_in * C_out * k*k (input positions)
CONVT_OUT = 4 * 8 * 8 * 8 * 4     # k*k * C_in * C_out * H_out*W_out (output positions)
CONVT_BIAS = 4 * 8 * 8
ADAPT_IN, ADAPT_OUT = 4 * 8 * 8, 4 * 2 * 2
LIN = 16 * 10


def test_convcalc_and_torchvision():
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "convcalc") == count(r, "torchvision") == CONV + CONVT_IN + LIN


def test_fvcore():
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "fvcore") == CONV + 2 * BN + CONVT_IN + ADAPT_IN + LIN


def test_ptflops():
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "ptflops") == (CONV + CONV_BIAS + 2 * BN + RELU + POOL_IN + CONVT_OUT + CONVT_BIAS + ADAPT_IN
                                   + LIN + 10)


def test_torchinfo():
    r = cc.analyze(NET, (3, 8, 8))
    conv = (8 * 3 * 9 + 8) * 8 * 8
    convt = (8 * 4 * 4 + 4) * 8 * 8
    assert count(r, "torchinfo") == conv + 2 * 8 + convt + (16 * 10 + 10)


def test_thop():
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "thop") == CONV + 4 * BN + CONVT_IN + (4 * 4 + 1) * ADAPT_OUT + 16 * 10


def test_published_alexnet_figures():
    r = cc.analyze(zoo.get("alexnet-torchvision"))
    # torchvision AlexNet_Weights.IMAGENET1K_V1 "_ops": 0.714 (GFLOPS column, really GMACs)
    assert round(count(r, "torchvision") / 1e9, 3) == 0.714
    # ptflops README benchmark table (pytorch backend, 224x224): alexnet 0.72 GMac
    assert round(count(r, "ptflops") / 1e9, 2) == 0.72


def test_batch_scales_every_convention():
    one = cc.analyze(NET, (3, 8, 8))
    four = cc.analyze(NET, (3, 8, 8), batch=4)
    for c in ("fvcore", "ptflops", "torchinfo", "thop"):
        assert count(four, c) == pytest.approx(4 * count(one, c))


def test_json_per_layer_is_a_list_of_rows_that_sums_to_the_total(run):
    import json

    out = json.loads(run("resnet50", "--convention", "ptflops", "--format", "json").stdout)
    conv = out["convention"]
    rows = conv["per_layer"]
    assert [r["name"] for r in rows] == [layer["name"] for layer in out["layers"]]  # repeated names kept
    assert len({r["name"] for r in rows}) < len(rows)  # torchvision's Bottleneck reuses self.relu
    assert sum(r["value"] for r in rows) == conv["total"]
    assert {"name", "kind", "value"} == set(rows[0])


def test_rows_follow_the_layer_class_not_its_name():
    # Hardswish subclasses ReLU in convcalc, but ptflops counts only the ReLU family
    r = cc.analyze(cc.Sequential(cc.ReLU(), cc.Hardswish()), (2, 4, 4))
    from convcalc.conventions import row_ops

    assert [row_ops(x, "ptflops") for x in r.rows] == [2 * 4 * 4, 0]
