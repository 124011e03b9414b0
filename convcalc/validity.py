"""Which input sizes a network accepts, and which it tiles exactly (no pixel dropped).

A symbolic analysis collects, per layer, the conditions under which every size is at
least 1 (and linear layers get the features they expect), and the leftover pixels of
every strided window. Here those are turned into answers a user can act on: ranges of
each symbol, the smallest square input, and the sizes tiled exactly as a congruence.

Each distinct condition is solved once. Most are linear in floors of one symbol
(``floor((H - 5)/8) + 1 >= 1``): those are monotone in the symbol, so the sizes they
accept form one interval, found in closed form (one floor) or by bisection (several).
Leftover pixels in that form are periodic in the symbol and are evaluated over one period.
Anything else falls back to testing every size 1..HI.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .sym import exact_lambdify, sp

HI = 4096  # the range searched for sizes


@dataclass(frozen=True)
class Validity:
    """What a symbolic report says about input sizes, already worded (computed once, read by renderers)."""
    lines: tuple = ()   # per symbol "H: >= 63", then "and <condition>" for those coupling several symbols
    tiling: tuple = ()  # per symbol "every stride tiles H exactly when ..."


def summarize(conditions, tiling=()) -> Validity:
    """The facts about input sizes of ``conditions`` and ``tiling`` ((expression, text) pairs)."""
    conds, coupled = _by_symbol(conditions)
    tiles, _ = _by_symbol(tiling)
    accepted = {s: _accepted(s, conds.get(s, [])) for s in set(conds) | set(tiles)}
    lines = [f"{s}: {_ranges(accepted[s])}" for s in sorted(conds, key=str)]
    tile_lines = []
    for s in sorted(accepted, key=str):
        good = _tiler(s, tiles.get(s, []))
        values = [v for v in accepted[s] if good[v]]
        tile_lines.append(f"every stride tiles {s} exactly when {congruence(values, name=str(s))}")
    return Validity(lines=tuple(lines + [f"and {text}" for text in coupled]), tiling=tuple(tile_lines))


def with_validity(report):
    """``report`` with its validity facts in ``meta["validity"]`` when its input is symbolic."""
    if report.symbolic and "validity" not in report.meta:
        report.meta["validity"] = summarize(report.conditions, report.tiling)
    return report


def _validity(report) -> Validity:
    v = report.meta.get("validity")
    return v if v is not None else summarize(report.conditions, report.tiling)


def describe(report) -> list:
    """Human lines: the values each symbol may take (one symbol at a time, the others free)."""
    return list(_validity(report).lines)


def describe_tiling(report) -> list:
    """Per symbol, the values (within those accepted) for which every stride tiles exactly."""
    return list(_validity(report).tiling)


# -- conditions linear in floors of one symbol -----------------------------------------------------
@dataclass(frozen=True)
class _Form:
    """``c0 + c1*x + sum(coef * floor((p*x + r)/q))``, all ints, ``q > 0``: an expression of one symbol
    scaled by a positive integer (which keeps its sign, so its comparisons with 0)."""
    c0: int
    c1: int
    floors: tuple  # (coef, p, r, q)

    def __call__(self, x: int) -> int:
        return self.c0 + self.c1 * x + sum(c * ((p * x + r) // q) for c, p, r, q in self.floors)

    def slopes(self) -> list:
        return [self.c1] + [c * p for c, p, _, _ in self.floors if c]

    def period(self) -> int:
        return math.lcm(*[q for _, _, _, q in self.floors]) if self.floors else 1

    def drift(self, period: int) -> int:
        """``f(x + period) - f(x)``, the same for every x when each ``q`` divides ``period``."""
        return self.c1 * period + sum(c * p * period // q for c, p, _, q in self.floors)


def _frac(n) -> Fraction:
    return Fraction(int(n.p), int(n.q))


def _terms(expr, x, sign, acc) -> bool:
    """Add ``sign * expr`` into ``acc`` = [c0, c1, {(a, b): coef}] (Fractions); False if not of the form."""
    S = sp()
    for t in S.Add.make_args(S.sympify(expr)):
        coef, rest = t.as_coeff_Mul()
        if not coef.is_Rational:
            return False
        c = sign * _frac(coef)
        if rest is S.S.One:
            acc[0] += c
        elif rest == x:
            acc[1] += c
        elif isinstance(rest, S.floor):
            inner = [Fraction(0), Fraction(0), {}]
            if not _terms(rest.args[0], x, 1, inner) or inner[2]:
                return False
            key = (inner[1], inner[0])
            acc[2][key] = acc[2].get(key, 0) + c
        else:
            return False
    return True


def _form(lhs, x, rhs=0) -> "_Form | None":
    """``lhs - rhs`` as a :class:`_Form` in ``x``, or None when it is not linear in floors of ``x``."""
    acc = [Fraction(0), Fraction(0), {}]
    if not (_terms(lhs, x, 1, acc) and _terms(rhs, x, -1, acc)):
        return None
    c0, c1, floors = acc
    fl = []
    for (a, b), c in floors.items():
        if c and a:
            q = math.lcm(a.denominator, b.denominator)
            fl.append((c, int(a * q), int(b * q), q))
        elif c:  # floor of a constant
            c0 += c * math.floor(b)
    scale = math.lcm(c0.denominator, c1.denominator, *[c.denominator for c, _, _, _ in fl])
    return _Form(int(c0 * scale), int(c1 * scale), tuple((int(c * scale), p, r, q) for c, p, r, q in fl))


def _cdiv(a: int, b: int) -> int:
    return -((-a) // b)


def _solve_ge(f: _Form) -> tuple:
    """``{x : f(x) >= 0}`` as ``(lo, hi)`` (either None when unbounded) for at most one floor and no
    linear term beside it, or one linear term alone; None otherwise. Uses floor(u) >= m <=> u >= m."""
    if not f.floors:
        if f.c1 == 0:
            return (None, None) if f.c0 >= 0 else (1, 0)
        return (_cdiv(-f.c0, f.c1), None) if f.c1 > 0 else (None, (-f.c0) // f.c1)
    if f.c1 or len(f.floors) > 1:
        return None
    k, p, r, q = f.floors[0]
    if k > 0:  # floor(u) >= m  <=>  p*x + r >= m*q
        bound = _cdiv(-f.c0, k) * q - r
        return (_cdiv(bound, p), None) if p > 0 else (None, bound // p)
    m = f.c0 // -k  # floor(u) <= m  <=>  p*x + r <= (m+1)*q - 1
    bound = (m + 1) * q - 1 - r
    return (None, bound // p) if p > 0 else (_cdiv(bound, p), None)


def _first(pred, lo: int, hi: int) -> int:
    """The first x in lo..hi where a predicate that never turns back from True holds (hi + 1 if none)."""
    hi += 1
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


_AS_GE = {">=": ((1, 0),), ">": ((1, -1),), "<=": ((-1, 0),), "<": ((-1, -1),), "==": ((1, 0), (-1, 0))}


def _interval(cond, x, hi: int = HI):
    """The sizes 1..hi where ``cond`` holds, as ``(lo, hi)``, when it is a comparison monotone in ``x``
    (linear in floors with slopes of one sign); None otherwise."""
    f = _form(cond.lhs, x, cond.rhs) if getattr(cond, "rel_op", None) in _AS_GE else None
    if f is None:
        return None
    lo_, hi_ = 1, hi
    for sign, shift in _AS_GE[cond.rel_op]:  # f op 0  <=>  sign*f + shift >= 0 (f is integer-valued)
        g = _Form(sign * f.c0 + shift, sign * f.c1, tuple((sign * c, p, r, q) for c, p, r, q in f.floors))
        iv = _solve_ge(g)
        if iv is None:
            slopes = g.slopes()
            if all(s >= 0 for s in slopes):  # nondecreasing: holds from some size on
                iv = (_first(lambda v: g(v) >= 0, lo_, hi_), None)
            elif all(s <= 0 for s in slopes):  # nonincreasing: holds up to some size
                iv = (None, _first(lambda v: g(v) < 0, lo_, hi_) - 1)
            else:
                return None
        lo_ = lo_ if iv[0] is None else max(lo_, iv[0])
        hi_ = hi_ if iv[1] is None else min(hi_, iv[1])
    return lo_, hi_


def _evaluates(ok, v) -> bool:
    try:
        return ok(v)
    except (ValueError, ZeroDivisionError, OverflowError):
        return False


def _accepted(x, conds, hi: int = HI) -> list:
    """The sizes 1..hi of ``x`` where every condition holds; each distinct one is solved once."""
    lo_, hi_, rest = 1, hi, []
    for cond in dict.fromkeys(conds):
        iv = _interval(cond, x, hi)
        if iv is None:
            rest.append(cond)
        else:
            lo_, hi_ = max(lo_, iv[0]), min(hi_, iv[1])
    if not rest or lo_ > hi_:
        return list(range(lo_, hi_ + 1))
    ok = _checker(rest, [x], "conditions")
    return [v for v in range(lo_, hi_ + 1) if _evaluates(ok, v)]


def _tiler(x, lefts, hi: int = HI) -> list:
    """``good[v]`` for v in 0..hi: no real pixel left over by any stride at size v (each distinct
    expression once; one in floors of ``x`` with no drift is evaluated over one period)."""
    good = [True] * (hi + 1)
    rest = []
    for left in dict.fromkeys(lefts):
        f = _form(left, x)
        if f is None:
            rest.append(left)
            continue
        period = f.period()
        if f.drift(period) == 0 and period <= hi:
            cycle = [f(v) <= 0 for v in range(1, period + 1)]
            table = [True] + cycle * (hi // period + 1)
        else:
            table = [True] + [f(v) <= 0 for v in range(1, hi + 1)]
        good = [a and b for a, b in zip(good, table)]
    if rest:
        ok = _checker(rest, [x], "tiling")
        good = [g and (v == 0 or _evaluates(ok, v)) for v, g in enumerate(good)]
    return good


# -- testing every size (conditions of any other form) ----------------------------------------------
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
