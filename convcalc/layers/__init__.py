"""Every layer kind the engine knows, one small class each, by PyTorch name.

``KINDS`` maps the lower-case kind (``conv2d``, ``maxpool2d``, ...) to its class:
the CLI's ``convcalc layer KIND`` and spec files look layers up there. To add a
layer kind, write a class with ``kind`` and ``infer(shape) -> Inference`` in one
of these modules, list it here, and give it a NumPy kernel in ``verify.EXEC``.
"""
from .act import (ELU, GELU, Dropout, Dropout1d, Dropout2d, Dropout3d, Elementwise, Hardsigmoid, Hardswish,
                  Identity, LeakyReLU, LogSoftmax, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, StochasticDepth, Tanh)
from .attention import (ClassToken, MultiheadAttention, PartitionAttention, PatchMerge, PosEmbedding, SelectToken,
                        ShiftedWindowAttention, Tokens)
from .base import Inference, Layer, Window
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Flatten, Linear
from .norm import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                   InstanceNorm3d, LayerNorm, LocalResponseNorm)
from .tensor import (CenterCrop, ChannelShuffle, ChannelSlice, LayerNorm2d, LayerScale, Permute, Upsample,
                     ZeroPad2d)
from .ops import MatMul, Op, Pointwise, Reduce, Unknown, View
from .pool import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                   AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d)

KINDS = {cls.kind: cls for cls in (
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
    MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d,
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d,
    Linear, Flatten, BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
    LayerNorm, GroupNorm, LocalResponseNorm,
    ReLU, ReLU6, LeakyReLU, ELU, PReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Hardswish, Hardsigmoid, SiLU, GELU,
    Dropout, Dropout1d, Dropout2d, Dropout3d, StochasticDepth, Identity,
    CenterCrop, ChannelShuffle, ChannelSlice, Permute, Upsample, LayerScale, LayerNorm2d, ZeroPad2d,
    MultiheadAttention, Tokens, ClassToken, PosEmbedding, SelectToken, ShiftedWindowAttention, PatchMerge,
    PartitionAttention,
    View, Reduce, Pointwise, MatMul, Op, Unknown,
)}
# Common aliases people type.
ALIASES = {"conv": "conv2d", "lrn": "localresponsenorm", "fc": "linear", "dense": "linear", "maxpool": "maxpool2d",
           "avgpool": "avgpool2d", "bn": "batchnorm2d", "batchnorm": "batchnorm2d", "deconv": "convtranspose2d",
           "convtranspose": "convtranspose2d", "gap": "adaptiveavgpool2d",
           "zeropad": "zeropad2d", "pad": "zeropad2d"}


def kind_key(name) -> str:
    """How a kind name is looked up: lower case, no ``_`` or ``-``, aliases resolved (``Conv_2d``, ``fc``)."""
    key = str(name).lower().replace("_", "").replace("-", "")
    return ALIASES.get(key, key)


def resolve_kind(name):
    """The ``KINDS`` key a typed kind name means (``conv`` -> ``conv2d``, ``FC`` -> ``linear``), or None."""
    key = kind_key(name)
    return key if key in KINDS else None


def register_kind(cls, aliases=()):
    """Make a layer class known by its ``kind`` (spec files, one-liners, ``convcalc layer``), also
    under ``aliases``; for kinds defined outside convcalc. Returns ``cls`` (usable as a decorator)."""
    KINDS[cls.kind] = cls
    for alias in aliases:
        ALIASES[alias.lower()] = cls.kind
    return cls


__all__ = [name for name in dir() if not name.startswith("_")]
