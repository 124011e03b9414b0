"""Registries keyed by layer class: how the rest of convcalc learns what a kind needs
(its NumPy kernel, its torch module, its source export, its convention rows) without
matching names or writing ``isinstance`` chains.

``KERNELS.register(Conv2d)(fn)`` attaches; ``KERNELS.get(layer)`` finds the entry of the
layer's class or its nearest registered base class (so ``_ConvNd`` serves Conv1d..3d).
A kind defined outside the package registers the same way.
"""
from __future__ import annotations

_MISSING = object()


class Registry:
    def __init__(self, what: str):
        self.what = what
        self._entries: dict = {}

    def register(self, *classes):
        """Decorator: ``@REG.register(A, B)`` attaches the decorated object to A and B."""
        def attach(obj):
            for cls in classes:
                self._entries[cls] = obj
            return obj

        return attach

    def get(self, layer, default=_MISSING):
        cls = layer if isinstance(layer, type) else type(layer)
        for base in cls.__mro__:
            if base in self._entries:
                return self._entries[base]
        if default is _MISSING:
            from .errors import ConvcalcError

            raise ConvcalcError(f"no {self.what} for layer kind {getattr(cls, 'kind', cls.__name__)!r}")
        return default

    def __contains__(self, layer) -> bool:
        return self.get(layer, None) is not None

    def items(self):
        return self._entries.items()
