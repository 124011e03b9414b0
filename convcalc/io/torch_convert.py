"""From a traced fx graph to a convcalc Graph (see :mod:`convcalc.io.torch_import`).

:class:`Converter` runs the graph twice on meta tensors (batch 2 and 3) to learn every node's shape
and where its batch dim is, then maps each node to a layer. Values flowing along fx nodes are
``_T`` (a tensor that depends on the input: a graph node and its per-sample shape), ``_C`` (a
tensor that does not: parameters, buffers, constants, with the parameters and MACs that made it),
``_M`` (several tensors: chunk, split, a module returning a tuple) or None (sizes, flags).
"""
from __future__ import annotations

import collections
import dataclasses
import math
import re

from ..errors import ConvcalcError
from ..graph import Graph, to_graph
from ..layers.base import Layer
from ..layers import linear, ops, tensor
from ..layers.merge import COMBINE
from .torch_export import scope as _scope
from .torch_meta import function_result as meta_function, method_result as meta_method
from .torch_ops import (CREATE, ELEMENTWISE, MATMUL, REDUCE, SHAPE_ONLY, TorchError, _torch, functions, macs_rule,
                        module_layer, op_name, registered, torch_modules)


#: shape-only ops that are the identity when the shape does not change
_SAME = frozenset("""cat concat concatenate contiguous clone detach float half double to type type_as dropout
dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout stochastic_depth identity view reshape view_as
reshape_as flatten expand expand_as squeeze unsqueeze unflatten pad""".split())


class _T:
    def __init__(self, key, ps, bdim, drop, full):
        self.key, self.ps, self.bdim, self.drop, self.full = key, ps, bdim, drop, full

    def dim(self, d):
        """Per-sample index of torch dim ``d`` (None for the batch dim when it is dropped)."""
        n = len(self.full)
        d = d % n if n else d
        if d == self.bdim:
            return None if self.drop else d
        return d - 1 if self.drop and d > self.bdim else d


class _C:
    def __init__(self, params=None, macs=0):
        self.params, self.macs = dict(params or {}), macs


class _M:
    def __init__(self, items):
        self.items = items


def _per_sample(s2, s3):
    """(per-sample shape, batch dim, dropped) from the shapes at batch 2 and 3; None if constant."""
    diff = [i for i, (a, b) in enumerate(zip(s2, s3)) if a != b]
    if len(s2) != len(s3) or not diff:
        return None
    i = diff[0]
    f = s3[i] - s2[i]
    ps = tuple(s2[:i]) + ((f,) if f != 1 else ()) + tuple(s2[i + 1:])
    for j in diff[1:]:  # several batch-sized dims (rare): keep their per-sample factors
        ps = tuple(s3[k] - s2[k] if k == j else d for k, d in enumerate(ps))
    return ps, i, f == 1


def _text(shape) -> str:
    return "x".join(map(str, shape))


