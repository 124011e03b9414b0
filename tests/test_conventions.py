"""Peers' operation counts, from the formulas in each tool's source (see conventions.py).

Three kinds of check, none of which asks conventions.py for an expected value:
* small networks whose totals are worked out by hand below;
* every zoo model, each row counted by the tool's formula written out here as arithmetic on the
  row's shapes and the layer's arguments (ptflops/pytorch_ops.py, thop/vision/basic_hooks.py,
  torchinfo/layer_info.py, fvcore/nn/jit_handles.py), summed, against ``count``;
* ``per_layer`` sums to the total for every convention on every zoo model.
The real tools run in tests/test_peers.py.
"""
import math

import pytest

import convcalc as cc
from convcalc import layers as L
from convcalc import zoo
from convcalc.conventions import count, per_layer

NET = cc.Sequential(
    cc.Conv2d(3, 8, 3, padding=1), cc.BatchNorm2d(8), cc.ReLU(), cc.MaxPool2d(2),
    cc.ConvTranspose2d(8, 4, 2, stride=2), cc.AdaptiveAvgPool2d(2), cc.Flatten(), cc.Linear(16, 10),
)
# per sample, input 3x8x8:
CONV = 8 * 8 * 8 * 3 * 9          # conv MACs: C_out * H*W * C_in * k*k
CONV_BIAS = 8 * 8 * 8             # one add per output element
BN = 8 * 8 * 8                    # elements
RELU = 8 * 8 * 8
POOL_IN = 8 * 8 * 8
CONVT_IN = 8 * 4 * 4 * 4 * 4      # C_in * H_in*W_in * C_out * k*k (input positions)
CONVT_BIAS = 4 * 8 * 8
ADAPT_IN, ADAPT_OUT = 4 * 8 * 8, 4 * 2 * 2
LIN = 16 * 10


def test_convcalc_and_torchvision():
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "convcalc") == count(r, "torchvision") == CONV + CONVT_IN + LIN


def test_fvcore():
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "fvcore") == CONV + 2 * BN + CONVT_IN + ADAPT_IN + LIN


def test_ptflops_counts_relu_and_pools_twice():
    # module hook + the patched F.relu / F.max_pool2d / F.adaptive_avg_pool2d inside the module
    r = cc.analyze(NET, (3, 8, 8))
    assert count(r, "ptflops") == (CONV + CONV_BIAS + 2 * BN + 2 * RELU + 2 * POOL_IN + CONVT_IN + CONVT_BIAS
                                   + 2 * ADAPT_IN + LIN + 10)


def test_torchinfo():
    r = cc.analyze(NET, (3, 8, 8))
    conv = (8 * 3 * 9 + 8) * 8 * 8
    convt = (8 * 4 * 4 + 4) * 8 * 8
    assert count(r, "torchinfo") == conv + 2 * 8 + convt + (16 * 10 + 10)


def test_thop():
    r = cc.analyze(NET, (3, 8, 8))
    # adaptive 8 -> 2: two windows of 4 per axis, 8 summed per axis; 4 channels; + one per output
    assert count(r, "thop") == CONV + 4 * BN + CONVT_IN + (4 * 8 * 8 + ADAPT_OUT) + 16 * 10


def test_thop_average_pool_counts_the_real_windows():
    # 5 -> 3 with k3 s2 p1 ceil_mode, padding not counted: windows [0,2) [1,4) [3,5) = 2+3+2 per axis
    net = cc.Sequential(cc.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False))
    r = cc.analyze(net, (2, 5, 5))
    assert r.rows[0].output == (2, 3, 3)
    assert count(r, "thop") == 2 * 7 * 7 + 2 * 3 * 3
    # counting the padding: windows [-1,2) [1,4) [3,6) = 3+3+3 per axis
    r = cc.analyze(cc.Sequential(cc.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)), (2, 5, 5))
    assert count(r, "thop") == 2 * 9 * 9 + 2 * 3 * 3


def test_local_response_norm_under_ptflops():
    # F.local_response_norm: x*x, *alpha, +k (one each per element) and an avg-pool over the squares
    # padded to C + size - 1 channels
    r = cc.analyze(cc.Sequential(cc.layers.LocalResponseNorm(5)), (6, 4, 4))
    assert count(r, "ptflops") == 3 * 6 * 16 + (6 + 4) * 16
    assert count(r, "thop") == count(r, "fvcore") == count(r, "torchinfo") == 0


def test_a_function_is_invisible_to_module_hooks():
    relu = cc.ReLU()
    relu.functional = True
    r = cc.analyze(cc.Sequential(cc.Conv2d(1, 2, 3, bias=False), relu), (1, 5, 5))
    assert count(r, "ptflops") == 2 * 9 * 9 + 2 * 3 * 3   # conv MACs + F.relu once (not twice)
    relu.functional = False
    assert count(r, "ptflops") == 2 * 9 * 9 + 2 * 2 * 3 * 3


