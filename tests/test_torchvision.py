"""Every torchvision classification model with published weights, imported on the meta device:
parameters equal the weights' ``num_params`` and MACs the published GFLOPS (``_ops``, MACs of
convolutions, linear layers and attention matmuls) at every printed digit, at the weights' crop
size. Skipped without torchvision (install: ``pip install --no-deps torchvision==0.28.0``)."""
import pytest

import tv

torchvision = tv.load()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(torchvision is None, reason="torchvision not installed (see tests/tv.py)")]

NAMES = torchvision.models.list_models(module=torchvision.models) if torchvision else []
#: parameters the published count includes but an eval forward never uses (inception's aux head)
UNUSED = {"inception_v3": "AuxLogits"}


def test_all_80_are_listed():
    assert len(NAMES) == 80


@pytest.mark.parametrize("name", NAMES)
def test_published_figures(name):
    import convcalc as cc
    from convcalc.io.torch_import import from_torch

    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size[0]
    kwargs = {"image_size": crop} if name.startswith("vit_") else {}
    m = tv.meta_model(name, **kwargs)
    model = from_torch(m, (3, crop, crop))
    report = cc.analyze(model)
    params, macs = report.totals["params"], report.totals["macs"]
    if name in UNUSED:
        params += sum(p.numel() for p in getattr(m, UNUSED[name]).parameters())
    assert params == weights.meta["num_params"], str(weights)
    digits = len(str(weights.meta["_ops"]).split(".")[1])
    assert round(macs / 1e9, digits) == weights.meta["_ops"], str(weights)
    assert not [r for r in report.rows if r.kind == "unknown"]
