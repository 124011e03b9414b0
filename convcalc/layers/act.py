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
    #: run in place, an op whose backward reads its input keeps its result instead ("output",
    #: the same storage) or, for hardtanh-like and SiLU kernels, a fresh copy ("copy": measured)
    inplace_saves = "output"

    def _inplace_input_saver(self) -> bool:
        return bool(getattr(self, "inplace", False)) and self.saves == ("input",)

    def saved(self, shapes, inf, input_grads):
        if self._inplace_input_saver():
            return ("output",) if self.inplace_saves == "output" else ()
        return self.saves

    def saved_extra(self, shapes, inf):
        if self._inplace_input_saver() and self.inplace_saves == "copy":
            from ..sym import prod

            return ((prod(shapes[0]), None, True),)
        return ()

    def infer(self, shape: tuple) -> Inference:
        return Inference(shape=tuple(shape))

    def describe(self) -> str:
        return self.label or self.kind


class ReLU(Elementwise):
    kind = "relu"
    saves = ("output",)

    def __init__(self, inplace=False):
        self.inplace = inplace


class ReLU6(ReLU):
    kind = "relu6"
    saves = ("input",)
    inplace_saves = "copy"


class Sigmoid(Elementwise):
    kind = "sigmoid"
    saves = ("output",)


class Tanh(Elementwise):
    kind = "tanh"
    saves = ("output",)


class Hardswish(ReLU):
    kind = "hardswish"
    saves = ("input",)
    inplace_saves = "copy"


class Hardsigmoid(ReLU):
    kind = "hardsigmoid"
    saves = ("input",)
    inplace_saves = "copy"


class SiLU(ReLU):
    kind = "silu"
    saves = ("input",)
    inplace_saves = "copy"


class LeakyReLU(Elementwise):
    main_arg = "negative_slope"
    kind = "leakyrelu"
    saves = ("input",)

    def __init__(self, negative_slope=0.01, inplace=False):
        self.negative_slope, self.inplace = negative_slope, inplace


class ELU(Elementwise):
    main_arg = "alpha"
    kind = "elu"
    saves = ("input",)

    def __init__(self, alpha=1.0, inplace=False):
        self.alpha, self.inplace = alpha, inplace


class GELU(Elementwise):
    kind = "gelu"
    saves = ("input",)

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ConfigError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate


class Identity(Elementwise):
    kind = "identity"

    def aliases_input(self):
        return True

    def __init__(self, *args, **kwargs):
        pass


class Dropout(Elementwise):
    """Identity at inference (convcalc counts inference)."""
    main_arg = "p"

    kind = "dropout"
    #: elements of the random noise per sample, by input shape (Dropout2d/3d: one per channel)
    noise_dims = None

    def __init__(self, p=0.5, inplace=False):
        if not 0 <= p <= 1:
            raise ConfigError(f"dropout probability has to be between 0 and 1, got {p}")
        self.p = p
        self.inplace = inplace

    def aliases_input(self):
        return self.inplace or self.p == 0  # p = 0 returns its input

    def saved_extra(self, shapes, inf):
        # Training keeps the scaled noise it multiplied by (PyTorch's CPU path: the activation
        # dtype; CUDA's fused kernel keeps a one-byte mask instead).
        if self.p == 0:
            return ()
        from ..sym import prod

        shape = shapes[0]
        return ((prod(shape if self.noise_dims is None else shape[:self.noise_dims]), None, True),)


class Dropout1d(Dropout):
    kind, label, noise_dims = "dropout1d", "dropout", 1


class Dropout2d(Dropout):
    kind, label, noise_dims = "dropout2d", "dropout", 1


class Dropout3d(Dropout):
    kind, label, noise_dims = "dropout3d", "dropout", 1


class StochasticDepth(Dropout):
    """Drops a whole residual branch while training; identity at inference."""

    kind = "stochasticdepth"
    noise_dims = 0  # one draw per sample

    def __init__(self, p=0.0, mode="row"):
        super().__init__(p)
        self.mode = mode

    def saved_extra(self, shapes, inf):
        if self.p == 0:
            return ()
        return ((1, None, self.mode == "row"),)  # one draw per sample ("row") or per batch


class _SoftmaxBase(Elementwise):
    saves = ("output",)
    main_arg = "dim"

    def __init__(self, dim=None):
        self.dim = dim

    def infer(self, shape: tuple) -> Inference:
        if self.dim is not None and not (-len(shape) - 1 <= self.dim <= len(shape)):
            raise ShapeError(f"{self.kind}: dim {self.dim} is out of range for {len(shape)} dims (+ batch)")
        # normalised along ``dim``: every position on it reaches every output unit there
        dim = self.dim if self.dim is not None else (0 if len(shape) + 1 in (0, 1, 3) else 1)  # torch's legacy rule
        d = dim % (len(shape) + 1) - 1
        return Inference(shape=tuple(shape), mixed=() if d < 0 else (d,))


class Softmax(_SoftmaxBase):
    kind = "softmax"


class LogSoftmax(_SoftmaxBase):
    kind = "logsoftmax"


class PReLU(Layer):
    """One learnable slope (``num_parameters=1``) or one per channel."""
    main_arg = "num_parameters"

    kind = "prelu"
    saves = ("input",)

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
