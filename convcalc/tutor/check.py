"""Grade answers to CNN exercises: forgiving parsing, strict grading, named mistakes.

A *question* is a network (one layer, a stack, a zoo model / spec file, or an MLP) on an
input, optionally a row ``at`` which it is asked, and the student's answers for some
*fields* (output shape, params, MACs, FLOPs, receptive field, memory). The truth comes
from :func:`convcalc.analyze.analyze`; the worked solution from :mod:`convcalc.explain`.

Grading
-------
* Shapes are read in the sheet's layout (``chw``, ``hwc`` or ``any``); an answer whose
  numbers are right in the other order is wrong, and called out as transposed.
* A plain integer (``380``, ``62,378,344``) must be exact. A number written with a
  suffix or decimals (``62.4M``, ``768k``, ``0.77 GMACs``, ``238 MiB``) is right when the
  exact value rounds to it at the precision written (``62M`` is right for 62,378,344);
  ``exact: true`` makes such an answer wrong unless it is the exact value.
* ``MB``/``GB`` in a memory answer are read as SI (10^6) or, failing that, binary (2^20)
  units; ``MiB`` is only binary.
* A working such as ``10 x 32 x 32 x 75 x 2 = 768k`` is graded on its last part; a step
  that does not equal it is pointed out (and checked against the slips too).

Slips
-----
A wrong answer is compared with what the same question gives after one *slip*: each slip
rebuilds the network with the mistake (bias=False, padding 0, groups 1, the pool's
stride on the conv, ...) or recomputes the quantity the mistaken way (no floor, r - 1),
and reruns the engine. A match names the slip. Nothing is matched by number patterns.

This module does not import rich or click (render/check.py and cli_check.py do that).
"""
from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Optional

from ..errors import ConvcalcError

# field -> what it is, in words
FIELDS = {
    "output": "output shape",
    "height": "output height",
    "width": "output width",
    "channels": "output channels",
    "params": "parameters",
    "macs": "multiply-accumulates (MACs)",
    "flops": "FLOPs (2 per MAC)",
    "rf": "receptive field",
    "memory": "activation memory",
    "param_memory": "parameter memory",
}
FIELD_ALIASES = {"shape": "output", "output_shape": "output", "parameters": "params", "weights": "params",
                 "mult_adds": "macs", "multiply_adds": "macs", "mac": "macs", "flop": "flops",
                 "receptive_field": "rf", "activation_memory": "memory", "activations": "memory",
                 "param_bytes": "param_memory", "weight_memory": "param_memory", "h": "height", "w": "width",
                 "c": "channels"}
COUNT_FIELDS = ("height", "width", "channels", "params", "macs", "flops", "memory", "param_memory")
MEMORY_FIELDS = ("memory", "param_memory")
LAYOUTS = ("chw", "hwc", "any")
QUESTION_KEYS = ("id", "text", "source", "note", "input", "layer", "layers", "model", "mlp", "bias", "at",
                 "layout", "exact", "dtype", "batch", "answers", "ask")
SHEET_KEYS = ("title", "description", "layout", "exact", "dtype", "questions")
DEFAULT_ASK = ("output", "params", "macs")


class CheckError(ConvcalcError):
    """A sheet, question or answer that cannot be read."""


def field_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = FIELD_ALIASES.get(key, key)
    if key not in FIELDS:
        close = difflib.get_close_matches(key, list(FIELDS) + list(FIELD_ALIASES), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(FIELDS)}"
        raise CheckError(f"unknown answer field {name!r}{hint}")
    return key


