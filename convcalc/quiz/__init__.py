"""``convcalc quiz``: exercise sheets generated with their answer keys.

:func:`make_quiz` draws candidate questions from a seeded ``random.Random`` (gen.py), builds each
exactly as ``convcalc check`` reads a sheet (``check.build_question``), analyses it with the engine
and keeps it only when the engine accepts the configuration and the worked solution (work.py)
reaches the engine's answer. :func:`write_quiz` writes the sheet (no answers) and the key (answers
and worked solutions) as YAML for ``convcalc check`` and as Markdown and LaTeX to print (emit.py).

The same arguments give byte-identical files: one ``random.Random(seed)``, lists in fixed order,
no clock, no hash order.
"""
from __future__ import annotations

import difflib
import json
import random
from dataclasses import dataclass, field

from ..errors import ConvcalcError
from . import gen
from .gen import QuizError  # noqa: F401  (public name)

TOPICS = tuple(gen.TOPICS) + ("backward", "mixed")
MAX_COUNT = 1000
MAX_TRIES = 400          # candidates drawn for one question before giving up
FRESH_TRIES = 40         # candidates drawn before a repeated configuration is accepted
FIND = {"output": "the output shape", "params": "the number of parameters (weights and biases)",
        "macs": "the number of multiply-accumulates (MACs)", "flops": "the number of FLOPs (2 per MAC)",
        "rf": "the receptive field of one output unit (in input pixels)",
        "memory": "the memory of the output activations", "param_memory": "the memory of the parameters",
        "grad_input_shape": "the shape of the input gradient dX",
        "grad_weight_shape": "the shape of the weight gradient dW",
        "backward_macs": "the MACs of this layer's backward pass (input and weight gradients, as needed)",
        "training_memory": "the training memory of its parameters in bytes (weights, gradients and the optimizer "
                           "state, fp32)"}
BYTES = {"fp32": 4, "fp16": 2}


@dataclass
class QuizQuestion:
    ident: str
    text: str
    item: dict               # the question as `convcalc check` reads it, without answers
    answers: dict            # field -> answer as the key writes it
    work: dict               # field -> worked-solution lines
    values: dict = field(default_factory=dict)   # field -> the engine's exact value


@dataclass
class Quiz:
    topic: str
    count: int
    seed: int
    layout: str
    difficulty: int
    questions: list


def check_args(topic: str, count: int, layout: str, difficulty: int) -> None:
    if topic not in TOPICS:
        close = difflib.get_close_matches(str(topic), TOPICS, n=1, cutoff=0.5)
        raise QuizError(f"unknown topic {topic!r}" + (f"; did you mean {close[0]!r}?" if close else
                                                      f"; expected one of {', '.join(TOPICS)}"))
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise QuizError(f"--count must be between 1 and {MAX_COUNT}, got {count!r}")
    if layout not in ("chw", "hwc"):
        raise QuizError(f"--layout must be chw or hwc, got {layout!r}")
    if isinstance(difficulty, bool) or difficulty not in (1, 2, 3):
        raise QuizError(f"--difficulty must be 1, 2 or 3, got {difficulty!r}")


def make_quiz(topic: str = "mixed", count: int = 10, seed: int = 0, layout: str = "chw",
              difficulty: int = 1) -> Quiz:
    """``count`` questions on ``topic``, each one the engine accepts, with answers and working."""
    check_args(topic, count, layout, difficulty)
    rng = random.Random(seed)
    from .backward import t_backward

    draw = gen.t_mixed if topic == "mixed" else t_backward if topic == "backward" else gen.TOPICS[topic]
    width = max(2, len(str(count)))
    seen: set = set()
    questions = []
    for i in range(1, count + 1):
        ident = f"q{i:0{width}d}"
        for tries in range(MAX_TRIES):
            draft = draw(rng, difficulty)
            q = build(draft, ident, i, layout, difficulty) if draft is not None else None
            if q is None:
                continue
            key = json.dumps(q.item, sort_keys=True)
            if key in seen and tries < FRESH_TRIES:
                continue
            seen.add(key)
            questions.append(q)
            break
        else:  # pragma: no cover - every topic yields valid drafts far more often than this
            raise QuizError(f"could not generate question {i} on {topic!r} at difficulty {difficulty}")
    return Quiz(topic, count, seed, layout, difficulty, questions)


def shape_in(shape, layout: str) -> str:
    from .work import shape_text

    return shape_text(shape, layout)


