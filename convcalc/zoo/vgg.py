"""VGG (Simonyan & Zisserman 2014) as torchvision builds it, and ZFNet (Zeiler & Fergus 2014).

VGG follows ``torchvision/models/vgg.py``: ``features`` is a flat ``nn.Sequential`` of
3x3 pad-1 convolutions (with bias), optional ``BatchNorm2d``, ReLU and 2x2/2 max-pools,
numbered as torchvision numbers them (``features.0`` ... ``features.30`` for VGG-16);
then ``avgpool = AdaptiveAvgPool2d((7, 7))``, a flatten (``torch.flatten`` in
torchvision's ``forward``, a row here) and ``classifier`` =
Linear(25088, 4096)-ReLU-Dropout-Linear(4096, 4096)-ReLU-Dropout-Linear(4096, 1000).
"""
from __future__ import annotations

from ..graph import Sequential
from ..layers import (AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm,
                      MaxPool2d, ReLU)
from . import Model

# torchvision's cfgs (A = VGG-11, B = VGG-13, D = VGG-16, E = VGG-19); "M" is MaxPool2d(2, 2).
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

_SRC = "torchvision/models/vgg.py"

# (num_params, _ops in GMACs) of torchvision's IMAGENET1K_V1 weights, see /work/research/zoo_figures.md §1.
PUBLISHED = {
    "vgg11": ("VGG11_Weights.IMAGENET1K_V1", 132863336, 7.609),
    "vgg13": ("VGG13_Weights.IMAGENET1K_V1", 133047848, 11.308),
    "vgg16": ("VGG16_Weights.IMAGENET1K_V1", 138357544, 15.47),
    "vgg19": ("VGG19_Weights.IMAGENET1K_V1", 143667240, 19.632),
    "vgg11_bn": ("VGG11_BN_Weights.IMAGENET1K_V1", 132868840, 7.609),
    "vgg13_bn": ("VGG13_BN_Weights.IMAGENET1K_V1", 133053736, 11.308),
    "vgg16_bn": ("VGG16_BN_Weights.IMAGENET1K_V1", 138365992, 15.47),
    "vgg19_bn": ("VGG19_BN_Weights.IMAGENET1K_V1", 143678248, 19.632),
}


def make_features(cfg: list, batch_norm: bool) -> Sequential:
    """torchvision's ``make_layers``: one flat Sequential, children numbered 0, 1, 2, ..."""
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(2, 2))
        else:
            layers.append(Conv2d(c, v, 3, padding=1))
            if batch_norm:
                layers.append(BatchNorm2d(v))
            layers.append(ReLU(inplace=True))
            c = v
    return Sequential(*layers)


def _classifier(num_classes: int = 1000, dropout: float = 0.5) -> Sequential:
    return Sequential(
        Linear(512 * 7 * 7, 4096), ReLU(True), Dropout(dropout),
        Linear(4096, 4096), ReLU(True), Dropout(dropout),
        Linear(4096, num_classes),
    )


def _vgg(name: str, cfg: str, batch_norm: bool, doc: str) -> Model:
    net = Sequential(("features", make_features(CFGS[cfg], batch_norm)), ("avgpool", AdaptiveAvgPool2d((7, 7))),
                     ("flatten", Flatten()), ("classifier", _classifier()))
    weights, params, ops = PUBLISHED[name]
    figures = {"params": (params, f"{_SRC} {weights} num_params"),
               "gmacs": (ops, f"{_SRC} {weights} _ops (labelled GFLOPS; conv+linear MACs at 224)")}
    return Model(name, net, (3, 224, 224), doc, figures)


def vgg11() -> Model:
    """VGG-11 (configuration A), torchvision: 132,863,336 parameters and 7.609 GMACs at 224x224
    (``VGG11_Weights.IMAGENET1K_V1`` num_params / _ops in torchvision/models/vgg.py)."""
    return _vgg("vgg11", "A", False, vgg11.__doc__)


def vgg13() -> Model:
    """VGG-13 (configuration B), torchvision: 133,047,848 parameters and 11.308 GMACs at 224x224
    (``VGG13_Weights.IMAGENET1K_V1``)."""
    return _vgg("vgg13", "B", False, vgg13.__doc__)


def vgg16() -> Model:
    """VGG-16 (configuration D), torchvision: 138,357,544 parameters and 15.47 GMACs at 224x224
    (``VGG16_Weights.IMAGENET1K_V1``; ``IMAGENET1K_FEATURES`` has the same figures). The paper's
    "138M". pool5 (``features.30``) sees a 212x212 field with jump 32 (google-research/receptive_field)."""
    return _vgg("vgg16", "D", False, vgg16.__doc__)


def vgg19() -> Model:
    """VGG-19 (configuration E), torchvision: 143,667,240 parameters and 19.632 GMACs at 224x224
    (``VGG19_Weights.IMAGENET1K_V1``)."""
    return _vgg("vgg19", "E", False, vgg19.__doc__)


