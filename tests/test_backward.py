"""Backward kernels of the NumPy core (convcalc.kernels *_backward).

Oracles: torch.autograd on random layers (values to ~1e-4 relative); the backward MAC
tallies against the engine's formulas written out as arithmetic (dX and dW each meet every
(weight, output unit) pair once, as the forward: C_out * C_in/g * prod(k) * prod(L_out) per
sample for a conv, C_in * C_out/g * prod(k) * prod(L_in) for a transposed conv, in*out per
row for linear); central finite differences in float64 on a few random coordinates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convcalc.kernels as K

torch = pytest.importorskip("torch")
F = torch.nn.functional

SETTINGS = dict(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])


def close(ours, ref, rtol=1e-4):
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale)


def arr(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def autograd(fn, *arrays):
    """torch's output and the gradients of sum(y * dy) for a random dy, w.r.t. every array."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    dy = torch.randn_like(y)
    y.backward(dy)
    return y, dy.numpy(), [t.grad for t in ts]


def out_len(L, k, s, lo, hi, d):
    return (L + lo + hi - d * (k - 1) - 1) // s + 1


# -- convolutions --------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw, nd=None):
    nd = nd or draw(st.integers(1, 3))
    g = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    C = g * draw(st.integers(1, 3)) if not depthwise else draw(st.integers(1, 4))
    g = C if depthwise else g
    Co = g * draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    p = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    L = tuple(max(draw(st.integers(3, 8)), d_ * (k_ - 1) + 1, p_ + 1) for k_, d_, p_ in zip(k, d, p))
    return dict(N=draw(st.integers(1, 2)), C=C, Co=Co, g=g, k=k, s=s, d=d, p=p, mode=mode, L=L,
                seed=draw(st.integers(0, 2**16)))


@settings(**SETTINGS)
@given(conv_cases())
def test_conv_backward_vs_autograd(c):
    rng = np.random.default_rng(c["seed"])
    x, w, b = arr(rng, c["N"], c["C"], *c["L"]), arr(rng, c["Co"], c["C"] // c["g"], *c["k"]), arr(rng, c["Co"])
    conv = getattr(F, f"conv{len(c['k'])}d")

    def fn(x, w, b):
        if c["mode"] != "zeros":
            pads = [q for p in reversed(c["p"]) for q in (p, p)]
            return conv(F.pad(x, pads, mode=c["mode"]), w, b, c["s"], 0, c["d"], c["g"])
        return conv(x, w, b, c["s"], c["p"], c["d"], c["g"])

    y, dy, (dx, dw, db) = autograd(fn, x, w, b)
    gx, grads, (mx, mw) = K.conv_backward(dy, x, w, c["s"], c["p"], c["d"], c["g"], c["mode"])
    close(gx, dx)
    close(grads["weight"], dw)
    close(grads["bias"], db)
    Lo = [out_len(L, k, s, p, p, d) for L, k, s, p, d in zip(c["L"], c["k"], c["s"], c["p"], c["d"])]
    assert list(y.shape[2:]) == Lo
    forward = c["N"] * c["Co"] * (c["C"] // c["g"]) * math.prod(c["k"]) * math.prod(Lo)
    assert mx == forward and mw == forward


def test_conv_backward_without_input_gradient():
    rng = np.random.default_rng(1)
    x, w = arr(rng, 2, 3, 9, 9), arr(rng, 8, 3, 3, 3)
    y, dy, (_, dw) = autograd(lambda x, w: F.conv2d(x, w, stride=2), x, w)
    gx, grads, (mx, mw) = K.conv_backward(dy, x, w, 2, 0, bias=False, need_dx=False)
    assert gx is None and mx == 0 and "bias" not in grads
    close(grads["weight"], dw)
    assert mw == 2 * 8 * 3 * 3 * 3 * 4 * 4          # N * C_out * C_in * k*k * 4x4 outputs


@settings(**SETTINGS)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.integers(1, 2), st.integers(0, 2**16))
def test_conv_transpose_backward_vs_autograd(nd, g, cig, cog, s, p, d, seed):
    rng = np.random.default_rng(seed)
    k = tuple(rng.integers(1, 4, nd))
    op = tuple(int(rng.integers(0, max(s, d))) for _ in range(nd))
    L = tuple(rng.integers(2, 6, nd))
    C, Co = g * cig, g * cog
    x, w, b = arr(rng, 2, C, *L), arr(rng, C, cog, *k), arr(rng, Co)
    convt = getattr(F, f"conv_transpose{nd}d")
    out = [(l - 1) * s - 2 * p + d * (kk - 1) + o + 1 for l, kk, o in zip(L, k, op)]
    if min(out) < 1:
        return
    y, dy, (dx, dw, db) = autograd(lambda x, w, b: convt(x, w, b, s, p, op, g, d), x, w, b)
    gx, grads, (mx, mw) = K.conv_transpose_backward(dy, x, w, s, p, op, d, g)
    close(gx, dx)
    close(grads["weight"], dw)
    close(grads["bias"], db)
    forward = 2 * C * cog * math.prod(k) * math.prod(L)   # every input unit meets every weight once
    assert mx == forward and mw == forward


@settings(**SETTINGS)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 6), st.integers(1, 6),
       st.booleans(), st.integers(0, 2**16))
