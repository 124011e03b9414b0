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

from fractions import Fraction

from . import layers as L
from .registry import Registry
from .sym import prod, simplify

CONVENTIONS = ("convcalc", "torchvision", "fvcore", "ptflops", "torchinfo", "thop")

#: layer class -> {convention: ops(row, batch)}; a convention a kind does not name counts 0
#: (torchinfo: its parameters once per sample). Looked up by the layer's class (MRO).
ROWS = Registry("convention rows")


def rules(*classes, **by_convention):
    ROWS.register(*classes)(by_convention)


def _n_in(r, b):
    return prod(r.input) * b


def _n_out(r, b):
    return prod(r.output) * b


def _affine(layer) -> bool:
    a = layer.args()
    return bool(a.get("affine", a.get("elementwise_affine", False)))


def _macs(r, b):
    return r.macs


def _with_bias(r, b):
    return simplify(r.macs + (_n_out(r, b) if r.layer.args().get("bias") else 0))


def _per_position(r, b):  # torchinfo: (weights + bias) x output positions
    return simplify(r.params * prod(r.output[1:]) * b)


def _norm(affine, plain):
    return lambda r, b: _n_in(r, b) * (affine if _affine(r.layer) else plain)


def _convt_ptflops(r, b):
    """ptflops counts a transposed conv over the output positions, like a conv."""
    a = r.layer.args()
    per_position = prod(r.layer.kernel_size) * r.input[0] * (a["out_channels"] // a["groups"])
    return simplify(per_position * prod(r.output[1:]) * b + (_n_out(r, b) if a["bias"] else 0))


def _adaptive_thop(r, b):
    total = (prod(Fraction(i, o) for i, o in zip(r.input[1:], r.output[1:])) + 1) * _n_out(r, b)
    return int(total) if total == int(total) else float(total)


def _upsample(nearest, other):
    return lambda r, b: _n_out(r, b) * (nearest if r.layer.mode.startswith("nearest") else other)


rules(L.conv._ConvNd, fvcore=_macs, ptflops=_with_bias, torchinfo=_per_position, thop=_macs)
rules(L.conv._ConvTransposeNd, fvcore=_macs, ptflops=_convt_ptflops, torchinfo=_per_position, thop=_macs)
rules(L.Linear, fvcore=_macs, ptflops=_with_bias, thop=lambda r, b: simplify(r.input[-1] * _n_out(r, b)))
rules(L.BatchNorm1d, L.BatchNorm2d, L.BatchNorm3d, fvcore=_norm(2, 1), ptflops=_norm(2, 1), thop=_norm(4, 2))
rules(L.norm._InstanceNorm, L.LayerNorm, L.GroupNorm, L.LayerNorm2d,
      fvcore=_norm(5, 4), ptflops=_norm(2, 1), thop=_norm(4, 2))
rules(L.pool._PoolNd, L.AdaptiveMaxPool1d, L.AdaptiveMaxPool2d, L.AdaptiveMaxPool3d, ptflops=_n_in)
rules(L.pool._AvgPoolNd, ptflops=_n_in, thop=_n_out)
rules(L.AdaptiveAvgPool1d, L.AdaptiveAvgPool2d, L.AdaptiveAvgPool3d, fvcore=_n_in, ptflops=_n_in, thop=_adaptive_thop)
rules(L.ReLU, L.LeakyReLU, L.ELU, L.GELU, ptflops=_n_out)
rules(L.Hardswish, L.Hardsigmoid, L.SiLU)  # ReLU's subclasses here, but no tool counts them
rules(L.PReLU, ptflops=_n_out, thop=_n_in)
rules(L.Upsample, fvcore=_upsample(1, 4), ptflops=_n_out, thop=_upsample(1, 11))


def row_ops(row, convention: str, batch=1):
    """The operation count ``convention`` gives this row."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    if convention in ("convcalc", "torchvision"):
        return row.macs
    if row.layer is None:  # add / concat / mul merges: no tool counts them as modules
        return 0
    rule = ROWS.get(row.layer, {}).get(convention)
    if rule is not None:
        return rule(row, batch)
    return simplify(row.params * batch) if convention == "torchinfo" else 0


def per_layer(report, convention: str) -> list:
    """Every row's count, in order, as (name, kind, value) records: they sum to the total."""
    return [{"name": r.name, "kind": r.kind, "value": row_ops(r, convention, report.batch)} for r in report.rows]


def count(report, convention: str):
    """A peer's total for the whole report."""
    if convention not in CONVENTIONS:
        from .errors import ConvcalcError

        raise ConvcalcError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    return simplify(sum((row_ops(r, convention, report.batch) for r in report.rows), 0))
