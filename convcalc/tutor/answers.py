"""Students' answers: the fields a question asks, and forgiving parsing of what was written.

* A plain integer (``380``, ``62,378,344``) is exact. A number written with a suffix or decimals
  (``62.4M``, ``768k``, ``0.77 GMACs``, ``238 MiB``) carries the precision it was written to.
* ``MB``/``GB`` in a memory answer are read as SI (10^6) or, failing that, binary (2^20) units;
  ``MiB`` is only binary.
* A working such as ``10 x 32 x 32 x 75 x 2 = 768k`` keeps every step (graded on its last part).
* Shapes: ``28x28x5``, ``(5, 28, 28)``, ``[5,28,28]``, ``28/3x28/3x5``; receptive fields ``7x7``,
  ``11/4`` (size/jump).

Also here: how exact values are written back (in a report, or in an answer key).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
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
    "backward_macs": "backward MACs (input and weight gradients)",
    "grad_input_shape": "shape of the input gradient dX",
    "grad_weight_shape": "shape of the weight gradient dW",
    "saved_bytes": "activations saved for the backward pass",
    "training_memory": "training memory (weights, gradients, optimizer state)",
}
FIELD_ALIASES = {"shape": "output", "output_shape": "output", "parameters": "params", "weights": "params",
                 "mult_adds": "macs", "multiply_adds": "macs", "mac": "macs", "flop": "flops",
                 "receptive_field": "rf", "activation_memory": "memory", "activations": "memory",
                 "param_bytes": "param_memory", "weight_memory": "param_memory", "h": "height", "w": "width",
                 "c": "channels", "backward": "backward_macs", "grad_input": "grad_input_shape",
                 "dx_shape": "grad_input_shape", "grad_weight": "grad_weight_shape", "dw_shape": "grad_weight_shape",
                 "saved_activations": "saved_bytes", "saved": "saved_bytes"}
COUNT_FIELDS = ("height", "width", "channels", "params", "macs", "flops", "memory", "param_memory", "backward_macs",
                "saved_bytes", "training_memory")
MEMORY_FIELDS = ("memory", "param_memory", "saved_bytes", "training_memory")
SHAPE_FIELDS = ("output", "grad_input_shape", "grad_weight_shape")
TRAINING_FIELDS = ("backward_macs", "grad_input_shape", "grad_weight_shape", "saved_bytes", "training_memory")
LAYOUTS = ("chw", "hwc", "any")
DEFAULT_ASK = ("output", "params", "macs")


class CheckError(ConvcalcError):
    """A sheet, question or answer that cannot be read."""


def field_name(name: str, what: str = "answer field") -> str:
    """The canonical field for a name as written (``parameters`` -> ``params``); ``what`` names it
    in the error (a sheet's ``answers`` key is a "field")."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = FIELD_ALIASES.get(key, key)
    if key not in FIELDS:
        close = difflib.get_close_matches(key, list(FIELDS) + list(FIELD_ALIASES), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(FIELDS)}"
        raise CheckError(f"unknown {what} {name!r}{hint}")
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
            if value == 0 and exact != 0:  # 0G / 0k / 0 billion: no significant digit, not a rounding
                continue
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


MAX_ANSWER_CHARS = 200    # longer answers are refused (no count in a CNN exercise needs more)
MAX_DIGITS = 60           # digits in one written number
MAX_EXPONENT = 60         # |e| in 6e7
MAX_BITS = 400            # size of any intermediate value of an arithmetic expression


def _number_token(text: str):
    """(value, step) of one written number: ``62,378,344`` exact, ``62.4`` to 0.1, ``6e7`` to 1e7.
    Bounded: more than MAX_DIGITS digits or an exponent beyond MAX_EXPONENT is a CheckError."""
    t = re.sub(r"[,\u2009\u202f' _]", "", text)
    mant, _, exp = t.lower().partition("e")
    if sum(ch.isdigit() for ch in mant) > MAX_DIGITS:
        raise CheckError(f"a number with more than {MAX_DIGITS} digits is not an answer")
    if exp and (len(exp.lstrip("+-")) > 3 or abs(int(exp)) > MAX_EXPONENT):
        raise CheckError(f"the exponent of {text[:20]!r} is out of range (at most e{MAX_EXPONENT})")
    whole, dot, frac = mant.partition(".")
    value = Fraction(mant) * (Fraction(10) ** int(exp) if exp else 1)
    if dot or exp:
        step = Fraction(1, 10 ** len(frac)) * (Fraction(10) ** int(exp) if exp else 1)
    else:
        step = Fraction(0)
    return value, step


def raw_text(raw) -> str:
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
        _bounded_int(raw)
        return Num(Fraction(raw), text=str(raw))
    text = raw_text(raw).strip()
    if not text:
        raise CheckError("empty answer")
    _bounded(text)
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


def _bounded(text: str) -> None:
    if len(text) > MAX_ANSWER_CHARS:
        raise CheckError(f"an answer of {len(text):,} characters is too long (at most {MAX_ANSWER_CHARS})")


def _bounded_int(v: int) -> None:
    if abs(v).bit_length() > MAX_BITS:
        raise CheckError(f"a number with about {int(abs(v).bit_length() * 0.30103):,} digits is not an answer")


def is_blank(raw) -> bool:
    """An answer left empty (``""``, spaces): graded ✗ unanswered, never an error."""
    return isinstance(raw, str) and not raw.strip()


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


def _small(v, text: str) -> Fraction:
    """An intermediate value of an expression, refused when it grows beyond MAX_BITS."""
    v = Fraction(v)
    if v.numerator.bit_length() > MAX_BITS or v.denominator.bit_length() > MAX_BITS:
        raise CheckError(f"{text[:40]!r}: a value too large to be an answer")
    return v


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
            v = _small(v ** int(e), text)
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
            v = _small(v, text)
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
        if len(items) > 16:
            raise CheckError(f"a shape of {len(items)} dims is not an answer")
    elif isinstance(raw, int):
        items = [raw]
    else:
        text = raw_text(raw).strip()
        _bounded(text)
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
        _bounded_int(item)
        return Num(Fraction(item), text=str(item))
    text = raw_text(item).strip()
    if len(text) > MAX_DIGITS:
        raise CheckError("not a size")
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
        _bounded_int(raw)
        return (Num(Fraction(raw), text=str(raw)),), None
    text = raw_text(raw).strip()
    _bounded(text)
    text = re.sub(r"\s*(?:px|pixels?|\(all\))\s*$", "", text, flags=re.I)
    size_text, slash, jump_text = text.partition("/")
    sizes = parse_shape(size_text) if not isinstance(raw, (list, tuple)) else parse_shape(raw)
    jumps = parse_shape(jump_text) if slash else None
    return sizes, jumps


def dims_match(nums, dims) -> bool:
    """Every written dim rounds to the exact one, in order."""
    return len(nums) == len(dims) and all(n.matches(d) is not None for n, d in zip(nums, dims))


def to_chw(nums, layout):
    """Written dims in ``layout`` (``chw``/``hwc``) -> channels first."""
    return (nums[-1], *nums[:-1]) if layout == "hwc" and len(nums) > 1 else tuple(nums)


def shape_layout(fld: str, layout: str) -> str:
    """How a shape field is written: a weight shape always as PyTorch stores it (C_out, C_in/g, K, K)."""
    if fld == "grad_weight_shape":
        return "chw"
    return "chw" if layout == "any" else layout


# -- writing exact values --------------------------------------------------------------------------------------
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

    if fld in SHAPE_FIELDS:
        return shape_str(value, shape_layout(fld, layout))
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
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw).bit_length() > MAX_BITS:
        return f"<a number of about {int(abs(raw).bit_length() * 0.30103):,} digits>"
    if isinstance(raw, str) and len(raw) > MAX_ANSWER_CHARS:
        return raw[:40] + f"... ({len(raw):,} characters)"
    if isinstance(raw, (list, tuple)):
        return "[" + ", ".join(given_text(x) for x in raw) + "]"
    return raw_text(raw)


def key_value(fld: str, value, layout: str):
    """How --answer-key writes a correct answer (re-readable by the parser)."""
    if fld in SHAPE_FIELDS:
        return shape_str(value, shape_layout(fld, layout))
    if fld == "rf":
        sizes = [a.size for a in value]
        return "x".join(str(s) for s in sizes) if len(sizes) > 1 else sizes[0]
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else str(value)
    return value

