"""Grading a class against an answer key: the questions come from the key, only the answers from
each submission (matched by question id), so a student cannot change a question and be graded on
the new one.

* The key must give every question an ``id`` (unique) and at least one answer; the fields it
  answers are the fields graded.
* A submission is a sheet whose questions carry ``id`` and ``answers`` (anything else it says
  about a question is ignored). An id the key does not have means a submission for a different
  key; an id given twice is ambiguous: both make the file *broken* (named, exit 2), the other
  files are still graded.
* A question or field the submission leaves out, or leaves blank, is ✗ "unanswered".

The gradebook has one row per submission (score, total, and the slip per question) and per
question the share of submissions right and the most common slip.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from ..errors import ConvcalcError
from .answers import CheckError, field_name
from .grading import SheetResult, grade
from .sheets import build_question, read_sheet

RIGHT = "✓"


@dataclass
class Key:
    path: str
    title: str
    layout: str
    defaults: dict
    items: list            # (ident, key item) in the key's order
    fields: dict           # ident -> [field, ...] the key answers


@dataclass
class Submission:
    path: str
    name: str
    result: Optional[SheetResult] = None
    error: Optional[str] = None


@dataclass
class ClassResult:
    key: Key
    submissions: list = field(default_factory=list)

    @property
    def graded(self) -> list:
        return [s for s in self.submissions if s.result is not None]

    @property
    def broken(self) -> list:
        return [s for s in self.submissions if s.error is not None]

    @property
    def exit_code(self) -> int:
        if self.broken:
            return 2
        return 0 if all(cell == RIGHT for s in self.graded for cell in cells(s.result).values()) else 1


def read_key(path: str) -> Key:
    """The key's questions by id; a key that cannot grade (no ids, repeated ids, no answers, a
    question the engine refuses) is a CheckError naming the file and the question."""
    data = read_sheet(path)
    label = os.path.basename(path)
    defaults = {"layout": data.get("layout", "chw"), "exact": data.get("exact", False),
                "dtype": data.get("dtype", "fp32")}
    items, fields, seen = [], {}, {}
    base = os.path.dirname(os.path.abspath(path))
    for i, item in enumerate(data["questions"], 1):
        where = f"{label}: question {i}"
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise CheckError(f"{where}: no id (grading against a key matches answers by question id)")
        ident = str(item["id"])
        if ident in seen:
            raise CheckError(f"{where} ({ident}): duplicate question id (also question {seen[ident]})")
        seen[ident] = i
        answers = item.get("answers")
        if not isinstance(answers, dict) or not answers or any(v is None or str(v).strip() == ""
                                                               for v in answers.values()):
            raise CheckError(f"{where} ({ident}): the key has no answer"
                             + (f" for {_blank_field(answers)}" if isinstance(answers, dict) and answers else "")
                             + " (make one with `convcalc check SHEET --answer-key`)")
        build_question(item, i, label, defaults, base)  # the key's own errors, named, before any grading
        fields[ident] = [field_name(k, "field") for k in answers]
        items.append((ident, item))
    title = str(data.get("title") or label)
    title = title[:-len(" (answer key)")] if title.endswith(" (answer key)") else title
    return Key(path, title, defaults["layout"], defaults, items, fields)


def _blank_field(answers: dict) -> str:
    return next(str(k) for k, v in answers.items() if v is None or str(v).strip() == "")


def submission_answers(path: str, key: Key) -> dict:
    """ident -> {field: raw answer} of a submission, checked against the key."""
    data = read_sheet(path)
    label = os.path.basename(path)
    out = {}
    for i, item in enumerate(data["questions"], 1):
        where = f"{label}: question {i}"
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise CheckError(f"{where}: no id (answers are matched to the key's questions by id)")
        ident = str(item["id"])
        where += f" ({ident})"
        if ident not in key.fields:
            raise CheckError(f"{where}: not a question of the key {os.path.basename(key.path)} "
                             f"(a submission for a different key?)")
        if ident in out:
            raise CheckError(f"{where}: duplicate question id")
        answers = item.get("answers") or {}
        if not isinstance(answers, dict):
            raise CheckError(f"{where}: answers: expected a mapping such as {{output: 28x28x5}}")
        given = {}
        for k, v in answers.items():
            try:
                given[field_name(k, "field")] = v
            except CheckError as e:
                raise CheckError(f"{where}: answers.{k}: {e}") from None
        out[ident] = given
    return out


def grade_submission(key: Key, path: str, show_work: bool = False) -> SheetResult:
    answers = submission_answers(path, key)
    base = os.path.dirname(os.path.abspath(key.path))
    results = []
    for i, (ident, item) in enumerate(key.items, 1):
        given = answers.get(ident, {})
        q = build_question({k: v for k, v in item.items() if k != "answers"}, i, os.path.basename(key.path),
                           key.defaults, base)
        q.answers = {f: given.get(f) for f in key.fields[ident]}
        q.strict_answers = True
        results.append(grade(q, show_work))
    name = os.path.splitext(os.path.basename(path))[0]
    return SheetResult(f"{name}: {key.title}", os.path.basename(path), results, key.layout)


def submission_paths(targets, key_path: str) -> list:
    """The files to grade: each target, or the YAML/JSON files of a directory (sorted), never the key."""
    out = []
    key_abs = os.path.abspath(key_path)
    for t in targets:
        if os.path.isdir(t):
            names = sorted(n for n in os.listdir(t) if n.lower().endswith((".yaml", ".yml", ".json")))
            out += [os.path.join(t, n) for n in names if os.path.abspath(os.path.join(t, n)) != key_abs]
        else:
            out.append(t)
    if not out:
        raise CheckError(f"no submissions to grade in {', '.join(targets)} (expected .yaml/.yml/.json files)")
    return out


def grade_class(key_path: str, targets, show_work: bool = False) -> ClassResult:
    key = read_key(key_path)
    cr = ClassResult(key)
    for path in submission_paths(targets, key_path):
        sub = Submission(path, os.path.splitext(os.path.basename(path))[0])
        try:
            sub.result = grade_submission(key, path, show_work)
        except ConvcalcError as e:
            sub.error = str(e) if os.path.basename(path) in str(e) else f"{os.path.basename(path)}: {e}"
        cr.submissions.append(sub)
    return cr


# -- the gradebook --------------------------------------------------------------------------------------
def verdict_cell(v) -> str:
    if v.status == "right":
        return RIGHT
    if v.status == "error":
        return "unreadable"
    return v.slip or "wrong"


def cells(result: SheetResult) -> dict:
    """ident -> ``✓`` or the slip of each wrong answer (``params: bias; output: wrong``)."""
    out = {}
    for g in result.questions:
        wrong = [(v.field, verdict_cell(v)) for v in g.verdicts if v.status != "right"]
        if not wrong:
            out[str(g.ident)] = RIGHT
        elif len(g.verdicts) == 1:
            out[str(g.ident)] = wrong[0][1]
        else:
            out[str(g.ident)] = "; ".join(f"{f}: {c}" for f, c in wrong)
    return out


def score(result: SheetResult) -> tuple:
    vs = [v for g in result.questions for v in g.verdicts]
    return sum(v.status == "right" for v in vs), len(vs)


def gradebook(cr: ClassResult) -> list:
    """One row per graded submission: name, file, score, total and the cell per question."""
    rows = []
    for s in cr.graded:
        right, total = score(s.result)
        rows.append({"submission": s.name, "file": s.path, "score": right, "total": total,
                     "questions": cells(s.result)})
    return rows


def question_stats(cr: ClassResult) -> list:
    """Per key question: how many submissions got it all right, and the most common slip."""
    out = []
    graded = cr.graded
    for ident, _ in cr.key.items:
        right, slips = 0, Counter()
        for s in graded:
            g = next(g for g in s.result.questions if str(g.ident) == ident)
            wrong = [v for v in g.verdicts if v.status != "right"]
            right += not wrong
            slips.update(verdict_cell(v) for v in wrong)
        common = slips.most_common(1)
        out.append({"id": ident, "right": right, "submissions": len(graded),
                    "share_right": right / len(graded) if graded else None,
                    "most_common_slip": common[0][0] if common else None,
                    "slip_count": common[0][1] if common else 0})
    return out
