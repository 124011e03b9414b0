"""Spec files, the one-line grammar and the torch.nn-like Python API.

Expected numbers are written as arithmetic; every invalid spec must be one ConvcalcError line
naming the file and the place, never a traceback.
"""
import json
import os
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import convcalc as cc
from convcalc.io import spec
from convcalc.cli import cli
from convcalc.errors import ConvcalcError

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

TINY = """
name: tiny
input: [3, 32, 32]
layers:
  - conv2d: {out_channels: 10, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
"""


def run(*args):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart by default
        runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path, text, name="net.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def rows(report):
    return [(r.name, r.kind, r.output, r.params, r.buffers, r.macs, r.rf) for r in report.rows]


# -- valid specs --------------------------------------------------------------------------------------
def test_tiny_spec_numbers():
    m = spec.loads(TINY, "tiny.yaml")
    r = cc.summary(m)
    assert m.name == "tiny" and m.input == (3, 32, 32)
    assert [row.name for row in r.rows] == ["0", "1", "2", "3", "4"]
    assert r[0].output == (10, 32, 32) and r[0].params == 3 * 10 * 3 * 3 + 10  # in_channels inferred
    assert r[2].output == (10, 16, 16) and r[3].output == (10 * 16 * 16,)
    assert r[4].params == 10 * 16 * 16 * 10 + 10  # in_features inferred
    assert r.totals["macs"] == 10 * 32 * 32 * 3 * 9 + 2560 * 10


def test_yaml_and_json_give_the_same_model(tmp_path):
    a = cc.summary(spec.load(write(tmp_path, TINY, "a.yaml")))
    data = {"name": "tiny", "input": "3x32x32",
            "layers": [{"conv2d": {"out_channels": 10, "kernel_size": 3, "padding": 1}}, "relu",
                       {"maxpool2d": 2}, "flatten", {"linear": {"in_features": 2560, "out_features": 10}}]}
    b = cc.summary(spec.load(write(tmp_path, json.dumps(data), "b.json")))
    assert rows(a) == rows(b)


def test_given_in_channels_are_checked_and_named(tmp_path):
    text = TINY.replace("{out_channels: 10,", "{in_channels: 4, out_channels: 10,")
    with pytest.raises(ConvcalcError) as e:
        spec.load(write(tmp_path, text, "my_net.yaml"))
    assert str(e.value).startswith("my_net.yaml: layers[0].conv2d: ")
    assert "expects 4 input channels, got 3" in str(e.value)


def test_kernel_size_zero_points_at_the_place(tmp_path):
    text = TINY.replace("linear: {out_features: 10}", "conv2d: {out_channels: 3, kernel_size: 0}")
    with pytest.raises(ConvcalcError) as e:
        spec.load(write(tmp_path, text, "my_net.yaml"))
    assert str(e.value) == "my_net.yaml: layers[4].conv2d.kernel_size: expected a positive integer, got 0"


