"""Receptive fields after upsampling (transposed convs, interpolation), unit by unit.

Output unit o of a stride-s transposed conv gathers input units i = (o + p - d*m)/s; an
upsample by f copies (or blends) torch's source index. The fields of consecutive units then
differ with a period, and a later stride can make them all the same again: the engine must
then give that size, not the period's average. Expected values are worked out by hand below;
the property test checks the engine against the NumPy core's measurement (verify).
"""
import os
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convcalc as cc
from convcalc.verify import verify


def _axis(net, shape):
    return cc.analyze(net, shape).rows[-1].rf[0]


def test_pool_after_a_stride_2_transposed_conv_sees_one_pixel():
    # convT k2 s2: outputs 2q and 2q+1 both copy input q; a 2-wide pool at stride 2 over them
    # sees input q alone: size 1, jump 1, centred on pixel q (q + 1/2)
    a = _axis(cc.Sequential(cc.ConvTranspose1d(1, 1, 2, stride=2), cc.MaxPool1d(2)), (1, 16))
    assert (a.size, a.jump, a.start) == (1, 1, Fraction(1, 2))


def test_strided_conv_after_nearest_upsampling_sees_one_pixel():
    a = _axis(cc.Sequential(cc.Upsample(scale_factor=2), cc.Conv1d(1, 1, 2, stride=2)), (1, 16))
    assert (a.size, a.jump, a.start) == (1, 1, Fraction(1, 2))


def test_dcgan_transposed_conv_reaches_one_pixel_of_padding():
    # convT k4 s2 p1: output 0 gathers i = (0 + 1 - m)/2 for m = 1, 3: inputs 0 and -1 (padding),
    # so the first unit spans pixels -1..0: size 2, centre 0, effective padding 1
    a = _axis(cc.Sequential(cc.ConvTranspose1d(1, 1, 4, stride=2, padding=1)), (1, 16))
    assert (a.size, a.jump, a.start, a.effective_padding) == (2, Fraction(1, 2), 0, 1)


def test_sizes_that_differ_keep_their_average_and_period():
    # convT k3 s2: even outputs gather 2 inputs, odd ones 1: the average is 3/2, period 2
    a = _axis(cc.Sequential(cc.ConvTranspose1d(1, 1, 3, stride=2)), (1, 16))
    assert (a.size, a.jump, a.period) == (Fraction(3, 2), Fraction(1, 2), 2)


def test_bilinear_by_three_then_a_stride_3_conv():
    # align_corners=False: source x = (o + 1/2)/3 - 1/2. For o = 3q, 3q+1, 3q+2 that is
    # q - 1/3, q, q + 1/3: taps {q-1, q}, {q}, {q, q+1}; a 3-wide stride-3 conv unites them: 3 pixels
    a = _axis(cc.Sequential(cc.Upsample(scale_factor=3, mode="linear"), cc.Conv1d(1, 1, 3, stride=3)), (1, 16))
    assert (a.size, a.jump) == (3, 1)


def test_units_that_see_nothing_are_left_out():
    # convT k1 s2: odd outputs gather no input (bias only); a 2-wide window always holds one even output
    a = _axis(cc.Sequential(cc.ConvTranspose1d(1, 1, 1, stride=2), cc.Conv1d(1, 1, 2)), (1, 16))
    assert (a.size, a.jump, a.start) == (1, Fraction(1, 2), Fraction(1, 2))


def _failed_fields(result):
    return [(r.name, c.claimed, c.measured) for r in result.layers for q, c in r.checks.items()
            if q == "rf" and c.ok is False]


def test_a_field_past_pixels_an_earlier_stride_dropped_is_measured_as_clipped():
    # 21 pixels, pool k3 s3: 7 units; convT k2 s2 p1: output 2q copies unit q; pool k1 s2 keeps
    # those: unit q sees pixels 3q..3q+2 for q = 0..5, and pixels 18..20 are never seen again.
    # convT k3 d2: output o gathers units o, o-2, o-4: o = 5 sees [3, 17] (15 pixels, jump 3);
    # o = 6 would reach pixel 20, but its unit 6 does not exist: it sees [6, 14]
    net = cc.Sequential(cc.MaxPool1d(3, stride=3), cc.ConvTranspose1d(None, 1, 2, stride=2, padding=1),
                        cc.MaxPool1d(1, stride=2), cc.ConvTranspose1d(None, 1, 3, dilation=2))
    a = _axis(net, (1, 21))
    assert (a.size, a.jump) == (15, 3)
    assert not _failed_fields(verify(net, (1, 21)))


