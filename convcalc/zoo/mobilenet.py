"""MobileNets: v1 (Howard et al. 2017, the paper's 1.0 MobileNet-224) and torchvision's v2, v3-small
and v3-large. Row names follow torchvision's ``named_modules()`` (``features.3.conv.1.0``,
``features.4.block.2.fc1``) so that a table lines up with a loaded torchvision model."""
from __future__ import annotations

from typing import Optional

from ..graph import Parallel, Residual, Sequential
from ..layers import (AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Hardsigmoid, Hardswish, Linear,
                      ReLU, ReLU6)
from . import Model, functional


def make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    """torchvision.models._utils._make_divisible: round ``v`` to a multiple of ``divisor``,
    never going down by more than 10%."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_norm_act(in_ch, out_ch, kernel_size=3, stride=1, groups=1, act=ReLU, eps=1e-5, dilation=1,
                  label=None) -> Sequential:
    """torchvision.ops.Conv2dNormActivation with BatchNorm: ``0`` conv (no bias, padding
    ``(k-1)//2*dilation``), ``1`` BN, ``2`` activation (omitted when ``act`` is None)."""
    pad = (kernel_size - 1) // 2 * dilation
    mods = [Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=pad, dilation=dilation, groups=groups,
                   bias=False),
            BatchNorm2d(out_ch, eps=eps)]
    if act is not None:
        mods.append(act(inplace=True))  # torchvision.ops.Conv2dNormActivation: inplace=True
    return Sequential(*mods, label=label)


def squeeze_excitation(channels, squeeze, act=ReLU, scale_act=Hardsigmoid) -> Parallel:
    """torchvision.ops.SqueezeExcitation: ``x * scale(fc2(act(fc1(avgpool(x)))))``; fc1/fc2 are
    1x1 convs with bias. Layers are named directly under the block (``.fc1``, ``.fc2``)."""
    gate = Sequential(("avgpool", AdaptiveAvgPool2d(1)),
                      ("fc1", Conv2d(channels, squeeze, 1)),
                      ("activation", act()),
                      ("fc2", Conv2d(squeeze, channels, 1)),
                      ("scale_activation", scale_act()))
    return Parallel([("", None), ("", gate)], combine="mul", label="SE")


# -- MobileNet v1 --------------------------------------------------------------------------------------

# (output channels, depthwise stride) of the 13 depthwise-separable blocks (paper Table 1).
_V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def mobilenet_v1() -> Model:
    """MobileNet v1, 1.0 MobileNet-224 (Howard et al. 2017, "MobileNets: Efficient Convolutional
    Neural Networks for Mobile Vision Applications", Table 1): a 3x3/2 conv to 32 channels, then 13
    depthwise-separable blocks (3x3 depthwise + BN + ReLU, 1x1 pointwise + BN + ReLU), global
    average pool (the paper's 7x7 avg pool at 224) and FC 1000. Convs have no bias; BN follows
    every conv.

    Published (paper, Table 1 / §4): 569M mult-adds and 4.2M parameters. Here: 568,740,352 MACs
    (567,716,352 conv + 1,024,000 FC) and 4,231,976 parameters counting the BN scale and shift
    (4,210,088 without BN; 4,253,864 also counting the BN running mean/var, Keras' figure). The
    paper's table prints "s2" on the last depthwise conv (7x7 input); implementations (TF-Slim,
    Keras) use stride 1 there, as here, and only that reproduces 569M.

    Names: ``features.0`` is the stem (``.0`` conv, ``.1`` BN, ``.2`` ReLU); block ``features.i``
    has ``dw`` (depthwise conv/BN/ReLU) and ``pw`` (pointwise conv/BN/ReLU). ``features.i.pw``
    is TF-Slim's ``Conv2d_i_pointwise`` (google-research/receptive_field: receptive field 315,
    stride 32 at ``features.13.pw``)."""
    layers = [("0", conv_norm_act(3, 32, 3, stride=2, label="stem"))]
    c_in = 32
    for i, (c_out, s) in enumerate(_V1_BLOCKS, start=1):
        block = Sequential(("dw", conv_norm_act(c_in, c_in, 3, stride=s, groups=c_in)),
                           ("pw", conv_norm_act(c_in, c_out, 1)), label=f"dw-sep {s}")
        layers.append((str(i), block))
        c_in = c_out
    net = Sequential(("features", Sequential(*layers)), ("avgpool", AdaptiveAvgPool2d(1)),
                     ("flatten", Flatten()), ("fc", Linear(1024, 1000)))
    figures = {
        "params": (4.2e6, "Howard et al. 2017, MobileNet paper: 4.2M parameters (1.0 MobileNet-224)"),
        "gmacs": (0.569, "Howard et al. 2017, MobileNet paper: 569M mult-adds (1.0 MobileNet-224)"),
        "params_no_bn": (4210088, "conv weights + FC weight/bias, no BN (arithmetic from Table 1)"),
        "params_keras": (4253864, "Keras applications table, MobileNet: includes BN running mean/var"),
    }
    return Model("mobilenet_v1", net, (3, 224, 224), mobilenet_v1.__doc__, figures)


