"""from_torch maps attention onto the engine's attention layers where the torch configuration fits
exactly, and keeps generic rows where it does not. Shapes against torch, MACs written out by hand,
torchvision's totals against its published figures. Skipped without PyTorch."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402
from convcalc.verify import verify  # noqa: E402

import tv  # noqa: E402


def torch_shape(net, shape):
    with torch.no_grad():
        return tuple(net.eval()(torch.zeros(2, *shape)).shape[1:])


def kinds(report):
    out = {}
    for r in report.rows:
        out[r.kind] = out.get(r.kind, 0) + 1
    return out


class SelfAttention(nn.Module):
    def __init__(self, e, heads, batch_first, **kw):
        super().__init__()
        self.batch_first = batch_first
        self.mha = nn.MultiheadAttention(e, heads, batch_first=batch_first, **kw)

    def forward(self, x):  # x: (B, L, E)
        t = x if self.batch_first else x.transpose(0, 1)
        y = self.mha(t, t, t, need_weights=False)[0]
        return y if self.batch_first else y.transpose(0, 1)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("extra", [{}, {"bias": False}, {"add_bias_kv": True}, {"add_zero_attn": True}])
def test_self_attention_is_a_multiheadattention_row(batch_first, extra):
    e, L, heads = 24, 7, 3
    net = SelfAttention(e, heads, batch_first, **extra)
    report = cc.summary(from_torch(net, (L, e)))
    assert tuple(report.rows[-1].output) == torch_shape(net, (L, e)) == (L, e)
    assert kinds(report)["multiheadattention"] == 1
    s = L + extra.get("add_bias_kv", False) + extra.get("add_zero_attn", False)  # keys attended to
    # q, k, v projections of the L tokens, Q K^T and attn V over s keys, the output projection
    assert report.totals["macs"] == 3 * L * e * e + L * s * e + L * s * e + L * e * e
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())
    assert verify(from_torch(net, (L, e))).ok


def test_differing_kdim_vdim_is_a_generic_op_with_exact_macs():
    e, kd, vd, L = 16, 8, 12, 5

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.to_k, self.to_v = nn.Linear(e, kd), nn.Linear(e, vd)
            self.mha = nn.MultiheadAttention(e, 4, kdim=kd, vdim=vd, batch_first=True)

        def forward(self, x):
            return self.mha(x, self.to_k(x), self.to_v(x))[0]

    net = Cross()
    report = cc.summary(from_torch(net, (L, e)))
    assert tuple(report.rows[-1].output) == torch_shape(net, (L, e))
    assert "multiheadattention" not in kinds(report) and report["mha"].kind == "op"
    linears = L * e * kd + L * e * vd
    attention = L * e * e + L * kd * e + L * vd * e + 2 * L * L * e + L * e * e
    assert report.totals["macs"] == linears + attention
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())


def test_a_masked_or_cross_attention_call_is_a_generic_op():
    e, L = 16, 6
    mask = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)

    class Causal(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(e, 2, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=mask)[0] + self.mha(x, x * 2, x)[0]

    report = cc.summary(from_torch(Causal(), (L, e)))
    assert "multiheadattention" not in kinds(report)
    assert report.totals["macs"] == 2 * (4 * L * e * e + 2 * L * L * e)


class TinyViT(nn.Module):
    """ViT's idioms: patch conv, tokens, class token, position embedding, attention, token 0."""

    def __init__(self, e=16):
        super().__init__()
        self.conv = nn.Conv2d(3, e, 4, stride=4)
        self.class_token = nn.Parameter(torch.zeros(1, 1, e))
        self.pos_embedding = nn.Parameter(torch.zeros(1, 17, e))
        self.attn = nn.MultiheadAttention(e, 2, batch_first=True)

    def forward(self, x):
        t = self.conv(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.class_token.expand(x.shape[0], -1, -1), t], dim=1) + self.pos_embedding
        return self.attn(t, t, t)[0][:, 0]


