"""Backward of the attention kernels and of the token and generic tensor ops of transformers.

The attention kinds' backward takes ``saved`` from their *training forward* (``*_train`` in
:mod:`.attention`, ``(y, macs, saved)``): what autograd keeps (the layer's input as the
projection saw it, the scaled queries, keys, values, the softmax probabilities and the
attention output before the output projection).

For ``L`` queries of width ``E`` (``h`` heads of ``d = E/h``) attending to ``S`` keys, with
scores ``Z = q k^T (+ bias, mask)``, probabilities ``A = softmax(Z)``, ``O = A v``:

  dA = dO v^T        L*S*E      dv = A^T dO        L*S*E
  dZ = A * (dA - rowsum(dA * A))                    (element-wise: not a MAC)
  dq = dZ k          L*S*E      dk = dZ^T q        L*S*E

plus the two projections by :func:`.backward.linear_backward`: the output projection's input
gradient ``L*E*E`` and weight gradient ``L*E*E``; the q/k/v projection's input gradient
``3*L*E*E`` (only when the input needs one) and weight gradient ``3*L*E*E``. The four
attention matmuls and the output projection's input gradient lie on the way to both the
input and the q/k/v weights: the kernels tally them apart, as the *shared* part.
A relative position bias table's gradient is dZ summed over windows and scattered onto the
table by the index (additions, not MACs). Every backward returns
``(dx, grads, (macs_dx, macs_dw, macs_shared))``; the token and generic ops return two tallies.

numpy + stdlib only."""

from __future__ import annotations

import math

import numpy as np

from ._util import as_float, matmul_macs
from .attention import _partition, _swin_windows, relative_position_index
from .backward import linear_backward
from .backward_elem import unbroadcast
from .ops import as_matrices, reduce_axes

__all__ = ["multihead_attention_backward", "shifted_window_attention_backward", "partition_attention_backward",
           "tokens_backward", "class_token_backward", "pos_embedding_backward", "select_token_backward",
           "patch_merge_backward", "view_backward", "reduce_backward", "matmul_backward"]


# -- the attention core -----------------------------------------------------------------------------

def _attend_backward(dout, q, k, v, attn):
    """(dq, dk, dv, dZ, MACs) of :func:`.attention._attend` from the output gradient."""
    vt, at = np.swapaxes(v, -1, -2), np.swapaxes(attn, -1, -2)
    da = dout @ vt
    dv = at @ dout
    macs = matmul_macs(dout.shape, vt.shape) + matmul_macs(at.shape, dout.shape)
    da -= np.einsum("...ij,...ij->...i", da, attn)[..., None]   # dZ = A * (dA - rowsum(dA * A)), in place
    da *= attn
    dz, dzt = da, np.swapaxes(da, -1, -2)
    dq = dz @ k
    dk = dzt @ q
    macs += matmul_macs(dz.shape, k.shape) + matmul_macs(dzt.shape, q.shape)
    return dq, dk, dv, dz, macs


def _table_grad(dz, table_shape, h, w):
    """Gradient of a ((2h-1)*(2w-1), heads) relative position bias table from dZ (..., heads, M, M)."""
    heads, M = dz.shape[-3], dz.shape[-1]
    dbias = dz.reshape(-1, heads, M, M).sum(axis=0, dtype=np.float64)       # (heads, M, M)
    out = np.zeros(table_shape, np.float64)
    np.add.at(out, relative_position_index(h, w).reshape(-1), dbias.transpose(1, 2, 0).reshape(M * M, heads))
    return out.astype(dz.dtype)


def _merge_heads(dq, dk, dv, lead):
    """Stack (…, heads, tokens, d) gradients of q, k and v as the packed projection's output
    gradient (…, tokens, 3*heads*d): its features split as (3, heads, d)."""
    g = np.stack([dq, dk, dv])                                   # (3, *lead, heads, T, d)
    n = len(lead)
    order = tuple(range(1, n + 1)) + (n + 2, 0, n + 1, n + 3)     # (*lead, T, 3, heads, d)
    g = g.transpose(order)
    return np.ascontiguousarray(g.reshape(g.shape[:n + 1] + (-1,)))


