"""ShuffleNet V2 (Ma et al. 2018) as torchvision builds it.

A stride-1 unit splits its input channels in two (``x.chunk(2, dim=1)``): no existing layer
kind selects channels, so this module defines :class:`ChannelSlice` (no parameters, no
MACs, receptive field unchanged). It belongs in ``convcalc/layers/tensor.py`` with a NumPy
kernel in ``verify.EXEC`` (``x[:, start:stop]``); until then the kernel must be registered
by whoever executes the network.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..graph import Parallel, Sequential
from ..layers import (AdaptiveAvgPool2d, BatchNorm2d, ChannelShuffle, ChannelSlice, Conv2d, Flatten, Linear,
                      MaxPool2d, ReLU)
from . import Model


def _dw(channels, stride) -> Conv2d:
    return Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels, bias=False)


def _branch2(in_channels, bf, stride) -> Sequential:
    return Sequential(
        Conv2d(in_channels, bf, 1, bias=False), BatchNorm2d(bf), ReLU(),
        _dw(bf, stride), BatchNorm2d(bf),
        Conv2d(bf, bf, 1, bias=False), BatchNorm2d(bf), ReLU(),
    )


def inverted_residual(inp, oup, stride) -> Parallel:
    """torchvision ``InvertedResidual``. Stride 1: ``cat(x1, branch2(x2))`` where ``x1, x2 = x.chunk(2)``;
    stride 2: ``cat(branch1(x), branch2(x))``; then a channel shuffle with 2 groups."""
    bf = oup // 2
    if stride == 1:
        if inp != 2 * bf:
            raise ConfigError(f"a stride-1 ShuffleNet unit needs inp == oup, got {inp} and {oup}")
        branches = [("x1", ChannelSlice(0, bf)),
                    ("", Sequential(("x2", ChannelSlice(bf, 2 * bf)), ("branch2", _branch2(bf, bf, 1))))]
    else:
        branch1 = Sequential(_dw(inp, stride), BatchNorm2d(inp), Conv2d(inp, bf, 1, bias=False), BatchNorm2d(bf),
                             ReLU())
        branches = [("branch1", branch1), ("branch2", _branch2(inp, bf, stride))]
    return Parallel(branches, combine="cat", post=[("shuffle", ChannelShuffle(2))])


def _shufflenet_v2(name, repeats, channels, doc, figures) -> Model:
    stem = Sequential(Conv2d(3, channels[0], 3, stride=2, padding=1, bias=False), BatchNorm2d(channels[0]), ReLU())
    layers = [("conv1", stem), ("maxpool", MaxPool2d(3, 2, padding=1))]
    c = channels[0]
    for i, (n, oup) in enumerate(zip(repeats, channels[1:4])):
        units = [inverted_residual(c, oup, 2)] + [inverted_residual(oup, oup, 1) for _ in range(n - 1)]
        layers.append((f"stage{i + 2}", Sequential(*units)))
        c = oup
    layers += [
        ("conv5", Sequential(Conv2d(c, channels[4], 1, bias=False), BatchNorm2d(channels[4]), ReLU())),
        ("mean", AdaptiveAvgPool2d((1, 1))),  # x.mean([2, 3])
        ("flatten", Flatten()),
        ("fc", Linear(channels[4], 1000)),
    ]
    return Model(name, Sequential(*layers), (3, 224, 224), doc, figures)


def shufflenet_v2_x1_0() -> Model:
    """ShuffleNet V2 1.0x as torchvision's ``shufflenet_v2_x1_0``: stages of 4, 8, 4 units with
    116, 232, 464 channels after a 24-channel stem, a 1x1 conv to 1024 and a global mean.

    Published (torchvision ``ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1`` meta, shufflenetv2.py):
    ``num_params`` 2,278,604 and ``_ops`` 0.145 GMACs at 224x224. Needs the ``ChannelSlice``
    layer defined in this module (executing it needs its NumPy kernel registered)."""
    figures = {"params": (2278604, "torchvision ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1 num_params"),
               "gmacs": (0.145, "torchvision ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1 _ops")}
    return _shufflenet_v2("shufflenet_v2_x1_0", (4, 8, 4), (24, 116, 232, 464, 1024), shufflenet_v2_x1_0.__doc__,
                          figures)
