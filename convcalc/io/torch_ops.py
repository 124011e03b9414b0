"""What convcalc layer a torch module or a functional op becomes (for ``from_torch``).

:data:`TORCH_MODULES` is keyed by the torch module class (looked up along the MRO):
``TORCH_MODULES.register(MyModule)(build)`` with ``build(module, path) -> Layer``. torch is optional,
so the built-in entries are registered on first use (:func:`torch_modules`). Functional ops and
tensor methods (``F.relu``, ``x.flatten``, ``torch.cat``...) are the tables of :func:`functions`.
"""
from __future__ import annotations

from ..errors import ConvcalcError
from ..layers import KINDS, act, conv, linear, norm, pool, tensor
from ..registry import Registry

TORCH_MODULES = Registry("torch module mapping")
_BUILTINS_DONE = []


class TorchError(ConvcalcError):
    """A torch module convcalc cannot represent (an unsupported op or graph)."""


def _torch():
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise ConvcalcError("this needs PyTorch: pip install 'convcalc[torch]'") from None
    return torch


def _arg(n, i, key, default=None):
    """Argument ``i`` of fx node ``n``, positional or by keyword ``key``."""
    return n.args[i] if len(n.args) > i else n.kwargs.get(key, default)


def _tup(v):
    if isinstance(v, (list, tuple)):
        return tuple(_tup(x) for x in v)
    return v


def has_param(m, name: str) -> bool:
    """Whether module ``m`` holds parameter ``name`` (not None), read from its own table: while
    fx traces, ``m.bias`` goes through fx's attribute hook, which searches the whole model's
    parameters (quadratic in the size of the model)."""
    params = m.__dict__.get("_parameters", {})
    return params[name] is not None if name in params else getattr(m, name, None) is not None


def module_layer(m, path: str):
    """The convcalc layer (or block of layers) for one torch leaf module; None where its builder
    finds the module's configuration is not one the engine expresses exactly."""
    kind = getattr(m, "convcalc_kind", None)
    if kind is not None:  # helper classes of an exported file
        return KINDS[kind](**dict(getattr(m, "convcalc_args", {})))
    build = torch_modules().get(m, None)
    if build is None:
        name = type(m).__name__
        raise TorchError(f"{path or 'model'}: unsupported module {name} ({type(m).__module__}.{name}); "
                         f"convcalc cannot count it")
    return build(m, path)


def _no_indices(m, path):
    if getattr(m, "return_indices", False):
        raise TorchError(f"{path}: {type(m).__name__}(return_indices=True) is not supported")


def _conv(cls):
    def build(m, path):
        kw = dict(in_channels=m.in_channels, out_channels=m.out_channels, kernel_size=_tup(m.kernel_size),
                  stride=_tup(m.stride), padding=m.padding if isinstance(m.padding, str) else _tup(m.padding),
                  dilation=_tup(m.dilation), groups=m.groups, bias=has_param(m, "bias"), padding_mode=m.padding_mode)
        if issubclass(cls, conv._ConvTransposeNd):
            kw["output_padding"] = _tup(m.output_padding)
        return cls(**kw)

    return build


def _maxpool(cls):
    def build(m, path):
        _no_indices(m, path)
        return cls(kernel_size=_tup(m.kernel_size), stride=_tup(m.stride), padding=_tup(m.padding),
                   dilation=_tup(m.dilation), ceil_mode=m.ceil_mode)

    return build


def _avgpool(cls):
    return lambda m, path: cls(kernel_size=_tup(m.kernel_size), stride=_tup(m.stride), padding=_tup(m.padding),
                               ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad,
                               divisor_override=getattr(m, "divisor_override", None))


def _adaptive(cls):
    def build(m, path):
        _no_indices(m, path)
        return cls(output_size=_tup(m.output_size))

    return build


def _norm(cls):
    return lambda m, path: cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                               track_running_stats=m.track_running_stats)


