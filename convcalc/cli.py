"""The command line. The only module that prints or sets exit codes.

Exit codes: 0 success, 1 a failed check or verification, 2 bad input (one line on
stderr, nothing on stdout).
"""
from __future__ import annotations

import inspect
import re
import sys

import click

from .errors import ConvcalcError

FORMATS = ("table", "json", "csv", "markdown", "latex", "html")
COUNTING = ("MACs count one multiply plus one accumulate (conv and linear weights only; bias adds, "
            "norms, activations and pooling are not MACs). FLOPs = 2 x MACs.")


# -- argument types -------------------------------------------------------------------------------
class ShapeType(click.ParamType):
    """``3x224x224``, ``224`` (square RGB), ``3xHxW`` (symbols), ``(3, 32, 32)``."""

    name = "SHAPE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip().strip("()[]")
        parts = [p.strip() for p in re.split(r"\s*(?:x|X|×|\*|,)\s*", text)] if text else []
        if not parts or any(p == "" for p in parts):
            self.fail(f"malformed shape {value!r}: expected sizes joined by 'x', e.g. 3x224x224", param, ctx)
        dims = []
        for p in parts:
            if re.fullmatch(r"\d+", p):
                n = int(p)
                if n < 1:
                    self.fail(f"malformed shape {value!r}: sizes must be at least 1, got {n}", param, ctx)
                dims.append(n)
            elif re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", p):
                dims.append(p)  # a symbol; turned into sympy only when the shape is used
            else:
                self.fail(f"malformed shape {value!r}: {p!r} is neither a positive integer nor a symbol name",
                          param, ctx)
        return tuple(dims)


SHAPE = ShapeType()


class BatchType(click.ParamType):
    """A positive integer, or a symbol name for a symbolic batch."""

    name = "N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                self.fail(f"batch must be at least 1, got {value}", param, ctx)
            return value
        text = str(value).strip()
        if re.fullmatch(r"-?\d+", text):
            return self.convert(int(text), param, ctx)
        if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", text):
            from .sym import dims

            return dims(text)
        self.fail(f"batch must be a positive integer or a symbol name, got {value!r}", param, ctx)


BATCH = BatchType()


def to_dims(shape, layout: str, square_default: bool = True):
    """A parsed --input to a per-sample ``(C, *spatial)`` tuple of ints / sympy symbols."""
    if shape is None:
        return None
    dims = list(shape)
    if len(dims) == 1 and square_default:
        dims = [3, dims[0], dims[0]] if layout == "chw" else [dims[0], dims[0], 3]
    if layout == "hwc" and len(dims) > 1:
        dims = [dims[-1]] + dims[:-1]
    if any(isinstance(d, str) for d in dims):
        from .sym import dims as make_symbols

        names = sorted({d for d in dims if isinstance(d, str)})
        syms = make_symbols(" ".join(names))
        syms = syms if isinstance(syms, tuple) else (syms,)
        table = dict(zip(names, syms))
        dims = [table.get(d, d) if isinstance(d, str) else d for d in dims]
    return tuple(dims)


class IntTuple(click.ParamType):
    """``3``, ``3x5`` or ``3,5`` -> 3 or (3, 5); also 'same'/'valid' where allowed."""

    name = "INT[xINT...]"

    def __init__(self, words=()):
        self.words = words

    def convert(self, value, param, ctx):
        if isinstance(value, (int, tuple)):
            return value
        text = str(value).strip()
        if text in self.words:
            return text
        parts = re.split(r"\s*(?:x|,)\s*", text)
        try:
            nums = tuple(int(p) for p in parts)
        except ValueError:
            extra = f" or {' / '.join(self.words)}" if self.words else ""
            self.fail(f"expected an integer or integers joined by 'x'{extra}, got {value!r}", param, ctx)
        return nums[0] if len(nums) == 1 else nums


# -- the group: `convcalc MODEL` is `convcalc show MODEL` --------------------------------------------
class CLI(click.Group):
    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "convcalc", complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("convcalc: aborted", err=True)
            rv = 1
        except click.ClickException as e:
            click.echo(f"convcalc: error: {e.format_message()}", err=True)
            rv = e.exit_code
        except ConvcalcError as e:
            click.echo(f"convcalc: error: {e}", err=True)
            rv = 2
        except RecursionError:
            click.echo("convcalc: error: expression too deep to handle", err=True)
            rv = 2
        rv = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(rv)
        return rv


