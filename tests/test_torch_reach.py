"""from_torch on everyday functional code: each idiom's shape against torch's own output and its
MACs against a count written out by hand. Skipped without PyTorch."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402


from torch_models import Fn  # noqa: E402


def run(net, shape):
    report = cc.summary(from_torch(net, shape))
    with torch.no_grad():
        want = tuple(net.eval()(torch.zeros(2, *shape)).shape[1:])
    assert tuple(report.rows[-1].output) == want
    return report


CONV = 8 * 3 * 9 * 16 * 16  # a 3->8 3x3 conv with padding on 16x16


@pytest.mark.parametrize("f, macs", [
    (lambda s, x: s.c(x).mean(dim=(2, 3)), CONV),
    (lambda s, x: torch.amax(s.c(x), dim=(2, 3), keepdim=True), CONV),
    (lambda s, x: s.c(x).sum(-1), CONV),
    (lambda s, x: F.interpolate(s.c(x), size=x.shape[-2:]), CONV),
    (lambda s, x: F.interpolate(s.c(x), scale_factor=2, mode="bilinear"), CONV),
    (lambda s, x: s.c(x).view(x.size(0), x.size(1) // 3 * 8, -1).transpose(1, 2), CONV),
    (lambda s, x: s.c(x).flatten(2).permute(0, 2, 1).reshape(x.shape[0], -1), CONV),
    (lambda s, x: torch.stack(s.c(x).chunk(2, dim=1), dim=1), CONV),
    (lambda s, x: s.c(x) * s.gamma[:, None, None], CONV),  # a layer scale: the parameter used directly
])
def test_idiom_shapes_and_macs(f, macs):
    net = Fn(f, c=nn.Conv2d(3, 8, 3, padding=1), gamma=nn.Parameter(torch.ones(8)))
    report = run(net, (3, 16, 16))
    assert report.totals["macs"] == macs
    assert not [r for r in report.rows if r.kind == "unknown"]


def test_matmul_einsum_baddbmm_sdpa():
    n, d = 16 * 16, 8

    def f(s, x):
        t = s.c(x).flatten(2).transpose(1, 2)                    # (B, 256, 8)
        a = t @ t.transpose(1, 2)                                # 256*256*8
        b = torch.einsum("bnd,bmd->bnm", t, t)                   # 256*256*8
        c = torch.baddbmm(a, t, t.transpose(1, 2))               # 256*256*8
        o = F.scaled_dot_product_attention(t[:, None], t[:, None], t[:, None])  # 256*256*(8+8)
        return (a + b + c).sum(-1) + o.sum((1, 3))
    report = run(Fn(f, c=nn.Conv2d(3, 8, 3, padding=1)), (3, 16, 16))
    assert report.totals["macs"] == CONV + 3 * n * n * d + n * n * (d + d)


def test_multihead_attention_counts_its_fast_path_too():
    e, L = 32, 10
    mha = nn.MultiheadAttention(e, 4, batch_first=True)
    net = Fn(lambda s, x: s.mha(x, x, x, need_weights=False)[0], mha=mha)
    with torch.no_grad():
        report = run(net, (L, e))
    assert report.totals["params"] == sum(p.numel() for p in mha.parameters()) == 4 * e * e + 4 * e
    assert report.totals["macs"] == 3 * L * e * e + 2 * L * L * e + L * e * e


def test_swin_style_batch_folded_into_windows():
    def f(s, x):  # (B, 8, 8, C) -> windows of 4x4: (B*4, 16, C), a linear, and back
        b, h, w, c = x.shape
        t = x.view(b, h // 4, 4, w // 4, 4, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 16, c)
        return s.fc(t).view(b, -1)
    report = run(Fn(f, fc=nn.Linear(6, 5)), (8, 8, 6))
    assert report.totals["macs"] == 64 * 6 * 5


def test_meta_device_model_same_numbers():
    def make():
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(8, 4))
    real = cc.summary(from_torch(make(), (3, 16, 16)))
    with torch.device("meta"):
        meta = make()
    fake = cc.summary(from_torch(meta, (3, 16, 16)))
    assert [(r.name, r.output, r.params, r.macs) for r in real.rows] == \
        [(r.name, r.output, r.params, r.macs) for r in fake.rows]
    assert fake.totals["macs"] == 8 * 27 * 14 * 14 + 8 * 4


class _BadView(nn.Module):
    def forward(self, x):
        x = torch.relu(x)
        return x.view(5, 7)  # the line the error must name


def test_a_failing_forward_names_the_users_line():
    """fx records stack traces only when converting fails (re-traced then): the message still
    points at the user's line, and a model that converts takes the fast path."""
    import inspect

    from convcalc.errors import ConvcalcError

    src, first = inspect.getsourcelines(_BadView.forward)
    line = first + next(i for i, t in enumerate(src) if "view(5, 7)" in t)
    with pytest.raises(ConvcalcError) as e:
        from_torch(_BadView(), (3, 8, 8))
    assert f"{__file__}:{line} " in str(e.value) and "x.view(5, 7)" in str(e.value), str(e.value)


