"""Receptive-field arithmetic, per spatial axis (DESIGN §2).

Coordinates are input pixels, pixel ``i`` spanning ``[i, i+1)``; the input's
units have size 1, jump 1 and the first one is centred at 1/2. Through a window
of effective extent ``k`` (``d*(k-1)+1``), stride ``s`` and left padding ``p``::

    size_out  = size_in + (k - 1) * jump_in
    jump_out  = jump_in * s
    start_out = start_in + ((k - 1)/2 - p) * jump_in

An upsampling axis (transposed conv, upsample) first divides the jump. Where paths
merge, the field is the union of the paths' fields. After upsampling, fields repeat with a
period of several output units; the size is their average and the jump is fractional.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

from .layers.base import Window
from .sym import Dim, is_sym, prod, smax, smin
from .sym import simplify as _simplify


def simplify(x):
    """Sizes stay ints where they are whole; half pixels stay Fractions."""
    x = _simplify(x)
    if isinstance(x, Fraction) and x.denominator == 1:
        return x.numerator
    return x


def _div(a, b):
    if is_sym(a) or is_sym(b):
        return simplify(a / b)
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b
    q = Fraction(a) / Fraction(b)
    return q.numerator if q.denominator == 1 else q


@dataclass(frozen=True)
class AxisRF:
    size: Dim
    jump: Optional[Dim]  # None once every unit sees the whole input (after flatten / global pool)
    start: Dim           # centre of the first unit's field, in input pixels
    exact: bool = True   # False after uneven adaptive pooling: size is then the largest field
    period: int = 1      # after upsampling, fields repeat every `period` units (size is their average)
    # Where every number is known: the field of each unit r < period as (lo, hi) pixel edges
    # (None: the unit sees no input), unit r + t*period shifted by t*period*jump. Exact where
    # the average is not: units that all see the same number of pixels have that size.
    phases: Optional[tuple] = None

    @property
    def effective_padding(self):
        """google-research/receptive_field's effective padding: how far the first unit's
        field reaches left of pixel 0 (``(size-1)/2 - centre`` in 0-based pixel indices); where
        fields repeat with a period, the first unit's own left edge says it exactly; None where
        no unit sees any pixel (no field to reach anywhere)."""
        if sees_nothing(self):
            return None
        if self.phases is not None and self.phases[0] is not None:
            return simplify(-self.phases[0][0])
        return simplify(_div(self.size - 1, 2) - (self.start - Fraction(1, 2)))

    @property
    def is_global(self) -> bool:
        return self.jump is None


def _period(period: int, stride) -> int:
    """A stride of s over fields that repeat every P units: they repeat every P/gcd(P, s)."""
    return period // math.gcd(period, stride) if isinstance(stride, int) else period


def initial(nd: int) -> tuple:
    return tuple(AxisRF(1, 1, Fraction(1, 2)) for _ in range(nd))


MAX_PERIOD = 256


def _numbers(*xs) -> bool:
    return not any(is_sym(x) for x in xs)


def _phases(rf: AxisRF):
    """Per-unit fields over one period, or None where a size is symbolic."""
    if rf.phases is not None:
        return rf.phases
    if rf.period == 1 and _numbers(rf.size, rf.start, rf.jump):
        half, c = Fraction(rf.size) / 2, Fraction(rf.start)
        return ((c - half, c + half),)
    return None


def _hull(phases, jump, units):
    """The field of the given input units together (units that see nothing add nothing)."""
    P, lo, hi = len(phases), None, None
    for v in units:
        t, r = divmod(v, P)
        if phases[r] is not None:
            a, b = phases[r][0] + t * P * jump, phases[r][1] + t * P * jump
            lo, hi = (a, b) if lo is None else (min(lo, a), max(hi, b))
    return None if lo is None else (lo, hi)


def _span(a: int, b: int, P: int, step: int = 1):
    """Units a..b (every ``step``-th: a dilated window skips the units between its taps), as far
    as their hull goes: lo(v + P) = lo(v) + P*jump, so without holes the least lo is among the
    first P units and the largest hi among the last P."""
    if step > 1 or b - a < 2 * P:
        return range(a, b + 1, step)
    return [*range(a, a + P), *range(b - P + 1, b + 1)]


def _union_at(fields):
    """The union of some paths' fields of one unit ((lo, hi), or None: sees nothing)."""
    got = [f for f in fields if f is not None]
    return (min(f[0] for f in got), max(f[1] for f in got)) if got else None


