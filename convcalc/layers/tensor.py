"""Layers that move or rescale elements: channel shuffle, permute, upsample, layer scale,
channels-first LayerNorm. No MACs (upsampling interpolates; a layer scale is an
elementwise product, like a norm's affine part)."""
from __future__ import annotations

import functools
import math
from fractions import Fraction

from ..errors import ConfigError, ShapeError
from ..sym import floordiv, fmt, is_sym, resolve, simplify
from .base import Inference, Layer, Window, check_positive


class ChannelShuffle(Layer):
    """ShuffleNet's channel shuffle: (g, C/g) -> (C/g, g) transpose of the channel dim."""
    main_arg = "groups"

    kind = "channelshuffle"

    def __init__(self, groups=None):
        check_positive(groups, "groups")
        self.groups = groups

    def infer(self, shape):
        if not is_sym(shape[0]) and shape[0] % self.groups:
            raise ShapeError(f"channel shuffle: {self.groups} groups do not divide {shape[0]} channels")
        return Inference(shape=tuple(shape))

    def describe(self):
        return f"shuffle {self.groups}"


class Permute(Layer):
    """``torch.permute`` with PyTorch dims (dim 0 is the batch and must stay first)."""

    kind = "permute"

    def aliases_input(self):
        return True  # a view

    def __init__(self, dims=None):
        dims = tuple(dims or ())
        if not dims or dims[0] != 0 or sorted(dims) != list(range(len(dims))):
            raise ConfigError(f"permute: dims must be a permutation starting with the batch dim 0, got {dims}")
        self.dims = dims

    def infer(self, shape):
        if len(shape) + 1 != len(self.dims):
            raise ShapeError(f"permute {self.dims} needs {len(self.dims) - 1} dims per sample, got {len(shape)}")
        return Inference(shape=tuple(shape[d - 1] for d in self.dims[1:]),
                         regroup=tuple((d - 1,) for d in self.dims[1:]))

    def describe(self):
        return "permute " + ",".join(str(d) for d in self.dims)


UPSAMPLE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _upsample_taps(mode: str, align_corners: bool, ratio: Fraction, o: int):
    """The input units output ``o`` of an interpolation reads with a non-zero weight: torch's
    source index in exact rationals (interior units; ``ratio`` input units per output unit)."""
    if mode in ("nearest", "nearest-exact"):
        i = math.floor((o + (Fraction(1, 2) if mode == "nearest-exact" else 0)) * ratio)
        return i, i
    if mode == "area":
        return math.floor(o * ratio), math.ceil((o + 1) * ratio) - 1
    real = o * ratio if align_corners else (o + Fraction(1, 2)) * ratio - Fraction(1, 2)
    i = math.floor(real)
    if real == i:  # on an input unit: the other taps weigh 0
        return i, i
    return (i - 1, i + 2) if mode == "bicubic" else (i, i + 1)


