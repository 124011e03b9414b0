"""Teaching (issues #15, #14 item 7, #13 grading): class grading against a key, explanations for
learners, the layout hint, backward questions, and an answer parser that cannot be made to hang.

Expected values are written out as the lecture's arithmetic, never read back from convcalc.
"""
from __future__ import annotations

import csv
import io
import json
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc as cc
from convcalc.cli import cli
from convcalc.tutor import check as ck
from convcalc.tutor.explain import explain_layer
from convcalc.render.explain import to_text


def run(*args):
    return CliRunner().invoke(cli, list(args))


def text_of(layer, shape) -> str:
    return to_text([explain_layer(layer, shape, name="x")])


# -- #13: grading defects ---------------------------------------------------------------------------------
ALEXNET_PARAMS = 62_378_344  # convcalc's alexnet (the paper's, ungrouped): 62.4M


@pytest.mark.parametrize("text", ["0G", "0k", "0 billion", "0.0G", "0M"])
def test_zero_with_a_suffix_is_never_right_for_a_nonzero_count(text):
    assert ck.parse_number(text).matches(ALEXNET_PARAMS) is None


def test_zero_is_still_right_for_zero():
    assert ck.parse_number("0").matches(0) is not None
    assert ck.parse_number("0k").matches(0) is not None


@pytest.mark.parametrize("text", ["1e9999999", "1" * 5000, "9" * 61, "2^64^64^64", "((10^64)^64)^64",
                                  "1e-9999999", "5" * 300 + " MB"])
def test_huge_answers_are_clean_errors_fast(text):
    t0 = time.perf_counter()
    with pytest.raises(ck.CheckError):
        ck.parse_number(text)
    assert time.perf_counter() - t0 < 1.0


def test_huge_answer_on_the_command_line_is_one_line_exit_2():
    for answer in ("1e9999999", "7" * 5000):
        r = run("check", "conv2d", "--input", "3x32x32", "--out", "5", "-k", "5", "--expect-params", answer)
        assert r.exit_code == 2
        assert "Traceback" not in r.output
        assert len([line for line in r.output.splitlines() if line.strip()]) == 1


def test_huge_integer_in_a_sheet_is_graded_not_a_traceback(tmp_path):
    sheet = tmp_path / "s.yaml"
    sheet.write_text("questions:\n  - input: 3x32x32\n    layer: {conv2d: {out_channels: 5, kernel_size: 5}}\n"
                     f"    answers: {{params: {'7' * 5000}}}\n")
    r = run("check", str(sheet))
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_blank_answer_is_unanswered_and_the_run_goes_on(tmp_path):
    sheet = tmp_path / "s.yaml"
    sheet.write_text("questions:\n"
                     "  - input: 3x32x32\n    layer: {conv2d: {out_channels: 5, kernel_size: 5}}\n"
                     "    answers: {params: '', output: 5x28x28}\n"
                     "  - input: 3x32x32\n    layer: {conv2d: {out_channels: 5, kernel_size: 5}}\n"
                     "    answers: {params: 380}\n")
    result = ck.grade_sheet(str(sheet))
    v = {v.field: v for v in result.questions[0].verdicts}
    assert v["params"].status == "wrong" and v["params"].slip == "unanswered"
    assert v["output"].status == "right"  # 32 - 5 + 1 = 28
    assert result.questions[1].verdicts[0].status == "right"  # 5*(5*5*3) + 5 = 380
    assert result.exit_code == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_any_text_is_a_value_or_a_clean_error(text):
    for what in ("count", "bytes"):
        t0 = time.perf_counter()
        try:
            num = ck.parse_number(text, what)
            assert num.value is not None
        except ck.CheckError:
            pass
        assert time.perf_counter() - t0 < 1.0
    for parse in (ck.parse_shape, ck.parse_rf):
        try:
            parse(text)
        except ck.CheckError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("0123456789eE+-.,^*x/() kMGB")), max_size=80).map("".join))
