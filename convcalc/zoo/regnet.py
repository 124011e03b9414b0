"""RegNetX-400MF as in torchvision (Radosavovic et al. 2020; torchvision/models/regnet.py).

Row names follow torchvision's ``named_modules()``: ``trunk_output.block2.block2-0.f.b.0`` is
stage 2, block 0, the grouped 3x3 conv of its bottleneck."""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import AdaptiveAvgPool2d, Flatten, Linear, ReLU
from . import Model
from .mobilenet import conv_norm_act

# torchvision BlockParams.from_init_params(depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16)
# quantised: block widths 24, 64, 152, 392 rounded up to multiples of the group width 16.
_X400MF_WIDTHS = [32, 64, 160, 400]
_X400MF_DEPTHS = [1, 2, 7, 12]
_GROUP_WIDTH = 16
_STEM = 32


def _x_block(w_in, w_out, stride, group_width, bottleneck_multiplier=1.0):
    """torchvision ResBottleneckBlock (no SE): f = a 1x1 -> b grouped 3x3 (stride) -> c 1x1 (no act),
    each with BN; ``proj`` 1x1 conv + BN when the shape changes; ReLU after the add."""
    w_b = int(round(w_out * bottleneck_multiplier))
    groups = w_b // min(group_width, w_b)
    f = Sequential(("a", conv_norm_act(w_in, w_b, 1)),
                   ("b", conv_norm_act(w_b, w_b, 3, stride=stride, groups=groups)),
                   ("c", conv_norm_act(w_b, w_out, 1, act=None)))
    proj = None
    if w_in != w_out or stride != 1:
        proj = conv_norm_act(w_in, w_out, 1, stride=stride, act=None)
    return Residual(Sequential(("f", f)), shortcut=proj, shortcut_name="proj", post=[("activation", ReLU())],
                    label=f"X block g{groups}" + (f" /{stride}" if stride != 1 else ""))


def regnet_x_400mf() -> Model:
    """RegNetX-400MF, torchvision's implementation: stem 3x3/2 conv to 32 + BN + ReLU, four stages of
    X blocks (residual bottlenecks with bottleneck multiplier 1.0 and grouped 3x3 convs of group
    width 16) with widths [32, 64, 160, 400] and depths [1, 2, 7, 12] (torchvision's quantisation of
    depth=22, w_0=24, w_a=24.48, w_m=2.54), each stage starting with a stride-2 block with a 1x1
    projection shortcut, then global average pool and Linear(400, 1000). BN eps 1e-5.

    Published (torchvision RegNet_X_400MF_Weights.IMAGENET1K_V1/V2 meta): num_params 5,495,976,
    _ops 0.414 GMACs at 224."""
    stages = []
    w_in = _STEM
    for i, (w, d) in enumerate(zip(_X400MF_WIDTHS, _X400MF_DEPTHS), start=1):
        blocks = [(f"block{i}-{j}", _x_block(w_in if j == 0 else w, w, 2 if j == 0 else 1, _GROUP_WIDTH))
                  for j in range(d)]
        stages.append((f"block{i}", Sequential(*blocks, label=f"stage{i}")))
        w_in = w
    net = Sequential(("stem", conv_norm_act(3, _STEM, 3, stride=2, label="stem")),
                     ("trunk_output", Sequential(*stages)),
                     ("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()),
                     ("fc", Linear(_X400MF_WIDTHS[-1], 1000)))
    figures = {
        "params": (5495976, "torchvision RegNet_X_400MF_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (0.414, "torchvision RegNet_X_400MF_Weights.IMAGENET1K_V1 _ops"),
    }
    return Model("regnet_x_400mf", net, (3, 224, 224), regnet_x_400mf.__doc__, figures)