def _from_phases(phases: list, jump, exact: bool) -> Optional[AxisRF]:
    """An AxisRF from per-unit fields: the shortest period, the size (their average, exact
    when they agree) and the start: the centre of the first unit's field (of the first unit
    that sees any input, carried back by the jump)."""
    P = len(phases)
    for p in range(1, P + 1):
        if P % p == 0 and all((x is None and y is None) or (x is not None and y is not None and
                                                              y[0] - x[0] == p * jump and y[1] - x[1] == p * jump)
                              for x, y in zip(phases, phases[p:])):
            break
    phases = tuple(phases[:p])
    seen = [(r, ph) for r, ph in enumerate(phases) if ph is not None]
    if not seen:
        return nothing(simplify(jump))
    size = sum((hi - lo for _, (lo, hi) in seen), Fraction(0)) / len(seen)
    r, (lo, hi) = seen[0]
    start = (lo + hi) / 2 - r * jump
    return AxisRF(size=simplify(size), jump=simplify(jump), start=simplify(start), exact=exact, period=p,
                  phases=phases if p > 1 else None)


def nothing(jump) -> AxisRF:
    """No unit sees any input pixel along this axis (a stride that picks only the gaps between
    a transposed convolution's taps): size 0, and so after every later layer."""
    return AxisRF(size=0, jump=jump, start=Fraction(0), phases=(None,))


def sees_nothing(rf: AxisRF) -> bool:
    return rf.phases is not None and all(p is None for p in rf.phases)


def _blind(axes) -> bool:
    return any(sees_nothing(a) for a in axes)


def _all_or_nothing(axes: tuple) -> tuple:
    """A unit's field is the product of its spans along the axes: empty along one, it holds no
    pixel, and its span along every other axis is empty too."""
    return tuple(a if sees_nothing(a) else nothing(a.jump) for a in axes) if _blind(axes) else axes


