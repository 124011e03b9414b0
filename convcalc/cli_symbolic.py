"""`convcalc solve`: one unknown hyper-parameter of a layer, or the inputs a model accepts."""
from __future__ import annotations

import click

from .errors import ConvcalcError


def register(cli):
    from .cli import SHAPE, layer_command, load_model

    @cli.command("solve")
    @click.argument("target")
    @click.option("--input", "input_", type=SHAPE, default=None,
                  help="Layer input: 32 (spatial size), 3x32x32, or with --find input the channels (3).")
    @click.option("--output", "output_", type=SHAPE, default=None,
                  help="Wanted output: 32 (spatial), 10x32x32 (with channels).")
    @click.option("--find", "find", default=None,
                  help="The unknown: padding, stride, kernel, dilation, input, output_padding, out_channels.")
    @click.option("--params", "params", type=click.IntRange(min=1), default=None,
                  help="A parameter budget (with --find out_channels) or an exact count to match.")
    @click.option("--layout", type=click.Choice(["chw", "hwc"]), default="chw", show_default=True)
    @click.option("--min-input", is_flag=True, help="MODEL: the smallest square input it accepts.")
    @click.option("--exact", is_flag=True, help="MODEL: the square sizes every stride tiles exactly.")
    @layer_command
    def solve(target, input_, output_, find, params, layout, min_input, exact, **options):
        """Solve backwards. TARGET is a layer kind (with --find) or a model (with --min-input / --exact).

        \b
          convcalc solve conv2d --input 32 --output 32 -k 5 -s 1 --find padding      -> 2
          convcalc solve conv2d --input 3x32x32 --output 16 -k 3 -p 1 --find stride
          convcalc solve convtranspose2d --input 8x16x16 --output 32 -k 3 -s 2 -p 1 --find output_padding
          convcalc solve conv2d --input 64x56x56 -k 3 --params 40000 --find out_channels
          convcalc solve alexnet-torchvision --min-input
          convcalc solve unet --exact
        """
        from .tutor import solve as S
        from .validity import congruence

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
        if layout == "hwc" and len(dims) > 1:
            dims = [dims[-1]] + dims[:-1]
        if len(dims) == 1 and target.lower() in ("linear", "fc", "dense"):
            pass  # features
        elif len(dims) == 1:  # a bare spatial size: square, 1 channel (channels do not change sizes)
            dims = [options.get("in_channels") or 1, dims[0], dims[0]] if not target.endswith(("1d", "3d")) \
                else ([1, dims[0]] if target.endswith("1d") else [1, dims[0], dims[0], dims[0]])
        out = None
        if output_ is not None:
            out = list(output_)
            if layout == "hwc" and len(out) > 1:
                out = [out[-1]] + out[:-1]
            if len(out) == 1 and len(dims) > 1:
                out = out * (len(dims) - 1)
        import inspect

        from .cli import layer_class_and_kwargs

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
        return 0


def _constructor_kwargs(kind, options, find):
    """The layer class and its keyword arguments, less the unknown being solved for."""
    import inspect

    from .cli import layer_class_and_kwargs

    cls, kwargs = layer_class_and_kwargs(kind, options)
    if find in kwargs:
        raise ConvcalcError(f"--find {find} and a value for it were both given")
    if "out_channels" in inspect.signature(cls.__init__).parameters and "out_channels" not in kwargs \
            and find != "out_channels":
        kwargs["out_channels"] = 1  # channels do not change spatial sizes
    return cls, kwargs
