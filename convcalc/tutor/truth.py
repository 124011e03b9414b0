"""The truth a question is graded against: the engine's numbers for the network, at the asked row."""
from __future__ import annotations

import difflib

from .answers import CheckError


def analyze_question(q, net=None, input=None):
    from ..analyze import analyze
    from .answers import TRAINING_FIELDS

    training = None
    if any(f in TRAINING_FIELDS for f in (q.answers or {})):
        from ..training import TrainingOptions

        training = TrainingOptions(optimizer=getattr(q, "optimizer", "sgd"))
    return analyze(net if net is not None else q.net, input if input is not None else q.input, batch=q.batch,
                   dtype=q.dtype, name="question", training=training)


def _training_quantity(report, rows, row, fld, q_input):
    from ..training import OPTIMIZERS

    t = report.training
    if t is None:
        raise CheckError(f"{fld}: a training question (internal: analysed without training)")
    if fld == "grad_input_shape":
        return tuple(row.input) if row is not None else tuple(q_input)
    if fld == "grad_weight_shape":
        weighted = [r for r in ([row] if row is not None else rows)
                    if r.layer is not None and "weight" in r.layer.weight_shapes(tuple(r.input))]
        if len(weighted) != 1:
            raise CheckError("grad_weight_shape: say which layer (at:)" if weighted else
                             "grad_weight_shape: the layer has no weight")
        r = weighted[0]
        return tuple(r.layer.weight_shapes(tuple(r.input))["weight"])
    if fld == "backward_macs":
        return row.backward_macs if row is not None else report.totals["backward_macs"]
    if fld == "saved_bytes":
        return row.saved_bytes if row is not None else t["saved_activations"]
    # training_memory: weights + their gradients + the optimizer's state (fp32 states)
    if row is not None:
        return row.params * report.dtype_bytes * 2 + OPTIMIZERS[t["optimizer"]] * row.params * 4
    return t["parameters"] + t["gradients"] + t["optimizer_state"]


def select_rows(report, at):
    """The rows up to and including the asked row (all rows when ``at`` is None) and the asked row."""
    rows = list(report.rows)
    if at is None:
        return rows, None
    if isinstance(at, int):
        if not 1 <= at <= len(rows):
            raise CheckError(f"at: position {at} is outside 1..{len(rows)} (the network has {len(rows)} rows)")
        return rows[:at], rows[at - 1]
    for i, r in enumerate(rows):
        if r.name == str(at):
            return rows[:i + 1], r
    close = difflib.get_close_matches(str(at), [r.name for r in rows], n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; rows are {', '.join(r.name for r in rows[:12])}" \
        + (" ..." if len(rows) > 12 else "")
    raise CheckError(f"at: no layer named {at!r}{hint}")


def quantity(report, at, fld: str):
    """The exact value of a field for the asked row (``at``) or the whole network."""
    from .answers import TRAINING_FIELDS

    rows, row = select_rows(report, at)
    last = row if row is not None else rows[-1]
    if fld in TRAINING_FIELDS:
        return _training_quantity(report, rows, row, fld, report.input)
    if fld == "output":
        return tuple(last.output)
    if fld in ("height", "width"):
        if len(last.output) < 3:
            raise CheckError(f"{fld}: the output {'x'.join(map(str, last.output))} has no {fld}")
        return last.output[-2] if fld == "height" else last.output[-1]
    if fld == "channels":
        return last.output[0]
    if fld == "rf":
        if last.rf is None:
            raise CheckError("rf: the input has no spatial axes")
        if row is None:  # a whole network: the last feature map's field (as `convcalc list`)
            spatial = [r for r in rows if r.rf is not None and not any(a.is_global for a in r.rf)]
            if spatial:
                return tuple(spatial[-1].rf)
        return tuple(last.rf)
    if row is not None:
        vals = {"params": row.params, "macs": row.macs, "flops": row.flops, "memory": row.activation_bytes,
                "param_memory": row.params * report.dtype_bytes}
    else:
        t = report.totals
        vals = {"params": t["params"], "macs": t["macs"], "flops": t["flops"], "memory": t["activation_bytes"],
                "param_memory": t["param_bytes"]}
    return vals[fld]



class Ctx:
    """What grading, slips and worked solutions share: the question, its report and the asked rows."""

    def __init__(self, q):
        self.q = q
        self.report = analyze_question(q)
        self.rows, self.row = select_rows(self.report, q.at)

    def value(self, fld):
        return quantity(self.report, self.q.at, fld)

    def rerun(self, net=None, input=None):
        """The same question on a modified network / input: a fresh report."""
        return analyze_question(self.q, net, input)
