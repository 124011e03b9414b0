"""``convcalc check``: grade answers to CNN exercises (one question from flags, or a YAML sheet).

Exit codes: 0 every answer right; 1 any answer wrong, or any question of a sheet that could
not be graded (listed as error rows, the other questions are still graded); 2 bad input that
stops everything (a sheet that cannot be read, an unknown layer or model, an unparsable
answer given as a flag).
"""
from __future__ import annotations

import sys

import click

EXPECT = (("output", "Output shape, e.g. 10x10x5 (read in --layout)."),
          ("height", "Output height."), ("width", "Output width."), ("channels", "Output channels."),
          ("params", "Parameters: 380, 62,378,344, 62.4M."),
          ("macs", "Multiply-accumulates: 37500, 37.5k, 1.14 GMACs."),
          ("flops", "FLOPs (2 per MAC)."),
          ("rf", "Receptive field size (7, 7x7) or size/jump (11/4)."),
          ("memory", "Output activation memory (whole network: all layers' outputs): 1.95 KiB, 2000."),
          ("param-memory", "Parameter memory: 238 MiB."))


from .options import SHAPE, dtype_option, format_option, layer_command, layout_option


def expect_options(f):
    for name, help_ in reversed(EXPECT):
        f = click.option(f"--expect-{name}", f"expect_{name.replace('-', '_')}", default=None, metavar="ANSWER",
                         help=help_)(f)
    return f

@click.command("check")
@click.argument("target", nargs=-1, required=True)
@click.option("--key", "key", default=None, metavar="KEY.yaml",
              help="Grade a class: the questions come from this answer key, only the answers (matched by "
                   "question id) from each SUBMISSION file or DIR; prints each report and a gradebook.")
@click.option("--input", "input_", type=SHAPE, default=None, help="Input shape per sample (in --layout).")
@layout_option(extra=("any",), default=None, help="How shapes are read and printed: CxHxW (default), HxWxC, or either order "
                   "(a sheet's own `layout:` applies unless this is given).")
@click.option("--at", "at", default=None, metavar="LAYER",
              help="For a network: the row asked about, by name (features.4) or 1-based position (3).")
