"""Meta results of the commonest functional ops without running torch's meta kernels.

torch computes the meta result of most elementwise ops (add, mul, relu, cat, ...) in Python
(``torch._refs``), and the first such call imports ``torch._dynamo``: about 1.3 s of a cold
``convcalc from-torch`` on a network with one residual add. The shape pass of
:mod:`.torch_convert` asks here first for the few ops that make up most networks' functional
calls (residual adds, gates, concatenations, functional ReLU, means over dims, adaptive average
pooling). For anything else, and for every case these rules do not settle (keyword arguments
other than dim, keepdim, inplace and output_size, calls that would not bind, shapes that do not
broadcast, an in-place op that would change its operand's shape or dtype, integer or boolean
corner cases, operands not laid out contiguously, anything the rules' own arithmetic refuses), it
runs torch's kernel, so a failure is still torch's own error.

A new result is contiguous; torch's follows its operands' strides (a permuted NHWC view, a
channels-last (N, C, 1, 1) gate, a slice), and a later ``view`` of it may fail in torch. So the
rules answer out-of-place ops only when every tensor operand has the strides ``torch.empty`` gives
its shape, where torch's result has them too.
"""
from __future__ import annotations

import functools
import operator

_ARITH = {operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
          operator.iadd: "add_", operator.isub: "sub_", operator.imul: "mul_", operator.itruediv: "div_"}
_METHODS = {"add", "sub", "mul", "div", "add_", "sub_", "mul_", "div_"}


def _is_meta(torch, t) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type == "meta"


def _plain(torch, t) -> bool:
    """``t`` is a meta tensor with the strides of ``torch.empty(t.shape)`` (size-1 dims included)."""
    if not _is_meta(torch, t):
        return False
    stride, want = t.stride(), 1
    for i in range(t.dim() - 1, -1, -1):
        if stride[i] != want:
            return False
        want *= max(t.shape[i], 1)
    return True


def _bind(args, kwargs, names, required):
    """The call's arguments by name (torch's names), or None where it would not bind: an argument
    given twice, an unknown or a missing one (torch's TypeError, not ours)."""
    if len(args) > len(names) or not set(kwargs) <= set(names[len(args):]):
        return None
    bound = {**dict(zip(names, args)), **kwargs}
    return bound if all(n in bound for n in required) else None


def _scalar(v) -> bool:
    return type(v) in (int, float, bool)


def _binary(torch, name, a, b):
    """``a <name> b`` for tensors and Python numbers; None where torch should decide."""
    if not _is_meta(torch, a) or not (_is_meta(torch, b) or _scalar(b)):
        return None
    if _is_meta(torch, b):
        try:
            shape = torch.broadcast_shapes(a.shape, b.shape)
        except RuntimeError:
            return None
    else:
        shape = a.shape
    dtype = torch.result_type(a, b)
    if dtype == torch.bool and name.startswith(("sub", "div")) or dtype.is_complex:
        return None  # torch refuses bool subtraction; leave the rarer rules to torch
    if name.startswith("div") and not dtype.is_floating_point:
        dtype = torch.get_default_dtype()  # true division of integers
    if name.endswith("_"):  # in place: a keeps its shape and dtype, and is the result
        if tuple(shape) != tuple(a.shape) or not torch.can_cast(dtype, a.dtype):
            return None
        return a
    if not _plain(torch, a) or not (_scalar(b) or _plain(torch, b)):
        return None  # torch's result follows the operands' layout
    return torch.empty(shape, dtype=dtype, device="meta")


def _relu(torch, a, inplace):
    if not _is_meta(torch, a) or not a.dtype.is_floating_point:
        return None
    if inplace:
        return a
    return torch.empty(a.shape, dtype=a.dtype, device="meta") if _plain(torch, a) else None


def _cat(torch, tensors, dim=0):
    if (not isinstance(tensors, (list, tuple)) or not tensors or type(dim) is not int
            or not all(_plain(torch, t) for t in tensors)):
        return None
    nd = tensors[0].dim()
    if nd == 0 or not -nd <= dim < nd or any(t.dim() != nd for t in tensors):
        return None  # (torch's legacy skip of 1-d empty tensors, and its errors, stay torch's)
    dim %= nd
    shape = list(tensors[0].shape)
    for t in tensors[1:]:
        if any(s != u for i, (s, u) in enumerate(zip(shape, t.shape)) if i != dim):
            return None
        shape[dim] += t.shape[dim]
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in tensors])
    return torch.empty(shape, dtype=dtype, device="meta")


