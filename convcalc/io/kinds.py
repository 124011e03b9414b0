"""Layer kinds as spec files and one-liners name them: the kind resolver, the argument checks,
the one shape parser and ``make_layer``. A kind registered with
:func:`convcalc.layers.register_kind` is found here like a built-in one."""
from __future__ import annotations

import difflib
import inspect
import re
from typing import Optional

from ..errors import ConvcalcError
from ..layers import ALIASES, KINDS

# Argument types by PyTorch argument name (the layer constructors check values; this checks kinds).
BOOL_ARGS = {"bias", "ceil_mode", "count_include_pad", "affine", "track_running_stats", "elementwise_affine",
             "inplace", "align_corners", "return_indices"}
FLOAT_ARGS = {"eps", "momentum", "p", "alpha", "beta", "k", "negative_slope", "init", "scale_factor"}
STR_ARGS = {"padding_mode", "mode", "approximate"}


class SpecError(ConvcalcError):
    """A spec file or one-liner that cannot be read; the message names the place."""


def _resolve_kind(word: str) -> Optional[str]:
    from ..layers import resolve_kind

    return resolve_kind(word)


def _kind_hint(word: str) -> str:
    key = str(word).lower().replace("_", "").replace("-", "")
    close = difflib.get_close_matches(key, list(KINDS) + list(ALIASES), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def main_arg(kind: str) -> Optional[str]:
    """The argument a bare number sets for ``kind`` (the layer class's ``main_arg``)."""
    return KINDS[kind].main_arg if kind in KINDS else None


def _arg_types(cls) -> tuple:
    """(bool, float, str) argument names of ``cls``: PyTorch's names, and any argument whose
    constructor default is of that type (so a kind defined outside convcalc is checked too)."""
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    defaults = [(p.name, p.default) for p in params if p.default is not inspect.Parameter.empty]
    bools = BOOL_ARGS | {n for n, d in defaults if isinstance(d, bool)}
    floats = FLOAT_ARGS | {n for n, d in defaults if isinstance(d, float)}
    strs = STR_ARGS | {n for n, d in defaults if isinstance(d, str) and n != "padding"}
    return bools, floats, strs


def _show(v) -> str:
    return repr(v) if isinstance(v, str) else str(v).replace("True", "true").replace("False", "false") \
        if isinstance(v, bool) else repr(v)


def _check_value(arg: str, value, place: str, depth: int = 0, types=(BOOL_ARGS, FLOAT_ARGS, STR_ARGS)) -> None:
    """Types by argument name: bools only where PyTorch takes a bool, numbers elsewhere."""
    BOOLS, FLOATS, STRS = types
    if arg in BOOLS:
        if not isinstance(value, bool):
            raise SpecError(f"{place}: expected true or false, got {_show(value)}")
        return
    if isinstance(value, bool):
        raise SpecError(f"{place}: expected {'a number' if arg in FLOATS else 'an integer'}, got "
                        f"{str(value).lower()}")
    if value is None:
        return
    if arg in STRS:
        if not isinstance(value, str):
            raise SpecError(f"{place}: expected a string, got {_show(value)}")
        return
    if isinstance(value, str):
        if arg == "padding" and value in ("same", "valid", "tf_same"):
            return
        raise SpecError(f"{place}: expected {'a number' if arg in FLOATS else 'an integer'}, got {value!r}")
    if isinstance(value, list):
        if depth >= 2 or not value:
            raise SpecError(f"{place}: expected {'an integer or a list of integers'}, got {_show(value)}")
        for i, v in enumerate(value):
            _check_value(arg, v, f"{place}[{i}]", depth + 1, types)
        return
    if isinstance(value, float):
        if arg in FLOATS:
            if value != value or value in (float("inf"), float("-inf")):
                raise SpecError(f"{place}: expected a finite number, got {value}")
            return
        raise SpecError(f"{place}: expected an integer, got {value}")
    if isinstance(value, int):
        if abs(value) > 10**12:
            raise SpecError(f"{place}: {value} is too large")
        return
    raise SpecError(f"{place}: expected a number, got {type(value).__name__}")


def _tuplify(v):
    return tuple(_tuplify(x) for x in v) if isinstance(v, list) else v


def make_layer(kind_word: str, args: dict, place: str):
    """Construct the layer ``kind_word`` with PyTorch keyword ``args``; errors prefixed by ``place``."""
    kind = _resolve_kind(kind_word)
    if kind is None:
        raise SpecError(f"{place}: unknown layer kind {kind_word!r}{_kind_hint(kind_word)}")
    cls = KINDS[kind]
    types = _arg_types(cls)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
    for arg, value in args.items():
        if not isinstance(arg, str):
            raise SpecError(f"{place}: argument names must be strings, got {_show(arg)}")
        if arg not in accepted:
            close = difflib.get_close_matches(arg, accepted, n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else \
                (f"; {kind} takes {', '.join(accepted)}" if accepted else f"; {kind} takes no arguments")
            raise SpecError(f"{place}: unknown argument {arg!r}{hint}")
        _check_value(arg, value, f"{place}.{arg}", types=types)
    kwargs = {a: _tuplify(v) for a, v in args.items()}
    try:
        return cls(**kwargs)
    except ConvcalcError as e:
        if e.arg in accepted:  # the error names its argument: anchor it there
            raise SpecError(f"{place}.{e.arg}: {e.detail}") from None
        msg = str(e)
        if msg.startswith(f"{kind}: "):
            msg = msg[len(kind) + 2:]
        first = msg.split(":", 1)[0]
        sep = "." if first in accepted and ":" in msg else ": "
        raise SpecError(f"{place}{sep}{msg}") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, KeyError) as e:
        raise SpecError(f"{place}: invalid arguments for {kind}: {e}") from None


def parse_shape(value, fail) -> tuple:
    """The one shape parser of specs and one-liners: ``[3, 32, 32]``, ``"3x32x32"``, ``"3xHxW"``;
    ``fail(place, message)`` reports a problem (and raises)."""
    if isinstance(value, str):
        from ..shapes import split_sizes

        parts = split_sizes(value)
    elif isinstance(value, list):
        parts = value
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [value]
    else:
        fail("input", f"expected a shape such as [3, 32, 32] or \"3x32x32\", got {_show(value)}")
    if not parts or len(parts) > 4:
        fail("input", f"expected 1 to 4 sizes (C, *spatial), got {len(parts)}")
    dims, syms = [], []
    for i, p in enumerate(parts):
        if isinstance(p, str) and re.fullmatch(r"\d+", p):
            p = int(p)
        if isinstance(p, int) and not isinstance(p, bool):
            if p < 1 or p > 10**9:
                fail(f"input[{i}]", f"expected a positive integer, got {p}")
            dims.append(p)
        elif isinstance(p, str) and re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", p):
            dims.append(p)
            syms.append(p)
        else:
            fail(f"input[{i}]", f"expected a positive integer or a symbol name, got {_show(p)}")
    if syms:
        from ..sym import dims as make_symbols

        names = sorted(set(syms))
        made = make_symbols(" ".join(names))
        table = dict(zip(names, made if isinstance(made, tuple) else (made,)))
        dims = [table[d] if isinstance(d, str) else d for d in dims]
    return tuple(dims)
