"""Which convcalc layer one ONNX node becomes (called by :mod:`convcalc.io.onnx_import`).

:data:`ONNX_OPS` is the registry of ONNX op types (the standard domain): ``op_type -> rule``, with
``rule(ctx, node, a, ins, acts, ps)`` returning ``(layer, input keys, implicit)`` or None when the
op has no rule here (it then becomes an ``unknown`` row, counted as not counted, by name). ``a`` are
the node's attributes, ``ins`` its inputs (activations ``_A``, constants ``_K`` or None), ``acts``
the activations among them, ``ps`` the per-sample output shape from ONNX shape inference.

Where convcalc has the layer (a conv, a pool, a norm, an activation, a residual add...) it is used
when it gives ONNX's shape (``ctx.fits``); otherwise a generic op of :mod:`convcalc.layers.ops`,
whose MACs follow the same conventions (DESIGN §2). Shapes are read at batch 1, so the MACs of a
generic rule computed on whole shapes are the MACs of one sample.
"""
from __future__ import annotations

from ..errors import ConvcalcError
from ..layers import act, conv, linear, norm, ops, pool, tensor
from ..layers.merge import COMBINE
from ..sym import prod
from .onnx_read import dims_text

ONNX_OPS: dict = {}

#: input positions that configure an op (shapes, scales, bounds): never parameters
CONFIG = {"Reshape": {1}, "Resize": {1, 2, 3}, "Upsample": {1}, "Pad": {1, 2, 3}, "Clip": {1, 2},
          "Dropout": {1, 2}, "Slice": {1, 2, 3, 4}, "Expand": {1}, "Tile": {1}, "Squeeze": {1}, "Unsqueeze": {1},
          "Split": {1}, "TopK": {1}, "BatchNormalization": {3, 4}, "ConstantOfShape": {0}, "OneHot": {1, 2},
          "ReduceMean": {1}, "ReduceSum": {1}, "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1},
          "ReduceL2": {1}, "ReduceL1": {1}, "ReduceLogSumExp": {1}, "ReduceSumSquare": {1}}

#: elementwise ops with no MACs by convcalc's convention (activations, arithmetic, comparisons)
POINTWISE = frozenset("""Sub Div Pow Max Min Mean Where Equal Greater Less GreaterOrEqual LessOrEqual And Or Xor Not Mod
Neg Abs Exp Log Sqrt Reciprocal Floor Ceil Round Sign Erf Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh
Softplus Softsign Selu Celu Mish ThresholdedRelu Shrink HardSigmoid Clip IsNaN IsInf BitShift Trilu CumSum""".split())

#: shape-only ops: their output is the input re-indexed (no MACs)
SHAPE_ONLY = frozenset("""Reshape Transpose Squeeze Unsqueeze Slice Gather GatherElements GatherND Expand Tile Pad
DepthToSpace SpaceToDepth Flatten Concat Compress ScatterND ScatterElements ReverseSequence""".split())

_ACT = {"Relu": act.ReLU, "Sigmoid": act.Sigmoid, "Tanh": act.Tanh, "HardSwish": act.Hardswish}

_REDUCE = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin",
           "ReduceProd": "prod", "ReduceL2": "norm", "ReduceLogSumExp": "logsumexp", "ArgMax": "argmax",
           "ArgMin": "argmin"}


def register(*op_types):
    def attach(fn):
        for t in op_types:
            ONNX_OPS[t] = fn
        return fn

    return attach


