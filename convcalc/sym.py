"""Sizes that are plain ints or sympy expressions, through one code path.

Every size in the engine is a ``Dim``: a Python ``int`` for numeric inputs, a
sympy expression once a symbol (``H``, ``W``, ``N``) appears. sympy is imported
lazily, the first time a non-int is seen, so ``convcalc alexnet`` never pays
for it.

The windowed output-size formula used by convolution and pooling alike lives
here, in :func:`window_out`, and nowhere else.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable, Union

Dim = Union[int, Any]  # int | sympy.Expr

_sympy = None


def sp():
    """The sympy module, imported on first use."""
    global _sympy
    if _sympy is None:
        import sympy

        _sympy = sympy
    return _sympy


def is_sym(x) -> bool:
    """True when ``x`` is a sympy object with free symbols (not a plain number)."""
    if isinstance(x, (int, Fraction)):
        return False
    try:
        return _IS_SYM[x]
    except KeyError:
        out = _IS_SYM[x] = bool(getattr(x, "free_symbols", None))  # sympy walks the whole tree for it
        return out
    except TypeError:  # unhashable
        return bool(getattr(x, "free_symbols", None))


# Memos of pure functions of sympy expressions (which are immutable): a network repeats the same
# shapes layer after layer, and sympy's own cache does not cover free_symbols or our floor folding.
_IS_SYM: dict = {}
_MEMO: dict = {}


def _memo(fn):
    """``fn`` remembered by its arguments, for the symbolic path (numbers are cheap to redo)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args):
        key = (fn.__name__,) + args
        try:
            return _MEMO[key]
        except KeyError:
            out = _MEMO[key] = fn(*args)
            return out
        except TypeError:  # unhashable argument
            return fn(*args)

    return wrapper


def norm(x):
    """Turn a sympy number back into an int/Fraction; leave everything else alone."""
    if isinstance(x, (int, Fraction)) or x is None:
        return x
    if getattr(x, "is_Integer", False):
        return int(x)
    if getattr(x, "is_Rational", False):
        return Fraction(int(x.p), int(x.q))
    return x


def dims(names: str):
    """Positive integer symbols, e.g. ``H, W = dims("H W")``."""
    out = sp().symbols(names, integer=True, positive=True)
    return out


def _split_floor(expr):
    """Write ``expr`` as ``floor(u) + rest`` with ``rest`` integer-valued, or None."""
    S = sp()
    terms = S.Add.make_args(expr)
    floors = [t for t in terms if isinstance(t, S.floor)]
    if len(floors) != 1:
        return None
    rest = S.Add(*[t for t in terms if t is not floors[0]])
    if rest.is_integer:
        return floors[0].args[0], rest
    return None


def _flat(expr) -> bool:
    """A sum of rational multiples of 1, integer symbols and floors/ceilings of such sums: the shape
    of every size in a network of numeric layers, which ``expand`` leaves as it is."""
    S = sp()
    for t in S.Add.make_args(expr):
        c, m = t.as_coeff_Mul()
        if not c.is_Rational:
            return False
        if m is S.S.One or (m.is_Symbol and m.is_integer):
            continue
        if not (isinstance(m, (S.floor, S.ceiling)) and _flat(m.args[0])):
            return False
    return True


def _fold_floor(a):
    """``u + rest`` when flat ``a`` is ``floor(u) + rest`` with ``rest`` integer-valued, else ``a``
    (what :func:`_split_floor` finds, read off the coefficients instead of asking sympy)."""
    S = sp()
    terms = S.Add.make_args(a)
    floors = [t for t in terms if isinstance(t, S.floor)]
    if len(floors) != 1:
        return a
    rest = [t for t in terms if t is not floors[0]]
    if not all(t.as_coeff_Mul()[0].is_Integer for t in rest):
        return a
    return floors[0].args[0] + S.Add(*rest)


