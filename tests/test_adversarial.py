"""The standing adversarial suite: random networks and random text, checked against independent
oracles, so regressions of the kind an adversarial review finds are caught by CI.

* engine vs PyTorch: random 1d/2d/3d networks (grouped, dilated, padding modes, transposed with
  output padding, ceil-mode and adaptive pools, upsampling, permutes of spatial axes, linears over a
  spatial axis, residual adds, concatenations) agree on every row's shape, on parameters, buffers
  and MACs (FlopCounterMode), or both refuse;
* symbolic vs numeric: a random network analysed for a symbolic size and then evaluated at a size
  gives exactly what the numeric analysis gives there (shapes, counts, receptive fields), and its
  validity conditions hold exactly where the numeric analysis succeeds;
* parsers: any one-liner, spec or option text ends in a result or one line on stderr with exit 2,
  never a traceback, in bounded time.

``CONVCALC_FUZZ=N`` multiplies the number of examples (CI runs the default; the README gives the
figure of a large run).
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convcalc as cc
from convcalc.errors import ConvcalcError

SCALE = max(1, int(os.environ.get("CONVCALC_FUZZ", "1")))
FAST = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))

torch = pytest.importorskip("torch")
nn = torch.nn
from torch_models import Permute as TorchPermute  # noqa: E402


# -- random networks, built twice: convcalc and torch ---------------------------------------------------
@st.composite
def layer_spec(draw, nd):
    kind = draw(st.sampled_from(["conv", "conv", "tconv", "maxpool", "avgpool", "adaptive", "bn", "relu",
                                 "upsample", "permute", "linear", "residual", "concat"]))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, 2))
    d = draw(st.integers(1, 2))
    g = draw(st.sampled_from([1, 1, 2]))
    return dict(kind=kind, k=k, s=s, p=p, d=d, g=g, c=draw(st.sampled_from([2, 4, 6])),
                op=draw(st.integers(0, 2)), ceil=draw(st.booleans()), bias=draw(st.booleans()),
                mode=draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"])),
                out=draw(st.integers(1, 4)), scale=draw(st.sampled_from([1, 2, 3])))


@st.composite
def network(draw):
    nd = draw(st.integers(1, 3))
    c = draw(st.sampled_from([2, 4]))
    size = draw(st.integers(3, 12 if nd < 3 else 7))
    specs = draw(st.lists(layer_spec(nd), min_size=1, max_size=5))
    return nd, c, size, specs


class TorchResidual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


class TorchConcat(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def _pair(spec, nd, c_in):
    """(convcalc layer or block, torch module, channels after) for one spec; may raise."""
    k, s, p, d, g, kind = spec["k"], spec["s"], spec["p"], spec["d"], spec["g"], spec["kind"]
    N = {1: "1d", 2: "2d", 3: "3d"}[nd]
    if kind == "conv":
        c = spec["c"]
        args = dict(stride=s, padding=p, dilation=d, groups=g, bias=spec["bias"], padding_mode=spec["mode"])
        return (getattr(cc, f"Conv{N}")(c_in, c, k, **args), getattr(nn, f"Conv{N}")(c_in, c, k, **args), c)
    if kind == "tconv":
        c = spec["c"]
        args = dict(stride=s, padding=p, output_padding=spec["op"], dilation=d, groups=g, bias=spec["bias"])
        return (getattr(cc, f"ConvTranspose{N}")(c_in, c, k, **args),
                getattr(nn, f"ConvTranspose{N}")(c_in, c, k, **args), c)
    if kind == "maxpool":
        args = dict(stride=s, padding=min(p, k // 2), dilation=d, ceil_mode=spec["ceil"])
        return getattr(cc, f"MaxPool{N}")(k, **args), getattr(nn, f"MaxPool{N}")(k, **args), c_in
    if kind == "avgpool":
        args = dict(stride=s, padding=min(p, k // 2), ceil_mode=spec["ceil"])
        return getattr(cc, f"AvgPool{N}")(k, **args), getattr(nn, f"AvgPool{N}")(k, **args), c_in
    if kind == "adaptive":
        return (getattr(cc, f"AdaptiveAvgPool{N}")(spec["out"]), getattr(nn, f"AdaptiveAvgPool{N}")(spec["out"]),
                c_in)
    if kind == "bn":
        return getattr(cc, f"BatchNorm{N}")(c_in), getattr(nn, f"BatchNorm{N}")(c_in), c_in
    if kind == "relu":
        return cc.ReLU(), nn.ReLU(), c_in
    if kind == "upsample":
        f = spec["scale"]
        return cc.Upsample(scale_factor=f), nn.Upsample(scale_factor=f), c_in
    if kind == "permute":  # reverse the spatial axes
        dims = (0, 1, *range(nd + 1, 1, -1))
        return cc.Permute(dims), TorchPermute(dims), c_in
    if kind == "linear":  # over the last spatial axis: keeps its size
        n = spec["out"] + 2
        return None, n, c_in  # resolved by the caller, which knows the size
    body_c, body_t = getattr(cc, f"Conv{N}")(c_in, c_in, 3, padding=1), getattr(nn, f"Conv{N}")(c_in, c_in, 3, padding=1)
    if kind == "residual":
        return cc.Residual(cc.Sequential(body_c)), TorchResidual(body_t), c_in
    return cc.Concat(("0", None), ("1", cc.Sequential(body_c))), TorchConcat(body_t), 2 * c_in


def build(nd, c, size, specs):
    ours, theirs, shape = [], [], (c,) + (size,) * nd
    for spec in specs:
        a, b, c = _pair(spec, nd, c)
        if a is None:  # a linear over the last axis, whose size the engine knows by now
            last = cc.summary(cc.Sequential(*ours), shape)[-1].output[-1] if ours else shape[-1]
            a, b = cc.Linear(last, last), nn.Linear(last, last)
        ours.append(a)
        theirs.append(b)
    return cc.Sequential(*ours), nn.Sequential(*theirs), shape


def _torch_run(model, shape):
    """Per-module output shapes (hooks), params, buffers and MACs, or None when torch refuses."""
    from torch.utils.flop_counter import FlopCounterMode

    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for m in model]
    try:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            model.eval()(torch.randn(1, *shape))
    except (RuntimeError, ValueError, IndexError, ZeroDivisionError):  # (the last: upsampling an empty tensor)
        return None
    finally:
        for h in hooks:
            h.remove()
    if any(0 in s for s in shapes):
        return None  # torch allows an empty output (a size 0); convcalc refuses a layer whose output is empty
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    return shapes, params, buffers, fc.get_total_flops() // 2


@FAST
@given(network())
def test_random_networks_agree_with_torch_or_both_refuse(net):
    nd, c, size, specs = net
    try:
        ours, theirs, shape = build(nd, c, size, specs)
    except ConvcalcError:
        ours = None
    except (ValueError, RuntimeError):  # torch refused to construct: convcalc must have too
        pytest.fail(f"torch refused to build what convcalc accepted: {specs}")
    if ours is None:
        return  # construction refused by convcalc; torch may accept odd arguments convcalc calls invalid
    try:
        report = cc.summary(ours, shape)
    except ConvcalcError:
        report = None
    measured = _torch_run(theirs, shape)
    assert (report is None) == (measured is None), (specs, shape, report and report.totals, measured)
    if report is None:
        return
    shapes, params, buffers, macs = measured
    # each top-level module's output: its last row (a block's merge)
    top = [[r for r in report.rows if r.name == str(i) or r.name.startswith(f"{i}.")][-1] for i in range(len(specs))]
    assert [r.output for r in top] == shapes, specs
    assert report.totals["params"] == params and report.totals["buffers"] == buffers
    assert report.totals["macs"] == macs, specs


# -- symbolic vs numeric ----------------------------------------------------------------------------
@st.composite
def chain(draw):
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "pool", "tconv", "adaptive", "up"]))
        k, s, p = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
        if kind == "conv":
            layers.append(cc.Conv2d(None, 2, k, stride=s, padding=p, dilation=draw(st.integers(1, 2))))
        elif kind == "pool":
            layers.append(cc.MaxPool2d(k, stride=s, padding=min(p, k // 2), ceil_mode=draw(st.booleans())))
        elif kind == "tconv":
            layers.append(cc.ConvTranspose2d(None, 2, k, stride=s, padding=p))
        elif kind == "adaptive":
            layers.append(cc.AdaptiveAvgPool2d(draw(st.integers(1, 4))))
        else:
            layers.append(cc.Upsample(scale_factor=draw(st.integers(1, 3))))
    return cc.Sequential(*layers)


def _rf_values(rf):
    return [(a.size, a.jump, a.start) for a in rf] if rf else None


@FAST
@given(net=chain(), n=st.integers(1, 64))
def test_symbolic_forms_equal_the_numeric_run_at_every_size(net, n):
    from convcalc.sym import dims

    H = dims("H")
    try:
        sym = cc.summary(net, (2, H, H))
    except ConvcalcError:
        sym = None
    try:
        num = cc.summary(net, (2, n, n))
    except ConvcalcError:
        num = None
    if sym is None:
        assert num is None
        return
    holds = all(bool(c.subs(H, n)) for c, _ in sym.conditions)
    assert holds == (num is not None), [t for _, t in sym.conditions]
    if num is None:
        return

    def at(v):
        import sympy

        v = sympy.sympify(v).subs(H, n) if v is not None else None
        return None if v is None else (int(v) if v.is_Integer else sympy.Rational(v))

    averaged = set()
    for s_row, n_row in zip(sym.rows, num.rows):
        assert tuple(at(d) for d in s_row.output) == n_row.output
        assert at(s_row.macs) == n_row.macs and at(s_row.params) == n_row.params
        for k, (a, b) in enumerate(zip(s_row.rf or (), n_row.rf or ())):
            assert at(a.jump) == (b.jump if b.jump is None else b.jump)
            if a.period > 1 and a.phases is None:
                averaged.add(k)
            if k in averaged:
                # after upsampling, a window whose size is a symbol (adaptive pooling) can only
                # average the repeating fields, from there on; with numbers each unit's field
                # is exact (verify measures those), so only the jump is the same here
                continue
            assert at(a.size) == b.size and at(a.start) == b.start


# -- parsers: a result or one clean line -------------------------------------------------------------
def _cli(args):
    from click.testing import CliRunner

    from convcalc.cli import cli

    return CliRunner().invoke(cli, args)


def _clean(result):
    assert result.exit_code in (0, 1, 2), result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {result.exception!r}")
    if result.exit_code == 2:
        err = result.stderr if result.stderr_bytes is not None else result.output
        assert err.count("\n") <= 1 and err.startswith(("convcalc: error:", "Usage", "Error")), err


WORDS = st.sampled_from(["conv", "conv 4", "k3", "s2", "p1", "d2", "g2", "relu", "maxpool 2", "avgpool 3 ceil",
                         "linear 10", "flatten", "bn", "gap 1", "upsample 2", "dropout 0.5", "nobias", "k0",
                         "padding=same", "s-1", "k3x5", "3x32x32", "x", "|", "lrn 5", "groupnorm 2", "", "1e99",
                         "convtranspose 4 k3 s2", "fc", "k99999", "\x00", "é"])


@settings(max_examples=80 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(shape=st.sampled_from(["3x32x32", "1x8", "3x4x4x4", "3xHxW", "0x3", "3x", "32"]),
       parts=st.lists(WORDS, max_size=6))
def test_one_liners_end_cleanly(shape, parts):
    _clean(_cli([" | ".join([shape, *parts]) if parts else shape + " | relu"]))


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(flag=st.sampled_from(["-k", "-s", "-p", "--out", "--input", "--batch", "--dtype", "--format", "--layout"]),
       value=st.one_of(st.text(max_size=12), st.integers(-5, 10 ** 6).map(str)))
def test_layer_options_end_cleanly(flag, value):
    args = ["layer", "conv2d", "--input", "3x16x16", "--out", "4", "-k", "3", flag, value]
    _clean(_cli(args))


YAML_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 40), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.sampled_from(
                                                       ["conv2d", "relu", "layers", "residual", "concat",
                                                        "kernel_size", "out_channels", "name", "input", "repeat",
                                                        "linear", "out_features", "maxpool2d", "post"]),
                                                       inner, max_size=4)), max_leaves=12)


@settings(max_examples=80 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=YAML_VALUES)
def test_spec_data_ends_cleanly(data):
    from convcalc.io import spec

    try:
        model = spec.from_dict({"input": [3, 16, 16], "layers": data if isinstance(data, list) else [data]})
        cc.summary(model)
    except ConvcalcError as e:
        assert "\n" not in str(e)
