"""Show the work: for each quantity, the general formula, the numbers substituted, the result.

The general formula is not written here. It comes from running the layer's own
``infer`` on a *symbolic twin*: the same layer class built with symbols for its
hyper-parameters (``K_h``, ``S_h``, ``P_h``, ...) on a symbolic input (``C_in``,
``H``, ``W``). So an explanation cannot drift from what convcalc computes: the same
code produces both, and the substituted formula is checked to equal the number.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction

from .. import layers as L
from ..errors import ConvcalcError
from ..registry import Registry
from ..rf import AxisRF, sees_nothing, through
from ..sym import sp

AXIS_SUFFIX = {1: ("",), 2: ("h", "w"), 3: ("d", "h", "w")}
INPUT_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


@dataclass
class Step:
    quantity: str   # "H_out", "params", "MACs", "RF size", ...
    general: object  # sympy expression in the symbols
    values: dict     # symbol -> number
    result: object   # the number convcalc reports
    note: str = ""
    extra: list = field(default_factory=list)  # lines a learner reads under it (quotient, tiling, ...)
    text: tuple = None  # (general, substituted) written out when the lecture's form is not sympy's


@dataclass
class Explanation:
    name: str
    desc: str
    steps: list = field(default_factory=list)
    notes: list = field(default_factory=list)   # lines after the steps (the backward pass, totals)


def _sym(name):
    return sp().Symbol(name, integer=True, positive=True)


def _nonneg(name):
    return sp().Symbol(name, integer=True, nonnegative=True)


def _axis_syms(base, nd, nonneg=False):
    make = _nonneg if nonneg else _sym
    return tuple(make(f"{base}_{sfx}" if sfx else base) for sfx in AXIS_SUFFIX[nd])


def _sym_input(shape):
    """The symbolic input ``(C_in, H, W)`` for a numeric one, and the value of each symbol."""
    nd = len(shape) - 1
    names = INPUT_NAMES.get(nd, tuple(f"L{i}" for i in range(nd)))
    c_in = _sym("C_in")
    spatial = tuple(_sym(n) for n in names)
    return (c_in, *spatial), {c_in: shape[0], **dict(zip(spatial, shape[1:]))}


def _window_changes(layer, nd, values) -> dict:
    """Symbols for a windowed layer's kernel, stride, dilation (when it takes one) and padding
    (``P`` per axis, or ``P_lo``/``P_hi`` when the two sides differ), their values added to ``values``."""
    changes = {}
    for arg, base in (("kernel_size", "K"), ("stride", "S"), ("dilation", "D")):
        if arg == "dilation" and all(d == 1 for d in getattr(layer, arg, (1,))):
            continue  # the lecture's form, (N − F + 2P)/S + 1, when nothing is dilated
        if arg in layer.args():
            syms = _axis_syms(base, nd)
            values.update(zip(syms, getattr(layer, arg)))
            changes[arg] = syms
    lo, hi = [p[0] for p in layer.pads], [p[1] for p in layer.pads]
    if lo == hi:
        P = _axis_syms("P", nd, nonneg=True)
        changes["padding"] = P
        values.update(zip(P, lo))
    else:
        Plo, Phi = _axis_syms("P_lo", nd, nonneg=True), _axis_syms("P_hi", nd, nonneg=True)
        changes["padding"] = tuple(zip(Plo, Phi))
        values.update(zip(Plo, lo))
        values.update(zip(Phi, hi))
    return changes


def _conv_twin(layer, shape, transposed=False):
    sym_shape, values = _sym_input(shape)
    nd = len(shape) - 1
    changes = _window_changes(layer, nd, values)
    c_out = _sym("C_out")
    values[c_out] = layer.args()["out_channels"]
    g = 1
    if layer.args()["groups"] != 1:  # groups appear only where there are some
        g = _sym("g")
        values[g] = layer.args()["groups"]
    if transposed:
        OP = _axis_syms("OP", nd, nonneg=True)
        values.update(zip(OP, layer.output_padding))
        changes["output_padding"] = OP
    return layer.replace(in_channels=None, out_channels=c_out, groups=g, **changes), sym_shape, values, None


def _pool_twin(layer, shape):
    sym_shape, values = _sym_input(shape)
    return layer.replace(**_window_changes(layer, len(shape) - 1, values)), sym_shape, values, None


def _linear_twin(layer, shape):
    f_in, f_out = _sym("F_in"), _sym("F_out")
    lead = tuple(_sym(f"N_{i + 1}") for i in range(len(shape) - 1))
    values = {f_in: shape[-1], f_out: layer.args()["out_features"], **dict(zip(lead, shape[:-1]))}
    names = [f"N_{i + 1}" for i in range(len(shape) - 1)] + ["F_out"]
    return layer.replace(in_features=None, out_features=f_out), (*lead, f_in), values, names


def _channels_twin(layer, shape):
    """Per-channel layers (batch / instance norm): the count is in ``C``."""
    (_, *spatial), values = _sym_input(shape)
    c = _sym("C")
    return layer, (c, *spatial), {c: shape[0], **{s: values[s] for s in spatial}}, None


# How each kind is made symbolic: (twin layer, symbolic input, values of the symbols, names of
# the output's dims or None for C_out, H_out, W_out). A kind not registered keeps its numbers.
TWINS = Registry("symbolic twin")
TWINS.register(L.Conv1d, L.Conv2d, L.Conv3d)(_conv_twin)
TWINS.register(L.ConvTranspose1d, L.ConvTranspose2d, L.ConvTranspose3d)(
    functools.partial(_conv_twin, transposed=True))
TWINS.register(L.MaxPool1d, L.MaxPool2d, L.MaxPool3d, L.AvgPool1d, L.AvgPool2d, L.AvgPool3d)(_pool_twin)
TWINS.register(L.Linear)(_linear_twin)
TWINS.register(L.BatchNorm1d, L.BatchNorm2d, L.BatchNorm3d, L.InstanceNorm1d, L.InstanceNorm2d,
               L.InstanceNorm3d)(_channels_twin)


def _same_twin(layer, shape):
    sym_shape, values = _sym_input(shape)
    return layer, sym_shape, values, None


def _twin(layer, shape):
    """(symbolic twin layer, symbolic input shape, values of every symbol, names of the output dims)."""
    twin, sym_shape, values, names = TWINS.get(layer, _same_twin)(layer, shape)
    nd = len(shape) - 1
    return twin, sym_shape, values, names or ["C_out"] + [f"{n}_out" for n in INPUT_NAMES.get(nd, ())]


def explain_layer(layer, shape, rf_in=None, name: str = "") -> Explanation:
    """The steps for one layer on a numeric input ``shape`` (and incoming receptive field)."""
    ex = Explanation(name or layer.kind, layer.describe())
    twin, sym_shape, values, out_names = _twin(layer, tuple(shape))
    general = twin.infer(sym_shape)
    actual = layer.infer(tuple(shape))
    nd = len(shape) - 1
    sizes = {}
    for i, (g, a) in enumerate(zip(general.shape, actual.shape)):
        qname = out_names[i] if i < len(out_names) else f"dim{i}"
        if _is_formula(g) and not g.is_Symbol:
            ex.steps.append(Step(qname, g, values, a))
            sizes[g] = _sym(qname)
        elif _is_formula(g) and i == 0:
            ex.steps.append(Step(qname, a, {}, a))
    results = {st.quantity: st.result for st in ex.steps}
    substitute = {**values, **{sym: results[str(sym)] for sym in sizes.values()}}
    if general.params != 0 or actual.params != 0:
        ex.steps.append(Step("params", general.params, values, actual.params))
    if general.macs != 0 or actual.macs != 0:
        macs = general.macs
        if sizes:
            macs = macs.subs(sizes) if hasattr(macs, "subs") else macs
        ex.steps.append(Step("MACs", macs, substitute, actual.macs))
    if actual.buffers:
        ex.steps.append(Step("buffers", general.buffers, values, actual.buffers))
    if general.rf == "window" and nd:
        ex.steps += _rf_steps(layer, general, actual, rf_in, values, nd)
    _learner_notes(ex, layer, shape, actual)
    for st in ex.steps:  # the same code computed both: the substituted formula must give the number
        if _is_formula(st.general):
            got = st.general.subs(st.values)
            if got != st.result and sp().nsimplify(got) != sp().nsimplify(st.result):
                st.note = f"(formula gives {got})"
    return ex


def _rf_steps(layer, general, actual, rf_in, values, nd) -> list:
    """RF size and jump per axis: in the lecture's recurrence r_out = r_in + (k − 1)·j_in,
    j_out = j_in·s for windows with a kernel (the engine's symbolic form otherwise)."""
    from . import lecture

    steps = []
    r, j = _sym("r_in"), _sym("j_in")
    r_vals = rf_in or tuple(AxisRF(1, 1, Fraction(1, 2)) for _ in range(nd))
    sym_rf = tuple(AxisRF(r, j, Fraction(1, 2)) for _ in range(nd))
    g_out = through(sym_rf, general.windows)
    a_out = through(r_vals, actual.windows)
    axis = INPUT_NAMES.get(nd, ())
    sfx = AXIS_SUFFIX.get(nd, ("",) * nd)
    for i, (go, ao, ri) in enumerate(zip(g_out, a_out, r_vals)):
        v = {**values, r: ri.size, j: ri.jump}
        tag = f" ({axis[i]})" if nd > 1 else ""
        size, jump = Step(f"RF size{tag}", go.size, v, ao.size), Step(f"RF jump{tag}", go.jump, v, ao.jump)
        written = None
        if "kernel_size" in layer.args() and ri.jump is not None:
            written = lecture.rf_text(layer, i, actual.windows[i], ri.size, ri.jump, ao, sfx[i])
        if written:
            size.text, jump.text = written[0][:2], written[1][:2]
            if actual.windows[i].up != 1 and i == 0:
                size.extra.append(lecture.kbar_note(actual.windows[i], axis[i] if nd > 1 else "L"))
        if sees_nothing(ao):  # the recurrence's number describes no unit
            why = ("nor does any unit of its input" if sees_nothing(ri) else
                   "the stride keeps only units between a transposed conv's taps" if ri.period > 1 else
                   "along another axis no unit sees any")
            size.extra.append(f"every unit sees no input pixel: {why}")
        steps += [size, jump]
    return steps


def _learner_notes(ex, layer, shape, actual) -> None:
    """Under each spatial size: the quotient before the floor and the tiling, or a transposed
    conv's equivalent direct convolution."""
    from . import lecture
    from .kinds import role

    ro = role(layer)
    if not ro.windowed or "kernel_size" not in layer.args():
        return
    nd = len(shape) - 1
    axis = INPUT_NAMES.get(nd, tuple(f"L{i}" for i in range(nd)))
    by_name = {st.quantity: st for st in ex.steps}
    for i in range(nd):
        st = by_name.get(f"{axis[i]}_out")
        if st is None:
            continue
        L, result = shape[1 + i], actual.shape[1 + i]
        if ro.transposed:
            st.extra += lecture.transposed_notes(layer, L, i, result, axis[i])
        else:
            st.extra += lecture.quotient_notes(layer, L, i, result, axis[i])


def _is_formula(x) -> bool:
    return bool(getattr(x, "free_symbols", None))


def explain_report(report) -> list:
    """Per layer of an analysed model (numeric input), its explanation."""
    if report.symbolic:
        raise ConvcalcError("--explain needs numbers: give a numeric --input (the formulas are the explanation)")
    from . import lecture

    out = []
    first = True
    for row in report.rows:
        if row.layer is None:
            continue
        rf_in = row.rf_in if row.rf_in is not None and not any(a.is_global for a in row.rf_in) else None
        ex = explain_layer(row.layer, row.input, rf_in, row.name)
        if report.training is not None:
            ex.notes += lecture.backward_lines(row, row.layer, input_needs_grad=not first)
        if row.params or (row.backward_macs or 0):
            first = False  # from here on, inputs carry gradients (as autograd records them)
        out.append(ex)
    if len(out) > 1 or report.training is not None:
        out.append(Explanation("total", "whole model", notes=lecture.total_lines(report)))
    return out


# -- text forms ------------------------------------------------------------------------------------------

_INPUTS = {"H", "W", "L", "C_in", "F_in", "r_in", "C"}


def _name_rank_add(term, lecture: bool = False) -> int:
    S = sp()
    names = {str(x) for x in getattr(term, "free_symbols", ())}
    if term.has(S.floor) or term.has(S.ceiling) or names & _INPUTS or term.is_Number is False and "D" in names \
            and len(names) == 1:
        return 0
    if lecture and any(n.startswith("K") for n in names) and not any(n.startswith("D") for n in names):
        return 1  # (N − F + 2P)/S: the kernel before the padding
    if any(n.startswith("P") for n in names):
        return 1
    if any(n.startswith(("D", "K")) for n in names):
        return 2
    if any(n.startswith("OP") for n in names):
        return 3
    if term.is_Number:
        return 5
    return 4


def _rank_mul(f) -> int:
    S = sp()
    if f.is_Number:
        return 0
    n = str(f)
    if n in ("C_out", "F_out"):
        return 1
    if n.endswith("_out") or n in ("r_in", "j_in"):
        return 2
    if isinstance(f, S.floor) or n in ("C_in", "F_in", "C"):
        return 3
    if f.is_Add:
        return 9
    if n.startswith("K"):
        return 4
    if n.startswith("D"):
        return 5
    if n.startswith("S"):
        return 6
    return 7


def nice(e, lecture: bool = False):
    """The same expression, arranged as a textbook writes it: inputs first, padding, then the
    kernel term, constants last; ``D·(K − 1)`` kept together; one fraction inside each floor
    (where, undilated, the lecture's order: ``(H − K + 2·P)/S``)."""
    S = sp()
    if not _is_formula(e):
        return e
    if isinstance(e, (S.floor, S.ceiling)):
        num, den = S.fraction(S.together(e.args[0]))
        if num.is_Symbol and den.is_Symbol:
            return e
        num = S.expand(num)
        for d in sorted((x for x in num.free_symbols if str(x).startswith("D")), key=str):
            num = S.collect(num, d)
        inner = nice(num, lecture=True)
        return type(e)(S.Mul(inner, S.Pow(den, -1), evaluate=False) if den != 1 else inner, evaluate=False)
    if e.is_Add:
        terms = [nice(t) for t in e.args]
        return S.Add(*sorted(terms, key=lambda t: _name_rank_add(t, lecture)), evaluate=False)
    if e.is_Mul:
        factors = []
        for f in e.args:
            if f.is_Add and f.could_extract_minus_sign():  # D·(1 − K) -> −D·(K − 1)
                factors.append(S.Integer(-1))
                f = -f
            factors.append(nice(f))
        coeff = S.Integer(1)
        rest = []
        for f in factors:
            if f.is_Number:
                coeff *= f
            else:
                rest.append(f)
        rest.sort(key=_rank_mul)
        return S.Mul(*([coeff] if coeff != 1 else []), *rest, evaluate=False)
    if e.args:
        return e.func(*[nice(a) for a in e.args], evaluate=False)
    return e


@functools.lru_cache(maxsize=None)
def _printers():
    """The unicode printer class (built once: it needs sympy, imported lazily)."""
    from sympy.printing.str import StrPrinter

    S = sp()

    class Unicode(StrPrinter):
        def __init__(self, values=None):
            super().__init__({"order": "none"})
            self.values = values or {}

        def _print_Symbol(self, expr):
            if expr in self.values:
                v = self.values[expr]
                return str(v) if not isinstance(v, Fraction) else f"{float(v):g}"
            return expr.name

        def _rounding(self, open_, close, expr):
            num, den = S.fraction(expr.args[0])
            if num.is_Symbol and den.is_Symbol:  # C_in/g: exact by construction
                return f"({self._print(num)}/{self._print(den)})"
            if den == 1:
                return f"{open_}{self._print(num)}{close}"
            return f"{open_}({self._print(num)})/{self._print(den)}{close}"

        def _print_floor(self, expr):
            return self._rounding("⌊", "⌋", expr)

        def _print_ceiling(self, expr):
            return self._rounding("⌈", "⌉", expr)

    return Unicode


def _unicode(expr, values=None) -> str:
    text = _printers()(values).doprint(nice(expr)) if _is_formula(expr) else str(expr)
    return text.replace("**", "^").replace("*", "·").replace(" - ", " − ")


def _latex(expr, values=None) -> str:
    from sympy.printing.latex import LatexPrinter

    S = sp()
    if not _is_formula(expr):
        return str(expr)
    names = {s: (str(v) if not isinstance(v, Fraction) else f"{float(v):g}") for s, v in (values or {}).items()}

    class Latex(LatexPrinter):
        def _print_floor(self, e, exp=None):
            num, den = S.fraction(e.args[0])
            if num.is_Symbol and den.is_Symbol:
                return rf"\frac{{{self._print(num)}}}{{{self._print(den)}}}"
            return super()._print_floor(e, exp)

    settings = {"symbol_names": names, "order": "none"}
    if values:
        settings["mul_symbol"] = "dot"
    return Latex(settings).doprint(nice(expr))


def _result_text(v) -> str:
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    return str(v)


def step_line(st: Step) -> str:
    """``H_out = ⌊(H + 2·P_h − D_h·(K_h − 1) − 1)/S_h⌋ + 1 = ⌊(32 + 2·0 − 1·(5 − 1) − 1)/3⌋ + 1 = 10``"""
    if st.text is not None:
        return f"{st.quantity} = {st.text[0]} = {st.text[1]} = {_result_text(st.result)}"
    if not _is_formula(st.general):
        return f"{st.quantity} = {_result_text(st.result)}"
    general = _unicode(st.general)
    filled = _unicode(st.general, st.values)
    return f"{st.quantity} = {general} = {filled} = {_result_text(st.result)}" + (f"  {st.note}" if st.note else "")
