"""Zoo: VGG, ZFNet, ResNet/ResNeXt/Wide-ResNet, U-Net and the DCGAN generator.

Expected numbers are published figures (written here as literals with their source) or
independent computations: hand arithmetic, a 1-D dependency simulation, and the same
networks rebuilt in plain ``torch.nn`` (on the meta device: shapes and parameter counts
without allocating or computing anything).
"""
from fractions import Fraction

import numpy as np
import pytest

import convcalc as cc
from convcalc import zoo
from convcalc.verify import kernel_for, verify
from convcalc.zoo import unet as unet_mod

# (num_params, _ops) of torchvision's weights, torchvision/models/{vgg,resnet}.py meta dicts
# (research notes /work/research/zoo_figures.md §1). _ops are GMACs at 224x224, 3 decimals.
TORCHVISION = {
    "vgg11": (132863336, 7.609),            # VGG11_Weights.IMAGENET1K_V1
    "vgg13": (133047848, 11.308),           # VGG13_Weights.IMAGENET1K_V1
    "vgg16": (138357544, 15.47),            # VGG16_Weights.IMAGENET1K_V1 (and IMAGENET1K_FEATURES)
    "vgg19": (143667240, 19.632),           # VGG19_Weights.IMAGENET1K_V1
    "vgg11_bn": (132868840, 7.609),         # VGG11_BN_Weights.IMAGENET1K_V1
    "vgg13_bn": (133053736, 11.308),        # VGG13_BN_Weights.IMAGENET1K_V1
    "vgg16_bn": (138365992, 15.47),         # VGG16_BN_Weights.IMAGENET1K_V1
    "vgg19_bn": (143678248, 19.632),        # VGG19_BN_Weights.IMAGENET1K_V1
    "resnet18": (11689512, 1.814),          # ResNet18_Weights.IMAGENET1K_V1
    "resnet34": (21797672, 3.664),          # ResNet34_Weights.IMAGENET1K_V1
    "resnet50": (25557032, 4.089),          # ResNet50_Weights.IMAGENET1K_V1 and IMAGENET1K_V2
    "resnet101": (44549160, 7.801),         # ResNet101_Weights.IMAGENET1K_V1 / V2
    "resnet152": (60192808, 11.514),        # ResNet152_Weights.IMAGENET1K_V1 / V2
    "resnext50_32x4d": (25028904, 4.23),    # ResNeXt50_32X4D_Weights.IMAGENET1K_V1 / V2
    "wide_resnet50_2": (68883240, 11.398),  # Wide_ResNet50_2_Weights.IMAGENET1K_V1 / V2
}
VGGS = [n for n in TORCHVISION if n.startswith("vgg")]
RESNETS = [n for n in TORCHVISION if not n.startswith("vgg")]


# -- published totals ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_params_and_macs(name):
    params, gmacs = TORCHVISION[name]
    model = zoo.get(name)
    r = cc.analyze(model)
    assert model.input == (3, 224, 224)
    assert r.totals["params"] == params
    assert round(r.totals["macs"] / 1e9, 3) == gmacs
    assert r.rows[-1].output == (1000,)
    assert model.figures["params"][0] == params and model.figures["gmacs"][0] == gmacs


def test_resnet50_two_weight_sets_one_architecture():
    src = zoo.get("resnet50").figures["params"][1]
    assert "IMAGENET1K_V1" in src and "IMAGENET1K_V2" in src


