"""The quiz as files: the sheet (no answers) and the key (answers and worked solutions), each as
YAML that ``convcalc check`` grades, Markdown and LaTeX.

The YAML is written by hand (not ``yaml.dump``) so that the worked solutions can sit in comments
above each answer and the layers stay one readable line each; tests read it back with PyYAML.
"""
from __future__ import annotations

import json
import os
import re

FILES = (("quiz", False), ("key", True))
TOPIC_TITLES = {"output-size": "output sizes", "params": "parameters", "macs": "multiply-accumulates (MACs)",
                "rf": "receptive fields", "padding": "padding", "transposed": "transposed convolutions",
                "pooling": "pooling", "memory": "memory", "backward": "the backward pass (training)",
                "mixed": "mixed topics"}
LAYOUT_WORDS = {"chw": "CxHxW (channels first, as PyTorch)", "hwc": "HxWxC (channels last, as the lecture)"}
LABEL = {"output": "output shape", "params": "parameters", "macs": "MACs", "flops": "FLOPs",
         "rf": "receptive field", "memory": "activation memory (bytes)", "param_memory": "parameter memory (bytes)",
         "grad_input_shape": "shape of dX", "grad_weight_shape": "shape of dW", "backward_macs": "backward MACs",
         "training_memory": "training memory (bytes)"}


def shown(v) -> str:
    """An answer as printed: counts with thousands separators."""
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def title(quiz, key: bool) -> str:
    return (f"Quiz: {TOPIC_TITLES[quiz.topic]}, difficulty {quiz.difficulty}, seed {quiz.seed}"
            + (" (answer key)" if key else ""))


def command(quiz) -> str:
    return (f"convcalc quiz --topic {quiz.topic} --count {quiz.count} --seed {quiz.seed} --layout {quiz.layout} "
            f"--difficulty {quiz.difficulty}")


# -- YAML ---------------------------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*|\d+(x\d+)+")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def flow(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def to_yaml(quiz, key: bool) -> str:
    out = [f"# {title(quiz, key)}", f"# made by: {command(quiz)}"]
    if key:
        out.append("# the key grades all right: convcalc check key.yaml;  the answers, with their working in the")
        out.append("# comments above them, are graded against the engine on every run")
    else:
        out.append("# write each answer after its field (e.g.  output: " + ("28x28x5" if quiz.layout == "hwc"
                                                                          else "5x28x28") + "), then")
        out.append("# grade it: convcalc check quiz.yaml")
    out += [f"title: {scalar(title(quiz, key))}", f"layout: {quiz.layout}", "questions:"]
    for q in quiz.questions:
        first = True
        for k, v in q.item.items():
            lead = "  - " if first else "    "
            first = False
            if k == "layers":
                out.append(f"{lead}layers:")
                out += [f"      - {flow(x)}" for x in v]
            else:
                out.append(f"{lead}{k}: {flow(v)}")
        out.append("    answers:")
        for f in q.answers:
            if key:
                out += [f"      # {line}" for line in q.work[f]]
                out.append(f"      {f}: {scalar(q.answers[f])}")
            else:
                out.append(f"      {f}:")
    return "\n".join(out) + "\n"


# -- Markdown ---------------------------------------------------------------------------------------------
def to_markdown(quiz, key: bool) -> str:
    out = [f"# {title(quiz, key)}", "", f"Shapes are written {LAYOUT_WORDS[quiz.layout]}. "
           "Counting: a MAC is one multiply plus its add; FLOPs = 2 x MACs; pooling and activations have no "
           "parameters and no MACs. Sizes are floored unless a layer says ceil mode.", "",
           f"*Made by `{command(quiz)}`.*", ""]
    for i, q in enumerate(quiz.questions, 1):
        out.append(f"**{i}. ({q.ident})** {q.text}")
        out.append("")
        for f in q.answers:
            if key:
                out.append(f"- {LABEL[f]}: **{shown(q.answers[f])}**")
                out.append("")
                out.append("  ```text")
                out += [f"  {line}" for line in q.work[f]]
                out.append("  ```")
            else:
                out.append(f"- {LABEL[f]}: ____________")
        out.append("")
    return "\n".join(out)


# -- LaTeX ------------------------------------------------------------------------------------------------
_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
        "$": r"\$", "^": r"\^{}", "~": r"\~{}", "·": r"$\cdot$", "→": r"$\to$", "≈": r"$\approx$"}


def tex(s: str) -> str:
    text = "".join(_TEX.get(c, c) for c in str(s))
    return re.sub(r"`([^`]*)`", r"\\texttt{\1}", text)


def to_latex(quiz, key: bool) -> str:
    out = [r"\documentclass[a4paper,11pt]{article}", r"\usepackage[utf8]{inputenc}",
           r"\usepackage[margin=2cm]{geometry}", r"\begin{document}", "",
           r"\section*{" + tex(title(quiz, key)) + "}",
           tex(f"Shapes are written {LAYOUT_WORDS[quiz.layout]}. A MAC is one multiply plus its add; "
               f"FLOPs = 2 x MACs; pooling and activations have no parameters and no MACs. "
               f"Sizes are floored unless a layer says ceil mode."), "", r"\begin{enumerate}"]
    for q in quiz.questions:
        out.append(r"\item " + tex(f"({q.ident}) {q.text}"))
        out.append(r"\begin{itemize}")
        for f in q.answers:
            if key:
                out.append(r"\item " + tex(LABEL[f]) + r": \textbf{" + tex(shown(q.answers[f])) + "}")
                out.append(r"\begin{itemize}")
                out += [r"\item {\small " + tex(line) + "}" for line in q.work[f]]
                out.append(r"\end{itemize}")
            else:
                out.append(r"\item " + tex(LABEL[f]) + r": \rule{4cm}{0.4pt}")
        out.append(r"\end{itemize}")
    out += [r"\end{enumerate}", "", r"{\footnotesize " + tex(f"Made by {command(quiz)}.") + "}",
            r"\end{document}", ""]
    return "\n".join(out)


def write_all(quiz, out_dir: str) -> list:
    from .gen import QuizError

    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise QuizError(f"--out {out_dir}: cannot create the directory ({e.strerror or e})") from None
    if not os.path.isdir(out_dir):
        raise QuizError(f"--out {out_dir}: not a directory")
    files = []
    for stem, key in FILES:
        for ext, render in (("yaml", to_yaml), ("md", to_markdown), ("tex", to_latex)):
            files.append((os.path.join(out_dir, f"{stem}.{ext}"), render(quiz, key)))
    for path, text in files:
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        except OSError as e:
            raise QuizError(f"--out {out_dir}: cannot write {os.path.basename(path)} ({e.strerror or e})") from None
    return [p for p, _ in files]
