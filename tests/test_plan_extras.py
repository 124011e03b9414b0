"""Planning extras: a spec's budget block, asymmetric padding in the one-liner, from_torch by path."""
import pytest

import convcalc as cc
from convcalc.errors import ConvcalcError
from convcalc.io import spec


def test_a_spec_budget_block_fails_the_command(tmp_path, run):
    path = tmp_path / "small.yaml"
    path.write_text("name: small\ninput: [1, 28, 28]\nbudget: {params: 10k, macs: 50k}\nlayers:\n"
                    "  - conv2d: {out_channels: 8, kernel_size: 3}\n  - relu\n  - flatten\n"
                    "  - linear: {out_features: 10}\n")
    params = 8 * 9 + 8 + 8 * 26 * 26 * 10 + 10  # 54,170: over 10k
    r = run(str(path))
    assert r.exit_code == 1 and f"{params:,}" in r.stderr
    assert spec.load(str(path)).budget == {"params": 10_000, "macs": 50_000}
    with pytest.raises(ConvcalcError, match="budget"):
        spec.from_dict({"input": [1, 8, 8], "budget": {"params": "10Q"}, "layers": ["relu"]})


def test_asymmetric_padding_in_the_one_liner():
    r = cc.summary(spec.load("3x8x8 | conv 4 k3 p1:2x0:1"))
    assert r[0].output == (4, 8 + 1 + 2 - 3 + 1, 8 + 0 + 1 - 3 + 1)
    r = cc.summary(spec.load("3x8x8 | conv 4 k3 p0:1"))
    assert r[0].output == (4, 8 + 0 + 1 - 3 + 1, 8 + 0 + 1 - 3 + 1)


def test_from_torch_by_path(tmp_path):
    pytest.importorskip("torch")
    f = tmp_path / "net.py"
    f.write_text("import torch\nclass Net(torch.nn.Module):\n    def __init__(self, c=4):\n        super().__init__()\n"
                 "        self.conv = torch.nn.Conv2d(3, c, 3)\n    def forward(self, x):\n"
                 "        return self.conv(x)\n")
    r = cc.summary(cc.from_torch(f"{f}:Net", (3, 8, 8), c=6))
    assert r.totals["params"] == 6 * 3 * 9 + 6


def test_export_refuses_tensorflow_same_padding_by_name():
    net = cc.Sequential(cc.Conv2d(3, 8, 3, stride=2, padding="tf_same"))
    with pytest.raises(ConvcalcError, match="tf_same"):
        cc.export(net, input=(3, 32, 32))


def test_tensorflow_same_padding_in_a_spec_and_the_one_liner():
    # TensorFlow: out = ceil(L / s) -> 32 at stride 2 gives 16; 33 gives 17
    r = cc.summary(spec.load("3x33x32 | conv 8 k3 s2 padding=tf_same"))
    assert r[0].output == (8, -(-33 // 2), 32 // 2)
    model = spec.from_dict({"input": [3, 32, 32], "layers": [
        {"conv2d": {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": "tf_same"}}]})
    assert cc.summary(model)[0].output == (8, 16, 16)
