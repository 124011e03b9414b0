"""`convcalc verify` agrees with the engine for every zoo model at its default input."""
import pytest

from convcalc import zoo
from convcalc.verify import verify


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_model_verifies_at_its_default_input(name):
    model = zoo.get(name)
    result = verify(model)
    bad = [(r.name, q, c.claimed, c.measured) for r in result.layers for q, c in r.checks.items() if c.ok is False]
    assert result.ok, bad[:5]
    assert result.input == tuple(model.input)
    counts = result.counts()
    assert counts["shape"][0] == len(result.layers)  # every row's shape was measured and agreed
