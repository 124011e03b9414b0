"""Prove the training numbers by executing a training step's backward in the NumPy core.

``verify(..., training=...)`` for the backward: the network is compiled to its graph and run
forward in training mode (batch norm with the batch's statistics, dropout with a drawn mask,
max pools keeping their argmax), every forward caching what its backward needs. The loss is
sum(output * G) for a random G; the graph is then walked in reverse topological order, each
layer's backward kernel fed the sum of its consumers' gradients. Per row:

* **shape**: the forward output's shape (the training-mode forward);
* **grads**: the shape of every gradient the backward produced: each input that requires one,
  each trainable parameter (and none for frozen ones);
* **bwd MACs**: the kernels' own tallies (input gradient where an input requires one, weight
  gradient where the layer trains, and for attention the matmuls on the way to both whenever
  the layer is in the backward) against the engine's per-row ``backward_macs``.

Finally **finite differences** of the loss (re-run in float64 from the perturbed layer on)
against the backward's gradient on a few random parameter coordinates, in random layers of
the network's last quarter of forward MACs (the re-runs then cost a fraction of a forward).

``FORWARD`` (training-mode forwards, falling back to verify's kernels; the attention kinds'
keep q, k, v and the probabilities for their backward) and ``BACKWARD`` are registries keyed
by layer class: to add a layer kind, register its backward.
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
from .layers import conv as _conv, merge as _merge, norm as _norm, pool as _pool
from .layers.attention import _AttentionTraining
from .registry import Registry
from .training import TrainingOptions
from .verify import (Check, LayerResult, _uniform, draw, estimate_bytes, kernel_for, mha_call, operands,
                     partition_call, swin_call)

FORWARD = Registry("training-mode NumPy forward")
#: finite differences are taken in the layers holding the last quarter of the forward MACs
FD_SHARE = 0.25
BACKWARD = Registry("NumPy backward kernel")


@dataclass
class Ctx:
    """What one executed node left for its backward."""

    layer: object
    xs: list
    y: object = None
    w: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    trainable: dict = field(default_factory=dict)   # the parameters that get a gradient
    need_inputs: tuple = ()   # which inputs need a gradient

    @property
    def x(self):
        return self.xs[0]

    @property
    def need_dx(self) -> bool:
        return any(self.need_inputs)

    @property
    def need_dw(self) -> bool:
        return bool(self.trainable)

    @property
    def dw_part(self):
        """The trainable parameters' names when some are frozen (None: all of them)."""
        return None if len(self.trainable) == len(self.w) else tuple(self.trainable)


# -- training-mode forwards -----------------------------------------------------------------------

@FORWARD.register(_norm._BatchNorm)
def _bn_forward(c):
    l, x = c.layer, c.x
    if "training" not in c.cache:   # PyTorch refuses one value per channel in training: eval then
        c.cache["training"] = x.size // x.shape[1] > 1 or not l.track_running_stats
    if c.cache["training"]:
        return K.batch_norm(x, None, None, c.w.get("weight"), c.w.get("bias"), l.eps, training=True)
    return K.batch_norm(x, c.b["running_mean"], c.b["running_var"], c.w.get("weight"), c.w.get("bias"), l.eps)


@FORWARD.register(L.MaxPool1d, L.MaxPool2d, L.MaxPool3d)
def _maxpool_forward(c):
    l = c.layer
    y, c.cache["idx"], macs = K.max_pool_with_indices(c.x, l.kernel_size, l.stride, l.padding, l.dilation,
                                                      l.ceil_mode)
    return y, macs


@FORWARD.register(L.AdaptiveMaxPool1d, L.AdaptiveMaxPool2d, L.AdaptiveMaxPool3d)
def _adaptive_max_forward(c):
    y, c.cache["idx"], macs = K.adaptive_max_pool_with_indices(c.x, c.layer.output_size)
    return y, macs


@FORWARD.register(L.Dropout)
def _dropout_forward(c):
    l = c.layer
    if "noise" not in c.cache:
        dims = -1 if getattr(l, "mode", "row") == "batch" else l.noise_dims
        c.cache["noise"] = K.dropout_train(c.x, l.p, c.cache.pop("rng"), dims)[1]
    return c.x * c.cache["noise"].astype(c.x.dtype), 0


