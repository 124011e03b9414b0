"""Training: backward MACs, saved activations and the memory of a training step.

Oracles: arithmetic written out; PyTorch's autograd (what saved_tensors_hooks sees) and its
FlopCounterMode on ungrouped networks (it mis-counts grouped-conv backward: there the grouped
convs are split into ungrouped ones that it does count right)."""
import pytest

import convcalc as cc
from convcalc.analyze import analyze
from convcalc.errors import ConvcalcError
from convcalc.training import TrainingOptions


def tiny():
    return cc.Sequential(cc.Conv2d(3, 8, 3, padding=1), cc.ReLU(), cc.MaxPool2d(2), cc.Conv2d(8, 16, 3, padding=1),
                         cc.BatchNorm2d(16), cc.ReLU(inplace=True), cc.Flatten(), cc.Linear(16 * 4 * 4, 10))


def test_backward_macs_by_hand():
    r = analyze(tiny(), (3, 8, 8), batch=2, training=True)
    conv1 = 8 * 8 * 8 * 3 * 9          # forward MACs per sample
    conv2 = 16 * 4 * 4 * 8 * 9
    fc = 256 * 10
    # the first conv needs no input gradient: only dW; the others need dX and dW
    assert r["0"].backward_macs == 2 * conv1
    assert r["3"].backward_macs == 2 * (conv2 + conv2)
    assert r["7"].backward_macs == 2 * (fc + fc)
    assert r["1"].backward_macs == r["2"].backward_macs == r["4"].backward_macs == 0
    assert r.totals["backward_macs"] == 2 * (conv1 + 2 * conv2 + 2 * fc)


def test_saved_bytes_by_hand():
    n = 2
    r = analyze(tiny(), (3, 8, 8), batch=n, training=True)
    f = 4  # fp32
    assert r["0"].saved_bytes == n * 3 * 8 * 8 * f             # conv keeps its input (the image)
    assert r["1"].saved_bytes == n * 8 * 8 * 8 * f             # relu keeps its output
    assert r["2"].saved_bytes == n * 4 * 4 * 8 * 8             # maxpool: its input is relu's output (kept
    #                                                             already), plus int64 indices
    assert r["3"].saved_bytes == n * 8 * 4 * 4 * f             # the pooled map
    assert r["4"].saved_bytes == n * 16 * 4 * 4 * f + 2 * 16 * 4  # bn: input + fp32 mean, 1/std per channel
    assert r["5"].saved_bytes == n * 16 * 4 * 4 * f            # in-place relu: bn's output storage
    assert r["6"].saved_bytes == 0                             # flatten is a view
    assert r["7"].saved_bytes == 0                             # linear's input is that same storage
    assert r.training["saved_activations"] == sum(row.saved_bytes for row in r.rows)


def test_memory_of_a_step():
    r = analyze(tiny(), (3, 8, 8), batch=2, training=TrainingOptions(optimizer="adam"))
    params = 3 * 8 * 9 + 8 + 8 * 16 * 9 + 16 + 32 + 2560 + 10
    buffers = 2 * 16 + 1
    t = r.training
    assert t["trainable_params"] == params and t["frozen_params"] == 0
    assert t["parameters"] == (params + buffers) * 4
    assert t["gradients"] == params * 4
    assert t["optimizer_state"] == 2 * params * 4
    assert t["peak"] > t["parameters"] + t["gradients"] + t["optimizer_state"] + t["saved_activations"]
    momentum = analyze(tiny(), (3, 8, 8), training=TrainingOptions(optimizer="momentum")).training
    sgd = analyze(tiny(), (3, 8, 8), training=TrainingOptions(optimizer="sgd")).training
    assert momentum["optimizer_state"] == params * 4 and sgd["optimizer_state"] == 0


