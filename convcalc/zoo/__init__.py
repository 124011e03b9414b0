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


REGISTRY = {
    "alexnet": "classic:alexnet",
    "alexnet-paper": "classic:alexnet_paper",
    "alexnet-torchvision": "classic:alexnet_torchvision",
    "lenet5": "classic:lenet5",
    "tinyconv": "classic:tinyconv",
    "tinyconv-gap": "classic:tinyconv_gap",
}


def canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-") if name.strip().lower().replace("_", "-") in REGISTRY \
        else name.strip().lower()


def names() -> list:
    return list(REGISTRY)


def get(name: str, input: Optional[tuple] = None) -> Model:
    """The zoo model ``name`` (case and ``-``/``_`` insensitive)."""
    key = name.strip().lower()
    if key not in REGISTRY:
        key = key.replace("_", "-")
    if key not in REGISTRY:
        key = key.replace("-", "_")
    if key not in REGISTRY:
        close = difflib.get_close_matches(name.lower(), list(REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `convcalc list` shows them all"
        raise UnknownModel(f"unknown model {name!r}{hint}")
    module, func = REGISTRY[key].split(":")
    builder = getattr(importlib.import_module(f"{__name__}.{module}"), func)
    model = builder()
    if input is not None:
        model.input = tuple(input)
    return model
