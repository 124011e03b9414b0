"""DenseNet (Huang et al. 2017) as torchvision builds it."""
from __future__ import annotations

from ..graph import Parallel, Sequential
from ..layers import AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from . import Model, functional


def dense_layer(in_channels, growth_rate, bn_size) -> Parallel:
    """torchvision ``_DenseLayer``: BN-ReLU-conv1x1 (to bn_size*growth) - BN-ReLU-conv3x3 (to growth),
    its output concatenated after its input (a dense block's ``torch.cat(features, 1)``)."""
    mid = bn_size * growth_rate
    new_features = Sequential(
        ("norm1", BatchNorm2d(in_channels)), ("relu1", ReLU()),
        ("conv1", Conv2d(in_channels, mid, 1, bias=False)),
        ("norm2", BatchNorm2d(mid)), ("relu2", ReLU()),
        ("conv2", Conv2d(mid, growth_rate, 3, padding=1, bias=False)),
    )
    return Parallel([("", None), ("", new_features)], combine="cat")


def dense_block(num_layers, in_channels, growth_rate, bn_size) -> Sequential:
    return Sequential(*[(f"denselayer{i + 1}", dense_layer(in_channels + i * growth_rate, growth_rate, bn_size))
                        for i in range(num_layers)])


def transition(in_channels, out_channels) -> Sequential:
    """torchvision ``_Transition``: BN-ReLU-conv1x1 then 2x2 average pool."""
    return Sequential(("norm", BatchNorm2d(in_channels)), ("relu", ReLU()),
                      ("conv", Conv2d(in_channels, out_channels, 1, bias=False)), ("pool", AvgPool2d(2, 2)))


def _densenet(name, growth_rate, block_config, num_init_features, bn_size, doc, figures) -> Model:
    features = [
        ("conv0", Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False)),
        ("norm0", BatchNorm2d(num_init_features)), ("relu0", ReLU()),
        ("pool0", MaxPool2d(3, 2, padding=1)),
    ]
    c = num_init_features
    for i, n in enumerate(block_config):
        features.append((f"denseblock{i + 1}", dense_block(n, c, growth_rate, bn_size)))
        c += n * growth_rate
        if i != len(block_config) - 1:
            features.append((f"transition{i + 1}", transition(c, c // 2)))
            c //= 2
    features.append(("norm5", BatchNorm2d(c)))
    net = Sequential(
        ("features", Sequential(*features)),
        ("relu", functional(ReLU())),  # F.relu in DenseNet.forward
        ("avgpool", functional(AdaptiveAvgPool2d((1, 1)))),  # F.adaptive_avg_pool2d
        ("flatten", Flatten()),
        ("classifier", Linear(c, 1000)),
    )
    return Model(name, net, (3, 224, 224), doc, figures)


def densenet121() -> Model:
    """DenseNet-121 as torchvision's ``densenet121``: growth rate 32, blocks (6, 12, 24, 16),
    bottleneck width 4*32 = 128, 64 initial features, compression 0.5 at each transition;
    no dropout (``drop_rate=0``).

    Published (torchvision ``DenseNet121_Weights.IMAGENET1K_V1`` meta, densenet.py):
    ``num_params`` 7,978,856 and ``_ops`` 2.834 GMACs at 224x224. BN running statistics are
    buffers, not parameters."""
    figures = {"params": (7978856, "torchvision DenseNet121_Weights.IMAGENET1K_V1 num_params"),
               "gmacs": (2.834, "torchvision DenseNet121_Weights.IMAGENET1K_V1 _ops")}
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, 4, densenet121.__doc__, figures)
