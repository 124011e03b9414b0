"""Prove the engine's numbers by executing the network in the NumPy core.

The only place where the engine (claims) and ``kernels`` (measurements) meet. The network is
compiled to a graph (``to_graph``) and walked once (``Graph.walk``); each node is executed
and its result paired with the report row of the same node key:

* **shape**: the shape of the array the kernel returned;
* **params**: the sizes of the weight arrays created here from the layer's constructor
  arguments (PyTorch's parameter shapes), never from the engine's ``weight_shapes``;
* **MACs**: the multiply-accumulates the kernel tallied from its own matmuls;
* **receptive field**: measured by execution for every layer kind (:func:`_measure`), in
  time and memory linear in the sizes: per axis of the network input, every position of a
  tensor carries the first and last input pixel it depends on; a node's kernel is run on
  impulse inputs to learn which input positions reach which output positions, and the
  intervals flow through that relation. The engine's category (window/global/same) is
  never consulted.

``KERNELS`` is the registry from layer class to its kernel call and the PyTorch shapes of
its weights: to add a layer kind, register one :class:`Kernel`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import kernels as K
from . import layers as L
from .analyze import analyze
from .errors import ConvcalcError, NeedsNumber
from .graph import to_graph
from .layers.merge import Add, Concat, Mul
from .registry import Registry
from .verify_rf import PROBE_BYTES, Check, fields_in, propagate
from .verify_rf_check import rf_check

# -- layer -> kernel ------------------------------------------------------------------------------


def _none(args, shape):
    return {}


@dataclass(frozen=True)
class Kernel:
    """How the NumPy core executes one layer kind.

    ``run(layer, x, w, b) -> (y, macs)`` (``x`` is the list of inputs for a merge);
    ``weights(args, in_shape)`` / ``buffers(args, in_shape)``: name -> shape, PyTorch's
    parameter and buffer shapes from the constructor arguments (``layer.args()``);
    ``narrow``: a twin of the layer with the same geometry on one channel, for cheap
    receptive-field probes (None: probe the layer itself)."""

    run: Callable
    weights: Callable = _none
    buffers: Callable = _none
    narrow: Optional[Callable] = None


KERNELS = Registry("NumPy kernel")


def kernel(*classes, weights=_none, buffers=_none, narrow=None):
    """Decorator: register ``run`` as the kernel of ``classes``."""
    def attach(run):
        KERNELS.register(*classes)(Kernel(run, weights, buffers, narrow))
        return run

    return attach


def _nt(v, n) -> tuple:
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * n


def _or(v, default):
    return default if v is None else v


def _same(layer):
    return layer


def _one_channel(layer):
    # The field is geometric: padding pixels are not input pixels, whatever they are filled
    # with (reflect/replicate/circular borders also reach mirrored pixels), so zeros.
    return layer.replace(in_channels=1, out_channels=1, groups=1, padding_mode="zeros")


def _conv_weights(a, shape):
    c_in, g = _or(a["in_channels"], shape[0]), a["groups"]
    w = {"weight": (a["out_channels"], c_in // g, *_nt(a["kernel_size"], len(shape) - 1))}
    return {**w, "bias": (a["out_channels"],)} if a["bias"] else w


def _conv_t_weights(a, shape):
    c_in, g = _or(a["in_channels"], shape[0]), a["groups"]
    w = {"weight": (c_in, a["out_channels"] // g, *_nt(a["kernel_size"], len(shape) - 1))}
    return {**w, "bias": (a["out_channels"],)} if a["bias"] else w


def _bn_weights(a, shape):
    c = _or(a["num_features"], shape[0])
    return {"weight": (c,), "bias": (c,)} if a["affine"] else {}


def _bn_buffers(a, shape):
    c = _or(a["num_features"], shape[0])
    return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()} if a["track_running_stats"] else {}


def _ln_weights(a, shape):
    n = _nt(a["normalized_shape"], 1)
    if not a["elementwise_affine"]:
        return {}
    return {"weight": n, "bias": n} if a["bias"] else {"weight": n}


@kernel(L.conv._ConvNd, weights=_conv_weights, narrow=_one_channel)
def _conv(l, x, w, b):
    return K.conv(x, w["weight"], w.get("bias"), l.stride, l.pads, l.dilation, l.groups, l.padding_mode)


@kernel(L.conv._ConvTransposeNd, weights=_conv_t_weights, narrow=_one_channel)
def _conv_t(l, x, w, b):
    return K.conv_transpose(x, w["weight"], w.get("bias"), l.stride, tuple(lo for lo, _ in l.pads),
                            l.output_padding, l.dilation, l.groups)


@kernel(L.pool._PoolNd, narrow=_same)
def _maxpool(l, x, w, b):
    return K.max_pool(x, l.kernel_size, l.stride, l.padding, l.dilation, l.ceil_mode)


@kernel(L.pool._AvgPoolNd, narrow=_same)
def _avgpool(l, x, w, b):
    return K.avg_pool(x, l.kernel_size, l.stride, l.padding, l.ceil_mode, l.count_include_pad, l.divisor_override)


@kernel(L.AdaptiveAvgPool1d, L.AdaptiveAvgPool2d, L.AdaptiveAvgPool3d, narrow=_same)
def _adaptive_avg(l, x, w, b):
    return K.adaptive_avg_pool(x, l.output_size)


@kernel(L.AdaptiveMaxPool1d, L.AdaptiveMaxPool2d, L.AdaptiveMaxPool3d, narrow=_same)
def _adaptive_max(l, x, w, b):
    return K.adaptive_max_pool(x, l.output_size)


@kernel(L.norm._BatchNorm, weights=_bn_weights, buffers=_bn_buffers)
def _batchnorm(l, x, w, b):
    if l.track_running_stats:
        return K.batch_norm(x, b["running_mean"], b["running_var"], w.get("weight"), w.get("bias"), l.eps)
    return K.batch_norm(x, None, None, w.get("weight"), w.get("bias"), l.eps, training=True)


@kernel(L.norm._InstanceNorm, weights=_bn_weights, buffers=_bn_buffers)
def _instancenorm(l, x, w, b):
    return K.instance_norm(x, w.get("weight"), w.get("bias"), l.eps)


@kernel(L.LayerNorm2d, weights=lambda a, s: {"weight": (_or(a["num_channels"], s[0]),),
                                             "bias": (_or(a["num_channels"], s[0]),)} if a["elementwise_affine"] else {})
def _layernorm2d(l, x, w, b):
    y, _ = K.permute(x, (0, *range(2, x.ndim), 1))
    y, _ = K.layer_norm(y, (x.shape[1],), w.get("weight"), w.get("bias"), l.eps)
    return K.permute(y, (0, x.ndim - 1, *range(1, x.ndim - 1)))


@kernel(L.CenterCrop, narrow=_same)
def _center_crop(l, x, w, b):
    index = [slice(None), slice(None)]
    for o, n in zip(l.offsets(x.shape[1:]), l.sizes(x.shape[1:])):
        index.append(slice(o, o + n))
    return x[tuple(index)].copy(), 0


def _linear_weights(a, shape):
    w = {"weight": (a["out_features"], _or(a["in_features"], shape[-1]))}
    return {**w, "bias": (a["out_features"],)} if a["bias"] else w


def _plain(fn, *classes):
    kernel(*classes, narrow=_same)(lambda l, x, w, b: fn(x))


_plain(K.relu, L.ReLU)
_plain(K.relu6, L.ReLU6)
_plain(K.sigmoid, L.Sigmoid)
_plain(K.tanh, L.Tanh)
_plain(K.hardswish, L.Hardswish)
_plain(K.hardsigmoid, L.Hardsigmoid)
_plain(K.silu, L.SiLU)
_plain(K.dropout, L.Dropout)
_plain(K.identity, L.Identity)
kernel(L.Linear, weights=_linear_weights)(lambda l, x, w, b: K.linear(x, w["weight"], w.get("bias")))
kernel(L.Flatten)(lambda l, x, w, b: K.flatten(x, l.start_dim, l.end_dim))
kernel(L.LayerNorm, weights=_ln_weights)(
    lambda l, x, w, b: K.layer_norm(x, l.normalized_shape, w.get("weight"), w.get("bias"), l.eps))
kernel(L.GroupNorm, weights=lambda a, s: {"weight": (_or(a["num_channels"], s[0]),),
                                          "bias": (_or(a["num_channels"], s[0]),)} if a["affine"] else {})(
    lambda l, x, w, b: K.group_norm(x, l.num_groups, w.get("weight"), w.get("bias"), l.eps))
kernel(L.LocalResponseNorm)(lambda l, x, w, b: K.local_response_norm(x, l.size, l.alpha, l.beta, l.k))
kernel(L.LeakyReLU, narrow=_same)(lambda l, x, w, b: K.leaky_relu(x, l.negative_slope))
kernel(L.ELU, narrow=_same)(lambda l, x, w, b: K.elu(x, l.alpha))
kernel(L.GELU, narrow=_same)(lambda l, x, w, b: K.gelu(x, l.approximate))
kernel(L.PReLU, weights=lambda a, s: {"weight": (a["num_parameters"],)})(lambda l, x, w, b: K.prelu(x, w["weight"]))
kernel(L.Softmax)(lambda l, x, w, b: K.softmax(x, _or(l.dim, 1)))
kernel(L.LogSoftmax)(lambda l, x, w, b: K.log_softmax(x, _or(l.dim, 1)))
kernel(L.ChannelShuffle)(lambda l, x, w, b: K.channel_shuffle(x, l.groups))
kernel(L.ChannelSlice)(lambda l, x, w, b: (x[:, l.start:l.stop].copy(), 0))
kernel(L.Permute)(lambda l, x, w, b: K.permute(x, l.dims))
kernel(L.Upsample, narrow=_same)(lambda l, x, w, b: K.upsample(x, l.size, l.scale_factor, l.mode, l.align_corners))
kernel(L.LayerScale, weights=lambda a, s: {"weight": (_or(a["channels"], s[0]), *([1] * (len(s) - 1)))})(
    lambda l, x, w, b: K.mul(x, w["weight"]))


# -- attention (kernels/attention.py); called without weights, the RF probe runs the window partition.
# Each kind's arguments are read once, for its kernel or its training twin (verify_training).
def mha_call(fn):
    return lambda l, x, w, b: fn(x, w["in_proj_weight"], w.get("in_proj_bias"), w["out_proj.weight"],
                                 w.get("out_proj.bias"), l.num_heads, w.get("bias_k"), w.get("bias_v"),
                                 l.add_zero_attn)


def swin_call(fn):
    return lambda l, x, w, b: fn(x, w["qkv.weight"], w.get("qkv.bias"), w["proj.weight"], w.get("proj.bias"),
                                 w["relative_position_bias_table"], l.window_size, l.shift_size, l.num_heads)


def partition_call(fn):
    return lambda l, x, w, b: fn(x, w["to_qkv.weight"], w["to_qkv.bias"], w["merge.weight"], w["merge.bias"],
                                 w["relative_position_bias_table"], l.partition_size, l.partition_type, l.head_dim)


def _swin_attention(l, x, w, b):
    if not w:
        return K.shifted_window_probe(x, l.window_size, l.shift_size)
    return swin_call(K.shifted_window_attention)(l, x, w, b)


def _partition_attention(l, x, w, b):
    if not w:
        return K.partition_probe(x, l.partition_size, l.partition_type)
    return partition_call(K.partition_attention)(l, x, w, b)


def _declared(cls):
    """Weight and buffer shapes as the layer class declares them (the attention kinds' tensors
    follow torchvision's modules, which the kernels read by name)."""
    return dict(weights=lambda a, s: cls(**a).weight_shapes(s), buffers=lambda a, s: cls(**a).buffer_shapes(s))


kernel(L.MultiheadAttention, **_declared(L.MultiheadAttention))(mha_call(K.multihead_attention))
kernel(L.Tokens)(lambda l, x, w, b: K.tokens(x))
kernel(L.ClassToken, **_declared(L.ClassToken))(lambda l, x, w, b: K.class_token(x, w["class_token"]))
kernel(L.PosEmbedding, **_declared(L.PosEmbedding))(lambda l, x, w, b: K.pos_embedding(x, w["pos_embedding"]))
kernel(L.SelectToken)(lambda l, x, w, b: K.select_token(x, l.index))
kernel(L.ShiftedWindowAttention, **_declared(L.ShiftedWindowAttention))(_swin_attention)
kernel(L.PatchMerge)(lambda l, x, w, b: K.patch_merge(x))
kernel(L.PartitionAttention, **_declared(L.PartitionAttention))(_partition_attention)
kernel(L.ZeroPad2d, narrow=_same)(lambda l, x, w, b: K.zero_pad2d(x, l.padding))
# generic ops of traced models (layers/ops.py)
kernel(L.View)(lambda l, x, w, b: K.view(x, l.shape, l.index))
kernel(L.Reduce)(lambda l, x, w, b: K.reduce(x, l.op, l.dims, l.keepdim))
kernel(L.MatMul)(lambda l, xs, w, b: K.matmul(xs[0], xs[1]))
kernel(L.Pointwise, weights=lambda a, s: {c[1]: c[2] for c in a["call"] or () if c[0] == "p"})(
    lambda l, xs, w, b: K.pointwise(xs, l.op, l.call, l.shape, w))


def _fold(fn):
    def run(l, xs, w, b):
        y = xs[0]
        for a in xs[1:]:
            y, _ = fn(y, a)
        return y, 0

    return run


kernel(Add)(_fold(K.add))
kernel(Mul)(_fold(K.mul))
kernel(Concat)(lambda l, xs, w, b: K.concat(list(xs), dim=l.dim + 1))


def kernel_for(layer) -> Kernel:
    """The registered kernel of ``layer``'s kind (ConvcalcError naming the kind if none)."""
    return KERNELS.get(layer)


def operands(layer, xs: list):
    """What a kernel's ``run`` takes from the input arrays ``xs``: the array itself for a
    one-input layer, else the list (merges, and ops of two or more inputs)."""
    return xs[0] if layer.arity == 1 else xs


def execute(layer, xs: list, rng) -> tuple:
    """Run ``layer`` on the arrays ``xs`` with weights drawn here: (y, macs, weights, buffers)."""
    k = kernel_for(layer)
    shape = tuple(xs[0].shape[1:])
    args = layer.args()
    weights, buffers = draw(k.weights(args, shape), k.buffers(args, shape), rng)
    y, macs = k.run(layer, operands(layer, xs), weights, buffers)
    return y, macs, weights, buffers


def draw(weight_shapes: dict, buffer_shapes: dict, rng) -> tuple:
    """Weights and buffers for one layer.  verify checks counts and shapes, not values: cheap
    uniform float32 draws, weights scaled to He's variance 2/fan_in (uniform on [-a, a] has
    variance a^2/3), parameters of one value per channel to variance 1, running variances in
    [0.5, 1.5)."""
    weights = {}
    for wname, wshape in weight_shapes.items():
        fan_in = int(np.prod(wshape[1:])) if len(wshape) > 1 else 1
        # one value per channel (norm scales and shifts, biases, PReLU slopes, layer scales):
        # unit variance, so that a deep network's activations neither explode nor, through
        # saturated sigmoid gates, fall into float32's subnormals (which BLAS runs 5x slower)
        weights[wname] = _uniform(rng, wshape, math.sqrt(6.0 / fan_in) if fan_in > 1 else math.sqrt(3.0))
    buffers = {}
    for bname, bshape in buffer_shapes.items():
        if bname == "num_batches_tracked":
            buffers[bname] = np.zeros(bshape, dtype=np.int64)
        elif bname == "running_var":
            buffers[bname] = _uniform(rng, bshape, 0.5) + np.float32(1.0)
        else:
            buffers[bname] = _uniform(rng, bshape, 0.1)
    return weights, buffers


@dataclass
class LayerResult:
    name: str
    desc: str
    checks: dict = field(default_factory=dict)  # "shape" | "params" | "macs" | "rf" -> Check
    key: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks.values())


