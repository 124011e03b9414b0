"""Convolutions: ConvNd and ConvTransposeNd (N = 1, 2, 3), PyTorch semantics.

Counting (DESIGN §2), one place for each formula:
  conv       params = C_out*(C_in/g)*prod(k) + C_out*bias
             MACs   = C_out*prod(L_out) * (C_in/g)*prod(k)   (one per weight per output unit)
  transposed params = C_in*(C_out/g)*prod(k) + C_out*bias
             MACs   = C_in*prod(L_in) * (C_out/g)*prod(k)    (every input unit meets every weight once)
"""
from __future__ import annotations

import functools
import math

from fractions import Fraction

from ..errors import ConfigError, ShapeError
from ..sym import fmt, is_sym, leftover, prod, simplify, window_out
from .base import Inference, Layer, Window, check_positive, require_size, tuple_arg

AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def axis_names(nd: int) -> tuple:
    return AXES[nd]


def pad_pairs(padding, nd: int, kernel: tuple, dilation: tuple, stride: tuple) -> tuple:
    """Resolve PyTorch's padding forms to explicit ``(lo, hi)`` per axis.

    int, per-axis tuple, ``'valid'``, ``'same'`` (stride 1 only, extra pixel on the
    right as PyTorch does) and, beyond PyTorch, per-axis ``(lo, hi)`` pairs.
    """
    if isinstance(padding, str):
        if padding == "tf_same":
            return None  # depends on the input: tf_same_pairs, at inference
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConfigError("padding='same' is not supported for strided convolutions (as in PyTorch)")
            pairs = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ConfigError(f"padding: expected an integer, a tuple, 'same', 'valid' or 'tf_same', got {padding!r}")
    if isinstance(padding, (list, tuple)) and padding and all(isinstance(p, (list, tuple)) for p in padding):
        if len(padding) != nd or any(len(p) != 2 for p in padding):
            raise ConfigError(f"padding: expected {nd} (lo, hi) pairs, got {padding!r}")
        pairs = tuple((p[0], p[1]) for p in padding)
    else:
        pairs = tuple((p, p) for p in tuple_arg(padding, nd, "padding"))
    for lo, hi in pairs:
        check_positive((lo, hi), "padding", allow_zero=True)
    return pairs


