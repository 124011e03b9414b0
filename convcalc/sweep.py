"""Sweeps: a model's totals at several input sizes or width multipliers, and its closed forms.

``run(model, "input" | "width", values)`` -> one :class:`Point` per value; an input smaller than
the model accepts is an error naming the valid range (from :func:`convcalc.solve.min_input`).
``closed_form(model)``: params and MACs as formulas in the input side ``S`` (input ``C x S x S``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ConvcalcError


@dataclass(frozen=True)
class Point:
    value: object      # the input side or the width multiplier
    input: tuple
    params: int
    macs: int
    activation_bytes: int
    peak_bytes: object


def _point(value, report) -> Point:
    t = report.totals
    return Point(value, report.input, t["params"], t["macs"], t["activation_bytes"], t["peak_bytes"])


def run(model, what: str, values, batch=1, dtype: str = "fp32") -> list:
    from .analyze import analyze

    base = tuple(getattr(model, "input", ()) or ())
    if what == "input":
        if len(base) < 2:
            raise ConvcalcError("--input sweeps need a model with a spatial input")
        _check_inputs(model, values)
        out = []
        for s in values:
            shape = (base[0],) + (s,) * (len(base) - 1)
            try:
                out.append(_point(s, analyze(model, shape, batch=batch, dtype=dtype)))
            except ConvcalcError as e:
                raise ConvcalcError(f"--input {s}: {model.name} does not accept {s}x{s} ({e}); "
                                    f"{_valid(model)}") from None
        return out
    if what == "width":
        from .width import widen

        bad = [w for w in values if not w > 0 or w > 64]
        if bad:
            raise ConvcalcError(f"--width {bad[0]:g}: a width multiplier must be in (0, 64]")
        return [_point(w, analyze(widen(model, w), batch=batch, dtype=dtype)) for w in values]
    raise ConvcalcError(f"unknown sweep {what!r}: expected input or width")


def _valid(model) -> str:
    from .tutor.solve import min_input

    try:
        return f"valid square inputs start at {min_input(model)} (its minimum input)"
    except ConvcalcError as e:
        return str(e)


def ranges(values) -> str:
    """``227..258``, ``32..35, 40``: runs of consecutive sizes."""
    runs = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = ", ".join(f"{a}..{b}" if b > a else str(a) for a, b in runs[:6])
    return text + (f" (+{len(runs) - 6} more ranges)" if len(runs) > 6 else "")


def _check_inputs(model, values) -> None:
    """Sides the model does not accept: one error naming the valid range and the minimum input."""
    from .tutor.solve import min_input
    from .tutor.solve import square_sizes

    for s in values:
        if s < 1 or s > 4096:
            raise ConvcalcError(f"--input {s}: a square input side must be in 1..4096")
    try:
        smallest = min_input(model)
        accepted = set(square_sizes(model))
    except ConvcalcError:
        return  # the per-value analysis names the problem
    bad = [s for s in values if s not in accepted]
    if bad:
        raise ConvcalcError(f"--input {bad[0]}: {model.name} does not accept {bad[0]}x{bad[0]}; it accepts "
                            f"square inputs {ranges(sorted(accepted))} (minimum input {smallest})")


def closed_form(model, batch=1, dtype: str = "fp32"):
    """{"params": expr, "macs": expr, "activation_bytes": expr, "input": shape} at input C x S x S,
    or {"error": text} when the symbolic engine cannot take the model."""
    from .analyze import analyze
    from .sym import dims

    base = tuple(getattr(model, "input", ()) or ())
    if len(base) < 2:
        return None
    S = dims("S")
    shape = (base[0],) + (S,) * (len(base) - 1)
    try:
        r = analyze(model, shape, batch=batch, dtype=dtype)
    except ConvcalcError as e:
        return {"error": str(e)}
    t = r.totals
    return {"input": shape, "params": t["params"], "macs": t["macs"], "activation_bytes": t["activation_bytes"]}
