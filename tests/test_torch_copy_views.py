"""Views that copy elements (indexing, expand, repeat, tile, repeat_interleave, einops.repeat) read
from PyTorch: the NumPy core executes them, against torch's own output element by element, and
verify passes on models that use them. Skipped without PyTorch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402
from convcalc.layers.ops import View  # noqa: E402
from convcalc.verify import execute, verify  # noqa: E402


from torch_models import Fn  # noqa: E402


def _einops_repeat(s, x):
    einops = pytest.importorskip("einops")
    return einops.repeat(x, "b n d -> b n r d", r=3)


OPS = {
    "expand": lambda s, x: x[:, :, None].expand(-1, -1, 3, -1),
    "expand_as": lambda s, x: x[:, :1].expand_as(x),
    "repeat": lambda s, x: x.repeat(1, 2, 3),
    "tile": lambda s, x: torch.tile(x, (2, 1)),
    "repeat_interleave": lambda s, x: x.repeat_interleave(3, dim=1),
    "strided_slice": lambda s, x: x[:, 1::2, 2:7:3],
    "take_and_new": lambda s, x: x[:, 2, None, :, None],
    "ellipsis": lambda s, x: x[..., None, -3:],
    "einops_repeat": _einops_repeat,
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_copy_view_kernel_equals_torch(name):
    net = Fn(OPS[name])
    report = cc.summary(from_torch(net, (5, 8)))
    x = torch.randn(2, 5, 8)
    y = x.detach().numpy()
    rows = [r.layer for r in report.rows]
    assert any(isinstance(v, View) and v.index for v in rows)  # the copy is described, not shape-only
    for v in rows:  # a chain: each row reads the previous one
        y = execute(v, [y], np.random.default_rng(0))[0]
    np.testing.assert_array_equal(y, net(x).numpy())


def test_verify_runs_class_token_by_einops_repeat_and_expand():
    einops = pytest.importorskip("einops")

    class ViTHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = nn.Parameter(torch.randn(1, 1, 8))
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            c = einops.repeat(self.cls, "1 n d -> b n d", b=x.shape[0])  # a class token over the batch
            t = self.fc(torch.cat([c, x], dim=1))
            return t + einops.repeat(t[:, 0], "b d -> b n d", n=t.shape[1]) + t[:, :1].expand(-1, t.shape[1], -1)

    net = ViTHead()
    report = cc.summary(from_torch(net, (6, 8)))
    assert report.totals["params"] == sum(p.numel() for p in net.parameters())
    res = verify(from_torch(net, (6, 8)))
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok]


def test_verify_runs_copying_views_in_a_model():
    def f(s, x):
        y = s.fc(_einops_repeat(s, x) + x[:, :, None].expand(-1, -1, 3, -1)).sum(2)
        return y + x.repeat(1, 2, 1)[:, :5] + torch.tile(x, (2, 1))[:, 3:8] + x.repeat_interleave(2, dim=1)[:, ::2]

    net = Fn(f, fc=nn.Linear(8, 8))
    report = cc.summary(from_torch(net, (5, 8)))
    with torch.no_grad():
        assert tuple(report.rows[-1].output) == tuple(net(torch.zeros(2, 5, 8)).shape[1:])
    res = verify(from_torch(net, (5, 8)))
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok]


POINTWISE = {
    "pow": lambda s, x: x.pow(2),
    "add_scalar": lambda s, x: x + 1e-3,
    "rsub": lambda s, x: 1 - x,
    "rsqrt": lambda s, x: torch.rsqrt(x.abs() + 1),
    "truediv": lambda s, x: x / (x.abs() + 1),
    "sub_self": lambda s, x: x - x * 2,
    "clamp_kw": lambda s, x: torch.clamp(x, min=-0.5, max=0.5),
    "exp": lambda s, x: x.exp(),
    "maximum": lambda s, x: torch.maximum(x, -x),
}


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_kernel_equals_torch(name):
    """Elementwise calls with numbers recorded in the row: each row run in order (a chain)."""
    net = Fn(POINTWISE[name])
    y = run_numpy(from_torch(net, (5, 8)), x := torch.randn(2, 5, 8))
    np.testing.assert_allclose(y, net(x).numpy(), rtol=1e-5, atol=1e-6)


def run_numpy(model, x):
    """The model's graph run by the NumPy core, node by node; the last node's output."""
    from convcalc.graph import to_graph

    g = to_graph(model.net)
    assert any(getattr(n.layer, "call", None) for n in g)
    rng = np.random.default_rng(0)
    env = g.walk(x.numpy(), lambda node, ins: execute(node.layer, ins, rng)[0])
    return env[list(g.nodes)[-1]]


def test_pointwise_without_recorded_arguments_is_refused_in_one_line():
    """A constant tensor in the call (a buffer): the row cannot say its values; verify names the op."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.rand(8))

        def forward(self, x):
            return torch.atan2(x, x)

    with pytest.raises(Exception) as e:
        verify(from_torch(Net(), (5, 8)))
    assert "atan2" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("name", sorted(OPS))
def test_copy_view_gradient_equals_autograd(name):
    """The backward of a copying view (verify --training): dx against torch's autograd."""
    from convcalc import kernels as K

    net = Fn(OPS[name])
    views = [r.layer for r in cc.summary(from_torch(net, (5, 8))).rows]
    if len(views) != 1:
        pytest.skip("a chain of rows: covered row by row by the cases of one row")
    x = torch.randn(2, 5, 8, requires_grad=True)
    y = net(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    dx, _, _ = K.view_copy_backward(dy.numpy(), tuple(x.shape), views[0].index)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_pointwise_with_a_parameter_runs_as_a_weight():
    """ConvNeXt's layer scale as torchvision writes it (a (C, 1, 1) parameter times the block's
    channels-first output): the parameter is the row's weight, counted once."""
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.layer_scale = nn.Parameter(torch.ones(4, 1, 1))

        def forward(self, x):
            return x + self.layer_scale * self.conv(x).permute(0, 2, 3, 1).permute(0, 3, 1, 2)

    net = Block()
    model = from_torch(net, (4, 8, 8))
    rows = [r for r in cc.summary(model).rows if r.kind == "pointwise"]
    assert rows and rows[0].layer.call == (("p", "c0", (4, 1, 1)), ("x", 0))
    assert cc.summary(model).totals["params"] == sum(p.numel() for p in net.parameters())
    res = verify(model)
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok]


def test_torchvision_convnext_verifies_from_torch():
    tv = pytest.importorskip("tv")
    if tv.load() is None:
        pytest.skip("torchvision")
    import torchvision

    res = verify(from_torch(torchvision.models.convnext_tiny(), (3, 32, 32)))
    assert res.ok, [(r.name, r.checks) for r in res.layers if not r.ok][:3]
