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


@pytest.mark.parametrize("argv", [["--help"], ["alexnet"], ["list"], ["alexnet", "--format", "json"]])
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