def test_blocks_residual_concat_mul_repeat_and_names():
    m = spec.loads("""
input: 8x16x16
layers:
  - name: stage
    repeat: 2
    residual:
      - {conv: {out_channels: 8, kernel_size: 3, padding: 1}, name: conv1}
      - {relu: null, name: relu}
    post: [{relu: null, name: relu}]
  - name: proj
    residual: [{conv: {out_channels: 16, kernel_size: 3, stride: 2, padding: 1}}]
    downsample: [{conv: {out_channels: 16, kernel_size: 1, stride: 2}}]
  - name: inc
    concat:
      - {name: a, layers: [{conv: {out_channels: 4, kernel_size: 1}}]}
      - [{conv: {out_channels: 6, kernel_size: 3, padding: 1}}]
      - []
  - name: se
    mul: [[], [{gap: 1}, {conv: {out_channels: 26, kernel_size: 1}}, sigmoid]]
""")
    r = cc.summary(m)
    names = [row.name for row in r.rows]
    assert names[:5] == ["stage.0.conv1", "stage.0.relu", "stage.0.add", "stage.0.relu", "stage.1.conv1"]
    assert "proj.downsample.0" in names and "proj.add" in names
    assert r["inc.a.0"].output == (4, 8, 8) and r["inc.1.0"].output == (6, 8, 8)
    assert r["inc.cat"].output == (4 + 6 + 16, 8, 8)
    assert r["se.mul"].output == (26, 8, 8)
    assert r["se.1.1"].params == 26 * 26 + 26  # the 1x1 conv on the pooled 26 channels (main size 26)
    assert r.totals["params"] == 2 * (8 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (8 * 16 + 16) + (16 * 4 + 4) + \
        (16 * 6 * 9 + 6) + (26 * 26 + 26)
    collapsed = r.collapse(1)
    assert [row.name for row in collapsed.rows] == ["stage", "proj", "inc", "se"]


def test_symbolic_input_in_a_spec():
    m = spec.loads("input: 3xHxW\nlayers: [{conv: {out_channels: 4, kernel_size: 3, stride: 2}}]\n")
    r = cc.summary(m)
    assert "H" in str(r[0].output[1])


# -- the one-liner ----------------------------------------------------------------------------------
def test_one_liner_equals_the_spec():
    line = spec.load("3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10")
    assert rows(cc.summary(line)) == rows(cc.summary(spec.loads(TINY)))


def test_one_liner_tokens():
    m = spec.parse_line("3x64x64 | conv 32 k3x5 s2 p1x2 d1 g1 nobias | maxpool 3 s2 ceil | conv 32 k3 g32 "
                        "padding_mode=reflect p1 | gap 1 | flatten | dropout 0.2 | fc 10")
    r = cc.summary(m)
    c = r[0].layer
    assert c.kernel_size == (3, 5) and c.stride == (2, 2) and c.pads == ((1, 1), (2, 2)) and not c.bias
    assert r[0].output == (32, (64 + 2 - 3) // 2 + 1, (64 + 4 - 5) // 2 + 1)
    assert r[1].layer.ceil_mode and r[2].params == 32 * 1 * 9 + 32
    assert r[5].layer.p == 0.2 and r[6].params == 32 * 10 + 10


@pytest.mark.parametrize("line, message", [
    ("3x32x32 | convv 10 k3", "unknown layer kind 'convv'; did you mean"),
    ("3x32x32 | conv 10 k3 | | relu", "empty layer"),
    ("3x32x32 | conv 10 k0", "kernel_size: expected a positive integer, got 0"),
    ("3x32x32 | relu 3", "relu takes no size"),
    ("3x32x32 | conv 10 k3 k5", "kernel_size given twice"),
    ("3x32x32 | conv 10 k3 wobble", "cannot read 'wobble'"),
    ("3x32x32 | conv 10 k3 bias=3", "bias: expected true or false, got 3"),
    ("3x32x32 | conv 10 k3 colour=red", "unknown argument 'colour'"),
    ("3x0x32 | relu", "expected a positive integer, got 0"),
    ("3x32x32 | conv 10 k5 | conv 10 k30", "would be"),
    ("hello! | relu", "is not a shape"),
])
def test_one_liner_errors(line, message):
    with pytest.raises(ConvcalcError, match=re.escape("expected 'SHAPE | layer | layer ...'")):
        spec.parse_line("3x32x32")
    with pytest.raises(ConvcalcError) as e:
        spec.load(line)
    assert message in str(e.value) and "\n" not in str(e.value)


# -- every invalid form -------------------------------------------------------------------------------
BAD = [
    ("", "the spec is empty"),
    ("# only a comment\n", "the spec is empty"),
    ("- relu\n- flatten\n", "expected a mapping with 'input' and 'layers' at the top level, got a list"),
    ("just text\n", "expected a mapping"),
    ("input: [3, 8, 8]\nlayers: [relu]\nextra: 1\n", "unknown key 'extra'"),
    ("input: [3, 8, 8]\nlayer: [relu]\n", "unknown key 'layer'; did you mean 'layers'?"),
    ("input: [3, 8, 8]\n", "missing 'layers'"),
    ("input: [3, 8, 8]\nlayers: relu\n", "layers: expected a list of layers"),
    ("input: [3, 8, 8]\nlayers: [reul]\n", "layers[0].reul: unknown layer kind 'reul'; did you mean relu"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 3, colour: 1}}]\n",
     "layers[0].conv2d: unknown argument 'colour'"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_chanels: 4, kernel_size: 3}}]\n",
     "unknown argument 'out_chanels'; did you mean out_channels"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: true, kernel_size: 3}}]\n",
     "layers[0].conv2d.out_channels: expected an integer, got true"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 2.5}}]\n",
     "layers[0].conv2d.kernel_size: expected an integer, got 2.5"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: '3'}}]\n",
     "layers[0].conv2d.kernel_size: expected an integer, got '3'"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 3, bias: 1}}]\n",
     "layers[0].conv2d.bias: expected true or false, got 1"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: [3, 3, 3]}}]\n",
     "layers[0].conv2d.kernel_size: expected 2 values, got 3"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: {a: 1}}}]\n",
     "layers[0].conv2d.kernel_size: expected a number, got dict"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 3, groups: 3}}]\n",
     "layers[0].conv2d: groups=3 does not divide out_channels=4"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: [1, 2]}]\n", "layers[0].conv2d: out_channels and kernel_size are required"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: 'big'}]\n", "layers[0].conv2d: expected a mapping of arguments"),
    ("input: [3, 8, 8]\nlayers: [{relu: null, conv2d: null}]\n", "expected one layer kind or block per item"),
    ("input: [3, 8, 8]\nlayers: [{relu: null, repeat: 2}]\n", "unexpected key 'repeat' next to layer 'relu'"),
    ("input: [3, 8, 8]\nlayers: [{name: a}]\n", "expected a layer kind"),
    ("input: [3, 8, 8]\nlayers: [{}]\n", "empty mapping"),
    ("input: [3, 8, 8]\nlayers: [3]\n", "layers[0]: expected a layer name or a mapping, got 3"),
    ("input: [3, 8, 8]\nlayers: [{name: 'a b', layers: [relu]}]\n", "layers[0].name: expected a name"),
    ("input: [3, 8, 8]\nlayers: [{name: a, layers: [relu]}, {name: a, layers: [relu]}]\n", "duplicate name 'a'"),
    ("input: [3, 8, 8]\nlayers: [{layers: [relu], repeat: 0}]\n", "layers[0].repeat: expected an integer from 1"),
    ("input: [3, 8, 8]\nlayers: [{layers: [relu], repeat: true}]\n", "layers[0].repeat: expected an integer"),
    ("input: [3, 8, 8]\nlayers: [{layers: [relu], shortcut: [relu]}]\n", "unexpected key 'shortcut'"),
    ("input: [3, 8, 8]\nlayers: [{concat: [[relu]]}]\n", "layers[0].concat: expected a list of at least two"),
    ("input: [3, 8, 8]\nlayers: [{add: [[relu], [relu]], dim: 1}]\n", "only concat takes a dim"),
    ("input: [3, 8, 8]\nlayers: [{residual: [{conv: {out_channels: 4, kernel_size: 1}}]}]\n",
     "cannot add shapes 4x8x8 and 3x8x8"),
    ("input: [3, 8, 8]\nlayers: [{concat: [[{conv: {out_channels: 4, kernel_size: 3}}], []]}]\n",
     "differ outside the concatenated dim"),
    ("input: [3, 8, 8]\nlayers: [{residual: [relu], shortcut: [], downsample: []}]\n", "either 'shortcut' or"),
    ("input: [3, 8, 8]\nlayers: [flatten, {linear: {in_features: 100, out_features: 2}}]\n",
     "layers[1].linear: linear expects 100 input features, got 192"),
    ("input: [3, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 3}}]\n", "expects an input of 3 dims"),
    ("input: [0, 8, 8]\nlayers: [relu]\n", "input[0]: expected a positive integer, got 0"),
    ("input: [3, true, 8]\nlayers: [relu]\n", "input[1]: expected a positive integer or a symbol name, got true"),
    ("input: {c: 3}\nlayers: [relu]\n", "input: expected a shape"),
    ("input: [3, 8, 8]\nname: [x]\nlayers: [relu]\n", "name: expected a string"),
    ("input: [3, 8, 8]\nlayers: [{dropout: {p: 2.0}}]\n", "dropout probability has to be between 0 and 1"),
    ("input: [3, 8, 8]\nlayers: [{dropout: {p: .nan}}]\n", "expected a finite number"),
    ("input: [3, 8, 8]\nlayers: [{conv2d: {out_channels: 4, kernel_size: 3, padding: wide}}]\n",
     "padding: expected an integer, got 'wide'"),
    ("input: [3, 8, 8]\nlayers: [{1: relu}]\n", "keys must be strings"),
    ("input: [3, 8, 8\nlayers: [relu]\n", "YAML syntax error at line"),
    ("input: [3, 8, 8]\n  layers: - relu\n", "YAML syntax error"),
    ("input: [3, 8, 8]\nlayers: !!python/object:os.system [relu]\n", "YAML syntax error"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_invalid_specs_are_one_line_errors_naming_file_and_place(tmp_path, text, message):
    path = write(tmp_path, text, "my_net.yaml")
    with pytest.raises(ConvcalcError) as e:
        spec.load(path)
    msg = str(e.value)
    assert msg.startswith("my_net.yaml: ") and "\n" not in msg
    assert message in msg, msg


def test_cli_error_is_one_line_exit_2(tmp_path):
    path = write(tmp_path, TINY.replace("kernel_size: 3", "kernel_size: 0"), "my_net.yaml")
    r = run(path)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == ("convcalc: error: my_net.yaml: layers[0].conv2d.kernel_size: expected a positive "
                                "integer, got 0")


def test_file_limits(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n" + TINY)
    with pytest.raises(ConvcalcError, match=r"big.yaml: the file is [\d,]+ bytes; spec files are limited"):
        spec.load(str(big))
    with pytest.raises(ConvcalcError, match="no such spec file"):
        spec.load(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConvcalcError, match="is a directory"):
        spec.load_file(str(tmp_path))
    bad = tmp_path / "latin.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConvcalcError, match="not UTF-8"):
        spec.load(str(bad))
    broken = tmp_path / "broken.json"
    broken.write_text('{"input": [3, 8, 8], "layers": [relu]}')
    with pytest.raises(ConvcalcError, match="broken.json: JSON syntax error"):
        spec.load(str(broken))


def test_nesting_limit(tmp_path):
    inner = "relu"
    for _ in range(60):
        inner = "{layers: [" + inner + "]}"
    with pytest.raises(ConvcalcError, match="nested too deeply"):
        spec.load(write(tmp_path, "input: [3, 8, 8]\nlayers: [" + inner + "]\n"))
    deep = "[" * 2000 + "]" * 2000
    with pytest.raises(ConvcalcError, match="nested too deeply|YAML"):
        spec.load(write(tmp_path, "input: [3, 8, 8]\nlayers: " + deep + "\n"))


def test_alias_bomb_is_refused(monkeypatch):
    """YAML aliases share one list many times: ten layers, nested ten-fold seven times (10**8 if
    expanded). The builder counts items as it goes and stops at 10,000."""
    import yaml

    text = "l0: &l0 [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]\n"
    for i in range(1, 8):
        text += f"l{i}: &l{i} [{', '.join([f'{{layers: *l{i - 1}}}'] * 10)}]\n"
    data = yaml.safe_load(text)
    from convcalc.io import builder

    monkeypatch.setattr(builder, "MAX_LAYERS", 5000)  # the same check, sooner
    with pytest.raises(ConvcalcError, match="more than 5,000 items"):
        spec.from_dict({"input": [3, 8, 8], "layers": data["l7"]}, "bomb.yaml")


# -- hypothesis: anything parses or fails cleanly ---------------------------------------------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True, width=32),
                    st.sampled_from(["same", "valid", "zeros", "nearest", "relu", "", "x"]))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                      max_leaves=6)