# -- answers: numbers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    """A number as the student wrote it: its value, the precision it was written to (0 = exact),
    alternative readings (MB as MiB) and the unit it names (macs / flops / bytes)."""

    value: Fraction
    step: Fraction = Fraction(0)
    unit: Optional[str] = None
    text: str = ""
    alt: tuple = ()          # ((value, step, label), ...) other readings
    working: tuple = ()      # Nums of earlier steps of "a = b = c"

    def readings(self):
        yield self.value, self.step, ""
        yield from self.alt

    def matches(self, exact) -> Optional[str]:
        """The label of the reading that rounds to ``exact`` at the precision written, or None."""
        exact = Fraction(exact)
        for value, step, label in self.readings():
            if abs(exact - value) * 2 <= step or exact == value:
                return label
        return None

    @property
    def rounded(self) -> bool:
        return self.step != 0


class WrittenFloat(float):
    """A YAML float that remembers how it was written (``62.40`` keeps its precision)."""

    text: str = ""


_MULT = {"": 1, "k": 10**3, "thousand": 10**3, "m": 10**6, "mn": 10**6, "mio": 10**6, "million": 10**6,
         "millions": 10**6, "g": 10**9, "b": 10**9, "bn": 10**9, "billion": 10**9, "billions": 10**9,
         "t": 10**12, "trillion": 10**12, "万": 10**4, "百万": 10**6, "千万": 10**7, "亿": 10**8, "十亿": 10**9}
_UNIT_WORDS = {"mac": "macs", "macs": "macs", "multiply-adds": "macs", "multiply-add": "macs", "mult-adds": "macs",
               "multadds": "macs", "madds": "macs", "flop": "flops", "flops": "flops"}
_NOISE = re.compile(r"\s*(?:params?|parameters?|weights?|operations?|个参数|参数)\s*$", re.I)
_COUNT_SUFFIX = re.compile(
    r"(?P<mult>thousand|millions?|billions?|trillion|mio|mn|bn|百万|千万|十亿|万|亿|[kmgbt])?\s*"
    r"(?P<unit>macs?|mult-?adds|multiply-adds?|madds|flops?)?", re.I)
_BYTES_SUFFIX = re.compile(r"(?P<mult>[kmgt])?(?P<bin>i)?(?:b|bytes?)", re.I)
_NUMBER = re.compile(r"(?:\d{1,3}(?:[,\u2009\u202f' _]\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")


def _number_token(text: str):
    """(value, step) of one written number: ``62,378,344`` exact, ``62.4`` to 0.1, ``6e7`` to 1e7."""
    t = re.sub(r"[,\u2009\u202f' _]", "", text)
    mant, _, exp = t.lower().partition("e")
    whole, dot, frac = mant.partition(".")
    value = Fraction(mant) * (Fraction(10) ** int(exp) if exp else 1)
    if dot or exp:
        step = Fraction(1, 10 ** len(frac)) * (Fraction(10) ** int(exp) if exp else 1)
    else:
        step = Fraction(0)
    return value, step


def _raw_text(raw) -> str:
    if isinstance(raw, WrittenFloat) and raw.text:
        return raw.text
    if isinstance(raw, float):
        return repr(raw)
    return str(raw)


def parse_number(raw, what: str = "count") -> Num:
    """A count (``380``, ``62,378,344``, ``62.4M``, ``768k``, ``0.77 GMACs``, ``5x5x3x5 + 5``) or, with
    ``what='bytes'``, a memory size (``238 MiB``, ``1.95 KiB``, ``400MB``, ``2000``)."""
    if isinstance(raw, bool) or raw is None:
        raise CheckError(f"expected a number, got {raw!r}")
    if isinstance(raw, int):
        return Num(Fraction(raw), text=str(raw))
    text = _raw_text(raw).strip()
    if not text:
        raise CheckError("empty answer")
    if "=" in text:
        parts = [p.strip() for p in text.split("=")]
        if any(not p for p in parts):
            raise CheckError(f"cannot read {text!r}: an empty side of '='")
        nums = [parse_number(p, what) for p in parts]
        return replace(nums[-1], text=text, working=tuple(nums[:-1]))
    body = re.sub(r"^(?:≈|~|about|approx\.?|circa)\s*", "", text, flags=re.I)
    body = body.replace("−", "-").replace("\u00a0", " ")
    body = _NOISE.sub("", body)
    m = re.match(r"^(?P<body>.*?[\d)])\s*(?P<suffix>[^\d()]*)$", body)
    if not m:
        raise CheckError(f"cannot read {text!r} as a number")
    core, suffix = m.group("body").strip(), m.group("suffix").strip()
    mult, unit, alt_mult, label = _suffix(suffix, what, text)
    if _NUMBER.fullmatch(core):
        value, step = _number_token(core)
        if mult != 1 and step == 0:
            step = Fraction(1)  # 62M: written to the nearest million
        alt = ((value * alt_mult, step * alt_mult, label),) if alt_mult else ()
        return Num(value * mult, step * mult, unit, text, alt)
    value = _expression(core, text)
    alt = ((value * alt_mult, Fraction(0), label),) if alt_mult else ()
    return Num(value * mult, Fraction(0), unit, text, alt)


def _suffix(suffix: str, what: str, text: str):
    """(multiplier, unit, alternative multiplier, its label) of the words after a number."""
    s = suffix.strip()
    if not s:
        return 1, ("bytes" if what == "bytes" else None), None, ""
    if what == "bytes":
        m = _BYTES_SUFFIX.fullmatch(s)
        if m:
            p = (m.group("mult") or "").lower()
            power = "kmgt".index(p) + 1 if p else 0
            if m.group("bin"):
                return 1024 ** power, "bytes", None, ""
            if power:  # MB: SI, or binary as many people mean it
                unit = s[0].upper() + "iB" if s[0].lower() != "k" else "KiB"
                return 1000 ** power, "bytes", 1024 ** power, f"read {s} as {unit} (2^{10 * power} bytes)"
            return 1, "bytes", None, ""
        m = re.fullmatch(r"(thousand|million|billion|[kmgt])", s, re.I)
        if m:
            return _MULT[m.group(1).lower()], "bytes", None, ""
        raise CheckError(f"cannot read the unit {s!r} in {text!r}: expected B, KiB, MiB, GiB, KB, MB, GB")
    if _BYTES_SUFFIX.fullmatch(s) and s.lower() not in ("b", "mb", "gb", "kb") or s.lower().endswith("ib"):
        raise CheckError(f"{text!r} is a size in bytes; this answer is a count")
    m = _COUNT_SUFFIX.fullmatch(s)
    if not m or not (m.group("mult") or m.group("unit")):
        raise CheckError(f"cannot read {text!r}: unknown unit {s!r} (expected k, M, G, MACs, FLOPs, ...)")
    mult = _MULT[(m.group("mult") or "").lower()]
    unit = m.group("unit")
    return mult, (_UNIT_WORDS.get(unit.lower().replace("multiply-add", "multiply-adds").rstrip(), "macs")
                  if unit else None), None, ""


def _expression(core: str, text: str) -> Fraction:
    """Exact value of ``5x5x3x5 + 5``, ``(3*3*3)*10 + 10``, ``10 × 32 × 32 × 75 × 2``, ``27/3 + 1``."""
    tokens = re.findall(r"\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?[kKmMgG]?|\*\*|[-+*/()^×xX·⋅]|\S", core)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def fail():
        raise CheckError(f"cannot read {text!r} as a number or an arithmetic expression")

    def atom():
        t = peek()
        if t is None:
            fail()
        if t == "(":
            take()
            v = add()
            if take_if(")") is None:
                fail()
            return v
        if t == "-":
            take()
            return -atom()
        if re.match(r"\d", t):
            take()
            mult = 1
            if t[-1] in "kKmMgG":
                mult, t = _MULT[t[-1].lower()], t[:-1]
            if "," in t and not re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", t):
                fail()
            return _number_token(t)[0] * mult
        fail()

    def take_if(sym):
        if peek() == sym:
            return take()
        return None

    def power():
        v = atom()
        if peek() in ("^", "**"):
            take()
            e = power()
            if e.denominator != 1 or abs(e) > 64:
                fail()
            v = v ** int(e)
        return v

    def mul():
        v = power()
        while peek() in ("*", "×", "x", "X", "·", "⋅", "/"):
            op = take()
            r = power()
            if op == "/":
                if r == 0:
                    fail()
                v = v / r
            else:
                v = v * r
        return v

    def add():
        v = mul()
        while peek() in ("+", "-"):
            op = take()
            r = mul()
            v = v + r if op == "+" else v - r
        return v

    value = add()
    if pos != len(tokens):
        fail()
    return Fraction(value)


# -- answers: shapes and receptive fields ------------------------------------------------------------------
_SHAPE_SPLIT = re.compile(r"\s*(?:[xX×*,;]|\s)\s*")


def parse_shape(raw) -> tuple:
    """The dims as written (``28x28x5``, ``28 × 28 × 5``, ``(5, 28, 28)``, ``[5,28,28]``, ``4096``), as Nums;
    dims may be fractions or decimals (``9.33``, ``28/3``: an unfloored size)."""
    if isinstance(raw, bool) or raw is None:
        raise CheckError(f"expected a shape such as 28x28x5, got {raw!r}")
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, int):
        items = [raw]
    else:
        text = _raw_text(raw).strip()
        if "=" in text:
            text = text.split("=")[-1].strip()
        inner = text.strip()
        while len(inner) >= 2 and inner[0] in "([{" and inner[-1] in ")]}":
            inner = inner[1:-1].strip()
        items = [p for p in _SHAPE_SPLIT.split(inner) if p != ""] if inner else []
    if not items:
        raise CheckError(f"cannot read {raw!r} as a shape (expected sizes such as 28x28x5)")
    dims = []
    for item in items:
        try:
            dims.append(_dim(item))
        except CheckError:
            raise CheckError(f"cannot read {raw!r} as a shape: {item!r} is not a size") from None
    return tuple(dims)


def _dim(item) -> Num:
    if isinstance(item, bool):
        raise CheckError("not a size")
    if isinstance(item, int):
        return Num(Fraction(item), text=str(item))
    text = _raw_text(item).strip()
    if re.fullmatch(r"\d+/\d+", text):
        a, b = text.split("/")
        if int(b) == 0:
            raise CheckError("not a size")
        return Num(Fraction(int(a), int(b)), text=text)
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        value, step = _number_token(text)
        return Num(value, step, text=text)
    raise CheckError("not a size")


def parse_rf(raw) -> tuple:
    """``(sizes, jumps)``: ``7``, ``7x7``, ``11/4`` (size/jump, as the table prints), ``5x5/3``."""
    if isinstance(raw, bool) or raw is None:
        raise CheckError(f"expected a receptive field such as 7x7, got {raw!r}")
    if isinstance(raw, int):
        return (Num(Fraction(raw), text=str(raw)),), None
    text = _raw_text(raw).strip()
    text = re.sub(r"\s*(?:px|pixels?|\(all\))\s*$", "", text, flags=re.I)
    size_text, slash, jump_text = text.partition("/")
    sizes = parse_shape(size_text) if not isinstance(raw, (list, tuple)) else parse_shape(raw)
    jumps = parse_shape(jump_text) if slash else None
    return sizes, jumps


# -- questions -------------------------------------------------------------------------------------------
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


@dataclass
class Verdict:
    field: str
    given: str                  # as the student wrote it ("" when none)
    expected: object = None     # the exact value (shape tuple, int, rf sizes)
    expected_text: str = ""
    status: str = "error"       # "right" | "wrong" | "error" | "key" (no answer given)
    note: str = ""
    slip: Optional[str] = None  # slip key when a wrong answer matches one
    work: list = field(default_factory=list)  # worked solution, one line each


@dataclass
class Graded:
    number: int
    title: str
    verdicts: list = field(default_factory=list)
    error: Optional[str] = None
    source: str = ""
    note: str = ""
    ident: object = None
    layout: str = "chw"

    @property
    def ok(self) -> bool:
        return self.error is None and all(v.status in ("right", "key") for v in self.verdicts)


@dataclass
class SheetResult:
    title: str
    source: str
    questions: list
    layout: str = "chw"

    def counts(self) -> dict:
        vs = [v for q in self.questions for v in q.verdicts]
        return {"right": sum(v.status == "right" for v in vs), "wrong": sum(v.status == "wrong" for v in vs),
                "errors": sum(v.status == "error" for v in vs) + sum(q.error is not None for q in self.questions),
                "answers": sum(v.status in ("right", "wrong", "error") for v in vs),
                "questions": len(self.questions),
                "broken": sum(q.error is not None for q in self.questions)}

    @property
    def exit_code(self) -> int:
        """0 all right; 1 any answer wrong; 2 when the sheet itself is broken somewhere (a question
        or an answer that cannot be graded): bad input, even though the others were graded."""
        c = self.counts()
        if c["errors"]:
            return 2
        return 0 if c["wrong"] == 0 else 1

    def first_error(self):
        """Text of the first question or answer that could not be graded."""
        for q in self.questions:
            if q.error is not None:
                return q.error
            for v in q.verdicts:
                if v.status == "error":
                    return v.note
        return None


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


def build_question(item: dict, number: int, where: str, defaults: dict, base_dir: str = ".") -> Question:
    """One sheet entry -> a Question; errors name the file, the question number and the field."""
    from .. import spec

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
    layout = item.get("layout", defaults.get("layout", "chw"))
    if layout not in LAYOUTS:
        fail("layout", f"expected chw, hwc or any, got {layout!r}")
    read_layout = "hwc" if layout == "hwc" else "chw"
    exact = item.get("exact", defaults.get("exact", False))
    if not isinstance(exact, bool):
        fail("exact", f"expected true or false, got {exact!r}")
    dtype = item.get("dtype", defaults.get("dtype", "fp32"))
    from ..analyze import DTYPES
    if dtype not in DTYPES:
        fail("dtype", f"expected one of {', '.join(DTYPES)}, got {dtype!r}")
    batch = item.get("batch", 1)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        fail("batch", f"expected a positive integer, got {batch!r}")
    kinds = [k for k in ("layer", "layers", "model", "mlp") if k in item]
    if len(kinds) != 1:
        fail("", "expected exactly one of layer, layers, model, mlp" + (f" (got {', '.join(kinds)})" if kinds else ""))
    kind = kinds[0]
    dims = None
    if item.get("input") is not None:
        try:
            dims = parse_input(item["input"], read_layout)
        except CheckError as e:
            fail("input", str(e))
    try:
        if kind == "mlp":
            bias = item.get("bias", True)
            if not isinstance(bias, bool):
                fail("bias", f"expected true or false, got {bias!r}")
            net, dims = mlp(item["mlp"], bias)
            desc = "MLP " + "-".join(str(s) for s in item["mlp"])
        elif kind == "model":
            name = item["model"]
            if not isinstance(name, str):
                fail("model", f"expected a zoo name or a spec file, got {name!r}")
            model = _load_model(name, dims, base_dir)
            net, dims = model.net, tuple(model.input)
            desc = model.name
        else:
            if dims is None:
                fail("input", "missing (the input shape, e.g. 32x32x3)")
            layers_ = [item["layer"]] if kind == "layer" else item["layers"]
            try:
                model = spec.from_dict({"input": list(dims), "layers": layers_}, where=label)
            except ConvcalcError as e:
                msg = str(e)
                if kind == "layer":
                    msg = msg.replace("layers[0].", "layer.").replace("layers[0]:", "layer:")
                raise CheckError(msg) from None
            net = model.net
            desc = "; ".join(layer.describe() for _, layer in net.layers()) if kind == "layer" \
                else f"{sum(1 for _ in net.layers())} layers"
    except CheckError:
        raise
    except ConvcalcError as e:
        fail(kind, str(e))
    answers = item.get("answers", {})
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        fail("answers", f"expected a mapping such as {{output: 28x28x5, params: 380}}, got {type(answers).__name__}")
    parsed = {}
    for k, v in answers.items():
        try:
            parsed[field_name(k)] = v
        except CheckError as e:
            fail(f"answers.{k}", str(e).replace("unknown answer field", "unknown field"))
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
    at = item.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, str))):
        fail("at", f"expected a layer name or a 1-based position, got {at!r}")
    text = item.get("text", "")
    return Question(number=number, net=net, input=tuple(dims), answers=parsed, text=str(text or ""),
                    source=str(item.get("source", "") or ""), note=str(item.get("note", "") or ""), at=at,
                    layout=layout, exact=exact, dtype=dtype, batch=batch, ident=item.get("id"),
                    label=desc, raw=item)


def _load_model(name: str, dims, base_dir: str):
    if name.lower().endswith((".yaml", ".yml", ".json")) or "/" in name or "|" in name:
        from .. import spec

        path = name if "|" in name or os.path.isabs(name) else os.path.join(base_dir, name)
        model = spec.load(path)
        if dims is not None:
            model.input = tuple(dims)
        return model
    from .. import zoo

    return zoo.get(name, dims)


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
                exact: Optional[bool] = None) -> SheetResult:
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


# -- the truth -----------------------------------------------------------------------------------------------
def analyze_question(q: Question, net=None, input=None):
    from ..analyze import analyze

    return analyze(net if net is not None else q.net, input if input is not None else q.input, batch=q.batch,
                   dtype=q.dtype, name="question")


def select_rows(report, at):
    """The rows up to and including the asked row (all rows when ``at`` is None) and the asked row."""
    rows = list(report.rows)
    if at is None:
        return rows, None
    if isinstance(at, int):
        if not 1 <= at <= len(rows):
            raise CheckError(f"at: position {at} is outside 1..{len(rows)} (the network has {len(rows)} rows)")
        return rows[:at], rows[at - 1]
    for i, r in enumerate(rows):
        if r.name == str(at):
            return rows[:i + 1], r
    close = difflib.get_close_matches(str(at), [r.name for r in rows], n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; rows are {', '.join(r.name for r in rows[:12])}" \
        + (" ..." if len(rows) > 12 else "")
    raise CheckError(f"at: no layer named {at!r}{hint}")


def quantity(report, at, fld: str):
    """The exact value of a field for the asked row (``at``) or the whole network."""
    rows, row = select_rows(report, at)
    last = row if row is not None else rows[-1]
    if fld == "output":
        return tuple(last.output)
    if fld in ("height", "width"):
        if len(last.output) < 3:
            raise CheckError(f"{fld}: the output {'x'.join(map(str, last.output))} has no {fld}")
        return last.output[-2] if fld == "height" else last.output[-1]
    if fld == "channels":
        return last.output[0]
    if fld == "rf":
        if last.rf is None:
            raise CheckError("rf: the input has no spatial axes")
        if row is None:  # a whole network: the last feature map's field (as `convcalc list`)
            spatial = [r for r in rows if r.rf is not None and not any(a.is_global for a in r.rf)]
            if spatial:
                return tuple(spatial[-1].rf)
        return tuple(last.rf)
    if row is not None:
        vals = {"params": row.params, "macs": row.macs, "flops": row.flops, "memory": row.activation_bytes,
                "param_memory": row.params * report.dtype_bytes}
    else:
        t = report.totals
        vals = {"params": t["params"], "macs": t["macs"], "flops": t["flops"], "memory": t["activation_bytes"],
                "param_memory": t["param_bytes"]}
    return vals[fld]


# -- formatting -----------------------------------------------------------------------------------------------
def shape_str(shape, layout: str) -> str:
    dims = list(shape)
    if layout == "hwc" and len(dims) > 1:
        dims = dims[1:] + dims[:1]
    return "x".join(_frac_text(d) for d in dims)


def _frac_text(v) -> str:
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else f"{v} (= {float(v):.4g})"
    return str(v)


def value_text(fld: str, value, layout: str = "chw") -> str:
    from ..units import human_bytes, human_count

    if fld == "output":
        return shape_str(value, "chw" if layout == "any" else layout)
    if fld == "rf":
        sizes = [a.size for a in value]
        size = str(sizes[0]) if len(set(sizes)) == 1 else "x".join(str(s) for s in sizes)
        size = "x".join([size] * len(sizes)) if len(set(sizes)) == 1 and len(sizes) > 1 else size
        if any(a.is_global for a in value):
            return f"{size} (all)"
        jumps = [a.jump for a in value]
        return f"{size}, jump {_frac_text(Fraction(jumps[0]))}" if len(set(jumps)) == 1 else size
    if fld in MEMORY_FIELDS:
        return f"{value:,} B ({human_bytes(value)})" if value >= 1024 else f"{value} B"
    if isinstance(value, Fraction):
        return _frac_text(value)
    if isinstance(value, int) and value >= 1000 and fld in ("params", "macs", "flops"):
        return f"{value:,} ({human_count(value)})"
    return f"{value:,}" if isinstance(value, int) else str(value)


def given_text(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (list, tuple)):
        return "[" + ", ".join(given_text(x) for x in raw) + "]"
    return _raw_text(raw)


def key_value(fld: str, value, layout: str):
    """How --answer-key writes a correct answer (re-readable by the parser)."""
    if fld == "output":
        return shape_str(value, "chw" if layout == "any" else layout)
    if fld == "rf":
        sizes = [a.size for a in value]
        return "x".join(str(s) for s in sizes) if len(sizes) > 1 else sizes[0]
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else str(value)
    return value


# -- grading -------------------------------------------------------------------------------------------------
class _Ctx:
    """What slips and explanations need: the question, its report and the asked rows."""

    def __init__(self, q: Question):
        self.q = q
        self.report = analyze_question(q)
        self.rows, self.row = select_rows(self.report, q.at)
        self._cache = {}

    def value(self, fld):
        return quantity(self.report, self.q.at, fld)

    def rerun(self, net=None, input=None):
        """The same question on a modified network / input: a fresh report."""
        return analyze_question(self.q, net, input)


def grade(q: Question, show_work: bool = False) -> Graded:
    """Grade every answer of one question (or fill in the key for answers left empty)."""
    g = Graded(q.number, q.text or _auto_title(q), source=q.source, note=q.note, ident=q.ident, layout=q.layout)
    try:
        ctx = _Ctx(q)
    except ConvcalcError as e:
        g.error = f"question {q.number}: {e}"
        return g
    if not q.answers:
        q.answers = {f: None for f in DEFAULT_ASK}
    for fld, raw in q.answers.items():
        g.verdicts.append(grade_field(ctx, fld, raw, show_work))
    return g


def _auto_title(q: Question) -> str:
    where = "" if q.at is None else f" at {q.at}"
    return f"{q.label} on {shape_str(q.input, 'hwc' if q.layout == 'hwc' else 'chw')}{where}"


def grade_field(ctx: _Ctx, fld: str, raw, show_work: bool = False) -> Verdict:
    q = ctx.q
    v = Verdict(fld, given_text(raw))
    try:
        truth = ctx.value(fld)
    except ConvcalcError as e:
        v.note = str(e)
        return v
    v.expected = truth
    v.expected_text = value_text(fld, truth, q.layout)
    if raw is None:
        v.status = "key"
        v.work = work_lines(ctx, fld) if show_work else []
        return v
    try:
        status, note = compare(fld, raw, truth, q)
    except CheckError as e:
        v.status, v.note = "error", f"{fld}: {e}"
        return v
    v.status, v.note = status, note
    parsed = _parse_for(fld, raw)
    if status == "wrong" and not note.startswith("transposed"):
        hit = find_slip(ctx, fld, parsed)
        if hit:
            v.slip, v.note = hit[0], _join(v.note, hit[1])
    # the working of "a = b": a step that does not give the right value is pointed out
    if isinstance(parsed, Num) and parsed.working and fld not in ("output", "rf"):
        for step in parsed.working:
            if step.matches(truth) is None and step.value != parsed.value:
                extra = f"the working {step.text} = {value_text(fld, _whole(step.value))}, not {v.expected_text}"
                hit = find_slip(ctx, fld, step)
                v.note = _join(v.note, extra + (f" ({hit[1]})" if hit else ""))
                if hit and not v.slip:
                    v.slip = hit[0]
    if v.status == "wrong" or show_work:
        v.work = work_lines(ctx, fld)
    return v


def _whole(x):
    return int(x) if isinstance(x, Fraction) and x.denominator == 1 else x


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def _parse_for(fld, raw):
    if fld == "output":
        return parse_shape(raw)
    if fld == "rf":
        return parse_rf(raw)
    return parse_number(raw, "bytes" if fld in MEMORY_FIELDS else "count")


def compare(fld: str, raw, truth, q: Question):
    """(status, note) of one answer against the exact value."""
    if fld == "output":
        text = _raw_text(raw).strip() if isinstance(raw, (str, WrittenFloat)) else ""
        if len(truth) == 1 and re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):  # 150,528: one number, not a shape
            return _compare_shape((parse_number(text),), truth, q.layout)
        return _compare_shape(parse_shape(raw), truth, q.layout)
    if fld == "rf":
        return _compare_rf(parse_rf(raw), truth)
    num = parse_number(raw, "bytes" if fld in MEMORY_FIELDS else "count")
    note = ""
    target = truth
    if num.unit in ("macs", "flops") and fld in ("macs", "flops") and num.unit != fld:
        target = truth * 2 if fld == "macs" else Fraction(truth, 2)
        note = f"given in {'FLOPs' if num.unit == 'flops' else 'MACs'} (the question asks {fld.upper()[:-1]}s)"
    elif num.unit in ("macs", "flops") and fld not in ("macs", "flops"):
        return "wrong", f"a number of {num.unit.upper()[:-1]}s where the question asks for the {FIELDS[fld]}"
    label = num.matches(target)
    if label is None:
        return "wrong", note
    if q.exact and num.rounded and Fraction(target) != next(iter(num.readings()))[0]:
        return "wrong", _join(note, f"rounded; the sheet asks for exact values ({value_text(fld, truth)})")
    if num.rounded and Fraction(target) != next(iter(num.readings()))[0]:
        note = _join(note, f"≈ {value_text(fld, target).split(' (')[0]} at the precision written")
    return "right", _join(note, label)


def _dims_match(nums, dims) -> bool:
    return len(nums) == len(dims) and all(n.matches(d) is not None for n, d in zip(nums, dims))


def _to_chw(nums, layout):
    return (nums[-1], *nums[:-1]) if layout == "hwc" and len(nums) > 1 else tuple(nums)


def _compare_shape(nums, truth, layout):
    truth = tuple(truth)
    read = "hwc" if layout == "hwc" else "chw"
    other = "chw" if read == "hwc" else "hwc"
    if _dims_match(_to_chw(nums, read), truth):
        return "right", ""
    if len(nums) > 1 and _dims_match(_to_chw(nums, other), truth):
        if layout == "any":
            return "right", "read as HxWxC"
        return "wrong", (f"transposed: right numbers in {other.upper()} order; the sheet asks {read.upper()} "
                         f"({shape_str(truth, read)})")
    if len(truth) == 1 and len(nums) > 1:  # 1x1x4096 for a 4096-vector: a 1x1 map is the same numbers
        big = [n for n in nums if n.value != 1]
        if len(big) == 1 and _dims_match(big, truth):
            return "right", f"read as {truth[0]} (a 1x1 map)"
    if len(nums) == len(truth) - 1 and len(truth) >= 3 and _dims_match(nums, truth[1:]):
        if truth[0] == 1:
            return "right", "one channel: the spatial size is the whole shape"
        return "wrong", f"only the spatial size; the output also has {truth[0]} channels"
    if len(nums) != len(truth):
        return "wrong", f"{len(nums)} dims given; the output has {len(truth)}"
    return "wrong", ""


def _compare_rf(parsed, truth):
    sizes, jumps = parsed
    want = [a.size for a in truth]
    if len(sizes) == 1:
        sizes = sizes * len(want)
    if len(sizes) != len(want):
        return "wrong", f"{len(sizes)} sizes given; the input has {len(want)} spatial axes"
    if not all(n.matches(w) is not None for n, w in zip(sizes, want)):
        return "wrong", ""
    if jumps is not None:
        js = [a.jump for a in truth]
        if any(j is None for j in js):
            return "wrong", "every unit sees the whole input: there is no jump"
        if len(jumps) == 1:
            jumps = jumps * len(js)
        if not all(n.matches(Fraction(j)) is not None for n, j in zip(jumps, js)):
            return "wrong", "right size, wrong jump (effective stride)"
    return "right", ""


# -- slips -----------------------------------------------------------------------------------------------------
SLIPS = {
    "bias": "forgot the bias",
    "padding": "forgot the padding",
    "cout_for_cin": "used C_out for C_in",
    "floor": "did not floor",
    "flops_for_macs": "counted FLOPs (2 per MAC) where MACs were asked",
    "macs_for_flops": "counted MACs where FLOPs (2 per MAC) were asked",
    "groups": "forgot groups",
    "pool_stride": "applied the pool's stride to the conv",
    "rf_off_by_one": "off-by-one in the receptive field",
    "rf_no_jump": "ignored the stride (jump) of earlier layers in the receptive field",
    "w_out_for_h_in": "used W_out for H_in (H_2 = (W_2 - F + 2P)/S + 1)",
    "elements_for_bytes": "counted elements, not bytes",
    "memory_kind": "gave the other memory",
}


def _map_layers(module, fn, prefix=""):
    """A copy of the network with every leaf layer replaced by ``fn(name, layer)``."""
    from ..graph import Parallel, Sequential, join
    from ..layers.base import Layer

    if isinstance(module, Layer):
        return fn(prefix, module)
    if isinstance(module, Sequential):
        return Sequential(*[(n, _map_layers(c, fn, join(prefix, n))) for n, c in module.children], label=module.label)
    if isinstance(module, Parallel):
        branches = [(n, None if c is None else _map_layers(c, fn, join(prefix, n))) for n, c in module.branches]
        post = [(n, _map_layers(c, fn, join(prefix, n))) for n, c in module.post]
        return Parallel(branches, combine=module.combine, dim=module.dim, post=post, label=module.label,
                        merge_name=module.merge_name)
    return module


def _is_conv(layer) -> bool:
    from ..layers.conv import _ConvNd

    return isinstance(layer, _ConvNd)


def _is_pool(layer) -> bool:
    from ..layers.pool import _PoolNd

    return isinstance(layer, _PoolNd)


def rebuild(layer, **changes):
    """The same conv / pool / linear with some arguments changed."""
    from ..layers import Linear

    if _is_conv(layer):
        pads = layer.pads
        padding = tuple(lo for lo, _ in pads) if all(lo == hi for lo, hi in pads) else pads
        args = dict(in_channels=layer.in_channels, out_channels=layer.out_channels, kernel_size=layer.kernel_size,
                    stride=layer.stride, padding=padding, dilation=layer.dilation, groups=layer.groups,
                    bias=layer.bias)
        if layer.transposed:
            args["output_padding"] = layer.output_padding
        else:
            args["padding_mode"] = layer.padding_mode
        args.update(changes)
        return type(layer)(**args)
    if _is_pool(layer):
        args = dict(kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                    ceil_mode=layer.ceil_mode)
        if hasattr(layer, "dilation") and "avg" not in layer.kind:
            args["dilation"] = layer.dilation
        args.update(changes)
        return type(layer)(**args)
    if isinstance(layer, Linear):
        args = dict(in_features=layer.in_features, out_features=layer.out_features, bias=layer.bias)
        args.update(changes)
        return Linear(**args)
    return layer


def _variant(ctx, fld, change):
    """The field's value on the network with ``change(name, layer)`` applied to every layer, or None."""
    try:
        net = _map_layers(ctx.q.net, change)
        return quantity(ctx.rerun(net), ctx.q.at, fld)
    except (ConvcalcError, TypeError, ValueError, ZeroDivisionError):
        return None


