"""The graded report of ``convcalc check``: a rich table with worked solutions, markdown, JSON.

Pure functions of a :class:`convcalc.tutor.check.SheetResult`; nothing here computes a number.
"""
from __future__ import annotations

import json

MARK = {"right": "✓", "wrong": "✗", "error": "!", "key": "·"}
FIELD_LABEL = {"output": "output", "height": "height", "width": "width", "channels": "channels",
               "params": "params", "macs": "MACs", "flops": "FLOPs", "rf": "RF", "memory": "memory",
               "param_memory": "param memory", "backward_macs": "backward MACs", "grad_input_shape": "dX shape",
               "grad_weight_shape": "dW shape", "saved_bytes": "saved", "training_memory": "training mem"}


def score_line(result) -> str:
    c = result.counts()
    graded = c["right"] + c["wrong"]
    parts = [f"score {c['right']}/{graded}" + (f" ({100 * c['right'] // graded}%)" if graded else "")]
    if c["wrong"]:
        parts.append(f"{c['wrong']} wrong")
    if c["errors"]:
        parts.append(f"{c['errors']} could not be graded")
    keys = sum(v.status == "key" for q in result.questions for v in q.verdicts)
    if keys:
        parts.append(f"{keys} unanswered (key shown)")
    return " · ".join(parts)


def _qlabel(g) -> str:
    return f"Q{g.number}" + (f" ({g.ident})" if g.ident not in (None, "") else "")


def _solutions(result, show_work: bool):
    """(heading, [lines]) for every wrong answer (every answer with show_work)."""
    out = []
    for g in result.questions:
        for v in g.verdicts:
            warn = v.status == "right" and "the working" in v.note
            if v.status == "wrong" or warn or (show_work and v.work):
                head = f"{'⚠' if warn else MARK[v.status]} {_qlabel(g)} {FIELD_LABEL[v.field]}: "
                if v.slip == "unanswered":
                    head += f"unanswered, correct {v.expected_text}"
                elif v.status == "wrong" or warn:
                    head += f"you wrote {v.given}, correct {v.expected_text}"
                else:
                    head += v.expected_text
                lines = []
                if v.note:
                    lines.append(v.note)
                lines += v.work
                out.append((head, lines))
    return out


