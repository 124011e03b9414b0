"""Pure-NumPy execution core of convcalc.

Every kernel returns ``(y, macs)``: the output array and the exact number of
multiply-accumulates it performed (read off its matmul operand shapes; 0 for
kernels that do no matmul).  Shapes follow PyTorch: x is (N, C, *spatial)
with 1, 2 or 3 spatial dims, weights as in PyTorch.  float32 in, float32 out.
Impossible configurations raise ValueError.

Every backward (``*_backward``) returns ``(dx, dparams, (macs_dx, macs_dw[, macs_shared]))``:
the input gradient (a list for merges), the parameter gradients by name, and the MACs of the
input gradient and of the weight gradient, each tallied from the shapes of its own matmuls
(attention adds a third: the matmuls on the way to both, spent whenever either is asked for).
The attention kinds' training forwards (``*_train``) return ``(y, macs, saved)``.

This package imports numpy and the standard library only.
"""

from .attention import (class_token, multihead_attention, multihead_attention_train, partition_attention,
                        partition_attention_train, partition_probe, patch_merge, pos_embedding, select_token,
                        shifted_window_attention, shifted_window_attention_train, shifted_window_probe, tokens)
from .act import (dropout, elu, gelu, hardsigmoid, hardswish, identity, leaky_relu, log_softmax, prelu,
                  relu, relu6, sigmoid, silu, softmax, tanh)
from ._util import steady_heap
from .conv import conv, conv_transpose, linear
from .misc import add, channel_shuffle, concat, flatten, mul, permute, upsample, zero_pad2d
from .ops import matmul, pointwise, reduce, view, view_copy_backward
from .norm import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm
from .pool import adaptive_avg_pool, adaptive_max_pool, avg_pool, max_pool
from .backward import conv_backward, conv_transpose_backward, linear_backward, pad_backward
from .backward_elem import (add_backward, channel_shuffle_backward, concat_backward, dropout_backward,
                            dropout_train, elu_backward, flatten_backward, gelu_backward, hardsigmoid_backward,
                            hardswish_backward, identity_backward, leaky_relu_backward, log_softmax_backward,
                            mul_backward, permute_backward, prelu_backward, relu6_backward, relu_backward,
                            sigmoid_backward, silu_backward, slice_backward, softmax_backward, tanh_backward,
                            unbroadcast, upsample_backward, zero_pad2d_backward)
from .backward_norm import (batch_norm_backward, group_norm_backward, instance_norm_backward,
                            layer_norm_backward, local_response_norm_backward)
from .backward_attention import (class_token_backward, matmul_backward, multihead_attention_backward,
                                 partition_attention_backward, patch_merge_backward, pos_embedding_backward,
                                 reduce_backward, select_token_backward, shifted_window_attention_backward,
                                 tokens_backward, view_backward)
from .backward_ops import pointwise_backward
from .backward_pool import (adaptive_avg_pool_backward, adaptive_max_pool_backward,
                            adaptive_max_pool_with_indices, avg_pool_backward, max_pool_backward,
                            max_pool_with_indices)

__all__ = [
    "conv", "conv_transpose", "linear", "view", "view_copy_backward", "reduce", "matmul", "pointwise",
    "pointwise_backward",
    "max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
    "relu", "relu6", "leaky_relu", "elu", "prelu", "sigmoid", "tanh", "softmax", "log_softmax",
    "hardswish", "hardsigmoid", "silu", "gelu", "dropout", "identity",
    "flatten", "add", "mul", "concat", "channel_shuffle", "permute", "upsample", "zero_pad2d",
    "multihead_attention", "tokens", "class_token", "pos_embedding", "select_token", "shifted_window_attention",
    "shifted_window_probe", "patch_merge", "partition_attention", "partition_probe",
    # backward
    "conv_backward", "conv_transpose_backward", "linear_backward", "pad_backward",
    "max_pool_with_indices", "max_pool_backward", "avg_pool_backward", "adaptive_avg_pool_backward",
    "adaptive_max_pool_with_indices", "adaptive_max_pool_backward",
    "batch_norm_backward", "layer_norm_backward", "group_norm_backward", "instance_norm_backward",
    "local_response_norm_backward",
    "relu_backward", "relu6_backward", "leaky_relu_backward", "elu_backward", "sigmoid_backward",
    "tanh_backward", "silu_backward", "gelu_backward", "hardswish_backward", "hardsigmoid_backward",
    "prelu_backward", "softmax_backward", "log_softmax_backward", "dropout_train", "dropout_backward",
    "identity_backward", "flatten_backward", "permute_backward", "channel_shuffle_backward",
    "slice_backward", "upsample_backward", "add_backward", "mul_backward", "concat_backward", "unbroadcast",
    "zero_pad2d_backward",
    "multihead_attention_train", "multihead_attention_backward", "shifted_window_attention_train",
    "shifted_window_attention_backward", "partition_attention_train", "partition_attention_backward",
    "tokens_backward", "class_token_backward", "pos_embedding_backward", "select_token_backward",
    "patch_merge_backward", "view_backward", "reduce_backward", "matmul_backward",
    # the executor's allocator setting
    "steady_heap",
]
