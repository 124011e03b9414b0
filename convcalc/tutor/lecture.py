"""What a learner needs beyond the formula: the exact quotient before the floor and what the
remainder means, a transposed convolution as its equivalent direct convolution (Dumoulin & Visin,
"A guide to convolution arithmetic", 2016), the receptive field in the lecture's recurrence
(r_out = r_in + (k − 1)·j_in, j_out = j_in·s), the backward pass of a conv or linear layer (and of
self-attention, matmul by matmul), and a whole model's totals.

Every number here is recomputed with integer / Fraction arithmetic from the layer's arguments and
checked against the engine's result; a line that would disagree is never shown (the engine's
formula line still is).
"""
from __future__ import annotations

import math
from fractions import Fraction

from .. import layers as L
from ..registry import Registry


def decimal(q: Fraction) -> str:
    """``53.25``, ``2.333…``: exact when the decimal ends within 6 places."""
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator)
    for places in range(1, 7):
        scaled = q * 10 ** places
        if scaled.denominator == 1:
            n = abs(scaled.numerator)
            return f"{'-' if q < 0 else ''}{n // 10 ** places}.{n % 10 ** places:0{places}d}"
    return f"{float(q):.4f}…"


def frac(q) -> str:
    q = Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def _axis_values(layer, i: int) -> tuple:
    k = layer.kernel_size[i]
    s = layer.stride[i]
    d = getattr(layer, "dilation", (1,) * len(layer.kernel_size))[i]
    lo, hi = layer.pads[i]
    return k, s, d, lo, hi


def quotient_notes(layer, L: int, i: int, result: int, axis: str) -> list:
    """For a direct window: ``(224 − 11 + 2·0)/4 = 213/4 = 53.25 → ⌊53.25⌋ = 53, + 1 = 54`` and
    whether the stride tiles the input (which pixels are never covered)."""
    k, s, d, lo, hi = _axis_values(layer, i)
    ceil = bool(layer.args().get("ceil_mode"))
    span = d * (k - 1) + 1
    num = L + lo + hi - span
    if num < 0 or s == 1:
        return []
    q = Fraction(num, s)
    rounded = math.ceil(q) if ceil else math.floor(q)
    if ceil and rounded * s >= L + lo:  # PyTorch: the last window must start inside the input or left pad
        rounded -= 1
    if rounded + 1 != result:
        return []
    pad = f"2·{lo}" if lo == hi else f"{lo} + {hi}"
    kk = str(k) if d == 1 else f"({d}·({k} − 1) + 1)"
    head = f"{axis}: ({L} − {kk} + {pad})/{s} = {num}/{s}"
    if q.denominator == 1:
        return [f"{head} = {q.numerator} exactly: the stride tiles the input, every pixel is covered"]
    sign = "⌈" if ceil else "⌊"
    close = "⌉" if ceil else "⌋"
    line = f"{head} = {decimal(q)} → {sign}{decimal(q)}{close} = {rounded}, + 1 = {result}"
    left = num - math.floor(q) * s
    where = "input" if lo == hi == 0 else "padded input"
    if ceil:
        return [line, f"stride {s} does not tile {axis}: ceil_mode keeps a last window that runs past the "
                      f"{where}"]
    px = "pixel" if left == 1 else "pixels"
    return [line, f"stride {s} does not tile {axis}: the last {left} {px} of the {where} "
                  f"({L} + {lo + hi} padding) {'is' if left == 1 else 'are'} never covered by a {span}-wide window"]


def transposed_notes(layer, L: int, i: int, result: int, axis: str) -> list:
    """A transposed conv as its equivalent direct convolution (Dumoulin & Visin, relationship 14):
    insert s − 1 zeros between the inputs, pad k' − p − 1 on each side (k' = d·(k − 1) + 1; output
    padding on one side), then a stride-1 convolution with the same kernel."""
    k, s, d, p, _ = _axis_values(layer, i)
    op = layer.output_padding[i]
    span = d * (k - 1) + 1
    stretched = (L - 1) * s + 1
    edge = span - p - 1
    padded = stretched + 2 * edge + op
    out = padded - span + 1
    if out != result or out != (L - 1) * s - 2 * p + span + op:
        return []
    lines = [f"{axis}: as a direct conv (Dumoulin & Visin): out = (i − 1)·s − 2p + k"
             + (" + output_padding" if op else "") + f" = ({L} − 1)·{s} − 2·{p} + {span}"
             + (f" + {op}" if op else "") + f" = {out}"]
    steps = [f"insert s − 1 = {s - 1} zero{'s' if s - 1 != 1 else ''} between inputs: ({L} − 1)·{s} + 1 = {stretched}"]
    if edge >= 0:
        steps.append(f"pad k − p − 1 = {span} − {p} − 1 = {edge} on each side"
                     + (f" (+ {op} output padding on one)" if op else "") + f": {padded}")
    else:
        steps.append(f"crop p − k + 1 = {-edge} from each side" + (f" (+ {op} output padding)" if op else "")
                     + f": {padded}")
    steps.append(f"stride-1 conv with a {span}-wide kernel: {padded} − {span} + 1 = {out}")
    return lines + ["  " + "; ".join(steps)]


