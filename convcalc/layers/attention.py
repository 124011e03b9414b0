"""Attention and the token layers of vision transformers (ViT, Swin, MaxViT).

Counting (DESIGN §2: one MAC per multiply-accumulate of a matmul; softmax, scaling and
bias additions are not MACs), for ``L`` query tokens of width ``E`` attending to ``S`` keys:
  projections   3*L*E*E (q, k, v) + L*E*E (output)
  Q K^T         L*S*E   (every head: L*S*(E/heads), summed over the heads)
  attn V        L*S*E
Window attention does the same inside each window of ``M`` tokens (``S = M``), over the
map padded to whole windows, as torchvision does.

Layouts: token layers take ``(L, E)`` per sample (batch first, as ``batch_first=True``);
the window and partition attentions take a ``(C, H, W)`` map, like every windowed layer of
the engine, and do the window partition (and torchvision's channels-last round trip)
inside. Receptive field: ``MultiheadAttention`` and grid attention are global (every output
sees the whole input); window attention is a bound: an output's window lies within
``W - 1`` units of it on each axis, so the field is at most ``2W - 1`` units wide
(``exact=False``), shifted windows included (the cyclic-shift mask keeps each token in its
own region).
"""
from __future__ import annotations

from ..errors import ConfigError, ShapeError
from ..sym import ceildiv, fmt, is_sym, prod, simplify
from .base import Inference, Layer, Window, check_positive, require_equal, tuple_arg


def _width(layer, e, declared, what) -> None:
    if declared is not None and not is_sym(e) and not is_sym(declared) and e != declared:
        raise ShapeError(f"{layer.kind} expects {what} {declared}, got {fmt(e)}")


def _tokens_shape(layer, shape) -> tuple:
    if len(shape) != 2:
        raise ShapeError(f"{layer.kind} expects tokens (L, E), got {len(shape)} dims: "
                         + "x".join(fmt(d) for d in shape))
    return shape


class _AttentionTraining:
    """Backward of attention over ``P`` query positions of width ``C``, ``m`` keys each, from
    first principles: the q/k/v projections' input gradient (3*P*C*C) only for an input that
    needs one; the output projection's input gradient (P*C*C) and both matmuls' gradients
    (each operand of QK^T and AV: 2 * 2*P*m*C) whenever anything does; the weight gradients
    of the four projections (4*P*C*C) for trainable weights."""

    def attention_dims(self, shape) -> tuple:  # pragma: no cover - per kind
        raise NotImplementedError

    def backward_macs(self, shapes, inf):
        P, C, m = self.attention_dims(shapes[0])
        return (simplify(3 * P * C * C), simplify(4 * P * C * C), simplify(P * C * C + 4 * P * m * C))

    #: each projection weight's share (in P*C*C) of the 4*P*C*C weight-gradient MACs
    _PROJECTIONS = {"in_proj_weight": 3, "out_proj.weight": 1, "qkv.weight": 3, "proj.weight": 1,
                    "to_qkv.weight": 3, "merge.weight": 1}

    def trainable_weight_grad(self, dw, trainable):
        """Only the trainable projections' weight gradients (one frozen, per parameter, spends
        none); a bias's or the position table's gradient is a sum."""
        k = sum(self._PROJECTIONS.get(n, 0) for n in trainable)
        return simplify(dw / 4 * k) if is_sym(dw) else int(dw) // 4 * k

    saves = ("input",)  # the q/k/v projection's input is the layer's own (MultiheadAttention)
    keeps_probs = True  # explicit softmax(QK^T) (window attention); fused attention keeps none

    def saved_extra(self, shapes, inf):
        P, C, m = self.attention_dims(shapes[0])
        heads = self.attention_heads()
        if not self.keeps_probs:  # PyTorch's fused attention: q, k, v, its output, a float32 log-sum-exp
            return ((4 * P * C, None, True), (heads * P, 4, True))   # per head and query
        # torchvision's window attention: the projection's input is a copy (the windows, padded,
        # rolled, channels last; never the layer's input), then q, k, v and the output as copies
        # (the batched matmuls' operands), and the softmax probabilities
        return ((5 * P * C, None, True), (heads * P * m, None, True))


