"""Issue #16: compare, budgets, sweeps, width multipliers, typos, grouped warnings, TF 'same'
padding, ZeroPad2d, tables that fit. Expected values are written-out arithmetic, published zoo
figures or torch."""
import io
import json
import math
import os
import re
import sys
import warnings

import pytest
from click.testing import CliRunner
from rich.console import Console

import convcalc as cc
from convcalc import zoo
from convcalc.cli import cli

SMALL = "1x28x28 | conv 8 k3 | relu | maxpool 2 | flatten | linear 10"
# by hand: conv 8*1*9+8 = 80 params, 8*26*26*9 = 48,672 MACs; pool -> 8x13x13 = 1352;
# linear 1352*10+10 = 13,530 params, 13,520 MACs
SMALL_PARAMS, SMALL_MACS = 80 + 13530, 48672 + 13520


def run(*args):
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


# -- compare and list --------------------------------------------------------------------------------
def test_compare_totals_are_the_published_figures_and_hand_counts():
    code, out, err = run("compare", "resnet18", "mobilenet_v2", SMALL, "lenet5", "--format", "json")
    assert code == 0, err
    got = {e["model"]: e for e in json.loads(out)}
    for name in ("resnet18", "mobilenet_v2"):
        figures = zoo.get(name).figures
        assert got[name]["params"] == figures["params"][0]
        assert round(got[name]["macs"] / 1e9, 3) == figures["gmacs"][0]
    assert (got[SMALL]["params"], got[SMALL]["macs"]) == (SMALL_PARAMS, SMALL_MACS)
    # LeNet-5: 32 -> conv5 28 -> pool 14 -> conv5 10 -> pool 5 -> conv5 1; 31 ends at 0
    assert got["lenet5"]["min_input"] == 32
    # resnet18's layer1: four 3x3 64->64 convs without bias and four batch norms (64 scales, 64 shifts)
    layer1 = next(s for s in got["resnet18"]["stages"] if s["name"] == "layer1")
    assert layer1["params"] == 4 * 64 * 64 * 9 + 4 * 128
    # 56x56 outputs of 64 channels, 576 MACs each, four convs
    assert layer1["macs"] == 4 * 56 * 56 * 64 * 576
    assert sum(s["params"] for s in got["resnet18"]["stages"]) == 11689512


def test_compare_table_and_conventions():
    code, out, _ = run("compare", "resnet18", SMALL)
    assert code == 0
    assert "11,689,512 (11.7M)" in out and "13,610 (13.6k)" in out and "[1] " + SMALL in out
    assert "layer4" in out and "Min input" in out
    code, out, _ = run("compare", SMALL, "--convention", "all", "--format", "json")
    conv = json.loads(out)[0]["conventions"]
    assert conv["convcalc"] == SMALL_MACS
    # ptflops adds a bias per output element, and two ops per ReLU output and per pooling input
    # (its nn.ReLU / nn.MaxPool2d hook and the patched F.relu / F.max_pool2d they call)
    assert conv["ptflops"] == SMALL_MACS + 8 * 26 * 26 + 10 + 2 * 8 * 26 * 26 + 2 * 8 * 26 * 26


def test_compare_unknown_model_is_one_line():
    code, out, err = run("compare", "resnet18", "resnet5o")
    assert code == 2 and out == "" and "resnet5o" in err and "did you mean" in err and len(err.splitlines()) == 1


def test_list_sort_and_filter():
    code, out, _ = run("list", "--filter", "resnet", "--sort", "params", "--format", "csv")
    assert code == 0
    names = [line.split(",")[0] for line in out.splitlines()[1:]]
    assert names == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2"]
    assert run("list", "--filter", "nothing-like-it")[0] == 2


