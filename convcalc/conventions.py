"""Other tools' operation counts, so a user can see why six tools print six AlexNet totals.

convcalc counts MACs of convolution, linear and attention-matmul weights only (DESIGN §2).
Each peer counts differently; ``count(report, name)`` reproduces a peer's total from the same
rows, by the formulas in that tool's source, read in these versions (the ``peers`` extra pins
them; README: "Counting conventions"):

* ``torchvision`` — the "GFLOPS" column of its weights tables: the same as convcalc.
* ``fvcore`` 0.1.5.post20221221 — ``FlopCountAnalysis(...).total()``: jit-traced aten ops
  (fvcore/nn/jit_handles.py), one "flop" per MAC for conv / linear / matmul; eval BatchNorm 2 per
  element (1 without affine); Layer/Group/InstanceNorm 5 per element (4 without affine);
  ``adaptive_avg_pool2d`` 1 per input element; 2-d nearest upsampling 1, bilinear 4 per output
  element; everything else (pools, activations, 1-d/3-d variants) 0.
* ``ptflops`` 0.7.5, pytorch backend — ``get_model_complexity_info(..., backend="pytorch")``:
  module forward hooks keyed by *exact* type (ptflops/pytorch_ops.py ``MODULES_MAPPING``) **plus**
  patched ``torch.nn.functional`` calls (``FUNCTIONAL_MAPPING``), which fire again inside the
  modules' own forward: ReLU, ELU, PReLU, GELU and every pooling are counted twice, SiLU and
  softmax once (function only), ReLU6 and LeakyReLU once (module only: their forwards call
  unpatched functions).
* ``torchinfo`` 1.8.0 — "Total mult-adds" (torchinfo/layer_info.py ``calculate_macs``), summed
  over *leaf* modules that ran: a module's own ``weight``/``bias`` elements times the output
  positions (conv, any class named ``*Conv*``) or times the batch (every other leaf).
* ``thop`` (ultralytics-thop 2.2.3) — ``profile()``: rules by class, through the MRO
  (thop/profile.py ``register_hooks``, thop/vision/basic_hooks.py), plus matmul-like functions
  run outside a module that has a rule (``functional_hooks``).

A row whose layer the model's PyTorch source applies as a function (``layer.functional``: set by
``from_torch`` for call_function nodes, and by the zoo where torchvision calls ``F.relu``) is
invisible to module hooks: thop and torchinfo count it 0, ptflops only through its patched
functions. Likewise ``LayerNorm2d.channels_last`` marks a norm the source writes as ``nn.LayerNorm``
(Swin, MaxViT), which ptflops hooks, unlike torchvision's ``LayerNorm2d`` subclass (ConvNeXt).
tests/test_peers.py runs the four tools on every zoo model and requires these totals exactly.
Counts are per batch (the rows' MACs already include ``--batch``; ptflops itself prints per image).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

from . import layers as L
from .registry import Registry
from .sym import ceildiv, floordiv, is_sym, prod, simplify

CONVENTIONS = ("convcalc", "torchvision", "fvcore", "ptflops", "torchinfo", "thop")

#: layer class -> {convention: ops(row, batch)}; a convention a kind does not name counts 0.
#: Looked up by the layer's class (MRO), so a subclass must be registered when a tool keys by exact type.
ROWS = Registry("convention rows")


def rules(*classes, **by_convention):
    ROWS.register(*classes)(by_convention)


# -- shared pieces --------------------------------------------------------------------------------

def _n_in(r, b):
    return simplify(prod(r.input) * b)


def _n_out(r, b):
    return simplify(prod(r.output) * b)


def _affine(layer) -> bool:
    a = layer.args()
    return bool(a.get("affine", a.get("elementwise_affine", False)))


def _functional(r) -> bool:
    return bool(getattr(r.layer, "functional", False))


def _module(rule):
    """Counted by a module hook: 0 when the model applies the layer as a function."""
    @functools.wraps(rule)
    def counted(r, b):
        return 0 if _functional(r) else rule(r, b)

    return counted


def _macs(r, b):
    return r.macs


def _with_bias(r, b):
    """ptflops conv / transposed conv / linear: MACs + one add per output element with a bias.
    (conv_flops_counter_hook: prod(k) * C_in * C_out/g per position, over the *input* positions
    with ``transpose=True``, which is convcalc's transposed-conv MACs; linear_flops_counter_hook.)"""
    return simplify(r.macs + (_n_out(r, b) if r.layer.args().get("bias") else 0))


def _norm(affine, plain):
    return lambda r, b: simplify(_n_in(r, b) * (affine if _affine(r.layer) else plain))


# -- ptflops 0.7.5 --------------------------------------------------------------------------------
# module hook (exact type) + patched F.<op> called inside that module's forward (torch 2.x):
#   nn.ReLU -> F.relu, nn.ELU -> F.elu, nn.PReLU -> F.prelu, nn.GELU -> F.gelu, pools -> F.*pool*,
#   nn.Upsample -> F.interpolate: counted by both (x2); nn.ReLU6 -> F.hardtanh, nn.LeakyReLU ->
#   F.leaky_relu: hook only; nn.SiLU -> F.silu, nn.Softmax -> F.softmax: function only.
#   relu_flops_counter_hook / pool_flops_counter_hook / _numel_functional_flops_hook: one per element.

def _pt(module, function):
    """ptflops: ``module`` elements per module call (hook + patched function inside it), ``function``
    per functional call (the patched function alone)."""
    return lambda r, b: simplify(_n_in(r, b) * (function if _functional(r) else module))


@_module  # F.batch_norm / F.layer_norm are not patched
def _pt_bn(r, b):
    """bn_flops_counter_hook (BatchNorm, InstanceNorm, GroupNorm, LayerNorm): input elements,
    x2 when the module has an ``affine`` attribute that is true (LayerNorm has none)."""
    affine = getattr(r.layer, "affine", False) and not isinstance(r.layer, L.LayerNorm)
    return simplify(_n_in(r, b) * (2 if affine else 1))


def _pt_upsample(r, b):
    """upsample_flops_counter_hook (output elements) + the patched F.interpolate inside nn.Upsample
    (_interpolate_functional_flops_hook: output elements for a ``size``, but for a ``scale_factor``
    the input elements times the product of a tuple's truncated factors, or ``scale ** spatial dims`` of
    one number, not floored: 1.5x of 37 counts 55.5 where torch makes 55)."""
    lay, module = r.layer, 0 if _functional(r) else _n_out(r, b)
    f = lay.scale_factor
    if f is None:
        fn = _n_out(r, b)
    elif isinstance(f, (list, tuple)):
        fn = _n_in(r, b) * prod([int(x) for x in f])  # np.prod(f, dtype=np.int64): each factor truncated
    else:
        fn = _n_in(r, b) * Fraction(float(f)) ** (len(r.input) - 1)
    return simplify(module + fn)


def _pt_lrn(r, b):
    """nn.LocalResponseNorm has no hook, but F.local_response_norm (torch 2.x) calls patched ops:
    ``input.mul(input)``, ``div.mul(alpha)``, ``.add(k)`` (one per element each) and ``avg_pool2d/3d``
    over the squares padded to ``C + size - 1`` channels (one per padded element)."""
    padded = (r.input[0] + r.layer.args()["size"] - 1) * prod(r.input[1:])
    return simplify((3 * prod(r.input) + padded) * b)


# -- thop (ultralytics-thop 2.2.3) ----------------------------------------------------------------

def _windows(size, out, k, s, p, include_pad, ceil_mode):
    """Summed window lengths along one axis: count_avgpool's loop, windows clipped to [-p, L+p)
    (padding counted) or to [0, L)."""
    if not any(is_sym(v) for v in (size, out, k, s, p)):
        lower, upper = (-p, size + p) if include_pad else (0, size)
        return sum(max(min(i * s - p + k, upper) - max(i * s - p, lower), 0) for i in range(out))
    if include_pad and not ceil_mode:  # floor mode: no window leaves [-p, L+p), the output formula's range
        return simplify(out * k)
    raise _symbolic("thop's average-pool count with ceil_mode or count_include_pad=False")


def _symbolic(what):
    from .errors import ConvcalcError

    return ConvcalcError(f"{what} needs a numeric input size")


def _thop_avgpool(r, b):
    """count_avgpool: every window's real length (padding counted or not, as the layer), summed,
    per channel; plus one divide per output element."""
    lay = r.layer
    windows = 1
    for size, out, k, s, p in zip(r.input[1:], r.output[1:], lay.kernel_size, lay.stride, lay.padding):
        windows *= _windows(size, out, k, s, p, lay.count_include_pad, lay.ceil_mode)
    return simplify((r.input[0] * windows + prod(r.output)) * b)


def _thop_adaptive(r, b):
    """count_adap_avgpool: window j of an axis spans [floor(j*I/O), ceil((j+1)*I/O)); the summed
    window lengths, multiplied over the axes (channels count once each), plus one per output."""
    n = r.input[0]
    for i, o in zip(r.input[1:], r.output[1:]):
        n *= o if i == o else sum(ceildiv((j + 1) * i, o) - floordiv(j * i, o) for j in range(o))
    return simplify((n + prod(r.output)) * b)


def _thop_softmax(r, b):
    """count_softmax: per softmax row of ``nf`` elements exp + (nf-1) adds + nf divides
    (calculate_softmax); LogSoftmax adds one per row."""
    shape = (b, *r.input)
    dim = r.layer.args().get("dim")
    if dim is None:  # torch's deprecated implicit dim
        dim = 0 if len(shape) in (0, 1, 3) else 1
    nf = shape[dim]
    rows = floordiv(prod(shape), nf)  # exact: nf divides the element count
    extra = rows if isinstance(r.layer, L.LogSoftmax) else 0
    return simplify(rows * (3 * nf - 1) + extra)


#: count_upsample: ops per output element by mode
THOP_UPSAMPLE = {"nearest": 0, "nearest-exact": 0, "linear": 5, "bilinear": 11, "bicubic": 259, "trilinear": 31}


def _thop_upsample(r, b):
    return simplify(_n_out(r, b) * THOP_UPSAMPLE.get(r.layer.mode, 0))


# -- fvcore ---------------------------------------------------------------------------------------

def _fv_adaptive(r, b):
    """aten::adaptive_avg_pool2d only (elementwise_flop_counter(1, 0)); the 1-d and 3-d ops have no handle."""
    return _n_in(r, b) if isinstance(r.layer, L.AdaptiveAvgPool2d) else 0


def _fv_upsample(r, b):
    """aten::upsample_nearest2d 1, aten::upsample_bilinear2d 4 per output element; no other mode or rank."""
    if len(r.input) != 3:
        return 0
    return simplify(_n_out(r, b) * {"nearest": 1, "bilinear": 4}.get(r.layer.mode, 0))


# -- torchinfo 1.8.0 ------------------------------------------------------------------------------

@_module
def _ti_conv(r, b):
    """``weight``/``bias`` elements x batch x output positions (class name contains "Conv")."""
    return simplify(r.params * prod(r.output[1:]) * b)


@_module
def _ti_params(r, b):
    """Any other leaf module's own ``weight``/``bias`` elements x batch (output_size[0])."""
    return simplify(r.params * b)


# -- attention (torchvision's forms: ViT's nn.MultiheadAttention with need_weights=False, Swin's
#    functional shifted_window_attention, MaxViT's RelativePositionalMultiHeadAttention) -----------

def _mha_dims(r):
    lay = r.layer
    L, E = r.input[0], lay.embed_dim
    app = int(lay.add_bias_kv) + int(lay.add_zero_attn)
    return L, E, lay.num_heads, app


def _pt_mha(r, b):
    """multihead_attention_counter_hook: q scaling L*E, q/k/v projections 3*L*E*E (+ 3*L*E in_proj
    bias), per head L*S*(E/h) twice and L*S softmax, output projection L*E*(E+1); S = key length.
    Inside, F.multi_head_attention_forward calls only unpatched functions (need_weights=False)."""
    L, E, h, _ = _mha_dims(r)
    bias = 3 * L * E if r.layer.bias else 0
    return simplify(b * (L * E + 3 * L * E * E + bias + 2 * L * L * E + h * L * L + L * E * (E + 1)))


def _thop_mha(r, b):
    """count_multihead_attention: projections E*(2*L*E + (S-app)*(kdim+vdim)), attention 2*L*S*E,
    softmax per (head, query) row of S: 3*S - 1 (calculate_softmax); S counts appended keys."""
    L, E, h, app = _mha_dims(r)
    S = L + app
    return simplify(b * (E * (2 * L * E + L * 2 * E) + 2 * L * S * E + h * L * (3 * S - 1)))


def _fv_mha(r, b):
    """aten::linear for the packed q/k/v and the output projections (4*L*E*E); the attention itself
    runs as aten::scaled_dot_product_attention, which fvcore has no handle for."""
    L, E, _, _ = _mha_dims(r)
    return simplify(4 * L * E * E * b)


def _pt_window(r, b):
    """Swin's shifted_window_attention: F.linear is not patched (projections 0); q.matmul(k^T) and
    attn.matmul(v) are (Tensor.matmul: N*M*C each over the padded map), F.softmax one per score."""
    n, c, m = r.layer.attention_dims(r.input)
    return simplify(b * (2 * n * m * c + r.layer.num_heads * n * m))


def _pt_partition(r, b):
    """MaxViT: to_qkv and merge are nn.Linear modules (weights and biases: P*(4C*C + 4C)); the two
    torch.einsum products are not patched; F.softmax one per score (heads * P * M)."""
    p, c, m = r.layer.attention_dims(r.input)
    return simplify(b * (p * (4 * c * c + 4 * c) + r.layer.heads * p * m))


def _fv_partition(r, b):
    """aten::linear 4*P*C*C; each of the two aten::einsum products is counted by numpy's einsum_path,
    whose "Optimized FLOP count" fvcore reads from the printed report (%.3e: 4 significant digits)
    and halves (einsum_flop_jit)."""
    p, c, m = r.layer.attention_dims(r.input)
    einsum = p * m * c * b
    if not is_sym(einsum):
        einsum = int(float("%.3e" % (2 * einsum)) // 2)
    return simplify(4 * p * c * c * b + 2 * einsum)


def _ti_partition(r, b):
    """to_qkv and merge are leaf Linears (weight + bias, x batch); the bias table is a parameter
    of the non-leaf attention module, which torchinfo does not count."""
    c = r.layer.feat_dim
    return simplify((4 * c * c + 4 * c) * b)


# -- the table ------------------------------------------------------------------------------------

rules(L.conv._ConvNd, fvcore=_macs, ptflops=_module(_with_bias), torchinfo=_ti_conv, thop=_module(_macs))
# thop count_linear: in_features per output element (= MACs, no bias); a functional F.linear is
# counted the same by the function counter (_count_matmul: output elements x inner size).
rules(L.Linear, fvcore=_macs, ptflops=_module(_with_bias), torchinfo=_ti_params, thop=_macs)
# fvcore batchnorm_flop_jit in eval: 2 per element with affine, 1 without.
rules(L.BatchNorm1d, L.BatchNorm2d, L.BatchNorm3d,
      fvcore=_norm(2, 1), ptflops=_pt_bn, torchinfo=_ti_params, thop=_module(_norm(4, 2)))
rules(L.norm._InstanceNorm, L.LayerNorm, L.GroupNorm,
      fvcore=_norm(5, 4), ptflops=_pt_bn, torchinfo=_ti_params, thop=_module(_norm(4, 2)))
# torchvision's LayerNorm2d subclasses nn.LayerNorm: ptflops keys by exact type (not hooked, and
# F.layer_norm is not patched) unless the row stands for nn.LayerNorm on a channels-last map (Swin,
# MaxViT: ``channels_last``); thop resolves through the MRO; torchinfo sees weight and bias.
rules(L.LayerNorm2d, fvcore=_norm(5, 4), ptflops=lambda r, b: _pt_bn(r, b) if r.layer.channels_last else 0,
      torchinfo=_ti_params, thop=_module(_norm(4, 2)))
rules(L.MaxPool1d, L.MaxPool2d, L.MaxPool3d, L.AdaptiveMaxPool1d, L.AdaptiveMaxPool2d, L.AdaptiveMaxPool3d,
      ptflops=_pt(2, 1))
rules(L.pool._AvgPoolNd, ptflops=_pt(2, 1), thop=_module(_thop_avgpool))
rules(L.AdaptiveAvgPool1d, L.AdaptiveAvgPool2d, L.AdaptiveAvgPool3d,
      fvcore=_fv_adaptive, ptflops=_pt(2, 1), thop=_module(_thop_adaptive))
rules(L.ReLU, L.ELU, L.GELU, ptflops=_pt(2, 1))
rules(L.ReLU6, ptflops=_pt(1, 1))
rules(L.LeakyReLU, ptflops=_pt(1, 0))
rules(L.SiLU, ptflops=_pt(1, 1))
rules(L.Hardswish, L.Hardsigmoid)  # ReLU's subclasses in convcalc, but no tool counts them
rules(L.PReLU, ptflops=_pt(2, 1), torchinfo=_ti_params, thop=_module(_n_in))
rules(L.Softmax, ptflops=_pt(1, 1), thop=_module(_thop_softmax))
rules(L.LogSoftmax, thop=_module(_thop_softmax))
rules(L.Upsample, fvcore=_fv_upsample, ptflops=_pt_upsample, thop=_module(_thop_upsample))
rules(L.LocalResponseNorm, ptflops=_pt_lrn)
rules(L.LayerScale, L.ClassToken, L.PosEmbedding)  # parameters of a non-leaf torchvision module: 0
rules(L.MatMul, fvcore=_macs, ptflops=_macs, thop=_macs)
rules(L.MultiheadAttention, fvcore=_fv_mha, ptflops=_module(_pt_mha), thop=_module(_thop_mha))
rules(L.ShiftedWindowAttention, fvcore=_macs, ptflops=_pt_window, thop=_macs)
rules(L.PartitionAttention, fvcore=_fv_partition, ptflops=_pt_partition, torchinfo=_ti_partition, thop=_macs)


def row_ops(row, convention: str, batch=1):
    """The operation count ``convention`` gives this row."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    if convention in ("convcalc", "torchvision"):
        return row.macs
    if row.layer is None:  # a block or merge row: no tool counts add / cat / mul operators
        return 0
    rule = ROWS.get(row.layer, {}).get(convention)
    return rule(row, batch) if rule is not None else 0


def per_layer(report, convention: str) -> list:
    """Every row's count, in order, as (name, kind, value) records: they sum to the total."""
    return [{"name": r.name, "kind": r.kind, "value": row_ops(r, convention, report.batch)} for r in report.rows]


def count(report, convention: str):
    """A peer's total for the whole report."""
    if convention not in CONVENTIONS:
        from .errors import ConvcalcError

        raise ConvcalcError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    total = simplify(sum((row_ops(r, convention, report.batch) for r in report.rows), 0))
    if convention == "ptflops" and isinstance(total, Fraction):
        return math.floor(total)  # ptflops sums floats (an upsample's scale) and returns int(total)
    return total