def _slip_bias(ctx, fld):
    if fld not in ("params", "param_memory"):
        return
    count = 0
    for r in ([ctx.row] if ctx.row is not None else ctx.rows):
        lay = r.layer
        if lay is not None and getattr(lay, "bias", None) is True:
            count += getattr(lay, "out_channels", None) or getattr(lay, "out_features", 0) or 0
    if not count:
        return
    val = _variant(ctx, fld, lambda n, lay: rebuild(lay, bias=False) if getattr(lay, "bias", None) is True else lay)
    unit = "channel" if _any_conv(ctx) else "unit"
    yield val, f"that is the count without the {count:,} biases (one per output {unit})"


def _any_conv(ctx):
    return any(r.layer is not None and _is_conv(r.layer) for r in ctx.rows)


def _has_padding(layer):
    if _is_conv(layer):
        return any(lo or hi for lo, hi in layer.pads)
    if _is_pool(layer):
        return any(layer.padding)
    return False


def _slip_padding(ctx, fld):
    if fld not in ("output", "height", "width", "macs", "flops", "memory"):
        return
    pads = [r for r in ctx.rows if r.layer is not None and _has_padding(r.layer)]
    if not pads:
        return
    p = pads[0].layer.pads[0][0] if _is_conv(pads[0].layer) else pads[0].layer.padding[0]
    val = _variant(ctx, fld, lambda n, lay: rebuild(lay, padding=0) if _has_padding(lay) else lay)
    yield val, f"that is the {FIELDS[fld]} with padding 0 (the question pads by {p})"


