"""The shape pass's shortcut for common functional ops (convcalc/io/torch_meta.py) against torch's
own meta kernels: wherever it answers, torch's kernel succeeds with the same shape and dtype (and an
in-place op returns its operand); and tracing a network made of those ops leaves torch._dynamo
unimported (torch's Python meta kernels import it: 1.3 s of a cold from-torch)."""
import operator
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

from convcalc.io.torch_meta import function_result, method_result  # noqa: E402

DTYPES = [torch.float32, torch.float16, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool]
FUNCS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub, operator.imul,
         operator.itruediv, torch.add, torch.sub, torch.mul, torch.div]
METHODS = ["add", "sub", "mul", "div", "add_", "sub_", "mul_", "div_"]

SHAPE = st.lists(st.integers(1, 3), min_size=0, max_size=3)


def _meta(shape, dtype):
    return torch.empty(shape, dtype=dtype, device="meta")


@st.composite
def operand(draw):
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([2, -1, 0.5, True, 2 ** 63, -2 ** 63 - 1, 2 ** 64, 1e300]))
    return _meta(draw(SHAPE), draw(st.sampled_from(DTYPES)))


def _torch_says(call):
    try:
        return call()
    except Exception:  # torch refuses: the shortcut must have left it to torch
        return None


def _agree(ours, theirs, first):
    if ours is None:
        return
    assert theirs is not None, "the shortcut answered where torch refuses"
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == theirs.dtype and ours.device.type == "meta"
    if theirs is first:  # in place: the operand itself
        assert ours is first
    else:  # torch's layout too: a later view or reshape depends on it
        assert ours.stride() == theirs.stride()


@settings(max_examples=300, deadline=None)
@given(fn=st.sampled_from(FUNCS), a=st.builds(_meta, SHAPE, st.sampled_from(DTYPES)), b=operand())
def test_arithmetic_functions_agree_with_torchs_meta_kernels(fn, a, b):
    ours = function_result(torch, fn, (a, b), {})
    _agree(ours, _torch_says(lambda: fn(a, b)), a)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(METHODS), a=st.builds(_meta, SHAPE, st.sampled_from(DTYPES)), b=operand())
def test_arithmetic_methods_agree_with_torchs_meta_kernels(name, a, b):
    ours = method_result(torch, name, (a, b), {})
    _agree(ours, _torch_says(lambda: getattr(a, name)(b)), a)


@settings(max_examples=150, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=3), min_size=1, max_size=3),
       dtypes=st.lists(st.sampled_from(DTYPES), min_size=3, max_size=3), dim=st.integers(-3, 2),
       how=st.sampled_from(["positional", "keyword", "concat"]))
def test_cat_agrees_with_torch(shapes, dtypes, dim, how):
    ts = [_meta(s, d) for s, d in zip(shapes, dtypes)]
    fn = torch.concat if how == "concat" else torch.cat
    args, kwargs = ((ts, dim), {}) if how == "positional" else ((ts,), {"dim": dim})
    ours = function_result(torch, fn, args, kwargs)
    _agree(ours, _torch_says(lambda: fn(*args, **kwargs)), None)


@settings(max_examples=200, deadline=None)
@given(shape=SHAPE, dtype=st.sampled_from(DTYPES), op=st.sampled_from(["mean", "sum"]),
       dim=st.one_of(st.integers(-4, 3), st.lists(st.integers(-4, 3), max_size=3), st.tuples(st.integers(-3, 2))),
       keepdim=st.one_of(st.none(), st.booleans()), how=st.sampled_from(["function", "method", "keywords"]))
def test_means_and_sums_over_dims_agree_with_torch(shape, dtype, op, dim, keepdim, how):
    a = _meta(shape, dtype)
    extra = () if keepdim is None else (keepdim,)
    if how == "keywords":
        kw = {"dim": dim} if keepdim is None else {"dim": dim, "keepdim": keepdim}
        ours = function_result(torch, getattr(torch, op), (a,), kw)
        theirs = _torch_says(lambda: getattr(torch, op)(a, **kw))
    elif how == "function":
        ours = function_result(torch, getattr(torch, op), (a, dim) + extra, {})
        theirs = _torch_says(lambda: getattr(torch, op)(a, dim, *extra))
    else:
        ours = method_result(torch, op, (a, dim) + extra, {})
        theirs = _torch_says(lambda: getattr(a, op)(dim, *extra))
    _agree(ours, theirs, None)


@settings(max_examples=100, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=2, max_size=5), dtype=st.sampled_from(DTYPES),
       size=st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                      st.tuples(st.none(), st.integers(1, 2))), keyword=st.booleans())
