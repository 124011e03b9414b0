"""The model commands: ``show`` (the layer table, also ``convcalc MODEL``), ``verify``, ``list``,
``rf`` and ``layer``."""
from __future__ import annotations

import sys

import click

from ..errors import ConvcalcError
from ..loader import load_model
from ..render.console import WIDE, terminal_console
from .emit import emit, run_verify
from .options import (SHAPE, budget_options, build_layer, dtype_option, format_option, layer_command, layout_option,  # noqa: F401
                      table_options, to_dims, training_from, training_options)


@click.command("show")
@click.argument("model")
@table_options
@click.option("--verify", "do_verify", is_flag=True, help="Also execute the network in the NumPy core and add a "
              "column saying whether every number was confirmed.")
@click.option("--convention", type=click.Choice(["convcalc", "torchvision", "fvcore", "ptflops", "torchinfo", "thop"]),
              default=None, help="Also give the total another tool would print for this model (README explains each).")
@training_options
@budget_options
def show(model, input_, batch, dtype, fmt, layout, do_verify, depth, convention, training, optimizer, amp, freeze,
         max_params, max_macs, max_memory):
    """The layer table of MODEL (a zoo name; `convcalc list` shows them).

    With --max-params / --max-macs / --max-memory the exit code is 1 when the model is over a
    budget (one line per figure on stderr), 0 otherwise: a line in CI keeps a model honest."""
    import dataclasses

    from ..analyze import analyze
    from ..budget import check, parse_limits

    limits = parse_limits(params=max_params, macs=max_macs, memory=max_memory)
    m = load_model(model, to_dims(input_, layout), layout)
    report = analyze(m, batch=batch, dtype=dtype, training=training_from(training, optimizer, amp, freeze))
    if convention:
        from ..conventions import count, per_layer

        report = dataclasses.replace(report, meta={**report.meta, "convention": {
            "name": convention, "total": count(report, convention),
            "per_layer": per_layer(report, convention)}})
    verified = None
    if do_verify:
        result = run_verify(m, report.input, batch, seed=0, max_memory="2GiB")
        verified = {r.name: r.ok for r in result.layers}
        if fmt == "json":
            report = dataclasses.replace(report, meta={**report.meta, "verified": verified})
    if depth:
        report = report.collapse(depth)
        if verified is not None:
            verified = {r.name: all(ok for name, ok in verified.items()
                                    if name == r.name or name.startswith(r.name + ".")) for r in report.rows}
    emit(report, fmt, layout, verified=verified)
    limits = {**(getattr(m, "budget", None) or {}), **limits}  # the spec's budget, the command line's over it
    over = check(report, limits) if limits else []
    for line in over:
        click.echo(f"over budget: {line}", err=True)
    if over or (verified is not None and not all(verified.values())):
        return 1


@click.command("verify")
@click.argument("model")
@click.option("--input", "input_", type=SHAPE, default=None, help="Input shape per sample (numbers only).")
@layout_option()
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed for the random input and weights.")
@click.option("--max-memory", default="2GiB", show_default=True,
              help="Refuse to run when the estimated peak memory is above this (512MiB, 1GiB, ...).")
@format_option(("table", "json"), help=None)
@click.option("--training", is_flag=True, help="Run a training step's backward too: gradient shapes, backward "
              "MACs against the kernels' tallies, and finite differences on a few random weights.")
@click.option("--freeze", multiple=True, metavar="PREFIX", help="With --training: layers under this name keep "
              "their parameters frozen (repeatable).")
