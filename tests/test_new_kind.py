"""A layer kind defined here, outside the package, works in a spec file, a one-liner, export and
from_torch once registered: register_kind (spec and one-liner), TORCH_SOURCE (export) and
TORCH_MODULES (from_torch). Nothing in convcalc names it."""
import pytest

import convcalc as cc
from convcalc.errors import ConvcalcError
from convcalc.io import spec
from convcalc.io.export import TORCH_SOURCE, to_torch_source, writer
from convcalc.io.export_helpers import HELPERS
from convcalc.layers import Inference, KINDS, Layer, register_kind
from convcalc.layers.base import check_positive


class Gain(Layer):
    """Toy kind: ``y = x * w`` with one learned weight per channel (C params, one MAC per element)."""

    kind = "gain"
    main_arg = "channels"

    def __init__(self, channels=None, init=1.0):
        if channels is not None:
            check_positive(channels, "channels")
        self.channels, self.init = channels, init

    def infer(self, shape):
        c = shape[0]
        if self.channels is not None and c != self.channels:
            raise ConvcalcError(f"gain expects {self.channels} channels, got {c}")
        n = 1
        for d in shape:
            n *= d
        return Inference(shape=tuple(shape), params=c, macs=n)

    def weight_shapes(self, shape):
        return {"weight": (shape[0], 1, 1)}


register_kind(Gain, aliases=("chgain",))
HELPERS["gain"] = '''class Gain(nn.Module):
    """A learned per-channel gain."""
    convcalc_kind = "gain"

    def __init__(self, channels, init=1.0):
        super().__init__()
        self.convcalc_args = {"channels": channels, "init": init}
        self.weight = nn.Parameter(torch.full((channels, 1, 1), float(init)))

    def forward(self, x):
        return x * self.weight
'''
TORCH_SOURCE.register(Gain)(writer(pos=("C",), kw=("init",), helper="gain"))

SPEC = """
name: gained
input: [3, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3}
  - gain: 4
  - chgain: {init: 0.5}
"""
LINE = "3x8x8 | conv 4 k3 | gain 4 | chgain init=0.5"
CONV = dict(params=3 * 9 * 4 + 4, macs=6 * 6 * 4 * 3 * 9)
GAIN = dict(params=4, macs=4 * 6 * 6)


def rows(report):
    return [(r.kind, tuple(r.output), r.params, r.macs) for r in report.rows]


EXPECTED = [("conv2d", (4, 6, 6), CONV["params"], CONV["macs"]),
            ("gain", (4, 6, 6), GAIN["params"], GAIN["macs"]),
            ("gain", (4, 6, 6), GAIN["params"], GAIN["macs"])]


def test_registered_kind_is_a_kind():
    assert KINDS["gain"] is Gain


def test_spec_file_and_one_liner():
    assert rows(cc.summary(spec.loads(SPEC, "gained.yaml"))) == EXPECTED
    assert rows(cc.summary(cc.load_spec(LINE))) == EXPECTED
    assert cc.load_spec(LINE).net[2].args() == {"channels": None, "init": 0.5}


def test_spec_errors_name_the_argument_of_the_new_kind():
    with pytest.raises(ConvcalcError, match=r"^g\.yaml: layers\[1\]\.gain\.channels: expected a positive integer, "
                                            r"got 0$"):
        spec.loads("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 3}}, {gain: {channels: 0}}]\n",
                   "g.yaml")
    with pytest.raises(ConvcalcError, match=r"init: expected a number, got 'x'"):
        cc.load_spec("3x8x8 | gain init=x")
    with pytest.raises(ConvcalcError, match=r"gain expects 5 channels, got 3 \(row 0\)"):
        cc.load_spec("3x8x8 | gain 5")


torch = pytest.importorskip("torch")
nn = torch.nn


def build(source):
    ns = {}
    exec(compile(source, "<export>", "exec"), ns)
    return ns["Net"]().eval()


def test_export_and_back():
    model = cc.load_spec(LINE)
    src = to_torch_source(model)
    assert "class Gain(nn.Module):" in src and "Gain(4)" in src and "Gain(4, init=0.5)" in src
    net = build(src)
    assert sum(p.numel() for p in net.parameters()) == CONV["params"] + 2 * GAIN["params"]
    with torch.no_grad():
        assert tuple(net(torch.zeros(1, 3, 8, 8)).shape[1:]) == (4, 6, 6)
    assert rows(cc.summary(cc.from_torch(net, (3, 8, 8)))) == EXPECTED


class TorchGain(nn.Module):
    """A torch module of one's own, mapped to the new kind by class."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x):
        return x * self.weight


def test_from_torch_of_a_registered_torch_module():
    from convcalc.io.torch_ops import TORCH_MODULES

    TORCH_MODULES.register(TorchGain)(lambda m, path: Gain(m.weight.shape[0]))
    net = nn.Sequential(nn.Conv2d(3, 4, 3), TorchGain(4), nn.ReLU())
    report = cc.summary(cc.from_torch(net, (3, 8, 8)))
    assert rows(report)[:2] == EXPECTED[:2] and [r.name for r in report.rows] == ["0", "1", "2"]
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())


# -- the table, JSON and verify: a NumPy kernel registered for the class, here too -----------------------
def _gain_kernel(layer, x, w, b):
    """y = x * w: one multiply per element (the engine counts it as a MAC)."""
    return x * w["weight"][None], int(x.size)


from convcalc import verify as _verify  # noqa: E402

_verify.kernel(Gain, weights=lambda args, shape: {"weight": (shape[0], 1, 1)}, narrow=lambda layer: layer)(
    _gain_kernel)


def test_table_json_and_verify_of_an_outside_kind():
    import json

    model = spec.loads(SPEC)
    report = cc.summary(model)
    gains = [r for r in report.rows if r.kind == "gain"]
    # conv 3->4, k3 on 8x8: 6x6 maps; each gain has 4 params and 4*6*6 MACs
    assert [(r.params, r.macs) for r in gains] == [(4, 4 * 6 * 6)] * 2
    assert "gain" in str(report)
    data = json.loads(json.dumps(report.to_dict()))
    assert [row["params"] for row in data["layers"] if row["kind"] == "gain"] == [4, 4]
    result = _verify.verify(model)
    assert result.ok, [(r.name, c) for r in result.layers for c in r.checks.items() if c[1].ok is False]
