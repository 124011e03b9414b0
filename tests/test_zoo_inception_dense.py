"""Zoo: GoogLeNet, Inception v3, DenseNet-121, SqueezeNet 1.0/1.1, ShuffleNet V2 x1.0.

Published figures are literals with their source; shapes and per-layer parameters are
checked against the same networks written in plain ``torch.nn`` (as torchvision writes
them; torchvision itself is not installed), layer by layer under torchvision's names;
receptive fields against google-research/receptive_field's table (Inception v3) and
against hand arithmetic along the longest path.
"""
from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

import pytest

import convcalc as cc
from convcalc import zoo
from convcalc.errors import ShapeError
from convcalc.zoo import inception as I


# name -> (num_params, _ops as printed), torchvision weights meta (research notes §1):
PUBLISHED = {
    "googlenet": (6624904, "1.498"),            # GoogLeNet_Weights.IMAGENET1K_V1 (aux heads removed)
    "densenet121": (7978856, "2.834"),          # DenseNet121_Weights.IMAGENET1K_V1
    "squeezenet1_0": (1248424, "0.819"),        # SqueezeNet1_0_Weights.IMAGENET1K_V1
    "squeezenet1_1": (1235496, "0.349"),        # SqueezeNet1_1_Weights.IMAGENET1K_V1
    "shufflenet_v2_x1_0": (2278604, "0.145"),   # ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1
}
INCEPTION_V3_PUBLISHED = (27161264, "5.713")    # Inception_V3_Weights.IMAGENET1K_V1: params WITH AuxLogits,
#                                                 _ops without (eval mode)

# Aux heads by hand: conv 1x1 (no bias) + BN (2C) + linears with bias.
GOOGLENET_AUX = {c: c * 128 + 2 * 128 + (2048 * 1024 + 1024) + (1024 * 1000 + 1000) for c in (512, 528)}
INCEPTION_AUX = (768 * 128 + 2 * 128) + (128 * 768 * 5 * 5 + 2 * 768) + (768 * 1000 + 1000)


def _rounds_to(macs, printed: str) -> bool:
    digits = -Decimal(printed).as_tuple().exponent
    return round(macs / 1e9, digits) == float(printed)


# -- published figures ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_params_and_ops(name):
    params, ops = PUBLISHED[name]
    model = zoo.get(name)
    r = cc.analyze(model)
    assert r.totals["params"] == params
    assert _rounds_to(r.totals["macs"], ops), r.totals["macs"]
    assert model.figures["params"][0] == params and model.figures["gmacs"][0] == float(ops)


def test_inception_v3_published_figures():
    params, ops = INCEPTION_V3_PUBLISHED
    main = cc.analyze(zoo.get("inception_v3"))
    aux = cc.analyze(I.inception_v3_aux())
    assert aux.totals["params"] == INCEPTION_AUX == 3326696
    assert main.totals["params"] + aux.totals["params"] == params
    assert _rounds_to(main.totals["macs"], ops)
    figs = zoo.get("inception_v3").figures
    assert figs["params_published"][0] == params and figs["aux_params"][0] == INCEPTION_AUX
    assert figs["params"][0] == main.totals["params"]
    # training-mode network (aux head attached): the published parameter count exactly
    train = cc.analyze(I.inception_v3(aux_logits=True))
    assert train.totals["params"] == params
    assert train.rows[-1].name == "aux_cat" and train.rows[-1].output == (2000,)
    assert train.totals["macs"] == main.totals["macs"] + aux.totals["macs"]


def test_googlenet_aux_heads():
    assert cc.analyze(I.googlenet_aux(1)).totals["params"] == GOOGLENET_AUX[512] == 3188968
    assert cc.analyze(I.googlenet_aux(2)).totals["params"] == GOOGLENET_AUX[528] == 3191016
    with_aux = cc.analyze(I.googlenet(aux_logits=True))
    # GoogLeNet() with its default aux_logits=True: 6,624,904 + both heads
    assert with_aux.totals["params"] == PUBLISHED["googlenet"][0] + sum(GOOGLENET_AUX.values()) == 13004888
    assert with_aux.rows[-1].output == (3000,)
    assert I.googlenet(aux_logits=True).figures["params"][0] == 13004888