def rule(ctx, node, a, ins, acts, ps):
    """(layer, input keys, implicit), or None: no rule (an unknown op)."""
    fn = ONNX_OPS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    if fn is None:
        return None
    try:
        return fn(ctx, node, a, ins, acts, ps)
    except (ConvcalcError, TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as e:
        ctx.warn(node, f"{node.op_type} is not counted: its sizes do not fit its rule ({e})")
        return None


def _keys(acts):
    return list(dict.fromkeys(t.key for t in acts))


def _one(acts, ins):
    """The single activation, when it is the node's first input (the usual data input)."""
    return acts[0] if len(acts) == 1 and ins and ins[0] is acts[0] else None


def _generic(ctx, node, acts, ps, macs=0, op=None):
    """A shape-given op: ``Pointwise`` with the constants' parameters, or ``Op`` when it multiplies."""
    params = ctx.new_params(ctx.params(node))
    if macs:
        return ops.Op(op or node.op_type, ps, macs, params), _keys(acts), False
    return ops.Pointwise(op or node.op_type, ps, params), _keys(acts), False


# -- windowed layers -----------------------------------------------------------------------------
def _pads(a, sizes, kernel, stride, dilation):
    """(lo, hi) per axis from ONNX's ``pads`` (all begins, then all ends) or ``auto_pad``."""
    nd = len(kernel)
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):  # TensorFlow's SAME; LOWER puts the odd pixel first
        pairs = conv.tf_same_pairs(sizes, kernel, stride, dilation)
        return pairs if auto == "SAME_UPPER" else tuple((hi, lo) for lo, hi in pairs)
    if auto == "VALID":
        return ((0, 0),) * nd
    p = list(a.get("pads", [0] * (2 * nd)))
    return tuple((p[i], p[i + nd]) for i in range(nd))


def _window(a, nd, kernel=None):
    k = tuple(a.get("kernel_shape", kernel or ()))
    return k, tuple(a.get("strides", [1] * nd)), tuple(a.get("dilations", [1] * nd))


@register("Conv")
def _conv(ctx, node, a, ins, acts, ps):
    fx = ctx.full.get(node.input[0])
    wdims = ctx.full.get(node.input[1]) if len(node.input) > 1 else None
    if fx is None or wdims is None or len(wdims) not in (3, 4, 5) or len(fx) != len(wdims):
        return None
    nd = len(wdims) - 2
    k, s, d = _window(a, nd, wdims[2:])
    bias = len(node.input) > 2 and bool(node.input[2])
    cls = {1: conv.Conv1d, 2: conv.Conv2d, 3: conv.Conv3d}[nd]
    try:
        layer = cls(fx[1], wdims[0], k, s, _pads(a, fx[2:], k, s, d), d, a.get("group", 1), bias)
        macs = layer.infer(tuple(fx[1:])).macs * fx[0]  # at batch 1 (fx[0] > 1: other images folded in)
    except (ConvcalcError, TypeError, ValueError):
        return None
    x = _one(acts, ins)
    if x is not None and x.drop and not ctx.is_act(ins[1]):  # the usual conv: constant weights
        return ctx.mapped(node, layer, [x], ps, ctx.params(node, (1, 2)))
    return _generic(ctx, node, acts, ps, macs)