def _floor_of_flat(arg):
    """``floor(arg)`` for a flat ``arg``, as sympy evaluates it (integer terms taken out, a rational
    constant taken out when nothing symbolic is left, the rest kept in one floor), without the
    assumption queries that make sympy's own evaluation slow."""
    S = sp()
    ipart, spart, const = [], [], S.S.Zero
    for t in S.Add.make_args(arg):
        c, m = t.as_coeff_Mul()
        if m is S.S.One:
            const = c
        elif c.is_Integer:
            ipart.append(t)
        else:
            spart.append(t)
    if not spart:
        return S.Add(*ipart, S.Integer(math.floor(Fraction(int(const.p), int(const.q)))))
    if const.is_Integer:
        return S.Add(*ipart, const, S.floor(S.Add(*spart), evaluate=False))
    return S.Add(*ipart, S.floor(S.Add(*spart, const), evaluate=False))


def floordiv(a: Dim, b: Dim) -> Dim:
    """``floor(a / b)`` for positive ``b``.

    With symbols, nested floors are folded with the identity
    ``floor((floor(u) + n) / c) = floor((u + n) / c)`` (``n`` integer, ``c`` a
    positive integer), so a chain of stride-2 layers reads ``floor((H - 1)/32) + 1``
    instead of a tower of floors five deep.
    """
    if not is_sym(a) and not is_sym(b):
        a, b = norm(a), norm(b)
        if isinstance(a, int) and isinstance(b, int):
            return a // b
        return int((Fraction(a) / Fraction(b)).__floor__())
    return _sym_floordiv(a, b)


@_memo
def _sym_floordiv(a, b):
    S = sp()
    a, b = S.sympify(a), S.sympify(b)
    if b.is_Integer and b > 0 and _flat(a):
        return norm(_floor_of_flat(_fold_floor(a) / b))
    split = _split_floor(S.expand(a)) if a.has(S.floor) else None
    if split is not None and b.is_integer and b.is_positive:
        u, rest = split
        return norm(S.floor(S.expand((u + rest) / b)))
    return norm(S.floor(S.expand(a / b)))


def ceildiv(a: Dim, b: Dim) -> Dim:
    """``ceil(a / b)`` for integer-valued ``a`` and positive integer ``b``."""
    return floordiv(a + b - 1, b)


def smax(*xs: Dim) -> Dim:
    """``max`` that also works on symbols (Python's ``max`` raises on a relational)."""
    if not any(is_sym(x) for x in xs):
        return max(xs)
    return norm(sp().Max(*xs))


def smin(*xs: Dim) -> Dim:
    if not any(is_sym(x) for x in xs):
        return min(xs)
    return norm(sp().Min(*xs))


def prod(xs: Iterable[Dim]) -> Dim:
    xs = tuple(xs)
    if any(is_sym(x) for x in xs):
        return _sym_prod(xs)
    out: Dim = 1
    for x in xs:
        out = out * x
    return out


@_memo
def _sym_prod(xs: tuple) -> Dim:
    out: Dim = 1
    for x in xs:
        out = out * x
    return norm(out)


def total(values: Iterable[Dim]) -> Dim:
    """The sum of many sizes: plain ``sum`` when none is symbolic (sympy is not imported), else one
    sympy ``Add`` of them all (adding terms one at a time re-sorts the growing sum every time)."""
    values = list(values)
    if not any(is_sym(v) for v in values):
        return simplify(sum(values, 0))
    return simplify(sp().Add(*values))


def simplify(x: Dim) -> Dim:
    """Canonical form: sympy's own automatic simplification, kept factored (expanding products
    of floors makes expressions long and slow), numbers back to ints."""
    if not is_sym(x):
        return norm(x) if not isinstance(x, (int, Fraction)) else x
    return norm(x)


def exact_lambdify(symbols, exprs):
    """A fast evaluator of ``exprs`` at integer points, in exact rational arithmetic (sympy's
    lambdify works in floats, where floor(-6/3 + 4/3 + 2/3) can come out as -1)."""
    import math

    from sympy.printing.pycode import PythonCodePrinter

    class _Exact(PythonCodePrinter):
        def _print_Rational(self, e):
            return f"Fraction({e.p}, {e.q})"

        def _print_Half(self, e):
            return "Fraction(1, 2)"

    env = {"Fraction": Fraction, "math": math, "floor": math.floor, "ceiling": math.ceil, "Min": min, "Max": max}
    f = sp().lambdify(symbols, exprs, modules=[env, "math"], printer=_Exact)
    return lambda *values: f(*[Fraction(v) for v in values])


