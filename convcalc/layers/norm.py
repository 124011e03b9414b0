"""Normalisation layers. Parameters are the affine scale and shift; buffers are the
running statistics PyTorch keeps (mean, var and the ``num_batches_tracked`` counter).
No MACs: at inference a norm folds into the layer before it (DESIGN §2)."""
from __future__ import annotations

from ..errors import ConfigError, ShapeError
from ..sym import fmt, is_sym, prod
from .base import Inference, Layer, check_positive, tuple_arg


class _BatchNorm(Layer):
    main_arg = "num_features"
    ranks = (2, 3)  # per-sample ranks accepted: (C, *spatial)
    saves = ("input",)
    stats_per_sample = False  # batch norm's saved mean and 1/std are per channel, for the whole batch

    def saved_extra(self, shapes, inf):
        return ((2 * shapes[0][0], 4, self.stats_per_sample),)  # fp32 mean and inverse std

    def __init__(self, num_features=None, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        if num_features is not None:
            check_positive(num_features, "num_features")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)

    def channels(self, shape) -> int:
        self.check_rank(shape, self.ranks)
        c = shape[0]
        if self.num_features is not None and not is_sym(c) and c != self.num_features:
            raise ShapeError(f"{self.kind} expects {self.num_features} channels, got {fmt(c)}")
        return c

    def infer(self, shape: tuple) -> Inference:
        c = self.channels(shape)
        return Inference(shape=tuple(shape), params=2 * c if self.affine else 0,
                         buffers=2 * c + 1 if self.track_running_stats else 0)

    def weight_shapes(self, shape):
        return {"weight": (shape[0],), "bias": (shape[0],)} if self.affine else {}

    def buffer_shapes(self, shape):
        if not self.track_running_stats:
            return {}
        return {"running_mean": (shape[0],), "running_var": (shape[0],), "num_batches_tracked": ()}

    def describe(self) -> str:
        return "batchnorm"


class BatchNorm1d(_BatchNorm):
    kind, ranks = "batchnorm1d", (1, 2)


class BatchNorm2d(_BatchNorm):
    kind, ranks = "batchnorm2d", (3,)


class BatchNorm3d(_BatchNorm):
    kind, ranks = "batchnorm3d", (4,)


class _InstanceNorm(_BatchNorm):
    """InstanceNorm: PyTorch defaults are affine=False, track_running_stats=False.

    Without running statistics it normalises each sample by its own mean and variance over
    space, even at inference: every output unit then depends on every position."""

    stats_per_sample = True  # run as a batch norm over (1, N*C, ...)

    def infer(self, shape: tuple) -> Inference:
        inf = super().infer(shape)
        if self.track_running_stats:
            return inf
        spatial = prod(shape[1:])
        if not is_sym(spatial) and spatial <= 1:
            raise ShapeError(f"expected more than 1 spatial element, got input size "
                             f"{'x'.join(fmt(d) for d in shape)} (as PyTorch)")
        inf.mixed = tuple(range(1, len(shape)))
        return inf

    def __init__(self, num_features=None, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def describe(self) -> str:
        return "instancenorm"


class InstanceNorm1d(_InstanceNorm):
    kind, ranks = "instancenorm1d", (2,)


class InstanceNorm2d(_InstanceNorm):
    kind, ranks = "instancenorm2d", (3,)


class InstanceNorm3d(_InstanceNorm):
    kind, ranks = "instancenorm3d", (4,)


class LayerNorm(Layer):
    """Normalises over the last ``len(normalized_shape)`` dims; params 2*prod(shape) (1x without bias)."""
    main_arg = "normalized_shape"

    kind = "layernorm"
    saves = ("input",)

    def saved_extra(self, shapes, inf):
        from ..sym import prod

        shape, n = shapes[0], len(self.normalized_shape)
        return ((2 * prod(shape[:len(shape) - n]), 4, True),)  # fp32 mean and 1/std per normalised row

    def __init__(self, normalized_shape=None, eps=1e-5, elementwise_affine=True, bias=True):
        if normalized_shape is None:
            raise ConfigError("layernorm: normalized_shape is required")
        self.normalized_shape = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) \
            else (normalized_shape,)
        self.eps, self.elementwise_affine, self.bias = eps, bool(elementwise_affine), bool(bias)

    def infer(self, shape: tuple) -> Inference:
        n = len(self.normalized_shape)
        if tuple(shape[-n:]) != self.normalized_shape and not any(is_sym(d) for d in shape[-n:]):
            raise ShapeError(f"layernorm over {self.normalized_shape} does not fit an input ending in "
                             f"{tuple(shape[-n:])}")
        per = prod(self.normalized_shape)
        params = (per * (2 if self.bias else 1)) if self.elementwise_affine else 0
        # statistics over the normalised dims: those positions all reach every output unit
        return Inference(shape=tuple(shape), params=params, mixed=tuple(range(len(shape) - n, len(shape))))

    def weight_shapes(self, shape):
        if not self.elementwise_affine:
            return {}
        ws = {"weight": self.normalized_shape}
        if self.bias:
            ws["bias"] = self.normalized_shape
        return ws

    def describe(self) -> str:
        return "layernorm"


class GroupNorm(Layer):
    main_arg = "num_groups"
    kind = "groupnorm"
    saves = ("input",)

    def saved_extra(self, shapes, inf):
        return ((2 * self.num_groups, 4, True),)

    def __init__(self, num_groups=None, num_channels=None, eps=1e-5, affine=True):
        if num_groups is None:
            raise ConfigError("groupnorm: num_groups is required")
        check_positive(num_groups, "num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, bool(affine)

    def infer(self, shape: tuple) -> Inference:
        c = shape[0]
        if self.num_channels is not None and not is_sym(c) and c != self.num_channels:
            raise ShapeError(f"groupnorm expects {self.num_channels} channels, got {fmt(c)}")
        if not is_sym(c) and c % self.num_groups:
            raise ShapeError(f"groupnorm: {self.num_groups} groups do not divide {c} channels")
        # statistics over each group's channels and every position
        return Inference(shape=tuple(shape), params=2 * c if self.affine else 0, mixed=tuple(range(len(shape))))

    def weight_shapes(self, shape):
        return {"weight": (shape[0],), "bias": (shape[0],)} if self.affine else {}

    def describe(self) -> str:
        return f"groupnorm {fmt(self.num_groups)}"


class LocalResponseNorm(Layer):
    """AlexNet's LRN across ``size`` neighbouring channels: no parameters, no MACs counted."""
    main_arg = "size"

    kind = "localresponsenorm"
    saves = ("input",)

    def saved_extra(self, shapes, inf):
        # PyTorch composes it: the channel-padded squares, the divisor and one product survive.
        from ..sym import prod

        c, spatial = shapes[0][0], prod(shapes[0][1:])
        return (((c + self.size - 1) * spatial + 2 * c * spatial, None, True),)

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        check_positive(size, "size")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def infer(self, shape: tuple) -> Inference:
        if len(shape) < 2:
            raise ShapeError("localresponsenorm expects an input of at least 2 dims (C, *spatial)")
        return Inference(shape=tuple(shape), mixed=(0,))  # neighbouring channels

    def describe(self) -> str:
        return f"lrn {fmt(self.size)}"


def tuple_or_int(x, n):  # re-export for builders
    return tuple_arg(x, n, "size")