def test_zfnet_paper_sizes_and_params():
    r = cc.analyze(zoo.get("zfnet"))
    # Layer table of ZFNet (book "Computational Analysis and Deep Learning for Medical Care",
    # Table 1.4): total 62,357,608; per layer (k*k*Cin + 1)*Cout.
    assert r.totals["params"] == 62357608
    per_layer = {"features.0": 14208, "features.4": 614656, "features.8": 885120, "features.10": 1327488,
                 "features.12": 884992, "classifier.1": 37752832, "classifier.4": 16781312,
                 "classifier.6": 4097000}
    for name, p in per_layer.items():
        assert r[name].params == p, name
    # Zeiler & Fergus Fig. 3: 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 13 -> 6.
    sizes = {"features.0": (96, 110), "features.2": (96, 55), "features.4": (256, 26), "features.6": (256, 13),
             "features.8": (384, 13), "features.10": (384, 13), "features.12": (256, 13), "features.14": (256, 6)}
    for name, (c, s) in sizes.items():
        assert r[name].output == (c, s, s), name
    assert r["flatten"].output == (6 * 6 * 256,)
    # MACs by hand: conv out-positions x Cout x k*k*Cin, plus the FC weights.
    macs = (110 * 110 * 96 * 7 * 7 * 3 + 26 * 26 * 256 * 5 * 5 * 96 + 13 * 13 * 384 * 9 * 256
            + 13 * 13 * 384 * 9 * 384 + 13 * 13 * 256 * 9 * 384 + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert r.totals["macs"] == macs


# -- receptive fields ---------------------------------------------------------------------------

def _rf(row):
    a = row.rf[0]
    assert row.rf[0] == row.rf[1]
    return a.size, a.jump, a.effective_padding


def test_vgg16_receptive_fields_google_research():
    # google-research/receptive_field RECEPTIVE_FIELD_TABLE.md, vgg_16 at 224: (RF, eff. stride, eff. padding)
    r = cc.analyze(zoo.get("vgg16"))
    table = {"features.0": (3, 1, 1), "features.4": (6, 2, 2), "features.5": (10, 2, 4), "features.9": (16, 4, 6),
             "features.10": (24, 4, 10), "features.12": (32, 4, 14), "features.16": (44, 8, 18),
             "features.17": (60, 8, 26), "features.19": (76, 8, 34), "features.23": (100, 16, 42),
             "features.24": (132, 16, 58), "features.26": (164, 16, 74), "features.30": (212, 32, 90)}
    for name, expected in table.items():
        assert _rf(r[name]) == expected, name


def test_zfnet_receptive_field_by_hand():
    r = cc.analyze(zoo.get("zfnet"))
    # size += (k-1)*jump, jump *= s: 7/2, 11/4, 27/8, 43/16, 75, 107, 139 (/16), 171/32
    expected = {"features.0": (7, 2), "features.2": (11, 4), "features.4": (27, 8), "features.6": (43, 16),
                "features.8": (75, 16), "features.10": (107, 16), "features.12": (139, 16),
                "features.14": (171, 32)}
    for name, (size, jump) in expected.items():
        assert _rf(r[name])[:2] == (size, jump), name


def test_resnet_receptive_fields_by_hand():
    r18 = cc.analyze(zoo.get("resnet18"))
    # stem: 7x7/2 -> 7/2, maxpool 3x3/2 -> 11/4; each 3x3 conv at jump 4 adds 8: four in layer1 -> 43/4
    assert _rf(r18["maxpool"])[:2] == (11, 4)
    assert _rf(r18["layer1.1.add"])[:2] == (43, 4)
    # layer2.0.conv1 strides: 43 + 2*4 = 51, jump 8; then three more 3x3 at jump 8: 99/8
    assert _rf(r18["layer2.1.add"])[:2] == (51 + 3 * 16, 8)
    r50 = cc.analyze(zoo.get("resnet50"))
    # three bottlenecks, one 3x3 each at jump 4: 11 + 3*8 = 35 (google-research's resnet_v1_50/block1 RF
    # is also 35; its jump is 8 because TF-Slim strides in the last unit of a block, torchvision's is 4)
    assert _rf(r50["layer1.2.add"])[:2] == (35, 4)
    # the projection shortcut of layer2.0 sees less than the body: 35 + 0 (1x1/2) -> 35, jump 8
    assert _rf(r50["layer2.0.downsample.0"])[:2] == (35, 8)


# -- torch.nn rebuilds (meta device: shapes and parameter counts only) --------------------------

def _torch_shapes(model, x_shape):
    torch = pytest.importorskip("torch")
    shapes = {}

    def hook(name):
        def f(mod, inp, out):
            shapes[name] = tuple(out.shape[1:])
        return f

    for name, mod in model.named_modules():
        # leaves; not ReLUs: torchvision's blocks call one ReLU module several times
        if name and not list(mod.children()) and not isinstance(mod, torch.nn.ReLU):
            mod.register_forward_hook(hook(name))
    with torch.no_grad():
        out = model(torch.empty((1, *x_shape), device="meta"))
    return shapes, tuple(out.shape[1:]), sum(p.numel() for p in model.parameters())


def _torch_vgg(cfg, batch_norm):
    nn = pytest.importorskip("torch.nn")
    import torch

    class VGG(nn.Module):  # torchvision/models/vgg.py
        def __init__(self):
            super().__init__()
            layers, c = [], 3
            for v in cfg:
                if v == "M":
                    layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
                else:
                    conv = nn.Conv2d(c, v, kernel_size=3, padding=1)
                    layers += [conv, nn.BatchNorm2d(v), nn.ReLU(True)] if batch_norm else [conv, nn.ReLU(True)]
                    c = v
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                                            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                                            nn.Linear(4096, 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return VGG()


VGG_CFGS = {  # torchvision's cfgs
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def _torch_resnet(kind, layers, groups=1, width_per_group=64):
    nn = pytest.importorskip("torch.nn")
    import torch

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
            super().__init__()
            width = int(planes * (base_width / 64.0)) * groups
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + idt)

    block = BasicBlock if kind == "basic" else Bottleneck

    class ResNet(nn.Module):  # torchvision/models/resnet.py
        def __init__(self):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(64, layers[0])
            self.layer2 = self._make_layer(128, layers[1], 2)
            self.layer3 = self._make_layer(256, layers[2], 2)
            self.layer4 = self._make_layer(512, layers[3], 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, 1000)

        def _make_layer(self, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes * block.expansion))
            out = [block(self.inplanes, planes, stride, downsample, groups, width_per_group)]
            self.inplanes = planes * block.expansion
            out += [block(self.inplanes, planes, groups=groups, base_width=width_per_group)
                    for _ in range(1, blocks)]
            return nn.Sequential(*out)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


RESNET_ARCH = {
    "resnet18": ("basic", [2, 2, 2, 2], {}), "resnet34": ("basic", [3, 4, 6, 3], {}),
    "resnet50": ("bottleneck", [3, 4, 6, 3], {}), "resnet101": ("bottleneck", [3, 4, 23, 3], {}),
    "resnet152": ("bottleneck", [3, 8, 36, 3], {}),
    "resnext50_32x4d": ("bottleneck", [3, 4, 6, 3], {"groups": 32, "width_per_group": 4}),
    "wide_resnet50_2": ("bottleneck", [3, 4, 6, 3], {"width_per_group": 128}),
}


def _torch_build(name):
    torch = pytest.importorskip("torch")
    with torch.device("meta"):
        if name.startswith("vgg"):
            return _torch_vgg(VGG_CFGS[name.replace("_bn", "")], name.endswith("_bn"))
        kind, layers, kw = RESNET_ARCH[name]
        return _torch_resnet(kind, layers, **kw)


def _compare_with_torch(model, torch_model, x_shape):
    shapes, out, nparams = _torch_shapes(torch_model, x_shape)
    r = cc.analyze(model, x_shape)
    assert r.totals["params"] == nparams
    assert r.rows[-1].output == out
    ours = {row.name: row for row in r.rows}
    compared = 0
    for name, shape in shapes.items():
        assert ours[name].output == shape, name
        assert ours[name].params == sum(p.numel() for p in torch_model.get_submodule(name).parameters()), name
        compared += 1
    return compared


@pytest.mark.parametrize("name", list(TORCHVISION))
@pytest.mark.parametrize("size", [224, 160])
def test_layer_shapes_match_torch(name, size):
    pytest.importorskip("torch")
    compared = _compare_with_torch(zoo.get(name), _torch_build(name), (3, size, size))
    assert compared >= 10


def test_vgg_odd_input_matches_torch():
    # 3x100x100: pools floor 100 -> 50 -> 25 -> 12 -> 6 -> 3, adaptive pool 3 -> 7 (repeats)
    pytest.importorskip("torch")
    _compare_with_torch(zoo.get("vgg11_bn"), _torch_build("vgg11_bn"), (3, 100, 100))
    r = cc.analyze(zoo.get("vgg11_bn"), (3, 100, 100))
    assert r["features.28"].output == (512, 3, 3) and r["avgpool"].output == (512, 7, 7)


def test_resnet_shapes_by_hand_at_256():
    r = cc.analyze(zoo.get("resnet50"), (3, 256, 256))
    # 256 -> conv1 (256+6-7)//2+1 = 128 -> maxpool (128+2-3)//2+1 = 64 -> 64, 32, 16, 8
    assert r["conv1"].output == (64, 128, 128)
    assert r["maxpool"].output == (64, 64, 64)
    assert r["layer1.2.add"].output == (256, 64, 64)
    assert r["layer2.0.conv2"].output == (128, 32, 32)
    assert r["layer3.5.add"].output == (1024, 16, 16)
    assert r["layer4.2.add"].output == (2048, 8, 8)
    assert r["fc"].output == (1000,)


# -- U-Net ----------------------------------------------------------------------------------------

def test_unet_paper_figures():
    model = zoo.get("unet")
    r = cc.analyze(model)
    assert model.input == (1, 572, 572)
    assert r.rows[-1].output == (2, 388, 388)  # paper Fig. 1
    assert sum(row.kind in ("conv2d", "convtranspose2d") for row in r.rows) == 23  # "23 convolutional layers"
    assert r.totals["params"] == 31030658  # Keras summaries of the paper's network
    # spatial trace (valid 3x3 convs take 2 pixels, pools halve, up-convs double)
    trace = {"enc1.2": 568, "pool1": 284, "enc2.2": 280, "pool2": 140, "enc3.2": 136, "pool3": 68, "enc4.2": 64,
             "pool4": 32, "enc5.2": 28, "up4": 56, "dec4.2": 52, "up3": 104, "dec3.2": 100, "up2": 200,
             "dec2.2": 196, "up1": 392, "dec1.2": 388}
    for name, s in trace.items():
        assert r[name].output[1:] == (s, s), name
    channels = {"enc1.2": 64, "enc2.2": 128, "enc3.2": 256, "enc4.2": 512, "enc5.2": 1024, "up4": 512,
                "cat4": 1024, "dec4.2": 512, "up1": 64, "cat1": 128, "dec1.2": 64}
    for name, c in channels.items():
        assert r[name].output[0] == c, name
    crops = {"crop1": (64, 392), "crop2": (128, 200), "crop3": (256, 104), "crop4": (512, 56)}
    for name, (c, s) in crops.items():
        assert r[name].output == (c, s, s) and r[name].params == 0 and r[name].macs == 0, name


def test_unet_other_tile_and_bad_tile():
    r = cc.analyze(unet_mod.unet(tile=188))
    # 188-4=184 -> 92-4=88 -> 44-4=40 -> 20-4=16 -> 8-4=4 -> 8-4=4 -> 8-4=4 -> 8-4=4 -> 8-4=4
    assert r["enc5.2"].output == (1024, 4, 4)
    assert r.rows[-1].output == (2, 4, 4)
    assert r.totals["params"] == 31030658
    with pytest.raises(cc.ConvcalcError):
        unet_mod.unet(tile=570)  # 566 before pool 1 is fine, 279 is odd at pool 2


def _unet_1d_fields(tile):
    """Exact 1-D dependency sets of every output unit (the network is separable per axis)."""
    def window(n_out, n_in, lo):  # output o depends on inputs lo(o)
        d = np.zeros((n_out, n_in), dtype=np.int64)
        for o in range(n_out):
            d[o, list(lo(o))] = 1
        return d

    def through(d, f):
        return (d @ f > 0).astype(np.int64)

    def double_conv(f):
        for _ in range(2):
            n = f.shape[0]
            f = through(window(n - 2, n, lambda o: range(o, o + 3)), f)
        return f

    def level(f, i):
        f = double_conv(f)
        if i == 4:
            return f
        n = f.shape[0]
        g = through(window(n // 2, n, lambda o: (2 * o, 2 * o + 1)), f)
        g = level(g, i + 1)
        g = through(window(2 * g.shape[0], g.shape[0], lambda o: (o // 2,)), g)
        a = (n - g.shape[0]) // 2
        s = through(window(g.shape[0], n, lambda o: (o + a,)), f)
        return double_conv(np.maximum(s, g))

    return level(np.eye(tile, dtype=np.int64), 0)


def test_unet_receptive_field_is_the_period_average():
    # The 2x2 up-convs make neighbouring output pixels see different context: the exact fields
    # repeat every 16 output pixels; the engine reports their average size and a jump of 1.
    f = _unet_1d_fields(572)
    assert f.shape == (388, 572)
    ext = [(np.flatnonzero(row)[0], np.flatnonzero(row)[-1]) for row in f]
    mid = 192
    sizes = [ext[v][1] - ext[v][0] + 1 for v in range(mid, mid + 16)]
    assert ext[mid + 16][0] - ext[mid][0] == 16  # period 16, 16 pixels
    row = cc.analyze(zoo.get("unet")).rows[-1]
    a = row.rf[0]
    assert a.jump == 1
    assert a.size == Fraction(sum(sizes), 16)  # 200 (fields of 188 and 204 pixels)
    lo, hi = min(sizes), max(sizes)
    assert (lo, hi) == (188, 204)


# -- DCGAN ----------------------------------------------------------------------------------------

def test_dcgan_generator_figures():
    r = cc.analyze(zoo.get("dcgan_generator"))
    assert r.input == (100, 1, 1) and r.rows[-1].output == (3, 64, 64)
    assert r.totals["params"] == 3576704  # torchsummary of pytorch/examples' Generator
    # transposed convs, torchvision/fvcore rule: input positions x Cin x Cout x 4 x 4
    macs = 1 * 100 * 512 * 16 + 4 * 4 * 512 * 256 * 16 + 8 * 8 * 256 * 128 * 16 + 16 * 16 * 128 * 64 * 16 \
        + 32 * 32 * 64 * 3 * 16
    assert r.totals["macs"] == macs == 104628224
    sizes = {"main.0": (512, 4), "main.3": (256, 8), "main.6": (128, 16), "main.9": (64, 32), "main.12": (3, 64)}
    for name, (c, s) in sizes.items():
        assert r[name].output == (c, s, s), name


def test_dcgan_generator_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    nz, ngf, nc = 100, 64, 3
    with torch.device("meta"):
        main = nn.Sequential(  # pytorch/examples dcgan/main.py Generator.main
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
        gen = nn.Sequential()
        gen.add_module("main", main)
    shapes, out, nparams = _torch_shapes(gen, (nz, 1, 1))
    assert nparams == 3576704
    r = cc.analyze(zoo.get("dcgan_generator"))
    for name, shape in shapes.items():
        assert r[name].output == shape, name


def test_unet_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def dc(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3), nn.ReLU(True), nn.Conv2d(cout, cout, 3), nn.ReLU(True))

    class UNet(nn.Module):  # Ronneberger et al. 2015, crop-and-concat in forward
        def __init__(self):
            super().__init__()
            for i, (a, b) in enumerate([(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024)], 1):
                setattr(self, f"enc{i}", dc(a, b))
            for i, c in enumerate([64, 128, 256, 512], 1):
                setattr(self, f"pool{i}", nn.MaxPool2d(2))
                setattr(self, f"up{i}", nn.ConvTranspose2d(2 * c, c, 2, stride=2))
                setattr(self, f"dec{i}", dc(2 * c, c))
            self.head = nn.Conv2d(64, 2, 1)

        def forward(self, x):
            skips = []
            for i in range(1, 5):
                x = getattr(self, f"enc{i}")(x)
                skips.append(x)
                x = getattr(self, f"pool{i}")(x)
            x = self.enc5(x)
            for i in range(4, 0, -1):
                x = getattr(self, f"up{i}")(x)
                s = skips[i - 1]
                a = (s.shape[-1] - x.shape[-1]) // 2
                x = torch.cat([s[..., a:a + x.shape[-2], a:a + x.shape[-1]], x], dim=1)
                x = getattr(self, f"dec{i}")(x)
            return self.head(x)

    with torch.device("meta"):
        net = UNet()
    shapes, out, nparams = _torch_shapes(net, (1, 572, 572))
    assert nparams == 31030658 and out == (2, 388, 388)
    r = cc.analyze(zoo.get("unet"))
    assert len(shapes) == 23 + 4  # every conv, up-conv and pool
    for name, shape in shapes.items():
        assert r[name].output == shape, name


# -- execution in the NumPy core ----------------------------------------------------------------

def test_center_crop_layer():
    crop = cc.CenterCrop(5)
    r = cc.analyze(cc.Sequential(crop), (3, 8, 9))
    row = r.rows[0]
    assert row.output == (3, 5, 5) and row.params == 0 and row.macs == 0
    # first kept pixel (8-5)//2 = 1 and (9-5)//2 = 2: field centres 1.5 and 2.5, size 1
    assert [(a.size, a.jump, a.start) for a in row.rf] == [(1, 1, Fraction(3, 2)), (1, 1, Fraction(5, 2))]
    x = np.arange(2 * 3 * 8 * 9, dtype=np.float32).reshape(2, 3, 8, 9)
    y, macs = kernel_for(crop).run(crop, x, {}, {})
    assert macs == 0 and np.array_equal(y, x[:, :, 1:6, 2:7])
    assert verify(cc.Sequential(cc.Conv2d(1, 2, 3), crop), (1, 10, 11)).ok
    with pytest.raises(cc.ConvcalcError):
        cc.analyze(cc.Sequential(crop), (3, 4, 9))
