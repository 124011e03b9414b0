"""``convcalc sweep MODEL --input 128,160,224`` / ``--width 0.5,0.75,1.0``: one row per value."""
from __future__ import annotations

import sys

import click

from ..errors import ConvcalcError
from ..loader import load_model
from .options import dtype_option


def _values(text, what: str, cast):
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(cast(part))
        except ValueError:
            raise ConvcalcError(f"--{what}: {part!r} is not a number (expected e.g. "
                                f"{'128,160,224' if what == 'input' else '0.5,0.75,1.0'})") from None
    if not out:
        raise ConvcalcError(f"--{what}: no values given")
    return out


@click.command("sweep")
@click.argument("model")
@click.option("--input", "inputs", default=None, metavar="S,S,...",
              help="Square input sides to try (the model's channels): 128,160,224.")
@click.option("--width", "widths", default=None, metavar="W,W,...",
              help="Width multipliers on every conv's out_channels and linear's out_features except the "
                   "last layer's: 0.5,0.75,1.0.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@dtype_option()
@click.option("--plot", "plot_file", default=None, metavar="FILE",
              help="Also draw params, MACs and memory against the values (PNG/SVG/PDF; needs matplotlib).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def sweep(model, inputs, widths, batch, dtype, plot_file, fmt):
    """MODEL's params, MACs and memory as one thing varies: the input size or the width.

    Also prints the closed forms in the input side S from the symbolic engine.

    \b
      convcalc sweep resnet18 --input 128,160,224
      convcalc sweep my_net.yaml --width 0.5,0.75,1.0 --plot width.png
    """
    from .. import sweep as sw
    from ..render import sweeps

    if (inputs is None) == (widths is None):
        raise ConvcalcError("give one of --input S,S,... or --width W,W,...")
    if plot_file is not None:
        from ..render import figures

        figures.output_format(plot_file)
        figures.require_matplotlib()
    m = load_model(model)
    if inputs is not None:
        what, values = "input", _values(inputs, "input", int)
    else:
        what, values = "width", _values(widths, "width", float)
    points = sw.run(m, what, values, batch=batch, dtype=dtype)
    formulas = sw.closed_form(m, batch=batch, dtype=dtype) if fmt != "csv" else None
    if fmt == "json":
        click.echo(sweeps.sweep_json(m.name, what, points, formulas), nl=False)
    elif fmt == "csv":
        click.echo(sweeps.sweep_csv(what, points), nl=False)
    else:
        from ..render.console import WIDE, print_grid, terminal_console

        print_grid(terminal_console(sys.stdout, WIDE), sweeps.sweep_grid(m.name, what, points),
                   sweeps.formula_lines(formulas))
    if plot_file is not None:
        from ..render import figures

        fig = figures.sweep_figure(m.name, what, points)
        figures.save(fig, plot_file)
        click.echo(f"wrote {plot_file}", err=True)
