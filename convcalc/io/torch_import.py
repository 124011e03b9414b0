"""PyTorch in (the optional ``torch`` extra; torch is imported only inside functions).

``from_torch(module, input_shape)`` traces a ``torch.nn.Module`` with ``torch.fx`` and rebuilds it as
a :class:`~convcalc.graph.Graph` of convcalc layers: any directed acyclic graph (a tensor used by
many consumers, DenseNet's growing concatenations). Rows are named after the torch modules'
qualified names; functional ops after the module they run in (``layer1.0.add``). Nodes are ordered
as a depth-first walk from the output (each input's path before the op), which for series-parallel
networks is the order of their nested blocks. An op convcalc cannot count is an error naming the op
and the module path, never a silent zero. The converted network is then checked against the shapes
``torch.fx``'s shape propagation gives, node by node.

How a torch module becomes a layer is registered by class in
:data:`convcalc.io.torch_ops.TORCH_MODULES`.
"""
from __future__ import annotations

import re
from typing import Optional

from ..errors import ConvcalcError
from ..graph import Graph
from ..layers import linear, tensor
from ..layers.merge import COMBINE
from ..zoo import Model
from .torch_ops import TORCH_MODULES, TorchError, _bind, _torch, functions, module_layer, torch_modules  # noqa: F401

__all__ = ["from_torch", "TorchError", "TORCH_MODULES", "to_torch_source"]


class _Node:
    """What one fx node is to convcalc: the input, a layer on one source, a merge, or a pass-through."""

    def __init__(self, what, src=None, layer=None, srcs=(), combine=None, dim=0, name="", extra=None):
        self.what, self.src, self.layer, self.srcs = what, src, layer, list(srcs)
        self.combine, self.dim, self.name, self.extra = combine, dim, name, extra


