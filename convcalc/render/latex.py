"""LaTeX: a booktabs table to paste into a report or homework.

Counts are exact integers grouped with thin spaces (``62\\,378\\,344``); shapes are typeset
as ``$96\\times55\\times55$``; layer names and descriptions are escaped. Symbolic values are
typeset by sympy. Needs ``\\usepackage{booktabs}`` in the preamble.
"""
from __future__ import annotations

from ..sym import is_sym
from ..shapes import from_chw
from ..units import human_bytes, rf_text
from .columns import COLUMNS, Style, default_columns, parse_columns

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}"}


def escape(text) -> str:
    """Text safe in a LaTeX text-mode cell."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def number(n) -> str:
    """``62\\,378\\,344``: exact, thin-space groups of three; symbols in math mode."""
    if is_sym(n):
        import sympy

        return f"${sympy.latex(n)}$"
    if isinstance(n, bool) or not isinstance(n, int):
        n = int(n) if getattr(n, "is_Integer", False) else n
    if isinstance(n, int):
        return f"{n:,}".replace(",", r"\,")
    return escape(n)


def _count(n) -> str:
    return "" if n == 0 else number(n)


def shape(dims, layout: str = "chw") -> str:
    dims = from_chw(dims, layout)
    parts = []
    for d in dims:
        if is_sym(d):
            import sympy

            text = sympy.latex(d)
            parts.append(text if getattr(d, "is_Symbol", False) else rf"\left({text}\right)")
        else:
            parts.append(str(d))
    return "$" + r"\times ".join(parts) + "$" if parts else ""


def _bytes(n) -> str:
    if is_sym(n):
        return number(n) + r"\,B"
    return escape(human_bytes(n)).replace(" ", r"\,")


LATEX = Style(
    cell={"name": lambda v, layout: escape(v), "text": lambda v, layout: escape(v), "shape": shape,
          "count": lambda n, layout: _count(n), "rf": lambda rf, layout: escape(rf_text(rf)),
          "bytes": lambda n, layout: _bytes(n)},
    total={"name": lambda v, layout: r"\textbf{" + escape(v) + "}", "shape": shape,
           "count": lambda n, layout: r"\textbf{" + number(n) + "}",
           "bytes": lambda n, layout: r"\textbf{" + _bytes(n) + "}"})


def to_latex(report, layout: str = "chw", columns=None) -> str:
    """A ``table`` float holding a booktabs ``tabular``: one row per layer, then the totals."""
    cols = parse_columns(columns) if columns is not None else default_columns(report)
    spec = "".join("r" if COLUMNS[c].right else "l" for c in cols)
    caption = (f"{escape(report.model)}: input {shape(report.input, layout)}, batch {number(report.batch)}, "
               f"{escape(report.dtype)}; {number(report.totals['params'])} parameters, "
               f"{number(report.totals['macs'])} MACs")
    lines = [
        r"% convcalc " + escape(report.model) + r" -- needs \usepackage{booktabs}",
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{" + caption + "}",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
        " & ".join(escape(COLUMNS[c].header) for c in cols) + r" \\",
        r"\midrule",
    ]
    for r in report.rows:
        lines.append(" & ".join(LATEX.row(r, cols, layout)) + r" \\")
    lines.append(r"\midrule")
    lines.append(" & ".join(LATEX.totals(report, cols, layout)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
