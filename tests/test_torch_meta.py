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
        return draw(st.sampled_from([2, -1, 0.5, True]))
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