@click.group(cls=CLI, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="Counting: " + COUNTING)
@click.version_option(package_name="convcalc", prog_name="convcalc")
def cli():
    """Exact shapes, parameters, MACs, receptive fields and memory of convolutional networks.

    \b
      convcalc alexnet                     the layer table of a zoo model
      convcalc vgg16 --input 3x224x224 --batch 8 --dtype fp16
      convcalc list                        every model with its totals
      convcalc layer conv2d --input 3x32x32 --out 10 -k 5 -p 2
      convcalc "3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10"   (or my_net.yaml)
        one-liner: SHAPE | KIND ARGS | ...; a bare number is out_channels / out_features / a pool's kernel;
        k3 s2 p1 d2 g2 = kernel, stride, padding, dilation, groups; nobias, ceil, NAME=VALUE
    """


def table_options(f):
    f = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                     help="Output format.")(f)
    f = click.option("--layout", type=click.Choice(["chw", "hwc"]), default="chw", show_default=True,
                     help="Read --input and print shapes as CxHxW (PyTorch) or HxWxC (many courses).")(f)
    f = click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16", "int8", "fp64"]), default="fp32",
                     show_default=True, help="Bytes per element for memory columns.")(f)
    f = click.option("--batch", type=BATCH, default=1, show_default=True,
                     help="Batch size (or a symbol, N): scales MACs and activation memory, never parameters.")(f)
    f = click.option("--depth", type=click.IntRange(min=1), default=None,
                     help="Collapse rows into blocks of this many name levels, with subtotals.")(f)
    f = click.option("--input", "input_", type=SHAPE, default=None,
                     help="Input shape per sample: 3x224x224, 224 (square RGB), 3xHxW (symbolic).")(f)
    # --bars / --columns reach emit() through the context, so commands need no new parameters.
    f = click.option("--bars", is_flag=True, expose_value=False, callback=_remember,
                     help="Add a share-of-total bar beside params and MACs (table, html).")(f)
    f = click.option("--explain", is_flag=True, expose_value=False, callback=_remember,
                     help="Show the work: per layer and quantity, the general formula, the numbers substituted, "
                          "the result (text, markdown $...$, latex align*, json).")(f)
    f = click.option("--exact", is_flag=True, expose_value=False, callback=_remember,
                     help="With a symbolic --input: also the sizes for which every stride tiles its input.")(f)
    f = click.option("--columns", default=None, expose_value=False, callback=_remember, metavar="COL,...",
                     help="Choose and order columns (table, latex, html): layer, kind, input, output, params, "
                          "buffers, macs, flops, rf, memory.")(f)
    return f


def _remember(ctx, param, value):
    if param.name == "columns" and value is not None:
        from .render.table import parse_columns
        try:
            value = parse_columns(value)
        except ConvcalcError as e:
            raise click.BadParameter(str(e).split(": ", 1)[-1], ctx, param) from None
    ctx.meta[f"convcalc.{param.name}"] = value
    return value


def emit(report, fmt: str, layout: str, verified=None) -> None:
    """Print a report in the chosen format; warnings go to stderr."""
    ctx = click.get_current_context(silent=True)
    bars, columns = (ctx.meta.get("convcalc.bars", False), ctx.meta.get("convcalc.columns")) if ctx else (False, None)
    if bars and fmt not in ("table", "html"):
        raise ConvcalcError(f"--bars applies to --format table and html, not {fmt}")
    if ctx is not None and ctx.meta.get("convcalc.explain"):
        if fmt not in ("table", "markdown", "latex", "json"):
            raise ConvcalcError(f"--explain prints text, markdown, latex or json, not {fmt}")
        return emit_explanation(report, fmt)
    if report.symbolic and fmt == "table":
        return emit_symbolic(report, layout, exact=bool(ctx and ctx.meta.get("convcalc.exact")))
    if columns is not None and fmt not in ("table", "latex", "html"):
        raise ConvcalcError(f"--columns applies to --format table, latex and html, not {fmt}")
    if fmt == "latex":
        from .render.latex import to_latex
        click.echo(to_latex(report, layout, columns=columns), nl=False)
    elif fmt == "html":
        from .render.html import to_html
        click.echo(to_html(report, layout, columns=columns, bars=bars, verified=verified), nl=False)
    elif fmt == "json":
        from .render.text import to_json
        click.echo(to_json(report))
    elif fmt == "csv":
        from .render.text import to_csv
        click.echo(to_csv(report, layout), nl=False)
    elif fmt == "markdown":
        from .render.text import to_markdown
        click.echo(to_markdown(report, layout), nl=False)
    else:
        from rich.console import Console
        from .render.table import layer_table

        out = sys.stdout
        tty = out.isatty()
        console = Console(file=out, width=None if tty else 400, no_color=not tty or None,
                          highlight=False, soft_wrap=not tty)
        console.print(layer_table(report, layout, verified, bars=bars, columns=columns))
        from .render.text import summary_line
        click.echo(summary_line(report))
    conv = report.meta.get("convention")
    if conv and fmt == "table":
        from .units import exact, human_count
        click.echo(f"{conv['name']} would report {exact(conv['total'])} ({human_count(conv['total'])}) "
                   f"operations for this model (convcalc: {exact(report.totals['macs'])} MACs)")
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)


