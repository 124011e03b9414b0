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

The one-liner
-------------
``convcalc "3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10"``::

    LINE   := SHAPE ("|" LAYER)+
    SHAPE  := sizes joined by "x": 3x32x32, 1x28x28, 3xHxW
    LAYER  := KIND ARG*          KIND: a layer kind or alias (conv, conv2d, relu, maxpool, fc, bn...)
    ARG    := N                  the main size: out_channels (conv), out_features (linear),
                                 kernel_size (pools), output_size (adaptive pools), p (dropout),
                                 num_groups (groupnorm), size (lrn), scale_factor (upsample), ...
            | kN sN pN dN gN     kernel_size, stride, padding, dilation, groups (N or NxM per axis)
            | nobias | ceil     bias=False, ceil_mode=True
            | NAME=VALUE         any PyTorch argument: padding=same, eps=0.001, bias=false

Rows are named ``0, 1, 2, ...`` as in ``torch.nn.Sequential``.
"""
from __future__ import annotations

import difflib
import inspect
import os
import re
from typing import Optional

from ..errors import ConvcalcError, UnknownModel
from ..graph import Parallel, Sequential
from ..layers import ALIASES, KINDS
from ..zoo import Model

MAX_BYTES = 1 << 20      # refuse spec files over 1 MiB
MAX_DEPTH = 50           # nesting of blocks and lists
MAX_LAYERS = 10_000      # layers built in all (repeat and YAML aliases multiply)
MAX_REPEAT = 10_000

STRUCT_KEYS = ("name", "layers", "repeat", "residual", "shortcut", "downsample", "post", "concat", "cat", "add",
               "mul", "dim")
BLOCK_KEYS = ("layers", "residual", "concat", "cat", "add", "mul")
TOP_KEYS = ("name", "input", "layers", "description")
NAME_RE = re.compile(r"[A-Za-z0-9_]+\Z")

# Argument types by PyTorch argument name (the layer constructors check values; this checks kinds).
BOOL_ARGS = {"bias", "ceil_mode", "count_include_pad", "affine", "track_running_stats", "elementwise_affine",
             "inplace", "align_corners", "return_indices"}
FLOAT_ARGS = {"eps", "momentum", "p", "alpha", "beta", "k", "negative_slope", "init", "scale_factor"}
STR_ARGS = {"padding_mode", "mode", "approximate"}
# The main size argument a bare number sets (one-liner, or a scalar value in a spec).
MAIN_ARG = {"conv": "out_channels", "convtranspose": "out_channels", "linear": "out_features",
            "maxpool": "kernel_size", "avgpool": "kernel_size", "adaptive": "output_size",
            "batchnorm": "num_features", "instancenorm": "num_features", "groupnorm": "num_groups",
            "layernorm": "normalized_shape", "localresponsenorm": "size", "dropout": "p", "stochasticdepth": "p",
            "leakyrelu": "negative_slope", "elu": "alpha", "prelu": "num_parameters", "channelshuffle": "groups",
            "upsample": "scale_factor", "softmax": "dim", "logsoftmax": "dim", "flatten": "start_dim",
            "centercrop": "size", "layerscale": "channels", "layernorm2d": "num_channels"}
SHORT_ARGS = {"k": "kernel_size", "s": "stride", "p": "padding", "d": "dilation", "g": "groups"}


class SpecError(ConvcalcError):
    """A spec file or one-liner that cannot be read; the message names the place."""


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
    if "\n" not in text and os.path.isfile(text):
        return load_file(text)
    if "|" in text and "\n" not in text:
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
def _resolve_kind(word: str) -> Optional[str]:
    key = word.lower().replace("_", "").replace("-", "")
    key = ALIASES.get(key, key)
    return key if key in KINDS else None


def _kind_hint(word: str) -> str:
    key = str(word).lower().replace("_", "").replace("-", "")
    close = difflib.get_close_matches(key, list(KINDS) + list(ALIASES), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def main_arg(kind: str) -> Optional[str]:
    for prefix, arg in sorted(MAIN_ARG.items(), key=lambda kv: -len(kv[0])):
        if kind.startswith(prefix):
            return arg
    return None


def _show(v) -> str:
    return repr(v) if isinstance(v, str) else str(v).replace("True", "true").replace("False", "false") \
        if isinstance(v, bool) else repr(v)


def _check_value(arg: str, value, place: str, depth: int = 0) -> None:
    """Types by argument name: bools only where PyTorch takes a bool, numbers elsewhere."""
    if arg in BOOL_ARGS:
        if not isinstance(value, bool):
            raise SpecError(f"{place}: expected true or false, got {_show(value)}")
        return
    if isinstance(value, bool):
        raise SpecError(f"{place}: expected {'a number' if arg in FLOAT_ARGS else 'an integer'}, got "
                        f"{str(value).lower()}")
    if value is None:
        return
    if arg in STR_ARGS:
        if not isinstance(value, str):
            raise SpecError(f"{place}: expected a string, got {_show(value)}")
        return
    if isinstance(value, str):
        if arg == "padding" and value in ("same", "valid"):
            return
        raise SpecError(f"{place}: expected {'a number' if arg in FLOAT_ARGS else 'an integer'}, got {value!r}")
    if isinstance(value, list):
        if depth >= 2 or not value:
            raise SpecError(f"{place}: expected {'an integer or a list of integers'}, got {_show(value)}")
        for i, v in enumerate(value):
            _check_value(arg, v, f"{place}[{i}]", depth + 1)
        return
    if isinstance(value, float):
        if arg in FLOAT_ARGS:
            if value != value or value in (float("inf"), float("-inf")):
                raise SpecError(f"{place}: expected a finite number, got {value}")
            return
        raise SpecError(f"{place}: expected an integer, got {value}")
    if isinstance(value, int):
        if abs(value) > 10**12:
            raise SpecError(f"{place}: {value} is too large")
        return
    raise SpecError(f"{place}: expected a number, got {type(value).__name__}")


def _tuplify(v):
    return tuple(_tuplify(x) for x in v) if isinstance(v, list) else v


def make_layer(kind_word: str, args: dict, place: str):
    """Construct the layer ``kind_word`` with PyTorch keyword ``args``; errors prefixed by ``place``."""
    kind = _resolve_kind(kind_word)
    if kind is None:
        raise SpecError(f"{place}: unknown layer kind {kind_word!r}{_kind_hint(kind_word)}")
    cls = KINDS[kind]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
    for arg, value in args.items():
        if not isinstance(arg, str):
            raise SpecError(f"{place}: argument names must be strings, got {_show(arg)}")
        if arg not in accepted:
            close = difflib.get_close_matches(arg, accepted, n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else \
                (f"; {kind} takes {', '.join(accepted)}" if accepted else f"; {kind} takes no arguments")
            raise SpecError(f"{place}: unknown argument {arg!r}{hint}")
        _check_value(arg, value, f"{place}.{arg}")
    kwargs = {a: _tuplify(v) for a, v in args.items()}
    try:
        return cls(**kwargs)
    except ConvcalcError as e:
        msg = str(e)
        if msg.startswith(f"{kind}: "):
            msg = msg[len(kind) + 2:]
        first = msg.split(":", 1)[0]
        sep = "." if first in accepted and ":" in msg else ": "
        raise SpecError(f"{place}{sep}{msg}") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, KeyError) as e:
        raise SpecError(f"{place}: invalid arguments for {kind}: {e}") from None


class _Builder:
    def __init__(self, where: str):
        self.where = where
        self.count = 0
        self.places = {}  # id(layer) -> its place in the spec, for shape errors

    def fail(self, place: str, msg: str):
        raise SpecError(f"{self.where}: {place}: {msg}" if place else f"{self.where}: {msg}")

    def model(self, data, default_name: str) -> Model:
        if data is None:
            self.fail("", "the spec is empty (expected a mapping with 'input' and 'layers')")
        if not isinstance(data, dict):
            self.fail("", f"expected a mapping with 'input' and 'layers' at the top level, got "
                          f"{'a list' if isinstance(data, list) else type(data).__name__}")
        for key in data:
            if key not in TOP_KEYS:
                close = difflib.get_close_matches(str(key), TOP_KEYS, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; expected {', '.join(TOP_KEYS)}"
                self.fail("", f"unknown key {key!r}{hint}")
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name.strip():
            self.fail("name", f"expected a string, got {_show(name)}")
        desc = data.get("description", "")
        if not isinstance(desc, str):
            self.fail("description", f"expected a string, got {_show(desc)}")
        if "layers" not in data:
            self.fail("", "missing 'layers' (a list of layers)")
        shape = self.input(data["input"]) if data.get("input") is not None else None
        net = self.seq(data["layers"], "layers", 0)
        return Model(name.strip(), net, shape, desc)

    def input(self, value) -> tuple:
        if isinstance(value, str):
            parts = [p.strip() for p in re.split(r"\s*[x×,]\s*", value.strip().strip("()[]"))]
        elif isinstance(value, list):
            parts = value
        elif isinstance(value, int) and not isinstance(value, bool):
            parts = [value]
        else:
            self.fail("input", f"expected a shape such as [3, 32, 32] or \"3x32x32\", got {_show(value)}")
        if not parts or len(parts) > 4:
            self.fail("input", f"expected 1 to 4 sizes (C, *spatial), got {len(parts)}")
        dims, syms = [], []
        for i, p in enumerate(parts):
            if isinstance(p, str) and re.fullmatch(r"\d+", p):
                p = int(p)
            if isinstance(p, int) and not isinstance(p, bool):
                if p < 1 or p > 10**9:
                    self.fail(f"input[{i}]", f"expected a positive integer, got {p}")
                dims.append(p)
            elif isinstance(p, str) and re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", p):
                dims.append(p)
                syms.append(p)
            else:
                self.fail(f"input[{i}]", f"expected a positive integer or a symbol name, got {_show(p)}")
        if syms:
            from ..sym import dims as make_symbols

            names = sorted(set(syms))
            made = make_symbols(" ".join(names))
            table = dict(zip(names, made if isinstance(made, tuple) else (made,)))
            dims = [table[d] if isinstance(d, str) else d for d in dims]
        return tuple(dims)

    # A list of items -> Sequential, children named by their `name` or their index.
    def seq(self, items, place: str, depth: int, start: int = 0, label=None) -> Sequential:
        if depth > MAX_DEPTH:
            self.fail(place, f"nested too deeply (at most {MAX_DEPTH} levels)")
        if not isinstance(items, list):
            got = _show(items) if items is None else type(items).__name__
            self.fail(place, f"expected a list of layers, got {got}")
        children, seen = [], {}
        for i, item in enumerate(items):
            where = f"{place}[{i}]"
            name, module = self.item(item, where, depth + 1)
            name = name if name is not None else str(start + i)
            self.unique(name, item, module, seen, where)
            children.append((name, module))
        return Sequential(*children, label=label)

    def unique(self, name, item, module, seen, where):
        """A name may repeat only for the same parameter-free layer (torchvision's one ``relu`` module
        called twice); anything else would make two rows, or two exported modules, ambiguous."""
        if name in seen:
            prev_item, prev = seen[name]
            if not (prev_item == item and _stateless(module) and _stateless(prev)):
                self.fail(where, f"duplicate name {name!r} (only an identical parameter-free layer may repeat "
                                 f"a name)")
        seen[name] = (item, module)

    def item(self, item, place: str, depth: int):
        """One list item -> (explicit name or None, module)."""
        self.count += 1
        if self.count > MAX_LAYERS:
            self.fail(place, f"more than {MAX_LAYERS:,} items (repeat counts and aliases multiply)")
        if isinstance(item, str):
            return None, self.note(make_layer(item, {}, f"{self.where}: {place}.{item}"), f"{place}.{item}")
        if not isinstance(item, dict):
            self.fail(place, f"expected a layer name or a mapping, got {_show(item)}")
        if not item:
            self.fail(place, "empty mapping (expected a layer such as {conv2d: {...}} or a block)")
        for k in item:
            if not isinstance(k, str):
                self.fail(place, f"keys must be strings, got {_show(k)}")
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not NAME_RE.match(name)):
            self.fail(f"{place}.name", f"expected a name of letters, digits and '_', got {_show(name)}")
        blocks = [k for k in item if k in BLOCK_KEYS]
        kinds = [k for k in item if k not in STRUCT_KEYS]
        if len(blocks) + len(kinds) != 1:
            found = blocks + kinds
            if not found:
                self.fail(place, "expected a layer kind (conv2d, relu, ...) or one of layers, residual, concat, "
                                 "add, mul")
            self.fail(place, f"expected one layer kind or block per item, got {', '.join(map(repr, found))}")
        repeat = item.get("repeat")
        if repeat is not None and (not isinstance(repeat, int) or isinstance(repeat, bool) or not
                                   1 <= repeat <= MAX_REPEAT):
            self.fail(f"{place}.repeat", f"expected an integer from 1 to {MAX_REPEAT}, got {_show(repeat)}")
        if kinds:
            kind = kinds[0]
            extra = [k for k in item if k not in (kind, "name")]
            if extra:
                self.fail(place, f"unexpected key {extra[0]!r} next to layer {kind!r} (only 'name' may join it)")
            return name, self.layer(kind, item[kind], f"{place}.{kind}")
        block = blocks[0]
        allowed = {"layers": ("name", "repeat", "layers"),
                   "residual": ("name", "repeat", "residual", "shortcut", "downsample", "post"),
                   }.get(block, ("name", "repeat", block, "dim", "post"))
        for k in item:
            if k not in allowed:
                self.fail(place, f"unexpected key {k!r} in a {block!r} block (expected {', '.join(allowed)})")

        def build(copy_place=place):
            return self.block(block, item, copy_place, depth)

        if repeat is None:
            return name, build()
        copies = [(str(r), build()) for r in range(repeat)]
        return name, Sequential(*copies, label=f"{repeat}x {block}")

    def layer(self, kind, value, place):
        full = f"{self.where}: {place}"
        if value is None:
            args = {}
        elif isinstance(value, dict):
            args = value
        elif isinstance(value, (int, float, list)) and not isinstance(value, bool):
            k = _resolve_kind(kind)
            if k is None:
                raise SpecError(f"{full}: unknown layer kind {kind!r}{_kind_hint(kind)}")
            arg = main_arg(k)
            if arg is None:
                raise SpecError(f"{full}: {k} takes no main size; give arguments as a mapping")
            args = {arg: value}
        else:
            raise SpecError(f"{full}: expected a mapping of arguments, got {_show(value)}")
        return self.note(make_layer(kind, args, full), place)

    def note(self, layer, place):
        self.places[id(layer)] = place
        return layer

    def check(self, model) -> None:
        """Run the shapes through at the spec's own (numeric) input, so that a channel or size
        mismatch names its place in the spec, not only its row."""
        from ..sym import is_sym

        if model.input is None or any(is_sym(d) for d in model.input):
            return
        for d in model.input:
            if d < 1:
                return
        try:
            self._walk(model.net, "", tuple(model.input))
        except RecursionError:
            raise SpecError(f"{self.where}: nested too deeply (at most {MAX_DEPTH} levels)") from None

    def _walk(self, module, prefix, shape):
        from ..analyze import merge_shapes
        from ..graph import join
        from ..layers.base import Layer

        if isinstance(module, Layer):
            try:
                return tuple(module.infer(shape).shape)
            except ConvcalcError as e:
                place = self.places.get(id(module), prefix)
                row = f" (row {prefix})" if prefix and prefix != place else ""
                raise SpecError(f"{self.where}: {place}: {e}{row}") from None
            except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, KeyError) as e:
                place = self.places.get(id(module), prefix)
                raise SpecError(f"{self.where}: {place}: invalid layer for input "
                                f"{'x'.join(map(str, shape))}: {e}") from None
        if isinstance(module, Sequential):
            for name, child in module.children:
                shape = self._walk(child, join(prefix, name), shape)
            return shape
        outs = [shape if child is None else self._walk(child, join(prefix, name), shape)
                for name, child in module.branches]
        try:
            shape = merge_shapes(module, outs, join(prefix, module.merge_name))
        except ConvcalcError as e:
            raise SpecError(f"{self.where}: {e}") from None
        for name, child in module.post:
            shape = self._walk(child, join(prefix, name), shape)
        return shape

    def block(self, block, item, place, depth):
        if block == "layers":
            return self.seq(item["layers"], f"{place}.layers", depth)
        if block == "residual":
            body = self.seq(item["residual"], f"{place}.residual", depth)
            if "shortcut" in item and "downsample" in item:
                self.fail(place, "give either 'shortcut' or 'downsample', not both")
            sc_key = "downsample" if "downsample" in item else "shortcut"
            shortcut = None
            if item.get(sc_key) is not None:
                sc = item[sc_key]
                if sc != []:
                    shortcut = self.seq(sc, f"{place}.{sc_key}", depth)
            post = self.post(item, place, depth, start=len(body))
            self.no_clash(body, post, item.get("residual"), item.get("post"), f"{place}.post")
            return Parallel([("", body), (sc_key, shortcut)], combine="add", post=post.children, label="residual")
        # concat / add / mul: a list of branches
        branches_data = item[block]
        bplace = f"{place}.{block}"
        if not isinstance(branches_data, list) or len(branches_data) < 2:
            self.fail(bplace, f"expected a list of at least two branches, got {_show(branches_data)}")
        branches, seen = [], set()
        for i, b in enumerate(branches_data):
            where = f"{bplace}[{i}]"
            bname = str(i)
            if isinstance(b, dict) and "layers" in b and set(b) <= {"name", "layers"}:
                bname = b.get("name", bname)
                if not isinstance(bname, str) or not NAME_RE.match(bname):
                    self.fail(f"{where}.name", f"expected a name of letters, digits and '_', got {_show(bname)}")
                b, where = b["layers"], f"{where}.layers"
            elif isinstance(b, (dict, str)):
                b = [b]  # a one-layer branch
            if bname in seen:
                self.fail(where, f"duplicate branch name {bname!r}")
            seen.add(bname)
            branches.append((bname, None if b == [] else self.seq(b, where, depth)))
        dim = item.get("dim", 0)
        if block not in ("concat", "cat") and "dim" in item:
            self.fail(f"{place}.dim", "only concat takes a dim")
        if not isinstance(dim, int) or isinstance(dim, bool) or not -5 <= dim <= 4:
            self.fail(f"{place}.dim", f"expected a per-sample dim (0 = channels), got {_show(dim)}")
        post = self.post(item, place, depth, start=len(branches))
        clash = {n for n, _ in branches} & {n for n, _ in post}
        if clash:
            self.fail(f"{place}.post", f"name {sorted(clash)[0]!r} is used by a branch too")
        combine = {"concat": "cat", "cat": "cat"}.get(block, block)
        return Parallel(branches, combine=combine, dim=dim, post=post.children, label=block)

    def no_clash(self, body, post, body_items, post_items, place):
        seen = {}
        for (n, m), it in zip(body.children, body_items or []):
            seen.setdefault(n, (it, m))
        for (n, m), it in zip(post.children, post_items or []):
            self.unique(n, it, m, seen, place)

    def post(self, item, place, depth, start):
        if item.get("post") is None:
            return Sequential()
        return self.seq(item["post"], f"{place}.post", depth, start=start)


def _stateless(module) -> bool:
    from ..layers import Flatten, act, pool

    return isinstance(module, (act.Elementwise, pool._PoolNd, pool._AdaptivePoolNd, Flatten))


# -- the one-liner -----------------------------------------------------------------------------------
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
    shape = builder.input(parts[0]) if re.fullmatch(r"[\w\s×,()\[\]]+", parts[0]) else None
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
            if "=" in tok:
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