class Upsample(Layer):
    """``nn.Upsample`` / ``F.interpolate``: a given ``size`` or ``floor(L * scale_factor)``.

    Receptive field: the jump shrinks by the scale; ``nearest`` adds no extent, linear
    modes reach one more input unit (a bound: the exact reach depends on the position).
    """
    main_arg = "scale_factor"

    kind = "upsample"

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        if (size is None) == (scale_factor is None):
            raise ConfigError("upsample: give exactly one of size and scale_factor")
        for f in (scale_factor if isinstance(scale_factor, (list, tuple)) else [scale_factor]):
            if f is None:
                continue
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) or f <= 0 \
                    or f > 1e6:
                raise ConfigError(f"upsample: scale_factor must be a positive finite number, got {f!r}")
        for n in (size if isinstance(size, (list, tuple)) else [size]):
            if n is not None and not is_sym(n):
                check_positive(n, "size")
        if mode not in UPSAMPLE_MODES:
            raise ConfigError(f"upsample: mode must be one of {', '.join(UPSAMPLE_MODES)}, got {mode!r}")
        if align_corners is not None and mode in ("nearest", "nearest-exact"):
            raise ConfigError("upsample: align_corners only goes with the interpolating modes")
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def infer(self, shape):
        nd = len(shape) - 1
        if nd < 1:
            raise ShapeError("upsample needs spatial dims")
        want = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(self.mode)
        if want is not None and want != nd:
            raise ShapeError(f"upsample mode {self.mode!r} needs {want} spatial dim(s), got {nd}")
        sizes = self.size if isinstance(self.size, (list, tuple)) else [self.size] * nd
        scales = self.scale_factor if isinstance(self.scale_factor, (list, tuple)) else [self.scale_factor] * nd
        for what, given in (("size", self.size), ("scale_factor", self.scale_factor)):
            if isinstance(given, (list, tuple)) and len(given) != nd:
                raise ShapeError(f"upsample: {what} has {len(given)} values for {nd} spatial dim(s) (as PyTorch, "
                                 "they must match)")
        out, windows = [], []
        for L, n, f in zip(shape[1:], sizes, scales):
            if n is None and not is_sym(L):
                n = math.floor(float(L) * f)  # PyTorch computes the size in double precision
            elif n is None:
                fr = Fraction(f)  # the double's exact value
                n = floordiv(L * fr.numerator, fr.denominator)
            n = simplify(n)
            if not is_sym(n) and n < 1:
                raise ShapeError(f"upsample output would be {n} < 1 ({fmt(L)} x {f})")
            corners = self.align_corners and self.mode not in ("nearest", "nearest-exact", "area")
            if corners and (is_sym(n) or is_sym(L) or (n > 1 and L > 1)):
                up = simplify((n - 1) / (L - 1)) if is_sym(n) or is_sym(L) else simplify(Fraction(n - 1, L - 1))
            elif f is not None and self.mode != "area":  # torch's source index is o / scale_factor
                up = simplify(Fraction(repr(float(f))))
            else:  # (align_corners: source x = o * (L-1)/(n-1), so outputs are (L-1)/(n-1) inputs apart)
                up = simplify(Fraction(n) / Fraction(L)) if not (is_sym(n) or is_sym(L)) else simplify(n / L)
            if isinstance(up, Fraction) and up.denominator == 1:
                up = up.numerator
            # nearest: each output copies one input unit; linear modes blend two neighbours
            # (on average: exactly, by `taps`, where the sizes are numbers)
            k = 1 if self.mode in ("nearest", "nearest-exact") else 4 if self.mode == "bicubic" else 2
            ratio = self._ratio(L, n, f, nd)
            exact = {} if ratio is None or ratio.denominator > 256 else \
                {"taps": functools.partial(_upsample_taps, self.mode, bool(self.align_corners), ratio),
                 "lattice": (ratio.denominator, ratio.numerator)}
            windows.append(Window(k=k, s=1, p=0, up=up, **exact))
            out.append(n)
        return Inference(shape=(shape[0], *out), rf="window", windows=tuple(windows))

    def _ratio(self, L, n, f, nd):
        """Input units per output unit in torch's source index (a Fraction), where it is a number."""
        if self.mode == "area" or (nd == 2 and self.mode == "nearest" and not is_sym(n) and not is_sym(L)
                                   and n in (L, 2 * L)):  # adaptive pooling; torch's 2-d nearest shortcut
            return None if is_sym(n) or is_sym(L) else Fraction(L, n)
        if self.align_corners and self.mode not in ("nearest", "nearest-exact"):
            return None if is_sym(n) or is_sym(L) or n < 2 else Fraction(L - 1, n - 1)
        if f is not None:
            return 1 / Fraction(repr(float(f)))  # torch takes 1/scale_factor as given
        return None if is_sym(n) or is_sym(L) else Fraction(L, n)

    def describe(self):
        what = f"x{fmt(self.scale_factor)}" if self.scale_factor is not None else f"to {self.size}"
        return f"upsample {what} {self.mode}"