def test_a_conv_after_pixels_an_earlier_stride_dropped():
    # x1.5 nearest, conv k2 s2, pool k4 s3 on 21 pixels: 4 units seeing [4q, 4q+4], pixels 17..20
    # never seen; conv k4 p2 then has fields of 17 pixels, jump 4, and its units 3 and 4 stop at 16
    net = cc.Sequential(cc.Upsample(scale_factor=1.5), cc.Conv1d(None, 1, 2, stride=2), cc.MaxPool1d(4, stride=3),
                        cc.Conv1d(None, 1, 4, padding=2))
    a = _axis(net, (1, 21))
    assert (a.size, a.jump) == (17, 4)
    assert not _failed_fields(verify(net, (1, 21)))


def test_each_unit_of_a_period_is_held_to_its_own_field():
    # 13 pixels, conv k2 s2 p1 then pool k1 s3: units 0, 1, 2 see [0, 0] (the rest is padding),
    # [5, 6], [11, 12]. convT k4 s3 p1 d2: output o gathers units (o + 1 - 2m)/3, m = 0..3, so
    # o = 5 gathers units 2 and 0: [0, 12] (pixel -1 is padding), o = 8 gathers unit 1 only
    # (unit 3 does not exist): [5, 6]. The fields repeat every 3 units (sizes 2, 2, 14 pixels)
    net = cc.Sequential(cc.Conv1d(None, 1, 2, stride=2, padding=1), cc.MaxPool1d(1, stride=3),
                        cc.ConvTranspose1d(None, 1, 4, stride=3, padding=1, dilation=2))
    a = _axis(net, (1, 13))
    assert (a.size, a.jump, a.period) == (6, 2, 3)
    assert not _failed_fields(verify(net, (1, 13)))


@pytest.mark.parametrize("net", [cc.Sequential(cc.ConvTranspose1d(1, 1, 3, stride=2)),
                                 cc.Sequential(cc.Upsample(scale_factor=2, mode="linear")),
                                 cc.Sequential(cc.ConvTranspose1d(1, 1, 4, stride=2, padding=1))],
                         ids=["convT-k3s2", "linear-x2", "convT-k4s2p1"])
def test_verify_catches_a_periodic_field_one_pixel_off(monkeypatch, net):
    import dataclasses

    from convcalc import verify as verify_mod

    real = verify_mod.rf_check

    def shifted(row_rf, *args, **kwargs):
        a = row_rf[0]
        phases = tuple(None if p is None else (p[0] + 1, p[1] + 1) for p in a.phases)
        return real((dataclasses.replace(a, start=Fraction(a.start) + 1, phases=phases),), *args, **kwargs)

    assert _axis(net, (1, 16)).phases is not None
    assert not _failed_fields(verify(net, (1, 16)))
    monkeypatch.setattr(verify_mod, "rf_check", shifted)
    assert _failed_fields(verify(net, (1, 16)))


