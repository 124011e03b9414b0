"""The engine's shapes, parameters and buffers against PyTorch itself (skipped without torch)."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import convcalc as cc
from convcalc.errors import ConvcalcError

torch = pytest.importorskip("torch")
nn = torch.nn


@st.composite
def layer_pair(draw):
    """The same layer in convcalc and in torch.nn, for a random per-sample input shape."""
    kind = draw(st.sampled_from(["conv", "convT", "max", "avg", "adaptive", "bn", "upsample", "linear"]))
    nd = draw(st.integers(1, 3)) if kind not in ("linear",) else 1
    c = draw(st.sampled_from([1, 2, 4]))
    sizes = tuple(draw(st.integers(1, 14 if nd < 3 else 7)) for _ in range(nd))
    k, s, p, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 2)), draw(st.integers(1, 2))
    if kind == "conv":
        g = draw(st.sampled_from([1, c]))
        out = g * draw(st.integers(1, 3))
        bias = draw(st.booleans())
        ours = [cc.Conv1d, cc.Conv2d, cc.Conv3d][nd - 1](c, out, k, stride=s, padding=p, dilation=d, groups=g,
                                                        bias=bias)
        theirs = [nn.Conv1d, nn.Conv2d, nn.Conv3d][nd - 1](c, out, k, stride=s, padding=p, dilation=d, groups=g,
                                                          bias=bias)
    elif kind == "convT":
        op = draw(st.integers(0, max(s, d) - 1))
        ours = [cc.ConvTranspose1d, cc.ConvTranspose2d, cc.ConvTranspose3d][nd - 1](
            c, 3, k, stride=s, padding=p, output_padding=op, dilation=d)
        theirs = [nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d][nd - 1](
            c, 3, k, stride=s, padding=p, output_padding=op, dilation=d)
    elif kind == "max":
        p = min(p, k // 2)
        cm = draw(st.booleans())
        ours = [cc.MaxPool1d, cc.MaxPool2d, cc.MaxPool3d][nd - 1](k, s, padding=p, dilation=d, ceil_mode=cm)
        theirs = [nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d][nd - 1](k, s, padding=p, dilation=d, ceil_mode=cm)
    elif kind == "avg":
        p = min(p, k // 2)
        cm = draw(st.booleans())
        ours = [cc.AvgPool1d, cc.AvgPool2d, cc.AvgPool3d][nd - 1](k, s, padding=p, ceil_mode=cm)
        theirs = [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d][nd - 1](k, s, padding=p, ceil_mode=cm)
    elif kind == "adaptive":
        o = draw(st.integers(1, 5))
        ours = [cc.AdaptiveAvgPool1d, cc.AdaptiveAvgPool2d, cc.AdaptiveAvgPool3d][nd - 1](o)
        theirs = [nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d][nd - 1](o)
    elif kind == "bn":
        affine, track = draw(st.booleans()), draw(st.booleans())
        ours = [cc.BatchNorm1d, cc.BatchNorm2d, cc.BatchNorm3d][nd - 1](c, affine=affine, track_running_stats=track)
        theirs = [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d][nd - 1](c, affine=affine,
                                                                          track_running_stats=track)
    elif kind == "upsample":
        f = draw(st.sampled_from([1.5, 2, 3]))
        ours, theirs = cc.Upsample(scale_factor=f), nn.Upsample(scale_factor=f)
    else:
        out = draw(st.integers(1, 9))
        ours, theirs = cc.Linear(sizes[0], out), nn.Linear(sizes[0], out)
        return ours, theirs, (sizes[0],)
    return ours, theirs, (c, *sizes)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(layer_pair())
def test_engine_matches_torch(pair):
    ours, theirs, shape = pair
    theirs.eval()
    try:
        with torch.no_grad():
            y = theirs(torch.zeros(2, *shape))
        torch_ok = y.numel() > 0
    except (RuntimeError, ValueError):
        torch_ok = False
    try:
        row = cc.analyze(cc.Sequential(ours), shape).rows[0]
        ours_ok = True
    except ConvcalcError:
        ours_ok = False
    assert ours_ok == torch_ok, (ours, shape)
    if ours_ok:
        assert row.output == tuple(y.shape[1:]), (ours, shape)
        assert row.params == sum(p.numel() for p in theirs.parameters())
        assert row.buffers == sum(b.numel() for b in theirs.buffers())
