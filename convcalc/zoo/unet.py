"""Encoder-decoder networks: U-Net (Ronneberger, Fischer & Brox 2015) and the DCGAN generator
of pytorch/examples.

U-Net needs a layer kind the engine does not have: the centre crop that cuts the encoder's
feature map down to the decoder's size before the concatenation ("copy and crop"). No exact
workaround exists with the stock layers (a one-hot valid convolution has the right shape but
adds parameters and MACs; a stride-1 pool of the right width has the right shape but a larger
receptive field), so :class:`CenterCrop` is defined here. Its NumPy kernel for ``convcalc
verify`` is :func:`center_crop_kernel`; until ``verify.EXEC`` lists it, register it with
``convcalc.verify.EXEC[CenterCrop] = center_crop_kernel`` (this module does not import NumPy).
"""
from __future__ import annotations

from ..errors import ConfigError, ShapeError
from ..graph import Parallel, Sequential
from ..layers import BatchNorm2d, Conv2d, ConvTranspose2d, MaxPool2d, ReLU, Tanh
from ..layers.base import Inference, Layer, Window, check_positive, tuple_arg
from ..sym import floordiv, fmt, resolve, simplify
from . import Model


class CenterCrop(Layer):
    """Cut the spatial axes to ``size`` around the centre, like torchvision's ``CenterCrop``:
    (C, H, W) -> (C, h, w). The first kept pixel along an axis of length L is ``(L - size) // 2``
    (when L - size is odd the extra pixel is dropped at the end). No parameters, no MACs; the
    receptive field passes through unchanged in size and jump, its start shifted by the offset
    (a 1-wide window with padding ``-offset``)."""

    kind = "centercrop"
    nd = 2

    def __init__(self, size=None):
        if size is None:
            raise ConfigError("centercrop: size is required")
        self.size = tuple_arg(size, self.nd, "size")
        check_positive(self.size, "size")

    def offsets(self, shape: tuple) -> tuple:
        return tuple(simplify(floordiv(L - s, 2)) for L, s in zip(shape[1:], self.size))

    def infer(self, shape: tuple) -> Inference:
        self.check_rank(shape, (self.nd + 1,))
        conds = []
        for L, s in zip(shape[1:], self.size):
            ok = L >= s
            decided = ok if isinstance(ok, bool) else resolve(ok, None)
            if decided is False:
                raise ShapeError(f"cannot centre-crop {fmt(L)} pixels to {fmt(s)}")
            if decided is None:
                conds.append((ok, f"centre crop: {fmt(L)} >= {fmt(s)}"))
        windows = tuple(Window(k=1, s=1, p=simplify(-o)) for o in self.offsets(shape))
        return Inference(shape=(shape[0], *self.size), rf="window", windows=windows, conditions=conds)

    def describe(self) -> str:
        h, w = self.size
        return f"crop {fmt(h)}x{fmt(w)}" if h != w else f"crop {fmt(h)}"


