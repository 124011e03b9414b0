"""GoogLeNet (Inception v1) and Inception v3, as torchvision builds them.

Both use torchvision's ``BasicConv2d``: a convolution without bias, ``BatchNorm2d(eps=0.001)``
and a functional ReLU (named ``relu`` here; torchvision has no module for it). Pools that
torchvision applies functionally inside a block (``F.avg_pool2d`` / ``F.max_pool2d``) are
named ``avg_pool`` / ``max_pool`` here.

Auxiliary classifiers are side outputs that only run in training mode. They cannot be a
branch of the main path (a branch must be merged), so ``aux_logits=True`` builds the
*training-mode* network instead: the logits of the aux heads are concatenated with the
main logits, in torchvision's output order ``(logits, aux2, aux1)`` / ``(logits, aux)``,
giving a ``3000``/``2000`` vector. Every layer of the main path keeps its shape and receptive
field; totals then include the aux heads. The aux heads alone are ``googlenet_aux(1|2)`` and
``inception_v3_aux()``, analysed on the feature map they tap.
"""
from __future__ import annotations

from ..graph import Parallel, Sequential
from ..layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d,
                      ReLU)
from . import Model, functional

GOOGLENET_PARAMS = 6624904       # torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta num_params (no aux heads)
GOOGLENET_PARAMS_AUX = 13004888  # GoogLeNet(aux_logits=True) (torchvision's class default): sum(p.numel())
INCEPTION_V3_PARAMS = 27161264   # torchvision Inception_V3_Weights.IMAGENET1K_V1 meta num_params (with AuxLogits)


def basic_conv(in_channels, out_channels, kernel_size, stride=1, padding=0) -> Sequential:
    """torchvision's ``BasicConv2d``: conv (no bias) -> BN(eps=0.001) -> ReLU."""
    return Sequential(
        ("conv", Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)),
        ("bn", BatchNorm2d(out_channels, eps=0.001)),
        ("relu", functional(ReLU())),
    )


def _aux_out(main_rest: Sequential, name: str, head: Sequential, merge: str) -> Parallel:
    """Training-mode outputs: the rest of the main path and an aux head, concatenated (main first)."""
    return Parallel([("", main_rest), (name, head)], combine="cat", merge_name=merge)


# -- GoogLeNet -------------------------------------------------------------------------------------

def googlenet_block(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) -> Parallel:
    """torchvision's ``Inception`` module: four branches concatenated. The "5x5" branch uses a
    3x3 convolution (a known bug kept for the ported weights, pytorch/vision#906)."""
    return Parallel([
        ("branch1", basic_conv(in_channels, ch1x1, 1)),
        ("branch2", Sequential(basic_conv(in_channels, ch3x3red, 1), basic_conv(ch3x3red, ch3x3, 3, padding=1))),
        ("branch3", Sequential(basic_conv(in_channels, ch5x5red, 1), basic_conv(ch5x5red, ch5x5, 3, padding=1))),
        ("branch4", Sequential(MaxPool2d(3, 1, padding=1, ceil_mode=True), basic_conv(in_channels, pool_proj, 1))),
    ], combine="cat")


def _googlenet_aux_head(in_channels) -> Sequential:
    """torchvision GoogLeNet ``InceptionAux``: adaptive avg-pool 4x4, 1x1 conv to 128, fc 2048->1024, ReLU,
    dropout 0.7, fc 1024->1000."""
    return Sequential(
        ("avg_pool", functional(AdaptiveAvgPool2d((4, 4)))),
        ("conv", basic_conv(in_channels, 128, 1)),
        ("flatten", Flatten()),
        ("fc1", Linear(2048, 1024)), ("relu", functional(ReLU())),
        ("dropout", Dropout(0.7)),
        ("fc2", Linear(1024, 1000)),
    )


