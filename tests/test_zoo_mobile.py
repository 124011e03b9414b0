"""Zoo: MobileNet v1/v2/v3, EfficientNet-B0, RegNetX-400MF, ConvNeXt-Tiny.

Expected figures are literals with their source (torchvision weights meta, papers, the
google-research/receptive_field tables) or hand arithmetic, never convcalc's output. The torch
tests rebuild each network in plain ``torch.nn`` following torchvision's source and compare every
leaf module's output shape and parameter count, the total parameters, and the MACs counted by
``torch.utils.flop_counter.FlopCounterMode`` (the counter behind torchvision's ``_ops``).
"""
from collections import OrderedDict

import pytest

import convcalc as cc
from convcalc import zoo

# name: (num_params, _ops GMACs), torchvision weights meta (research notes §1)
PUBLISHED = {
    "mobilenet_v2": (3504872, 0.301),        # MobileNet_V2_Weights.IMAGENET1K_V1/V2
    "mobilenet_v3_small": (2542856, 0.057),  # MobileNet_V3_Small_Weights.IMAGENET1K_V1
    "mobilenet_v3_large": (5483032, 0.217),  # MobileNet_V3_Large_Weights.IMAGENET1K_V1/V2
    "efficientnet_b0": (5288548, 0.386),     # EfficientNet_B0_Weights.IMAGENET1K_V1
    "regnet_x_400mf": (5495976, 0.414),      # RegNet_X_400MF_Weights.IMAGENET1K_V1/V2
    "convnext_tiny": (28589128, 4.456),      # ConvNeXt_Tiny_Weights.IMAGENET1K_V1
}
ALL = ["mobilenet_v1", *PUBLISHED]
SE_MODELS = {"mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0"}


def report(name, input=None):
    return cc.analyze(zoo.get(name, input))


# -- published totals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_params_equal_torchvision(name):
    assert report(name).totals["params"] == PUBLISHED[name][0]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_macs_round_to_torchvision_ops(name):
    assert round(report(name).totals["macs"] / 1e9, 3) == PUBLISHED[name][1]


@pytest.mark.parametrize("name", ALL)
def test_default_input_and_figures(name):
    m = zoo.get(name)
    assert m.input == (3, 224, 224)
    assert m.doc and "params" in m.figures and "gmacs" in m.figures
    if name in PUBLISHED:
        assert m.figures["params"][0] == PUBLISHED[name][0] and m.figures["gmacs"][0] == PUBLISHED[name][1]


# -- MobileNet v1 against the paper ----------------------------------------------------------------------
# Howard et al. 2017, Table 1: (input channels, output channels, depthwise stride) of the 13 blocks
V1_TABLE = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
           [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]


def test_mobilenet_v1_paper_figures():
    r = report("mobilenet_v1")
    # "569M mult-adds, 4.2M parameters" (1.0 MobileNet-224)
    assert round(r.totals["macs"] / 1e6) == 569
    assert round(r.totals["params"], -5) == 4_200_000
    # hand arithmetic from Table 1: conv weights and FC, then BN gamma/beta, then running stats
    conv = 3 * 3 * 3 * 32 + sum(3 * 3 * cin + cin * cout for cin, cout, _ in V1_TABLE)
    bn_channels = 32 + sum(cin + cout for cin, cout, _ in V1_TABLE)
    fc = 1024 * 1000 + 1000
    assert conv + fc == 4_210_088
    assert r.totals["params"] == conv + fc + 2 * bn_channels == 4_231_976
    n_bn = 1 + 2 * len(V1_TABLE)  # one num_batches_tracked each
    assert r.totals["params"] + r.totals["buffers"] - n_bn == 4_253_864  # Keras' MobileNet table


