"""Architecture rules you can run: what each entry point is allowed to import."""
import json
import subprocess
import sys

import pytest


def modules_after(code: str) -> set:
    probe = code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def heavy(mods):
    return {m.split(".")[0] for m in mods} & {"sympy", "numpy", "torch"}


@pytest.mark.parametrize("argv", [["--help"], ["alexnet"], ["list"], ["alexnet", "--format", "json"],
                                  ["compare", "resnet18", "mobilenet_v2"]])
def test_cli_does_not_import_sympy_or_numpy(argv):
    code = ("import io, contextlib\nfrom convcalc.cli import cli\nbuf = io.StringIO()\n"
            f"with contextlib.redirect_stdout(buf):\n    cli.main({argv!r}, standalone_mode=False)\n")
    assert heavy(modules_after(code)) == set()


def test_engine_imports_no_numpy_rich_click():
    mods = modules_after("import convcalc, convcalc.analyze, convcalc.zoo.classic, convcalc.report, convcalc.rf")
    roots = {m.split(".")[0] for m in mods}
    assert not roots & {"numpy", "rich", "click", "sympy"}


def test_symbols_bring_sympy_in_only_then():
    mods = modules_after("import convcalc as cc\nfrom convcalc.sym import dims\nH, W = dims('H W')\n"
                         "cc.analyze(cc.Sequential(cc.Conv2d(3, 8, 3)), (3, H, W))")
    assert "sympy" in {m.split(".")[0] for m in mods}


# -- the layers of the package -------------------------------------------------------------------------
import ast  # noqa: E402
import os  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "convcalc")


def _modules() -> dict:
    """Every module of the package by dotted name -> its file."""
    out = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                out[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return out


def _imports(name: str, path: str, modules: dict) -> set:
    """The package modules ``name`` imports anywhere in its file: at module level or inside a
    function (a lazy import is still a dependency)."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan), i.e. import loops."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v), on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_loops_even_lazy_ones():
    """The package facade (``convcalc/__init__``) imports its parts; nothing below imports it back,
    so edges into it are left out. Every other import, eager or lazy, counts."""
    modules = _modules()
    graph = {n: _imports(n, p, modules) - {"convcalc"} for n, p in modules.items()}
    assert _cycles(graph) == []


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter():
    """A module-level loop fails only when the loop is entered at the right module; import each
    one first, in its own interpreter (one process imports them in turn, each after a reset)."""
    names = sorted(n for n in _modules() if n not in ("convcalc", "convcalc.__main__"))  # __main__ runs the CLI
    # One process imports the third-party libraries once, then the package itself (in a fresh
    # interpreter ``import convcalc.x`` runs convcalc/__init__.py first, always the same way, so
    # every child would begin with it), then forks a child per module (a few at a time): each
    # child starts with exactly the convcalc modules a fresh interpreter has when it reaches x.
    probe = ("import os, sys, traceback\n"
             "import numpy, sympy, rich, click, yaml  # shared by every child\n"
             f"names = {names!r}\n"
             "assert not any(m.startswith('convcalc') for m in sys.modules)\n"
             "import convcalc\n"
             "bad, running = [], {}\n"
             "def reap():\n"
             "    pid, status = os.wait()\n"
             "    n, r = running.pop(pid)\n"
             "    msg = os.read(r, 4096).decode()\n"
             "    os.close(r)\n"
             "    if status:\n"
             "        bad.append((n, msg))\n"
             "for n in names:\n"
             "    if len(running) >= 2 * (os.cpu_count() or 1):\n"
             "        reap()\n"
             "    r, w = os.pipe()\n"
             "    pid = os.fork()\n"
             "    if pid == 0:\n"
             "        os.close(r)\n"
             "        try:\n"
             "            __import__(n)\n"
             "            code = 0\n"
             "        except BaseException:\n"
             "            os.write(w, traceback.format_exc().strip().splitlines()[-1].encode()[:4000])\n"
             "            code = 1\n"
             "        os._exit(code)\n"
             "    os.close(w)\n"
             "    running[pid] = (n, r)\n"
             "while running:\n"
             "    reap()\n"
             "print(sorted(bad))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_render_imports_no_click():
    mods = modules_after("import convcalc.render, convcalc.render.table, convcalc.render.text, "
                         "convcalc.render.latex, convcalc.render.html, convcalc.render.grid, convcalc.render.console, "
                         "convcalc.render.columns, convcalc.render.notebook, convcalc.render.check, "
                         "convcalc.render.explain, convcalc.render.figures, convcalc.render.verify")
    assert "click" not in {m.split(".")[0] for m in mods}


def test_engine_level_helpers_import_no_numpy_rich_click_sympy():
    mods = modules_after("import convcalc.shapes, convcalc.loader, convcalc.units, convcalc.report")
    assert not {m.split(".")[0] for m in mods} & {"numpy", "rich", "click", "sympy"}


@pytest.mark.parametrize("argv", [["--help"], ["alexnet"]])
def test_console_script_imports_no_sympy(argv):
    """The console script itself (``python -m convcalc``), as a user runs it."""
    code = f"import sys\nsys.argv = ['convcalc', *{argv!r}]\ntry:\n    import runpy; runpy.run_module('convcalc', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    assert "sympy" not in {m.split(".")[0] for m in modules_after(code)}
