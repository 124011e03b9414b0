"""`convcalc verify` on zoo models: the one place for these slow runs.

Every zoo model at its default input, and the variants other inputs or options exercise
(classifier heads at minimum sizes, auxiliary heads, U-Net's smallest tile). The engine's
claims are checked against the NumPy core's execution (shapes, parameter arrays, tallied
MACs, receptive fields measured by impulse propagation).
"""
import pytest

from conftest import failed_checks
from convcalc import zoo
from convcalc.verify import verify
from convcalc.zoo import inception as I
from convcalc.zoo import unet as unet_mod


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_model_verifies_at_its_default_input(name):
    model = zoo.get(name)
    result = verify(model)
    assert result.ok, failed_checks(result)[:5]
    assert result.input == tuple(model.input)
    counts = result.counts()
    assert counts["shape"][0] == len(result.layers)  # every row's shape was measured and agreed
    assert counts["rf"][2] == 0  # and every receptive field was measured


SMALL = [(n, (3, 32, 32)) for n in ("vgg11", "vgg11_bn", "resnet18", "resnet50", "resnext50_32x4d",
                                     "wide_resnet50_2")]
SMALL += [(n, (3, 64, 64)) for n in ("mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny",
                                     "regnet_x_400mf")]


@pytest.mark.slow
@pytest.mark.parametrize("name,shape", SMALL, ids=[n for n, _ in SMALL])
def test_small_inputs_verify(name, shape):
    # at minimum sizes the last stages run at 1x1 or 2x2: every block type and projection still runs
    result = verify(zoo.get(name), shape)
    assert result.ok, failed_checks(result)[:5]


@pytest.mark.slow
@pytest.mark.parametrize("build", [I.inception_v3_aux, lambda: I.googlenet_aux(1), lambda: I.googlenet_aux(2)],
                         ids=["inception_v3-auxhead", "googlenet-aux1", "googlenet-aux2"])
def test_auxiliary_heads_verify(build):
    result = verify(build())
    assert result.ok, failed_checks(result)[:5]


@pytest.mark.slow
def test_googlenet_aux_pool_field_is_checked_as_a_bound():
    """The aux heads' adaptive 4x4 pool on a 14x14 map has windows of 4 and 3 pixels; the engine
    reports the largest field there, and verify checks it as a bound."""
    result = verify(I.googlenet(aux_logits=True))
    assert result.ok, failed_checks(result)[:5]
    row = next(r for r in result.layers if r.name == "aux1.avg_pool")
    assert "bound" in row.checks["rf"].note


def test_unet_smallest_tile_verifies():
    # the smallest valid tile (188 -> 4x4 output): the same layers and parameters as the paper's 572
    result = verify(unet_mod.unet(tile=188))
    assert result.ok, failed_checks(result)[:5]
    assert result.counts()["rf"] == (len(result.layers), 0, 0)