# -- MobileNet v2 --------------------------------------------------------------------------------------

def _v2_inverted_residual(inp, oup, stride, expand_ratio):
    hidden = int(round(inp * expand_ratio))
    layers = []
    if expand_ratio != 1:
        layers.append(conv_norm_act(inp, hidden, 1, act=ReLU6, label="expand"))
    layers.append(conv_norm_act(hidden, hidden, 3, stride=stride, groups=hidden, act=ReLU6, label="depthwise"))
    layers.append(Conv2d(hidden, oup, 1, bias=False))
    layers.append(BatchNorm2d(oup))
    body = Sequential(("conv", Sequential(*layers)))
    if stride == 1 and inp == oup:
        return Residual(body, label=f"inverted residual t={expand_ratio}")
    return Sequential(*body.children, label=f"inverted residual t={expand_ratio} /{stride}")


def mobilenet_v2() -> Model:
    """torchvision's MobileNetV2 (Sandler et al. 2018; torchvision/models/mobilenetv2.py, width 1.0):
    a 3x3/2 conv to 32, 17 inverted residual blocks from the (t, c, n, s) table
    [[1,16,1,1], [6,24,2,2], [6,32,3,2], [6,64,4,2], [6,96,3,1], [6,160,3,2], [6,320,1,1]]
    (1x1 expand + BN + ReLU6 unless t=1, 3x3 depthwise + BN + ReLU6, 1x1 linear projection + BN,
    identity shortcut when stride 1 and channels are equal), a 1x1 conv to 1280, global average
    pool, Dropout(0.2) and Linear(1280, 1000).

    Published (torchvision MobileNet_V2_Weights.IMAGENET1K_V1/V2 meta): num_params 3,504,872,
    _ops 0.301 GMACs at 224 (torchvision's "GFLOPS" count multiply-accumulates of convs and linears)."""
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
               [6, 320, 1, 1]]
    features = [("0", conv_norm_act(3, 32, 3, stride=2, act=ReLU6, label="stem"))]
    c_in = 32
    for t, c, n, s in setting:
        for i in range(n):
            features.append((str(len(features)), _v2_inverted_residual(c_in, c, s if i == 0 else 1, t)))
            c_in = c
    features.append((str(len(features)), conv_norm_act(c_in, 1280, 1, act=ReLU6, label="head")))
    net = Sequential(("features", Sequential(*features)),
                     ("avgpool", functional(AdaptiveAvgPool2d(1))),  # F.adaptive_avg_pool2d in torchvision
                     ("flatten", Flatten()),
                     ("classifier", Sequential(Dropout(0.2), Linear(1280, 1000))))
    figures = {
        "params": (3504872, "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (0.301, "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 _ops"),
    }
    return Model("mobilenet_v2", net, (3, 224, 224), mobilenet_v2.__doc__, figures)


# -- MobileNet v3 --------------------------------------------------------------------------------------

# torchvision bneck_conf(input, kernel, expanded, out, use_se, activation, stride, dilation), dilation 1.
_V3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]
_V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]
_V3_EPS = 0.001  # norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)