def _reduce(torch, a, dim, keepdim=False):
    """mean / sum over ``dim`` (an int or a sequence of ints) of a floating tensor."""
    if not _plain(torch, a) or not a.dtype.is_floating_point or type(keepdim) is not bool or not a.numel():
        return None  # (an empty input's result has torch's own strides)
    dims = [dim] if type(dim) is int else list(dim) if isinstance(dim, (list, tuple)) else None
    nd = a.dim()
    if not dims or nd == 0 or any(type(d) is not int or not -nd <= d < nd for d in dims):
        return None
    dims = {d % nd for d in dims}
    if len(dims) != len([dim] if type(dim) is int else dim):
        return None  # a dim named twice: torch's error
    shape = [1 if i in dims else s for i, s in enumerate(a.shape) if keepdim or i not in dims]
    return torch.empty(shape, dtype=a.dtype, device="meta")


def _adaptive_avg(torch, a, output_size):
    """``F.adaptive_avg_pool2d`` of a (C, H, W) or (N, C, H, W) floating tensor."""
    size = (output_size, output_size) if type(output_size) is int else output_size
    if (not _plain(torch, a) or not a.dtype.is_floating_point or a.dim() not in (3, 4)
            or not isinstance(size, (list, tuple)) or len(size) != 2
            or any(type(v) is not int or v < 0 for v in size) or min(a.shape[-3:]) < 1):
        return None
    return torch.empty(tuple(a.shape[:-2]) + tuple(size), dtype=a.dtype, device="meta")


def _or_none(rules):
    """``rules`` answering None wherever they fail themselves (torch.result_type(mask, 2**63) refuses
    what torch's add does): torch's kernel then gives its own answer or its own error."""
    @functools.wraps(rules)
    def answer(torch, target, args, kwargs):
        try:
            return rules(torch, target, args, kwargs)
        except Exception:
            return None
    return answer


@_or_none
def function_result(torch, target, args, kwargs):
    """The meta result of fx ``call_function`` ``target(*args, **kwargs)``, or None."""
    F = torch.nn.functional
    if target in _ARITH and len(args) == 2 and not kwargs:
        return _binary(torch, _ARITH[target], *args)
    if target in (torch.add, torch.sub, torch.mul, torch.div) and len(args) == 2 and not kwargs:
        return _binary(torch, target.__name__, *args)
    if target in (torch.relu, F.relu) and len(args) == 1 and set(kwargs) <= {"inplace"}:
        if kwargs and target is torch.relu:
            return None  # torch.relu takes no inplace: torch's TypeError
        return _relu(torch, args[0], bool(kwargs.get("inplace", False)))
    if target in (torch.cat, torch.concat):
        bound = _bind(args, kwargs, ("tensors", "dim"), ("tensors",))
        return _cat(torch, bound["tensors"], bound.get("dim", 0)) if bound else None
    if target in (torch.mean, torch.sum):
        bound = _bind(args, kwargs, ("input", "dim", "keepdim"), ("input", "dim"))
        return _reduce(torch, bound["input"], bound["dim"], bound.get("keepdim", False)) if bound else None
    if target is F.adaptive_avg_pool2d:
        bound = _bind(args, kwargs, ("input", "output_size"), ("input", "output_size"))
        return _adaptive_avg(torch, bound["input"], bound["output_size"]) if bound else None
    return None


@_or_none
def method_result(torch, name, args, kwargs):
    """The meta result of fx ``call_method`` ``args[0].name(*args[1:], **kwargs)``, or None."""
    if name in _METHODS and len(args) == 2 and not kwargs:
        return _binary(torch, name, *args)
    if name in ("relu", "relu_") and len(args) == 1 and not kwargs:
        return _relu(torch, args[0], name.endswith("_"))
    if name in ("mean", "sum") and args and (bound := _bind(args[1:], kwargs, ("dim", "keepdim"), ("dim",))):
        return _reduce(torch, args[0], bound["dim"], bound.get("keepdim", False))
    return None
