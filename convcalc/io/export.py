"""convcalc -> PyTorch source (``convcalc export MODEL --to pytorch``).

``to_torch_source(model)`` writes a standalone ``nn.Module``. A network that came from the builders
(``Sequential`` / ``Parallel``, kept in ``graph.structure``) keeps its readable nesting:
``nn.Sequential`` for plain chains, a small ``Block`` helper (layers plus a ``flow`` naming the order
and the add / cat / mul merges) where branches meet. Any other graph (a traced DAG) gets a generic
``forward()`` with one line per node. Module names equal the row names, so that ``from_torch`` of the
export gives the same report.

How a layer kind is written is registered by class in :data:`TORCH_SOURCE`:
``TORCH_SOURCE.register(MyLayer)(writer)`` with ``writer(layer, shape, helpers) -> str`` (``shape`` is
the layer's input shape; add a name of :data:`~convcalc.io.export_helpers.HELPERS` to ``helpers`` to
have a helper class written into the file).
"""
from __future__ import annotations

import inspect
import keyword
from collections import OrderedDict
from typing import Optional

from ..errors import ConvcalcError
from ..graph import Graph, Parallel, Sequential, to_graph
from ..layers import act, conv, linear, norm, pool, tensor
from ..layers.base import Layer
from ..layers.merge import Add, Concat, Mul
from ..registry import Registry
from .export_helpers import HELPERS

TORCH_SOURCE = Registry("PyTorch source")
#: the functional word of each merge kind (the builders' ``combine``)
MERGE_OPS = Registry("merge operation")
MERGE_OPS.register(Add)("add")
MERGE_OPS.register(Concat)("cat")
MERGE_OPS.register(Mul)("mul")


def _norm(v):
    return tuple(_norm(x) for x in v) if isinstance(v, (list, tuple)) else v


def _arg(v) -> str:
    """Python text for an argument: tuples with equal entries collapse to an int."""
    if isinstance(v, tuple) and v and all(x == v[0] for x in v) and not isinstance(v[0], tuple):
        return repr(v[0])
    return repr(v)


def _kw(pairs) -> str:
    return ", ".join(f"{k}={_arg(v)}" for k, v, default in pairs if v != default and _arg(v) != _arg(default))


def _call(cls: str, positional, pairs) -> str:
    parts = [_arg(p) for p in positional]
    kw = _kw(pairs)
    return f"{cls}({', '.join(parts + ([kw] if kw else []))})"


def _defaults(cls) -> dict:
    params = inspect.signature(cls.__init__).parameters
    return {n: p.default for n, p in params.items() if p.default is not inspect.Parameter.empty}


def writer(pos=(), kw=(), name=None, helper=None):
    """A writer from the layer's ``args()``: positional values (argument names, or ``"C"`` for the
    input's channels) then the keyword arguments ``kw`` that differ from the constructor's default
    (convcalc's defaults are PyTorch's). ``name`` defaults to ``nn.<class name>``."""
    def write(layer, shape, helpers):
        a = {k: _norm(v) for k, v in layer.args().items()}
        d = _defaults(type(layer))
        if helper:
            helpers.add(helper)
        cls = name or (helper and type(layer).__name__) or f"nn.{type(layer).__name__}"
        return _call(cls, [shape[0] if p == "C" else a[p] for p in pos], [(k, a[k], d.get(k)) for k in kw])

    return write


def _conv(layer, shape, helpers) -> str:
    a = {k: _norm(v) for k, v in layer.args().items()}
    k = layer.kind
    if a["padding"] == "tf_same":  # TensorFlow's rule is not a torch.nn padding: say so, never write it
        raise ConvcalcError(f"{k}: padding 'tf_same' has no torch.nn equivalent; write nn.ZeroPad2d (extra pixel "
                            f"right and bottom) before a conv with padding 0")
    if any(lo != hi for lo, hi in layer.pads) and not isinstance(a["padding"], str):
        raise ConvcalcError(f"{k}: padding {a['padding']} (different before and after) has no torch.nn equivalent")
    padding = a["padding"] if isinstance(a["padding"], str) else tuple(lo for lo, _ in layer.pads)
    pairs = [("stride", a["stride"], 1), ("padding", padding, 0)]
    if isinstance(layer, conv._ConvTransposeNd):
        pairs.append(("output_padding", a["output_padding"], 0))
    pairs += [("dilation", a["dilation"], 1), ("groups", a["groups"], 1), ("bias", a["bias"], True),
              ("padding_mode", a["padding_mode"], "zeros")]
    rest = _kw(pairs)
    return (f"nn.{type(layer).__name__}({shape[0]}, {a['out_channels']}, kernel_size={_arg(a['kernel_size'])}"
            f"{', ' + rest if rest else ''})")