def _projections_backward(dy, saved, qkv_w, qkv_bias, out_w, out_bias, need_dx, need_dw, scale_q, scale_k):
    """The attention's backward between its two projections; returns (dx_tokens, grads, macs, dz)."""
    d_out, g_out, (m_out_dx, m_out_dw) = linear_backward(dy, saved["out"], out_w, out_bias, True, need_dw)
    lead = saved["q"].shape[:-3]
    heads, T, d = saved["q"].shape[-3:]
    d_out = d_out.reshape(lead + (T, heads, d))
    d_out = np.swapaxes(d_out, -2, -3)
    dq, dk, dv, dz, m_att = _attend_backward(d_out, saved["q"], saved["k"], saved["v"], saved["attn"])
    if scale_q != 1:
        dq = dq * np.asarray(scale_q, dq.dtype)
    if scale_k != 1:
        dk = dk * np.asarray(scale_k, dk.dtype)
    extra = {}
    if dk.shape[-2] > T:                                          # MHA's bias_k / zero-attention rows
        extra = {"dk": dk[..., T:, :], "dv": dv[..., T:, :]}
        dk, dv = dk[..., :T, :], dv[..., :T, :]
    dqkv = _merge_heads(dq, dk, dv, lead)
    dx, g_in, (m_in_dx, m_in_dw) = linear_backward(dqkv, saved["x"], qkv_w, qkv_bias, need_dx, need_dw)
    return dx, (g_in, g_out, extra), (m_in_dx, m_in_dw + m_out_dw, m_out_dx + m_att), dz


def _named(g_in, g_out, in_names, out_names):
    grads = {}
    for g, names in ((g_in, in_names), (g_out, out_names)):
        for key, name in zip(("weight", "bias"), names):
            if key in g:
                grads[name] = g[key]
    return grads


# -- MultiheadAttention -----------------------------------------------------------------------------

def multihead_attention_backward(dy, saved, in_proj_weight, out_proj_weight, bias=True, bias_kv=False,
                                 need_dx=True, need_dw=True):
    """Gradients of :func:`.attention.multihead_attention_train` (self-attention, batch first): dx and the
    gradients of ``in_proj_weight``/``in_proj_bias``/``out_proj.weight``/``out_proj.bias``
    (and ``bias_k``/``bias_v``, the key and value rows they added)."""
    dy = as_float(dy)
    E = in_proj_weight.shape[1]
    d = E // saved["q"].shape[1]
    dx, (g_in, g_out, extra), macs, _ = _projections_backward(
        dy, saved, in_proj_weight, bias, out_proj_weight, bias, need_dx, need_dw, d ** -0.5, 1)
    grads = _named(g_in, g_out, ("in_proj_weight", "in_proj_bias"), ("out_proj.weight", "out_proj.bias"))
    if need_dw and bias_kv:
        for name, g in (("bias_k", extra["dk"]), ("bias_v", extra["dv"])):
            row = g[:, :, 0, :]                                   # (n, heads, d): the added row
            grads[name] = row.sum(axis=0, dtype=np.float64).reshape(1, 1, E).astype(dy.dtype)
    return dx, grads, macs


# -- Swin -------------------------------------------------------------------------------------------

