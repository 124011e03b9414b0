"""`convcalc quiz`: every key answer re-derived here, seed stability, the key graded by `check`.

The answers are recomputed from the question as written in the key (its input and layers) with the
arithmetic below, never copied from convcalc's output; zoo questions are walked through the zoo
model's graph with the same arithmetic; a sample of single layers is also executed by the NumPy core.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from convcalc import quiz as qz
from conftest import run  # the shared in-process CLI runner
from convcalc.quiz.work import transposed_axis, window_axis

TOPICS = ("output-size", "params", "macs", "rf", "padding", "transposed", "pooling", "memory", "mixed")
BYTES = {"fp32": 4, "fp16": 2}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the arithmetic, written out ---------------------------------------------------------------------------
def conv_size(L, k, s, p, d=1):
    return (L + 2 * p - d * (k - 1) - 1) // s + 1


def pool_size(L, k, s, p, ceil):
    if not ceil:
        return (L + 2 * p - k) // s + 1
    n = -(-(L + 2 * p - k) // s) + 1
    if (n - 1) * s >= L + p:  # PyTorch: the last window must start inside the input or the left padding
        n -= 1
    return n


def layer_math(item, shape):
    """(output shape, params, MACs, (k_eff, stride) or None) of one spec layer item on ``shape``."""
    if item == "relu":
        return shape, 0, 0, None
    if item == "flatten":
        return (math.prod(shape),), 0, 0, None
    (kind, a), = item.items()
    if kind == "linear":
        f_in, f_out = shape[0], a["out_features"]
        return (f_out,), f_in * f_out + f_out, f_in * f_out, None
    if kind == "adaptiveavgpool2d":
        size = a["output_size"]
        size = (size, size) if isinstance(size, int) else tuple(size)
        return (shape[0], *size), 0, 0, None
    c, h, w = shape
    k, s, p = a["kernel_size"], a.get("stride", 1), a.get("padding", 0)
    d, g = a.get("dilation", 1), a.get("groups", 1)
    if kind == "conv2d":
        co = a["out_channels"]
        ho, wo = conv_size(h, k, s, p, d), conv_size(w, k, s, p, d)
        bias = co if a.get("bias", True) else 0
        return (co, ho, wo), co * (c // g) * k * k + bias, co * ho * wo * (c // g) * k * k, (d * (k - 1) + 1, s)
    if kind == "convtranspose2d":
        co, op = a["out_channels"], a.get("output_padding", 0)
        ho, wo = ((L - 1) * s - 2 * p + d * (k - 1) + op + 1 for L in (h, w))
        return (co, ho, wo), c * (co // g) * k * k + co, c * h * w * (co // g) * k * k, None
    assert kind in ("maxpool2d", "avgpool2d"), kind
    ceil = a.get("ceil_mode", False)
    return (c, pool_size(h, k, s, p, ceil), pool_size(w, k, s, p, ceil)), 0, 0, (k, s)


def parse_shape(text, layout):
    dims = [int(x) for x in str(text).split("x")]
    return tuple(dims[-1:] + dims[:-1]) if layout == "hwc" and len(dims) > 1 else tuple(dims)


def shape_answer(shape, layout):
    dims = list(shape[1:]) + [shape[0]] if layout == "hwc" and len(shape) > 1 else list(shape)
    return "x".join(map(str, dims))


def derive_layers(q, layout):
    """Every field's value for a question given as an input and layers."""
    shape = parse_shape(q["input"], layout)
    items = [q["layer"]] if "layer" in q else q["layers"]
    params = macs = values = 0
    r, j = 1, 1
    outputs = []
    for item in items:
        shape, p, m, window = layer_math(item, shape)
        params, macs = params + p, macs + m
        outputs.append(shape)
        values += math.prod(shape)
        if window:
            r, j = r + (window[0] - 1) * j, j * window[1]
    nbytes = BYTES[q.get("dtype", "fp32")]
    return {"output": shape_answer(shape, layout), "params": params, "macs": macs, "flops": 2 * macs,
            "rf": f"{r}x{r}", "memory": values * nbytes, "param_memory": params * nbytes}


