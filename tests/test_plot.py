"""Figures, made headless on the Agg canvas and checked by structure: the file written, the
artists and labels present, the pixel size. Skipped where matplotlib is not installed, except
the test that the missing extra is one clear line."""
import sys

import pytest
from click.testing import CliRunner

import convcalc as cc
from convcalc.analyze import analyze
from convcalc.cli import cli
from convcalc.errors import ConvcalcError
from convcalc import zoo


def run(*args):
    try:  # click >= 8.2 keeps stderr apart by default
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def alexnet():
    return analyze(zoo.get("alexnet"))


# AlexNet (the lecture's, 227x227): 5 convs, 3 max-pools, flatten, 3 linears carry numbers or change the shape.
ALEXNET_COST_ROWS = ["features.0", "features.3", "features.4", "features.7", "features.8", "features.10",
                     "features.12", "features.14", "flatten", "classifier.1", "classifier.4", "classifier.6"]


def test_missing_matplotlib_is_one_line_exit_2(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    r = run("plot", "alexnet", "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 2
    assert r.stderr.strip() == "convcalc: error: plotting needs matplotlib: pip install 'convcalc[plot]'"
    assert r.stdout == ""
    assert not (tmp_path / "a.png").exists()
    from convcalc.render.figures import require_matplotlib
    with pytest.raises(ConvcalcError, match=r"convcalc\[plot\]"):
        require_matplotlib()


def test_cost_figure_bars_labels_and_pixels(mpl, alexnet, tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from convcalc.render.figures import cost_figure, png_size, save

    fig = cost_figure(alexnet, figsize=(8, 5), dpi=50)
    assert isinstance(fig.canvas, FigureCanvasAgg)  # headless
    params, macs, memory = fig.axes
    assert params.get_title() == "Parameters" and macs.get_title() == "MACs"
    assert memory.get_title().startswith("Activation memory")
    assert [t.get_text() for t in params.get_yticklabels()] == ALEXNET_COST_ROWS
    for ax in fig.axes:
        assert len(ax.patches) == len(ALEXNET_COST_ROWS)
    widths = [p.get_width() for p in params.patches]
    assert widths[0] == 11 * 11 * 3 * 96 + 96           # conv1
    assert widths[9] == 9216 * 4096 + 4096              # fc6
    assert [p.get_width() for p in macs.patches][0] == 96 * 55 * 55 * 3 * 11 * 11
    assert [p.get_width() for p in memory.patches][0] == 96 * 55 * 55 * 4  # fp32 bytes
    texts = {t.get_text().strip() for t in params.texts}
    assert "37.8M" in texts                              # fc6's bar is labelled
    assert "62.4M" in fig._suptitle.get_text()
    out = tmp_path / "cost.png"
    assert save(fig, str(out)) == "png"
    assert png_size(str(out)) == (8 * 50, 5 * 50)


def test_cost_log_scale(mpl, alexnet):
    from convcalc.render.figures import cost_figure

    fig = cost_figure(alexnet, log=True)
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert "log scale" in fig._suptitle.get_text()


def test_rf_default_is_the_last_spatial_layers_centre_unit(mpl, alexnet):
    from matplotlib.patches import Rectangle
    from convcalc.render.figures import rf_figure

    fig = rf_figure(alexnet)
    ax = fig.axes[0]
    assert "features.14" in ax.get_title()
    # pool5: size 195, jump 32 (google-research/receptive_field's AlexNet table); start
    # 0.5 + 5 (conv1) + 1*4 (pool1) + 0 (conv2, k5 p2) + 1*8 (pool2) + 0 (conv3-5) + 1*16 (pool5) = 33.5;
    # the centre unit of 6x6 is (2, 2), centred at 33.5 + 2*32 = 97.5, so its field is [0, 195].
    fields = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_label().startswith("field")]
    assert len(fields) == 1
    f = fields[0]
    assert (f.get_x(), f.get_y(), f.get_width(), f.get_height()) == (0.0, 0.0, 195.0, 195.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("jump grid" in t and "32x32" in t for t in labels)
    assert any(t.startswith("start") and "(33.5, 33.5)" in t for t in labels)
    assert any("(2, 2) of 6x6" in t and "(97.5, 97.5)" in t for t in labels)
    grid = [line for line in ax.lines if line.get_label().startswith("unit centres")][0]
    assert len(grid.get_xdata()) == 6 * 6
    assert any(t.get_text() == "jump 32" for t in ax.texts)


def test_rf_named_layer_and_image(mpl, alexnet, tmp_path):
    import numpy as np
    import matplotlib.image as mpimg
    from matplotlib.patches import Rectangle
    from convcalc.render.figures import rf_figure

    img = tmp_path / "cat.png"
    mpimg.imsave(str(img), np.linspace(0, 1, 40 * 60 * 3).reshape(40, 60, 3))
    fig = rf_figure(alexnet, layer="features.0", image=str(img))
    ax = fig.axes[0]
    assert len(ax.images) == 1
    assert ax.images[0].get_extent() == [0, 227, 227, 0]   # stretched to the input, rows going down
    f = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_label().startswith("field")][0]
    # conv1 (k11 s4): 55x55 units, centre unit 27 at 5.5 + 27*4 = 113.5, field 113.5 -/+ 5.5
    assert (f.get_x(), f.get_width()) == (113.5 - 5.5, 11.0)
    jpg = tmp_path / "cat.jpg"
    pytest.importorskip("PIL")
    mpimg.imsave(str(jpg), np.zeros((20, 20, 3)))
    assert len(rf_figure(alexnet, image=str(jpg)).axes[0].images) == 1


def test_rf_bad_input(mpl, alexnet, tmp_path):
    from convcalc.render.figures import rf_figure

    with pytest.raises(ConvcalcError, match="no such file"):
        rf_figure(alexnet, image=str(tmp_path / "missing.png"))
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(ConvcalcError, match="cannot read image"):
        rf_figure(alexnet, image=str(bad))
    with pytest.raises(ConvcalcError, match="did you mean features.1"):
        rf_figure(alexnet, layer="features.1x")


def test_volumes_diagram_boxes_sizes_and_kernels(mpl, alexnet):
    from convcalc.render.figures import volumes_figure

    fig = volumes_figure(alexnet)
    ax = fig.axes[0]
    gids = [p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith("volume-")]
    # input + 5 convs + 3 pools + 3 linears, three visible faces each
    assert len(gids) == 3 * (1 + 5 + 3 + 3)
    assert gids[:3] == ["volume-input"] * 3
    texts = [t.get_text() for t in ax.texts]
    for size in ("227", "55", "27", "13", "6", "96", "256", "384", "4096", "1000", "3"):
        assert size in texts
    assert "11x11" in texts and "5x5" in texts                   # kernel windows are labelled
    kernels = [p for p in ax.patches if not (p.get_gid() or "").startswith("volume-")]
    assert len(kernels) == 5 + 3                                 # one window per conv and pool
    plain = volumes_figure(alexnet, kernels=False).axes[0]
    assert all((p.get_gid() or "").startswith("volume-") for p in plain.patches)


def test_volumes_refuses_branching_networks(mpl):
    from convcalc.render.figures import volumes_figure

    with pytest.raises(ConvcalcError, match="sequential"):
        volumes_figure(analyze(zoo.get("resnet18")))


def test_compare_scatter(mpl):
    from convcalc.render.figures import compare_figure

    reports = [analyze(zoo.get(n)) for n in ("alexnet", "lenet5", "tinyconv")]
    ax = compare_figure(reports).axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    points = [tuple(p) for c in ax.collections for p in c.get_offsets()]  # one collection per family
    assert len(points) == 3
    assert (62378344, 1135256096) in points
    names = [t.get_text() for t in ax.texts]
    assert any(n.startswith("alexnet") for n in names) and any(n.startswith("lenet5") for n in names)
    assert ax.get_xlabel() == "parameters"


def test_symbolic_report_is_refused(mpl):
    from convcalc.render.figures import cost_figure
    from convcalc.sym import dims

    H, W = dims("H W")
    report = analyze(cc.Sequential(cc.Conv2d(3, 8, 3)), (3, H, W))
    with pytest.raises(ConvcalcError, match="plots need numbers"):
        cost_figure(report)


@pytest.mark.parametrize("ext, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_cli_writes_each_format(mpl, tmp_path, ext, magic):
    out = tmp_path / f"lenet.{ext}"
    r = run("plot", "lenet5", "--kind", "volumes", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes().startswith(magic)
    assert str(out) in r.stdout


def test_cli_png_pixel_size(mpl, tmp_path):
    from convcalc.render.figures import png_size

    out = tmp_path / "c.png"
    r = run("plot", "--kind", "compare", "alexnet", "lenet5", "--size", "6x4", "--dpi", "80", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert png_size(str(out)) == (6 * 80, 4 * 80)
    assert "(480x320 px)" in r.stdout


def test_cli_rf_and_cost_options(mpl, tmp_path):
    out = tmp_path / "rf.png"
    assert run("plot", "tinyconv", "--kind", "rf", "--layer", "features.block2.pool", "-o", str(out)).exit_code == 0
    assert out.exists()
    out = tmp_path / "cost.svg"
    assert run("plot", "resnet18", "--depth", "1", "--log", "-o", str(out)).exit_code == 0
    assert "<svg" in out.read_text()


@pytest.mark.parametrize("args, message", [
    (["alexnet", "--kind", "pie"], "Invalid value for '--kind'"),
    (["alexnet", "-o", "x.jpg"], "unknown extension '.jpg'"),
    (["alexnet", "-o", "/nonexistent-dir/x.png"], "cannot write /nonexistent-dir/x.png"),
    (["alexnet", "vgg16"], "--kind cost draws one model"),
    (["alexnet", "--kind", "rf", "--image", "/nonexistent.png"], "no such file"),
    (["alexnet", "--kind", "rf", "--layer", "nope"], "no layer 'nope'"),
    (["alexnet", "--image", "a.png"], "--image is for --kind rf"),
    (["resnet18", "--kind", "volumes"], "sequential"),
    (["alexnet", "--input", "3xHxW"], "plots need numbers"),
    (["alexnet", "--size", "big"], "WIDTHxHEIGHT"),
])
def test_cli_bad_input_one_line_exit_2(mpl, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "x.png")]
    r = run("plot", *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_default_output_name(mpl, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("plot", "lenet5")
    assert r.exit_code == 0
    assert (tmp_path / "lenet5-cost.png").exists()


def test_compare_colours_per_family_labels_apart_one_unit_system(mpl):
    from convcalc.render.figures import compare_figure

    names = ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "vgg11")
    fig = compare_figure([analyze(zoo.get(n)) for n in names])
    ax = fig.axes[0]
    colours = [tuple(c.get_facecolor()[0]) for c in ax.collections]
    assert len(ax.collections) == 3 and len(set(colours)) == 3  # resnet, mobilenet, vgg
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == len(names)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels(minor=True) + ax.get_yticklabels()]
    assert not any("times" in t or "×" in t or "^" in t for t in labels)


def test_deep_cost_plot_collapses_to_readable_bars(mpl):
    from convcalc.render.figures import MAX_BARS, cost_figure, cost_rows, readable_depth

    report = analyze(zoo.get("efficientnet_b0"))
    assert len(cost_rows(report)) > MAX_BARS
    depth = readable_depth(report)
    assert len(cost_rows(report.collapse(depth))) <= MAX_BARS
    assert depth == max(d for d in range(1, 8) if len(cost_rows(report.collapse(d))) <= MAX_BARS)
    fig = cost_figure(report)
    assert len(fig.axes[0].get_yticklabels()) == len(cost_rows(report.collapse(depth)))


def test_rf_of_units_that_see_no_pixel_is_one_line_exit_2(mpl, tmp_path):
    """A stride that keeps only a transposed conv's gaps: no unit sees any input pixel, so there is
    no field to draw (it drew a 0x0 px field and a 'first unit's centre' at pixel (0, 0))."""
    spec = "1x12x12 | convtranspose2d 1 k2 s2 p1 d2 | maxpool2d 1 s2 | conv2d 1 k3 p1"
    r = run("plot", spec, "--kind", "rf", "-o", str(tmp_path / "rf.png"))
    assert r.exit_code == 2 and "sees no input pixel" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "rf.png").exists()