def verify_cmd(model, input_, layout, batch, seed, max_memory, fmt, training, freeze):
    """Execute MODEL in the bundled NumPy core and check every claimed number.

    Per layer: the output shape, the parameter count (sizes of the weight arrays
    created), the MACs the kernels tallied, and the receptive field measured by
    propagating dependencies through the executed windows. Exit 0 when all agree,
    1 on any disagreement (both numbers are printed).
    """
    m = load_model(model, to_dims(input_, layout))
    if training or freeze:
        return _verify_training(m, batch, seed, max_memory, fmt, freeze)
    result = run_verify(m, getattr(m, "input", None), batch, seed, max_memory)
    from ..render.verify import verify_json, verify_table

    if fmt == "json":
        click.echo(verify_json(result))
    else:
        terminal_console(sys.stdout, WIDE).print(verify_table(result))
    c = result.counts()
    agreed = sum(v[0] for v in c.values())
    failed = sum(v[1] for v in c.values())
    msg = (f"{result.model}: {len(result.layers)} layers, {agreed} checks agree, {failed} disagree "
           f"(shape {c['shape'][0]}/{sum(c['shape'][:2])}, params {c['params'][0]}/{sum(c['params'][:2])}, "
           f"MACs {c['macs'][0]}/{sum(c['macs'][:2])}, RF {c['rf'][0]}/{sum(c['rf'][:2])})")
    click.echo(("✓ " if result.ok else "✗ ") + msg, err=fmt == "json")
    return 0 if result.ok else 1


def _verify_training(m, batch, seed, max_memory, fmt, freeze):
    from ..render.verify_training import fd_lines, training_json, training_table
    from ..training import TrainingOptions
    from ..verify import parse_bytes
    from ..verify_training import verify_training

    result = verify_training(m, getattr(m, "input", None), batch=batch, seed=seed, max_memory=parse_bytes(max_memory),
                             options=TrainingOptions(freeze=tuple(freeze)))
    if fmt == "json":
        click.echo(training_json(result))
    else:
        terminal_console(sys.stdout, WIDE).print(training_table(result))
        for line in fd_lines(result):
            click.echo(line)
    c = result.counts()
    msg = (f"{result.model} training step: {len(result.layers)} layers (shape {c['shape'][0]}/{sum(c['shape'][:2])}, "
           f"gradients {c['grads'][0]}/{sum(c['grads'][:2])}, backward MACs {c['bwd_macs'][0]}/"
           f"{sum(c['bwd_macs'][:2])}, finite differences {c['fd'][0]}/{sum(c['fd'][:2])})")
    click.echo(("✓ " if result.ok else "✗ ") + msg, err=fmt == "json")
    return 0 if result.ok else 1


@click.command("list")
@format_option(("table", "json", "csv", "markdown"), help=None)
@click.option("--sort", "sort_by", type=click.Choice(["params", "macs", "rf"]), default=None,
              help="Order by this figure, smallest first [default: the zoo's order].")
@click.option("--filter", "family", default=None, metavar="TEXT",
              help="Only models whose name contains TEXT (a family: resnet, mobilenet, vgg...).")
def list_models(fmt, sort_by, family):
    """Every zoo model with its input, parameters, MACs and receptive field."""
    from .. import zoo
    from ..analyze import analyze
    from ..compare import last_spatial_rf
    from ..units import exact, human_count, rf_text, shape_text

    names = zoo.names()
    if family is not None:
        wanted = family.strip().lower()
        names = [n for n in names if wanted and wanted in n.lower()]
        if not names:
            import re

            families = sorted({re.match(r"[a-z]*", n).group() or n for n in zoo.names()})
            raise ConvcalcError(f"--filter: no zoo model name contains {family!r}; families: {', '.join(families)}")
    rows = []
    for name in names:
        r = analyze(zoo.get(name))
        # the field of the last feature map (after a squeeze-and-excitation gate it is the whole image)
        rows.append((name, r.input, r.totals["params"], r.totals["macs"], last_spatial_rf(r)))
    if sort_by is not None:
        index = {"params": 2, "macs": 3, "rf": 4}[sort_by]
        rows.sort(key=lambda row: (row[4][0].size if row[4] else 0) if sort_by == "rf" else row[index])
    if fmt == "json":
        import json
        from ..report import jsonable
        click.echo(json.dumps([{"model": n, "input": list(i), "params": p, "macs": jsonable(m),
                                "rf": [jsonable(a.size) for a in rf] if rf else None}
                               for n, i, p, m, rf in rows], indent=2))
        return
    if fmt in ("csv", "markdown"):
        sep = "," if fmt == "csv" else " | "
        lines = [sep.join(["model", "input", "params", "macs", "rf"])]
        if fmt == "markdown":
            lines = ["| " + lines[0] + " |", "|---|---|---:|---:|---:|"]
        for n, i, p, m, rf in rows:
            cells = [n, shape_text(i), str(p), str(m), rf_text(rf)]
            lines.append(sep.join(cells) if fmt == "csv" else "| " + sep.join(cells) + " |")
        click.echo("\n".join(lines))
        return
    from rich import box
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD)
    for col, just in (("Model", "left"), ("Input", "left"), ("Params", "right"), ("MACs", "right"),
                      ("RF (last feature map)", "right")):
        t.add_column(col, justify=just, no_wrap=True)
    for n, i, p, m, rf in rows:
        t.add_row(n, shape_text(i), f"{exact(p)} ({human_count(p)})", f"{human_count(m)}", rf_text(rf))
    terminal_console(sys.stdout, WIDE).print(t)


