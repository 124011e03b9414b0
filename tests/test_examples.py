"""Every file in examples/ runs: specs load and analyse (and verify in the NumPy core), one-liners
parse, Python scripts exit 0 (the PyTorch ones print a note and exit 0 without torch)."""
import glob
import os
import subprocess
import sys

import pytest

import convcalc as cc
from convcalc.verify import verify

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
SPECS = sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml")) + glob.glob(os.path.join(EXAMPLES, "*.json")))
SCRIPTS = sorted(glob.glob(os.path.join(EXAMPLES, "*.py")))


def one_liners():
    with open(os.path.join(EXAMPLES, "one_liners.txt")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def test_examples_exist():
    assert len(SPECS) >= 4 and len(SCRIPTS) >= 3 and len(one_liners()) >= 4


@pytest.mark.parametrize("path", SPECS, ids=os.path.basename)
def test_spec_example(path):
    model = cc.load_spec(path)
    report = cc.summary(model)
    assert report.rows and report.totals["params"] > 0
    assert report.totals["params"] == sum(r.params for r in report.rows)
    if os.path.basename(path) in ("tiny.yaml", "tiny.json", "blocks.yaml"):  # small enough to execute
        assert verify(model, model.input).ok


@pytest.mark.parametrize("line", one_liners())
def test_one_liner_example(line):
    report = cc.summary(cc.load_spec(line))
    assert report.rows[-1].output[-1] in (10, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_script_example(path):
    r = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=300, cwd=EXAMPLES)
    assert r.returncode == 0, r.stderr[-2000:]