class _CachesOnFirstCall(nn.Module):
    """Keeps what its first forward made (a tensor from the input's size, a Proxy under fx)."""

    def __init__(self):
        super().__init__()
        self.pos = None

    def forward(self, x):
        if self.pos is None:
            self.pos = torch.arange(x.shape[-1])
        return (torch.relu(x) + self.pos).view(5, 7)


class _FailsOnItsFirstCallOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.relu(x).view(5, 7) if self.calls == 1 else torch.relu(x)


class _Warns(nn.Module):
    def forward(self, x):
        import warnings

        warnings.warn("the user's own warning")
        return torch.relu(x).view(5, 7)


def test_the_retrace_for_the_users_line_changes_nothing_else():
    """The re-trace for stack traces runs the forward a second time. A module with state may fail
    otherwise then (a Proxy kept from the first trace) or not at all: the refusal is the first
    trace's (as at d5c4e03, which traced once), and a warning of the forward is given once."""
    import warnings

    from convcalc.errors import ConvcalcError

    with pytest.raises(ConvcalcError, match=r"^view.* fails on input 2x3x8x8: RuntimeError: shape '\[5, 7\]'"):
        from_torch(_CachesOnFirstCall(), (3, 8, 8))
    module = _FailsOnItsFirstCallOnly()
    with pytest.raises(ConvcalcError, match=r"view.* fails on input 2x3x8x8"):
        from_torch(module, (3, 8, 8))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ConvcalcError, match="view"):
            from_torch(_Warns(), (3, 8, 8))
    assert [str(w.message) for w in seen] == ["the user's own warning"]


def test_not_an_module_and_forward_that_raises_are_one_line():
    from convcalc.errors import ConvcalcError

    with pytest.raises(ConvcalcError, match="expects a torch.nn.Module"):
        from_torch(object(), (3, 8, 8))
    net = Fn(lambda s, x: x.view(5, 7))
    with pytest.raises(ConvcalcError) as e:
        from_torch(net, (3, 8, 8))
    assert "fails on input" in str(e.value) and "\n" not in str(e.value) and "%" not in str(e.value)


def test_numpy_kernels_of_the_generic_ops_agree_with_torch():
    import numpy as np

    from convcalc.kernels import ops as K

    rng = np.random.default_rng(0)
    a, b = rng.random((2, 3, 4, 5)), rng.random((2, 3, 5, 6))
    y, macs = K.matmul(a, b)
    assert np.allclose(y, torch.matmul(torch.tensor(a), torch.tensor(b)).numpy()) and macs == 2 * 3 * 4 * 6 * 5
    y, macs = K.reduce(a, "amax", (1, 2), keepdim=True)
    assert np.allclose(y, torch.tensor(a).amax((2, 3), keepdim=True).numpy()) and macs == 0
    y, _ = K.view(a, (12, 5))
    assert np.array_equal(y, torch.tensor(a).view(2, 12, 5).numpy())