@dataclass
class VerifyResult:
    model: str
    input: tuple
    batch: int
    layers: list

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.layers)

    def counts(self) -> dict:
        out = {}
        for q in ("shape", "params", "macs", "rf"):
            cs = [r.checks[q] for r in self.layers if q in r.checks]
            out[q] = (sum(c.ok is True for c in cs), sum(c.ok is False for c in cs), sum(c.ok is None for c in cs))
        return out


# -- the run -------------------------------------------------------------------------------------

def parse_bytes(text: str) -> int:
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(i?B?)\s*", str(text), re.I)
    if not m:
        raise ConvcalcError(f"memory size {text!r}: expected e.g. 512MiB, 1GiB, 2G")
    value, prefix, suffix = float(m.group(1)), m.group(2).upper(), m.group(3)
    base = 1024 if suffix.lower().startswith("i") or not suffix else 1000
    return int(value * base ** " KMGT".index(prefix or " "))


def estimate_bytes(report) -> tuple:
    """Peak bytes of a verification run (fp32): live activations, the largest im2col buffer,
    all weights, and the receptive-field probes (their chunk budget, or one full-size sample
    of a layer that has no one-channel twin, and the per-position intervals); and the row
    that dominates."""
    acts = report.totals["peak_activation_bytes"] // report.dtype_bytes * 4
    weights = (report.totals["params"] + report.totals["buffers"]) * 4
    worst, worst_row, probe, fields = 0, None, PROBE_BYTES, 0
    for r in report.rows:
        col = 4 * (int(r.macs) // max(1, r.output[0]) if r.macs else 0)
        if col > worst:
            worst, worst_row = col, r
        if r.layer is None or KERNELS.get(r.layer, None) is None or KERNELS.get(r.layer).narrow is None:
            probe = max(probe, 4 * (math.prod(r.input) + 2 * math.prod(r.output)))
        fields = max(fields, 64 * max(r.output))  # lo/hi, reached pairs per position
    return acts + worst + weights + probe + fields, worst_row


def _check_rows(row, y, macs, weights, buffers, batch, merge) -> dict:
    checks = {"shape": Check(tuple(y.shape[1:]) == tuple(row.output) and y.shape[0] == batch,
                             row.output, tuple(y.shape[1:]))}
    if merge:
        return checks
    params = sum(int(a.size) for a in weights.values())
    nbuf = sum(int(a.size) for a in buffers.values())
    checks["params"] = Check(params == row.params and nbuf == row.buffers, (row.params, row.buffers), (params, nbuf))
    checks["macs"] = Check(macs == row.macs, row.macs, macs)
    return checks


class _Slot:
    """A tensor flowing along the graph's edges: freed once its last consumer has run."""

    __slots__ = ("x", "fields", "left")

    def __init__(self, x, fields, left):
        self.x, self.fields, self.left = x, fields, left


# Large arrays repeat one random block of this many values: a prime, so that no run of a
# channel, row or filter lines up with the repeat.  Drawing is then a copy (about 1 ns a value
# against 4-5 for the generator and its scaling: 8 s of verifying the whole zoo).
_BLOCK = 65537


def _uniform(rng, shape, a: float) -> np.ndarray:
    """float32 uniform on [-a, a), a fresh writeable array: small arrays drawn value by value,
    large ones tiled from one drawn block (verify checks counts and shapes, not values)."""
    n = math.prod(shape)
    w = rng.random(n if n <= 2 * _BLOCK else _BLOCK, dtype=np.float32)
    w -= np.float32(0.5)
    w *= np.float32(2 * a)
    return w.reshape(shape) if n <= 2 * _BLOCK else np.resize(w, shape)




def verify(model, input=None, batch: int = 1, seed: int = 0, max_memory: int = 2 * 2**30,
           progress: Optional[Callable[[int, int, str], None]] = None, check_rf: bool = True) -> VerifyResult:
    report = analyze(model, input, batch=batch)
    if report.symbolic:
        raise NeedsNumber("verify needs a numeric input shape and batch (it executes the network), "
                          f"got {'x'.join(str(d) for d in report.input)}")
    need, worst = estimate_bytes(report)
    if need > max_memory:
        where = f"; the largest buffer is {worst.name} ({worst.desc})" if worst is not None else ""
        raise ConvcalcError(f"verifying {report.model} at batch {batch} needs about {need / 2**30:.2f} GiB, "
                            f"over the {max_memory / 2**30:.2f} GiB budget{where} (raise --max-memory or lower --batch)")
    K.steady_heap()
    rng = np.random.default_rng(seed)
    graph = to_graph(getattr(model, "net", model))
    rows = {r.key: r for r in report.rows}
    uses = {k: len(v) for k, v in graph.consumers().items()}
    in_shape = report.input
    results: list = []
    probes: dict = {}   # receptive-field measurements by layer geometry, shared by repeated blocks
    outputs = set(graph.outputs)

    def visit(node, ins):
        row = rows[node.key]
        xs = [s.x for s in ins]
        try:
            y, macs, weights, buffers = execute(node.layer, xs, rng)
        except ValueError as e:
            raise ConvcalcError(f"{node.name}: the NumPy core rejects this layer: {e}") from None
        res = LayerResult(row.name, row.desc, _check_rows(row, y, macs, weights, buffers, batch,
                                                          node.layer.arity is None), key=node.key)
        out_fields = None
        if all(s.fields is not None for s in ins) and len(in_shape) > 1:
            try:
                out_fields = propagate(node.layer, kernel_for(node.layer), [s.fields for s in ins], xs, y,
                                       weights, buffers, probes)
            except (ValueError, IndexError):  # a layout the probe cannot follow: unmeasured ("–"), no traceback
                out_fields = None
            if row.rf is not None:
                res.checks["rf"] = rf_check(row.rf, out_fields, in_shape[1:], tuple(y.shape[1:]),
                                             [s.fields for s in ins])
        for s in ins:  # free what no later node reads
            s.left -= 1
            if s.left <= 0:
                s.x = s.fields = None
        results.append(res)
        if progress:
            progress(len(results), len(rows), row.name)
        return _Slot(y, out_fields, uses.get(node.key, 0) + (node.key in outputs))

    x0 = _uniform(rng, (batch, *in_shape), math.sqrt(3.0))  # unit variance, one cheap draw
    fields0 = fields_in(in_shape) if check_rf and len(in_shape) > 1 else None
    graph.walk(_Slot(x0, fields0, uses.get(graph.inputs[0], 0)), visit)
    return VerifyResult(report.model, in_shape, batch, results)