def _pool(*kw):
    def write(layer, shape, helpers):
        a = {k: _norm(v) for k, v in layer.args().items()}
        k = a["kernel_size"]
        defaults = {"stride": k, "padding": 0, "dilation": 1, "ceil_mode": False, "count_include_pad": True,
                    "divisor_override": None}
        a["stride"] = k if a.get("stride") in (None, ()) else a["stride"]
        return _call(f"nn.{type(layer).__name__}", [k], [(n, a[n], defaults[n]) for n in kw])

    return write


def _layernorm(layer, shape, helpers) -> str:
    a = layer.args()
    ns = tuple(a["normalized_shape"]) if isinstance(a["normalized_shape"], (list, tuple)) \
        else (a["normalized_shape"],)
    return _call("nn.LayerNorm", [list(ns) if len(ns) > 1 else ns[0]],
                 [("eps", a["eps"], 1e-5), ("elementwise_affine", a["elementwise_affine"], True),
                  ("bias", a["bias"], True)])


def _permute(layer, shape, helpers) -> str:
    helpers.add("permute")
    return f"Permute({tuple(layer.args()['dims'])!r})"


def _upsample(layer, shape, helpers) -> str:
    a = {k: _norm(v) for k, v in layer.args().items()}
    return _call("nn.Upsample", [], [("size", a["size"], None), ("scale_factor", a["scale_factor"], None),
                                     ("mode", a["mode"], "nearest"), ("align_corners", a["align_corners"], None)])


TORCH_SOURCE.register(conv._ConvNd)(_conv)
TORCH_SOURCE.register(pool._AdaptivePoolNd)(writer(pos=("output_size",)))
TORCH_SOURCE.register(pool._AvgPoolNd)(_pool("stride", "padding", "ceil_mode", "count_include_pad",
                                             "divisor_override"))
TORCH_SOURCE.register(pool._PoolNd)(_pool("stride", "padding", "dilation", "ceil_mode"))
TORCH_SOURCE.register(linear.Linear)(lambda layer, shape, helpers: _call(
    "nn.Linear", [shape[-1], layer.args()["out_features"]], [("bias", layer.args()["bias"], True)]))
TORCH_SOURCE.register(linear.Flatten)(writer(kw=("start_dim", "end_dim")))
TORCH_SOURCE.register(norm._BatchNorm)(writer(pos=("C",), kw=("eps", "momentum", "affine", "track_running_stats")))
TORCH_SOURCE.register(norm.LayerNorm)(_layernorm)
TORCH_SOURCE.register(norm.GroupNorm)(writer(pos=("num_groups", "C"), kw=("eps", "affine")))
TORCH_SOURCE.register(norm.LocalResponseNorm)(writer(pos=("size",), kw=("alpha", "beta", "k")))
TORCH_SOURCE.register(act.StochasticDepth)(writer(pos=("p",), kw=("mode",), helper="stochasticdepth"))
TORCH_SOURCE.register(act.Dropout)(writer(kw=("p",)))
TORCH_SOURCE.register(act.LeakyReLU)(writer(kw=("negative_slope",)))
TORCH_SOURCE.register(act.ELU)(writer(kw=("alpha",)))
TORCH_SOURCE.register(act.GELU)(writer(kw=("approximate",)))
TORCH_SOURCE.register(act.PReLU)(writer(kw=("num_parameters", "init")))
TORCH_SOURCE.register(act._SoftmaxBase)(writer(kw=("dim",)))
TORCH_SOURCE.register(act.ReLU, act.ReLU6, act.Sigmoid, act.Tanh, act.Hardswish, act.Hardsigmoid, act.SiLU,
                      act.Identity)(writer())
TORCH_SOURCE.register(tensor.ChannelShuffle)(writer(pos=("groups",)))
TORCH_SOURCE.register(tensor.Upsample)(_upsample)
TORCH_SOURCE.register(tensor.LayerScale)(writer(pos=("C",), kw=("init",), helper="layerscale"))
TORCH_SOURCE.register(tensor.LayerNorm2d)(writer(pos=("C",), kw=("eps", "elementwise_affine"), helper="layernorm2d"))
TORCH_SOURCE.register(tensor.ChannelSlice)(writer(pos=("start", "stop"), helper="channelslice"))
TORCH_SOURCE.register(tensor.Permute)(_permute)
TORCH_SOURCE.register(tensor.CenterCrop)(writer(kw=("size", "border"), helper="centercrop"))


