"""Questions and sheets: a YAML/JSON sheet (or one question from flags) -> Questions, graded in turn.

A *question* is a network (one layer, a stack, a zoo model / spec file, or an MLP) on an input,
optionally a row ``at`` which it is asked, and the student's answers for some fields. Errors
name the file, the question number and the key they are about.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from ..errors import ConvcalcError
from .answers import DEFAULT_ASK, LAYOUTS, CheckError, WrittenFloat, field_name, key_value, parse_shape

QUESTION_KEYS = ("id", "text", "source", "note", "input", "layer", "layers", "model", "mlp", "bias", "at",
                 "layout", "exact", "dtype", "batch", "answers", "ask", "optimizer")
SHEET_KEYS = ("title", "description", "layout", "exact", "dtype", "questions")
NETWORK_KEYS = ("layer", "layers", "model", "mlp")


@dataclass
class Question:
    number: int
    net: object                 # a Sequential (the network)
    input: tuple                # per-sample (C, *spatial)
    answers: dict               # field -> raw answer (None: to be filled by --answer-key)
    text: str = ""
    source: str = ""
    note: str = ""
    at: object = None           # None (the whole network), a row name, or a 1-based position
    layout: str = "chw"
    exact: bool = False
    dtype: str = "fp32"
    batch: int = 1
    ident: object = None
    label: str = ""             # short description of what is asked about
    raw: dict = field(default_factory=dict)
    strict_answers: bool = False  # graded against a key: an answer left out is ✗ unanswered, not "key"
    optimizer: str = "sgd"        # training fields: the optimizer whose state counts


# -- building networks -------------------------------------------------------------------------------------
def mlp(sizes, bias: bool = True):
    """``[2, 4, 1]``: Linear(2, 4) then Linear(4, 1) (activations carry no parameters)."""
    from ..graph import Sequential
    from ..layers import Linear

    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise CheckError(f"mlp: expected a list of at least two layer sizes such as [3, 4, 2], got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise CheckError(f"mlp: sizes must be positive integers, got {s!r}")
    layers = [(f"fc{i + 1}", Linear(a, b, bias=bias)) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    return Sequential(*layers), (sizes[0],)


def parse_input(raw, layout: str) -> tuple:
    """A per-sample input shape in the given layout -> ``(C, *spatial)``; a single number is a vector."""
    dims = parse_shape(raw)
    out = []
    for d in dims:
        if d.value.denominator != 1 or d.value < 1 or d.step:
            raise CheckError(f"input sizes must be positive integers, got {raw!r}")
        out.append(int(d.value))
    if layout == "hwc" and len(out) > 1:
        out = [out[-1]] + out[:-1]
    return tuple(out)


def _one_layer(item, dims, label):
    """A question's ``layer:`` -> a one-layer network. The spec builder is asked to place the item
    at ``layer`` itself, so its errors name ``layer.conv2d`` as the sheet says (no text surgery)."""
    from ..io import spec
    from ..graph import Sequential

    builder = spec._Builder(label)
    try:
        shape = builder.input(list(dims))
        name, module = builder.item(item, "layer", 1)
        model = spec.Model("spec", Sequential((name if name is not None else "0", module)), shape, "")
        builder.check(model)
    except RecursionError:
        raise CheckError(f"{label}: nested too deeply (at most {spec.MAX_DEPTH} levels)") from None
    except ConvcalcError as e:
        raise CheckError(str(e)) from None
    return model.net


def _stack(layers_, dims, label):
    """A question's ``layers:`` -> the network, as a spec file's ``layers`` would build it."""
    from ..io import spec

    try:
        return spec.from_dict({"input": list(dims), "layers": layers_}, where=label).net
    except ConvcalcError as e:
        raise CheckError(str(e)) from None


def _network(item, kind, dims, label, base_dir, fail):
    """(network, per-sample input, short description) of the question's one network key."""
    if kind == "mlp":
        bias = item.get("bias", True)
        if not isinstance(bias, bool):
            fail("bias", f"expected true or false, got {bias!r}")
        net, dims = mlp(item["mlp"], bias)
        return net, dims, "MLP " + "-".join(str(s) for s in item["mlp"])
    if kind == "model":
        name = item["model"]
        if not isinstance(name, str):
            fail("model", f"expected a zoo name or a spec file, got {name!r}")
        model = _load_model(name, dims, base_dir)
        return model.net, tuple(model.input), model.name
    if dims is None:
        fail("input", "missing (the input shape, e.g. 32x32x3)")
    if kind == "layer":
        net = _one_layer(item["layer"], dims, label)
        return net, dims, "; ".join(layer.describe() for _, layer in net.layers())
    net = _stack(item["layers"], dims, label)
    return net, dims, f"{sum(1 for _ in net.layers())} layers"