@st.composite
def upsampling_chain(draw):
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["tconv", "up", "conv", "pool"]))
        k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        if kind == "tconv":
            layers.append(cc.ConvTranspose1d(None, 1, k, stride=s, padding=draw(st.integers(0, k - 1)),
                                             dilation=draw(st.integers(1, 2))))
        elif kind == "up":
            mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear"]))
            layers.append(cc.Upsample(scale_factor=draw(st.sampled_from([2, 3, 1.5])), mode=mode))
        elif kind == "conv":
            layers.append(cc.Conv1d(None, 1, k, stride=s, padding=draw(st.integers(0, k // 2))))
        else:
            layers.append(cc.MaxPool1d(k, stride=s))
    return cc.Sequential(*layers)


@settings(max_examples=60 * max(1, int(os.environ.get("CONVCALC_FUZZ", "1"))), deadline=None, suppress_health_check=list(HealthCheck))
@given(net=upsampling_chain(), n=st.integers(12, 40))
def test_fields_after_upsampling_are_what_the_core_measures(net, n):
    try:
        result = verify(net, (1, n))
    except cc.ConvcalcError:
        return  # a layer the sizes do not allow: refused before anything runs
    bad = [(r.name, c.claimed, c.measured) for r in result.layers for q, c in r.checks.items()
           if q == "rf" and c.ok is False]
    assert not bad
    assert result.counts()["rf"][2] == 0  # every field was measured


@pytest.mark.parametrize("spec,size", [
    ("1x32x32 | convtranspose2d 1 k2 s2 | maxpool 2", "1"),
    ("1x32x32 | upsample 2 | conv2d 1 k2 s2", "1"),
])
def test_the_rf_table_prints_the_whole_size(run, spec, size):
    out = run("rf", spec).output
    last = [line for line in out.splitlines() if line.strip().startswith("1 ")][-1].split()
    assert size in last and "1.5" not in last


def test_effective_padding_after_two_transposed_convs_is_the_first_units_reach():
    # DCGAN's stride-2 convT k4 p1 twice: output o reads i = (o + 1 - m)/2 for the taps m that
    # divide evenly, so unit 0 reads -1..0 and unit -1 reads -1..0 too; unit 0 of the second
    # reads units -1 and 0 of the first: pixels -1..0, one pixel left of the image. The sizes
    # repeat every 4 units (2, 3, 3, 2 pixels), so the average size alone would say (5/2-1)/2 + 1/2
    net = cc.Sequential(cc.ConvTranspose1d(1, 1, 4, stride=2, padding=1),
                        cc.ConvTranspose1d(1, 1, 4, stride=2, padding=1))
    a = _axis(net, (1, 8))
    assert (a.effective_padding, a.size, a.period, a.start) == (1, Fraction(5, 2), 4, 0)

# --- per-unit fields against torch's autograd: the input pixels an output unit's gradient reaches ---

def _unit_field(a, u):
    """The engine's field of output unit u: its phase shifted by whole periods, or the one size."""
    if a.phases:
        P = len(a.phases)
        t, r = divmod(u, P)
        return None if a.phases[r] is None else tuple(x + t * P * a.jump for x in a.phases[r])
    c = a.start + u * a.jump
    return (c - Fraction(a.size) / 2, c + Fraction(a.size) / 2)


def _torch_fields(model, n, units):
    """(first pixel, one past the last pixel) whose input gradient is non-zero, or None: positive
    weights and zero biases, so no sum cancels."""
    torch = pytest.importorskip("torch")
    model = model.double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.zeros_like(p) if name.endswith("bias") else torch.rand_like(p) + 0.5)
    x = torch.rand(1, 1, n, dtype=torch.float64, requires_grad=True)
    y = model(x)
    out = []
    for u in units:
        g, = torch.autograd.grad(y[0, 0, u], x, retain_graph=True)
        nz = torch.nonzero(g[0, 0]).flatten().tolist()
        out.append((nz[0], nz[-1] + 1) if nz else None)
    return out


@pytest.mark.parametrize("kw", [dict(size=16), dict(size=16, align_corners=True), dict(scale_factor=1.0)])
def test_linear_interpolation_to_the_same_size_copies_one_pixel(kw):
    # source x = (o + 1/2) * 16/16 - 1/2 = o (align_corners: o * 15/15 = o): every weight but
    # one is 0, so output o reads pixel o alone: size 1, jump 1, centred on o + 1/2
    torch = pytest.importorskip("torch")
    a = _axis(cc.Sequential(cc.Upsample(mode="linear", **kw)), (1, 16))
    assert (a.size, a.jump, a.start) == (1, 1, Fraction(1, 2))
    seen = _torch_fields(torch.nn.Upsample(mode="linear", **kw), 16, range(4, 12))
    assert seen == [_unit_field(a, u) for u in range(4, 12)] == [(u, u + 1) for u in range(4, 12)]


def test_a_dilated_transposed_conv_skips_the_units_between_its_taps():
    # convT k4 s3 d2: output o gathers i = (o - 2m)/3 for m = 0..3; for o = 3t that is m = 0, 3:
    # units t and t-2, not t-1. After a convT k1 s2 (odd units see nothing), o = 3t with t odd
    # reads two odd units: no input pixel at all; unit t-1 in between must not be counted
    torch = pytest.importorskip("torch")
    net = cc.Sequential(cc.ConvTranspose1d(1, 1, 1, stride=2), cc.ConvTranspose1d(1, 1, 4, stride=3, dilation=2))
    a = _axis(net, (1, 12))
    units = range(20, 50)
    want = _torch_fields(torch.nn.Sequential(torch.nn.ConvTranspose1d(1, 1, 1, stride=2),
                                             torch.nn.ConvTranspose1d(1, 1, 4, stride=3, dilation=2)), 12, units)
    assert want[units.index(21)] is None  # t = 7: units 7 and 5, both odd
    assert [_unit_field(a, u) for u in units] == want


@pytest.mark.parametrize("mode, shape", [("linear", (1, 13)), ("bilinear", (1, 13, 13))])
def test_align_corners_jump_with_a_symbolic_input(mode, shape):
    # align_corners=True: output o reads source x = o * (L-1)/(n-1), so consecutive outputs are
    # (L-1)/(n-1) input pixels apart: L = 13, n = floor(13 * 2.5) = 32 gives 12/31 (not 13/32)
    from convcalc.sym import dims

    H = dims("H")
    net = cc.Sequential(cc.Upsample(scale_factor=2.5, mode=mode, align_corners=True))
    sym = cc.analyze(net, (1,) + (H,) * (len(shape) - 1)).rows[-1].rf[0]
    assert sym.jump.subs({H: 13}) == Fraction(12, 31)
    assert _axis(net, shape).jump == Fraction(12, 31)


def test_a_given_scale_factor_sets_the_jump_with_a_symbolic_input():
    # torch's source index with a scale_factor is o / scale_factor, not o * L/n. After a x3
    # align_corners upsample (outputs (L-1)/(3L-1) apart) a x1.5 nearest one puts consecutive
    # outputs 2/3 of that apart: at L = 29, 28/86 * 2/3 = 28/129 (87/130, from floor(1.5 * 87)/87, gave 609/2795)
    from convcalc.sym import dims

    H = dims("H")
    net = cc.Sequential(cc.Upsample(scale_factor=3, mode="linear", align_corners=True),
                        cc.Upsample(scale_factor=1.5, mode="nearest-exact"))
    assert cc.analyze(net, (1, H)).rows[-1].rf[0].jump.subs({H: 29}) == Fraction(28, 129)
    assert _axis(net, (1, 29)).jump == Fraction(28, 129)


@settings(max_examples=200, deadline=None)
@given(dims=st.lists(st.integers(0, 17), min_size=1, max_size=4), batch=st.integers(0, 5),
       density=st.sampled_from([0.0, 0.02, 0.3, 1.0]), seed=st.integers(0, 2**16))
def test_what_changed_per_dim_is_any_over_the_other_dims(dims, batch, density, seed):
    """verify's probe reads, per output dim, which positions an impulse changed: the same as
    numpy's ``any`` over every other dim, for every shape (empty dims, runs of 8, one dim)."""
    import numpy as np

    from convcalc.verify_rf import _changed_per_dim

    changed = np.random.default_rng(seed).random((batch, *dims)) < density
    got = _changed_per_dim(changed)
    assert len(got) == len(dims)
    for j, rows in enumerate(got):
        want = changed.any(axis=tuple(a for a in range(1, changed.ndim) if a != j + 1))
        assert rows.dtype == bool and rows.shape == want.shape and np.array_equal(rows, want)


def test_a_stride_that_keeps_only_a_transposed_convs_gaps_sees_no_input():
    """convT k2 s2 p1 d2: output o gathers inputs (o - 1)/2 and (o + 1)/2, so every even unit holds
    only the bias; a 1-wide pool at stride 2 keeps exactly those units. They see no pixel, and
    neither does any layer after them; beside a path that sees the input, that path's field is
    the union's (found by the property test above: the engine gave the period's average)."""
    gaps = cc.Sequential(cc.ConvTranspose1d(1, 1, 2, stride=2, padding=1, dilation=2), cc.MaxPool1d(1, stride=2),
                         cc.Conv1d(1, 1, 3, padding=1))
    rows = cc.analyze(gaps, (1, 12)).rows
    assert [r.rf[0].size for r in rows[1:]] == [0, 0]
    assert verify(gaps, (1, 12)).ok
    joined = cc.Sequential(cc.Parallel([("gaps", gaps), ("skip", None)], combine="add"), cc.Conv1d(1, 1, 3, padding=1))
    a = _axis(joined, (1, 12))
    assert (a.size, a.jump, a.start) == (3, 1, Fraction(1, 2))   # the skip path's pixel u, then 3 of them
    assert verify(joined, (1, 12)).ok


def _gaps_2d():
    # along H as in the test above (every kept row holds only the bias); along W a plain 5-wide conv
    return cc.Sequential(cc.ConvTranspose2d(1, 1, (2, 5), stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
                         cc.MaxPool2d(1, stride=(2, 1)))


def test_a_unit_that_sees_nothing_along_one_axis_sees_nothing_at_all():
    """A unit's field is the product of its per-axis spans: empty along H, it holds no pixel, so
    its span along W is empty too. Beside a skip path, the sum's unit (i, j) sees pixel (i, j)
    alone (the gaps path is the bias, whatever the input): 1 x 1, not the gaps path's 5 wide W."""
    gaps = _gaps_2d()
    last = cc.analyze(gaps, (1, 12, 12)).rows[-1].rf
    assert [a.size for a in last] == [0, 0]
    joined = cc.Sequential(cc.Parallel([("gaps", gaps), ("skip", None)], combine="add"))
    h, w = cc.analyze(joined, (1, 12, 12)).rows[-1].rf
    assert [(a.size, a.jump, a.start) for a in (h, w)] == [(1, 1, Fraction(1, 2))] * 2
    res = verify(joined, (1, 12, 12))
    assert res.ok
    assert [r.checks["rf"].measured for r in res.layers][-2:] == ["no input x no input", "[6, 6] x [6, 6]"]


def test_what_changed_per_dim_takes_any_layout():
    """A strided view (every other position of a larger array), runs of 8 along the last dim:
    the same answer as numpy's ``any``, not a ValueError from viewing it eight flags at a time."""
    import numpy as np

    from convcalc.verify_rf import _changed_per_dim

    big = np.random.default_rng(3).random((3, 2, 32)) < 0.1
    changed = big[:, :, ::2]
    got = _changed_per_dim(changed)
    assert [np.array_equal(g, changed.any(axis=2 - j)) for j, g in enumerate(got)] == [True, True]


def test_a_field_that_sees_nothing_has_no_centre_and_no_effective_padding(run):
    """Start (the first unit's centre) and effective padding (how far its field reaches left of
    pixel 0) describe a field; units that see no pixel have none: the rf table prints a dash and
    JSON null, not 0 (a field centred on pixel 0 that reaches nothing past it)."""
    import json

    spec = "1x12 | convtranspose1d 1 k2 s2 p1 d2 | maxpool1d 1 s2 | conv1d 1 k3 p1"
    layers = json.loads(run("rf", spec, "--format", "json").output)["layers"]
    assert [(r["size"], r["start"], r["effective_padding"]) for r in layers[1:]] == [([0], [None], [None])] * 2
    rows = [line.split() for line in run("rf", spec).output.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert [r[-4:] for r in rows] == [["0", "1", "–", "–"]] * 2


def test_explain_says_why_a_field_that_sees_nothing_is_0(run):
    """--explain gives the recurrence's number beside the engine's 0 ("formula gives 2"): it must
    say why (no unit of the layer sees any input pixel), for the first such layer and the next."""
    out = run("show", "1x12 | convtranspose1d 1 k2 s2 p1 d2 | maxpool1d 1 s2 | conv1d 1 k3 p1", "--explain").output
    blocks = out.split("\n\n")
    assert [sum("sees no input pixel" in b for b in blocks if b.lstrip().startswith(f"{i}  (")) for i in (0, 1, 2)] \
        == [0, 1, 1]
