"""Receptive fields through reshapes that split a spatial axis (space-to-depth, patchify by
reshape, pixel (un)shuffle, a split merged back): the engine's field of one output unit against
torch's gradient support of that unit (autograd as the oracle), and verify's measurement against
the engine. Skipped without PyTorch."""
import math
from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402
from convcalc.verify import verify  # noqa: E402


class Net(nn.Module):
    def __init__(self, f, nd=2, cin=3, c=4, k=3, **mods):
        super().__init__()
        conv = (nn.Conv1d, nn.Conv2d)[nd - 1]
        self.c = conv(cin, c, k, padding=k // 2)
        self.f = f
        for name, m in mods.items():
            setattr(self, name, m)

    def forward(self, x):
        return self.f(self, self.c(x))


def torch_support(net, shape, unit):
    """First and last input pixel, per spatial axis, that output unit ``unit`` depends on:
    ``unit(y)`` picks the unit's elements (every channel at one position); the support of the
    input gradient of their sum."""
    net = net.double().eval()
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    unit(net(x)).abs().sum().backward()
    g = x.grad[0].abs().sum(0)  # over input channels
    out = []
    for a in range(g.dim()):
        other = tuple(d for d in range(g.dim()) if d != a)
        hit = ((g.sum(other) if other else g) > 0).nonzero().flatten()
        out.append((int(hit.min()), int(hit.max())))
    return tuple(out)


def engine_field(arf, u, L):
    """The pixels (first, last) unit u sees by the engine's AxisRF, clipped to the image."""
    jump = Fraction(arf.jump)
    if arf.phases is not None:
        P = len(arf.phases)
        lo, hi = (Fraction(e) + (u // P) * P * jump for e in arf.phases[u % P])
    else:
        c = Fraction(arf.start) + u * jump
        lo, hi = c - Fraction(arf.size) / 2, c + Fraction(arf.size) / 2
    return max(0, math.floor(lo)), min(L - 1, math.ceil(hi) - 1)


def check(net, shape, unit_pos, pick):
    """Engine == autograd at output unit ``unit_pos`` (``pick(y)`` selects it), and verify agrees
    with the engine at every row."""
    report = cc.summary(from_torch(net, shape))
    rf = report.rows[-1].rf
    want = torch_support(net, shape, pick)
    got = tuple(engine_field(a, u, L) for a, u, L in zip(rf, unit_pos, shape[1:]))
    assert got == want
    res = verify(from_torch(net.float(), shape))
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok]
    return report


def s2d_view(s, x):
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h // 2, w // 2)


def patchify_einops(s, x):
    einops = pytest.importorskip("einops")
    return einops.rearrange(x, "b c (h p1) (w p2) -> b (c p1 p2) h w", p1=2, p2=2)


# (forward, the output unit's position, its elements): units of a 16x16 map after a 3x3 conv
CASES = {
    # split and merged straight back: nothing changes, a unit is one pixel of the conv's map
    "identity": (lambda s, x: x.view(x.shape[0], 4, 8, 2, 8, 2).reshape(x.shape[0], 4, 16, 16),
                 (5, 9), lambda y: y[0, :, 5, 9]),
    # space-to-depth: unit (u, v) holds the conv's 2x2 patch at (2u, 2v)
    "space_to_depth": (s2d_view, (2, 5), lambda y: y[0, :, 2, 5]),
    "einops_patchify": (patchify_einops, (3, 4), lambda y: y[0, :, 3, 4]),
    "pixel_unshuffle": (lambda s, x: F.pixel_unshuffle(x, 2), (6, 1), lambda y: y[0, :, 6, 1]),
    "PixelUnshuffle": (lambda s, x: s.m(x), (4, 4), lambda y: y[0, :, 4, 4], {"m": nn.PixelUnshuffle(2)}),
    # pixel shuffle: unit (u, v) of the 32x32 map copies the conv's unit (u // 2, v // 2)
    "PixelShuffle": (lambda s, x: s.up(x), (7, 10), lambda y: y[0, :, 7, 10], {"up": nn.PixelShuffle(2)}),
    # the inner dim kept as a dim of its own: a unit is a position of the outer dim, the inner
    # dim an offset inside it (like a channel)
    "inner_kept": (lambda s, x: x.view(x.shape[0], 4, 8, 2, 16).permute(0, 1, 3, 2, 4), (3, 11),
                   lambda y: y[0, :, :, 3, 11]),
    # split, a mean over the channels (it mixes no position), merged back: one unit again
    "identity_mean": (lambda s, x: x.view(x.shape[0], 4, 8, 2, 16).mean(1, keepdim=True).reshape(x.shape[0], 1, 16, 16),
                      (9, 4), lambda y: y[0, :, 9, 4]),
    # split, two paths meeting in an add (y + 2y), merged back: still one pixel a unit
    "identity_add": (lambda s, x: (lambda y: (y + y * 2).reshape(x.shape[0], 4, 16, 16))(
        x.view(x.shape[0], 4, 8, 2, 8, 2)), (6, 3), lambda y: y[0, :, 6, 3]),
    # space-to-depth, then a 3x3 conv on the 8x8 map
    "s2d_conv": (lambda s, x: s.d(s2d_view(s, x)), (4, 3), lambda y: y[0, :, 4, 3],
                 {"d": nn.Conv2d(16, 8, 3, padding=1)}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_split_2d_against_autograd(case):
    f, pos, pick, *mods = CASES[case]
    net = Net(f, **(mods[0] if mods else {}))
    check(net, (3, 16, 16), pos, pick)


def test_space_to_depth_field_written_out():
    """3x3 conv: unit i sees [i-1, i+1]; a 2x2 patch at 2u: [2u-1, 2u+2], 4 pixels at jump 2."""
    report = cc.summary(from_torch(Net(s2d_view), (3, 16, 16)))
    arf = report.rows[-1].rf[0]
    assert (arf.size, arf.jump) == (3 + 1, 2)
    assert engine_field(arf, 3, 16) == (2 * 3 - 1, 2 * 3 + 2)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=st.integers(2, 4), n=st.integers(3, 6), k=st.sampled_from([1, 3, 5]),
       into=st.sampled_from(["channels", "back", "kept"]), data=st.data())
def test_split_1d_property(r, n, k, into, data):
    """A 1-d signal of r*n samples after a k-tap conv, split into (n, r): the r moved into the
    channels, merged back, or kept as a dim; any unit's field equals autograd's support."""
    L = r * n

    def f(s, x):
        b, c = x.shape[:2]
        y = x.view(b, c, n, r)
        if into == "channels":
            return y.permute(0, 1, 3, 2).reshape(b, c * r, n)
        if into == "back":
            return y.reshape(b, c, L)
        return y.permute(0, 1, 3, 2)

    u = data.draw(st.integers(0, (L if into == "back" else n) - 1))
    pick = (lambda y: y[0, :, :, u]) if into == "kept" else (lambda y: y[0, :, u])
    net = Net(f, nd=1, cin=2, c=3, k=k)
    report = cc.summary(from_torch(net, (2, L)))
    got = engine_field(report.rows[-1].rf[0], u, L)
    assert (got,) == torch_support(net, (2, L), pick)
    assert verify(from_torch(net.float(), (2, L))).ok


class DriftingJoin(nn.Module):
    """A skip path (jump 1) added to an align_corners resize of a pooled path (jump 7/15 * 2):
    the two paths' fields drift apart along the axis."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.c = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        y = self.a(x)
        z = F.interpolate(self.b(F.max_pool2d(y, 2)), scale_factor=2, mode="bilinear", align_corners=True)
        return self.c(y + z)


def test_paths_with_different_jumps_give_the_largest_field_as_a_bound():
    # no one size is every unit's (torch: 7 pixels at the edges, 12 mid-image): the engine gives
    # the largest, marked inexact, and it holds at every unit
    net = DriftingJoin()
    arf = cc.summary(from_torch(net, (3, 16, 16))).rows[-1].rf[0]
    assert verify(from_torch(net, (3, 16, 16))).ok
    widths = []
    for u in range(16):  # (torch_support runs the net in float64)
        (lo, hi), _ = torch_support(net, (3, 16, 16), lambda y, u=u: y[0, :, u, u])
        widths.append(hi - lo + 1)
    assert not arf.exact and arf.size == max(widths) == 12 and min(widths) == 7
