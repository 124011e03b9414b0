"""PyTorch in and out (the optional ``torch`` extra; torch is imported only inside functions).

``from_torch(module, input_shape)`` traces a ``torch.nn.Module`` with ``torch.fx`` and rebuilds it
from convcalc layers: a linear chain becomes a :class:`Sequential`; where a tensor feeds several
branches that meet again in an add / cat / mul, the branches become a :class:`Parallel`
(series-parallel graphs: the fork of a merge is its immediate dominator; branches are built
backwards from the merge to the fork, recursively). Rows are named after the torch modules'
qualified names; functional ops after the module they run in (``layer1.0.add``). An op convcalc
cannot count, or a graph that is not series-parallel, is an error naming the op and the module
path, never a silent zero. The converted network is then run through ``torch.fx``'s shape
propagation and every row's shape is compared with torch's.

``to_torch_source(model)`` writes a standalone ``nn.Module`` (``convcalc export MODEL --to pytorch``):
``nn.Sequential`` for plain chains, a small ``Block`` helper (layers plus a ``flow`` naming the
order and the add / cat / mul merges) where branches meet, and module names equal to the row
names, so that ``from_torch`` of the export gives the same report.
"""
from __future__ import annotations

import keyword
import re
from collections import OrderedDict
from typing import Optional

from ..errors import ConvcalcError
from ..graph import Parallel, Sequential
from ..layers import KINDS
from ..layers import act, conv, linear, norm, pool, tensor
from ..layers.base import Layer
from ..zoo import Model


class TorchError(ConvcalcError):
    """A torch module convcalc cannot represent (an unsupported op or graph)."""


def _torch():
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise ConvcalcError("this needs PyTorch: pip install 'convcalc[torch]'") from None
    return torch


# -- torch module -> convcalc layer ----------------------------------------------------------------------
def _tup(v):
    if isinstance(v, (list, tuple)):
        return tuple(_tup(x) for x in v)
    return v


def module_layer(m, path: str) -> Layer:
    """The convcalc layer for one torch leaf module."""
    nn = _torch().nn
    kind = getattr(m, "convcalc_kind", None)
    if kind is not None:  # helper classes of an exported file
        return KINDS[kind](**dict(getattr(m, "convcalc_args", {})))
    name = type(m).__name__
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        cls = KINDS[name.lower()]
        kw = dict(in_channels=m.in_channels, out_channels=m.out_channels, kernel_size=_tup(m.kernel_size),
                  stride=_tup(m.stride), padding=m.padding if isinstance(m.padding, str) else _tup(m.padding),
                  dilation=_tup(m.dilation), groups=m.groups, bias=m.bias is not None, padding_mode=m.padding_mode)
        if isinstance(m, nn.modules.conv._ConvTransposeNd):
            kw["output_padding"] = _tup(m.output_padding)
        return cls(**kw)
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        if m.return_indices:
            raise TorchError(f"{path}: {name}(return_indices=True) is not supported")
        return KINDS[name.lower()](kernel_size=_tup(m.kernel_size), stride=_tup(m.stride), padding=_tup(m.padding),
                                   dilation=_tup(m.dilation), ceil_mode=m.ceil_mode)
    if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return KINDS[name.lower()](kernel_size=_tup(m.kernel_size), stride=_tup(m.stride), padding=_tup(m.padding),
                                   ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad,
                                   divisor_override=getattr(m, "divisor_override", None))
    if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
                      nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        if getattr(m, "return_indices", False):
            raise TorchError(f"{path}: {name}(return_indices=True) is not supported")
        return KINDS[name.lower()](output_size=_tup(m.output_size))
    if isinstance(m, nn.Linear):
        return linear.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d,
                      nn.InstanceNorm3d)):
        return KINDS[name.lower()](m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                                   track_running_stats=m.track_running_stats)
    if isinstance(m, nn.LayerNorm):
        return norm.LayerNorm(tuple(m.normalized_shape), eps=m.eps, elementwise_affine=m.elementwise_affine,
                              bias=getattr(m, "bias", None) is not None)
    if isinstance(m, nn.GroupNorm):
        return norm.GroupNorm(m.num_groups, m.num_channels, eps=m.eps, affine=m.affine)
    if isinstance(m, nn.LocalResponseNorm):
        return norm.LocalResponseNorm(m.size, alpha=m.alpha, beta=m.beta, k=m.k)
    if isinstance(m, nn.LeakyReLU):
        return act.LeakyReLU(m.negative_slope)
    if isinstance(m, nn.ELU):
        return act.ELU(m.alpha)
    if isinstance(m, nn.PReLU):
        return act.PReLU(m.num_parameters)
    if isinstance(m, nn.GELU):
        return act.GELU(m.approximate)
    if isinstance(m, (nn.Softmax, nn.LogSoftmax)):
        return KINDS[name.lower()](m.dim)
    if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)):
        return KINDS[name.lower()](m.p)
    if isinstance(m, nn.Flatten):
        return linear.Flatten(m.start_dim, m.end_dim)
    if isinstance(m, nn.Upsample):
        size = _tup(m.size)
        scale = _tup(m.scale_factor)
        return tensor.Upsample(size=size, scale_factor=None if size is not None else scale, mode=m.mode,
                               align_corners=m.align_corners)
    if isinstance(m, nn.ChannelShuffle):
        return tensor.ChannelShuffle(m.groups)
    simple = {nn.ReLU: act.ReLU, nn.ReLU6: act.ReLU6, nn.Sigmoid: act.Sigmoid, nn.Tanh: act.Tanh,
              nn.Hardswish: act.Hardswish, nn.Hardsigmoid: act.Hardsigmoid, nn.SiLU: act.SiLU,
              nn.Identity: act.Identity}
    for tcls, ccls in simple.items():
        if type(m) is tcls:
            return ccls()
    raise TorchError(f"{path or 'model'}: unsupported module {name} ({type(m).__module__}.{name}); "
                     f"convcalc cannot count it")