def at_least(value: Dim, bound: Dim):
    """``value >= bound`` as sympy decides it (True, False, or the relation left standing), quickly:
    two sizes at which it holds and fails prove that no decision exists, without sympy's search for
    one (milliseconds per comparison, the bulk of a long symbolic chain)."""
    if not is_sym(value) and not is_sym(bound):
        return value >= bound
    return _sym_at_least(value, bound)


_PROBES = (1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 256, 1024, 4096, 1 << 16, 1 << 24, 1 << 40)


@_memo
def _sym_at_least(value, bound):
    S = sp()
    if not is_sym(bound) and _flat(value) and all(x.is_positive for x in value.free_symbols):
        bound, seen = Fraction(norm(S.sympify(bound))), set()
        for v in _PROBES:  # every symbol at the same size: sizes the symbols may all take
            seen.add(_value_of_flat(value, v) >= bound)
            if len(seen) == 2:
                return S.GreaterThan(value, S.Rational(bound.numerator, bound.denominator), evaluate=False)
        if seen == {True} and _floor_of_rising_line(value, bound):
            return S.true
    return value >= bound


def _floor_of_rising_line(value, bound: Fraction) -> bool:
    """True when ``value >= bound`` reads ``floor(a*S + b) + c >= c`` with ``a > 0`` and ``a + b >= 0``
    for one positive integer ``S``: true at ``S = 1``, so everywhere, and what sympy decides (from
    the smallest value of ``S``) after milliseconds of assumption queries."""
    S = sp()
    floors, rest = [], S.S.Zero
    for t in S.Add.make_args(value):
        if isinstance(t, S.floor):
            floors.append(t)
        elif t.is_Rational:
            rest = t
        else:
            return False
    if len(floors) != 1 or Fraction(int(rest.p), int(rest.q)) != bound:
        return False
    slope, const = None, Fraction(0)
    for t in S.Add.make_args(floors[0].args[0]):
        c, m = t.as_coeff_Mul()
        if m is S.S.One:
            const = Fraction(int(c.p), int(c.q))
        elif m.is_Symbol and slope is None and c.is_Rational and c > 0:
            slope = Fraction(int(c.p), int(c.q))
        else:
            return False
    return slope is not None and slope + const >= 0


def _value_of_flat(expr, v: int) -> Fraction:
    """A flat expression (see :func:`_flat`) with every symbol set to ``v``, exactly."""
    S = sp()
    total = Fraction(0)
    for t in S.Add.make_args(expr):
        c, m = t.as_coeff_Mul()
        c = Fraction(int(c.p), int(c.q))
        if m is S.S.One:
            total += c
        elif m.is_Symbol:
            total += c * v
        else:
            inner = _value_of_flat(m.args[0], v)
            total += c * (math.floor(inner) if isinstance(m, S.floor) else math.ceil(inner))
    return total


def resolve(cond, default: bool) -> bool:
    """Decide a condition that may be symbolic; ``default`` when it cannot be decided."""
    if isinstance(cond, bool):
        return cond
    S = sp()
    if cond is S.true:
        return True
    if cond is S.false:
        return False
    return default


def window_out(L: Dim, k: Dim, s: Dim = 1, p_lo: Dim = 0, p_hi: Dim = 0, d: Dim = 1,
               ceil_mode: bool = False) -> Dim:
    """Number of windows along one axis: THE output-size formula.

    ``floor((L + p_lo + p_hi - d*(k-1) - 1) / s) + 1``, or with ``ceil_mode`` the
    ceiling, dropping a last window that would start in the right padding
    (PyTorch's rule: a window must start inside the input or the left padding).
    """
    if any(is_sym(v) for v in (L, k, s, p_lo, p_hi, d)):
        return _sym_window_out(L, k, s, p_lo, p_hi, d, ceil_mode)
    return _window_out(L, k, s, p_lo, p_hi, d, ceil_mode)


