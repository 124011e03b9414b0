"""The named slips, recomputed: a wrong answer is compared with what the same question gives
after one mistake.

Each slip rebuilds the network with the mistake (``layer.replace(bias=False)``, padding 0,
groups 1, the pool's stride on the conv, ...) and reruns the engine, or recomputes the quantity
the mistaken way (no floor, r - 1, ignoring the jump). A match names the slip. Nothing is
matched by number patterns. Which slip applies to which layer comes from its role
(:mod:`convcalc.tutor.kinds`), never from its class name.
"""
from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

from ..errors import ConvcalcError
from .answers import FIELDS, MEMORY_FIELDS, SHAPE_FIELDS, dims_match, to_chw
from .kinds import CHANNELS, CONV, role
from .truth import quantity

SLIPS = {
    "bias": "forgot the bias",
    "padding": "forgot the padding",
    "cout_for_cin": "used C_out for C_in",
    "floor": "did not floor",
    "flops_for_macs": "counted FLOPs (2 per MAC) where MACs were asked",
    "macs_for_flops": "counted MACs where FLOPs (2 per MAC) were asked",
    "groups": "forgot groups",
    "pool_stride": "applied the pool's stride to the conv",
    "rf_off_by_one": "off-by-one in the receptive field",
    "rf_no_jump": "ignored the stride (jump) of earlier layers in the receptive field",
    "w_out_for_h_in": "used W_out for H_in (H_2 = (W_2 - F + 2P)/S + 1)",
    "elements_for_bytes": "counted elements, not bytes",
    "memory_kind": "gave the other memory",
    "dilation": "ignored the dilation",
    "transposed_macs_output": "counted the transposed conv's MACs over the output",
    "padding_once": "counted the padding once instead of twice (2P)",
    "other_layout": "answered in the other layout",
    "backward_first_dx": "computed dX for a layer whose input needs no gradient",
    "backward_one_gradient": "counted one gradient (the backward needs both dX and dW)",
    "unanswered": "unanswered",
}


# -- the network with a mistake --------------------------------------------------------------------------------
def with_changes(net, change):
    """The network's graph with ``change(key, layer)`` in place of every layer the user wrote
    (the merges the builders added stay)."""
    from ..graph import Graph, to_graph

    graph = to_graph(net)
    out = Graph(graph.inputs)
    for node in graph:
        layer = node.layer if node.implicit else change(node.key, node.layer)
        out.add(node.name, layer, node.inputs, key=node.key, implicit=node.implicit)
    out.outputs = graph.outputs
    return out


def _variant(ctx, fld, change):
    """The field's value on the network with ``change(key, layer)`` applied to every layer, or None."""
    try:
        return quantity(ctx.rerun(with_changes(ctx.q.net, change)), ctx.q.at, fld)
    except (ConvcalcError, TypeError, ValueError, ZeroDivisionError):
        return None


def _has_bias(lay) -> bool:
    return role(lay).features is not None and bool(lay.args().get("bias"))


def _has_padding(lay) -> bool:
    return role(lay).windowed and any(lo or hi for lo, hi in lay.pads)


def _is_dilated(lay) -> bool:
    d = getattr(lay, "dilation", 1)
    return role(lay).windowed and any(x != 1 for x in (d if isinstance(d, (tuple, list)) else (d,)))


def _is_grouped(lay) -> bool:
    return role(lay).grouped and lay.args()["groups"] != 1


def _strides(row) -> tuple:
    """The stride of each window of a row's layer, as its own inference gives them."""
    return tuple(w.s for w in row.layer.infer(tuple(row.input)).windows)


# -- the slips: each yields (slip key, value, explanation) -------------------------------------------------------
def _slip_bias(ctx, fld):
    if fld not in ("params", "param_memory"):
        return
    count = 0
    for r in ([ctx.row] if ctx.row is not None else ctx.rows):
        if r.layer is not None and _has_bias(r.layer):
            count += r.layer.args()[role(r.layer).features.out_arg]
    if not count:
        return
    val = _variant(ctx, fld, lambda key, lay: lay.replace(bias=False) if _has_bias(lay) else lay)
    unit = "channel" if any(role(r.layer).features is CHANNELS for r in ctx.rows) else "unit"
    yield "bias", val, f"that is the count without the {count:,} biases (one per output {unit})"


