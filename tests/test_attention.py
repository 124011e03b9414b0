"""Attention layers: engine counts against written-out arithmetic, NumPy kernels against torch,
the transformer zoo against torchvision's published figures, and verify of the three models."""
import numpy as np
import pytest

from convcalc import kernels as K
from convcalc.kernels import attention as KA
from convcalc import zoo
from convcalc.analyze import analyze
from convcalc.errors import ConfigError, ShapeError
from convcalc.graph import Sequential
from convcalc.layers import (ClassToken, Conv2d, MultiheadAttention, PartitionAttention, PatchMerge, PosEmbedding,
                             SelectToken, ShiftedWindowAttention, Tokens)

# -- engine counts -------------------------------------------------------------------------------


def test_multihead_attention_counts():
    inf = MultiheadAttention(8, 2).infer((5, 8))
    assert inf.shape == (5, 8)
    assert inf.params == 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8            # in_proj + out_proj
    assert inf.macs == 3 * 5 * 8 * 8 + 5 * 5 * 8 + 5 * 5 * 8 + 5 * 8 * 8  # qkv, QK^T, attn V, out
    assert inf.rf == "global"
    kv = MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, bias=False).infer((5, 8))
    assert kv.params == 4 * 8 * 8 + 2 * 8                           # no biases; bias_k, bias_v
    assert kv.macs == 4 * 5 * 8 * 8 + 2 * 5 * 7 * 8                  # 5 queries, 5 + 2 keys


def test_multihead_attention_rejects_bad_input():
    with pytest.raises(ConfigError):
        MultiheadAttention(8, 3)
    with pytest.raises(ConfigError):
        MultiheadAttention(8, 2, kdim=4)
    with pytest.raises(ShapeError):
        MultiheadAttention(8, 2).infer((5, 6))
    with pytest.raises(ShapeError):
        MultiheadAttention(8, 2).infer((8, 4, 4))


def test_token_layers():
    assert Tokens().infer((768, 14, 14)).shape == (196, 768)
    ct = ClassToken(768).infer((196, 768))
    assert (ct.shape, ct.params) == ((197, 768), 768)
    pe = PosEmbedding(197, 768).infer((197, 768))
    assert (pe.shape, pe.params, pe.macs) == ((197, 768), 197 * 768, 0)
    assert SelectToken(0).infer((197, 768)).shape == (768,)
    with pytest.raises(ShapeError):
        PosEmbedding(197, 768).infer((196, 768))


def test_shifted_window_attention_counts():
    # 6x6 map padded to 8x8 for 4x4 windows: 64 positions, windows of 16 tokens
    inf = ShiftedWindowAttention(8, 4, 2, 2).infer((8, 6, 6))
    assert inf.shape == (8, 6, 6)
    assert inf.params == 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8 + 7 * 7 * 2  # qkv, proj, bias table
    assert inf.buffers == 16 * 16                                  # relative position index
    assert inf.macs == 64 * 3 * 8 * 8 + 64 * 16 * 8 * 2 + 64 * 8 * 8
    assert inf.rf == "window" and [w.k for w in inf.windows] == [7, 7] and not inf.windows[0].exact


def test_partition_attention_counts():
    inf = PartitionAttention(64, 32, 7, "window").infer((64, 14, 14))
    assert inf.params == 3 * 64 * 64 + 3 * 64 + 64 * 64 + 64 + 13 * 13 * 2
    assert inf.buffers == 49 * 49
    assert inf.macs == 196 * 3 * 64 * 64 + 196 * 49 * 64 * 2 + 196 * 64 * 64
    assert PartitionAttention(64, 32, 7, "grid").infer((64, 14, 14)).rf == "global"
    with pytest.raises(ShapeError):
        PartitionAttention(64, 32, 7).infer((64, 15, 14))


def test_patch_merge_shape():
    inf = PatchMerge().infer((8, 5, 7))
    assert inf.shape == (32, 3, 4) and inf.params == 0 and inf.macs == 0


def test_symbolic_tokens_and_attention():
    from convcalc.sym import dims, floordiv, simplify

    H = dims("H")
    net = Sequential(Conv2d(3, 16, 4, stride=4), Tokens(), MultiheadAttention(16, 2, batch_first=True))
    row = analyze(net, (3, H, H)).rows[-1]
    L = floordiv(H, 4) ** 2
    assert simplify(row.macs - (4 * L * 16 * 16 + 2 * L * L * 16)) == 0


def test_vit_field_is_the_whole_image_after_attention():
    r = analyze(zoo.get("vit_b_16"))
    rows = {row.name: row for row in r.rows}
    assert [a.size for a in rows["conv_proj"].rf] == [16, 16]        # a patch embedding sees its patch
    # tokens have no position on the map: their field is the union of every token's patch
    assert [a.size for a in rows["class_token"].rf] == [224, 224]
    att = rows["encoder.layers.encoder_layer_0.self_attention"].rf
    assert [(a.size, a.jump, a.start) for a in att] == [(224, None, 112)] * 2


