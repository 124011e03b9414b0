"""Pooling: Max/AvgPoolNd (the same windowed formula as convolution) and AdaptiveNd.

Pooling has no parameters and does no multiply-accumulates (DESIGN §2: the
comparisons or additions it does are "other ops", not MACs).
"""
from __future__ import annotations

from fractions import Fraction

from ..errors import ConfigError, ShapeError
from ..sym import fmt, is_sym, simplify
from .base import Inference, Layer, Window, check_positive, tuple_arg
from .conv import kernel_text, window_axes


class _PoolNd(Layer):
    main_arg = "kernel_size"
    nd = 2
    op = "max"
    saves = ("input",)

    def saved_extra(self, shapes, inf):
        from ..sym import prod

        return ((prod(inf.shape), 8, True),) if self.op == "max" else ()  # int64 argmax indices

    def __init__(self, kernel_size=None, stride=None, padding=0, dilation=1, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, return_indices=False):
        nd = self.nd
        if kernel_size is None:
            raise ConfigError(f"{self.kind}: kernel_size is required")
        self.kernel_size = tuple_arg(kernel_size, nd, "kernel_size")
        self.stride = tuple_arg(stride if stride is not None else kernel_size, nd, "stride")
        self.padding = tuple_arg(padding, nd, "padding")
        self.pads = tuple((p, p) for p in self.padding)  # (lo, hi) per axis, as every windowed layer
        self.dilation = tuple_arg(dilation, nd, "dilation")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override
        if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(divisor_override, int)
                                             or divisor_override == 0):
            raise ConfigError(f"divisor_override: expected a non-zero integer, got {divisor_override!r} (as PyTorch)")
        check_positive(self.kernel_size, "kernel_size")
        check_positive(self.stride, "stride")
        check_positive(self.padding, "padding", allow_zero=True)
        check_positive(self.dilation, "dilation")
        for p, k in zip(self.padding, self.kernel_size):
            if not is_sym(p) and not is_sym(k) and p > k // 2:
                raise ConfigError(f"padding {p} should be at most half of the kernel size {k} (as in PyTorch)")

    def infer(self, shape: tuple) -> Inference:
        self.check_rank(shape, (self.nd + 1,))
        out, windows, warnings, conds, tiling = window_axes(self.kind, shape, self.kernel_size, self.stride, self.pads,
                                                            self.dilation, self.ceil_mode)
        return Inference(shape=(shape[0], *out), rf="window", windows=windows, warnings=warnings,
                         conditions=conds, tiling=tiling)

    def describe(self) -> str:
        text = f"{self.op}pool {kernel_text(self.kernel_size)}"
        if self.stride != self.kernel_size:
            text += f"/{kernel_text(self.stride) if len(set(self.stride)) > 1 else fmt(self.stride[0])}"
        if any(p for p in self.padding):
            text += f" p{kernel_text(self.padding) if len(set(self.padding)) > 1 else fmt(self.padding[0])}"
        if any(d != 1 for d in self.dilation):
            text += f" d{fmt(self.dilation[0])}"
        if self.ceil_mode:
            text += " ceil"
        return text


class _AvgPoolNd(_PoolNd):
    op = "avg"

    def __init__(self, kernel_size=None, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, count_include_pad, divisor_override)


class _AvgPool3dRule(_AvgPoolNd):
    def infer(self, shape: tuple) -> Inference:
        # PyTorch's avg_pool3d checks the *unpadded* input against the kernel.
        for L, k in zip(shape[1:], self.kernel_size):
            if not is_sym(L) and L < k:
                raise ShapeError(f"avgpool3d: input {'x'.join(fmt(v) for v in shape[1:])} is smaller than the kernel "
                                 f"{kernel_text(self.kernel_size)} (PyTorch's avg_pool3d ignores padding here)")
        return super().infer(shape)


class MaxPool1d(_PoolNd):
    kind, nd = "maxpool1d", 1


class MaxPool2d(_PoolNd):
    kind, nd = "maxpool2d", 2


class MaxPool3d(_PoolNd):
    kind, nd = "maxpool3d", 3


class AvgPool1d(_AvgPoolNd):
    kind, nd = "avgpool1d", 1


class AvgPool2d(_AvgPoolNd):
    kind, nd = "avgpool2d", 2


class AvgPool3d(_AvgPool3dRule):
    kind, nd = "avgpool3d", 3


def largest_window(L, n):
    """The largest of PyTorch's adaptive windows [floor(i*L/n), ceil((i+1)*L/n)): with
    L = q*n + r it is q when r = 0, q + 1 when r divides n, else q + 2 (some window then
    straddles an integer multiple of n/r). Also as a formula in symbols."""
    if not is_sym(L) and not is_sym(n):
        q, r = divmod(L, n)
        return q if r == 0 else q + 1 if n % r == 0 else q + 2
    from ..sym import sp

    S = sp()
    q, r = S.floor(L / n), S.Mod(L, n)
    return S.Piecewise((q, S.Eq(r, 0)), (q + 1, S.Eq(S.Mod(n, S.Max(r, 1)), 0)), (q + 2, True))  # Max: no mod by 0


class _AdaptivePoolNd(Layer):
    """Output size is given; window i spans [floor(i*L/n), ceil((i+1)*L/n)) as in PyTorch."""
    main_arg = "output_size"

    nd = 2
    op = "avg"

    def saved(self, shapes, inf, input_grads):
        # PyTorch computes an average to 1 (1-D or 2-D) as a mean, whose backward keeps no tensor.
        if self.op == "avg" and self.nd < 3 and all(n == 1 for n in inf.shape[1:]):
            return ()
        return ("input",)

    def saved_extra(self, shapes, inf):
        from ..sym import prod

        return ((prod(inf.shape), 8, True),) if self.op == "max" else ()

    def __init__(self, output_size=None):
        if output_size is None:
            raise ConfigError(f"{self.kind}: output_size is required")
        self.output_size = tuple_arg(output_size, self.nd, "output_size")
        check_positive(tuple(o for o in self.output_size if o is not None), "output_size")

    def infer(self, shape: tuple) -> Inference:
        self.check_rank(shape, (self.nd + 1,))
        out = tuple(L if n is None else n for L, n in zip(shape[1:], self.output_size))
        if all(n == 1 for n in out):
            return Inference(shape=(shape[0], *out), rf="global")
        windows = []
        for L, n in zip(shape[1:], out):
            if not is_sym(L) and not is_sym(n) and L % n == 0:
                windows.append(Window(k=L // n, s=L // n, p=0))
            elif not is_sym(L) and not is_sym(n):
                # Windows of unequal size: report the largest window and the mean stride.
                windows.append(Window(k=largest_window(L, n), s=Fraction(L, n), p=0, exact=False))
            else:
                windows.append(Window(k=largest_window(L, n), s=simplify(L / n), p=0, exact=False))
        return Inference(shape=(shape[0], *out), rf="window", windows=tuple(windows))

    def describe(self) -> str:
        return f"adaptive{self.op}pool " + "x".join("-" if n is None else fmt(n) for n in self.output_size)


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    kind, nd = "adaptiveavgpool1d", 1


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    kind, nd = "adaptiveavgpool2d", 2


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    kind, nd = "adaptiveavgpool3d", 3


class AdaptiveMaxPool1d(_AdaptivePoolNd):
    kind, nd, op = "adaptivemaxpool1d", 1, "max"


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    kind, nd, op = "adaptivemaxpool2d", 2, "max"


class AdaptiveMaxPool3d(_AdaptivePoolNd):
    kind, nd, op = "adaptivemaxpool3d", 3, "max"
