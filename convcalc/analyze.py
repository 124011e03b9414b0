"""``analyze(model, input) -> Report``: walk a network, one row per layer.

Each layer's own numbers come from its ``infer``; this module only composes them:
shapes flow along the graph, receptive fields compose (rf.py), ``batch`` scales
MACs and activations (never parameters), and the forward peak of live activation
memory is tracked (a skip connection keeps its input alive while the body runs).
"""
from __future__ import annotations

from .errors import ConfigError, ConvcalcError, ShapeError
from .graph import to_graph
from .report import Report, Row
from . import rf as rfmath
from .sym import fmt, is_sym, prod, simplify

DTYPES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ConvcalcError(f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPES)}") from None


def _times(x, batch):
    """``x * batch``; a batch of 1 leaves a formula as it is without asking sympy (``x * 1`` is ``x``)."""
    return x if isinstance(batch, int) and batch == 1 else x * batch


class _Walker:
    """Visits the graph's nodes in order (``Graph.walk``), one row each."""

    def __init__(self, graph, batch, nbytes: int):
        self.batch, self.nbytes = batch, nbytes
        self.rows, self.warnings, self.conditions, self.tiling = [], [], [], []
        self.peak = 0
        self.pending = {k: len(v) for k, v in graph.consumers().items()}
        for k in graph.outputs:
            self.pending[k] = self.pending.get(k, 0) + 1  # results stay alive to the end
        self.alive: dict = {}
        self._bytes: dict = {}

    def bytes_of(self, shape) -> object:
        # many layers share a shape (every norm and activation keeps its input's): one product each
        shape = tuple(shape)
        try:
            return self._bytes[shape]
        except KeyError:
            out = self._bytes[shape] = simplify(_times(prod(shape), self.batch) * self.nbytes)
            return out

    def note_live(self, live) -> None:
        # With symbols the peak is a maximum over many expressions whose order depends on the
        # input size: sympy's Max of them is slow and unreadable, so it is left undetermined.
        if self.peak is None or is_sym(live):
            self.peak = None
        else:
            self.peak = max(self.peak, live)

    def visit(self, node, ins):
        """``ins``: (shape, rf) of each input. Returns this node's (shape, rf)."""
        layer, name = node.layer, node.name
        shapes = [tuple(s) for s, _ in ins]
        try:
            inf = layer.infer_all(shapes)
        except TypeError as e:  # an argument of the wrong kind met a size
            raise ConfigError(f"{name or layer.kind} ({layer.describe()}): invalid arguments ({e})") from None
        except ConvcalcError as e:
            where = name if layer.arity is None else f"{name or layer.kind} ({layer.describe()})"
            raise type(e)(f"{where}: {e}") from None
        out_rf = self.field(inf, ins)
        act = self.bytes_of(inf.shape)
        # Forward memory: every tensor still needed, plus this node's output (once a size is
        # symbolic the peak stays undetermined: the sum is not needed any more).
        if self.peak is not None:
            self.note_live(sum(self.alive.values(), 0) + act)
        self.alive[node.key] = act
        for i in node.inputs:
            self.pending[i] -= 1
            if self.pending[i] == 0:
                self.alive.pop(i, None)
        for w in inf.warnings:
            self.warnings.append(f"{name}: {w}")
        for cond, text in inf.conditions:
            self.conditions.append((cond, f"{name}: {text}"))
        for left, text in inf.tiling:
            self.tiling.append((left, f"{name}: {text}"))
        merge = layer.arity is None
        self.rows.append(Row(name=name, kind=layer.kind, desc=layer.describe(), input=shapes[0],
                             output=tuple(inf.shape), params=inf.params, buffers=inf.buffers,
                             macs=simplify(_times(inf.macs, self.batch)), rf=out_rf and out_rf.axes,
                             activation_bytes=act, warnings=tuple(inf.warnings),
                             layer=None if node.implicit else layer,
                             rf_in=None if merge or ins[0][1] is None else ins[0][1].axes, key=node.key,
                             merge=merge))
        return inf.shape, out_rf

    @staticmethod
    def field(inf, ins):
        """The receptive field of the output (an ``rf.Field``): by the layer's dependency rule,
        or the union over every input path where paths meet."""
        fields = [f for _, f in ins]
        if fields[0] is None:
            return None
        if len(fields) > 1:
            split = fields[0].split if all(f.split == fields[0].split for f in fields) else ()
            return rfmath.Field(rfmath.union([f.axes for f in fields], fields[0].units), fields[0].units,
                                fields[0].carry, split)
        return rfmath.propagate(fields[0], inf, tuple(inf.shape))


