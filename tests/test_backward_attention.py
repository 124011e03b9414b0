"""Backward of the attention kinds, the token layers and the generic ops (kernels/backward_attention.py).

Oracles: torch.autograd on torch's nn.MultiheadAttention and torchvision's Swin / MaxViT
attention modules (gradients of the input and of every parameter); MAC counts written out as
arithmetic (each matmul's gradient meets every (output unit, contracted index) pair once) and
torch's FlopCounterMode on small transformer blocks; torch's saved_tensors_hooks for what
autograd keeps; verify --training (finite differences included) on small ViT/Swin/MaxViT-style
networks."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import convcalc as cc
from convcalc import kernels as K
from convcalc import verify_training as V
from convcalc.analyze import analyze
from convcalc.graph import Residual, Sequential, to_graph
from convcalc.layers import (ClassToken, GELU, Identity, LayerNorm, LayerNorm2d, Linear, MultiheadAttention,
                             PartitionAttention, PatchMerge, Permute, PosEmbedding, SelectToken,
                             ShiftedWindowAttention, Tokens)
from convcalc.training import TrainingOptions

try:
    import torch
except ImportError:  # the oracle is optional: the NumPy-only tests below still run
    torch = None
import tv  # noqa: E402

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
needs_tv = pytest.mark.skipif(tv.load() is None, reason="torchvision is not installed")


def _t(a, grad=False):
    return torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(grad)


def _close(a, b, what):
    np.testing.assert_allclose(a, b.detach().numpy(), rtol=2e-4, atol=2e-4, err_msg=what)


def _torch_grads(module, x, dy, forward):
    """dX and every parameter's gradient of sum(forward(module, x) * dy)."""
    xt = _t(x, True)
    (forward(module, xt) * _t(dy)).sum().backward()
    return xt.grad, {n: p.grad for n, p in module.named_parameters()}