def _slip_groups(ctx, fld):
    if fld not in ("params", "macs", "flops", "param_memory"):
        return
    grouped = [r for r in ctx.rows if r.layer is not None and _is_conv(r.layer) and r.layer.groups != 1]
    if not grouped:
        return
    g = grouped[0].layer.groups
    val = _variant(ctx, fld, lambda n, lay: rebuild(lay, groups=1) if _is_conv(lay) and lay.groups != 1 else lay)
    yield val, f"that is the {FIELDS[fld]} with groups=1; with groups={g} each filter sees only C_in/{g} channels"


def _slip_cout_for_cin(ctx, fld):
    """Each conv / linear recomputed as if its input had C_out channels (features)."""
    if fld not in ("params", "macs", "flops", "param_memory"):
        return
    from ..layers import Linear

    rows = [ctx.row] if ctx.row is not None else ctx.rows
    total, changed, first = 0, False, None
    for r in rows:
        lay = r.layer
        key = {"params": "params", "param_memory": "params", "macs": "macs", "flops": "macs"}[fld]
        if lay is None:
            continue
        try:
            if _is_conv(lay) and r.input[0] != lay.out_channels:
                inf = rebuild(lay, in_channels=None).infer((lay.out_channels, *r.input[1:]))
                changed, first = True, first or (r.input[0], lay.out_channels)
            elif isinstance(lay, Linear) and r.input[-1] != lay.out_features:
                inf = rebuild(lay, in_features=None).infer((*r.input[:-1], lay.out_features))
                changed, first = True, first or (r.input[-1], lay.out_features)
            else:
                total += getattr(r, key) if key == "params" else r.macs
                continue
        except ConvcalcError:
            return
        total += inf.params if key == "params" else inf.macs * ctx.report.batch
    if not changed:
        return
    val = {"params": total, "param_memory": total * ctx.report.dtype_bytes, "macs": total, "flops": 2 * total}[fld]
    yield val, (f"that is the count with C_out = {first[1]} inputs in place of C_in = {first[0]}"
                + (" (in every layer)" if len(rows) > 1 else ""))