@dtype_option(help="Bytes per element for memory answers.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@expect_options
@click.option("--exact", is_flag=True, default=None,
              help="Rounded answers (62.4M) are wrong unless exactly equal.")
@click.option("--show-work", is_flag=True, help="The worked solution for right answers too.")
@click.option("--answer-key", is_flag=True, help="Print the correct answers as YAML (for a sheet: the sheet "
                                                 "with its answers filled in) instead of grading.")
@format_option(("table", "json", "markdown", "csv"), help="Output format (csv: the gradebook of --key).")
@layer_command
def check(target, key, input_, layout, at, dtype, batch, exact, show_work, answer_key, fmt, **rest):
    """Grade answers: TARGET is a layer KIND, a MODEL (zoo name or spec file) or a SHEET (YAML).

    \b
      convcalc check conv2d --input 32x32x3 --layout hwc --out 5 -k 5 -s 3 \\
          --expect-output 10x10x5 --expect-params 380
      convcalc check alexnet --at features.4 --expect-output 256x27x27
      convcalc check alexnet --expect-params 62.4M
      convcalc check homework.yaml [--format markdown] [--show-work]
      convcalc check homework.yaml --answer-key > key.yaml
      convcalc check --key key.yaml submissions/ [--format csv|json|markdown]

    Each answer is marked ✓ or ✗; a wrong one gets the correct value, the worked solution
    and, when it is what a known slip gives (forgot the bias, the padding, groups, did not
    floor, FLOPs for MACs, ...), the slip's name. Exit 0 all right, 1 any wrong, 2 bad input
    (in a sheet, a question that cannot be graded is an error row, the others are still
    graded, and the first broken place is named on stderr).
    """
    from ..tutor import check as ck

    expects = {k[len("expect_"):]: v for k, v in rest.items() if k.startswith("expect_") and v is not None}
    options = {k: v for k, v in rest.items() if not k.startswith("expect_")}
    import os

    if key is not None:
        if expects or input_ is not None or at is not None or answer_key:
            raise click.UsageError("--key grades submission files: --expect-*, --input, --at and --answer-key "
                                   "do not apply")
        return _grade_class(key, target, fmt, show_work)
    if fmt == "csv":
        raise click.UsageError("--format csv is the gradebook of a class: use it with --key")
    if len(target) != 1:
        raise click.UsageError("give one TARGET (several submissions are graded with --key KEY.yaml)")
    target = target[0]

    if target.lower().endswith((".yaml", ".yml", ".json")) and not os.path.exists(target):
        raise ck.CheckError(f"{target}: no such file")
    if ck.is_sheet(target):
        if expects or input_ is not None or at is not None:
            raise click.UsageError("a sheet carries its own questions: --expect-*, --input and --at apply to "
                                   "a layer or a model")
        if layout is None:
            from ..tutor.hints import sheet_hint

            hint = sheet_hint(ck.read_sheet(target))
            if hint:
                click.echo(f"{hint}", err=True)
        if answer_key:
            return _emit_key(ck, target)
        result = ck.grade_sheet(target, show_work=show_work, layout=layout, exact=exact)
        _emit(result, fmt, show_work)
        errors = result.counts()["errors"]
        if errors:  # the others are graded above; the broken place is named on stderr
            first = " ".join(str(result.first_error()).split())
            more = f" (+{errors - 1} more, see the error rows)" if errors > 1 else ""
            click.echo(f"convcalc: error: {first}{more}", err=True)
        return result.exit_code
    if layout is None and input_ is not None:
        from ..tutor.hints import layout_hint, looks_hwc

        if looks_hwc(list(input_)):
            click.echo(layout_hint(list(input_)), err=True)
    q = _flag_question(ck, target, input_, layout or "chw", at, dtype, batch, bool(exact), expects, options,
                       answer_key)
    if answer_key:
        import yaml

        click.echo(yaml.safe_dump({"answers": ck.fill_key(q)}, sort_keys=False, allow_unicode=True), nl=False)
        return 0
    g = ck.grade(q, show_work)
    if g.error:
        raise ck.CheckError(g.error)
    for v in g.verdicts:
        if v.status == "error":
            raise ck.CheckError(f"--expect-{v.field.replace('_', '-')}: {v.note.split(': ', 1)[-1]}")
    result = ck.SheetResult(g.title, target, [g], q.layout)
    _emit(result, fmt, show_work)
    return result.exit_code


def _grade_class(key, targets, fmt, show_work) -> int:
    """Every submission against the key: reports, then the gradebook; broken files named on stderr."""
    from ..render import check as rc
    from ..tutor.classbook import grade_class

    cr = grade_class(key, targets, show_work)
    if not cr.graded:
        pass  # nothing graded: only the broken files' lines below
    elif fmt == "csv":
        click.echo(rc.gradebook_csv(cr), nl=False)
    elif fmt == "json":
        click.echo(rc.class_json(cr))
    elif fmt == "markdown":
        for s in cr.graded:
            click.echo(rc.to_markdown(s.result, show_work))
        click.echo(rc.gradebook_markdown(cr), nl=False)
    else:
        from ..render.console import CHECK, terminal_console

        console = terminal_console(sys.stdout, CHECK)
        for s in cr.graded:
            rc.print_report(console, s.result, show_work)
            click.echo("")
        rc.print_gradebook(console, cr)
    for s in cr.broken:
        click.echo(f"convcalc: error: {' '.join(s.error.split())}", err=True)
    return cr.exit_code


def _flag_question(ck, target, input_, layout, at, dtype, batch, exact, expects, options, answer_key):
    from ..graph import Sequential
    from ..layers import resolve_kind
    from ..loader import load_model
    from .options import build_layer, to_dims

    if not expects and not answer_key:
        raise click.UsageError("nothing to check: give answers with --expect-output, --expect-params, "
                               "--expect-macs, ... (or --answer-key to see them)")
    read = "hwc" if layout == "hwc" else "chw"
    is_kind = resolve_kind(target) is not None
    given = {k: v for k, v in options.items() if v not in (None, False)}
    if is_kind:
        if input_ is None:
            raise click.UsageError("--input is required for a layer, e.g. --input 3x32x32")
        if at is not None:
            raise click.UsageError("--at applies to a network, not a single layer")
        lay = build_layer(target, options)
        net = Sequential((lay.kind, lay))
        dims = to_dims(input_, read, square_default=False)
        label = lay.describe()
    else:
        if given:
            raise click.UsageError(f"--{next(iter(given)).replace('_', '-')} is a layer option; {target!r} is a "
                                   f"model")
        model = load_model(target, to_dims(input_, read))
        net, dims, label = model.net, tuple(model.input), model.name
    from ..sym import is_sym

    if dims is not None and any(is_sym(d) for d in dims):
        raise ck.CheckError("check grades numbers: give a numeric --input (symbols are for `convcalc MODEL`)")
    if at is not None and at.isdigit():
        at = int(at)
    answers = {}
    for k, v in expects.items():
        answers[ck.field_name(k)] = v
    if answer_key and not answers:
        answers = {f: None for f in ("output", "params", "macs", "flops", "rf", "memory", "param_memory")}
    return ck.Question(number=1, net=net, input=tuple(dims), answers=answers, at=at, layout=layout, exact=exact,
                       dtype=dtype, batch=batch, label=label)


def _emit(result, fmt, show_work):
    from ..render import check as rc

    if fmt == "json":
        click.echo(rc.to_json(result))
    elif fmt == "markdown":
        click.echo(rc.to_markdown(result, show_work), nl=False)
    else:
        from ..render.console import CHECK, terminal_console

        rc.print_report(terminal_console(sys.stdout, CHECK), result, show_work)


def _emit_key(ck, path):
    import yaml

    data, errors = ck.answer_key(path)
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), nl=False)
    for e in errors:
        click.echo(f"convcalc: {e}", err=True)
    return 1 if errors else 0
