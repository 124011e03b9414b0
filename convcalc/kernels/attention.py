"""Attention kernels: multi-head self-attention, Swin's shifted-window attention, MaxViT's
block/grid attention, and the token reshapes of vision transformers.

Every kernel returns ``(y, macs)``; MACs are tallied from the operand shapes of the matmuls
it performs (projections, Q K^T, attention times V). Softmax, scaling and bias additions
are not MACs. Maps are (N, C, H, W); token tensors (N, L, E). The attention kinds are written
once, as training forwards (``*_train``: ``(y, macs, saved)``, keeping what the backward of
:mod:`.backward_attention` needs); the inference kernels return their first two values.
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, matmul_macs
from .conv import linear

__all__ = ["multihead_attention", "tokens", "class_token", "pos_embedding", "select_token",
           "relative_position_index", "shifted_window_attention", "shifted_window_probe", "patch_merge",
           "partition_attention", "partition_probe", "multihead_attention_train", "shifted_window_attention_train",
           "partition_attention_train"]


def _attend(q, k, v, bias=None, mask=None):
    """softmax(q k^T + bias + mask) v over the last two dims; q is already scaled: (out,
    probabilities, MACs). The scores become the probabilities in place (the one array of that
    size a layer keeps for its backward)."""
    kt = np.swapaxes(k, -1, -2)
    scores = q @ kt
    macs = matmul_macs(q.shape, kt.shape)
    for extra in (bias, mask):
        if extra is not None:
            scores += extra
    scores -= scores.max(axis=-1, keepdims=True)
    # Scores this far below the row's largest (Swin's mask adds -100) would give probabilities
    # in the subnormal range, where exp, the division and the product with v run ~7x slower;
    # floored, they are still below the float's resolution of any output (< 1e-35 relative).
    floor = np.log(np.finfo(scores.dtype).tiny) + np.log(max(scores.shape[-1], 1)) + 1
    np.maximum(scores, scores.dtype.type(floor), out=scores)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    out = scores @ v
    return out, scores, macs + matmul_macs(scores.shape, v.shape)


def project_heads(x, in_proj_weight, in_proj_bias, num_heads, bias_k=None, bias_v=None, add_zero_attn=False):
    """The q/k/v of ``torch.nn.MultiheadAttention(x, x, x)``, batch first, x (N, L, E): projected,
    with the bias_k/bias_v and zero-attention rows, split into heads (N, heads, L, E/heads), q
    scaled by (E/heads)^-1/2; and the projection's MACs."""
    x = as_float(x)
    if x.ndim != 3:
        raise ValueError(f"multihead_attention: expected (N, L, E), got shape {x.shape}")
    n, L, E = x.shape
    if E % num_heads:
        raise ValueError(f"multihead_attention: {num_heads} heads do not divide embed_dim {E}")
    qkv, macs = linear(x, in_proj_weight, in_proj_bias)
    q, k, v = np.split(qkv, 3, axis=-1)
    if bias_k is not None:
        k = np.concatenate([k, np.broadcast_to(bias_k.reshape(1, 1, E).astype(x.dtype), (n, 1, E))], axis=1)
        v = np.concatenate([v, np.broadcast_to(bias_v.reshape(1, 1, E).astype(x.dtype), (n, 1, E))], axis=1)
    if add_zero_attn:
        k = np.concatenate([k, np.zeros((n, 1, E), k.dtype)], axis=1)
        v = np.concatenate([v, np.zeros((n, 1, E), v.dtype)], axis=1)
    d = E // num_heads

    def heads(t):
        return t.reshape(n, t.shape[1], num_heads, d).transpose(0, 2, 1, 3)

    return heads(q) * np.asarray(d ** -0.5, dtype=x.dtype), heads(k), heads(v), macs


