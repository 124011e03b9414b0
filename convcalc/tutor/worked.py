"""Worked solutions: for one field, the general formula, the numbers substituted, the result
(each layer's lines come from :mod:`convcalc.tutor.explain`), and how the layers add up."""
from __future__ import annotations

import math

from ..errors import ConvcalcError
from .answers import shape_str

_STEP_FIELDS = {"params": ("params",), "macs": ("MACs",), "flops": ("MACs",), "rf": ("RF size", "RF jump"),
                "param_memory": ("params",)}
MAX_EXPLAINED = 16   # beyond this many layers, a total is shown as a sum of numbers only


def _steps(row, select):
    from . import explain

    rf_in = row.rf_in if row.rf_in is not None and not any(a.is_global for a in row.rf_in) else None
    ex = explain.explain_layer(row.layer, row.input, rf_in, row.name)
    return [explain.step_line(st) for st in ex.steps if select(st.quantity)]


def _is_output_step(quantity: str) -> bool:
    return quantity.endswith("_out") or quantity.startswith("N_")


def _shape_work(ctx, fld, lines):
    layout = "hwc" if ctx.q.layout == "hwc" else "chw"
    chain = ctx.rows
    if len(chain) > 1:
        shapes = [shape_str(chain[0].input, layout)] + [f"{r.desc} → {shape_str(r.output, layout)}" for r in chain]
        if len(shapes) <= 14:
            lines.append("shapes: " + " → ".join(shapes).replace("→ ", "", 0))
        else:
            lines.append(f"shapes: {shapes[0]} → ... ({len(chain)} layers) → {shapes[-1]}")
    last = chain[-1]
    if last.layer is not None:
        sel = {"height": lambda s: s.startswith("H_out") or s.startswith("L_out"),
               "width": lambda s: s.startswith("W_out"),
               "channels": lambda s: s == "C_out"}.get(fld, _is_output_step)
        lines += [("" if len(chain) == 1 else f"{last.name} ({last.desc}): ") + s for s in _steps(last, sel)]


def _count_work(ctx, fld, lines):
    from ..units import human_bytes

    q, report = ctx.q, ctx.report
    rows = [ctx.row] if ctx.row is not None else ctx.rows
    key = "macs" if fld in ("macs", "flops") else "params"
    contrib = [r for r in rows if r.layer is not None and getattr(r, key)]
    if len(contrib) <= MAX_EXPLAINED:
        for r in contrib:
            for s in _steps(r, lambda n: n in _STEP_FIELDS[fld]):
                lines.append(("" if len(rows) == 1 else f"{r.name} ({r.desc}): ") + s)
    else:
        lines.append(f"{len(contrib)} layers with {key}: " + ", ".join(f"{r.name} {getattr(r, key):,}"
                                                                        for r in contrib[:6]) + ", ...")
    total = sum(getattr(r, key) for r in rows)
    if len(contrib) > 1:
        lines.append(f"total {'MACs' if key == 'macs' else 'params'} = "
                     + (" + ".join(f"{getattr(r, key):,}" for r in contrib) if len(contrib) <= 12
                        else f"sum over {len(contrib)} layers") + f" = {total:,}")
    if report.batch != 1 and key == "macs":
        lines.append(f"(for a batch of {report.batch})")
    if fld == "flops":
        lines.append(f"FLOPs = 2·MACs = 2·{total:,} = {2 * total:,}")
    if fld == "param_memory":
        lines.append(f"parameter memory = params·{report.dtype_bytes} B ({q.dtype}) = {total:,}·"
                     f"{report.dtype_bytes} = {total * report.dtype_bytes:,} B = "
                     f"{human_bytes(total * report.dtype_bytes)}")


def _is_rf_step(n: str) -> bool:
    return n.startswith("RF size (H)") or n == "RF size" or n.startswith("RF jump (H)") or n == "RF jump"