def _randomize(module, rng):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(_t(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    return {n: p.detach().numpy().copy() for n, p in module.named_parameters()}


# -- MultiheadAttention --------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("bias,bias_kv,zero_attn", [(True, False, False), (False, True, True), (True, True, False)])
def test_multihead_attention_backward_matches_autograd(bias, bias_kv, zero_attn):
    rng = np.random.default_rng(0)
    N, L, E, h = 2, 5, 12, 3
    m = torch.nn.MultiheadAttention(E, h, bias=bias, add_bias_kv=bias_kv, add_zero_attn=zero_attn, batch_first=True)
    w = _randomize(m, rng)
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    y, _, saved = K.multihead_attention_train(x, w["in_proj_weight"], w.get("in_proj_bias"), w["out_proj.weight"],
                                              w.get("out_proj.bias"), h, w.get("bias_k"), w.get("bias_v"), zero_attn)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, grads, (mdx, mdw, shared) = K.multihead_attention_backward(dy, saved, w["in_proj_weight"],
                                                                   w["out_proj.weight"], bias, bias_kv)
    want_dx, want = _torch_grads(m, x, dy, lambda mod, xt: mod(xt, xt, xt, need_weights=False)[0])
    _close(dx, want_dx, "dx")
    assert sorted(grads) == sorted(want)
    for name, g in grads.items():
        _close(g, want[name], name)
    S = L + bias_kv + zero_attn
    assert mdx == N * 3 * L * E * E                          # dX = dQKV @ W_in
    assert mdw == N * (3 * L * E * E + L * E * E)            # dW_in = dQKV^T X, dW_out = dY^T O
    assert shared == N * (L * E * E + 4 * L * S * E)         # dO = dY W_out; dA, dV, dQ, dK


@needs_torch
def test_no_input_gradient_skips_only_the_input_projection():
    rng = np.random.default_rng(1)
    N, L, E, h = 2, 4, 8, 2
    w = [rng.standard_normal(s).astype(np.float32) for s in ((3 * E, E), (3 * E,), (E, E), (E,))]
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    y, _, saved = K.multihead_attention_train(x, *w, h)
    dx, grads, (mdx, mdw, shared) = K.multihead_attention_backward(np.ones_like(y), saved, w[0], w[2],
                                                                   need_dx=False)
    assert dx is None and mdx == 0 and "in_proj_weight" in grads
    assert shared == N * (L * E * E + 4 * L * L * E)
    dx, grads, (mdx, mdw, shared) = K.multihead_attention_backward(np.ones_like(y), saved, w[0], w[2],
                                                                   need_dw=False)
    assert grads == {} and mdw == 0 and mdx == N * 3 * L * E * E


# -- Swin and MaxViT against torchvision's modules -------------------------------------------------------

@needs_tv
@pytest.mark.parametrize("size,shift", [((8, 8), (2, 2)), ((6, 7), (2, 2)), ((6, 7), (0, 0)), ((4, 4), (2, 2))])
def test_shifted_window_attention_backward_matches_torchvision(size, shift):
    from torchvision.models.swin_transformer import ShiftedWindowAttention as TorchSWA

    rng = np.random.default_rng(2)
    C, heads, ws, N = 8, 2, (4, 4), 2
    m = TorchSWA(C, list(ws), list(shift), heads)
    w = _randomize(m, rng)
    x = rng.standard_normal((N, C, *size)).astype(np.float32)
    y, _, saved = K.shifted_window_attention_train(x, w["qkv.weight"], w["qkv.bias"], w["proj.weight"],
                                                   w["proj.bias"], w["relative_position_bias_table"], ws, shift, heads)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, grads, (mdx, mdw, shared) = K.shifted_window_attention_backward(
        dy, saved, w["qkv.weight"], w["proj.weight"], w["relative_position_bias_table"].shape, ws, shift)
    want_dx, want = _torch_grads(m, x, dy, lambda mod, xt: mod(xt.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    _close(dx, want_dx, "dx")
    assert sorted(grads) == sorted(want)
    for name, g in grads.items():
        _close(g, want[name], name)
    P = N * (-(-size[0] // 4) * 4) * (-(-size[1] // 4) * 4)   # positions of the map padded to whole windows
    assert (mdx, mdw, shared) == (3 * P * C * C, 4 * P * C * C, P * C * C + 4 * P * 16 * C)


def _torch_partition_attention(layer, attn):
    """torchvision's PartitionAttentionLayer.forward without its norm, MLP and residuals."""
    def run(mod, x):
        gh, gw = layer.grid_size[0] // layer.p, layer.grid_size[1] // layer.p
        t = layer.partition_swap(layer.partition_op(x, layer.p))
        return layer.departition_op(layer.departition_swap(attn(t)), layer.p, gh, gw)
    return run


@needs_tv
@pytest.mark.parametrize("kind", ["window", "grid"])
def test_partition_attention_backward_matches_torchvision(kind):
    from torchvision.models.maxvit import PartitionAttentionLayer

    rng = np.random.default_rng(3)
    C, hd, p, H, N = 8, 4, 3, 6, 2
    layer = PartitionAttentionLayer(C, hd, p, kind, (H, H), 4, torch.nn.GELU, torch.nn.LayerNorm, 0.0, 0.0, 0.0)
    attn = layer.attn_layer[1]
    w = _randomize(attn, rng)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    y, _, saved = K.partition_attention_train(x, w["to_qkv.weight"], w["to_qkv.bias"], w["merge.weight"],
                                              w["merge.bias"], w["relative_position_bias_table"], p, kind, hd)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, grads, (mdx, mdw, shared) = K.partition_attention_backward(
        dy, saved, w["to_qkv.weight"], w["merge.weight"], w["relative_position_bias_table"].shape, p, kind)
    want_dx, want = _torch_grads(attn, x, dy, _torch_partition_attention(layer, attn))
    _close(dx, want_dx, "dx")
    assert sorted(grads) == sorted(want)
    for name, g in grads.items():
        _close(g, want[name], name)
    P = N * H * H
    assert (mdx, mdw, shared) == (3 * P * C * C, 4 * P * C * C, P * C * C + 4 * P * p * p * C)


# -- token layers and generic ops against autograd ------------------------------------------------------

def _check(fn_np, fn_torch, *inputs):
    """Backward of fn_np (dx list) against autograd of fn_torch on the same inputs and dy."""
    rng = np.random.default_rng(4)
    ts = [_t(a, True) for a in inputs]
    y = fn_torch(*ts)
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    (y * _t(dy)).sum().backward()
    got = fn_np(dy)
    for g, t in zip(got, ts):
        _close(g, t.grad, "gradient")


@needs_torch
def test_token_layer_backwards_match_autograd():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    _check(lambda dy: [K.tokens_backward(dy, x.shape)[0]], lambda a: a.reshape(2, 6, 12).permute(0, 2, 1), x)
    t = rng.standard_normal((2, 5, 6)).astype(np.float32)
    tok = rng.standard_normal((1, 1, 6)).astype(np.float32)
    _check(lambda dy: [K.class_token_backward(dy, tok.shape)[0], K.class_token_backward(dy, tok.shape)[1]["class_token"]],
           lambda a, b: torch.cat([b.expand(2, -1, -1), a], dim=1), t, tok)
    emb = rng.standard_normal((1, 5, 6)).astype(np.float32)
    _check(lambda dy: [K.pos_embedding_backward(dy, emb.shape)[0], K.pos_embedding_backward(dy, emb.shape)[1]["pos_embedding"]],
           lambda a, b: a + b, t, emb)
    _check(lambda dy: [K.select_token_backward(dy, t.shape, 0)[0]], lambda a: a[:, 0], t)
    odd = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)

    def merge(a):   # torchvision's _patch_merging_pad, on (B, C, H, W)
        a = torch.nn.functional.pad(a, (0, a.shape[3] % 2, 0, a.shape[2] % 2))
        return torch.cat([a[:, :, 0::2, 0::2], a[:, :, 1::2, 0::2], a[:, :, 0::2, 1::2], a[:, :, 1::2, 1::2]], 1)

    _check(lambda dy: [K.patch_merge_backward(dy, odd.shape)[0]], merge, odd)


@needs_torch
@pytest.mark.parametrize("op,torch_op", [("mean", lambda a: a.mean(dim=(1, 3))), ("sum", lambda a: a.sum(dim=(1, 3))),
                                         ("amax", lambda a: a.amax(dim=(1, 3))), ("var", lambda a: a.var(dim=(1, 3))),
                                         ("std", lambda a: a.std(dim=(1, 3))), ("prod", lambda a: a.prod(dim=3))])
def test_reduce_backward_matches_autograd(op, torch_op):
    x = np.random.default_rng(6).uniform(0.5, 1.5, (2, 3, 4, 5)).astype(np.float32)
    dims = (2,) if op == "prod" else (0, 2)
    y, _ = K.reduce(x, op, dims)
    _check(lambda dy: [K.reduce_backward(dy, x, y, op, dims)[0]], torch_op, x)
    yk, _ = K.reduce(x, "mean", (0,), keepdim=True)
    _check(lambda dy: [K.reduce_backward(dy, x, yk, "mean", (0,), True)[0]], lambda a: a.mean(1, keepdim=True), x)


@needs_torch
@pytest.mark.parametrize("sa,sb", [((4, 3), (3, 5)), ((2, 4, 3), (1, 3, 5)), ((3,), (3, 5)), ((4, 3), (3,)), ((3,), (3,))])
def test_matmul_backward_matches_autograd(sa, sb):
    rng = np.random.default_rng(7)
    a, b = (rng.standard_normal((2, *s)).astype(np.float32) for s in (sa, sb))
    _check(lambda dy: K.matmul_backward(dy, a, b)[0], torch.vmap(torch.matmul), a, b)   # per sample
    y, macs = K.matmul(a, b)
    _, _, (m, _) = K.matmul_backward(np.ones_like(y), a, b)
    assert m == 2 * macs                                        # dA and dB: the forward's MACs each
    (da, db), _, (m1, _) = K.matmul_backward(np.ones_like(y), a, b, need=(False, True))
    assert da is None and db.shape == b.shape and m1 == macs


# -- the engine's backward MACs and saved bytes against torch, on transformer blocks --------------------

def _blocks():
    """(name, torchvision block, its input, the zoo's block, the engine's input shape per sample)."""
    from torchvision.models.maxvit import PartitionAttentionLayer
    from torchvision.models.swin_transformer import SwinTransformerBlock
    from torchvision.models.vision_transformer import EncoderBlock

    from convcalc.zoo import maxvit, swin, vit

    N, L, E, C = 2, 10, 16, 8
    yield ("vit", EncoderBlock(2, E, 32, 0.0, 0.0), torch.randn(N, L, E), vit._encoder_block(E, 2, 32), (L, E))
    for size, shift in (((8, 8), 2), ((6, 7), 2), ((6, 7), 0)):
        tb = SwinTransformerBlock(C, 2, [4, 4], [shift, shift])
        yield (f"swin {size} {shift}", Permuted(tb), torch.randn(N, C, *size),
               swin._swin_block(C, 2, (4, 4), (shift, shift), 0.0), (C, *size))
    for kind in ("window", "grid"):
        tb = PartitionAttentionLayer(C, 4, 3, kind, (6, 6), 4, torch.nn.GELU, torch.nn.LayerNorm, 0.0, 0.0, 0.0)
        yield f"maxvit {kind}", tb, torch.randn(N, C, 6, 6), maxvit._partition_attention(C, 4, 3, kind, 0.0), (C, 6, 6)


def Permuted(block):
    """A channels-last torchvision block on a (B, C, H, W) map (permutes are views: no MACs, nothing saved)."""
    class Permuted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = block

        def forward(self, x):
            return self.block(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    return Permuted()


@needs_tv
def test_backward_macs_match_flop_counter_on_transformer_blocks():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    import torch_models

    torch.manual_seed(0)
    for name, block, x, ours, shape in _blocks():
        with sdpa_kernel(SDPBackend.MATH):   # FlopCounterMode has no rule for the fused CPU kernel's backward
            measured = torch_models.backward_macs(block, x)
        assert analyze(ours, shape, batch=x.shape[0], training=True).totals["backward_macs"] == measured, name


@needs_tv
def test_saved_activations_match_autograd_on_attention_layers():
    """What autograd keeps for the attention layers alone (the layer's input requires a
    gradient, as inside a network): torch's fused attention keeps q, k, v, its output and a
    float32 log-sum-exp; torchvision's window attention keeps its windows' copy, q, k, v and
    output copies and the probabilities."""
    import torch_models
    from torchvision.models.maxvit import PartitionAttentionLayer
    from torchvision.models.swin_transformer import ShiftedWindowAttention as TorchSWA

    torch.manual_seed(0)
    N, C = 2, 8

    class Self(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x, x, x, need_weights=False)[0]

    def ours(layer, shape):
        return analyze(Sequential(Identity(), layer), shape, batch=N, training=True).rows[-1].saved_bytes

    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    assert torch_models.saved_bytes(Self(mha), torch.randn(N, 10, 16)) == ours(MultiheadAttention(16, 4), (10, 16))
    for size, shift in (((8, 8), 2), ((6, 7), 2), ((6, 7), 0), ((4, 4), 0)):
        measured = torch_models.saved_bytes(Permuted(TorchSWA(C, [4, 4], [shift, shift], 2)), torch.randn(N, C, *size))
        assert measured == ours(ShiftedWindowAttention(C, 4, shift, 2), (C, *size)), (size, shift)
    for kind in ("window", "grid"):
        layer = PartitionAttentionLayer(C, 4, 3, kind, (6, 6), 4, torch.nn.GELU, torch.nn.LayerNorm, 0.0, 0.0, 0.0)

        class Attn(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.attn = layer.attn_layer[1]

            def forward(self, x):
                return _torch_partition_attention(layer, self.attn)(self, x)

        measured = torch_models.saved_bytes(Attn(), torch.randn(N, C, 6, 6))
        assert measured == ours(PartitionAttention(C, 4, 3, kind), (C, 6, 6)), kind


# -- verify --training on small transformers --------------------------------------------------------------

def small_vit(E=16, heads=2):
    block = Sequential(Residual(Sequential(LayerNorm(E), MultiheadAttention(E, heads, batch_first=True))),
                       Residual(Sequential(LayerNorm(E), Linear(E, 2 * E), GELU(), Linear(2 * E, E))))
    return Sequential(cc.Conv2d(3, E, 4, stride=4), Tokens(), ClassToken(E), PosEmbedding(17, E), block,
                      LayerNorm(E), SelectToken(0), Linear(E, 10))


def small_swin():
    return Sequential(cc.Conv2d(3, 8, 2, stride=2), LayerNorm2d(8),
                      Residual(Sequential(LayerNorm2d(8), ShiftedWindowAttention(8, 4, 0, 2))),
                      Residual(Sequential(LayerNorm2d(8), ShiftedWindowAttention(8, 4, 2, 2))),
                      PatchMerge(), LayerNorm2d(32), Permute((0, 2, 3, 1)), Linear(32, 16, bias=False),
                      Permute((0, 3, 1, 2)), Residual(ShiftedWindowAttention(16, 4, 2, 4)),
                      cc.AdaptiveAvgPool2d(1), cc.Flatten(), Linear(16, 10))


def small_maxvit():
    return Sequential(cc.Conv2d(3, 8, 3, stride=2, padding=1),
                      Residual(Sequential(LayerNorm2d(8), PartitionAttention(8, 4, 3, "window"))),
                      Residual(Sequential(LayerNorm2d(8), PartitionAttention(8, 4, 3, "grid"))),
                      cc.AdaptiveAvgPool2d(1), cc.Flatten(), Linear(8, 10))


def _attention_row_macs(P, C, m, need_dx=True):
    """A recorded attention layer's backward: dX of the q/k/v projection (3PC^2, when its input
    needs it), the four projections' dW (4PC^2), the output projection's dX and the four
    attention matmuls' gradients (PC^2 + 4PmC)."""
    return (3 * P * C * C if need_dx else 0) + 4 * P * C * C + P * C * C + 4 * P * m * C


@pytest.mark.parametrize("make,shape", [(small_vit, (3, 16, 16)), (small_swin, (3, 14, 18)),
                                        (small_maxvit, (3, 12, 12))])
def test_verify_training_on_small_transformers(make, shape):
    r = V.verify_training(make(), shape, batch=2)
    assert r.ok, [(x.name, x.checks) for x in r.layers if not x.ok]
    assert r.counts()["fd"] == (3, 0, 0)
    assert r.counts()["bwd_macs"][1] == 0 and r.counts()["bwd_macs"][0] == len(r.layers)


def test_attention_rows_backward_macs_by_hand():
    r = {x.name: x.checks["bwd_macs"].measured for x in V.verify_training(small_vit(), (3, 16, 16), batch=2).layers}
    assert r["4.0.1"] == 2 * _attention_row_macs(17, 16, 17)      # 16 patches + the class token
    assert r["1"] == r["2"] == r["3"] == r["6"] == 0                # tokens, class token, positions, selection
    s = {x.name: x.checks["bwd_macs"].measured for x in V.verify_training(small_swin(), (3, 14, 18), batch=1).layers}
    # 7x9 map padded to 8x12 windows of 4x4; after merging 4x5 padded to 4x8
    assert s["2.1"] == s["3.1"] == _attention_row_macs(8 * 12, 8, 16)
    assert s["9"] == _attention_row_macs(4 * 8, 16, 16)
    m = {x.name: x.checks["bwd_macs"].measured for x in V.verify_training(small_maxvit(), (3, 12, 12)).layers}
    assert m["1.1"] == m["2.1"] == _attention_row_macs(6 * 6, 8, 9)


def test_first_layer_attention_needs_no_input_gradient():
    net = Sequential(MultiheadAttention(8, 2), Linear(8, 3))
    r = V.verify_training(net, (5, 8))
    assert r.ok and r.layers[0].checks["bwd_macs"].measured == _attention_row_macs(5, 8, 5, need_dx=False)
    frozen = V.verify_training(small_vit(), (3, 16, 16), options=TrainingOptions(freeze=("4.0.1",)))
    row = next(x for x in frozen.layers if x.name == "4.0.1")
    assert frozen.ok and row.checks["bwd_macs"].measured == 17 * (3 + 1) * 16 * 16 + 4 * 17 * 17 * 16


def test_memory_guard_counts_attention():
    """The estimate of a run whose memory is mostly attention probabilities covers the peak
    tracemalloc measures (numpy reports its buffers to it), and exceeds the same network
    without the attention by at least the probabilities kept."""
    import tracemalloc

    L, E, heads, n = 512, 8, 4, 4
    net = Sequential(Linear(E, E), MultiheadAttention(E, heads), MultiheadAttention(E, heads), Linear(E, 2))
    plain = Sequential(Linear(E, E), Identity(), Identity(), Linear(E, 2))
    need = [V.training_need(analyze(m, (L, E), batch=n, training=True), to_graph(m), 3, 2**31)[0] for m in (net, plain)]
    probs = 2 * heads * L * L * n * 4
    assert need[0] - need[1] >= probs
    tracemalloc.start()
    try:
        assert V.verify_training(net, (L, E), batch=n).ok
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert probs < peak <= need[0], (probs, peak, need[0])


# -- generic ops of traced models: matmul, view, reduce ----------------------------------------------------

def Traced():
    """Attention-like generic ops: a matmul of two projections (both need gradients), a matmul
    with the input (only one operand needs one), reductions, a reshape."""
    class Traced(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)

        def forward(self, x):
            k = self.b(x)
            scores = (self.a(x) @ k.transpose(-1, -2)).amax(-1, keepdim=True) + \
                (x @ k.transpose(-1, -2)).var(-1, keepdim=True)
            return scores.reshape(x.shape[0], 3, 2)

    return Traced()


@needs_torch
def test_generic_ops_backward_macs_match_flop_counter_and_verify():
    import torch_models
    from convcalc.verify import verify

    torch.manual_seed(0)
    model = cc.from_torch(Traced(), (6, 8))
    kinds = {type(n.layer).__name__ for n in to_graph(model.net)}
    assert {"MatMul", "Reduce", "View"} <= kinds
    measured = torch_models.backward_macs(Traced(), torch.randn(2, 6, 8))
    # by hand: the projections' dW (2 * 6*8*8), dX of one (the other's input is the image) ... and
    # the matmuls: 6*6*8 per operand needing a gradient: 2 + 1
    assert measured == 2 * (2 * 6 * 8 * 8 + 3 * 6 * 6 * 8)
    assert analyze(model, batch=2, training=True).totals["backward_macs"] == measured
    assert verify(model, batch=2).ok                                  # a two-input matmul runs in the core
    r = V.verify_training(model, batch=2)
    assert r.ok and r.counts()["bwd_macs"] == (len(r.layers), 0, 0)


@needs_torch
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "var", "std", "prod", "max", "median", "matmul"])
def test_generic_ops_saved_activations_match_autograd(op):
    """What autograd keeps: a matmul each operand whose partner needs a gradient (x @ k^T: x
    only, for dk); a reduction by PyTorch's derivative formulas (mean/sum nothing, amax its input
    and result, var its input, max over a dim its int64 indices)."""
    import torch_models

    reduce = {"max": lambda t: t.max(-1).values, "median": lambda t: t.median(-1).values,
              "matmul": lambda t: t}.get(op, lambda t: getattr(t, op)(-1))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8)

        def forward(self, x):
            k = self.lin(x)
            return reduce(x @ k.transpose(-1, -2) if op == "matmul" else k)

    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    ours = analyze(cc.from_torch(Net(), (6, 8)), batch=2, training=True).training["saved_activations"]
    assert ours == torch_models.saved_bytes(Net(), x)


# -- the zoo's transformers -------------------------------------------------------------------------------

def _maxvit_small():
    """MaxViT-T's layers at a smaller scale: its stem, then two blocks (channels 32, 64) of one
    MaxViT layer each (MBConv, window and grid attention of 7x7 partitions, head_dim 16), on
    112x112 (maps 56, 28, 14: multiples of 7); the classifier as maxvit_t's."""
    from convcalc.zoo import maxvit as M

    stem = Sequential(M._conv_bn_act(3, 16, 3, stride=2), cc.Conv2d(16, 16, 3, padding=1))
    blocks, inp = [], 16
    for out in (32, 64):
        blocks.append(Sequential(("MBconv", M._mbconv(inp, out, 2, 0.1)),
                                 ("window_attention", M._partition_attention(out, 16, 7, "window", 0.1)),
                                 ("grid_attention", M._partition_attention(out, 16, 7, "grid", 0.1))))
        inp = out
    head = Sequential(cc.AdaptiveAvgPool2d(1), cc.Flatten(), LayerNorm(64), Linear(64, 64), cc.Tanh(),
                      Linear(64, 10, bias=False))
    return Sequential(stem, *blocks, head)


def _vit_b_16_two_blocks():
    """ViT-B/16 at 224 with 2 of its 12 encoder blocks (the full model takes ~15 s)."""
    from convcalc.zoo import vit

    return vit._vit("vit_b_16/2", 16, 2, 12, 768, 3072, 224, "", {})


@pytest.mark.slow
@pytest.mark.parametrize("model,shape", [(_vit_b_16_two_blocks, None),
                                         (lambda: cc.zoo.get("swin_t"), (3, 112, 112)),
                                         (_maxvit_small, (3, 112, 112))], ids=["vit_b_16/2", "swin_t@112", "maxvit-small"])
def test_zoo_transformers_verify_training(model, shape):
    """Scaled down to keep this a few seconds (the three zoo models at 224 take ~45 s, most of
    it in the exact GELU's erf): ViT-B/16 with two blocks at 224; swin_t at 112 (its last
    stage's 4x4 map padded to a 7x7 window: every kind of padding and shift runs); a small MaxViT."""
    m = model()
    r = V.verify_training(m, shape)
    assert r.ok, [(x.name, x.checks) for x in r.layers if not x.ok][:5]
    assert r.counts()["bwd_macs"] == (len(r.layers), 0, 0) and r.counts()["fd"] == (3, 0, 0)
    report = analyze(m, shape, training=True)
    assert sum(x.checks["bwd_macs"].measured for x in r.layers) == report.totals["backward_macs"]


# -- explain --training ---------------------------------------------------------------------------------

def test_explain_training_shows_attention_matmul_by_matmul(tmp_path):
    from click.testing import CliRunner

    from convcalc.cli import cli

    spec = tmp_path / "mha.yaml"
    spec.write_text("input: [16, 8]\nlayers:\n  - linear: {out_features: 8}\n"
                    "  - multiheadattention: {embed_dim: 8, num_heads: 2}\n  - linear: {out_features: 3}\n")
    r = CliRunner().invoke(cli, [str(spec), "--explain", "--training", "--batch", "2"])
    assert r.exit_code == 0, r.output
    block = r.output.split("(attention 2h)")[1].split("(linear 3)")[0]
    N, L, E, h = 2, 16, 8, 2
    assert f"dO = dY·W_o: dY {L}x{E} with W_o {E}x{E} → dO {L}x{E}; MACs = N·L·E·E = 2·16·8·8 = {N * L * E * E:,}" in block
    assert f"dA = dO·Vᵀ per head: dO {h}x{L}x{E // h} with V {h}x{L}x{E // h} → dA {h}x{L}x{L}" in block
    assert f"dW_in = d[QKV]ᵀ·X: X {L}x{E} with d[QKV] {L}x{3 * E} → dW_in {3 * E}x{E}" in block
    dx, dw, shared = N * 3 * L * E * E, N * 4 * L * E * E, N * (L * E * E + 4 * L * L * E)
    assert f"= {dx:,} + {dw:,} + {shared:,} = {dx + dw + shared:,}" in block


# -- properties over random window geometries -------------------------------------------------------------


@st.composite
def swin_configs(draw):
    wh, ww = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return dict(size=(draw(st.integers(1, 9)), draw(st.integers(1, 9))), window=(wh, ww),
                shift=(draw(st.integers(0, wh - 1)), draw(st.integers(0, ww - 1))), heads=draw(st.sampled_from([1, 2])))


@needs_tv
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(swin_configs())
def test_swin_backward_matches_torchvision_and_engine_on_any_geometry(cfg):
    """Any map size, window and shift (padding on either axis, shifts zeroed where a window covers
    the map): the gradients are torchvision's and the kernel's tallies are the engine's row."""
    from torchvision.models.swin_transformer import ShiftedWindowAttention as TorchSWA

    rng = np.random.default_rng(8)
    C, N = 4, 2
    m = TorchSWA(C, list(cfg["window"]), list(cfg["shift"]), cfg["heads"])
    w = _randomize(m, rng)
    x = rng.standard_normal((N, C, *cfg["size"])).astype(np.float32)
    y, _, saved = K.shifted_window_attention_train(x, w["qkv.weight"], w["qkv.bias"], w["proj.weight"],
                                                   w["proj.bias"], w["relative_position_bias_table"],
                                                   cfg["window"], cfg["shift"], cfg["heads"])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, grads, macs = K.shifted_window_attention_backward(
        dy, saved, w["qkv.weight"], w["proj.weight"], w["relative_position_bias_table"].shape, cfg["window"],
        cfg["shift"])
    want_dx, want = _torch_grads(m, x, dy, lambda mod, xt: mod(xt.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    _close(dx, want_dx, "dx")
    for name, g in grads.items():
        _close(g, want[name], name)
    layer = ShiftedWindowAttention(C, cfg["window"], cfg["shift"], cfg["heads"])
    row = analyze(Sequential(LayerNorm2d(C), layer), (C, *cfg["size"]), batch=N, training=True).rows[-1]
    assert sum(macs) == row.backward_macs


def test_every_kind_the_core_runs_has_a_backward():
    """verify --training refuses a kind without a backward: none of convcalc's own is left (the
    generic pointwise/op/unknown rows have no forward kernel either: verify refuses them)."""
    from convcalc.layers import KINDS
    from convcalc.verify import KERNELS

    own = {k: cls for k, cls in KINDS.items() if cls.__module__.startswith("convcalc.")}   # not other tests' kinds
    assert [k for k, cls in own.items() if cls in KERNELS and cls not in V.BACKWARD] == []