def _window_args(lay):
    if _is_conv(lay):
        return lay.kernel_size, lay.stride, lay.pads, lay.dilation
    return lay.kernel_size, lay.stride, tuple((p, p) for p in lay.padding), getattr(lay, "dilation", (1,) * lay.nd)


def _slip_floor(ctx, fld):
    """Output sizes carried as exact fractions (no floor), or rounded up, through the windowed layers."""
    if fld not in ("output", "height", "width"):
        return
    for mode, text in (("none", "that is (L + 2P - K)/S + 1 without the floor; sizes are whole: floor it"),
                       ("ceil", "that is the size rounded up; the formula floors (PyTorch's default)")):
        sizes = None
        ok = True
        any_window = False
        for r in ctx.rows:
            lay = r.layer
            if sizes is None:
                sizes = [Fraction(d) for d in r.input[1:]]
            if lay is None:
                ok = False
                break
            if (_is_conv(lay) and not lay.transposed) or (_is_pool(lay) and not lay.ceil_mode):
                k, s, pads, d = _window_args(lay)
                new = []
                for L, kk, ss, (lo, hi), dd in zip(sizes, k, s, pads, d):
                    x = (L + lo + hi - dd * (kk - 1) - 1) / Fraction(ss) + 1
                    new.append(Fraction(math.ceil(x)) if mode == "ceil" else x)
                if new != [Fraction(v) for v in r.output[1:]]:
                    any_window = True
                sizes = new
            elif tuple(r.output) == tuple(r.input):
                continue
            else:
                ok = False
                break
        if not ok or not any_window or sizes is None:
            continue
        last = ctx.rows[-1]
        shape = (last.output[0], *sizes)
        val = {"output": shape, "height": shape[-2] if len(shape) > 2 else None,
               "width": shape[-1]}[fld]
        if val is not None:
            yield val, text


