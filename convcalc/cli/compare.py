"""``convcalc compare A B C...``: several models in one table (zoo names, spec files, one-liners)."""
from __future__ import annotations

import sys

import click

from ..loader import load_model
from .options import SHAPE, dtype_option, layout_option, to_dims

CONVENTION_CHOICES = ["all", "convcalc", "torchvision", "fvcore", "ptflops", "torchinfo", "thop"]


@click.command("compare")
@click.argument("models", nargs=-1, required=True)
@click.option("--input", "input_", type=SHAPE, default=None,
              help="One input shape for every model [default: each model's own].")
@layout_option()
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@dtype_option()
@click.option("--convention", type=click.Choice(CONVENTION_CHOICES), default=None,
              help="Instead: each model's operation total under this tool's convention, or under every "
                   "one (all).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table",
              show_default=True)
def compare(models, input_, layout, batch, dtype, convention, fmt):
    """MODELS side by side: params, MACs, memory, receptive field, the smallest square input,
    and per-stage subtotals (the --depth 1 groups: a ResNet's layer1..layer4).

    \b
      convcalc compare resnet18 resnet50 mobilenet_v2
      convcalc compare my_net.yaml "3x32x32 | conv 16 k3 | relu | flatten | linear 10"
      convcalc compare alexnet --convention all
    """
    from .. import compare as cmp
    from ..analyze import analyze
    from ..conventions import CONVENTIONS
    from ..render import compare as show
    from ..render.console import WIDE, print_grid, terminal_console

    dims = to_dims(input_, layout)
    loaded = [(name, load_model(name, dims, layout)) for name in models]  # an unknown name fails first
    entries = []
    for name, m in loaded:
        report = analyze(m, batch=batch, dtype=dtype)
        entries.append(cmp.entry(name, m, report) if convention is None
                       else cmp.Entry(name, report, None, ()))
    table = None
    if convention is not None:
        names = CONVENTIONS if convention == "all" else (convention,)
        table = [cmp.conventions(e.report, names) for e in entries]
    if fmt == "json":
        click.echo(show.compare_json(entries, table), nl=False)
        return
    grid, refs = (show.convention_grid(entries, table) if table is not None
                  else show.compare_grid(entries, _stages(entries), layout))
    if fmt == "csv":
        click.echo(show.grid_csv(grid), nl=False)
    elif fmt == "markdown":
        click.echo(show.grid_markdown(grid), nl=False)
    else:
        print_grid(terminal_console(sys.stdout, WIDE), grid, refs)


def _stages(entries) -> list:
    """Stage names where some model has parameters or MACs (activations and the like left out)."""
    from ..compare import stage_names

    busy = {n for e in entries for n, p, m in e.stages if p or m}
    return [n for n in stage_names(entries) if n in busy]
