"""ConvNeXt-Tiny as in torchvision (Liu et al. 2022; torchvision/models/convnext.py).

Row names follow torchvision's ``named_modules()``: ``features.5.3.block.3`` is stage 3, block 3,
its first pointwise Linear. ``features.1.0.layer_scale`` is a bare ``nn.Parameter`` of the
CNBlock in torchvision, a row of its own here."""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import (AdaptiveAvgPool2d, Conv2d, Flatten, GELU, LayerNorm, LayerNorm2d, LayerScale, Linear,
                      Permute, StochasticDepth)
from . import Model

_DIMS = [96, 192, 384, 768]
_DEPTHS = [3, 3, 9, 3]
_STOCHASTIC_DEPTH = 0.1  # convnext_tiny: stochastic_depth_prob 0.1
_EPS = 1e-6


def _cn_block(dim, sd_prob, layer_scale=1e-6):
    """torchvision CNBlock: 7x7 depthwise conv (bias) -> channels last -> LayerNorm -> Linear 4d -> GELU
    -> Linear d -> channels first -> per-channel layer scale -> StochasticDepth, plus the input."""
    block = Sequential(
        Conv2d(dim, dim, 7, padding=3, groups=dim, bias=True),
        Permute((0, 2, 3, 1)),
        LayerNorm(dim, eps=_EPS),
        Linear(dim, 4 * dim),
        GELU(),
        Linear(4 * dim, dim),
        Permute((0, 3, 1, 2)),
    )
    body = Sequential(("block", block), ("layer_scale", LayerScale(dim, layer_scale)),
                      ("stochastic_depth", StochasticDepth(sd_prob, "row")))
    return Residual(body, label=f"CNBlock {dim}")


def convnext_tiny() -> Model:
    """ConvNeXt-Tiny, torchvision's implementation: a 4x4/4 patchify conv (bias) to 96 + LayerNorm2d,
    four stages of CNBlocks (depths [3, 3, 9, 3], widths [96, 192, 384, 768]) separated by
    LayerNorm2d + 2x2/2 conv (bias) downsampling, then global average pool, LayerNorm2d, flatten and
    Linear(768, 1000). Every LayerNorm uses eps 1e-6. A CNBlock's pointwise layers are Linears on a
    channels-last map (H x W x C) between two Permutes, as in torchvision; the layer scale is C
    parameters. StochasticDepth (p rising linearly from 0 to 0.1 over the 18 blocks) is the
    identity at inference.

    Published (torchvision ConvNeXt_Tiny_Weights.IMAGENET1K_V1 meta): num_params 28,589,128,
    _ops 4.456 GMACs at 224 (crop 224 after a resize to 236)."""
    features = [("0", Sequential(Conv2d(3, _DIMS[0], 4, stride=4, padding=0, bias=True),
                                 LayerNorm2d(_DIMS[0], eps=_EPS), label="stem"))]
    total = sum(_DEPTHS)
    done = 0
    for i, (dim, depth) in enumerate(zip(_DIMS, _DEPTHS)):
        blocks = []
        for j in range(depth):
            blocks.append((str(j), _cn_block(dim, _STOCHASTIC_DEPTH * done / (total - 1.0))))
            done += 1
        features.append((str(len(features)), Sequential(*blocks, label=f"stage{i + 1}")))
        if i + 1 < len(_DIMS):
            features.append((str(len(features)), Sequential(LayerNorm2d(dim, eps=_EPS),
                                                            Conv2d(dim, _DIMS[i + 1], 2, stride=2),
                                                            label="downsample")))
    net = Sequential(("features", Sequential(*features)), ("avgpool", AdaptiveAvgPool2d(1)),
                     ("classifier", Sequential(LayerNorm2d(_DIMS[-1], eps=_EPS), Flatten(1),
                                               Linear(_DIMS[-1], 1000))))
    figures = {
        "params": (28589128, "torchvision ConvNeXt_Tiny_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (4.456, "torchvision ConvNeXt_Tiny_Weights.IMAGENET1K_V1 _ops"),
    }
    return Model("convnext_tiny", net, (3, 224, 224), convnext_tiny.__doc__, figures)