def _slip_flops(ctx, fld):
    macs = ctx.value("macs")
    if fld == "macs":
        yield 2 * macs, f"{2 * macs:,} = 2 x {macs:,}; a MAC is one multiply plus its add, counted once"
    elif fld == "flops":
        yield macs, f"{macs:,} is the MAC count; FLOPs = 2 x MACs = {2 * macs:,}"


def _pointwise(lay) -> bool:
    try:
        from ..layers.act import Elementwise
        from ..layers.norm import _BatchNorm, LocalResponseNorm
    except ImportError:  # pragma: no cover
        return False
    return isinstance(lay, (Elementwise, _BatchNorm, LocalResponseNorm))


def _slip_pool_stride(ctx, fld):
    """A conv followed by a strided pool: the conv recomputed with the pool's stride (pool kept, or not)."""
    if fld not in ("output", "height", "width", "macs", "flops", "memory", "channels"):
        return
    leaves = list(ctx.q.net.layers())
    pairs = {}
    for i, (name, lay) in enumerate(leaves):
        if _is_conv(lay) and not lay.transposed:
            for name2, nxt in leaves[i + 1:]:
                if _is_pool(nxt):
                    if nxt.stride != lay.stride:
                        pairs[name] = (nxt.stride, name2)
                    break
                if not _pointwise(nxt):
                    break
    if not pairs:
        return
    for drop_pool in (False, True):
        pools = {p for _, p in pairs.values()}

        def change(n, lay, drop=drop_pool):
            if n in pairs:
                return rebuild(lay, stride=pairs[n][0])
            if drop and n in pools:
                from ..layers import Identity
                return Identity()
            return lay

        val = _variant(ctx, fld, change)
        s = next(iter(pairs.values()))[0]
        yield val, (f"that is the {FIELDS[fld]} with the conv at the pool's stride {s[0]}"
                    + (" (and the pool left out)" if drop_pool else "") + "; the conv's own stride is "
                    + str(leaves[[n for n, _ in leaves].index(next(iter(pairs)))][1].stride[0]))