def derive_zoo(q, layout):
    """The asked row of a zoo model, walked through its graph with the arithmetic above."""
    from convcalc import zoo
    from convcalc.graph import to_graph
    from convcalc.layers.merge import Add, Concat

    model = zoo.get(q["model"])
    rows = {}

    def visit(node, ins):
        lay = node.layer
        if isinstance(lay, Add):
            out, p, m, win = ins[0][0], 0, 0, None
        elif isinstance(lay, Concat):
            out, p, m, win = (sum(s[0] for s, _ in ins), *ins[0][0][1:]), 0, 0, None
        else:
            out, p, m, win = layer_math(item_of(lay), ins[0][0])
        rf = ins[0][1]
        if win and rf is not None:
            rf = (rf[0] + (win[0] - 1) * rf[1], rf[1] * win[1])
        rows.setdefault(node.name, (out, p, m, rf))
        return out, rf

    to_graph(model.net).walk((tuple(model.input), (1, 1)), visit)
    out, p, m, rf = rows[q["at"]]
    return {"output": shape_answer(out, layout), "params": p, "macs": m, "rf": f"{rf[0]}x{rf[0]}",
            "memory": math.prod(out) * 4}


def item_of(lay):
    """A zoo layer as a spec item (its own PyTorch arguments), so that layer_math applies."""
    from convcalc.layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, Flatten, Linear,
                                 MaxPool2d)

    a = lay.args()
    if isinstance(lay, (Conv2d, ConvTranspose2d)):
        one = {k: (v[0] if isinstance(v, tuple) else v) for k, v in a.items()
               if k in ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "output_padding")}
        one["bias"] = a["bias"]
        return {lay.kind: one}
    if isinstance(lay, (MaxPool2d, AvgPool2d)):
        return {lay.kind: {"kernel_size": lay.kernel_size[0], "stride": lay.stride[0], "padding": lay.padding[0],
                           "ceil_mode": lay.ceil_mode}}
    if isinstance(lay, AdaptiveAvgPool2d):
        return {"adaptiveavgpool2d": {"output_size": lay.args()["output_size"]}}
    if isinstance(lay, Linear):
        return {"linear": {"out_features": lay.out_features}}
    if isinstance(lay, Flatten):
        return "flatten"
    return "relu"  # activations, norms, dropout: the shape passes through


