"""PyTorch in and out: from_torch (torch.fx) and the exported nn.Module, checked by torch itself.

Every test needs PyTorch and is skipped cleanly without it.
"""
import json
import os

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc import zoo  # noqa: E402
from convcalc.errors import ConvcalcError  # noqa: E402
from convcalc.io.torch_import import to_torch_source  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def build(source, class_name="Net"):
    namespace = {}
    exec(compile(source, "<export>", "exec"), namespace)
    return namespace[class_name]().eval()


def leaf_output_shapes(net, shape):
    """Per leaf module name, the per-sample output shape of every call (forward hooks)."""
    seen = {}
    for name, m in net.named_modules():
        if not list(m.children()) and name:
            m.register_forward_hook(lambda mod, inp, out, name=name: seen.setdefault(name, []).append(
                tuple(out.shape[1:])))
    with torch.no_grad():
        net(torch.zeros(1, *shape))
    return seen


def numbers(report):
    return [(r.name, r.kind, r.output, r.params, r.buffers, r.macs) for r in report.rows]


# -- export: torch runs the generated module and agrees with every row ----------------------------------
@pytest.mark.parametrize("name, shape", [
    ("alexnet", None), ("resnet18", (3, 64, 64)), ("googlenet", (3, 64, 64)),
    ("mobilenet_v3_small", (3, 64, 64)), ("densenet121", (3, 64, 64)),
])
def test_exported_zoo_model_matches_report_in_torch(name, shape):
    model = zoo.get(name, shape)
    report = cc.summary(model)
    net = build(to_torch_source(model))
    # parameters and buffers: the tensors torch created
    assert sum(p.numel() for p in net.parameters()) == report.totals["params"]
    assert sum(b.numel() for b in net.buffers()) == report.totals["buffers"]
    # every layer's output shape, per call, by row name
    got = leaf_output_shapes(net, model.input)
    expected = {}
    for r in report.rows:
        if r.layer is not None:
            expected.setdefault(r.name, []).append(tuple(r.output))
    assert got == expected
    # and back: from_torch of the export gives the same report
    assert numbers(cc.summary(cc.from_torch(net, model.input))) == numbers(report)


@pytest.mark.parametrize("path", ["tiny.yaml", "blocks.yaml", "alexnet.yaml", "resnet18.yaml"])
def test_spec_export_from_torch_round_trip(path):
    model = cc.load_spec(os.path.join(EXAMPLES, path))
    if path == "resnet18.yaml":
        model.input = (3, 64, 64)
    before = cc.summary(model)
    net = build(to_torch_source(model))
    after = cc.summary(cc.from_torch(net, model.input))
    assert numbers(after) == numbers(before)
    assert [r.rf for r in after.rows] == [r.rf for r in before.rows]


def test_one_liner_export_is_a_plain_sequential():
    src = to_torch_source(cc.load_spec("3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10"))
    assert "class Net(nn.Sequential):" in src and "nn.Conv2d(3, 10, kernel_size=3, padding=1)" in src
    assert "nn.Linear(2560, 10)" in src and "Block" not in src
    net = build(src)
    assert sum(p.numel() for p in net.parameters()) == (3 * 9 * 10 + 10) + (2560 * 10 + 10)


def test_export_of_a_traced_model_writes_an_explicit_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(4, 4, 3, padding=1)
            self.b = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return torch.cat([self.a(x), x], 1) * torch.sigmoid(self.b(x)).mean() if False else \
                torch.cat([self.a(x), self.b(x)], 1)

    model = cc.from_torch(Net(), (4, 8, 8))
    src = to_torch_source(model)
    assert "def forward(self, x):" in src and "torch.cat([" in src
    again = cc.from_torch(build(src), (4, 8, 8))
    assert [r[2:] for r in numbers(cc.summary(again))] == [r[2:] for r in numbers(cc.summary(model))]


