"""``solve --explain``: the algebra of solving the output-size formula for the unknown.

The output size is ``out = ⌊(L − k' + 2P)/S⌋ + 1`` (k' = D·(K − 1) + 1, the kernel's span) for a
direct window and ``out = (L − 1)·S − 2P + k' + OP`` for a transposed conv. Without the floor
the equation is linear in each unknown and solves in one line; the floor then lets a range of
values through, which is why the search (the engine run on every candidate) is the answer and
the algebra is its explanation. Each solution is put back into the formula as a check.
"""
from __future__ import annotations

from fractions import Fraction

from .lecture import decimal, frac


def _args(layer_args: dict, axis: int, nd: int) -> dict:
    def pick(name, default):
        v = layer_args.get(name, default)
        if isinstance(v, (tuple, list)):
            return v[axis] if axis < len(v) else v[0]
        return v

    pad = pick("padding", 0)
    return {"K": pick("kernel_size", 1), "S": pick("stride", 1), "D": pick("dilation", 1),
            "P": pad if isinstance(pad, int) else None, "OP": pick("output_padding", 0)}


def _span(K, D):
    return D * (K - 1) + 1


def direct_out(L, K, S, D, P) -> int:
    return (L + 2 * P - _span(K, D)) // S + 1


def transposed_out(L, K, S, D, P, OP) -> int:
    return (L - 1) * S - 2 * P + _span(K, D) + OP


def _direct(find, L, out, a):
    K, S, D, P = a["K"], a["S"], a["D"], a["P"]
    kp = "K" if D == 1 else "(D·(K − 1) + 1)"
    lines = ["out = ⌊(L − " + kp + " + 2P)/S⌋ + 1; without the floor: out − 1 = (L − " + kp + " + 2P)/S"]
    if find == "padding":
        x = Fraction((out - 1) * S - L + _span(K, D), 2)
        lines.append(f"2P = (out − 1)·S − L + {kp} → P = ((out − 1)·S − L + {kp})/2 = "
                     f"(({out} − 1)·{S} − {L} + {_span(K, D)})/2 = {frac(x)}")
    elif find == "stride":
        x = Fraction(L + 2 * P - _span(K, D), out - 1) if out != 1 else None
        lines.append(f"S = (L − {kp} + 2P)/(out − 1) = ({L} − {_span(K, D)} + 2·{P})/({out} − 1) = "
                     + (frac(x) + (f" = {decimal(x)}" if x.denominator != 1 else "") if x is not None
                        else "any stride (out − 1 = 0)"))
    elif find == "kernel_size":
        span = L + 2 * P - (out - 1) * S
        x = Fraction(span - 1, D) + 1
        lines.append(f"{kp} = L + 2P − (out − 1)·S = {L} + 2·{P} − ({out} − 1)·{S} = {span}"
                     + (f" → K = ({span} − 1)/{D} + 1 = {frac(x)}" if D != 1 else "")
                     + (f"; with the floor, a span down to {span - S + 1} gives the same size" if S > 1 else ""))
    elif find == "dilation":
        span = L + 2 * P - (out - 1) * S
        x = Fraction(span - 1, K - 1) if K != 1 else None
        lines.append(f"D·(K − 1) + 1 = L + 2P − (out − 1)·S = {span} → D = ({span} − 1)/({K} − 1) = "
                     + (frac(x) if x is not None else "any (a 1-wide kernel has no span to dilate)"))
    elif find == "input":
        x = Fraction((out - 1) * S + _span(K, D) - 2 * P)
        lines.append(f"L = (out − 1)·S + {kp} − 2P = ({out} − 1)·{S} + {_span(K, D)} − 2·{P} = {frac(x)}"
                     + (f"; with the floor, L up to {frac(x + S - 1)} gives the same size" if S > 1 else ""))
    else:
        return None, []
    return x, lines