def test_frozen_layers_need_no_weight_gradient():
    opts = TrainingOptions(freeze=("0", "3"))
    r = analyze(tiny(), (3, 8, 8), training=opts)
    fc = 256 * 10
    assert r["0"].backward_macs == 0 and r["0"].saved_bytes == 0   # frozen and fed by the image: not recorded
    assert r["1"].saved_bytes == 0 and r["2"].saved_bytes == 0    # nothing before needs a gradient
    assert r["3"].backward_macs == 0                               # frozen, and its input needs no gradient
    assert r["4"].saved_bytes > 0                                   # bn is trainable: recorded from here on
    assert r["7"].backward_macs == fc + fc                          # dX (bn upstream needs it) and dW
    assert r.training["frozen_params"] == 3 * 8 * 9 + 8 + 8 * 16 * 9 + 16
    layer = cc.Conv2d(3, 8, 3)
    layer.trainable = False
    assert analyze(layer, (3, 5, 5), training=True).training["trainable_params"] == 0


def test_amp_halves_activations_not_master_weights():
    full = analyze(tiny(), (3, 8, 8), training=True).training
    amp = analyze(tiny(), (3, 8, 8), training=TrainingOptions(amp="fp16")).training
    assert amp["parameters"] == full["parameters"] and amp["gradients"] == full["gradients"]
    assert amp["saved_activations"] < full["saved_activations"]


def test_symbolic_batch_is_linear():
    from convcalc.sym import dims

    n = dims("N")
    r = analyze(tiny(), (3, 8, 8), batch=n, training=True)
    one = analyze(tiny(), (3, 8, 8), batch=1, training=True)
    assert r.training["saved_activations"].subs(n, 1) == one.training["saved_activations"]


def test_bad_options():
    with pytest.raises(ConvcalcError):
        TrainingOptions(optimizer="lbfgs")
    with pytest.raises(ConvcalcError):
        TrainingOptions(amp="fp8")
    with pytest.raises(ConvcalcError, match="matches no layer"):
        analyze(tiny(), (3, 8, 8), training=TrainingOptions(freeze=("nope",)))


def test_json_contract():
    d = analyze(tiny(), (3, 8, 8), training=TrainingOptions(optimizer="adam")).to_dict()
    assert set(d["training"]) >= {"parameters", "gradients", "optimizer_state", "saved_activations", "peak"}
    assert "backward_macs" in d["totals"] and all("saved_bytes" in row for row in d["layers"])
    plain = analyze(tiny(), (3, 8, 8)).to_dict()
    assert "training" not in plain and "backward_macs" not in plain["layers"][0]


# -- PyTorch as the oracle -------------------------------------------------------------------------
torch = pytest.importorskip("torch")
import torch_models as tm  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name,make", [("resnet18", tm.resnet18), ("vgg11_bn", tm.vgg11_bn),
                                       ("mobilenet_v2", tm.MobileNetV2)])
def test_saved_activations_match_autograd(name, make):
    torch.manual_seed(0)
    measured = tm.saved_bytes(make(), torch.randn(4, 3, 224, 224))
    ours = analyze(cc.zoo.get(name), batch=4, training=True).training["saved_activations"]
    assert abs(ours - measured) <= 0.01 * measured, (ours, measured)


@pytest.mark.parametrize("name,make", [("resnet18", tm.resnet18), ("vgg11_bn", tm.vgg11_bn)])
def test_backward_macs_match_flop_counter(name, make):
    torch.manual_seed(0)
    measured = tm.backward_macs(make(), torch.randn(2, 3, 64, 64))
    assert analyze(cc.zoo.get(name), (3, 64, 64), batch=2, training=True).totals["backward_macs"] == measured


class SplitGroups(torch.nn.Module):
    """A grouped conv as g ungrouped convs on channel slices (FlopCounterMode counts those right)."""

    def __init__(self, conv):
        super().__init__()
        g = conv.groups
        self.g = g
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(conv.in_channels // g, conv.out_channels // g,
                                                         conv.kernel_size, conv.stride, conv.padding,
                                                         conv.dilation, bias=conv.bias is not None)
                                         for _ in range(g))

    def forward(self, x):
        return torch.cat([c(part) for c, part in zip(self.convs, x.chunk(self.g, 1))], 1)


def test_grouped_backward_from_ungrouped_equivalent():
    net = cc.Sequential(cc.Conv2d(4, 8, 3, padding=1), cc.ReLU(), cc.Conv2d(8, 8, 3, padding=1, groups=4),
                        cc.Conv2d(8, 16, 3, stride=2, groups=8))
    t = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(),
                            SplitGroups(torch.nn.Conv2d(8, 8, 3, padding=1, groups=4)),
                            SplitGroups(torch.nn.Conv2d(8, 16, 3, stride=2, groups=8)))
    measured = tm.backward_macs(t, torch.randn(3, 4, 9, 9))
    assert analyze(net, (4, 9, 9), batch=3, training=True).totals["backward_macs"] == measured


