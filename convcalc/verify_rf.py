"""Receptive fields by execution, in time and memory linear in the sizes (verify's measurement).

Each spatial axis of the network input is followed through the graph as a :class:`Field`:
the per-sample dim of the current tensor that carries it and, for every position along that
dim, the first and last input pixel (along the axis) that any element at that position
depends on. The field of a unit is the hull of what it depends on; hulls compose exactly
(the hull of a union is the hull of the hulls), so a dilated kernel's holes need no storage.

A node's dependency along one input dim is learnt by running its kernel (:class:`_Prober`)
on impulses: hyperplanes of random positive values at chosen positions, zeros elsewhere; an
output position is reached when any element there differs from the all-zero run. Where the
dim is short every position is probed; otherwise three blocks (both edges and the middle)
are, a period is read off the middle block (``R(p + P) = R(p) + Q`` per output dim), the
rest is extrapolated, and the extrapolation is confirmed by one run per phase with every
position of that phase lit at once. Nothing is taken from the engine: not its
window/global/same category, not its window sizes. An output dim all of whose positions
every input position reaches carries no position: the axis becomes one span for all units
(a Linear over the axis, a global pool, flatten into features).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np


EMPTY = np.iinfo(np.int64).max   # lo of a position that depends on no input pixel (hi is -1)
PROBE_BYTES = 48 * 2**20         # working set of one probing kernel call
BLOCKS = (8, 32)                 # impulses per measured block (two edges and the middle), tried in turn
MAX_SPACING = 64                 # most runs that confirm an extrapolation
SHRINK = (8, 32, 128, None)      # sizes tried for the dims that are not probed (None: as they are)
JOINT_CELLS = 2**22              # most cells (input x output positions) of a two-dim field's update


@dataclass(frozen=True)
class Check:
    ok: Optional[bool]  # None: not checkable here
    claimed: object
    measured: object
    note: str = ""


@dataclass
class Field:
    """One input axis as seen by a tensor: ``lo``/``hi`` per position along per-sample dim
    ``dim`` (``lo > hi``: no input pixel); ``dim`` None: one span for every element. After a
    reshape that splits the axis into two dims, ``sub`` is the second (inner) dim and ``lo``/``hi``
    are per (dim, sub) position pair: merged back, the axis' positions are exact again."""

    dim: Optional[int]
    lo: np.ndarray
    hi: np.ndarray
    was: Optional[int] = None  # the dim a span that was the same at every position came from
    sub: Optional[int] = None

    def flat(self) -> "Field":
        """The field of each position along ``dim``: the hull over the ``sub`` dim's positions."""
        if self.sub is None:
            return self
        return Field(self.dim, self.lo.min(axis=1), self.hi.max(axis=1), self.was)

    def spread(self) -> "Field":
        ok = self.lo <= self.hi
        if not ok.any():
            return Field(None, np.array([EMPTY]), np.array([-1]))
        return Field(None, self.lo[ok].min(keepdims=True), self.hi[ok].max(keepdims=True))


def fields_in(in_shape) -> tuple:
    """The network input: pixel i of axis a sees itself."""
    return tuple(Field(a + 1, np.arange(n), np.arange(n)) for a, n in enumerate(in_shape[1:]))