def _run(gm, conv, batch, shape):
    """Every fx node's value at ``batch``, on meta tensors (registered modules by convcalc's rule)."""
    torch = _torch()
    import torch.fx as fx

    def meta(t):
        return torch.empty_like(t, device="meta") if isinstance(t, torch.Tensor) and t.device.type != "meta" else t

    class Prop(fx.Interpreter):
        def get_attr(self, target, args, kwargs):
            return meta(super().get_attr(target, args, kwargs))

        def call_module(self, target, args, kwargs):
            m = self.fetch_attr(target)
            layer = conv.layer_of(target, m)
            x = args[0] if args else None
            if isinstance(layer, Layer) and len(args) == 1 and not kwargs and isinstance(x, torch.Tensor) and x.dim():
                out = layer.infer(tuple(x.shape[1:])).shape
                return torch.empty((x.shape[0], *out), device="meta")
            state = {k: meta(v) for k, v in [*m.named_parameters(), *m.named_buffers()]}
            return torch.func.functional_call(m, state, tuple(args), kwargs)

        def call_function(self, target, args, kwargs):  # (torch's Python meta kernels import dynamo)
            out = meta_function(torch, target, args, kwargs)
            return super().call_function(target, args, kwargs) if out is None else out

        def call_method(self, target, args, kwargs):
            out = meta_method(torch, target, args, kwargs)
            return super().call_method(target, args, kwargs) if out is None else out

        def run_node(self, n):
            try:
                return super().run_node(n)
            except TorchError:
                raise
            except Exception as e:
                cause = e.__cause__ or e
                text = str(cause).splitlines()[0] if str(cause) else ""
                scope, where = _scope(n), user_line(n)
                what = op_name(n, None) if n.op != 'call_module' else n.target
                if what == "cond":
                    err = TorchError(f"{scope + ': ' if scope else ''}torch.cond{where} branches on a tensor value: "
                                     "convcalc counts one fixed graph; count each branch as its own model "
                                     "(or choose the branch from sizes or constructor arguments)")
                else:
                    err = TorchError(f"{scope + ': ' if scope else ''}{what}{where} fails on input "
                                     f"{batch}x{_text(shape)}: {type(cause).__name__}: {text}")
                err.where = where  # the user's line in the message (from_torch compares refusals without it)
                raise err from None

    values = {}

    class Recorder(Prop):
        def run_node(self, n):
            values[n] = r = super().run_node(n)
            return r

    with torch.no_grad(), torch.device("meta"):
        try:
            Recorder(gm).run(torch.empty(batch, *shape, device="meta"))
        except TorchError as e:  # fx appends its own IR to the message: one line only
            short = TorchError(str(e).splitlines()[0])
            short.where = getattr(e, "where", "")
            raise short from None
    return values