# -- the command line ------------------------------------------------------------------------------
def _cli(*args):
    from click.testing import CliRunner

    from convcalc.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_training_table_and_json():
    import json

    r = _cli("3x8x8 | conv 8 k3 p1 | relu | maxpool 2 | flatten | linear 10", "--training", "--optimizer", "adam",
             "--batch", "2")
    assert r.exit_code == 0, r.output
    assert "Bwd MACs" in r.output and "Saved" in r.output and f"trainable params {3 * 8 * 9 + 8 + 128 * 10 + 10:,}" in r.output
    d = json.loads(_cli("3x8x8 | conv 8 k3 p1 | relu | maxpool 2 | flatten | linear 10", "--optimizer", "adam",
                        "--format", "json").output)
    params = 3 * 8 * 9 + 8 + 128 * 10 + 10
    assert d["training"]["optimizer_state"] == 2 * params * 4
    assert d["totals"]["backward_macs"] == 8 * 64 * 27 + 2 * 1280   # first conv: dW only; linear: dX + dW


def test_cli_max_batch():
    # 3x4x4 | conv 4 k1: per sample, forward peak = input + output = (48 + 64) * 4 bytes; params 16 * 4
    r = _cli("solve", "3x4x4 | conv 4 k1", "--max-batch", "--memory", f"{112 * 4 * 10 + 64}")
    assert r.exit_code == 0, r.output
    assert "largest batch" in r.output and ": 10 (" in r.output
    r = _cli("solve", "3x4x4 | conv 4 k1", "--max-batch", "--memory", "100")
    assert r.exit_code == 2
    r = _cli("solve", "alexnet", "--max-batch", "--memory", "10Q")
    assert r.exit_code == 2 and "memory size" in r.output


def test_frozen_from_a_spec_and_from_torch(tmp_path):
    from convcalc.io import spec

    model = spec.from_dict({"input": [3, 8, 8], "layers": [
        {"name": "backbone", "layers": [{"conv2d": {"out_channels": 4, "kernel_size": 3}}, "relu"],
         "trainable": False},
        "flatten", {"linear": {"out_features": 10}}]})
    t = analyze(model, training=True).training
    assert t["frozen_params"] == 4 * 3 * 9 + 4 and t["trainable_params"] == 4 * 6 * 6 * 10 + 10
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 10))
    for p in net[0].parameters():
        p.requires_grad_(False)
    t = analyze(cc.from_torch(net, (3, 8, 8)), training=True).training
    assert t["frozen_params"] == 4 * 3 * 9 + 4 and t["trainable_params"] == 144 * 10 + 10


def test_bias_only_tuning_from_torch_counts_no_weight_gradient():
    """Conv weights frozen, biases trainable (requires_grad per parameter, as bias-only tuning):
    the trainable count is the biases and the backward has no weight-gradient MACs; against
    FlopCounterMode and verify --training."""
    from convcalc.io.torch_import import from_torch
    from convcalc.verify_training import verify_training

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3))
    for conv in (net[0], net[2]):
        conv.weight.requires_grad_(False)
    model = from_torch(net, (3, 10, 10))
    t = analyze(model, training=True)
    assert t.training["trainable_params"] == 8 + 4                      # the biases
    assert t.training["frozen_params"] == 8 * 3 * 9 + 4 * 8 * 9
    measured = tm.backward_macs(net, torch.randn(1, 3, 10, 10, requires_grad=False))
    # by hand: only the second conv's input gradient, as many MACs as its forward: 4x8x8 outputs,
    # each 8 channels x 9 taps (the first conv's input needs none, and no weight needs one)
    assert t.totals["backward_macs"] == measured == 4 * 8 * 8 * 8 * 9
    result = verify_training(model)
    assert result.ok, [(r.name, r.checks) for r in result.layers if not r.ok]


@pytest.mark.parametrize("frozen,hand", [(("in_proj_weight",), lambda L, E: 3 * L * E * E),
                                         (("out_proj.weight",), lambda L, E: L * E * E),
                                         (("in_proj_weight", "out_proj.weight"), lambda L, E: 4 * L * E * E)])
