"""A small PyTorch model for `convcalc from-torch` (needs PyTorch):

    convcalc from-torch examples/torch_net.py:SmallResNet --input 3x32x32

Written the way torchvision writes models: one `relu` module called twice, functional ops
(torch.flatten, torch.cat) and a shortcut add.
"""
import sys

try:
    import torch
except ImportError:
    print("PyTorch is not installed: pip install 'convcalc[torch]'")
    sys.exit(0)

from torch import nn  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class SmallResNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.branch_a = nn.Conv2d(32, 16, 1)
        self.branch_b = nn.Conv2d(32, 16, 3, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        x = torch.cat([self.branch_a(x), self.branch_b(x)], 1)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


if __name__ == "__main__":
    net = SmallResNet()
    print(net(torch.zeros(2, 3, 32, 32)).shape, sum(p.numel() for p in net.parameters()), "parameters")