def rf_text(layer, i: int, window, r_in, j_in, rf_out, axis_suffix: str):
    """((quantity, general, substituted, result), ...) for the size and jump in the recurrence
    r_out = r_in + (k − 1)·j_in, j_out = j_in·s; None when the numbers would not agree."""
    a = f"_{axis_suffix}" if axis_suffix else ""
    k, s, d, _, _ = _axis_values(layer, i)
    r_in, j_in = Fraction(r_in), Fraction(j_in)
    if window.up != 1:  # transposed: each output unit reaches k̄ input units on average
        kbar = Fraction(window.k)
        size = r_in + (kbar - 1) * j_in
        jump = j_in / s
        size_g, size_v = f"r_in + (k̄{a} − 1)·j_in", f"{frac(r_in)} + ({frac(kbar)} − 1)·{frac(j_in)}"
        jump_g, jump_v = f"j_in/S{a}", f"{frac(j_in)}/{s}"
    else:
        size = r_in + d * (k - 1) * j_in
        jump = j_in * s
        if d == 1:
            size_g, size_v = f"r_in + (K{a} − 1)·j_in", f"{frac(r_in)} + ({k} − 1)·{frac(j_in)}"
        else:
            size_g, size_v = f"r_in + D{a}·(K{a} − 1)·j_in", f"{frac(r_in)} + {d}·({k} − 1)·{frac(j_in)}"
        jump_g, jump_v = f"j_in·S{a}", f"{frac(j_in)}·{s}"
    if size != Fraction(rf_out.size) or jump != Fraction(rf_out.jump):
        return None
    return (size_g, size_v, rf_out.size), (jump_g, jump_v, rf_out.jump)


def kbar_note(window, axis: str) -> str:
    return (f"k̄ ({axis}) = {frac(window.k)}: an output unit of a transposed conv reaches {frac(window.k)} "
            f"input units on average (its kernel taps fall on the inserted zeros in between)")


# -- the backward pass ---------------------------------------------------------------------------------
def backward_lines(row, layer, input_needs_grad: bool) -> list:
    """dX and dW of a conv or linear layer: what each is, its shapes, its MACs (= the forward's)."""
    from .kinds import role

    special = BACKWARD_NOTES.get(layer, None)
    if special is not None and row.backward_macs is not None:
        return special(row, layer, input_needs_grad)
    ro = role(layer)
    if ro.features is None or row.backward_macs is None:
        return []
    fwd = row.macs
    x, y = "x".join(map(str, row.input)), "x".join(map(str, row.output))
    w = "x".join(map(str, layer.weight_shapes(tuple(row.input))["weight"]))
    if ro.windowed:
        dx_op = "conv(dY, W)" if ro.transposed else "conv_transpose(dY, W)"
        dw_op = "conv(dY, X)" if ro.transposed else "conv(X, dY)"
        why = "each forward MAC w·x gives one MAC in dX (dx += w·dy) and one in dW (dw += x·dy)"
    else:
        dx_op, dw_op = "dY·W", "dYᵀ·X"
        why = f"each is a matmul of the same size as the forward ({row.input[-1]}·{row.output[-1]} per row)"
    trainable = row.params != 0
    dx = fwd if input_needs_grad else 0
    dw = fwd if trainable else 0
    lines = [f"backward (gradients of the loss): dY {y} comes in from the next layer",
             f"dX = {dx_op}: dY {y} with W {w} → dX {x}; MACs = the forward's = {fwd:,}"
             + ("" if input_needs_grad else "  (not computed: the input is the data, it needs no gradient)"),
             f"dW = {dw_op}: X {x} with dY {y} → dW {w}; MACs = the forward's = {fwd:,}",
             f"({why})"]
    if getattr(layer, "bias", False):
        over = "positions" if ro.windowed else "rows"
        lines.append(f"db = dY summed over {over} → {row.output[0] if ro.windowed else row.output[-1]} "
                     f"values (additions, no MACs)")
    total = dx + dw
    if total == row.backward_macs:
        lines.append(f"backward MACs = {'dX + dW' if input_needs_grad else 'dW'} = "
                     + (f"{dx:,} + {dw:,} = " if input_needs_grad else "") + f"{total:,}")
    else:
        lines.append(f"backward MACs = {row.backward_macs:,}")
    return lines


def _shape(*dims) -> str:
    return "x".join(map(str, dims))