def _upsample(m, path):
    size, scale = _tup(m.size), _tup(m.scale_factor)
    return tensor.Upsample(size=size, scale_factor=None if size is not None else scale, mode=m.mode,
                           align_corners=m.align_corners)


def _register_builtins(nn) -> None:
    same = {  # torch class -> convcalc class, by the family of their constructor arguments
        _conv: ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"),
        _maxpool: ("MaxPool1d", "MaxPool2d", "MaxPool3d"), _avgpool: ("AvgPool1d", "AvgPool2d", "AvgPool3d"),
        _adaptive: ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
                    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"),
        _norm: ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"),
    }
    import convcalc.layers as L

    for family, names in same.items():
        for n in names:
            TORCH_MODULES.register(getattr(nn, n))(family(getattr(L, n)))
    reg = TORCH_MODULES.register
    reg(nn.Linear)(lambda m, path: linear.Linear(m.in_features, m.out_features, bias=has_param(m, "bias")))
    reg(nn.LayerNorm)(lambda m, path: norm.LayerNorm(tuple(m.normalized_shape), eps=m.eps,
                                                     elementwise_affine=m.elementwise_affine,
                                                     bias=has_param(m, "bias")))
    reg(nn.GroupNorm)(lambda m, path: norm.GroupNorm(m.num_groups, m.num_channels, eps=m.eps, affine=m.affine))
    reg(nn.LocalResponseNorm)(lambda m, path: norm.LocalResponseNorm(m.size, alpha=m.alpha, beta=m.beta, k=m.k))
    reg(nn.LeakyReLU)(lambda m, path: act.LeakyReLU(m.negative_slope))
    reg(nn.ELU)(lambda m, path: act.ELU(m.alpha))
    reg(nn.PReLU)(lambda m, path: act.PReLU(m.num_parameters))
    reg(nn.GELU)(lambda m, path: act.GELU(m.approximate))
    reg(nn.Softmax)(lambda m, path: act.Softmax(m.dim))
    reg(nn.LogSoftmax)(lambda m, path: act.LogSoftmax(m.dim))
    for n in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d"):
        reg(getattr(nn, n))(lambda m, path, cls=getattr(act, n): cls(m.p))
    reg(nn.Flatten)(lambda m, path: linear.Flatten(m.start_dim, m.end_dim))
    reg(nn.Upsample)(_upsample)
    reg(nn.ChannelShuffle)(lambda m, path: tensor.ChannelShuffle(m.groups))
    for n in ("ReLU", "ReLU6", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "SiLU", "Identity"):
        reg(getattr(nn, n))(lambda m, path, cls=getattr(act, n): cls())


def torch_modules() -> Registry:
    """The registry, with the built-in torch.nn entries (registered once, when torch is first needed)."""
    if not _BUILTINS_DONE:
        _register_builtins(_torch().nn)
        _BUILTINS_DONE.append(True)
    return TORCH_MODULES


def registered(m) -> bool:
    """A module convcalc maps as one layer: the class that defines its forward is registered
    (a subclass with a forward of its own, like torchvision's LayerNorm2d, is traced into)."""
    modules = dict(torch_modules().items())
    mro = type(m).__mro__
    owner = next((c for c in mro if "forward" in c.__dict__), type(m))
    mapped = next((c for c in mro if c in modules), None)
    return mapped is not None and issubclass(mapped, owner)


# -- functional ops ----------------------------------------------------------------------------------
def _bind(names, args, kwargs, defaults=None):
    out = dict(defaults or {})
    for n, a in zip(names, args):
        out[n] = a
    out.update(kwargs)
    return out


