"""Prove the engine's numbers by executing the network in the NumPy core.

The only place where the engine (claims) and ``kernels`` (measurements) meet:

* **shape**: the shape of the array the kernel returned;
* **params**: the sizes of the weight arrays actually created from the layer's weight shapes;
* **MACs**: the multiply-accumulates the kernel tallied from its own matmuls;
* **receptive field**: measured by execution. For every windowed layer and spatial axis,
  the kernel is run on a batch of impulses (one input position lit per sample) with
  all-ones weights; which outputs light up is the layer's dependency matrix. Composing
  those matrices along the graph (OR where paths merge) gives, for every unit, the
  exact set of input pixels it depends on. An interior unit's field is compared with
  the engine's size, jump and start, clipped to the image.

``EXEC`` is the table from layer class to kernel call: to add a layer kind, add a line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Optional

import numpy as np

from . import kernels as K
from . import layers as L
from .analyze import analyze
from .errors import ConvcalcError, NeedsNumber
from .graph import Parallel, Sequential, join

# -- layer -> kernel ------------------------------------------------------------------------------


def _conv(l, x, w, b):
    return K.conv(x, w["weight"], w.get("bias"), l.stride, l.pads, l.dilation, l.groups, l.padding_mode)


def _conv_t(l, x, w, b):
    return K.conv_transpose(x, w["weight"], w.get("bias"), l.stride, tuple(lo for lo, _ in l.pads),
                            l.output_padding, l.dilation, l.groups)


def _maxpool(l, x, w, b):
    return K.max_pool(x, l.kernel_size, l.stride, l.padding, l.dilation, l.ceil_mode)


def _avgpool(l, x, w, b):
    return K.avg_pool(x, l.kernel_size, l.stride, l.padding, l.ceil_mode, l.count_include_pad, l.divisor_override)


def _adaptive(l, x, w, b):
    fn = K.adaptive_max_pool if l.op == "max" else K.adaptive_avg_pool
    return fn(x, l.output_size)


def _batchnorm(l, x, w, b):
    if l.track_running_stats:
        return K.batch_norm(x, b["running_mean"], b["running_var"], w.get("weight"), w.get("bias"), l.eps)
    return K.batch_norm(x, None, None, w.get("weight"), w.get("bias"), l.eps, training=True)


def _instancenorm(l, x, w, b):
    return K.instance_norm(x, w.get("weight"), w.get("bias"), l.eps)


def _layernorm2d(l, x, w, b):
    y, _ = K.permute(x, (0, *range(2, x.ndim), 1))
    y, _ = K.layer_norm(y, (x.shape[1],), w.get("weight"), w.get("bias"), l.eps)
    return K.permute(y, (0, x.ndim - 1, *range(1, x.ndim - 1)))


def _center_crop(l, x, w, b):
    index = [slice(None), slice(None)]
    for o, n in zip(l.offsets(x.shape[1:]), l.sizes(x.shape[1:])):
        index.append(slice(o, o + n))
    return x[tuple(index)].copy(), 0


def _softmax(fn):
    return lambda l, x, w, b: fn(x, l.dim if l.dim is not None else 1)


def _plain(fn):
    return lambda l, x, w, b: fn(x)


EXEC: dict = {
    L.Conv1d: _conv, L.Conv2d: _conv, L.Conv3d: _conv,
    L.ConvTranspose1d: _conv_t, L.ConvTranspose2d: _conv_t, L.ConvTranspose3d: _conv_t,
    L.MaxPool1d: _maxpool, L.MaxPool2d: _maxpool, L.MaxPool3d: _maxpool,
    L.AvgPool1d: _avgpool, L.AvgPool2d: _avgpool, L.AvgPool3d: _avgpool,
    L.AdaptiveAvgPool1d: _adaptive, L.AdaptiveAvgPool2d: _adaptive, L.AdaptiveAvgPool3d: _adaptive,
    L.AdaptiveMaxPool1d: _adaptive, L.AdaptiveMaxPool2d: _adaptive, L.AdaptiveMaxPool3d: _adaptive,
    L.Linear: lambda l, x, w, b: K.linear(x, w["weight"], w.get("bias")),
    L.Flatten: lambda l, x, w, b: K.flatten(x, l.start_dim, l.end_dim),
    L.BatchNorm1d: _batchnorm, L.BatchNorm2d: _batchnorm, L.BatchNorm3d: _batchnorm,
    L.InstanceNorm1d: _instancenorm, L.InstanceNorm2d: _instancenorm, L.InstanceNorm3d: _instancenorm,
    L.LayerNorm: lambda l, x, w, b: K.layer_norm(x, l.normalized_shape, w.get("weight"), w.get("bias"), l.eps),
    L.GroupNorm: lambda l, x, w, b: K.group_norm(x, l.num_groups, w.get("weight"), w.get("bias"), l.eps),
    L.LocalResponseNorm: lambda l, x, w, b: K.local_response_norm(x, l.size, l.alpha, l.beta, l.k),
    L.ReLU: _plain(K.relu), L.ReLU6: _plain(K.relu6), L.Sigmoid: _plain(K.sigmoid), L.Tanh: _plain(K.tanh),
    L.Hardswish: _plain(K.hardswish), L.Hardsigmoid: _plain(K.hardsigmoid), L.SiLU: _plain(K.silu),
    L.LeakyReLU: lambda l, x, w, b: K.leaky_relu(x, l.negative_slope),
    L.ELU: lambda l, x, w, b: K.elu(x, l.alpha),
    L.GELU: lambda l, x, w, b: K.gelu(x, l.approximate),
    L.PReLU: lambda l, x, w, b: K.prelu(x, w["weight"]),
    L.Softmax: _softmax(K.softmax), L.LogSoftmax: _softmax(K.log_softmax),
    L.Dropout: _plain(K.dropout), L.Identity: _plain(K.identity),
    L.ChannelShuffle: lambda l, x, w, b: K.channel_shuffle(x, l.groups),
    L.ChannelSlice: lambda l, x, w, b: (x[:, l.start:l.stop].copy(), 0),
    L.CenterCrop: _center_crop,
    L.Permute: lambda l, x, w, b: K.permute(x, l.dims),
    L.Upsample: lambda l, x, w, b: K.upsample(x, l.size, l.scale_factor, l.mode, l.align_corners),
    L.LayerScale: lambda l, x, w, b: K.mul(x, w["weight"]),
    L.LayerNorm2d: _layernorm2d,
}


# -- attention (kernels/attention.py); called without weights, the RF probe runs the window partition
def _swin_attention(l, x, w, b):
    if not w:
        return K.shifted_window_probe(x, l.window_size, l.shift_size)
    return K.shifted_window_attention(x, w["qkv.weight"], w.get("qkv.bias"), w["proj.weight"], w.get("proj.bias"),
                                      w["relative_position_bias_table"], l.window_size, l.shift_size, l.num_heads)


def _partition_attention(l, x, w, b):
    if not w:
        return K.partition_probe(x, l.partition_size, l.partition_type)
    return K.partition_attention(x, w["to_qkv.weight"], w["to_qkv.bias"], w["merge.weight"], w["merge.bias"],
                                 w["relative_position_bias_table"], l.partition_size, l.partition_type, l.head_dim)


EXEC.update({
    L.MultiheadAttention: lambda l, x, w, b: K.multihead_attention(
        x, w["in_proj_weight"], w.get("in_proj_bias"), w["out_proj.weight"], w.get("out_proj.bias"), l.num_heads,
        w.get("bias_k"), w.get("bias_v"), l.add_zero_attn),
    L.Tokens: lambda l, x, w, b: K.tokens(x),
    L.ClassToken: lambda l, x, w, b: K.class_token(x, w["class_token"]),
    L.PosEmbedding: lambda l, x, w, b: K.pos_embedding(x, w["pos_embedding"]),
    L.SelectToken: lambda l, x, w, b: K.select_token(x, l.index),
    L.ShiftedWindowAttention: _swin_attention,
    L.PatchMerge: lambda l, x, w, b: K.patch_merge(x),
    L.PartitionAttention: _partition_attention,
})


def kernel_for(layer) -> Callable:
    for cls in type(layer).__mro__:
        if cls in EXEC:
            return EXEC[cls]
    raise ConvcalcError(f"no NumPy kernel for layer kind {layer.kind!r}: add it to verify.EXEC")


# -- receptive field by execution -------------------------------------------------------------------

def _probe_call(layer, x):
    """Run ``layer``'s windowing on a 1-channel impulse batch, all weights one."""
    if isinstance(layer, (L.conv._ConvNd,)):
        k = layer.kernel_size
        ones = np.ones((1, 1, *k), dtype=np.float32)
        if layer.transposed:
            y, _ = K.conv_transpose(x, ones, None, layer.stride, tuple(lo for lo, _ in layer.pads),
                                    layer.output_padding, layer.dilation, 1)
        else:
            # The field is geometric: padding pixels are not input pixels, whatever they are
            # filled with (reflect/replicate/circular borders also reach mirrored pixels).
            y, _ = K.conv(x, ones, None, layer.stride, layer.pads, layer.dilation, 1, "zeros")
        return y
    y, _ = kernel_for(layer)(layer, x, {}, {})
    return y