@click.command("rf")
@click.argument("model")
@click.option("--input", "input_", type=SHAPE, default=None, help="Input shape per sample.")
@layout_option()
@format_option(("table", "json"), help=None)
def rf_cmd(model, input_, layout, fmt):
    """Receptive-field detail of MODEL per layer and axis: size, jump (effective stride), start
    (centre of the first unit's field, in input pixels) and effective padding, as in
    google-research/receptive_field."""
    from ..analyze import analyze
    from ..report import jsonable
    from ..rf import sees_nothing
    from ..sym import fmt as fmt_dim

    report = analyze(load_model(model, to_dims(input_, layout)))
    rows = [r for r in report.rows if r.rf]
    if fmt == "json":
        import json
        from ..report import rf_dict
        click.echo(json.dumps({"model": report.model, "input": [jsonable(d) for d in report.input],
                               "layers": [{"name": r.name, "kind": r.kind, **rf_dict(r.rf)} for r in rows]}, indent=2))
        return
    from rich import box
    from rich.table import Table

    t = Table(title=f"{report.model} · receptive fields (input {'x'.join(str(d) for d in report.input)})",
              box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("Layer", "Kind", "Size", "Jump", "Start", "Eff. padding"):
        t.add_column(col, no_wrap=True, justify="left" if col in ("Layer", "Kind") else "right")

    def axes(values):
        texts = [v if isinstance(v, str) else fmt_dim(v) if v is not None else "all" for v in values]
        return texts[0] if len(set(texts)) == 1 else " x ".join(texts)

    for r in rows:
        blind = [sees_nothing(a) for a in r.rf]  # no field: no centre, no padding it reaches
        t.add_row(r.name, r.desc, axes([a.size for a in r.rf]), axes([a.jump for a in r.rf]),
                  axes(["–" if b else a.start for a, b in zip(r.rf, blind)]),
                  axes(["–" if b else a.effective_padding for a, b in zip(r.rf, blind)]))
    terminal_console(sys.stdout, WIDE).print(t)


@click.command("layer")
@click.argument("kind")
@table_options
@training_options
@layer_command
def layer(kind, input_, batch, dtype, fmt, layout, depth, training, optimizer, amp, freeze, **options):
    """One layer of KIND (conv2d, maxpool2d, linear, ...) on --input, with PyTorch's arguments."""
    from ..analyze import analyze
    from ..graph import Sequential

    if input_ is None:
        raise click.UsageError("--input is required, e.g. --input 3x32x32")
    from .emit import layout_hint

    layout_hint(click.get_current_context())  # before anything can fail on the misread input
    lay = build_layer(kind, options)
    dims = to_dims(input_, layout, square_default=False)
    report = analyze(Sequential((lay.kind, lay)), dims, batch=batch, dtype=dtype, name=lay.kind,
                     training=training_from(training, optimizer, amp, freeze))
    emit(report, fmt, layout)
