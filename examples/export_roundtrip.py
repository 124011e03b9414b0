"""To PyTorch and back: a spec becomes a standalone nn.Module, which traces back to the same report.

    python examples/export_roundtrip.py          (needs PyTorch)
    convcalc export examples/blocks.yaml --to pytorch > blocks_net.py
"""
import os
import sys

try:
    import torch
except ImportError:
    print("PyTorch is not installed: pip install 'convcalc[torch]'")
    sys.exit(0)

import convcalc as cc
from convcalc.io.torch_import import to_torch_source

here = os.path.dirname(os.path.abspath(__file__))
model = cc.load_spec(os.path.join(here, "blocks.yaml"))
source = to_torch_source(model)
print(source[:1200], "...\n")

namespace = {}
exec(compile(source, "blocks_net.py", "exec"), namespace)
net = namespace["Net"]().eval()
with torch.no_grad():
    out = net(torch.zeros(1, *model.input))

before = cc.summary(model)
after = cc.summary(cc.from_torch(net, model.input))
assert tuple(out.shape[1:]) == before.rows[-1].output
assert sum(p.numel() for p in net.parameters()) == before.totals["params"]
assert [(r.name, r.output, r.params, r.macs) for r in before.rows] == \
       [(r.name, r.output, r.params, r.macs) for r in after.rows]
print(f"round trip ok: {len(before.rows)} rows, {before.totals['params']:,} parameters, "
      f"{before.totals['macs']:,} MACs")