def _probe_size(layer, axis: int, size: int) -> int:
    """A small size for a non-probed axis that keeps every kind of window the real axis
    has near its start: a window that sees real pixels exists, as in the real layer."""
    if isinstance(layer, L.pool._AdaptivePoolNd) or not hasattr(layer, "kernel_size"):
        return size
    k = layer.kernel_size[axis]
    d = layer.dilation[axis] if hasattr(layer, "dilation") else 1
    pads = layer.pads[axis] if hasattr(layer, "pads") else (layer.padding[axis],) * 2
    s = layer.stride[axis]
    return min(size, d * (k - 1) + 1 + pads[0] + pads[1] + s)


def dependency(layer, in_shape: tuple, axis: int) -> np.ndarray:
    """Boolean matrix D[o, i]: does output position o (along ``axis``) depend on input position i?"""
    spatial = list(in_shape[1:])
    n = spatial[axis]
    probe = [n if a == axis else _probe_size(layer, a, s) for a, s in enumerate(spatial)]
    x = np.zeros((n, 1, *probe), dtype=np.float32)
    idx = np.arange(n)
    sl = [idx, 0] + [slice(None)] * len(probe)
    sl[2 + axis] = idx
    x[tuple(sl)] = 1.0
    y = _probe_call(layer, x)
    other = tuple(a for a in range(1, y.ndim) if a != 2 + axis)
    # max-pooling a window of padding only gives -inf: that output depends on nothing
    lit = np.where(np.isfinite(y), np.abs(y), 0).sum(axis=other) > 0  # (n impulses, L_out)
    return lit.T