# -- kernels against torch -----------------------------------------------------------------------

torch = pytest.importorskip("torch")


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def test_multihead_attention_kernel_matches_torch():
    rng = np.random.default_rng(0)
    E, h, L, N = 12, 3, 7, 2
    m = torch.nn.MultiheadAttention(E, h, batch_first=True, add_bias_kv=True).eval()
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
        want, _ = m(_t(x), _t(x), _t(x), need_weights=False)
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    y, macs = K.multihead_attention(x, sd["in_proj_weight"], sd["in_proj_bias"], sd["out_proj.weight"],
                                    sd["out_proj.bias"], h, sd["bias_k"], sd["bias_v"])
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-4, atol=1e-4)
    S = L + 1
    assert macs == N * (3 * L * E * E + 2 * L * S * E + L * E * E)


def _torch_rel_index(h, w):
    """torchvision's _get_relative_position_index, transcribed."""
    coords = torch.stack(torch.meshgrid([torch.arange(h), torch.arange(w)], indexing="ij"))
    flat = torch.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += h - 1
    rel[:, :, 1] += w - 1
    rel[:, :, 0] *= 2 * w - 1
    return rel.sum(-1)


def test_relative_position_index_matches_torchvision():
    for h, w in ((7, 7), (3, 5)):
        np.testing.assert_array_equal(KA.relative_position_index(h, w), _torch_rel_index(h, w).numpy())