def googlenet(aux_logits: bool = False) -> Model:
    """GoogLeNet (Szegedy et al. 2014) as torchvision's ``googlenet`` (BN after every conv, the
    "5x5" branches are 3x3 as in torchvision, ceil-mode max-pools, a 2x2 maxpool4).

    Published (torchvision ``GoogLeNet_Weights.IMAGENET1K_V1`` meta, googlenet.py; docs page
    agrees): ``num_params`` 6,624,904 and ``_ops`` 1.498 GMACs at 224x224. Both EXCLUDE the two
    aux classifiers: the builder deletes them after loading the weights. ``aux_logits=True``
    gives the training-mode network with aux1 (after inception4a, 512 in) and aux2 (after
    inception4d, 528 in): 13,004,888 parameters, which is also ``GoogLeNet()``'s count since
    the class defaults to ``aux_logits=True``. ``transform_input`` adds nothing countable."""
    stem = [
        ("conv1", basic_conv(3, 64, 7, stride=2, padding=3)),
        ("maxpool1", MaxPool2d(3, 2, ceil_mode=True)),
        ("conv2", basic_conv(64, 64, 1)),
        ("conv3", basic_conv(64, 192, 3, padding=1)),
        ("maxpool2", MaxPool2d(3, 2, ceil_mode=True)),
        ("inception3a", googlenet_block(192, 64, 96, 128, 16, 32, 32)),
        ("inception3b", googlenet_block(256, 128, 128, 192, 32, 96, 64)),
        ("maxpool3", MaxPool2d(3, 2, ceil_mode=True)),
        ("inception4a", googlenet_block(480, 192, 96, 208, 16, 48, 64)),
    ]
    middle = [
        ("inception4b", googlenet_block(512, 160, 112, 224, 24, 64, 64)),
        ("inception4c", googlenet_block(512, 128, 128, 256, 24, 64, 64)),
        ("inception4d", googlenet_block(512, 112, 144, 288, 32, 64, 64)),
    ]
    tail = [
        ("inception4e", googlenet_block(528, 256, 160, 320, 32, 128, 128)),
        ("maxpool4", MaxPool2d(2, 2, ceil_mode=True)),
        ("inception5a", googlenet_block(832, 256, 160, 320, 32, 128, 128)),
        ("inception5b", googlenet_block(832, 384, 192, 384, 48, 128, 128)),
        ("avgpool", AdaptiveAvgPool2d((1, 1))),
        ("flatten", Flatten()),
        ("dropout", Dropout(0.2)),
        ("fc", Linear(1024, 1000)),
    ]
    if aux_logits:
        after4d = _aux_out(Sequential(*tail), "aux2", _googlenet_aux_head(528), "aux2_cat")
        after4a = _aux_out(Sequential(*middle, ("", after4d)), "aux1", _googlenet_aux_head(512), "aux1_cat")
        net = Sequential(*stem, ("", after4a))
        name = "googlenet-aux"
    else:
        net = Sequential(*stem, *middle, *tail)
        name = "googlenet"
    figures = {
        "params": (GOOGLENET_PARAMS_AUX if aux_logits else GOOGLENET_PARAMS,
                   "GoogLeNet(aux_logits=True): sum(p.numel()) (torchvision class default)" if aux_logits else
                   "torchvision GoogLeNet_Weights.IMAGENET1K_V1 num_params (aux heads removed)"),
        "params_no_aux": (GOOGLENET_PARAMS, "torchvision GoogLeNet_Weights.IMAGENET1K_V1 num_params"),
        "params_with_aux": (GOOGLENET_PARAMS_AUX, "GoogLeNet(aux_logits=True): sum(p.numel())"),
        "gmacs": (1.498, "torchvision GoogLeNet_Weights.IMAGENET1K_V1 _ops (eval mode, no aux heads)"),
    }
    if aux_logits:
        del figures["gmacs"]  # training mode runs the aux heads too: no published figure
    return Model(name, net, (3, 224, 224), googlenet.__doc__, figures)


def googlenet_aux(which: int = 1) -> Model:
    """GoogLeNet's aux classifier ``aux1`` (on inception4a's 512x14x14 output) or ``aux2``
    (on inception4d's 528x14x14) on its own: 3,188,968 / 3,191,016 parameters."""
    in_channels = {1: 512, 2: 528}[which]
    net = Sequential((f"aux{which}", _googlenet_aux_head(in_channels)))
    return Model(f"googlenet-aux{which}", net, (in_channels, 14, 14), googlenet_aux.__doc__)


# -- Inception v3 ----------------------------------------------------------------------------------

def _pool_branch(in_channels, out_channels, name="branch_pool") -> Sequential:
    return Sequential(("avg_pool", functional(AvgPool2d(3, 1, padding=1))),
                      (name, basic_conv(in_channels, out_channels, 1)))


