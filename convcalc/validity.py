"""Which input sizes a network accepts, and which it tiles exactly (no pixel dropped).

A symbolic analysis collects, per layer, the conditions under which every size is at
least 1 (and linear layers get the features they expect), and the leftover pixels of
every strided window. Here those are turned into answers a user can act on: ranges of
each symbol, the smallest square input, and the sizes tiled exactly as a congruence.
"""
from __future__ import annotations


from .errors import ConvcalcError
from .sym import dims, exact_lambdify

HI = 4096  # the range searched for sizes


def _checker(exprs, symbols, kind):
    """A fast predicate over integer values of ``symbols`` (sympy's lambdify, math module)."""
    if not exprs:
        return lambda *v: True
    f = exact_lambdify(symbols, list(exprs))
    if kind == "conditions":
        return lambda *v: all(bool(x) for x in f(*v))
    return lambda *v: all(x <= 0 for x in f(*v))  # tiling: no real pixel left over


def _ranges(values: list) -> str:
    if not values:
        return "no size"
    runs, start, prev = [], values[0], values[0]
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append((start, prev))
        if v is not None:
            start = prev = v
    parts = []
    for a, b in runs[:6]:
        if b == HI:
            parts.append(f">= {a}")
        else:
            parts.append(f"{a}..{b}" if b > a else f"{a}")
    more = "" if len(runs) <= 6 else f" (+{len(runs) - 6} more ranges)"
    return ", ".join(parts) + more


def congruence(values: list, hi: int = HI, name: str = "n") -> str:
    """The set as residues modulo its period (``n = 12 (mod 16), n >= 188: 188, 204, ...`` or
    ``n mod 32 in {1, 2, 3, 4}, n >= 1: ...``); the first values when it has no period."""
    if not values:
        return "none"
    first = ", ".join(str(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
    if len(values) == 1:
        return f"only {values[0]}"
    members, start = set(values), values[0]
    for m in range(1, 257):
        if all((v in members) == (v - m in members) for v in range(start + m, hi + 1)):
            break
    else:
        return first
    residues = sorted({v % m for v in values})
    if m == 1:
        return f"every {name} >= {start}"
    if len(residues) == 1:
        return f"{name} = {residues[0]} (mod {m}), {name} >= {start}: {first}"
    return f"{name} mod {m} in {{{', '.join(map(str, residues))}}}, {name} >= {start}: {first}"


def _by_symbol(pairs):
    """Expressions of exactly one symbol grouped by it, and the texts of those with several."""
    single, coupled = {}, []
    for expr, text in pairs:
        syms = list(getattr(expr, "free_symbols", ()))
        if len(syms) == 1:
            single.setdefault(syms[0], []).append(expr)
        elif syms and text not in coupled:
            coupled.append(text)
    return single, coupled


def describe(report) -> list:
    """Human lines: the values each symbol may take (one symbol at a time, the others free)."""
    by_symbol, coupled = _by_symbol(report.conditions)
    lines = []
    for sym, conds in sorted(by_symbol.items(), key=lambda kv: str(kv[0])):
        ok = _checker(conds, [sym], "conditions")
        values = [n for n in range(1, HI + 1) if ok(n)]
        lines.append(f"{sym}: {_ranges(values)}")
    return lines + [f"and {text}" for text in coupled]


def square_sizes(model, exact: bool = False, hi: int = HI) -> list:
    """Every square spatial size n in 1..hi the network accepts (all spatial axes = n, channels as
    its default input); with ``exact``, only those where every strided window tiles its input."""
    from .analyze import analyze

    base = tuple(getattr(model, "input", ()) or ())
    if len(base) < 2:
        raise ConvcalcError("the model has no spatial input to solve for")
    (n,) = dims("n") if isinstance(dims("n"), tuple) else (dims("n"),)
    report = analyze(model, (base[0],) + (n,) * (len(base) - 1))
    ok = _checker([c for c, _ in report.conditions], [n], "conditions")
    tiles = _checker([t for t, _ in report.tiling], [n], "tiling") if exact else (lambda v: True)
    out = []
    for v in range(1, hi + 1):
        try:
            if ok(v) and tiles(v):
                out.append(v)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
    return out


def confirm(model, size: int, exact: bool) -> bool:
    """The numeric engine agrees at ``size`` (accepts it; with ``exact``, warns of no dropped pixel)."""
    from .analyze import analyze

    base = tuple(model.input)
    try:
        r = analyze(model, (base[0],) + (size,) * (len(base) - 1))
    except ConvcalcError:
        return False
    return not (exact and any("does not tile" in w for w in r.warnings))


def describe_tiling(report) -> list:
    """Per symbol, the values (within those accepted) for which every stride tiles exactly."""
    tiling, _ = _by_symbol(report.tiling)
    conds, _ = _by_symbol(report.conditions)
    lines = []
    for sym in sorted(set(tiling) | set(conds), key=str):
        ok = _checker(conds.get(sym, []), [sym], "conditions")
        tiles = _checker(tiling.get(sym, []), [sym], "tiling")
        values = [v for v in range(1, HI + 1) if ok(v) and tiles(v)]
        lines.append(f"every stride tiles {sym} exactly when {congruence(values, name=str(sym))}")
    return lines
