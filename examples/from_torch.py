"""From PyTorch: trace a torch.nn.Module with torch.fx into convcalc (needs PyTorch).

    python examples/from_torch.py
"""
import os
import sys

try:
    import torch  # noqa: F401
except ImportError:
    print("PyTorch is not installed: pip install 'convcalc[torch]'")
    sys.exit(0)

import convcalc as cc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_net import SmallResNet  # noqa: E402

net = SmallResNet()
model = cc.from_torch(net, (3, 32, 32))
report = cc.summary(model)
print(report)

# The counts agree with the tensors torch created; rows carry the modules' qualified names.
assert report.totals["params"] == sum(p.numel() for p in net.parameters())
assert report["layer2.0.downsample.0"].output == (32, 16, 16)
assert report["layer1.0.add"].kind == "add"     # the shortcut add, named after its module
print("ok:", report.totals["params"], "parameters,", report.totals["macs"], "MACs")