def _exact_window(rf: AxisRF, w) -> Optional[AxisRF]:
    """through_window unit by unit, where the numbers allow it (None: use the averages)."""
    phases = _phases(rf)
    if phases is None or not _numbers(w.k, w.s, w.p):
        return None
    P, J = len(phases), Fraction(rf.jump)
    if w.up != 1 or w.taps is not None:  # (an interpolation to the same size has taps and up 1)
        if w.taps is None:
            return None
        A, B = w.lattice
        n = A * (P // math.gcd(P, B))
        if n > MAX_PERIOD:
            return None
        K = 4  # taps are read off interior units (no clamping at the image edge), then shifted back
        taps = [w.taps(r + K * A) for r in range(n)]
        out = [None if t is None else _hull(phases, J, _span(t[0] - K * B, t[1] - K * B, P, w.dilation))
               for t in taps]
        return _from_phases(out, J * B / A, rf.exact and w.exact)
    if not all(isinstance(v, int) for v in (w.k, w.s, w.p, w.dilation)):
        return None
    n = P // math.gcd(P, w.s)
    out = [_hull(phases, J, _span(u * w.s - w.p, u * w.s - w.p + w.k - 1, P, w.dilation)) for u in range(n)]
    return _from_phases(out, J * w.s, rf.exact and w.exact)


def through_window(rf: AxisRF, w) -> AxisRF:
    if rf.is_global:
        return rf
    if sees_nothing(rf):  # a window over units that see nothing sees nothing
        return nothing(simplify(_div(rf.jump, w.up) * w.s))
    if rf.period > 1 or w.up != 1 or w.taps is not None:
        exact = _exact_window(rf, w)
        if exact is not None:
            return exact
    if w.up != 1:
        # Upsampling (transposed conv, interpolation): an output unit reaches k input units
        # on average; its centre sits p units of the finer output grid from input unit 0.
        j = _div(rf.jump, w.up)
        up = w.up if isinstance(w.up, int) else getattr(w.up, "numerator", 1)
        return AxisRF(size=simplify(rf.size + (w.k - 1) * rf.jump), jump=simplify(j * w.s),
                      start=simplify(rf.start + w.p * j), exact=rf.exact and w.exact,
                      period=_period(rf.period * up, w.s))
    j = rf.jump
    return AxisRF(size=simplify(rf.size + (w.k - 1) * j), jump=simplify(j * w.s),
                  start=simplify(rf.start + (_div(w.k - 1, 2) - w.p) * j), exact=rf.exact and w.exact,
                  period=_period(rf.period, w.s))


def through(rfs: tuple, windows: tuple) -> tuple:
    return _all_or_nothing(tuple(through_window(r, w) for r, w in zip(rfs, windows)))


def globalize(rfs: tuple, sizes: tuple) -> tuple:
    """Every output unit sees every input position: the union of all units' fields."""
    out = []
    for r, L in zip(rfs, sizes):
        if r.is_global:
            out.append(r)
        elif sees_nothing(r):
            out.append(nothing(None))
        else:
            out.append(AxisRF(size=simplify(r.size + (L - 1) * r.jump), jump=None,
                              start=simplify(r.start + _div((L - 1) * r.jump, 2)), exact=r.exact))
    return tuple(out)


def union(paths: list, units: Optional[tuple] = None) -> tuple:
    """Field of a unit fed by several paths: from the leftmost to the rightmost reach
    (``units``: how many units the tensor has along each axis, where known)."""
    paths = [p for p in paths if p is not None]
    if not paths:
        return None
    paths = [p for p in paths if not _blind(p)] or paths[:1]  # paths that see nothing add nothing
    if _blind(paths[0]):
        return _all_or_nothing(tuple(paths[0]))
    out = []
    for k, axis in enumerate(zip(*paths)):
        if len(axis) == 1:
            out.append(axis[0])
            continue
        exact = _union_drifting(axis, units[k] if units is not None and k < len(units) else None)
        if exact is None:
            exact = _union_phases(axis)
        if exact is not None:
            out.append(exact)
            continue
        lo = smin(*[simplify(a.start - _div(a.size, 2)) for a in axis])
        hi = smax(*[simplify(a.start + _div(a.size, 2)) for a in axis])
        jumps = [a.jump for a in axis]
        jump = None if any(j is None for j in jumps) else smax(*jumps)
        out.append(AxisRF(size=simplify(hi - lo), jump=jump, start=simplify(_div(lo + hi, 2)),
                          exact=all(a.exact for a in axis), period=math.lcm(*[a.period for a in axis])))
    return tuple(out)


def _union_drifting(axis, n) -> Optional[AxisRF]:
    """Paths whose jumps differ (an align_corners resize beside a skip path): their fields drift
    apart along the axis, so no one size is every unit's. The largest over the tensor's ``n``
    units, marked as a bound, and the first unit's own centre."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or any(a.is_global for a in axis) \
            or not all(_numbers(a.size, a.start, a.jump) for a in axis) or len({Fraction(a.jump) for a in axis}) < 2:
        return None
    fields = []
    for a in axis:
        ph, J = _phases(a), Fraction(a.jump)
        if ph is not None:
            fields.append([_hull(ph, J, (u,)) for u in range(n)])
        else:
            c, half = Fraction(a.start), Fraction(a.size) / 2
            fields.append([(c + u * J - half, c + u * J + half) for u in range(n)])
    per_unit = [_union_at(f[u] for f in fields) for u in range(n)]
    seen = [p for p in per_unit if p is not None]
    if not seen:
        return None
    lo, hi = per_unit[0] if per_unit[0] is not None else seen[0]
    return AxisRF(size=simplify(max(b - a for a, b in seen)), jump=simplify(max(Fraction(a.jump) for a in axis)),
                  start=simplify((lo + hi) / 2), exact=False)


def _union_phases(axis) -> Optional[AxisRF]:
    """The union unit by unit, where some path repeats with a period and all numbers are known."""
    if all(a.period == 1 for a in axis) or any(a.is_global for a in axis):
        return None
    phases = [_phases(a) for a in axis]
    if any(p is None for p in phases) or len({Fraction(a.jump) for a in axis}) != 1:
        return None
    P, J = math.lcm(*[len(p) for p in phases]), Fraction(axis[0].jump)
    if P > MAX_PERIOD:
        return None
    out = [_union_at(_hull(p, J, (u,)) for p in phases) for u in range(P)]
    return _from_phases(out, J, all(a.exact for a in axis))


@dataclass(frozen=True)
class Field:
    """The receptive-field state flowing along an edge: ``axes`` (an :class:`AxisRF` per spatial
    axis of the model input), ``units`` (how many units the tensor has along each of those
    axes) and ``carry`` (for each per-sample dim of the tensor, the input axes it carries:
    ``(C, H, W)`` starts as ``((), (0,), (1,))``; a permute reorders, a flatten merges).
    ``split`` remembers each axis that a reshape split into (outer, inner...) dims since the
    last layer that computes: ``(axis, outer dim, inner dims, field and units before)``, so
    that merging the same dims back restores the field exactly."""

    axes: tuple
    units: tuple
    carry: tuple
    split: tuple = ()

    @classmethod
    def start(cls, shape: tuple) -> "Field":
        nd = len(shape) - 1
        return cls(initial(nd), tuple(shape[1:]), ((),) + tuple((a,) for a in range(nd)))


def _globalize_axes(axes: list, units: tuple, which) -> None:
    for a in which:
        axes[a] = globalize((axes[a],), (units[a],))[0]


def propagate(field: Field, inf, out_shape: tuple) -> Field:
    """The field after one single-input layer, by its dependency rule: windows act on the axes
    their dims carry, ``inf.mixed`` dims (and every dim of a "global" layer) make the axes they
    carry global, ``inf.regroup`` says which input dims each output dim comes from."""
    axes, units = list(field.axes), list(field.units)
    carry = field.carry
    if inf.rf == "window":
        for d, w in enumerate(inf.windows, start=1):
            carried = carry[d] if d < len(carry) else ()
            if len(carried) == 1:
                a = carried[0]
                axes[a] = through_window(axes[a], w)
                units[a] = out_shape[d]
            else:
                _globalize_axes(axes, tuple(units), carried)
    mixed = range(len(carry)) if inf.rf == "global" else inf.mixed
    for d in mixed:
        _globalize_axes(axes, tuple(units), carry[d] if d < len(carry) else ())
    split = _still_split(field.split, inf, mixed, len(carry))
    if inf.regroup is not None:
        carry, regroup, split = _reshape(axes, units, carry, split, inf.regroup, out_shape)
        carry = tuple(tuple(sorted({a for d in group for a in carry[d]})) for group in regroup)
        # a dim that now holds several axes (a map flattened into tokens) has no position along
        # them: its units together see the union of every unit's field, as for a full flatten
        _globalize_axes(axes, tuple(units), [a for c in carry if len(c) > 1 for a in c])
    elif len(out_shape) != len(carry):  # a reshape that does not say how: nothing stays local
        _globalize_axes(axes, tuple(units), [a for c in carry for a in c])
        carry, split = ((),) * len(out_shape), ()
    return Field(_all_or_nothing(tuple(axes)), tuple(units), carry, split)


def _still_split(split: tuple, inf, mixed, nd: int) -> tuple:
    """The splits a layer leaves alone: those whose dims it neither windows nor mixes."""
    touched = set(range(nd)) if inf.rf == "global" else set(mixed)
    if inf.rf == "window":
        touched |= {d for d, w in enumerate(inf.windows, start=1) if (w.k, w.s, w.p, w.up) != (1, 1, 0, 1)}
    return tuple(s for s in split if not {s[1], *s[2]} & touched)


def _reshape(axes: list, units: list, carry: tuple, split: tuple, regroup: tuple, out_shape: tuple) -> tuple:
    """Merges and splits of an axis' dim by a reshape (``axes``/``units`` updated in place);
    returns the carry and regroup to apply (split dims moved to pseudo-dims) and the splits."""
    split = _merge(axes, units, carry, split, regroup, out_shape)
    carry = list(carry)
    for d, axis in enumerate(carry):
        outs = [j for j, g in enumerate(regroup) if d in g]
        if len(axis) != 1 or len(outs) < 2 or any(regroup[j] != (d,) for j in outs):
            continue
        ones = [j for j in outs if out_shape[j] == 1]  # a size-1 dim added next to it: no split
        regroup = tuple(() if j in ones else g for j, g in enumerate(regroup))
        outs = [j for j in outs if j not in ones]
        if len(outs) < 2:
            continue
        # unit u of the outer dim holds the axis' units u*k .. u*k+k-1 (k the inner dims'
        # product); the inner dims are offsets in that patch, positions of no unit (like
        # channels): the outer dim carries the axis through a window of k at stride k
        a, k = axis[0], prod(out_shape[j] for j in outs[1:])
        split = (*split, (a, outs[0], tuple(outs[1:]), axes[a], units[a]))
        axes[a], units[a] = through_window(axes[a], Window(k, k, 0)), out_shape[outs[0]]
        carry[d] = ()
        carry.append(axis)
        regroup = tuple(() if j in outs[1:] else (len(carry) - 1,) if j == outs[0] else g
                        for j, g in enumerate(regroup))
    return tuple(carry), regroup, split


def _merge(axes: list, units: list, carry: tuple, split: tuple, regroup: tuple, out_shape: tuple) -> tuple:
    """An output dim that merges the dim carrying an axis (outer) with dims that carry none
    (inner): the dims a split made, merged back, restore the field before the split; other
    inner dims (channels moved in, as pixel shuffle does) make r units from each one, r their
    product: unit o sees unit o // r, a nearest upsampling. Splits whose dims a permute only
    moves are renumbered; the others are forgotten (their dims have become features)."""
    where = {g[0]: j for j, g in enumerate(regroup) if len(g) == 1}
    kept = []
    for a, outer, inner, rf, n in split:
        if all(d in where for d in (outer, *inner)):
            kept.append((a, where[outer], tuple(where[d] for d in inner), rf, n))
    for j, g in enumerate(regroup):
        if len(g) < 2 or len(carry[g[0]]) != 1 or any(carry[d] for d in g[1:]):
            continue
        a = carry[g[0]][0]
        back = [s for s in split if s[:3] == (a, g[0], g[1:])]
        if back:
            axes[a], units[a] = back[0][3], back[0][4]
            continue
        r = out_shape[j] / units[a] if is_sym(out_shape[j]) or is_sym(units[a]) else Fraction(out_shape[j], units[a])
        if not is_sym(r) and r.denominator == 1 and r != 1:
            r = r.numerator
            axes[a] = through_window(axes[a], Window.repeat(r))
            units[a] = out_shape[j]
    return tuple(kept)