def _torch_swin(x, qkv_w, qkv_b, proj_w, proj_b, table, ws, shift, heads):
    """torchvision's shifted_window_attention (inference), transcribed, on (B, H, W, C)."""
    F = torch.nn.functional
    B, H, W, C = x.shape
    pad_r, pad_b = (ws[1] - W % ws[1]) % ws[1], (ws[0] - H % ws[0]) % ws[0]
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    _, pH, pW, _ = x.shape
    shift = [0 if ws[0] >= pH else shift[0], 0 if ws[1] >= pW else shift[1]]
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    nW = (pH // ws[0]) * (pW // ws[1])
    x = x.view(B, pH // ws[0], ws[0], pW // ws[1], ws[1], C).permute(0, 1, 3, 2, 4, 5).reshape(B * nW, -1, C)
    qkv = F.linear(x, qkv_w, qkv_b).reshape(x.size(0), x.size(1), 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * (C // heads) ** -0.5, qkv[1], qkv[2]
    n = ws[0] * ws[1]
    bias = table[_torch_rel_index(*ws).flatten()].view(n, n, -1).permute(2, 0, 1)
    attn = q.matmul(k.transpose(-2, -1)) + bias
    if sum(shift) > 0:
        mask = x.new_zeros((pH, pW))
        count = 0
        for h in ((0, -ws[0]), (-ws[0], -shift[0]), (-shift[0], None)):
            for w in ((0, -ws[1]), (-ws[1], -shift[1]), (-shift[1], None)):
                mask[h[0]:h[1], w[0]:w[1]] = count
                count += 1
        mask = mask.view(pH // ws[0], ws[0], pW // ws[1], ws[1]).permute(0, 2, 1, 3).reshape(nW, n)
        mask = mask.unsqueeze(1) - mask.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        attn = (attn.view(-1, nW, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, n, n)
    x = F.softmax(attn, dim=-1).matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.linear(x, proj_w, proj_b)
    x = x.view(B, pH // ws[0], pW // ws[1], ws[0], ws[1], C).permute(0, 1, 3, 2, 4, 5).reshape(B, pH, pW, C)
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
    return x[:, :H, :W, :]


@pytest.mark.parametrize("size,shift", [((8, 8), (2, 2)), ((6, 7), (2, 2)), ((8, 8), (0, 0)), ((4, 9), (2, 2))])
def test_shifted_window_attention_kernel_matches_torch(size, shift):
    rng = np.random.default_rng(1)
    C, heads, ws = 8, 2, (4, 4)
    x = rng.standard_normal((2, C, *size)).astype(np.float32)
    w = [rng.standard_normal(s).astype(np.float32) for s in ((3 * C, C), (3 * C,), (C, C), (C,), (49, heads))]
    y, macs = K.shifted_window_attention(x, *w, ws, shift, heads)
    want = _torch_swin(_t(x.transpose(0, 2, 3, 1)), *map(_t, w), ws, shift, heads).permute(0, 3, 1, 2)
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-4, atol=1e-4)
    padded = 2 * (-(-size[0] // 4) * 4) * (-(-size[1] // 4) * 4)  # batch 2
    assert macs == padded * (3 * C * C + 16 * C + 16 * C + C * C)


def _torch_maxvit(x, qkv_w, qkv_b, merge_w, merge_b, table, p, kind, head_dim):
    """torchvision's partition + RelativePositionalMultiHeadAttention + departition, transcribed."""
    B, C, H, W = x.shape
    P = p if kind == "window" else H // p
    t = x.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 3, 5, 1).reshape(B, (H // P) * (W // P), P * P, C)
    if kind == "grid":
        t = torch.swapaxes(t, -2, -3)
    Bg, G, S, D = t.shape
    nh = D // head_dim
    q, k, v = torch.chunk(torch.nn.functional.linear(t, qkv_w, qkv_b), 3, dim=-1)
    q, k, v = (a.reshape(Bg, G, S, nh, head_dim).permute(0, 1, 3, 2, 4) for a in (q, k, v))
    k = k * D ** -0.5
    dot = torch.einsum("bghid,bghjd->bghij", q, k)
    bias = table[_torch_rel_index(p, p).view(-1)].view(p * p, p * p, -1).permute(2, 0, 1).unsqueeze(0)
    out = torch.einsum("bghij,bghjd->bghid", torch.softmax(dot + bias, dim=-1), v)
    out = torch.nn.functional.linear(out.permute(0, 1, 3, 2, 4).reshape(Bg, G, S, D), merge_w, merge_b)
    if kind == "grid":
        out = torch.swapaxes(out, -2, -3)
    out = out.reshape(B, H // P, W // P, P, P, C).permute(0, 5, 1, 3, 2, 4)
    return out.reshape(B, C, H, W)


@pytest.mark.parametrize("kind", ["window", "grid"])
def test_partition_attention_kernel_matches_torch(kind):
    rng = np.random.default_rng(2)
    C, hd, p, H = 8, 4, 3, 6
    x = rng.standard_normal((2, C, H, H)).astype(np.float32)
    w = [rng.standard_normal(s).astype(np.float32) for s in ((3 * C, C), (3 * C,), (C, C), (C,), (25, C // hd))]
    y, macs = K.partition_attention(x, *w, p, kind, hd)
    want = _torch_maxvit(_t(x), *map(_t, w), p, kind, hd)
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-4, atol=1e-4)
    assert macs == 2 * H * H * (3 * C * C + 9 * C + 9 * C + C * C)


def test_token_kernels_match_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    t, _ = K.tokens(x)
    np.testing.assert_array_equal(t, _t(x).reshape(2, 6, 12).permute(0, 2, 1).numpy())
    tok = rng.standard_normal((1, 1, 6)).astype(np.float32)
    c, _ = K.class_token(t, tok)
    np.testing.assert_array_equal(c, torch.cat([_t(tok).expand(2, -1, -1), _t(t)], dim=1).numpy())
    m, _ = K.patch_merge(rng.standard_normal((1, 2, 3, 5)).astype(np.float32))
    assert m.shape == (1, 8, 2, 3)


# -- the zoo against published figures ------------------------------------------------------------

PUBLISHED = {  # torchvision weights meta: num_params, _ops (GMACs) at 224
    "vit_b_16": (86_567_656, 17.564),  # ViT_B_16_Weights.IMAGENET1K_V1
    "swin_t": (28_288_354, 4.491),     # Swin_T_Weights.IMAGENET1K_V1
    "maxvit_t": (30_919_624, 5.558),   # MaxVit_T_Weights.IMAGENET1K_V1
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_transformer_zoo_matches_published_figures(name):
    params, gmacs = PUBLISHED[name]
    r = analyze(zoo.get(name))
    assert r.totals["params"] == params
    assert f"{r.totals['macs'] / 1e9:.3f}" == f"{gmacs:.3f}"


def test_vit_b_16_macs_written_out():
    L, E = 197, 768
    block = 3 * L * E * E + 2 * L * L * E + L * E * E + 2 * L * E * 3072
    assert analyze(zoo.get("vit_b_16")).totals["macs"] == 196 * 768 * 3 * 256 + 12 * block + 768 * 1000


# (vit_b_16, swin_t and maxvit_t are verified in the NumPy core with every zoo model: test_zoo_verify.py)


def test_masked_attention_makes_no_subnormals_and_keeps_the_softmax():
    """Swin's mask adds -100: e^-100 is a float32 subnormal, which made exp, the division and
    the product with v ~7x slower. The probabilities stay normal (or zero), and the output is
    the float64 softmax's to float32 precision."""
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((4, 2, 49, 8)).astype(np.float32) for _ in range(3))
    mask = np.where(rng.random((4, 1, 49, 49)) < 0.5, -100.0, 0.0).astype(np.float32)
    out, attn, _ = KA._attend(q, k, v, None, mask)
    tiny = np.finfo(np.float32).tiny
    assert not ((attn != 0) & (np.abs(attn) < tiny)).any()
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64) + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = (p / p.sum(-1, keepdims=True)) @ v.astype(np.float64)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
