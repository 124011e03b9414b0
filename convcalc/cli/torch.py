"""CLI verbs for PyTorch in and out: ``convcalc from-torch FILE.py:Model`` and
``convcalc export MODEL|SPEC --to pytorch``. Spec files and one-liners need no verb:
``convcalc my_net.yaml`` and ``convcalc "3x32x32 | conv 10 k3 | relu"`` resolve like zoo names."""
from __future__ import annotations

import os

import click

from ..errors import ConvcalcError
from ..io.torch_load import _kwargs, _load_torch_object  # noqa: F401  (the CLI's loaders)
from ..loader import load_model
from .emit import emit
from .options import SHAPE, layout_option, table_options, to_dims


@click.command("from-torch")
@click.argument("target", metavar="FILE.py:Model|module:callable")
@click.argument("kwargs", nargs=-1, metavar="[KEY=VALUE]...")
@table_options
def from_torch_cmd(target, kwargs, input_, batch, dtype, fmt, layout, depth):
    """The layer table of a PyTorch model, traced with torch.fx (needs PyTorch).

    FILE.py:Model names an nn.Module class, a function returning a module, or a module object;
    module:callable the same in an importable package. KEY=VALUE words are passed to the class or
    function (values read as Python literals). Models are built on the meta device where the
    builder allows it: no memory for weights. THIS EXECUTES FILE.py (with runpy, in a fresh
    namespace), like `python FILE.py` would: only use it on code you trust. --input is required
    (3x224x224; a single number N means 3xNxN).

    \b
      convcalc from-torch net.py:Net --input 3x32x32
      convcalc from-torch torchvision.models:resnet50 --input 224
      convcalc from-torch torchvision.models:vit_b_16 num_classes=10 --input 224
    """
    from ..analyze import analyze
    from ..sym import is_sym

    if input_ is None:
        raise click.UsageError("--input is required, e.g. --input 3x224x224")
    dims = to_dims(input_, layout)
    if len(dims) == 1:  # --input 224: an RGB image
        dims = (3, dims[0], dims[0])
    if any(is_sym(d) for d in dims):
        raise ConvcalcError("from-torch runs the model once: give a numeric --input (no symbols)")
    try:
        import torch  # noqa: F401  (a clear message before running the user's file)
    except ImportError:
        raise ConvcalcError("from-torch needs PyTorch: pip install 'convcalc[torch]'") from None
    module, name = _load_torch_object(target, _kwargs(kwargs))
    from ..io.torch_import import from_torch

    model = from_torch(module, dims, name=name)
    report = analyze(model, batch=batch, dtype=dtype)
    emit(report.collapse(depth) if depth else report, fmt, layout)


@click.command("export")
@click.argument("model")
@click.option("--to", "target", type=click.Choice(["pytorch"]), default="pytorch", show_default=True,
              help="What to write.")
@click.option("--input", "input_", default=None, help="Input shape per sample (numbers): 3x224x224.")
@layout_option()
@click.option("--class-name", default="Net", show_default=True, help="Name of the generated nn.Module.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout.")
def export_cmd(model, target, input_, layout, class_name, output):
    """Write MODEL (a zoo name, a spec file or a one-liner) as a standalone PyTorch nn.Module.

    The file needs only torch; its module names equal convcalc's row names, so
    `convcalc from-torch net.py:Net` gives the same table back.

    \b
      convcalc export my_net.yaml --to pytorch > net.py
      convcalc export resnet18 --to pytorch -o resnet18.py
    """
    from ..io.export import to_torch_source

    import keyword

    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ConvcalcError(f"--class-name: {class_name!r} is not a Python identifier")
    dims = to_dims(SHAPE.convert(input_, None, None), layout) if input_ is not None else None
    m = load_model(model, dims)
    source = os.path.basename(model) if model.lower().endswith((".yaml", ".yml", ".json")) else None
    text = to_torch_source(m, class_name=class_name, source=source)
    if output:
        try:
            f = open(output, "w", encoding="utf-8")
        except OSError as e:
            raise ConvcalcError(f"cannot write {output}: {e.strerror}") from None
        with f:
            f.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