def write_quiz(tmp_path, topic, seed, difficulty, layout="hwc", count=25, name=None):
    out = tmp_path / (name or f"{topic}-{difficulty}-{seed}")
    res = run("quiz", "--topic", topic, "--count", str(count), "--seed", str(seed), "--layout", layout,
              "--difficulty", str(difficulty), "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# -- every answer re-derived ---------------------------------------------------------------------------------
@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_every_key_answer_rederived(tmp_path, topic, difficulty):
    for seed, layout in ((1, "hwc"), (2, "chw")):
        out = write_quiz(tmp_path, topic, seed, difficulty, layout)
        key = load(out / "key.yaml")
        sheet = load(out / "quiz.yaml")
        assert key["layout"] == layout and len(key["questions"]) == 25
        for q, blank in zip(key["questions"], sheet["questions"]):
            truth = derive_zoo(q, layout) if "model" in q else derive_layers(q, layout)
            assert q["answers"], q
            for fld, given in q["answers"].items():
                assert given == truth[fld], (q["id"], fld, q)
            # the sheet asks the same question with the answers left blank
            assert {k: v for k, v in blank.items() if k != "answers"} == \
                   {k: v for k, v in q.items() if k != "answers"}
            assert blank["answers"] == {f: None for f in q["answers"]}


def test_difficulty_one_is_one_layer_stride_one_square(tmp_path):
    key = load(write_quiz(tmp_path, "output-size", 4, 1, count=60) / "key.yaml")
    for q in key["questions"]:
        (kind, a), = q["layer"].items()
        h, w, _ = parse_shape(q["input"], "chw")  # HxWxC text read as written
        assert h == w
        assert a.get("stride", 1) == 1 or kind != "conv2d"
        if kind != "conv2d":  # a non-overlapping pool that tiles the input exactly
            assert a["kernel_size"] == a["stride"] and h % a["stride"] == 0


def test_mixed_includes_networks_and_zoo_rows(tmp_path):
    key = load(write_quiz(tmp_path, "mixed", 11, 3, count=60) / "key.yaml")
    qs = key["questions"]
    assert any("model" in q for q in qs)
    assert any(len(q.get("layers", [])) >= 2 for q in qs)
    kinds = {next(iter(q["answers"])) for q in qs}
    assert {"output", "params", "macs", "rf", "memory"} <= kinds | {"param_memory"}


def test_single_layers_executed_by_the_numpy_core(tmp_path):
    """Output shapes and MACs of single-layer questions, by running the layer in convcalc.kernels."""
    from convcalc import kernels as K

    rng = np.random.default_rng(0)
    checked = 0
    for topic in ("output-size", "transposed", "pooling", "macs"):
        key = load(write_quiz(tmp_path, topic, 7, 2, layout="chw", count=15) / "key.yaml")
        for q in key["questions"]:
            if "layer" not in q or "flatten" in str(q["layer"]):
                continue
            shape = parse_shape(q["input"], "chw")
            if math.prod(shape) > 300_000:
                continue
            x = rng.standard_normal((1, *shape)).astype(np.float32)
            (kind, a), = q["layer"].items()
            k, s, p = a["kernel_size"], a.get("stride", 1), a.get("padding", 0)
            if kind == "conv2d":
                w = rng.standard_normal((a["out_channels"], shape[0] // a.get("groups", 1), k, k)).astype(np.float32)
                y, macs = K.conv(x, w, None, s, p, a.get("dilation", 1), a.get("groups", 1))
            elif kind == "convtranspose2d":
                w = rng.standard_normal((shape[0], a["out_channels"], k, k)).astype(np.float32)
                y, macs = K.conv_transpose(x, w, None, s, p, a.get("output_padding", 0))
            else:
                fn = K.max_pool if kind == "maxpool2d" else K.avg_pool
                y, macs = fn(x, k, s, p, ceil_mode=a.get("ceil_mode", False))
            answers = q["answers"]
            if "output" in answers:
                assert "x".join(map(str, y.shape[1:])) == answers["output"], q
            if "macs" in answers:
                assert macs == answers["macs"], q
            checked += 1
    assert checked >= 20


# -- worked solutions -------------------------------------------------------------------------------------
def test_worked_solution_shows_the_quotient_before_the_floor():
    line, size = window_axis("H", 224, 11, 4, 0, 0, 1)
    assert size == (224 - 11) // 4 + 1 == 54
    assert "(224 - 11 + 2·0)/4 + 1 = 213/4 + 1; 213/4 = 53.25 → floor = 53; 53 + 1 = 54" in line
    assert "the last 1 pixel of the input" in line
    line, size = window_axis("H", 227, 11, 4, 0, 0, 1)
    assert line.endswith("(227 - 11 + 2·0)/4 + 1 = 216/4 + 1 = 54 + 1 = 55") and size == 55
    line, _ = window_axis("H", 32, 5, 3, 0, 0, 1)   # 27/3 = 9: exact
    assert "27/3 + 1 = 9 + 1 = 10" in line
    line, _ = window_axis("H", 7, 3, 2, 0, 0, 2)    # dilation: the general form
    assert "(N + 2P - D·(F - 1) - 1)/S + 1 = (7 + 2·0 - 2·(3 - 1) - 1)/2 + 1" in line
    line, _ = window_axis("H", 28, 3, 3, 0, 0, 1)   # 25/3 does not end
    assert "25/3 ≈ 8.33 → floor = 8" in line


def test_worked_solution_transposed_dumoulin_3_to_5():
    line, size = transposed_axis("H", 3, 3, 1, 0, 1, 0)
    assert size == 5 and line.endswith("(3 - 1)·1 - 2·0 + 3 = 5")


def test_key_comments_carry_the_working(tmp_path):
    out = write_quiz(tmp_path, "output-size", 3, 2, count=40)
    text = (out / "key.yaml").read_text(encoding="utf-8")
    assert "# H_out" in text and "→ floor =" in text
    assert "# " not in "\n".join(line for line in (out / "quiz.yaml").read_text().splitlines()
                                 if line.startswith("      #"))
    md = (out / "key.md").read_text(encoding="utf-8")
    assert "H_out" in md and "→ floor" in md
    sheet_md = (out / "quiz.md").read_text(encoding="utf-8")
    assert "H_out" not in sheet_md and "____" in sheet_md
    tex = (out / "key.tex").read_text(encoding="utf-8")
    assert tex.startswith(r"\documentclass") and r"\end{document}" in tex and "$\\to$ floor" in tex
    assert tex.isascii() and tex.count("{") == tex.count("}")   # ·, → and ≈ become LaTeX math


# -- seeds --------------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_different_seed_different_sheet(tmp_path):
    a = write_quiz(tmp_path, "mixed", 42, 3, name="a")
    b = write_quiz(tmp_path, "mixed", 42, 3, name="b")
    c = write_quiz(tmp_path, "mixed", 43, 3, name="c")
    names = sorted(os.listdir(a))
    assert names == ["key.md", "key.tex", "key.yaml", "quiz.md", "quiz.tex", "quiz.yaml"]
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    assert (a / "quiz.yaml").read_bytes() != (c / "quiz.yaml").read_bytes()


def test_same_seed_same_bytes_across_processes_and_hash_seeds(tmp_path):
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"h{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": ROOT}
        subprocess.run([sys.executable, "-m", "convcalc", "quiz", "--topic", "mixed", "--count", "20", "--seed",
                        "9", "--difficulty", "3", "--out", str(out)], check=True, env=env, capture_output=True)
        outs.append(out)
    for n in ("key.yaml", "quiz.md", "key.tex"):
        assert (outs[0] / n).read_bytes() == (outs[1] / n).read_bytes()


# -- graded by check -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("topic,difficulty,layout", [("mixed", 3, "hwc"), ("mixed", 2, "chw"),
                                                     ("transposed", 3, "chw"), ("memory", 3, "hwc"),
                                                     ("rf", 3, "hwc"), ("pooling", 3, "chw")])