def functions():
    torch = _torch()
    F = torch.nn.functional
    import operator

    unary = {  # target -> (layer builder(bound args) , argument names after the input)
        F.relu: (lambda a: act.ReLU(), ()), torch.relu: (lambda a: act.ReLU(), ()),
        F.relu6: (lambda a: act.ReLU6(), ()), F.hardswish: (lambda a: act.Hardswish(), ()),
        F.hardsigmoid: (lambda a: act.Hardsigmoid(), ()), torch.sigmoid: (lambda a: act.Sigmoid(), ()),
        F.sigmoid: (lambda a: act.Sigmoid(), ()), torch.tanh: (lambda a: act.Tanh(), ()),
        F.tanh: (lambda a: act.Tanh(), ()), F.silu: (lambda a: act.SiLU(), ()),
        F.gelu: (lambda a: act.GELU(a.get("approximate", "none")), ()),
        F.leaky_relu: (lambda a: act.LeakyReLU(a.get("negative_slope", 0.01)), ("negative_slope",)),
        F.elu: (lambda a: act.ELU(a.get("alpha", 1.0)), ("alpha",)),
        F.dropout: (lambda a: act.Dropout(a.get("p", 0.5)), ("p",)),
        F.softmax: (lambda a: act.Softmax(a.get("dim")), ("dim",)),
        F.log_softmax: (lambda a: act.LogSoftmax(a.get("dim")), ("dim",)),
        torch.flatten: (lambda a: linear.Flatten(a.get("start_dim", 0), a.get("end_dim", -1)),
                        ("start_dim", "end_dim")),
        F.adaptive_avg_pool1d: (lambda a: pool.AdaptiveAvgPool1d(_tup(a["output_size"])), ("output_size",)),
        F.adaptive_avg_pool2d: (lambda a: pool.AdaptiveAvgPool2d(_tup(a["output_size"])), ("output_size",)),
        F.adaptive_avg_pool3d: (lambda a: pool.AdaptiveAvgPool3d(_tup(a["output_size"])), ("output_size",)),
        F.adaptive_max_pool2d: (lambda a: pool.AdaptiveMaxPool2d(_tup(a["output_size"])), ("output_size",)),
        F.max_pool1d: (lambda a: _fpool(pool.MaxPool1d, a), ("kernel_size", "stride", "padding", "dilation",
                                                             "ceil_mode")),
        F.max_pool2d: (lambda a: _fpool(pool.MaxPool2d, a), ("kernel_size", "stride", "padding", "dilation",
                                                             "ceil_mode")),
        F.max_pool3d: (lambda a: _fpool(pool.MaxPool3d, a), ("kernel_size", "stride", "padding", "dilation",
                                                             "ceil_mode")),
        F.avg_pool2d: (lambda a: _fpool(pool.AvgPool2d, a), ("kernel_size", "stride", "padding", "ceil_mode",
                                                             "count_include_pad", "divisor_override")),
        F.avg_pool1d: (lambda a: _fpool(pool.AvgPool1d, a), ("kernel_size", "stride", "padding", "ceil_mode",
                                                             "count_include_pad")),
        torch.permute: (lambda a: tensor.Permute(_tup(a["dims"])), ("dims",)),
        torch.channel_shuffle: (lambda a: tensor.ChannelShuffle(a["groups"]), ("groups",)),
        F.interpolate: (lambda a: tensor.Upsample(size=_tup(a.get("size")), scale_factor=a.get("scale_factor")
                                                  if a.get("size") is None else None,
                                                  mode=a.get("mode", "nearest"), align_corners=a.get("align_corners")),
                        ("size", "scale_factor", "mode", "align_corners")),
    }
    if hasattr(F, "channel_shuffle"):
        unary[F.channel_shuffle] = unary[torch.channel_shuffle]
    aten = torch.ops.aten  # the ATen ops of an exported graph that take the same arguments
    for f, op in ((F.relu, aten.relu.default), (F.sigmoid, aten.sigmoid.default), (F.tanh, aten.tanh.default),
                  (F.silu, aten.silu.default), (F.hardswish, aten.hardswish.default),
                  (F.hardsigmoid, aten.hardsigmoid.default), (F.gelu, aten.gelu.default),
                  (F.leaky_relu, aten.leaky_relu.default), (F.dropout, aten.dropout.default),
                  (F.softmax, aten.softmax.int), (F.log_softmax, aten.log_softmax.int),
                  (torch.flatten, aten.flatten.using_ints), (torch.permute, aten.permute.default),
                  (F.adaptive_avg_pool1d, aten.adaptive_avg_pool1d.default),
                  (F.adaptive_avg_pool2d, aten.adaptive_avg_pool2d.default),
                  (F.adaptive_avg_pool3d, aten.adaptive_avg_pool3d.default), (F.max_pool1d, aten.max_pool1d.default),
                  (F.max_pool2d, aten.max_pool2d.default), (F.max_pool3d, aten.max_pool3d.default),
                  (F.avg_pool1d, aten.avg_pool1d.default), (F.avg_pool2d, aten.avg_pool2d.default)):
        unary[op] = unary[f]
        inplace = getattr(aten, op._opname + "_", None)  # relu_, hardswish_: the same layer
        if inplace is not None and hasattr(inplace, "default"):
            unary[inplace.default] = unary[f]
    methods = {
        "relu": (lambda a: act.ReLU(), ()), "sigmoid": (lambda a: act.Sigmoid(), ()),
        "tanh": (lambda a: act.Tanh(), ()),
        "softmax": (lambda a: act.Softmax(a.get("dim")), ("dim",)),
        "flatten": (lambda a: linear.Flatten(a.get("start_dim", 0), a.get("end_dim", -1)), ("start_dim", "end_dim")),
        "permute": (lambda a: tensor.Permute(_tup(a["dims"][0] if len(a["dims"]) == 1 and
                                                  isinstance(a["dims"][0], (list, tuple)) else a["dims"])), "*dims"),
    }
    merges = {operator.add: "add", torch.add: "add", operator.mul: "mul", torch.mul: "mul", torch.cat: "cat",
              torch.concat: "cat", "add": "add", "mul": "mul"}
    passthrough = {"contiguous", "clone", "detach", "float"}
    return unary, methods, merges, passthrough


