"""torchvision for the tests, without its C ops (test helper, not part of the package).

The package index's torchvision wheels link against the CUDA build of torch, so ``import
torchvision`` fails next to the CPU wheel ("operator torchvision::nms does not exist") while
registering fake kernels for its C ops. The model builders need none of them: an empty
``torchvision._meta_registrations`` module registered first lets the import through.
Install it with ``pip install --no-deps torchvision==0.28.0``. ``load()`` returns the module,
or None when torch or torchvision is absent (tests then skip).
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
import types


def load():
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
        return None
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision
    except Exception:  # a torchvision that does not fit this torch: the tests skip
        return None
    return torchvision


@contextlib.contextmanager
def no_init():
    """torch.nn.init's in-place initialisers as no-ops, each returning its tensor untouched: where
    weights are never read (meta tensors, the peer tools counting shapes) initialising them is only
    cost (VGG's 138M weights take seconds; a quarter of building the 80 models on meta). Buffers
    such as Swin's position index are still computed."""
    import torch.nn.init as init

    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def meta_model(name, **kwargs):
    """torchvision model ``name`` with every weight on the meta device (no memory, no init time).
    Builders that compute with torch while building (RegNet's widths) cannot run inside
    ``torch.device("meta")``: those are built with parameters moved to meta as they register."""
    import torch
    from torch import nn

    tvm = load().models
    try:
        with torch.device("meta"), no_init():
            return tvm.get_model(name, **kwargs)
    except NotImplementedError:
        pass
    register = nn.Module.register_parameter

    def to_meta(self, pname, param):
        if param is not None:
            param = nn.Parameter(torch.empty_like(param, device="meta"), param.requires_grad)
        register(self, pname, param)

    nn.Module.register_parameter = to_meta
    try:
        return tvm.get_model(name, **kwargs)
    finally:
        nn.Module.register_parameter = register