# -- shapes by hand ---------------------------------------------------------------------------------

def _outputs(name, input=None, **rows):
    r = cc.analyze(zoo.get(name), input)
    return {k: r.row(v).output for k, v in rows.items()}


def test_hand_shapes():
    g = _outputs("googlenet", None, a="inception3a.cat", b="inception4a.cat", c="inception4e.cat",
                 d="maxpool4", e="inception5b.cat")
    assert g == {"a": (256, 28, 28), "b": (512, 14, 14), "c": (832, 14, 14), "d": (832, 7, 7), "e": (1024, 7, 7)}
    v3 = _outputs("inception_v3", None, a="maxpool2", b="Mixed_5b.cat", c="Mixed_6a.cat", d="Mixed_7a.cat",
                  e="Mixed_7c.cat", f="Mixed_7b.branch3x3_cat")
    assert v3 == {"a": (192, 35, 35), "b": (256, 35, 35), "c": (768, 17, 17), "d": (1280, 8, 8),
                  "e": (2048, 8, 8), "f": (768, 8, 8)}
    d = _outputs("densenet121", None, a="features.denseblock1.denselayer6.cat", b="features.transition1.pool",
                 c="features.denseblock3.denselayer24.cat", d="features.norm5")
    assert d == {"a": (64 + 6 * 32, 56, 56), "b": (128, 28, 28), "c": (256 + 24 * 32, 14, 14),
                 "d": (512 + 16 * 32, 7, 7)}
    # squeezenet1_0: conv 7/2: (224-7)//2+1 = 109; ceil pools: 54, 27, 13
    s0 = _outputs("squeezenet1_0", None, a="features.0", b="features.2", c="features.6", d="features.11",
                  e="classifier.1")
    assert s0 == {"a": (96, 109, 109), "b": (96, 54, 54), "c": (256, 27, 27), "d": (512, 13, 13),
                  "e": (1000, 13, 13)}
    # squeezenet1_1: conv 3/2: 111; ceil pools: 55, 27, 13
    s1 = _outputs("squeezenet1_1", None, a="features.0", b="features.2", c="features.5", d="features.8")
    assert s1 == {"a": (64, 111, 111), "b": (64, 55, 55), "c": (128, 27, 27), "d": (256, 13, 13)}
    sh = _outputs("shufflenet_v2_x1_0", (3, 160, 160), a="maxpool", b="stage2.3.shuffle", c="stage3.7.shuffle",
                  d="stage4.3.shuffle", e="stage2.1.x2")
    assert sh == {"a": (24, 40, 40), "b": (116, 20, 20), "c": (232, 10, 10), "d": (464, 5, 5), "e": (58, 20, 20)}


# -- receptive fields -------------------------------------------------------------------------------

def _longest_path(windows):
    """Field size and jump through (kernel, stride) windows: size += (k-1)*jump; jump *= stride."""
    size, jump = 1, 1
    for k, s in windows:
        size += (k - 1) * jump
        jump *= s
    return size, jump