# -- budgets -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, code", [
    (["--max-params", str(SMALL_PARAMS)], 0),           # equal is within budget
    (["--max-params", str(SMALL_PARAMS - 1)], 1),
    (["--max-params", "13.6k"], 1),                     # 13,600 < 13,610
    (["--max-params", "1e6", "--max-macs", "62192"], 0),
    (["--max-macs", "62.1k"], 1),
    (["--max-memory", "1GiB"], 0),
    (["--max-memory", "1KiB"], 1),
    (["--max-params", "10Q"], 2), (["--max-params", "0"], 2), (["--max-macs", "-5"], 2),
    (["--max-memory", "0MiB"], 2), (["--max-memory", "12 parsecs"], 2), (["--max-params", "1.5"], 2),
])
def test_budget_exit_codes(args, code):
    got, out, err = run(SMALL, *args)
    assert got == code, err
    if code == 1:
        assert "over budget" in err and "Layer" in out
    if code == 2:
        assert out == "" and len(err.splitlines()) == 1


def test_budget_api():
    r = cc.summary(SMALL)
    assert r.check_budget(params=SMALL_PARAMS) == []
    (line,) = r.check_budget(params="13k", macs="1G")
    assert "13,610" in line and "13,000" in line and "by 610" in line
    with pytest.raises(cc.budget.OverBudget) as e:
        cc.summary(SMALL, max_macs=60000)
    assert e.value.report.totals["macs"] == SMALL_MACS
    with pytest.raises(cc.ConvcalcError):
        cc.summary(SMALL, max_params="10Q")


def test_summary_warns_once_per_distinct_message_and_export():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cc.summary("resnet18")
    texts = [str(w.message) for w in caught if issubclass(w.category, cc.ConvcalcWarning)]
    assert texts == ["stride 2 does not tile H and W (layer2.0.downsample.0, layer3.0.downsample.0, "
                     "layer4.0.downsample.0): a 1-wide window at stride 2 skips every other pixel"]
    src = cc.export(cc.Sequential(cc.Conv2d(3, 4, 3), cc.ReLU()), "pytorch", input=(3, 8, 8))
    assert "nn.Conv2d(3, 4" in src.replace("in_channels=", "") or "Conv2d(" in src
    assert "class Net" in cc.export(SMALL)


# -- sweeps and widths -------------------------------------------------------------------------------
def test_input_sweep_matches_hand_counts():
    code, out, err = run("sweep", SMALL, "--input", "16,28,30", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    import sympy
    S = sympy.Symbol("S", integer=True, positive=True)
    params = sympy.sympify(data["closed_form"]["params"], locals={"S": S})
    macs = sympy.sympify(data["closed_form"]["macs"], locals={"S": S})
    assert [p["value"] for p in data["points"]] == [16, 28, 30]
    for p in data["points"]:
        n = p["value"]
        o, q = n - 2, (n - 2) // 2
        assert p["input"] == [1, n, n]
        assert p["params"] == 80 + 8 * q * q * 10 + 10 == params.subs(S, n)
        assert p["macs"] == 8 * o * o * 9 + 8 * q * q * 10 == macs.subs(S, n)


def test_input_sweep_of_a_zoo_model_at_224_is_the_published_figure():
    code, out, _ = run("sweep", "resnet18", "--input", "224", "--format", "csv")
    row = out.splitlines()[1].split(",")
    assert int(row[2]) == zoo.get("resnet18").figures["params"][0]
    assert round(int(row[3]) / 1e9, 3) == zoo.get("resnet18").figures["gmacs"][0]


def test_invalid_sweep_values_name_the_range():
    code, out, err = run("sweep", "lenet5", "--input", "33,40")
    assert code == 2 and out == ""
    assert "40" in err and "32..35" in err and "minimum input 32" in err
    assert run("sweep", SMALL, "--width", "0,1")[0] == 2
    assert run("sweep", SMALL, "--width", "abc")[0] == 2
    assert run("sweep", SMALL)[0] == 2


WIDE = "3x32x32 | conv 16 k3 | relu | conv 32 k3 s2 | flatten | linear 64 | relu | linear 10"


@pytest.mark.parametrize("w", [0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
def test_width_matrix(w):
    code, out, err = run("sweep", WIDE, "--width", str(w), "--format", "json")
    assert code == 0, err
    (p,) = json.loads(out)["points"]
    c1, c2, h = round(16 * w), round(32 * w), round(64 * w)
    # conv1 3->c1 3x3 on 32 (out 30); conv2 c1->c2 3x3/2 (out 14); linear c2*14*14 -> h; linear h -> 10 (kept)
    assert p["params"] == (27 * c1 + c1) + (9 * c1 * c2 + c2) + (c2 * 196 * h + h) + (10 * h + 10)
    assert p["macs"] == 30 * 30 * c1 * 27 + 14 * 14 * c2 * 9 * c1 + c2 * 196 * h + 10 * h


def test_width_against_torch_with_norms_and_depthwise():
    torch = pytest.importorskip("torch")
    from convcalc.width import widen
    nn = torch.nn
    net = cc.Sequential(cc.Conv2d(3, 16, 3, padding=1), cc.BatchNorm2d(16), cc.ReLU(),
                        cc.Conv2d(16, 16, 3, padding=1, groups=16), cc.Conv2d(16, 32, 1), cc.AdaptiveAvgPool2d(1),
                        cc.Flatten(), cc.Linear(32, 24), cc.ReLU(), cc.Linear(24, 10))
    r = cc.analyze(widen(net, 0.5, (3, 16, 16)), (3, 16, 16))
    t = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                      nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 16, 1), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 10))
    assert r.totals["params"] == sum(p.numel() for p in t.parameters())
    assert r.rows[-1].output == tuple(t(torch.zeros(1, 3, 16, 16)).shape[1:])