def vgg11_bn() -> Model:
    """VGG-11 with BatchNorm2d after every conv, torchvision: 132,868,840 parameters (BN gamma/beta
    counted, running statistics are buffers) and 7.609 GMACs (``VGG11_BN_Weights.IMAGENET1K_V1``)."""
    return _vgg("vgg11_bn", "A", True, vgg11_bn.__doc__)


def vgg13_bn() -> Model:
    """VGG-13 with BatchNorm2d, torchvision: 133,053,736 parameters and 11.308 GMACs
    (``VGG13_BN_Weights.IMAGENET1K_V1``)."""
    return _vgg("vgg13_bn", "B", True, vgg13_bn.__doc__)


def vgg16_bn() -> Model:
    """VGG-16 with BatchNorm2d, torchvision: 138,365,992 parameters and 15.47 GMACs
    (``VGG16_BN_Weights.IMAGENET1K_V1``)."""
    return _vgg("vgg16_bn", "D", True, vgg16_bn.__doc__)


def vgg19_bn() -> Model:
    """VGG-19 with BatchNorm2d, torchvision: 143,678,248 parameters and 19.632 GMACs
    (``VGG19_BN_Weights.IMAGENET1K_V1``)."""
    return _vgg("vgg19_bn", "E", True, vgg19_bn.__doc__)


def zfnet() -> Model:
    """ZFNet (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks", Fig. 3):
    224x224x3 -> conv1 7x7/2, 96 -> 110x110 -> max-pool 3x3/2 -> 55x55 -> conv2 5x5/2, 256 -> 26x26
    -> max-pool 3x3/2 -> 13x13 -> conv3 3x3, 384 -> conv4 3x3, 384 -> conv5 3x3, 256 (13x13, pad 1)
    -> max-pool 3x3/2 -> 6x6x256 -> FC 4096 -> FC 4096 -> 1000. No grouping (the paper trains on one
    GPU, so conv3..5 see all channels): 62,357,608 parameters, the total of the layer table in
    *Computational Analysis and Deep Learning for Medical Care*, Table 1.4 (secondary source; the
    paper itself prints no count).

    Padding choice: with PyTorch's floor arithmetic the paper's sizes 110-55-26-13-13-13-6 need
    conv1 padding 1 ((224 + 2 - 7) // 2 + 1 = 110; pad 0 would give 109) and ceil-mode pooling
    (3x3/2 on 110 gives 54 with floor, 55 with ceil; on 26, 12 vs 13; on 13 both give 6), as in
    Caffe, whose pooling rounds up. The book's "pad 0" for conv1 contradicts its own 110. conv2 has
    no padding ((55 - 5) // 2 + 1 = 26). Padding the pools by 1 instead of ceil mode gives the same
    sizes but different windows; we keep ceil mode. With pad 1 and stride 2, conv1's last window
    ends on the last image pixel, so the right/bottom padding column is never used (convcalc warns
    about it): in effect the padding is 1 on the left/top and 0 on the right/bottom.

    After conv1 and conv2 the paper applies ReLU, max-pooling and then "contrast normalization
    across feature maps" (AlexNet-style local response normalisation); its constants are not given,
    so AlexNet's (size 5, alpha 1e-4, beta 0.75, k 2) are used. It has no parameters or MACs.
    The paper trains with dropout 0.5 in the FC layers."""
    features = Sequential(
        Conv2d(3, 96, 7, stride=2, padding=1), ReLU(True), MaxPool2d(3, 2, ceil_mode=True),
        LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        Conv2d(96, 256, 5, stride=2), ReLU(True), MaxPool2d(3, 2, ceil_mode=True),
        LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        Conv2d(256, 384, 3, padding=1), ReLU(True),
        Conv2d(384, 384, 3, padding=1), ReLU(True),
        Conv2d(384, 256, 3, padding=1), ReLU(True), MaxPool2d(3, 2, ceil_mode=True),
    )
    classifier = Sequential(
        Dropout(0.5), Linear(256 * 6 * 6, 4096), ReLU(True),
        Dropout(0.5), Linear(4096, 4096), ReLU(True),
        Linear(4096, 1000),
    )
    net = Sequential(("features", features), ("flatten", Flatten()), ("classifier", classifier))
    figures = {"params": (62357608, "Computational Analysis and Deep Learning for Medical Care, Table 1.4 "
                                    "(ZFNet layer table, total of the '# connections' column)"),
               "sizes": ({"conv1": 110, "pool1": 55, "conv2": 26, "pool2": 13, "conv3": 13, "conv4": 13,
                          "conv5": 13, "pool3": 6},
                         "Zeiler & Fergus 2014 Fig. 3 (110-55-26-13-13-13-6), as tabulated in the book above")}
    return Model("zfnet", net, (3, 224, 224), zfnet.__doc__, figures)
