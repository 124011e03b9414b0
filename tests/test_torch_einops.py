"""from_torch on einops: rearrange / reduce / repeat calls and the einops.layers.torch modules become
shape rows and reductions; shapes against torch's own output, MACs written out (reductions and moves
cost none, DESIGN §2). Skipped without PyTorch or einops."""
import pytest

torch = pytest.importorskip("torch")
einops = pytest.importorskip("einops")
from einops import rearrange  # noqa: E402
from einops.layers.torch import Rearrange, Reduce  # noqa: E402
from torch import nn  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402

CONV = 8 * 8 * 8 * 3 * 3 * 3  # Conv2d(3, 8, 3, padding=1) on 8x8: 8 maps of 8x8, 27 MACs each


class Fn(nn.Module):
    def __init__(self, f, **mods):
        super().__init__()
        self.f, self.c = f, nn.Conv2d(3, 8, 3, padding=1)
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.f(self, self.c(x))


def check(net, kinds):
    report = cc.summary(from_torch(net, (3, 8, 8)))
    with torch.no_grad():
        want = tuple(net.eval()(torch.randn(2, 3, 8, 8)).shape[1:])
    assert tuple(report.rows[-1].output) == want
    assert report.totals["macs"] == CONV
    got = [r.kind for r in report.rows[1:]]
    assert got == kinds, got
    return report


@pytest.mark.parametrize("f, kinds", [
    (lambda s, y: einops.reduce(y, "b c h w -> b c", "mean"), ["reduce"]),
    (lambda s, y: einops.reduce(y, "b c (h 2) (w 2) -> b c h w", "max"), ["view", "reduce"]),
    (lambda s, y: einops.reduce(y, "b c h w -> b w h", "sum"), ["reduce", "permute"]),
    (lambda s, y: einops.reduce(y, "b c h w -> b 1 h w", "min"), ["reduce", "view"]),
    (lambda s, y: einops.rearrange(y, "b c h w -> b h w c"), ["permute"]),
    (lambda s, y: rearrange(y, "b c (h p) (w q) -> b (h w) (p q c)", p=2, q=2), ["view", "permute", "view"]),
    (lambda s, y: einops.repeat(y, "b c h w -> b c h w r", r=3), ["view"]),
    (lambda s, y: einops.repeat(y, "b c h w -> b (c r) h w", r=2), ["view", "view"]),
    (lambda s, y: s.m(y), ["view", "permute", "view"]),
    (lambda s, y: s.r(y), ["reduce"]),
    (lambda s, y: s.p(y), ["view", "reduce"]),
])
def test_einops_rows_shapes_and_macs(f, kinds):
    net = Fn(f, m=Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=2, p2=2),
             r=Reduce("b c h w -> b c", "mean"), p=Reduce("b c (h 2) (w 2) -> b c h w", "max"))
    check(net, kinds)


def test_reduce_rows_name_their_dims():
    report = check(Fn(lambda s, y: einops.reduce(y, "b c h w -> b w h", "sum")), ["reduce", "permute"])
    reduce = [r for r in report.rows if r.kind == "reduce"][0]
    assert tuple(reduce.output) == (8, 8)  # channels summed away: (h, w) per sample


def test_batch_folded_into_another_axis_stays_one_row():
    net = Fn(lambda s, y: einops.rearrange(y, "b c h w -> (b h) w c"))
    report = cc.summary(from_torch(net, (3, 8, 8)))
    with torch.no_grad():
        full = net(torch.randn(2, 3, 8, 8)).shape
    assert report.rows[-1].kind == "view" and tuple(report.rows[-1].output) == (8, 8, 8) and full == (16, 8, 8)
    assert report.totals["macs"] == CONV