arg_names = st.sampled_from(["out_channels", "in_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                             "bias", "out_features", "in_features", "output_size", "p", "num_groups", "size",
                             "eps", "ceil_mode", "dims", "scale_factor", "start_dim", "mode", "bogus"])
kinds = st.sampled_from(sorted(cc.layers.KINDS) + ["conv", "fc", "bn", "gap", "nope"])
layer_items = st.one_of(kinds, st.builds(lambda k, a: {k: a}, kinds, st.one_of(
    st.none(), st.integers(-2, 64), st.dictionaries(arg_names, values, max_size=4))))
items = st.recursive(layer_items, lambda c: st.one_of(
    st.builds(lambda ls: {"layers": ls}, st.lists(c, max_size=3)),
    st.builds(lambda ls, r: {"residual": ls, "repeat": r}, st.lists(c, max_size=3), st.integers(0, 3)),
    st.builds(lambda bs: {"concat": bs}, st.lists(st.lists(c, max_size=2), max_size=3)),
    st.builds(lambda bs: {"mul": bs}, st.lists(st.lists(c, max_size=2), max_size=3)),
), max_leaves=8)
shapes = st.one_of(st.lists(st.integers(-1, 40), min_size=0, max_size=5), st.sampled_from(["3x16x16", "3xHxW", "x"]),
                   values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, layers=st.lists(items, max_size=5))
