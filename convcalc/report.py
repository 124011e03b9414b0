"""The result of an analysis: frozen rows and totals, and the JSON contract (DESIGN §4).

Renderers read a Report; they never compute numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Optional

from .sym import is_sym

SCHEMA_VERSION = 1

# How a Report shows itself (print, rich, Jupyter): "text", "rich" and "html" -> function(report).
# convcalc.render fills this in when imported (convcalc's __init__ imports it); the engine never
# imports a renderer, so there is no import loop, not even a lazy one.
DISPLAY: dict = {}


def _display(kind: str, report):
    try:
        show = DISPLAY[kind]
    except KeyError:
        raise RuntimeError(f"no {kind} display registered for Report: import convcalc.render") from None
    return show(report)


@dataclass(frozen=True)
class Row:
    name: str
    kind: str            # layer kind: conv2d, maxpool2d, add, ...
    desc: str            # kind with hyper-parameters: "conv 11x11/4, 96"
    input: tuple         # input shape per sample (first input for merges)
    output: tuple        # output shape per sample
    params: object
    buffers: object
    macs: object         # for the whole batch
    rf: Optional[tuple]  # tuple of rf.AxisRF per spatial axis of the model input, or None
    activation_bytes: object  # output activations for the whole batch
    warnings: tuple = ()
    layer: object = field(default=None, compare=False, repr=False)  # the layer (None for merges/blocks)
    rf_in: object = field(default=None, compare=False, repr=False)  # receptive field of its input
    key: Optional[str] = field(default=None, compare=False, repr=False)  # the graph node's unique key
    merge: bool = False           # where paths meet (add, concat, mul): the graph had branches
    backward_macs: object = None  # training only: input + weight gradient MACs, whole batch
    saved_bytes: object = None    # training only: activations autograd keeps for this layer's backward

    @property
    def flops(self):
        return 2 * self.macs

    @property
    def depth(self) -> int:
        return self.name.count(".") + 1


@dataclass(frozen=True)
class Report:
    model: str
    input: tuple
    batch: object
    dtype: str
    dtype_bytes: int
    rows: tuple
    totals: dict
    warnings: tuple = ()
    conditions: tuple = ()  # (relational, text) under which every layer is valid (symbolic input)
    tiling: tuple = ()      # (dropped-pixels expression, text): every stride tiles exactly when all are <= 0
    status: str = "complete"
    meta: dict = field(default_factory=dict)
    training: Optional[dict] = None  # memory of a training step (training.py), when asked for

    @property
    def symbolic(self) -> bool:
        return any(is_sym(d) for d in self.input) or is_sym(self.batch)

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def __getitem__(self, key):
        return self.rows[key] if isinstance(key, int) else self.row(key)

    def __len__(self):
        return len(self.rows)

    def __str__(self):  # print(report): the layer table as text
        return _display("text", self)

    def __rich__(self):  # rich.print(report) in a terminal
        return _display("rich", self)

    def _repr_html_(self):  # Jupyter
        return _display("html", self)

    def collapse(self, depth: int) -> "Report":
        """Rows grouped by the first ``depth`` parts of their dotted names, with subtotals
        (a ResNet stage, an Inception block). Totals are unchanged."""
        if depth < 1:
            raise ValueError("depth must be at least 1")
        groups: list = []
        for r in self.rows:
            key = ".".join(r.name.split(".")[:depth])
            if groups and groups[-1][0] == key:
                groups[-1][1].append(r)
            else:
                groups.append((key, [r]))
        rows = []
        for key, members in groups:
            if len(members) == 1 and members[0].name == key:
                rows.append(members[0])
                continue
            last = members[-1]
            rows.append(Row(name=key, kind="block", desc=f"{len(members)} layers", input=members[0].input,
                            output=last.output, params=_sum(m.params for m in members),
                            buffers=_sum(m.buffers for m in members), macs=_sum(m.macs for m in members),
                            rf=last.rf, activation_bytes=last.activation_bytes,
                            warnings=tuple(w for m in members for w in m.warnings),
                            backward_macs=None if self.training is None else _sum(m.backward_macs for m in members),
                            saved_bytes=None if self.training is None else _sum(m.saved_bytes for m in members)))
        return replace(self, rows=tuple(rows))

    def check_budget(self, **limits) -> list:
        """Lines for each figure over its limit (``params=``, ``macs=``, ``memory=``; ``25M``,
        ``512MiB``, ints); empty when within budget. See :mod:`convcalc.budget`."""
        from .budget import check

        return check(self, limits)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "input": [jsonable(d) for d in self.input],
            "batch": jsonable(self.batch),
            "dtype": self.dtype,
            "status": self.status,
            "layers": [row_dict(r) for r in self.rows],
            "totals": {k: jsonable(v) for k, v in self.totals.items()},
            "warnings": list(self.warnings),
            "conditions": [text for _, text in self.conditions],
            **({"convention": {k: (jsonable(v) if k != "per_layer"
                                   else [{**d, "value": jsonable(d["value"])} for d in v])
                               for k, v in self.meta["convention"].items()}} if "convention" in self.meta else {}),
            **({"verified": self.meta["verified"]} if "verified" in self.meta else {}),
            **({"training": {k: jsonable(v) for k, v in self.training.items()}} if self.training else {}),
            **({"not_counted": not_counted(self)} if not_counted(self) else {}),
        }


def not_counted(report) -> dict:
    """Ops that compute but have no MAC rule (``unknown`` rows of imported models): their MACs
    are not in the totals. ``{"ops": n, "by_op": {name: count}}``, or {} when there are none."""
    by: dict = {}
    for r in report.rows:
        if r.kind == "unknown":
            name = getattr(r.layer, "op", r.name)
            by[name] = by.get(name, 0) + 1
    return {"ops": sum(by.values()), "by_op": by} if by else {}


def _sum(values):
    from .sym import simplify

    return simplify(sum(values, 0))


def rf_dict(rf) -> Optional[dict]:
    if rf is None:
        return None
    from .rf import sees_nothing
    return {
        "size": [jsonable(a.size) for a in rf],
        "jump": [jsonable(a.jump) for a in rf],
        "start": [None if sees_nothing(a) else jsonable(a.start) for a in rf],  # no field, no centre
        "effective_padding": [jsonable(a.effective_padding) for a in rf],
        "global": any(a.is_global for a in rf),
    }


def row_dict(r: Row) -> dict:
    return {
        "name": r.name, "kind": r.kind, "description": r.desc,
        "output": [jsonable(d) for d in r.output],
        "params": jsonable(r.params), "buffers": jsonable(r.buffers),
        "macs": jsonable(r.macs), "flops": jsonable(r.flops),
        "rf": rf_dict(r.rf),
        "activation_bytes": jsonable(r.activation_bytes),
        "warnings": list(r.warnings),
        **({"backward_macs": jsonable(r.backward_macs), "saved_bytes": jsonable(r.saved_bytes)}
           if r.backward_macs is not None else {}),
    }


def jsonable(v):
    """Exact integers stay integers; half-pixel starts become floats; symbols become sympy strings."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, Fraction):
        return v.numerator if v.denominator == 1 else float(v)
    if is_sym(v):
        from .sym import fmt

        return fmt(v)
    if getattr(v, "is_Integer", False):
        return int(v)
    if getattr(v, "is_Rational", False):
        return float(v)
    return str(v)