def center_crop_kernel(layer, x, weights, buffers):
    """NumPy kernel (``verify.EXEC`` signature): slice the centre of a (N, C, H, W) array.

    An axis shorter than the crop is kept whole: verify's receptive-field probe may run the
    layer on a shortened non-probed axis (never the case for the real forward pass, where
    ``infer`` has checked every axis is at least ``size``)."""
    index = [slice(None), slice(None)]
    for L, s in zip(x.shape[2:], layer.size):
        a = max(0, (L - s) // 2)
        index.append(slice(a, a + s))
    return x[tuple(index)].copy(), 0


# -- U-Net -----------------------------------------------------------------------------------------

def _double_conv(cin: int, cout: int) -> Sequential:
    """Two valid (unpadded) 3x3 convolutions, each followed by a ReLU: -4 pixels per axis."""
    return Sequential(Conv2d(cin, cout, 3), ReLU(True), Conv2d(cout, cout, 3), ReLU(True))


def unet_sizes(tile: int = 572, depth: int = 4) -> dict:
    """Spatial sizes of the U-Net for an input ``tile``: encoder outputs (before each pool),
    the bottleneck, and decoder outputs. Raises ShapeError for a tile that does not tile
    (every pooled map must have an even size)."""
    enc, s = [], tile
    for i in range(depth):
        s -= 4
        if s < 2 or s % 2:
            raise ShapeError(f"U-Net: a {tile}x{tile} tile gives an odd or empty map ({s}) before pool {i + 1}")
        enc.append(s)
        s //= 2
    s -= 4
    if s < 1:
        raise ShapeError(f"U-Net: a {tile}x{tile} tile leaves nothing at the bottleneck")
    bottom, dec = s, []
    for i in range(depth):
        s = 2 * s - 4
        if s < 1:
            raise ShapeError(f"U-Net: a {tile}x{tile} tile leaves nothing after up-conv {depth - i}")
        dec.append(s)
    return {"encoder": enc, "bottleneck": bottom, "decoder": dec[::-1]}


def _level(i: int, width: int, depth: int, crops: list) -> Sequential:
    """Everything from pool ``i`` down and back to up-conv ``i`` (flat names: the branch is ``""``).
    ``crops[j]`` is the size of up-conv ``j+1``'s output, to which encoder level ``j+1`` is cropped."""
    c = width * 2 ** i  # channels at this level after the encoder convs
    inner = [(f"pool{i}", MaxPool2d(2, 2)), (f"enc{i + 1}", _double_conv(c // 2, c))]
    if i < depth:
        crop = CenterCrop(crops[i])  # encoder level i+1 cut to the size of up-conv i+1's output
        inner.append(("", Parallel([(f"crop{i + 1}", crop), ("", _level(i + 1, width, depth, crops))],
                                   combine="cat", merge_name=f"cat{i + 1}")))
        inner.append((f"dec{i + 1}", _double_conv(2 * c, c)))
    inner.append((f"up{i}", ConvTranspose2d(c, c // 2, 2, stride=2)))
    return Sequential(*inner)


def unet(tile: int = 572, in_channels: int = 1, num_classes: int = 2) -> Model:
    """U-Net (Ronneberger, Fischer & Brox 2015, Fig. 1): a 572x572x1 tile -> a 388x388x2 map.

    Encoder: per level two valid 3x3 convs + ReLU (64, 128, 256, 512 channels) and a 2x2/2 max-pool;
    bottleneck 1024 channels (572-568-284-280-140-136-68-64-32-28). Decoder: a 2x2 stride-2 up-conv
    (``ConvTranspose2d``) halving the channels, concatenation with the centre-cropped encoder map of
    the same level ("copy and crop": 568->392, 280->200, 136->104, 64->56) and two valid 3x3 convs
    + ReLU (56-52-104-100-200-196-392-388); a final 1x1 conv to 2 classes. 23 convolutional layers
    (18 3x3 + 4 up-convs + the 1x1), every one with a bias, no batch norm.

    Figures: output 388x388x2 and 23 conv layers from the paper; 31,030,658 parameters as published
    by implementations (Keras summaries "Total params: 31,030,658"; not stated in the paper).

    Names are flat: ``enc1.0`` .. ``enc5.2`` (``enc5`` is the bottleneck), ``pool1..4``,
    ``up4..1``, ``crop4..1``, the concatenation rows ``cat4..1``, ``dec4.0`` .. ``dec1.2``, ``head``.
    The crop sizes depend on the tile: ``unet(tile=...)`` builds for another valid tile
    (16k + 124: 188, 204, ..., 572, ...); overriding only the input of the 572 model fails."""
    sizes = unet_sizes(tile)
    w = 64
    crops = [d + 4 for d in sizes["decoder"]]  # up-conv outputs: each decoder double conv takes 4 pixels
    net = Sequential(
        ("enc1", _double_conv(in_channels, w)),
        ("", Parallel([("crop1", CenterCrop(crops[0])), ("", _level(1, w, 4, crops))],
                      combine="cat", merge_name="cat1")),
        ("dec1", _double_conv(2 * w, w)),
        ("head", Conv2d(w, num_classes, 1)),
    )
    figures = {"params": (31030658, "U-Net implementations (Keras model summaries 'Total params: 31,030,658'; "
                                    "gchlebus u_net parameter_count doctest); not printed in the paper"),
               "output": ((2, 388, 388), "Ronneberger et al. 2015 Fig. 1: 388x388 output map, 2 classes"),
               "conv_layers": (23, "Ronneberger et al. 2015: 'In total the network has 23 convolutional layers'")}
    return Model("unet", net, (in_channels, tile, tile), unet.__doc__, figures)


# -- DCGAN -----------------------------------------------------------------------------------------

def dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> Model:
    """The DCGAN generator (Radford, Metz & Chintala 2015) of pytorch/examples ``dcgan/main.py``
    (``--nz 100 --ngf 64``, 64x64 RGB images): a 100x1x1 latent vector -> ConvTranspose2d 4x4/1 pad 0
    -> 512x4x4 -> three ConvTranspose2d 4x4/2 pad 1 (256x8x8, 128x16x16, 64x32x32), each with
    BatchNorm2d and ReLU -> ConvTranspose2d 4x4/2 pad 1 -> 3x64x64 -> Tanh. No conv has a bias.
    Names follow ``Generator.main`` (``main.0`` .. ``main.13``).

    3,576,704 parameters (3,574,784 weights + 1,920 BN gamma/beta), as torchsummary prints for this
    network in several implementations; the paper prints no count. MACs follow torchvision/fvcore's
    rule for transposed convs (input positions x weight size): 104,628,224 per sample."""
    main = Sequential(
        ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), BatchNorm2d(ngf * 8), ReLU(True),
        ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), BatchNorm2d(ngf * 4), ReLU(True),
        ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), BatchNorm2d(ngf * 2), ReLU(True),
        ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), BatchNorm2d(ngf), ReLU(True),
        ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), Tanh(),
    )
    figures = {"params": (3576704, "pytorch/examples dcgan/main.py Generator as summarised by torchsummary "
                                   "('Total params: 3,576,704') in implementations; not in the paper"),
               "output": ((3, 64, 64), "pytorch/examples dcgan/main.py: state size nc x 64 x 64")}
    return Model("dcgan_generator", Sequential(("main", main)), (nz, 1, 1), dcgan_generator.__doc__, figures)