# -- from_torch on hand-written PyTorch ----------------------------------------------------------------
class BasicBlock(nn.Module):
    """torchvision's BasicBlock: one `relu` module called twice, the shortcut computed first."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = BasicBlock(8, 16, 2)
        self.se_fc = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.block(x)
        x = x * torch.sigmoid(self.se_fc(F.adaptive_avg_pool2d(x, 1)))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, F.max_pool2d(a, 3, 1, 1)], 1)
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def test_from_torch_hand_written_model():
    net = Tiny()
    report = cc.summary(cc.from_torch(net, (3, 16, 16)))
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())
    assert report.totals["params"] == (3 * 8 * 9 + 8) + (8 * 16 * 9) + 2 * 16 + (16 * 16 * 9) + 2 * 16 + \
        (8 * 16) + 2 * 16 + (16 * 16 + 16) + (16 * 10 + 10)
    names = [r.name for r in report.rows]
    assert names[:2] == ["stem", "relu"]
    assert names.count("block.relu") == 2 and "block.add" in names and "block.downsample.0" in names
    assert names.index("block.conv1") < names.index("block.downsample.0") < names.index("block.add")
    assert report["mul"].output == (16, 8, 8)
    assert [r.kind for r in report.rows if r.kind == "channelslice"] == ["channelslice"] * 2
    assert report["cat"].output == (16, 8, 8)
    assert report["view"].kind == "flatten" and report["view"].output == (16,)
    assert report["fc"].macs == 16 * 10
    assert report["block.conv1"].macs == 16 * 8 * 8 * 8 * 9


def test_three_way_add_is_one_merge():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return self.a(x) + self.b(x) + x

    report = cc.summary(cc.from_torch(Net(), (3, 8, 8)))
    assert [r.kind for r in report.rows] == ["conv2d", "conv2d", "add"]


CONV = 3 * 3 * 9 * 64  # MACs of the 3->3 3x3 conv on 8x8
NET_PARAMS = (3 * 3 * 9 + 3) + 3  # the conv and the bare parameter (the LSTM is never used)


@pytest.mark.parametrize("forward, kind, shape, macs, params", [
    ("return torch.sin(x)", "pointwise", (3, 8, 8), 0, 0),
    ("return self.conv(x) * 2", "pointwise", (3, 8, 8), CONV, 3 * 3 * 9 + 3),
    ("y = self.conv(x)\n        return torch.cat([y, y + x], 1) + y.repeat(1, 2, 1, 1)", "add", (6, 8, 8), CONV,
     3 * 3 * 9 + 3),
    ("return x.view(3, -1)", "view", None, 0, 0),
    ("return self.conv(x) + self.weight", "pointwise", (3, 8, 8), CONV, NET_PARAMS),
])
def test_formerly_refused_ops_now_import(forward, kind, shape, macs, params):
    ns = {"nn": nn, "torch": torch}
    exec(_net_source(forward), ns)
    report = cc.summary(cc.from_torch(ns["Net"](), (3, 8, 8)))
    assert report.rows[-1].kind == kind
    if shape:
        assert tuple(report.rows[-1].output) == shape
    assert report.totals["macs"] == macs and report.totals["params"] == params


def _net_source(forward):
    return ("class Net(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.conv = nn.Conv2d(3, 3, 3, padding=1)\n"
            "        self.lstm = nn.LSTM(3, 3)\n"
            "        self.weight = nn.Parameter(torch.zeros(3, 1, 1))\n"
            "\n"
            "    def forward(self, x):\n"
            f"        {forward}\n")


def test_data_dependent_control_flow_names_the_line():
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "convcalc_branchy_net.py")
    with open(path, "w") as f:
        f.write("import torch\nfrom torch import nn\n\n" + _net_source(
            "if x.sum() > 0:\n            return x\n        return -x"))
    import runpy

    ns = runpy.run_path(path)
    with pytest.raises(ConvcalcError) as e:
        cc.from_torch(ns["Net"](), (3, 8, 8))
    text = str(e.value)
    assert "branches on tensor values" in text and f"{path}:12" in text and "x.sum() > 0" in text
    assert "\n" not in text and "%" not in text


def test_unmapped_module_is_not_counted_by_name():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.Unfold(2)))
    report = cc.summary(cc.from_torch(net, (3, 8, 8)))
    row = report["1.1"]
    assert row.kind == "unknown" and tuple(row.output) == (4 * 2 * 2, 5 * 5)  # torch's Unfold shape
    assert report.totals["macs"] == 4 * 6 * 6 * 3 * 9
    from convcalc.render.text import summary_line

    assert summary_line(report).endswith("not counted: 1 op, torch.nn.modules.fold.Unfold \u00d71")


# -- from_torch on graphs that are not series-parallel ---------------------------------------------------
class ThreeUses(nn.Module):
    """``y`` feeds a conv, an add and a mul: no nesting of blocks describes it."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 8, 1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.stem(x)
        z = self.a(y) + y
        w = self.b(z) * y
        return torch.cat([w, z], 1)


