"""Printing a report: the chosen format to stdout, warnings to stderr. Rendering is render/'s job;
this module picks the renderer and the console."""
from __future__ import annotations

import sys

import click

from ..errors import ConvcalcError
from ..render import BAR_FORMATS, COLUMN_FORMATS, EXPLAIN_FORMATS


def emit(report, fmt: str, layout: str, verified=None) -> None:
    """Print a report in the chosen format; warnings go to stderr."""
    ctx = click.get_current_context(silent=True)
    layout_hint(ctx)
    bars, columns = (ctx.meta.get("convcalc.bars", False), ctx.meta.get("convcalc.columns")) if ctx else (False, None)
    if bars and fmt not in BAR_FORMATS:
        raise ConvcalcError(f"--bars applies to --format table and html, not {fmt}")
    if ctx is not None and ctx.meta.get("convcalc.explain"):
        if fmt not in EXPLAIN_FORMATS:
            raise ConvcalcError(f"--explain prints text, markdown, latex or json, not {fmt}")
        return emit_explanation(report, fmt)
    if report.symbolic and fmt == "table":
        return emit_symbolic(report, layout, exact=bool(ctx and ctx.meta.get("convcalc.exact")))
    if columns is not None and fmt not in COLUMN_FORMATS:
        raise ConvcalcError(f"--columns applies to --format table, latex and html, not {fmt}")
    if fmt == "table":
        from ..render.console import WIDE, print_layer_table, terminal_console
        from ..render.text import summary_line

        print_layer_table(terminal_console(sys.stdout, WIDE, soft_wrap=True), report, layout, verified,
                          bars=bars, columns=columns)
        click.echo(summary_line(report))
    else:
        from ..render import render

        click.echo(render(fmt, report, layout, columns=columns, bars=bars, verified=verified), nl=False)
    conv = report.meta.get("convention")
    if conv and fmt == "table":
        from ..units import exact, human_count
        click.echo(f"{conv['name']} would report {exact(conv['total'])} ({human_count(conv['total'])}) "
                   f"operations for this model (convcalc: {exact(report.totals['macs'])} MACs)")
    warn(report.warnings, report)


def written_input(ctx):
    """The input as the user wrote it (--input, or a one-liner's first part), when the layout was
    left at its default; else None."""
    from click.core import ParameterSource

    if ctx is None or "layout" not in ctx.params or ctx.get_parameter_source("layout") != ParameterSource.DEFAULT:
        return None
    if ctx.params.get("input_") is not None:
        return list(ctx.params["input_"])
    model = ctx.params.get("model")
    if isinstance(model, str) and "|" in model:
        head = model.split("|", 1)[0].strip().lower().replace("×", "x")
        parts = head.split("x")
        if all(p.strip().isdigit() for p in parts):
            return [int(p) for p in parts]
    return None


def layout_hint(ctx) -> None:
    """One line on stderr when an input read as CxHxW looks HxWxC (32x32x3)."""
    from ..tutor.hints import layout_hint as text, looks_hwc

    if ctx is None or ctx.meta.get("convcalc.hinted"):
        return
    dims = written_input(ctx)
    if dims is not None and looks_hwc(dims):
        ctx.meta["convcalc.hinted"] = True
        click.echo(text(dims), err=True)


def warn(warnings, report=None) -> None:
    """Each warning once on stderr; with ``report``, identical warnings of several layers as one line."""
    if report is not None:
        from ..render.notes import grouped

        warnings = grouped(report)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


def emit_explanation(report, fmt: str) -> None:
    from ..tutor import explain
    from ..render import explanation

    click.echo(explanation(fmt, explain.explain_report(report)), nl=False)


def emit_symbolic(report, layout: str, exact: bool) -> None:
    from .. import validity
    from ..render.console import SYMBOLIC, terminal_console
    from ..render.symbolic import print_fitted_table
    from ..units import exact as exact_text

    console = terminal_console(sys.stdout, SYMBOLIC)
    # long formulas below the table, referenced, instead of cut names, formulas or columns
    for note in print_fitted_table(console, report, layout):
        click.echo(note)
    t = report.totals
    for label, key in (("params", "params"), ("buffers", "buffers"), ("MACs", "macs"), ("FLOPs", "flops"),
                       ("activation bytes", "activation_bytes"), ("parameter bytes", "param_bytes")):
        click.echo(f"{label}: {exact_text(t[key])}")
    lines = validity.describe(report)
    click.echo("valid for " + ("; ".join(lines) if lines else "every size (no layer ever runs out of input)"))
    if exact:
        for line in validity.describe_tiling(report):
            click.echo(line)
    warn(report.warnings, report)


def run_verify(model, dims, batch, seed, max_memory):
    """Execute in the NumPy core, with a progress bar on a terminal when it takes a while."""
    import time

    from ..verify import parse_bytes, verify

    budget = parse_bytes(max_memory)
    if not sys.stderr.isatty():
        return verify(model, dims, batch=batch, seed=seed, max_memory=budget)
    from rich.progress import Progress

    t0 = time.perf_counter()
    with Progress(transient=True, disable=False) as bar:
        task = None

        def tick(done, total, name):
            nonlocal task
            if task is None and time.perf_counter() - t0 > 1.0:
                task = bar.add_task("verifying", total=total)
            if task is not None:
                bar.update(task, completed=done, description=f"verifying {name}")

        return verify(model, dims, batch=batch, seed=seed, max_memory=budget, progress=tick)