def test_adaptive_average_pooling_agrees_with_torch(shape, dtype, size, keyword):
    a = _meta(shape, dtype)
    F = torch.nn.functional
    args, kwargs = ((a,), {"output_size": size}) if keyword else ((a, size), {})
    _agree(function_result(torch, F.adaptive_avg_pool2d, args, kwargs),
           _torch_says(lambda: F.adaptive_avg_pool2d(*args, **kwargs)), None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["torch.relu", "F.relu", "F.relu inplace", "method", "method_"])
def test_relu_agrees_with_torch(dtype, how):
    a = _meta((2, 3), dtype)
    F = torch.nn.functional
    ours, theirs = {
        "torch.relu": lambda: (function_result(torch, torch.relu, (a,), {}), _torch_says(lambda: torch.relu(a))),
        "F.relu": lambda: (function_result(torch, F.relu, (a,), {}), _torch_says(lambda: F.relu(a))),
        "F.relu inplace": lambda: (function_result(torch, F.relu, (a,), {"inplace": True}),
                                   _torch_says(lambda: F.relu(a, inplace=True))),
        "method": lambda: (method_result(torch, "relu", (a,), {}), _torch_says(lambda: a.relu())),
        "method_": lambda: (method_result(torch, "relu_", (a,), {}), _torch_says(lambda: a.relu_())),
    }[how]()
    _agree(ours, theirs, a)
    if dtype.is_floating_point:
        assert ours is not None  # the common case is answered here


def test_a_residual_network_traces_without_importing_dynamo():
    code = """
import sys
import torch
from torch import nn
import torch.nn.functional as F
import convcalc as cc

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(16, 4)
    def forward(self, x):
        x = F.relu(self.a(x))
        y = self.b(x)
        y += x
        y = y * torch.sigmoid(y.mean((2, 3), keepdim=True)).relu()
        z = torch.cat([y, x], 1)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(z, 1), 1))

report = cc.summary(cc.from_torch(Net(), (3, 16, 16)))
print(report.totals["params"], "torch._dynamo" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    params = (8 * 3 * 9 + 8) + (8 * 8 * 9 + 8) + (16 * 4 + 4)
    assert out == [str(params), "False"]


def test_the_common_cases_are_answered_here():
    x, g = _meta((2, 8, 4, 4), torch.float32), _meta((2, 8, 1, 1), torch.float32)
    F = torch.nn.functional
    assert tuple(function_result(torch, operator.add, (x, x), {}).shape) == (2, 8, 4, 4)
    assert function_result(torch, operator.iadd, (x, g), {}) is x
    assert tuple(function_result(torch, operator.mul, (x, g), {}).shape) == (2, 8, 4, 4)
    assert tuple(function_result(torch, torch.cat, ([x, x],), {"dim": 1}).shape) == (2, 16, 4, 4)
    assert tuple(method_result(torch, "mean", (x, (2, 3)), {"keepdim": True}).shape) == (2, 8, 1, 1)
    assert tuple(function_result(torch, F.adaptive_avg_pool2d, (x, 1), {}).shape) == (2, 8, 1, 1)
    assert function_result(torch, operator.truediv, (_meta((3,), torch.int64), 2), {}).dtype == torch.float32


@st.composite
def laid_out(draw, nd=st.integers(0, 4)):
    """A meta tensor in one of the layouts a network makes: contiguous, permuted (x.permute, channels
    last), sliced (x[:, :c], chunk) or expanded (stride 0)."""
    shape = draw(st.lists(st.sampled_from([0, 1, 1, 2, 3]), min_size=draw(nd), max_size=4))
    how = draw(st.sampled_from(["contiguous", "permuted", "sliced", "expanded"]))
    dtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float16, torch.int64]))
    if how == "permuted" and shape:
        order = draw(st.permutations(range(len(shape))))
        t = _meta([shape[i] for i in order], dtype)
        return t.permute([order.index(i) for i in range(len(shape))])
    if how == "sliced" and shape:
        return _meta([2 * shape[0]] + shape[1:], dtype)[::2]
    if how == "expanded" and shape:
        return _meta([1] + shape[1:], dtype).expand(shape)
    return _meta(shape, dtype)


@settings(max_examples=400, deadline=None)
@given(a=laid_out(), b=laid_out(), c=laid_out(st.just(4)), op=st.sampled_from(
    ["add", "mul", "iadd", "relu", "relu_", "cat0", "cat-1", "mean-1", "sum0k", "mean23k", "pool1", "pool2"]))
def test_answers_keep_torchs_layout(a, b, c, op):
    """Where the operands are permuted, sliced or expanded, torch's result follows their layout (and a
    later ``view`` may fail on it): the answer has torch's strides or is left to torch."""
    F = torch.nn.functional
    calls = {
        "add": (operator.add, (a, b)), "mul": (operator.mul, (a, 2.0)), "iadd": (operator.iadd, (a, b)),
        "relu": (F.relu, (a,)), "relu_": ("relu_", (a,)), "cat0": (torch.cat, ([a, a], 0)),
        "cat-1": (torch.cat, ([c, c.contiguous()], -1)), "mean-1": ("mean", (a, -1)), "sum0k": ("sum", (a, 0, True)),
        "mean23k": ("mean", (c, (2, 3), True)), "pool1": (F.adaptive_avg_pool2d, (c, 1)),
        "pool2": (F.adaptive_avg_pool2d, (c, 2))}
    fn, args = calls[op]
    if isinstance(fn, str):
        ours, theirs = method_result(torch, fn, args, {}), _torch_says(lambda: getattr(args[0], fn)(*args[1:]))
    else:
        ours, theirs = function_result(torch, fn, args, {}), _torch_says(lambda: fn(*args))
    _agree(ours, theirs, args[0])


