"""Shape-preserving elementwise layers: activations, dropout, identity.

None has MACs (DESIGN §2); only PReLU has parameters (1, or one per channel).
"""
from __future__ import annotations

from ..errors import ConfigError, ShapeError
from ..sym import fmt, is_sym
from .base import Inference, Layer


class Elementwise(Layer):
    """A layer that maps each element on its own: same shape, no parameters, no MACs."""

    kind = "elementwise"
    label = None  # table text; defaults to kind

    def infer(self, shape: tuple) -> Inference:
        return Inference(shape=tuple(shape))

    def describe(self) -> str:
        return self.label or self.kind


class ReLU(Elementwise):
    kind = "relu"

    def __init__(self, inplace=False):
        self.inplace = inplace


class ReLU6(ReLU):
    kind = "relu6"


class Sigmoid(Elementwise):
    kind = "sigmoid"


class Tanh(Elementwise):
    kind = "tanh"


class Hardswish(ReLU):
    kind = "hardswish"


class Hardsigmoid(ReLU):
    kind = "hardsigmoid"


class SiLU(ReLU):
    kind = "silu"


class LeakyReLU(Elementwise):
    main_arg = "negative_slope"
    kind = "leakyrelu"

    def __init__(self, negative_slope=0.01, inplace=False):
        self.negative_slope = negative_slope


class ELU(Elementwise):
    main_arg = "alpha"
    kind = "elu"

    def __init__(self, alpha=1.0, inplace=False):
        self.alpha = alpha


class GELU(Elementwise):
    kind = "gelu"

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ConfigError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate


class Identity(Elementwise):
    kind = "identity"

    def __init__(self, *args, **kwargs):
        pass


class Dropout(Elementwise):
    """Identity at inference (convcalc counts inference)."""
    main_arg = "p"

    kind = "dropout"

    def __init__(self, p=0.5, inplace=False):
        if not 0 <= p <= 1:
            raise ConfigError(f"dropout probability has to be between 0 and 1, got {p}")
        self.p = p


class Dropout1d(Dropout):
    kind, label = "dropout1d", "dropout"


class Dropout2d(Dropout):
    kind, label = "dropout2d", "dropout"


class Dropout3d(Dropout):
    kind, label = "dropout3d", "dropout"


class StochasticDepth(Dropout):
    """Drops a whole residual branch while training; identity at inference."""

    kind = "stochasticdepth"

    def __init__(self, p=0.0, mode="row"):
        super().__init__(p)
        self.mode = mode


class _SoftmaxBase(Elementwise):
    main_arg = "dim"
    def __init__(self, dim=None):
        self.dim = dim

    def infer(self, shape: tuple) -> Inference:
        if self.dim is not None and not (-len(shape) - 1 <= self.dim <= len(shape)):
            raise ShapeError(f"{self.kind}: dim {self.dim} is out of range for {len(shape)} dims (+ batch)")
        return Inference(shape=tuple(shape))


class Softmax(_SoftmaxBase):
    kind = "softmax"


class LogSoftmax(_SoftmaxBase):
    kind = "logsoftmax"


class PReLU(Layer):
    """One learnable slope (``num_parameters=1``) or one per channel."""
    main_arg = "num_parameters"

    kind = "prelu"

    def __init__(self, num_parameters=1, init=0.25):
        if not is_sym(num_parameters) and (not isinstance(num_parameters, int) or num_parameters < 1):
            raise ConfigError(f"num_parameters: expected a positive integer, got {num_parameters!r}")
        self.num_parameters, self.init = num_parameters, init

    def infer(self, shape: tuple) -> Inference:
        n = self.num_parameters
        if n != 1 and not is_sym(shape[0]) and shape[0] != n:
            raise ShapeError(f"prelu has {n} parameters but the input has {fmt(shape[0])} channels")
        return Inference(shape=tuple(shape), params=n)

    def weight_shapes(self, shape):
        return {"weight": (self.num_parameters,)}
