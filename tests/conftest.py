"""Shared test helpers: the in-process CLI runner and cached zoo models.

``run(*args)`` (also as the ``run`` fixture) invokes the CLI with stdout and stderr apart, so
tests can hold the bad-input contract: one line on stderr, exit 2, empty stdout.
"""
import functools
import os

import pytest

# Tests start Python subprocesses (start-up and import checks, examples, the console script):
# they may write bytecode (to the ignored __pycache__ dirs), so convcalc is compiled once rather
# than in every child where the environment says not to write it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # The suite runs one worker per core (pytest-xdist): a BLAS pool per worker would put
    # several spinning threads on each core. Set before numpy loads its BLAS.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def run(*args):
    """Invoke ``convcalc ARGS`` in-process; exceptions propagate (a traceback fails the test)."""
    from click.testing import CliRunner

    from convcalc.cli import cli

    try:  # click >= 8.2 keeps stderr apart by default and has no mix_stderr
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(name="run")
def run_fixture():
    return run


@functools.lru_cache(maxsize=None)
def zoo_report(name: str, input=None):
    """The engine's report of a zoo model (cached: many tests read the same one)."""
    import convcalc as cc
    from convcalc import zoo

    return cc.analyze(zoo.get(name), input)


def failed_checks(result) -> list:
    """(row, quantity, claimed, measured) of every disagreement in a verify result."""
    return [(r.name, q, c.claimed, c.measured) for r in result.layers for q, c in r.checks.items() if c.ok is False]


def pytest_collection_modifyitems(config, items):
    """Long tests (marked slow) first: pytest-xdist hands tests out in this order, so a long one
    collected last would otherwise run alone while the other workers have finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept within