def test_from_torch_tensor_used_three_times():
    net = ThreeUses()
    report = cc.summary(cc.from_torch(net, (3, 8, 8)))
    assert [r.name for r in report.rows] == ["stem", "a", "add", "b", "mul", "cat"]
    assert report.totals["params"] == (3 * 9 * 8 + 8) + (8 * 8 + 8) + (8 * 9 * 8 + 8)
    assert [r.macs for r in report.rows if r.kind == "conv2d"] == [64 * 8 * 3 * 9, 64 * 8 * 8, 64 * 8 * 8 * 9]
    hooks = leaf_output_shapes(net, (3, 8, 8))
    assert {r.name: [tuple(r.output)] for r in report.rows if r.name in hooks} == hooks
    with torch.no_grad():
        assert tuple(report.rows[-1].output) == tuple(net(torch.zeros(1, 3, 8, 8)).shape[1:]) == (16, 8, 8)


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: takes the list of every earlier feature map and concatenates it."""

    def __init__(self, cin, growth):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(4 * growth), nn.ReLU()
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    """torchvision's _DenseBlock: the block input is used by every layer and by the last concat."""

    def __init__(self, n, cin, growth):
        super().__init__({f"denselayer{i + 1}": DenseLayer(cin + i * growth, growth) for i in range(n)})

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


def test_from_torch_densenet_block():
    from collections import OrderedDict

    net = nn.Sequential(OrderedDict(conv0=nn.Conv2d(3, 8, 3, padding=1), block=DenseBlock(3, 8, 4)))
    report = cc.summary(cc.from_torch(net, (3, 8, 8)))
    layer_params = [2 * c + c * 16 + 2 * 16 + 16 * 4 * 9 for c in (8, 12, 16)]  # norm1, conv1, norm2, conv2
    assert report.totals["params"] == (3 * 9 * 8 + 8) + sum(layer_params) == sum(p.numel() for p in net.parameters())
    convs = {r.name: r.macs for r in report.rows if r.kind == "conv2d"}
    assert convs["conv0"] == 64 * 8 * 27
    assert [convs[f"block.denselayer{i}.conv1"] for i in (1, 2, 3)] == [64 * c * 16 for c in (8, 12, 16)]
    assert [convs[f"block.denselayer{i}.conv2"] for i in (1, 2, 3)] == [64 * 4 * 16 * 9] * 3
    cats = [r for r in report.rows if r.kind == "concat"]
    assert [r.name for r in cats] == ["block.denselayer2.cat", "block.denselayer3.cat", "block.cat"]
    assert [tuple(r.output) for r in cats] == [(12, 8, 8), (16, 8, 8), (20, 8, 8)]
    hooks = leaf_output_shapes(net, (3, 8, 8))
    got = {}
    for r in report.rows:
        if r.name in hooks:
            got.setdefault(r.name, []).append(tuple(r.output))
    assert got == hooks
    # and out again: the generic forward() runs in torch and imports to the same numbers
    again = cc.summary(cc.from_torch(build(to_torch_source(cc.from_torch(net, (3, 8, 8)))), (3, 8, 8)))
    assert [r[1:] for r in numbers(again)] == [r[1:] for r in numbers(report)]
    assert [r.name for r in again.rows] == [r.name for r in report.rows]


# -- the CLI verbs ---------------------------------------------------------------------------------------
def run(*args):
    from click.testing import CliRunner

    from convcalc.cli import cli

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_cli_from_torch_and_export(tmp_path):
    r = run("from-torch", os.path.join(EXAMPLES, "torch_net.py") + ":SmallResNet", "--input", "3x32x32",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["model"] == "SmallResNet" and d["layers"][-1]["output"] == [10]
    out = tmp_path / "net.py"
    r = run("export", os.path.join(EXAMPLES, "blocks.yaml"), "--to", "pytorch", "-o", str(out))
    assert r.exit_code == 0
    r = run("from-torch", f"{out}:Net", "--input", "3x64x64", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["totals"]["params"] == cc.summary(cc.load_spec(
        os.path.join(EXAMPLES, "blocks.yaml"))).totals["params"]
    r = run("export", "lenet5", "--to", "pytorch")
    assert r.exit_code == 0 and "class Net(nn.Sequential):" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["from-torch", "nope.py:Net", "--input", "3x8x8"], "nope.py: no such file"),
    (["from-torch", "{torch_net}:Missing", "--input", "3x8x8"], "defines no 'Missing'"),
    (["from-torch", "{torch_net}:SmallResNet"], "--input is required"),
    (["from-torch", "{torch_net}:SmallResNet", "--input", "3xHxW"], "numeric --input"),
    (["from-torch", "{torch_net}:SmallResNet", "--input", "3x8"], "fails on input"),
    (["export", "resnet18", "--input", "3xHxW"], "numeric input shape"),
])
def test_cli_errors_are_one_line(args, message):
    args = [a.format(torch_net=os.path.join(EXAMPLES, "torch_net.py")) for a in args]
    r = run(*args)
    assert r.exit_code == 2 and r.stdout == ""
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