def emit_explanation(report, fmt: str) -> None:
    from . import explain

    exps = explain.explain_report(report)
    if fmt == "latex":
        click.echo(explain.to_latex(exps), nl=False)
    elif fmt == "markdown":
        click.echo(explain.to_markdown(exps), nl=False)
    elif fmt == "json":
        import json
        click.echo(json.dumps(explain.to_json(exps), indent=2))
    else:
        click.echo(explain.to_text(exps), nl=False)


def emit_symbolic(report, layout: str, exact: bool) -> None:
    from rich.console import Console

    from . import validity
    from .render.symbolic import symbolic_table

    tty = sys.stdout.isatty()
    from .units import exact as exact_text

    Console(width=None if tty else 160, no_color=not tty or None, highlight=False).print(
        symbolic_table(report, layout))
    t = report.totals
    for label, key in (("params", "params"), ("buffers", "buffers"), ("MACs", "macs"), ("FLOPs", "flops"),
                       ("activation bytes", "activation_bytes"), ("parameter bytes", "param_bytes")):
        click.echo(f"{label}: {exact_text(t[key])}")
    lines = validity.describe(report)
    click.echo("valid for " + ("; ".join(lines) if lines else "every size (no layer ever runs out of input)"))
    if exact:
        for line in validity.describe_tiling(report):
            click.echo(line)
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)


def load_model(name: str, input_dims, layout: str = "chw"):
    """A zoo name, a spec file (.yaml/.yml/.json) or a one-line spec ("3x32x32 | conv 10 k3 | ...").
    With ``layout='hwc'`` a one-liner's own shape is read as HxWxC, like ``--input``."""
    import os

    if "|" in name or name.lower().endswith((".yaml", ".yml", ".json")) or os.path.sep in name:
        from . import spec

        model = spec.load(name)
        if input_dims is not None:
            model.input = tuple(input_dims)
        elif layout == "hwc" and "|" in name and len(model.input) > 1:
            model.input = (model.input[-1], *model.input[:-1])
        return model
    from . import zoo

    return zoo.get(name, input_dims)


@cli.command("show")
@click.argument("model")
@table_options
@click.option("--verify", "do_verify", is_flag=True, help="Also execute the network in the NumPy core and add a "
              "column saying whether every number was confirmed.")
@click.option("--convention", type=click.Choice(["convcalc", "torchvision", "fvcore", "ptflops", "torchinfo", "thop"]),
              default=None, help="Also give the total another tool would print for this model (README explains each).")
def show(model, input_, batch, dtype, fmt, layout, do_verify, depth, convention):
    """The layer table of MODEL (a zoo name; `convcalc list` shows them)."""
    import dataclasses

    from .analyze import analyze

    m = load_model(model, to_dims(input_, layout), layout)
    report = analyze(m, batch=batch, dtype=dtype)
    if convention:
        from .conventions import count, per_layer

        report = dataclasses.replace(report, meta={**report.meta, "convention": {
            "name": convention, "total": count(report, convention), "per_layer": per_layer(report, convention)}})
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
    if verified is not None and not all(verified.values()):
        return 1


def run_verify(model, dims, batch, seed, max_memory):
    """Execute in the NumPy core, with a progress bar on a terminal when it takes a while."""
    import time

    from .verify import parse_bytes, verify

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


