"""The model zoo: readable builders, looked up by name.

``REGISTRY`` maps a model name to ``"module:function"`` so that ``convcalc alexnet``
imports only the module it needs. Each builder returns a :class:`Model`.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Optional

from ..errors import UnknownModel


@dataclass
class Model:
    name: str
    net: object            # a Sequential / Parallel
    input: tuple           # default per-sample input (C, *spatial)
    doc: str = ""
    figures: dict = field(default_factory=dict)  # published figures and their sources, for tests and docs
    warnings: list = field(default_factory=list)  # said with every analysis of it (e.g. from_torch's notes)
    budget: dict = field(default_factory=dict)    # limits from a spec's ``budget:`` block (params, macs, memory)


REGISTRY = {
    "alexnet": "classic:alexnet",
    "alexnet-paper": "classic:alexnet_paper",
    "alexnet-torchvision": "classic:alexnet_torchvision",
    "lenet5": "classic:lenet5",
    "tinyconv": "classic:tinyconv",
    "tinyconv-gap": "classic:tinyconv_gap",
    "zfnet": "vgg:zfnet",
    "vgg11": "vgg:vgg11", "vgg13": "vgg:vgg13", "vgg16": "vgg:vgg16", "vgg19": "vgg:vgg19",
    "vgg11_bn": "vgg:vgg11_bn", "vgg13_bn": "vgg:vgg13_bn", "vgg16_bn": "vgg:vgg16_bn", "vgg19_bn": "vgg:vgg19_bn",
    "resnet18": "resnet:resnet18", "resnet34": "resnet:resnet34", "resnet50": "resnet:resnet50",
    "resnet101": "resnet:resnet101", "resnet152": "resnet:resnet152",
    "resnext50_32x4d": "resnet:resnext50_32x4d", "wide_resnet50_2": "resnet:wide_resnet50_2",
    "googlenet": "inception:googlenet", "inception_v3": "inception:inception_v3",
    "googlenet_aux": "inception:googlenet_with_aux", "inception_v3_aux": "inception:inception_v3_with_aux",
    "densenet121": "densenet:densenet121",
    "squeezenet1_0": "squeezenet:squeezenet1_0", "squeezenet1_1": "squeezenet:squeezenet1_1",
    "shufflenet_v2_x1_0": "shufflenet:shufflenet_v2_x1_0",
    "mobilenet_v1": "mobilenet:mobilenet_v1", "mobilenet_v2": "mobilenet:mobilenet_v2",
    "mobilenet_v3_small": "mobilenet:mobilenet_v3_small", "mobilenet_v3_large": "mobilenet:mobilenet_v3_large",
    "efficientnet_b0": "efficientnet:efficientnet_b0", "regnet_x_400mf": "regnet:regnet_x_400mf",
    "convnext_tiny": "convnext:convnext_tiny",
    "vit_b_16": "vit:vit_b_16", "swin_t": "swin:swin_t", "maxvit_t": "maxvit:maxvit_t",
    "unet": "unet:unet", "dcgan_generator": "unet:dcgan_generator",
}


def functional(layer):
    """``layer``, marked as applied by a function in the PyTorch source the model follows (torchvision's
    ``F.relu(x)``): tools that hook modules do not see it (conventions.py)."""
    layer.functional = True
    return layer


def channels_last(norm):
    """A ``LayerNorm2d`` that the PyTorch source writes as ``nn.LayerNorm`` on a channels-last map."""
    norm.channels_last = True
    return norm


def available() -> list:
    """Names whose builder module exists (the zoo grows module by module)."""
    import importlib.util

    return [n for n, target in REGISTRY.items()
            if importlib.util.find_spec(f"{__name__}.{target.split(':')[0]}") is not None]


def names() -> list:
    return available()


def get(name: str, input: Optional[tuple] = None) -> Model:
    """The zoo model ``name`` (case and ``-``/``_`` insensitive)."""
    key = name.strip().lower()
    if key not in REGISTRY:
        key = key.replace("_", "-")
    if key not in REGISTRY:
        key = key.replace("-", "_")
    if key not in REGISTRY or key not in available():
        close = difflib.get_close_matches(name.lower(), available(), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `convcalc list` shows them all"
        raise UnknownModel(f"unknown model {name!r}{hint}")
    module, func = REGISTRY[key].split(":")
    builder = getattr(importlib.import_module(f"{__name__}.{module}"), func)
    model = builder()
    if input is not None:
        model.input = tuple(input)
    return model