def test_fuzz_numberlike_text_is_bounded(text):
    t0 = time.perf_counter()
    try:
        ck.parse_number(text)
    except ck.CheckError:
        pass
    assert time.perf_counter() - t0 < 1.0


# -- #15 item 3: explanations for learners ---------------------------------------------------------------
def test_cs231n_ten_5x5_filters_pad_2_on_32x32x3():
    # cs231n: (32 - 5 + 2*2)/1 + 1 = 32 -> 32x32x10; each filter 5*5*3 + 1 = 76 params -> 760
    text = text_of(cc.Conv2d(None, 10, 5, padding=2), (3, 32, 32))
    assert "H_out = ⌊(H − K_h + 2·P_h)/S_h⌋ + 1 = ⌊(32 − 5 + 2·2)/1⌋ + 1 = 32" in text
    assert f"params = C_out·C_in·K_h·K_w + C_out = 10·3·5·5 + 10 = {10 * (5 * 5 * 3 + 1)}" in text
    assert "D_h" not in text and "/g" not in text and "(3/1)" not in text  # no dilation, no groups


def test_alexnet_227_tiles_exactly():
    # (227 - 11)/4 = 216/4 = 54 -> 55
    text = text_of(cc.Conv2d(None, 96, 11, stride=4), (3, 227, 227))
    assert "H: (227 − 11 + 2·0)/4 = 216/4 = 54 exactly: the stride tiles the input" in text
    assert "⌊(227 − 11 + 2·0)/4⌋ + 1 = 55" in text


def test_alexnet_224_shows_the_quotient_and_the_remainder():
    # (224 - 11)/4 = 213/4 = 53.25 -> 53 + 1 = 54; 213 = 53*4 + 1: one pixel is never covered
    text = text_of(cc.Conv2d(None, 96, 11, stride=4), (3, 224, 224))
    assert "H: (224 − 11 + 2·0)/4 = 213/4 = 53.25 → ⌊53.25⌋ = 53, + 1 = 54" in text
    assert "stride 4 does not tile H: the last 1 pixel of the input (224 + 0 padding) is never covered" in text


def test_general_form_only_when_needed():
    text = text_of(cc.Conv2d(None, 96, 11, stride=4, dilation=2, groups=3), (3, 224, 224))
    # dilated: (224 - 2*(11 - 1) - 1)/4 = 203/4 = 50.75 -> 51
    assert "⌊(H + 2·P_h − D_h·(K_h − 1) − 1)/S_h⌋ + 1 = ⌊(224 + 2·0 − 2·(11 − 1) − 1)/4⌋ + 1 = 51" in text
    assert "(C_in/g)" in text and "(3/3)" in text


def test_dumoulin_visin_transposed_3_to_5():
    # i = 3, k = 3, s = 2, p = 1: (3 - 1)*2 - 2*1 + 3 = 5; as a direct conv: 3 inputs with one zero
    # between each -> 5, padded by k - p - 1 = 1 on each side -> 7, a 3-wide stride-1 conv -> 5
    text = text_of(cc.ConvTranspose2d(None, 1, 3, stride=2, padding=1), (1, 3, 3))
    assert "out = (i − 1)·s − 2p + k = (3 − 1)·2 − 2·1 + 3 = 5" in text
    assert "insert s − 1 = 1 zero between inputs: (3 − 1)·2 + 1 = 5" in text
    assert "pad k − p − 1 = 3 − 1 − 1 = 1 on each side: 7" in text
    assert "stride-1 conv with a 3-wide kernel: 7 − 3 + 1 = 5" in text
    assert "(-(" not in text  # no sympy-shaped field formula


def test_fields_in_the_lecture_recurrence():
    # two 3x3 convs, the first stride 2: r = 1 + 2*1 = 3 (j 2), then 3 + 2*2 = 7 (j 2)
    r = run("3x32x32 | conv 4 k3 s2 | conv 4 k3", "--explain")
    assert "RF size (H) = r_in + (K_h − 1)·j_in = 1 + (3 − 1)·1 = 3" in r.output
    assert "RF jump (H) = j_in·S_h = 1·2 = 2" in r.output
    assert "RF size (H) = r_in + (K_h − 1)·j_in = 3 + (3 − 1)·2 = 7" in r.output