def _window_out(L, k, s, p_lo, p_hi, d, ceil_mode):
    span = L + p_lo + p_hi - d * (k - 1) - 1
    if not ceil_mode:
        return simplify(floordiv(span, s) + 1)
    # ceil_mode: window t starts at t*s - p_lo; PyTorch keeps the windows up to ceil(span/s)
    # whose start lies inside the input or the left padding (t*s <= L + p_lo - 1).
    # Both bounds are floor((x + c)/s) of the same x: compare the constants, not the floors.
    gap = simplify((span + s - 1) - (L + p_lo - 1))
    if not is_sym(gap):
        return simplify((ceildiv(span, s) if gap <= 0 else floordiv(L + p_lo - 1, s)) + 1)
    return simplify(smin(ceildiv(span, s), floordiv(L + p_lo - 1, s)) + 1)


_sym_window_out = _memo(_window_out)


def leftover(L: Dim, k: Dim, s: Dim = 1, p_lo: Dim = 0, p_hi: Dim = 0, d: Dim = 1) -> Dim:
    """Pixels at the end of the padded input that no window covers (the real pixels among them
    are those beyond the right padding ``p_hi``)."""
    if any(is_sym(v) for v in (L, k, s, p_lo, p_hi, d)):
        return _sym_leftover(L, k, s, p_lo, p_hi, d)
    return _leftover(L, k, s, p_lo, p_hi, d)


def _leftover(L, k, s, p_lo, p_hi, d):
    span = L + p_lo + p_hi - d * (k - 1) - 1
    return simplify(span - s * floordiv(span, s))


_sym_leftover = _memo(_leftover)


def fmt(x) -> str:
    """Human text for a Dim: ints as they are, expressions in sympy syntax with each floor's
    argument over one denominator (``floor((H - 1)/32) + 1``, not ``floor(H/32 - 1/32) + 1``)."""
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return str(x.numerator)
        # halves, quarters, ... read well as decimals (exactly: 653/32 is 20.40625, never a
        # rounded 20.4062); thirds and sevenths, and long binary fractions, as fractions
        d = x.denominator
        if d & (d - 1) == 0 and d <= 1 << 12:
            from decimal import Decimal, localcontext

            with localcontext() as ctx:
                ctx.prec = 60
                return format(Decimal(x.numerator) / Decimal(d), "f")
        return f"{x.numerator}/{d}"
    if is_sym(x):
        text = _FMT_CACHE.get(x)
        if text is None:
            text = _FMT_CACHE[x] = _printer().doprint(x)
        return text
    return str(x)


_FMT_CACHE: dict = {}


def over_one_denominator(arg):
    """``(numerator, denominator)`` of a sum with rational coefficients, cheaply (no ``together``)."""
    import math as _m

    S = sp()
    terms = S.Add.make_args(arg)
    den = 1
    for t in terms:
        c = t.as_coeff_Mul()[0]
        if c.is_Rational:
            den = den * int(c.q) // _m.gcd(den, int(c.q))
    if den == 1:
        return arg, S.Integer(1)
    return S.Add(*[t * den for t in terms]), S.Integer(den)


_PRINTER = None


def _printer():
    global _PRINTER
    if _PRINTER is None:
        from sympy.printing.str import StrPrinter

        class Printer(StrPrinter):
            def _rounding(self, name, expr):
                num, den = over_one_denominator(expr.args[0])
                if den == 1:
                    return f"{name}({self._print(num)})"
                inner = self._print(num)
                return f"{name}({inner}/{self._print(den)})" if num.is_Atom else f"{name}(({inner})/{self._print(den)})"

            def _print_Add(self, expr, order=None):
                # sums recur as factors of many products (C*(floor(...) + 1)**2): sort their terms once
                key = (expr, order)
                text = self._add_cache.get(key)
                if text is None:
                    text = self._add_cache[key] = super()._print_Add(expr, order)
                return text

            def _print_floor(self, expr):
                return self._rounding("floor", expr)

            def _print_ceiling(self, expr):
                return self._rounding("ceiling", expr)

        _PRINTER = Printer()
        _PRINTER._add_cache = {}
    return _PRINTER
