"""from_torch where torch.fx cannot trace: torch.export's graph is converted with the same rules
(shapes against torch, MACs written out); where export cannot either, one line naming the user's
file:line. And the CLI's bad targets: one line, exit 2. Skipped without PyTorch."""
import os

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.errors import ConvcalcError  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402
from convcalc.verify import verify  # noqa: E402


class SizeBranch(nn.Module):
    """``if y.shape[-1] > 4``: a Python branch on a size, which fx cannot trace (a Proxy is no bool)."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Linear(8, 4)

    def forward(self, x):
        y = F.relu(self.bn(self.conv(x)))
        if y.shape[-1] > 4:
            y = F.max_pool2d(y, 2)
        return self.fc(y.flatten(2).mean(-1))


def test_fx_cannot_trace_a_size_branch():
    with pytest.raises(Exception):
        torch.fx.symbolic_trace(SizeBranch())


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("side, pooled", [(8, True), (4, False)])
def test_size_branch_imports_through_torch_export(device, side, pooled):
    with torch.device(device):
        net = SizeBranch()
    model = from_torch(net, (3, side, side))
    assert "torch.export" in model.doc
    report = cc.summary(model)
    with torch.no_grad():
        want = tuple(SizeBranch().eval()(torch.zeros(2, 3, side, side)).shape[1:])
    assert tuple(report.rows[-1].output) == want == (4,)
    conv = 8 * side * side * 3 * 3 * 3  # 8 maps of side x side, 27 MACs each
    assert report.totals["macs"] == conv + 8 * 4
    assert report.totals["params"] == (8 * 27 + 8) + 2 * 8 + (8 * 4 + 4)
    kinds = [r.kind for r in report.rows]
    assert kinds[:3] == ["conv2d", "batchnorm2d", "relu"] and kinds[-1] == "linear"
    assert ("maxpool2d" in kinds) == pooled and "unknown" not in kinds
    assert [r.name for r in report.rows][:3] == ["conv", "bn", "relu"]  # named after the modules, as fx does
    assert verify(model).ok


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_behind_a_size_branch_keeps_its_published_figures(name):
    import tv

    if tv.load() is None:
        pytest.skip("torchvision not installed (see tests/tv.py)")
    weights = tv.load().models.get_model_weights(name).DEFAULT

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tv.meta_model(name)

        def forward(self, x):
            if x.shape[-1] >= 32:  # fx cannot trace this; torch.export can
                return self.net(x)
            return self.net(F.interpolate(x, size=32))

    model = from_torch(Wrapped(), (3, 224, 224))
    report = cc.summary(model)
    assert "torch.export" in model.doc and "unknown" not in [r.kind for r in report.rows]
    assert report.totals["params"] == weights.meta["num_params"]
    assert round(report.totals["macs"] / 1e9, 3) == weights.meta["_ops"]


def _write(tmp_path, forward):
    path = tmp_path / "user_net.py"
    path.write_text("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
                    "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 4, 3)\n\n"
                    "    def forward(self, x):\n" + "".join(f"        {line}\n" for line in forward))
    return str(path)


def test_value_branch_is_refused_naming_the_line(tmp_path, run):
    path = _write(tmp_path, ["y = self.conv(x)", "if y.sum() > 0:", "    return y", "return -y"])
    r = run("from-torch", f"{path}:Net", "--input", "3x8x8")
    assert r.exit_code == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{path}:12" in lines[0] and "y.sum() > 0" in lines[0]
    assert "torch.fx.wrap" in lines[0] and "Traceback" not in r.stderr


def test_torch_cond_is_refused_naming_the_line(tmp_path, run):
    """torch.cond picks a branch by a tensor value: one line naming the user's call (line 12 of
    the written file: the class header is line 5, forward's body starts at line 11)."""
    path = _write(tmp_path, ["y = self.conv(x)",
                             "return torch.cond(y.sum() > 0, lambda t: t.sum(1), lambda t: t.amax(1), (y,))"])
    r = run("from-torch", f"{path}:Net", "--input", "3x8x8")
    assert r.exit_code == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{path}:12" in lines[0] and "torch.cond(y.sum() > 0" in lines[0]
    assert "branches on a tensor value" in lines[0] and "Traceback" not in r.stderr


@pytest.mark.parametrize("target, message", [
    ("nosuchmodule:Thing", "nosuchmodule: cannot import"),
    ("os:getcwd", "is not an nn.Module"),
    ("forward_raises", "ValueError: boom"),
])
def test_bad_targets_are_one_line(tmp_path, run, target, message):
    if target == "forward_raises":
        target = _write(tmp_path, ["y = self.conv(x)", "raise ValueError('boom')"]) + ":Net"
    r = run("from-torch", target, "--input", "3x8x8")
    assert r.exit_code == 2 and r.stdout == ""
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_missing_torchvision_builder_is_one_line(run):
    import tv

    if tv.load() is None:
        pytest.skip("torchvision not installed (see tests/tv.py)")
    r = run("from-torch", "torchvision.models:nosuch", "--input", "224")
    assert r.exit_code == 2 and r.stdout == "" and "defines no 'nosuch'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_functional_conv_with_own_weights_is_a_conv_row():
    class Fn(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight, self.bias = nn.Parameter(torch.zeros(6, 3, 5, 5)), nn.Parameter(torch.zeros(6))

        def forward(self, x):
            return F.conv2d(x, self.weight, self.bias, stride=2, padding=2)

    report = cc.summary(from_torch(Fn(), (3, 16, 16)))
    row = report.rows[-1]
    assert row.kind == "conv2d" and tuple(row.output) == (6, 8, 8)
    assert row.macs == 6 * 8 * 8 * 3 * 5 * 5 and row.params == 6 * 3 * 25 + 6


def test_not_a_module_from_python_is_a_convcalc_error():
    with pytest.raises(ConvcalcError):
        from_torch(os.getcwd, (3, 8, 8))