def _transposed(find, L, out, a):
    K, S, D, P, OP = a["K"], a["S"], a["D"], a["P"], a["OP"]
    kp = "K" if D == 1 else "(D·(K − 1) + 1)"
    sp = _span(K, D)
    lines = [f"out = (L − 1)·S − 2P + {kp} + OP (a transposed conv has no floor)"]
    if find == "padding":
        x = Fraction((L - 1) * S + sp + OP - out, 2)
        lines.append(f"P = ((L − 1)·S + {kp} + OP − out)/2 = (({L} − 1)·{S} + {sp} + {OP} − {out})/2 = {frac(x)}")
    elif find == "output_padding":
        x = Fraction(out - (L - 1) * S + 2 * P - sp)
        lines.append(f"OP = out − (L − 1)·S + 2P − {kp} = {out} − ({L} − 1)·{S} + 2·{P} − {sp} = {frac(x)}")
    elif find == "stride":
        x = Fraction(out + 2 * P - sp - OP, L - 1) if L != 1 else None
        lines.append(f"S = (out + 2P − {kp} − OP)/(L − 1) = ({out} + 2·{P} − {sp} − {OP})/({L} − 1) = "
                     + (frac(x) if x is not None else "any stride (L − 1 = 0)"))
    elif find == "kernel_size":
        span = out - (L - 1) * S + 2 * P - OP
        x = Fraction(span - 1, D) + 1
        lines.append(f"{kp} = out − (L − 1)·S + 2P − OP = {out} − ({L} − 1)·{S} + 2·{P} − {OP} = {span}"
                     + (f" → K = {frac(x)}" if D != 1 else ""))
    elif find == "input":
        x = Fraction(out + 2 * P - sp - OP, S) + 1
        lines.append(f"L = (out + 2P − {kp} − OP)/S + 1 = ({out} + 2·{P} − {sp} − {OP})/{S} + 1 = {frac(x)}")
    else:
        return None, []
    return x, lines


def explain(layer_args: dict, transposed: bool, input_shape: tuple, output: tuple, find: str, values: list) -> list:
    """The algebra for ``find`` on the first spatial axis, and each solution put back as a check."""
    nd = len(input_shape) - 1
    if nd < 1 or output is None or find in ("out_channels", "out_features"):
        return []
    L, out = input_shape[1], output[-nd]
    a = _args(layer_args, 0, nd)
    if a["P"] is None and find != "padding":
        return []
    x, lines = (_transposed if transposed else _direct)(find, L, out, a)
    if not lines:
        return []
    if x is not None and x.denominator != 1:
        lines.append(f"{frac(x)} is not a whole number" + ("" if transposed else
                     ": the floor lets the neighbouring whole values through, the check below decides"))
    elif x is not None and x < (1 if find in ("stride", "kernel_size", "dilation", "input") else 0):
        lines.append(f"{frac(x)} is out of range")
    for v in values[:4]:
        b = dict(a, **{{"padding": "P", "stride": "S", "kernel_size": "K", "dilation": "D",
                        "output_padding": "OP"}.get(find, "L"): v})
        LL = v if find == "input" else L
        if transposed:
            got = transposed_out(LL, b["K"], b["S"], b["D"], b["P"], b["OP"])
            lines.append(f"check {find} = {v}: ({LL} − 1)·{b['S']} − 2·{b['P']} + {_span(b['K'], b['D'])} + "
                         f"{b['OP']} = {got}" + (" ✓" if got == out else ""))
        else:
            num = LL + 2 * b["P"] - _span(b["K"], b["D"])
            got = num // b["S"] + 1
            q = Fraction(num, b["S"])
            lines.append(f"check {find} = {v}: ⌊({LL} − {_span(b['K'], b['D'])} + 2·{b['P']})/{b['S']}⌋ + 1 = "
                         f"⌊{decimal(q)}⌋ + 1 = {got}" + (" ✓" if got == out else ""))
    if len(values) > 4:
        lines.append(f"... {len(values)} values in all")
    return lines