# -- functional ops ----------------------------------------------------------------------------------
def _bind(names, args, kwargs, defaults=None):
    out = dict(defaults or {})
    for n, a in zip(names, args):
        out[n] = a
    out.update(kwargs)
    return out


class _Node:
    """What one fx node is to convcalc: the input, a layer on one source, a merge, or a pass-through."""

    def __init__(self, what, src=None, layer=None, srcs=(), combine=None, dim=0, name="", extra=None):
        self.what, self.src, self.layer, self.srcs = what, src, layer, list(srcs)
        self.combine, self.dim, self.name, self.extra = combine, dim, name, extra


def _functions():
    torch = _torch()
    F = torch.nn.functional
    import operator

    unary = {  # target -> (layer builder(bound args) , argument names after the input)
        F.relu: (lambda a: act.ReLU(), ()), torch.relu: (lambda a: act.ReLU(), ()),
        F.relu6: (lambda a: act.ReLU6(), ()), F.hardswish: (lambda a: act.Hardswish(), ()),
        F.hardsigmoid: (lambda a: act.Hardsigmoid(), ()), torch.sigmoid: (lambda a: act.Sigmoid(), ()),
        F.sigmoid: (lambda a: act.Sigmoid(), ()), torch.tanh: (lambda a: act.Tanh(), ()),
        F.tanh: (lambda a: act.Tanh(), ()), F.silu: (lambda a: act.SiLU(), ()),
        F.gelu: (lambda a: act.GELU(a.get("approximate", "none")), ()),
        F.leaky_relu: (lambda a: act.LeakyReLU(a.get("negative_slope", 0.01)), ("negative_slope",)),
        F.elu: (lambda a: act.ELU(a.get("alpha", 1.0)), ("alpha",)),
        F.dropout: (lambda a: act.Dropout(a.get("p", 0.5)), ("p",)),
        F.softmax: (lambda a: act.Softmax(a.get("dim")), ("dim",)),
        F.log_softmax: (lambda a: act.LogSoftmax(a.get("dim")), ("dim",)),
        torch.flatten: (lambda a: linear.Flatten(a.get("start_dim", 0), a.get("end_dim", -1)),
                        ("start_dim", "end_dim")),
        F.adaptive_avg_pool1d: (lambda a: pool.AdaptiveAvgPool1d(_tup(a["output_size"])), ("output_size",)),
        F.adaptive_avg_pool2d: (lambda a: pool.AdaptiveAvgPool2d(_tup(a["output_size"])), ("output_size",)),
        F.adaptive_avg_pool3d: (lambda a: pool.AdaptiveAvgPool3d(_tup(a["output_size"])), ("output_size",)),
        F.adaptive_max_pool2d: (lambda a: pool.AdaptiveMaxPool2d(_tup(a["output_size"])), ("output_size",)),
        F.max_pool1d: (lambda a: _fpool(pool.MaxPool1d, a), ("kernel_size", "stride", "padding", "dilation",
                                                             "ceil_mode")),
        F.max_pool2d: (lambda a: _fpool(pool.MaxPool2d, a), ("kernel_size", "stride", "padding", "dilation",
                                                             "ceil_mode")),
        F.max_pool3d: (lambda a: _fpool(pool.MaxPool3d, a), ("kernel_size", "stride", "padding", "dilation",
                                                             "ceil_mode")),
        F.avg_pool2d: (lambda a: _fpool(pool.AvgPool2d, a), ("kernel_size", "stride", "padding", "ceil_mode",
                                                             "count_include_pad", "divisor_override")),
        F.avg_pool1d: (lambda a: _fpool(pool.AvgPool1d, a), ("kernel_size", "stride", "padding", "ceil_mode",
                                                             "count_include_pad")),
        torch.permute: (lambda a: tensor.Permute(_tup(a["dims"])), ("dims",)),
        torch.channel_shuffle: (lambda a: tensor.ChannelShuffle(a["groups"]), ("groups",)),
        F.interpolate: (lambda a: tensor.Upsample(size=_tup(a.get("size")), scale_factor=a.get("scale_factor")
                                                  if a.get("size") is None else None,
                                                  mode=a.get("mode", "nearest"), align_corners=a.get("align_corners")),
                        ("size", "scale_factor", "mode", "align_corners")),
    }
    if hasattr(F, "channel_shuffle"):
        unary[F.channel_shuffle] = unary[torch.channel_shuffle]
    methods = {
        "relu": (lambda a: act.ReLU(), ()), "sigmoid": (lambda a: act.Sigmoid(), ()),
        "tanh": (lambda a: act.Tanh(), ()),
        "softmax": (lambda a: act.Softmax(a.get("dim")), ("dim",)),
        "flatten": (lambda a: linear.Flatten(a.get("start_dim", 0), a.get("end_dim", -1)), ("start_dim", "end_dim")),
        "permute": (lambda a: tensor.Permute(_tup(a["dims"][0] if len(a["dims"]) == 1 and
                                                  isinstance(a["dims"][0], (list, tuple)) else a["dims"])), "*dims"),
    }
    merges = {operator.add: "add", torch.add: "add", operator.mul: "mul", torch.mul: "mul", torch.cat: "cat",
              torch.concat: "cat", "add": "add", "mul": "mul"}
    passthrough = {"contiguous", "clone", "detach", "float"}
    return unary, methods, merges, passthrough


def _fpool(cls, a):
    kw = {k: _tup(v) for k, v in a.items() if k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                                                     "count_include_pad", "divisor_override")}
    if kw.get("stride") in (None, ()):
        kw.pop("stride", None)
    if a.get("return_indices"):
        raise TorchError("pooling with return_indices=True is not supported")
    return cls(**kw)


