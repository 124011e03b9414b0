"""verify's receptive-field check at the edges of what a layer's inputs see: no false report where
units see the same span, and no wrong field let through because one side of it is clipped.
Expected fields are worked out by hand in the comments (pixel i spans [i, i + 1); a field's
start is the centre of unit 0's field)."""
from fractions import Fraction

import convcalc as cc
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
