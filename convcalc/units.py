"""Human-readable numbers (62.4M, 1.14G, 238 MiB) and shape text, for renderers."""
from __future__ import annotations

from .shapes import from_chw
from .sym import fmt, is_sym

_SI = [(10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")]
_IEC = [(2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")]


def _sig3(x: float) -> str:
    """Three significant digits, no trailing zeros: 62.4, 1.14, 238."""
    text = f"{x:.3g}" if x < 1000 else f"{x:.0f}"
    return text


def human_count(n) -> str:
    if is_sym(n):
        return fmt(n)
    for scale, suffix in _SI:
        if abs(n) >= scale:
            return _sig3(n / scale) + suffix
    return str(n)


def human_bytes(n) -> str:
    if is_sym(n):
        return fmt(n) + " B"
    for scale, suffix in _IEC:
        if abs(n) >= scale:
            return f"{_sig3(n / scale)} {suffix}"
    return f"{n} B"


def exact(n) -> str:
    """``62,378,344``; symbolic values as sympy prints them."""
    if is_sym(n):
        return fmt(n)
    if isinstance(n, int):
        return f"{n:,}"
    return fmt(n)


def shape_text(shape, layout: str = "chw") -> str:
    """``96x55x55`` (PyTorch order) or ``55x55x96`` with ``layout='hwc'``."""
    return "x".join(fmt(d) for d in from_chw(shape, layout))


def rf_text(rf) -> str:
    """``11/4`` (size/jump) per axis, collapsed when all axes agree; ``355 (all)`` when global."""
    if not rf:
        return ""
    sizes = [fmt(a.size) if not is_sym(a.size) else f"({fmt(a.size)})" for a in rf]
    size = sizes[0] if len(set(sizes)) == 1 else ("x" if not any(is_sym(a.size) for a in rf) else " x ").join(sizes)
    if any(a.is_global for a in rf):
        return f"{size} (all)"
    jumps = [fmt(a.jump) for a in rf]
    jump = jumps[0] if len(set(jumps)) == 1 else "x".join(jumps)
    return f"{size}/{jump}"
