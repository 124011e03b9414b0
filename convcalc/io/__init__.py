"""Models in and out of convcalc: spec files and the one-liner, PyTorch import (torch.fx)
and export to PyTorch source."""