# -- typos -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed, meant", [("lyer", "layer"), ("lsit", "list"), ("compre", "compare"),
                                          ("sweap", "sweep"), ("exprt", "export")])
def test_typo_suggests_the_command(typed, meant):
    code, out, err = run(typed, "conv2d")
    assert code == 2 and out == "" and f"did you mean `{meant}`?" in err


@pytest.mark.parametrize("word", ["alexnt", "nosuchmodel", "vgg16", "my.yaml"])
def test_models_are_not_taken_for_typos(word):
    _, _, err = run(word)
    assert "did you mean `" not in err


# -- warnings said once, worded per kernel ------------------------------------------------------------
@pytest.mark.parametrize("depth", [[], ["--depth", "1"]])
def test_resnet_warnings_grouped_on_one_line(depth):
    code, _, err = run("resnet50", *depth)
    assert code == 0
    assert err.splitlines() == ["warning: stride 2 does not tile H and W (layer2.0.downsample.0, "
                                "layer3.0.downsample.0, layer4.0.downsample.0): a 1-wide window at stride 2 "
                                "skips every other pixel"]


def _warn(k, s, H, W, p=0):
    return cc.analyze(cc.Sequential(cc.Conv2d(1, 1, k, stride=s, padding=p)), (1, H, W)).warnings


def test_untiled_wording_per_kernel_size():
    (w,) = _warn(1, 2, 8, 8)   # 0, 2, 4, 6 read: 1, 3, 5, 7 skipped
    assert "does not tile H and W" in w and "skips every other pixel" in w and "last" not in w
    (w,) = _warn(3, 2, 8, 9)   # H: windows end at 6, pixel 7 missed; W: 0..2, 2..4, 4..6, 6..8 cover 9
    assert "does not tile H:" in w and "the last pixel of the input (8 + 0 + 0 padding) is never covered" in w
    (w,) = _warn(3, 3, 8, 8)   # windows 0..2, 3..5; 6 and 7 missed
    assert "the last 2 pixels" in w and "are never covered by a 3-wide window" in w
    (w,) = _warn(2, 3, 10, 10)  # 0..1, 3..4, 6..7 read; 2, 5, 8 skipped by the pattern, 9 at the end too
    assert "skips 1 of every 3 pixels, and the last pixel" in w
    assert not _warn(3, 2, 7, 7)