@example(shape="3xHxW", layers=["matmul"])  # a two-input kind alone in a sequence (was a ValueError)
@example(shape="3x8x8", layers=["matmul"])
def test_generated_specs_parse_or_fail_cleanly(shape, layers):
    try:
        m = spec.from_dict({"input": shape, "layers": layers}, "gen.yaml")
        if m.input is not None:
            cc.summary(m)
    except ConvcalcError as e:
        assert "\n" not in str(e)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="3x2| convreluk1sp0gdbnflatenlinr=.-_0123456789", max_size=60))
def test_generated_one_liners_parse_or_fail_cleanly(text):
    try:
        m = spec.parse_line(text)
        cc.summary(m)
    except ConvcalcError as e:
        assert "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_generated_yaml_text_parses_or_fails_cleanly(text):
    try:
        m = spec.loads(text, "gen.yaml")
        if m.input is not None:
            cc.summary(m)
    except ConvcalcError as e:
        assert "\n" not in str(e)


# -- the CLI with specs -------------------------------------------------------------------------------
def test_cli_spec_like_a_zoo_name(tmp_path):
    path = write(tmp_path, TINY, "tiny.yaml")
    d = json.loads(run(path, "--format", "json").stdout)
    assert d["model"] == "tiny" and d["totals"]["params"] == (3 * 9 * 10 + 10) + (2560 * 10 + 10)
    d = json.loads(run(path, "--input", "3x64x64", "--format", "json").stdout)  # the linear now sees 10240
    assert d["status"] == "complete" or d["layers"][-1]["params"] == 10 * 32 * 32 * 10 + 10
    r = run(path, "--verify")
    assert r.exit_code == 0 and "✓" in r.stdout
    r = run(path, "--input", "3xHxW", "--format", "json")
    assert r.exit_code == 0 and "H" in json.dumps(json.loads(r.stdout)["layers"][0]["output"])
    r = run("3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10", "--format", "csv")
    assert r.exit_code == 0 and r.stdout.splitlines()[-1].split(",")[3] == str(280 + 25610)
    r = run(os.path.join(EXAMPLES, "blocks.yaml"), "--depth", "1")
    assert r.exit_code == 0 and "stage1" in r.stdout and "inception" in r.stdout


