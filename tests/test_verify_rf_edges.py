"""verify's receptive-field check at the edges of what a layer's inputs see: no false report where
units see the same span, and no wrong field let through because one side of it is clipped.
Expected fields are worked out by hand in the comments (pixel i spans [i, i + 1); a field's
start is the centre of unit 0's field)."""
import dataclasses
from fractions import Fraction

import numpy as np
import pytest

import convcalc as cc
from convcalc import verify as verify_mod
from convcalc.verify import verify


def _rf_failures(result):
    return [(r.name, c.claimed, c.measured) for r in result.layers for q, c in r.checks.items()
            if q == "rf" and c.ok is False]


def test_units_that_all_see_one_span_are_not_held_to_the_jump():
    # 6 pixels. conv k2 s3: units [0, 1], [3, 4] (pixel 5 dropped); size 2, jump 3, start 1.
    # maxpool k4 s2 p2: windows [-2, 1] and [0, 3] over those 2 units: both see units 0 and 1,
    # pixels [0, 4]; size 2 + 3*3 = 11, jump 6, start 1 + (3/2 - 2)*3 = -1/2.
    # conv k1 p1: units 0 and 3 read padding only, 1 and 2 read pool units 0 and 1: [0, 4] both;
    # size 11, jump 6, start -1/2 - 6 = -13/2. The engine's fields are right; every unit that sees
    # anything sees [0, 4], so the neighbour of the unit checked is no shift of it
    net = cc.Sequential(cc.Conv1d(None, 1, 2, stride=3), cc.MaxPool1d(4, stride=2, padding=2),
                        cc.Conv1d(None, 1, 1, padding=1))
    a = cc.analyze(net, (1, 6)).rows[-1].rf[0]
    assert (a.size, a.jump, a.start) == (11, 6, Fraction(-13, 2))
    assert not _rf_failures(verify(net, (1, 6)))


def test_a_field_one_pixel_too_wide_past_a_dropped_pixel_is_caught(monkeypatch):
    # 7 pixels. conv k2 s2: units [0, 1], [2, 3], [4, 5]; pixel 6 is dropped, so the layer after
    # sees pixels 0..5 at most. conv k3 p1 over them: unit 0 reads units -1 (padding), 0, 1:
    # [0, 3]; unit 1 reads 0, 1, 2: [0, 5]; unit 2 reads 1, 2, 3 (padding): [2, 5]. Size 6, jump 2,
    # start 1 (unit 0's field [-2, 3] in the engine's border-free terms).
    net = cc.Sequential(cc.Conv1d(None, 1, 2, stride=2), cc.Conv1d(None, 1, 3, padding=1))
    a = cc.analyze(net, (1, 7)).rows[-1].rf[0]
    assert (a.size, a.jump, a.start) == (6, 2, 1)
    assert not _rf_failures(verify(net, (1, 7)))
    # one pixel wider on the right: unit 0 would see [-2, 4] (pixel 4 is real and seen by the
    # layer's inputs, so it is no clipping), unit 1 [0, 6]. Both are wrong; the check must say so
    # even though the middle unit's new pixel 6 is one that no unit sees
    real = verify_mod.rf_check

    def wider(row_rf, fields, in_sizes, out_shape, in_fields=None):
        if row_rf[0] == a:
            row_rf = (dataclasses.replace(a, size=a.size + 1, start=Fraction(a.start) + Fraction(1, 2)),)
        return real(row_rf, fields, in_sizes, out_shape, in_fields)

    monkeypatch.setattr(verify_mod, "rf_check", wider)
    assert _rf_failures(verify(net, (1, 7)))