def check_renderables(result, show_work: bool = False) -> list:
    """Renderables in order: title, the table, worked solutions, the score."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    items = [Text(f"{result.title} · {result.counts()['questions']} question"
                  f"{'s' if result.counts()['questions'] != 1 else ''} · shapes as "
                  f"{ {'chw': 'CxHxW', 'hwc': 'HxWxC', 'any': 'either order'}[result.layout] }")]
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("#", no_wrap=True)
    t.add_column("Question", max_width=30, overflow="fold")
    t.add_column("Answer", no_wrap=True)
    t.add_column("Given", overflow="fold", max_width=22)
    t.add_column("Correct", overflow="fold", max_width=24)
    t.add_column("", no_wrap=True)
    t.add_column("Mistake / note", overflow="fold", max_width=40)
    for g in result.questions:
        if g.error is not None:
            t.add_row(f"Q{g.number}", g.title, "", "", "", MARK["error"], _short_error(g.error))
            continue
        for i, v in enumerate(g.verdicts):
            note = _table_note(v)
            t.add_row(f"Q{g.number}" if i == 0 else "", g.title if i == 0 else "", FIELD_LABEL[v.field], v.given,
                      v.expected_text, MARK[v.status], note)
        if g.verdicts and g is not result.questions[-1]:
            t.add_row("", "", "", "", "", "", "")
    items.append(t)
    sols = _solutions(result, show_work)
    if sols:
        items.append(Text("worked solutions" if not show_work else "work"))
        for head, lines in sols:
            items.append(Text(head))
            for line in lines:
                items.append(Text("    " + line))
    items.append(Text(score_line(result)))
    return items


def _table_note(v) -> str:
    """The short note of the table; the full one is in the worked solutions, JSON and markdown."""
    from ..tutor.slips import SLIPS

    note = v.note
    if v.status == "wrong":
        if v.slip == "other_layout":  # "other layout (CHW order)"
            return note.split(";")[0].replace("answered in the other layout: right numbers in ", "other layout (") + ")"
        if v.slip:
            return SLIPS[v.slip]
        return note or "see the worked solution"
    if v.status == "right":
        if "the working" in note:
            return "⚠ the result is right, the working is not" + (f" ({SLIPS[v.slip]})" if v.slip else "")
        if "read " in note or "given in" in note:
            return note.split("; ")[-1] if "read " in note else note
        return ""
    return note


def _short_error(msg: str) -> str:
    """The error without its ``sheet.yaml: question N:`` prefix (the row says which question)."""
    import re

    return re.sub(r"^.*?question \d+(?: \([^)]*\))?: ", "", msg)


def print_report(console, result, show_work: bool = False) -> None:
    """The table is laid out at the console's width; the solution lines are never wrapped
    (a formula broken across lines is hard to read; a terminal wraps them if it must)."""
    from rich.table import Table

    for r in check_renderables(result, show_work):
        console.print(r, soft_wrap=not isinstance(r, Table))


def to_markdown(result, show_work: bool = False) -> str:
    """A table for a TA to paste, then the worked solutions."""
    def cell(x) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = [f"## {cell(result.title)}", "", "| # | Question | Answer | Given | Correct | | Note |",
             "|---|---|---|---|---|:-:|---|"]
    for g in result.questions:
        if g.error is not None:
            lines.append(f"| {_qlabel(g)} | {cell(g.title)} | | | | {MARK['error']} | {cell(g.error)} |")
            continue
        for i, v in enumerate(g.verdicts):
            given = f"`{cell(v.given)}`" if v.given else ""
            lines.append(f"| {_qlabel(g) if i == 0 else ''} | {cell(g.title) if i == 0 else ''} | "
                         f"{FIELD_LABEL[v.field]} | {given} | {cell(v.expected_text)} | {MARK[v.status]} | "
                         f"{cell(v.note)} |")
    sols = _solutions(result, show_work)
    if sols:
        lines += ["", "### Worked solutions" if not show_work else "### Work", ""]
        for head, body in sols:
            lines.append(f"**{cell(head)}**")
            lines.append("")
            lines.append("```")
            lines += body
            lines.append("```")
            lines.append("")
    lines += ["", f"**{score_line(result)}**", ""]
    return "\n".join(lines)


def to_json(result) -> str:
    from ..tutor.grading import to_dict

    return json.dumps(to_dict(result), indent=2, ensure_ascii=False)


# -- a class graded against a key (tutor.classbook) --------------------------------------------------------
def _slip_words(key) -> str:
    from ..tutor.slips import SLIPS

    if key is None:
        return "—"
    if key == "wrong":
        return "wrong, no named slip"
    return f"{key} ({SLIPS[key]})" if key in SLIPS and SLIPS[key] != key else key


def _share(st) -> str:
    if not st["submissions"]:
        return "—"
    return f"{st['right']}/{st['submissions']} ({100 * st['right'] // st['submissions']}%)"


def gradebook_csv(cr) -> str:
    import csv
    import io

    from ..tutor.classbook import gradebook

    ids = [i for i, _ in cr.key.items]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["submission", "score", "total", *ids])
    for row in gradebook(cr):
        w.writerow([row["submission"], row["score"], row["total"], *(row["questions"][i] for i in ids)])
    return buf.getvalue()


def class_to_dict(cr) -> dict:
    from ..tutor.classbook import gradebook, question_stats
    from ..tutor.grading import to_dict

    reports = {s.path: to_dict(s.result) for s in cr.graded}
    return {"schema_version": 1, "key": cr.key.path, "title": cr.key.title,
            "gradebook": [{**row, "report": reports[row["file"]]} for row in gradebook(cr)],
            "questions": question_stats(cr),
            "broken": [{"file": s.path, "error": s.error} for s in cr.broken]}


def class_json(cr) -> str:
    return json.dumps(class_to_dict(cr), indent=2, ensure_ascii=False)


def gradebook_markdown(cr) -> str:
    from ..tutor.classbook import gradebook, question_stats

    ids = [i for i, _ in cr.key.items]
    lines = [f"## Gradebook: {cr.key.title}", "", "| Submission | Score | " + " | ".join(ids) + " |",
             "|---|--:|" + ":-:|" * len(ids)]
    for row in gradebook(cr):
        lines.append(f"| {row['submission']} | {row['score']}/{row['total']} | "
                     + " | ".join(row["questions"][i] for i in ids) + " |")
    lines += ["", "| Question | Right | Most common slip |", "|---|--:|---|"]
    for st in question_stats(cr):
        slip = _slip_words(st["most_common_slip"]) + (f" ×{st['slip_count']}" if st["slip_count"] else "")
        lines.append(f"| {st['id']} | {_share(st)} | {slip} |")
    for s in cr.broken:
        lines.append(f"\n**not graded:** {s.error}")
    return "\n".join(lines) + "\n"


def print_gradebook(console, cr) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ..tutor.classbook import gradebook, question_stats

    ids = [i for i, _ in cr.key.items]
    console.print(Text(f"gradebook · {cr.key.title} · {len(cr.graded)} submission"
                       f"{'s' if len(cr.graded) != 1 else ''} graded"))
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("submission", no_wrap=True)
    t.add_column("score", justify="right", no_wrap=True)
    for i in ids:
        t.add_column(i, overflow="fold")
    for row in gradebook(cr):
        t.add_row(row["submission"], f"{row['score']}/{row['total']}", *(row["questions"][i] for i in ids))
    console.print(t)
    s = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    s.add_column("question", no_wrap=True)
    s.add_column("right", justify="right", no_wrap=True)
    s.add_column("most common slip", overflow="fold")
    for st in question_stats(cr):
        s.add_row(st["id"], _share(st), _slip_words(st["most_common_slip"])
                  + (f" ×{st['slip_count']}" if st["slip_count"] else ""))
    console.print(s)
