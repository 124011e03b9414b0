"""from_torch speed: resnet50 built on the meta device (import torch excluded), and all 80
torchvision classification models. Prints medians. Needs torch and torchvision
(pip install --no-deps torchvision==0.28.0)."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import tv  # noqa: E402

torchvision = tv.load()
if torchvision is None:
    sys.exit("needs torch and torchvision")
from convcalc.io.torch_import import from_torch  # noqa: E402

m = tv.meta_model("resnet50")
from_torch(m, (3, 224, 224))  # warm-up (first use registers the torch mappings)
runs = []
for _ in range(5):
    t = time.perf_counter()
    from_torch(m, (3, 224, 224))
    runs.append(time.perf_counter() - t)
print(f"from_torch(resnet50, meta): median {statistics.median(runs):.3f} s (target <= 0.5 s)")
t0 = time.perf_counter()
names = torchvision.models.list_models(module=torchvision.models)
for name in names:
    w = torchvision.models.get_model_weights(name).DEFAULT
    crop = w.transforms().crop_size[0]
    model = tv.meta_model(name, **({"image_size": crop} if name.startswith("vit_") else {}))
    from_torch(model, (3, crop, crop))
total = time.perf_counter() - t0
print(f"all {len(names)} torchvision models (build on meta + from_torch): {total:.1f} s (target <= 120 s, "
      f"ratio {total / 120:.2f})")