def user_line(n) -> str:
    """`` at file:line ('code')`` of the user's code that made fx node ``n`` (its last frame
    outside torch and convcalc, as fx recorded it), or "" where fx recorded none."""
    import os

    torch_dir = os.path.dirname(_torch().__file__)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = re.findall(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', getattr(n, "stack_trace", None) or "")
    frames = [f for f in frames if not f[0].startswith((torch_dir, here, "<"))]
    if not frames:
        return ""
    file, line, code = frames[-1]
    return f" at {file}:{line} ({code.strip()!r})"


class Converter:
    """Maps the nodes of ``gm`` to a :class:`Graph` (``self.graph``); ``self.seen`` are the
    parameters counted (id -> number of elements), ``self.frozen`` the ids of those with
    requires_grad False."""

    def __init__(self, gm, shape, layers=None, exported=False):
        self.gm, self.shape = gm, tuple(shape)
        self.torch = _torch()
        self.modules = torch_modules()
        self.unary = functions()[0]
        self.layers, self.calls, self.seen = dict(layers or {}), {}, {}
        self.full = Graph()
        self.values, self.counted, self.names, self.frozen = {}, set(), {}, set()
        self.alone = {}  # torch.export graphs have no module calls: ops per module, named by the module if one
        if exported:
            self.alone = collections.Counter(_scope(n) for n in gm.graph.nodes if n.op == "call_function")

    def layer_of(self, target, m):
        if target not in self.layers:
            kind = getattr(m, "convcalc_kind", None)
            mapped = kind != "merge" and (kind is not None or registered(m))
            self.layers[target] = module_layer(m, target) if mapped else None
        return self.layers[target]

    def run(self):
        self.v2 = _run(self.gm, self, 2, self.shape)
        self.v3 = _run(self.gm, self, 3, self.shape)
        outputs = []
        for n in self.gm.graph.nodes:
            if n.op == "placeholder":
                first = next((k for k in self.values if k.op == "placeholder"), None)
                if first is not None:
                    raise TorchError(f"forward takes several inputs ({first.name}, {n.name}); "
                                     "convcalc needs one")
                self.values[n] = _T(self.full.inputs[0], self.shape, 0, True, self.v2[n].shape)
            elif n.op == "output":
                outputs = [v.key for v in self._flat(n.args[0]) if isinstance(v, _T)]
            else:
                self.values[n] = self.convert(n)
        if not outputs:
            raise TorchError("forward returns no tensor computed from the input")
        self.graph = _prune(self.full, outputs)

    def _flat(self, arg):
        fx = self.torch.fx
        out = []
        fx.node.map_arg(arg, lambda a: out.append(self.values.get(a)))
        flat = []
        for v in out:
            flat.extend(v.items if isinstance(v, _M) else [v])
        return flat

    def row(self, n) -> str:
        if n.op == "call_module":
            return n.target
        scope = _scope(n)
        if scope and self.alone.get(scope) == 1:  # an exported module that is one op (relu, max pool)
            return scope
        base = re.sub(r"_\d+$", "", n.name)
        return f"{scope}.{base}" if scope else base

    # -- one node --------------------------------------------------------------------------------
    def convert(self, n):
        torch = self.torch
        o2, o3 = self.v2[n], self.v3[n]
        m = self.gm.get_submodule(n.target) if n.op == "call_module" else None
        name = op_name(n, m) if n.op != "get_attr" else "get_attr"
        if n.op == "get_attr":
            return self._attr(n, o2)
        if isinstance(o2, (tuple, list)) and any(isinstance(x, torch.Tensor) for x in o2):
            return self._multi(n, name, m, o2, o3)
        if name == "getitem" and isinstance(self.values.get(n.args[0]), _M) and isinstance(n.args[1], int):
            return self.values[n.args[0]].items[n.args[1]]
        if not isinstance(o2, torch.Tensor):
            return None
        return self._single(n, name, m, o2, o3)

    def _attr(self, n, o2):
        torch = self.torch
        if not isinstance(o2, torch.Tensor):
            return None
        obj = self.gm
        for part in n.target.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, torch.nn.Parameter) and not obj.requires_grad:
            self.frozen.add(id(obj))
        return _C({id(obj): obj.numel()} if isinstance(obj, torch.nn.Parameter) else {})

    def _multi(self, n, name, m, o2, o3):
        """chunk/split/unbind: every item a view of the input; a module or op returning a tuple:
        its first tensor is the op, the others views of it."""
        items, first = [], None
        for i, (a, b) in enumerate(zip(o2, o3)):
            if not isinstance(a, self.torch.Tensor):
                items.append(None)
                continue
            if first is None and name not in SHAPE_ONLY:
                first = self._single(n, name, m, a, b)
                items.append(first)
                continue
            start = sum(x.shape[1] for x in o2[:i]) if name in ("chunk", "split") else None
            items.append(self._lazy_view(n, first, a, b, i, start))
        return _M(items)

    def _lazy_view(self, n, first, a, b, i, start=None):
        src = first if first is not None else next((v for v in self._tensor_args(n) if isinstance(v, _T)), None)
        got = _per_sample(tuple(a.shape), tuple(b.shape))
        if src is None or got is None or not isinstance(src, _T):
            return _C(self._params_of(n))
        ps, bdim, drop = got
        layer = ops.View(ps, op="item")
        if start is not None and src.bdim == 0 and src.drop and bdim == 0 and drop and ps[1:] == src.ps[1:]:
            layer = tensor.ChannelSlice(start, start + ps[0])  # a chunk along the channels
        key = self.full.add(f"{self.row(n)}.{i}", layer, [src.key])
        self._ps[key] = ps
        return _T(key, ps, bdim, drop, tuple(a.shape))

    def _tensor_args(self, n):
        return [v for v in self._flat((n.args, n.kwargs)) if isinstance(v, (_T, _C))]

    def _params_of(self, n):
        params = {}
        for v in self._tensor_args(n):
            if isinstance(v, _C):
                params.update(v.params)
        return params

    def _const_macs(self, n) -> int:
        """MACs of the constants ``n`` uses that no op has counted yet."""
        total = 0
        for v in self._tensor_args(n):
            if isinstance(v, _C) and v.macs and id(v) not in self.counted:
                self.counted.add(id(v))
                total += v.macs
        return total

    def _new_params(self, params) -> int:
        new = {k: v for k, v in params.items() if k not in self.seen}
        self.seen.update(new)
        return sum(new.values())

    def _macs(self, n, name, m):
        """Exact MACs of a multiplying op: the per-sample part plus any batch-independent part."""
        fx = self.torch.fx
        r = []
        for vals in (self.v2, self.v3):
            args = fx.node.map_arg(n.args, lambda a: vals[a])
            kwargs = fx.node.map_arg(n.kwargs, lambda a: vals[a])
            r.append(macs_rule(name, args, kwargs, vals[n] if not isinstance(vals[n], tuple) else vals[n][0], m))
        if r[0] is None:
            return None
        per = r[1] - r[0]
        return per + (r[0] - 2 * per)

    def _single(self, n, name, m, o2, o3):
        args = self._tensor_args(n)
        tensors = [v for v in args if isinstance(v, _T)]
        got = _per_sample(tuple(o2.shape), tuple(o3.shape))
        if not tensors or got is None:
            return self._constant(n, name, m, args, o2)
        ps, bdim, drop = got
        if name in _SAME and len(tensors) == 1 and not self._params_of(n) and ps == tensors[0].ps:
            return tensors[0]  # an op that changes nothing here (x.contiguous(), a cat of one)
        before = set(self.seen)
        layer, ins, implicit = self._layer(n, name, m, tensors, ps, o2)
        if layer is not None and not isinstance(layer, Layer):  # a block of layers for one module
            return self._splice(n, name, layer, ins[0], got, o2)
        if layer is None:  # an op with no rule: counted as not counted
            layer, ins, implicit = ops.Unknown(self._label(n, name), ps, self._new_params(self._params_of(n))), \
                [t.key for t in tensors], False
        inf = layer.infer_all([self._ps_of(k) for k in ins])
        if tuple(inf.shape) != tuple(ps):
            raise TorchError(f"{self.row(n)}: torch gives {_text(ps)} but convcalc {_text(inf.shape)}: "
                             f"the conversion of {name} is wrong")
        if n.op != "call_module":
            layer.functional = True  # peers that count modules do not see it (conventions.py)
            new = set(self.seen) - before   # the parameters this op counts (a layer scale's)
            if new and new <= self.frozen:  # requires_grad=False in torch: frozen for --training
                layer.trainable = False
            elif new & self.frozen:         # some (F.linear's weight, not its bias)
                layer.frozen_params = self._frozen_by_call(n, layer, ins, new)
        key = self.full.add(self.names.get(n) or self.row(n), layer, ins, implicit=implicit)
        self._ps[key] = ps
        return _T(key, ps, bdim, drop, tuple(o2.shape))

    def _frozen_by_call(self, n, layer, ins, new) -> frozenset:
        """The layer's names (``weight_shapes`` keys) of the frozen parameters among ``new``, those
        it counts: in the call's order where they are its weights in order (F.linear's weight,
        bias; F.layer_norm's), else where the size names one; one it cannot place stays trainable."""
        try:
            sizes = {k: math.prod(s) for k, s in layer.weight_shapes(self._ps_of(ins[0])).items()}
        except (ConvcalcError, TypeError, ValueError):  # (a kind that cannot say: none placed)
            return frozenset()
        order = [i for v in self._tensor_args(n) if isinstance(v, _C) for i in v.params if i in new]
        if [self.seen[i] for i in order] == list(sizes.values()):
            return frozenset(k for k, i in zip(sizes, order) if i in self.frozen)
        counts = list(sizes.values())
        return frozenset(k for i in new & self.frozen for k, size in sizes.items()
                         if size == self.seen[i] and counts.count(size) == 1)

    def _splice(self, n, name, block, src, got, o2):
        """Add ``block``'s layers reading ``src`` under the module's row name."""
        ps, bdim, drop = got
        before = set(self.full.nodes)
        to_graph(block, self.row(n), self.full, src)
        new = [k for k in self.full.nodes if k not in before]
        for k in new:
            node = self.full.nodes[k]
            self._ps[k] = tuple(node.layer.infer_all([self._ps_of(i) for i in node.inputs]).shape)
        if self._ps[new[-1]] != tuple(ps):
            raise TorchError(f"{self.row(n)}: torch gives {_text(ps)} but convcalc {_text(self._ps[new[-1]])}: "
                             f"the conversion of {name} is wrong")
        return _T(new[-1], ps, bdim, drop, tuple(o2.shape))

    @property
    def _ps(self):
        if not hasattr(self, "_ps_store"):
            self._ps_store = {self.full.inputs[0]: self.shape}
        return self._ps_store

    def _ps_of(self, key):
        return self._ps[key]

    def _label(self, n, name):
        if n.op == "call_module":
            m = self.gm.get_submodule(n.target)
            return f"{type(m).__module__}.{type(m).__name__}"
        t = n.target
        if n.op == "call_method":
            return f"Tensor.{t}"
        mod = getattr(t, "__module__", None) or ""
        return f"{mod + '.' if mod else ''}{getattr(t, '__name__', str(t))}"

    def _constant(self, n, name, m, args, o2):
        """An op on constants only (a relative-position table, a class token): folded; its
        parameters and MACs are counted once, where a tensor of the input meets it."""
        params = self._params_of(n)
        macs = sum(v.macs for v in args if isinstance(v, _C))
        if m is not None:
            params.update({id(p): p.numel() for p in m.parameters()})
            x = self.v2[n.args[0]] if n.args else None
            layer = self.layers.get(n.target)
            if isinstance(layer, Layer) and hasattr(x, "shape") and x.dim() > 1:
                macs += layer.infer(tuple(x.shape[1:])).macs * x.shape[0]
        elif name in MATMUL:
            macs += self._macs(n, name, m) or 0
        return _C(params, macs)

    def _layer(self, n, name, m, tensors, ps, o2):
        """(layer, input keys, implicit) for one op with tensor inputs; (None, ..) if no rule."""
        from .torch_rules import rule

        return rule(self, n, name, m, tensors, ps, o2)