class MultiheadAttention(_AttentionTraining, Layer):
    """``torch.nn.MultiheadAttention`` used as self-attention (query = key = value) on
    ``(L, E)`` tokens. Params ``3E*E + 3E`` (in_proj, with bias) ``+ E*E + E`` (out_proj);
    MACs ``4*L*E*E + 2*L*S*E`` with ``S = L (+1 per add_bias_kv / add_zero_attn)``."""

    kind = "multiheadattention"
    keeps_probs = False

    def attention_dims(self, shape):
        L = shape[0]
        return L, self.embed_dim, L + int(self.add_bias_kv) + int(self.add_zero_attn)

    def attention_heads(self):
        return self.num_heads

    def __init__(self, embed_dim=None, num_heads=None, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False):
        if embed_dim is None or num_heads is None:
            raise ConfigError("multiheadattention: embed_dim and num_heads are required")
        check_positive(embed_dim, "embed_dim")
        check_positive(num_heads, "num_heads")
        if not is_sym(embed_dim) and not is_sym(num_heads) and embed_dim % num_heads:
            raise ConfigError(f"multiheadattention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        for name, d in (("kdim", kdim), ("vdim", vdim)):
            if d is not None and d != embed_dim:
                raise ConfigError(f"multiheadattention: {name}={d} differs from embed_dim={embed_dim}; "
                                  "convcalc models self-attention (query = key = value)")
        self.embed_dim, self.num_heads, self.dropout, self.bias = embed_dim, num_heads, dropout, bool(bias)
        self.add_bias_kv, self.add_zero_attn = bool(add_bias_kv), bool(add_zero_attn)
        self.kdim, self.vdim, self.batch_first = kdim, vdim, bool(batch_first)

    def infer(self, shape):
        L, e = _tokens_shape(self, shape)
        _width(self, e, self.embed_dim, "embed_dim")
        conds = []
        if is_sym(e) or is_sym(self.embed_dim):
            require_equal(e, self.embed_dim, "attention width", conds)
        E = self.embed_dim
        S = L + int(self.add_bias_kv) + int(self.add_zero_attn)
        params = 4 * E * E + (4 * E if self.bias else 0) + (2 * E if self.add_bias_kv else 0)
        macs = 4 * L * E * E + 2 * L * S * E
        return Inference(shape=(L, E), params=simplify(params), macs=simplify(macs), rf="global", conditions=conds)

    def weight_shapes(self, shape):
        E = self.embed_dim
        ws = {"in_proj_weight": (3 * E, E), "out_proj.weight": (E, E)}
        if self.bias:
            ws.update({"in_proj_bias": (3 * E,), "out_proj.bias": (E,)})
        if self.add_bias_kv:
            ws.update({"bias_k": (1, 1, E), "bias_v": (1, 1, E)})
        return ws

    def describe(self):
        return f"attention {fmt(self.num_heads)}h"


class Tokens(Layer):
    """A map ``(C, *spatial)`` as a sequence of tokens ``(prod(spatial), C)``: ViT's
    ``x.reshape(n, C, -1).permute(0, 2, 1)`` after the patch-embedding conv. Each token is one
    position of the map: a pointwise receptive field."""

    kind = "tokens"

    def infer(self, shape):
        if len(shape) < 2:
            raise ShapeError("tokens needs a map (C, *spatial)")
        # token t is the pixel t of the map: the token dim carries every spatial axis
        return Inference(shape=(simplify(prod(shape[1:])), shape[0]), regroup=(tuple(range(1, len(shape))), (0,)))

    def describe(self):
        return "to tokens"


class ClassToken(Layer):
    """A learned token put before the sequence (ViT's ``class_token``): ``(L, E) -> (L+1, E)``,
    ``E`` parameters."""

    kind = "classtoken"

    def __init__(self, embed_dim=None):
        if embed_dim is not None:
            check_positive(embed_dim, "embed_dim")
        self.embed_dim = embed_dim

    def infer(self, shape):
        L, e = _tokens_shape(self, shape)
        _width(self, e, self.embed_dim, "embed_dim")
        return Inference(shape=(simplify(L + 1), e), params=e)

    def weight_shapes(self, shape):
        return {"class_token": (1, 1, shape[-1])}

    def describe(self):
        return "class token"


class PosEmbedding(Layer):
    """A learned position embedding added to ``(L, E)`` tokens: ``L*E`` parameters
    (ViT's ``encoder.pos_embedding``); the addition is not a MAC."""

    kind = "posembedding"

    def __init__(self, num_tokens=None, embed_dim=None):
        for v, name in ((num_tokens, "num_tokens"), (embed_dim, "embed_dim")):
            if v is not None:
                check_positive(v, name)
        self.num_tokens, self.embed_dim = num_tokens, embed_dim

    def infer(self, shape):
        L, e = _tokens_shape(self, shape)
        _width(self, L, self.num_tokens, "num_tokens")
        _width(self, e, self.embed_dim, "embed_dim")
        return Inference(shape=(L, e), params=simplify(L * e))

    def weight_shapes(self, shape):
        return {"pos_embedding": (1, *shape)}

    def describe(self):
        return "position embedding"


class SelectToken(Layer):
    """One token of the sequence, ``x[:, index]`` (ViT classifies its class token):
    ``(L, E) -> (E,)``."""

    kind = "selecttoken"

    def __init__(self, index=0):
        if not isinstance(index, int) or isinstance(index, bool):
            raise ConfigError(f"selecttoken: index must be an integer, got {index!r}")
        self.index = index

    def infer(self, shape):
        L, e = _tokens_shape(self, shape)
        if not is_sym(L) and not -L <= self.index < L:
            raise ShapeError(f"selecttoken: token {self.index} is outside the {L} tokens")
        return Inference(shape=(e,))

    def describe(self):
        return f"token {self.index}"


def _window_rf(w) -> Window:
    return Window(k=2 * w - 1, s=1, p=w - 1, exact=False)


def _relative_bias(window: tuple, heads) -> tuple:
    """(table params, index buffer) of a relative position bias over a ``Wh x Ww`` window."""
    wh, ww = window
    return (2 * wh - 1) * (2 * ww - 1) * heads, wh * ww * wh * ww


class ShiftedWindowAttention(_AttentionTraining, Layer):
    """torchvision's Swin ``ShiftedWindowAttention`` on a ``(C, H, W)`` map: the map is padded
    to whole ``window_size`` windows, cyclically shifted by ``shift_size`` (none on an axis
    whose padded size the window covers), and each window attends within itself with a
    relative position bias. Params ``4C*C + 3C + C`` (qkv, proj) ``+ (2Wh-1)(2Ww-1)*heads``
    (bias table); buffer: the ``Wh*Ww*Wh*Ww`` relative position index. MACs over the padded
    map of ``N`` positions: ``N*(4*C*C + 2*Wh*Ww*C)``."""

    kind = "shiftedwindowattention"
    saves = ()  # the windows' copy instead (saved_extra)

    def attention_dims(self, shape):
        return self.padded_positions(shape), shape[0], prod(self.window_size)

    def attention_heads(self):
        return self.num_heads

    def __init__(self, dim=None, window_size=None, shift_size=None, num_heads=None, qkv_bias=True,
                 proj_bias=True, attention_dropout=0.0, dropout=0.0):
        if dim is None or window_size is None or num_heads is None:
            raise ConfigError(f"{self.kind}: dim, window_size and num_heads are required")
        self.window_size = tuple(tuple_arg(window_size, 2, "window_size"))
        self.shift_size = tuple(tuple_arg(shift_size if shift_size is not None else 0, 2, "shift_size"))
        check_positive(dim, "dim")
        check_positive(num_heads, "num_heads")
        check_positive(self.window_size, "window_size")
        check_positive(self.shift_size, "shift_size", allow_zero=True)
        if not is_sym(dim) and not is_sym(num_heads) and dim % num_heads:
            raise ConfigError(f"{self.kind}: dim {dim} must be divisible by num_heads {num_heads}")
        self.dim, self.num_heads = dim, num_heads
        self.qkv_bias, self.proj_bias = bool(qkv_bias), bool(proj_bias)
        self.attention_dropout, self.dropout = attention_dropout, dropout

    def check(self, shape):
        self.check_rank(shape, (3,))
        _width(self, shape[0], self.dim, "channels")
        return shape[0]

    def padded_positions(self, shape):
        return prod(ceildiv(L, w) * w for L, w in zip(shape[1:], self.window_size))

    def infer(self, shape):
        c = self.check(shape)
        table, index = _relative_bias(self.window_size, self.num_heads)
        params = 4 * c * c + (3 * c if self.qkv_bias else 0) + (c if self.proj_bias else 0) + table
        m = prod(self.window_size)
        macs = self.padded_positions(shape) * (4 * c * c + 2 * m * c)
        return Inference(shape=tuple(shape), params=simplify(params), buffers=index, macs=simplify(macs),
                         rf="window", windows=tuple(_window_rf(w) for w in self.window_size))

    def weight_shapes(self, shape):
        c = shape[0]
        table, _ = _relative_bias(self.window_size, self.num_heads)
        ws = {"qkv.weight": (3 * c, c), "proj.weight": (c, c),
              "relative_position_bias_table": (table // self.num_heads, self.num_heads)}
        if self.qkv_bias:
            ws["qkv.bias"] = (3 * c,)
        if self.proj_bias:
            ws["proj.bias"] = (c,)
        return ws

    def buffer_shapes(self, shape):
        return {"relative_position_index": (prod(self.window_size) ** 2,)}

    def describe(self):
        wh, ww = self.window_size
        shift = "" if not any(self.shift_size) else f" shift {self.shift_size[0]}"
        return f"window attn {fmt(wh)}x{fmt(ww)}{shift} {fmt(self.num_heads)}h"


class PatchMerge(Layer):
    """The gather of Swin's ``PatchMerging`` on a ``(C, H, W)`` map: pad H and W to even, then
    stack each 2x2 neighbourhood's four pixels (order (0,0), (1,0), (0,1), (1,1)) as ``4C``
    channels: ``(4C, ceil(H/2), ceil(W/2))``. A 2x2/2 window; no parameters, no MACs."""

    kind = "patchmerge"

    def infer(self, shape):
        self.check_rank(shape, (3,))
        out = (simplify(4 * shape[0]), *(simplify(ceildiv(L, 2)) for L in shape[1:]))
        return Inference(shape=out, rf="window", windows=(Window(2, 2, 0), Window(2, 2, 0)))

    def describe(self):
        return "merge 2x2"


class PartitionAttention(_AttentionTraining, Layer):
    """MaxViT's ``RelativePositionalMultiHeadAttention`` with its partitioning, on a
    ``(C, H, W)`` map: ``partition_type="window"`` attends within ``P x P`` blocks
    (``P = partition_size``); ``"grid"`` within the ``P x P`` tokens spaced ``H/P`` apart.
    ``C / head_dim`` heads. Params ``4C*C + 4C`` (to_qkv, merge) ``+ (2P-1)^2 * heads``;
    buffer ``P^4``; MACs ``H*W*(4*C*C + 2*P*P*C)``. H and W must be multiples of P."""

    kind = "partitionattention"
    saves = ()  # the partition's copy instead (saved_extra)

    def attention_dims(self, shape):
        return prod(shape[1:]), self.feat_dim, self.partition_size ** 2

    def attention_heads(self):
        return self.heads

    def __init__(self, feat_dim=None, head_dim=None, partition_size=None, partition_type="window"):
        if feat_dim is None or head_dim is None or partition_size is None:
            raise ConfigError(f"{self.kind}: feat_dim, head_dim and partition_size are required")
        check_positive(feat_dim, "feat_dim")
        check_positive(head_dim, "head_dim")
        check_positive(partition_size, "partition_size")
        if partition_type not in ("window", "grid"):
            raise ConfigError(f"{self.kind}: partition_type must be 'window' or 'grid', got {partition_type!r}")
        if not is_sym(feat_dim) and not is_sym(head_dim) and feat_dim % head_dim:
            raise ConfigError(f"{self.kind}: feat_dim {feat_dim} must be divisible by head_dim {head_dim}")
        self.feat_dim, self.head_dim = feat_dim, head_dim
        self.partition_size, self.partition_type = partition_size, partition_type

    @property
    def heads(self):
        return self.feat_dim // self.head_dim

    def infer(self, shape):
        self.check_rank(shape, (3,))
        c = shape[0]
        _width(self, c, self.feat_dim, "channels")
        p = self.partition_size
        for L, axis in zip(shape[1:], "HW"):
            if not is_sym(L) and not is_sym(p) and L % p:
                raise ShapeError(f"{self.kind}: {axis} = {L} is not a multiple of the partition size {p}")
        table, index = _relative_bias((p, p), self.heads)
        c = self.feat_dim
        params = 4 * c * c + 4 * c + table
        macs = prod(shape[1:]) * (4 * c * c + 2 * p * p * c)
        if self.partition_type == "grid":
            return Inference(shape=tuple(shape), params=simplify(params), buffers=index, macs=simplify(macs),
                             rf="global")
        return Inference(shape=tuple(shape), params=simplify(params), buffers=index, macs=simplify(macs),
                         rf="window", windows=(_window_rf(p), _window_rf(p)))

    def weight_shapes(self, shape):
        c, p = self.feat_dim, self.partition_size
        return {"to_qkv.weight": (3 * c, c), "to_qkv.bias": (3 * c,), "merge.weight": (c, c), "merge.bias": (c,),
                "relative_position_bias_table": ((2 * p - 1) ** 2, self.heads)}

    def buffer_shapes(self, shape):
        p = self.partition_size
        return {"relative_position_index": (p * p, p * p)}

    def describe(self):
        p = fmt(self.partition_size)
        return f"{self.partition_type} attn {p}x{p} {fmt(self.heads)}h"
