"""Networks. The engine holds any directed acyclic graph of layers (:class:`Graph`);
``Sequential`` chains and ``Parallel`` branches (residual add, concat, gating) are builders
that compile to it (:func:`to_graph`). ``Graph.walk`` is the one traversal: analyze, verify,
spec, check and export all go through it. Rows get PyTorch-style dotted names
(``layer1.0.conv1``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

from .errors import ConfigError
from .layers.base import Layer
from .layers.merge import COMBINE


class Sequential:
    """An ordered chain, like ``torch.nn.Sequential``.

    ``Sequential(a, b, c)`` names the children ``0, 1, 2``;
    ``Sequential(("conv1", a), ("relu", b))`` or keyword arguments name them.
    """

    def __init__(self, *modules, label: Optional[str] = None, **named):
        children = []
        for i, m in enumerate(modules):
            if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
                children.append(m)
            elif isinstance(m, (list, tuple)) and all(isinstance(x, tuple) for x in m):
                children.extend(m)
            else:
                children.append((str(i), m))
        children.extend(named.items())
        for name, m in children:
            if not isinstance(m, (Layer, Sequential, Parallel, Graph)):
                raise ConfigError(f"{name}: expected a layer or a block, got {type(m).__name__}")
        self.children = children
        self.label = label

    def __iter__(self):
        return iter(self.children)

    def __len__(self):
        return len(self.children)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.children[key][1]
        return dict(self.children)[key]

    def append(self, module, name: Optional[str] = None) -> "Sequential":
        self.children.append((name if name is not None else str(len(self.children)), module))
        return self

    def layers(self) -> Iterable[tuple[str, Layer]]:
        """Every leaf layer with its dotted name."""
        yield from _leaves(self, "")


class Parallel:
    """Branches fed the same input, merged by ``combine``: ``add``, ``cat`` (along the
    channel dim unless ``dim`` says otherwise) or ``mul`` (broadcasting, as in
    squeeze-and-excitation). A branch of ``None`` is the identity (a skip connection).
    A branch named ``""`` has its layers named directly under the block
    (torchvision's ``layer1.0.conv1`` rather than ``layer1.0.body.conv1``).
    ``post`` layers run after the merge (the ReLU after a residual add).
    """

    def __init__(self, branches, combine: str = "add", dim: int = 0, post=(), label: Optional[str] = None,
                 merge_name: Optional[str] = None):
        if combine not in ("add", "cat", "mul"):
            raise ConfigError(f"combine: expected 'add', 'cat' or 'mul', got {combine!r}")
        self.branches = [(n, m) for n, m in branches]
        if len(self.branches) < 2:
            raise ConfigError("a parallel block needs at least two branches")
        self.combine, self.dim = combine, dim
        self.post = list(post)
        self.label = label
        self.merge_name = merge_name or combine

    def layers(self):
        yield from _leaves(self, "")


def Residual(body, shortcut=None, post=(), shortcut_name: str = "downsample", label=None) -> Parallel:
    """``post(body(x) + shortcut(x))``; the shortcut is the identity unless given (a projection)."""
    return Parallel([("", body), (shortcut_name, shortcut)], combine="add", post=post, label=label)


def Concat(*branches, dim: int = 0, label=None) -> Parallel:
    """Branches joined along the channel dim, e.g. Inception: ``Concat(("branch1", b1), ...)``."""
    named = [b if isinstance(b, tuple) else (str(i), b) for i, b in enumerate(branches)]
    return Parallel(named, combine="cat", dim=dim, label=label)


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else (prefix or name)


def _leaves(module, prefix):
    for node in to_graph(module, prefix=prefix):
        if not node.implicit:
            yield node.name, node.layer


# ---------------------------------------------------------------------------------------------
# The general graph: any DAG of layers. The builders above compile to it; everything walks it.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """One layer applied to named tensors.

    ``key`` is unique in the graph (the name of the tensor this node produces); ``name`` is
    the row name people see (PyTorch's qualified name, which may repeat: torchvision's
    Bottleneck calls ``self.relu`` three times). ``inputs`` are keys of earlier nodes or
    graph inputs.
    """

    key: str
    name: str
    layer: Layer
    inputs: tuple
    implicit: bool = False  # a merge a builder added (not a layer the user wrote)


class Graph:
    """A directed acyclic graph of layers: named inputs, tensors used by many consumers,
    several outputs. Nodes are kept in a topological order (a node's inputs are added before
    it), so iterating is the one traversal everything uses."""

    def __init__(self, inputs=("input",)):
        self.inputs = tuple(inputs)
        self.nodes: dict = {}
        self._outputs: tuple = ()
        self.structure = None  # the builder tree it was compiled from, if any (for export)

    def add(self, name: str, layer: Layer, inputs, key: Optional[str] = None, implicit: bool = False) -> str:
        """Append ``layer`` fed by ``inputs`` (keys); returns the new node's key."""
        if not isinstance(layer, Layer):
            raise ConfigError(f"{name}: expected a layer, got {type(layer).__name__}")
        inputs = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
        for i in inputs:
            if i not in self.nodes and i not in self.inputs:
                raise ConfigError(f"{name}: input {i!r} is not an earlier node or a graph input")
        key = self._unique(key or name or layer.kind)
        self.nodes[key] = Node(key, name or layer.kind, layer, inputs, implicit)
        return key

    def _unique(self, key: str) -> str:
        if key not in self.nodes and key not in self.inputs:
            return key
        n = 1
        while f"{key}#{n}" in self.nodes or f"{key}#{n}" in self.inputs:
            n += 1
        return f"{key}#{n}"

    @property
    def outputs(self) -> tuple:
        """The graph's results: as set, or else every node nobody consumes."""
        if self._outputs:
            return self._outputs
        used = {i for n in self.nodes.values() for i in n.inputs}
        return tuple(k for k in self.nodes if k not in used) or self.inputs

    @outputs.setter
    def outputs(self, keys) -> None:
        keys = tuple(keys)
        for k in keys:
            if k not in self.nodes and k not in self.inputs:
                raise ConfigError(f"output {k!r} is not a node of the graph")
        self._outputs = keys

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, key: str) -> Node:
        return self.nodes[key]

    def layers(self) -> Iterable[tuple]:
        """Every (row name, layer), merges included, in order."""
        return ((n.name, n.layer) for n in self)

    def consumers(self) -> dict:
        """key -> the keys of the nodes that read it, in order."""
        out: dict = {k: [] for k in (*self.inputs, *self.nodes)}
        for n in self:
            for i in n.inputs:
                out[i].append(n.key)
        return out

    def walk(self, inputs, visit: Callable) -> dict:
        """The traversal: ``visit(node, [value of each input])`` in topological order, the
        returned value flowing along the node's out-edges. ``inputs`` gives the graph inputs'
        values (a dict by name, or one value for a single-input graph). Returns every value."""
        env = dict(inputs) if isinstance(inputs, dict) else {self.inputs[0]: inputs}
        for node in self:
            env[node.key] = visit(node, [env[i] for i in node.inputs])
        return env