def test_published_alexnet_figures():
    r = cc.analyze(zoo.get("alexnet-torchvision"))
    # torchvision AlexNet_Weights.IMAGENET1K_V1 "_ops": 0.714 (GFLOPS column, really GMACs)
    assert round(count(r, "torchvision") / 1e9, 3) == 0.714
    # ptflops README benchmark table (pytorch backend, 224x224): alexnet 0.72 GMac
    assert round(count(r, "ptflops") / 1e9, 2) == 0.72


def test_batch_scales_every_convention():
    one = cc.analyze(NET, (3, 8, 8))
    four = cc.analyze(NET, (3, 8, 8), batch=4)
    for c in ("fvcore", "ptflops", "torchinfo", "thop"):
        assert count(four, c) == pytest.approx(4 * count(one, c))


def test_json_per_layer_is_a_list_of_rows_that_sums_to_the_total(run):
    import json

    out = json.loads(run("resnet50", "--convention", "ptflops", "--format", "json").stdout)
    conv = out["convention"]
    rows = conv["per_layer"]
    assert [r["name"] for r in rows] == [layer["name"] for layer in out["layers"]]  # repeated names kept
    assert len({r["name"] for r in rows}) < len(rows)  # torchvision's Bottleneck reuses self.relu
    assert sum(r["value"] for r in rows) == conv["total"]
    assert {"name", "kind", "value"} == set(rows[0])


def test_rows_follow_the_layer_class_not_its_name():
    # Hardswish subclasses ReLU in convcalc, but ptflops counts only the ReLU family
    r = cc.analyze(cc.Sequential(cc.ReLU(), cc.Hardswish()), (2, 4, 4))
    from convcalc.conventions import row_ops

    assert [row_ops(x, "ptflops") for x in r.rows] == [2 * 2 * 4 * 4, 0]


# -- every zoo model: each tool's formula written out as arithmetic on the rows -------------------

def _n(shape):
    return math.prod(shape)


def _fn(r):
    return getattr(r.layer, "functional", False)


def _attention(r):
    """(positions, channels, keys per query, heads) of an attention row."""
    lay = r.layer
    if isinstance(lay, L.MultiheadAttention):
        return r.input[0], lay.embed_dim, r.input[0], lay.num_heads
    if isinstance(lay, L.ShiftedWindowAttention):
        padded = _n(math.ceil(s / w) * w for s, w in zip(r.input[1:], lay.window_size))
        return padded, r.input[0], _n(lay.window_size), lay.num_heads
    return _n(r.input[1:]), r.input[0], lay.partition_size ** 2, r.input[0] // lay.head_dim


