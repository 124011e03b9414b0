"""Long tables: median time of ``str(report)`` for chains of 1,000 and 10,000 layers, the ratio
between them (10 means linear), and rich's own table for the same rows as the anchor.

    python benchmarks/tables.py [--runs 5]

The analysis is done once, outside the timing: only rendering is measured.
"""
import argparse
import io
import os
import statistics
import time

import convcalc as cc


def chain(n: int):
    layers = []
    for i in range(n // 2):
        layers += [cc.Conv2d(8, 8, 3, padding=1), cc.ReLU()]
    return cc.analyze(cc.Sequential(*layers), (8, 16, 16), name=f"chain{n}")


def median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rich_table(report) -> str:
    from rich.console import Console

    from convcalc.render.table import layer_table

    buf = io.StringIO()
    Console(file=buf, width=160, no_color=True, color_system=None, highlight=False).print(layer_table(report))
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    small, large = chain(1_000), chain(10_000)
    t_small = median(lambda: str(small), args.runs)
    t_large = median(lambda: str(large), args.runs)
    t_rich = median(lambda: rich_table(small), max(1, args.runs // 2))
    print(f"str(report)  1,000 rows  {t_small * 1000:8.1f} ms  ({t_small / 1000 * 1e6:.1f} us/row)")
    print(f"str(report) 10,000 rows  {t_large * 1000:8.1f} ms  ({t_large / 10000 * 1e6:.1f} us/row)")
    print(f"10k / 1k ratio           {t_large / t_small:8.2f}   (10 = linear)")
    print(f"rich Table   1,000 rows  {t_rich * 1000:8.1f} ms  -> plain layout is {t_rich / t_small:.1f}x faster")


if __name__ == "__main__":
    main()
