"""Which convcalc layer one traced torch op becomes (called by :mod:`convcalc.io.torch_convert`).

``rule(conv, node, name, module, tensors, ps, out)`` returns ``(layer, input keys, implicit)``, or
``(None, ...)`` when the op computes but has no rule (it then becomes an ``unknown`` row).
Where convcalc has a specific layer (a residual ``add``, a ``flatten``, a ``permute`` of the
sample's dims, an activation), that layer is used when it gives torch's shape; otherwise a
generic op of :mod:`convcalc.layers.ops`.
"""
from __future__ import annotations

import math

from ..errors import ConvcalcError
from ..graph import Sequential
from ..layers import attention, linear, ops, tensor
from ..layers.base import Layer
from ..layers.merge import COMBINE
from .torch_attention import block_macs, mha_call_ok
from .torch_einops import einops_block, einops_call, einops_module
from .torch_export import scope as _scope, weight_layer
from .torch_index import copy_steps
from .torch_ops import CREATE, ELEMENTWISE, MATMUL, REDUCE, SHAPE_ONLY, TorchError, _arg


def _unique(keys):
    return list(dict.fromkeys(keys))


def _fits(layer, shapes, ps):
    try:
        return tuple(layer.infer_all(shapes).shape) == tuple(ps)
    except (ConvcalcError, TypeError, ValueError, IndexError):
        return False


def rule(conv, n, name, m, tensors, ps, out):
    spec = einops_module(m) if m is not None else einops_call(n, name, lambda v: _fixed_size(conv, v))
    if spec is not None:
        return _einops(conv, n, spec, tensors, ps)
    if name in _SHUFFLE and len(tensors) == 1 and len(tensors[0].ps) == 3:
        return _pixel_shuffle(n, name, m, tensors[0]), [tensors[0].key], False
    if m is not None:
        return _module(conv, n, name, m, tensors, ps)
    keys = _unique(t.key for t in tensors)
    consts = conv._params_of(n)
    if name in ("conv1d", "conv2d", "conv3d", "linear", "batch_norm", "layer_norm") and len(keys) == 1 and \
            tensors[0].bdim == 0 and tensors[0].drop:
        found = weight_layer(conv, n, name, tensors[0])
        if found is not None and _fits(found[0], [tensors[0].ps], ps) and \
                found[0].infer(tensors[0].ps).params == sum(p.numel() for p in found[1]) and \
                not any(id(p) in conv.seen for p in found[1]):
            conv._new_params({id(p): p.numel() for p in found[1]})
            owners = {a.target.rpartition(".")[0] for a in n.args if getattr(a, "op", "") == "get_attr"}
            if len(owners) == 1 and owners == {_scope(n)} != {""}:  # an exported module's op: its row is the module's
                conv.names[n] = _scope(n)
            return found[0], keys, False
    if name in MATMUL:
        if name in ("matmul", "mm", "bmm") and len(tensors) == 2 and not consts:
            return ops.MatMul(), [tensors[0].key, tensors[1].key], False
        macs = conv._macs(n, name, None)
        if macs is None:
            return None, keys, False
        return ops.Op(name, ps, macs + conv._const_macs(n), conv._new_params(consts)), keys, False
    if name in SHAPE_ONLY:
        return _shape_only(conv, n, name, tensors, ps, consts)
    if name in REDUCE and not (name in ("max", "min") and len([a for a in n.args if hasattr(a, "op")]) > 1):
        return _reduce(conv, n, name, tensors[0], ps), [tensors[0].key], False
    if name in ELEMENTWISE or name in REDUCE or name in CREATE:
        return _elementwise(conv, n, name, tensors, ps, consts)
    return None, keys, False


_SHUFFLE = {"pixel_shuffle": "up", "PixelShuffle": "up", "pixel_unshuffle": "down", "PixelUnshuffle": "down"}