def _rf_chain(ctx, start_size, extra_k=0, ignore_jump=False):
    """Receptive-field sizes recomposed through the asked rows' windows, with a slip."""
    from ..rf import AxisRF, through

    rf = None
    for r in ctx.rows:
        if r.layer is None:
            return None
        inf = r.layer.infer(tuple(r.input))
        if rf is None:
            rf = tuple(AxisRF(start_size, 1, Fraction(1, 2)) for _ in r.input[1:])
        if inf.rf == "window":
            wins = tuple(replace(w, k=w.k + extra_k) for w in inf.windows)
            if ignore_jump:
                rf = tuple(AxisRF(a.size, 1, a.start) for a in rf)
            rf = through(rf, wins)
        elif inf.rf == "global":
            break
    return rf


def _slip_rf(ctx, fld):
    if fld != "rf":
        return
    for kw, text in (({"start_size": 0}, "that is the field without the unit itself: start from r = 1, not 0"),
                     ({"start_size": 1, "extra_k": 1}, "that adds K per layer; each layer adds (K - 1)·jump"),
                     ({"start_size": 0, "extra_k": 1}, "that is L·K: each layer adds (K - 1)·jump, and the unit "
                                                       "itself counts 1"),
                     ({"start_size": 1, "extra_k": -1}, "that adds (K - 2) per layer; each layer adds (K - 1)·jump")):
        rf = _rf_chain(ctx, **kw)
        if rf is not None:
            yield rf, text
    rf = _rf_chain(ctx, 1, ignore_jump=True)
    if rf is not None:
        yield rf, "that is 1 + Σ(K - 1) ignoring earlier strides: each layer adds (K - 1) x the product of earlier strides"


def _slip_w_for_h(ctx, fld):
    """The typo H_2 = (W_2 - F + 2P)/S + 1: the height computed from the output width."""
    if fld not in ("output", "height"):
        return
    r = ctx.row if ctx.row is not None else ctx.rows[-1]
    lay = r.layer
    if lay is None or not (_is_conv(lay) or _is_pool(lay)) or len(r.input) != 3:
        return
    try:
        h = lay.infer((r.input[0], r.output[2], r.input[2])).shape[1]
    except ConvcalcError:
        return
    val = (r.output[0], h, r.output[2])
    yield (val if fld == "output" else h), (f"that feeds the output width W_2 = {r.output[2]} back in: "
                                            f"H_2 = (H_1 - F + 2P)/S + 1 uses the input height H_1 = {r.input[1]}")


def _slip_memory(ctx, fld):
    if fld not in MEMORY_FIELDS:
        return
    nbytes = ctx.report.dtype_bytes
    val = ctx.value(fld)
    yield Fraction(val, nbytes), f"that is the number of elements; memory = elements x {nbytes} B ({ctx.q.dtype})"
    other = "param_memory" if fld == "memory" else "memory"
    yield ctx.value(other), (f"that is the {FIELDS[other]}; the question asks for the {FIELDS[fld]}"
                             + (" (the output activations)" if fld == "memory" else ""))


SLIP_FUNCS = (("bias", _slip_bias), ("padding", _slip_padding), ("cout_for_cin", _slip_cout_for_cin),
              ("floor", _slip_floor), ("flops_for_macs", _slip_flops), ("groups", _slip_groups),
              ("pool_stride", _slip_pool_stride), ("rf_off_by_one", _slip_rf), ("w_out_for_h_in", _slip_w_for_h),
              ("memory", _slip_memory))


def slip_values(ctx: _Ctx, fld: str) -> list:
    """Every (slip key, value, explanation) for a field: the value the question has after the slip."""
    out = []
    truth = ctx.value(fld)
    for key, fn in SLIP_FUNCS:
        try:
            for val, text in fn(ctx, fld) or ():
                if val is None or _same(fld, val, truth):
                    continue
                k = key
                if key == "flops_for_macs" and fld == "flops":
                    k = "macs_for_flops"
                if key == "rf_off_by_one" and text.startswith("that is 1 + Σ"):
                    k = "rf_no_jump"
                if key == "memory":
                    k = "elements_for_bytes" if "elements" in text else "memory_kind"
                out.append((k, val, text))
        except ConvcalcError:
            continue
    return out


def _same(fld, a, b) -> bool:
    if fld == "rf":
        return [x.size for x in a] == [x.size for x in b]
    return a == b


def find_slip(ctx: _Ctx, fld: str, parsed):
    """(slip key, "slip: explanation") when the wrong answer is what a slip gives, else None."""
    for key, val, text in slip_values(ctx, fld):
        if _answer_is(fld, parsed, val, ctx.q.layout):
            return key, f"{SLIPS[key]}: {text}"
    return None