def test_whole_model_explanation_has_totals():
    # conv 3->10 3x3 p1: 10*27 + 10 = 280 params, 10*32*32*27 = 276,480 MACs; linear 10*32*32 -> 10:
    # 10240*10 + 10 = 102,410 params, 102,400 MACs
    r = run("3x32x32 | conv 10 k3 p1 | flatten | linear 10", "--explain")
    assert r.exit_code == 0
    assert f"params = 280 + 102,410 = {280 + 102_410:,}" in r.output
    assert f"MACs = 276,480 + 102,400 = {276_480 + 102_400:,}" in r.output


def test_explain_training_shows_dx_and_dw():
    # conv 3 -> 16, 3x3 p1 on 32x32: forward 16*32*32*3*9 = 442,368 MACs; dX (not needed: the input
    # is the data) and dW each that many
    r = run("layer", "conv2d", "--input", "3x32x32", "--out", "16", "-k", "3", "-p", "1", "--explain", "--training")
    assert r.exit_code == 0, r.output
    fwd = 16 * 32 * 32 * 3 * 9
    assert f"dX = conv_transpose(dY, W): dY 16x32x32 with W 16x3x3x3 → dX 3x32x32; MACs = the forward's = {fwd:,}" \
        in r.output
    assert f"dW = conv(X, dY): X 3x32x32 with dY 16x32x32 → dW 16x3x3x3; MACs = the forward's = {fwd:,}" in r.output
    assert f"backward MACs = dW = {fwd:,}" in r.output


def test_explain_training_linear_second_layer_needs_dx():
    # linear 64 -> 32 after a linear 100 -> 64: dX + dW = 2 * 64*32
    r = run("100 | linear 64 | linear 32", "--explain", "--training")
    assert "dX = dY·W: dY 32 with W 32x64 → dX 64" in r.output
    assert f"backward MACs = dX + dW = 2,048 + 2,048 = {2 * 64 * 32:,}" in r.output


def test_solve_explain_padding_and_stride():
    r = run("solve", "conv2d", "--input", "32", "--output", "32", "-k", "5", "--find", "padding", "--explain")
    # P = ((32 - 1)*1 - 32 + 5)/2 = 2
    assert "P = ((out − 1)·S − L + K)/2 = ((32 − 1)·1 − 32 + 5)/2 = 2" in r.output
    assert "check padding = 2: ⌊(32 − 5 + 2·2)/1⌋ + 1 = ⌊31⌋ + 1 = 32 ✓" in r.output
    r = run("solve", "convtranspose2d", "--input", "8x16x16", "--output", "32", "-k", "3", "-s", "2", "-p", "1",
            "--find", "output_padding", "--explain")
    # OP = 32 - (16 - 1)*2 + 2*1 - 3 = 1
    assert "OP = out − (L − 1)·S + 2P − K = 32 − (16 − 1)·2 + 2·1 − 3 = 1" in r.output


# -- #15 item 4: the layout hint -----------------------------------------------------------------------------
HINT = "looks like HxWxC"