def _slip_padding(ctx, fld):
    if fld not in ("output", "height", "width", "macs", "flops", "memory"):
        return
    pads = [r for r in ctx.rows if r.layer is not None and _has_padding(r.layer)]
    if not pads:
        return
    p = pads[0].layer.pads[0][0]
    val = _variant(ctx, fld, lambda key, lay: lay.replace(padding=0) if _has_padding(lay) else lay)
    yield "padding", val, f"that is the {FIELDS[fld]} with padding 0 (the question pads by {p})"


def _slip_dilation(ctx, fld):
    if fld not in ("output", "height", "width", "macs", "flops", "memory", "rf"):
        return
    dil = [r for r in ctx.rows if r.layer is not None and _is_dilated(r.layer)]
    if not dil:
        return
    d = dil[0].layer.args()["dilation"]
    d = d[0] if isinstance(d, (tuple, list)) else d
    if fld == "rf":
        rf = _rf_chain(ctx, 1, dilation_one=True)
        if rf is not None:
            yield "dilation", rf, f"that is the field with dilation 1; with dilation {d} a K-tap kernel spans D·(K − 1) + 1"
        return
    val = _variant(ctx, fld, lambda key, lay: lay.replace(dilation=1) if _is_dilated(lay) else lay)
    yield "dilation", val, (f"that is the {FIELDS[fld]} with dilation 1; with dilation {d} the kernel spans "
                            f"D·(K − 1) + 1 input pixels")


def _slip_padding_once(ctx, fld):
    """(L − K + P)/S + 1: the padding added on one side only."""
    if fld not in ("output", "height", "width", "macs", "flops", "memory"):
        return
    pads = [r for r in ctx.rows if r.layer is not None and _has_padding(r.layer) and not role(r.layer).transposed]
    if not pads:
        return

    def once(key, lay):
        if _has_padding(lay) and not role(lay).transposed and all(lo == hi for lo, hi in lay.pads):
            return lay.replace(padding=tuple((lo, 0) for lo, _ in lay.pads))
        return lay

    val = _variant(ctx, fld, once)
    yield "padding_once", val, "that is the size with P added once; the padding goes on both sides: + 2P"