@dataclass
class Check:
    ok: Optional[bool]  # None: not checkable here
    claimed: object
    measured: object
    note: str = ""


@dataclass
class LayerResult:
    name: str
    desc: str
    checks: dict = field(default_factory=dict)  # "shape" | "params" | "macs" | "rf" -> Check

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


def _rf_check(row_rf, fields, in_sizes) -> Check:
    """Compare the engine's field with the measured dependency sets, per axis.

    Where the jump is a whole number of pixels the check is exact: the field of an
    interior unit (clipped to the image) and its shift to the next unit. After
    upsampling (a fractional jump) fields repeat with a period of q units and the
    engine gives their average size: it must lie within the measured sizes (less one:
    units that gather fewer inputs), and q units must shift by exactly q * jump pixels.
    """
    notes, ok, claimed, measured = [], True, [], []

    def empty_axis(arf, n, L0):
        u = n // 2
        c = Fraction(arf.start) + (0 if arf.is_global else u * Fraction(arf.jump))
        return max(c - Fraction(arf.size) / 2, 0) > min(c + Fraction(arf.size) / 2 - 1, L0 - 1)

    def hole_axis(arf, F, L0):  # measured empty where the border clips a dilated field
        u = F.shape[0] // 2
        c = Fraction(arf.start) + (0 if arf.is_global else u * Fraction(arf.jump))
        clipped = c - Fraction(arf.size) / 2 < 0 or c + Fraction(arf.size) / 2 - 1 > L0 - 1
        return clipped and not F[u].any()

    # A unit that sees only padding along one axis sees nothing at all.
    nothing = any(empty_axis(arf, F.shape[0], L0) or hole_axis(arf, F, L0)
                  for arf, F, L0 in zip(row_rf, fields, in_sizes))
    for a, (arf, F) in enumerate(zip(row_rf, fields)):
        L0, n = in_sizes[a], F.shape[0]
        extent = []
        for u in range(n):
            lit = np.flatnonzero(F[u])
            extent.append((int(lit[0]), int(lit[-1])) if lit.size else None)
        u = n // 2
        size = Fraction(arf.size)
        jump = None if arf.is_global else Fraction(arf.jump)

        def bounds(v):
            c = Fraction(arf.start) + (0 if jump is None else v * jump)
            return c - size / 2, c + size / 2 - 1

        lo_e, hi_e = bounds(u)
        clipped = lo_e < 0 or hi_e > L0 - 1
        if clipped:
            notes.append("clipped")
        # fields repeat every q units: the jump's denominator, or the upsampling period
        q = 1 if jump is None else math.lcm(jump.denominator, int(arf.period))
        if not arf.exact:  # uneven adaptive windows: the engine's field is the largest one
            lit_u = extent[u]
            claimed.append(f"size <= {_num(size)} near [{_num(lo_e)}, {_num(hi_e)}]")
            measured.append("none" if lit_u is None else f"[{lit_u[0]}, {lit_u[1]}]")
            notes.append("bound")
            if lit_u is not None:
                slack = max(jump or 0, 1)
                ok &= lit_u[1] - lit_u[0] + 1 <= size and lit_u[0] <= hi_e + slack and lit_u[1] >= lo_e - slack
            continue
        exact = q == 1 and lo_e.denominator == 1
        if exact and extent[u] is None:  # a unit that sees only padding: the engine must agree
            claimed.append(f"[{_num(lo_e)}, {_num(hi_e)}]")
            measured.append("padding only")
            # (with dilation holes, a field that the border clips may hold no real pixel)
            ok &= nothing or clipped
            continue
        if exact:
            lo_m, hi_m = extent[u]
            lo_c, hi_c = max(lo_e, 0), min(hi_e, L0 - 1)
            claimed.append(f"[{_num(lo_c)}, {_num(hi_c)}]")
            measured.append(f"[{lo_m}, {hi_m}]")
            if clipped:  # dilation holes may leave the border pixels of a clipped field untouched
                ok &= lo_c <= lo_m and hi_m <= hi_c
            else:
                ok &= (lo_m, hi_m) == (lo_c, hi_c)
            if jump is not None and n >= 2:
                v = u - 1 if u + 1 >= n else u + 1
                lo2, hi2 = bounds(v)
                if extent[v] is not None and lo_e >= 0 and lo2 >= 0:
                    ok &= extent[v][0] - lo_m == (v - u) * jump
                if extent[v] is not None and hi_e <= L0 - 1 and hi2 <= L0 - 1:
                    ok &= extent[v][1] - hi_m == (v - u) * jump
            continue
        notes.append("periodic")
        period = [extent[v] for v in range(u, min(n, u + q))]
        sizes = [e[1] - e[0] + 1 for e in period if e is not None]
        claimed.append(f"size {_num(size)}, jump {_num(jump) if jump is not None else 'all'}")
        measured.append(f"sizes {min(sizes)}..{max(sizes)}" if sizes else "none")
        interior = lo_e - size >= 0 and hi_e + size + q * (jump or 0) <= L0 - 1
        if interior and sizes:
            ok &= min(sizes) - 1 < size <= max(sizes)  # an average over the period
        if (u + q < n and extent[u] is not None and extent[u + q] is not None and not clipped
                and bounds(u + q)[1] <= L0 - 1):
            ok &= extent[u + q][0] - extent[u][0] == q * jump
    return Check(bool(ok), " x ".join(claimed), " x ".join(measured), ",".join(sorted(set(notes))))