def question_text(draft: gen.Draft, layout: str) -> str:
    if draft.zoo:
        return draft.text.format(input=shape_in(draft.input, layout))
    setting = gen.describe(draft, lambda s: shape_in(s, layout))
    finds = []
    for f in draft.ask:
        what = FIND[f]
        if f == "memory" and len(draft.layers) > 1:
            what = "the activation memory of the whole network (every layer's output, each stored once)"
        if f in ("memory", "param_memory"):
            what += f" in bytes ({draft.dtype}: {BYTES[draft.dtype]} B per value)"
        if f == "output" and len(draft.layers) > 1:
            what += " after the last layer"
        finds.append(what)
    if draft.at is not None:
        setting += f" Consider layer ({draft.at}), which is trained with the layers before it."
    if draft.optimizer != "sgd":
        setting += f" The optimizer is {draft.optimizer}."
    return f"{setting} Find {_and(finds)}."


def _and(parts) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def draft_item(draft: gen.Draft, ident: str, layout: str) -> dict:
    item = {"id": ident, "text": question_text(draft, layout)}
    if draft.zoo:
        item["model"], item["at"] = draft.model, draft.at
    else:
        item["input"] = shape_in(draft.input, layout)
        if len(draft.layers) == 1:
            item["layer"] = draft.layers[0]
        else:
            item["layers"] = list(draft.layers)
        if draft.at is not None:
            item["at"] = draft.at
    if draft.dtype != "fp32":
        item["dtype"] = draft.dtype
    if draft.optimizer != "sgd":
        item["optimizer"] = draft.optimizer
    return item


def build(draft: gen.Draft, ident: str, number: int, layout: str, difficulty: int):
    """The question if the engine accepts it and the working agrees with every answer, else None."""
    from ..tutor import check as ck

    item = draft_item(draft, ident, layout)
    try:
        q = ck.build_question(dict(item), number, "quiz", {"layout": layout})
        q.answers = {f: None for f in draft.ask}  # training fields: analysed with training
        report = ck.analyze_question(q)
        rows, row = ck.select_rows(report, q.at)
    except ConvcalcError:
        return None
    if draft.exact_tiling and report.warnings:
        return None
    if not draft.zoo and not _sizes_realistic(rows):
        return None
    answers, work, values = {}, {}, {}
    for f in draft.ask:
        try:
            value = ck.quantity(report, q.at, f)
        except ConvcalcError:
            return None
        lines, mine = field_work(f, rows, row, report, layout, draft.optimizer)
        if not _agrees(f, value, mine):
            return None
        answers[f] = ck.key_value(f, value, layout)
        work[f], values[f] = lines, value
    return QuizQuestion(ident, item["text"], item, answers, work, values)


def _sizes_realistic(rows) -> bool:
    """No feature map collapsed to a single pixel (or smaller) before a global pool."""
    from ..layers.pool import _AdaptivePoolNd

    for r in rows:
        if isinstance(r.layer, _AdaptivePoolNd):
            return True
        if len(r.output) == 3 and min(r.output[1:]) < 2:
            return False
    return True


def _agrees(f, value, mine) -> bool:
    if f == "rf":
        return mine is not None and all(a.size == mine for a in value)
    return value == mine


def field_work(f, rows, row, report, layout, optimizer="sgd"):
    """(lines, value) of the worked solution of one field."""
    from . import backward
    from . import work as w

    if f in ("grad_input_shape", "grad_weight_shape", "backward_macs",
             "training_memory"):
        return backward.work(f, rows, row, optimizer)
    counted = [row] if row is not None else rows
    if f == "output":
        return w.output_work(rows, layout)
    if f in ("params", "macs"):
        return w.count_work(counted, f)
    if f == "flops":
        lines, macs = w.count_work(counted, "macs")
        return lines + [f"FLOPs = 2·MACs = 2·{w.n(macs)} = {w.n(2 * macs)}"], 2 * macs
    if f == "param_memory":
        lines, params = w.count_work(counted, "params")
        nb = report.dtype_bytes
        return lines + [f"memory = {w.n(params)} params · {nb} B ({report.dtype}) = {w.n(params * nb)} B"], \
            params * nb
    if f == "rf":
        return w.rf_work(rows)
    if f == "memory":
        return w.memory_work(rows, report.dtype_bytes, report.dtype, whole=row is None and len(rows) > 1)
    raise QuizError(f"no worked solution for {f!r}")  # pragma: no cover


def write_quiz(quiz: Quiz, out_dir: str) -> list:
    """Write the sheet and the key (YAML, Markdown, LaTeX) into ``out_dir``; the paths written."""
    from . import emit

    return emit.write_all(quiz, out_dir)