def _settings(item, defaults, fail) -> dict:
    """layout, exact, dtype and batch of a question (its own, else the sheet's)."""
    from ..analyze import DTYPES

    layout = item.get("layout", defaults.get("layout", "chw"))
    if layout not in LAYOUTS:
        fail("layout", f"expected chw, hwc or any, got {layout!r}")
    exact = item.get("exact", defaults.get("exact", False))
    if not isinstance(exact, bool):
        fail("exact", f"expected true or false, got {exact!r}")
    dtype = item.get("dtype", defaults.get("dtype", "fp32"))
    if dtype not in DTYPES:
        fail("dtype", f"expected one of {', '.join(DTYPES)}, got {dtype!r}")
    batch = item.get("batch", 1)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        fail("batch", f"expected a positive integer, got {batch!r}")
    from ..training import OPTIMIZERS

    optimizer = item.get("optimizer", "sgd")
    if optimizer not in OPTIMIZERS:
        fail("optimizer", f"expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    return {"layout": layout, "exact": exact, "dtype": dtype, "batch": batch, "optimizer": optimizer}


def _asked(item, fail) -> dict:
    """field -> raw answer, from ``answers`` and ``ask`` (asked fields without an answer: None)."""
    answers = item.get("answers", {})
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        fail("answers", f"expected a mapping such as {{output: 28x28x5, params: 380}}, got {type(answers).__name__}")
    parsed = {}
    for k, v in answers.items():
        try:
            parsed[field_name(k, "field")] = v
        except CheckError as e:
            fail(f"answers.{k}", str(e))
    ask = item.get("ask")
    if ask is not None:
        if isinstance(ask, str):
            ask = [a.strip() for a in ask.split(",")]
        if not isinstance(ask, list):
            fail("ask", f"expected a list of fields, got {ask!r}")
        for a in ask:
            try:
                parsed.setdefault(field_name(a), None)
            except CheckError as e:
                fail("ask", str(e))
    return parsed


def build_question(item: dict, number: int, where: str, defaults: dict, base_dir: str = ".") -> Question:
    """One sheet entry -> a Question; errors name the file, the question number and the field."""
    label = f"{where}: question {number}" + (f" ({item['id']})" if isinstance(item, dict) and "id" in item else "")

    def fail(place, msg):
        raise CheckError(f"{label}: {place}: {msg}" if place else f"{label}: {msg}")

    if not isinstance(item, dict):
        fail("", f"expected a mapping with a layer, layers, model or mlp and answers, got {type(item).__name__}")
    for key in item:
        if key not in QUESTION_KEYS:
            close = difflib.get_close_matches(str(key), QUESTION_KEYS, n=1, cutoff=0.6)
            fail(str(key), "unknown key" + (f"; did you mean {close[0]!r}?" if close else
                                            f"; expected {', '.join(QUESTION_KEYS)}"))
    settings = _settings(item, defaults, fail)
    kinds = [k for k in NETWORK_KEYS if k in item]
    if len(kinds) != 1:
        fail("", "expected exactly one of layer, layers, model, mlp" + (f" (got {', '.join(kinds)})" if kinds else ""))
    kind = kinds[0]
    dims = None
    if item.get("input") is not None:
        try:
            dims = parse_input(item["input"], "hwc" if settings["layout"] == "hwc" else "chw")
        except CheckError as e:
            fail("input", str(e))
    try:
        net, dims, desc = _network(item, kind, dims, label, base_dir, fail)
    except CheckError:
        raise
    except ConvcalcError as e:
        fail(kind, str(e))
    parsed = _asked(item, fail)
    at = item.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, str))):
        fail("at", f"expected a layer name or a 1-based position, got {at!r}")
    text = item.get("text", "")
    return Question(number=number, net=net, input=tuple(dims), answers=parsed, text=str(text or ""),
                    source=str(item.get("source", "") or ""), note=str(item.get("note", "") or ""), at=at,
                    ident=item.get("id"), label=desc, raw=item, **settings)


def _load_model(name: str, dims, base_dir: str):
    """A sheet's model: a zoo name, or a spec path next to the sheet (the one loader)."""
    from ..loader import load_model

    return load_model(name, dims, base_dir=base_dir)


# -- sheets ------------------------------------------------------------------------------------------------
def _loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def float_keeping_text(loader, node):
        value = WrittenFloat(loader.construct_yaml_float(node))
        value.text = node.value
        return value

    Loader.add_constructor("tag:yaml.org,2002:float", float_keeping_text)
    return Loader