def _v3_inverted_residual(inp, k, exp, out, use_se, act_name, stride):
    act = Hardswish if act_name == "HS" else ReLU
    layers = []
    if exp != inp:
        layers.append(conv_norm_act(inp, exp, 1, act=act, eps=_V3_EPS, label="expand"))
    layers.append(conv_norm_act(exp, exp, k, stride=stride, groups=exp, act=act, eps=_V3_EPS, label="depthwise"))
    if use_se:
        layers.append(squeeze_excitation(exp, make_divisible(exp // 4, 8)))
    layers.append(conv_norm_act(exp, out, 1, act=None, eps=_V3_EPS, label="project"))
    body = Sequential(("block", Sequential(*layers)))
    what = f"bneck {k}x{k} exp {exp}" + (" SE" if use_se else "") + f" {act_name}"
    if stride == 1 and inp == out:
        return Residual(body, label=what)
    return Sequential(*body.children, label=f"{what} /{stride}")


def _mobilenet_v3(name, config, last_channel, doc, figures) -> Model:
    features = [("0", conv_norm_act(3, 16, 3, stride=2, act=Hardswish, eps=_V3_EPS, label="stem"))]
    for row in config:
        features.append((str(len(features)), _v3_inverted_residual(*row)))
    last_in = config[-1][3]
    features.append((str(len(features)), conv_norm_act(last_in, 6 * last_in, 1, act=Hardswish, eps=_V3_EPS,
                                                       label="head")))
    net = Sequential(("features", Sequential(*features)), ("avgpool", AdaptiveAvgPool2d(1)),
                     ("flatten", Flatten()),
                     ("classifier", Sequential(Linear(6 * last_in, last_channel), Hardswish(), Dropout(0.2),
                                               Linear(last_channel, 1000))))
    return Model(name, net, (3, 224, 224), doc, figures)


def mobilenet_v3_large() -> Model:
    """torchvision's MobileNetV3-Large (Howard et al. 2019; torchvision/models/mobilenetv3.py): a 3x3/2
    conv to 16 (Hardswish), 15 bottlenecks from torchvision's bneck_conf table (1x1 expand unless the
    expanded width equals the input, kxk depthwise, squeeze-and-excitation with
    ``_make_divisible(exp // 4, 8)`` squeeze channels, ReLU inside and a Hardsigmoid gate, 1x1
    linear projection; identity shortcut at stride 1 with equal channels), a 1x1 conv to 960,
    global average pool, then Linear(960, 1280), Hardswish, Dropout(0.2), Linear(1280, 1000).
    All BN use eps 0.001.

    Published (torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1/V2 meta): num_params 5,483,032,
    _ops 0.217 GMACs at 224."""
    figures = {
        "params": (5483032, "torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (0.217, "torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1 _ops"),
    }
    return _mobilenet_v3("mobilenet_v3_large", _V3_LARGE, 1280, mobilenet_v3_large.__doc__, figures)


def mobilenet_v3_small() -> Model:
    """torchvision's MobileNetV3-Small (Howard et al. 2019; torchvision/models/mobilenetv3.py): a 3x3/2
    conv to 16 (Hardswish), 11 bottlenecks from torchvision's bneck_conf table (as in v3-large),
    a 1x1 conv to 576, global average pool, then Linear(576, 1024), Hardswish, Dropout(0.2),
    Linear(1024, 1000). All BN use eps 0.001.

    Published (torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1 meta): num_params 2,542,856,
    _ops 0.057 GMACs at 224."""
    figures = {
        "params": (2542856, "torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (0.057, "torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1 _ops"),
    }
    return _mobilenet_v3("mobilenet_v3_small", _V3_SMALL, 1024, mobilenet_v3_small.__doc__, figures)