def forward_of(layer) -> Callable:
    """The training-mode forward of ``layer``: its own entry in ``FORWARD``, else verify's kernel."""
    fn = FORWARD.get(layer, None)
    if fn is not None:
        return fn
    run = kernel_for(layer).run
    return lambda c: run(c.layer, operands(c.layer, c.xs), c.w, c.b)


# -- backwards: (ctx, dy) -> ([dx per input], {param: grad}, (macs_dx, macs_dw)) ------------------

def _one(fn):
    """A single-input backward: the kernel's dx wrapped in a list."""
    def run(c, dy):
        dx, grads, macs = fn(c, dy)
        return [dx], grads, macs
    return run


def _reg(*classes):
    return lambda fn: BACKWARD.register(*classes)(_one(fn))


@_reg(_conv._ConvNd)
def _conv_back(c, dy):
    l = c.layer
    if l.transposed:
        return K.conv_transpose_backward(dy, c.x, c.w["weight"], l.stride, tuple(lo for lo, _ in l.pads),
                                         l.output_padding, l.dilation, l.groups, l.bias, c.need_dx, c.need_dw)
    return K.conv_backward(dy, c.x, c.w["weight"], l.stride, l.pads, l.dilation, l.groups, l.padding_mode,
                           l.bias, c.need_dx, c.need_dw)


@_reg(L.Linear)
def _linear_back(c, dy):
    return K.linear_backward(dy, c.x, c.w["weight"], c.layer.bias, c.need_dx, c.need_dw)


@_reg(L.MaxPool1d, L.MaxPool2d, L.MaxPool3d)
def _maxpool_back(c, dy):
    return K.max_pool_backward(dy, c.cache["idx"], c.x.shape)


@_reg(L.AvgPool1d, L.AvgPool2d, L.AvgPool3d)
def _avgpool_back(c, dy):
    l = c.layer
    return K.avg_pool_backward(dy, c.x.shape, l.kernel_size, l.stride, l.padding, l.ceil_mode, l.count_include_pad,
                               l.divisor_override)


@_reg(_pool._AdaptivePoolNd)
def _adaptive_back(c, dy):
    if c.layer.op == "max":
        return K.adaptive_max_pool_backward(dy, c.cache["idx"], c.x.shape)
    return K.adaptive_avg_pool_backward(dy, c.x.shape, c.layer.output_size)


@_reg(_norm._BatchNorm)
def _bn_back(c, dy):
    return K.batch_norm_backward(dy, c.x, c.w.get("weight"), c.w.get("bias"), c.layer.eps, c.cache["training"],
                                 c.b.get("running_mean"), c.b.get("running_var"))


@_reg(_norm._InstanceNorm)
def _in_back(c, dy):
    return K.instance_norm_backward(dy, c.x, c.w.get("weight"), c.w.get("bias"), c.layer.eps)


@_reg(L.LayerNorm)
def _ln_back(c, dy):
    return K.layer_norm_backward(dy, c.x, c.layer.normalized_shape, c.w.get("weight"), c.w.get("bias"), c.layer.eps)


@_reg(L.GroupNorm)
def _gn_back(c, dy):
    return K.group_norm_backward(dy, c.x, c.layer.num_groups, c.w.get("weight"), c.w.get("bias"), c.layer.eps)


@_reg(L.LocalResponseNorm)
def _lrn_back(c, dy):
    l = c.layer
    return K.local_response_norm_backward(dy, c.x, l.size, l.alpha, l.beta, l.k)


@_reg(L.LayerNorm2d)
def _ln2d_back(c, dy):
    nd = c.x.ndim
    last = (0, *range(2, nd), 1)
    xl, dyl = K.permute(c.x, last)[0], K.permute(dy, last)[0]
    dx, grads, macs = K.layer_norm_backward(dyl, xl, (c.x.shape[1],), c.w.get("weight"), c.w.get("bias"),
                                            c.layer.eps)
    return K.permute_backward(dx, last)[0], grads, macs


_BY_OUTPUT = {L.ReLU: K.relu_backward, L.Sigmoid: K.sigmoid_backward, L.Tanh: K.tanh_backward}
_BY_INPUT = {L.ReLU6: K.relu6_backward, L.Hardswish: K.hardswish_backward, L.Hardsigmoid: K.hardsigmoid_backward,
             L.SiLU: K.silu_backward}
