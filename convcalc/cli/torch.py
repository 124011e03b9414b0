"""CLI verbs for PyTorch in and out: ``convcalc from-torch FILE.py:Model`` and
``convcalc export MODEL|SPEC --to pytorch``. Spec files and one-liners need no verb:
``convcalc my_net.yaml`` and ``convcalc "3x32x32 | conv 10 k3 | relu"`` resolve like zoo names."""
from __future__ import annotations

import os

import click

from ..errors import ConvcalcError
from ..loader import load_model
from .emit import emit
from .options import SHAPE, layout_option, table_options, to_dims


def _kwargs(pairs) -> dict:
    """``key=value`` words -> keyword arguments (values read as Python literals, else strings)."""
    import ast

    out = {}
    for p in pairs:
        key, eq, value = p.partition("=")
        if not eq or not key.isidentifier():
            raise ConvcalcError(f"{p!r}: builder arguments are key=value (num_classes=10)")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def _namespace(target: str):
    """(namespace dict, attribute name, label) of ``FILE.py[:Name]`` or ``package.module:name``."""
    path, _, attr = target.rpartition(":") if ":" in target and not os.path.isfile(target) else (target, "", "")
    if not os.path.isfile(path) and not path.endswith(".py") and path.replace(".", "").replace("_", "").isalnum():
        import importlib

        try:
            mod = importlib.import_module(path)
        except Exception as e:  # importing runs code: one line
            first = str(e).splitlines()[0] if str(e) else ""
            raise ConvcalcError(f"{path}: cannot import: {type(e).__name__}: {first}") from None
        if not attr:
            raise ConvcalcError(f"{target}: say which model to use, module:callable (torchvision.models:resnet50)")
        return vars(mod), attr, path
    if not os.path.isfile(path):
        raise ConvcalcError(f"{path}: no such file or module (expected FILE.py:Model or module:callable)")
    import runpy

    try:
        namespace = runpy.run_path(path, run_name="__convcalc_from_torch__")
    except SystemExit:
        raise ConvcalcError(f"{path}: the file called sys.exit() while being loaded") from None
    except Exception as e:  # user code: report it in one line
        first = str(e).splitlines()[0] if str(e) else ""
        raise ConvcalcError(f"{path}: running the file failed: {type(e).__name__}: {first}") from None
    return namespace, attr, path


def _build(obj, label, kwargs):
    """Call a module class or builder, weights on the meta device where the builder allows it."""
    import torch

    def call():
        return obj(**kwargs)

    try:
        try:
            with torch.device("meta"):
                return call()
        except NotImplementedError:  # a builder that computes with torch while building
            return call()
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else ""
        raise ConvcalcError(f"{label}(): {type(e).__name__}: {first}") from None


def _load_torch_object(target: str, kwargs=None):
    """``file.py:Name`` or ``module:name`` -> the module object: an ``nn.Module`` instance, or a
    class / function called with ``kwargs``. A file is executed with runpy in a fresh namespace."""
    import torch

    namespace, attr, path = _namespace(target)
    if not attr:
        found = [k for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                 and getattr(v, "__module__", None) == "__convcalc_from_torch__"]
        if len(found) != 1:
            listing = ", ".join(found) if found else "none"
            raise ConvcalcError(f"{path}: say which model to use, FILE.py:Name (nn.Module classes defined there: "
                                f"{listing})")
        attr = found[0]
    if attr not in namespace:
        raise ConvcalcError(f"{path}: defines no {attr!r}")
    obj = namespace[attr]
    if isinstance(obj, torch.nn.Module):
        return obj, attr
    if callable(obj):
        obj = _build(obj, f"{path}:{attr}", kwargs or {})
        if isinstance(obj, torch.nn.Module):
            return obj, attr
    raise ConvcalcError(f"{path}:{attr} is not an nn.Module, an nn.Module class or a function returning one")


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
