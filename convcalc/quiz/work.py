"""Worked solutions for quiz answers: the formula, the numbers substituted, the exact quotient
before the floor, the result.

Each line is written from the layer's own hyper-parameters and the row's input shape, and every
function also returns the value its arithmetic reaches; the generator keeps a question only when
that value equals the engine's (so a key never shows working that disagrees with its answer).
The lecture's form (N - F + 2P)/S + 1 is used when dilation is 1; the general PyTorch form only
when it is needed. What each layer kind contributes is looked up in a registry keyed by class.
"""
from __future__ import annotations

import math
from fractions import Fraction

from ..layers import Elementwise, Flatten, Linear, LocalResponseNorm
from ..layers.conv import _ConvNd, _ConvTransposeNd
from ..layers.norm import _BatchNorm
from ..layers.pool import _AdaptivePoolNd, _PoolNd
from ..registry import Registry

AXES = ("H", "W")
WORK = Registry("worked solution")


def n(x) -> str:
    """An integer with thousands separators."""
    return f"{x:,}"


def decimal(q: Fraction) -> str:
    """``213/4 = 53.25``; ``221/3 ≈ 73.67`` when the decimal does not end."""
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        return f"{q.numerator}/{q.denominator} = {float(q):g}"
    return f"{q.numerator}/{q.denominator} ≈ {float(q):.2f}"


def shape_text(shape, layout: str) -> str:
    dims = list(shape)
    if layout == "hwc" and len(dims) > 1:
        dims = dims[1:] + dims[:1]
    return "x".join(str(d) for d in dims)


# -- one axis of a windowed layer ----------------------------------------------------------------------
def window_axis(axis: str, L: int, k: int, s: int, lo: int, hi: int, d: int, ceil: bool = False):
    """(line, size) for one spatial axis of a conv or pool."""
    if d == 1 and lo == hi:
        head = f"{axis}_out = (N - F + 2P)/S + 1 = ({L} - {k} + 2·{lo})/{s} + 1"
        num = L - k + 2 * lo
    else:
        pad = f"2·{lo}" if lo == hi else f"{lo} + {hi}"
        head = (f"{axis}_out = (N + 2P - D·(F - 1) - 1)/S + 1 = ({L} + {pad} - {d}·({k} - 1) - 1)/{s} + 1"
                if lo == hi else
                f"{axis}_out = (N + P_lo + P_hi - D·(F - 1) - 1)/S + 1 = ({L} + {pad} - {d}·({k} - 1) - 1)/{s} + 1")
        num = L + lo + hi - d * (k - 1) - 1
    if num < 0:
        return f"{head}: the window does not fit", 0
    if num % s == 0:
        size = num // s + 1
        mid = f" = {num}/{s} + 1" if s != 1 else ""
        return f"{head}{mid} = {num // s} + 1 = {size}", size
    q = Fraction(num, s)
    rounded = math.ceil(q) if ceil else math.floor(q)
    size = rounded + 1
    line = (f"{head} = {num}/{s} + 1; {decimal(q)} → {'ceil' if ceil else 'floor'} = {rounded}; "
            f"{rounded} + 1 = {size}")
    dropped = num % s - hi
    if not ceil and dropped > 0:
        line += f" (the last {dropped} pixel{'s' if dropped > 1 else ''} of the input are never covered)"
    return line, size


def transposed_axis(axis: str, L: int, k: int, s: int, p: int, d: int, op: int):
    size = (L - 1) * s - 2 * p + d * (k - 1) + op + 1
    extra = f" + {op}" if op else ""
    if d == 1:
        head = f"{axis}_out = (N - 1)·S - 2P + F{' + output_padding' if op else ''}"
        return f"{head} = ({L} - 1)·{s} - 2·{p} + {k}{extra} = {size}", size
    head = f"{axis}_out = (N - 1)·S - 2P + D·(F - 1){' + output_padding' if op else ''} + 1"
    return f"{head} = ({L} - 1)·{s} - 2·{p} + {d}·({k} - 1){extra} + 1 = {size}", size


def _spatial_lines(row, per_axis):
    """Lines for H and W (one line when both axes are the same question)."""
    H, W = row.input[1], row.input[2]
    line_h, h = per_axis(0, H)
    if W == H and _same_axes(row.layer):
        return [line_h.replace("H_out", "H_out = W_out", 1)], (h, h)
    line_w, w = per_axis(1, W)
    return [line_h, line_w], (h, w)


def _same_axes(layer) -> bool:
    parts = [getattr(layer, a, None) for a in ("kernel_size", "stride", "dilation", "pads")]
    return all(p is None or len(set(p)) == 1 for p in parts)