def test_vit_idioms_become_token_layers():
    net, e = TinyViT(), 16
    model = from_torch(net, (3, 16, 16))
    report = cc.summary(model)
    assert tuple(report.rows[-1].output) == torch_shape(net, (3, 16, 16)) == (e,)
    assert [r.kind for r in report.rows if r.kind in ("classtoken", "posembedding", "multiheadattention",
                                                      "selecttoken")] == \
        ["classtoken", "posembedding", "multiheadattention", "selecttoken"]
    assert report["cat"].params == e and report["add"].params == 17 * e
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())
    conv = e * (4 * 4) * 3 * (4 * 4)  # 16 outputs on the 4x4 patch grid, each 3x4x4 MACs
    assert report.totals["macs"] == conv + 4 * 17 * e * e + 2 * 17 * 17 * e
    assert verify(model).ok


torchvision = tv.load()
needs_tv = pytest.mark.skipif(torchvision is None, reason="torchvision not installed (see tests/tv.py)")


@needs_tv
@pytest.mark.parametrize("name, kind, torch_class", [
    ("vit_b_16", "multiheadattention", "torch.nn.MultiheadAttention"),
    ("swin_t", "shiftedwindowattention", "torchvision.models.swin_transformer.ShiftedWindowAttention"),
    ("maxvit_t", "partitionattention", "torchvision.models.maxvit.PartitionAttentionLayer"),
    ("swin_v2_t", None, "torchvision.models.swin_transformer.ShiftedWindowAttentionV2"),
])
def test_torchvision_attention_rows_and_published_totals(name, kind, torch_class):
    import importlib

    mod, _, cls = torch_class.rpartition(".")
    cls = getattr(importlib.import_module(mod), cls)
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size[0]
    m = tv.meta_model(name, **({"image_size": crop} if name.startswith("vit_") else {}))
    report = cc.analyze(from_torch(m, (3, crop, crop)))
    n_modules = sum(type(x) is cls for x in m.modules())
    assert n_modules > 0
    if kind is None:  # Swin v2's cosine attention: no engine class, one generic op per module
        assert kinds(report)["op"] == n_modules and not {"shiftedwindowattention", "unknown"} & set(kinds(report))
    else:
        assert kinds(report)[kind] == n_modules
    assert report.totals["params"] == weights.meta["num_params"]
    digits = len(str(weights.meta["_ops"]).split(".")[1])
    assert round(report.totals["macs"] / 1e9, digits) == weights.meta["_ops"]


@needs_tv
def test_imported_swin_verifies_and_its_attention_field_is_the_window():
    m = tv.meta_model("swin_t")
    model = from_torch(m, (3, 64, 64))
    assert verify(model).ok
    report = cc.summary(model)
    row = report["features.1.0.attn"]
    assert row.kind == "shiftedwindowattention" and tuple(row.output) == (96, 16, 16)
    before = report["features.1.0.attn.chw"]
    # a 7x7 window bounds the field: at most 2*7-1 positions of the 4x4/4 patch grid
    assert row.rf[0].size == before.rf[0].size + (2 * 7 - 2) * before.rf[0].jump


@needs_tv
def test_frozen_torch_attention_is_frozen():
    m = tv.meta_model("swin_t")
    for p in m.features[1].parameters():
        p.requires_grad_(False)
    layers = dict(from_torch(m, (3, 64, 64)).net.layers())
    assert layers["features.1.0.attn"].trainable is False and layers["features.1.0.attn.chw"].trainable is False
    assert layers["features.3.0.attn"].trainable is True


@pytest.mark.parametrize("batch_first, transpose", [(False, False), (True, True)])
def test_attention_along_the_batch_dim_is_refused(batch_first, transpose):
    # nn.MultiheadAttention reads (L, N, E) unless batch_first: fed the (N, L, E) tensor from_torch
    # builds (or, batch_first, a transposed one), it attends across the batch, so no per-sample count
    # exists: torch's MACs are not linear in the batch (FlopCounterMode at batch 1 and 2)
    from torch.utils.flop_counter import FlopCounterMode

    class AcrossBatch(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)

        def forward(self, x):
            t = x.transpose(0, 1) if transpose else x
            return self.mha(t, t, t)[0]

    net = AcrossBatch().eval()
    macs = []
    for n in (1, 2):
        with FlopCounterMode(display=False) as fc:  # (no no_grad: it would take the uncounted fast path)
            net(torch.zeros(n, 5, 8))
        macs.append(fc.get_total_flops() // 2)
    assert macs[1] != 2 * macs[0]
    with pytest.raises(cc.ConvcalcError, match="batch_first") as e:
        from_torch(net, (5, 8))
    assert "\n" not in str(e.value)