@register("ConvTranspose")
def _conv_transpose(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    wdims = ctx.full.get(node.input[1]) if len(node.input) > 1 else None
    if x is None or wdims is None or not x.drop or len(wdims) < 3 or len(wdims) > 5:
        return None
    nd = len(wdims) - 2
    k, s, d = _window(a, nd, wdims[2:])
    g = a.get("group", 1)
    bias = len(node.input) > 2 and bool(node.input[2])
    cls = {1: conv.ConvTranspose1d, 2: conv.ConvTranspose2d, 3: conv.ConvTranspose3d}[nd]
    p = list(a.get("pads", [0] * (2 * nd)))
    plain = a.get("auto_pad", "NOTSET") in ("NOTSET", "VALID") and "output_shape" not in a and \
        all(p[i] == p[i + nd] for i in range(nd))
    params = ctx.params(node, (1, 2))
    if plain:
        try:
            layer = cls(x.ps[0], wdims[1] * g, k, s, tuple(p[:nd]), tuple(a.get("output_padding", [0] * nd)), g,
                        bias, d)
            if ctx.fits(layer, [x.ps], ps):
                return ctx.mapped(node, layer, [x], ps, params)
        except (ConvcalcError, TypeError):
            pass
    # asymmetric or automatic padding: the MACs depend on the input size only (DESIGN §2)
    layer = cls(x.ps[0], wdims[1] * g, k, s, 0, 0, g, bias, d)
    macs = layer.infer(x.ps).macs
    return ops.Op(node.op_type, ps, macs, ctx.new_params(params)), [x.key], False


@register("MaxPool", "AveragePool")
def _pool(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if x is None or not x.drop or len(x.ps) < 2:
        return _generic(ctx, node, acts, ps)
    nd = len(x.ps) - 1
    k, s, d = _window(a, nd)
    pads = _pads(a, x.ps[1:], k, s, d)
    layer = None
    if all(lo == hi for lo, hi in pads) and nd in (1, 2, 3):
        try:
            if node.op_type == "MaxPool":
                cls = (pool.MaxPool1d, pool.MaxPool2d, pool.MaxPool3d)[nd - 1]
                layer = cls(k, s, tuple(lo for lo, _ in pads), d, bool(a.get("ceil_mode", 0)))
            else:
                cls = (pool.AvgPool1d, pool.AvgPool2d, pool.AvgPool3d)[nd - 1]
                layer = cls(k, s, tuple(lo for lo, _ in pads), bool(a.get("ceil_mode", 0)),
                            bool(a.get("count_include_pad", 0)))
        except (ConvcalcError, TypeError):
            layer = None
    if layer is not None and ctx.fits(layer, [x.ps], ps):
        return layer, [x.key], False
    if layer is not None and layer.ceil_mode:
        try:
            want = dims_text(layer.infer(x.ps).shape)
        except ConvcalcError:
            want = None
        if want is not None:  # older opsets' inference keeps a window that starts in the padding
            ctx.warn(node, f"ONNX shape inference (opset {ctx.opset}) gives {dims_text(ps)}, but ceil_mode drops a "
                           f"last window that starts in the padding (ONNX's spec, PyTorch): {want}; ONNX's size is kept")
    return ops.Op(node.op_type, ps, 0), [x.key], False  # pooling: 0 MACs however it pads


@register("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    nd = len(x.ps) - 1 if x is not None else 0
    if x is None or not x.drop or nd not in (1, 2, 3):
        return _generic(ctx, node, acts, ps)
    avg = node.op_type == "GlobalAveragePool"
    cls = ((pool.AdaptiveAvgPool1d, pool.AdaptiveAvgPool2d, pool.AdaptiveAvgPool3d) if avg else
           (pool.AdaptiveMaxPool1d, pool.AdaptiveMaxPool2d, pool.AdaptiveMaxPool3d))[nd - 1]
    return _or_view(ctx, cls((1,) * nd if nd > 1 else 1), x, ps)


def _or_view(ctx, layer, x, ps, op="view"):
    if ctx.fits(layer, [x.ps], ps):
        return layer, [x.key], False
    return ops.View(ps, op=op), [x.key], False


# -- dense ---------------------------------------------------------------------------------------
@register("Gemm")
def _gemm(ctx, node, a, ins, acts, ps):
    full = [ctx.full.get(n) for n in node.input[:2]]
    if None in full:
        return None
    (m, k), (_, n) = (full[0][::-1] if a.get("transA") else full[0]), (full[1][::-1] if a.get("transB") else full[1])
    x, w = _one(acts, ins), ins[1]
    if x is not None and x.drop and not a.get("transA") and not ctx.is_act(w):
        c = ctx.full.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        bias = c is not None and prod(c) == n
        if c is None or bias:
            return ctx.mapped(node, linear.Linear(k, n, bias=bias), [x], ps, ctx.params(node, (1, 2)))
    return _generic(ctx, node, acts, ps, m * n * k)


@register("MatMul")
def _matmul(ctx, node, a, ins, acts, ps):
    fa, fb = ctx.full.get(node.input[0]), ctx.full.get(node.input[1])
    if fa is None or fb is None:
        return None
    x, y = ins[0], ins[1]
    macs = ops.MatMul().infer_all([fa, fb]).macs  # whole shapes at batch 1: one sample's MACs
    if len(acts) == 1 and x is acts[0] and x.drop and len(fb) == 2:
        return ctx.mapped(node, linear.Linear(fb[0], fb[1], bias=False), [x], ps, ctx.params(node, (1,)))
    if len(acts) == 2 and x is not y and ctx.fits(ops.MatMul(), [x.ps, y.ps], ps):
        return ops.MatMul(), [x.key, y.key], False
    return _generic(ctx, node, acts, ps, macs, op="MatMul")


@register("Einsum")
def _einsum(ctx, node, a, ins, acts, ps):
    eq = str(a.get("equation", "")).replace(" ", "")
    lhs = eq.split("->")[0].split(",")
    shapes = [ctx.full.get(n) for n in node.input]
    if "." in eq or len(lhs) != len(shapes) or None in shapes or any(len(t) != len(s) for t, s in zip(lhs, shapes)):
        return None
    sizes = {}
    for term, shape in zip(lhs, shapes):
        sizes.update(zip(term, shape))
    macs = prod(sizes.values()) if len(lhs) > 1 else 0  # every index combination: one multiply-add
    return _generic(ctx, node, acts, ps, macs)


# -- normalisation -------------------------------------------------------------------------------
@register("BatchNormalization", "InstanceNormalization")
def _batchnorm(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if x is None or not x.drop or not x.ps:
        return _generic(ctx, node, acts, ps)
    rank = len(x.ps)
    if node.op_type == "BatchNormalization":
        cls = {1: norm.BatchNorm1d, 2: norm.BatchNorm1d, 3: norm.BatchNorm2d, 4: norm.BatchNorm3d}.get(rank)
        make = (lambda: cls(x.ps[0], eps=a.get("epsilon", 1e-5))) if cls else None
    else:
        cls = {2: norm.InstanceNorm1d, 3: norm.InstanceNorm2d, 4: norm.InstanceNorm3d}.get(rank)
        make = (lambda: cls(x.ps[0], eps=a.get("epsilon", 1e-5), affine=True)) if cls else None
    if make is None:
        return _generic(ctx, node, acts, ps)
    return ctx.mapped(node, make(), [x], ps, ctx.params(node, (1, 2)))


@register("LayerNormalization")
def _layernorm(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    full = ctx.full.get(node.input[0])
    if x is None or full is None:
        return _generic(ctx, node, acts, ps)
    axis = a.get("axis", -1) % len(full)
    if x.drop and axis == 0:
        return _generic(ctx, node, acts, ps)
    bias = len(node.input) > 2 and bool(node.input[2])
    layer = norm.LayerNorm(tuple(full[axis:]), eps=a.get("epsilon", 1e-5), bias=bias)
    return ctx.mapped(node, layer, [x], ps, ctx.params(node, (1, 2)))


@register("GroupNormalization")
def _groupnorm(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if x is None or not x.drop or not x.ps or "num_groups" not in a:
        return _generic(ctx, node, acts, ps)
    layer = norm.GroupNorm(a["num_groups"], x.ps[0], eps=a.get("epsilon", 1e-5))
    return ctx.mapped(node, layer, [x], ps, ctx.params(node, (1, 2)))


@register("LRN")
def _lrn(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if x is None or not x.drop:
        return _generic(ctx, node, acts, ps)
    layer = norm.LocalResponseNorm(a["size"], alpha=a.get("alpha", 1e-4), beta=a.get("beta", 0.75),
                                   k=a.get("bias", 1.0))
    return _or_view(ctx, layer, x, ps, "LRN")


# -- activations ---------------------------------------------------------------------------------
@register("Relu", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "Elu", "Gelu", "Softmax", "LogSoftmax", "Dropout",
          "PRelu")
def _activation(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if x is None or not x.drop:
        return _generic(ctx, node, acts, ps)
    t = node.op_type
    rank = len(x.ps) + 1
    if t in _ACT:
        layer = _ACT[t]()
    elif t == "LeakyRelu":
        layer = act.LeakyReLU(a.get("alpha", 0.01))
    elif t == "Elu":
        layer = act.ELU(a.get("alpha", 1.0))
    elif t == "Gelu":
        layer = act.GELU(a.get("approximate", "none"))
    elif t in ("Softmax", "LogSoftmax"):
        dim = a.get("axis", -1 if ctx.opset >= 13 else 1) % rank
        if dim == 0:
            return _generic(ctx, node, acts, ps)
        layer = (act.Softmax if t == "Softmax" else act.LogSoftmax)(dim)
    elif t == "Dropout":
        layer = act.Dropout(a.get("ratio", 0.5))
    else:  # PRelu: one slope or one per channel
        slope = ctx.full.get(node.input[1])
        n = prod(slope) if slope is not None else 0
        if not (n == 1 or (x.ps and n == x.ps[0])):
            return _generic(ctx, node, acts, ps)
        return ctx.mapped(node, act.PReLU(n), [x], ps, ctx.params(node, (1,)))
    return _or_view(ctx, layer, x, ps, t)


@register(*POINTWISE)
def _pointwise(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if node.op_type == "Clip" and x is not None and x.drop and ctx.clip_bounds(node, a) == (0, 6):
        return _or_view(ctx, act.ReLU6(), x, ps, "Clip")
    return _generic(ctx, node, acts, ps)


@register("Add", "Mul", "Sum")
def _merge(ctx, node, a, ins, acts, ps):
    word = "mul" if node.op_type == "Mul" else "add"
    if len(acts) == len(ins) >= 2 and all(t.drop for t in acts) and len(_keys(acts)) == len(acts):
        layer = COMBINE[word](n=len(acts))
        if ctx.fits(layer, [t.ps for t in acts], ps):
            return layer, _keys(acts), True
    return _generic(ctx, node, acts, ps)


# -- shapes --------------------------------------------------------------------------------------
@register(*SHAPE_ONLY)
def _shape_only(ctx, node, a, ins, acts, ps):
    if ctx.params(node):  # a class token concatenated, an embedding table gathered: its parameters
        return _generic(ctx, node, acts, ps)
    t = node.op_type
    if t == "Concat" and len(acts) == len(ins) >= 2 and all(x.drop for x in acts):
        full = ctx.full.get(node.input[0])
        axis = a.get("axis", 0) % len(full) if full else 0
        if axis > 0:
            layer = COMBINE["cat"](n=len(acts), dim=axis - 1)
            if len(_keys(acts)) == len(acts) and ctx.fits(layer, [x.ps for x in acts], ps):
                return layer, _keys(acts), True
    x = acts[0]
    if len(_keys(acts)) > 1:
        return _generic(ctx, node, acts, ps, op=t)
    if x.drop and t == "Flatten" and a.get("axis", 1) == 1:
        return _or_view(ctx, linear.Flatten(1, -1), x, ps, "Flatten")
    if x.drop and t == "Reshape" and len(ps) == 1:
        return _or_view(ctx, linear.Flatten(1, -1), x, ps, "Reshape")
    if x.drop and t == "Transpose" and a.get("perm") and a["perm"][0] == 0:
        try:
            return _or_view(ctx, tensor.Permute(tuple(a["perm"])), x, ps, "Transpose")
        except ConvcalcError:
            pass
    return ops.View(ps, op=t), [x.key], False


@register("Resize", "Upsample")
def _resize(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    if x is None or not x.drop or len(x.ps) < 2 or len(ps) != len(x.ps) or ps[0] != x.ps[0]:
        return _generic(ctx, node, acts, ps, op=node.op_type)
    nd = len(x.ps) - 1
    mode = a.get("mode", "nearest")
    mode = {"linear": {1: "linear", 2: "bilinear", 3: "trilinear"}.get(nd), "cubic": "bicubic" if nd == 2 else None,
            "nearest": "nearest"}.get(mode)
    if mode is None:
        return _generic(ctx, node, acts, ps, op=node.op_type)
    align = True if a.get("coordinate_transformation_mode") == "align_corners" else None
    layer = tensor.Upsample(size=tuple(ps[1:]), mode=mode, align_corners=align if mode != "nearest" else None)
    return _or_view(ctx, layer, x, ps, node.op_type)


@register(*_REDUCE)
def _reduce(ctx, node, a, ins, acts, ps):
    x = _one(acts, ins)
    full = ctx.full.get(node.input[0])
    if x is None or full is None:
        return _generic(ctx, node, acts, ps)
    axes = a.get("axes")
    if node.op_type in ("ArgMax", "ArgMin"):
        axes = [a.get("axis", 0)]
    elif axes is None and len(node.input) > 1 and node.input[1]:
        axes = ctx.value(node.input[1])
        axes = None if axes is None else [int(v) for v in axes.reshape(-1)]
    keep = bool(a.get("keepdims", 1))
    if not axes:
        return ops.Op(node.op_type, ps, 0), [x.key], False  # over everything, the batch too
    dims = [d % len(full) for d in axes]
    mapped = [d - 1 if x.drop else d for d in dims]
    if any(d < 0 for d in mapped):
        return ops.Op(node.op_type, ps, 0), [x.key], False
    layer = ops.Reduce(_REDUCE[node.op_type], mapped, keep)
    if ctx.fits(layer, [x.ps], ps):
        return layer, [x.key], False
    return ops.Op(node.op_type, ps, 0), [x.key], False