def to_graph(module, prefix: str = "", graph: Optional[Graph] = None, src: Optional[str] = None) -> Graph:
    """Compile a layer, a ``Sequential``/``Parallel`` tree or a ``Graph`` into a ``Graph``.
    Row names are dotted PyTorch-style paths under ``prefix``."""
    if graph is None:
        if isinstance(module, Graph) and not prefix:
            return module
        graph = Graph()
        graph.structure = module
        _build(graph, module, prefix, graph.inputs[0])
        return graph
    _build(graph, module, prefix, src)
    return graph


def _build(g: Graph, module, prefix: str, src: str) -> str:
    """Add ``module``'s layers to ``g`` reading tensor ``src``; returns the output's key."""
    if isinstance(module, Layer):
        return g.add(prefix or module.kind, module, (src,))
    if isinstance(module, Sequential):
        for name, child in module.children:
            src = _build(g, child, join(prefix, name), src)
        return src
    if isinstance(module, Parallel):
        outs = [src if child is None else _build(g, child, join(prefix, name), src)
                for name, child in module.branches]
        merge = COMBINE[module.combine](n=len(outs), **({"dim": module.dim} if module.combine == "cat" else {}))
        src = g.add(join(prefix, module.merge_name), merge, outs, implicit=True)
        for name, child in module.post:
            src = _build(g, child, join(prefix, name), src)
        return src
    if isinstance(module, Graph):
        if len(module.inputs) != 1 or len(module.outputs) != 1:
            raise ConfigError(f"{prefix or 'graph'}: only a graph with one input and one output can be nested")
        keys = {module.inputs[0]: src}
        for node in module:
            keys[node.key] = g.add(join(prefix, node.name), node.layer, [keys[i] for i in node.inputs],
                                   implicit=node.implicit)
        return keys[module.outputs[0]]
    raise ConfigError(f"{prefix or 'model'}: not a layer or block: {type(module).__name__}")
