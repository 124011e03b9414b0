"""Rendering explanations (``--explain``): text, Markdown ``$...$``, LaTeX ``align*`` and JSON.

The explanations are computed by :mod:`convcalc.tutor.explain` (formulas from the layers' own code);
this module only writes them out, through explain's formula printers.
"""
from __future__ import annotations

import json
from fractions import Fraction

from ..tutor.explain import _is_formula, _latex, _unicode, step_line


def _formula(st, values=False):
    if st.text is not None:
        return st.text[1 if values else 0]
    if not _is_formula(st.general):
        return None
    return _unicode(st.general, st.values) if values else _unicode(st.general)


def to_data(explanations) -> list:
    return [{"name": ex.name, "description": ex.desc,
             "steps": [{"quantity": st.quantity, "formula": _formula(st), "substituted": _formula(st, True),
                        "result": _plain(st.result), **({"notes": list(st.extra)} if st.extra else {})}
                       for st in ex.steps],
             **({"notes": list(ex.notes)} if ex.notes else {})} for ex in explanations]


def _plain(v):
    if isinstance(v, Fraction):
        return v.numerator if v.denominator == 1 else float(v)
    return v


def to_text(explanations) -> str:
    lines = []
    for ex in explanations:
        lines.append(f"{ex.name}  ({ex.desc})")
        for st in ex.steps:
            lines.append("  " + step_line(st))
            lines += ["      " + e for e in st.extra]
        lines += ["  " + n for n in ex.notes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_markdown(explanations) -> str:
    lines = []
    for ex in explanations:
        lines.append(f"**{ex.name}** ({ex.desc})\n")
        for st in ex.steps:
            q = st.quantity.replace("_", r"\_")
            if _is_formula(st.general):
                lines.append(f"- {q}: ${_latex(st.general)} = {_latex(st.general, st.values)} = {_tex_num(st.result)}$")
            else:
                lines.append(f"- {q}: ${_tex_num(st.result)}$")
            lines += [f"  - {e}" for e in st.extra]
        lines += [f"- {n}" for n in ex.notes]
        lines.append("")
    return "\n".join(lines)


def _tex_quantity(q: str) -> str:
    base, _, rest = q.partition(" (")
    tex = {"params": r"\text{params}", "MACs": r"\text{MACs}", "buffers": r"\text{buffers}",
           "RF size": r"r", "RF jump": r"j"}.get(base)
    if tex is None:
        head, _, sub = base.partition("_")
        tex = f"{head}_{{\\text{{{sub}}}}}" if sub else head
    if rest:
        tex += f"^{{({rest.rstrip(')')})}}"
    return tex


def _tex_num(v) -> str:
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else f"\\tfrac{{{v.numerator}}}{{{v.denominator}}}"
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\\,")
    return str(v)


def to_latex(explanations) -> str:
    """Ready-to-paste ``align*`` blocks, one per layer."""
    out = []
    for ex in explanations:
        out.append(f"% {ex.name}: {ex.desc}")
        out.append(r"\begin{align*}")
        lines = []
        for st in ex.steps:
            if _is_formula(st.general):
                lines.append(f"{_tex_quantity(st.quantity)} &= {_latex(st.general)} "
                             f"= {_latex(st.general, st.values)} = {_tex_num(st.result)}")
            else:
                lines.append(f"{_tex_quantity(st.quantity)} &= {_tex_num(st.result)}")
        out.append(" \\\\\n".join(lines))
        out.append(r"\end{align*}")
        out += [f"% {e}" for st in ex.steps for e in st.extra] + [f"% {n}" for n in ex.notes]
        out.append("")
    return "\n".join(out)


def to_json(explanations) -> str:
    return json.dumps(to_data(explanations), indent=2)