def test_mobilenet_v1_table1_shapes():
    r = report("mobilenet_v1")
    size, shapes = 112, []
    assert r.row("features.0.0").output == (32, 112, 112)
    for i, (cin, cout, s) in enumerate(V1_TABLE, start=1):
        size //= s
        assert r.row(f"features.{i}.dw.0").output == (cin, size, size)
        shapes.append(r.row(f"features.{i}.pw.0").output)
    assert shapes == [(64, 112, 112), (128, 56, 56), (128, 56, 56), (256, 28, 28), (256, 28, 28)] + \
        [(512, 14, 14)] * 6 + [(1024, 7, 7)] * 2
    assert r.row("fc").output == (1000,)


# google-research/receptive_field RECEPTIVE_FIELD_TABLE.md, mobilenet_v1 at 224: (RF, effective stride)
# of Conv2d_0 and Conv2d_i_pointwise (TF-Slim; its 'SAME' padding only changes the effective padding).
SLIM_V1_RF = {0: (3, 2), 1: (7, 2), 2: (11, 4), 3: (19, 4), 4: (27, 8), 5: (43, 8), 6: (59, 16), 7: (91, 16),
              8: (123, 16), 9: (155, 16), 10: (187, 16), 11: (219, 16), 12: (251, 32), 13: (315, 32)}


@pytest.mark.parametrize("i", sorted(SLIM_V1_RF))
def test_mobilenet_v1_receptive_field_matches_google_research(i):
    r = report("mobilenet_v1")
    row = r.row("features.0.2" if i == 0 else f"features.{i}.pw.2")
    size, jump = SLIM_V1_RF[i]
    assert [a.size for a in row.rf] == [size, size] and [a.jump for a in row.rf] == [jump, jump]


# -- receptive fields by hand ------------------------------------------------------------------------------
def rf_chain(windows):
    """(size, jump) after a chain of (kernel, stride) windows."""
    size, jump = 1, 1
    for k, s in windows:
        size, jump = size + (k - 1) * jump, jump * s
    return size, jump


def assert_rf(row, size, jump):
    assert [a.size for a in row.rf] == [size, size] and [a.jump for a in row.rf] == [jump, jump]


def test_regnet_receptive_fields():
    r = report("regnet_x_400mf")
    windows = [(3, 2)]  # stem; per block only the 3x3 of f.b widens the field (1x1s and proj do not)
    for i, d in enumerate([1, 2, 7, 12], start=1):
        for j in range(d):
            windows.append((3, 2 if j == 0 else 1))
            assert_rf(r.row(f"trunk_output.block{i}.block{i}-{j}.activation"), *rf_chain(windows))
    assert rf_chain(windows) == (975, 32)


def test_convnext_receptive_fields():
    r = report("convnext_tiny")
    windows = [(4, 4)]
    idx = 1
    for stage, depth in enumerate([3, 3, 9, 3]):
        for j in range(depth):
            windows.append((7, 1))
            assert_rf(r.row(f"features.{idx}.{j}.add"), *rf_chain(windows))
        idx += 1
        if stage < 3:
            windows.append((2, 2))
            assert_rf(r.row(f"features.{idx}.1"), *rf_chain(windows))
            idx += 1
    assert rf_chain(windows) == (1688, 32)


def test_mobilenet_v2_receptive_fields():
    r = report("mobilenet_v2")
    # the depthwise 3x3s carry the field; strides from the (t, c, n, s) table
    strides = [s if i == 0 else 1 for _, _, n, s in V2_SETTING for i in range(n)]
    windows = [(3, 2)]
    for b, s in enumerate(strides, start=1):
        windows.append((3, s))
        assert_rf(r.row(f"features.{b}.conv.{0 if b == 1 else 1}.2"), *rf_chain(windows))
    assert rf_chain(windows) == (491, 32)


@pytest.mark.parametrize("name,before,gated", [
    ("mobilenet_v3_large", ("features.3.add", 19, 4), "features.4.block.2.mul"),
    ("mobilenet_v3_small", ("features.0.2", 3, 2), "features.1.block.1.mul"),
    ("efficientnet_b0", ("features.1.0.block.0.2", 7, 2), "features.1.0.block.1.mul"),
])
def test_squeeze_excitation_makes_the_field_global(name, before, gated):
    r = report(name)
    assert_rf(r.row(before[0]), before[1], before[2])
    # the SE gate averages the whole map: each gated unit depends on every input pixel
    assert all(a.is_global for a in r.row(gated).rf)
    assert all(a.size >= 224 for a in r.row(gated).rf)