def test_attention_with_one_projection_frozen_drops_only_its_weight_gradient(frozen, hand):
    """MultiheadAttention with some projection weights frozen (requires_grad per parameter): the
    backward loses just those weights' gradients, L*E*E MACs per E*E weight entries (by hand; the
    same drop FlopCounterMode measures in torch, which does not count the fused attention's own
    backward, so the drop, not the total, is compared). It counted every projection's (found by
    review: in_proj frozen still cost 3*L*E*E)."""
    from convcalc.io.torch_import import from_torch
    from convcalc.verify_training import verify_training

    L, E = 5, 8

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(E, E)
            self.att = torch.nn.MultiheadAttention(E, 2, batch_first=True)

        def forward(self, x):
            x = self.lin(x)
            return self.att(x, x, x, need_weights=False)[0]

    def both(freeze):
        torch.manual_seed(0)
        net = Net()
        for n, p in net.att.named_parameters():
            p.requires_grad_(n not in freeze)
        model = from_torch(net, (L, E))
        engine = analyze(model, training=True)
        return net, model, engine, tm.backward_macs(net, torch.randn(1, L, E))

    _, _, whole, torch_whole = both(())
    net, model, part, torch_part = both(frozen)
    assert torch_whole - torch_part == hand(L, E)
    assert whole.totals["backward_macs"] - part.totals["backward_macs"] == hand(L, E)
    assert part.training["frozen_params"] == sum(p.numel() for p in net.parameters() if not p.requires_grad)
    result = verify_training(model)
    assert result.ok, [(r.name, r.checks) for r in result.layers if not r.ok]


def test_a_frozen_parameter_used_by_an_op_is_frozen():
    """A free parameter used by an elementwise op (layer scale: ``y * self.scale``) with
    requires_grad False: frozen, as a frozen module's are. It counted as trainable, so the
    backward also ran the head's input gradient torch never computes (found by review)."""
    from convcalc.io.torch_import import from_torch
    from convcalc.verify_training import verify_training

    torch.manual_seed(0)
    net = tm.scaled_convs(lambda s, x: s.head(s.conv(x) * s.scale))
    for p in [net.scale, *net.conv.parameters()]:
        p.requires_grad_(False)
    model = from_torch(net, (3, 6, 6))
    t = analyze(model, training=True)
    assert t.training["frozen_params"] == 4 + 4 * 3 * 9 + 4
    assert t.training["trainable_params"] == 2 * 4 + 2
    # by hand: only the head's weight gradient, its forward's MACs: 2x6x6 outputs x 4 channels
    assert t.totals["backward_macs"] == tm.backward_macs(net, torch.randn(1, 3, 6, 6)) == 2 * 36 * 4
    result = verify_training(model)
    assert result.ok, [(r.name, r.checks) for r in result.layers if not r.ok]


def test_partly_frozen_layers_traced_as_functions():
    """nn.TransformerEncoderLayer is read from its functions (F.linear, F.layer_norm on the
    parameters): linear1's weight frozen and norm1's bias frozen count as frozen there too, and
    the backward drops linear1's weight gradient, L*E*F MACs by hand, the drop FlopCounterMode
    measures in torch. They counted as trainable (found by review). (No verify --training: its
    attention runs as a generic op the NumPy backward has no kernel for.)"""
    from convcalc.io.torch_import import from_torch

    L, E, FF = 5, 8, 16

    def both(freeze):
        torch.manual_seed(0)
        net = torch.nn.TransformerEncoderLayer(E, 2, FF, dropout=0.0, batch_first=True)
        for n, p in net.named_parameters():
            p.requires_grad_(n not in freeze)
        model = from_torch(net, (L, E))
        return net, analyze(model, training=True), tm.backward_macs(net, torch.randn(1, L, E))

    _, whole, torch_whole = both(())
    net, part, torch_part = both(("linear1.weight", "norm1.bias"))
    assert part.training["frozen_params"] == E * FF + E
    assert part.training["trainable_params"] == sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert torch_whole - torch_part == L * E * FF
    assert whole.totals["backward_macs"] - part.totals["backward_macs"] == L * E * FF