def layer_source(layer: Layer, shape: tuple, helpers: set) -> str:
    """``nn.Conv2d(3, 64, kernel_size=7, ...)`` for a convcalc layer on input ``shape``."""
    from ..sym import is_sym

    write = TORCH_SOURCE.get(layer, None)
    if write is not None:
        return write(layer, shape, helpers)
    if any(is_sym(d) for d in shape):
        raise ConvcalcError(f"{layer.kind}: export needs a numeric input shape")
    raise ConvcalcError(f"{layer.kind}: no PyTorch equivalent known for this layer kind")


def _stateless(layer, shape) -> bool:
    return not layer.weight_shapes(shape) and not layer.buffer_shapes(shape)


def _add(attrs, name, code, stateless):
    """Record module ``name``; a stateless layer called twice keeps one module (torchvision's
    one ``relu``), any other clash gets ``_2``, ``_3``..."""
    name = name.replace(".", "_")
    if name in attrs:
        old, old_stateless = attrs[name]
        if old == code and stateless and old_stateless:
            return name
        i = 2
        while f"{name}_{i}" in attrs:
            i += 1
        name = f"{name}_{i}"
    attrs[name] = (code, stateless)
    return name


class _Exporter:
    """Writes a builder tree (``graph.structure``), taking each layer's input shape from the
    graph's nodes in order (the builders compile a tree to nodes in exactly this order)."""

    def __init__(self, graph, shapes):
        self.nodes = iter(graph)
        self.shapes = shapes  # node key -> input shape
        self.helpers = set()

    def container(self, module):
        """Code for a named child that is a block: nn.Sequential, or Block when branches meet."""
        attrs, flow = OrderedDict(), []
        self.build(module, attrs, flow)
        names = list(attrs)
        if flow == names:
            items = [(n, c) for n, (c, _) in attrs.items()]
            return ("seq", items, names == [str(i) for i in range(len(names))])
        self.helpers.add("block")
        return ("block", [(n, c) for n, (c, _) in attrs.items()], flow)

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
            next(self.nodes)  # the merge
            dim = module.dim + 1 if module.dim >= 0 else module.dim
            if module.merge_name != module.combine:  # a merge row with its own name: a Merge module
                self.helpers.add("merge")
                code = f"Merge({module.combine!r}{', ' + str(dim) if module.combine == 'cat' else ''})"
                flow.append((module.combine, branches, dim, _add(attrs, module.merge_name, code, True)))
            else:
                flow.append((module.combine, branches, dim))
            for name, child in module.post:
                self.child(name, child, attrs, flow)
        else:
            raise ConvcalcError(f"cannot export {type(module).__name__}")

    def child(self, name, child, attrs, flow):
        if isinstance(child, Layer):
            node = next(self.nodes)
            shape = self.shapes[node.key]
            code = layer_source(child, shape, self.helpers)
            flow.append(_add(attrs, name or child.kind, code, _stateless(child, shape)))
        elif name == "":
            self.build(child, attrs, flow)
        else:
            flow.append(_add(attrs, name, self.container(child), False))


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
    ok = name.isidentifier() and not keyword.iskeyword(name) and name not in ("forward", "training", "put")
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


def _tree_class(net, ex, class_name, name) -> str:
    attrs, flow = OrderedDict(), []
    ex.build(net, attrs, flow)
    names = list(attrs)
    if flow == names:
        items = [(n, c) for n, (c, _) in attrs.items()]
        if names == [str(i) for i in range(len(names))]:
            body = "".join(f"            {_render(c, 12)},\n" for _, c in items)
            init = f"        super().__init__(\n{body}        )"
        else:
            body = "".join(f"            ({n!r}, {_render(c, 12)}),\n" for n, c in items)
            init = f"        super().__init__(OrderedDict([\n{body}        ]))"
        return f"class {class_name}(nn.Sequential):\n    \"\"\"{name}.\"\"\"\n\n    def __init__(self):\n{init}\n"
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
    return "\n".join(lines) + "\n"


