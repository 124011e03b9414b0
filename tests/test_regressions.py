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