def _prune(full, outputs):
    """The graph of the nodes that reach an output, keys renumbered as if the rest never was."""
    need, stack = set(), list(outputs)
    while stack:
        k = stack.pop()
        if k in need or k not in full.nodes:
            continue
        need.add(k)
        stack.extend(full.nodes[k].inputs)
    _flatten_adds(full, need)
    order, seen, stack = [], set(), [(k, 0) for k in reversed(list(dict.fromkeys(outputs)))]
    while stack:  # depth first from the output, each input's path before the op (nested blocks' order)
        k, i = stack.pop()
        ins = full.nodes[k].inputs if k in full.nodes else ()
        if i < len(ins):
            stack.append((k, i + 1))
            if ins[i] not in seen:
                seen.add(ins[i])
                stack.append((ins[i], 0))
        elif k in full.nodes and k not in order:
            order.append(k)
    g, keys = Graph(), {full.inputs[0]: full.inputs[0]}
    for k in order:
        node = full.nodes[k]
        keys[k] = g.add(node.name, node.layer, [keys[i] for i in node.inputs], implicit=node.implicit)
    g.outputs = [keys[k] for k in dict.fromkeys(outputs)]
    return g


def _flatten_adds(full, need) -> None:
    """``a + b + c`` -> one merge of three inputs, where the inner merge is used once."""
    uses = {}
    for k in need:
        for i in full.nodes[k].inputs:
            uses[i] = uses.get(i, 0) + 1
    for k in list(full.nodes):
        node = full.nodes[k]
        if k not in need or not node.implicit or type(node.layer) is not COMBINE["add"]:
            continue
        ins, changed = [], False
        for i in node.inputs:
            inner = full.nodes.get(i)
            if inner is not None and inner.implicit and type(inner.layer) is COMBINE["add"] and uses.get(i) == 1:
                ins.extend(inner.inputs)
                need.discard(i)
                changed = True
            else:
                ins.append(i)
        if changed:
            full.nodes[k] = dataclasses.replace(node, inputs=tuple(ins), layer=COMBINE["add"](n=len(ins)))


__all__ = ["Converter", "linear", "tensor", "COMBINE", "CREATE", "ELEMENTWISE", "REDUCE"]
