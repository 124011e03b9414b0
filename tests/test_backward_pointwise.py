"""Backward of elementwise rows read from torch (layers/ops.py Pointwise): each op's gradient
by the NumPy core against torch.autograd, and `verify --training` on an imported model that
uses them. Skipped without PyTorch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import convcalc as cc  # noqa: E402
from convcalc import kernels as K  # noqa: E402
from convcalc.io.torch_import import from_torch  # noqa: E402
from convcalc.verify_training import verify_training  # noqa: E402
from torch_models import scaled_convs  # noqa: E402

# op -> (torch function of the recorded arguments, the call: ("x", i) inputs, ("c", v) constants)
UNARY = {"neg": torch.neg, "exp": torch.exp, "exp2": torch.exp2, "expm1": torch.expm1, "log": torch.log,
         "log2": torch.log2, "log10": torch.log10, "log1p": torch.log1p, "sqrt": torch.sqrt,
         "rsqrt": torch.rsqrt, "abs": torch.abs, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh,
         "sigmoid": torch.sigmoid, "reciprocal": torch.reciprocal, "square": torch.square,
         "floor": torch.floor, "round": torch.round}
BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "truediv": torch.div,
          "rsub": lambda a, b: b - a, "rtruediv": lambda a, b: b / a, "pow": torch.pow,
          "rpow": lambda a, b: b ** a, "maximum": torch.maximum, "minimum": torch.minimum,
          "mod": torch.remainder}


def _run(op, call, fn, xs, kw=None):
    """Our dx per input against autograd's, for loss sum(y * G)."""
    kw = kw or {}
    y, _ = K.pointwise([x.astype(np.float32) for x in xs], op, call, xs[0].shape[1:])
    g = np.random.default_rng(3).standard_normal(y.shape)
    dxs, grads, macs = K.pointwise_backward(g.astype(np.float32), op, call, xs, y, {}, [True] * len(xs), False)
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    args = [ts[a[1]] if a[0] == "x" else a[1] for a in call if a[0] != "k"]
    (fn(*args, **kw) * torch.tensor(g)).sum().backward()
    for d, t in zip(dxs, ts):
        np.testing.assert_allclose(d, t.grad.numpy(), rtol=2e-4, atol=1e-5)
    assert macs == (0, 0)


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_gradients_match_autograd(op):
    x = np.random.default_rng(0).uniform(0.3, 2.0, (2, 3, 5))  # positive: log, sqrt, rsqrt
    _run(op, (("x", 0),), UNARY[op], [x])


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_gradients_match_autograd_with_broadcasting(op):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2.0, (2, 3, 5)), rng.uniform(0.5, 2.0, (2, 1, 5))
    _run(op, (("x", 0), ("x", 1)), BINARY[op], [a, b])
    if op not in ("maximum", "minimum"):  # (torch takes tensors only there)
        _run(op, (("x", 0), ("c", 1.5)), BINARY[op], [a])   # against a constant


def test_clamp_passes_the_gradient_inside_its_bounds_only():
    x = np.linspace(-2, 2, 30).reshape(1, 2, 15)
    _run("clamp", (("x", 0), ("k", "min", -0.5), ("k", "max", 1.0)), torch.clamp, [x], {"min": -0.5, "max": 1.0})


def test_the_same_input_twice_adds_both_gradients():
    x = np.random.default_rng(2).uniform(0.5, 1.5, (1, 4))
    _run("mul", (("x", 0), ("x", 0)), torch.mul, [x])   # d(x*x)/dx = 2x


def _elementwise(s, x):
    y = s.conv(x)
    y = torch.sigmoid(y) * s.scale + y.exp() / 4
    return s.head(torch.sqrt(y * y + 1.0) - y.clamp(min=-0.5))  # (verify's weights are any sign)


def Elementwise():
    return scaled_convs(_elementwise)


def test_verify_training_runs_an_imported_model_of_elementwise_calls():
    model = from_torch(Elementwise(), (3, 6, 6))
    kinds = {r.kind for r in cc.analyze(model).rows}
    assert "pointwise" in kinds
    result = verify_training(model)
    assert result.ok, [(r.name, r.checks) for r in result.layers if not r.ok]


@pytest.mark.parametrize("call,kw", [((("x", 0), ("c", -0.5), ("c", 1.0)), {}),          # clamp(x, -0.5, 1.0)
                                     ((("x", 0), ("c", -0.5)), {}),                      # clamp(x, -0.5)
                                     ((("x", 0), ("c", -0.5), ("k", "max", 1.0)), {"max": 1.0}),
                                     ((("x", 0), ("c", None), ("c", 0.3)), {})])          # clamp(x, None, 0.3)
def test_clamp_with_positional_bounds(call, kw):
    """torch.clamp's bounds given by position (as x.clamp(-0.5, 1.0) records them): the
    backward raised TypeError (the bounds read twice) where autograd passes the gradient
    inside them (found by review)."""
    x = np.linspace(-2, 2, 30).reshape(1, 2, 15)
    _run("clamp", call, torch.clamp, [x], kw)
    _run("clip", call, torch.clip, [x], kw)


class BatchRankScale(torch.nn.Module):
    """A layer scale of shape (1, C, 1, 1): one more dim than a sample, the batch's."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.scale = torch.nn.Parameter(torch.rand(1, 4, 1, 1) + 0.5)
        self.head = torch.nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(self.conv(x) * self.scale)


def test_a_parameter_with_the_batch_dim_gets_its_gradient():
    """verify --training on a (1, C, 1, 1) parameter: the backward summed the gradient to
    (1, 1, C, 1, 1) and raised IndexError (a traceback from the CLI); torch sums over the batch
    to the parameter's own shape (found by review)."""
    net = BatchRankScale()
    model = from_torch(net, (3, 6, 6))
    a = cc.analyze(model)
    assert tuple(a.rows[-1].output) == tuple(net(torch.randn(2, 3, 6, 6)).shape[1:])
    assert a.totals["params"] == sum(p.numel() for p in net.parameters())
    result = verify_training(model)
    assert result.ok, [(r.name, r.checks) for r in result.layers if not r.ok]
