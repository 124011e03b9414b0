"""Finding a torch model by name: ``FILE.py:Model`` (the file is executed, as ``python FILE.py``
would) or ``module:callable`` (``torchvision.models:resnet50``), with ``key=value`` arguments.
Shared by the CLI's ``from-torch`` and the API's ``convcalc.from_torch("module:callable", ...)``."""
from __future__ import annotations

import os

from ..errors import ConvcalcError


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
