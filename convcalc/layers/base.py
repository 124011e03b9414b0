"""What every layer gives the engine: an :class:`Inference` for an input shape.

A layer kind is one small class with ``infer(shape) -> Inference``. Shapes are
per sample, PyTorch order ``(C, *spatial)``; sizes are ``Dim`` (int or sympy).
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Sequence

from ..errors import ConfigError, ConvcalcError, ShapeError
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
    # An upsampling axis with numbers may also say exactly which input units output unit o
    # reaches: ``taps(o)`` is the first and last (None: none, only a bias), and
    # ``lattice = (A, B)`` says taps(o + A) = taps(o) + B. Fields then stay exact per unit.
    taps: Optional[object] = field(default=None, compare=False)
    lattice: Optional[tuple] = None
    dilation: Dim = 1  # a dilated window reads every d-th unit of its extent k (with taps: of first..last)

    @classmethod
    def repeat(cls, r: int) -> "Window":
        """Each input unit copied to ``r`` output units (unit o reads o // r): a nearest upsampling."""
        return cls(1, 1, 0, up=r, taps=lambda o: (o // r, o // r), lattice=(r, 1))


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
    # Dependency beyond windows (rf.propagate): per-sample input dims whose positions all reach
    # every output unit (a linear layer mixes its last dim, a group norm every dim), and for a
    # reshape, the input dims each output dim comes from (flatten merges, permute reorders).
    mixed: tuple = ()
    regroup: Optional[tuple] = None
    warnings: list = field(default_factory=list)
    conditions: list = field(default_factory=list)  # symbolic validity: (relational, text)
    tiling: list = field(default_factory=list)      # symbolic leftovers that must be 0 to tile exactly


def tuple_arg(value, n: int, name: str) -> tuple:
    """PyTorch's ``_ntuple``: an int repeated ``n`` times, or a sequence of length ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ConfigError(f"expected {n} values, got {len(value)}", arg=name)
        return tuple(value)
    return (value,) * n


def check_positive(value, name: str, allow_zero: bool = False) -> None:
    for v in value if isinstance(value, tuple) else (value,):
        if is_sym(v):
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if allow_zero else 1):
            kind = "a non-negative" if allow_zero else "a positive"
            raise ConfigError(f"expected {kind} integer, got {v!r}", arg=name)


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


def _recording(init):
    """Wrap a layer's ``__init__`` so the outermost call records its arguments by name."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if "_args" not in self.__dict__:
            try:
                bound = sig.bind(self, *args, **kwargs)
            except TypeError as e:
                raise ConfigError(f"{type(self).kind}: {e}") from None
            bound.apply_defaults()
            named = {}
            for name, value in list(bound.arguments.items())[1:]:
                kind = sig.parameters[name].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    named.update(value)
                elif kind is not inspect.Parameter.VAR_POSITIONAL:
                    named[name] = value
            self.__dict__["_args"] = named
        try:
            init(self, *args, **kwargs)
        except ConvcalcError:
            raise
        except (TypeError, ValueError, AttributeError) as e:  # a wrong kind of argument: say so, no traceback
            raise ConfigError(f"{type(self).kind}: invalid arguments ({e})") from None

    return wrapper


def _arity_checked(infer_all):
    """Wrap a kind's own ``infer_all`` so that a wrong number of inputs is a ShapeError first."""

    @functools.wraps(infer_all)
    def checked(self, shapes):
        self.check_arity(shapes)
        return infer_all(self, shapes)

    return checked


class Layer:
    """Base class. A layer kind is one subclass: ``kind``, PyTorch's constructor arguments
    (recorded automatically: ``args()``), and ``infer``. Everything else that knows about a
    kind (its NumPy kernel, torch mapping, export, convention rows) registers against the
    class in a :class:`convcalc.registry.Registry`, never by name."""

    kind: ClassVar[str] = "layer"
    #: number of spatial dims the input must have (None = any rank)
    nd: ClassVar[Optional[int]] = None
    #: how many input tensors ``infer_all`` takes (None = two or more, as a merge)
    arity: ClassVar[Optional[int]] = 1
    #: the argument a bare number sets in a spec or a one-liner (``conv 10`` -> out_channels=10)
    main_arg: ClassVar[Optional[str]] = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__dict__["__init__"])
        if "infer_all" in cls.__dict__:  # a kind's own infer_all still takes ``arity`` inputs
            cls.infer_all = _arity_checked(cls.__dict__["infer_all"])

    def args(self) -> dict:
        """The constructor arguments under PyTorch's names, defaults filled in:
        ``type(layer)(**{**layer.args(), **changes})`` rebuilds it with changes."""
        return dict(self.__dict__.get("_args", {}))

    def replace(self, **changes) -> "Layer":
        """A copy with some constructor arguments changed."""
        return type(self)(**{**self.args(), **changes})

    def infer(self, shape: tuple) -> Inference:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- training: what the backward pass costs and what autograd keeps (training.py sums it) --
    #: what autograd saves for the backward when this layer is recorded: "input" (every input)
    #: and/or "output" (as PyTorch's derivative formulas do; parameters are not activations)
    saves: ClassVar[tuple] = ()
    #: False for layers whose parameters are frozen (``--freeze``, spec ``trainable: false``)
    trainable: bool = True
    #: the names (``weight_shapes`` keys) of the parameters frozen when only some are
    #: (``requires_grad`` from torch: a frozen weight with a trainable bias, as bias-only tuning)
    frozen_params: frozenset = frozenset()
    #: True where the model's PyTorch source applies it as a function (``F.relu(x)``), not a module:
    #: peers that count modules do not see it (conventions.py); set by ``from_torch`` and the zoo
    functional: bool = False

    def aliases_input(self) -> bool:
        """The output shares the input's storage: a view, or an in-place op."""
        return bool(getattr(self, "inplace", False))

    def backward_macs(self, shapes, inf: Inference) -> tuple:
        """Per-sample MACs of (the input gradient, the weight gradient[, the part both need]):
        the first is spent only when an input needs a gradient (a tuple: one entry per input,
        each spent when that input needs one, as a matmul's two operands), the second only for
        trainable weights, the optional third whenever the layer is in the backward at all
        (attention's matmuls lead to its inputs and to its projection weights alike)."""
        return 0, 0

    def trainable_weight_grad(self, dw, trainable) -> object:
        """The part of ``backward_macs``' weight-gradient MACs ``dw`` spent when only the
        parameters named ``trainable`` (``weight_shapes`` keys) get gradients: all of it unless
        only biases train (a bias gradient is a sum, no MACs; bias-only tuning)."""
        return dw if any(not n.endswith("bias") for n in trainable) else 0

    def saved(self, shapes, inf: Inference, input_grads: tuple) -> tuple:
        """What is saved when recorded, given which inputs require gradients."""
        return self.saves

    def saved_extra(self, shapes, inf: Inference) -> tuple:
        """Other tensors saved: ``(elements, bytes per element or None for the activation
        dtype, per_sample)`` (max-pool indices, norm statistics, dropout noise)."""
        return ()

    def infer_all(self, shapes: Sequence[tuple]) -> Inference:
        """Inference from the shapes of every input (one for most layers)."""
        self.check_arity(shapes)
        return self.infer(tuple(shapes[0]))

    def check_arity(self, shapes: Sequence[tuple]) -> None:
        """A fixed number of inputs (``arity``): any other is a ShapeError (checked before any
        kind's own ``infer_all`` too)."""
        if self.arity is not None and len(shapes) != self.arity:
            raise ShapeError(f"{self.kind} takes {self.arity} input(s), got {len(shapes)}")

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
