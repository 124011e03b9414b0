"""The peer tools run for real on a zoo model's PyTorch twin (test helper, not part of the package).

``twin(name)`` gives ``(model, module)``: the zoo model at a small input where one is valid, and the
PyTorch network the convention stands for at that input: torchvision's builder (``tests/tv.py``)
for the torchvision models, convcalc's own export (``to_torch_source``) for the rest. Weights are
never initialised (``tv.no_init`` while a twin is built): the tools count shapes,
not values. The export writes every layer as a module, so a layer marked ``functional``
(as torchvision applies it, e.g. inception's ``F.relu``) is read as a module there.

``run(tool, module, input)`` is the total the tool prints, called as its README shows, or None when
the tool is not installed; ``totals(module, input)`` runs every installed tool. (Not on the meta
device: fvcore's jit trace needs real tensors, and torch's meta kernels decompose ``F.linear`` into
the ``torch.addmm`` that ptflops patches, counting linear layers twice.) Install them with ``pip install ".[peers]"``.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import types
import warnings

import tv

TOOLS = ("fvcore", "ptflops", "torchinfo", "thop")
_MODULES = {"fvcore": "fvcore", "ptflops": "ptflops", "torchinfo": "torchinfo", "thop": "thop"}

#: zoo name -> torchvision builder name (the rest are exported)
TORCHVISION = {n: n for n in (
    "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
    "googlenet", "inception_v3", "densenet121", "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x1_0",
    "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "regnet_x_400mf",
    "convnext_tiny", "vit_b_16", "swin_t", "maxvit_t")}
TORCHVISION["alexnet-torchvision"] = "alexnet"

#: smaller inputs where the network accepts them (speed); the rest run at their default input
SMALL = {name: (3, 32, 32) for name in (
    "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
    "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "wide_resnet50_2", "googlenet", "googlenet_aux", "densenet121", "squeezenet1_0", "squeezenet1_1",
    "shufflenet_v2_x1_0", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "efficientnet_b0", "regnet_x_400mf", "convnext_tiny", "swin_t")}
SMALL.update({"alexnet-torchvision": (3, 64, 64), "inception_v3": (3, 75, 75)})  # their smallest
# (alexnet's and zfnet's linear layers and inception's aux head need the default input)


def installed(tool: str) -> bool:
    return importlib.util.find_spec(_MODULES[tool]) is not None


def available() -> bool:
    return importlib.util.find_spec("torch") is not None and any(installed(t) for t in TOOLS)


def zoo_model(name):
    """The zoo model at the input its twin is run at (ViT and U-Net are rebuilt for a smaller image)."""
    from convcalc import zoo

    if name == "vit_b_16":
        from convcalc.zoo.vit import _vit

        return _vit("vit_b_16", 16, 12, 12, 768, 3072, 32, "", {})
    if name == "unet":
        from convcalc.zoo.unet import unet

        return unet(188)  # the smallest tile whose every pooled map is even
    return zoo.get(name, input=SMALL.get(name))


def twin(name):
    """(zoo model, torch module in eval mode)."""
    model = zoo_model(name)
    with tv.no_init():
        if name in TORCHVISION:
            kwargs = {"image_size": model.input[-1]} if name == "vit_b_16" else {}
            module = tv.load().models.get_model(TORCHVISION[name], **kwargs)
        else:
            from convcalc.io.export import to_torch_source

            ns = types.ModuleType(f"twin_{name.replace('-', '_')}")
            exec(compile(to_torch_source(model), ns.__name__, "exec"), ns.__dict__)
            module = ns.Net()
    return model, module.eval()


def run(tool: str, module, shape):
    """The tool's total for ``module`` on one sample of ``shape``, or None when it is not installed."""
    if not installed(tool):
        return None
    tv.load()  # ptflops imports torchvision.ops, which needs the shim first
    import torch

    x = torch.zeros(1, *shape)
    fast = torch.backends.mha.get_fastpath_enabled()
    # nn.MultiheadAttention's standard path, as called with gradients on (the user's usual call);
    # under no_grad torch would take a fused kernel that none of the tools looks inside
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _RUN[tool](module, x, tuple(shape))
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def totals(module, shape) -> dict:
    """{tool: total} for every installed tool."""
    out = {}
    for tool in TOOLS:
        total = run(tool, module, shape)
        if total is not None:
            out[tool] = total
    return out


def _fvcore(module, x, shape):
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    f = FlopCountAnalysis(module, x)
    f.unsupported_ops_warnings(False)
    f.uncalled_modules_warnings(False)
    return f.total()


def _ptflops(module, x, shape):
    from ptflops import get_model_complexity_info

    macs, _ = get_model_complexity_info(module, shape, as_strings=False, print_per_layer_stat=False,
                                        backend="pytorch")
    return macs


def _torchinfo(module, x, shape):
    from torchinfo import summary

    return summary(module, input_data=x, verbose=0).total_mult_adds


def _thop(module, x, shape):
    from thop import profile

    return profile(module, inputs=(x,), verbose=False)[0]


_RUN = {"fvcore": _fvcore, "ptflops": _ptflops, "torchinfo": _torchinfo, "thop": _thop}
