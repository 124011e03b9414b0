"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016) as torchvision builds them."""
from __future__ import annotations

from ..graph import Parallel, Sequential
from ..layers import AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, MaxPool2d, ReLU
from . import Model


def fire(in_channels, squeeze, expand1x1, expand3x3) -> Sequential:
    """torchvision ``Fire``: squeeze 1x1 + ReLU, then expand 1x1 + ReLU and expand 3x3 (pad 1) + ReLU
    concatenated. All convs have a bias; there is no batch norm."""
    return Sequential(
        ("squeeze", Conv2d(in_channels, squeeze, 1)), ("squeeze_activation", ReLU()),
        ("", Parallel([
            ("", Sequential(("expand1x1", Conv2d(squeeze, expand1x1, 1)), ("expand1x1_activation", ReLU()))),
            ("", Sequential(("expand3x3", Conv2d(squeeze, expand3x3, 3, padding=1)),
                            ("expand3x3_activation", ReLU()))),
        ], combine="cat")),
    )


def _pool():
    return MaxPool2d(3, 2, ceil_mode=True)


def _squeezenet(name, features, doc, figures) -> Model:
    # classifier.1 is torchvision's final_conv
    classifier = Sequential(Dropout(0.5), Conv2d(512, 1000, 1), ReLU(), AdaptiveAvgPool2d((1, 1)))
    net = Sequential(("features", Sequential(*features)), ("classifier", classifier), ("flatten", Flatten()))
    return Model(name, net, (3, 224, 224), doc, figures)


def squeezenet1_0() -> Model:
    """SqueezeNet 1.0 as torchvision's ``squeezenet1_0``: conv 7x7/2 96, then eight Fire modules with
    ceil-mode 3x3/2 max-pools after conv1, fire4 and fire8, and a 1x1 conv classifier to 1000 classes
    averaged globally (no fully-connected layer).

    Published (torchvision ``SqueezeNet1_0_Weights.IMAGENET1K_V1`` meta, squeezenet.py):
    ``num_params`` 1,248,424 and ``_ops`` 0.819 GMACs at 224x224."""
    features = [
        Conv2d(3, 96, 7, stride=2), ReLU(), _pool(),
        fire(96, 16, 64, 64), fire(128, 16, 64, 64), fire(128, 32, 128, 128), _pool(),
        fire(256, 32, 128, 128), fire(256, 48, 192, 192), fire(384, 48, 192, 192), fire(384, 64, 256, 256), _pool(),
        fire(512, 64, 256, 256),
    ]
    figures = {"params": (1248424, "torchvision SqueezeNet1_0_Weights.IMAGENET1K_V1 num_params"),
               "gmacs": (0.819, "torchvision SqueezeNet1_0_Weights.IMAGENET1K_V1 _ops")}
    return _squeezenet("squeezenet1_0", features, squeezenet1_0.__doc__, figures)


def squeezenet1_1() -> Model:
    """SqueezeNet 1.1 as torchvision's ``squeezenet1_1``: conv 3x3/2 64 and the pools moved earlier
    (after conv1, fire3 and fire5), same classifier; about 2.4x fewer MACs than 1.0.

    Published (torchvision ``SqueezeNet1_1_Weights.IMAGENET1K_V1`` meta, squeezenet.py):
    ``num_params`` 1,235,496 and ``_ops`` 0.349 GMACs at 224x224."""
    features = [
        Conv2d(3, 64, 3, stride=2), ReLU(), _pool(),
        fire(64, 16, 64, 64), fire(128, 16, 64, 64), _pool(),
        fire(128, 32, 128, 128), fire(256, 32, 128, 128), _pool(),
        fire(256, 48, 192, 192), fire(384, 48, 192, 192), fire(384, 64, 256, 256), fire(512, 64, 256, 256),
    ]
    figures = {"params": (1235496, "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1 num_params"),
               "gmacs": (0.349, "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1 _ops")}
    return _squeezenet("squeezenet1_1", features, squeezenet1_1.__doc__, figures)