for _cls, _fn in _BY_OUTPUT.items():
    _reg(_cls)(lambda c, dy, _fn=_fn: _fn(dy, c.y))
for _cls, _fn in _BY_INPUT.items():
    _reg(_cls)(lambda c, dy, _fn=_fn: _fn(dy, c.x))
_reg(L.LeakyReLU)(lambda c, dy: K.leaky_relu_backward(dy, c.x, c.layer.negative_slope))
_reg(L.ELU)(lambda c, dy: K.elu_backward(dy, c.x, c.layer.alpha))
_reg(L.GELU)(lambda c, dy: K.gelu_backward(dy, c.x, c.layer.approximate))
_reg(L.PReLU)(lambda c, dy: K.prelu_backward(dy, c.x, c.w["weight"]))
_reg(L.Softmax)(lambda c, dy: K.softmax_backward(dy, c.y, c.layer.dim if c.layer.dim is not None else 1))
_reg(L.LogSoftmax)(lambda c, dy: K.log_softmax_backward(dy, c.y, c.layer.dim if c.layer.dim is not None else 1))
_reg(L.Dropout)(lambda c, dy: K.dropout_backward(dy, c.cache["noise"]))
_reg(L.Identity)(lambda c, dy: K.identity_backward(dy))
_reg(L.Flatten)(lambda c, dy: K.flatten_backward(dy, c.x.shape))
_reg(L.Permute)(lambda c, dy: K.permute_backward(dy, c.layer.dims))
_reg(L.ChannelShuffle)(lambda c, dy: K.channel_shuffle_backward(dy, c.layer.groups))
_reg(L.ChannelSlice)(lambda c, dy: K.slice_backward(dy, c.x.shape, (slice(None), slice(c.layer.start, c.layer.stop))))
_reg(L.ZeroPad2d)(lambda c, dy: K.zero_pad2d_backward(dy, c.x.shape, c.layer.padding))
_reg(L.Upsample)(lambda c, dy: K.upsample_backward(dy, c.x.shape, c.layer.size, c.layer.scale_factor, c.layer.mode,
                                                   c.layer.align_corners))


@_reg(L.CenterCrop)
def _crop_back(c, dy):
    shape = c.x.shape[1:]
    index = (slice(None), slice(None)) + tuple(slice(o, o + n) for o, n in
                                               zip(c.layer.offsets(shape), c.layer.sizes(shape)))
    return K.slice_backward(dy, c.x.shape, index)


@_reg(L.LayerScale)
def _layerscale_back(c, dy):
    (dx, dw), _, macs = K.mul_backward(dy, [c.x, c.w["weight"]])
    return dx, {"weight": dw}, macs


# -- attention: the training forwards (kernels/attention.py *_train) keep q, k, v and the probabilities
# for the backward (kernels/backward_attention.py)

def _keeping(call):
    """An attention kind's training forward: verify's call of its kernel (``call``, on the
    kernel's ``*_train`` twin), keeping what its backward needs."""
    def forward(c):
        y, macs, c.cache["saved"] = call(c.layer, c.x, c.w, c.b)
        return y, macs

    return forward


FORWARD.register(L.MultiheadAttention)(_keeping(mha_call(K.multihead_attention_train)))
FORWARD.register(L.ShiftedWindowAttention)(_keeping(swin_call(K.shifted_window_attention_train)))
FORWARD.register(L.PartitionAttention)(_keeping(partition_call(K.partition_attention_train)))


@_reg(L.MultiheadAttention)
def _mha_back(c, dy):
    return K.multihead_attention_backward(dy, c.cache["saved"], c.w["in_proj_weight"], c.w["out_proj.weight"],
                                          c.layer.bias, c.layer.add_bias_kv, c.need_dx, c.need_dw)


@_reg(L.ShiftedWindowAttention)
def _swin_back(c, dy):
    l = c.layer
    return K.shifted_window_attention_backward(dy, c.cache["saved"], c.w["qkv.weight"], c.w["proj.weight"],
                                               c.w["relative_position_bias_table"].shape, l.window_size,
                                               l.shift_size, l.qkv_bias, l.proj_bias, c.need_dx, c.need_dw)


