"""User architectures as data: spec files (YAML / JSON) and the one-line grammar.

A spec is data, never code: YAML is read with ``yaml.safe_load`` only, files over
1 MiB and nesting deeper than 50 levels are refused, and every problem is one
:class:`~convcalc.errors.ConvcalcError` line naming the file and the place::

    my_net.yaml: layers[3].conv2d.kernel_size: expected a positive integer, got 0

Spec files (DESIGN §5)
----------------------
Top-level keys: ``name``, ``input`` (``[3, 32, 32]`` or ``"3x32x32"``; symbols such as
``3xHxW`` allowed), ``layers`` (a list), ``description``. An item of a layer list is one of

* a layer: ``relu`` or ``{conv2d: {out_channels: 16, kernel_size: 3}}`` -- PyTorch's layer
  names (any ``convcalc layer`` kind, also ``conv``, ``fc``, ``bn``, ``maxpool``, ``gap``...) and
  PyTorch's argument names. ``in_channels`` / ``in_features`` / ``num_features`` are inferred
  when omitted and checked when given. A scalar value is the main size (see the one-liner):
  ``{maxpool2d: 2}``. Add ``name: conv1`` next to the kind to name the row.
* a block: ``{name: stage1, layers: [...]}`` -- rows ``stage1.0``, ``stage1.1`` ... (and ``--depth``).
* ``{residual: [body...], shortcut: [...], post: [relu]}`` -- ``post(body(x) + shortcut(x))``;
  the shortcut is the identity unless given (``downsample:`` instead of ``shortcut:`` names the
  branch ``downsample`` as torchvision does). Body rows sit directly under the block.
* ``{concat: [[branch...], [branch...]], dim: 0}`` -- branches joined along channels; an empty
  branch ``[]`` is the input itself (DenseNet); a branch may be ``{name: b1, layers: [...]}``.
  ``add:`` and ``mul:`` take branches the same way (``mul`` broadcasts: squeeze-and-excitation).
* any block may carry ``repeat: N`` (copies named ``0..N-1``, as torchvision's ``layer1.0``)
  and ``name``.

The one-line grammar is in :mod:`convcalc.io.oneliner`.
"""
from __future__ import annotations

import os
from typing import Optional

from ..errors import UnknownModel
from ..zoo import Model
from .builder import MAX_DEPTH, _Builder  # noqa: F401  (MAX_DEPTH: documented limit)
from .kinds import SpecError

MAX_BYTES = 1 << 20      # refuse spec files over 1 MiB


# -- entry points -------------------------------------------------------------------------------------
def load(source, name: Optional[str] = None) -> Model:
    """A :class:`~convcalc.zoo.Model` from a spec file path, YAML/JSON text or a one-liner."""
    if isinstance(source, dict):
        return from_dict(source, where=name or "<spec>")
    if isinstance(source, os.PathLike):
        return load_file(os.fspath(source))
    if not isinstance(source, str):
        raise SpecError(f"expected a spec path, spec text or a one-liner, got {type(source).__name__}")
    text = source.strip()
    if "\n" not in text and os.path.exists(text):
        return load_file(text)  # a directory, pipe or device is refused there, by name
    if "|" in text and "\n" not in text:
        from .oneliner import parse_line

        return parse_line(text)
    if "\n" in text or text.startswith("{"):
        return loads(text, where=name or "<spec>", json_text=text.startswith("{"))
    raise UnknownModel(f"{source}: no such spec file")


def load_file(path: str) -> Model:
    from ..textfile import read_text

    label = os.path.basename(path) or path
    text = read_text(path, "spec file", SpecError, missing=UnknownModel, limit=MAX_BYTES)
    default = os.path.splitext(label)[0]
    return loads(text, where=label, json_text=path.lower().endswith(".json"), default_name=default)


def loads(text: str, where: str = "<spec>", json_text: bool = False, default_name: str = "spec") -> Model:
    """Parse YAML (or JSON) text; ``where`` prefixes every error."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise SpecError(f"{where}: spec text is limited to {MAX_BYTES:,} bytes")
    if not text.strip():
        raise SpecError(f"{where}: the spec is empty (expected a mapping with 'input' and 'layers')")
    try:
        if json_text:
            import json

            try:
                data = json.loads(text)
            except ValueError as e:
                raise SpecError(f"{where}: JSON syntax error: {e}") from None
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
                problem = getattr(e, "problem", None) or str(e).splitlines()[0]
                raise SpecError(f"{where}: YAML syntax error{at}: {problem}") from None
            except (ValueError, TypeError, OverflowError) as e:  # e.g. timestamps PyYAML cannot build
                raise SpecError(f"{where}: unreadable YAML value: {e}") from None
    except RecursionError:
        raise SpecError(f"{where}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    return from_dict(data, where, default_name)


def from_dict(data, where: str = "<spec>", default_name: str = "spec") -> Model:
    """Build a model from parsed spec data (what ``yaml.safe_load`` gives)."""
    builder = _Builder(where)
    try:
        model = builder.model(data, default_name)
    except RecursionError:
        raise SpecError(f"{where}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    builder.check(model)
    return model


# -- building --------------------------------------------------------------------------------------------
def parse_line(text: str) -> Model:
    """The one-liner (see :mod:`convcalc.io.oneliner`)."""
    from .oneliner import parse_line as parse

    return parse(text)
