"""The CLI: tables, formats, and the bad-input contract (one line on stderr, exit 2, empty stdout)."""
import csv
import io
import json

import pytest
from click.testing import CliRunner

from convcalc.cli import cli


def run(*args):
    runner = CliRunner()
    try:  # click >= 8.2 keeps stderr apart by default
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        pass
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_alexnet_table():
    r = run("alexnet")
    assert r.exit_code == 0
    out = r.output
    for shape in ("96x55x55", "256x27x27", "384x13x13", "256x13x13", "4096", "1000"):
        assert shape in out
    assert "62,378,344" in out and "62.4M" in out
    assert "238 MiB" in out  # 62,378,344 * 4 bytes
    assert "\x1b[" not in out  # piped output has no colour


def test_layout_hwc_reads_and_prints_hwc():
    r = run("layer", "conv2d", "--input", "32x32x3", "--layout", "hwc", "--out", "5", "-k", "5", "-s", "3")
    assert r.exit_code == 0, r.output
    assert "10x10x5" in r.output and "380" in r.output


def test_layer_json():
    r = run("layer", "conv2d", "--input", "3x32x32", "--out", "10", "-k", "5", "-p", "2", "--format", "json")
    d = json.loads(r.output)
    layer = d["layers"][0]
    assert layer["output"] == [10, 32, 32] and layer["params"] == 760 and layer["macs"] == 10 * 32 * 32 * 75


def test_square_input_and_batch():
    r = run("alexnet-torchvision", "--input", "224", "--batch", "8", "--format", "json")
    d = json.loads(r.stdout)
    assert d["input"] == [3, 224, 224] and d["batch"] == 8
    assert d["totals"]["params"] == 61_100_840  # torchvision's published num_params


def test_csv_totals_row():
    r = run("alexnet", "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.output)))
    assert rows[0][0] == "layer" and rows[-1][0] == "total"
    params = [int(x[3]) for x in rows[1:-1]]
    assert sum(params) == int(rows[-1][3]) == 62_378_344


def test_markdown():
    r = run("tinyconv", "--format", "markdown")
    assert r.exit_code == 0 and "| features.block1.conv1 |" in r.output


def test_list():
    r = run("list")
    assert r.exit_code == 0
    for name in ("alexnet", "alexnet-paper", "alexnet-torchvision", "lenet5", "tinyconv", "tinyconv-gap"):
        assert name in r.output


def test_layer_kinds():
    assert run("layer", "maxpool2d", "--input", "3x7x7", "-k", "2", "--ceil-mode").output.count("3x4x4") >= 1
    r = run("layer", "linear", "--input", "100", "--out-features", "10", "--format", "json")
    assert json.loads(r.output)["layers"][0]["params"] == 100 * 10 + 10
    r = run("layer", "batchnorm2d", "--input", "16x4x4", "--format", "json")
    assert json.loads(r.output)["layers"][0]["buffers"] == 2 * 16 + 1


def test_stride_warning_is_not_an_error():
    r = run("layer", "conv2d", "--input", "1x7x7", "--out", "1", "-k", "3", "-s", "3")
    assert r.exit_code == 0
    assert "warning" in r.stderr and "the last pixel" in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["alexnett"], "did you mean alexnet"),
    (["alexnet", "--input", "3x2x"], "malformed shape"),
    (["alexnet", "--input", "abc!"], "malformed shape"),
    (["alexnet", "--input", "0x32x32"], "at least 1"),
    (["alexnet", "--input", "-3x4x4"], "malformed shape"),
    (["alexnet", "--input", "3x4x4x4"], "expects an input of 3 dims"),
    (["alexnet", "--input", "3x32x32"], "< 1"),
    (["alexnet", "--input", "1x227x227"], "expects 3 input channels, got 1"),
    (["alexnet", "--input", "3x300x300"], "expects 9216 input features"),
    (["alexnet", "--batch", "0"], "batch"),
    (["alexnet", "--dtype", "fp8"], "fp8"),
    (["alexnet", "--format", "yaml"], "yaml"),
    (["layer", "conv2d", "--input", "6x8x8", "--out", "8", "-k", "3", "-g", "4"], "groups"),
    (["layer", "conv2d", "--input", "3x8x8", "--out", "8", "-k", "9"], "larger than the padded input"),
    (["layer", "conv3x", "--input", "3x8x8"], "unknown layer kind"),
    (["layer", "conv2d", "--input", "3x8x8", "--out", "8", "-k", "3", "--out-features", "4"], "no option"),
])
def test_bad_input_one_line_exit_2(args, needle):
    r = run(*args)
    assert r.exit_code == 2, (args, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_help_states_the_counting_convention():
    r = run("--help")
    assert r.exit_code == 0 and "FLOPs = 2 x MACs" in " ".join(r.output.split())


def test_rf_command_matches_google_receptive_field_table():
    # google-research/receptive_field README: vgg_16 pool5 -- size 212, effective stride 32,
    # effective padding 90
    r = run("rf", "vgg16", "--format", "json")
    layers = {x["name"]: x for x in json.loads(r.output)["layers"]}
    pool5 = layers["features.30"]
    assert pool5["size"] == [212, 212] and pool5["jump"] == [32, 32] and pool5["effective_padding"] == [90, 90]
    table = run("rf", "alexnet")
    assert table.exit_code == 0 and "195" in table.output
