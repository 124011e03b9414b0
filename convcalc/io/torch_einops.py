"""einops calls and layers as convcalc rows (for ``from_torch``).

``einops.rearrange`` / ``reduce`` / ``repeat`` (recorded as calls by the tracer) and the
``einops.layers.torch`` modules ``Rearrange`` / ``Reduce`` are decomposed as einops itself runs them
(its recipe for the traced shape): a reshape to the elementary axes (``view``), the reduction
(``reduce``, no MACs: DESIGN §2), a transposition of the axes kept (``permute``), the repeated axes
(a ``view`` that inserts and tiles them) and the
final reshape (``view``). Only steps that change something become rows. Where the
batch is not the leading axis throughout (``(b n) d -> b n d``) or einops' private recipe API is not
there, :func:`einops_block` returns None and the call stays one generic row, as before.
"""
from __future__ import annotations

import sys

from ..graph import Sequential
from ..layers import ops, tensor

#: einops op name (as :func:`~convcalc.io.torch_ops.op_name` gives it) -> the einops operation
CALLS = {"rearrange": "rearrange", "einops.reduce": None, "einops.repeat": "repeat"}


def einops_module(m):
    """(operation, pattern, axes lengths) of an ``einops.layers.torch`` Rearrange/Reduce, else None."""
    layers = sys.modules.get("einops.layers.torch")
    if layers is None:
        return None
    if type(m) is getattr(layers, "Rearrange", None):
        return "rearrange", m.pattern, dict(m.axes_lengths)
    if type(m) is getattr(layers, "Reduce", None):
        return m.reduction, m.pattern, dict(m.axes_lengths)
    return None


def einops_call(n, name, size=lambda v: v):
    """(operation, pattern, axes lengths) of a recorded einops function call, else None.
    ``size`` turns a traced size (``n=x.shape[1]``) into its int where it does not vary with the batch."""
    if name not in CALLS or len(n.args) < 2 or not isinstance(n.args[1], str):
        return None
    kwargs = {k: size(v) for k, v in n.kwargs.items()}
    op = CALLS[name]
    if op is None:
        op = n.args[2] if len(n.args) > 2 else kwargs.pop("reduction", None)
    if not isinstance(op, str) or not all(isinstance(v, int) for v in kwargs.values()):
        return None
    return op, n.args[1], kwargs


def _steps(op, pattern, lengths, shape):
    from einops import einops as E

    recipe = E._prepare_transformation_recipe(pattern, op, tuple(lengths), len(shape))
    return E._reconstruct_from_shape_uncached(recipe, list(shape), list(lengths.items()))


def einops_block(op, pattern, lengths, full2, full3):
    """The rows of one einops operation on a tensor of torch shapes ``full2`` / ``full3`` (batch 2
    and 3, the batch leading): a :class:`Sequential`, or None when it cannot be decomposed per sample."""
    try:
        s2, s3 = _steps(op, pattern, lengths, full2), _steps(op, pattern, lengths, full3)
    except Exception:  # an einops without this private API, or a pattern einops itself refuses
        return None
    init, order, reduced, added, final, n_axes = s2
    batch_first = all(x is None or (x[0], y[0]) == (2, 3) and list(x[1:]) == list(y[1:])
                      for x, y in ((init, s3[0]), (final, s3[4])))
    if not batch_first or (order is not None and order[0] != 0) or 0 in reduced or 0 in added \
            or (full2[0], full3[0]) != (2, 3):
        return None
    rows, cur = [], tuple(full2[1:])
    if init is not None and tuple(init[1:]) != cur:
        cur = tuple(init[1:])
        rows.append(("view", ops.View(cur, op="reshape")))
    order = list(order) if order is not None else list(range(len(cur) + 1))
    if reduced:  # einops reduces after its transposition: reduce first, then permute what is kept
        if op not in ops.REDUCTIONS:
            return None
        gone = sorted(order[a] for a in reduced)
        rows.append(("reduce", ops.Reduce(op, [a - 1 for a in gone], False)))
        cur = tuple(s for i, s in enumerate(cur, start=1) if i not in gone)
        kept = [a for i, a in enumerate(order) if i not in reduced]
        order = [sorted(kept).index(a) for a in kept]
    if order != sorted(order):
        rows.append(("permute", tensor.Permute(tuple(order))))
        cur = tuple(cur[i - 1] for i in order[1:])
    if added:
        it = iter(cur)
        cur = tuple(added[i] if i in added else next(it) for i in range(1, n_axes))
        new = [i - 1 for i in sorted(added)]
        reps = tuple(added[i + 1] if i in new else 1 for i in range(n_axes - 1))
        rows.append(("expand", ops.View(cur, op="repeat", index=(*(("new", i) for i in new), ("tile", reps)))))
    if final is not None and tuple(final[1:]) != cur:
        cur = tuple(final[1:])
        rows.append(("view" if not rows or rows[-1][0] != "view" else "reshape", ops.View(cur, op="reshape")))
    if len(rows) == 1:
        rows = [("", rows[0][1])]
    return Sequential(*rows) if rows else None
