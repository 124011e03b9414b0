"""ResNet (He et al. 2015), ResNeXt and Wide ResNet as torchvision builds them.

Follows ``torchvision/models/resnet.py``: the stem ``conv1`` (7x7/2 pad 3, no bias), ``bn1``,
``relu``, ``maxpool`` (3x3/2 pad 1); ``layer1`` .. ``layer4`` of residual blocks; ``avgpool``
(adaptive to 1x1), a flatten (``torch.flatten`` in torchvision's ``forward``, a row here) and
``fc``. Every convolution is bias-free and followed by a BatchNorm2d.

* ``BasicBlock`` (ResNet-18/34): conv3x3(stride) - BN - ReLU - conv3x3 - BN, add, ReLU.
* ``Bottleneck`` (ResNet-50 and deeper, "ResNet V1.5"): conv1x1 - BN - ReLU - conv3x3(stride,
  groups) - BN - ReLU - conv1x1 (x4 expansion) - BN, add, ReLU. The stride sits on the 3x3 conv
  (the original paper and Caffe put it on the first 1x1). ``width = int(planes * base_width / 64) * groups``.
* The shortcut is the identity, or ``downsample = Sequential(conv1x1(stride), BN)`` when the
  stride or the channel count changes (the first block of each stage; for ResNet-18/34 not in layer1).

Rows line up with torchvision's ``named_modules()``: ``layer1.0.conv1``, ``layer1.0.bn1``,
``layer1.0.downsample.0``. torchvision's block has one ``relu`` module called twice (three times
in a bottleneck); here every call is a row named ``layerN.i.relu``. The residual sum is the row
``layerN.i.add``.
"""
from __future__ import annotations

from ..graph import Residual, Sequential
from ..layers import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from . import Model

_SRC = "torchvision/models/resnet.py"


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> Conv2d:
    return Conv2d(cin, cout, 3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation)


def conv1x1(cin: int, cout: int, stride: int = 1) -> Conv2d:
    return Conv2d(cin, cout, 1, stride=stride, bias=False)


def _downsample(cin: int, cout: int, stride: int):
    if stride == 1 and cin == cout:
        return None
    return Sequential(conv1x1(cin, cout, stride), BatchNorm2d(cout))


def basic_block(cin: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64):
    body = Sequential(
        ("conv1", conv3x3(cin, planes, stride)), ("bn1", BatchNorm2d(planes)), ("relu", ReLU(True)),
        ("conv2", conv3x3(planes, planes)), ("bn2", BatchNorm2d(planes)),
    )
    return Residual(body, _downsample(cin, planes, stride), post=[("relu", ReLU(True))]), planes


def bottleneck(cin: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64):
    width = int(planes * (base_width / 64.0)) * groups
    cout = planes * 4
    body = Sequential(
        ("conv1", conv1x1(cin, width)), ("bn1", BatchNorm2d(width)), ("relu", ReLU(True)),
        ("conv2", conv3x3(width, width, stride, groups)), ("bn2", BatchNorm2d(width)), ("relu", ReLU(True)),
        ("conv3", conv1x1(width, cout)), ("bn3", BatchNorm2d(cout)),
    )
    return Residual(body, _downsample(cin, cout, stride), post=[("relu", ReLU(True))]), cout


def _stage(block, cin: int, planes: int, blocks: int, stride: int, groups: int, base_width: int, label: str):
    """torchvision's ``_make_layer``: the first block strides and projects, the rest keep the shape."""
    children = []
    for i in range(blocks):
        blk, cin = block(cin, planes, stride if i == 0 else 1, groups, base_width)
        children.append((str(i), blk))
    return Sequential(*children, label=label), cin


def _resnet(name: str, block, layers: list, doc: str, figures: dict, groups: int = 1, width_per_group: int = 64,
            num_classes: int = 1000) -> Model:
    stem = [("conv1", Conv2d(3, 64, 7, stride=2, padding=3, bias=False)), ("bn1", BatchNorm2d(64)),
            ("relu", ReLU(True)), ("maxpool", MaxPool2d(3, 2, padding=1))]
    stages, c = [], 64
    for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512))):
        stage, c = _stage(block, c, planes, n, 1 if i == 0 else 2, groups, width_per_group, f"stage{i + 1}")
        stages.append((f"layer{i + 1}", stage))
    net = Sequential(*stem, *stages, ("avgpool", AdaptiveAvgPool2d((1, 1))), ("flatten", Flatten()),
                     ("fc", Linear(c, num_classes)))
    return Model(name, net, (3, 224, 224), doc, figures)