@pytest.mark.parametrize("args, hinted", [
    (["layer", "conv2d", "--input", "32x32x3", "--out", "5", "-k", "3"], True),
    (["layer", "conv2d", "--input", "64x64x4", "--out", "5", "-k", "3"], True),
    (["layer", "conv2d", "--input", "28x28x1", "--out", "5", "-k", "3"], True),
    (["layer", "conv2d", "--input", "3x32x32", "--out", "5", "-k", "3"], False),
    (["layer", "conv2d", "--input", "4x32x3", "--out", "5", "-k", "3"], False),      # first not > 4
    (["layer", "batchnorm2d", "--input", "16x4x4"], False),                          # a square CxHxW map
    (["layer", "conv2d", "--input", "32x32x3", "--layout", "chw", "--out", "5", "-k", "3"], False),  # explicit
    (["layer", "conv2d", "--input", "32x32x3", "--layout", "hwc", "--out", "5", "-k", "3"], False),
    (["32x32x3 | conv 5 k3"], True),
    (["3x32x32 | conv 5 k3"], False),
    (["alexnet"], False),
    (["check", "conv2d", "--input", "32x32x3", "--out", "5", "-k", "3", "--expect-params", "140"], True),
])
def test_layout_hint(args, hinted):
    r = CliRunner().invoke(cli, args)
    assert (HINT in r.stderr) == hinted, r.stderr
    assert HINT not in r.stdout
    if hinted:
        assert len([line for line in r.stderr.splitlines() if HINT in line]) == 1


def test_check_names_the_answer_for_the_image_reading():
    # read CxHxW, 32x32x3 is 32 channels of 32x3: the student meant 3 channels of 32x32 -> 30x30x5, and
    # 5*(3*3*3) + 5 = 140 parameters
    q = ck.Question(1, cc.Sequential(("c", cc.Conv2d(None, 5, 3))), (32, 32, 3),
                    {"output": "30x30x5", "params": 140})
    g = ck.grade(q)
    v = {x.field: x for x in g.verdicts}
    assert v["output"].slip == "other_layout" and v["params"].slip == "other_layout"


def test_sheet_hint_once(tmp_path):
    sheet = tmp_path / "s.yaml"
    sheet.write_text("questions:\n" + "  - input: 32x32x3\n    layer: {conv2d: {out_channels: 5, kernel_size: 3}}\n"
                     "    answers: {params: 1445}\n" * 2)
    r = CliRunner().invoke(cli, ["check", str(sheet)])
    assert r.stderr.count(HINT) == 1 and "question 1" in r.stderr


# -- #15 item 2: a class graded against a key --------------------------------------------------------------
KEY = """title: Week 7 (answer key)
layout: hwc
questions:
  - id: conv
    text: ten 5x5 filters, pad 2, on 32x32x3
    input: 32x32x3
    layer: {conv2d: {out_channels: 10, kernel_size: 5, padding: 2}}
    answers: {output: 32x32x10, params: 760}
  - id: alex
    text: 96 11x11 filters stride 4 on 227x227x3
    input: 227x227x3
    layer: {conv2d: {out_channels: 96, kernel_size: 11, stride: 4}}
    answers: {output: 55x55x96}
  - id: grouped
    text: 256 5x5 filters pad 2 in 2 groups on 27x27x96
    input: 27x27x96
    layer: {conv2d: {out_channels: 256, kernel_size: 5, padding: 2, groups: 2}}
    answers: {params: 307456}
"""
# 10*(5*5*3) + 10 = 760; (227 - 11)/4 + 1 = 55; 256*(96/2)*5*5 + 256 = 307,456
SUBMISSIONS = {
    "ada": {"conv": {"output": "32x32x10", "params": 760}, "alex": {"output": "55x55x96"},
            "grouped": {"params": 307456}},
    # forgot the bias (750), answered CHW (96x55x55), forgot groups (256*96*25 + 256 = 614,656)
    "bo": {"conv": {"output": "32x32x10", "params": 750}, "alex": {"output": "96x55x55"},
           "grouped": {"params": 614656}},
    # forgot the padding (28x28x10), blank, and 'grouped' left out entirely
    "cy": {"conv": {"output": "28x28x10", "params": 760}, "alex": {"output": ""}},
    # no floor (227 - 11)/4 + 1 is whole, so a made-up wrong answer with no named slip; forgot groups
    "di": {"conv": {"output": "32x32x10", "params": "760"}, "alex": {"output": "54x54x96"},
           "grouped": {"params": 614656}},
}