def shifted_window_attention_backward(dy, saved, qkv_weight, proj_weight, table_shape, window, shift,
                                      qkv_bias=True, proj_bias=True, need_dx=True, need_dw=True):
    """Gradients of :func:`.attention.shifted_window_attention_train`. The output gradient goes through the
    adjoint of the output's un-partition (crop -> zero pad, roll +s -> roll -s, windows), which is
    the forward's own partition; the windows' input gradient goes back through the un-partition."""
    dy = as_float(dy)
    C = dy.shape[1]
    heads = saved["q"].shape[1]
    dwin_y, _, _ = _swin_windows(dy.transpose(0, 2, 3, 1), window, shift)
    dwin, (g_in, g_out, _), macs, dz = _projections_backward(
        dwin_y, saved, qkv_weight, qkv_bias, proj_weight, proj_bias, need_dx, need_dw, (C // heads) ** -0.5, 1)
    grads = _named(g_in, g_out, ("qkv.weight", "qkv.bias"), ("proj.weight", "proj.bias"))
    if need_dw:
        grads["relative_position_bias_table"] = _table_grad(dz, table_shape, *window)
    dx = saved["undo"](dwin).astype(dy.dtype, copy=False) if need_dx else None
    return dx, grads, macs


# -- MaxViT -----------------------------------------------------------------------------------------

def partition_attention_backward(dy, saved, qkv_weight, merge_weight, table_shape, partition_size, partition_type,
                                 need_dx=True, need_dw=True):
    """Gradients of :func:`.attention.partition_attention_train`. The partition is a permutation of the
    map: its adjoint is its inverse (the output gradient is partitioned, the tokens' input
    gradient un-partitioned). The keys were scaled by C^-1/2 after the projection."""
    dy = as_float(dy)
    C = dy.shape[1]
    dt, undo = _partition(dy, partition_size, partition_type)
    dtok, (g_in, g_out, _), macs, dz = _projections_backward(
        dt, saved, qkv_weight, True, merge_weight, True, need_dx, need_dw, 1, C ** -0.5)
    grads = _named(g_in, g_out, ("to_qkv.weight", "to_qkv.bias"), ("merge.weight", "merge.bias"))
    if need_dw:
        grads["relative_position_bias_table"] = _table_grad(dz, table_shape, partition_size, partition_size)
    dx = undo(dtok).astype(dy.dtype, copy=False) if need_dx else None
    return dx, grads, macs


# -- tokens -----------------------------------------------------------------------------------------

_NONE = (0, 0)


def tokens_backward(dy, x_shape):
    """(N, prod(spatial), C) back to the map (N, C, *spatial)."""
    dy = as_float(dy)
    return np.ascontiguousarray(dy.transpose(0, 2, 1)).reshape(x_shape), {}, _NONE


def class_token_backward(dy, token_shape):
    """The prepended token's gradient is row 0 summed over the batch; the rest is the input's."""
    dy = as_float(dy)
    dtok = dy[:, 0].sum(axis=0, dtype=np.float64).reshape(token_shape).astype(dy.dtype)
    return np.ascontiguousarray(dy[:, 1:]), {"class_token": dtok}, _NONE


def pos_embedding_backward(dy, embedding_shape):
    dy = as_float(dy)
    demb = dy.sum(axis=0, dtype=np.float64).reshape(embedding_shape).astype(dy.dtype)
    return dy, {"pos_embedding": demb}, _NONE


def select_token_backward(dy, x_shape, index=0):
    dy = as_float(dy)
    dx = np.zeros(x_shape, dy.dtype)
    dx[:, index] = dy
    return dx, {}, _NONE


def patch_merge_backward(dy, x_shape):
    """Each of the four stacked channel blocks back onto its pixels of the padded map, cropped."""
    dy = as_float(dy)
    N, C, H, W = x_shape
    dxp = np.zeros((N, C, H + H % 2, W + W % 2), dy.dtype)
    for part, (i, j) in zip(np.split(dy, 4, axis=1), ((0, 0), (1, 0), (0, 1), (1, 1))):
        dxp[:, :, i::2, j::2] = part
    return np.ascontiguousarray(dxp[:, :, :H, :W]), {}, _NONE


# -- generic ops (layers/ops.py) ---------------------------------------------------------------------

def view_backward(dy, x_shape):
    return as_float(dy).reshape(x_shape), {}, _NONE


def reduce_backward(dy, x, y, op="mean", dims=(), keepdim=False):
    """Gradient of :func:`.ops.reduce` (``y`` its output): mean/sum spread dy evenly or alike;
    max/min (amax/amin) split it among the tied extremes, as torch's amax does; prod by y/x;
    var/std (unbiased) through x - mean."""
    dy, x, y = as_float(dy, x, y)
    axes = reduce_axes(x, dims)
    if not keepdim:
        dy, y = np.expand_dims(dy, axes), np.expand_dims(y, axes)
    n = math.prod(x.shape[a] for a in axes)
    if op == "sum":
        g = np.broadcast_to(dy, x.shape)
    elif op == "mean":
        g = np.broadcast_to(dy / dy.dtype.type(n), x.shape)
    elif op in ("amax", "amin", "max", "min"):
        hit = (x == y).astype(x.dtype)
        g = dy * hit / hit.sum(axis=axes, keepdims=True)
    elif op == "prod":
        g = dy * y / x
    elif op in ("var", "std"):
        centred = x - x.mean(axis=axes, keepdims=True)
        g = dy * centred * (2.0 / (n - 1) if op == "var" else 1.0 / ((n - 1) * y))
    else:
        raise ValueError(f"reduce: no NumPy backward for {op!r}")
    return np.ascontiguousarray(g, dtype=dy.dtype), {}, _NONE


def matmul_backward(dy, a, b, need=(True, True)):
    """Gradients of :func:`.ops.matmul` (per sample ``a @ b``, torch's broadcasting; 1-d operands
    as torch promotes them): dA = dY @ B^T and dB = A^T @ dY, each summed back to its operand's
    shape; ``need`` says which operands want one. MACs: prod(output) * K per gradient."""
    dy, a, b = as_float(dy, a, b)
    a2, b2 = as_matrices(a, b)
    dy2 = dy
    if a.ndim == 2:
        dy2 = dy2[..., None, :] if b.ndim > 2 else dy2[:, None]
    if b.ndim == 2:
        dy2 = dy2[..., None]
    da = db = None
    macs = 0
    if need[0]:
        bt = np.swapaxes(b2, -1, -2)
        da = unbroadcast(dy2 @ bt, a2.shape).reshape(a.shape).astype(dy.dtype, copy=False)
        macs += matmul_macs(dy2.shape, bt.shape)
    if need[1]:
        at = np.swapaxes(a2, -1, -2)
        db = unbroadcast(at @ dy2, b2.shape).reshape(b.shape).astype(dy.dtype, copy=False)
        macs += matmul_macs(at.shape, dy2.shape)
    return [da, db], {}, (macs, 0)
