"""EfficientNet-B0 as in torchvision (Tan & Le 2019; torchvision/models/efficientnet.py).

Row names follow torchvision's ``named_modules()``: ``features.2.1.block.2.fc1`` is stage 2,
block 1, its squeeze-and-excitation's first 1x1 conv."""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import AdaptiveAvgPool2d, Dropout, Flatten, Linear, Sigmoid, SiLU, StochasticDepth
from . import Model
from .mobilenet import conv_norm_act, make_divisible, squeeze_excitation

# torchvision bneck_conf(expand_ratio, kernel, stride, input_channels, out_channels, num_layers), B0
# (width and depth multipliers 1.0).
_B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
       (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
_STOCHASTIC_DEPTH = 0.2  # torchvision EfficientNet(stochastic_depth_prob=0.2)


def _mbconv(expand_ratio, k, stride, inp, out, sd_prob):
    """torchvision MBConv: [1x1 expand + BN + SiLU] -> kxk depthwise + BN + SiLU -> SE (squeeze
    max(1, inp // 4), SiLU, sigmoid gate) -> 1x1 project + BN; identity shortcut through
    StochasticDepth when stride 1 and in == out."""
    exp = make_divisible(inp * expand_ratio, 8)
    layers = []
    if exp != inp:
        layers.append(conv_norm_act(inp, exp, 1, act=SiLU, label="expand"))
    layers.append(conv_norm_act(exp, exp, k, stride=stride, groups=exp, act=SiLU, label="depthwise"))
    layers.append(squeeze_excitation(exp, max(1, inp // 4), act=SiLU, scale_act=Sigmoid))
    layers.append(conv_norm_act(exp, out, 1, act=None, label="project"))
    what = f"MBConv{expand_ratio} {k}x{k}"
    if stride == 1 and inp == out:
        body = Sequential(("block", Sequential(*layers)), ("stochastic_depth", StochasticDepth(sd_prob, "row")))
        return Residual(body, label=what)
    return Sequential(("block", Sequential(*layers)), label=f"{what} /{stride}")


def efficientnet_b0() -> Model:
    """EfficientNet-B0, torchvision's implementation: a 3x3/2 conv to 32 (BN, SiLU), seven stages of
    MBConv blocks from torchvision's table (expand ratio, kernel, stride, in, out, repeats)
    (1,3,1,32,16,1) (6,3,2,16,24,2) (6,5,2,24,40,2) (6,3,2,40,80,3) (6,5,1,80,112,3)
    (6,5,2,112,192,4) (6,3,1,192,320,1), a 1x1 conv to 1280 (BN, SiLU), global average pool,
    Dropout(0.2) and Linear(1280, 1000). The squeeze-and-excitation width is a quarter of the
    block's *input* channels (not of the expanded ones). BN eps is PyTorch's default 1e-5 (only
    B5-B7 use 1e-3). StochasticDepth (p rising linearly to 0.2 over the 16 blocks) only drops
    residual branches while training: the identity at inference, no parameters. torchvision
    also creates a ``stochastic_depth`` module in the blocks without a shortcut but never calls
    it; those have no row here.

    Published (torchvision EfficientNet_B0_Weights.IMAGENET1K_V1 meta): num_params 5,288,548,
    _ops 0.386 GMACs at 224 (its crop size; the weights resize to 256 first)."""
    features = [("0", conv_norm_act(3, 32, 3, stride=2, act=SiLU, label="stem"))]
    total = sum(row[-1] for row in _B0)
    done = 0
    for expand_ratio, k, stride, inp, out, n in _B0:
        stage = []
        for i in range(n):
            sd_prob = _STOCHASTIC_DEPTH * done / total
            stage.append((str(i), _mbconv(expand_ratio, k, stride if i == 0 else 1, inp if i == 0 else out,
                                          out, sd_prob)))
            done += 1
        features.append((str(len(features)), Sequential(*stage, label=f"stage{len(features)}")))
    features.append((str(len(features)), conv_norm_act(320, 1280, 1, act=SiLU, label="head")))
    net = Sequential(("features", Sequential(*features)), ("avgpool", AdaptiveAvgPool2d(1)),
                     ("flatten", Flatten()),
                     ("classifier", Sequential(Dropout(0.2), Linear(1280, 1000))))
    figures = {
        "params": (5288548, "torchvision EfficientNet_B0_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (0.386, "torchvision EfficientNet_B0_Weights.IMAGENET1K_V1 _ops"),
    }
    return Model("efficientnet_b0", net, (3, 224, 224), efficientnet_b0.__doc__, figures)