# -- torch.nn rebuilds (torchvision's source, names as its named_modules()) --------------------------------
V2_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
              [6, 320, 1, 1]]
# bneck_conf(input, kernel, expanded, out, use_se, activation, stride), torchvision mobilenetv3.py
V3_LARGE = [(16, 3, 16, 16, 0, "RE", 1), (16, 3, 64, 24, 0, "RE", 2), (24, 3, 72, 24, 0, "RE", 1),
            (24, 5, 72, 40, 1, "RE", 2), (40, 5, 120, 40, 1, "RE", 1), (40, 5, 120, 40, 1, "RE", 1),
            (40, 3, 240, 80, 0, "HS", 2), (80, 3, 200, 80, 0, "HS", 1), (80, 3, 184, 80, 0, "HS", 1),
            (80, 3, 184, 80, 0, "HS", 1), (80, 3, 480, 112, 1, "HS", 1), (112, 3, 672, 112, 1, "HS", 1),
            (112, 5, 672, 160, 1, "HS", 2), (160, 5, 960, 160, 1, "HS", 1), (160, 5, 960, 160, 1, "HS", 1)]
V3_SMALL = [(16, 3, 16, 16, 1, "RE", 2), (16, 3, 72, 24, 0, "RE", 2), (24, 3, 88, 24, 0, "RE", 1),
            (24, 5, 96, 40, 1, "HS", 2), (40, 5, 240, 40, 1, "HS", 1), (40, 5, 240, 40, 1, "HS", 1),
            (40, 5, 120, 48, 1, "HS", 1), (48, 5, 144, 48, 1, "HS", 1), (48, 5, 288, 96, 1, "HS", 2),
            (96, 5, 576, 96, 1, "HS", 1), (96, 5, 576, 96, 1, "HS", 1)]