def test_a_neighbour_cut_short_by_padding_past_a_transposed_conv_is_no_error():
    # 3 pixels. convT k4 s3 p3 d2: 7 outputs; output o reads pixel (o + 3 - 2m)/3 for m = 0..3
    # where that is a whole number in range: o = 1 reads 0, o = 4 reads 1, o = 7 (past the end)
    # would read pixel 2. conv k2 s3 p2 d3: unit j reads outputs 3j - 2 and 3j + 1: unit 1 reads
    # 1 and 4: [0, 1]; unit 2 reads 4 and 7: the engine's field is [1, 2] (size 2, jump 1, start
    # 0), but output 7 is padding, so unit 2 sees [1, 1]. Its edge that faces the middle unit is
    # whole; the other is cut by the tensor's end, and is no error of the engine
    net = cc.Sequential(cc.ConvTranspose1d(None, 1, 4, stride=3, padding=3, dilation=2),
                        cc.Conv1d(None, 1, 2, stride=3, padding=2, dilation=3))
    a = cc.analyze(net, (1, 3)).rows[-1].rf[0]
    assert (a.size, a.jump, a.start) == (2, 1, 0)
    assert not _rf_failures(verify(net, (1, 3)))


def test_a_unit_cut_short_on_the_side_of_the_tensors_start_is_no_error():
    # 16 pixels. convT k2 s3 p2 d2: output o reads pixel (o + 2)/3 where o = 1 (mod 3), o/3 where
    # o = 0 (mod 3), nothing where o = 2. maxpool k4 s3 p2 d3: unit j reads outputs 3j - 2 + 3t,
    # t = 0..3, all = 1 (mod 3): pixels j..j+3 (size 4, jump 1, start 2). Unit 0's first tap,
    # output -2, is padding: it sees [1, 3], not [0, 3]; every other unit sees its whole field
    net = cc.Sequential(cc.ConvTranspose1d(None, 1, 2, stride=3, padding=2, dilation=2),
                        cc.MaxPool1d(4, stride=3, padding=2, dilation=3))
    a = cc.analyze(net, (1, 16)).rows[-1].rf[0]
    assert (a.size, a.jump, a.start) == (4, 1, 2)
    assert not _rf_failures(verify(net, (1, 16)))


@pytest.mark.parametrize("n,scale", [(8, 3), (25, 3), (17, 2.5)])
def test_align_corners_upsampling_reads_no_pixel_the_operator_does_not(n, scale):
    # align_corners: output o reads source o*(n-1)/(out-1). On 8 pixels x3 (24 outputs) output 23
    # reads 23*7/23 = 7: pixel 7 alone. torch's float32 ratio 7/23 times 23 is 6.9999995, which
    # reads pixel 6 with a weight of 5e-7; the field (and torch in float64) has no pixel 6
    torch = pytest.importorskip("torch")
    from convcalc.kernels.misc import upsample
    eye = np.eye(n, dtype=np.float32)[:, None, :]  # one impulse per pixel
    y, _ = upsample(eye, scale_factor=scale, mode="linear", align_corners=True)
    ref = torch.nn.functional.interpolate(torch.from_numpy(eye.astype(np.float64)), scale_factor=scale,
                                          mode="linear", align_corners=True).numpy()
    assert np.allclose(y, ref, atol=1e-6)
    assert np.array_equal(y != 0, ref != 0)
    net = cc.Sequential(cc.Upsample(scale_factor=scale, mode="linear", align_corners=True))
    assert not _rf_failures(verify(net, (1, n)))


@pytest.mark.parametrize("n,out", [(11, 21), (23, 45)])
def test_linear_upsampling_to_a_size_reads_no_pixel_the_operator_does_not(n, out):
    # 11 pixels to 21 (align_corners off): output o reads source (o + 1/2)*11/21 - 1/2; o = 10
    # gives 10.5*11/21 - 1/2 = 5 exactly: pixel 5 alone. In float32 the ratio 11/21 makes it
    # 5.0000005, pixel 6 with a weight of 5e-7 (torch float32 does the same; float64 does not)
    torch = pytest.importorskip("torch")
    from convcalc.kernels.misc import upsample
    eye = np.eye(n, dtype=np.float32)[:, None, :]
    y, _ = upsample(eye, size=out, mode="linear")
    ref = torch.nn.functional.interpolate(torch.from_numpy(eye.astype(np.float64)), size=out, mode="linear").numpy()
    assert np.allclose(y, ref, atol=1e-6)
    assert np.array_equal(y != 0, ref != 0)
    net = cc.Sequential(cc.Upsample(size=out, mode="linear"), cc.Conv1d(None, 1, 2, stride=2))
    assert not _rf_failures(verify(net, (1, n)))
