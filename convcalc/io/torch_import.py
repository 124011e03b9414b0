"""PyTorch in (the optional ``torch`` extra; torch is imported only inside functions).

``from_torch(module, input_shape)`` traces a ``torch.nn.Module`` with ``torch.fx`` and rebuilds it as
a :class:`~convcalc.graph.Graph` of convcalc layers. Every node's shape comes from running the traced
graph on shape-only ("meta") tensors, twice (batch 2 and 3): the dim that changes is the batch, so
per-sample shapes are exact even where code folds the batch into another dim (Swin's windows).
Known torch modules become convcalc's own layers (:data:`~convcalc.io.torch_ops.TORCH_MODULES`);
functional calls, tensor methods and operators are mapped by name (``torch_ops``): shape-only ops
become ``view`` rows, elementwise ops ``pointwise`` rows, reductions ``reduce`` rows, and every op
that multiplies gets an exact MAC rule. An op with no rule is an ``unknown`` row, reported as not
counted, never a silent zero. Parameters used directly (a layer scale, a class token) are counted
at the op that uses them. The model's weights are never run or copied: a model built on the meta
device imports the same.

Attention modules whose configuration the engine's classes express exactly become those rows
(:mod:`~convcalc.io.torch_attention`); einops calls and layers become reshape/permute/reduce rows
(:mod:`~convcalc.io.torch_einops`). Where fx cannot trace the forward (a branch on a size), the graph
of ``torch.export`` is converted instead (:mod:`~convcalc.io.torch_export`); where neither can, the
error names the line of the user's code.
"""
from __future__ import annotations

import re
from typing import Optional

from ..errors import ConvcalcError
from ..graph import Graph
from ..zoo import Model
from .torch_ops import TORCH_MODULES, TorchError, _torch, module_layer, registered, torch_modules
from .torch_attention import register_attention
from .torch_convert import Converter
from .torch_einops import einops_module
from .torch_export import export_graph
from .torch_transformer import is_transformer, plain_forward

__all__ = ["from_torch", "TorchError", "TORCH_MODULES", "to_torch_source"]


def _user_frame(tb):
    """The last traceback frame outside torch: the line of the user's code that failed."""
    import os
    import traceback

    torch_dir = os.path.dirname(_torch().__file__)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [f for f in traceback.extract_tb(tb)
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(here)]
    return frames[-1] if frames else None


def _trace(module, shape, stacks=False):
    """(fx GraphModule, {qualified name: layer} of the leaves convcalc maps): registered module
    classes stay leaves where their builder maps them; other torch.nn modules are leaves as fx has them.
    With ``stacks`` fx records each node's stack trace (a refusal then names the user's line); that
    is a third of the tracing time, so :func:`from_torch` asks for it only when converting failed."""
    _torch()
    import torch.fx as fx

    modules = torch_modules()
    wrap, search = [], []
    try:  # einops calls are recorded as calls, not traced into (``rearrange(..)`` and ``einops.rearrange(..)``)
        import einops

        wrap, search = [einops.rearrange, einops.reduce, einops.repeat], [einops]
    except ImportError:
        pass

    register_attention(modules)
    built = {}

    class Tracer(fx.Tracer):
        def __init__(self):
            super().__init__(autowrap_functions=tuple(wrap))
            self.record_stack_traces = stacks  # a refusal names the user's line
            self._autowrap_search.extend(search)  # only the functions above are patched there

        def call_module(self, m, forward, args, kwargs):
            return super().call_module(m, plain_forward(m, args, kwargs) or forward, args, kwargs)

        def is_leaf_module(self, m, qualname):
            if is_transformer(m):  # torch.nn's, traced into (their fast-path checks set aside)
                return False
            if hasattr(m, "convcalc_kind") or einops_module(m) is not None:
                return True
            if registered(m):  # a leaf when convcalc maps it (its builder may decline: then traced into)
                if qualname not in built:
                    try:
                        built[qualname] = module_layer(m, qualname)
                    except ConvcalcError:
                        built[qualname] = False  # refused by name when converted
                if built[qualname] is not None:
                    return True
            return super().is_leaf_module(m, qualname)

    import torch.fx._symbolic_trace as st

    wrapped = dict(st._wrapped_fns_to_patch)
    try:  # first into functions libraries marked with fx.wrap (torchvision's window attention)...
        st._wrapped_fns_to_patch.clear()
        graph = Tracer().trace(module)
    except Exception:
        graph = None
    finally:
        st._wrapped_fns_to_patch.update(wrapped)
    if graph is None:  # ... and where that fails, as their authors marked them
        try:
            graph = Tracer().trace(module)
        except Exception as e:  # tracing runs user code: report what failed, in one line
            exported = export_graph(module, shape)  # ... and where fx cannot, torch.export's ATen graph
            if exported is None:
                raise _trace_error(module, e) from None
            return exported, {}, "torch.export"
    return fx.GraphModule(module, graph), {k: v for k, v in built.items() if v is not False}, "torch.fx"


