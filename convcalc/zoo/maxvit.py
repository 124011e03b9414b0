"""MaxViT-T as in torchvision (Tu et al. 2022; torchvision/models/maxvit.py).

Row names follow torchvision's ``named_modules()``: ``blocks.2.layers.4.grid_attention.attn_layer.1``
is the third block's fifth layer, its grid attention. torchvision partitions the (B, C, H, W) map
into (B, G, P*P, C) windows around each attention and MLP; here the attention layer does the
partition itself on the (C, H, W) map (no ``partition_op`` / ``departition_op`` rows), its
LayerNorm is a ``layernorm2d`` row and the MLP's Linears sit between two ``permute`` rows
(``mlp_layer.hwc`` / ``mlp_layer.chw``). The numbers are the same: those layers act on
each position alike."""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, Identity,
                      LayerNorm, LayerNorm2d, Linear, PartitionAttention, Permute, SiLU, Sigmoid,
                      StochasticDepth, Tanh)
from . import Model, channels_last
from .mobilenet import squeeze_excitation

_BN = 1e-3  # torchvision: norm_layer = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.99)


def _conv_bn_act(inp, out, k, stride=1, groups=1):
    """Conv2dNormActivation(..., norm BatchNorm2d(eps 1e-3), activation GELU): conv without bias."""
    return Sequential(Conv2d(inp, out, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=False),
                      BatchNorm2d(out, eps=_BN, momentum=0.99), GELU())


def _mbconv(inp, out, stride, sd_prob):
    """torchvision MBConv: ``proj(x) + sd(layers(x))``; layers = BN, 1x1 to 4*out (BN, GELU),
    3x3 depthwise with the stride (BN, GELU), squeeze-excitation to out/4 (SiLU, sigmoid), 1x1 to
    out (bias). proj is the identity, or [3x3/2 avgpool,] 1x1 conv (bias) when the shape changes."""
    mid, sqz = 4 * out, out // 4
    layers = Sequential(("pre_norm", BatchNorm2d(inp, eps=_BN, momentum=0.99)),
                        ("conv_a", _conv_bn_act(inp, mid, 1)),
                        ("conv_b", _conv_bn_act(mid, mid, 3, stride=stride, groups=mid)),
                        ("squeeze_excitation", squeeze_excitation(mid, sqz, act=SiLU, scale_act=Sigmoid)),
                        ("conv_c", Conv2d(mid, out, 1, bias=True)))
    sd = StochasticDepth(sd_prob, "row") if sd_prob else Identity()
    proj = None
    if stride != 1 or inp != out:
        proj = [Conv2d(inp, out, 1, bias=True)]
        if stride == 2:
            proj = [AvgPool2d(3, stride=stride, padding=1)] + proj
        proj = Sequential(*proj)
    return Residual(Sequential(("layers", layers), ("stochastic_depth", sd)), shortcut=proj,
                    shortcut_name="proj", label=f"MBConv {out}")


def _partition_attention(dim, head_dim, partition, kind, sd_prob):
    """torchvision PartitionAttentionLayer: ``x + sd(attn_layer(x))``, ``x + sd(mlp_layer(x))``."""
    attn = Sequential(("attn_layer", Sequential(("0", channels_last(LayerNorm2d(dim, eps=1e-5))),
                                                ("1", PartitionAttention(dim, head_dim, partition, kind)),
                                                ("2", Dropout(0.0)))),
                      ("stochastic_dropout", StochasticDepth(sd_prob, "row")))
    mlp = Sequential(("hwc", Permute((0, 2, 3, 1))), ("0", LayerNorm(dim)), ("1", Linear(dim, 4 * dim)),
                     ("2", GELU()), ("3", Linear(4 * dim, dim)), ("4", Dropout(0.0)), ("chw", Permute((0, 3, 1, 2))))
    body = Sequential(("mlp_layer", mlp), ("stochastic_dropout", StochasticDepth(sd_prob, "row")))
    return Sequential(("", Residual(attn)), ("", Residual(body)), label=f"{kind} attention {dim}")


def _linspace(stop, n):
    """numpy.linspace(0, stop, n).tolist() (only whether each is zero matters to the numbers)."""
    return [stop * i / (n - 1) for i in range(n)] if n > 1 else [0.0]


def maxvit_t() -> Model:
    """MaxViT-T, torchvision's implementation: a stem (3x3/2 conv to 64 + BN + GELU, 3x3 conv with
    bias), four blocks of MaxViT layers (channels [64, 128, 256, 512], layers [2, 2, 5, 2]); each
    layer is an MBConv (the first of a block strides 2), then window attention (7x7 blocks) and
    grid attention (a 7x7 grid), each with a relative position bias (13*13 x heads table, a 49x49
    index buffer), head_dim 32, and an MLP of ratio 4. BatchNorm eps 1e-3; LayerNorm eps 1e-5.
    Classifier: global average pool, flatten, LayerNorm(512), Linear(512, 512), Tanh,
    Linear(512, 1000, no bias). StochasticDepth (p from 0 to 0.2 over the 11 layers) is the
    identity at inference (torchvision's first MBConv has an Identity there, p = 0).

    Attention MACs per position: to_qkv 3*C^2, Q K^T and attention x V 49*C each, merge C^2.
    Published (torchvision MaxVit_T_Weights.IMAGENET1K_V1 meta): num_params 30,919,624, _ops
    5.558 GMACs at 224 (its crop size)."""
    stem = Sequential(("0", _conv_bn_act(3, 64, 3, stride=2)),
                      ("1", Sequential(Conv2d(64, 64, 3, padding=1, bias=True))))
    channels, depths, head_dim, partition = [64, 128, 256, 512], [2, 2, 5, 2], 32, 7
    probs = _linspace(0.2, sum(depths))
    blocks, inp, done = [], 64, 0
    for i, (out, depth) in enumerate(zip(channels, depths)):
        layers = []
        for j in range(depth):
            p = probs[done]
            layer = Sequential(("MBconv", _mbconv(inp if j == 0 else out, out, 2 if j == 0 else 1, p)),
                               ("window_attention", _partition_attention(out, head_dim, partition, "window", p)),
                               ("grid_attention", _partition_attention(out, head_dim, partition, "grid", p)),
                               label=f"MaxVitLayer {out}")
            layers.append((str(j), layer))
            done += 1
        blocks.append((str(i), Sequential(("layers", Sequential(*layers)), label=f"block{i + 1}")))
        inp = out
    classifier = Sequential(AdaptiveAvgPool2d(1), Flatten(), LayerNorm(channels[-1]),
                            Linear(channels[-1], channels[-1]), Tanh(), Linear(channels[-1], 1000, bias=False))
    net = Sequential(("stem", stem), ("blocks", Sequential(*blocks)), ("classifier", classifier))
    figures = {
        "params": (30919624, "torchvision MaxVit_T_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (5.558, "torchvision MaxVit_T_Weights.IMAGENET1K_V1 _ops"),
    }
    return Model("maxvit_t", net, (3, 224, 224), maxvit_t.__doc__, figures)
