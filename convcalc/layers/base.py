"""What every layer gives the engine: an :class:`Inference` for an input shape.

A layer kind is one small class with ``infer(shape) -> Inference``. Shapes are
per sample, PyTorch order ``(C, *spatial)``; sizes are ``Dim`` (int or sympy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional, Sequence

from ..errors import ConfigError, ShapeError
from ..sym import Dim, at_least, is_sym, resolve


@dataclass(frozen=True)
class Window:
    """One spatial axis of a windowed layer, as receptive-field arithmetic needs it.

    ``k`` is the effective extent ``d*(k-1)+1``; ``s`` the stride; ``p`` the left
    padding. ``up`` > 1 marks an upsampling axis (transposed conv, upsample): then
    ``k`` is how many input units an output unit reaches on average and ``p`` the
    offset of the first output's centre from input unit 0, in output units.
    """

    k: Dim
    s: Dim
    p: Dim
    up: Dim = 1
    exact: bool = True  # False where windows differ in size (uneven adaptive pooling)


@dataclass
class Inference:
    """What one layer does to one sample."""

    shape: tuple
    params: Dim = 0
    buffers: Dim = 0
    macs: Dim = 0
    # Receptive field: "same" (pointwise), "window" (per-axis `windows`), "global"
    # (every output unit sees every input position, e.g. flatten, adaptive pool to 1).
    rf: str = "same"
    windows: tuple = ()
    warnings: list = field(default_factory=list)
    conditions: list = field(default_factory=list)  # symbolic validity: (relational, text)
    tiling: list = field(default_factory=list)      # symbolic leftovers that must be 0 to tile exactly


def tuple_arg(value, n: int, name: str) -> tuple:
    """PyTorch's ``_ntuple``: an int repeated ``n`` times, or a sequence of length ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ConfigError(f"{name}: expected {n} values, got {len(value)}")
        return tuple(value)
    return (value,) * n


def check_positive(value, name: str, allow_zero: bool = False) -> None:
    for v in value if isinstance(value, tuple) else (value,):
        if is_sym(v):
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if allow_zero else 1):
            kind = "a non-negative" if allow_zero else "a positive"
            raise ConfigError(f"{name}: expected {kind} integer, got {v!r}")


def require_size(value: Dim, what: str, arithmetic, conds: list) -> None:
    """A size must be >= 1: error when it surely is not, a condition when undecidable.
    ``arithmetic`` (text, or a function giving it) shows the working in the error."""
    ok = at_least(value, 1)
    decided = resolve(ok, None) if not isinstance(ok, bool) else ok
    if decided is False:
        working = arithmetic() if callable(arithmetic) else arithmetic
        raise ShapeError(f"{what} would be {value} < 1: {working}")
    if decided is None:
        conds.append((ok, f"{what} >= 1"))


def require_equal(value, expected, what: str, conds: list) -> None:
    """``value == expected``: an error when surely not, a condition when undecidable."""
    ok = value == expected
    if ok is True:
        return
    if not is_sym(value) and not is_sym(expected):
        raise ShapeError(f"{what}: expected {expected}, got {value}")
    from ..sym import sp

    conds.append((sp().Eq(value, expected), f"{what} = {expected}"))


class Layer:
    """Base class. Subclasses set ``kind`` and implement ``infer``."""

    kind: ClassVar[str] = "layer"
    #: number of spatial dims the input must have (None = any rank)
    nd: ClassVar[Optional[int]] = None

    def infer(self, shape: tuple) -> Inference:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """Short text for the table: ``conv 11x11/4, 96``."""
        return self.kind

    def weight_shapes(self, shape: tuple) -> dict:
        """Trainable tensors this layer creates for input ``shape`` (name -> shape)."""
        return {}

    def buffer_shapes(self, shape: tuple) -> dict:
        """Non-trainable state (running statistics, counters)."""
        return {}

    def check_rank(self, shape: Sequence, ranks: Sequence[int]) -> None:
        if len(shape) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ShapeError(
                f"{self.kind} expects an input of {want} dims (C, *spatial), got {len(shape)}: "
                + "x".join(str(d) for d in shape)
            )

    def __repr__(self) -> str:
        return f"<{self.describe()}>"