def attention_backward_lines(row, layer, input_needs_grad: bool) -> list:
    """Self-attention's backward, matmul by matmul (per head for the two attention matmuls):
    the output projection, attn·V, the softmax, QKᵀ, the q/k/v projection."""
    L, E = row.input
    h = layer.num_heads
    d, S = E // h, L + int(layer.add_bias_kv) + int(layer.add_zero_attn)
    n = row.macs // (4 * L * E * E + 2 * L * S * E)          # the batch
    proj, att, qkv = n * L * E * E, n * L * S * E, n * 3 * L * E * E
    trainable = row.params != 0
    b, bv = ("N·", f"{n}·") if n > 1 else ("", "")

    def macs(formula, *values):   # "MACs = N·L·E·E = 2·16·8·8 = 2,048"
        return f"MACs = {b}{formula} = {bv}{'·'.join(map(str, values))} = {n * math.prod(values):,}"

    y, o, z, hd = _shape(L, E), _shape(h, L, d), _shape(h, L, S), _shape(h, S, d)
    skip = "" if input_needs_grad else "  (not computed: the input is the data, it needs no gradient)"
    lines = [f"backward (gradients of the loss): dY {y} comes in from the next layer",
             f"out_proj  dO = dY·W_o: dY {y} with W_o {_shape(E, E)} → dO {y}; {macs('L·E·E', L, E, E)}",
             f"          dW_o = dYᵀ·O: O {y} with dY {y} → dW_o {_shape(E, E)}; {macs('L·E·E', L, E, E)}",
             f"attn·V    dA = dO·Vᵀ per head: dO {o} with V {hd} → dA {z}; {macs('L·S·E', L, S, E)}",
             f"          dV = Aᵀ·dO per head: A {z} with dO {o} → dV {hd}; {macs('L·S·E', L, S, E)}",
             "softmax   dZ = A ⊙ (dA − rowsum(dA ⊙ A)) (element-wise, no MACs)",
             f"QKᵀ       dQ = dZ·K per head: dZ {z} with K {hd} → dQ {o}; {macs('L·S·E', L, S, E)}",
             f"          dK = dZᵀ·Q per head: dZ {z} with Q {o} → dK {hd}; {macs('L·S·E', L, S, E)}",
             f"in_proj   dX = d[QKV]·W_in: d[QKV] {_shape(L, 3 * E)} with W_in {_shape(3 * E, E)} → dX {y}; "
             f"{macs('3·L·E·E', 3, L, E, E)}{skip}",
             f"          dW_in = d[QKV]ᵀ·X: X {y} with d[QKV] {_shape(L, 3 * E)} → dW_in {_shape(3 * E, E)}; "
             f"{macs('3·L·E·E', 3, L, E, E)}",
             f"(L = {L} queries, S = {S} keys, E = {E} = {h} heads x {d}; dO and the four attention matmuls "
             "lead to dX and dW_in alike)"]
    if layer.bias:
        lines.append(f"db_in, db_o = d[QKV], dY summed over tokens → {3 * E} and {E} values (additions, no MACs)")
    dx, dw, shared = qkv if input_needs_grad else 0, qkv + proj if trainable else 0, proj + 4 * att
    total = dx + dw + shared
    if total == row.backward_macs:
        parts = [p for p, v in (("dX", dx), ("(dW_in + dW_o)", dw), ("(dO + dA + dV + dQ + dK)", shared)) if v]
        lines.append(f"backward MACs = {' + '.join(parts)} = " + " + ".join(f"{v:,}" for v in (dx, dw, shared) if v)
                     + f" = {total:,}")
    else:
        lines.append(f"backward MACs = {row.backward_macs:,}")
    return lines


BACKWARD_NOTES = Registry("backward explanation")
BACKWARD_NOTES.register(L.MultiheadAttention)(attention_backward_lines)


def total_lines(report) -> list:
    """A whole model's totals: params and MACs as the sum of its layers'."""
    rows = [r for r in report.rows if r.layer is not None]
    out = []
    for label, key in (("params", "params"), ("MACs", "macs")):
        parts = [getattr(r, key) for r in rows if getattr(r, key)]
        total = report.totals[key]
        shown = " + ".join(f"{v:,}" for v in parts) if len(parts) <= 12 else f"the sum over {len(parts)} layers"
        out.append(f"{label} = {shown} = {total:,}" if len(parts) > 1 else f"{label} = {total:,}")
    if report.training is not None and report.totals.get("backward_macs") is not None:
        out.append(f"backward MACs = {report.totals['backward_macs']:,}; a training step = forward + backward = "
                   f"{report.totals['macs']:,} + {report.totals['backward_macs']:,} = "
                   f"{report.totals['macs'] + report.totals['backward_macs']:,} MACs")
    return out