def _write_class(tmp_path, subs=SUBMISSIONS):
    import yaml

    (tmp_path / "key.yaml").write_text(KEY)
    d = tmp_path / "class"
    d.mkdir()
    for name, answers in subs.items():
        # a student may edit the question (here: the stride); only the answers are read
        qs = [{"id": i, "layer": {"conv2d": {"out_channels": 1, "kernel_size": 1, "stride": 9}}, "answers": a}
              for i, a in answers.items()]
        (d / f"{name}.yaml").write_text(yaml.safe_dump({"title": "mine", "questions": qs}))
    return str(tmp_path / "key.yaml"), str(d)


def test_class_gradebook_csv(tmp_path):
    key, d = _write_class(tmp_path)
    r = run("check", "--key", key, d, "--format", "csv")
    assert r.exit_code == 1  # some answers are wrong, no file is broken
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows == [
        ["submission", "score", "total", "conv", "alex", "grouped"],
        ["ada", "4", "4", "✓", "✓", "✓"],
        ["bo", "1", "4", "params: bias", "other_layout", "groups"],
        ["cy", "1", "4", "output: padding", "unanswered", "unanswered"],
        ["di", "2", "4", "✓", "wrong", "groups"],
    ]


def test_class_statistics_json(tmp_path):
    key, d = _write_class(tmp_path)
    data = json.loads(run("check", "--key", key, d, "--format", "json").stdout)
    stats = {s["id"]: s for s in data["questions"]}
    assert (stats["conv"]["right"], stats["conv"]["submissions"]) == (2, 4)  # ada, di
    assert (stats["alex"]["right"], stats["grouped"]["right"]) == (1, 1)
    assert stats["grouped"]["most_common_slip"] == "groups" and stats["grouped"]["slip_count"] == 2
    assert data["broken"] == []
    assert [g["score"] for g in data["gradebook"]] == [4, 1, 1, 2]


def test_class_text_and_markdown(tmp_path):
    key, d = _write_class(tmp_path)
    r = run("check", "--key", key, d)
    assert "gradebook" in r.stdout and "forgot groups" in r.stdout
    assert sum(line.startswith("score ") for line in r.stdout.splitlines()) == 4  # one report per student
    md = run("check", "--key", key, d, "--format", "markdown").stdout
    assert "| bo | 1/4 | params: bias | other_layout | groups |" in md


def test_class_broken_files_named_exit_2_others_graded(tmp_path):
    subs = dict(SUBMISSIONS)
    subs["eve"] = {"week9-q1": {"params": 1}}
    key, d = _write_class(tmp_path, subs)
    (tmp_path / "class" / "fay.yaml").write_text("questions:\n  - id: conv\n    answers: {params: 760}\n"
                                                 "  - id: conv\n    answers: {params: 1}\n")
    r = run("check", "--key", key, d, "--format", "csv")
    assert r.exit_code == 2
    assert len(list(csv.reader(io.StringIO(r.stdout)))) == 1 + 4  # the four good ones still graded
    errors = [line for line in r.stderr.splitlines() if line]
    assert any("eve.yaml: question 1 (week9-q1)" in e and "different key" in e for e in errors)
    assert any("fay.yaml: question 2 (conv): duplicate question id" in e for e in errors)


@pytest.mark.parametrize("key, needle", [
    (KEY.replace("id: alex", "id: conv"), "key.yaml: question 2 (conv): duplicate question id"),
    (KEY.replace("answers: {output: 55x55x96}", "answers: {}"), "key.yaml: question 2 (alex): the key has no answer"),
    (KEY.replace("answers: {output: 55x55x96}", "answers: {output: }"), "question 2 (alex): the key has no answer"),
    (KEY.replace("  - id: alex\n    text:", "  - text:"), "key.yaml: question 2: no id"),
])
def test_bad_keys_one_line_exit_2(tmp_path, key, needle):
    (tmp_path / "key.yaml").write_text(key)
    (tmp_path / "s.yaml").write_text("questions:\n  - id: conv\n    answers: {params: 760}\n")
    r = run("check", "--key", str(tmp_path / "key.yaml"), str(tmp_path / "s.yaml"))
    assert r.exit_code == 2
    assert needle in r.output and "Traceback" not in r.output
    assert len([line for line in r.output.splitlines() if line.strip()]) == 1