def _scope(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    last = list(stack.values())[-1]
    return last[0] if isinstance(last, tuple) else str(last)


def _base(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def _trace(module, shape):
    """The fx GraphModule with shapes propagated at batch 2, and how often each module is called."""
    torch = _torch()
    import torch.fx as fx
    from torch.fx.passes.shape_prop import ShapeProp

    modules = torch_modules()  # a registered module class is a leaf even outside torch.nn

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return hasattr(m, "convcalc_kind") or m in modules or super().is_leaf_module(m, qualname)

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
    return gm, calls


def from_torch(module, input_shape, name: Optional[str] = None) -> Model:
    """Trace ``module`` (a ``torch.nn.Module``) for per-sample ``input_shape`` ``(C, *spatial)``."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise ConvcalcError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(input_shape)
    if not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in shape):
        raise ConvcalcError(f"from_torch needs a numeric input shape (C, *spatial), got {input_shape!r}")
    was_training = module.training
    module.eval()
    try:
        gm, calls = _trace(module, shape)
    finally:
        module.train(was_training)
    conv = _Converter(gm)
    conv.run()
    graph, torch_shapes = _build_graph(conv.infos, conv.order, conv.shapes, conv.output)
    model = Model(name or type(module).__name__, graph, shape, f"traced from {type(module).__name__} with torch.fx")
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


def _op_text(node) -> str:
    t = node.target
    if node.op == "call_method":
        return f"Tensor.{t}"
    mod = getattr(t, "__module__", None) or ""
    return f"{mod + '.' if mod else ''}{getattr(t, '__name__', str(t))}"


def _where(node) -> str:
    s = _scope(node)
    return f"{s}: " if s else ""


class _Converter:
    """Reads the fx graph node by node into ``infos`` (fx node -> :class:`_Node`); ``order`` lists
    the nodes that make rows or merges, ``shapes`` torch's output shape of each."""

    def __init__(self, gm):
        self.gm = gm
        self.fx = _torch().fx
        self.unary, self.methods, self.merges, self.passthrough = functions()
        self.infos, self.order, self.shapes = {}, [], {}
        self.inputs, self.output = [], None

    def src_of(self, node, arg):
        info = self.infos.get(arg) if isinstance(arg, self.fx.Node) else None
        if info is None or info.what == "meta":
            raise TorchError(f"{_where(node)}{node.target if isinstance(node.target, str) else node.name}: "
                             f"expected a tensor computed from the input, got {arg!r}")
        while info.what == "pass":
            arg = info.src
            info = self.infos[arg]
        return arg

    def emit(self, node, info) -> None:
        self.infos[node] = info
        self.order.append(node)
        self.shapes[node] = _meta_shape(node)

    def run(self) -> None:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if self.inputs:
                    raise TorchError(f"forward takes several inputs ({self.inputs[0].name}, {node.name}); convcalc "
                                     f"needs one")
                self.inputs.append(node)
                self.emit(node, _Node("input"))
            elif node.op == "output":
                out = node.args[0]
                if not isinstance(out, self.fx.Node):
                    raise TorchError("forward must return one tensor (not a tuple or dict)")
                self.output = self.src_of(node, out)
            elif node.op == "get_attr":
                raise TorchError(f"{_where(node)}the forward uses the tensor attribute {node.target!r} directly; "
                                 f"only modules and functions of the input can be counted")
            elif node.op == "call_module":
                self.call_module(node)
            elif node.op in ("call_function", "call_method"):
                self.call(node)
            else:  # pragma: no cover - fx has no other ops
                raise TorchError(f"unsupported fx node {node.format_node()}")

    def row(self, node) -> str:
        scope = _scope(node)
        return f"{scope}.{_base(node.name)}" if scope else _base(node.name)

    def call_module(self, node) -> None:
        m = self.gm.get_submodule(node.target)
        if getattr(m, "convcalc_kind", None) == "merge":
            dim = m.dim - 1 if m.dim > 0 else m.dim
            self.emit(node, _Node("merge", srcs=[self.src_of(node, a) for a in node.args], combine=m.op,
                                  dim=dim if m.op == "cat" else 0, name=node.target))
        else:
            layer = module_layer(m, node.target)
            self.emit(node, _Node("layer", src=self.src_of(node, node.args[0]), layer=layer, name=node.target))

    def call(self, node) -> None:
        t = node.target
        fn = node.op == "call_function"
        if fn and t is getattr and len(node.args) > 1 and node.args[1] in ("shape", "ndim", "dtype", "device") or \
                not fn and t in ("size", "dim"):
            self.infos[node] = _Node("meta")
        elif fn and getattr(t, "__name__", "") == "getitem" and isinstance(node.args[0], self.fx.Node) and \
                self.infos.get(node.args[0]) is not None:
            self.getitem(node)
        elif not fn and t in ("chunk", "split"):
            self.split(node)
        elif not fn and t in self.passthrough:
            self.infos[node] = _Node("pass", src=self.src_of(node, node.args[0]))
        elif not fn and t in ("view", "reshape") or t is _torch().reshape:
            self.reshape(node)
        elif t in self.merges or (not fn and t in ("add", "mul")):
            self.merge(node)
        else:
            self.unary_op(node)

    def getitem(self, node) -> None:
        base = self.infos[node.args[0]]
        if base.what == "meta":
            self.infos[node] = _Node("meta")
            return
        if base.what == "split":
            i, sizes = node.args[1], base.extra
            if not isinstance(i, int) or not -len(sizes) <= i < len(sizes):
                raise TorchError(f"{_where(node)}cannot read item {i!r} of a chunk/split")
            i %= len(sizes)
            start = sum(sizes[:i])
            self.emit(node, _Node("layer", src=base.src, layer=tensor.ChannelSlice(start, start + sizes[i]),
                                  name=self.row(node)))
            return
        idx = node.args[1]
        if isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and isinstance(idx[1], slice) \
                and idx[1].step in (None, 1):
            src = self.src_of(node, node.args[0])
            start, stop, _ = idx[1].indices(_meta_shape(src)[1])
            self.emit(node, _Node("layer", src=src, layer=tensor.ChannelSlice(start, stop), name=self.row(node)))
            return
        raise TorchError(f"{_where(node)}unsupported indexing {node.format_node()}")

    def split(self, node) -> None:
        t = node.target
        a = _bind(("n" if t == "chunk" else "size", "dim"), node.args[1:], node.kwargs, {"dim": 0})
        src = self.src_of(node, node.args[0])
        full = _meta_shape(src)
        if a["dim"] not in (1, 1 - len(full)):
            raise TorchError(f"{_where(node)}Tensor.{t} along dim {a['dim']}: only the channel dim (1) is supported")
        c = full[1]
        if t == "chunk":
            step = -(-c // a["n"])
            sizes = [min(step, c - s) for s in range(0, c, step)]
        else:
            sz = a["size"]
            sizes = list(sz) if isinstance(sz, (list, tuple)) else [min(sz, c - s) for s in range(0, c, sz)]
        self.infos[node] = _Node("split", src=src, extra=sizes)

    def reshape(self, node) -> None:
        t = node.target
        dims = node.args[1:] if node.op == "call_method" else node.args[1:2]
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = tuple(dims[0])
        src = self.src_of(node, node.args[0])
        shape = _meta_shape(node)
        if len(dims) == 2 and _is_batch_size(dims[0]) and shape is not None and len(shape) == 2 and \
                (dims[1] == -1 or dims[1] == shape[1]):
            self.emit(node, _Node("layer", src=src, layer=linear.Flatten(1), name=self.row(node)))
        else:
            raise TorchError(f"{_where(node)}unsupported {_op_text(node)}{tuple(dims)}: only "
                             f"x.{t}(batch, -1) (a flatten) is understood")

    def merge(self, node) -> None:
        combine = self.merges[node.target]
        if combine == "cat":
            a = _bind(("tensors", "dim"), node.args, node.kwargs, {"dim": 0})
            tensors, dim = a["tensors"], a["dim"]
            if dim == 0:
                raise TorchError(f"{_where(node)}torch.cat along the batch dim is not supported")
            srcs = [self.src_of(node, x) for x in tensors]
            dim = dim - 1 if dim > 0 else dim
        else:
            other = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
            if not isinstance(other, self.fx.Node) or self.infos.get(other) is None or \
                    self.infos[other].what == "meta" or node.kwargs.get("alpha", 1) != 1:
                raise TorchError(f"{_where(node)}unsupported {_op_text(node)} with a constant "
                                 f"({node.format_node()}); only tensor + tensor / tensor * tensor merge branches")
            srcs = [self.src_of(node, node.args[0]), self.src_of(node, other)]
            dim = 0
        if len(srcs) == 1:
            self.infos[node] = _Node("pass", src=srcs[0])
            return
        scope = _scope(node)
        self.emit(node, _Node("merge", srcs=srcs, combine=combine, dim=dim,
                              name=f"{scope}.{combine}" if scope else combine))

    def unary_op(self, node) -> None:
        t = node.target
        table = self.methods if node.op == "call_method" else self.unary
        if t not in table:
            raise TorchError(f"{_where(node)}unsupported operation {_op_text(node)} ({node.format_node()}); "
                             f"convcalc cannot count it")
        build, names = table[t]
        if names == "*dims":
            a = {"dims": tuple(node.args[1:]) or node.kwargs.get("dims")}
        else:
            a = _bind(names, node.args[1:], node.kwargs)
        if t is _torch().flatten or (node.op == "call_method" and t == "flatten"):
            a.setdefault("start_dim", 0)
        try:
            layer = build(a)
        except ConvcalcError as e:
            raise TorchError(f"{_where(node)}{_op_text(node)}: {e}") from None
        self.emit(node, _Node("layer", src=self.src_of(node, node.args[0]), layer=layer, name=self.row(node)))


def _preds(info) -> list:
    return [] if info.what == "input" else (info.srcs if info.what == "merge" else [info.src])


def _dominators(infos, order) -> dict:
    """The immediate dominator of every node (the single input dominates all)."""
    index = {n: i for i, n in enumerate(order)}
    dom = {}
    for n in order:
        ps = _preds(infos[n])
        common = set(dom[ps[0]]) if ps else set()
        for p in ps[1:]:
            common &= dom[p]
        dom[n] = common | {n}
    return {n: max((d for d in dom[n] if d is not n), key=index.get, default=None) for n in order}


def _flatten_merges(infos, order) -> None:
    """``a + b + c`` -> one merge of three inputs, where the inner merge is used once and both
    share their fork (as the nested blocks of a series-parallel graph would have it)."""
    idom = _dominators(infos, order)
    uses = {n: 0 for n in order}
    for n in order:
        for p in _preds(infos[n]):
            uses[p] += 1
    for n in reversed(order):
        info = infos[n]
        if info.what != "merge":  # (an absorbed merge is no longer used)
            continue
        srcs, todo = [], list(info.srcs)
        while todo:
            s = todo.pop(0)
            si = infos[s]
            if si.what == "merge" and si.combine == info.combine and si.dim == info.dim and \
                    idom[s] is idom[n] and uses[s] == 1 and s is not idom[n]:
                todo = list(si.srcs) + todo
                si.what = "absorbed"
                continue
            srcs.append(s)
        info.srcs = srcs


def _post_order(infos, out) -> list:
    """Nodes reaching ``out``, each after its inputs, inputs taken in argument order."""
    seen, order, stack = set(), [], [(out, 0)]
    while stack:
        node, i = stack.pop()
        preds = _preds(infos[node])
        if i < len(preds):
            stack.append((node, i + 1))
            if preds[i] not in seen:
                seen.add(preds[i])
                stack.append((preds[i], 0))
        elif node not in order:
            order.append(node)
    return order


def _build_graph(infos, order, shapes, out):
    """The Graph of the converted nodes, and torch's per-sample output shape by node key."""
    _flatten_merges(infos, order)
    walk = _post_order(infos, out)
    reached = set(walk)
    left = [n for n in order if infos[n].what in ("layer", "merge") and n not in reached]
    if left:
        n = left[0]
        raise TorchError(f"{infos[n].name or n.name}: its output does not reach the model output (a side output or "
                         f"unused branch); convcalc counts the path to the output only")
    graph = Graph()
    keys, torch_shapes = {}, {}
    for n in walk:
        info = infos[n]
        if info.what == "input":
            keys[n] = graph.inputs[0]
            continue
        if info.what == "merge":
            layer = COMBINE[info.combine](n=len(info.srcs), **({"dim": info.dim} if info.combine == "cat" else {}))
            keys[n] = graph.add(info.name, layer, [keys[s] for s in info.srcs], implicit=True)
        else:
            keys[n] = graph.add(info.name, info.layer, [keys[info.src]])
        torch_shapes[keys[n]] = shapes.get(n)
    graph.outputs = [keys[walk[-1]]]
    return graph, torch_shapes


def _check_shapes(model, torch_shapes) -> None:
    from ..analyze import analyze

    report = analyze(model)
    for r in report.rows:
        got = torch_shapes.get(r.key)
        if got is not None and tuple(got[1:]) != tuple(r.output):
            raise TorchError(f"{r.name}: torch gives {'x'.join(map(str, got[1:]))} but convcalc "
                             f"{'x'.join(map(str, r.output))}: the conversion of this op is wrong")


def to_torch_source(*args, **kwargs):
    """Export to PyTorch source (kept here for old imports; see :mod:`convcalc.io.export`)."""
    from .export import to_torch_source as write

    return write(*args, **kwargs)
