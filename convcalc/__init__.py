"""convcalc: exact shapes, parameters, MACs, receptive fields and memory of CNNs."""
from .analyze import analyze
from .errors import ConvcalcError
from .graph import Concat, Parallel, Residual, Sequential
from .layers import *  # noqa: F401,F403  (the layer classes, torch.nn names)
from .report import Report

summary = analyze

__version__ = "0.1.0"
