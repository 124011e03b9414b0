"""Shapes as people type them, and the order they are typed in.

One parser for every place a shape or a list of sizes is read (``--input``, ``--output``,
kernel sizes, ...): sizes joined by ``x``, ``X``, ``×``, ``*`` or ``,``, optionally in
brackets: ``3x224x224``, ``(3, 32, 32)``, ``3xHxW`` (symbol names stay strings here; sympy is
imported only by :func:`to_dims`, when a shape with symbols is used).

:class:`Layout` names the order of a per-sample shape: ``chw`` (PyTorch) or ``hwc`` (many
courses). ``Layout.HWC.to_chw((32, 32, 3)) == (3, 32, 32)`` and ``from_chw`` is its inverse.

Engine level: no click, rich or numpy; no sympy at import.
"""
from __future__ import annotations

import enum
import re

from .errors import ConvcalcError

_SEPARATOR = re.compile(r"\s*(?:x|X|×|\*|,)\s*")
_DIGITS = re.compile(r"\d+")
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


class ShapeTextError(ConvcalcError):
    """Text that is not a shape (or not a list of sizes)."""


class Layout(str, enum.Enum):
    """The order of a per-sample shape: channels first (``chw``) or last (``hwc``)."""

    CHW = "chw"
    HWC = "hwc"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, layout) -> "Layout":
        """``"hwc"`` / ``Layout.HWC`` -> ``Layout.HWC``; anything else is a one-line error."""
        try:
            return cls(layout)
        except ValueError:
            raise ConvcalcError(f"layout: expected chw or hwc, got {layout!r}") from None

    def to_chw(self, shape) -> tuple:
        """A shape read in this layout, in PyTorch order. A 1-D shape has no channel axis to move."""
        dims = tuple(shape)
        if self is Layout.HWC and len(dims) > 1:
            return (dims[-1], *dims[:-1])
        return dims

    def from_chw(self, shape) -> tuple:
        """A shape in PyTorch order, as it is written in this layout (the inverse of :meth:`to_chw`)."""
        dims = tuple(shape)
        if self is Layout.HWC and len(dims) > 1:
            return (*dims[1:], dims[0])
        return dims


LAYOUTS = tuple(layout.value for layout in Layout)


def to_chw(shape, layout) -> tuple:
    return Layout.of(layout).to_chw(shape)


def from_chw(shape, layout) -> tuple:
    return Layout.of(layout).from_chw(shape)


def split_sizes(text) -> list:
    """``"(3, 32 x 32)"`` -> ``["3", "32", "32"]``; brackets and spaces around the sizes are dropped.
    An empty part (``"3x"``, ``""``) stays an empty string, for the caller to refuse."""
    inner = str(text).strip().strip("()[]")
    return [p.strip() for p in _SEPARATOR.split(inner)] if inner else []


def parse_shape(text, symbols: bool = True, minimum: int = 1) -> tuple:
    """A shape: ``"3x224x224"`` -> ``(3, 224, 224)``; ``"3xHxW"`` -> ``(3, "H", "W")`` when
    ``symbols``. Sizes below ``minimum`` are refused. Errors are one line (:class:`ShapeTextError`)."""
    if isinstance(text, tuple):
        return text
    parts = split_sizes(text)
    if not parts or any(p == "" for p in parts):
        raise ShapeTextError(f"malformed shape {text!r}: expected sizes joined by 'x', e.g. 3x224x224")
    dims = []
    for p in parts:
        if _DIGITS.fullmatch(p):
            n = _int(p, text)
            if n < minimum:
                raise ShapeTextError(f"malformed shape {text!r}: sizes must be at least {minimum}, got {n}")
            dims.append(n)
        elif symbols and _SYMBOL.fullmatch(p):
            dims.append(p)  # a symbol; turned into sympy only when the shape is used (to_dims)
        elif symbols:
            raise ShapeTextError(f"malformed shape {text!r}: {p!r} is neither a positive integer nor a symbol name")
        else:
            raise ShapeTextError(f"malformed shape {text!r}: {p!r} is not a positive integer")
    return tuple(dims)


def _int(part: str, text) -> int:
    try:
        return int(part)
    except ValueError:  # more digits than Python converts
        raise ShapeTextError(f"malformed shape {text!r}: {part[:20]!r}... is too long a number") from None


def parse_ints(text) -> tuple:
    """Integers joined like a shape's sizes (hyper-parameters: ``3``, ``3x5``, ``-1``): a tuple of ints.
    Raises :class:`ShapeTextError` for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        return (text,)
    parts = split_sizes(text)
    try:
        if not parts:
            raise ValueError
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ShapeTextError(f"expected integers joined by 'x', got {text!r}") from None


def to_dims(shape, layout="chw", square_default: bool = True):
    """A parsed shape to a per-sample ``(C, *spatial)`` tuple of ints and sympy symbols.

    A single size is a square RGB image (``224`` -> ``3x224x224``) when ``square_default``."""
    if shape is None:
        return None
    order = Layout.of(layout)
    dims = list(shape)
    if len(dims) == 1 and square_default:
        dims = list(order.from_chw((3, dims[0], dims[0])))
    dims = list(order.to_chw(dims))
    if any(isinstance(d, str) for d in dims):
        from .sym import dims as make_symbols

        names = sorted({d for d in dims if isinstance(d, str)})
        syms = make_symbols(" ".join(names))
        syms = syms if isinstance(syms, tuple) else (syms,)
        table = dict(zip(names, syms))
        dims = [table.get(d, d) if isinstance(d, str) else d for d in dims]
    return tuple(dims)