def _figures(weights: str, params: int, ops: float) -> dict:
    return {"params": (params, f"{_SRC} {weights} num_params"),
            "gmacs": (ops, f"{_SRC} {weights} _ops (labelled GFLOPS; conv+linear MACs at 224)")}


def resnet18() -> Model:
    """ResNet-18: BasicBlocks [2, 2, 2, 2]. torchvision ``ResNet18_Weights.IMAGENET1K_V1``:
    11,689,512 parameters, 1.814 GMACs at 224x224 (num_params / _ops in torchvision/models/resnet.py)."""
    return _resnet("resnet18", basic_block, [2, 2, 2, 2], resnet18.__doc__,
                   _figures("ResNet18_Weights.IMAGENET1K_V1", 11689512, 1.814))


def resnet34() -> Model:
    """ResNet-34: BasicBlocks [3, 4, 6, 3]. torchvision ``ResNet34_Weights.IMAGENET1K_V1``:
    21,797,672 parameters, 3.664 GMACs at 224x224."""
    return _resnet("resnet34", basic_block, [3, 4, 6, 3], resnet34.__doc__,
                   _figures("ResNet34_Weights.IMAGENET1K_V1", 21797672, 3.664))


def resnet50() -> Model:
    """ResNet-50 (V1.5: stride on the 3x3 conv): Bottlenecks [3, 4, 6, 3]. torchvision has two
    weight sets with this same architecture, ``ResNet50_Weights.IMAGENET1K_V1`` and
    ``IMAGENET1K_V2`` (the default; trained with a newer recipe, evaluated at resize 232 / crop 224):
    both publish 25,557,032 parameters and 4.089 GMACs at 224x224."""
    figures = _figures("ResNet50_Weights.IMAGENET1K_V1 and IMAGENET1K_V2 (same architecture)", 25557032, 4.089)
    return _resnet("resnet50", bottleneck, [3, 4, 6, 3], resnet50.__doc__, figures)


def resnet101() -> Model:
    """ResNet-101: Bottlenecks [3, 4, 23, 3]. torchvision ``ResNet101_Weights.IMAGENET1K_V1`` /
    ``IMAGENET1K_V2``: 44,549,160 parameters, 7.801 GMACs at 224x224."""
    return _resnet("resnet101", bottleneck, [3, 4, 23, 3], resnet101.__doc__,
                   _figures("ResNet101_Weights.IMAGENET1K_V1 / IMAGENET1K_V2", 44549160, 7.801))


def resnet152() -> Model:
    """ResNet-152: Bottlenecks [3, 8, 36, 3]. torchvision ``ResNet152_Weights.IMAGENET1K_V1`` /
    ``IMAGENET1K_V2``: 60,192,808 parameters, 11.514 GMACs at 224x224."""
    return _resnet("resnet152", bottleneck, [3, 8, 36, 3], resnet152.__doc__,
                   _figures("ResNet152_Weights.IMAGENET1K_V1 / IMAGENET1K_V2", 60192808, 11.514))


def resnext50_32x4d() -> Model:
    """ResNeXt-50 32x4d (Xie et al. 2017): ResNet-50 with the 3x3 convs grouped, groups=32 and
    width_per_group=4 (width = int(planes * 4 / 64) * 32, i.e. 128..1024). torchvision
    ``ResNeXt50_32X4D_Weights.IMAGENET1K_V1`` / ``IMAGENET1K_V2``: 25,028,904 parameters, 4.23 GMACs."""
    return _resnet("resnext50_32x4d", bottleneck, [3, 4, 6, 3], resnext50_32x4d.__doc__,
                   _figures("ResNeXt50_32X4D_Weights.IMAGENET1K_V1 / IMAGENET1K_V2", 25028904, 4.23),
                   groups=32, width_per_group=4)


def wide_resnet50_2() -> Model:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50 with width_per_group = 128, so the
    bottleneck's inner 1x1/3x3 convs are twice as wide (the 4x expansion output is unchanged).
    torchvision ``Wide_ResNet50_2_Weights.IMAGENET1K_V1`` / ``IMAGENET1K_V2``: 68,883,240 parameters,
    11.398 GMACs at 224x224."""
    return _resnet("wide_resnet50_2", bottleneck, [3, 4, 6, 3], wide_resnet50_2.__doc__,
                   _figures("Wide_ResNet50_2_Weights.IMAGENET1K_V1 / IMAGENET1K_V2", 68883240, 11.398),
                   width_per_group=64 * 2)