def analyze(model, input=None, batch=1, dtype: str = "fp32", name: str | None = None, training=None) -> Report:
    """Analyse ``model`` (a zoo ``Model``, a ``Sequential``/``Parallel``/``Graph`` or a single
    layer) for per-sample ``input`` shape ``(C, *spatial)``. ``training`` (a
    :class:`convcalc.training.TrainingOptions`, or True for plain SGD) adds backward MACs,
    saved activations and the memory of a training step."""
    net = getattr(model, "net", model)
    if input is None:
        input = getattr(model, "input", None)
        if input is None:
            raise ConvcalcError("no input shape given")
    name = name or getattr(model, "name", None) or getattr(net, "kind", "model")
    input = tuple(input)
    if not is_sym(batch) and (not isinstance(batch, int) or isinstance(batch, bool) or batch < 1):
        raise ConvcalcError(f"batch must be a positive integer, got {batch!r}")
    for d in input:
        if not is_sym(d) and (not isinstance(d, int) or isinstance(d, bool) or d < 1):
            raise ShapeError(f"input sizes must be positive integers, got {'x'.join(fmt(x) for x in input)}")
    nbytes = dtype_bytes(dtype)
    graph = to_graph(net)
    walker = _Walker(graph, batch, nbytes)
    walker.warnings.extend(getattr(model, "warnings", None) or [])
    spatial = len(input) - 1
    rf0 = rfmath.Field.start(input) if spatial >= 1 else None
    walker.alive[graph.inputs[0]] = walker.bytes_of(input)
    graph.walk((input, rf0), walker.visit)
    rows = tuple(walker.rows)
    from .sym import total  # one sum of all rows: linear in the number of layers, also with symbols
    from .validity import with_validity

    params, buffers, macs = (total(getattr(r, key) for r in rows) for key in ("params", "buffers", "macs"))
    param_bytes = simplify(params * nbytes)
    input_bytes = walker.bytes_of(input)
    totals = {
        "params": params, "buffers": buffers, "macs": macs, "flops": simplify(2 * macs),
        "activation_bytes": total(r.activation_bytes for r in rows),
        "input_bytes": input_bytes,
        "param_bytes": param_bytes, "buffer_bytes": simplify(buffers * nbytes),
        "peak_activation_bytes": walker.peak,
        "peak_bytes": None if walker.peak is None else simplify(walker.peak + param_bytes + buffers * nbytes),
    }
    report = with_validity(Report(model=name, input=input, batch=batch, dtype=dtype, dtype_bytes=nbytes, rows=rows,
                                  totals=totals, warnings=tuple(walker.warnings),
                                  conditions=tuple(walker.conditions), tiling=tuple(walker.tiling)))
    return with_training(report, graph, training) if training else report


def with_training(report: Report, graph, options) -> Report:
    """The report with per-row backward MACs and saved bytes, and the ``training`` totals."""
    from dataclasses import replace

    from .training import TrainingOptions, account

    options = options if isinstance(options, TrainingOptions) else TrainingOptions()
    per_row, training = account(graph, report.rows, report.batch, report.dtype_bytes, options, report.input,
                                report.totals["buffers"])
    rows = tuple(replace(r, backward_macs=per_row[r.key][0], saved_bytes=per_row[r.key][1]) for r in report.rows)
    from .sym import total

    totals = {**report.totals, "backward_macs": total(r.backward_macs for r in rows)}
    return replace(report, rows=rows, totals=totals, training=training)