# _make_divisible(exp // 4, 8) for the expanded widths that have SE (research notes §3.5)
V3_SQUEEZE = {16: 8, 72: 24, 96: 24, 120: 32, 144: 40, 240: 64, 288: 72, 480: 120, 576: 144, 672: 168, 960: 240}
# (expand_ratio, kernel, stride, in, out, layers), torchvision efficientnet_b0
B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
      (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


def torch_model(name):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def cna(cin, cout, k=3, s=1, g=1, act=nn.ReLU, eps=1e-5):
        layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=g, bias=False), nn.BatchNorm2d(cout, eps=eps)]
        return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)

    class SE(nn.Module):  # torchvision.ops.SqueezeExcitation
        def __init__(self, c, sq, act, scale):
            super().__init__()
            self.avgpool, self.fc1, self.activation = nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, sq, 1), act()
            self.fc2, self.scale_activation = nn.Conv2d(sq, c, 1), scale()

        def forward(self, x):
            return x * self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    class Skip(nn.Module):
        """``body`` attribute(s) in order; ``x + body(x)`` when ``res``."""

        def __init__(self, res, **parts):
            super().__init__()
            self.res = res
            for k, v in parts.items():
                setattr(self, k, v)
            self.parts = list(parts)

        def forward(self, x):
            y = x
            for k in self.parts:
                y = getattr(self, k)(y)
            return x + y if self.res else y

    def head(features, classifier):
        return nn.Sequential(OrderedDict(features=features, avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                         classifier=classifier))

    if name == "mobilenet_v1":
        feats = [cna(3, 32, 3, 2)]
        for cin, cout, s in V1_TABLE:
            feats.append(nn.Sequential(OrderedDict(dw=cna(cin, cin, 3, s, cin), pw=cna(cin, cout, 1))))
        return nn.Sequential(OrderedDict(features=nn.Sequential(*feats), avgpool=nn.AdaptiveAvgPool2d(1),
                                         flatten=nn.Flatten(), fc=nn.Linear(1024, 1000)))
    if name == "mobilenet_v2":
        feats, cin = [cna(3, 32, 3, 2, act=nn.ReLU6)], 32
        for t, c, n, s in V2_SETTING:
            for i in range(n):
                stride, hidden = s if i == 0 else 1, int(round(cin * t))
                layers = [cna(cin, hidden, 1, act=nn.ReLU6)] if t != 1 else []
                layers += [cna(hidden, hidden, 3, stride, hidden, act=nn.ReLU6), nn.Conv2d(hidden, c, 1, bias=False),
                           nn.BatchNorm2d(c)]
                feats.append(Skip(stride == 1 and cin == c, conv=nn.Sequential(*layers)))
                cin = c
        feats.append(cna(320, 1280, 1, act=nn.ReLU6))
        return head(nn.Sequential(*feats), nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000)))
    if name.startswith("mobilenet_v3"):
        conf, last = (V3_LARGE, 1280) if name.endswith("large") else (V3_SMALL, 1024)
        feats = [cna(3, 16, 3, 2, act=nn.Hardswish, eps=0.001)]
        for cin, k, exp, out, se, a, s in conf:
            act = nn.Hardswish if a == "HS" else nn.ReLU
            layers = [cna(cin, exp, 1, act=act, eps=0.001)] if exp != cin else []
            layers.append(cna(exp, exp, k, s, exp, act=act, eps=0.001))
            if se:
                layers.append(SE(exp, V3_SQUEEZE[exp], nn.ReLU, nn.Hardsigmoid))
            layers.append(cna(exp, out, 1, act=None, eps=0.001))
            feats.append(Skip(s == 1 and cin == out, block=nn.Sequential(*layers)))
        c = conf[-1][3]
        feats.append(cna(c, 6 * c, 1, act=nn.Hardswish, eps=0.001))
        return head(nn.Sequential(*feats), nn.Sequential(nn.Linear(6 * c, last), nn.Hardswish(), nn.Dropout(0.2),
                                                         nn.Linear(last, 1000)))
    if name == "efficientnet_b0":
        feats = [cna(3, 32, 3, 2, act=nn.SiLU)]
        for t, k, s, cin, out, n in B0:
            stage = []
            for i in range(n):
                inp, stride = (cin, s) if i == 0 else (out, 1)
                exp = inp * t  # every B0 width is already a multiple of 8
                layers = [cna(inp, exp, 1, act=nn.SiLU)] if exp != inp else []
                layers += [cna(exp, exp, k, stride, exp, act=nn.SiLU), SE(exp, max(1, inp // 4), nn.SiLU, nn.Sigmoid),
                           cna(exp, out, 1, act=None)]
                res = stride == 1 and inp == out
                parts = dict(block=nn.Sequential(*layers))
                if res:
                    parts["stochastic_depth"] = nn.Identity()  # torchvision StochasticDepth in eval
                stage.append(Skip(res, **parts))
            feats.append(nn.Sequential(*stage))
        feats.append(cna(320, 1280, 1, act=nn.SiLU))
        return head(nn.Sequential(*feats), nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000)))
    if name == "regnet_x_400mf":
        class XBlock(nn.Module):
            def __init__(self, w_in, w, s):
                super().__init__()
                self.proj = cna(w_in, w, 1, s, act=None) if (w_in != w or s != 1) else None
                self.f = nn.Sequential(OrderedDict(a=cna(w_in, w, 1), b=cna(w, w, 3, s, w // 16),
                                                   c=cna(w, w, 1, act=None)))
                self.activation = nn.ReLU()

            def forward(self, x):
                return self.activation((self.proj(x) if self.proj is not None else x) + self.f(x))

        stages, w_in = OrderedDict(), 32
        for i, (w, d) in enumerate(zip([32, 64, 160, 400], [1, 2, 7, 12]), start=1):
            stages[f"block{i}"] = nn.Sequential(OrderedDict(
                (f"block{i}-{j}", XBlock(w_in if j == 0 else w, w, 2 if j == 0 else 1)) for j in range(d)))
            w_in = w
        return nn.Sequential(OrderedDict(stem=cna(3, 32, 3, 2), trunk_output=nn.Sequential(stages),
                                         avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                         fc=nn.Linear(400, 1000)))
    if name == "convnext_tiny":
        class Permute(nn.Module):
            def __init__(self, dims):
                super().__init__()
                self.dims = dims

            def forward(self, x):
                return torch.permute(x, self.dims)

        class LayerNorm2d(nn.LayerNorm):
            def forward(self, x):
                x = x.permute(0, 2, 3, 1)
                x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
                return x.permute(0, 3, 1, 2)

        class CNBlock(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.block = nn.Sequential(nn.Conv2d(d, d, 7, padding=3, groups=d, bias=True), Permute([0, 2, 3, 1]),
                                           nn.LayerNorm(d, eps=1e-6), nn.Linear(d, 4 * d), nn.GELU(),
                                           nn.Linear(4 * d, d), Permute([0, 3, 1, 2]))
                self.layer_scale = nn.Parameter(torch.ones(d, 1, 1) * 1e-6)
                self.stochastic_depth = nn.Identity()

            def forward(self, x):
                return self.stochastic_depth(self.layer_scale * self.block(x)) + x

        dims, depths = [96, 192, 384, 768], [3, 3, 9, 3]
        feats = [nn.Sequential(nn.Conv2d(3, 96, 4, 4, 0, bias=True), LayerNorm2d(96, eps=1e-6))]
        for i, (d, n) in enumerate(zip(dims, depths)):
            feats.append(nn.Sequential(*[CNBlock(d) for _ in range(n)]))
            if i < 3:
                feats.append(nn.Sequential(LayerNorm2d(d, eps=1e-6), nn.Conv2d(d, dims[i + 1], 2, 2)))
        return nn.Sequential(OrderedDict(features=nn.Sequential(*feats), avgpool=nn.AdaptiveAvgPool2d(1),
                                         classifier=nn.Sequential(LayerNorm2d(768, eps=1e-6), nn.Flatten(1),
                                                                  nn.Linear(768, 1000))))
    raise KeyError(name)


def run_torch(name, shape):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    model = torch_model(name).eval()
    outs, hooks = {}, []
    leaves = {n: m for n, m in model.named_modules() if n and not list(m.children())}
    for n, m in leaves.items():
        hooks.append(m.register_forward_hook(lambda mod, i, o, n=n: outs.__setitem__(n, tuple(o.shape[1:]))))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *shape))
    for h in hooks:
        h.remove()
    return model, leaves, outs, counter.get_total_flops()


@pytest.mark.parametrize("shape", [(3, 224, 224), (3, 129, 97)])
@pytest.mark.parametrize("name", ALL)
def test_against_torch(name, shape):
    model, leaves, outs, flops = run_torch(name, shape)
    r = report(name, shape)
    ours = dict(zoo.get(name).net.layers())
    rows = {row.name: row for row in r.rows}
    assert set(outs) == set(leaves)  # every torch leaf ran
    for n, m in leaves.items():
        assert n in rows, f"torch layer {n} has no row"
        assert rows[n].output == outs[n], n
        assert rows[n].params == sum(p.numel() for p in m.parameters(recurse=False)), n
        if hasattr(m, "eps"):
            assert ours[n].eps == m.eps, n
    # every layer with parameters is a torch leaf, except ConvNeXt's layer_scale (an nn.Parameter of CNBlock)
    extra = {n for n, row in rows.items() if row.params and n not in leaves}
    assert all(n.endswith(".layer_scale") for n in extra)
    assert r.totals["params"] == sum(p.numel() for p in model.parameters())
    assert 2 * r.totals["macs"] == flops  # FlopCounterMode: 2 FLOPs per conv/linear MAC
    assert r.rows[-1].output == (1000,)