def _fpool(cls, a):
    kw = {k: _tup(v) for k, v in a.items() if k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                                                     "count_include_pad", "divisor_override")}
    if kw.get("stride") in (None, ()):
        kw.pop("stride", None)
    if a.get("return_indices"):
        raise TorchError("pooling with return_indices=True is not supported")
    return cls(**kw)


# -- what every other op is: by normalized name (torch.mean, Tensor.mean and x.mean_ are "mean") --------
#: ops that only move elements: rows with no MACs
SHAPE_ONLY = frozenset("""view reshape flatten permute transpose t contiguous clone detach float half double bfloat16
to type type_as unsqueeze squeeze expand expand_as repeat unflatten movedim moveaxis narrow select getitem roll
flip chunk split unbind tensor_split rearrange pad zero_pad2d identity cat concat concatenate stack hstack vstack
swapaxes swapdims index_select gather take_along_dim new_empty repeat_interleave tile view_as reshape_as
flatten_parameters einops.repeat dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout
stochastic_depth _patch_merging_pad""".split())
#: elementwise ops and normalizations: no MACs by convcalc's convention (DESIGN §2)
ELEMENTWISE = frozenset("""add iadd radd sub isub rsub mul imul rmul truediv itruediv div rtruediv floordiv
ifloordiv mod neg pos pow rpow sqrt rsqrt exp exp2 expm1 log log2 log10 log1p abs clamp clamp_min clamp_max clip
relu relu6 gelu silu sigmoid tanh softmax log_softmax hardswish hardsigmoid hardtanh leaky_relu elu selu celu mish
softplus softsign erf erfc where masked_fill layer_norm batch_norm group_norm instance_norm local_response_norm
normalize rms_norm sin cos reciprocal square maximum minimum lt le gt ge eq ne logical_not logical_and
logical_or bitwise_not sign round floor ceil trunc fill lerp addcmul addcdiv nan_to_num glu prelu rrelu
threshold logsigmoid softmin hardshrink softshrink tanhshrink interpolate upsample upsample_nearest
upsample_bilinear adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d
adaptive_max_pool2d adaptive_max_pool3d avg_pool1d avg_pool2d avg_pool3d max_pool1d max_pool2d max_pool3d
pixel_shuffle pixel_unshuffle channel_shuffle cumsum cumprod sort topk einops.reduce""".split())
#: reductions over dims: convcalc's ``reduce`` rows (no MACs)
REDUCE = frozenset("mean sum amax amin max min prod std var norm logsumexp nanmean nansum median".split())
#: ops that make a tensor from nothing (constants)
CREATE = frozenset("""arange zeros ones full empty tensor zeros_like ones_like full_like empty_like new_zeros
new_ones new_full new_tensor linspace eye rand randn randint rand_like randn_like tril triu meshgrid
""".split())
#: ops that multiply: exact MAC rules on full torch shapes (see :func:`macs_rule`)
MATMUL = frozenset("matmul mm bmm baddbmm addmm addbmm einsum linear bilinear scaled_dot_product_attention "
                   "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d mv dot outer "
                   "MultiheadAttention shifted_window_attention".split())