class LayerScale(Layer):
    """A learnable per-channel scale (ConvNeXt, CaiT): ``C`` parameters, shape unchanged."""
    main_arg = "channels"

    kind = "layerscale"
    saves = ("input",)  # for the scale's gradient

    def __init__(self, channels=None, init=1e-6):
        self.channels, self.init = channels, init

    def infer(self, shape):
        c = shape[0]
        if self.channels is not None and not is_sym(c) and c != self.channels:
            raise ShapeError(f"layer scale expects {self.channels} channels, got {fmt(c)}")
        return Inference(shape=tuple(shape), params=c)

    def weight_shapes(self, shape):
        return {"weight": (shape[0], *([1] * (len(shape) - 1)))}

    def describe(self):
        return "layerscale"


class LayerNorm2d(Layer):
    """LayerNorm over the channel dim of a (C, H, W) map (torchvision's ConvNeXt): 2C params."""
    main_arg = "num_channels"

    kind = "layernorm2d"
    saves = ("input",)
    #: True where the PyTorch source runs ``nn.LayerNorm`` itself on a channels-last map (Swin, MaxViT)
    #: rather than torchvision's ``LayerNorm2d`` subclass (ConvNeXt): ptflops hooks only the former
    channels_last: bool = False

    def saved_extra(self, shapes, inf):
        from ..sym import prod

        return ((2 * prod(shapes[0][1:]), 4, True),)  # fp32 mean and 1/std per position

    def __init__(self, num_channels=None, eps=1e-6, elementwise_affine=True):
        self.num_channels, self.eps, self.elementwise_affine = num_channels, eps, bool(elementwise_affine)

    def infer(self, shape):
        c = shape[0]
        if self.num_channels is not None and not is_sym(c) and c != self.num_channels:
            raise ShapeError(f"layernorm2d expects {self.num_channels} channels, got {fmt(c)}")
        return Inference(shape=tuple(shape), params=2 * c if self.elementwise_affine else 0, mixed=(0,))

    def weight_shapes(self, shape):
        return {"weight": (shape[0],), "bias": (shape[0],)} if self.elementwise_affine else {}

    def describe(self):
        return "layernorm2d"


class ChannelSlice(Layer):
    """Channels ``start:stop`` of the input (``x[:, start:stop]``, one half of ``torch.chunk``):
    output ``(stop - start, *spatial)``, no parameters, no MACs, pointwise receptive field."""

    kind = "channelslice"

    def aliases_input(self):
        return True  # a view

    def __init__(self, start=0, stop=None):
        if stop is None or not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop)) \
                or not 0 <= start < stop:
            raise ConfigError(f"channel slice: expected integers 0 <= start < stop, got {start!r}:{stop!r}")
        self.start, self.stop = start, stop

    def infer(self, shape):
        if len(shape) < 1:
            raise ShapeError("channel slice needs a channel dim")
        c = shape[0]
        if not is_sym(c) and self.stop > c:
            raise ShapeError(f"channel slice {self.start}:{self.stop} is outside the {fmt(c)} input channels")
        return Inference(shape=(self.stop - self.start, *shape[1:]))

    def describe(self):
        return f"channels {self.start}:{self.stop}"


