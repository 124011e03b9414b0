"""Grading an answer against the engine's numbers: strict, at the precision written.

* Shapes are read in the sheet's layout (``chw``, ``hwc`` or ``any``); an answer whose numbers
  are right in the other order is wrong, and called out as transposed.
* A plain integer must be exact; a rounded one (``62.4M``) is right when the exact value rounds
  to it at the precision written; ``exact: true`` makes such an answer wrong unless it is exact.
* A working such as ``10 x 32 x 32 x 75 x 2 = 768k`` is graded on its last part; a step that does
  not equal it is pointed out (and checked against the slips too).
* A wrong answer is compared with what each named slip gives (:mod:`convcalc.tutor.slips`) and
  comes with its worked solution (:mod:`convcalc.tutor.worked`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

from ..errors import ConvcalcError
from .answers import (DEFAULT_ASK, FIELDS, MEMORY_FIELDS, SHAPE_FIELDS, CheckError, Num, WrittenFloat, dims_match, given_text,
                      is_blank, parse_number, parse_rf, parse_shape, raw_text, shape_str, to_chw, value_text)
from .slips import find_slip
from .truth import Ctx
from .worked import work_lines


OTHER_LAYOUT = "answered in the other layout"


@dataclass
class Verdict:
    field: str
    given: str                  # as the student wrote it ("" when none)
    expected: object = None     # the exact value (shape tuple, int, rf sizes)
    expected_text: str = ""
    status: str = "error"       # "right" | "wrong" | "error" | "key" (no answer given)
    note: str = ""
    slip: Optional[str] = None  # slip key when a wrong answer matches one
    work: list = field(default_factory=list)  # worked solution, one line each


@dataclass
class Graded:
    number: int
    title: str
    verdicts: list = field(default_factory=list)
    error: Optional[str] = None
    source: str = ""
    note: str = ""
    ident: object = None
    layout: str = "chw"

    @property
    def ok(self) -> bool:
        return self.error is None and all(v.status in ("right", "key") for v in self.verdicts)


@dataclass
class SheetResult:
    title: str
    source: str
    questions: list
    layout: str = "chw"

    def counts(self) -> dict:
        vs = [v for q in self.questions for v in q.verdicts]
        return {"right": sum(v.status == "right" for v in vs), "wrong": sum(v.status == "wrong" for v in vs),
                "errors": sum(v.status == "error" for v in vs) + sum(q.error is not None for q in self.questions),
                "answers": sum(v.status in ("right", "wrong", "error") for v in vs),
                "questions": len(self.questions),
                "broken": sum(q.error is not None for q in self.questions)}

    @property
    def exit_code(self) -> int:
        """0 all right; 1 any answer wrong; 2 when the sheet itself is broken somewhere (a question
        or an answer that cannot be graded): bad input, even though the others were graded."""
        c = self.counts()
        if c["errors"]:
            return 2
        return 0 if c["wrong"] == 0 else 1

    def first_error(self):
        """Text of the first question or answer that could not be graded."""
        for q in self.questions:
            if q.error is not None:
                return q.error
            for v in q.verdicts:
                if v.status == "error":
                    return v.note
        return None


def grade(q, show_work: bool = False) -> Graded:
    """Grade every answer of one question (or fill in the key for answers left empty)."""
    g = Graded(q.number, q.text or _auto_title(q), source=q.source, note=q.note, ident=q.ident, layout=q.layout)
    try:
        ctx = Ctx(q)
    except ConvcalcError as e:
        g.error = f"question {q.number}: {e}"
        return g
    if not q.answers:
        q.answers = {f: None for f in DEFAULT_ASK}
    for fld, raw in q.answers.items():
        g.verdicts.append(grade_field(ctx, fld, raw, show_work))
    return g


def _auto_title(q) -> str:
    where = "" if q.at is None else f" at {q.at}"
    return f"{q.label} on {shape_str(q.input, 'hwc' if q.layout == 'hwc' else 'chw')}{where}"


def grade_field(ctx: Ctx, fld: str, raw, show_work: bool = False) -> Verdict:
    q = ctx.q
    v = Verdict(fld, given_text(raw))
    try:
        truth = ctx.value(fld)
    except ConvcalcError as e:
        v.note = str(e)
        return v
    v.expected = truth
    v.expected_text = value_text(fld, truth, q.layout)
    if raw is None and not q.strict_answers:
        v.status = "key"
        v.work = work_lines(ctx, fld) if show_work else []
        return v
    if raw is None or is_blank(raw):  # left empty: wrong, never an error that stops the run
        v.status, v.note, v.slip = "wrong", "unanswered", "unanswered"
        v.work = work_lines(ctx, fld)
        return v
    try:
        status, note = compare(fld, raw, truth, q)
    except CheckError as e:
        v.status, v.note = "error", f"{fld}: {e}"
        return v
    v.status, v.note = status, note
    parsed = _parse_for(fld, raw)
    if status == "wrong" and note.startswith(OTHER_LAYOUT):
        v.slip = "other_layout"
    elif status == "wrong":
        hit = find_slip(ctx, fld, parsed)
        if hit:
            v.slip, v.note = hit[0], _join(v.note, hit[1])
    # the working of "a = b": a step that does not give the right value is pointed out
    if isinstance(parsed, Num) and parsed.working and fld not in ("output", "rf"):
        for step in parsed.working:
            if step.matches(truth) is None and step.value != parsed.value:
                extra = f"the working {step.text} = {value_text(fld, _whole(step.value))}, not {v.expected_text}"
                hit = find_slip(ctx, fld, step)
                v.note = _join(v.note, extra + (f" ({hit[1]})" if hit else ""))
                if hit and not v.slip:
                    v.slip = hit[0]
    if v.status == "wrong" or show_work:
        v.work = work_lines(ctx, fld)
    return v


def _whole(x):
    return int(x) if isinstance(x, Fraction) and x.denominator == 1 else x


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def _parse_for(fld, raw):
    if fld in SHAPE_FIELDS:
        return parse_shape(raw)
    if fld == "rf":
        return parse_rf(raw)
    return parse_number(raw, "bytes" if fld in MEMORY_FIELDS else "count")


def compare(fld: str, raw, truth, q):
    """(status, note) of one answer against the exact value."""
    if fld in SHAPE_FIELDS:
        layout = q.layout if fld != "grad_weight_shape" else "chw"
        text = raw_text(raw).strip() if isinstance(raw, (str, WrittenFloat)) else ""
        if len(truth) == 1 and re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):  # 150,528: one number, not a shape
            return _compare_shape((parse_number(text),), truth, layout)
        return _compare_shape(parse_shape(raw), truth, layout)
    if fld == "rf":
        return _compare_rf(parse_rf(raw), truth)
    num = parse_number(raw, "bytes" if fld in MEMORY_FIELDS else "count")
    note = ""
    target = truth
    if num.unit in ("macs", "flops") and fld in ("macs", "flops") and num.unit != fld:
        target = truth * 2 if fld == "macs" else Fraction(truth, 2)
        note = f"given in {'FLOPs' if num.unit == 'flops' else 'MACs'} (the question asks {fld.upper()[:-1]}s)"
    elif num.unit in ("macs", "flops") and fld not in ("macs", "flops"):
        return "wrong", f"a number of {num.unit.upper()[:-1]}s where the question asks for the {FIELDS[fld]}"
    label = num.matches(target)
    if label is None:
        return "wrong", note
    if q.exact and num.rounded and Fraction(target) != next(iter(num.readings()))[0]:
        return "wrong", _join(note, f"rounded; the sheet asks for exact values ({value_text(fld, truth)})")
    if num.rounded and Fraction(target) != next(iter(num.readings()))[0]:
        note = _join(note, f"≈ {value_text(fld, target).split(' (')[0]} at the precision written")
    return "right", _join(note, label)


def _compare_shape(nums, truth, layout):
    truth = tuple(truth)
    read = "hwc" if layout == "hwc" else "chw"
    other = "chw" if read == "hwc" else "hwc"
    if dims_match(to_chw(nums, read), truth):
        return "right", ""
    if len(nums) > 1 and dims_match(to_chw(nums, other), truth):
        if layout == "any":
            return "right", "read as HxWxC"
        return "wrong", (f"{OTHER_LAYOUT}: right numbers in {other.upper()} order; the sheet asks {read.upper()} "
                         f"({shape_str(truth, read)})")
    if len(truth) == 1 and len(nums) > 1:  # 1x1x4096 for a 4096-vector: a 1x1 map is the same numbers
        big = [n for n in nums if n.value != 1]
        if len(big) == 1 and dims_match(big, truth):
            return "right", f"read as {truth[0]} (a 1x1 map)"
    if len(nums) == len(truth) - 1 and len(truth) >= 3 and dims_match(nums, truth[1:]):
        if truth[0] == 1:
            return "right", "one channel: the spatial size is the whole shape"
        return "wrong", f"only the spatial size; the output also has {truth[0]} channels"
    if len(nums) != len(truth):
        return "wrong", f"{len(nums)} dims given; the output has {len(truth)}"
    return "wrong", ""


def _compare_rf(parsed, truth):
    sizes, jumps = parsed
    want = [a.size for a in truth]
    if len(sizes) == 1:
        sizes = sizes * len(want)
    if len(sizes) != len(want):
        return "wrong", f"{len(sizes)} sizes given; the input has {len(want)} spatial axes"
    if not all(n.matches(w) is not None for n, w in zip(sizes, want)):
        return "wrong", ""
    if jumps is not None:
        js = [a.jump for a in truth]
        if any(j is None for j in js):
            return "wrong", "every unit sees the whole input: there is no jump"
        if len(jumps) == 1:
            jumps = jumps * len(js)
        if not all(n.matches(Fraction(j)) is not None for n, j in zip(jumps, js)):
            return "wrong", "right size, wrong jump (effective stride)"
    return "right", ""


# -- the graded report as data ----------------------------------------------------------------------------
def to_dict(result: SheetResult) -> dict:
    """The graded report as JSON data (exact integers; shapes in the sheet's layout as text and CHW lists)."""
    from ..report import jsonable

    def expected(v):
        if v.field == "rf" and v.expected is not None:
            return {"size": [jsonable(a.size) for a in v.expected],
                    "jump": [jsonable(a.jump) for a in v.expected]}
        if isinstance(v.expected, tuple):
            return [jsonable(d) for d in v.expected]
        return jsonable(v.expected) if v.expected is not None else None

    c = result.counts()
    return {"schema_version": 1, "title": result.title, "source": result.source, "layout": result.layout,
            "score": {"right": c["right"], "answers": c["answers"], "wrong": c["wrong"], "errors": c["errors"]},
            "questions": [{"number": g.number, "id": g.ident, "title": g.title, "source": g.source,
                           "error": g.error,
                           "answers": [{"field": v.field, "given": v.given, "status": v.status,
                                        "expected": expected(v), "expected_text": v.expected_text,
                                        "note": v.note, "slip": v.slip, "work": v.work}
                                       for v in g.verdicts]} for g in result.questions]}
