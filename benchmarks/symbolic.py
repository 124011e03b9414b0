"""Symbolic analysis speed, warm (sympy already imported): median of several runs.

    python benchmarks/symbolic.py
Targets: symbolic AlexNet <= 0.5 s, symbolic ResNet-152 <= 2 s.
"""
import statistics
import time

import convcalc as cc
from convcalc import sym, zoo
from convcalc.render.text import to_json
from convcalc.sym import dims


def bench(name, runs=5):
    H, W = dims("H W")
    model = zoo.get(name)
    cc.analyze(model, (3, H, W))  # warm-up: imports, printer
    times = []
    for _ in range(runs):
        sym._FMT_CACHE.clear()  # convcalc's own printing cache: do not let it flatter the figure
        t0 = time.perf_counter()
        report = cc.analyze(zoo.get(name), (3, H, W))
        to_json(report)  # printing the formulas is part of the job
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    t0 = time.perf_counter()
    import sympy  # noqa: F401

    print(f"import sympy              {time.perf_counter() - t0:6.3f} s (paid once per process)")
    for name, target in (("alexnet", 0.5), ("resnet50", None), ("resnet152", 2.0), ("googlenet", None),
                         ("densenet121", None)):
        t = bench(name)
        verdict = "" if target is None else f"  target <= {target} s: {'ok' if t <= target else 'MISSED'}"
        print(f"symbolic {name:<16} {t:6.3f} s{verdict}")


if __name__ == "__main__":
    main()