def _pixel_shuffle(n, name, m, t):
    """Pixel (un)shuffle as torch defines it: a reshape that splits, a permute, a reshape that
    merges (so the receptive field follows the reshape rules: a patch, or a nearest upsampling)."""
    r = getattr(m, "upscale_factor", None) or getattr(m, "downscale_factor", None) if m is not None else \
        _arg(n, 1, "upscale_factor" if _SHUFFLE[name] == "up" else "downscale_factor")
    c, h, w = t.ps
    if _SHUFFLE[name] == "up":
        steps = [("view", ops.View((c // (r * r), r, r, h, w), op="reshape")),
                 ("permute", tensor.Permute((0, 1, 4, 2, 5, 3))),
                 ("reshape", ops.View((c // (r * r), h * r, w * r), op="reshape"))]
    else:
        steps = [("view", ops.View((c, h // r, r, w // r, r), op="reshape")),
                 ("permute", tensor.Permute((0, 1, 3, 5, 2, 4))),
                 ("reshape", ops.View((c * r * r, h // r, w // r), op="reshape"))]
    return Sequential(*steps)


def _fixed_size(conv, v):
    """A traced int (``x.shape[1]``) as its value where both traces agree (not the batch)."""
    if not hasattr(v, "op"):
        return v
    a, b = conv.v2.get(v), conv.v3.get(v)
    return a if isinstance(a, int) and a == b else v


def _einops(conv, n, spec, tensors, ps):
    """An einops rearrange/reduce/repeat: its steps as rows (one generic row where they cannot be)."""
    t, keys = tensors[0], _unique(x.key for x in tensors)
    src = n.args[0] if n.args else None
    block = None
    if len(keys) == 1 and hasattr(src, "op") and t.bdim == 0 and t.drop and not conv._params_of(n):
        block = einops_block(*spec, tuple(conv.v2[src].shape), tuple(conv.v3[src].shape))
    if block is not None:
        return block, keys, False
    op = spec[0]
    if op in ("rearrange", "repeat"):
        return ops.View(ps, op=f"einops.{op}"), keys, False
    return ops.Op(f"einops.reduce {op}", ps, 0, conv._new_params(conv._params_of(n))), keys, False


def _module(conv, n, name, m, tensors, ps):
    keys = _unique(t.key for t in tensors)
    layer = conv.layers.get(n.target)
    params = {id(p): p.numel() for p in m.parameters()}
    if isinstance(m, conv.torch.nn.MultiheadAttention) and tensors and len(tensors[0].ps) == 2 \
            and tensors[0].bdim == (1 if m.batch_first else 0):
        # torch reads (L, N, E) (batch_first: (N, L, E)); here the sequence dim is the batch: it would
        # attend across samples, which has no per-sample count (torch's MACs are not linear in the batch)
        want = "(N, L, E)" if m.batch_first else "(L, N, E)"
        raise TorchError(f"{conv.row(n)}: nn.MultiheadAttention(batch_first={m.batch_first}) attends along dim "
                         f"{int(m.batch_first)}, which is the batch here (it expects {want}): it would mix samples")
    if isinstance(layer, attention.MultiheadAttention) and not mha_call_ok(n):
        layer = None  # cross-attention or a mask: a generic op with exact MACs (below)
    if layer is not None and len(keys) == 1:
        shapes = [tensors[0].ps]
        if n.target in conv.calls and any(params.values()):  # a module called again: the same weights, counted once
            macs = layer.infer_all(shapes).macs if isinstance(layer, Layer) else \
                block_macs(layer, shapes[0])
            return ops.Op(f"{name} (shared)", ps, macs, conv._new_params(params)), keys, False
        conv.calls[n.target] = 1
        conv._new_params(params)
        frozen = any(params.values()) and not any(p.requires_grad for p in m.parameters())
        if not isinstance(layer, Layer):  # a block: spliced in by the converter
            for _, inner in layer.layers() if frozen else ():
                inner.trainable = False  # requires_grad=False in torch: frozen for --training
            return layer, keys, False
        if frozen:
            layer.trainable = False  # requires_grad=False in torch: frozen for --training
        elif any(not p.requires_grad for p in m.parameters()):  # some frozen (bias-only tuning)
            layer.frozen_params = _frozen_by_name(layer, m, shapes[0])
        if getattr(m, "convcalc_kind", None) == "merge":
            return None, keys, False
        return layer, keys, False
    if getattr(m, "convcalc_kind", None) == "merge":  # an exported file's merge helper
        dim = {"dim": m.dim - 1 if m.dim > 0 else m.dim} if m.op == "cat" else {}
        return COMBINE[m.op](n=len(tensors), **dim), [t.key for t in tensors], True
    if name in MATMUL:
        macs = conv._macs(n, name, m)
        if macs is not None:
            return ops.Op(name, ps, macs, conv._new_params(params)), keys, False
    label = f"{type(m).__module__}.{type(m).__name__}"
    return ops.Unknown(label, ps, conv._new_params(params)), keys, False


def _shape_only(conv, n, name, tensors, ps, consts):
    t = tensors[0]
    keys = _unique(x.key for x in tensors)
    if name in ("cat", "concat", "concatenate", "stack", "hstack", "vstack"):
        dim = _arg(n, 1, "dim", 0)
        if name in ("cat", "concat", "concatenate") and len(keys) == len(tensors) > 1 and not consts and \
                isinstance(dim, int) and all(x.bdim == 0 and x.drop for x in tensors) and t.dim(dim) is not None:
            layer = COMBINE["cat"](n=len(keys), dim=t.dim(dim))
            if _fits(layer, [x.ps for x in tensors], ps):
                return layer, keys, True
        token = _class_token(conv, n, name, tensors, ps, consts)
        if token is not None:
            return token, keys, False
        if len(keys) > 1 or consts:
            return ops.Pointwise(name, ps, conv._new_params(consts), conv._const_macs(n)), keys, False
    if t.bdim == 0 and t.drop and not consts:
        for layer in _specific(n, name, t, ps):
            if _fits(layer, [t.ps], ps):
                return layer, [t.key], False
    if consts:
        return ops.Pointwise(name, ps, conv._new_params(consts), conv._const_macs(n)), keys, False
    index = copy_steps(n, name, t, ps) if math.prod(ps) != math.prod(t.ps) else None
    return ops.View(ps, op=name, index=index), [t.key], False


def _learned(conv, node, numel):
    """The constant at fx ``node`` if it is one parameter of ``numel`` elements, counted nowhere yet."""
    v = conv.values.get(node) if hasattr(node, "op") else None
    if v is None or not hasattr(v, "params") or v.macs or len(v.params) != 1:
        return None
    (pid, size), = v.params.items()
    return v if size == numel and pid not in conv.seen else None


def _class_token(conv, n, name, tensors, ps, consts):
    """``torch.cat([token.expand(B, -1, -1), x], dim=1)`` with a (1, 1, E) parameter: ViT's class token."""
    items, dim = _arg(n, 0, "tensors"), _arg(n, 1, "dim", 0)
    if name not in ("cat", "concat", "concatenate") or not isinstance(items, (list, tuple)) or len(items) != 2 \
            or len(tensors) != 1 or not isinstance(dim, int):
        return None
    t = tensors[0]
    if conv.values.get(items[1]) is not t or not (t.bdim == 0 and t.drop) or len(t.ps) != 2 or t.dim(dim) != 0:
        return None
    e = t.ps[1]
    first = conv.v2.get(items[0])
    if _learned(conv, items[0], e) is None or first is None or tuple(first.shape)[-2:] != (1, e):
        return None
    layer = attention.ClassToken(e)
    if not _fits(layer, [t.ps], ps):
        return None
    conv._new_params(consts)
    return layer


def _pos_embedding(conv, n, name, tensors, ps):
    """``x + self.pos_embedding`` with a (1, L, E) parameter on (L, E) tokens: ViT's position embedding."""
    if name != "add" or len(tensors) != 1 or len(n.args) != 2 or n.kwargs:
        return None
    t = tensors[0]
    other = [a for a in n.args if conv.values.get(a) is not t]
    if not (t.bdim == 0 and t.drop) or len(t.ps) != 2 or len(other) != 1 or getattr(other[0], "op", "") != "get_attr":
        return None
    L, e = t.ps
    if _learned(conv, other[0], L * e) is None or tuple(conv.v2[other[0]].shape) not in ((1, L, e), (L, e)):
        return None
    layer = attention.PosEmbedding(L, e)
    if not _fits(layer, [t.ps], ps):
        return None
    conv._new_params(conv._params_of(n))
    return layer


def _specific(n, name, t, ps):
    """The specific convcalc layers an op may be (tried in order: the first that fits)."""
    rank = len(t.full)
    if name == "flatten" or (name in ("view", "reshape") and len(ps) == 1):
        start = _arg(n, 1, "start_dim", 0) if name == "flatten" else 1
        end = _arg(n, 2, "end_dim", -1) if name == "flatten" else -1
        if isinstance(start, int) and isinstance(end, int):
            yield linear.Flatten(start, end)
    if name in ("permute", "transpose", "swapaxes", "swapdims"):
        perm = list(range(rank))
        if name == "permute":
            dims = n.args[1:] if len(n.args) > 2 else (_arg(n, 1, "dims"),)
            dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (list, tuple)) else dims
            if all(isinstance(d, int) for d in dims):
                perm = [d % rank for d in dims]
        else:
            a, b = _arg(n, 1, "dim0"), _arg(n, 2, "dim1")
            if isinstance(a, int) and isinstance(b, int):
                perm[a % rank], perm[b % rank] = perm[b % rank], perm[a % rank]
        if perm and perm[0] == 0 and perm != list(range(rank)):
            yield tensor.Permute(tuple(perm))
    if name == "getitem":
        idx = n.args[1]
        if isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and isinstance(idx[1], slice) \
                and idx[1].step in (None, 1) and t.ps:
            start, stop, _ = idx[1].indices(t.ps[0])
            if stop > start:
                yield tensor.ChannelSlice(start, stop)
        if isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and isinstance(idx[1], int) \
                and not isinstance(idx[1], bool) and len(t.ps) == 2:
            yield attention.SelectToken(idx[1])  # x[:, 0] of (L, E) tokens: ViT's class token out


def _reduce(conv, n, name, t, ps):
    dims = _arg(n, 1, "dim")
    keep = _arg(n, 2, "keepdim", False)
    if name == "norm":
        dims, keep = _arg(n, 2, "dim"), _arg(n, 3, "keepdim", False)
    if name in ("std", "var"):
        keep = n.kwargs.get("keepdim", False)
    if isinstance(dims, int):
        dims = (dims,)
    if isinstance(dims, (list, tuple)) and all(isinstance(d, int) for d in dims) and isinstance(keep, bool):
        mapped = [t.dim(d) for d in dims]
        if None not in mapped:
            layer = ops.Reduce(name, mapped, keep)
            if _fits(layer, [t.ps], ps):
                return layer
    return ops.Op(name, ps, 0)


def _elementwise(conv, n, name, tensors, ps, consts):
    keys = _unique(t.key for t in tensors)
    pos = _pos_embedding(conv, n, name, tensors, ps)
    if pos is not None:
        return pos, keys, False
    t = tensors[0]
    plain = t.bdim == 0 and t.drop and not consts
    if t.drop and not consts and len(keys) == 1 and n.op == "call_function" and n.target in conv.unary and \
            (t.bdim == 0 or "dim" not in conv.unary[n.target][1]):  # elementwise: where the batch is does not matter
        build, names = conv.unary[n.target]
        try:
            layer = build({k: v for k, v in zip(names, n.args[1:])} | dict(n.kwargs))
        except (ConvcalcError, TypeError, KeyError, ValueError):
            layer = None
        if layer is not None and _fits(layer, [t.ps], ps):
            return layer, keys, False
    # (the batch may sit at another dim, as in a batch_first=False transformer: the same one in both)
    if name in ("add", "mul") and not consts and len(keys) == 2 and len(tensors) == 2 and \
            all(x.bdim == t.bdim and x.drop for x in tensors) and \
            _fits(COMBINE[name](n=2), [x.ps for x in tensors], ps):
        return COMBINE[name](n=2), keys, True
    if plain and len(keys) == 1 and name in ("interpolate", "upsample", "upsample_nearest", "upsample_bilinear"):
        layer = tensor.Upsample(size=tuple(ps[1:]), mode=n.kwargs.get("mode", "nearest"),
                                align_corners=n.kwargs.get("align_corners"))
        if _fits(layer, [t.ps], ps):
            return layer, keys, False
    params, macs = conv._new_params(consts), conv._const_macs(n)
    return ops.Pointwise(name, ps, params, macs, call=_call(conv, n, keys, t, params) if not macs else None), \
        keys, False


def _call(conv, n, keys, t, params):
    """The arguments of an elementwise call, for ``Pointwise(call=...)``: inputs by their index in
    ``keys``, numbers, and constants that are views of parameters counted here (``params`` in
    all) as weights of their shape; None where another kind of argument appears (a buffer, a
    parameter counted before, a batch elsewhere)."""
    out, sizes = [], 0
    for k, a in [*((None, a) for a in n.args), *n.kwargs.items()]:
        v = conv.values.get(a) if hasattr(a, "op") else None
        if v is not None and getattr(v, "key", None) in keys and v.bdim == t.bdim and v.drop and k is None:
            out.append(("x", keys.index(v.key)))
        elif v is not None and hasattr(v, "params") and k is None and t.bdim == 0 and hasattr(conv.v2.get(a), "shape"):
            shape = tuple(conv.v2[a].shape)
            sizes += math.prod(shape)
            out.append(("p", f"c{len(out)}", shape))
        elif isinstance(a, (int, float)) and not hasattr(a, "op"):
            out.append(("c", a) if k is None else ("k", k, a))
        elif not (k is not None and a is None):  # an unset keyword is no argument
            return None
    return tuple(out) if sizes == params else None


def _frozen_by_name(layer, m, shape) -> frozenset:
    """The engine's names of the module's frozen parameters (requires_grad False), where the
    layer names its weights as torch does; a name it does not know stays trainable."""
    known = layer.weight_shapes(shape)
    return frozenset(n for n, p in m.named_parameters() if not p.requires_grad and n in known)