@cli.command("verify")
@click.argument("model")
@click.option("--input", "input_", type=SHAPE, default=None, help="Input shape per sample (numbers only).")
@click.option("--layout", type=click.Choice(["chw", "hwc"]), default="chw", show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed for the random input and weights.")
@click.option("--max-memory", default="2GiB", show_default=True,
              help="Refuse to run when the estimated peak memory is above this (512MiB, 1GiB, ...).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def verify_cmd(model, input_, layout, batch, seed, max_memory, fmt):
    """Execute MODEL in the bundled NumPy core and check every claimed number.

    Per layer: the output shape, the parameter count (sizes of the weight arrays
    created), the MACs the kernels tallied, and the receptive field measured by
    propagating dependencies through the executed windows. Exit 0 when all agree,
    1 on any disagreement (both numbers are printed).
    """
    m = load_model(model, to_dims(input_, layout))
    result = run_verify(m, getattr(m, "input", None), batch, seed, max_memory)
    from .render.verify import verify_json, verify_table

    if fmt == "json":
        click.echo(verify_json(result))
    else:
        from rich.console import Console

        tty = sys.stdout.isatty()
        Console(width=None if tty else 400, no_color=not tty or None, highlight=False).print(verify_table(result))
    c = result.counts()
    agreed = sum(v[0] for v in c.values())
    failed = sum(v[1] for v in c.values())
    msg = (f"{result.model}: {len(result.layers)} layers, {agreed} checks agree, {failed} disagree "
           f"(shape {c['shape'][0]}/{sum(c['shape'][:2])}, params {c['params'][0]}/{sum(c['params'][:2])}, "
           f"MACs {c['macs'][0]}/{sum(c['macs'][:2])}, RF {c['rf'][0]}/{sum(c['rf'][:2])})")
    click.echo(("✓ " if result.ok else "✗ ") + msg, err=fmt == "json")
    return 0 if result.ok else 1


@cli.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table",
              show_default=True)
def list_models(fmt):
    """Every zoo model with its input, parameters, MACs and receptive field."""
    from . import zoo
    from .analyze import analyze
    from .units import exact, human_count, rf_text, shape_text

    rows = []
    for name in zoo.names():
        r = analyze(zoo.get(name))
        # the field of the last feature map (after a squeeze-and-excitation gate it is the whole image)
        last_spatial = next((row.rf for row in reversed(r.rows)
                             if row.rf and len(row.output) > 1 and any(d != 1 for d in row.output[1:])), None)
        rows.append((name, r.input, r.totals["params"], r.totals["macs"], last_spatial))
    if fmt == "json":
        import json
        from .report import jsonable
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
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD)
    for col, just in (("Model", "left"), ("Input", "left"), ("Params", "right"), ("MACs", "right"),
                      ("RF (last feature map)", "right")):
        t.add_column(col, justify=just, no_wrap=True)
    for n, i, p, m, rf in rows:
        t.add_row(n, shape_text(i), f"{exact(p)} ({human_count(p)})", f"{human_count(m)}", rf_text(rf))
    tty = sys.stdout.isatty()
    Console(width=None if tty else 400, no_color=not tty or None, highlight=False).print(t)


