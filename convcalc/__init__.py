"""convcalc: exact shapes, parameters, MACs, receptive fields and memory of CNNs."""
from .analyze import analyze
from .errors import ConvcalcError, ConvcalcWarning
from .graph import Concat, Parallel, Residual, Sequential
from .layers import *  # noqa: F401,F403  (the layer classes, torch.nn names)
from .report import Report
from . import render  # noqa: F401,E402  (registers how a Report prints: report.DISPLAY)

from . import zoo



def summary(model, input=None, batch=1, dtype: str = "fp32", name=None, training=None,
            max_params=None, max_macs=None, max_memory=None, warn: bool = True) -> Report:
    """``analyze`` for people: ``model`` may also be a zoo name, a spec file or a one-liner; the
    report's warnings are issued through Python's ``warnings`` module (category
    :class:`ConvcalcWarning`, identical ones of several layers as one message, each distinct message
    once per call site); ``max_params`` / ``max_macs`` (``25M``, ``4.1G``, ``1e9``, an int) and
    ``max_memory`` (``512MiB``, bytes) raise :class:`convcalc.budget.OverBudget` when exceeded."""
    from . import budget

    limits = budget.parse_limits(params=max_params, macs=max_macs, memory=max_memory)  # bad limits fail first
    if isinstance(model, str):
        from .loader import load_model

        model = load_model(model)
    report = analyze(model, input, batch=batch, dtype=dtype, name=name, training=training)
    if warn and report.warnings:
        import warnings

        from .render.notes import grouped

        for text in grouped(report):
            warnings.warn(text, ConvcalcWarning, stacklevel=2)
    over = budget.check(report, limits) if limits else []
    if over:
        raise budget.OverBudget(over, report)
    return report


def export(model, to: str = "pytorch", input=None, class_name: str = "Net", path=None) -> str:
    """The source of ``model`` (a zoo name, spec file, one-liner, zoo ``Model``, ``Sequential``, layer
    or ``Graph`` built with the builders) as a standalone PyTorch ``nn.Module``; written to ``path``
    too when given. ``to``: only ``"pytorch"``."""
    if to not in ("pytorch", "torch"):
        raise ConvcalcError(f"export: unknown target {to!r}; expected 'pytorch'")
    from .io.export import to_torch_source

    if isinstance(model, str):
        from .loader import load_model

        model = load_model(model, input)
    text = to_torch_source(model, input=input, class_name=class_name)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return text


def load_spec(source):
    """A model from a spec file (YAML/JSON), spec text or a one-liner ("3x32x32 | conv 10 k3 | relu")."""
    from .io.spec import load

    return load(source)


def from_torch(module, input_shape, name=None, **kwargs):
    """A model traced from a ``torch.nn.Module`` with torch.fx (needs PyTorch). ``module`` may also
    be a path: ``"torchvision.models:resnet50"`` or ``"net.py:Model"`` (built with ``kwargs``;
    a file is executed, as ``python net.py`` would)."""
    from .io.torch_import import from_torch as convert

    if isinstance(module, str):
        from .io.torch_load import _load_torch_object

        module, label = _load_torch_object(module, kwargs)
        name = name or label
    return convert(module, input_shape, name=name)


def from_onnx(source, input_shape=None, name=None):
    """A model read from an ONNX file (a path, or an ``onnx.ModelProto``; needs the ``onnx`` package:
    ``pip install 'convcalc[onnx]'``). ``input_shape`` (per sample, in the file's own order) sizes
    the input where the file leaves it dynamic, or overrides its sizes. ``convcalc.summary("m.onnx")``
    reads the file the same way."""
    from .io.onnx_import import from_onnx as read

    return read(source, input_shape, name=name)


__version__ = "0.1.0"