def _rf_work(ctx, fld, lines):
    for r in ctx.rows:
        if r.layer is None:
            continue
        inf_rf = r.layer.infer(tuple(r.input)).rf
        if inf_rf == "window":
            lines += [f"{r.name} ({r.desc}): " + s for s in _steps(r, _is_rf_step)]
        elif inf_rf == "global":
            lines.append(f"{r.name} ({r.desc}): every unit sees the whole input")
            break
    if len(lines) > 2 * MAX_EXPLAINED:
        lines[:] = lines[:4] + ["..."] + lines[-4:]


def _memory_work(ctx, fld, lines):
    from ..units import human_bytes

    q, report = ctx.q, ctx.report
    rows = [ctx.row] if ctx.row is not None else ctx.rows
    nbytes = report.dtype_bytes
    if ctx.row is not None or len(rows) == 1:
        r = rows[-1]
        elems = math.prod(r.output) * report.batch
        lines.append(f"memory = {' x '.join(str(d) for d in r.output)}"
                     + (f" x batch {report.batch}" if report.batch != 1 else "")
                     + f" = {elems:,} elements x {nbytes} B ({q.dtype}) = {elems * nbytes:,} B = "
                     f"{human_bytes(elems * nbytes)}")
    else:
        total = report.totals["activation_bytes"]
        lines.append(f"memory = the outputs of all {len(rows)} layers = {total // nbytes:,} elements x "
                     f"{nbytes} B ({q.dtype}) = {total:,} B = {human_bytes(total)}")


def _training_work(ctx, fld, lines):
    from ..training import OPTIMIZERS
    from ..units import human_bytes
    from .lecture import backward_lines

    report = ctx.report
    rows = [ctx.row] if ctx.row is not None else ctx.rows
    if fld in ("backward_macs", "grad_input_shape", "grad_weight_shape"):
        needs = ctx.row is not None and ctx.rows[0] is not ctx.row and any(r.params for r in ctx.rows[:-1])
        for r in rows:
            if r.layer is not None and r.params:
                lines += [("" if len(rows) == 1 else f"{r.name}: ") + s
                          for s in backward_lines(r, r.layer, needs or r is not _first_weighted(ctx.report))]
        if fld == "backward_macs" and len(rows) > 1:
            lines.append(f"total backward MACs = {report.totals['backward_macs']:,} (the first layer with weights "
                         f"needs no dX: its input is the data)")
    elif fld == "saved_bytes":
        lines.append("saved = what autograd keeps for the backward: a conv / linear its input, a ReLU its output, "
                     "a max pool its int64 indices, a batch norm its input and statistics (each storage once)")
        total = ctx.value(fld)
        lines.append(f"saved = {total:,} B = {human_bytes(total)}")
    elif fld == "training_memory":
        t = report.training
        k = OPTIMIZERS[t["optimizer"]]
        params = sum(r.params for r in rows)
        nb = report.dtype_bytes
        lines.append(f"training memory = weights + gradients + {t['optimizer']} state ({k} per parameter, fp32) = "
                     f"{params:,}·{nb} + {params:,}·{nb} + {k}·{params:,}·4 = {ctx.value(fld):,} B")


def _first_weighted(report):
    return next((r for r in report.rows if r.layer is not None and r.params), None)


_WORK = {"output": _shape_work, "height": _shape_work, "width": _shape_work, "channels": _shape_work,
         "params": _count_work, "param_memory": _count_work, "macs": _count_work, "flops": _count_work,
         "rf": _rf_work, "memory": _memory_work, "backward_macs": _training_work,
         "grad_input_shape": _training_work, "grad_weight_shape": _training_work, "saved_bytes": _training_work,
         "training_memory": _training_work}


def work_lines(ctx, fld: str) -> list:
    """The worked solution for one field: general formula, numbers substituted, result."""
    lines = []
    try:
        _WORK[fld](ctx, fld, lines)
    except ConvcalcError as e:  # an explanation must never hide a grade
        lines.append(f"(no worked solution: {e})")
    return lines