def test_linear_backward_vs_autograd(lead, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    x, w, b = arr(rng, *lead, fin), arr(rng, fout, fin), arr(rng, fout)
    y, dy, (dx, dw, db) = autograd(lambda x, w, b: F.linear(x, w, b if bias else None), x, w, b)
    gx, grads, (mx, mw) = K.linear_backward(dy, x, w, bias=bias)
    close(gx, dx)
    close(grads["weight"], dw)
    if bias:
        close(grads["bias"], db)
    assert mx == mw == math.prod(lead) * fin * fout


# -- pools ---------------------------------------------------------------------------------------------

@settings(**SETTINGS)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.integers(1, 2),
       st.booleans(), st.integers(0, 2**16))
def test_max_pool_backward_vs_autograd(nd, k, s, p, d, ceil, seed):
    rng = np.random.default_rng(seed)
    p = min(p, k // 2)
    x = arr(rng, 2, 3, *rng.integers(d * (k - 1) + 1, 9, nd))
    pool = getattr(F, f"max_pool{nd}d")
    ts = torch.tensor(x, requires_grad=True)
    y, idx = pool(ts, k, s, p, d, ceil, return_indices=True)
    dy = torch.randn_like(y)
    y.backward(dy)
    ours, ours_idx, _ = K.max_pool_with_indices(x, k, s, p, d, ceil)
    close(ours, y)
    np.testing.assert_array_equal(ours_idx, idx.numpy())
    gx, _, macs = K.max_pool_backward(dy.numpy(), ours_idx, x.shape)
    close(gx, ts.grad)
    assert macs == (0, 0)


@settings(**SETTINGS)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.booleans(), st.booleans(),
       st.sampled_from([None, 1, 3]), st.integers(0, 2**16))
def test_avg_pool_backward_vs_autograd(nd, k, s, p, ceil, cip, div, seed):
    rng = np.random.default_rng(seed)
    p = min(p, k // 2)
    x = arr(rng, 2, 3, *rng.integers(k, 9, nd))
    pool = getattr(F, f"avg_pool{nd}d")
    extra = {} if nd == 1 else {"divisor_override": div}
    y, dy, (dx,) = autograd(lambda x: pool(x, k, s, p, ceil, cip, **extra), x)
    gx, _, macs = K.avg_pool_backward(dy, x.shape, k, s, p, ceil, cip, extra.get("divisor_override"))
    close(gx, dx)
    assert macs == (0, 0)


@settings(**SETTINGS)
@given(st.integers(1, 3), st.integers(0, 2**16))
def test_adaptive_pool_backward_vs_autograd(nd, seed):
    rng = np.random.default_rng(seed)
    L = tuple(rng.integers(1, 9, nd))
    out = tuple(int(rng.integers(1, 10)) for _ in range(nd))
    x = arr(rng, 2, 3, *L)
    y, dy, (dx,) = autograd(lambda x: getattr(F, f"adaptive_avg_pool{nd}d")(x, out), x)
    close(K.adaptive_avg_pool_backward(dy, x.shape, out)[0], dx)
    ts = torch.tensor(x, requires_grad=True)
    y, idx = getattr(F, f"adaptive_max_pool{nd}d")(ts, out, return_indices=True)
    y.backward(torch.tensor(dy))
    ours, ours_idx, _ = K.adaptive_max_pool_with_indices(x, out)
    close(ours, y)
    np.testing.assert_array_equal(ours_idx, idx.numpy())
    close(K.adaptive_max_pool_backward(dy, ours_idx, x.shape)[0], ts.grad)


# -- norms ---------------------------------------------------------------------------------------------

@settings(**SETTINGS)
@given(st.integers(1, 3), st.integers(1, 4), st.booleans(), st.integers(0, 2**16))
def test_batch_norm_backward_vs_autograd(nd, C, training, seed):
    rng = np.random.default_rng(seed)
    x, w, b = arr(rng, 3, C, *rng.integers(1, 5, nd)) * 3 + 1, arr(rng, C), arr(rng, C)
    rm, rv = arr(rng, C), rng.random(C).astype(np.float32) + 0.5
    fn = lambda x, w, b: F.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, training)  # noqa: E731
    y, dy, (dx, dw, db) = autograd(fn, x, w, b)
    gx, grads, macs = K.batch_norm_backward(dy, x, w, b, 1e-5, training, rm, rv)
    close(gx, dx)
    close(grads["weight"], dw)
    close(grads["bias"], db)
    assert macs == (0, 0)


