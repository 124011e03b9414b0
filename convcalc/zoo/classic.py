"""The lecture's networks: AlexNet (three variants), LeNet-5 and the tiny 32x32 example."""
from __future__ import annotations

from ..graph import Sequential
from ..layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d,
                      ReLU, Tanh)
from . import Model


def _alexnet(groups: int, name: str, doc: str) -> Model:
    g = groups
    features = Sequential(
        Conv2d(3, 96, 11, stride=4), ReLU(), LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), MaxPool2d(3, 2),
        Conv2d(96, 256, 5, padding=2, groups=g), ReLU(), LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        MaxPool2d(3, 2),
        Conv2d(256, 384, 3, padding=1), ReLU(),
        Conv2d(384, 384, 3, padding=1, groups=g), ReLU(),
        Conv2d(384, 256, 3, padding=1, groups=g), ReLU(), MaxPool2d(3, 2),
    )
    classifier = Sequential(
        Dropout(0.5), Linear(256 * 6 * 6, 4096), ReLU(),
        Dropout(0.5), Linear(4096, 4096), ReLU(),
        Linear(4096, 1000),
    )
    net = Sequential(("features", features), ("flatten", Flatten()), ("classifier", classifier))
    return Model(name, net, (3, 227, 227), doc)


def alexnet() -> Model:
    """AlexNet as taught (Krizhevsky et al. 2012, single-tower): 227x227x3 -> 55x55x96 -> 27x27x256 ->
    13x13x384 -> 13x13x384 -> 13x13x256 -> 4096 -> 4096 -> 1000, with LRN after conv1/conv2 and
    3x3/2 overlapping max-pools. No groups: 62,378,344 parameters ("62.4 million" in the lecture)."""
    return _alexnet(1, "alexnet", alexnet.__doc__)


def alexnet_paper() -> Model:
    """AlexNet as trained on two GPUs: conv2, conv4 and conv5 see only their own GPU's half of the
    channels (groups=2), which removes 1,413,120 weights: 60,965,224 parameters."""
    return _alexnet(2, "alexnet-paper", alexnet_paper.__doc__)


def alexnet_torchvision() -> Model:
    """torchvision's AlexNet (Krizhevsky 2014, "One weird trick"): 64-192-384-256-256 filters, no LRN,
    a 224 input, and an adaptive average pool to 6x6 before the classifier."""
    features = Sequential(
        Conv2d(3, 64, 11, stride=4, padding=2), ReLU(), MaxPool2d(3, 2),
        Conv2d(64, 192, 5, padding=2), ReLU(), MaxPool2d(3, 2),
        Conv2d(192, 384, 3, padding=1), ReLU(),
        Conv2d(384, 256, 3, padding=1), ReLU(),
        Conv2d(256, 256, 3, padding=1), ReLU(), MaxPool2d(3, 2),
    )
    classifier = Sequential(
        Dropout(0.5), Linear(256 * 6 * 6, 4096), ReLU(),
        Dropout(0.5), Linear(4096, 4096), ReLU(),
        Linear(4096, 1000),
    )
    net = Sequential(("features", features), ("avgpool", AdaptiveAvgPool2d((6, 6))), ("flatten", Flatten()),
                     ("classifier", classifier))
    return Model("alexnet-torchvision", net, (3, 224, 224), alexnet_torchvision.__doc__)


def lenet5() -> Model:
    """LeNet-5 (LeCun et al. 1998) on a 32x32 grey image, as usually re-implemented: C1 6@5x5 -> S2
    2x2 average pool -> C3 16@5x5 -> S4 -> C5 120@5x5 -> F6 84 -> 10 outputs, tanh activations.

    Differences from the 1998 paper: C3 here is fully connected to S2's 6 maps (2,416 parameters);
    the paper's connection table links each C3 map to only 3, 4 or 6 of them (1,516 parameters).
    The paper's S2/S4 have a trainable coefficient and bias per map (12 and 32 parameters) where
    these pools have none, and its output layer is 10 Euclidean RBF units (840 fixed-ish
    parameters, no bias) rather than a linear layer (850)."""
    net = Sequential(
        ("c1", Conv2d(1, 6, 5)), ("act1", Tanh()), ("s2", AvgPool2d(2)),
        ("c3", Conv2d(6, 16, 5)), ("act3", Tanh()), ("s4", AvgPool2d(2)),
        ("c5", Conv2d(16, 120, 5)), ("act5", Tanh()), ("flatten", Flatten()),
        ("f6", Linear(120, 84)), ("act6", Tanh()), ("output", Linear(84, 10)),
    )
    return Model("lenet5", net, (1, 32, 32), lenet5.__doc__)


def _tiny_features() -> Sequential:
    blocks = []
    for i in range(3):  # 32 -> 16 -> 8 -> 4
        blocks.append((f"block{i + 1}", Sequential(
            ("conv1", Conv2d(None, 10, 3, padding=1)), ("relu1", ReLU()),
            ("conv2", Conv2d(10, 10, 3, padding=1)), ("relu2", ReLU()),
            ("pool", MaxPool2d(2)))))
    return Sequential(*blocks)


def tinyconv() -> Model:
    """The lecture's example network for 32x32x3 images: three (conv 3x3 pad 1, 10 filters, ReLU) x2 +
    2x2 max-pool blocks down to 4x4x10, then one fully-connected layer to 10 classes (1,610 parameters)."""
    net = Sequential(("features", _tiny_features()), ("flatten", Flatten()), ("fc", Linear(4 * 4 * 10, 10)))
    return Model("tinyconv", net, (3, 32, 32), tinyconv.__doc__)


def tinyconv_gap() -> Model:
    """The same network ending in a global average pool (4x4x10 -> 10) and an FC 10 -> 10 (110 parameters)."""
    net = Sequential(("features", _tiny_features()), ("gap", AdaptiveAvgPool2d(1)), ("flatten", Flatten()),
                     ("fc", Linear(10, 10)))
    return Model("tinyconv-gap", net, (3, 32, 32), tinyconv_gap.__doc__)
