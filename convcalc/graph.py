"""Networks: ``Sequential`` chains and ``Parallel`` branches (residual add, concat, gating).

A network is a tree of modules whose leaves are layers. The analyser walks it in
order; rows get PyTorch-style dotted names (``layer1.0.conv1``).
"""
from __future__ import annotations

from typing import Iterable, Optional

from .errors import ConfigError
from .layers.base import Layer


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
            if not isinstance(m, (Layer, Sequential, Parallel)):
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
    if isinstance(module, Layer):
        yield prefix, module
    elif isinstance(module, Sequential):
        for name, child in module.children:
            yield from _leaves(child, join(prefix, name))
    elif isinstance(module, Parallel):
        for name, child in module.branches:
            if child is not None:
                yield from _leaves(child, join(prefix, name))
        for name, child in module.post:
            yield from _leaves(child, join(prefix, name))
