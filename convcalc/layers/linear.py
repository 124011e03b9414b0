"""Linear (on the last dim) and the reshaping layers: Flatten, Unflatten-free Identity."""
from __future__ import annotations

from ..errors import ConfigError, ShapeError
from ..sym import fmt, is_sym, prod, simplify
from .base import Inference, Layer, check_positive, require_equal


class Linear(Layer):
    """``y = x W^T + b`` on the last dim: params ``in*out + out``, MACs ``in*out`` per leading element."""
    main_arg = "out_features"

    kind = "linear"

    saves = ("input",)

    def backward_macs(self, shapes, inf):
        # dX = dY W and dW = dY^T X: in*out per leading element each, as the forward.
        return inf.macs, inf.macs

    def __init__(self, in_features=None, out_features=None, bias=True):
        if out_features is None:
            raise ConfigError("linear: out_features is required")
        check_positive(out_features, "out_features")
        if in_features is not None:
            check_positive(in_features, "in_features")
        self.in_features, self.out_features, self.bias = in_features, out_features, bool(bias)

    def infer(self, shape: tuple) -> Inference:
        if not shape:
            raise ShapeError("linear needs at least one input dim")
        f_in = shape[-1]
        if self.in_features is not None and not is_sym(f_in) and not is_sym(self.in_features) \
                and f_in != self.in_features:
            hint = " (flatten the feature map first?)" if len(shape) > 1 else ""
            raise ShapeError(f"linear expects {self.in_features} input features, got {fmt(f_in)}{hint}")
        conds = []
        if self.in_features is not None and (is_sym(f_in) or is_sym(self.in_features)):
            require_equal(f_in, self.in_features, "linear input features", conds)
        lead = prod(shape[:-1])
        f = self.in_features if self.in_features is not None else f_in  # the weights it declares
        params = f * self.out_features + (self.out_features if self.bias else 0)
        macs = lead * f * self.out_features
        # every output feature reads every position of the last dim: whatever that dim carries
        # (all of the input after a flatten, one spatial axis for a linear over W) is mixed
        return Inference(shape=(*shape[:-1], self.out_features), params=simplify(params), macs=simplify(macs),
                         mixed=(len(shape) - 1,), conditions=conds)

    def weight_shapes(self, shape):
        ws = {"weight": (self.out_features, shape[-1])}
        if self.bias:
            ws["bias"] = (self.out_features,)
        return ws

    def describe(self) -> str:
        return f"linear {fmt(self.out_features)}" + ("" if self.bias else " nobias")


class Flatten(Layer):
    """``torch.nn.Flatten(start_dim=1, end_dim=-1)``; dims count the batch dim, as in PyTorch."""
    main_arg = "start_dim"

    kind = "flatten"

    def aliases_input(self):
        return True  # a view

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def infer(self, shape: tuple) -> Inference:
        rank = len(shape) + 1  # with the batch dim
        start = self.start_dim % rank if -rank <= self.start_dim < rank else None
        end = self.end_dim % rank if -rank <= self.end_dim < rank else None
        if start is None or end is None or start > end or start == 0:
            raise ShapeError(f"flatten: dims {self.start_dim}..{self.end_dim} do not fit an input of "
                             f"{len(shape)} dims (plus batch)")
        a, b = start - 1, end - 1
        out = (*shape[:a], prod(shape[a:b + 1]), *shape[b + 1:])
        if a == 0 and b == len(shape) - 1:
            # everything into one vector: units no longer have positions, and the field reported
            # is the union over all of them (every unit of the vector together sees it all)
            return Inference(shape=out, rf="global")
        # a partial reshape (tokens from a map): each unit is one input unit re-indexed
        regroup = (*((d,) for d in range(a)), tuple(range(a, b + 1)), *((d,) for d in range(b + 1, len(shape))))
        return Inference(shape=out, regroup=regroup)

    def describe(self) -> str:
        return "flatten"
