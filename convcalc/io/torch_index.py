"""How a traced view op picks and copies elements, as ``View(index=...)`` steps (layers/ops.py
``INDEX_STEPS``) on per-sample dims, so that the NumPy core can execute it: basic indexing
(slices, ints, None, ``...``), ``expand``, ``Tensor.repeat`` / ``torch.tile``, ``repeat_interleave``
with a whole-number count. None where the op is not one of these or touches the batch dim
(the row then stays shape-only and verify says it has no kernel)."""
from __future__ import annotations

from .torch_ops import _arg


def _ints(xs) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in xs)


def _getitem(idx, full):
    """Steps of ``x[idx]`` on a tensor of torch shape ``full`` (batch first, kept whole)."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    if sum(i is Ellipsis for i in idx) > 1:
        return None
    used = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if Ellipsis in idx:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (len(full) - used) + idx[k + 1:]
    if not idx or idx[0] != slice(None):
        return None  # the batch dim indexed, or a new dim before it
    steps, d, src = [], 0, 1  # d: the per-sample dim of the result; src: the torch dim read
    for i in idx[1:]:
        if i is None:
            steps.append(("new", d))
            d += 1
        elif isinstance(i, slice) and _ints(v for v in (i.start, i.stop, i.step) if v is not None):
            if src >= len(full):
                return None
            start, stop, by = i.indices(full[src])
            if (start, stop, by) != (0, full[src], 1):
                steps.append(("slice", d, start, stop, by))
            d, src = d + 1, src + 1
        elif _ints([i]):
            if src >= len(full):
                return None
            steps.append(("take", d, i % full[src]))
            src += 1
        else:
            return None  # a tensor or list index: advanced indexing
    return tuple(steps)


def _tile(reps, full):
    """np.tile counts per sample of ``Tensor.repeat`` / ``torch.tile`` (None: the batch moves)."""
    reps = (1,) * (len(full) - len(reps)) + tuple(reps)
    if len(reps) != len(full) or reps[0] != 1:
        return None
    return (("tile", tuple(reps[1:])),)


def copy_steps(n, name, t, ps):
    """``View(index=...)`` steps for fx node ``n`` (op ``name``) reading ``t`` (batch first),
    giving per-sample shape ``ps``; None where there is no such description."""
    if not (t.bdim == 0 and t.drop):
        return None
    full = tuple(t.full)
    if name == "getitem" and len(n.args) > 1:
        return _getitem(n.args[1], full)
    if name in ("expand", "expand_as", "broadcast_to"):
        if len(ps) != len(t.ps) or not all(a in (1, b) for a, b in zip(t.ps, ps)):
            return None  # new leading dims: the batch would not stay first
        return (("tile", tuple(b // a for a, b in zip(t.ps, ps))),)
    if name in ("repeat", "tile"):
        reps = n.args[1:] if name == "repeat" else (_arg(n, 1, "dims"),)
        reps = reps[0] if len(reps) == 1 and isinstance(reps[0], (list, tuple)) else reps
        return _tile(reps, full) if _ints(reps) else None
    if name == "repeat_interleave":
        r, dim = _arg(n, 1, "repeats"), _arg(n, 2, "dim")
        if _ints([r]) and _ints([dim]) and t.dim(dim) is not None:
            return (("interleave", t.dim(dim), r),)
    return None