def _answer_is(fld, parsed, val, layout) -> bool:
    if fld == "output":
        read = "hwc" if layout == "hwc" else "chw"
        return _dims_match(_to_chw(parsed, read), tuple(val)) or (
            layout == "any" and _dims_match(_to_chw(parsed, "hwc"), tuple(val)))
    if fld == "rf":
        sizes = parsed[0]
        want = [a.size for a in val]
        if len(sizes) == 1:
            sizes = sizes * len(want)
        return len(sizes) == len(want) and all(n.matches(w) is not None for n, w in zip(sizes, want))
    return parsed.matches(val) is not None


# -- worked solutions -----------------------------------------------------------------------------------------
_STEP_FIELDS = {"params": ("params",), "macs": ("MACs",), "flops": ("MACs",), "rf": ("RF size", "RF jump"),
                "param_memory": ("params",)}
MAX_EXPLAINED = 16   # beyond this many layers, a total is shown as a sum of numbers only


def _steps(row, select):
    from . import explain

    rf_in = row.rf_in if row.rf_in is not None and not any(a.is_global for a in row.rf_in) else None
    ex = explain.explain_layer(row.layer, row.input, rf_in, row.name)
    return [explain.step_line(st) for st in ex.steps if select(st.quantity)]


def _is_output_step(quantity: str) -> bool:
    return quantity.endswith("_out") or quantity.startswith("N_")


def work_lines(ctx: _Ctx, fld: str) -> list:
    """The worked solution for one field: general formula, numbers substituted, result."""
    from ..units import human_bytes

    q, report = ctx.q, ctx.report
    rows = [ctx.row] if ctx.row is not None else ctx.rows
    layers = [r for r in rows if r.layer is not None]
    lines = []
    layout = "hwc" if q.layout == "hwc" else "chw"
    try:
        if fld in ("output", "height", "width", "channels"):
            chain = ctx.rows
            if len(chain) > 1:
                shapes = [shape_str(chain[0].input, layout)] + [f"{r.desc} → {shape_str(r.output, layout)}"
                                                                 for r in chain]
                if len(shapes) <= 14:
                    lines.append("shapes: " + " → ".join(shapes).replace("→ ", "", 0))
                else:
                    lines.append(f"shapes: {shapes[0]} → ... ({len(chain)} layers) → {shapes[-1]}")
            last = chain[-1]
            if last.layer is not None:
                sel = {"height": lambda s: s.startswith("H_out") or s.startswith("L_out"),
                       "width": lambda s: s.startswith("W_out"),
                       "channels": lambda s: s == "C_out"}.get(fld, _is_output_step)
                lines += [("" if len(chain) == 1 else f"{last.name} ({last.desc}): ") + s for s in _steps(last, sel)]
        elif fld in ("params", "param_memory", "macs", "flops"):
            key = "macs" if fld in ("macs", "flops") else "params"
            contrib = [r for r in layers if getattr(r, key)]
            if len(contrib) <= MAX_EXPLAINED:
                for r in contrib:
                    for s in _steps(r, lambda n: n in _STEP_FIELDS[fld]):
                        lines.append(("" if len(rows) == 1 else f"{r.name} ({r.desc}): ") + s)
            else:
                lines.append(f"{len(contrib)} layers with {key}: " + ", ".join(f"{r.name} {getattr(r, key):,}"
                                                                                for r in contrib[:6]) + ", ...")
            total = sum(getattr(r, key) for r in rows)
            if len(contrib) > 1:
                lines.append(f"total {'MACs' if key == 'macs' else 'params'} = "
                             + (" + ".join(f"{getattr(r, key):,}" for r in contrib) if len(contrib) <= 12
                                else f"sum over {len(contrib)} layers") + f" = {total:,}")
            if report.batch != 1 and key == "macs":
                lines.append(f"(for a batch of {report.batch})")
            if fld == "flops":
                lines.append(f"FLOPs = 2·MACs = 2·{total:,} = {2 * total:,}")
            if fld == "param_memory":
                lines.append(f"parameter memory = params·{report.dtype_bytes} B ({q.dtype}) = {total:,}·"
                             f"{report.dtype_bytes} = {total * report.dtype_bytes:,} B = "
                             f"{human_bytes(total * report.dtype_bytes)}")
        elif fld == "rf":
            for r in ctx.rows:
                if r.layer is None:
                    continue
                inf_rf = r.layer.infer(tuple(r.input)).rf
                if inf_rf == "window":
                    lines += [f"{r.name} ({r.desc}): " + s for s in _steps(r, lambda n: n.startswith("RF size (H)")
                                                                            or n == "RF size"
                                                                            or n.startswith("RF jump (H)")
                                                                            or n == "RF jump")]
                elif inf_rf == "global":
                    lines.append(f"{r.name} ({r.desc}): every unit sees the whole input")
                    break
            if len(lines) > 2 * MAX_EXPLAINED:
                lines = lines[:4] + ["..."] + lines[-4:]
        elif fld == "memory":
            nbytes = report.dtype_bytes
            if ctx.row is not None or len(rows) == 1:
                r = rows[-1]
                elems = math.prod(r.output) * report.batch
                lines.append(f"memory = {' x '.join(str(d) for d in r.output)}"
                             + (f" x batch {report.batch}" if report.batch != 1 else "")
                             + f" = {elems:,} elements x {nbytes} B ({q.dtype}) = {elems * nbytes:,} B = "
                             f"{human_bytes(elems * nbytes)}")
            else:
                total = report.totals["activation_bytes"]
                lines.append(f"memory = the outputs of all {len(rows)} layers = {total // nbytes:,} elements x "
                             f"{nbytes} B ({q.dtype}) = {total:,} B = {human_bytes(total)}")
    except ConvcalcError as e:  # an explanation must never hide a grade
        lines.append(f"(no worked solution: {e})")
    return lines


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
    ctx = _Ctx(q)
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


def to_dict(result: SheetResult) -> dict:
    """The graded report as JSON data (exact integers; shapes in the sheet's layout as text and CHW lists)."""
    from ..report import jsonable

    def expected(v):
        if v.field == "rf" and v.expected is not None:
            return {"size": [jsonable(a.size) for a in v.expected],
                    "jump": [jsonable(a.jump) for a in v.expected]}
        if isinstance(v.expected, tuple):
            return [jsonable(d) for d in v.expected]
        return jsonable(v.expected) if v.expected is not None else None

    c = result.counts()
    return {"schema_version": 1, "title": result.title, "source": result.source, "layout": result.layout,
            "score": {"right": c["right"], "answers": c["answers"], "wrong": c["wrong"], "errors": c["errors"]},
            "questions": [{"number": g.number, "id": g.ident, "title": g.title, "source": g.source,
                           "error": g.error,
                           "answers": [{"field": v.field, "given": v.given, "status": v.status,
                                        "expected": expected(v), "expected_text": v.expected_text,
                                        "note": v.note, "slip": v.slip, "work": v.work}
                                       for v in g.verdicts]} for g in result.questions]}