def _trace_error(module, e) -> TorchError:
    frame = _user_frame(e.__traceback__)
    where = f" at {frame.filename}:{frame.lineno} ({(frame.line or '').strip()!r})" if frame else ""
    text = str(e).splitlines()[0] if str(e) else ""
    if "control flow" in text or "iteration" in text or "bool" in text.lower():
        return TorchError(f"cannot trace {type(module).__name__} (neither torch.fx nor torch.export): its forward "
                          f"branches on tensor values{where}; make the branch depend on sizes or constructor "
                          "arguments, move it into a function marked with torch.fx.wrap, or register the module "
                          "that holds it in convcalc.io.torch_ops.TORCH_MODULES (a leaf)")
    return TorchError(f"cannot trace {type(module).__name__} (neither torch.fx nor torch.export){where}: "
                      f"{type(e).__name__}: {text}")


def _naming_the_line(module, shape, refusal):
    """``refusal`` (fx traced without stack traces) as it reads with the user's line: traced and
    converted again with them. That runs the forward again, and a module with state may do
    otherwise the second time (fail elsewhere, on a Proxy kept from the first trace, or not at
    all): the second refusal is taken only when it is the first plus the line, else the first
    stands. The forward's warnings were given the first time, so they are not given again."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm, built, how = _trace(module, shape, stacks=True)
            if how == "torch.fx":
                Converter(gm, shape, built).run()
    except ConvcalcError as again:
        where = getattr(again, "where", "")
        if where and str(again).replace(where, "", 1) == str(refusal):
            return again
    except Exception:  # the forward failing the second time says nothing about the first
        pass
    return refusal


def from_torch(module, input_shape, name: Optional[str] = None) -> Model:
    """Trace ``module`` (a ``torch.nn.Module``) for per-sample ``input_shape`` ``(C, *spatial)``."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise ConvcalcError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(input_shape)
    if not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in shape):
        raise ConvcalcError(f"from_torch needs a numeric input shape (C, *spatial), got {input_shape!r}")
    was_training = module.training
    module.eval()
    how = None
    try:
        try:
            gm, built, how = _trace(module, shape)
            conv = Converter(gm, shape, built, exported=how == "torch.export")
            conv.run()
        except ConvcalcError as refusal:
            if how != "torch.fx":
                raise
            raise _naming_the_line(module, shape, refusal) from None
    finally:
        module.train(was_training)
    model = Model(name or type(module).__name__, conv.graph, shape, f"traced from {type(module).__name__} with {how}")
    total = sum(p.numel() for p in module.parameters())
    used = sum(conv.seen.values())
    if total != used:  # submodules or bare parameters the forward never touches
        model.warnings.append(f"{total - used:,} of the module's {total:,} parameters are never used by its forward "
                              "(they are not counted)")
    return model


def _base(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def to_torch_source(*args, **kwargs):
    """Export to PyTorch source (kept here for old imports; see :mod:`convcalc.io.export`)."""
    from .export import to_torch_source as write

    return write(*args, **kwargs)


__all__ += ["Graph"]