def read_sheet(path: str) -> dict:
    """The parsed YAML/JSON of a sheet; a sheet that cannot be read at all is a CheckError."""
    from ..textfile import read_text

    label = os.path.basename(path) or path
    text = read_text(path, "file", CheckError)
    import yaml

    try:
        loader = _loader()(text)  # a SafeLoader subclass that keeps how numbers were written
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CheckError(f"{label}: YAML syntax error{at}: {getattr(e, 'problem', None) or e}") from None
    except ValueError as e:  # e.g. an integer of 5,000 digits (Python's int() limit)
        raise CheckError(f"{label}: a value cannot be read: {str(e).split(';')[0]}") from None
    if not isinstance(data, dict):
        raise CheckError(f"{label}: expected a mapping with 'questions' (a list) at the top level")
    for key in data:
        if key not in SHEET_KEYS:
            close = difflib.get_close_matches(str(key), SHEET_KEYS, n=1, cutoff=0.6)
            raise CheckError(f"{label}: unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else
                                                                   f"; expected {', '.join(SHEET_KEYS)}"))
    if not isinstance(data.get("questions"), list) or not data["questions"]:
        raise CheckError(f"{label}: 'questions' must be a non-empty list")
    if data.get("layout", "chw") not in LAYOUTS:
        raise CheckError(f"{label}: layout: expected chw, hwc or any, got {data.get('layout')!r}")
    return data


def is_sheet(path: str) -> bool:
    """A YAML/JSON file with a top-level ``questions`` list (a spec file has ``layers``)."""
    if not path.lower().endswith((".yaml", ".yml", ".json")) or not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r'^\s*"?questions"?\s*:', head, re.M) is not None


def grade_sheet(path: str, show_work: bool = False, layout: Optional[str] = None,
                exact: Optional[bool] = None):
    """Every question of a sheet graded; a question that cannot be graded is an error row."""
    from .grading import Graded, SheetResult, grade

    data = read_sheet(path)
    label = os.path.basename(path)
    defaults = {"layout": layout or data.get("layout", "chw"), "exact": data.get("exact", False) if exact is None
                else exact, "dtype": data.get("dtype", "fp32")}
    results = []
    for i, item in enumerate(data["questions"], 1):
        try:
            q = build_question(item, i, label, defaults, os.path.dirname(os.path.abspath(path)))
            if layout:
                q.layout = layout
            if exact is not None:
                q.exact = exact
            results.append(grade(q, show_work))
        except ConvcalcError as e:
            title = str(item.get("text", "")) if isinstance(item, dict) else ""
            results.append(Graded(i, title, error=str(e), ident=item.get("id") if isinstance(item, dict) else None))
    return SheetResult(str(data.get("title") or label), label, results, defaults["layout"])


# -- answer keys -------------------------------------------------------------------------------------------------
def answer_key(path: str) -> dict:
    """The sheet with every asked answer filled in (fields listed in ``ask``/``answers``, else output,
    params and MACs), as data for ``yaml.safe_dump``."""
    data = read_sheet(path)
    label = os.path.basename(path)
    defaults = {"layout": data.get("layout", "chw"), "exact": data.get("exact", False),
                "dtype": data.get("dtype", "fp32")}
    out = {k: _plain_yaml(v) for k, v in data.items() if k != "questions"}
    questions = []
    errors = []
    for i, item in enumerate(data["questions"], 1):
        try:
            q = build_question(item, i, label, defaults, os.path.dirname(os.path.abspath(path)))
            filled = fill_key(q)
        except ConvcalcError as e:
            errors.append(str(e))
            questions.append(_plain_yaml(item))
            continue
        new = {k: _plain_yaml(v) for k, v in item.items() if k not in ("answers", "ask")}
        new["answers"] = filled
        questions.append(new)
    out["questions"] = questions
    return out, errors


def fill_key(q: Question) -> dict:
    """field -> the correct answer, as --answer-key writes it."""
    from .truth import Ctx

    ctx = Ctx(q)
    fields = list(q.answers) or list(DEFAULT_ASK)
    out = {}
    for f in fields:
        try:
            out[f] = key_value(f, ctx.value(f), q.layout)
        except ConvcalcError as e:
            raise CheckError(f"question {q.number}: {e}") from None
    return out


def _plain_yaml(v):
    if isinstance(v, WrittenFloat):
        return float(v)
    if isinstance(v, dict):
        return {k: _plain_yaml(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain_yaml(x) for x in v]
    return v

