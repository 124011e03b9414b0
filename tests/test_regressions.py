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


def test_from_torch_counts_shared_weights_once_and_warns_about_unused_ones():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)
            self.d = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.d(self.d(self.c(x)))

    # a module called twice: its weights are counted once, its MACs at every call
    shared = cc.analyze(cc.from_torch(Shared(), (3, 8, 8)))
    assert shared.totals["params"] == (4 * 3 * 9 + 4) + (4 * 4 * 9 + 4)
    assert shared.totals["macs"] == 4 * 64 * 3 * 9 + 2 * (4 * 64 * 4 * 9)

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


# -- verify measures what the layer does, whatever the engine claims -----------------------------------
def _rf_measured(net, shape, row):
    from convcalc.verify import verify

    result = verify(net, shape)
    check = next(r for r in result.layers if r.name == row).checks["rf"]
    return check.measured.split(" x ")


def test_verify_measures_a_linear_over_a_spatial_axis():
    # (1, 6, 10) -> Linear(10, 4) on W: every output reads all 10 W pixels of its row. This used
    # to crash verify with a matmul ValueError (a dense probe matrix of the wrong size).
    net = cc.Sequential(("fc", cc.Linear(10, 4)))
    h, w = _rf_measured(net, (1, 6, 10), "fc")
    assert h == f"[{6 // 2}, {6 // 2}]"      # unit 3 of H sees row 3 only
    assert w == "[0, 9]"                      # and the whole width


def test_verify_measures_a_permute_of_spatial_axes():
    # (1, 8, 12) -> conv (3, 1) -> (1, 6, 12) -> permute H and W -> (1, 12, 6). The input's H now
    # runs along output dim 2 (6 units: unit 3 sees rows 3..5), its W along output dim 1 (12 units:
    # unit 6 sees column 6). This used to crash verify (a probe matrix of the wrong size).
    net = cc.Sequential(("conv", cc.Conv2d(1, 1, (3, 1))), ("swap", cc.Permute((0, 1, 3, 2))))
    assert _rf_measured(net, (1, 8, 12), "swap") == ["[3, 5]", "[6, 6]"]


def test_verify_follows_a_channels_last_block():
    # ConvNeXt: permute to (H, W, C), Linear over C, permute back: the fields stay per pixel
    from convcalc.verify import verify

    net = cc.Sequential(cc.Conv2d(3, 4, 3), cc.Permute((0, 2, 3, 1)), cc.Linear(4, 8), cc.Permute((0, 3, 1, 2)))
    result = verify(net, (3, 9, 11))
    assert result.ok and [r.checks["rf"].measured for r in result.layers][2] == "[3, 5] x [4, 6]"


@pytest.mark.parametrize("line", ["1x6x10 | linear 4", "1x8x12 | conv 1 k3 | permute dims=[0,1,3,2]"])
def test_verify_of_axis_changing_layers_never_tracebacks(line):
    r = cli("verify", line)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr[-500:]


def test_verify_counts_parameters_from_the_arrays_it_creates(monkeypatch):
    # verify builds weights from the layer's constructor arguments, so a wrong weight_shapes()
    # cannot make a wrong parameter count agree with itself
    from convcalc.layers import conv
    from convcalc.verify import verify

    monkeypatch.setattr(conv._ConvNd, "weight_shapes", lambda self, shape: {"weight": (1,)})
    result = verify(cc.Sequential(cc.Conv2d(3, 4, 3)), (3, 8, 8))
    assert result.layers[0].checks["params"].measured == (4 * 3 * 3 * 3 + 4, 0)
    assert result.ok


def test_verify_of_a_long_1d_input_is_linear():
    # the old dense probe held a 100000 x 100000 matrix; per-position intervals need O(L)
    from convcalc.verify import estimate_bytes, verify

    net = cc.Sequential(cc.Conv1d(1, 1, 3))
    assert estimate_bytes(cc.analyze(net, (1, 100000)))[0] < 256 * 2**20
    result = verify(net, (1, 100000))
    assert result.ok and result.layers[0].checks["rf"].measured == f"[{49999 - 1 + 1}, {49999 + 2}]"


def test_verify_follows_a_pooled_axis_through_a_permute():
    # CRNN-style: pool H to one row, permute to (1, W, C), a Linear over C, permute back. Every
    # unit sees all 8 input rows and, along W, the 3 columns of its conv window (torch's gradient
    # below). The probe kept the one-row H axis on dim 1, where W lands after the permute, so verify
    # compared W as global and H at a unit the tensor does not have, and failed a correct engine.
    torch = pytest.importorskip("torch")
    from convcalc.verify import verify

    def build(lib, L):
        return lib.Sequential(lib.Conv2d(3, 4, 3), L.AdaptiveAvgPool2d((1, 6)), L.Permute((0, 2, 3, 1)),
                              L.Linear(4, 5), L.Permute((0, 3, 1, 2)))

    from torch_models import Permute

    tl = torch.nn
    tl.Permute = Permute  # (a local stand-in: torch has no Permute module)
    try:
        tnet = build(tl, tl)
    finally:
        del tl.Permute
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    g, = torch.autograd.grad(tnet(x)[0, :, 0, 3].sum(), x)
    rows, cols = g[0].abs().sum(0).sum(1).nonzero().flatten(), g[0].abs().sum(0).sum(0).nonzero().flatten()
    assert (rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()) == (0, 7, 3, 5)
    result = verify(build(cc, cc), (3, 8, 8))
    assert result.ok, [(r.name, r.checks["rf"]) for r in result.layers if not r.ok]
    assert [r.checks["rf"].measured for r in result.layers][2:] == ["[0, 7] x [3, 5]"] * 3


def test_tf_same_reflect_padding_is_checked_against_this_inputs_pads():
    """padding='tf_same' pads (k - 1) + (ceil(L/s) - 1)*s + 1 - L in all: k3 s2 on L=1 pads 1+1,
    on L=2 pads 0+1. Reflect padding must be shorter than the input (torch raises otherwise), so
    L=1 is no valid input and L=2 is; the check read the pads of the size inferred before (none
    on a fresh layer), so a layer reused over sizes (solve, sweep) depended on their order."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from convcalc.tutor.solve import solve_layer

    with pytest.raises(RuntimeError):
        F.pad(torch.zeros(1, 1, 1), (1, 1), mode="reflect")
    assert F.pad(torch.zeros(1, 1, 2), (0, 1), mode="reflect").shape[-1] == 3
    kw = dict(in_channels=1, out_channels=1, kernel_size=3, stride=2, padding="tf_same", padding_mode="reflect")
    with pytest.raises(ConvcalcError):
        cc.Conv1d(**kw).infer((1, 1))
    layer = cc.Conv1d(**kw)
    assert [layer.infer((1, L)).shape for L in (2, 4)] == [(1, 1), (1, 2)]
    with pytest.raises(ConvcalcError):
        layer.infer((1, 1))
    assert solve_layer(cc.Conv1d, kw, (1, 8), "input", output=(1,)).values == [2]
