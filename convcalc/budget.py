"""Budgets: the largest parameter count, MACs and memory a model may have.

``check(report, limits) -> [over-budget lines]`` (empty: within budget). ``limits`` maps
``params`` / ``macs`` / ``memory`` to a number or a text with a unit (counts: ``25M``,
``4.1G``, ``1e9``, ``1000000``; memory: ``512MiB``, ``1.5GB`` via :func:`units.parse_bytes`).
Memory is the forward peak (activations alive at once, weights and buffers), the figure the
summary line prints as "forward peak"; when it is undetermined (a symbolic input) the
activation total is used. Engine level: no click, no rich; bad limits are ConvcalcError.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import ConvcalcError

KINDS = ("params", "macs", "memory")


class OverBudget(ConvcalcError):
    """A model over one or more budgets: ``.lines`` (one per figure) and the ``.report``."""

    def __init__(self, lines, report=None):
        super().__init__("; ".join(lines))
        self.lines, self.report = list(lines), report
_SI = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_count(text, what: str = "count") -> int:
    """``25M``, ``4.1G``, ``1e9``, ``1_000_000``, ``300k``, an int -> a positive integer."""
    if isinstance(text, bool):
        raise ConvcalcError(f"{what} budget {text!r}: expected a number such as 25M, 4.1G or 1e9")
    if isinstance(text, int):
        value = text
    else:
        s = str(text).strip().replace("_", "").replace(",", "")
        if s.startswith("-"):
            raise ConvcalcError(f"{what} budget {text!r}: must be more than 0")
        m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]?)", s)
        if not m or m.group(2).lower() not in _SI or len(s) > 40:
            raise ConvcalcError(f"{what} budget {text!r}: expected a number with an optional k, M, G or T "
                                "(25M, 4.1G, 1e9)")
        value = Fraction(m.group(1)) * _SI[m.group(2).lower()]
        if value.denominator != 1:
            raise ConvcalcError(f"{what} budget {text!r} is not a whole number")
        value = int(value)
    if value <= 0:
        raise ConvcalcError(f"{what} budget {text!r}: must be more than 0")
    return value


def parse_limits(**limits) -> dict:
    """The limits given (None values dropped) as positive integers, keyed params / macs / memory."""
    out = {}
    for key, value in limits.items():
        key = key[4:] if key.startswith("max_") else key
        if key not in KINDS:
            raise ConvcalcError(f"unknown budget {key!r}: expected one of {', '.join(KINDS)}")
        if value is None:
            continue
        if key == "memory":
            out[key] = _bytes(value)
        else:
            out[key] = parse_count(value, "MACs" if key == "macs" else key)
    return out


def _bytes(value) -> int:
    from .units import parse_bytes

    if isinstance(value, bool):
        raise ConvcalcError(f"memory budget {value!r}: expected a size such as 512MiB or 1.5GB")
    if isinstance(value, int):
        if value <= 0:
            raise ConvcalcError(f"memory budget {value!r}: must be more than 0 bytes")
        return value
    text = str(value).strip()
    if text.startswith("-") or re.fullmatch(r"0+(\.0*)?\s*[a-zA-Z]*", text):
        raise ConvcalcError(f"memory budget {value!r}: must be more than 0 bytes")
    try:
        return parse_bytes(text)
    except ConvcalcError as e:
        raise ConvcalcError(f"memory budget {value!r}: expected a size such as 512MiB, 24GiB or 1.5GB") from e


def figures(report) -> dict:
    """The figures budgets are held against: params, MACs (whole batch), memory in bytes."""
    t = report.totals
    memory = t["peak_bytes"] if t.get("peak_bytes") is not None else t["activation_bytes"]
    return {"params": t["params"], "macs": t["macs"], "memory": memory}


def check(report, limits) -> list:
    """One line per figure over its limit: ``params 25,557,032 (25.6M) > budget 20,000,000 (20M)``."""
    from .sym import is_sym
    from .units import exact, human_bytes, human_count

    parsed = parse_limits(**limits)
    have = figures(report)
    lines = []
    for key in KINDS:
        if key not in parsed:
            continue
        value, limit = have[key], parsed[key]
        if is_sym(value):
            raise ConvcalcError(f"a {key} budget needs a numeric input; {report.model}'s {key} is {value}")
        if value > limit:
            human = human_bytes if key == "memory" else human_count
            label = {"params": "params", "macs": "MACs", "memory": "memory (forward peak)"}[key]
            lines.append(f"{report.model}: {label} {exact(value)} ({human(value)}) is over the budget of "
                         f"{exact(limit)} ({human(limit)}) by {exact(value - limit)}")
    return lines
