"""Regressions found by an adversarial review: each was a wrong number or a traceback."""
import subprocess
import sys

import pytest

import convcalc as cc
from convcalc.errors import ConvcalcError


def cli(*args):
    return subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ["layer", "upsample", "--input", "3x8x8", "--scale-factor", "-1"],
    ["layer", "upsample", "--input", "3x8x8", "--scale-factor", "0"],
    ["layer", "upsample", "--input", "3x8x8", "--scale-factor", "nan"],
    ["3x32x32 | upsample 0.0001"],
    ["3x8 | upsample 2 mode=bilinear"],
    ["verify", "alexnet", "--seed", "-1"],
    ["check", "alexnet", "--input", "3xHxW", "--expect-macs", "1G"],
    ["export", "alexnet", "-o", "/nonexistent-dir/x.py"],
    ["export", "alexnet", "--class-name", "class"],
    ["list", "--format", "latex"],
    ["alexnet", "--format", "csv", "--explain"],
    ["alexnet", "--format", "csv", "--bars"],
])
def test_bad_input_is_one_line_exit_2(args):
    r = cli(*args)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_upsample_scale_must_be_positive():
    with pytest.raises(ConvcalcError):
        cc.Upsample(scale_factor=-2)
    assert cc.analyze(cc.Sequential(cc.Upsample(scale_factor=2)), (3, 8, 8)).rows[0].output == (3, 16, 16)


def test_solve_takes_channels_from_the_output():
    r = cli("solve", "conv2d", "--input", "3x32x32", "--output", "8x16x16", "-k", "3", "-p", "1", "--find", "stride")
    assert r.returncode == 0 and r.stdout.strip() == "stride = 2"
    # a linear layer's out_features from a parameter budget: 784*128 + 128 = 100,480
    r = cli("solve", "linear", "--input", "784", "--params", str(784 * 128 + 128), "--find", "out_channels")
    assert r.returncode == 0 and r.stdout.strip() == "out_features = 128"


def test_one_liner_reads_its_shape_in_the_layout_given():
    r = cli("32x32x3 | conv 10 k3 p1", "--layout", "hwc", "--format", "json")
    import json

    assert json.loads(r.stdout)["layers"][0]["params"] == 10 * 3 * 3 * 3 + 10


def test_fractional_fields_print_as_fractions():
    from convcalc.sym import fmt
    from fractions import Fraction

    assert fmt(Fraction(4, 3)) == "4/3" and fmt(Fraction(1, 2)) == "0.5"


def test_from_torch_refuses_shared_weights_and_warns_about_unused_ones():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)
            self.d = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.d(self.d(self.c(x)))

    with pytest.raises(ConvcalcError, match="called 2 times"):
        cc.from_torch(Shared(), (3, 8, 8))

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.spare = nn.Linear(10, 10)

        def forward(self, x):
            return self.c(x)

    report = cc.analyze(cc.from_torch(Unused(), (3, 8, 8)))
    assert report.totals["params"] == 4 * 3 * 9 + 4
    assert any(f"{10 * 10 + 10:,} of the module's" in w for w in report.warnings)


# -- round 2: inputs that must be refused by name, and exact printing --------------------------------
def test_spec_paths_that_are_not_files(tmp_path):
    import os

    from convcalc.errors import ConvcalcError
    from convcalc.io import spec

    d = tmp_path / "net.yaml"
    d.mkdir()
    with pytest.raises(ConvcalcError, match="is a directory"):
        spec.load(str(d))
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConvcalcError, match="not a regular file"):
        spec.load(str(fifo))  # must not block


def test_control_characters_in_a_spec_name_are_refused():
    from convcalc.errors import ConvcalcError
    from convcalc.io import spec

    with pytest.raises(ConvcalcError, match="control characters"):
        spec.from_dict({"name": "ev\x1b[31mil", "input": [3, 8, 8], "layers": ["relu"]})


def test_binary_fractions_print_exactly():
    from fractions import Fraction

    from convcalc.sym import fmt

    assert fmt(Fraction(653, 32)) == "20.40625" and fmt(Fraction(-3, 4)) == "-0.75" and fmt(Fraction(1, 3)) == "1/3"


def test_api_rejects_booleans_and_wrong_kinds_of_arguments():
    import convcalc as cc
    from convcalc.errors import ConvcalcError

    for make in (lambda: cc.summary(cc.ReLU(), (True, 4, 4)), lambda: cc.Permute(dims=5), lambda: cc.Dropout(p="a"),
                 lambda: cc.AvgPool2d(2, divisor_override=0), lambda: cc.summary(cc.InstanceNorm2d(3), (3, 1, 1))):
        with pytest.raises(ConvcalcError):
            make()


def test_upsample_sizes_in_double_precision_and_arity():
    import convcalc as cc
    from convcalc.errors import ConvcalcError

    # torch: floor(50 * 2.3) in double precision is 114 (2.3 is 2.29999...)
    assert cc.summary(cc.Upsample(scale_factor=2.3), (1, 50, 50))[0].output == (1, 114, 114)
    with pytest.raises(ConvcalcError, match="2 spatial"):
        cc.summary(cc.Upsample(scale_factor=(2, 2, 2)), (1, 8, 8))


def test_add_broadcasts_like_torch():
    import convcalc as cc

    net = cc.Parallel([("pool", cc.AdaptiveAvgPool2d(1)), ("x", None)], combine="add")
    assert cc.summary(net, (3, 8, 8))[-1].output == (3, 8, 8)


def test_linear_over_a_spatial_axis_and_permuted_axes_have_the_right_field():
    import convcalc as cc

    # (C, H, W) = (1, 5, 7): a linear over W mixes all 7 columns; H stays pointwise
    r = cc.summary(cc.Linear(7, 3), (1, 5, 7))
    h, w = r[0].rf
    assert (h.size, h.jump) == (1, 1) and w.jump is None and w.size == 7
    # swap H and W, then a 3-wide window along the new last axis reaches along the input's H
    net = cc.Sequential(cc.Permute((0, 1, 3, 2)), cc.Conv2d(1, 1, (1, 3)))
    h, w = cc.summary(net, (1, 6, 9))[-1].rf
    assert h.size == 3 and w.size == 1


def test_norms_over_space_make_the_field_global():
    import convcalc as cc

    for norm in (cc.GroupNorm(1, 4), cc.InstanceNorm2d(4), cc.LayerNorm([4, 6, 6])):
        rf = cc.summary(cc.Sequential(cc.Conv2d(4, 4, 3, padding=1), norm), (4, 6, 6))[-1].rf
        assert all(a.is_global for a in rf), norm
    rf = cc.summary(cc.Sequential(cc.Conv2d(4, 4, 3, padding=1), cc.BatchNorm2d(4)), (4, 6, 6))[-1].rf
    assert not any(a.is_global for a in rf)  # inference: running statistics, pointwise