@_reg(L.PartitionAttention)
def _partition_back(c, dy):
    l = c.layer
    return K.partition_attention_backward(dy, c.cache["saved"], c.w["to_qkv.weight"], c.w["merge.weight"],
                                          c.w["relative_position_bias_table"].shape, l.partition_size,
                                          l.partition_type, c.need_dx, c.need_dw)


_reg(L.Tokens)(lambda c, dy: K.tokens_backward(dy, c.x.shape))
_reg(L.ClassToken)(lambda c, dy: K.class_token_backward(dy, c.w["class_token"].shape))
_reg(L.PosEmbedding)(lambda c, dy: K.pos_embedding_backward(dy, c.w["pos_embedding"].shape))
_reg(L.SelectToken)(lambda c, dy: K.select_token_backward(dy, c.x.shape, c.layer.index))
_reg(L.PatchMerge)(lambda c, dy: K.patch_merge_backward(dy, c.x.shape))
_reg(L.View)(lambda c, dy: K.view_copy_backward(dy, c.x.shape, c.layer.index) if c.layer.index else
        K.view_backward(dy, c.x.shape))
_reg(L.Reduce)(lambda c, dy: K.reduce_backward(dy, c.x, c.y, c.layer.op, c.layer.dims, c.layer.keepdim))
BACKWARD.register(L.MatMul)(lambda c, dy: K.matmul_backward(dy, c.xs[0], c.xs[1], c.need_inputs))
BACKWARD.register(L.Pointwise)(lambda c, dy: K.pointwise_backward(dy, c.layer.op, c.layer.call, c.xs, c.y, c.w,
                                                                  c.need_inputs, c.need_dw))
BACKWARD.register(_merge.Add)(lambda c, dy: K.add_backward(dy, [x.shape for x in c.xs]))
BACKWARD.register(_merge.Mul)(lambda c, dy: K.mul_backward(dy, c.xs))
BACKWARD.register(_merge.Concat)(
    lambda c, dy: K.concat_backward(dy, [x.shape[c.layer.dim + 1] for x in c.xs], c.layer.dim + 1))


# -- the run ---------------------------------------------------------------------------------------

@dataclass
class FDPoint:
    name: str
    param: str
    index: tuple
    analytic: float
    numeric: float
    ok: bool


@dataclass
class TrainingVerifyResult:
    model: str
    input: tuple
    batch: int
    layers: list
    fd: list

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.layers) and all(p.ok for p in self.fd)

    def counts(self) -> dict:
        out = {}
        for q in ("shape", "grads", "bwd_macs"):
            cs = [r.checks[q] for r in self.layers if q in r.checks]
            out[q] = (sum(c.ok is True for c in cs), sum(c.ok is False for c in cs), sum(c.ok is None for c in cs))
        out["fd"] = (sum(p.ok for p in self.fd), sum(not p.ok for p in self.fd), 0)
        return out


def fd_candidates(graph, rows, batch: int, points: int, limit: int, share: float = FD_SHARE) -> tuple:
    """The layers finite differences may perturb, and the bytes their float64 re-runs take
    (the largest weight cast to float64, the outputs of the base run and of one point's).

    Layers with parameters in the tail of the graph that holds the last ``share`` of the
    forward MACs (at least ``points`` of them), so the re-runs cost a fraction of a forward;
    left out are those whose re-run would cast a weight tensor of more than ``limit`` bytes
    to float64 (VGG's first classifier layer): the largest parameter count among a layer and
    everything downstream of it decides."""
    nodes = list(graph)
    consumers = graph.consumers()
    downstream: dict = {}
    for node in reversed(nodes):
        downstream[node.key] = max([rows[node.key].params] + [downstream[c] for c in consumers.get(node.key, ())])
    total, tail, keys = sum(rows[n.key].macs for n in nodes), 0, []
    for node in reversed(nodes):
        tail += rows[node.key].macs
        fits = downstream[node.key] * 8 <= limit
        if rows[node.key].params and fits and (tail <= share * total or len(keys) < points):
            keys.insert(0, node.key)
    if not keys:
        return keys, 0
    first = next(i for i, n in enumerate(nodes) if n.key == keys[0])
    outputs = sum(math.prod(rows[n.key].output) for n in nodes[first:]) * batch * 8   # float64, twice
    return keys, max(downstream[k] for k in keys) * 8 + 2 * outputs


