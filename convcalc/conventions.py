"""Other tools' operation counts, so a user can see why six tools print six AlexNet totals.

convcalc counts MACs of convolution and linear weights only (DESIGN §2). Each peer
counts differently; ``count(report, name)`` reproduces a peer's total from the same
rows, by the formulas in that tool's source (README: "Counting conventions"):

* ``torchvision`` — the "GFLOPS" column of its weights tables is conv + linear MACs,
  transposed convs over the input size: the same as convcalc.
* ``fvcore`` — one "flop" per MAC for conv/linear; eval BatchNorm 2 per element
  (1 without affine); Layer/Group/InstanceNorm 5 per element (4 without affine);
  adaptive average pooling 1 per input element; nearest upsampling 1, bilinear 4 per
  output element; everything else 0.
* ``ptflops`` (pytorch backend) — MACs plus one per output element for a bias; transposed
  convs over the *output* size (too high by stride^d); ReLU-family activations 1 per output
  element; every pooling 1 per input element; norms 1 per element (2 with affine);
  linear adds its bias; upsampling 1 per output element.
* ``torchinfo`` — "mult-adds": conv and transposed conv (weight + bias elements) x output
  positions (transposed too high by stride^d); any other layer with parameters counts
  its parameters once per sample (so a Linear on a feature map counts one position).
* ``thop`` (ultralytics >= 2.0.16) — conv MACs without bias, transposed over the input size;
  norms 2 per element (4 with affine); PReLU 1 per element; average pooling 1 per output
  element; adaptive average pooling (prod(in/out) + 1) per output element; linear
  in_features per output element; nearest upsampling 1, bilinear 11 per output element.

Counts are per batch (the rows' MACs already include ``--batch``).
"""
from __future__ import annotations

from .sym import prod, simplify

CONVENTIONS = ("convcalc", "torchvision", "fvcore", "ptflops", "torchinfo", "thop")

_RELUS = {"relu", "relu6", "leakyrelu", "elu", "prelu", "gelu"}
_NORMS = {"batchnorm1d", "batchnorm2d", "batchnorm3d", "instancenorm1d", "instancenorm2d", "instancenorm3d",
          "layernorm", "groupnorm", "layernorm2d"}


def _affine(layer) -> bool:
    for attr in ("affine", "elementwise_affine"):
        if hasattr(layer, attr):
            return bool(getattr(layer, attr))
    return False


def row_ops(row, convention: str, batch=1):
    """The operation count ``convention`` gives this row."""
    kind, layer = row.kind, row.layer
    if convention in ("convcalc", "torchvision"):
        return row.macs
    if layer is None:  # add / concat / mul merges: no tool counts them as modules
        return 0
    n_in, n_out = prod(row.input) * batch, prod(row.output) * batch
    conv = kind.startswith("conv")
    transposed = kind.startswith("convtranspose")
    bias = bool(getattr(layer, "bias", False)) and (conv or kind == "linear")
    if convention == "fvcore":
        if conv or kind == "linear":
            return row.macs
        if kind.startswith("batchnorm"):
            return n_in * (2 if _affine(layer) else 1)
        if kind in _NORMS:
            return n_in * (5 if _affine(layer) else 4)
        if kind.startswith("adaptiveavgpool"):
            return n_in
        if kind == "upsample":
            return n_out * (1 if layer.mode.startswith("nearest") else 4)
        return 0
    if convention == "ptflops":
        if transposed:  # counted over the output positions, like a conv
            k = prod(layer.kernel_size)
            per_position = k * row.input[0] * (layer.out_channels // layer.groups)
            return simplify(per_position * prod(row.output[1:]) * batch + (n_out if bias else 0))
        if conv:
            return simplify(row.macs + (n_out if bias else 0))
        if kind == "linear":
            return simplify(row.macs + (n_out if bias else 0))
        if kind in _RELUS:
            return n_out
        if "pool" in kind:
            return n_in
        if kind in _NORMS:
            return n_in * (2 if _affine(layer) else 1)
        if kind == "upsample":
            return n_out
        return 0
    if convention == "torchinfo":
        if conv:
            return simplify(row.params * prod(row.output[1:]) * batch)
        return simplify(row.params * batch)
    if convention == "thop":
        if conv or transposed:
            return row.macs
        if kind == "linear":
            return simplify(row.input[-1] * n_out)
        if kind in _NORMS:
            return n_in * (4 if _affine(layer) else 2)
        if kind == "prelu":
            return n_in
        if kind.startswith("avgpool"):
            return n_out
        if kind.startswith("adaptiveavgpool"):
            from fractions import Fraction

            ratio = prod(Fraction(a, b) for a, b in zip(row.input[1:], row.output[1:]))
            total = (ratio + 1) * n_out
            return int(total) if total == int(total) else float(total)
        if kind == "upsample":
            return n_out * (1 if layer.mode.startswith("nearest") else 11)
        return 0
    raise ValueError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")


def count(report, convention: str):
    """A peer's total for the whole report."""
    if convention not in CONVENTIONS:
        from .errors import ConvcalcError

        raise ConvcalcError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    return simplify(sum((row_ops(r, convention, report.batch) for r in report.rows), 0))