#: ATen ops of an exported graph under the name of the torch function they come from
ATEN = {"_unsafe_view": "view", "view_copy": "view", "slice": "narrow", "slice_copy": "narrow", "alias": "identity",
        "_to_copy": "to", "lift_fresh_copy": "clone", "permute_copy": "permute", "expand_copy": "expand",
        "unsqueeze_copy": "unsqueeze", "squeeze_copy": "squeeze", "select_copy": "select", "_softmax": "softmax",
        "_log_softmax": "log_softmax", "_native_batch_norm_legit_no_training": "batch_norm", "native_layer_norm":
        "layer_norm", "max_pool2d_with_indices": "max_pool2d", "_adaptive_avg_pool2d": "adaptive_avg_pool2d",
        "native_dropout": "dropout", "sym_size": "size"}

OPERATORS = {"iadd": "add", "radd": "add", "isub": "sub", "imul": "mul", "rmul": "mul", "itruediv": "truediv",
             "ifloordiv": "floordiv", "imatmul": "matmul", "__matmul__": "matmul"}


def op_name(node, module=None) -> str:
    """The normalized name of an fx node's op (module class name for a module call)."""
    if node.op == "call_module":
        return type(module).__name__
    t = node.target
    if hasattr(t, "overloadpacket") and isinstance(getattr(t, "_opname", None), str):  # aten.mean.dim: "mean"
        name = t._opname.rstrip("_") if not t._opname.startswith("_") else t._opname
        return ATEN.get(name, OPERATORS.get(name, name))
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    mod = "" if isinstance(t, str) else (getattr(t, "__module__", "") or "")
    if mod.startswith("einops"):
        return f"einops.{name}" if name in ("repeat", "reduce") else name
    name = name.strip("_") if name.startswith("__") else name
    name = name[:-1] if name.endswith("_") and not name.endswith("__") else name
    return OPERATORS.get(name, name)


def _letters(eq, n):
    lhs, _, out = eq.replace(" ", "").partition("->")
    return lhs.split(","), out


def _einsum_macs(eq, shapes) -> int:
    """MACs of an einsum, contracting left to right: each step costs the product of the sizes
    of every index its two operands carry."""
    ins, out = _letters(eq, len(shapes))
    if "." in eq or len(ins) != len(shapes):
        return None
    size = {}
    for letters, shape in zip(ins, shapes):
        for c, s in zip(letters, shape):
            size[c] = max(size.get(c, 1), s)
    if len(ins) < 2:
        return 0
    total, cur = 0, set(ins[0])
    for k, nxt in enumerate(ins[1:], start=1):
        both = cur | set(nxt)
        total += _prod(size[c] for c in both)
        later = set(out).union(*[set(x) for x in ins[k + 1:]]) if k + 1 < len(ins) else set(out)
        cur = {c for c in both if c in later}
    return total


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= int(x)
    return p