@settings(**SETTINGS)
@given(st.integers(1, 3), st.integers(1, 3), st.booleans(), st.integers(0, 2**16))
def test_layer_group_instance_norm_backward_vs_autograd(groups, per, affine, seed):
    rng = np.random.default_rng(seed)
    C = groups * per
    x = arr(rng, 2, C, 3, 4) * 2 + 1
    w, b = arr(rng, C), arr(rng, C)
    wa, ba = (w, b) if affine else (None, None)
    y, dy, (dx, dw, db) = autograd(lambda x, w, b: F.group_norm(x, groups, w, b), x, w, b)
    gx, grads, _ = K.group_norm_backward(dy, x, groups, wa, ba)
    close(gx, dx if affine else autograd_plain(lambda x: F.group_norm(x, groups), x, dy))
    if affine:
        close(grads["weight"], dw)
        close(grads["bias"], db)
    y, dy, (dx, dw, db) = autograd(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, w, b)
    gx, grads, _ = K.instance_norm_backward(dy, x, w, b)
    close(gx, dx)
    close(grads["weight"], dw)
    ns = (3, 4) if affine else (4,)
    w2, b2 = arr(rng, *ns), arr(rng, *ns)
    y, dy, (dx, dw, db) = autograd(lambda x, w, b: F.layer_norm(x, ns, w, b), x, w2, b2)
    gx, grads, _ = K.layer_norm_backward(dy, x, ns, w2, b2)
    close(gx, dx)
    close(grads["weight"], dw)
    close(grads["bias"], db)


def autograd_plain(fn, x, dy):
    t = torch.tensor(x, requires_grad=True)
    fn(t).backward(torch.tensor(dy))
    return t.grad


@settings(**SETTINGS)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**16))
def test_local_response_norm_backward_vs_autograd(C, size, seed):
    rng = np.random.default_rng(seed)
    x = arr(rng, 2, C, 3, 3) * 3
    y, dy, (dx,) = autograd(lambda x: F.local_response_norm(x, size, 0.1, 0.75, 2.0), x)
    close(K.local_response_norm_backward(dy, x, size, 0.1, 0.75, 2.0)[0], dx)


# -- element-wise --------------------------------------------------------------------------------------

