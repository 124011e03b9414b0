"""Pure-NumPy execution core of convcalc.

Every kernel returns ``(y, macs)``: the output array and the exact number of
multiply-accumulates it performed (read off its matmul operand shapes; 0 for
kernels that do no matmul).  Shapes follow PyTorch: x is (N, C, *spatial)
with 1, 2 or 3 spatial dims, weights as in PyTorch.  float32 in, float32 out.
Impossible configurations raise ValueError.

This package imports numpy and the standard library only.
"""

from .attention import (class_token, multihead_attention, partition_attention, partition_probe, patch_merge,
                        pos_embedding, select_token, shifted_window_attention, shifted_window_probe, tokens)
from .act import (dropout, elu, gelu, hardsigmoid, hardswish, identity, leaky_relu, log_softmax, prelu,
                  relu, relu6, sigmoid, silu, softmax, tanh)
from .conv import conv, conv_transpose, linear
from .misc import add, channel_shuffle, concat, flatten, mul, permute, upsample, zero_pad2d
from .ops import matmul, reduce, view
from .norm import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm
from .pool import adaptive_avg_pool, adaptive_max_pool, avg_pool, max_pool

__all__ = [
    "conv", "conv_transpose", "linear", "view", "reduce", "matmul",
    "max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
    "relu", "relu6", "leaky_relu", "elu", "prelu", "sigmoid", "tanh", "softmax", "log_softmax",
    "hardswish", "hardsigmoid", "silu", "gelu", "dropout", "identity",
    "flatten", "add", "mul", "concat", "channel_shuffle", "permute", "upsample", "zero_pad2d",
    "multihead_attention", "tokens", "class_token", "pos_embedding", "select_token", "shifted_window_attention",
    "shifted_window_probe", "patch_merge", "partition_attention", "partition_probe",
]
