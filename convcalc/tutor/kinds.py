"""What tutoring needs to know about a layer kind, registered against its class (never by name).

Slips rebuild a network with one mistake, and which mistake applies to a layer depends on what
it is: a convolution has a window, channels and groups; a linear layer has features; a pool has
a window and no weights; activations and norms keep the map as it is. A kind defined outside
the package says the same with ``ROLES.register(MyConv)(CONV)``; an unregistered kind takes
part in no slip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import layers as L
from ..registry import Registry


@dataclass(frozen=True)
class Features:
    """The constructor arguments that count a layer's inputs and outputs, and the axis they size."""

    in_arg: str
    out_arg: str
    axis: int       # 0: channels first (C, *spatial); -1: the last dim
    unit: str       # one output is a ... ("channel", "unit")


@dataclass(frozen=True)
class Role:
    windowed: bool = False                # a kernel / stride / padding window (its ``.pads``: (lo, hi) per axis)
    transposed: bool = False              # the window upsamples
    features: Optional[Features] = None   # weights from input to output features (a bias per output)
    grouped: bool = False                 # has ``groups``
    pool: bool = False                    # a window without weights
    pointwise: bool = False               # keeps the map as it is (activations, norms)


CHANNELS = Features("in_channels", "out_channels", 0, "channel")
CONV = Role(windowed=True, features=CHANNELS, grouped=True)
TRANSPOSED_CONV = Role(windowed=True, transposed=True, features=CHANNELS, grouped=True)
LINEAR = Role(features=Features("in_features", "out_features", -1, "unit"))
POOL = Role(windowed=True, pool=True)
POINTWISE = Role(pointwise=True)
OTHER = Role()

ROLES = Registry("tutoring role")
ROLES.register(L.Conv1d, L.Conv2d, L.Conv3d)(CONV)
ROLES.register(L.ConvTranspose1d, L.ConvTranspose2d, L.ConvTranspose3d)(TRANSPOSED_CONV)
ROLES.register(L.Linear)(LINEAR)
ROLES.register(L.MaxPool1d, L.MaxPool2d, L.MaxPool3d, L.AvgPool1d, L.AvgPool2d, L.AvgPool3d)(POOL)
ROLES.register(L.Elementwise, L.BatchNorm1d, L.BatchNorm2d, L.BatchNorm3d, L.InstanceNorm1d, L.InstanceNorm2d,
               L.InstanceNorm3d, L.LocalResponseNorm)(POINTWISE)


def role(layer) -> Role:
    """The layer's role (``OTHER`` for a kind that registered none, and for a merge row's None)."""
    return OTHER if layer is None else ROLES.get(layer, OTHER)