ACTS = {
    "relu": (F.relu, lambda dy, x, y: K.relu_backward(dy, y)),
    "relu6": (F.relu6, lambda dy, x, y: K.relu6_backward(dy, x)),
    "leaky": (lambda t: F.leaky_relu(t, 0.2), lambda dy, x, y: K.leaky_relu_backward(dy, x, 0.2)),
    "elu": (lambda t: F.elu(t, 1.5), lambda dy, x, y: K.elu_backward(dy, x, 1.5)),
    "sigmoid": (torch.sigmoid, lambda dy, x, y: K.sigmoid_backward(dy, y)),
    "tanh": (torch.tanh, lambda dy, x, y: K.tanh_backward(dy, y)),
    "silu": (F.silu, lambda dy, x, y: K.silu_backward(dy, x)),
    "gelu": (F.gelu, lambda dy, x, y: K.gelu_backward(dy, x)),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), lambda dy, x, y: K.gelu_backward(dy, x, "tanh")),
    "hardswish": (F.hardswish, lambda dy, x, y: K.hardswish_backward(dy, x)),
    "hardsigmoid": (F.hardsigmoid, lambda dy, x, y: K.hardsigmoid_backward(dy, x)),
    "softmax": (lambda t: F.softmax(t, 1), lambda dy, x, y: K.softmax_backward(dy, y, 1)),
    "log_softmax": (lambda t: F.log_softmax(t, -1), lambda dy, x, y: K.log_softmax_backward(dy, y, -1)),
    "identity": (lambda t: t * 1, lambda dy, x, y: K.identity_backward(dy)),
}


@pytest.mark.parametrize("name", sorted(ACTS))
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16))
def test_activation_backward_vs_autograd(name, seed):
    rng = np.random.default_rng(seed)
    x = arr(rng, 2, 3, 4, 5) * 4
    x[0, 0, 0, :3] = [-3.0, 3.0, 0.0]       # the kinks: torch's side of each
    fn, back = ACTS[name]
    y, dy, (dx,) = autograd(fn, x)
    gx, params, macs = back(dy, x, y.detach().numpy())
    close(gx, dx)
    assert params == {} and macs == (0, 0)


@settings(**SETTINGS)
@given(st.booleans(), st.integers(0, 2**16))
def test_prelu_backward_vs_autograd(per_channel, seed):
    rng = np.random.default_rng(seed)
    x, w = arr(rng, 2, 3, 4, 4), arr(rng, 3 if per_channel else 1) * 0.3
    y, dy, (dx, dw) = autograd(F.prelu, x, w)
    gx, grads, _ = K.prelu_backward(dy, x, w)
    close(gx, dx)
    close(grads["weight"], dw)


@pytest.mark.parametrize("noise_dims", [None, 1, 0])
def test_dropout_backward_is_the_mask(noise_dims):
    rng = np.random.default_rng(3)
    x = arr(rng, 4, 5, 6, 6)
    y, noise, _ = K.dropout_train(x, 0.3, rng, noise_dims)
    kept = noise != 0
    np.testing.assert_allclose(noise[kept], 1 / 0.7, rtol=1e-6)
    assert noise.shape == {None: x.shape, 1: (4, 5, 1, 1), 0: (4, 1, 1, 1)}[noise_dims]
    t, dy, (dx, _) = autograd(lambda x, n: x * n, x, noise)    # autograd of the same masked product
    close(y, t)
    close(K.dropout_backward(dy, noise)[0], dx)


# -- plumbing ------------------------------------------------------------------------------------------

@settings(**SETTINGS)
@given(st.integers(0, 2**16), st.sampled_from(["nearest", "nearest-exact", "bilinear", "area"]),
       st.booleans(), st.booleans())
def test_upsample_backward_vs_autograd(seed, mode, by_size, align):
    rng = np.random.default_rng(seed)
    L = tuple(rng.integers(1, 7, 2))
    x = arr(rng, 2, 3, *L)
    size = tuple(int(v) for v in rng.integers(1, 13, 2)) if by_size else None
    scale = None if by_size else float(rng.choice([0.5, 1.5, 2.0, 3.0]))
    ac = align if mode == "bilinear" else None
    if not by_size and min(math.floor(l * scale) for l in L) < 1:
        return
    y, dy, (dx,) = autograd(lambda x: F.interpolate(x, size, scale, mode, ac), x)
    close(K.upsample_backward(dy, x.shape, size, scale, mode, ac)[0], dx)


def test_reshaping_backward_vs_autograd():
    rng = np.random.default_rng(5)
    x = arr(rng, 2, 6, 3, 4)
    y, dy, (dx,) = autograd(lambda t: t.flatten(1), x)
    close(K.flatten_backward(dy, x.shape)[0], dx)
    y, dy, (dx,) = autograd(lambda t: t.permute(0, 2, 3, 1), x)
    close(K.permute_backward(dy, (0, 2, 3, 1))[0], dx)
    y, dy, (dx,) = autograd(lambda t: F.channel_shuffle(t, 3), x)
    close(K.channel_shuffle_backward(dy, 3)[0], dx)
    y, dy, (dx,) = autograd(lambda t: t[:, 2:5, 1:2, 1:3], x)
    close(K.slice_backward(dy, x.shape, (slice(None), slice(2, 5), slice(1, 2), slice(1, 3)))[0], dx)


