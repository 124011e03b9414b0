"""torch.nn's transformer classes read by from_torch row by row (not one unknown row): parameters
against torch's ``numel``, output shapes against torch's, MACs against
``torch.utils.flop_counter.FlopCounterMode`` (fast path off) plus the attention products it does
not see on CPU (written out), and verify on the encoders. Skipped without PyTorch."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402
from convcalc.verify import verify  # noqa: E402

E, H, F, L = 16, 4, 32, 6


class Wrap(nn.Module):
    """``f(self, x)``; a batch-first=False module gets (L, B, E) and gives back (B, L, E)."""

    def __init__(self, f, batch_first=True, **mods):
        super().__init__()
        self.f, self.bf = f, batch_first
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x):
        if self.bf:
            return self.f(self, x)
        return self.f(self, x.transpose(0, 1)).transpose(0, 1)


def flop_counter_macs(net, shape):
    """MACs of one sample as torch's FlopCounterMode counts them (FLOPs / 2), the fused fast path off."""
    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            net.eval()(torch.randn(1, *shape))
    finally:
        torch.backends.mha.set_fastpath_enabled(was)
    counts = {str(k): v for k, v in fc.get_flop_counts()["Global"].items()}
    assert not any("attention" in k for k in counts)  # the attention products are not in its count:
    return fc.get_total_flops() // 2


def attention_products(q_len, kv_len):
    """Q K^T and A V of one attention: q_len * kv_len * E MACs each (over all heads)."""
    return 2 * q_len * kv_len * E


def read(net, shape):
    report = cc.summary(from_torch(net, shape))
    with torch.no_grad():
        want = tuple(net.eval()(torch.zeros(2, *shape)).shape[1:])
    assert tuple(report.rows[-1].output) == want
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())
    assert not [r for r in report.rows if r.kind == "unknown"]
    return report


def enc_layer(bf, nf, act="relu"):
    return nn.TransformerEncoderLayer(E, H, F, dropout=0.1, activation=act, batch_first=bf, norm_first=nf)


@pytest.mark.parametrize("bf", [True, False])
@pytest.mark.parametrize("nf", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_encoder_layer(bf, nf, act):
    net = Wrap(lambda s, x: s.layer(x), bf, layer=enc_layer(bf, nf, act))
    report = read(net, (L, E))
    assert report.totals["macs"] == flop_counter_macs(net, (L, E)) + attention_products(L, L)
    # the count written out: q/k/v and output projections, the two products, the feed-forward
    assert report.totals["macs"] == L * E * 3 * E + L * E * E + 2 * L * L * E + 2 * L * E * F
    res = verify(from_torch(net, (L, E)))
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok]


@pytest.mark.parametrize("bf", [True, False])
def test_encoder_stack_with_norm(bf):
    stack = nn.TransformerEncoder(enc_layer(bf, False), 3, norm=nn.LayerNorm(E), enable_nested_tensor=False)
    net = Wrap(lambda s, x: s.enc(x), bf, enc=stack)
    report = read(net, (L, E))
    assert report.totals["macs"] == flop_counter_macs(net, (L, E)) + 3 * attention_products(L, L)
    res = verify(from_torch(net, (L, E)))
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok]


@pytest.mark.parametrize("bf", [True, False])
@pytest.mark.parametrize("nf", [False, True])
def test_decoder_layer_with_memory(bf, nf):
    """Self-attention over the target, cross-attention to the memory (here the encoded input)."""
    dec = nn.TransformerDecoderLayer(E, H, F, batch_first=bf, norm_first=nf)
    net = Wrap(lambda s, x: s.dec(x, s.enc(x)), bf, enc=enc_layer(bf, nf), dec=dec)
    report = read(net, (L, E))
    assert report.totals["macs"] == flop_counter_macs(net, (L, E)) + 3 * attention_products(L, L)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")  # torch's own, for batch_first=False
@pytest.mark.parametrize("bf", [True, False])
def test_transformer(bf):
    """nn.Transformer(src, tgt): 2 encoder and 2 decoder layers, final norms; a target of its own length."""
    t = nn.Transformer(E, H, 2, 2, F, batch_first=bf)
    tgt_len = 4
    net = Wrap(lambda s, x: s.t(x, s.q(x)[:, :tgt_len] if bf else s.q(x)[:tgt_len]), bf, t=t, q=nn.Linear(E, E))
    report = read(net, (L, E))
    attn = 2 * attention_products(L, L) + 2 * (attention_products(tgt_len, tgt_len) + attention_products(tgt_len, L))
    assert report.totals["macs"] == flop_counter_macs(net, (L, E)) + attn


def test_masked_call_still_counted_exactly():
    """With a mask the module's own forward runs (torch.export reads it): the counts stay exact."""
    layer = enc_layer(True, False)
    mask = nn.Transformer.generate_square_subsequent_mask(L)
    net = Wrap(lambda s, x: s.layer(x, src_mask=mask), True, layer=layer)
    report = cc.summary(from_torch(net, (L, E)))
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())
    assert report.totals["macs"] == flop_counter_macs(net, (L, E)) + attention_products(L, L)


def test_tensors_by_keyword_and_a_gelu_module():
    dec = nn.TransformerDecoderLayer(E, H, F, activation=nn.GELU(), batch_first=True)
    net = Wrap(lambda s, x: s.dec(tgt=x, memory=s.mem(x), tgt_mask=None), True, dec=dec, mem=nn.Linear(E, E))
    report = read(net, (L, E))
    assert report.totals["macs"] == flop_counter_macs(net, (L, E)) + 2 * attention_products(L, L)
