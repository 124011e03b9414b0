"""Encoder-decoder networks: U-Net (Ronneberger, Fischer & Brox 2015) and the DCGAN generator
of pytorch/examples.

U-Net's "copy and crop" is the engine's ``CenterCrop(border=...)``: the encoder map loses a fixed
border on each side to match the decoder's size before the concatenation.
"""
from __future__ import annotations

from ..errors import ShapeError
from ..graph import Parallel, Sequential
from ..layers import BatchNorm2d, CenterCrop, Conv2d, ConvTranspose2d, MaxPool2d, ReLU, Tanh
from . import Model


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
    ``crops[j]`` is how many pixels encoder level ``j+1`` loses on each side to match up-conv ``j+1``."""
    c = width * 2 ** i  # channels at this level after the encoder convs
    inner = [(f"pool{i}", MaxPool2d(2, 2)), (f"enc{i + 1}", _double_conv(c // 2, c))]
    if i < depth:
        crop = CenterCrop(border=crops[i])  # encoder level i+1 cut to the size of up-conv i+1's output
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
    The crops remove a fixed border (88, 40, 16, 4 pixels), so any valid tile (16k + 124: 188, 204,
    ..., 572, ...) works with ``--input``; other sizes give odd maps before a pool or a concat mismatch."""
    sizes = unet_sizes(tile)
    w = 64
    # up-conv outputs are the decoder sizes + 4 (each double conv takes 4 pixels); the crop removes
    # the rest of the encoder map, the same border for every valid tile
    crops = [(e - (d + 4)) // 2 for e, d in zip(sizes["encoder"], sizes["decoder"])]
    net = Sequential(
        ("enc1", _double_conv(in_channels, w)),
        ("", Parallel([("crop1", CenterCrop(border=crops[0])), ("", _level(1, w, 4, crops))],
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
