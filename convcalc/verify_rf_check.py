"""verify's receptive-field check: the engine's field of each unit against the one measured by
execution (:mod:`convcalc.verify_rf`), clipped where the layer's inputs see no further."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .rf import sees_nothing
from .verify_rf import Check


def rf_check(row_rf, fields, in_sizes, out_shape, in_fields=None) -> Check:
    """Compare the engine's field of each input axis with the measured one, along whichever
    dim carries the axis now (channels-last layouts, permuted axes). An axis that no dim
    carries alone, or a tensor of features only (one dim per sample), is one span for every
    unit: a unit is a position, and features are not positions. ``in_fields``: the fields of
    the layer's inputs (what they see bounds what its units can)."""
    if fields is None or any(f is None for f in fields):
        return Check(None, "", "not measurable", "unmeasured")
    fields = [f.flat() for f in fields]
    axes = []
    for k, f in enumerate(fields[:len(row_rf)]):
        shared = sum(g.dim is not None and g.dim == f.dim for g in fields)
        if f.dim is None or len(out_shape) == 1 or shared > 1:
            # every unit sees the same span: compare at the unit the engine centres mid-image
            arf = row_rf[k]
            mid = 0 if arf.is_global else (Fraction(in_sizes[k], 2) - Fraction(arf.start)) / Fraction(arf.jump)
            n = 2 * max(0, int(mid)) + 2
            if f.was is not None and f.was < len(out_shape):  # units past the tensor's own do not exist
                n = min(n, out_shape[f.was])
            f = f.spread()
            axes.append((np.repeat(f.lo, n), np.repeat(f.hi, n)) + _seen_span(in_fields, k, in_sizes[k]) + (False,))
        else:
            axes.append((f.lo, f.hi) + _seen_span(in_fields, k, in_sizes[k]) + (True,))
    return _compare(row_rf, axes)


def _extent(lo, hi, u):
    return (int(lo[u]), int(hi[u])) if lo[u] <= hi[u] else None


def _seen_span(in_fields, k, L0):
    """The first and last pixel of input axis ``k`` that any unit of the layer's inputs sees:
    the layer's units see nothing past them (the whole axis where that is not known)."""
    spans = [f[k].flat().spread() for f in in_fields or () if f is not None and f[k] is not None]
    spans = [(int(f.lo[0]), int(f.hi[0])) for f in spans if f.lo[0] <= f.hi[0]]
    if not spans:
        return 0, L0 - 1
    return max(0, min(a for a, _ in spans)), min(L0 - 1, max(b for _, b in spans))


def _num(x):
    x = Fraction(x)
    return x.numerator if x.denominator == 1 else float(x)