# google-research/receptive_field RECEPTIVE_FIELD_TABLE.md, inception_v3 at 224: (RF, stride, padding)
TF_SLIM_INCEPTION_V3 = {
    "Conv2d_1a_3x3.conv": (3, 2, 0), "Conv2d_2a_3x3.conv": (7, 2, 0), "Conv2d_2b_3x3.conv": (11, 2, 2),
    "maxpool1": (15, 4, 2), "Conv2d_3b_1x1.conv": (15, 4, 2), "Conv2d_4a_3x3.conv": (23, 4, 2),
    "maxpool2": (31, 8, 2), "Mixed_5b.cat": (63, 8, 18), "Mixed_5c.cat": (95, 8, 34), "Mixed_5d.cat": (127, 8, 50),
    "Mixed_6a.cat": (159, 16, 58), "Mixed_6b.cat": (351, 16, 154), "Mixed_6c.cat": (543, 16, 250),
    "Mixed_6d.cat": (735, 16, 346), "Mixed_6e.cat": (927, 16, 442), "Mixed_7a.cat": (1055, 32, 490),
    "Mixed_7b.cat": (1183, 32, 554), "Mixed_7c.cat": (1311, 32, 618),
}


def test_inception_v3_receptive_fields_match_google_table():
    r = cc.analyze(zoo.get("inception_v3"), (3, 224, 224))
    for name, want in TF_SLIM_INCEPTION_V3.items():
        for a in r.row(name).rf:
            assert (a.size, a.jump, a.effective_padding) == want, name


@pytest.mark.parametrize("name,row,windows", [
    # conv1 7/2, pool 3/2, conv3 3, pool 3/2, 3a, 3b (+3x3 each), pool 3/2, 4a-4e, pool 2/2, 5a, 5b
    ("googlenet", "inception5b.cat",
     [(7, 2), (3, 2), (3, 1), (3, 2), (3, 1), (3, 1), (3, 2)] + [(3, 1)] * 5 + [(2, 2), (3, 1), (3, 1)]),
    # conv0 7/2, pool0 3/2, then per dense layer one 3x3, per transition a 2/2 average pool
    ("densenet121", "features.norm5",
     [(7, 2), (3, 2)] + [(3, 1)] * 6 + [(2, 2)] + [(3, 1)] * 12 + [(2, 2)] + [(3, 1)] * 24 + [(2, 2)] + [(3, 1)] * 16),
    # conv 7/2, pool, fire2-4 (3x3 expand), pool, fire5-8, pool, fire9
    ("squeezenet1_0", "features.12.cat",
     [(7, 2), (3, 2)] + [(3, 1)] * 3 + [(3, 2)] + [(3, 1)] * 4 + [(3, 2), (3, 1)]),
    ("squeezenet1_1", "features.12.cat",
     [(3, 2), (3, 2)] + [(3, 1)] * 2 + [(3, 2)] + [(3, 1)] * 2 + [(3, 2)] + [(3, 1)] * 4),
    # conv1 3/2, maxpool 3/2, then one depthwise 3x3 per unit (stride 2 first in each stage)
    ("shufflenet_v2_x1_0", "conv5.0",
     [(3, 2), (3, 2)] + [(3, 2)] + [(3, 1)] * 3 + [(3, 2)] + [(3, 1)] * 7 + [(3, 2)] + [(3, 1)] * 3),
])
def test_receptive_field_longest_path(name, row, windows):
    size, jump = _longest_path(windows)
    rf = cc.analyze(zoo.get(name)).row(row).rf
    assert [(a.size, a.jump) for a in rf] == [(size, jump)] * 2


def test_receptive_field_hand_values():
    # the same arithmetic written out: 379 (googlenet), 2071 (densenet121), 155 (squeezenet1_0)
    assert _longest_path([(7, 2), (3, 2), (3, 1), (3, 2)] + [(3, 1)] * 2 + [(3, 2)] + [(3, 1)] * 5
                         + [(2, 2)] + [(3, 1)] * 2) == (379, 32)
    assert cc.analyze(zoo.get("densenet121")).row("features.norm5").rf[0].size == 2071
    assert cc.analyze(zoo.get("squeezenet1_0")).row("features.12.cat").rf[0].size == 155


# -- plain torch.nn versions, as torchvision writes them ------------------------------------------