# -- padding -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("d", [1, 2])
def test_tf_same_is_tensorflows_formula(k, s, d):
    for L in range(1, 30):
        r = cc.analyze(cc.Sequential(cc.Conv2d(1, 1, k, stride=s, dilation=d, padding="tf_same")), (1, L, L + 1))
        layer = r.rows[0].layer
        for axis, n in enumerate((L, L + 1)):
            out = math.ceil(n / s)                               # TensorFlow: out = ceil(L / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)  # pad_along = max((out-1)*s + k_eff - L, 0)
            assert r.rows[0].output[1 + axis] == out
            assert layer.pads[axis] == (total // 2, total - total // 2)  # pad_top = total // 2, extra bottom


def test_pytorch_same_stays_stride_one():
    with pytest.raises(cc.ConvcalcError):
        cc.Conv2d(1, 1, 3, stride=2, padding="same")


def test_zeropad2d_against_torch():
    torch = pytest.importorskip("torch")
    from convcalc.kernels.misc import zero_pad2d
    import numpy as np
    x = np.arange(2 * 3 * 5 * 6, dtype=np.float32).reshape(2, 3, 5, 6)
    for pad in [(1, 2, 0, 3), (0, 1, 0, 1), 2, (-1, 2, 1, -2)]:
        y, macs = zero_pad2d(x, pad if isinstance(pad, tuple) else (pad,) * 4)
        ref = torch.nn.ZeroPad2d(pad)(torch.from_numpy(x)).numpy()
        assert macs == 0 and np.array_equal(y, ref)
        r = cc.analyze(cc.Sequential(cc.ZeroPad2d(pad)), (3, 5, 6))
        assert r.rows[0].output == ref.shape[1:] and r.totals["params"] == 0


def test_zeropad2d_shifts_the_field_start():
    r = cc.analyze(cc.Sequential(cc.ZeroPad2d((2, 0, 1, 0)), cc.Conv2d(1, 1, 3)), (1, 8, 8))
    h, w = r.rows[1].rf
    # the first window covers rows -1..1 (centre 0) and columns -2..0 (centre -1); starts are centres + 1/2
    assert (h.size, h.jump, h.start) == (3, 1, 0.5) and (w.size, w.jump, w.start) == (3, 1, -0.5)


# -- tables that fit ---------------------------------------------------------------------------------
def _fitted(report, width):
    from convcalc.render.console import print_layer_table
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None, highlight=False)
    print_layer_table(console, report)
    return buf.getvalue()


@pytest.mark.parametrize("width", [60, 80, 100, 120])
@pytest.mark.parametrize("depth", [None, 1])
def test_layer_table_fits_without_cutting(width, depth):
    report = cc.analyze(zoo.get("resnet50"))
    report = report.collapse(depth) if depth else report
    text = _fitted(report, width)
    assert "…" not in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    names = {line.split()[0] for line in lines if line.startswith("  ") and line.strip()}
    assert {r.name for r in report.rows} <= names
    assert "25,557,032" in text or "25.6M" in text
    if width >= 120 and depth:
        assert "(" not in lines[-1]  # everything fits: no note
    if width == 80:
        assert "without Kind" in text


def test_piped_table_is_the_full_table():
    r = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["resnet50"])
    assert "conv 7x7/2 p3 nobias, 64" in r.stdout and "25,557,032 (25.6M)" in r.stdout and "…" not in r.stdout
    assert "columns:" not in r.stdout


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_symbolic_table_references_long_formulas(width):
    from convcalc.render.symbolic import fitted_symbolic_table
    report = cc.analyze(zoo.get("alexnet"), (3, *cc.sym.dims("H W")))
    table, notes = fitted_symbolic_table(report, "chw", width)
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(table)
    text = buf.getvalue()
    assert "…" not in text
    for r in report.rows:
        assert r.name in text
    assert notes and all(re.match(r"\[\d+\] ", n) for n in notes)
    assert any("floor((H - 11)/4)" in n for n in notes)


def test_in_a_real_pseudo_terminal():
    pty = pytest.importorskip("pty")
    import fcntl
    import select
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, its stdout a terminal of 80 columns
        os.environ.update(COLUMNS="80", LINES="40", TERM="xterm", NO_COLOR="1")
        os.execv(sys.executable, [sys.executable, "-m", "convcalc", "resnet50", "--depth", "1"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
    out = b""
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 120)
            chunk = os.read(fd, 65536) if ready else b""
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace")).replace("\r", "")
    table = text.split("params ")[0]  # the table, before the summary line
    assert "…" not in table and "layer4" in table and "25,557,032" in table
    assert max(len(line) for line in table.splitlines()) <= 80