def multihead_attention_train(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads,
                              bias_k=None, bias_v=None, add_zero_attn=False):
    """``torch.nn.MultiheadAttention(x, x, x)`` batch first, x (N, L, E), keeping what its
    backward needs: (y, macs, saved)."""
    x = as_float(x)
    q, k, v, macs = project_heads(x, in_proj_weight, in_proj_bias, num_heads, bias_k, bias_v, add_zero_attn)
    n, L, E = x.shape
    out, attn, m = _attend(q, k, v)
    out = out.transpose(0, 2, 1, 3).reshape(n, L, E)
    y, m2 = linear(out, out_proj_weight, out_proj_bias)
    return y, macs + m + m2, {"x": x, "q": q, "k": k, "v": v, "attn": attn, "out": out}


def multihead_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads,
                        bias_k=None, bias_v=None, add_zero_attn=False):
    """``torch.nn.MultiheadAttention(x, x, x)`` at inference, batch first: x (N, L, E)."""
    return multihead_attention_train(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads,
                                     bias_k, bias_v, add_zero_attn)[:2]


def tokens(x):
    """(N, C, *spatial) -> (N, prod(spatial), C)."""
    x = np.asarray(x)
    return np.ascontiguousarray(x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)), 0


def class_token(x, token):
    """Prepend a learned token: (N, L, E) -> (N, L+1, E)."""
    x, token = as_float(x, token)
    t = np.broadcast_to(token.reshape(1, 1, x.shape[-1]), (x.shape[0], 1, x.shape[-1]))
    return np.concatenate([t, x], axis=1), 0


def pos_embedding(x, embedding):
    x, embedding = as_float(x, embedding)
    if embedding.reshape(-1).size != x.shape[1] * x.shape[2]:
        raise ValueError(f"pos_embedding: {embedding.shape} does not fit tokens {x.shape[1:]}")
    return x + embedding.reshape(1, *x.shape[1:]), 0


def select_token(x, index=0):
    return np.ascontiguousarray(np.asarray(x)[:, index]), 0


def relative_position_index(h, w):
    """Index into a ((2h-1)*(2w-1), heads) bias table for every pair of positions of an
    h x w window, flattened row-major: (h*w, h*w)."""
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([ys.reshape(-1), xs.reshape(-1)])           # (2, h*w)
    rel = coords[:, :, None] - coords[:, None, :]                 # (2, M, M)
    return (rel[0] + h - 1) * (2 * w - 1) + (rel[1] + w - 1)


def _relative_bias(table, h, w):
    """(heads, M, M) bias from a ((2h-1)*(2w-1), heads) table."""
    idx = relative_position_index(h, w)
    return np.transpose(table[idx.reshape(-1)].reshape(h * w, h * w, -1), (2, 0, 1))


# -- Swin ----------------------------------------------------------------------------------------

def _swin_windows(x, window, shift):
    """torchvision's partition of a (B, H, W, C) map: pad to whole windows, roll by the shift,
    cut into windows. Returns (windows (B*nW, M, C), mask (nW, M, M) or None, undo)."""
    B, H, W, C = x.shape
    wh, ww = window
    pad_b, pad_r = (wh - H % wh) % wh, (ww - W % ww) % ww
    x = np.pad(x, ((0, 0), (0, pad_b), (0, pad_r), (0, 0)))
    ph, pw = x.shape[1], x.shape[2]
    shift = [0 if wh >= ph else shift[0], 0 if ww >= pw else shift[1]]
    if sum(shift) > 0:
        x = np.roll(x, (-shift[0], -shift[1]), axis=(1, 2))
    nh, nw = ph // wh, pw // ww
    win = x.reshape(B, nh, wh, nw, ww, C).transpose(0, 1, 3, 2, 4, 5).reshape(B * nh * nw, wh * ww, C)
    mask = None
    if sum(shift) > 0:
        region = np.zeros((ph, pw))
        count = 0
        for h0, h1 in ((0, -wh), (-wh, -shift[0]), (-shift[0], None)):
            for w0, w1 in ((0, -ww), (-ww, -shift[1]), (-shift[1], None)):
                region[h0:h1, w0:w1] = count
                count += 1
        region = region.reshape(nh, wh, nw, ww).transpose(0, 2, 1, 3).reshape(nh * nw, wh * ww)
        mask = np.where(region[:, None, :] - region[:, :, None] != 0, -100.0, 0.0)

    def undo(y):
        y = y.reshape(B, nh, nw, wh, ww, y.shape[-1]).transpose(0, 1, 3, 2, 4, 5).reshape(B, ph, pw, -1)
        if sum(shift) > 0:
            y = np.roll(y, (shift[0], shift[1]), axis=(1, 2))
        return np.ascontiguousarray(y[:, :H, :W, :].transpose(0, 3, 1, 2))

    return win, mask, undo