def _mm(a, b) -> int:
    a, b = tuple(a), tuple(b)
    a2, b2 = (a if len(a) > 1 else (1, *a)), (b if len(b) > 1 else (*b, 1))
    batch = [max(x, y) for x, y in zip(((1,) * (len(b2) - len(a2)) + a2[:-2]) if len(b2) > len(a2) else a2[:-2],
                                       ((1,) * (len(a2) - len(b2)) + b2[:-2]) if len(a2) > len(b2) else b2[:-2])]
    return _prod(batch) * a2[-2] * b2[-1] * a2[-1]


def macs_rule(name, args, kwargs, out, module=None):
    """Exact MACs of one call on full (batched) torch values, or None when the op has no rule."""
    sh = [tuple(a.shape) if hasattr(a, "shape") else None for a in args]
    if name in ("matmul", "mm", "bmm", "mv", "dot", "outer"):
        return _mm(sh[0], sh[1]) if name != "outer" else _prod(sh[0]) * _prod(sh[1])
    if name in ("baddbmm", "addmm", "addbmm"):
        return _mm(sh[1], sh[2])
    if name == "linear":
        w = args[1] if len(args) > 1 else kwargs.get("weight")
        return _prod(sh[0][:-1]) * _prod(w.shape)
    if name == "bilinear":
        return _prod(sh[0][:-1]) * _prod(args[2].shape)
    if name in ("conv1d", "conv2d", "conv3d"):
        return _prod(out.shape) * _prod(args[1].shape[1:])
    if name.startswith("conv_transpose"):
        return _prod(sh[0]) * _prod(args[1].shape[1:])
    if name == "einsum":
        eq = args[0]
        ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
        return _einsum_macs(eq, [tuple(o.shape) for o in ops])
    if name == "scaled_dot_product_attention":
        q, k, v = args[0], args[1] if len(args) > 1 else kwargs["key"], args[2] if len(args) > 2 else kwargs["value"]
        return _prod(out.shape[:-1]) * k.shape[-2] * (q.shape[-1] + v.shape[-1])
    if name == "MultiheadAttention":
        return _mha_macs(module, args, kwargs)
    if name == "shifted_window_attention":
        return _swin_macs(args, kwargs)
    return None


def _swin_macs(args, kwargs):
    """torchvision's ``shifted_window_attention`` (Swin v1/v2, a function marked with fx.wrap):
    the qkv and output projections over the padded map, and the two matmuls in each window."""
    x, qkv_w, proj_w = args[0], args[1], args[2]
    ws = args[4] if len(args) > 4 else kwargs["window_size"]
    b, h, w, c = x.shape
    ph, pw = -(-h // ws[0]) * ws[0], -(-w // ws[1]) * ws[1]
    n = ws[0] * ws[1]
    windows = b * (ph * pw // n)
    return b * ph * pw * (qkv_w.numel() + proj_w.numel()) + windows * n * n * c * 2


def _mha_macs(m, args, kwargs):
    """nn.MultiheadAttention: the q/k/v and output projections and the two matmuls."""
    q = args[0]
    k = args[1] if len(args) > 1 else kwargs.get("key", q)
    e = m.embed_dim
    tq, tk = q.numel() // e, k.numel() // m.kdim
    s = k.shape[1] if (getattr(m, "batch_first", False) and k.dim() == 3) else k.shape[0]
    return tq * e * e + tk * m.kdim * e + tk * m.vdim * e + 2 * tq * s * e + tq * e * e
