"""From a name to a model or a layer class: the one place names are resolved.

A model name is a zoo name, an ONNX file (``.onnx``, read with the optional ``onnx`` package), a
spec file (``.yaml``/``.yml``/``.json``, or any path) or a one-line spec
(``"3x32x32 | conv 10 k3 | relu"``). A kind name goes through
:func:`convcalc.layers.resolve_kind` (lower case, ``conv`` -> ``conv2d``, ``fc`` -> ``linear``).
No click or rich here: errors are :class:`~convcalc.errors.ConvcalcError`, one line.
"""
from __future__ import annotations

import difflib
import os

from .errors import ConvcalcError
from .shapes import Layout

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
ONNX_SUFFIX = ".onnx"


def is_spec(name: str) -> bool:
    """A one-liner, a spec or ONNX file name or a path (anything else is looked up in the zoo)."""
    return "|" in name or name.lower().endswith((*SPEC_SUFFIXES, ONNX_SUFFIX)) or os.path.sep in name


def load_model(name: str, input_dims=None, layout="chw", base_dir=None):
    """The model ``name`` means, at ``input_dims`` (per sample, CxHxW) when given.

    A one-liner's own shape is read in ``layout`` like ``--input``; a relative spec path is
    read from ``base_dir`` when given (a homework sheet names files next to itself)."""
    if "|" not in name and name.lower().endswith(ONNX_SUFFIX):
        from .io.onnx_import import from_onnx

        path = name if base_dir is None or os.path.isabs(name) else os.path.join(base_dir, name)
        return from_onnx(path, input_dims)
    if is_spec(name):
        from .io import spec

        path = name if base_dir is None or "|" in name or os.path.isabs(name) else os.path.join(base_dir, name)
        model = spec.load(path)
        if input_dims is not None:
            model.input = tuple(input_dims)
        elif "|" in name:
            model.input = Layout.of(layout).to_chw(model.input)
        return model
    from . import zoo

    return zoo.get(name, input_dims)


def layer_class(kind: str):
    """The layer class of a typed kind name; an unknown one is an error naming the closest kinds."""
    from .layers import KINDS, kind_key, resolve_kind

    key = resolve_kind(kind)
    if key is None:
        typed = kind_key(kind)
        close = difflib.get_close_matches(typed, list(KINDS), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; known kinds: {', '.join(KINDS)}"
        raise ConvcalcError(f"unknown layer kind {kind!r}{hint}")
    return KINDS[key]
