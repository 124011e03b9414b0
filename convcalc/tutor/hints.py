"""The layout hint: lectures write shapes HxWxC, convcalc reads CxHxW by default. An input read
in the default layout whose last size is 1, 3 or 4 and whose first is larger than 4 (``32x32x3``)
is almost surely an image written HxWxC: say so in one line (on stderr; nothing else changes).
Not when the last two sizes are equal (``16x4x4``): that is a square CxHxW map, as written."""
from __future__ import annotations


def looks_hwc(dims) -> bool:
    """``32x32x3``, ``227x227x1``, ``64x64x4``: written HxWxC, not CxHxW."""
    dims = list(dims or ())
    if len(dims) < 3 or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        return False
    return dims[-1] in (1, 3, 4) and dims[0] > 4 and dims[-2] != dims[-1]


def layout_hint(dims, where: str = "") -> str:
    text = "x".join(str(d) for d in dims)
    return (f"hint: {where + ': ' if where else ''}the input {text} looks like HxWxC (an image with {dims[-1]} "
            f"channel{'s' if dims[-1] != 1 else ''}), but it is read as CxHxW ({dims[0]} channels); "
            f"add --layout hwc to read it as HxWxC")


def sheet_hint(data: dict):
    """The hint for the first question of a sheet without a ``layout`` whose input looks HxWxC."""
    from .answers import CheckError, parse_shape

    if not isinstance(data, dict) or "layout" in data:
        return None
    for i, item in enumerate(data.get("questions") or (), 1):
        if not isinstance(item, dict) or "layout" in item or item.get("input") is None:
            continue
        try:
            dims = [int(d.value) for d in parse_shape(item["input"]) if d.value.denominator == 1]
        except (CheckError, ValueError):
            continue
        if looks_hwc(dims):
            return layout_hint(dims, f"question {i}") + " (or `layout: hwc` in the sheet)"
    return None