def test_cli_help_mentions_the_one_liner():
    assert "k3 s2 p1" in run("--help").stdout


# -- API parity: spec == API == zoo ----------------------------------------------------------------------
@pytest.mark.parametrize("path, zoo_name", [("alexnet.yaml", "alexnet"), ("resnet18.yaml", "resnet18")])
def test_spec_equals_zoo_row_by_row(path, zoo_name):
    a = cc.summary(cc.load_spec(os.path.join(EXAMPLES, path)))
    b = cc.summary(cc.zoo.get(zoo_name))
    assert rows(a) == rows(b)
    assert a.totals == b.totals
    assert a.totals["params"] == {"alexnet": 62_378_344, "resnet18": 11_689_512}[zoo_name]  # published


def test_api_network_equals_spec_and_one_liner():
    net = cc.Sequential(cc.Conv2d(1, 6, 5), cc.Tanh(), cc.AvgPool2d(2), cc.Conv2d(6, 16, 5), cc.Tanh(),
                        cc.AvgPool2d(2), cc.Conv2d(16, 120, 5), cc.Tanh(), cc.Flatten(), cc.Linear(120, 84),
                        cc.Tanh(), cc.Linear(84, 10))
    api = cc.summary(net, (1, 32, 32))
    line = cc.summary(cc.load_spec("1x32x32 | conv 6 k5 | tanh | avgpool 2 | conv 16 k5 | tanh | avgpool 2 | "
                                   "conv 120 k5 | tanh | flatten | fc 84 | tanh | fc 10"))
    zoo = cc.summary(cc.zoo.get("lenet5"))
    assert rows(api) == rows(line)
    assert [r[2:] for r in rows(api)] == [r[2:] for r in rows(zoo)]  # same numbers, zoo names (c1, s2, ...)
    assert api.totals["params"] == (6 * 25 + 6) + (16 * 6 * 25 + 16) + (120 * 16 * 25 + 120) + (120 * 84 + 84) + \
        (84 * 10 + 10)