def window_heads(x, qkv_weight, qkv_bias, table, window, shift, num_heads):
    """Swin's (shifted) windows of a (N, C, H, W) map as tokens (windows, M, C), their inverse,
    the relative position bias and the shift's mask (tiled over the windows of every sample),
    their q/k/v in heads (q scaled by (C/heads)^-1/2) and the projection's MACs."""
    C = x.shape[1]
    win, mask, undo = _swin_windows(x.transpose(0, 2, 3, 1), window, shift)
    bw, M, _ = win.shape
    qkv, macs = linear(win, qkv_weight, qkv_bias)
    qkv = qkv.reshape(bw, M, 3, num_heads, C // num_heads).transpose(2, 0, 3, 1, 4)
    if mask is not None:
        mask = np.tile(mask[:, None], (bw // mask.shape[0], 1, 1, 1)).astype(x.dtype)
    q = qkv[0] * np.asarray((C // num_heads) ** -0.5, dtype=x.dtype)
    return win, undo, _relative_bias(table, *window)[None], mask, q, qkv[1], qkv[2], macs


def shifted_window_attention_train(x, qkv_weight, qkv_bias, proj_weight, proj_bias, table, window, shift,
                                   num_heads):
    """torchvision ``shifted_window_attention`` on a (N, C, H, W) map, keeping what its backward
    needs: (y, macs, saved)."""
    x, qkv_weight, qkv_bias, proj_weight, proj_bias, table = as_float(
        x, qkv_weight, qkv_bias, proj_weight, proj_bias, table)
    win, undo, bias, mask, q, k, v, macs = window_heads(x, qkv_weight, qkv_bias, table, window, shift, num_heads)
    bw, M, C = win.shape
    out, attn, m = _attend(q, k, v, bias, mask)
    out = out.transpose(0, 2, 1, 3).reshape(bw, M, C)
    y, m2 = linear(out, proj_weight, proj_bias)
    saved = {"x": win, "q": q, "k": k, "v": v, "attn": attn, "out": out, "undo": undo}
    return undo(y).astype(x.dtype, copy=False), macs + m + m2, saved


def shifted_window_attention(x, qkv_weight, qkv_bias, proj_weight, proj_bias, table, window, shift, num_heads):
    """torchvision ``shifted_window_attention`` on a (N, C, H, W) map (inference)."""
    return shifted_window_attention_train(x, qkv_weight, qkv_bias, proj_weight, proj_bias, table, window, shift,
                                          num_heads)[:2]


def shifted_window_probe(x, window, shift):
    """Which inputs each output of a shifted-window attention reads: every output becomes the
    sum of the inputs its window lets it attend to (the mask's -100 blocks them). (y, 0)."""
    x = as_float(x)
    win, mask, undo = _swin_windows(x.transpose(0, 2, 3, 1), window, shift)
    allowed = np.ones((1, win.shape[1], win.shape[1]), x.dtype)
    if mask is not None:
        allowed = np.tile((mask == 0).astype(x.dtype), (win.shape[0] // mask.shape[0], 1, 1))
    return undo(allowed @ win), 0


def patch_merge(x):
    """Swin's PatchMerging gather on (N, C, H, W): pad to even, stack the 2x2 neighbours
    (0,0), (1,0), (0,1), (1,1) along channels: (N, 4C, ceil(H/2), ceil(W/2))."""
    x = np.asarray(x)
    x = np.pad(x, ((0, 0), (0, 0), (0, x.shape[2] % 2), (0, x.shape[3] % 2)))
    parts = [x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]]
    return np.concatenate(parts, axis=1), 0


# -- MaxViT --------------------------------------------------------------------------------------

def _partition(x, p, partition_type):
    """MaxViT's WindowPartition (+ SwapAxes for grid) of (B, C, H, W): (B, G, S, C) with
    attention over S; returns it and the inverse."""
    B, C, H, W = x.shape
    step = p if partition_type == "window" else H // p
    if H % step or W % step or (partition_type == "grid" and (H % p or W % p)):
        raise ValueError(f"partition_attention: {H}x{W} is not a multiple of the partition size {p}")
    gh, gw = H // step, W // step
    t = x.reshape(B, C, gh, step, gw, step).transpose(0, 2, 4, 3, 5, 1).reshape(B, gh * gw, step * step, C)
    if partition_type == "grid":
        t = np.swapaxes(t, 1, 2)

    def undo(y):
        if partition_type == "grid":
            y = np.swapaxes(y, 1, 2)
        y = y.reshape(B, gh, gw, step, step, -1).transpose(0, 5, 1, 3, 2, 4)
        return np.ascontiguousarray(y.reshape(B, -1, H, W))

    return t, undo


def partition_heads(x, qkv_weight, qkv_bias, partition_size, partition_type, head_dim):
    """MaxViT's partitioned tokens (B, G, S, C), the map's inverse, their q/k/v in heads (keys
    scaled by ``C ** -0.5``, as torchvision) and the projection's MACs."""
    C = x.shape[1]
    heads = C // head_dim
    t, undo = _partition(x, partition_size, partition_type)
    B, G, S, _ = t.shape
    qkv, macs = linear(t, qkv_weight, qkv_bias)
    q, k, v = (a.reshape(B, G, S, heads, head_dim).transpose(0, 1, 3, 2, 4) for a in np.split(qkv, 3, axis=-1))
    return t, undo, q, k * np.asarray(C ** -0.5, dtype=x.dtype), v, macs


def partition_attention_train(x, qkv_weight, qkv_bias, merge_weight, merge_bias, table, partition_size,
                              partition_type, head_dim):
    """torchvision MaxViT: partition, ``RelativePositionalMultiHeadAttention``, departition, on
    (N, C, H, W), keeping what its backward needs: (y, macs, saved). As in torchvision the keys
    are scaled by ``C ** -0.5``."""
    x, qkv_weight, qkv_bias, merge_weight, merge_bias, table = as_float(
        x, qkv_weight, qkv_bias, merge_weight, merge_bias, table)
    t, undo, q, k, v, macs = partition_heads(x, qkv_weight, qkv_bias, partition_size, partition_type, head_dim)
    B, G, S, C = t.shape
    bias = _relative_bias(table, partition_size, partition_size)[None, None]
    out, attn, m = _attend(q, k, v, bias)
    out = out.transpose(0, 1, 3, 2, 4).reshape(B, G, S, C)
    y, m2 = linear(out, merge_weight, merge_bias)
    saved = {"x": t, "q": q, "k": k, "v": v, "attn": attn, "out": out}
    return undo(y).astype(x.dtype, copy=False), macs + m + m2, saved


def partition_attention(x, qkv_weight, qkv_bias, merge_weight, merge_bias, table, partition_size,
                        partition_type, head_dim):
    """torchvision MaxViT's partition attention on (N, C, H, W) (inference)."""
    return partition_attention_train(x, qkv_weight, qkv_bias, merge_weight, merge_bias, table, partition_size,
                                     partition_type, head_dim)[:2]


def partition_probe(x, partition_size, partition_type):
    """Which inputs each output of a partition attention reads: the sum over its group."""
    x = as_float(x)
    t, undo = _partition(x, partition_size, partition_type)
    return undo(np.broadcast_to(t.sum(axis=2, keepdims=True), t.shape)), 0
