"""The one-line spec grammar: a model in one shell argument.

``convcalc "3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10"``::

    LINE   := SHAPE ("|" LAYER)+
    SHAPE  := sizes joined by "x": 3x32x32, 1x28x28, 3xHxW
    LAYER  := KIND ARG*          KIND: a layer kind or alias (conv, conv2d, relu, maxpool, fc, bn...)
    ARG    := N                  the main size: out_channels (conv), out_features (linear),
                                 kernel_size (pools), output_size (adaptive pools), p (dropout),
                                 num_groups (groupnorm), size (lrn), scale_factor (upsample), ...
            | kN sN pN dN gN     kernel_size, stride, padding, dilation, groups (N or NxM per axis)
            | pA:B  pA:BxC:D     padding before:after, on every axis or per axis (asymmetric)
            | nobias | ceil     bias=False, ceil_mode=True
            | NAME=VALUE         any PyTorch argument: padding=same, eps=0.001, bias=false

Rows are named ``0, 1, 2, ...`` as in ``torch.nn.Sequential``.
"""
from __future__ import annotations

import re

from ..graph import Sequential
from ..layers import KINDS
from ..zoo import Model
from .kinds import SpecError, _kind_hint, _resolve_kind, main_arg, make_layer, parse_shape
from .builder import _Builder

SHORT_ARGS = {"k": "kernel_size", "s": "stride", "p": "padding", "d": "dilation", "g": "groups"}


def _number(text: str):
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?(\d+\.\d*|\.\d+|\d+)(e-?\d+)?", text, re.I):
        return float(text)
    return None


def _size(text: str, place: str):
    """``3`` -> 3, ``3x5`` -> [3, 5]."""
    parts = text.split("x")
    nums = [_number(p) for p in parts]
    if any(n is None or isinstance(n, float) for n in nums):
        raise SpecError(f"{place}: expected an integer or integers joined by 'x', got {text!r}")
    return nums[0] if len(nums) == 1 else nums


def _value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    n = _number(text)
    if n is not None:
        return n
    if re.fullmatch(r"-?\d+(x-?\d+)+", text) or "," in text:
        parts = [p for p in re.split(r"[x,]", text.strip("()[]")) if p]
        nums = [_number(p) for p in parts]
        if all(x is not None for x in nums):
            return nums
    return text


def parse_line(text: str) -> Model:
    """``"3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10"`` -> a Model."""
    if len(text) > 100_000:
        raise SpecError("one-line spec: longer than 100,000 characters")
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 2 or not parts[0]:
        raise SpecError(f"one-line spec: expected 'SHAPE | layer | layer ...', got {text!r}")
    where = "one-line spec"
    builder = _Builder(where)
    shape = parse_shape(parts[0], builder.fail) if re.fullmatch(r"[\w\s×,()\[\]]+", parts[0]) else None
    if shape is None:
        raise SpecError(f"{where}: {parts[0]!r} is not a shape (expected e.g. 3x32x32)")
    children = []
    for i, part in enumerate(parts[1:]):
        place = f"{where}: layer {i + 1} ({part!r})" if part else f"{where}: layer {i + 1}"
        tokens = part.split()
        if not tokens:
            raise SpecError(f"{place}: empty layer between '|'")
        kind = _resolve_kind(tokens[0])
        if kind is None:
            raise SpecError(f"{place}: unknown layer kind {tokens[0]!r}{_kind_hint(tokens[0])}")
        args = {}

        def put(arg, value):
            if arg in args:
                raise SpecError(f"{place}: {arg} given twice")
            args[arg] = value

        for tok in tokens[1:]:
            m = re.fullmatch(r"([kspdg])(\d+(?:x\d+)*)", tok)
            pairs = re.fullmatch(r"p(\d+:\d+(?:x\d+:\d+)*)", tok)
            if pairs:  # asymmetric padding: p1:2 (before:after, every axis) or p1:2x0:1 per axis
                lohi = [[int(v) for v in part.split(":")] for part in pairs.group(1).split("x")]
                nd = KINDS[kind].nd or len(lohi)
                if len(lohi) == 1:
                    lohi = lohi * nd
                put("padding", lohi)
            elif "=" in tok:
                arg, _, val = tok.partition("=")
                if not arg or not val:
                    raise SpecError(f"{place}: expected NAME=VALUE, got {tok!r}")
                put(arg, _value(val))
            elif m:
                put(SHORT_ARGS[m.group(1)], _size(m.group(2), place))
            elif tok in ("nobias", "no_bias"):
                put("bias", False)
            elif tok in ("ceil", "ceil_mode"):
                put("ceil_mode", True)
            elif _number(tok.split("x")[0]) is not None:
                arg = main_arg(kind)
                if arg is None:
                    raise SpecError(f"{place}: {kind} takes no size (got {tok!r})")
                put(arg, _number(tok) if _number(tok) is not None else _size(tok, place))
            else:
                raise SpecError(f"{place}: cannot read {tok!r} (expected a number, k3 s2 p1 d2 g2, nobias, ceil "
                                f"or NAME=VALUE)")
        children.append((str(i), builder.note(make_layer(kind, args, place), f"layer {i + 1} ({part})")))
    model = Model(text, Sequential(*children), shape, "one-line spec")
    builder.check(model)
    return model