def test_channels_last_gates_keep_their_layout():
    """(N, C, 1, 1) is contiguous whatever its strides; torch's cat and pooling still follow channels last."""
    F = torch.nn.functional
    g = torch.empty((2, 3, 1, 1), device="meta", memory_format=torch.channels_last)
    assert g.is_contiguous() and g.stride() != (3, 1, 1, 1)
    for fn, args in [(torch.cat, ([g, g], 3)), (F.adaptive_avg_pool2d, (g, 2))]:
        _agree(function_result(torch, fn, args, {}), fn(*args), None)


@pytest.mark.parametrize("call", [
    lambda: function_result(torch, torch.mean, (_meta((2, 3), torch.float32), 1), {"dim": 1}),
    lambda: function_result(torch, torch.cat, ([_meta((2, 3), torch.float32)], 1), {"dim": 1}),
    lambda: function_result(torch, torch.sum, (_meta((2, 3), torch.float32),), {"keepdim": True}),
    lambda: method_result(torch, "mean", (_meta((2, 3), torch.float32),), {"keepdim": True}),
    lambda: function_result(torch, torch.relu, (_meta((2, 3), torch.float32),), {"inplace": True}),
])
def test_calls_torch_refuses_are_left_to_torch(call):
    """A dim given twice or not at all, and torch.relu's missing inplace: torch's TypeError, not ours."""
    assert call() is None


def _traced_error(forward):
    from torch import nn

    from convcalc.io.torch_import import from_torch
    from convcalc.io.torch_ops import TorchError

    net = type("Net", (nn.Module,), {"forward": forward})()
    try:
        net(torch.randn(2, 3, 4, 4))
    except Exception as e:
        eager = str(e).splitlines()[0]
    else:
        raise AssertionError("torch runs it")
    with pytest.raises(TorchError) as err:
        from_torch(net, (3, 4, 4))
    return eager, str(err.value)


@pytest.mark.parametrize("how", ["relu", "add", "pool"])
def test_a_view_of_a_permuted_result_fails_as_in_torch(how):
    """relu / add of an NHWC permute keep its strides, so torch refuses the later ``view``; so must from_torch."""
    F = torch.nn.functional

    def forward(self, x):
        if how == "pool":
            y = F.adaptive_avg_pool2d(x.contiguous(memory_format=torch.channels_last), 2)
        else:
            y = x.permute(0, 2, 3, 1)
            y = F.relu(y) if how == "relu" else y + 1
        return y.view(y.size(0), -1)

    eager, ours = _traced_error(forward)
    assert "view size is not compatible" in eager
    assert ours.startswith("view at ") and eager in ours and "\n" not in ours


def test_an_ill_formed_mean_gives_torchs_error():
    eager, ours = _traced_error(lambda self, x: x.mean(keepdim=True))
    assert ours.startswith("mean ") and eager.split(" - ")[0] in ours and "_reduce" not in ours


@pytest.mark.parametrize("dtype", DTYPES + [torch.uint32, torch.uint64])
@pytest.mark.parametrize("value", [2 ** 63, 2 ** 64 - 1, -2 ** 63 - 1, 2 ** 64])
def test_out_of_range_python_ints_are_torchs_to_judge(dtype, value):
    """torch adds 2**63 to a bool mask (int64), though torch.result_type(mask, 2**63) refuses: where the
    rules' own arithmetic fails, torch decides (its answer or its error)."""
    a = _meta((3,), dtype)
    for fn in (operator.add, operator.mul, operator.iadd):
        ours = function_result(torch, fn, (a, value), {})
        _agree(ours, _torch_says(lambda: fn(a, value)), a)