def _compare(row_rf, axes) -> Check:
    """Where the jump is a whole number of pixels the check is exact: the field of an interior
    unit (clipped) and its shift to the next unit. After upsampling (a fractional jump) fields
    repeat with a period of q units: where the engine gives each unit's field (whole pixels),
    every unit is held to its own; else its average size must lie within the measured sizes
    (less one: units that gather fewer inputs), and q units must shift by q * jump pixels.

    axes: per input axis (lo, hi, first, last, per_unit): the measured field of each unit (or,
    not per_unit, one span repeated), and the first and last pixel the layer's inputs see. A
    field is clipped where it passes those: the image's border, or where an earlier stride
    that does not tile dropped the last pixels (no unit sees them again, so the engine's
    border-free field cannot be measured there)."""
    notes, ok, claimed, measured = [], True, [], []

    def bounds(arf, v):
        c = Fraction(arf.start) + (0 if arf.is_global else v * Fraction(arf.jump))
        return c - Fraction(arf.size) / 2, c + Fraction(arf.size) / 2 - 1

    def nothing_axis(arf, lo, hi, first, last, _):  # a unit that sees only padding along one axis sees nothing
        a, b = bounds(arf, len(lo) // 2)
        return max(a, first) > min(b, last) or ((a < first or b > last) and _extent(lo, hi, len(lo) // 2) is None)

    nothing = any(nothing_axis(arf, *axis) for arf, axis in zip(row_rf, axes))
    for arf, (lo, hi, first, last, per_unit) in zip(row_rf, axes):
        n, u = len(lo), len(lo) // 2
        if sees_nothing(arf):  # the engine says no unit sees any input pixel along this axis
            claimed.append("no input")
            reached = [e for e in (_extent(lo, hi, v) for v in range(n)) if e is not None]
            measured.append("no input" if not reached else f"[{reached[0][0]}, {reached[0][1]}] and more")
            ok &= not reached
            continue
        size, jump = Fraction(arf.size), None if arf.is_global else Fraction(arf.jump)
        lo_e, hi_e = bounds(arf, u)
        clipped = lo_e < first or hi_e > last
        if clipped:
            notes.append("clipped")
        # fields repeat every q units: the jump's denominator, or the upsampling period
        q = 1 if jump is None else math.lcm(jump.denominator, int(arf.period))
        ext = _extent(lo, hi, u)
        if not arf.exact:  # uneven adaptive windows: the engine's field is the largest one
            claimed.append(f"size <= {_num(size)} near [{_num(lo_e)}, {_num(hi_e)}]")
            measured.append("none" if ext is None else f"[{ext[0]}, {ext[1]}]")
            notes.append("bound")
            if ext is not None:
                slack = max(jump or 0, 1)
                ok &= ext[1] - ext[0] + 1 <= size and ext[0] <= hi_e + slack and ext[1] >= lo_e - slack
            continue
        if q == 1 and lo_e.denominator == 1:
            ok &= _exact_axis(arf, lo, hi, (first, last), u, (lo_e, hi_e), clipped, nothing, claimed, measured, bounds)
            if per_unit and not arf.is_global:
                ok &= _every_unit(arf, lo, hi, (first, last), u, claimed, measured, bounds)
            continue
        notes.append("periodic")
        period = [_extent(lo, hi, v) for v in range(u, min(n, u + q))]
        sizes = [e[1] - e[0] + 1 for e in period if e is not None]
        claimed.append(f"size {_num(size)}, jump {_num(jump) if jump is not None else 'all'}")
        measured.append(f"sizes {min(sizes)}..{max(sizes)}" if sizes else "none")
        fields = _unit_fields(arf, n) if per_unit else None
        if fields is not None:
            # each unit's own field: a border or a tensor's end can only take pixels away from
            # it, so what every unit sees must lie within its field. Units next to a tensor's
            # end may be cut short; of each phase's units whose field, and both neighbours'
            # fields in that phase, lie within [first, last], some must see all of it
            ok &= _every_unit_of_the_period(fields, lo, hi, first, last, len(arf.phases))
            continue
        interior = lo_e - size >= first and hi_e + size + q * (jump or 0) <= last
        if interior and sizes:
            ok &= min(sizes) - 1 < size <= max(sizes)  # an average over the period
        far = _extent(lo, hi, u + q) if u + q < n else None
        if ext is not None and far is not None and not clipped and bounds(arf, u + q)[1] <= last:
            ok &= far[0] - ext[0] == q * jump
    return Check(bool(ok), " x ".join(claimed), " x ".join(measured), ",".join(sorted(set(notes))))


def _unit_fields(arf, n):
    """Each of the n units' fields from the engine's fields of one period, shifted by the
    period's jump: int arrays of first and last pixels, and a mask of the units that see
    nothing; None where they do not fall on whole pixels."""
    if arf.phases is None or arf.jump is None:
        return None
    P = len(arf.phases)
    shift = P * Fraction(arf.jump)
    ends = [Fraction(x) for ph in arf.phases if ph is not None for x in ph]
    if any(x.denominator != 1 for x in ends) or (n > P and shift.denominator != 1):
        return None
    t, r = np.divmod(np.arange(n), P)
    firsts = np.array([int(ph[0]) if ph is not None else 0 for ph in arf.phases], np.int64)
    lasts = np.array([int(ph[1]) - 1 if ph is not None else 0 for ph in arf.phases], np.int64)
    step = int(shift) if shift.denominator == 1 else 0      # (units of the first period only)
    blind = np.array([ph is None for ph in arf.phases])[r]
    return firsts[r] + t * step, lasts[r] + t * step, blind


def _clipped(a, b, lo, hi, first, last):
    """Claimed fields [a, b] per unit clipped to [first, last], and whether each measured
    extent [lo, hi] lies within its clipped claim."""
    ca, cb = np.maximum(a, first), np.minimum(b, last)
    return ca, cb, (ca <= lo) & (hi <= cb)


def _every_unit_of_the_period(fields, lo, hi, first, last, P) -> bool:
    """What each unit sees lies within its field clipped to [first, last] (nothing where it is
    blind); and per phase, some unit whose field and whose same-phase neighbours' fields lie
    within [first, last] sees all of its field."""
    a, b, blind = fields
    seen = lo <= hi
    ca, cb, within = _clipped(a, b, lo, hi, first, last)
    if np.any(seen & (blind | ~within)):
        return False
    whole = ~blind & seen & (lo == ca) & (hi == cb)
    inside = ~blind & (first <= a) & (b <= last)
    v = np.arange(P, len(lo) - P)
    candidates = v[inside[v - P] & inside[v] & inside[v + P]]
    return set((candidates % P).tolist()) <= set((candidates[whole[candidates]] % P).tolist())


def _every_unit(arf, lo, hi, span, u, claimed, measured, bounds) -> bool:
    """Every unit but the middle one (``u``, held by _exact_axis) that sees a pixel: within its
    claim clipped to [first, last], and, left of the middle unit, its right edge equal to the
    claim's where the clipping leaves it alone; right of the middle, its left edge. A unit's
    edge that faces the tensor's end may be cut short by units past that end (padding, whose
    border-free fields can hold real pixels after a transposed conv's crop); the edge facing
    the middle is reached through units no further out than the middle unit's, which are real.
    The first unit that fails is named in the report. (Whole-pixel fields and jump here.)"""
    first, last = span
    v = np.arange(len(lo))
    a0, b0 = bounds(arf, 0)
    a, b = int(a0) + v * int(arf.jump), int(b0) + v * int(arf.jump)
    ca, cb, within = _clipped(a, b, lo, hi, first, last)
    edge = np.where(v < u, (b > last) | (hi == cb), (a < first) | (lo == ca))
    bad = (lo <= hi) & (v != u) & ~(within & edge)
    if not bad.any():
        return True
    w = int(np.argmax(bad))
    claimed[-1] += f"; unit {w}: [{a[w]}, {b[w]}]"
    measured[-1] += f"; unit {w}: [{lo[w]}, {hi[w]}]"
    return False


def _exact_axis(arf, lo, hi, span, u, claim, clipped, nothing, claimed, measured, bounds) -> bool:
    lo_e, hi_e = claim
    ext, n = _extent(lo, hi, u), len(lo)
    if ext is None:  # a unit that sees only padding: the engine must agree
        claimed.append(f"[{_num(lo_e)}, {_num(hi_e)}]")
        measured.append("padding only")
        # (with dilation holes, a field that the border clips may hold no real pixel)
        return nothing or clipped
    first, last = span
    lo_c, hi_c = max(lo_e, first), min(hi_e, last)
    claimed.append(f"[{_num(lo_c)}, {_num(hi_c)}]")
    measured.append(f"[{ext[0]}, {ext[1]}]")
    # dilation holes may leave the border pixels of a clipped field untouched
    ok = lo_c <= ext[0] and ext[1] <= hi_c if clipped else ext == (lo_c, hi_c)
    if not arf.is_global and n >= 2:
        v = u - 1 if u + 1 >= n else u + 1
        lo2, hi2 = bounds(arf, v)
        other = _extent(lo, hi, v)
        jump = Fraction(arf.jump)
        # (a neighbour whose field starts past the last pixel seen, or ends before the first,
        # cannot see that edge: the same span repeated, not a shift, where the field is spread;
        # and only its edge that faces the middle unit is sure to be whole, see _every_unit)
        if other is not None and v > u and lo_e >= first and first <= lo2 <= last:
            ok &= other[0] - ext[0] == (v - u) * jump
        if other is not None and v < u and hi_e <= last and first <= hi2 <= last:
            ok &= other[1] - ext[1] == (v - u) * jump
    return ok
