"""The engine against the lecture's worked exercises and PyTorch's documented formulas.

Expected values are written as arithmetic, never copied from convcalc's output.
"""
import json

import pytest
from hypothesis import assume, given, settings, strategies as st

import convcalc as cc
from convcalc.errors import ConfigError, ShapeError
from convcalc.sym import window_out


def one(layer, shape, batch=1):
    return cc.analyze(cc.Sequential(layer), shape, batch=batch).rows[0]


# -- lecture exercises (seeds 001 and 004) ------------------------------------------------------------
def test_five_5x5_filters_stride_1():
    r = one(cc.Conv2d(3, 5, 5), (3, 32, 32))
    assert r.output == (5, 32 - 5 + 1, 32 - 5 + 1) == (5, 28, 28)
    assert r.params == 5 * 5 * 3 * 5 + 5 == 380


def test_five_5x5_filters_stride_3_same_params():
    r = one(cc.Conv2d(3, 5, 5, stride=3), (3, 32, 32))
    assert r.output == (5, (32 - 5) // 3 + 1, (32 - 5) // 3 + 1) == (5, 10, 10)
    assert r.params == 380


def test_ten_filters_pad_2_same_size():
    r = one(cc.Conv2d(3, 10, 5, padding=2), (3, 32, 32))
    assert r.output == (10, 32, 32)
    assert r.params == 10 * (5 * 5 * 3 + 1) == 760
    assert r.macs == 10 * 32 * 32 * 75  # the lecture's 768k multiply-adds


@pytest.mark.parametrize("n,expected", [(1, 3), (2, 5), (3, 7), (5, 1 + 5 * 2)])
def test_stacked_3x3_receptive_field(n, expected):
    net = cc.Sequential(*[cc.Conv2d(None, 8, 3, padding=1) for _ in range(n)])
    r = cc.analyze(net, (3, 32, 32))
    assert [a.size for a in r.rows[-1].rf] == [expected, expected]  # 1 + L*(K-1)
    assert [a.jump for a in r.rows[-1].rf] == [1, 1]


def test_alexnet_lecture_table():
    from convcalc import zoo

    r = cc.analyze(zoo.get("alexnet"))
    convs = [row for row in r.rows if row.kind in ("conv2d", "linear")]
    assert [row.output for row in convs] == [
        (96, 55, 55), (256, 27, 27), (384, 13, 13), (384, 13, 13), (256, 13, 13), (4096,), (4096,), (1000,)]
    fc6 = convs[5]
    assert fc6.params == 6 * 6 * 256 * 4096 + 4096
    assert convs[6].params == 1 * 1 * 4096 * 4096 + 4096
    assert r.totals["params"] == (
        (11 * 11 * 3 * 96 + 96) + (5 * 5 * 96 * 256 + 256) + (3 * 3 * 256 * 384 + 384) + (3 * 3 * 384 * 384 + 384)
        + (3 * 3 * 384 * 256 + 256) + (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    ) == 62_378_344
    # pool5's receptive field: 195 pixels, jump 32 (a well-known figure for AlexNet)
    pool5 = r.row("features.14")
    assert [a.size for a in pool5.rf] == [195, 195] and [a.jump for a in pool5.rf] == [32, 32]


def test_alexnet_paper_groups():
    from convcalc import zoo

    r = cc.analyze(zoo.get("alexnet-paper"))
    saved = (5 * 5 * 96 * 256 // 2) + (3 * 3 * 384 * 384 // 2) + (3 * 3 * 384 * 256 // 2)
    assert r.totals["params"] == 62_378_344 - saved == 60_965_224


def test_tinyconv_counts():
    from convcalc import zoo

    r = cc.analyze(zoo.get("tinyconv"))
    convs = [row.params for row in r.rows if row.kind == "conv2d"]
    assert convs == [(3 * 3 * 3) * 10 + 10] + [(3 * 3 * 10) * 10 + 10] * 5
    assert r.row("fc").params == 10 * 4 * 4 * 10 + 10 == 1610
    assert r.row("features.block3.pool").output == (10, 4, 4)
    g = cc.analyze(zoo.get("tinyconv-gap"))
    assert g.row("fc").params == 10 * 10 + 10 == 110


def test_lenet5_full_c3():
    from convcalc import zoo

    r = cc.analyze(zoo.get("lenet5"))
    assert r.row("c1").params == 6 * 25 + 6 == 156
    assert r.row("c3").params == 16 * 6 * 25 + 16
    assert r.row("c5").params == 120 * 16 * 25 + 120 == 48120
    assert r.row("f6").params == 120 * 84 + 84 == 10164
    assert r.row("c3").output == (16, 10, 10) and r.row("s4").output == (16, 5, 5)


# -- shape rules as PyTorch documents them --------------------------------------------------------
def torch_doc_conv(L, k, s, p, d):
    # torch.nn.Conv2d docs: floor((L + 2p - d*(k-1) - 1)/s + 1)
    return (L + 2 * p - d * (k - 1) - 1) // s + 1


@settings(max_examples=300, deadline=None)
@given(L=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_shape_matches_torch_doc(L, k, s, p, d):
    expected = torch_doc_conv(L, k, s, p, d)
    layer = cc.Conv1d(2, 3, k, stride=s, padding=p, dilation=d)
    if expected < 1:
        with pytest.raises(ShapeError):
            one(layer, (2, L))
    else:
        r = one(layer, (2, L))
        assert r.output == (3, expected)
        assert r.macs == 3 * expected * 2 * k
        assert r.params == 3 * 2 * k + 3


@settings(max_examples=300, deadline=None)
@given(L=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 5), p=st.integers(0, 3), d=st.integers(1, 2))
def test_pool_ceil_mode_rule(L, k, s, p, d):
    assume(p <= k // 2)
    # PyTorch's pooling_output_shape: ceil, then drop a last window starting past input + left pad
    span = L + 2 * p - d * (k - 1) - 1
    assume(span >= 0)
    out = -(-span // s) + 1
    if (out - 1) * s >= L + p:
        out -= 1
    r = one(cc.MaxPool1d(k, s, padding=p, dilation=d, ceil_mode=True), (4, L))
    assert r.output == (4, out)
    floor_out = span // s + 1
    assert one(cc.MaxPool1d(k, s, padding=p, dilation=d), (4, L)).output == (4, floor_out)


def test_ceil_mode_known_cases():
    # 6 wide, kernel 2, stride 2: ceil changes nothing; 7 wide: one more (partial) window
    assert window_out(6, 2, 2, ceil_mode=True) == 3
    assert window_out(7, 2, 2, ceil_mode=True) == 4
    assert window_out(7, 2, 2) == 3
    # GoogLeNet: 112 -> maxpool 3/2 ceil -> 56 (floor would give 55)
    assert window_out(112, 3, 2, ceil_mode=True) == 56 and window_out(112, 3, 2) == 55
    # A window that would start in the right padding is dropped: L=5, k=2, s=2, p=1
    # ceil((5+2-2)/2)+1 = 4, but window 3 starts at 3*2=6 >= 5+1: 3 windows.
    assert window_out(5, 2, 2, 1, 1, ceil_mode=True) == 3


def test_transposed_conv_shape():
    # torch docs: (L-1)*s - 2p + d(k-1) + output_padding + 1
    r = one(cc.ConvTranspose2d(16, 8, 4, stride=2, padding=1), (16, 7, 9))
    assert r.output == (8, (7 - 1) * 2 - 2 + 3 + 1, (9 - 1) * 2 - 2 + 3 + 1) == (8, 14, 18)
    assert r.params == 16 * 8 * 16 + 8
    assert r.macs == 16 * 7 * 9 * 8 * 16
    r = one(cc.ConvTranspose1d(4, 4, 3, stride=2, padding=1, output_padding=1), (4, 5))
    assert r.output == (4, (5 - 1) * 2 - 2 + 2 + 1 + 1)


def test_padding_forms():
    same = one(cc.Conv2d(3, 4, (3, 4), padding="same", dilation=2), (3, 11, 12))
    assert same.output == (4, 11, 12)
    assert one(cc.Conv2d(3, 4, 3, padding="valid"), (3, 10, 10)).output == (4, 8, 8)
    asym = one(cc.Conv2d(3, 4, 3, padding=((0, 1), (2, 0))), (3, 10, 10))
    assert asym.output == (4, 10 + 1 - 2, 10 + 2 - 2)
    with pytest.raises(ConfigError):
        cc.Conv2d(3, 4, 3, stride=2, padding="same")


def test_groups_and_depthwise():
    r = one(cc.Conv2d(32, 64, 3, groups=32, padding=1), (32, 8, 8))
    assert r.params == 64 * (32 // 32) * 9 + 64
    assert r.macs == 64 * 8 * 8 * 1 * 9
    with pytest.raises(ConfigError):
        cc.Conv2d(32, 30, 3, groups=4)
    with pytest.raises(ShapeError):
        one(cc.Conv2d(None, 8, 3, groups=4), (6, 8, 8))


def test_pools_adaptive_linear_flatten_norms():
    assert one(cc.AvgPool2d(3, 2, padding=1, ceil_mode=True), (8, 10, 10)).output == (8, 6, 6)
    assert one(cc.AdaptiveAvgPool2d((5, None)), (8, 11, 7)).output == (8, 5, 7)
    assert one(cc.AdaptiveMaxPool1d(3), (2, 10)).output == (2, 3)
    lin = one(cc.Linear(20, 7), (5, 20))
    assert lin.output == (5, 7) and lin.params == 20 * 7 + 7 and lin.macs == 5 * 20 * 7
    assert one(cc.Flatten(), (4, 3, 2)).output == (24,)
    assert one(cc.Flatten(2), (4, 3, 2)).output == (4, 6)
    bn = one(cc.BatchNorm2d(16), (16, 4, 4))
    assert bn.params == 2 * 16 and bn.buffers == 2 * 16 + 1 and bn.macs == 0
    assert one(cc.BatchNorm1d(16, affine=False, track_running_stats=False), (16,)).params == 0
    assert one(cc.PReLU(16), (16, 4, 4)).params == 16
    assert one(cc.LayerNorm(16), (5, 16)).params == 32
    assert one(cc.GroupNorm(4, 16), (16, 3, 3)).params == 32
    for layer in (cc.ReLU(), cc.LeakyReLU(0.2), cc.ELU(), cc.Sigmoid(), cc.Tanh(), cc.Softmax(dim=1), cc.Dropout(),
                  cc.Identity(), cc.LocalResponseNorm(5)):
        r = one(layer, (16, 4, 4))
        assert r.output == (16, 4, 4) and r.params == 0 and r.macs == 0


def test_errors_name_the_layer_and_show_arithmetic():
    net = cc.Sequential(("features", cc.Sequential(cc.Conv2d(3, 8, 3), cc.Conv2d(8, 8, 11))))
    with pytest.raises(ShapeError) as e:
        cc.analyze(net, (3, 8, 8))
    msg = str(e.value)
    assert "features.1" in msg and "6 + 0 + 0" in msg
    with pytest.raises(ShapeError, match="expects 16 input channels, got 8"):
        cc.analyze(cc.Sequential(cc.Conv2d(3, 8, 3), cc.Conv2d(16, 8, 3)), (3, 8, 8))
    with pytest.raises(ShapeError, match="expects 100 input features"):
        cc.analyze(cc.Sequential(cc.Flatten(), cc.Linear(100, 8)), (3, 8, 8))


def test_stride_that_does_not_tile_warns():
    # the lecture: a 3x3 filter with stride 3 on a 7x7 input "doesn't fit"
    r = cc.analyze(cc.Sequential(cc.Conv2d(1, 1, 3, stride=3)), (1, 7, 7))
    assert r.rows[0].output == (1, 2, 2)
    assert r.warnings and "the last pixel" in r.warnings[0]
    assert not cc.analyze(cc.Sequential(cc.Conv2d(1, 1, 3, stride=2)), (1, 7, 7)).warnings


def test_batch_scales_macs_and_activations_not_params():
    from convcalc import zoo

    one_ = cc.analyze(zoo.get("alexnet"))
    eight = cc.analyze(zoo.get("alexnet"), batch=8, dtype="fp16")
    assert eight.totals["params"] == one_.totals["params"]
    assert eight.totals["macs"] == 8 * one_.totals["macs"]
    assert eight.totals["activation_bytes"] == 8 * one_.totals["activation_bytes"] // 2
    assert eight.totals["param_bytes"] == one_.totals["params"] * 2


def test_memory_columns():
    r = cc.analyze(cc.Sequential(cc.Conv2d(3, 96, 11, stride=4)), (3, 227, 227))
    assert r.rows[0].activation_bytes == 96 * 55 * 55 * 4
    assert r.totals["param_bytes"] == (96 * 3 * 121 + 96) * 4
    assert r.totals["peak_activation_bytes"] == (3 * 227 * 227 + 96 * 55 * 55) * 4


def test_residual_keeps_input_alive():
    body = cc.Sequential(cc.Conv2d(4, 4, 3, padding=1), cc.ReLU())
    r = cc.analyze(cc.Sequential(cc.Residual(body)), (4, 8, 8))
    elems = 4 * 8 * 8
    assert r.row("0.add").output == (4, 8, 8)
    # during the conv: the skip copy of the input, the conv's input, its output
    assert r.totals["peak_activation_bytes"] == 3 * elems * 4


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2)), min_size=1, max_size=6))
def test_rows_add_up_and_rf_matches_closed_form(spec):
    layers = [cc.Conv2d(None, 4, k, stride=s, padding=min(p, k // 2)) for k, s, p in spec]
    try:
        r = cc.analyze(cc.Sequential(*layers), (3, 64, 64))
    except ShapeError:
        return
    assert r.totals["params"] == sum(row.params for row in r.rows)
    assert r.totals["macs"] == sum(row.macs for row in r.rows)
    # RF: 1 + sum (k_i - 1) * prod_{j<i} s_j
    size, jump = 1, 1
    for k, s, _ in spec:
        size += (k - 1) * jump
        jump *= s
    assert r.rows[-1].rf[0].size == size and r.rows[-1].rf[0].jump == jump


def test_json_round_trip_and_contract():
    from convcalc import zoo
    from convcalc.render.text import to_json

    r = cc.analyze(zoo.get("alexnet"))
    d = json.loads(to_json(r))
    assert d["schema_version"] == 1 and d["model"] == "alexnet" and d["input"] == [3, 227, 227]
    first = d["layers"][0]
    assert first["name"] == "features.0" and first["kind"] == "conv2d"
    assert first["output"] == [96, 55, 55] and first["params"] == 34944
    assert first["macs"] == 96 * 55 * 55 * 3 * 11 * 11 and first["flops"] == 2 * first["macs"]
    assert first["rf"]["size"] == [11, 11] and first["rf"]["jump"] == [4, 4] and first["rf"]["start"] == [5.5, 5.5]
    assert first["activation_bytes"] == 96 * 55 * 55 * 4
    assert d["totals"]["params"] == sum(layer["params"] for layer in d["layers"])
    assert d["totals"]["macs"] == sum(layer["macs"] for layer in d["layers"])
    assert json.loads(json.dumps(d)) == d


def test_collapse_keeps_totals():
    from convcalc import zoo

    r = cc.analyze(zoo.get("tinyconv"))
    c = r.collapse(2)
    assert [row.name for row in c.rows] == ["features.block1", "features.block2", "features.block3", "flatten", "fc"]
    assert c.rows[0].params == 280 + 910 and c.rows[0].output == (10, 16, 16)
    assert sum(row.params for row in c.rows) == r.totals["params"]
    assert sum(row.macs for row in c.rows) == r.totals["macs"]
