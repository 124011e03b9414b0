"""ViT-B/16 as in torchvision (Dosovitskiy et al. 2021; torchvision/models/vision_transformer.py).

Row names follow torchvision's ``named_modules()``: ``encoder.layers.encoder_layer_3.mlp.0`` is the
fourth encoder block's first MLP Linear. The class token and the position embedding are bare
``nn.Parameter``s in torchvision; here they are rows of their own (``class_token``,
``encoder.pos_embedding``), as are the reshape to tokens and the class-token selection."""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import (ClassToken, Conv2d, Dropout, GELU, LayerNorm, Linear, MultiheadAttention, PosEmbedding,
                      SelectToken, Tokens)
from . import Model

_EPS = 1e-6  # torchvision: norm_layer = partial(nn.LayerNorm, eps=1e-6)


def _encoder_block(hidden, heads, mlp_dim):
    """torchvision EncoderBlock: ``x + dropout(self_attention(ln_1(x)))``, then ``+ mlp(ln_2(x))``."""
    attention = Residual(Sequential(("ln_1", LayerNorm(hidden, eps=_EPS)),
                                    ("self_attention", MultiheadAttention(hidden, heads, batch_first=True)),
                                    ("dropout", Dropout(0.0))))
    mlp = Sequential(Linear(hidden, mlp_dim), GELU(), Dropout(0.0), Linear(mlp_dim, hidden), Dropout(0.0))
    return Sequential(("", attention), ("", Residual(Sequential(("ln_2", LayerNorm(hidden, eps=_EPS)),
                                                                  ("mlp", mlp)))), label="EncoderBlock")


def _vit(name, patch, layers, heads, hidden, mlp_dim, image, doc, figures) -> Model:
    grid = image // patch
    blocks = [(f"encoder_layer_{i}", _encoder_block(hidden, heads, mlp_dim)) for i in range(layers)]
    encoder = Sequential(("pos_embedding", PosEmbedding(grid * grid + 1, hidden)), ("dropout", Dropout(0.0)),
                         ("layers", Sequential(*blocks)), ("ln", LayerNorm(hidden, eps=_EPS)))
    net = Sequential(("conv_proj", Conv2d(3, hidden, patch, stride=patch)), ("tokens", Tokens()),
                     ("class_token", ClassToken(hidden)), ("encoder", encoder), ("select", SelectToken(0)),
                     ("heads", Sequential(("head", Linear(hidden, 1000)))))
    return Model(name, net, (3, image, image), doc, figures)


def vit_b_16() -> Model:
    """ViT-B/16, torchvision's implementation: a 16x16/16 patch-embedding conv (bias) to 768, the
    14x14 patches as 196 tokens, a learned class token in front (197 tokens), a learned position
    embedding (197 x 768), 12 pre-norm encoder blocks (LayerNorm eps 1e-6; nn.MultiheadAttention
    with 12 heads, its in_proj 768 -> 3x768 and out_proj 768 -> 768, both with bias; MLP 768 ->
    3072 -> 768 with GELU), a final LayerNorm, the class token, and Linear(768, 1000).

    Attention MACs per block: q/k/v projections 3*197*768^2, Q K^T and attention x V
    197^2*768 each, out_proj 197*768^2. Published (torchvision ViT_B_16_Weights.IMAGENET1K_V1
    meta): num_params 86,567,656, _ops 17.564 GMACs at 224 (its crop size)."""
    figures = {
        "params": (86567656, "torchvision ViT_B_16_Weights.IMAGENET1K_V1 num_params"),
        "gmacs": (17.564, "torchvision ViT_B_16_Weights.IMAGENET1K_V1 _ops"),
    }
    return _vit("vit_b_16", 16, 12, 12, 768, 3072, 224, vit_b_16.__doc__, figures)
