"""Attention modules of torch models as the engine's attention layers (for ``from_torch``).

A builder here returns an engine layer, or a block of layers (a ``Sequential``) where torch's layout
differs from the engine's, only when the module's configuration is one the engine class expresses
exactly: the same parameters, the same MACs and the same shapes. Otherwise it returns None and the
module is traced into (or counted as a generic op) as before:

* ``nn.MultiheadAttention`` -> ``multiheadattention`` when key and value widths equal the embedding
  width; the call must be self-attention (query, key and value the same tensor) with no mask (a mask
  changes what each output sees), else a generic op with exact MACs.
* torchvision ``ShiftedWindowAttention`` (Swin v1; channels-last ``(H, W, C)``) -> ``permute`` to
  ``(C, H, W)``, ``shiftedwindowattention``, ``permute`` back. ``ShiftedWindowAttentionV2`` (cosine
  attention with a continuous position bias MLP) has no engine class: traced, generic rows.
* torchvision ``PatchMerging`` / ``PatchMergingV2`` -> ``patchmerge`` between permutes, LayerNorm and Linear.
* torchvision MaxViT ``PartitionAttentionLayer`` -> its two residual blocks as in convcalc's zoo:
  ``layernorm2d`` + ``partitionattention`` (window or grid) and the channels-last MLP.

torchvision classes are registered only when torchvision is already imported (never imported here).
"""
from __future__ import annotations

import sys

from ..graph import Residual, Sequential, to_graph
from ..layers import act, attention, tensor
from ..layers.base import Layer
from ..layers.norm import LayerNorm
from .torch_ops import has_param, module_layer, registered


def _infers(block, shape) -> list:
    g = to_graph(block)
    shapes = g.walk(tuple(shape), lambda node, ins: tuple(node.layer.infer_all(ins).shape))
    return [node.layer.infer_all([shapes[i] for i in node.inputs]) for node in g]


def block_params(block, shape) -> int:
    """Parameters of a block of engine layers on a per-sample input ``shape``."""
    return sum(inf.params for inf in _infers(block, shape))


def block_macs(block, shape) -> int:
    """MACs of a block of engine layers on a per-sample input ``shape``."""
    return sum(inf.macs for inf in _infers(block, shape))


def _numel(m) -> int:
    return sum(p.numel() for p in m.parameters())


def mha(m, path):
    """nn.MultiheadAttention -> attention.MultiheadAttention (None when kdim/vdim differ)."""
    if not getattr(m, "_qkv_same_embed_dim", True) or m.kdim != m.embed_dim or m.vdim != m.embed_dim:
        return None
    bias = has_param(m, "in_proj_bias")
    layer = attention.MultiheadAttention(m.embed_dim, m.num_heads, dropout=m.dropout, bias=bias,
                                         add_bias_kv=has_param(m, "bias_k"), add_zero_attn=m.add_zero_attn,
                                         batch_first=True)  # the engine's (L, E) per sample is batch first
    if has_param(m.out_proj, "bias") != bias or layer.infer((1, m.embed_dim)).params != _numel(m):
        return None
    return layer


def mha_call_ok(n) -> bool:
    """A call of nn.MultiheadAttention the engine class models: self-attention without masks."""
    args = list(n.args) + [n.kwargs.get(k) for k in ("query", "key", "value") if k in n.kwargs]
    qkv = args[:3]
    if len(qkv) != 3 or not (qkv[0] is qkv[1] is qkv[2]) or not hasattr(qkv[0], "op"):
        return False
    extra = list(n.args[3:]) + [v for k, v in n.kwargs.items() if k not in ("query", "key", "value")]
    masks = [n.kwargs.get("key_padding_mask"), n.kwargs.get("attn_mask"), n.kwargs.get("is_causal")]
    if len(n.args) > 3:
        masks.append(n.args[3])  # key_padding_mask
    if len(n.args) > 5:
        masks.append(n.args[5])  # attn_mask
    return not any(v is not None and v is not False for v in masks) and \
        not any(hasattr(v, "op") for v in extra if v is not None)


