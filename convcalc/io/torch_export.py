"""torch.export as the fallback of fx tracing, and layers recognised from functional calls.

Where ``torch.fx`` symbolic tracing fails (a branch on a size, iteration over a tensor),
:func:`export_graph` asks ``torch.export.export`` (non-strict, the batch a dynamic dim, on fake
tensors: nothing is computed) for its ATen graph; the converter maps its ops with the same rules
(``aten.add.Tensor`` is ``add``, ``aten.mean.dim`` is ``mean``). :func:`weight_layer` turns a
convolution, linear or batch norm call whose weights are the model's own parameters (an exported
``aten.conv2d``, or ``F.conv2d(x, self.weight)`` in traced code) into convcalc's layer of that kind.
"""
from __future__ import annotations

import contextlib
import io
import logging

from ..errors import ConvcalcError
from ..layers import linear, norm
from .torch_ops import _arg, _torch


@contextlib.contextmanager
def _quiet():
    """torch.export logs and prints the graphs it gives up on: keep the user's terminal clean."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def export_graph(module, shape):
    """The fx GraphModule of ``torch.export``'s graph of ``module`` on a batch of per-sample
    ``shape`` (the batch dynamic), or None when export fails too."""
    torch = _torch()
    from torch.export import Dim, export

    tensors = [*module.parameters(), *module.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    x = torch.empty(2, *shape, device=device)
    with _quiet():
        try:
            ep = export(module, (x,), dynamic_shapes=({0: Dim("batch", min=2)},), strict=False)
            gm = ep.module()
        except Exception:  # any failure: the caller reports fx's error, which names the user's line
            return None
    for n in list(gm.graph.nodes):  # the input-guard call export adds: no tensor, no row
        if n.op == "call_module" and not n.users and n.target.startswith("_guards"):
            gm.graph.erase_node(n)
    gm.recompile()
    return gm


def scope(node) -> str:
    """The qualified name of the module an fx node runs in ("" at the top)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    last = list(stack.values())[-1]
    return last[0] if isinstance(last, tuple) else str(last)


def _param(conv, node):
    """The torch Parameter an fx node reads (get_attr), else None."""
    if not hasattr(node, "op") or node.op != "get_attr":
        return None
    obj = conv.gm
    for part in node.target.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, conv.torch.nn.Parameter) else None


def _ints(v, k):
    v = tuple(v) if isinstance(v, (list, tuple)) else (v,) * k
    return v if len(v) == k and all(isinstance(x, int) for x in v) else None


def weight_layer(conv, n, name, t):
    """(layer, parameters it uses) for conv1d/2d/3d, linear, layer_norm or batch_norm reading the model's
    parameters, else None. ``t`` is the input's value (per-sample shape ``t.ps``)."""
    torch = conv.torch
    if name in ("conv1d", "conv2d", "conv3d"):
        w, b = _param(conv, _arg(n, 1, "weight")), _arg(n, 2, "bias")
        k = int(name[4])
        stride, padding, dilation = (_arg(n, i, key, d) for i, key, d in
                                     ((3, "stride", 1), (4, "padding", 0), (5, "dilation", 1)))
        groups = _arg(n, 6, "groups", 1)
        if w is None or (b is not None and _param(conv, b) is None) or not isinstance(groups, int):
            return None
        stride, dilation = _ints(stride, k), _ints(dilation, k)
        padding = padding if isinstance(padding, str) else _ints(padding, k)
        if None in (stride, padding, dilation):
            return None
        import convcalc.layers as L

        layer = getattr(L, f"Conv{k}d")(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=stride,
                                        padding=padding, dilation=dilation, groups=groups, bias=b is not None)
        return layer, [w] + ([_param(conv, b)] if b is not None else [])
    if name == "linear":
        w, b = _param(conv, _arg(n, 1, "weight")), _arg(n, 2, "bias")
        if w is None or w.dim() != 2 or (b is not None and _param(conv, b) is None):
            return None
        return linear.Linear(w.shape[1], w.shape[0], bias=b is not None), [w] + ([_param(conv, b)] if b else [])
    if name == "layer_norm":  # F.layer_norm and aten.layer_norm: (input, normalized_shape, weight, bias, eps)
        shape, w, b = _arg(n, 1, "normalized_shape"), _arg(n, 2, "weight"), _arg(n, 3, "bias")
        pw, pb = _param(conv, w), _param(conv, b)
        if not isinstance(shape, (list, tuple)) or (w is not None and pw is None) or (b is not None and pb is None) \
                or (pw is None and pb is not None):
            return None
        layer = norm.LayerNorm(tuple(shape), eps=_arg(n, 4, "eps", 1e-5), elementwise_affine=pw is not None,
                               bias=pb is not None)
        return layer, [p for p in (pw, pb) if p is not None]
    if name == "batch_norm" and n.target is getattr(torch.ops.aten.batch_norm, "default", None):
        w, b = _param(conv, _arg(n, 1, "weight")), _param(conv, _arg(n, 2, "bias"))
        training, momentum, eps = _arg(n, 5, "training"), _arg(n, 6, "momentum"), _arg(n, 7, "eps")
        if w is None or b is None or training or _arg(n, 3, "running_mean") is None or len(t.ps) not in (1, 2, 3, 4):
            return None
        cls = {1: norm.BatchNorm1d, 2: norm.BatchNorm1d, 3: norm.BatchNorm2d, 4: norm.BatchNorm3d}[len(t.ps)]
        try:
            return cls(w.shape[0], eps=eps, momentum=momentum), [w, b]
        except ConvcalcError:
            return None
    return None
