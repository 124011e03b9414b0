"""The Python API mirrors torch.nn: build a network, get its report, read the numbers.

    python examples/api.py
"""
import convcalc as cc

# AlexNet's first stage, as in PyTorch (in_channels may be None: inferred from the input).
net = cc.Sequential(
    cc.Conv2d(3, 96, 11, stride=4), cc.ReLU(), cc.MaxPool2d(3, 2),
    cc.Conv2d(None, 256, 5, padding=2), cc.ReLU(), cc.MaxPool2d(3, 2),
)
report = cc.summary(net, (3, 227, 227))
print(report)                                   # the layer table (a Jupyter cell shows it as HTML)

first = report[0]                               # rows by position ...
assert first.output == (96, 55, 55)
assert first.params == 11 * 11 * 3 * 96 + 96   # 34,944
assert report["3"].params == 5 * 5 * 96 * 256 + 256  # ... or by name
assert report.totals["params"] == 34_944 + 614_656
print("conv1 MACs:", report[0].macs, "=", 96 * 55 * 55 * 3 * 11 * 11)

# Named children and blocks, like torch.nn.Sequential(OrderedDict(...)); a residual block.
block = cc.Residual(cc.Sequential(("conv1", cc.Conv2d(None, 16, 3, padding=1)), ("relu", cc.ReLU()),
                                  ("conv2", cc.Conv2d(16, 16, 3, padding=1))),
                    post=[("relu", cc.ReLU())])
net2 = cc.Sequential(("stem", cc.Conv2d(3, 16, 3, padding=1)), ("block", block), ("pool", cc.AdaptiveAvgPool2d(1)),
                     ("flatten", cc.Flatten()), ("fc", cc.Linear(16, 10)))
r2 = cc.summary(net2, (3, 32, 32), batch=8, dtype="fp16")
print(r2.to_dict()["totals"])                   # exact integers, the JSON report
print([row.name for row in r2.rows])

# Zoo models and spec files give the same objects.
zoo_model = cc.zoo.get("lenet5")
spec_model = cc.load_spec("1x32x32 | conv 6 k5 | tanh | avgpool 2 | conv 16 k5 | tanh | avgpool 2 | "
                          "conv 120 k5 | tanh | flatten | fc 84 | tanh | fc 10")
a, b = cc.summary(zoo_model), cc.summary(spec_model)
assert a.totals == b.totals and [r.output for r in a.rows] == [r.output for r in b.rows]
print("lenet5 from the zoo and from a one-liner:", a.totals["params"], "parameters")
