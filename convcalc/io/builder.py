"""Building a network from spec data (files and one-liners share it): layer lists, blocks,
residual / concat / add / mul branches, repeats, with every error naming its place."""
from __future__ import annotations

import difflib
import re

from ..errors import ConvcalcError
from ..layers.base import Layer
from ..graph import Parallel, Sequential
from ..zoo import Model
from .kinds import SpecError, _kind_hint, _resolve_kind, _show, main_arg, make_layer, parse_shape  # noqa: F401

MAX_DEPTH = 50           # nesting of blocks and lists
MAX_LAYERS = 10_000      # layers built in all (repeat and YAML aliases multiply)
MAX_REPEAT = 10_000

STRUCT_KEYS = ("name", "layers", "repeat", "residual", "shortcut", "downsample", "post", "concat", "cat", "add",
               "mul", "dim", "trainable")
BLOCK_KEYS = ("layers", "residual", "concat", "cat", "add", "mul")
TOP_KEYS = ("name", "input", "layers", "description", "budget")
NAME_RE = re.compile(r"[A-Za-z0-9_]+\Z")



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
        if any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 for ch in name):  # never reach a terminal raw
            self.fail("name", f"control characters are not allowed, got {name!r}")
        desc = data.get("description", "")
        if not isinstance(desc, str):
            self.fail("description", f"expected a string, got {_show(desc)}")
        if "layers" not in data:
            self.fail("", "missing 'layers' (a list of layers)")
        shape = self.input(data["input"]) if data.get("input") is not None else None
        net = self.seq(data["layers"], "layers", 0)
        return Model(name.strip(), net, shape, desc, budget=self.budget(data.get("budget")))

    def budget(self, value) -> dict:
        """``budget: {params: 1M, macs: 100M, memory: 64MiB}``: limits the model is checked against."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail("budget", f"expected a mapping such as {{params: 1M, macs: 100M}}, got {_show(value)}")
        from ..budget import parse_limits

        try:
            return parse_limits(**{str(k): v for k, v in value.items()})
        except ConvcalcError as e:
            self.fail("budget", str(e))

    def input(self, value) -> tuple:
        return parse_shape(value, self.fail)

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
        name, module = self._item(item, place, depth)
        if isinstance(item, dict) and "trainable" in item:
            if not isinstance(item["trainable"], bool):
                self.fail(f"{place}.trainable", f"expected true or false, got {_show(item['trainable'])}")
            if not item["trainable"]:  # frozen: no weight gradients, no optimizer state (--training)
                from ..graph import to_graph

                for node in to_graph(module):
                    node.layer.trainable = False
        return name, module

    def _item(self, item, place: str, depth: int):
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
            extra = [k for k in item if k not in (kind, "name", "trainable")]
            if extra:
                self.fail(place, f"unexpected key {extra[0]!r} next to layer {kind!r} (only 'name' and "
                                 f"'trainable' may join it)")
            return name, self.layer(kind, item[kind], f"{place}.{kind}")
        block = blocks[0]
        allowed = {"layers": ("name", "repeat", "layers", "trainable"),
                   "residual": ("name", "repeat", "residual", "shortcut", "downsample", "post", "trainable"),
                   }.get(block, ("name", "repeat", block, "dim", "post", "trainable"))
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
        from ..graph import to_graph
        from ..sym import is_sym

        if model.input is None or any(is_sym(d) for d in model.input):
            return
        for d in model.input:
            if d < 1:
                return
        try:
            to_graph(model.net).walk(tuple(model.input), self.visit)
        except RecursionError:
            raise SpecError(f"{self.where}: nested too deeply (at most {MAX_DEPTH} levels)") from None

    def visit(self, node, shapes) -> tuple:
        """One node of the walk: its output shape, or an error naming its place in the spec."""
        try:
            return tuple(node.layer.infer_all(shapes).shape)
        except ConvcalcError as e:
            if node.implicit:  # a merge of a block
                raise SpecError(f"{self.where}: {node.name}: {e}") from None
            place = self.places.get(id(node.layer), node.name)
            row = f" (row {node.name})" if node.name and node.name != place else ""
            raise SpecError(f"{self.where}: {place}: {e}{row}") from None
        except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, KeyError) as e:
            place = self.places.get(id(node.layer), node.name)
            raise SpecError(f"{self.where}: {place}: invalid layer for input "
                            f"{'x'.join(map(str, shapes[0]))}: {e}") from None

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
    """A layer whose kind declares no parameters or buffers (ReLU, pooling, flatten...)."""
    cls = type(module)
    return isinstance(module, Layer) and cls.weight_shapes is Layer.weight_shapes \
        and cls.buffer_shapes is Layer.buffer_shapes
