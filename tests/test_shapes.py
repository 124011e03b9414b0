"""The one shape parser and the Layout type (convcalc/shapes.py)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.errors import ConvcalcError
from convcalc.shapes import Layout, from_chw, parse_ints, parse_shape, to_chw, to_dims


@pytest.mark.parametrize("text, expected", [
    ("3x224x224", (3, 224, 224)),
    ("3X32X32", (3, 32, 32)),
    ("3×32×32", (3, 32, 32)),
    ("3*32*32", (3, 32, 32)),
    ("(3, 32, 32)", (3, 32, 32)),
    ("[3,32,32]", (3, 32, 32)),
    (" 3 x 32 ", (3, 32)),
    ("224", (224,)),
    ("3xHxW", (3, "H", "W")),
    ("C_in x h1", ("C_in", "h1")),
])
def test_parse_shape(text, expected):
    assert parse_shape(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "malformed shape '': expected sizes joined by 'x', e.g. 3x224x224"),
    ("3x", "malformed shape '3x': expected sizes joined by 'x', e.g. 3x224x224"),
    ("3x0x2", "malformed shape '3x0x2': sizes must be at least 1, got 0"),
    ("-3x4x4", "malformed shape '-3x4x4': '-3' is neither a positive integer nor a symbol name"),
    ("abc!", "malformed shape 'abc!': 'abc!' is neither a positive integer nor a symbol name"),
])
def test_parse_shape_errors(text, message):
    with pytest.raises(ConvcalcError) as e:
        parse_shape(text)
    assert str(e.value) == message


def test_parse_shape_without_symbols():
    with pytest.raises(ConvcalcError, match="'H' is not a positive integer"):
        parse_shape("3xHxW", symbols=False)


def test_parse_ints():
    assert parse_ints("3") == (3,)
    assert parse_ints("3x5") == (3, 5)
    assert parse_ints("3,5") == (3, 5)
    assert parse_ints("0x-1") == (0, -1)
    assert parse_ints(7) == (7,)
    for bad in ("", "a", "3x", "3.5"):
        with pytest.raises(ConvcalcError):
            parse_ints(bad)


@given(st.text(max_size=60))
@settings(max_examples=400, deadline=None)
def test_any_text_is_a_shape_or_a_one_line_error(text):
    for parse in (parse_shape, lambda t: parse_shape(t, symbols=False), parse_ints):
        try:
            out = parse(text)
        except ConvcalcError as e:
            assert "\n" not in str(e) and str(e)
        else:
            assert isinstance(out, tuple) and out


@given(st.lists(st.sampled_from("0123456789xX×*,()[] HWabc_-+.\n\t٣²"), max_size=25).map("".join))
@settings(max_examples=400, deadline=None)
def test_shape_like_text_is_a_shape_or_a_one_line_error(text):
    try:
        out = parse_shape(text)
    except ConvcalcError as e:
        assert "\n" not in str(e)
    else:
        assert all((isinstance(d, int) and d >= 1) or (isinstance(d, str) and d.isidentifier()) for d in out)


def test_layout_hwc_moves_the_channel_axis():
    assert Layout.HWC.to_chw((32, 24, 3)) == (3, 32, 24)
    assert Layout.HWC.from_chw((3, 32, 24)) == (32, 24, 3)
    assert Layout.CHW.to_chw((3, 32, 24)) == (3, 32, 24)
    assert Layout.HWC.to_chw((10,)) == (10,)  # no channel axis to move
    assert to_chw((8, 8, 8, 2), "hwc") == (2, 8, 8, 8)
    assert from_chw((2, 8, 8, 8), "hwc") == (8, 8, 8, 2)
    assert Layout("hwc") is Layout.HWC and Layout.HWC == "hwc"
    with pytest.raises(ConvcalcError, match="expected chw or hwc"):
        Layout.of("whc")


@given(st.sampled_from(list(Layout)), st.lists(st.integers(1, 999), min_size=0, max_size=5).map(tuple))
def test_layout_round_trips(layout, shape):
    assert layout.from_chw(layout.to_chw(shape)) == shape
    assert layout.to_chw(layout.from_chw(shape)) == shape
    assert sorted(layout.to_chw(shape)) == sorted(shape)


def test_to_dims():
    assert to_dims((224,), "chw") == (3, 224, 224)
    assert to_dims((224,), "hwc") == (3, 224, 224)
    assert to_dims((32, 32, 3), "hwc") == (3, 32, 32)
    assert to_dims((5,), "chw", square_default=False) == (5,)
    assert to_dims(None, "chw") is None
    c, h, w = to_dims((3, "H", "W"), "chw")
    assert c == 3 and str(h) == "H" and str(w) == "W"