def test_inception_block_spec_equals_zoo_block():
    from convcalc.zoo.inception import googlenet_block

    def conv(c, k, p=0):
        return [{"conv": {"out_channels": c, "kernel_size": k, "padding": p, "bias": False}, "name": "conv"},
                {"batchnorm2d": {"eps": 0.001}, "name": "bn"}, {"relu": None, "name": "relu"}]

    data = {"input": [192, 28, 28], "layers": [{"name": "inception3a", "concat": [
        {"name": "branch1", "layers": conv(64, 1)},
        {"name": "branch2", "layers": [{"name": "0", "layers": conv(96, 1)}, {"name": "1", "layers": conv(128, 3, 1)}]},
        {"name": "branch3", "layers": [{"name": "0", "layers": conv(16, 1)}, {"name": "1", "layers": conv(32, 3, 1)}]},
        {"name": "branch4", "layers": [{"maxpool2d": {"kernel_size": 3, "stride": 1, "padding": 1, "ceil_mode": True}},
                                       {"name": "1", "layers": conv(32, 1)}]},
    ]}]}
    a = cc.summary(spec.from_dict(data))
    b = cc.summary(cc.Sequential(("inception3a", googlenet_block(192, 64, 96, 128, 16, 32, 32))), (192, 28, 28))
    assert rows(a) == rows(b)
    assert a["inception3a.cat"].output == (64 + 128 + 32 + 32, 28, 28)


def test_report_renders_for_terminal_and_jupyter():
    r = cc.summary(cc.Sequential(cc.Conv2d(3, 96, 11, stride=4), cc.ReLU(), cc.MaxPool2d(3, 2)), (3, 227, 227))
    text = str(r)
    assert "96x55x55" in text and "34,944" in text and "\x1b[" not in text
    html = r._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "34,944" in html
    from rich.console import Console
    import io

    buf = io.StringIO()
    Console(file=buf, width=120).print(r)
    assert "96x27x27" in buf.getvalue()
    assert r.to_dict()["totals"]["params"] == 11 * 11 * 3 * 96 + 96
    assert r[0] is r["0"] and r.totals["macs"] == 96 * 55 * 55 * 3 * 121


def test_zoo_and_spec_return_models():
    from convcalc.zoo import Model

    assert isinstance(cc.zoo.get("alexnet"), Model)
    assert isinstance(cc.load_spec(os.path.join(EXAMPLES, "tiny.yaml")), Model)
