"""Swin-T as in torchvision (Liu et al. 2021; torchvision/models/swin_transformer.py, v1).

Row names follow torchvision's ``named_modules()``: ``features.5.3.attn`` is stage 3, block 3, its
shifted-window attention. torchvision keeps the map channels-last (B, H, W, C); here the map is
(C, H, W) like every other windowed layer of the engine, so a LayerNorm over channels is a
``layernorm2d`` row, and the Linears of the MLP and of patch merging sit between two
``permute`` rows (``mlp.hwc`` / ``mlp.chw``) that torchvision does not have. The numbers
are the same: a LayerNorm or Linear over C acts on each position alike."""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import (AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, GELU, LayerNorm2d, Linear,
                      PatchMerge, Permute, ShiftedWindowAttention, StochasticDepth)
from . import Model, channels_last

_EPS = 1e-5  # torchvision: norm_layer = partial(nn.LayerNorm, eps=1e-5)


def _channels_last(*layers, label=None):
    """Layers that act on the last dim, run on a (C, H, W) map: permute in, permute out."""
    return Sequential(("hwc", Permute((0, 2, 3, 1))), *layers, ("chw", Permute((0, 3, 1, 2))), label=label)


def _swin_block(dim, heads, window, shift, sd_prob):
    """torchvision SwinTransformerBlock: ``x + sd(attn(norm1(x)))``, then ``x + sd(mlp(norm2(x)))``."""
    attn = Sequential(("norm1", channels_last(LayerNorm2d(dim, eps=_EPS))),
                      ("attn", ShiftedWindowAttention(dim, window, shift, heads)),
                      ("stochastic_depth", StochasticDepth(sd_prob, "row")))
    mlp = _channels_last(("0", Linear(dim, 4 * dim)), ("1", GELU()), ("2", Dropout(0.0)),
                         ("3", Linear(4 * dim, dim)), ("4", Dropout(0.0)))
    body = Sequential(("norm2", channels_last(LayerNorm2d(dim, eps=_EPS))), ("mlp", mlp),
                      ("stochastic_depth", StochasticDepth(sd_prob, "row")))
    return Sequential(("", Residual(attn)), ("", Residual(body)), label=f"SwinBlock {dim}")


def _patch_merging(dim):
    """torchvision PatchMerging: 2x2 neighbourhoods to 4C channels, LayerNorm(4C), Linear(4C, 2C, no bias)."""
    return Sequential(("merge", PatchMerge()), ("norm", channels_last(LayerNorm2d(4 * dim, eps=_EPS))),
                      ("reduction", _channels_last(("0", Linear(4 * dim, 2 * dim, bias=False)))),
                      label="PatchMerging")


def swin_t() -> Model:
    """Swin-T, torchvision's implementation (v1): a 4x4/4 patch-embedding conv (bias) to 96 +
    LayerNorm, four stages of Swin blocks (depths [2, 2, 6, 2], heads [3, 6, 12, 24], widths
    96..768, 7x7 windows, every second block shifted by 3) separated by patch merging, a final
    LayerNorm, global average pool and Linear(768, 1000). A block's attention has qkv
    Linear(C, 3C) and proj Linear(C, C) (both with bias) and a (13*13, heads) relative position
    bias table (parameters); the 49x49 relative position index is a buffer (2,401 per block,
    which torchvision's num_params does not count). The MLP is C -> 4C -> C with GELU.
    StochasticDepth (p rising linearly to 0.2 over the 12 blocks) is the identity at inference.

    Window attention MACs are per window of 49 tokens over the map padded to whole windows:
    qkv 3*N*C^2, Q K^T and attention x V N*49*C each, proj N*C^2 (N positions). Published
    (torchvision Swin_T_Weights.IMAGENET1K_V1 meta): num_params 28,288,354, _ops 4.491 GMACs at
    224 (its crop size; the weights resize to 232 first)."""
    depths, heads, embed, window = [2, 2, 6, 2], [3, 6, 12, 24], 96, (7, 7)
    features = [("0", Sequential(("0", Conv2d(3, embed, 4, stride=4)),
                                 ("2", channels_last(LayerNorm2d(embed, eps=_EPS))), label="patch embedding"))]
    total, done = sum(depths), 0
    for i, (depth, h) in enumerate(zip(depths, heads)):
        dim = embed * 2 ** i
        blocks = []
        for j in range(depth):
            shift = (0, 0) if j % 2 == 0 else (window[0] // 2, window[1] // 2)
            blocks.append((str(j), _swin_block(dim, h, window, shift, 0.2 * done / (total - 1))))
            done += 1
        features.append((str(len(features)), Sequential(*blocks, label=f"stage{i + 1}")))
        if i + 1 < len(depths):
            features.append((str(len(features)), _patch_merging(dim)))
    last = embed * 2 ** (len(depths) - 1)
    net = Sequential(("features", Sequential(*features)), ("norm", channels_last(LayerNorm2d(last, eps=_EPS))),
                     ("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten(1)), ("head", Linear(last, 1000)))
    figures = {
        "params": (28288354, "torchvision Swin_T_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (4.491, "torchvision Swin_T_Weights.IMAGENET1K_V1 _ops"),
    }
    return Model("swin_t", net, (3, 224, 224), swin_t.__doc__, figures)