def test_merges_backward_vs_autograd():
    rng = np.random.default_rng(6)
    a, b, c = arr(rng, 2, 4, 3, 3), arr(rng, 2, 4, 1, 1), arr(rng, 4, 1, 1)
    y, dy, grads = autograd(lambda a, b, c: a + b + c, a, b, c)
    for ours, ref in zip(K.add_backward(dy, [a.shape, b.shape, c.shape])[0], grads):
        close(ours, ref)
    y, dy, grads = autograd(lambda a, b, c: a * b * c, a, b, c)          # SE gates, layer scale
    for ours, ref in zip(K.mul_backward(dy, [a, b, c])[0], grads):
        close(ours, ref)
    d = arr(rng, 2, 2, 3, 3)
    y, dy, grads = autograd(lambda a, d: torch.cat([a, d], 1), a, d)
    for ours, ref in zip(K.concat_backward(dy, [4, 2], 1)[0], grads):
        close(ours, ref)


# -- finite differences (float64: the kernels keep it) --------------------------------------------------

def finite_difference(f, x, coords, h=1e-6):
    out = []
    for c in coords:
        xp, xm = x.copy(), x.copy()
        xp[c] += h
        xm[c] -= h
        out.append((f(xp) - f(xm)) / (2 * h))
    return np.array(out)


def _coords(rng, shape, n=5):
    return [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(n)]


def _fd_case(case, rng):
    """(weight or None, forward(x, w) -> y, backward(dy, x, w) -> (dx, grads, macs))."""
    g = rng.standard_normal((4,))
    return {
        "conv": (rng.standard_normal((6, 2, 3, 3)), lambda x, w: K.conv(x, w, None, 2, 1, 1, 2, "reflect")[0],
                 lambda dy, x, w: K.conv_backward(dy, x, w, 2, 1, 1, 2, "reflect")),
        "conv_dw": (rng.standard_normal((4, 1, 3, 3)), lambda x, w: K.conv(x, w, None, 1, 2, 2, 4)[0],
                    lambda dy, x, w: K.conv_backward(dy, x, w, 1, 2, 2, 4)),
        "conv_t": (rng.standard_normal((4, 3, 2, 3)), lambda x, w: K.conv_transpose(x, w, None, 2, 1, 1)[0],
                   lambda dy, x, w: K.conv_transpose_backward(dy, x, w, 2, 1, 1)),
        "batch_norm": (None, lambda x, w: K.batch_norm(x, None, None, g, None, training=True)[0],
                       lambda dy, x, w: K.batch_norm_backward(dy, x, g, None)),
        "max_pool": (None, lambda x, w: K.max_pool(x, 3, 2, 1)[0],
                     lambda dy, x, w: K.max_pool_backward(dy, K.max_pool_with_indices(x, 3, 2, 1)[1], x.shape)),
        "gelu": (None, lambda x, w: K.gelu(x)[0], lambda dy, x, w: K.gelu_backward(dy, x)),
    }[case]


@pytest.mark.parametrize("case", ["conv", "conv_dw", "conv_t", "batch_norm", "max_pool", "gelu"])
def test_gradients_match_finite_differences(case):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 7, 6))
    w, fwd, back = _fd_case(case, rng)
    dy = rng.standard_normal(fwd(x, w).shape)
    dx, grads, _ = back(dy, x, w)
    coords = _coords(rng, x.shape)
    fd = finite_difference(lambda xx: float((fwd(xx, w) * dy).sum()), x, coords)
    np.testing.assert_allclose([dx[c] for c in coords], fd, rtol=1e-5, atol=1e-6)
    if w is not None:
        wc = _coords(rng, w.shape)
        fdw = finite_difference(lambda ww: float((fwd(x, ww) * dy).sum()), w, wc)
        np.testing.assert_allclose([grads["weight"][c] for c in wc], fdw, rtol=1e-5, atol=1e-6)