def estimate_training_bytes(report, graph, fd_bytes: int = 0) -> int:
    """Peak bytes of a training verification (fp32): the forward's estimate; every forward
    output kept for the backward (max-pool indices and dropout noise beside them, a few
    temporaries of the largest one; attention's windows, q/k/v, output and probabilities);
    the weights' gradients; the backward's im2col buffers (one sample's columns of every
    group, and their gradient); the largest pair of activation gradients in flight; the
    largest attention backward's temporaries; and the finite differences' float64 weights."""
    forward, _ = estimate_bytes(report)
    n = report.batch
    kept = pair = cols = largest = attn = 0
    rows = {r.key: r for r in report.rows}
    for node in graph:
        r = rows[node.key]
        out = math.prod(r.output) * n * 4
        extra = 2 * out if r.kind.startswith("maxpool") or r.kind.startswith("dropout") else 0
        kept += out + extra
        largest = max(largest, out)
        pair = max(pair, out + math.prod(r.input) * n * 4)
        layer = node.layer
        if isinstance(layer, _conv._ConvNd):   # per sample: (C_in or C_out)*prod(k)*positions per group, all groups
            per_group = r.input[0] if layer.transposed else r.output[0]
            cols = max(cols, 2 * (r.macs // n) * 4 * layer.groups // max(1, per_group))
        if isinstance(layer, _AttentionTraining):
            P, C, m = layer.attention_dims(r.input)
            probs = layer.attention_heads() * P * m
            kept += (6 * P * C + probs) * n * 4   # its windows, q/k/v (and the scaled copy), output; probabilities
            # backward: dZ (dA in place), dq/dk/dv and their stack, dx (float32); or a finite
            # difference's float64 re-run: the scores (probabilities in place), q/k/v, output
            attn = max(attn, (9 * P * C + 2 * probs) * n * 4, (6 * P * C + probs) * n * 8)
    return forward + kept + 4 * largest + report.totals["params"] * 4 + cols + 2 * pair + attn + fd_bytes


def training_need(report, graph, fd_points: int, max_memory: int) -> tuple:
    """(estimated peak bytes, the layers finite differences may perturb)."""
    rows = {r.key: r for r in report.rows}
    fd_keys, fd_bytes = fd_candidates(graph, rows, report.batch, fd_points, max_memory // 8)
    return estimate_training_bytes(report, graph, fd_bytes), fd_keys


def verify_training(model, input=None, batch: int = 1, seed: int = 0, max_memory: int = 2 * 2**30,
                    options: Optional[TrainingOptions] = None, fd_points: int = 3,
                    progress: Optional[Callable[[int, int, str], None]] = None) -> TrainingVerifyResult:
    options = options or TrainingOptions()
    report = analyze(model, input, batch=batch, training=options)
    if report.symbolic:
        raise NeedsNumber("verify needs a numeric input shape and batch (it executes the network), "
                          f"got {'x'.join(str(d) for d in report.input)}")
    graph = to_graph(getattr(model, "net", model))
    for node in graph:   # every kind needs a backward: say so before running anything
        BACKWARD.get(node.layer)
    need, fd_keys = training_need(report, graph, fd_points, max_memory)
    if need > max_memory:
        raise ConvcalcError(f"verifying {report.model}'s training step at batch {batch} needs about "
                            f"{need / 2**30:.2f} GiB, over the {max_memory / 2**30:.2f} GiB budget "
                            f"(raise --max-memory or lower --batch)")
    K.steady_heap()
    run = _Run(graph, report, options, np.random.default_rng(seed), progress)
    run.forward(_uniform(run.rng, (batch, *report.input), math.sqrt(3.0)))
    run.backward()
    fd = run.finite_differences([k for k in fd_keys if run.pgrads.get(k)], fd_points)
    return TrainingVerifyResult(report.model, report.input, batch, run.results(), fd)


class _Run:
    def __init__(self, graph, report, options, rng, progress):
        self.graph, self.options, self.rng, self.progress = graph, options, rng, progress
        self.nodes = list(graph)
        self.rows = {r.key: r for r in report.rows}
        self.ctx: dict = {}
        self.vals: dict = {}
        self.grad = {k: False for k in graph.inputs}   # does this tensor require a gradient?
        self.recorded: dict = {}
        self.seen: dict = {}                           # key -> (grad shapes ok, measured, claimed, macs)
        self.pgrads: dict = {}
        self.loss_dy: dict = {}

    def tick(self, i, name):
        if self.progress:
            self.progress(i, 2 * len(self.nodes), name)

    def forward(self, x0):
        self.vals[self.graph.inputs[0]] = x0
        for i, node in enumerate(self.nodes):
            layer = node.layer
            xs = [self.vals[k] for k in node.inputs]
            k = kernel_for(layer)
            args, shape = layer.args(), tuple(xs[0].shape[1:])
            w, b = draw(k.weights(args, shape), k.buffers(args, shape), self.rng)
            c = Ctx(layer, xs, w=w, b=b, cache={"rng": self.rng})
            try:
                c.y, c.cache["macs"] = forward_of(layer)(c)
            except ValueError as e:
                raise ConvcalcError(f"{node.name}: the NumPy core rejects this layer: {e}") from None
            c.cache.pop("rng", None)
            frozen = self.options.frozen(node.name, layer)
            c.need_inputs = tuple(self.grad[k] for k in node.inputs)
            c.trainable = {} if frozen else {n: a for n, a in w.items() if n not in layer.frozen_params}
            self.recorded[node.key] = self.grad[node.key] = c.need_dx or c.need_dw
            self.vals[node.key] = c.y
            self.ctx[node.key] = c
            self.tick(i + 1, node.name)

    def backward(self):
        dys = {}
        for k in self.graph.outputs:
            self.loss_dy[k] = dys[k] = self.rng.standard_normal(self.vals[k].shape).astype(self.vals[k].dtype)
        for i, node in enumerate(reversed(self.nodes)):
            self.tick(len(self.nodes) + i + 1, node.name)
            if not self.recorded[node.key]:
                self.seen[node.key] = (True, "none", "none", 0)
                continue
            c = self.ctx[node.key]
            dy = dys.pop(node.key, None)
            dy = np.zeros_like(c.y) if dy is None else dy
            try:
                dxs, grads, (mdx, mdw, *shared) = BACKWARD.get(node.layer)(c, dy)
            except ValueError as e:
                raise ConvcalcError(f"{node.name}: the NumPy backward rejects this layer: {e}") from None
            self.seen[node.key] = self._collect(node, c, dxs, grads, dys) + (
                (mdx if c.need_dx else 0) + (self._dw(node.layer, c, mdw) if c.need_dw else 0) + sum(shared),)

    @staticmethod
    def _dw(layer, c, mdw):
        """The kernel's weight-gradient MACs, only the trainable weights' when some are frozen
        (Layer.trainable_weight_grad)."""
        return mdw if c.dw_part is None else layer.trainable_weight_grad(mdw, c.dw_part)

    def _collect(self, node, c, dxs, grads, dys) -> tuple:
        """Check the gradients' shapes and pass the input gradients upstream (summed where a
        tensor has several consumers). Returns (ok, expected, produced) as text."""
        ok, want, got = True, [], []
        shape = lambda a: "x".join(map(str, a.shape[1:]))   # noqa: E731
        for k, x, dx in zip(node.inputs, c.xs, dxs):
            if self.grad[k]:
                want.append(shape(x))
                got.append(shape(dx) if dx is not None else "none")
                if dx is None or dx.shape != x.shape:   # reported; upstream gets zeros, the run goes on
                    ok, dx = False, np.zeros_like(x)
                dys[k] = dx if k not in dys else dys[k] + dx
        if c.need_dw:
            grads = {n: g for n, g in grads.items() if n in c.trainable}   # (a frozen weight's: unused)
            want += [f"d{n} {'x'.join(map(str, a.shape))}" for n, a in sorted(c.trainable.items())]
            got += [f"d{n} {'x'.join(map(str, a.shape))}" for n, a in sorted(grads.items())]
            self.pgrads[node.key] = grads
        return ok and want == got, ", ".join(want), ", ".join(got)

    def results(self) -> list:
        out = []
        for node in self.nodes:
            row, c = self.rows[node.key], self.ctx[node.key]
            ok, want, got, macs = self.seen[node.key]
            res = LayerResult(row.name, row.desc, key=node.key)
            measured = tuple(c.y.shape[1:])
            res.checks["shape"] = Check(measured == tuple(row.output), row.output, measured)
            res.checks["grads"] = Check(ok, want, got)
            res.checks["bwd_macs"] = Check(macs == row.backward_macs, row.backward_macs, macs)
            out.append(res)
        return out

    # -- finite differences --------------------------------------------------------------------

    def finite_differences(self, keys, points: int) -> list:
        """d loss / d w at random coordinates of ``points`` random layers among ``keys``, by
        one-sided differences in float64: (L(w + h e) - L(w)) / h, both losses re-run from
        the earliest chosen layer on in float64 (the unperturbed run is shared by every point)."""
        if not keys or points <= 0:
            return []
        picks = sorted(int(i) for i in self.rng.choice(len(keys), size=min(points, len(keys)), replace=False))
        order = {n.key: i for i, n in enumerate(self.nodes)}
        first = min(order[keys[i]] for i in picks)
        base = self._run64(first, {keys[i] for i in picks}, {}, None)
        return [self._fd_point(keys[i], base) for i in picks]

    def _fd_point(self, key, base) -> FDPoint:
        grads = self.pgrads[key]
        # "weight" where there is one, else the largest tensor (attention's q/k/v projection)
        pname = "weight" if "weight" in grads else max(sorted(grads), key=lambda n: grads[n].size)
        g = grads[pname]
        # a coordinate the backward gives a non-zero gradient where there is one: at a zero one
        # (a channel nothing reads on, behind a ReLU that is off) both sides are 0 and prove
        # nothing; where the backward gives only zeros, any coordinate, as before
        live = np.flatnonzero(g)
        flat = int(self.rng.choice(live)) if live.size else int(self.rng.integers(0, g.size))
        index = tuple(int(i) for i in np.unravel_index(flat, g.shape))
        w = self.ctx[key].w[pname].astype(np.float64)
        h = 1e-6 * max(1.0, abs(float(w[index])))   # small: a larger step lets ReLUs and max pools switch
        w[index] += h
        start = next(i for i, n in enumerate(self.nodes) if n.key == key)
        vals = self._run64(start, {key}, base, (key, pname, w))
        numeric = (self._loss(vals, base) - self._loss(base, base)) / h
        analytic = float(g[index])
        scale = float(np.sqrt(np.mean(np.square(g, dtype=np.float64))))   # the layer's typical gradient
        ok = abs(numeric - analytic) <= 2e-3 * abs(numeric) + 1e-3 * scale + 1e-9
        return FDPoint(self.graph[key].name, pname, index, analytic, numeric, bool(ok))


    def _loss(self, vals, base) -> float:
        return float(sum((vals.get(k, base.get(k)) * self.loss_dy[k].astype(np.float64)).sum()
                         for k in self.loss_dy if k in vals or k in base))

    def _run64(self, start, roots, base, change) -> dict:
        """Float64 outputs of the nodes ``roots`` and of every node that depends on them (the
        graph from index ``start`` on); other inputs come from ``base`` (an earlier float64 run
        of a superset of these nodes) or the float32 forward, as they did in that run.
        ``change``: (key, parameter, new value) replacing one parameter."""
        vals: dict = {}
        for node in self.nodes[start:]:
            if node.key not in roots and not any(k in vals for k in node.inputs):
                continue
            c0 = self.ctx[node.key]
            xs = [vals[k] if k in vals else base[k] if k in base else self.vals[k].astype(np.float64)
                  for k in node.inputs]
            ws = dict(c0.w)   # float32: the kernels cast them to the float64 input's dtype
            if change is not None and change[0] == node.key:
                ws[change[1]] = change[2]
            c = Ctx(c0.layer, xs, w=ws, b=c0.b, cache=dict(c0.cache))
            vals[node.key] = forward_of(node.layer)(c)[0]
        return vals
