"""convcalc: exact shapes, parameters, MACs, receptive fields and memory of CNNs."""
from .analyze import analyze
from .errors import ConvcalcError
from .graph import Concat, Parallel, Residual, Sequential
from .layers import *  # noqa: F401,F403  (the layer classes, torch.nn names)
from .report import Report
from . import render  # noqa: F401,E402  (registers how a Report prints: report.DISPLAY)

from . import zoo

summary = analyze


def load_spec(source):
    """A model from a spec file (YAML/JSON), spec text or a one-liner ("3x32x32 | conv 10 k3 | relu")."""
    from .io.spec import load

    return load(source)


def from_torch(module, input_shape, name=None):
    """A model traced from a ``torch.nn.Module`` with torch.fx (needs PyTorch)."""
    from .io.torch_import import from_torch as convert

    return convert(module, input_shape, name=name)


__version__ = "0.1.0"