@cli.command("rf")
@click.argument("model")
@click.option("--input", "input_", type=SHAPE, default=None, help="Input shape per sample.")
@click.option("--layout", type=click.Choice(["chw", "hwc"]), default="chw", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def rf_cmd(model, input_, layout, fmt):
    """Receptive-field detail of MODEL per layer and axis: size, jump (effective stride), start
    (centre of the first unit's field, in input pixels) and effective padding, as in
    google-research/receptive_field."""
    from .analyze import analyze
    from .report import jsonable
    from .sym import fmt as fmt_dim

    report = analyze(load_model(model, to_dims(input_, layout)))
    rows = [r for r in report.rows if r.rf]
    if fmt == "json":
        import json
        from .report import rf_dict
        click.echo(json.dumps({"model": report.model, "input": [jsonable(d) for d in report.input],
                               "layers": [{"name": r.name, "kind": r.kind, **rf_dict(r.rf)} for r in rows]}, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{report.model} · receptive fields (input {'x'.join(str(d) for d in report.input)})",
              box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("Layer", "Kind", "Size", "Jump", "Start", "Eff. padding"):
        t.add_column(col, no_wrap=True, justify="left" if col in ("Layer", "Kind") else "right")

    def axes(values):
        texts = [fmt_dim(v) if v is not None else "all" for v in values]
        return texts[0] if len(set(texts)) == 1 else " x ".join(texts)

    for r in rows:
        t.add_row(r.name, r.desc, axes([a.size for a in r.rf]), axes([a.jump for a in r.rf]),
                  axes([a.start for a in r.rf]), axes([a.effective_padding for a in r.rf]))
    tty = sys.stdout.isatty()
    Console(width=None if tty else 400, no_color=not tty or None, highlight=False).print(t)


# -- convcalc layer KIND ---------------------------------------------------------------------------------
LAYER_OPTIONS = [
    # (option decls, parameter name of the layer class, type)
    (("--in-channels",), "in_channels", int),
    (("--out-channels", "--out"), "out_channels", int),
    (("--kernel-size", "-k"), "kernel_size", IntTuple()),
    (("--stride", "-s"), "stride", IntTuple()),
    (("--padding", "-p"), "padding", IntTuple(("same", "valid"))),
    (("--dilation", "-d"), "dilation", IntTuple()),
    (("--groups", "-g"), "groups", int),
    (("--output-padding",), "output_padding", IntTuple()),
    (("--padding-mode",), "padding_mode", click.Choice(["zeros", "reflect", "replicate", "circular"])),
    (("--in-features",), "in_features", int),
    (("--out-features",), "out_features", int),
    (("--output-size",), "output_size", IntTuple()),
    (("--num-features",), "num_features", int),
    (("--num-groups",), "num_groups", int),
    (("--num-parameters",), "num_parameters", int),
    (("--size",), "size", int),
    (("--start-dim",), "start_dim", int),
    (("--end-dim",), "end_dim", int),
    (("--dim",), "dim", int),
    (("--normalized-shape",), "normalized_shape", IntTuple()),
    (("--scale-factor",), "scale_factor", float),
    (("--mode",), "mode", click.Choice(["nearest", "nearest-exact", "linear", "bilinear", "trilinear"])),
    (("--negative-slope",), "negative_slope", float),
    (("--alpha",), "alpha", float),
    (("--beta",), "beta", float),
]


def layer_command(f):
    for decls, dest, typ in reversed(LAYER_OPTIONS):
        f = click.option(*decls, dest, type=typ, default=None, help=f"PyTorch's `{dest}`.")(f)
    f = click.option("--no-bias", is_flag=True, help="bias=False.")(f)
    f = click.option("--ceil-mode", is_flag=True, help="ceil_mode=True (pooling).")(f)
    f = click.option("--no-count-include-pad", is_flag=True, help="count_include_pad=False (avg pooling).")(f)
    f = click.option("--no-affine", is_flag=True, help="affine=False (norms: no scale and shift).")(f)
    f = click.option("--no-track-running-stats", is_flag=True, help="track_running_stats=False (no buffers).")(f)
    return f


def layer_class_and_kwargs(kind: str, options: dict):
    """The layer class for KIND and its keyword arguments from the CLI's layer options."""
    from .layers import ALIASES, KINDS
    import difflib

    key = kind.lower().replace("_", "").replace("-", "")
    key = ALIASES.get(key, key)
    if key not in KINDS:
        close = difflib.get_close_matches(key, list(KINDS), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; known kinds: {', '.join(KINDS)}"
        raise ConvcalcError(f"unknown layer kind {kind!r}{hint}")
    cls = KINDS[key]
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for name, value in options.items():
        if value is None or value is False:
            continue
        if name == "ceil_mode":
            value = True
        elif name.startswith("no_"):  # --no-bias, --no-affine, ...: the PyTorch flag set to False
            name, value = name[3:], False
        if name == "affine" and "elementwise_affine" in accepted:
            name = "elementwise_affine"
        if name not in accepted:
            raise ConvcalcError(f"{key} has no option --{name.replace('_', '-')}")
        kwargs[name] = value
    return cls, kwargs


def build_layer(kind: str, options: dict):
    cls, kwargs = layer_class_and_kwargs(kind, options)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConvcalcError(f"{cls.kind}: {e}") from None


@cli.command("layer")
@click.argument("kind")
@table_options
@layer_command
def layer(kind, input_, batch, dtype, fmt, layout, depth, **options):
    """One layer of KIND (conv2d, maxpool2d, linear, ...) on --input, with PyTorch's arguments."""
    from .analyze import analyze
    from .graph import Sequential

    if input_ is None:
        raise click.UsageError("--input is required, e.g. --input 3x32x32")
    lay = build_layer(kind, options)
    dims = to_dims(input_, layout, square_default=False)
    report = analyze(Sequential((lay.kind, lay)), dims, batch=batch, dtype=dtype, name=lay.kind)
    emit(report, fmt, layout)


# Further verbs live in their own modules (cli_*.py), each with register(cli).
def _register_commands():
    import importlib

    for mod in ("cli_symbolic", "cli_check", "cli_spec", "cli_plot"):
        try:
            module = importlib.import_module(f"{__package__}.{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{mod}":
                raise
            continue
        module.register(cli)


_register_commands()


def main():  # console-script entry point
    cli.main(prog_name="convcalc")