class CenterCrop(Layer):
    """Cut the spatial axes around the centre, to ``size`` or by ``border`` pixels on each side
    (U-Net's "copy and crop"). The first kept pixel is ``(L - size) // 2``. No parameters, no
    MACs; the receptive field keeps its size and jump, its start shifts by the offset."""
    main_arg = "size"

    kind = "centercrop"

    def aliases_input(self):
        return True  # a view

    def __init__(self, size=None, border=None):
        if (size is None) == (border is None):
            raise ConfigError("centercrop: give exactly one of size and border")
        self.size, self.border = size, border
        for v in (size if isinstance(size, (list, tuple)) else [size]):
            if v is not None:
                check_positive(v, "size")
        for v in (border if isinstance(border, (list, tuple)) else [border]):
            if v is not None:
                check_positive(v, "border", allow_zero=True)

    def sizes(self, shape) -> tuple:
        nd = len(shape) - 1
        if self.size is not None:
            sizes = self.size if isinstance(self.size, (list, tuple)) else (self.size,) * nd
            return tuple(sizes)
        borders = self.border if isinstance(self.border, (list, tuple)) else (self.border,) * nd
        return tuple(simplify(L - 2 * b) for L, b in zip(shape[1:], borders))

    def offsets(self, shape) -> tuple:
        return tuple(simplify(floordiv(L - s, 2)) for L, s in zip(shape[1:], self.sizes(shape)))

    def infer(self, shape):
        if len(shape) < 2:
            raise ShapeError("centercrop needs spatial dims")
        sizes = self.sizes(shape)
        if len(sizes) != len(shape) - 1:
            raise ShapeError(f"centercrop to {sizes} does not fit {len(shape) - 1} spatial dims")
        conds = []
        for L, n in zip(shape[1:], sizes):
            ok = (n >= 1) if self.border is not None else (L >= n)
            decided = ok if isinstance(ok, bool) else resolve(ok, None)
            if decided is False:
                raise ShapeError(f"cannot centre-crop {fmt(L)} pixels to {fmt(n)}")
            if decided is None:
                conds.append((ok, f"centre crop of {fmt(L)} to {fmt(n)}"))
        windows = tuple(Window(k=1, s=1, p=simplify(-o)) for o in self.offsets(shape))
        return Inference(shape=(shape[0], *sizes), rf="window", windows=windows, conditions=conds)

    def describe(self):
        if self.border is not None:
            return f"crop -{fmt(self.border)}"
        return f"crop {'x'.join(fmt(v) for v in self.sizes((0, 0)))}" if isinstance(self.size, (list, tuple)) \
            else f"crop {fmt(self.size)}"


class ZeroPad2d(Layer):
    """``nn.ZeroPad2d``: zeros around H and W, PyTorch's argument order ``(left, right, top,
    bottom)`` (or one int for all four); a negative amount crops, as in PyTorch. No parameters,
    no MACs; the receptive field keeps its size and jump, its start moves left/up by the padding."""

    kind = "zeropad2d"

    def __init__(self, padding=None):
        if padding is None:
            raise ConfigError("zeropad2d: padding is required (an int or (left, right, top, bottom))")
        pads = (padding,) * 4 if not isinstance(padding, (list, tuple)) else tuple(padding)
        if len(pads) != 4 or not all(isinstance(p, int) and not isinstance(p, bool) or is_sym(p) for p in pads):
            raise ConfigError(f"zeropad2d: padding must be an int or 4 ints (left, right, top, bottom), "
                              f"got {padding!r}")
        self.padding = pads

    def infer(self, shape):
        if len(shape) not in (2, 3):
            raise ShapeError(f"zeropad2d needs a (C, H, W) or (H, W) input per sample, got {len(shape)} dims")
        left, right, top, bottom = self.padding
        lead, (H, W) = tuple(shape[:-2]), shape[-2:]
        out = (simplify(H + top + bottom), simplify(W + left + right))
        for size, name in zip(out, ("H", "W")):
            if not is_sym(size) and size < 1:
                raise ShapeError(f"zeropad2d {self.padding} leaves {name} = {fmt(size)}")
        windows = (Window(k=1, s=1, p=top), Window(k=1, s=1, p=left))
        return Inference(shape=(*lead, *out), rf="window" if len(shape) == 3 else "same",
                         windows=windows if len(shape) == 3 else ())

    def describe(self):
        left, right, top, bottom = self.padding
        return f"zeropad {fmt(left)},{fmt(right)},{fmt(top)},{fmt(bottom)}"