def inception_a(in_channels, pool_features) -> Parallel:
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1, out 224 + pool_features."""
    return Parallel([
        ("branch1x1", basic_conv(in_channels, 64, 1)),
        ("", Sequential(("branch5x5_1", basic_conv(in_channels, 48, 1)),
                        ("branch5x5_2", basic_conv(48, 64, 5, padding=2)))),
        ("", Sequential(("branch3x3dbl_1", basic_conv(in_channels, 64, 1)),
                        ("branch3x3dbl_2", basic_conv(64, 96, 3, padding=1)),
                        ("branch3x3dbl_3", basic_conv(96, 96, 3, padding=1)))),
        ("", _pool_branch(in_channels, pool_features)),
    ], combine="cat")


def inception_b(in_channels) -> Parallel:
    """35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3x3/2, out 480 + in."""
    return Parallel([
        ("branch3x3", basic_conv(in_channels, 384, 3, stride=2)),
        ("", Sequential(("branch3x3dbl_1", basic_conv(in_channels, 64, 1)),
                        ("branch3x3dbl_2", basic_conv(64, 96, 3, padding=1)),
                        ("branch3x3dbl_3", basic_conv(96, 96, 3, stride=2)))),
        ("max_pool", functional(MaxPool2d(3, 2))),
    ], combine="cat")


def inception_c(in_channels, c7) -> Parallel:
    """17x17 block with factorised 7x7s: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1, out 768."""
    return Parallel([
        ("branch1x1", basic_conv(in_channels, 192, 1)),
        ("", Sequential(("branch7x7_1", basic_conv(in_channels, c7, 1)),
                        ("branch7x7_2", basic_conv(c7, c7, (1, 7), padding=(0, 3))),
                        ("branch7x7_3", basic_conv(c7, 192, (7, 1), padding=(3, 0))))),
        ("", Sequential(("branch7x7dbl_1", basic_conv(in_channels, c7, 1)),
                        ("branch7x7dbl_2", basic_conv(c7, c7, (7, 1), padding=(3, 0))),
                        ("branch7x7dbl_3", basic_conv(c7, c7, (1, 7), padding=(0, 3))),
                        ("branch7x7dbl_4", basic_conv(c7, c7, (7, 1), padding=(3, 0))),
                        ("branch7x7dbl_5", basic_conv(c7, 192, (1, 7), padding=(0, 3))))),
        ("", _pool_branch(in_channels, 192)),
    ], combine="cat")


def inception_d(in_channels) -> Parallel:
    """17 -> 8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool 3x3/2, out 512 + in."""
    return Parallel([
        ("", Sequential(("branch3x3_1", basic_conv(in_channels, 192, 1)),
                        ("branch3x3_2", basic_conv(192, 320, 3, stride=2)))),
        ("", Sequential(("branch7x7x3_1", basic_conv(in_channels, 192, 1)),
                        ("branch7x7x3_2", basic_conv(192, 192, (1, 7), padding=(0, 3))),
                        ("branch7x7x3_3", basic_conv(192, 192, (7, 1), padding=(3, 0))),
                        ("branch7x7x3_4", basic_conv(192, 192, 3, stride=2)))),
        ("max_pool", functional(MaxPool2d(3, 2))),
    ], combine="cat")


def _split_1x3_3x1(channels, a: str, b: str, merge: str) -> Parallel:
    return Parallel([(a, basic_conv(channels, 384, (1, 3), padding=(0, 1))),
                     (b, basic_conv(channels, 384, (3, 1), padding=(1, 0)))], combine="cat", merge_name=merge)


def inception_e(in_channels) -> Parallel:
    """8x8 block with expanded filter banks: 1x1 | 1x1-(1x3 || 3x1) | 1x1-3x3-(1x3 || 3x1) | avgpool-1x1,
    out 320 + 768 + 768 + 192 = 2048."""
    return Parallel([
        ("branch1x1", basic_conv(in_channels, 320, 1)),
        ("", Sequential(("branch3x3_1", basic_conv(in_channels, 384, 1)),
                        ("", _split_1x3_3x1(384, "branch3x3_2a", "branch3x3_2b", "branch3x3_cat")))),
        ("", Sequential(("branch3x3dbl_1", basic_conv(in_channels, 448, 1)),
                        ("branch3x3dbl_2", basic_conv(448, 384, 3, padding=1)),
                        ("", _split_1x3_3x1(384, "branch3x3dbl_3a", "branch3x3dbl_3b", "branch3x3dbl_cat")))),
        ("", _pool_branch(in_channels, 192)),
    ], combine="cat")


def _inception_v3_aux_head() -> Sequential:
    """torchvision ``InceptionAux(768, 1000)``: avg-pool 5x5/3, 1x1 conv to 128, 5x5 conv to 768,
    adaptive avg-pool 1x1, fc 768 -> 1000."""
    return Sequential(
        ("avg_pool", functional(AvgPool2d(5, 3))),
        ("conv0", basic_conv(768, 128, 1)),
        ("conv1", basic_conv(128, 768, 5)),
        ("adaptive_avg_pool", functional(AdaptiveAvgPool2d((1, 1)))),
        ("flatten", Flatten()),
        ("fc", Linear(768, 1000)),
    )


def inception_v3_aux() -> Model:
    """Inception v3's ``AuxLogits`` head on its own, on Mixed_6e's 768x17x17 output: 3,326,696 parameters."""
    return Model("inception_v3-aux", Sequential(("AuxLogits", _inception_v3_aux_head())), (768, 17, 17),
                 inception_v3_aux.__doc__)


def inception_v3(aux_logits: bool = False) -> Model:
    """Inception v3 (Szegedy et al. 2015) as torchvision's ``inception_v3``, on 299x299 input.

    Published (torchvision ``Inception_V3_Weights.IMAGENET1K_V1`` meta, inception.py):
    ``num_params`` 27,161,264, which INCLUDES the ``AuxLogits`` head (the builder keeps it:
    ``aux_logits`` defaults to True), and ``_ops`` 5.713 GMACs, which EXCLUDES it (measured
    in eval mode, where the aux head does not run). This default model is the eval-mode main
    path: 23,834,568 parameters and 5.713 GMACs; the aux head (``inception_v3_aux()``) has
    3,326,696, and the two add up to the published 27,161,264. ``aux_logits=True`` builds
    the training-mode network (logits and aux logits concatenated): 27,161,264 parameters."""
    stem = [
        ("Conv2d_1a_3x3", basic_conv(3, 32, 3, stride=2)),
        ("Conv2d_2a_3x3", basic_conv(32, 32, 3)),
        ("Conv2d_2b_3x3", basic_conv(32, 64, 3, padding=1)),
        ("maxpool1", MaxPool2d(3, 2)),
        ("Conv2d_3b_1x1", basic_conv(64, 80, 1)),
        ("Conv2d_4a_3x3", basic_conv(80, 192, 3)),
        ("maxpool2", MaxPool2d(3, 2)),
        ("Mixed_5b", inception_a(192, 32)),
        ("Mixed_5c", inception_a(256, 64)),
        ("Mixed_5d", inception_a(288, 64)),
        ("Mixed_6a", inception_b(288)),
        ("Mixed_6b", inception_c(768, 128)),
        ("Mixed_6c", inception_c(768, 160)),
        ("Mixed_6d", inception_c(768, 160)),
        ("Mixed_6e", inception_c(768, 192)),
    ]
    tail = [
        ("Mixed_7a", inception_d(768)),
        ("Mixed_7b", inception_e(1280)),
        ("Mixed_7c", inception_e(2048)),
        ("avgpool", AdaptiveAvgPool2d((1, 1))),
        ("dropout", Dropout(0.5)),
        ("flatten", Flatten()),
        ("fc", Linear(2048, 1000)),
    ]
    if aux_logits:
        net = Sequential(*stem, ("", _aux_out(Sequential(*tail), "AuxLogits", _inception_v3_aux_head(), "aux_cat")))
        name = "inception_v3-aux"
    else:
        net = Sequential(*stem, *tail)
        name = "inception_v3"
    from ..analyze import analyze

    aux_params = analyze(inception_v3_aux()).totals["params"]
    published = (INCEPTION_V3_PARAMS, "torchvision Inception_V3_Weights.IMAGENET1K_V1 num_params (includes AuxLogits)")
    figures = {
        # "params" is what this model's total must be; the published figure is kept alongside.
        "params": published if aux_logits else
        (INCEPTION_V3_PARAMS - aux_params, "published num_params 27,161,264 minus the AuxLogits head"),
        "params_published": published,
        "aux_params": (aux_params, "AuxLogits head alone, computed: analyze(inception_v3_aux()) on 768x17x17"),
        "gmacs": (5.713, "torchvision Inception_V3_Weights.IMAGENET1K_V1 _ops (eval mode: AuxLogits not run)"),
    }
    if aux_logits:
        del figures["gmacs"]  # training mode runs the aux head too: no published figure
    return Model(name, net, (3, 299, 299), inception_v3.__doc__, figures)


def googlenet_with_aux() -> Model:
    """GoogLeNet as ``torchvision.models.googlenet(weights=None)`` builds it for training: with both
    auxiliary classifiers (13,004,888 parameters); their logits follow the main logits."""
    return googlenet(aux_logits=True)


def inception_v3_with_aux() -> Model:
    """Inception v3 with its auxiliary classifier, as torchvision's published num_params counts it
    (27,161,264 parameters)."""
    return inception_v3(aux_logits=True)