def _num(x):
    x = Fraction(x)
    return x.numerator if x.denominator == 1 else float(x)


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
    """Peak bytes of a verification run (fp32): live activations, the largest im2col
    buffer, all weights; and the row that dominates."""
    acts = report.totals["peak_activation_bytes"] // report.dtype_bytes * 4
    weights = (report.totals["params"] + report.totals["buffers"]) * 4
    worst, worst_row = 0, None
    for r in report.rows:
        if r.kind.startswith("conv"):
            col = r.macs * 4 // max(1, r.output[0])  # (C_in/g)*prod(k) per output position, per group
            if r.kind.startswith("convtranspose"):
                col = r.macs * 4 // max(1, r.input[0])
            if col > worst:
                worst, worst_row = col, r
    return acts + worst + weights, worst_row


def _uniform(rng, shape, a: float) -> np.ndarray:
    """float32 uniform on [-a, a): one cheap draw, scaled in place."""
    w = rng.random(shape, dtype=np.float32)
    w -= np.float32(0.5)
    w *= np.float32(2 * a)
    return w


def _draw(layer, shape, rng) -> tuple:
    """Weights and buffers for one layer.  verify checks counts and shapes, not values: cheap
    uniform float32 draws, weights scaled to He's variance 2/fan_in (uniform on [-a, a] has
    variance a^2/3), running variances in [0.5, 1.5)."""
    weights = {}
    for wname, wshape in layer.weight_shapes(shape).items():
        fan_in = max(1, int(np.prod(wshape[1:])) if len(wshape) > 1 else 1)
        weights[wname] = _uniform(rng, wshape, math.sqrt(6.0 / fan_in))
    buffers = {}
    for bname, bshape in layer.buffer_shapes(shape).items():
        if bname == "num_batches_tracked":
            buffers[bname] = np.zeros(bshape, dtype=np.int64)
        elif bname == "running_var":
            buffers[bname] = _uniform(rng, bshape, 0.5) + np.float32(1.0)
        else:
            buffers[bname] = _uniform(rng, bshape, 0.1)
    return weights, buffers


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
    rng = np.random.default_rng(seed)
    rows = iter(report.rows)
    results: list = []
    net = getattr(model, "net", model)
    in_shape = report.input
    spatial = len(in_shape) - 1
    total = len(report.rows)

    def step(row, res):
        results.append(res)
        if progress:
            progress(len(results), total, row.name)

    def fields_init():
        if spatial < 1 or not check_rf:
            return None
        return tuple(np.eye(n, dtype=bool) for n in in_shape[1:])

    def run(module, prefix, x, F):
        if isinstance(module, L.Layer):
            return leaf(module, prefix, x, F)
        if isinstance(module, Sequential):
            for name, child in module.children:
                x, F = run(child, join(prefix, name), x, F)
            return x, F
        if isinstance(module, Parallel):
            outs = [(x, F) if child is None else run(child, join(prefix, name), x, F)
                    for name, child in module.branches]
            row = next(rows)
            arrays = [o for o, _ in outs]
            if module.combine == "add":
                y = arrays[0]
                for a in arrays[1:]:
                    y, _ = K.add(y, a)
            elif module.combine == "mul":
                y = arrays[0]
                for a in arrays[1:]:
                    y, _ = K.mul(y, a)
            else:
                y, _ = K.concat(arrays, dim=module.dim + 1)
            Fs = [f for _, f in outs]
            # (a gate after a global pool has one field row per axis: broadcast it)
            Fm = None if any(f is None for f in Fs) else tuple(
                np.logical_or.reduce(np.broadcast_arrays(*[f[a] for f in Fs])) for a in range(len(Fs[0])))
            res = LayerResult(row.name, row.desc)
            res.checks["shape"] = Check(tuple(y.shape[1:]) == tuple(row.output), row.output, tuple(y.shape[1:]))
            if Fm is not None and row.rf is not None:
                res.checks["rf"] = _rf_check(row.rf, Fm, in_shape[1:])
            step(row, res)
            x, F = y, Fm
            for name, child in module.post:
                x, F = run(child, join(prefix, name), x, F)
            return x, F
        raise ConvcalcError(f"cannot execute {type(module).__name__}")

    def leaf(layer, name, x, F):
        row = next(rows)
        shape = tuple(x.shape[1:])
        weights, buffers = _draw(layer, shape, rng)
        try:
            y, macs = kernel_for(layer)(layer, x, weights, buffers)
        except ValueError as e:
            raise ConvcalcError(f"{name}: the NumPy core rejects this layer: {e}") from None
        params = sum(int(a.size) for a in weights.values())
        nbuf = sum(int(a.size) for a in buffers.values())
        res = LayerResult(row.name, row.desc)
        res.checks["shape"] = Check(tuple(y.shape[1:]) == tuple(row.output) and y.shape[0] == batch,
                                    row.output, tuple(y.shape[1:]))
        res.checks["params"] = Check(params == row.params and nbuf == row.buffers,
                                     (row.params, row.buffers), (params, nbuf))
        res.checks["macs"] = Check(macs == row.macs, row.macs, macs)
        F2 = None
        if F is not None:
            inf = layer.infer(shape)
            if inf.rf == "window":
                F2 = tuple(dependency(layer, shape, a).astype(np.uint8).__matmul__(F[a].astype(np.uint8)) > 0
                           for a in range(len(F)))
            elif inf.rf == "global":
                F2 = tuple(np.logical_or.reduce(f, axis=0, keepdims=True) for f in F)
            else:
                F2 = F
            if row.rf is not None:
                res.checks["rf"] = _rf_check(row.rf, F2, in_shape[1:])
        step(row, res)
        return y, F2

    x0 = _uniform(rng, (batch, *in_shape), math.sqrt(3.0))  # unit variance
    run(net, "", x0, fields_init())
    return VerifyResult(report.model, in_shape, batch, results)