_PUT = '''
    def put(self, path, module):
        """Register ``module`` under a dotted name (containers made on the way), as the rows are named."""
        parent = self
        *heads, last = path.split(".")
        for head in heads:
            if head not in parent._modules:
                parent.add_module(head, nn.Module())
            parent = parent._modules[head]
        parent.add_module(last, module)
'''


def _module_ref(name: str) -> str:
    return _attr(name) if "." not in name else f"self.get_submodule({name!r})"


def _graph_class(graph: Graph, shapes, helpers, class_name, name) -> str:
    """Any DAG: one module per layer node (dotted row names kept by nesting) and one line per node."""
    init, body, var, modules = [], [], {}, {}
    for i, key in enumerate(graph.inputs):
        var[key] = "x" if len(graph.inputs) == 1 else f"x{i}"
    for n, node in enumerate(graph):
        ins = [var[k] for k in node.inputs]
        var[node.key] = v = f"x{n + 1}" if len(graph.inputs) == 1 else f"y{n + 1}"
        op = MERGE_OPS.get(node.layer, None) if node.implicit else None
        if op is not None and node.name == op:
            dim = node.layer.args().get("dim", 0)
            line = f"torch.cat([{', '.join(ins)}], {dim + 1 if dim >= 0 else dim})" if op == "cat" else \
                (" + " if op == "add" else " * ").join(ins)
            body.append(f"        {v} = {line}")
            continue
        if op is not None:
            helpers.add("merge")
            dim = node.layer.args().get("dim", 0)
            code = f"Merge({op!r}{', ' + str(dim + 1 if dim >= 0 else dim) if op == 'cat' else ''})"
            stateless = True
        else:
            shape = shapes[node.key]
            code, stateless = layer_source(node.layer, shape, helpers), _stateless(node.layer, shape)
        mod = node.name
        if mod in modules and not (modules[mod] == (code, True) and stateless):
            k = 2
            while f"{node.name}_{k}" in modules:
                k += 1
            mod = f"{node.name}_{k}"
        if mod not in modules:
            modules[mod] = (code, stateless)
            init.append(f"        self.put({mod!r}, {code})" if "." in mod or not _attr(mod).startswith("self.")
                        else f"        self.{mod} = {code}")
        body.append(f"        {v} = {_module_ref(mod)}({', '.join(ins)})")
    outs = [var[k] for k in graph.outputs]
    args = ", ".join(var[k] for k in graph.inputs)
    lines = [f"class {class_name}(nn.Module):", f'    """{name}."""', "", "    def __init__(self):",
             "        super().__init__()", *init, _PUT.rstrip("\n"), "", f"    def forward(self, {args}):", *body,
             f"        return {', '.join(outs)}"]
    return "\n".join(lines) + "\n"


def to_torch_source(model, input=None, class_name: str = "Net", source: Optional[str] = None) -> str:
    """A standalone Python file defining ``class Net(nn.Module)`` for ``model`` (a zoo ``Model``, or
    a Sequential / Parallel / Graph with ``input``)."""
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
    graph = to_graph(net)
    shapes = {row.key: row.input for row in report.rows}
    name = getattr(model, "name", "model")
    helpers: set = set()
    if isinstance(graph.structure, Sequential):
        ex = _Exporter(graph, shapes)
        cls = _tree_class(graph.structure, ex, class_name, name)
        helpers = ex.helpers
    else:
        cls = _graph_class(graph, shapes, helpers, class_name, name)
    t = report.totals
    head = [f'"""{name}: a PyTorch module written by convcalc{f" from {source}" if source else ""}.',
            "",
            f"Input {'x'.join(map(str, shape))} per sample; {t['params']:,} parameters, {t['buffers']:,} buffers, "
            f"{t['macs']:,} MACs",
            '(multiply-accumulates of conv and linear weights). Module names equal convcalc\'s row names."""',
            "import torch", "from torch import nn"]
    parts = [HELPERS[h].rstrip("\n") for h in HELPERS if h in helpers]
    demo = (f"if __name__ == \"__main__\":\n    net = {class_name}().eval()\n"
            f"    y = net(torch.zeros(1, {', '.join(map(str, shape))}))\n"
            f"    print(tuple(y.shape[1:]), sum(p.numel() for p in net.parameters()), \"parameters\")\n")
    text = "\n\n\n".join(["\n".join(head), *parts, cls.rstrip("\n"), demo])
    if "OrderedDict(" in text:
        text = text.replace("\nimport torch\n", "\nfrom collections import OrderedDict\n\nimport torch\n", 1)
    return text