class _Prober:
    """Runs ``run`` (inputs -> output) on impulse batches along dim ``dim`` of input ``which``."""

    def __init__(self, run, shapes, which, dim):
        self.run, self.shapes, self.which, self.dim = run, shapes, which, dim
        self.y0 = run([np.zeros((1, *s), np.float32) if k == which else np.ones((1, *s), np.float32)
                       for k, s in enumerate(shapes)])
        if self.y0.size == 0:
            raise ValueError("the probe is too small for this layer: empty output")
        per_sample = 4 * (sum(math.prod(s) for s in shapes) + 4 * self.y0.size)
        self.chunk = max(1, min(256, PROBE_BYTES // per_sample))
        self.noise = np.random.default_rng(1).uniform(1.0, 2.0, (1, *shapes[which])).astype(np.float32)

    @property
    def length(self) -> int:
        return self.shapes[self.which][self.dim]

    def lit(self, masks: np.ndarray) -> list:
        """``masks`` (B, L): the impulse positions of each run. Per output dim j, (B, M_j):
        which positions along j changed."""
        outs = [[] for _ in range(self.y0.ndim - 1)]
        view = [1] * (len(self.shapes[self.which]) + 1)
        for s in range(0, len(masks), self.chunk):
            m = masks[s:s + self.chunk]
            view[0], view[1 + self.dim] = len(m), self.length
            xs = [self.noise * m.reshape(view) if k == self.which else np.ones((len(m), *sh), np.float32)
                  for k, sh in enumerate(self.shapes)]
            for j, rows in enumerate(_changed_per_dim(self.run(xs) != self.y0)):
                outs[j].append(rows)
        return [np.concatenate(o) for o in outs]


def _changed_per_dim(changed: np.ndarray) -> list:
    """Per dim j of ``changed`` (B, D_1, ..., D_k): (B, D_j), whether anything changed at that
    position.  The dims before j are OR-ed away one at a time, each step over whole rows of the
    last step's smaller result (numpy is slow at ``any`` over many short runs); the dims after j
    are one contiguous run, read eight flags at a time where its length allows."""
    changed = np.ascontiguousarray(changed)  # (viewed eight flags at a time below)
    B, dims = changed.shape[0], changed.shape[1:]
    out, lead = [], changed.reshape(B, math.prod(dims))  # lead: the dims before j OR-ed away
    for j, n in enumerate(dims):
        after = math.prod(dims[j + 1:])
        a = lead.reshape(B, n, after)
        out.append((a.view(np.uint64) if after and after % 8 == 0 else a).any(axis=2))
        if j + 1 < len(dims):
            lead = a.any(axis=1)
    return out


class _Reach:
    """Which output positions (per output dim) each input position reaches: measured rows for
    ``pos``, and for the others a period rule ``(m0, P, Q)`` read off the middle block."""

    def __init__(self, length, pos, lit, rule=None, block=0):
        self.length, self.pos, self.lit, self.rule, self.block = length, pos, lit, rule, block

    def sizes(self) -> tuple:
        return tuple(rows.shape[1] for rows in self.lit)

    def trivial(self, j) -> bool:
        """Every input position that reaches anything reaches every position of dim j."""
        if self.rule is not None and self.rule[2][j] != 0:
            return False
        rows = self.lit[j][self.lit[j].any(axis=1)]
        return bool(rows.all())

    def varies(self, j) -> bool:
        """Input positions reach different sets along dim j: the dim carries position."""
        if self.rule is not None and self.rule[2][j] != 0:
            return True
        rows = self.lit[j][self.lit[j].any(axis=1)]
        return not bool((rows == rows[:1]).all())

    def _extrapolated(self):
        """(positions, reference row, shift count) for every unmeasured position, per phase."""
        if getattr(self, "_phases", None) is None:
            m0, P, _ = self.rule
            unmeasured = np.ones(self.length, bool)
            unmeasured[self.pos] = False
            rest = np.flatnonzero(unmeasured)
            self._phases = []
            for phi in range(P):
                sel = rest[(rest - m0) % P == phi]
                self._phases.append((sel, self.block + phi, (sel - (m0 + phi)) // P))
        return self._phases

    def pairs(self, j) -> tuple:
        """(p, q): input position p reaches output position q along dim j."""
        M = self.lit[j].shape[1]
        p, q = np.nonzero(self.lit[j])
        ps, qs = [self.pos[p]], [q]
        if self.rule is not None:
            for sel, ref, t in self._extrapolated():
                base = np.flatnonzero(self.lit[j][ref])
                qq = (base[None, :] + (t * self.rule[2][j])[:, None]).ravel()
                pp = np.repeat(sel, base.size)
                keep = (qq >= 0) & (qq < M)
                ps.append(pp[keep])
                qs.append(qq[keep])
        return np.concatenate(ps), np.concatenate(qs)

    def reaches(self) -> np.ndarray:
        """Input positions that reach any output position."""
        out = np.zeros(self.length, bool)
        out[self.pos] = self.lit[0].any(axis=1)
        if self.rule is not None:
            M, Q = self.lit[0].shape[1], self.rule[2][0]
            for sel, ref, t in self._extrapolated():
                base = np.flatnonzero(self.lit[0][ref])
                out[sel] = np.searchsorted(base, M - t * Q) > np.searchsorted(base, -t * Q)
        return out

    def confirm(self, prober) -> bool:
        """One run per phase, every position of the phase lit at once: the union of the
        predicted reaches must be what the kernel does."""
        m0, P, Q = self.rule
        span = 1
        for j, rows in enumerate(self.lit):
            mid = rows[self.block:2 * self.block]
            if Q[j] and mid.any():
                widths = [np.ptp(np.flatnonzero(r)) + 1 for r in mid if r.any()]
                span = max(span, max(widths) // abs(Q[j]) + 1)
        S = P * min(span, max(1, MAX_SPACING // P))
        p_all = np.arange(self.length)
        masks = (p_all[None, :] % S) == np.arange(S)[:, None]
        seen = prober.lit(masks)
        reach = self.reaches()
        for j, rows in enumerate(self.lit):
            want = np.zeros((S, rows.shape[1]), bool)
            if self.trivial(j):
                want[np.unique(p_all[reach] % S)] = True
            else:
                p, q = self.pairs(j)
                want[p % S, q] = True
            if not np.array_equal(want, seen[j]):
                return False
        return True


def _period(lit, block) -> Optional[tuple]:
    """The smallest P (and shifts Q per output dim) with R(p + P) = R(p) + Q over the middle block."""
    nz = [[np.flatnonzero(r) for r in rows[block:2 * block]] for rows in lit]
    for P in range(1, block // 2 + 1):
        shifts = []
        for sets in nz:
            pairs = [(a, b) for a, b in zip(sets, sets[P:])]
            q = next((int(b[0] - a[0]) for a, b in pairs if a.size and b.size), 0)
            if not all(a.size == b.size and np.array_equal(a + q, b) for a, b in pairs):
                break
            shifts.append(q)
        else:
            return P, tuple(shifts)
    return None


def _measure(prober) -> Optional[_Reach]:
    n = prober.length
    for block in BLOCKS:
        if n <= 3 * block:
            return _Reach(n, np.arange(n), prober.lit(np.eye(n, dtype=bool)))
        m0 = n // 2 - block // 2
        pos = np.concatenate([np.arange(block), np.arange(m0, m0 + block), np.arange(n - block, n)])
        masks = np.zeros((len(pos), n), bool)
        masks[np.arange(len(pos)), pos] = True
        lit = prober.lit(masks)
        rule = _period(lit, block)
        if rule is not None:
            reach = _Reach(n, pos, lit, (m0, *rule), block)
            if reach.confirm(prober):
                return reach
    return None


def _runner(layer, kern, weights, buffers, shapes, narrow):
    """inputs -> output of the layer, or of its one-channel twin with all-ones weights.
    Weights are made positive (>= 1, in place: the real run is over), so that positive
    impulses never cancel and a tiny weight is never absorbed into a bias."""
    if narrow:
        layer = kern.narrow(layer)
        weights = {n: np.ones(s, np.float32) for n, s in kern.weights(layer.args(), shapes[0]).items()}
        buffers = {}
    else:
        for w in weights.values():  # (a second probe of the same node adds 1 again: harmless)
            if w.dtype.kind == "f":
                np.abs(w, out=w)
                w += 1
    return lambda xs: kern.run(layer, xs if layer.arity != 1 else xs[0], weights, buffers)[0]


def _probe_shapes(shapes, dim, narrow):
    """(m, shapes) to probe along ``dim``, smallest first: the dims not probed are cut to m,
    except the features, which a layer's weights fix (dim 0, or the last one channels-last)."""
    for m in SHRINK:
        for feature in ((0, -1) if m is not None else (None,)):
            yield m, [tuple(1 if narrow and d == 0 else s
                            if m is None or d == dim or d == feature % len(sh) else min(s, m)
                            for d, s in enumerate(sh)) for sh in shapes]


def _reach(layer, kern, weights, buffers, shapes, which, dim, out_shape) -> Optional[_Reach]:
    """Measure how input ``which``'s dim ``dim`` reaches the output, on the smallest probe that
    keeps every output dim that carries positions at its real size."""
    for narrow in ((True, False) if kern.narrow is not None and dim != 0 else (False,)):
        for m, pshapes in _probe_shapes(shapes, dim, narrow):
            try:
                prober = _Prober(_runner(layer, kern, weights, buffers, pshapes, narrow), pshapes, which, dim)
                reach = _measure(prober)
            except Exception:  # this probe size does not fit the layer: try a larger one
                continue
            if reach is None:
                break
            sizes = reach.sizes()
            if len(sizes) == len(out_shape) and all(reach.trivial(j) or sizes[j] == out_shape[j]
                                                    for j in range(len(sizes))):
                return reach
            if m is None or all(s <= m for sh in shapes for s in sh[1:]):
                break
    return None


def _through(reach: _Reach, f: Field, dim_hint) -> Field:
    """The field after the node: positions of the output dim that carries it, or one span."""
    dims = range(len(reach.lit))
    carriers = [j for j in dims if reach.varies(j)]
    if not carriers:  # the same set for every input position: position only if it is partial
        carriers = [j for j in ([dim_hint] if dim_hint in dims else []) or dims if not reach.trivial(j)][:1]
    if not carriers:  # every unit sees one span; it stays on its dim where that still exists
        ok = reach.reaches() & (f.lo <= f.hi)
        span = Field(None, np.array([EMPTY]), np.array([-1])) if not ok.any() else \
            Field(None, f.lo[ok].min(keepdims=True), f.hi[ok].max(keepdims=True))
        if dim_hint is not None and dim_hint < len(reach.lit):
            n = reach.lit[dim_hint].shape[1]
            return Field(dim_hint, np.repeat(span.lo, n), np.repeat(span.hi, n))
        return span
    j = min(carriers, key=lambda j: (int(reach.lit[j].sum()), _spread(reach, j), j != dim_hint))
    if len(carriers) == 2:  # the axis split into two dims (a reshape): keep positions along both
        j2 = carriers[carriers[0] == j]
        A1, A2 = _matrix(reach, j, len(f.lo)), _matrix(reach, j2, len(f.lo))
        if A1.size * A2.shape[1] <= JOINT_CELLS:
            both = A1[:, :, None] & A2[:, None, :]
            return Field(j, np.where(both, f.lo[:, None, None], EMPTY).min(axis=0),
                         np.where(both, f.hi[:, None, None], -1).max(axis=0), sub=j2)
    p, q = reach.pairs(j)
    M = reach.lit[j].shape[1]
    lo, hi = np.full(M, EMPTY), np.full(M, -1)
    np.minimum.at(lo, q, f.lo[p])
    np.maximum.at(hi, q, f.hi[p])
    return Field(j, lo, hi)


def _matrix(reach: _Reach, j, n) -> np.ndarray:
    """(n, M_j): input position p reaches position q of output dim j."""
    out = np.zeros((n, reach.lit[j].shape[1]), bool)
    p, q = reach.pairs(j)
    out[p, q] = True
    return out


def _through_joint(r1: _Reach, r2: _Reach, f: Field) -> Optional[Field]:
    """A two-dim field through a node: a position pair (p, r) reaches what both p along ``dim``
    and r along ``sub`` reach (exact for reshapes and permutes, a bound otherwise). Where both
    land on one output dim the axis is one dim again; None where the rule does not apply."""
    c1 = [j for j in range(len(r1.lit)) if r1.varies(j)]
    c2 = [j for j in range(len(r2.lit)) if r2.varies(j)]
    if len(c1) != 1 or len(c2) != 1:
        return None
    (j1,), (j2,) = c1, c2
    n1, n2 = f.lo.shape
    A1, A2 = _matrix(r1, j1, n1), _matrix(r2, j2, n2)
    if j1 == j2:
        if n1 * n2 * A1.shape[1] > JOINT_CELLS:
            return None
        both = A1[:, None, :] & A2[None, :, :]
        return Field(j1, np.where(both, f.lo[:, :, None], EMPTY).min(axis=(0, 1)),
                     np.where(both, f.hi[:, :, None], -1).max(axis=(0, 1)))
    if max(n1 * A1.shape[1] * n2, A1.shape[1] * n2 * A2.shape[1]) > JOINT_CELLS:
        return None
    lo = np.where(A1[:, :, None], f.lo[:, None, :], EMPTY).min(axis=0)  # (M1, n2)
    hi = np.where(A1[:, :, None], f.hi[:, None, :], -1).max(axis=0)
    return Field(j1, np.where(A2[None, :, :], lo[:, :, None], EMPTY).min(axis=1),
                 np.where(A2[None, :, :], hi[:, :, None], -1).max(axis=1), sub=j2)


def _spread(reach: _Reach, j) -> float:
    """How far apart, on average, the input positions that meet at one position of dim j lie.
    An axis split into (outer, inner) dims reaches both alike; the outer dim's positions hold
    neighbouring pixels (a patch), the inner's pixels a stride apart: a unit is the former."""
    p, q = reach.pairs(j)
    M = reach.lit[j].shape[1]
    lo, hi = np.full(M, EMPTY), np.full(M, -1)
    np.minimum.at(lo, q, p)
    np.maximum.at(hi, q, p)
    ok = lo <= hi
    return float((hi[ok] - lo[ok]).mean()) if ok.any() else 0.0


def _union(fields) -> Optional[Field]:
    """Where paths merge, a position sees what any path brings it."""
    if any(f is None for f in fields):
        return None
    if len(fields) == 1:
        return fields[0]
    first = fields[0]
    if first.sub is not None and all((f.dim, f.sub, f.lo.shape) == (first.dim, first.sub, first.lo.shape)
                                     for f in fields):  # a split axis on both paths: stays joint
        lo, hi = np.minimum.reduce([f.lo for f in fields]), np.maximum.reduce([f.hi for f in fields])
        return Field(first.dim, lo, hi, first.was, first.sub)
    fields = [f.flat() for f in fields]
    dims = {f.dim for f in fields if f.dim is not None}
    if len(dims) > 1:
        fields = [f.spread() for f in fields]
        dims = set()
    lo, hi = fields[0].lo, fields[0].hi
    for f in fields[1:]:
        lo, hi = np.minimum(lo, f.lo), np.maximum(hi, f.hi)
    was = {f.was for f in fields}
    return Field(dims.pop() if dims else None, lo, hi, was=was.pop() if len(was) == 1 else None)


def _cached(cache, k, d, make):
    if (k, d) not in cache:
        cache[k, d] = make()
    return cache[k, d]


def _constant(f) -> bool:
    return f is not None and f.dim is not None and f.sub is None and \
        bool((f.lo == f.lo[0]).all() and (f.hi == f.hi[0]).all())


def _relocate(out, fields, in_shape, out_shape) -> list:
    """A one-position dim (a pooled axis) gives the probe no clue where a permute puts it, so
    ``_through`` keeps it on its dim index; where another axis's positions land there, or the
    sizes were only reordered and that index now holds more than one position, it moves to the
    one output dim of length 1 that no field claims (or becomes positionless)."""
    varying = {g.dim for g in out if g is not None and g.dim is not None and not _constant(g)}
    taken = {g.dim for g in out if g is not None and g.dim is not None}
    reordered = sorted(in_shape) == sorted(out_shape)
    for i, (g, f) in enumerate(zip(out, fields)):
        if not (_constant(g) and f is not None and f.lo.size == 1 and
                (g.dim in varying or (reordered and out_shape[g.dim] != 1))):
            continue
        free = [j for j, n in enumerate(out_shape) if n == 1 and j not in taken]
        out[i] = Field(free[0], g.lo[:1], g.hi[:1]) if len(free) == 1 else g.spread()
        taken.add(out[i].dim)
    return out


def _geometry(layer, shapes, out_shape):
    """What a probe's outcome depends on: the kind, its constructor arguments and the shapes
    (not the weights' values: probes make them positive or all ones)."""
    return type(layer), repr(sorted(layer.args().items())), tuple(shapes), out_shape


def propagate(layer, kern, ins, xs, y, weights, buffers, memo: Optional[dict] = None) -> tuple:
    """The fields of the node's output, from the fields of each input (``ins``).  With ``memo``
    (a dict kept over one network's walk), a measurement is shared by every node of the same
    kind, arguments and shapes: the repeated blocks of a deep network are probed once."""
    shapes = [tuple(x.shape[1:]) for x in xs]
    out_shape = tuple(y.shape[1:])
    cache: dict = {} if memo is None else memo.setdefault(_geometry(layer, shapes, out_shape), {})
    per_input = []
    for k, fields in enumerate(ins):
        out = []
        for f in fields:
            if f is None or f.dim is None:
                out.append(f)
                continue
            lo0, hi0 = f.lo.flat[0], f.hi.flat[0]
            if f.lo.size > 1 and lo0 <= hi0 and (f.lo == lo0).all() and (f.hi == hi0).all():
                out.append(Field(None, f.lo.ravel()[:1], f.hi.ravel()[:1], was=f.dim))  # no layer can change that
                continue
            if f.sub is not None and f.sub < len(shapes[k]) and f.dim < len(shapes[k]) and \
                    f.lo.shape == (shapes[k][f.dim], shapes[k][f.sub]):
                r1, r2 = (_cached(cache, k, d, lambda d=d: _reach(layer, kern, weights, buffers, shapes, k, d,
                                                                       out_shape)) for d in (f.dim, f.sub))
                g = None if r1 is None or r2 is None else _through_joint(r1, r2, f)
                if g is not None or r1 is None or r2 is None:
                    out.append(g)
                    continue
            f = f.flat()
            if f.dim >= len(shapes[k]) or np.shape(f.lo)[-1:] != (shapes[k][f.dim],):
                out.append(f.spread())  # the axis no longer runs along that dim: positionless
                continue
            r = _cached(cache, k, f.dim, lambda d=f.dim: _reach(layer, kern, weights, buffers, shapes, k, d, out_shape))
            out.append(None if r is None else _through(r, f, f.dim))
        per_input.append(_blank_if_blind(_relocate(out, fields, shapes[k], out_shape)))
    live = [p for p in per_input if not _blind(p)] or per_input[:1]  # paths that see nothing add nothing
    return tuple(_union([p[a] for p in live]) for a in range(len(ins[0])))


def _blind(fields) -> bool:
    """Whether no position sees any input pixel along some axis (the probe measures one axis at a
    time, the others held at ones: it cannot see that such a tensor holds no pixel at all)."""
    return any(f is not None and f.lo.size > 0 and not (f.lo <= f.hi).any() for f in fields)


def _blank_if_blind(fields: list) -> list:
    """A position's field is the product of its spans along the axes: empty along one, empty."""
    if not _blind(fields):
        return fields
    return [f if f is None else Field(None, np.array([EMPTY]), np.array([-1])) for f in fields]