def _slip_transposed_macs(ctx, fld):
    """A transposed conv's MACs counted over its output positions (as a conv's are)."""
    if fld not in ("macs", "flops"):
        return
    rows = [ctx.row] if ctx.row is not None else ctx.rows
    if not any(r.layer is not None and role(r.layer).transposed for r in rows):
        return
    total = 0
    for r in rows:
        if r.layer is not None and role(r.layer).transposed:
            a = r.layer.args()
            k = math.prod(r.layer.kernel_size)
            total += math.prod(r.output) * (r.input[0] // a["groups"]) * k * ctx.report.batch
        else:
            total += r.macs
    yield "transposed_macs_output", total if fld == "macs" else 2 * total, (
        "that counts C_in/g·K·K MACs per output position; a transposed conv does C_out/g·K·K per *input* "
        "position (each input scatters its kernel)")


def _slip_groups(ctx, fld):
    if fld not in ("params", "macs", "flops", "param_memory"):
        return
    grouped = [r for r in ctx.rows if r.layer is not None and _is_grouped(r.layer)]
    if not grouped:
        return
    g = grouped[0].layer.args()["groups"]
    val = _variant(ctx, fld, lambda key, lay: lay.replace(groups=1) if _is_grouped(lay) else lay)
    yield "groups", val, (f"that is the {FIELDS[fld]} with groups=1; with groups={g} each filter sees only "
                          f"C_in/{g} channels")


def _slip_cout_for_cin(ctx, fld):
    """Each conv / linear recomputed as if its input had C_out channels (features)."""
    if fld not in ("params", "macs", "flops", "param_memory"):
        return
    rows = [ctx.row] if ctx.row is not None else ctx.rows
    key = {"params": "params", "param_memory": "params", "macs": "macs", "flops": "macs"}[fld]
    total, changed, first = 0, False, None
    for r in rows:
        lay = r.layer
        if lay is None:
            continue
        feats = role(lay).features
        out = lay.args()[feats.out_arg] if feats is not None else None
        if out is None or r.input[feats.axis] == out:
            total += getattr(r, key) if key == "params" else r.macs
            continue
        shape = list(r.input)
        shape[feats.axis] = out
        try:
            inf = lay.replace(**{feats.in_arg: None}).infer(tuple(shape))
        except ConvcalcError:
            return
        changed, first = True, first or (r.input[feats.axis], out)
        total += inf.params if key == "params" else inf.macs * ctx.report.batch
    if not changed:
        return
    val = {"params": total, "param_memory": total * ctx.report.dtype_bytes, "macs": total, "flops": 2 * total}[fld]
    yield "cout_for_cin", val, (f"that is the count with C_out = {first[1]} inputs in place of C_in = {first[0]}"
                                + (" (in every layer)" if len(rows) > 1 else ""))


def _unfloored(ctx, mode):
    """The asked output's spatial sizes with every window's size left a fraction (``none``) or
    rounded up (``ceil``); None when a row is neither such a window nor shape-preserving, or
    when no window rounds."""
    sizes, any_window = None, False
    for r in ctx.rows:
        lay = r.layer
        if sizes is None:
            sizes = [Fraction(d) for d in r.input[1:]]
        if lay is None:
            return None
        ro = role(lay)
        if ro.windowed and not ro.transposed and not lay.args().get("ceil_mode"):
            windows = lay.infer(tuple(r.input)).windows
            new = []
            for L, w, (lo, hi) in zip(sizes, windows, lay.pads):
                x = (L + lo + hi - w.k) / Fraction(w.s) + 1
                new.append(Fraction(math.ceil(x)) if mode == "ceil" else x)
            if new != [Fraction(v) for v in r.output[1:]]:
                any_window = True
            sizes = new
        elif tuple(r.output) != tuple(r.input):
            return None
    return sizes if any_window else None


def _slip_floor(ctx, fld):
    """Output sizes carried as exact fractions (no floor), or rounded up, through the windowed layers."""
    if fld not in ("output", "height", "width"):
        return
    for mode, text in (("none", "that is (L + 2P - K)/S + 1 without the floor; sizes are whole: floor it"),
                       ("ceil", "that is the size rounded up; the formula floors (PyTorch's default)")):
        sizes = _unfloored(ctx, mode)
        if sizes is None:
            continue
        shape = (ctx.rows[-1].output[0], *sizes)
        val = {"output": shape, "height": shape[-2] if len(shape) > 2 else None, "width": shape[-1]}[fld]
        if val is not None:
            yield "floor", val, text


def _slip_flops(ctx, fld):
    macs = ctx.value("macs")
    if fld == "macs":
        yield "flops_for_macs", 2 * macs, f"{2 * macs:,} = 2 x {macs:,}; a MAC is one multiply plus its add, counted once"
    elif fld == "flops":
        yield "macs_for_flops", macs, f"{macs:,} is the MAC count; FLOPs = 2 x MACs = {2 * macs:,}"


def _conv_pool_pairs(ctx) -> dict:
    """conv key -> (stride of the pool after it, the pool's key, the conv's stride), where the two
    strides differ and only pointwise layers sit between them (in the whole network)."""
    rows = [r for r in ctx.report.rows if r.layer is not None]
    pairs = {}
    for i, r in enumerate(rows):
        if role(r.layer) is not CONV:
            continue
        for nxt in rows[i + 1:]:
            ro = role(nxt.layer)
            if ro.pool:
                if _strides(nxt) != _strides(r):
                    pairs[r.key] = (_strides(nxt), nxt.key, _strides(r))
                break
            if not ro.pointwise:
                break
    return pairs


def _slip_pool_stride(ctx, fld):
    """A conv followed by a strided pool: the conv recomputed with the pool's stride (pool kept, or not)."""
    if fld not in ("output", "height", "width", "macs", "flops", "memory", "channels"):
        return
    pairs = _conv_pool_pairs(ctx)
    if not pairs:
        return
    from ..layers import Identity

    pools = {p for _, p, _ in pairs.values()}
    s, _, own = next(iter(pairs.values()))
    for drop_pool in (False, True):
        def change(key, lay, drop=drop_pool):
            if key in pairs:  # the padding it has stays ('same' would be refused at a stride)
                return lay.replace(stride=pairs[key][0], padding=lay.pads)
            if drop and key in pools:
                return Identity()
            return lay

        val = _variant(ctx, fld, change)
        yield "pool_stride", val, (f"that is the {FIELDS[fld]} with the conv at the pool's stride {s[0]}"
                                   + (" (and the pool left out)" if drop_pool else "")
                                   + f"; the conv's own stride is {own[0]}")


def _rf_chain(ctx, start_size, extra_k=0, ignore_jump=False, dilation_one=False):
    """Receptive-field sizes recomposed through the asked rows' windows, with a slip."""
    from ..rf import AxisRF, through

    rf = None
    for r in ctx.rows:
        if r.layer is None:
            return None
        lay = r.layer.replace(dilation=1) if dilation_one and _is_dilated(r.layer) else r.layer
        inf = lay.infer(tuple(r.input))
        if rf is None:
            rf = tuple(AxisRF(start_size, 1, Fraction(1, 2)) for _ in r.input[1:])
        if inf.rf == "window":
            wins = tuple(replace(w, k=w.k + extra_k) for w in inf.windows)
            if ignore_jump:
                rf = tuple(AxisRF(a.size, 1, a.start) for a in rf)
            rf = through(rf, wins)
        elif inf.rf == "global":
            break
    return rf


def _slip_rf(ctx, fld):
    if fld != "rf":
        return
    for kw, text in (({"start_size": 0}, "that is the field without the unit itself: start from r = 1, not 0"),
                     ({"start_size": 1, "extra_k": 1}, "that adds K per layer; each layer adds (K - 1)·jump"),
                     ({"start_size": 0, "extra_k": 1}, "that is L·K: each layer adds (K - 1)·jump, and the unit "
                                                       "itself counts 1"),
                     ({"start_size": 1, "extra_k": -1}, "that adds (K - 2) per layer; each layer adds (K - 1)·jump")):
        rf = _rf_chain(ctx, **kw)
        if rf is not None:
            yield "rf_off_by_one", rf, text
    rf = _rf_chain(ctx, 1, ignore_jump=True)
    if rf is not None:
        yield "rf_no_jump", rf, ("that is 1 + Σ(K - 1) ignoring earlier strides: each layer adds (K - 1) x the "
                                 "product of earlier strides")


def _slip_w_for_h(ctx, fld):
    """The typo H_2 = (W_2 - F + 2P)/S + 1: the height computed from the output width."""
    if fld not in ("output", "height"):
        return
    r = ctx.row if ctx.row is not None else ctx.rows[-1]
    lay = r.layer
    if lay is None or not role(lay).windowed or len(r.input) != 3:
        return
    try:
        h = lay.infer((r.input[0], r.output[2], r.input[2])).shape[1]
    except ConvcalcError:
        return
    val = (r.output[0], h, r.output[2])
    yield "w_out_for_h_in", (val if fld == "output" else h), (
        f"that feeds the output width W_2 = {r.output[2]} back in: "
        f"H_2 = (H_1 - F + 2P)/S + 1 uses the input height H_1 = {r.input[1]}")


def _slip_memory(ctx, fld):
    if fld not in MEMORY_FIELDS:
        return
    nbytes = ctx.report.dtype_bytes
    val = ctx.value(fld)
    yield "elements_for_bytes", Fraction(val, nbytes), (f"that is the number of elements; memory = elements x "
                                                        f"{nbytes} B ({ctx.q.dtype})")
    other = "param_memory" if fld == "memory" else "memory"
    yield "memory_kind", ctx.value(other), (f"that is the {FIELDS[other]}; the question asks for the {FIELDS[fld]}"
                                            + (" (the output activations)" if fld == "memory" else ""))


def _slip_input_layout(ctx, fld):
    """An input read CxHxW that looks HxWxC (32x32x3): the answer for the input read as an image."""
    from .hints import looks_hwc

    q = ctx.q
    if q.layout != "chw" or not looks_hwc(q.input) or fld in ("rf", "grad_weight_shape"):
        return
    image = (q.input[-1], *q.input[:-1])
    try:
        val = quantity(ctx.rerun(input=image), q.at, fld)
    except (ConvcalcError, TypeError, ValueError, ZeroDivisionError):
        return
    if fld in SHAPE_FIELDS and len(val) > 1:
        val = (*val[1:], val[0])  # as the student writes it: HxWxC
    yield "other_layout", val, (f"that is the answer for the input read as HxWxC ({image[0]} channels); the "
                                f"question reads {'x'.join(map(str, q.input))} as CxHxW ({q.input[0]} channels): "
                                f"use --layout hwc (or `layout: hwc`) for an image written HxWxC")


def _slip_backward(ctx, fld):
    """Backward MACs: dX counted where the input is the data, or only one of dX and dW."""
    if fld != "backward_macs":
        return
    rows = [r for r in ([ctx.row] if ctx.row is not None else ctx.rows) if r.layer is not None]
    fwd = sum(r.macs for r in rows if r.params)
    truth = ctx.value(fld)
    if fwd and truth < 2 * fwd:
        yield "backward_first_dx", truth + (2 * fwd - truth), (
            "the first layer with weights needs no dX: its input is the data, which needs no gradient")
    if fwd and truth == 2 * fwd:
        yield "backward_one_gradient", fwd, "that is one gradient; backward = dX + dW, each as many MACs as the forward"


SLIP_FUNCS = (_slip_bias, _slip_padding, _slip_cout_for_cin, _slip_floor, _slip_flops, _slip_groups,
              _slip_pool_stride, _slip_rf, _slip_w_for_h, _slip_memory, _slip_dilation, _slip_padding_once,
              _slip_transposed_macs, _slip_input_layout, _slip_backward)


# -- matching a wrong answer --------------------------------------------------------------------------------------
def slip_values(ctx, fld: str) -> list:
    """Every (slip key, value, explanation) for a field: the value the question has after the slip."""
    out = []
    truth = ctx.value(fld)
    for fn in SLIP_FUNCS:
        try:
            for key, val, text in fn(ctx, fld) or ():
                if val is not None and not _same(fld, val, truth):
                    out.append((key, val, text))
        except ConvcalcError:
            continue
    return out


def _same(fld, a, b) -> bool:
    if fld == "rf":
        return [x.size for x in a] == [x.size for x in b]
    return a == b


def find_slip(ctx, fld: str, parsed):
    """(slip key, "slip: explanation") when the wrong answer is what a slip gives, else None."""
    for key, val, text in slip_values(ctx, fld):
        if _answer_is(fld, parsed, val, ctx.q.layout):
            return key, f"{SLIPS[key]}: {text}"
    return None


def _answer_is(fld, parsed, val, layout) -> bool:
    if fld == "grad_weight_shape":
        return dims_match(parsed, tuple(val))
    if fld in SHAPE_FIELDS:
        read = "hwc" if layout == "hwc" else "chw"
        return dims_match(to_chw(parsed, read), tuple(val)) or (
            layout == "any" and dims_match(to_chw(parsed, "hwc"), tuple(val)))
    if fld == "rf":
        sizes = parsed[0]
        want = [a.size for a in val]
        if len(sizes) == 1:
            sizes = sizes * len(want)
        return len(sizes) == len(want) and all(n.matches(w) is not None for n, w in zip(sizes, want))
    return parsed.matches(val) is not None