def tf_same_pairs(sizes, kernel, stride, dilation) -> tuple:
    """TensorFlow's ``padding="SAME"`` per axis: the output is ``ceil(L / s)`` and the padding
    that needs, ``max((ceil(L/s) - 1)*s + d*(k-1) + 1 - L, 0)``, is split with the odd pixel on
    the right/bottom (``lo = total // 2``)."""
    pairs = []
    for L, k, s, d in zip(sizes, kernel, stride, dilation):
        if is_sym(L) or is_sym(k) or is_sym(s) or is_sym(d):
            raise ConfigError("padding='tf_same' needs numeric sizes (it depends on the input size)")
        total = max((-(-L // s) - 1) * s + d * (k - 1) + 1 - L, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def kernel_text(k: tuple) -> str:
    return "x".join(fmt(v) for v in k)


def window_axes(layer_kind: str, shape: tuple, kernel, stride, pads, dilation, ceil_mode=False):
    """Output sizes, RF windows, warnings and conditions of a windowed layer, per axis."""
    nd = len(kernel)
    names = axis_names(nd)
    out, windows, warnings, conds, tiling, untiled = [], [], [], [], [], []
    for ax, (L, k, s, (lo, hi), d) in enumerate(zip(shape[1:], kernel, stride, pads, dilation)):
        n = window_out(L, k, s, lo, hi, d, ceil_mode)
        def arithmetic(L=L, k=k, s=s, lo=lo, hi=hi, d=d, n=n):
            return (f"floor(({fmt(L)} + {fmt(lo)} + {fmt(hi)} - {fmt(d)}*({fmt(k)}-1) - 1)/{fmt(s)}) + 1 = {fmt(n)}"
                    f" (kernel {fmt(d * (k - 1) + 1)} is larger than the padded input {fmt(L + lo + hi)})")

        require_size(n, f"{layer_kind} output {names[ax]}", arithmetic, conds)
        windows.append(Window(k=simplify(d * (k - 1) + 1), s=s, p=lo, dilation=d))
        # Pixels past the last window: only real pixels count (right padding may go unused).
        dropped = simplify(leftover(L, k, s, lo, hi, d) - hi)
        if not ceil_mode and (is_sym(dropped) or is_sym(L)):  # a constant leftover still rules out tiling
            tiling.append((dropped, f"stride {fmt(s)} reaches the end of {names[ax]}"))
        if not ceil_mode and not is_sym(dropped) and dropped > 0:
            untiled.append((names[ax], _untiled(L, s, lo, hi, simplify(d * (k - 1) + 1), dropped)))
        out.append(n)
    for text, axes in _by_text(untiled):  # one warning for the axes that say the same
        warnings.append(f"stride {text[0]} does not tile {' and '.join(axes)}: {text[1]}")
    return tuple(out), tuple(windows), warnings, conds, tiling


def _pixels(n) -> str:
    return "pixel" if n == 1 else f"{fmt(n)} pixels"


def _untiled(L, s, lo, hi, w, dropped) -> tuple:
    """(stride text, why) of an axis a stride does not tile: a window narrower than its stride skips
    pixels between windows (a 1-wide window at stride 2: every other pixel); a wider one leaves
    only the end of the input uncovered."""
    if w < s:
        gap = s - w
        pattern = "every other pixel" if (w, s) == (1, 2) else f"{fmt(gap)} of every {fmt(s)} pixels"
        why = f"a {fmt(w)}-wide window at stride {fmt(s)} skips {pattern}"
        if dropped > gap:
            why += (f", and the last {_pixels(dropped - gap)} of the input ({fmt(L)} + {fmt(lo)} + {fmt(hi)} "
                    "padding) too")
        return fmt(s), why
    last = "the last pixel" if dropped == 1 else f"the last {fmt(dropped)} pixels"
    return fmt(s), (f"{last} of the input ({fmt(L)} + {fmt(lo)} + {fmt(hi)} padding) "
                    f"{'is' if dropped == 1 else 'are'} never covered by a {fmt(w)}-wide window")


def _by_text(untiled) -> list:
    groups: dict = {}
    for axis, text in untiled:
        groups.setdefault(text, []).append(axis)
    return list(groups.items())


class _ConvNd(Layer):
    nd = 2
    main_arg = "out_channels"
    transposed = False
    saves = ("input",)  # for the weight gradient; the weight itself is a parameter

    def backward_macs(self, shapes, inf):
        # dX = conv_transpose(dY, W) and dW = conv(X, dY): each meets every (weight, output unit)
        # pair once, like the forward (grouped and transposed alike: the pairs are the same).
        return inf.macs, inf.macs

    def __init__(self, in_channels=None, out_channels=None, kernel_size=None, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", output_padding=0):
        nd = self.nd
        if out_channels is None or kernel_size is None:
            raise ConfigError(f"{self.kind}: out_channels and kernel_size are required")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = tuple_arg(kernel_size, nd, "kernel_size")
        self.stride = tuple_arg(stride, nd, "stride")
        self.dilation = tuple_arg(dilation, nd, "dilation")
        self.groups = groups
        self.bias = bool(bias)
        self.padding_mode = padding_mode
        self.output_padding = tuple_arg(output_padding, nd, "output_padding")
        check_positive(out_channels, "out_channels")
        if in_channels is not None:
            check_positive(in_channels, "in_channels")
        check_positive(self.kernel_size, "kernel_size")
        check_positive(self.stride, "stride")
        check_positive(self.dilation, "dilation")
        check_positive(groups, "groups")
        check_positive(self.output_padding, "output_padding", allow_zero=True)
        if padding_mode not in PADDING_MODES:
            raise ConfigError(f"padding_mode: expected one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
        self.padding = padding
        self.pads = pad_pairs(padding, nd, self.kernel_size, self.dilation, self.stride)
        if self.pads is None:  # 'tf_same': the pads of the last input inferred (none before)
            if self.transposed:
                raise ConfigError(f"{self.kind}: padding must be an integer or a tuple of integers")
            self.pads = ((0, 0),) * nd
        if self.transposed:
            if isinstance(padding, str) or any(lo != hi for lo, hi in self.pads):
                raise ConfigError(f"{self.kind}: padding must be an integer or a tuple of integers")
            for op, s, d in zip(self.output_padding, self.stride, self.dilation):
                if not is_sym(op) and op >= max(s, d):
                    raise ConfigError(f"output_padding {op} must be smaller than either stride {s} or dilation {d}")
        elif any(op != 0 for op in self.output_padding):
            raise ConfigError(f"{self.kind} has no output_padding (only transposed convolutions do)")
        if not is_sym(out_channels) and not is_sym(groups) and out_channels % groups:
            raise ConfigError(f"groups={groups} does not divide out_channels={out_channels}")

    # -- the engine ------------------------------------------------------------
    def _check_input(self, shape):
        self.check_rank(shape, (self.nd + 1,))
        c_in = shape[0]
        if self.in_channels is not None and not is_sym(c_in) and not is_sym(self.in_channels) \
                and c_in != self.in_channels:
            raise ShapeError(f"{self.kind} expects {self.in_channels} input channels, got {c_in}")
        g = self.groups
        if not is_sym(c_in) and not is_sym(g) and c_in % g:
            raise ShapeError(f"groups={g} does not divide the {c_in} input channels")
        return c_in

    def infer(self, shape: tuple) -> Inference:
        c_in = self._check_input(shape)
        c_out, g, k = self.out_channels, self.groups, self.kernel_size
        if self.padding == "tf_same":  # this input's pads, before they are checked
            self.pads = tf_same_pairs(shape[1:], k, self.stride, self.dilation)
        if self.padding_mode in ("reflect", "circular"):
            for L, (lo, hi), name in zip(shape[1:], self.pads, axis_names(self.nd)):
                limit = L - 1 if self.padding_mode == "reflect" else L
                if not is_sym(L) and max(lo, hi) > limit:
                    raise ShapeError(f"{self.padding_mode} padding {max(lo, hi)} is too large for {name}={L}")
        out, windows, warnings, conds, tiling = window_axes(self.kind, shape, k, self.stride, self.pads,
                                                            self.dilation)
        params = c_out * (c_in // g) * prod(k) + (c_out if self.bias else 0)
        macs = c_out * (c_in // g) * prod(k) * prod(out)  # the numbers first: one symbolic product
        return Inference(shape=(c_out, *out), params=simplify(params), macs=simplify(macs), rf="window", mixed=(0,),
                         windows=windows, warnings=warnings, conditions=conds, tiling=tiling)

    def weight_shapes(self, shape):
        ws = {"weight": (self.out_channels, shape[0] // self.groups, *self.kernel_size)}
        if self.bias:
            ws["bias"] = (self.out_channels,)
        return ws

    def describe(self) -> str:
        text = f"conv {kernel_text(self.kernel_size)}"
        if any(s != 1 for s in self.stride):
            text += "/" + kernel_text(self.stride) if len(set(self.stride)) > 1 else f"/{fmt(self.stride[0])}"
        text += _pad_text(self.pads) + (" tf_same" if self.padding == "tf_same" else "")
        if any(d != 1 for d in self.dilation):
            text += f" d{kernel_text(self.dilation) if len(set(self.dilation)) > 1 else fmt(self.dilation[0])}"
        if self.groups != 1:
            text += f" g{fmt(self.groups)}"
        if not self.bias:
            text += " nobias"
        if self.padding_mode != "zeros":
            text += f" {self.padding_mode}"
        return f"{text}, {fmt(self.out_channels)}"


def _pad_text(pads) -> str:
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return ""
    if all(lo == hi for lo, hi in pads):
        vals = [lo for lo, _ in pads]
        return f" p{fmt(vals[0])}" if len(set(vals)) == 1 else " p" + ",".join(fmt(v) for v in vals)
    return " p" + ",".join(f"{fmt(lo)}:{fmt(hi)}" for lo, hi in pads)


def _transposed_reach(k: int, s: int, d: int, p: int) -> Fraction:
    """How many input units an output unit of a transposed conv spans, on average.

    Output o gathers input i = (o + p - d*m)/s for the taps m that divide evenly; which
    taps those are depends on o mod s. Average the span over the residues that gather any.
    """
    spans = []
    for r in range(s):
        taps = [m for m in range(k) if (r + p - d * m) % s == 0]
        if taps:
            spans.append(Fraction((taps[-1] - taps[0]) * d, s) + 1)
    return sum(spans, Fraction(0)) / len(spans) if spans else Fraction(1)


def _transposed_taps(k: int, s: int, d: int, p: int, o: int):
    """The first and last input unit output ``o`` gathers: i = (o + p - d*m)/s for taps m."""
    ins = [(o + p - d * m) // s for m in range(k) if (o + p - d * m) % s == 0]
    return (min(ins), max(ins)) if ins else None


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels=None, out_channels=None, kernel_size=None, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros"):
        if padding_mode != "zeros":
            raise ConfigError(f"{self.kind}: only padding_mode='zeros' is supported (as in PyTorch)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding)

    def infer(self, shape: tuple) -> Inference:
        c_in = self._check_input(shape)
        c_out, g, k = self.out_channels, self.groups, self.kernel_size
        out, windows, conds = [], [], []
        for name, L, kk, s, (lo, hi), d, op in zip(axis_names(self.nd), shape[1:], k, self.stride, self.pads,
                                                    self.dilation, self.output_padding):
            n = simplify((L - 1) * s - lo - hi + d * (kk - 1) + op + 1)
            require_size(n, f"{self.kind} output {name}",
                         lambda L=L, s=s, lo=lo, d=d, kk=kk, op=op, n=n:
                         f"({fmt(L)}-1)*{fmt(s)} - 2*{fmt(lo)} + {fmt(d)}*({fmt(kk)}-1) + {fmt(op)} + 1 = {fmt(n)}",
                         conds)
            keff = simplify(d * (kk - 1) + 1)
            # Output o gathers inputs i with i*s = o + p - d*m: on average keff/s of them
            # (at least one), centred (keff-1)/2 - p output units before o.
            if s == 1:  # a plain conv with padding keff-1-p
                windows.append(Window(k=keff, s=1, p=simplify(keff - 1 - lo), dilation=d))
                out.append(n)
                continue
            if not any(is_sym(v) for v in (kk, s, d, lo)):
                reach = _transposed_reach(kk, s, d, lo)
            else:
                reach = simplify(keff / s)
            exact = {} if any(is_sym(v) for v in (kk, s, d, lo)) else \
                {"taps": functools.partial(_transposed_taps, kk, s, d, lo), "lattice": (s, 1),
                 "dilation": d // math.gcd(s, d)}  # consecutive taps are d/gcd(s, d) input units apart
            windows.append(Window(k=reach, s=1, p=simplify(lo - Fraction(keff - 1, 2)) if not is_sym(keff)
                                  else simplify(lo - (keff - 1) / 2), up=s, **exact))
            out.append(n)
        params = c_in * (c_out // g) * prod(k) + (c_out if self.bias else 0)
        macs = c_in * prod(shape[1:]) * (c_out // g) * prod(k)
        return Inference(shape=(c_out, *out), params=simplify(params), macs=simplify(macs), rf="window", mixed=(0,),
                         windows=tuple(windows), conditions=conds)

    def weight_shapes(self, shape):
        ws = {"weight": (shape[0], self.out_channels // self.groups, *self.kernel_size)}
        if self.bias:
            ws["bias"] = (self.out_channels,)
        return ws

    def describe(self) -> str:
        text = super().describe().replace("conv", "convT", 1)
        if any(op != 0 for op in self.output_padding):
            head, tail = text.rsplit(",", 1)
            text = f"{head} op{','.join(fmt(o) for o in self.output_padding)},{tail}"
        return text


class Conv1d(_ConvNd):
    kind, nd = "conv1d", 1


class Conv2d(_ConvNd):
    kind, nd = "conv2d", 2


class Conv3d(_ConvNd):
    kind, nd = "conv3d", 3


class ConvTranspose1d(_ConvTransposeNd):
    kind, nd = "convtranspose1d", 1


class ConvTranspose2d(_ConvTransposeNd):
    kind, nd = "convtranspose2d", 2


class ConvTranspose3d(_ConvTransposeNd):
    kind, nd = "convtranspose3d", 3