def _torch_models():
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional

    class BasicConv2d(nn.Module):
        def __init__(self, i, o, **kw):
            super().__init__()
            self.conv = nn.Conv2d(i, o, bias=False, **kw)
            self.bn = nn.BatchNorm2d(o, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    class Inception(nn.Module):
        def __init__(self, i, c1, c3r, c3, c5r, c5, pp):
            super().__init__()
            self.branch1 = BasicConv2d(i, c1, kernel_size=1)
            self.branch2 = nn.Sequential(BasicConv2d(i, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3,
                                                                                         padding=1))
            self.branch3 = nn.Sequential(BasicConv2d(i, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=3,
                                                                                         padding=1))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                         BasicConv2d(i, pp, kernel_size=1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)

    class GAux(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.conv = BasicConv2d(i, 128, kernel_size=1)
            self.fc1 = nn.Linear(2048, 1024)
            self.fc2 = nn.Linear(1024, 1000)
            self.dropout = nn.Dropout(0.7)

        def forward(self, x):
            x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
            return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))

    class GoogLeNet(nn.Module):
        def __init__(self, aux_logits=False):
            super().__init__()
            self.aux_logits = aux_logits
            self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = BasicConv2d(64, 64, kernel_size=1)
            self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
            self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
            self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
            self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
            self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
            self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
            self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
            self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
            self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
            if aux_logits:
                self.aux1, self.aux2 = GAux(512), GAux(528)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(1024, 1000)

        def forward(self, x):
            x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
            x = self.maxpool3(self.inception3b(self.inception3a(x)))
            x = self.inception4a(x)
            a1 = self.aux1(x) if self.aux_logits and self.training else None
            x = self.inception4d(self.inception4c(self.inception4b(x)))
            a2 = self.aux2(x) if self.aux_logits and self.training else None
            x = self.maxpool4(self.inception4e(x))
            x = self.inception5b(self.inception5a(x))
            x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
            return torch.cat([x, a2, a1], 1) if a1 is not None else x

    class InceptionA(nn.Module):
        def __init__(self, i, pf):
            super().__init__()
            self.branch1x1 = BasicConv2d(i, 64, kernel_size=1)
            self.branch5x5_1 = BasicConv2d(i, 48, kernel_size=1)
            self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = BasicConv2d(i, 64, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
            self.branch_pool = BasicConv2d(i, pf, kernel_size=1)

        def forward(self, x):
            return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))], 1)

    class InceptionB(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.branch3x3 = BasicConv2d(i, 384, kernel_size=3, stride=2)
            self.branch3x3dbl_1 = BasicConv2d(i, 64, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

        def forward(self, x):
            return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class InceptionC(nn.Module):
        def __init__(self, i, c7):
            super().__init__()
            self.branch1x1 = BasicConv2d(i, 192, kernel_size=1)
            self.branch7x7_1 = BasicConv2d(i, c7, kernel_size=1)
            self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_1 = BasicConv2d(i, c7, kernel_size=1)
            self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch_pool = BasicConv2d(i, 192, kernel_size=1)

        def forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = x
            for k in range(1, 6):
                d = getattr(self, f"branch7x7dbl_{k}")(d)
            return torch.cat([self.branch1x1(x), b7, d,
                              self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))], 1)

    class InceptionD(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.branch3x3_1 = BasicConv2d(i, 192, kernel_size=1)
            self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
            self.branch7x7x3_1 = BasicConv2d(i, 192, kernel_size=1)
            self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

        def forward(self, x):
            b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
            return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class InceptionE(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.branch1x1 = BasicConv2d(i, 320, kernel_size=1)
            self.branch3x3_1 = BasicConv2d(i, 384, kernel_size=1)
            self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = BasicConv2d(i, 448, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
            self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch_pool = BasicConv2d(i, 192, kernel_size=1)

        def forward(self, x):
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
            return torch.cat([self.branch1x1(x), b3, d,
                              self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))], 1)

    class InceptionAux(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.conv0 = BasicConv2d(i, 128, kernel_size=1)
            self.conv1 = BasicConv2d(128, 768, kernel_size=5)
            self.fc = nn.Linear(768, 1000)

        def forward(self, x):
            x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))

    class Inception3(nn.Module):
        def __init__(self, aux_logits=False):
            super().__init__()
            self.aux_logits = aux_logits
            self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
            self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
            self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
            self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
            self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
            self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
            self.Mixed_5b = InceptionA(192, pf=32)
            self.Mixed_5c = InceptionA(256, pf=64)
            self.Mixed_5d = InceptionA(288, pf=64)
            self.Mixed_6a = InceptionB(288)
            self.Mixed_6b = InceptionC(768, c7=128)
            self.Mixed_6c = InceptionC(768, c7=160)
            self.Mixed_6d = InceptionC(768, c7=160)
            self.Mixed_6e = InceptionC(768, c7=192)
            if aux_logits:
                self.AuxLogits = InceptionAux(768)
            self.Mixed_7a = InceptionD(768)
            self.Mixed_7b = InceptionE(1280)
            self.Mixed_7c = InceptionE(2048)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.5)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x):
            for n in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                      "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
                      "Mixed_6c", "Mixed_6d", "Mixed_6e"):
                x = getattr(self, n)(x)
            aux = self.AuxLogits(x) if self.aux_logits and self.training else None
            x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
            x = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
            return torch.cat([x, aux], 1) if aux is not None else x

    class DenseLayer(nn.Module):
        def __init__(self, i, growth, bn_size):
            super().__init__()
            self.norm1 = nn.BatchNorm2d(i)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(i, bn_size * growth, kernel_size=1, stride=1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth, growth, kernel_size=3, stride=1, padding=1, bias=False)

        def forward(self, x):
            return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))

    class DenseBlock(nn.ModuleDict):
        def __init__(self, n, i, growth, bn_size):
            super().__init__()
            for k in range(n):
                self.add_module(f"denselayer{k + 1}", DenseLayer(i + k * growth, growth, bn_size))

        def forward(self, x):
            feats = [x]
            for layer in self.values():
                feats.append(layer(torch.cat(feats, 1)))
            return torch.cat(feats, 1)

    class DenseNet(nn.Module):
        def __init__(self, growth=32, blocks=(6, 12, 24, 16), init=64, bn_size=4):
            super().__init__()
            self.features = nn.Sequential(OrderedDict([
                ("conv0", nn.Conv2d(3, init, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(init)), ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
            c = init
            for k, n in enumerate(blocks):
                self.features.add_module(f"denseblock{k + 1}", DenseBlock(n, c, growth, bn_size))
                c += n * growth
                if k != len(blocks) - 1:
                    self.features.add_module(f"transition{k + 1}", nn.Sequential(OrderedDict([
                        ("norm", nn.BatchNorm2d(c)), ("relu", nn.ReLU(inplace=True)),
                        ("conv", nn.Conv2d(c, c // 2, kernel_size=1, stride=1, bias=False)),
                        ("pool", nn.AvgPool2d(kernel_size=2, stride=2))])))
                    c //= 2
            self.features.add_module("norm5", nn.BatchNorm2d(c))
            self.classifier = nn.Linear(c, 1000)

        def forward(self, x):
            x = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    class Fire(nn.Module):
        def __init__(self, i, s, e1, e3):
            super().__init__()
            self.squeeze = nn.Conv2d(i, s, kernel_size=1)
            self.squeeze_activation = nn.ReLU(inplace=True)
            self.expand1x1 = nn.Conv2d(s, e1, kernel_size=1)
            self.expand1x1_activation = nn.ReLU(inplace=True)
            self.expand3x3 = nn.Conv2d(s, e3, kernel_size=3, padding=1)
            self.expand3x3_activation = nn.ReLU(inplace=True)

        def forward(self, x):
            x = self.squeeze_activation(self.squeeze(x))
            return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                              self.expand3x3_activation(self.expand3x3(x))], 1)

    class SqueezeNet(nn.Module):
        def __init__(self, version="1_0"):
            super().__init__()
            pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
            if version == "1_0":
                self.features = nn.Sequential(
                    nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True), pool(),
                    Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                    Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                    Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
            else:
                self.features = nn.Sequential(
                    nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
                    Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                    Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                    Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                    Fire(512, 64, 256, 256))
            self.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.Conv2d(512, 1000, kernel_size=1),
                                            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)

    def channel_shuffle(x, groups):
        b, c, h, w = x.size()
        return x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, -1, h, w)

    def dw(i, o, s):
        return nn.Conv2d(i, o, 3, s, 1, bias=False, groups=i)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride):
            super().__init__()
            self.stride = stride
            bf = oup // 2
            if stride > 1:
                self.branch1 = nn.Sequential(dw(inp, inp, stride), nn.BatchNorm2d(inp),
                                             nn.Conv2d(inp, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf),
                                             nn.ReLU(inplace=True))
            else:
                self.branch1 = nn.Sequential()
            self.branch2 = nn.Sequential(
                nn.Conv2d(inp if stride > 1 else bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf),
                nn.ReLU(inplace=True), dw(bf, bf, stride), nn.BatchNorm2d(bf),
                nn.Conv2d(bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = torch.cat((x1, self.branch2(x2)), dim=1)
            else:
                out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
            return channel_shuffle(out, 2)

    class ShuffleNetV2(nn.Module):
        def __init__(self, repeats=(4, 8, 4), chans=(24, 116, 232, 464, 1024)):
            super().__init__()
            c = chans[0]
            self.conv1 = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            for name, n, o in zip(("stage2", "stage3", "stage4"), repeats, chans[1:]):
                setattr(self, name, nn.Sequential(InvertedResidual(c, o, 2),
                                                  *[InvertedResidual(o, o, 1) for _ in range(n - 1)]))
                c = o
            self.conv5 = nn.Sequential(nn.Conv2d(c, chans[-1], 1, 1, 0, bias=False), nn.BatchNorm2d(chans[-1]),
                                       nn.ReLU(inplace=True))
            self.fc = nn.Linear(chans[-1], 1000)

        def forward(self, x):
            x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
            return self.fc(self.conv5(x).mean([2, 3]))

    return torch, {
        "googlenet": lambda: GoogLeNet(), "googlenet_aux": lambda: GoogLeNet(aux_logits=True),
        "googlenet_aux1": lambda: nn.Sequential(OrderedDict(aux1=GAux(512))),
        "googlenet_aux2": lambda: nn.Sequential(OrderedDict(aux2=GAux(528))),
        "inception_v3": lambda: Inception3(), "inception_v3_aux": lambda: Inception3(aux_logits=True),
        "inception_v3_auxhead": lambda: nn.Sequential(OrderedDict(AuxLogits=InceptionAux(768))),
        "densenet121": DenseNet, "squeezenet1_0": lambda: SqueezeNet("1_0"),
        "squeezenet1_1": lambda: SqueezeNet("1_1"), "shufflenet_v2_x1_0": ShuffleNetV2,
    }


# For composite torch modules: which of our rows carries the module's output.
COMPOSITE_ROW = {"BasicConv2d": ".relu", "Inception": ".cat", "InceptionA": ".cat", "InceptionB": ".cat",
                 "InceptionC": ".cat", "InceptionD": ".cat", "InceptionE": ".cat", "Fire": ".cat",
                 "InvertedResidual": ".shuffle"}

CASES = [  # (torch key, our model, inputs); aux heads checked on their own input map, whole aux models
    #        by parameter count and final shape only (a training-mode forward at 299 is slow)
    ("googlenet", lambda: zoo.get("googlenet"), [(3, 224, 224), (3, 193, 193)]),
    ("googlenet_aux", lambda: I.googlenet(aux_logits=True), []),
    ("googlenet_aux1", lambda: I.googlenet_aux(1), [(512, 14, 14)]),
    ("googlenet_aux2", lambda: I.googlenet_aux(2), [(528, 14, 14)]),
    ("inception_v3", lambda: zoo.get("inception_v3"), [(3, 299, 299), (3, 160, 160)]),
    ("inception_v3_aux", lambda: I.inception_v3(aux_logits=True), []),
    ("inception_v3_auxhead", lambda: I.inception_v3_aux(), [(768, 17, 17)]),
    ("densenet121", lambda: zoo.get("densenet121"), [(3, 224, 224), (3, 160, 160)]),
    ("squeezenet1_0", lambda: zoo.get("squeezenet1_0"), [(3, 224, 224), (3, 193, 193)]),
    ("squeezenet1_1", lambda: zoo.get("squeezenet1_1"), [(3, 224, 224), (3, 193, 193)]),
    ("shufflenet_v2_x1_0", lambda: zoo.get("shufflenet_v2_x1_0"), [(3, 224, 224), (3, 160, 160)]),
]


@pytest.mark.parametrize("key,build,inputs", CASES, ids=[c[0] for c in CASES])
def test_layers_match_plain_torch(key, build, inputs):
    torch, refs = _torch_models()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tnet = refs[key]().eval()
    model = build()
    leaves = {n for n, m in tnet.named_modules()  # (the empty branch1 of a stride-1 ShuffleNet unit is no layer)
              if n and not list(m.children()) and not isinstance(m, torch.nn.Sequential)}
    if not inputs:
        rep = cc.analyze(model)
        assert rep.totals["params"] == sum(p.numel() for p in tnet.parameters())
        assert {r.name for r in rep.rows if r.params} == {n for n, m in tnet.named_modules()
                                                         if n in leaves and sum(p.numel() for p in m.parameters())}
        return
    for shape in inputs:
        rep = cc.analyze(model, shape)
        rows = {r.name: r for r in rep.rows}
        assert rep.totals["params"] == sum(p.numel() for p in tnet.parameters())
        outs = {}
        hooks = [m.register_forward_hook(lambda mod, i, o, n=n: outs.__setitem__(n, tuple(o.shape[1:])))
                 for n, m in tnet.named_modules() if n]
        with torch.no_grad():
            y = tnet(torch.randn(1, *shape))
        for h in hooks:
            h.remove()
        assert tuple(y.shape[1:]) == rep.rows[-1].output
        matched = 0
        for n, m in tnet.named_modules():
            if n in leaves:
                assert n in rows, f"torchvision module {n} has no row"
                assert rows[n].output == outs[n], (n, shape)
                assert rows[n].params == sum(p.numel() for p in m.parameters(recurse=False)), n
                assert rows[n].buffers == sum(b.numel() for b in m.buffers(recurse=False)), n
                matched += 1
            elif n in outs and type(m).__name__ in COMPOSITE_ROW:
                assert rows[n + COMPOSITE_ROW[type(m).__name__]].output == outs[n], (n, shape)
        # every row with parameters is a torchvision module of the same name
        assert {r.name for r in rep.rows if r.params} <= leaves
        assert matched == len(leaves)


# torchvision weights meta "min_size" (research notes §1): the smallest input each network accepts
MIN_SIZE = {"googlenet": 15, "inception_v3": 75, "densenet121": 29, "squeezenet1_0": 21, "squeezenet1_1": 17,
            "shufflenet_v2_x1_0": 1}


@pytest.mark.parametrize("name", list(MIN_SIZE))
def test_min_size(name):
    m = MIN_SIZE[name]
    assert cc.analyze(zoo.get(name), (3, m, m)).rows[-1].output == (1000,)
    if m > 1:
        with pytest.raises(ShapeError):
            cc.analyze(zoo.get(name), (3, m - 1, m - 1))
