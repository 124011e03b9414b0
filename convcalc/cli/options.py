"""Argument types and the options several commands share (one definition each)."""
from __future__ import annotations

import inspect

import click

from ..errors import ConvcalcError
from ..render import FORMATS
from ..shapes import LAYOUTS, ShapeTextError, parse_ints, parse_shape, to_dims  # noqa: F401  (to_dims: commands)

DTYPES = ("fp32", "fp16", "bf16", "int8", "fp64")


class ShapeType(click.ParamType):
    """``3x224x224``, ``224`` (square RGB), ``3xHxW`` (symbols), ``(3, 32, 32)``: :func:`shapes.parse_shape`."""

    name = "SHAPE"

    def convert(self, value, param, ctx):
        try:
            return parse_shape(value)
        except ShapeTextError as e:
            self.fail(str(e), param, ctx)


SHAPE = ShapeType()


class BatchType(click.ParamType):
    """A positive integer, or a symbol name for a symbolic batch."""

    name = "N"

    def convert(self, value, param, ctx):
        import re

        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                self.fail(f"batch must be at least 1, got {value}", param, ctx)
            return value
        text = str(value).strip()
        if re.fullmatch(r"-?\d+", text):
            return self.convert(int(text), param, ctx)
        if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", text):
            from ..sym import dims

            return dims(text)
        self.fail(f"batch must be a positive integer or a symbol name, got {value!r}", param, ctx)


BATCH = BatchType()


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
        try:
            nums = parse_ints(text)
        except ShapeTextError:
            extra = f" or {' / '.join(self.words)}" if self.words else ""
            self.fail(f"expected an integer or integers joined by 'x'{extra}, got {value!r}", param, ctx)
        return nums[0] if len(nums) == 1 else nums


def format_option(choices=FORMATS, help="Output format."):
    """``--format``: the formats a command writes, chosen from :data:`convcalc.render.FORMATS`
    (``check`` adds nothing new: its markdown and json are the same names)."""
    unknown = set(choices) - set(FORMATS)
    assert not unknown, unknown
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default="table", show_default=True,
                        help=help)


def layout_option(extra=(), default="chw", help=None):
    """``--layout``: how shapes are read and printed (``extra`` adds words such as check's ``any``)."""
    kwargs = {"show_default": True} if default is not None else {}
    return click.option("--layout", type=click.Choice([*LAYOUTS, *extra]), default=default, help=help, **kwargs)


def dtype_option(help=None):
    return click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True, help=help)


def training_options(f):
    """``--training`` and what a training step depends on; any of them implies ``--training``."""
    f = click.option("--freeze", multiple=True, metavar="PREFIX",
                     help="Freeze the parameters of the layers under this name (repeatable): no weight gradient, "
                          "no optimizer state.")(f)
    f = click.option("--amp", type=click.Choice(["fp16", "bf16"]), default=None,
                     help="Mixed precision: half-precision activations, fp32 master weights.")(f)
    f = click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam", "adamw"]), default=None,
                     help="Optimizer state per trainable parameter: sgd 0, momentum 1, adam/adamw 2 (default sgd).")(f)
    f = click.option("--training", is_flag=True,
                     help="Count a training step: backward MACs, saved activations, gradients, optimizer state.")(f)
    return f


def budget_options(f):
    """``--max-params`` / ``--max-macs`` (25M, 4.1G, 1e9) and ``--max-memory`` (512MiB): exit 1 when over."""
    f = click.option("--max-memory", default=None, metavar="BYTES",
                     help="Budget for the forward peak memory (512MiB, 1.5GB): exit 1 when over.")(f)
    f = click.option("--max-macs", default=None, metavar="N",
                     help="Budget for the MACs of the batch (600M, 4.1G, 1e9): exit 1 when over.")(f)
    f = click.option("--max-params", default=None, metavar="N",
                     help="Budget for the parameters (25M, 1e6, 300k): exit 1 when over.")(f)
    return f


def training_from(training, optimizer, amp, freeze):
    """The engine's TrainingOptions for the CLI flags, or None for inference."""
    if not (training or optimizer or amp or freeze):
        return None
    from ..training import TrainingOptions

    return TrainingOptions(optimizer=optimizer or "sgd", amp=amp, freeze=tuple(freeze))


def table_options(f):
    f = format_option()(f)
    f = layout_option(help="Read --input and print shapes as CxHxW (PyTorch) or HxWxC (many courses).")(f)
    f = dtype_option(help="Bytes per element for memory columns.")(f)
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
        from ..render.columns import parse_columns
        try:
            value = parse_columns(value)
        except ConvcalcError as e:
            raise click.BadParameter(str(e).split(": ", 1)[-1], ctx, param) from None
    ctx.meta[f"convcalc.{param.name}"] = value
    return value


# -- a layer's PyTorch arguments as options (convcalc layer / solve / check) ----------------------------
LAYER_OPTIONS = [
    # (option decls, parameter name of the layer class, type)
    (("--in-channels",), "in_channels", int),
    (("--out-channels", "--out"), "out_channels", int),
    (("--kernel-size", "-k"), "kernel_size", IntTuple()),
    (("--stride", "-s"), "stride", IntTuple()),
    (("--padding", "-p"), "padding", IntTuple(("same", "valid", "tf_same"))),
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
    from ..loader import layer_class

    cls = layer_class(kind)
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
            raise ConvcalcError(f"{cls.kind} has no option --{name.replace('_', '-')}")
        kwargs[name] = value
    return cls, kwargs


def build_layer(kind: str, options: dict):
    cls, kwargs = layer_class_and_kwargs(kind, options)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConvcalcError(f"{cls.kind}: {e}") from None