# -- per layer kind: shape, params, MACs, window ------------------------------------------------------
def conv_shape(row, layout):
    lay = row.layer

    def axis(i, L):
        lo, hi = lay.pads[i]
        return window_axis(AXES[i], L, lay.kernel_size[i], lay.stride[i], lo, hi, lay.dilation[i])

    lines, (h, w) = _spatial_lines(row, axis)
    lines.append(f"C_out = the number of filters = {lay.out_channels}")
    return lines, (lay.out_channels, h, w)


def transposed_shape(row, layout):
    lay = row.layer

    def axis(i, L):
        return transposed_axis(AXES[i], L, lay.kernel_size[i], lay.stride[i], lay.pads[i][0], lay.dilation[i],
                               lay.output_padding[i])

    lines, (h, w) = _spatial_lines(row, axis)
    lines.append(f"C_out = {lay.out_channels}")
    return lines, (lay.out_channels, h, w)


def _kernel_factor(lay, channels: int):
    """("F·F·C", "11·11·3", value) of one filter's (or one input unit's) weights."""
    kh, kw = lay.kernel_size
    g = lay.groups
    if g == 1:
        return "F·F·C_in", f"{kh}·{kw}·{channels}", kh * kw * channels
    return "F·F·(C_in/g)", f"{kh}·{kw}·({channels}/{g})", kh * kw * (channels // g)


def conv_params(row):
    lay = row.layer
    c_in, c_out = row.input[0], lay.out_channels
    if lay.transposed:
        g = lay.groups
        sym, num, per = ("F·F·C_in·C_out", f"{lay.kernel_size[0]}·{lay.kernel_size[1]}·{c_in}·{c_out}",
                         lay.kernel_size[0] * lay.kernel_size[1] * c_in * c_out) if g == 1 else \
            ("F·F·C_in·(C_out/g)", f"{lay.kernel_size[0]}·{lay.kernel_size[1]}·{c_in}·({c_out}/{g})",
             lay.kernel_size[0] * lay.kernel_size[1] * c_in * (c_out // g))
        weights = per
    else:
        sym, num, per = _kernel_factor(lay, c_in)
        sym, num, weights = f"{sym}·C_out", f"{num}·{c_out}", per * c_out
    if lay.bias:
        total = weights + c_out
        return [f"params = {sym} + C_out = {num} + {c_out} = {n(total)}"], total
    return [f"params = {sym} (no bias) = {num} = {n(weights)}"], weights


def conv_macs(row):
    lay = row.layer
    if lay.transposed:
        c, h, w = row.input
        g = lay.groups
        kh, kw = lay.kernel_size
        per = kh * kw * (lay.out_channels // g)
        total = c * h * w * per
        out_part = f"{kh}·{kw}·{lay.out_channels}" if g == 1 else f"{kh}·{kw}·({lay.out_channels}/{g})"
        return [f"MACs = H_in·W_in·C_in · F·F·{'C_out' if g == 1 else '(C_out/g)'} (every input unit meets every "
                f"weight once) = {h}·{w}·{c} · {out_part} = {n(total)}"], total
    c_out, h, w = row.output
    sym, num, per = _kernel_factor(lay, row.input[0])
    total = c_out * h * w * per
    return [f"MACs = H_out·W_out·C_out · {sym} (one per weight per output value) = {h}·{w}·{c_out} · {num} = "
            f"{n(total)}"], total


def pool_shape(row, layout):
    lay = row.layer

    def axis(i, L):
        p = lay.padding[i]
        return window_axis(AXES[i], L, lay.kernel_size[i], lay.stride[i], p, p, lay.dilation[i], lay.ceil_mode)

    lines, (h, w) = _spatial_lines(row, axis)
    lines.append(f"C_out = C_in = {row.input[0]} (pooling works on each channel)")
    return lines, (row.input[0], h, w)


def adaptive_shape(row, layout):
    size = row.layer.output_size
    out = (row.input[0], *size)
    return [f"adaptive pool to a fixed {'x'.join(map(str, size))}: {shape_text(row.input, layout)} → "
            f"{shape_text(out, layout)}"], out


def same_shape(row, layout):
    return [f"{row.desc} keeps the shape: {shape_text(row.input, layout)}"], tuple(row.input)


def flatten_shape(row, layout):
    total = math.prod(row.input)
    return [f"flatten: {'·'.join(map(str, row.input))} = {n(total)}"], (total,)


def linear_shape(row, layout):
    return [f"linear: {row.layer.out_features} outputs"], (row.layer.out_features,)


def linear_params(row):
    lay = row.layer
    a, b = row.input[-1], lay.out_features
    if lay.bias:
        return [f"params = in·out + out = {a}·{b} + {b} = {n(a * b + b)}"], a * b + b
    return [f"params = in·out (no bias) = {a}·{b} = {n(a * b)}"], a * b


def linear_macs(row):
    a, b = row.input[-1], row.layer.out_features
    return [f"MACs = in·out = {a}·{b} = {n(a * b)}"], a * b


def no_weights(row):
    return [f"{row.desc}: no weights, 0 parameters"], 0


def no_macs(row):
    return [f"{row.desc}: no multiply-accumulates"], 0


def conv_window(lay, i):
    return lay.dilation[i] * (lay.kernel_size[i] - 1) + 1, lay.stride[i], lay.dilation[i], lay.kernel_size[i]


WORK.register(_ConvNd)({"shape": conv_shape, "params": conv_params, "macs": conv_macs, "window": conv_window})
WORK.register(_ConvTransposeNd)({"shape": transposed_shape, "params": conv_params, "macs": conv_macs,
                                 "window": None})
WORK.register(_PoolNd)({"shape": pool_shape, "params": no_weights, "macs": no_macs, "window": conv_window})
WORK.register(_AdaptivePoolNd)({"shape": adaptive_shape, "params": no_weights, "macs": no_macs,
                                "window": "global"})
WORK.register(Linear)({"shape": linear_shape, "params": linear_params, "macs": linear_macs, "window": "global"})
WORK.register(Flatten)({"shape": flatten_shape, "params": no_weights, "macs": no_macs, "window": "global"})
WORK.register(Elementwise, LocalResponseNorm)({"shape": same_shape, "params": no_weights,
                                                    "macs": no_macs, "window": None})


def _bn_params(row):
    c = row.input[0]
    return [f"{row.desc}: a scale and a shift per channel = 2·{c} = {2 * c}"], 2 * c


WORK.register(_BatchNorm)({"shape": same_shape, "params": _bn_params, "macs": no_macs, "window": None})


# -- per asked field ---------------------------------------------------------------------------------------
def label(r) -> str:
    """A row as the question names it: ``(2) conv 3x3 p1, 64`` for a layer list, else the row name."""
    return f"({int(r.name) + 1}) {r.desc}" if r.name.isdigit() else f"{r.name} ({r.desc})"


def _prefixed(rows, r, lines):
    return lines if len(rows) == 1 else [f"{label(r)}: {line}" for line in lines]


def output_work(rows, layout):
    """The shape after the last of ``rows``, layer by layer (a long chain: the shapes, then the last
    layer's formula)."""
    lines, value = [], None
    if len(rows) > 6:
        lines.append("shapes: " + " → ".join([shape_text(rows[0].input, layout)]
                                             + [shape_text(r.output, layout) for r in rows[:-1]]))
        rows_shown = rows[-1:]
    else:
        rows_shown = rows
    for r in rows_shown:
        more, value = WORK.get(r.layer)["shape"](r, layout)
        lines += _prefixed(rows_shown if len(rows) <= 6 else rows, r, more)
    lines.append(f"output: {shape_text(value, layout)}")
    return lines, tuple(value)


def count_work(rows, what):
    """Params or MACs summed over ``rows``; layers without any are left out of the working."""
    lines, parts = [], []
    for r in rows:
        more, value = WORK.get(r.layer)[what](r)
        if value:
            lines += _prefixed(rows, r, more)
            parts.append(value)
    if not parts:
        lines, parts = _prefixed(rows, rows[0], WORK.get(rows[0].layer)[what](rows[0])[0]), [0]
    total = sum(parts)
    if len(parts) > 1:
        lines.append(f"total = {' + '.join(n(p) for p in parts)} = {n(total)}")
    return lines, total


def rf_work(rows):
    """The lecture's recurrence r_out = r_in + (k - 1)·j_in, j_out = j_in·s (r = j = 1 at the input)."""
    r, j = 1, 1
    lines = ["start: r = 1, j = 1 (one input pixel)"]
    for row in rows:
        win = WORK.get(row.layer)["window"]
        if win is None:
            continue
        if win == "global":
            lines.append(f"{label(row)}: every output sees the whole input")
            return lines, None
        k, s, d, f = win(row.layer, 0)
        keff = "" if d == 1 else f" (dilated: k = D·(F - 1) + 1 = {d}·({f} - 1) + 1 = {k})"
        r_new, j_new = r + (k - 1) * j, j * s
        lines.append(f"{label(row)}{keff}: r = {r} + ({k} - 1)·{j} = {r_new}, j = {j}·{s} = {j_new}")
        r, j = r_new, j_new
    lines.append(f"receptive field: {r}x{r}")
    return lines, r


def memory_work(rows, nbytes: int, dtype: str, whole: bool):
    """Output activation memory of the last row, or of every row's output (``whole``)."""
    chosen = rows if whole else rows[-1:]
    lines, total = [], 0
    for r in chosen:
        elems = math.prod(r.output)
        total += elems
        prefix = f"{label(r)}: " if whole else ""
        lines.append(f"{prefix}{'·'.join(map(str, r.output))} = {n(elems)} values")
    if whole and len(chosen) > 1:
        lines.append(f"all outputs: {n(total)} values")
    lines.append(f"memory = {n(total)} values · {nbytes} B ({dtype}) = {n(total * nbytes)} B")
    return lines, total * nbytes