def swin(m, path):
    """torchvision ShiftedWindowAttention (v1) on channels-last (H, W, C) -> a permuted block."""
    qkv, proj = getattr(m, "qkv", None), getattr(m, "proj", None)
    if qkv is None or proj is None or len(m.window_size) != 2:
        return None
    dim = qkv.in_features
    layer = attention.ShiftedWindowAttention(dim, tuple(m.window_size), tuple(m.shift_size), m.num_heads,
                                             qkv_bias=has_param(qkv, "bias"), proj_bias=has_param(proj, "bias"),
                                             attention_dropout=m.attention_dropout, dropout=m.dropout)
    if qkv.out_features != 3 * dim or (proj.in_features, proj.out_features) != (dim, dim) \
            or layer.infer((dim, *m.window_size)).params != _numel(m):
        return None
    return Sequential(("chw", tensor.Permute((0, 3, 1, 2))), ("", layer), ("hwc", tensor.Permute((0, 2, 3, 1))))


def patch_merging(m, path, v2=False):
    """torchvision PatchMerging / PatchMergingV2 on (H, W, C): the 2x2 gather as ``patchmerge``
    (between permutes), then LayerNorm and Linear (v1) or Linear and LayerNorm (v2) as torch has them."""
    reduction, norm = getattr(m, "reduction", None), getattr(m, "norm", None)
    if reduction is None or norm is None or not registered(reduction) or not registered(norm):
        return None
    tail = [("reduction", module_layer(reduction, f"{path}.reduction")), ("norm", module_layer(norm, f"{path}.norm"))]
    block = Sequential(("chw", tensor.Permute((0, 3, 1, 2))), ("merge", attention.PatchMerge()),
                       ("hwc", tensor.Permute((0, 2, 3, 1))), *(tail if v2 else tail[::-1]))
    return block if block_params(block, (2, 2, m.dim)) == _numel(m) else None


def maxvit(m, path):
    """torchvision PartitionAttentionLayer on (C, H, W) -> the zoo's two residual blocks."""
    import torch

    attn_seq, mlp = getattr(m, "attn_layer", None), getattr(m, "mlp_layer", None)
    if attn_seq is None or mlp is None or len(attn_seq) != 3 or len(mlp) != 5:
        return None
    norm, rel, drop = attn_seq
    c = m.n_heads * m.head_dim
    if not isinstance(norm, torch.nn.LayerNorm) or tuple(norm.normalized_shape) != (c,) \
            or not norm.elementwise_affine or not has_param(norm, "bias") or not registered(drop) \
            or not all(registered(x) for x in mlp):
        return None
    size = m.p if m.partition_type == "window" else m.g
    layer = attention.PartitionAttention(c, m.head_dim, size, m.partition_type)
    if getattr(rel, "max_seq_len", None) != size * size or layer.infer((c, size, size)).params != _numel(rel):
        return None
    sd = act.StochasticDepth(m.stochastic_dropout.p, m.stochastic_dropout.mode)
    inner = [(str(i), module_layer(x, f"{path}.mlp_layer.{i}")) for i, x in enumerate(mlp)]
    body = Sequential(("attn_layer", Sequential(("0", tensor.LayerNorm2d(c, eps=norm.eps)), ("1", layer),
                                                ("2", module_layer(drop, f"{path}.attn_layer.2")))),
                      ("stochastic_dropout", sd))
    mlp_block = Sequential(("hwc", tensor.Permute((0, 2, 3, 1))), *inner, ("chw", tensor.Permute((0, 3, 1, 2))))
    block = Sequential(("", Residual(body)),
                       ("", Residual(Sequential(("mlp_layer", mlp_block), ("stochastic_dropout", sd)))))
    if any(not isinstance(x, Layer) for _, x in inner) or not isinstance(inner[0][1], LayerNorm) \
            or block_params(block, (c, *m.grid_size)) != _numel(m):
        return None
    return block


def register_attention(registry) -> None:
    """Register nn.MultiheadAttention, and torchvision's attention modules if torchvision is loaded
    (it is never imported here)."""
    import torch

    have = dict(registry.items())
    if torch.nn.MultiheadAttention not in have:
        registry.register(torch.nn.MultiheadAttention)(mha)
    swin_mod = sys.modules.get("torchvision.models.swin_transformer")
    if swin_mod is not None and swin_mod.ShiftedWindowAttention not in have:
        registry.register(swin_mod.ShiftedWindowAttention)(swin)
        registry.register(swin_mod.PatchMerging)(patch_merging)
        registry.register(swin_mod.PatchMergingV2)(lambda m, path: patch_merging(m, path, v2=True))
    maxvit_mod = sys.modules.get("torchvision.models.maxvit")
    if maxvit_mod is not None and maxvit_mod.PartitionAttentionLayer not in have:
        registry.register(maxvit_mod.PartitionAttentionLayer)(maxvit)
