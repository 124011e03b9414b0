"""torchvision-style PyTorch definitions written out for tests (torchvision itself cannot be
imported beside the CPU wheel here): resnet18, vgg11_bn and mobilenet_v2 as torchvision 0.2x
builds them, in-place activations included, so autograd saves what it saves there."""
import torch
from torch import nn


class Fn(nn.Module):
    """A module whose forward is ``f(self, x)``, with ``mods`` as its submodules: one idiom a test."""

    def __init__(self, f, **mods):
        super().__init__()
        self.f = f
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.f(self, x)


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module (torch has none): the twin of convcalc's ``Permute``."""

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


def backward_macs(model, x):
    """The MACs torch's FlopCounterMode counts in the backward of ``model`` (train mode) on ``x``,
    the loss a sum of the outputs (which gradient flows in changes no count)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    y = model(x)
    with FlopCounterMode(display=False) as fc:
        y.sum().backward()
    return fc.get_total_flops() // 2  # it counts 2 FLOPs per MAC


def scaled_convs(f):
    """conv 3->4 k3 p1, a per-channel parameter ``scale`` (a layer scale) and a 1x1 head 4->2,
    combined by ``f(self, x)``."""
    return Fn(f, conv=nn.Conv2d(3, 4, 3, padding=1), scale=nn.Parameter(torch.rand(4, 1, 1) + 0.5),
              head=nn.Conv2d(4, 2, 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


def resnet18(num_classes=1000):
    layers, cin = [], 64
    for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers.append(nn.Sequential(BasicBlock(cin, planes, stride), BasicBlock(planes, planes)))
        cin = planes
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, 2, 1), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(512, num_classes))


def vgg11_bn(num_classes=1000):
    layers, c = [], 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                         nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, num_classes))


def _cbr(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        layers = [_cbr(inp, hidden, 1)] if t != 1 else []
        layers += [_cbr(hidden, hidden, 3, stride, hidden), nn.Conv2d(hidden, oup, 1, bias=False),
                   nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.use_res = stride == 1 and inp == oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        feats, c = [_cbr(3, 32, 3, 2)], 32
        for t, cout, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                              (6, 160, 3, 2), (6, 320, 1, 1)):
            for i in range(n):
                feats.append(InvertedResidual(c, cout, s if i == 0 else 1, t))
                c = cout
        feats.append(_cbr(c, 1280, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def saved_bytes(model, x):
    """Bytes of the unique storages autograd saves in a training forward, parameters and
    buffers excluded (they are model state, not activations)."""
    model.train()
    state = {t.untyped_storage().data_ptr() for t in list(model.parameters()) + list(model.buffers())}
    seen = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in state:
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(seen.values())
