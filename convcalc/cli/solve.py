"""`convcalc solve`: one unknown hyper-parameter of a layer, or the inputs a model accepts."""
from __future__ import annotations

import click

from ..errors import ConvcalcError
from ..layers import resolve_kind
from ..loader import load_model
from ..shapes import to_chw
from .options import SHAPE, layer_class_and_kwargs, layer_command, layout_option, training_from, training_options


@click.command("solve")
@click.argument("target")
@click.option("--input", "input_", type=SHAPE, default=None,
              help="Layer input: 32 (spatial size), 3x32x32, or with --find input the channels (3).")
@click.option("--output", "output_", type=SHAPE, default=None,
              help="Wanted output: 32 (spatial), 10x32x32 (with channels).")
@click.option("--find", "find", default=None,
              help="The unknown: padding, stride, kernel, dilation, input, output_padding, out_channels.")
@click.option("--params", "params", type=click.IntRange(min=1), default=None,
              help="A parameter budget (with --find out_channels) or an exact count to match.")
@layout_option()
@click.option("--min-input", is_flag=True, help="MODEL: the smallest square input it accepts.")
@click.option("--exact", is_flag=True, help="MODEL: the square sizes every stride tiles exactly.")
@click.option("--max-batch", is_flag=True, help="MODEL: the largest batch whose peak memory fits --memory.")
@click.option("--memory", default=None, metavar="SIZE", help="With --max-batch: the memory budget (24GiB, 16GB, ...).")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16", "int8", "fp64"]), default="fp32",
              show_default=True, help="With --max-batch: bytes per activation and weight.")
@click.option("--explain", "explain", is_flag=True,
              help="With --find: the algebra of solving the output-size formula for the unknown, and a check.")
@training_options
@layer_command
def solve(target, input_, output_, find, params, layout, min_input, exact, max_batch, memory, dtype, explain,
          training, optimizer, amp, freeze, **options):
    """Solve backwards. TARGET is a layer kind (with --find) or a model (with --min-input / --exact).

    \b
      convcalc solve conv2d --input 32 --output 32 -k 5 -s 1 --find padding      -> 2
      convcalc solve conv2d --input 3x32x32 --output 16 -k 3 -p 1 --find stride
      convcalc solve convtranspose2d --input 8x16x16 --output 32 -k 3 -s 2 -p 1 --find output_padding
      convcalc solve conv2d --input 64x56x56 -k 3 --params 40000 --find out_channels
      convcalc solve alexnet-torchvision --min-input
      convcalc solve unet --exact
    """
    from ..tutor import solve as S
    from ..validity import congruence

    if max_batch:
        return _max_batch(target, input_, layout, memory, dtype, training_from(training, optimizer, amp, freeze))
    if min_input or exact:
        model = load_model(target, None)
        if min_input:
            n = S.min_input(model)
            click.echo(f"{model.name}: the smallest square input is {n}x{n} "
                       f"(input {'x'.join(str(d) for d in (model.input[0],) + (n,) * (len(model.input) - 1))})")
        if exact:
            sizes = S.exact_inputs(model)
            click.echo(f"{model.name}: every stride tiles its input exactly for "
                       f"{congruence(sizes, name='n') if sizes else 'no size up to 4096'}")
        return 0
    if find is None:
        raise click.UsageError("say what to find: --find padding|stride|kernel|dilation|input|"
                               "output_padding|out_channels (or --min-input / --exact for a model)")
    key = S.ALIASES.get(find, find)
    if input_ is None:
        raise click.UsageError("--input is required")
    dims = list(input_)
    if any(isinstance(d, str) for d in dims) or (output_ and any(isinstance(d, str) for d in output_)):
        raise ConvcalcError("solve needs numbers, not symbols, in --input and --output")
    dims = list(to_chw(dims, layout))
    if len(dims) == 1 and resolve_kind(target) == "linear":
        pass  # features
    elif len(dims) == 1:  # a bare spatial size: square, 1 channel (channels do not change sizes)
        nd = layer_class_and_kwargs(target, {})[0].nd or 2
        dims = [(options.get("in_channels") or 1) if nd == 2 else 1] + [dims[0]] * nd
    out = None
    if output_ is not None:
        out = list(output_)
        out = list(to_chw(out, layout))
        if len(out) == 1 and len(dims) > 1:
            out = out * (len(dims) - 1)
    import inspect

    accepted = inspect.signature(layer_class_and_kwargs(target, {})[0].__init__).parameters
    if key == "out_channels" and "out_channels" not in accepted and "out_features" in accepted:
        key = "out_features"  # linear layers: the same question
    if out is not None and len(out) == len(dims) and "out_channels" in accepted and key != "out_channels" \
            and options.get("out_channels") is None:
        options = {**options, "out_channels": out[0]}  # channels given in --output
    cls, known = _constructor_kwargs(target, options, key)
    sol = S.solve_layer(cls, known, tuple(dims), key, tuple(out) if out else None, params)
    if not sol.values:
        raise ConvcalcError(sol.why or f"no {key} in {sol.searched[0]}..{sol.searched[1]} works")
    click.echo(f"{key} = " + ", ".join(str(v) for v in sol.values))
    if sol.why:
        click.echo(sol.why)
    if explain:
        from ..tutor.solve_explain import explain as algebra

        for line in algebra(known, bool(getattr(cls, "transposed", False)), tuple(dims), tuple(out) if out else None,
                            key, sol.values):
            click.echo("  " + line)
    return 0