def test_check_grades_the_key_all_right(tmp_path, topic, difficulty, layout):
    out = write_quiz(tmp_path, topic, 5, difficulty, layout, count=15)
    res = run("check", str(out / "key.yaml"), "--format", "json")
    assert res.exit_code == 0, res.output
    import json

    data = json.loads(res.output)
    statuses = [a["status"] for q in data["questions"] for a in q["answers"]]
    assert statuses and set(statuses) == {"right"}
    assert data["score"]["right"] == sum(len(q["answers"]) for q in load(out / "key.yaml")["questions"])


def test_one_wrong_answer_exits_1(tmp_path):
    out = write_quiz(tmp_path, "params", 6, 2, count=8)
    key = load(out / "key.yaml")
    q = key["questions"][3]
    q["answers"]["params"] += 1
    wrong = tmp_path / "student.yaml"
    wrong.write_text(yaml.safe_dump(key, sort_keys=False, allow_unicode=True), encoding="utf-8")
    res = run("check", str(wrong), "--format", "json")
    assert res.exit_code == 1
    import json

    data = json.loads(res.output)
    assert data["score"]["wrong"] == 1 and data["score"]["right"] == 7


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["--topic", "shapes"], "unknown topic 'shapes'"),
    (["--count", "0"], "--count must be between 1 and 1000"),
    (["--count", "1001"], "--count must be between 1 and 1000"),
    (["--difficulty", "4"], "--difficulty must be 1, 2 or 3"),
])
def test_bad_arguments_one_line_exit_2(tmp_path, args, needle):
    res = run("quiz", *args, "--out", str(tmp_path / "q"))
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "q").exists()


def test_unwritable_out_one_line_exit_2(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        res = run("quiz", "--count", "2", "--out", str(out))
        assert res.exit_code == 2
        err = res.stderr if hasattr(res, "stderr") else res.output
        assert err.startswith("convcalc: error: --out") and len(err.strip().splitlines()) == 1


def test_library_rejects_bad_arguments():
    with pytest.raises(qz.QuizError, match="unknown topic"):
        qz.make_quiz("outputsize")
    with pytest.raises(qz.QuizError, match="--count"):
        qz.make_quiz("mixed", count=True)


def test_configurations_the_engine_rejects_are_discarded():
    from convcalc.quiz import build, gen

    too_big = gen.Draft("", ("output",), (3, 7, 7), [gen.conv(16, 11)])            # an 11x11 window on 7x7
    bad_groups = gen.Draft("", ("params",), (48, 28, 28), [gen.conv(64, 3, g=32)])  # 32 does not divide 48
    one_pixel = gen.Draft("", ("output",), (3, 32, 32), [gen.conv(8, 5, 4), gen.conv(8, 7, 1)])  # 7 -> 1
    good = gen.Draft("", ("output",), (3, 227, 227), [gen.conv(96, 11, 4)])
    assert build(too_big, "q1", 1, "chw", 2) is None
    assert build(bad_groups, "q1", 1, "chw", 3) is None
    assert build(one_pixel, "q1", 1, "chw", 3) is None
    q = build(good, "q1", 1, "hwc", 2)
    assert q.answers == {"output": f"{(227 - 11) // 4 + 1}x{(227 - 11) // 4 + 1}x96"}
    assert q.work["output"][0].endswith("(227 - 11 + 2·0)/4 + 1 = 216/4 + 1 = 54 + 1 = 55")