def ptflops(r):
    lay, n_in, n_out = r.layer, _n(r.input), _n(r.output)
    twice = 1 if _fn(r) else 2
    if isinstance(lay, L.conv._ConvNd):
        per_position = _n(lay.kernel_size) * r.input[0] * (lay.out_channels // lay.groups)
        spatial = r.input[1:] if isinstance(lay, L.conv._ConvTransposeNd) else r.output[1:]
        return per_position * _n(spatial) + (n_out if lay.bias else 0)
    if isinstance(lay, L.Linear):
        return (lay.in_features * lay.out_features + (lay.out_features if lay.bias else 0)) * _n(r.input[:-1])
    if isinstance(lay, (L.Hardswish, L.Hardsigmoid)):
        return 0
    if isinstance(lay, (L.ReLU6, L.SiLU)):
        return n_out
    if isinstance(lay, (L.ReLU, L.GELU, L.pool._PoolNd, L.pool._AdaptivePoolNd)):
        return twice * n_in
    if isinstance(lay, (L.BatchNorm2d, L.BatchNorm1d)):
        return n_in * (2 if lay.affine else 1)
    if isinstance(lay, L.LayerNorm) or (isinstance(lay, L.LayerNorm2d) and lay.channels_last):
        return n_in
    if isinstance(lay, L.LocalResponseNorm):
        return 3 * n_in + (r.input[0] + lay.size - 1) * _n(r.input[1:])
    if isinstance(lay, L.MultiheadAttention):
        Lq, E, S, h = _attention(r)
        return Lq * E + 3 * Lq * E * E + 3 * Lq * E + h * (2 * Lq * S * (E // h) + Lq * S) + Lq * E * (E + 1)
    if isinstance(lay, L.ShiftedWindowAttention):
        N, C, M, h = _attention(r)
        return 2 * N * M * C + h * N * M
    if isinstance(lay, L.PartitionAttention):
        P, C, M, h = _attention(r)
        return P * (3 * C * C + 3 * C) + P * (C * C + C) + h * P * M
    return 0


def thop(r):
    lay, n_in, n_out = r.layer, _n(r.input), _n(r.output)
    if _fn(r):
        return 0
    if isinstance(lay, (L.conv._ConvNd, L.Linear, L.ShiftedWindowAttention, L.PartitionAttention)):
        return r.macs
    if isinstance(lay, (L.BatchNorm2d, L.BatchNorm1d, L.LayerNorm, L.LayerNorm2d)):
        affine = lay.args().get("affine", lay.args().get("elementwise_affine"))
        return 2 * n_in * (2 if affine else 1)
    if isinstance(lay, L.pool._AvgPoolNd):
        # the zoo's forms: padding counted, floor mode, so no window is clipped: k per output per axis
        assert lay.count_include_pad and not lay.ceil_mode
        return r.input[0] * _n(o * k for o, k in zip(r.output[1:], lay.kernel_size)) + n_out
    if isinstance(lay, L.AdaptiveAvgPool2d):
        axes = [i if i == o else sum(math.ceil((j + 1) * i / o) - (j * i) // o for j in range(o))
                for i, o in zip(r.input[1:], r.output[1:])]
        return r.input[0] * _n(axes) + n_out
    if isinstance(lay, L.MultiheadAttention):
        Lq, E, S, h = _attention(r)
        return E * (2 * Lq * E + S * 2 * E) + 2 * Lq * S * E + h * Lq * (3 * S - 1)
    return 0


def fvcore(r):
    lay, n_in = r.layer, _n(r.input)
    if isinstance(lay, (L.conv._ConvNd, L.Linear, L.ShiftedWindowAttention)):
        return r.macs
    if isinstance(lay, (L.BatchNorm2d, L.BatchNorm1d)):
        return n_in * (2 if lay.affine else 1)
    if isinstance(lay, (L.LayerNorm, L.LayerNorm2d)):
        return n_in * 5
    if isinstance(lay, L.AdaptiveAvgPool2d):
        return n_in
    if isinstance(lay, L.MultiheadAttention):
        Lq, E, _, _ = _attention(r)
        return 4 * Lq * E * E
    if isinstance(lay, L.PartitionAttention):
        P, C, M, _ = _attention(r)
        printed = float(f"{2 * P * M * C:.3e}")  # numpy's einsum_path report, 4 significant digits
        return 4 * P * C * C + 2 * int(printed // 2)
    return 0


def torchinfo(r):
    lay = r.layer
    if _fn(r) or isinstance(lay, (L.MultiheadAttention, L.ShiftedWindowAttention, L.LayerScale, L.ClassToken,
                                  L.PosEmbedding)):
        return 0
    if isinstance(lay, L.conv._ConvNd):
        return r.params * _n(r.output[1:])
    if isinstance(lay, L.PartitionAttention):
        C = r.input[0]
        return 3 * C * C + 3 * C + C * C + C
    return r.params


FORMULAS = {"ptflops": ptflops, "thop": thop, "fvcore": fvcore, "torchinfo": torchinfo}


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_model_follows_the_tools_formulas(name):
    r = cc.analyze(zoo.get(name))
    rows = [row for row in r.rows if row.layer is not None]
    for tool, formula in FORMULAS.items():
        assert count(r, tool) == sum(formula(row) for row in rows), tool


@pytest.mark.parametrize("name", zoo.names())
def test_per_layer_rows_sum_to_the_total_for_every_convention(name):
    from convcalc.conventions import CONVENTIONS

    r = cc.analyze(zoo.get(name))
    for c in CONVENTIONS:
        rows = per_layer(r, c)
        assert [x["name"] for x in rows] == [row.name for row in r.rows]
        assert sum(x["value"] for x in rows) == count(r, c)


def test_symbolic_input_gives_the_numeric_count_at_any_size():
    from convcalc.sym import dims

    net = cc.Sequential(cc.Conv2d(3, 4, 3, padding=1), cc.AvgPool2d(2), cc.ReLU(), cc.AdaptiveAvgPool2d(1),
                        cc.Flatten(), cc.Linear(4, 2))
    H, W = dims("H W")
    sym = cc.analyze(net, (3, H, W))
    for size in (8, 12):
        num = cc.analyze(net, (3, size, size))
        for c in ("fvcore", "ptflops", "torchinfo", "thop"):
            assert count(sym, c).subs({H: size, W: size}) == count(num, c), c


@pytest.mark.parametrize("shape, kw, want", [
    # ptflops: the module hook counts output elements; the patched F.interpolate inside counts
    # input.numel() * scale_factor ** spatial dims (not floored), or, for a tuple, * its product
    # taken by np.prod(..., dtype=np.int64), which truncates each factor first (1.5 -> 1)
    ((4, 37), dict(scale_factor=1.5, mode="linear"), 4 * 55 + 4 * 37 * 1.5),              # 220 + 222
    ((2, 5, 5), dict(scale_factor=1.5), 2 * 7 * 7 + 2 * 25 * 1.5 ** 2),                     # 98 + 112.5
    ((2, 5, 5), dict(scale_factor=(1.5, 2.0)), 2 * 7 * 10 + 2 * 25 * (1 * 2)),              # 140 + 100
    ((2, 5, 5), dict(size=(9, 11)), 2 * 9 * 11 * 2),                                        # output twice
])
def test_ptflops_upsample_counts_the_scale_not_the_output_size(shape, kw, want):
    r = cc.analyze(cc.Sequential(L.Upsample(**kw)), shape)
    assert count(r, "ptflops") == math.floor(want)  # ptflops returns int() of its float sum
