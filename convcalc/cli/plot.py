"""`convcalc plot MODEL --kind cost|rf|volumes|compare -o FILE`: figures (needs the plot extra)."""
from __future__ import annotations

import click

from ..errors import ConvcalcError
from ..loader import load_model
from .options import SHAPE, dtype_option, layout_option, to_dims


def _size(text):
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (float(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT in inches, e.g. 10x6, got {text!r}") from None
    if not (0 < w <= 100 and 0 < h <= 100):
        raise click.BadParameter(f"width and height must be between 0 and 100 inches, got {text!r}")
    return (w, h)


@click.command("plot")
@click.argument("models", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(["cost", "rf", "volumes", "compare"]), default="cost",
              show_default=True, help="cost: params, MACs and activation memory per layer; rf: a unit's "
              "receptive field on the input; volumes: the 3-D volume diagram; compare: params vs MACs of "
              "several models.")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="PNG, SVG or PDF, by extension [default: MODEL-KIND.png].")
@click.option("--input", "input_", type=SHAPE, default=None, help="Input shape per sample (numbers only).")
@layout_option()
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@dtype_option()
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="cost: collapse rows into blocks of this many name levels.")
@click.option("--log", "log", is_flag=True, help="cost: logarithmic bars.")
@click.option("--layer", default=None, help="rf: the layer whose centre unit is drawn "
              "[default: the last layer with a spatial output].")
@click.option("--image", default=None, metavar="FILE", help="rf: draw on this PNG/JPEG (stretched to the input).")
@click.option("--no-kernels", is_flag=True, help="volumes: leave out the kernel windows.")
@click.option("--dpi", type=click.IntRange(min=20, max=1200), default=150, show_default=True,
              help="Pixels per inch of a PNG.")
@click.option("--size", default=None, metavar="WxH", help="Figure size in inches, e.g. 10x6.")
def plot(models, kind, output, input_, layout, batch, dtype, depth, log, layer, image, no_kernels, dpi, size):
    """Draw MODEL: cost per layer, a receptive field, the volume diagram, or compare several.

    \b
      convcalc plot alexnet -o alexnet-cost.png
      convcalc plot alexnet --kind rf --image cat.jpg -o rf.png
      convcalc plot alexnet --kind volumes -o alexnet.svg
      convcalc plot --kind compare alexnet vgg16 resnet50 -o compare.pdf
    """
    from ..render import figures as plots
    from ..analyze import analyze

    if kind != "compare" and len(models) != 1:
        raise ConvcalcError(f"--kind {kind} draws one model, got {len(models)}; --kind compare takes several")
    output = output or f"{models[0] if len(models) == 1 else 'compare'}-{kind}.png".replace("/", "_")
    plots.output_format(output)     # a bad path fails before any work
    plots.require_matplotlib()
    figsize = _size(size)
    if figsize is not None and figsize[0] * figsize[1] * dpi * dpi > 100e6:
        raise ConvcalcError(f"a {figsize[0]:g}x{figsize[1]:g} in figure at {dpi} dpi would be "
                            f"{figsize[0] * figsize[1] * dpi * dpi / 1e6:.0f} megapixels; keep it under 100 "
                            "(lower --dpi or --size)")
    if image is not None and kind != "rf":
        raise ConvcalcError("--image is for --kind rf")
    if layer is not None and kind != "rf":
        raise ConvcalcError("--layer is for --kind rf")
    if (log or depth) and kind != "cost":
        raise ConvcalcError(f"{'--log' if log else '--depth'} is for --kind cost")
    dims = to_dims(input_, layout)
    reports = [analyze(load_model(m, dims), batch=batch, dtype=dtype) for m in models]
    if kind == "cost":
        report = reports[0].collapse(depth) if depth else reports[0]
        fig = plots.cost_figure(report, log=log, figsize=figsize, dpi=dpi)
    elif kind == "rf":
        fig = plots.rf_figure(reports[0], layer=layer, image=image, figsize=figsize, dpi=dpi)
    elif kind == "volumes":
        fig = plots.volumes_figure(reports[0], kernels=not no_kernels, figsize=figsize, dpi=dpi)
    else:
        fig = plots.compare_figure(reports, figsize=figsize, dpi=dpi)
    fmt = plots.save(fig, output, dpi=dpi)
    if fmt == "png":
        w, h = plots.png_size(output)
        click.echo(f"wrote {output} ({w}x{h} px)")
    else:
        click.echo(f"wrote {output}")
