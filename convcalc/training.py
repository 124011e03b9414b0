"""Training: backward MACs per layer and the memory a training step takes.

Each layer kind declares what its backward costs and what autograd keeps (``Layer.saves``,
``saved``, ``saved_extra``, ``backward_macs``, ``aliases_input``); this module walks the graph
once and adds it up as PyTorch's autograd would:

* A layer is *recorded* when one of its inputs requires a gradient or it has trainable
  parameters; its output then requires a gradient. The model input does not.
* Backward MACs: the input gradient only where an input requires one (the first layer needs
  none), the weight gradient only for trainable parameters (frozen layers need none).
* Saved activations are counted by storage, once: an in-place op or a view shares its input's
  storage (ReLU(inplace=True) after a batch norm keeps one tensor, not two). Parameters and
  buffers are not activations. Extra tensors (max-pool int64 indices, norm statistics in fp32,
  dropout noise) are counted where they are made.
* Memory: parameters (fp32 master weights under ``amp``), their gradients, the optimizer's
  state (sgd 0, momentum 1, adam/adamw 2 tensors per trainable parameter), the saved
  activations, and the peak of the step: all of those at once plus the largest pair of
  activation gradients in flight (a layer's output gradient and its input gradient) — the
  moment the backward starts, before any saved tensor is freed.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ConvcalcError
from .sym import prod, simplify, smax

OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
AMP = {"fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class TrainingOptions:
    optimizer: str = "sgd"
    amp: str | None = None           # "fp16" / "bf16": half-precision activations, fp32 master weights
    freeze: tuple = ()               # row-name prefixes whose parameters are frozen

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ConvcalcError(f"unknown optimizer {self.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        if self.amp is not None and self.amp not in AMP:
            raise ConvcalcError(f"unknown amp dtype {self.amp!r}: expected fp16 or bf16")

    def frozen(self, name: str, layer) -> bool:
        if not getattr(layer, "trainable", True):
            return True
        return any(name == p or name.startswith(p + ".") for p in self.freeze)


def _freeze_check(options: TrainingOptions, names) -> None:
    for p in options.freeze:
        if not any(n == p or n.startswith(p + ".") for n in names):
            raise ConvcalcError(f"--freeze {p!r} matches no layer")


def _frozen_part(layer, shapes) -> tuple:
    """(frozen parameter count, the trainable parameters' names or None for all) of a layer
    with some parameters frozen."""
    names = getattr(layer, "frozen_params", frozenset())
    if not names:
        return 0, None
    ws = layer.weight_shapes(shapes[0])
    return (simplify(sum((prod(s) for n, s in ws.items() if n in names), 0)),
            [n for n in ws if n not in names])


class _Account:
    def __init__(self, graph, rows, batch, act_bytes, options):
        self.batch, self.act, self.opt = batch, act_bytes, options
        self.rows = {r.key: r for r in rows}
        self.grad = {k: False for k in graph.inputs}
        self.storage = {k: k for k in graph.inputs}
        self.kept: dict = {}
        self.per_row: dict = {}
        self.trainable = 0
        self.frozen = 0
        self.largest_pair = 0

    def nbytes(self, shape):
        return simplify(prod(shape) * self.batch * self.act)

    def shape_of(self, key, input_shape):
        return self.rows[key].output if key in self.rows else input_shape

    def visit(self, node, input_shape):
        row, layer = self.rows[node.key], node.layer
        macs_per_sample = row.macs // self.batch if isinstance(row.macs, int) and isinstance(self.batch, int) \
            else simplify(row.macs / self.batch)
        shapes = [self.shape_of(i, input_shape) for i in node.inputs]
        frozen = self.opt.frozen(node.name, layer)
        part = _frozen_part(layer, shapes) if not frozen else (0, None)
        if frozen:
            self.frozen += row.params
        else:
            self.frozen += part[0]
            self.trainable += simplify(row.params - part[0])
        train_w = not frozen and row.params != part[0]
        in_grads = tuple(self.grad[i] for i in node.inputs)
        recorded = any(in_grads) or train_w
        self.grad[node.key] = recorded
        self.storage[node.key] = self.storage[node.inputs[0]] if layer.aliases_input() else node.key
        inf = _Inf(row.output, macs_per_sample)
        dx, dw, *shared = layer.backward_macs(shapes, inf)  # shared: needed whenever anything is
        dx = sum((d for d, g in zip(dx, in_grads) if g), 0) if isinstance(dx, tuple) else dx if any(in_grads) else 0
        if part[1] is not None:   # some frozen: only the trainable weights' gradients
            dw = layer.trainable_weight_grad(dw, part[1])
        macs = simplify((dx + (dw if train_w else 0)
                         + (sum(shared) if recorded else 0)) * self.batch)
        saved = self.saved(node, layer, shapes, inf, in_grads) if recorded else 0
        if recorded:
            pair = simplify(self.nbytes(row.output) + sum((self.nbytes(s) for s, g in zip(shapes, in_grads) if g), 0))
            self.largest_pair = smax(self.largest_pair, pair)
        self.per_row[node.key] = (macs, saved)

    def saved(self, node, layer, shapes, inf, in_grads):
        total = 0
        for token in layer.saved(shapes, inf, in_grads):
            if token == "output":
                refs = [(node.key, inf.shape)]
            elif token == "input":
                refs = list(zip(node.inputs, shapes))
            else:  # ("input", i)
                refs = [(node.inputs[token[1]], shapes[token[1]])]
            for key, shape in refs:
                sid = self.storage[key]
                if sid not in self.kept:
                    self.kept[sid] = self.nbytes(shape)
                    total += self.kept[sid]
        for elements, size, per_sample in layer.saved_extra(shapes, inf):
            total += elements * (self.batch if per_sample else 1) * (self.act if size is None else size)
        return simplify(total)


@dataclass(frozen=True)
class _Inf:
    """The forward facts a layer's training hooks read: output shape, MACs per sample."""

    shape: tuple
    macs: object


def account(graph, rows, batch, dtype_bytes: int, options: TrainingOptions, input_shape, buffers):
    """Per-row (backward MACs, saved bytes) by node key, and the ``training`` totals."""
    act = AMP.get(options.amp, dtype_bytes)
    weight_bytes = 4 if options.amp else dtype_bytes
    acc = _Account(graph, rows, batch, act, options)
    _freeze_check(options, [n.name for n in graph])
    for node in graph:
        acc.visit(node, input_shape)
    params = simplify(acc.trainable + acc.frozen)
    out = {
        "optimizer": options.optimizer, "amp": options.amp,
        "trainable_params": simplify(acc.trainable), "frozen_params": simplify(acc.frozen),
        "parameters": simplify(params * weight_bytes + buffers * weight_bytes),
        "gradients": simplify(acc.trainable * weight_bytes),
        "optimizer_state": simplify(OPTIMIZERS[options.optimizer] * acc.trainable * 4),
        "saved_activations": simplify(sum((s for _, s in acc.per_row.values()), 0)),
    }
    out["peak"] = simplify(out["parameters"] + out["gradients"] + out["optimizer_state"]
                           + out["saved_activations"] + acc.largest_pair)
    return acc.per_row, out