# -- #14 item 7: backward questions ---------------------------------------------------------------------------
def test_backward_questions_graded(tmp_path):
    sheet = tmp_path / "b.yaml"
    # conv1 3->16 3x3 p1, relu, conv2 16->32 3x3 p1 on 32x32; at conv2: forward 32*32*32*16*9 = 4,718,592,
    # backward dX + dW = 2 * 4,718,592; dX 16x32x32, dW 32x16x3x3; conv1 alone (the data's layer):
    # dW only = 16*32*32*3*9 = 442,368; adam: (16*27 + 16)*4*(2 + 2) = 7,168 B
    sheet.write_text(f"""questions:
  - input: 3x32x32
    layers: [{{conv2d: {{out_channels: 16, kernel_size: 3, padding: 1}}}}, relu,
             {{conv2d: {{out_channels: 32, kernel_size: 3, padding: 1}}}}]
    at: 3
    answers: {{backward_macs: {2 * 32 * 32 * 32 * 16 * 9}, grad_input_shape: 16x32x32, grad_weight_shape: 32x16x3x3}}
  - input: 3x32x32
    optimizer: adam
    layer: {{conv2d: {{out_channels: 16, kernel_size: 3, padding: 1}}}}
    answers: {{backward_macs: {16 * 32 * 32 * 3 * 9}, training_memory: {(16 * 27 + 16) * 4 * 4}}}
""")
    result = ck.grade_sheet(str(sheet))
    assert [v.status for g in result.questions for v in g.verdicts] == ["right"] * 5, \
        [(v.field, v.expected) for g in result.questions for v in g.verdicts]


def test_backward_quiz_keys_rederived(tmp_path):
    from convcalc import quiz as qz

    for diff in (1, 2, 3):
        made = qz.make_quiz("backward", 6, seed=3, difficulty=diff)
        for q in made.questions:
            item = q.item
            layers = [item["layer"]] if "layer" in item else item["layers"]
            dims = [int(x) for x in str(item["input"]).split("x")]
            weighted = [lay for lay in layers if isinstance(lay, dict)]
            lay = weighted[-1]
            (kind, a), = lay.items()
            if kind == "conv2d":
                c_in = dims[0] if len(weighted) == 1 else weighted[0]["conv2d"]["out_channels"]
                k, p = a["kernel_size"], a.get("padding", 0)
                h = dims[1] + 2 * p - k + 1
                w_shape = (a["out_channels"], c_in, k, k)
                n_params = a["out_channels"] * c_in * k * k + a["out_channels"]
                fwd = a["out_channels"] * h * h * c_in * k * k
            else:
                f_in, f_out = dims[0], a["out_features"]
                w_shape, n_params, fwd = (f_out, f_in), f_in * f_out + f_out, f_in * f_out
            expect = {"grad_weight_shape": "x".join(map(str, w_shape)),
                      "grad_input_shape": "x".join(map(str, [c_in if len(weighted) > 1 else dims[0], *dims[1:]])),
                      "backward_macs": fwd * (2 if len(weighted) > 1 else 1),
                      "training_memory": n_params * 4 * (2 + {"sgd": 0, "momentum": 1, "adam": 2}[
                          item.get("optimizer", "sgd")])}
            for f, v in q.answers.items():
                assert v == expect[f], (diff, q.ident, f)


def test_backward_quiz_is_stable_and_grades_right(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run("quiz", "--topic", "backward", "--count", "5", "--seed", "7", "--difficulty", "2",
                   "--out", str(out)).exit_code == 0
    for name in ("quiz.yaml", "key.yaml", "key.md", "key.tex"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert run("check", str(a / "key.yaml")).exit_code == 0