def _scope(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    last = list(stack.values())[-1]
    return last[0] if isinstance(last, tuple) else str(last)


def _base(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def from_torch(module, input_shape, name: Optional[str] = None) -> Model:
    """Trace ``module`` (a ``torch.nn.Module``) for per-sample ``input_shape`` ``(C, *spatial)``."""
    torch = _torch()
    import torch.fx as fx
    from torch.fx.passes.shape_prop import ShapeProp

    if not isinstance(module, torch.nn.Module):
        raise ConvcalcError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(input_shape)
    if not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in shape):
        raise ConvcalcError(f"from_torch needs a numeric input shape (C, *spatial), got {input_shape!r}")

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return hasattr(m, "convcalc_kind") or super().is_leaf_module(m, qualname)

    was_training = module.training
    module.eval()
    try:
        try:
            graph = Tracer().trace(module)
        except Exception as e:  # tracing runs user code: report what failed, in one line
            raise TorchError(f"torch.fx cannot trace {type(module).__name__}: {type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}") from None
        gm = fx.GraphModule(module, graph)
        calls = {}
        for node in graph.nodes:  # an unsupported module is named before anything runs
            if node.op == "call_module" and getattr(gm.get_submodule(node.target), "convcalc_kind", None) != "merge":
                module_layer(gm.get_submodule(node.target), node.target)
                calls[node.target] = calls.get(node.target, 0) + 1
        for target, n in calls.items():  # weight sharing would count the same weights n times
            weights = sum(p.numel() for p in gm.get_submodule(target).parameters())
            if n > 1 and weights:
                raise TorchError(f"module {target!r} is called {n} times with the same {weights:,} weights: convcalc "
                                 "gives every call its own weights, so shared weights are not supported")
        try:
            import contextlib
            import io

            with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints tracebacks
                # batch 2: a batch of one breaks training-style norms (BatchNorm1d without running stats)
                ShapeProp(gm).propagate(torch.zeros(2, *shape))
        except Exception as e:
            cause = e.__cause__ or e  # ShapeProp wraps the error of the node that failed
            text = str(cause).splitlines()[0] if str(cause) else ""
            raise TorchError(f"{type(module).__name__} does not run on input 2x{'x'.join(map(str, shape))}: "
                             f"{type(cause).__name__}: {text}") from None
    finally:
        module.train(was_training)
    infos, order, torch_shapes = _convert_nodes(gm)
    net = _series_parallel(infos, order)
    model = Model(name or type(module).__name__, net, shape, f"traced from {type(module).__name__} with torch.fx")
    used = sum(p.numel() for t in calls for p in gm.get_submodule(t).parameters())
    total = sum(p.numel() for p in module.parameters())
    if total != used:  # submodules or bare parameters the forward never touches
        model.warnings.append(f"{total - used:,} of the module's {total:,} parameters are never used by its forward "
                              "(they are not counted)")
    _check_shapes(model, torch_shapes)
    return model


def _meta_shape(node):
    tm = node.meta.get("tensor_meta")
    return tuple(tm.shape) if tm is not None and hasattr(tm, "shape") else None


def _is_batch_size(arg) -> bool:
    """``x.size(0)`` or ``x.shape[0]`` in a traced graph."""
    import operator

    torch = _torch()
    if not isinstance(arg, torch.fx.Node):
        return False
    if arg.op == "call_method" and arg.target == "size" and tuple(arg.args[1:2]) == (0,):
        return True
    if arg.op == "call_function" and arg.target is operator.getitem and arg.args[1] == 0:
        base = arg.args[0]
        return isinstance(base, torch.fx.Node) and (
            (base.op == "call_function" and base.target is getattr and base.args[1] == "shape")
            or (base.op == "call_method" and base.target == "size" and len(base.args) == 1))
    return False


def _convert_nodes(gm):
    torch = _torch()
    unary, methods, merges, passthrough = _functions()
    infos, order, torch_shapes = {}, [], {}
    inputs = []

    def where(node):
        s = _scope(node)
        return f"{s}: " if s else ""

    def src_of(node, arg):
        if not isinstance(arg, torch.fx.Node) or arg not in infos or infos[arg].what == "meta":
            raise TorchError(f"{where(node)}{node.target if isinstance(node.target, str) else node.name}: "
                             f"expected a tensor computed from the input, got {arg!r}")
        info = infos[arg]
        while info.what == "pass":
            arg = info.src
            info = infos[arg]
        return arg

    def op_text(node):
        t = node.target
        if node.op == "call_method":
            return f"Tensor.{t}"
        mod = getattr(t, "__module__", None) or ""
        return f"{mod + '.' if mod else ''}{getattr(t, '__name__', str(t))}"

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if inputs:
                raise TorchError(f"forward takes several inputs ({inputs[0].name}, {node.name}); convcalc needs one")
            inputs.append(node)
            infos[node] = _Node("input")
            order.append(node)
            continue
        if node.op == "output":
            out = node.args[0]
            if not isinstance(out, torch.fx.Node):
                raise TorchError("forward must return one tensor (not a tuple or dict)")
            infos[node] = _Node("pass", src=src_of(node, out))
            order.append(node)
            continue
        if node.op == "get_attr":
            raise TorchError(f"{where(node)}the forward uses the tensor attribute {node.target!r} directly; only "
                             f"modules and functions of the input can be counted")
        scope = _scope(node)
        row = node.target if node.op == "call_module" else (f"{scope}.{_base(node.name)}" if scope
                                                            else _base(node.name))
        shape = _meta_shape(node)
        if node.op == "call_module" and getattr(gm.get_submodule(node.target), "convcalc_kind", None) == "merge":
            m = gm.get_submodule(node.target)
            dim = m.dim - 1 if m.dim > 0 else m.dim
            infos[node] = _Node("merge", srcs=[src_of(node, a) for a in node.args], combine=m.op,
                                dim=dim if m.op == "cat" else 0, name=node.target)
        elif node.op == "call_module":
            m = gm.get_submodule(node.target)
            layer = module_layer(m, node.target)
            infos[node] = _Node("layer", src=src_of(node, node.args[0]), layer=layer, name=row)
        elif node.op in ("call_function", "call_method"):
            t = node.target
            key = t
            if node.op == "call_function" and t is getattr and len(node.args) > 1 and \
                    node.args[1] in ("shape", "ndim", "dtype", "device"):
                infos[node] = _Node("meta")
                continue
            if node.op == "call_method" and t in ("size", "dim"):
                infos[node] = _Node("meta")
                continue
            if node.op == "call_function" and getattr(t, "__name__", "") == "getitem" and \
                    isinstance(node.args[0], torch.fx.Node) and infos.get(node.args[0]) is not None:
                base = infos[node.args[0]]
                if base.what == "meta":
                    infos[node] = _Node("meta")
                    continue
                if base.what == "split":
                    i = node.args[1]
                    sizes = base.extra
                    if not isinstance(i, int) or not -len(sizes) <= i < len(sizes):
                        raise TorchError(f"{where(node)}cannot read item {i!r} of a chunk/split")
                    i %= len(sizes)
                    start = sum(sizes[:i])
                    infos[node] = _Node("layer", src=base.src, layer=tensor.ChannelSlice(start, start + sizes[i]),
                                        name=row)
                    order.append(node)
                    torch_shapes.setdefault(row, []).append(shape)
                    continue
                idx = node.args[1]
                if isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and isinstance(idx[1], slice) \
                        and idx[1].step in (None, 1):
                    src = src_of(node, node.args[0])
                    c = _meta_shape(src)[1]
                    start, stop, _ = idx[1].indices(c)
                    infos[node] = _Node("layer", src=src, layer=tensor.ChannelSlice(start, stop), name=row)
                    order.append(node)
                    torch_shapes.setdefault(row, []).append(shape)
                    continue
                raise TorchError(f"{where(node)}unsupported indexing {node.format_node()}")
            if node.op == "call_method" and t in ("chunk", "split"):
                a = _bind(("n" if t == "chunk" else "size", "dim"), node.args[1:], node.kwargs, {"dim": 0})
                src = src_of(node, node.args[0])
                full = _meta_shape(src)
                if a["dim"] not in (1, 1 - len(full)):
                    raise TorchError(f"{where(node)}Tensor.{t} along dim {a['dim']}: only the channel dim (1) "
                                     f"is supported")
                c = full[1]
                if t == "chunk":
                    step = -(-c // a["n"])
                    sizes = [min(step, c - s) for s in range(0, c, step)]
                else:
                    sz = a["size"]
                    sizes = list(sz) if isinstance(sz, (list, tuple)) else [min(sz, c - s) for s in range(0, c, sz)]
                infos[node] = _Node("split", src=src, extra=sizes)
                continue
            if node.op == "call_method" and t in passthrough:
                infos[node] = _Node("pass", src=src_of(node, node.args[0]))
                continue
            if node.op == "call_method" and t in ("view", "reshape") or t is torch.reshape:
                dims = node.args[1:] if node.op == "call_method" else node.args[1:2]
                if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
                    dims = tuple(dims[0])
                src = src_of(node, node.args[0])
                if len(dims) == 2 and _is_batch_size(dims[0]) and shape is not None and len(shape) == 2 and \
                        (dims[1] == -1 or dims[1] == shape[1]):
                    infos[node] = _Node("layer", src=src, layer=linear.Flatten(1), name=row)
                else:
                    raise TorchError(f"{where(node)}unsupported {op_text(node)}{tuple(dims)}: only "
                                     f"x.{t}(batch, -1) (a flatten) is understood")
            elif key in merges or (node.op == "call_method" and t in ("add", "mul")):
                combine = merges[key]
                if combine == "cat":
                    a = _bind(("tensors", "dim"), node.args, node.kwargs, {"dim": 0})
                    tensors, dim = a["tensors"], a["dim"]
                    if dim == 0:
                        raise TorchError(f"{where(node)}torch.cat along the batch dim is not supported")
                    srcs = [src_of(node, x) for x in tensors]
                    dim = dim - 1 if dim > 0 else dim
                else:
                    other = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
                    if not isinstance(other, torch.fx.Node) or infos.get(other) is None or \
                            infos[other].what == "meta" or node.kwargs.get("alpha", 1) != 1:
                        raise TorchError(f"{where(node)}unsupported {op_text(node)} with a constant "
                                         f"({node.format_node()}); only tensor + tensor / tensor * tensor merge "
                                         f"branches")
                    srcs = [src_of(node, node.args[0]), src_of(node, other)]
                    dim = 0
                if len(srcs) == 1:
                    infos[node] = _Node("pass", src=srcs[0])
                    continue
                infos[node] = _Node("merge", srcs=srcs, combine=combine, dim=dim,
                                    name=f"{scope}.{combine}" if scope else combine)
                row = infos[node].name
            else:
                table = methods if node.op == "call_method" else unary
                if key not in table:
                    raise TorchError(f"{where(node)}unsupported operation {op_text(node)} ({node.format_node()}); "
                                     f"convcalc cannot count it")
                build, names = table[key]
                if names == "*dims":
                    a = {"dims": tuple(node.args[1:]) or node.kwargs.get("dims")}
                else:
                    a = _bind(names, node.args[1:], node.kwargs)
                if key is torch.flatten or (node.op == "call_method" and t == "flatten"):
                    a.setdefault("start_dim", 0)
                try:
                    layer = build(a)
                except ConvcalcError as e:
                    raise TorchError(f"{where(node)}{op_text(node)}: {e}") from None
                infos[node] = _Node("layer", src=src_of(node, node.args[0]), layer=layer, name=row)
        else:  # pragma: no cover - fx has no other ops
            raise TorchError(f"unsupported fx node {node.format_node()}")
        order.append(node)
        torch_shapes.setdefault(row, []).append(shape)
    return infos, order, torch_shapes


def _series_parallel(infos, order) -> Sequential:
    """Rebuild nested Sequential / Parallel blocks from the node graph (see the module docstring)."""
    index = {n: i for i, n in enumerate(order)}
    preds = {}
    for n in order:
        info = infos[n]
        preds[n] = [] if info.what == "input" else (info.srcs if info.what == "merge" else [info.src])
    consumers = {n: 0 for n in order}
    for n in order:
        for p in preds[n]:
            consumers[p] = consumers.get(p, 0) + 1
    # dominators, in topological order
    dom = {}
    for n in order:
        ps = preds[n]
        if not ps:
            dom[n] = {n}
        else:
            common = set(dom[ps[0]])
            for p in ps[1:]:
                common &= dom[p]
            dom[n] = common | {n}
    idom = {n: max((d for d in dom[n] if d is not n), key=index.get, default=None) for n in order}
    emitted = set()

    def chain(src, dst):
        steps = []
        node = dst
        while node is not src:
            info = infos[node]
            if info.what == "input" or index[node] < index[src]:
                raise TorchError(f"{infos[dst].name or dst.name}: the graph is not series-parallel (branches that do "
                                 f"not meet again in one add / cat / mul); convcalc cannot represent it")
            if node in emitted:
                raise TorchError(f"{info.name or node.name}: its output is used by branches that do not nest "
                                 f"(not a series-parallel graph); convcalc cannot represent it")
            emitted.add(node)
            if info.what == "layer":
                steps.append((info.name, info.layer))
                node = info.src
            elif info.what == "pass":
                node = info.src
            else:
                fork = idom[node]
                srcs = []
                todo = list(info.srcs)
                while todo:  # a + b + c -> one merge of three branches
                    s = todo.pop(0)
                    si = infos[s]
                    if s is not fork and si.what == "merge" and si.combine == info.combine and si.dim == info.dim \
                            and idom[s] is fork and consumers[s] == 1 and s not in emitted:
                        emitted.add(s)
                        todo = list(si.srcs) + todo
                        continue
                    srcs.append(s)
                branches = []
                for s in srcs:
                    sub = chain(fork, s)
                    branches.append(("", Sequential(*sub) if sub else None))
                steps.append(("", Parallel(branches, combine=info.combine, dim=info.dim, merge_name=info.name)))
                node = fork
        return steps[::-1]

    out = order[-1]
    steps = chain(order[0], out)
    left = [n for n in order if infos[n].what in ("layer", "merge") and n not in emitted]
    if left:
        n = left[0]
        raise TorchError(f"{infos[n].name or n.name}: its output does not reach the model output (a side output or "
                         f"unused branch); convcalc counts the path to the output only")
    return Sequential(*steps)


def _check_shapes(model, torch_shapes) -> None:
    from ..analyze import analyze

    report = analyze(model)
    seen = {}
    for r in report.rows:
        i = seen.get(r.name, 0)
        seen[r.name] = i + 1
        got = torch_shapes.get(r.name, [])
        if i < len(got) and got[i] is not None and tuple(got[i][1:]) != tuple(r.output):
            raise TorchError(f"{r.name}: torch gives {'x'.join(map(str, got[i][1:]))} but convcalc "
                             f"{'x'.join(map(str, r.output))}: the conversion of this op is wrong")


# -- convcalc -> PyTorch source ------------------------------------------------------------------------
_HELPERS = {
    "block": '''class Block(nn.Module):
    """Layers run in the order given by `flow`: a name calls that layer; ("add" | "mul" | "cat",
    [branch, ...], dim) runs every branch (a list of steps; [] is the input itself) on the same
    input and adds, multiplies or concatenates the results."""

    def __init__(self, layers, flow):
        super().__init__()
        for name, layer in layers:
            self.add_module(name, layer)
        self.flow = flow

    def forward(self, x):
        return self.run(self.flow, x)

    def run(self, flow, x):
        for step in flow:
            if isinstance(step, str):
                x = getattr(self, step)(x)
                continue
            op, branches, dim = step[:3]
            outs = [self.run(branch, x) for branch in branches]
            if len(step) > 3:  # a named merge module
                x = getattr(self, step[3])(*outs)
            elif op == "cat":
                x = torch.cat(outs, dim)
            else:
                x = outs[0]
                for y in outs[1:]:
                    x = x + y if op == "add" else x * y
        return x
''',
    "merge": '''class Merge(nn.Module):
    """A named merge of branch outputs: add, mul or cat along `dim`."""
    convcalc_kind = "merge"

    def __init__(self, op, dim=1):
        super().__init__()
        self.op, self.dim = op, dim

    def forward(self, *xs):
        if self.op == "cat":
            return torch.cat(xs, self.dim)
        y = xs[0]
        for x in xs[1:]:
            y = y + x if self.op == "add" else y * x
        return y
''',
    "layerscale": '''class LayerScale(nn.Module):
    """A learnable per-channel scale."""
    convcalc_kind = "layerscale"

    def __init__(self, channels, init=1e-6):
        super().__init__()
        self.convcalc_args = {"channels": channels, "init": init}
        self.weight = nn.Parameter(torch.full((channels, 1, 1), float(init)))

    def forward(self, x):
        return x * self.weight
''',
    "layernorm2d": '''class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N, C, H, W tensor."""
    convcalc_kind = "layernorm2d"

    def __init__(self, num_channels, eps=1e-6, elementwise_affine=True):
        super().__init__(num_channels, eps=eps, elementwise_affine=elementwise_affine)
        self.convcalc_args = {"num_channels": num_channels, "eps": eps, "elementwise_affine": elementwise_affine}

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
''',
    "channelslice": '''class ChannelSlice(nn.Module):
    """Channels start:stop of the input."""
    convcalc_kind = "channelslice"

    def __init__(self, start, stop):
        super().__init__()
        self.convcalc_args = {"start": start, "stop": stop}

    def forward(self, x):
        return x[:, self.convcalc_args["start"]:self.convcalc_args["stop"]]
''',
    "permute": '''class Permute(nn.Module):
    """x.permute(*dims)."""
    convcalc_kind = "permute"

    def __init__(self, dims):
        super().__init__()
        self.convcalc_args = {"dims": tuple(dims)}

    def forward(self, x):
        return x.permute(*self.convcalc_args["dims"])
''',
    "stochasticdepth": '''class StochasticDepth(nn.Module):
    """Drops the whole branch while training (torchvision.ops.StochasticDepth); identity here."""
    convcalc_kind = "stochasticdepth"

    def __init__(self, p, mode="row"):
        super().__init__()
        self.convcalc_args = {"p": p, "mode": mode}

    def forward(self, x):
        return x
''',
    "centercrop": '''class CenterCrop(nn.Module):
    """Cut the spatial axes around the centre (U-Net's copy and crop)."""
    convcalc_kind = "centercrop"

    def __init__(self, size=None, border=None):
        super().__init__()
        self.convcalc_args = {"size": size, "border": border}

    def forward(self, x):
        size, border = self.convcalc_args["size"], self.convcalc_args["border"]
        index = [slice(None), slice(None)]
        for i, n in enumerate(x.shape[2:]):
            want = (size[i] if isinstance(size, (list, tuple)) else size) if size is not None else \\
                n - 2 * (border[i] if isinstance(border, (list, tuple)) else border)
            start = (n - want) // 2
            index.append(slice(start, start + want))
        return x[tuple(index)]
''',
}


def _arg(v) -> str:
    """Python text for an argument: tuples with equal entries collapse to an int."""
    if isinstance(v, tuple) and v and all(x == v[0] for x in v) and not isinstance(v[0], tuple):
        return repr(v[0])
    return repr(v)


def _kw(pairs) -> str:
    return ", ".join(f"{k}={_arg(v)}" for k, v, default in pairs if v != default and _arg(v) != repr(default))


def _call(cls: str, positional, pairs) -> str:
    parts = [_arg(p) for p in positional]
    kw = _kw(pairs)
    return f"{cls}({', '.join(parts + ([kw] if kw else []))})"


def layer_source(layer: Layer, shape: tuple, helpers: set) -> str:
    """``nn.Conv2d(3, 64, kernel_size=7, ...)`` for a convcalc layer on input ``shape``."""
    from ..sym import is_sym

    k = layer.kind
    if isinstance(layer, conv._ConvNd):
        name = {"conv": "Conv", "convtranspose": "ConvTranspose"}[k[:-2]] + k[-2:]
        name = name[:-1] + "d"
        if any(lo != hi for lo, hi in layer.pads) and not isinstance(layer.padding, str):
            raise ConvcalcError(f"{k}: padding {layer.padding} (different before and after) has no torch.nn "
                                f"equivalent")
        padding = layer.padding if isinstance(layer.padding, str) else tuple(lo for lo, _ in layer.pads)
        pairs = [("stride", layer.stride, 1), ("padding", padding, 0)]
        if layer.transposed:
            pairs.append(("output_padding", layer.output_padding, 0))
        pairs += [("dilation", layer.dilation, 1), ("groups", layer.groups, 1), ("bias", layer.bias, True),
                  ("padding_mode", layer.padding_mode, "zeros")]
        kernel = f"kernel_size={_arg(layer.kernel_size)}"
        rest = _kw(pairs)
        return f"nn.{name}({shape[0]}, {layer.out_channels}, {kernel}{', ' + rest if rest else ''})"
    cls = type(layer).__name__
    if isinstance(layer, pool._AdaptivePoolNd):
        return f"nn.{cls}({_arg(layer.output_size)})"
    if isinstance(layer, pool._AvgPoolNd):
        pairs = [("stride", layer.stride, layer.kernel_size), ("padding", layer.padding, 0),
                 ("ceil_mode", layer.ceil_mode, False), ("count_include_pad", layer.count_include_pad, True),
                 ("divisor_override", layer.divisor_override, None)]
        return _call(f"nn.{cls}", [layer.kernel_size], pairs)
    if isinstance(layer, pool._PoolNd):
        pairs = [("stride", layer.stride, layer.kernel_size), ("padding", layer.padding, 0),
                 ("dilation", layer.dilation, 1), ("ceil_mode", layer.ceil_mode, False)]
        return _call(f"nn.{cls}", [layer.kernel_size], pairs)
    if isinstance(layer, linear.Linear):
        return _call("nn.Linear", [shape[-1], layer.out_features], [("bias", layer.bias, True)])
    if isinstance(layer, linear.Flatten):
        return _call("nn.Flatten", [], [("start_dim", layer.start_dim, 1), ("end_dim", layer.end_dim, -1)])
    if isinstance(layer, norm._InstanceNorm):
        return _call(f"nn.{cls}", [shape[0]], [("eps", layer.eps, 1e-5), ("momentum", layer.momentum, 0.1),
                                               ("affine", layer.affine, False),
                                               ("track_running_stats", layer.track_running_stats, False)])
    if isinstance(layer, norm._BatchNorm):
        return _call(f"nn.{cls}", [shape[0]], [("eps", layer.eps, 1e-5), ("momentum", layer.momentum, 0.1),
                                               ("affine", layer.affine, True),
                                               ("track_running_stats", layer.track_running_stats, True)])
    if isinstance(layer, norm.LayerNorm):
        ns = layer.normalized_shape
        return _call("nn.LayerNorm", [list(ns) if len(ns) > 1 else ns[0]],
                     [("eps", layer.eps, 1e-5), ("elementwise_affine", layer.elementwise_affine, True),
                      ("bias", layer.bias, True)])
    if isinstance(layer, norm.GroupNorm):
        return _call("nn.GroupNorm", [layer.num_groups, shape[0]], [("eps", layer.eps, 1e-5),
                                                                     ("affine", layer.affine, True)])
    if isinstance(layer, norm.LocalResponseNorm):
        return _call("nn.LocalResponseNorm", [layer.size], [("alpha", layer.alpha, 1e-4), ("beta", layer.beta, 0.75),
                                                            ("k", layer.k, 1.0)])
    if isinstance(layer, act.StochasticDepth):
        helpers.add("stochasticdepth")
        return _call("StochasticDepth", [layer.p], [("mode", layer.mode, "row")])
    if isinstance(layer, act.Dropout):
        return _call(f"nn.{cls}", [], [("p", layer.p, 0.5)])
    if isinstance(layer, act.LeakyReLU):
        return _call("nn.LeakyReLU", [], [("negative_slope", layer.negative_slope, 0.01)])
    if isinstance(layer, act.ELU):
        return _call("nn.ELU", [], [("alpha", layer.alpha, 1.0)])
    if isinstance(layer, act.GELU):
        return _call("nn.GELU", [], [("approximate", layer.approximate, "none")])
    if isinstance(layer, act.PReLU):
        return _call("nn.PReLU", [], [("num_parameters", layer.num_parameters, 1), ("init", layer.init, 0.25)])
    if isinstance(layer, act._SoftmaxBase):
        return _call(f"nn.{cls}", [], [("dim", layer.dim, None)])
    if type(layer) in (act.ReLU, act.ReLU6, act.Sigmoid, act.Tanh, act.Hardswish, act.Hardsigmoid, act.SiLU,
                       act.Identity):
        return f"nn.{cls}()"
    if isinstance(layer, tensor.ChannelShuffle):
        return f"nn.ChannelShuffle({layer.groups})"
    if isinstance(layer, tensor.Upsample):
        return _call("nn.Upsample", [], [("size", _tup(layer.size), None),
                                         ("scale_factor", layer.scale_factor, None),
                                         ("mode", layer.mode, "nearest"), ("align_corners", layer.align_corners, None)])
    if isinstance(layer, tensor.LayerScale):
        helpers.add("layerscale")
        return _call("LayerScale", [shape[0]], [("init", layer.init, 1e-6)])
    if isinstance(layer, tensor.LayerNorm2d):
        helpers.add("layernorm2d")
        return _call("LayerNorm2d", [shape[0]], [("eps", layer.eps, 1e-6),
                                                  ("elementwise_affine", layer.elementwise_affine, True)])
    if isinstance(layer, tensor.ChannelSlice):
        helpers.add("channelslice")
        return f"ChannelSlice({layer.start}, {layer.stop})"
    if isinstance(layer, tensor.Permute):
        helpers.add("permute")
        return f"Permute({layer.dims!r})"
    if isinstance(layer, tensor.CenterCrop):
        helpers.add("centercrop")
        return _call("CenterCrop", [], [("size", layer.size, None), ("border", layer.border, None)])
    if any(is_sym(d) for d in shape):
        raise ConvcalcError(f"{k}: export needs a numeric input shape")
    raise ConvcalcError(f"{k}: no PyTorch equivalent known for this layer kind")


class _Exporter:
    """Walks a convcalc network in the analyser's order, with each layer's input shape from the report."""

    def __init__(self, report):
        self.rows = list(report.rows)
        self.i = 0
        self.helpers = set()

    def next_row(self):
        row = self.rows[self.i]
        self.i += 1
        return row

    def container(self, module):
        """Code for a named child that is a block: nn.Sequential, or Block when branches meet."""
        attrs, flow = OrderedDict(), []
        self.build(module, attrs, flow)
        names = list(attrs)
        if flow == names:
            items = [(n, c) for n, (c, _) in attrs.items()]
            if names == [str(i) for i in range(len(names))]:
                return ("seq", items, True)
            return ("seq", items, False)
        self.helpers.add("block")
        return ("block", [(n, c) for n, (c, _) in attrs.items()], flow)

    def add(self, attrs, name, code, stateless):
        name = name.replace(".", "_")
        if name in attrs:
            old, old_stateless = attrs[name]
            if old == code and stateless and old_stateless:
                return name  # a stateless layer called twice (torchvision's one `relu` module)
            i = 2
            while f"{name}_{i}" in attrs:
                i += 1
            name = f"{name}_{i}"
        attrs[name] = (code, stateless)
        return name

    def build(self, module, attrs, flow):
        """Add the parts of ``module`` (named "" by its parent: inlined) to ``attrs`` / ``flow``."""
        if isinstance(module, Sequential):
            for name, child in module.children:
                self.child(name, child, attrs, flow)
        elif isinstance(module, Parallel):
            branches = []
            for bi, (name, child) in enumerate(module.branches):
                bflow = []
                if child is None:
                    pass
                elif name == "" and not isinstance(child, Layer):
                    self.build(child, attrs, bflow)
                else:
                    self.child(name or f"branch{bi}", child, attrs, bflow)
                branches.append(bflow)
            self.next_row()  # the merge row
            dim = module.dim + 1 if module.dim >= 0 else module.dim
            if module.merge_name != module.combine:  # a merge row with its own name: a Merge module
                self.helpers.add("merge")
                code = f"Merge({module.combine!r}{', ' + str(dim) if module.combine == 'cat' else ''})"
                flow.append((module.combine, branches, dim, self.add(attrs, module.merge_name, code, True)))
            else:
                flow.append((module.combine, branches, dim))
            for name, child in module.post:
                self.child(name, child, attrs, flow)
        else:
            raise ConvcalcError(f"cannot export {type(module).__name__}")

    def child(self, name, child, attrs, flow):
        if isinstance(child, Layer):
            row = self.next_row()
            code = layer_source(child, row.input, self.helpers)
            stateless = not child.weight_shapes(row.input) and not child.buffer_shapes(row.input)
            flow.append(self.add(attrs, name or child.kind, code, stateless))
        elif name == "":
            self.build(child, attrs, flow)
        else:
            flow.append(self.add(attrs, name, self.container(child), False))


def _render(code, indent: int) -> str:
    if isinstance(code, str):
        return code
    pad, inner = " " * indent, " " * (indent + 4)
    kind, items = code[0], code[1]
    if kind == "seq" and code[2]:
        body = "".join(f"{inner}{_render(c, indent + 4)},\n" for _, c in items)
        return f"nn.Sequential(\n{body}{pad})"
    body = "".join(f"{inner}({n!r}, {_render(c, indent + 4)}),\n" for n, c in items)
    if kind == "seq":
        return f"nn.Sequential(OrderedDict([\n{body}{pad}]))"
    return f"Block([\n{body}{pad}], flow={code[2]!r})"


def _attr(name: str) -> str:
    ok = name.isidentifier() and not keyword.iskeyword(name) and name not in ("forward", "training")
    return f"self.{name}" if ok else f"getattr(self, {name!r})"


def _forward_lines(flow, var, lines, counter, indent="        "):
    for step in flow:
        if isinstance(step, str):
            lines.append(f"{indent}{var} = {_attr(step)}({var})")
            continue
        op, branches, dim = step[:3]
        outs = []
        for b in branches:
            counter[0] += 1
            v = f"b{counter[0]}"
            if b:
                lines.append(f"{indent}{v} = {var}")
                _forward_lines(b, v, lines, counter, indent)
                outs.append(v)
            else:
                outs.append(var)
        if len(step) > 3:
            lines.append(f"{indent}{var} = {_attr(step[3])}({', '.join(outs)})")
        elif op == "cat":
            lines.append(f"{indent}{var} = torch.cat([{', '.join(outs)}], {dim})")
        else:
            lines.append(f"{indent}{var} = {(' + ' if op == 'add' else ' * ').join(outs)}")


def to_torch_source(model, input=None, class_name: str = "Net", source: Optional[str] = None) -> str:
    """A standalone Python file defining ``class Net(nn.Module)`` for ``model`` (a zoo ``Model`` or
    a Sequential/Parallel with ``input``)."""
    from ..analyze import analyze
    from ..sym import is_sym

    net = getattr(model, "net", model)
    shape = tuple(input if input is not None else getattr(model, "input", None) or ())
    if not shape:
        raise ConvcalcError("export needs an input shape")
    if any(is_sym(d) for d in shape):
        raise ConvcalcError("export needs a numeric input shape (give --input 3x224x224)")
    if isinstance(net, Layer) or isinstance(net, Parallel):
        net = Sequential((net.kind if isinstance(net, Layer) else "", net))
    report = analyze(net, shape)
    ex = _Exporter(report)
    attrs, flow = OrderedDict(), []
    ex.build(net, attrs, flow)
    name = getattr(model, "name", "model")
    t = report.totals
    head = [f'"""{name}: a PyTorch module written by convcalc{f" from {source}" if source else ""}.',
            "",
            f"Input {'x'.join(map(str, shape))} per sample; {t['params']:,} parameters, {t['buffers']:,} buffers, "
            f"{t['macs']:,} MACs",
            '(multiply-accumulates of conv and linear weights). Module names equal convcalc\'s row names."""',
            "import torch", "from torch import nn"]
    parts = []
    for h in _HELPERS:
        if h in ex.helpers:
            parts.append(_HELPERS[h].rstrip("\n"))
    names = list(attrs)
    if flow == names:
        items = [(n, c) for n, (c, _) in attrs.items()]
        if names == [str(i) for i in range(len(names))]:
            body = "".join(f"            {_render(c, 12)},\n" for _, c in items)
            init = f"        super().__init__(\n{body}        )"
        else:
            body = "".join(f"            ({n!r}, {_render(c, 12)}),\n" for n, c in items)
            init = f"        super().__init__(OrderedDict([\n{body}        ]))"
        cls = (f"class {class_name}(nn.Sequential):\n    \"\"\"{name}.\"\"\"\n\n    def __init__(self):\n{init}\n")
    else:
        lines = [f"class {class_name}(nn.Module):", f'    """{name}."""', "", "    def __init__(self):",
                 "        super().__init__()"]
        for n, (c, _) in attrs.items():
            code = _render(c, 8)
            if _attr(n).startswith("self."):
                lines.append(f"        self.{n} = {code}")
            else:
                lines.append(f"        self.add_module({n!r}, {code})")
        lines += ["", "    def forward(self, x):"]
        _forward_lines(flow, "x", lines, [0])
        lines.append("        return x")
        cls = "\n".join(lines) + "\n"
    demo = (f"if __name__ == \"__main__\":\n    net = {class_name}().eval()\n"
            f"    y = net(torch.zeros(1, {', '.join(map(str, shape))}))\n"
            f"    print(tuple(y.shape[1:]), sum(p.numel() for p in net.parameters()), \"parameters\")\n")
    text = "\n\n\n".join(["\n".join(head), *parts, cls.rstrip("\n"), demo])
    if "OrderedDict(" in text:
        text = text.replace("\nimport torch\n", "\nfrom collections import OrderedDict\n\nimport torch\n", 1)
    return text
