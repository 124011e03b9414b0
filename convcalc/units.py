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


_BYTE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
               "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text) -> int:
    """``24GiB``, ``512MiB``, ``1.5GB``, ``2G`` (decimal), ``1000`` (bytes) -> bytes, > 0."""
    import re

    from .errors import ConvcalcError

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in _BYTE_UNITS or len(m.group(1)) > 30:
        raise ConvcalcError(f"memory size {text!r}: expected a number and a unit, e.g. 512MiB, 24GiB, 1.5GB")
    from fractions import Fraction

    value = int(Fraction(m.group(1)) * _BYTE_UNITS[unit])
    if value <= 0:
        raise ConvcalcError(f"memory size {text!r}: must be more than 0 bytes")
    return value