def _constructor_kwargs(kind, options, find):
    """The layer class and its keyword arguments, less the unknown being solved for."""
    import inspect

    cls, kwargs = layer_class_and_kwargs(kind, options)
    if find in kwargs:
        raise ConvcalcError(f"--find {find} and a value for it were both given")
    if "out_channels" in inspect.signature(cls.__init__).parameters and "out_channels" not in kwargs \
            and find != "out_channels":
        kwargs["out_channels"] = 1  # channels do not change spatial sizes
    return cls, kwargs


def _max_batch(target, input_, layout, memory, dtype, training) -> int:
    """The largest batch N whose peak fits: the peak is linear in N (a*N + b), so N = floor((M - b)/a)."""
    from ..analyze import analyze
    from ..shapes import to_dims
    from ..sym import dims as symbols
    from ..units import exact as exact_text
    from ..units import human_bytes, parse_bytes

    if memory is None:
        raise click.UsageError("--max-batch needs --memory (e.g. --memory 24GiB)")
    budget = parse_bytes(memory)
    model = load_model(target, to_dims(input_, layout) if input_ else None, layout)
    n = symbols("N")
    report = analyze(model, batch=n, dtype=dtype, training=training)
    peak = _peak(report, model, dtype, training, n)
    per_sample, fixed = (int(peak.coeff(n, 1)), int(peak.coeff(n, 0))) if hasattr(peak, "coeff") else (0, int(peak))
    what = "a training step" + (f" ({training.optimizer})" if training else "") if training else "inference"
    click.echo(f"{report.model}: peak of {what} = {exact_text(per_sample)}*N + {exact_text(fixed)} bytes")
    if per_sample <= 0 or budget < fixed + per_sample:
        raise ConvcalcError(f"not even a batch of 1 fits in {human_bytes(budget)}: it needs "
                            f"{human_bytes(fixed + per_sample)}")
    best = (budget - fixed) // per_sample
    click.echo(f"largest batch in {human_bytes(budget)}: {best} (peak {human_bytes(best * per_sample + fixed)}; "
               f"{best + 1} would need {human_bytes((best + 1) * per_sample + fixed)})")
    return 0


def _peak(report, model, dtype, training, n):
    """The peak in bytes as a polynomial in the batch symbol ``n``."""
    from ..analyze import analyze
    from ..sym import sp

    if training:
        return sp().expand(sp().simplify(report.training["peak"]))
    # Inference: every activation scales with N, so the forward peak is N times the peak at 1.
    one = analyze(model, batch=1, dtype=dtype)
    return one.totals["peak_activation_bytes"] * n + one.totals["param_bytes"] + one.totals["buffer_bytes"]
