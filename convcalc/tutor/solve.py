"""Solving backwards: which value of one hyper-parameter gives the output you want.

Every candidate in a sane range is run through the engine itself (the layer's own ``infer``,
as the table does), so a solution is exactly what convcalc would compute forward.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..analyze import analyze
from ..errors import ConvcalcError
from ..sym import dims
from ..validity import HI, _accepted, _tiler

RANGES = {  # the "sane range" searched for each unknown
    "padding": (0, 64), "stride": (1, 64), "kernel_size": (1, 64), "dilation": (1, 64),
    "output_padding": (0, 63), "input": (1, 4096), "out_channels": (1, 1 << 16), "out_features": (1, 1 << 16),
}
ALIASES = {"p": "padding", "pad": "padding", "s": "stride", "k": "kernel_size", "kernel": "kernel_size",
           "d": "dilation", "op": "output_padding", "input_size": "input", "size": "input",
           "out": "out_channels", "channels": "out_channels", "filters": "out_channels"}


@dataclass
class Solution:
    find: str
    values: list          # every value in range that works
    searched: tuple       # (lo, hi)
    why: str = ""         # when there is none: what the nearest candidates give


def _spatial(shape):
    return tuple(shape[1:])


def _outcomes(cls, kwargs: dict, input_shape: tuple, find: str, lo: int, hi: int):
    """(value, output shape, params) for every candidate value that gives a valid layer: the layer
    built with the candidate (or, for ``input``, the input resized to it) and run through ``infer``."""
    nd = len(input_shape) - 1
    fixed = None
    if find == "input":  # one layer, every input size
        try:
            fixed = cls(**kwargs)
        except (ConvcalcError, TypeError):
            return
    for v in range(lo, hi + 1):
        shape = (input_shape[0],) + (v,) * nd if find == "input" else tuple(input_shape)
        if any(not isinstance(d, int) or d < 1 for d in shape):
            continue  # as analyze: input sizes are positive integers
        try:
            inf = (fixed if fixed is not None else cls(**{**kwargs, find: v})).infer(shape)
        except (ConvcalcError, TypeError):
            continue
        yield v, tuple(inf.shape), inf.params


def _budget_search(cls, kwargs: dict, input_shape: tuple, find: str, lo: int, hi: int, params: int):
    """(value, output, params) rows the budget answer needs: the largest valid value whose layer has
    at most ``params`` parameters, and the next valid value above it. Parameters grow with the
    output channels or features, so the largest fitting value is found by halving (about 16 layers
    through the engine instead of up to 65,536); values the layer refuses (channels that the groups
    do not divide) are stepped over to the next valid one."""
    cache = {}

    def first_valid(v):  # (value, output, params) of the first valid value >= v, or None
        while v <= hi:
            if v not in cache:
                cache[v] = next(_outcomes(cls, kwargs, input_shape, find, v, v), None)
            if cache[v] is not None:
                return cache[v]
            v += 1
        return None

    def fits(v):
        row = first_valid(v)
        return row is not None and row[2] <= params

    if not fits(lo):
        row = first_valid(lo)
        return [row] if row is not None else []
    a, b = lo, hi  # fits(a); find the largest such a
    while a < b:
        m = (a + b + 1) // 2
        a, b = (m, b) if fits(m) else (a, m - 1)
    best = first_valid(a)
    above = first_valid(best[0] + 1)
    return [best] + ([above] if above is not None else [])


def _nearest(find, seen, want, lo, hi, params) -> str:
    """Why no value gives ``want``: the nearest outputs below and above it."""
    below = [(v, g) for v, g, _ in seen if tuple(g) < want]
    above = [(v, g) for v, g, _ in seen if tuple(g) > want]
    parts = []
    if below:
        v, g = max(below, key=lambda t: t[1])
        parts.append(f"{find} {v} gives {'x'.join(map(str, g))}")
    if above:
        v, g = min(above, key=lambda t: t[1])
        parts.append(f"{find} {v} gives {'x'.join(map(str, g))}")
    target = "x".join(map(str, want))
    why = f"no {find} in {lo}..{hi} gives {target}" + (": the nearest are " + " and " .join(parts) if parts else "")
    if params is not None:
        why += f" (and {params:,} parameters)"
    return why


def _budget(find, seen, good, lo, hi, params) -> Solution:
    """Out of a parameter budget: every value with exactly that many parameters, else the largest that fits."""
    best = max(good)
    exact = [v for v, _, p in seen if p == params]
    if not exact and best == hi:
        return Solution(find, [], (lo, hi), f"even {hi:,} {find} (the search limit) use fewer than "
                                            f"{params:,} parameters")
    return Solution(find, exact or [best], (lo, hi),
                    "" if exact else f"no value uses exactly {params:,} parameters; the largest that fits is "
                                     f"{best} ({next(p for v, _, p in seen if v == best):,} parameters)")


def solve_layer(cls, kwargs: dict, input_shape: tuple, find: str, output=None, params=None) -> Solution:
    """``find`` one of RANGES' keys; ``output`` the wanted output (spatial sizes, or a full shape
    with channels); ``params`` a parameter budget (with ``find='out_channels'``: the largest that fits,
    or every value with exactly that many parameters when ``output`` is not given)."""
    find = ALIASES.get(find, find)
    if find not in RANGES:
        raise ConvcalcError(f"cannot solve for {find!r}: expected one of {', '.join(RANGES)}")
    if output is None and params is None:
        raise ConvcalcError("give the target: --output SIZE or --params N")
    lo, hi = RANGES[find]
    budget = find in ("out_channels", "out_features") and params is not None
    if budget:
        hi = max(1, min(hi, params))
    want = tuple(output) if output is not None else None
    seen = []  # (value, outcome, params) for the explanation
    good = []
    rows = (_budget_search(cls, kwargs, input_shape, find, lo, hi, params) if budget and output is None
            else _outcomes(cls, kwargs, input_shape, find, lo, hi))
    for v, out, n_params in rows:
        got = out if (want is not None and len(want) == len(out)) else _spatial(out)
        if budget and output is None:
            match = n_params <= params
        else:
            match = (want is None or tuple(got) == want) and (params is None or n_params == params)
        seen.append((v, got, n_params))
        if match:
            good.append(v)
    if budget and output is None and good:
        return _budget(find, seen, good, lo, hi, params)
    why = ""
    if not good:
        if not seen:
            why = f"no {find} in {lo}..{hi} gives a valid layer on this input"
        elif want is not None:
            why = _nearest(find, seen, want, lo, hi, params)
        elif budget:  # the cheapest valid layer is already over the budget
            v, _, n_params = seen[0]
            why = (f"no {find} fits in {params:,} parameters: the smallest that gives a valid layer, {v}, "
                   f"has {n_params:,}")
    return Solution(find, good, (lo, hi), why)


#: square sides tried with the numeric engine before the symbolic search (which imports sympy)
QUICK_SIDES = 16


def min_input(model) -> int:
    """The smallest square side the numeric engine accepts. Most networks accept a small one: the
    first QUICK_SIDES sides are tried numerically (a few milliseconds each, no sympy); beyond them
    the symbolic conditions list the candidates, each confirmed numerically."""
    if len(tuple(getattr(model, "input", ()) or ())) >= 2:
        for n in range(1, QUICK_SIDES + 1):
            if confirm(model, n, False):
                return n
    sizes = square_sizes(model)
    for n in sizes:
        if confirm(model, n, False):
            return n
    raise ConvcalcError(f"{getattr(model, 'name', 'the model')} accepts no square input up to 4096")


def exact_inputs(model) -> list:
    """Square sizes tiled exactly by every stride, read off the symbolic conditions; the first
    few are confirmed by the numeric engine."""

    sizes = square_sizes(model, exact=True)
    for n in sizes[:8]:
        if not confirm(model, n, True):
            raise ConvcalcError(f"internal disagreement at {n}: the symbolic tiling conditions and the numeric "
                                "engine differ; please report it")
    return sizes


def square_sizes(model, exact: bool = False, hi: int = HI) -> list:
    """Every square spatial size n in 1..hi the network accepts (all spatial axes = n, channels as
    its default input); with ``exact``, only those where every strided window tiles its input."""
    base = tuple(getattr(model, "input", ()) or ())
    if len(base) < 2:
        raise ConvcalcError("the model has no spatial input to solve for")
    (n,) = dims("n") if isinstance(dims("n"), tuple) else (dims("n"),)
    report = analyze(model, (base[0],) + (n,) * (len(base) - 1))
    values = _accepted(n, [c for c, _ in report.conditions], hi)
    if not exact:
        return values
    good = _tiler(n, [t for t, _ in report.tiling], hi)
    return [v for v in values if good[v]]


def confirm(model, size: int, exact: bool) -> bool:
    """The numeric engine agrees at ``size`` (accepts it; with ``exact``, warns of no dropped pixel)."""
    base = tuple(model.input)
    try:
        r = analyze(model, (base[0],) + (size,) * (len(base) - 1))
    except ConvcalcError:
        return False
    return not (exact and any("does not tile" in w for w in r.warnings))
