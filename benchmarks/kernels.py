#!/usr/bin/env python
"""Benchmark: convcalc.kernels.conv vs torch.nn.functional.conv2d.

Layers: AlexNet's five convs (227 input) and ResNet-50's distinct conv shapes
(each with the number of times it occurs in the network, so the per-network
totals are the whole conv part of a forward pass), at batch 1 and 8.

Ours and torch run in SEPARATE subprocesses, one after the other, with the
same thread count (OMP/OPENBLAS/MKL_NUM_THREADS, default 2): an idle torch
thread pool would otherwise steal a core from numpy.  Each layer: one warm-up,
then the median of --repeats (>= 5) timed calls.  With --rounds R the two
subprocesses alternate R times and each layer keeps its best median (guards
against other load on a shared machine).  The numpy process also
measures numpy's own float32 GEMM rate (2048^3) as the yardstick for the
achieved GFLOP/s (2 * MACs / time, MACs as tallied by our kernel).

    python benchmarks/kernels.py [--threads 2] [--repeats 7] [--rounds 2] [--batches 1,8]

Not a test: it prints a report.  OPENBLAS_CORETYPE is reported, never changed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (net, name, C_in, C_out, k, stride, padding, input size, count in the net)
LAYERS = [
    ("alexnet", "conv1 11x11/4", 3, 96, 11, 4, 0, 227, 1),
    ("alexnet", "conv2 5x5", 96, 256, 5, 1, 2, 27, 1),
    ("alexnet", "conv3 3x3", 256, 384, 3, 1, 1, 13, 1),
    ("alexnet", "conv4 3x3", 384, 384, 3, 1, 1, 13, 1),
    ("alexnet", "conv5 3x3", 384, 256, 3, 1, 1, 13, 1),
    ("resnet50", "conv1 7x7/2", 3, 64, 7, 2, 3, 224, 1),
    ("resnet50", "l1 1x1 64-64", 64, 64, 1, 1, 0, 56, 1),
    ("resnet50", "l1 1x1 256-64", 256, 64, 1, 1, 0, 56, 2),
    ("resnet50", "l1 3x3 64-64", 64, 64, 3, 1, 1, 56, 3),
    ("resnet50", "l1 1x1 64-256", 64, 256, 1, 1, 0, 56, 4),
    ("resnet50", "l2 1x1 256-128", 256, 128, 1, 1, 0, 56, 1),
    ("resnet50", "l2 3x3/2 128-128", 128, 128, 3, 2, 1, 56, 1),
    ("resnet50", "l2 1x1/2 256-512 ds", 256, 512, 1, 2, 0, 56, 1),
    ("resnet50", "l2 1x1 128-512", 128, 512, 1, 1, 0, 28, 4),
    ("resnet50", "l2 1x1 512-128", 512, 128, 1, 1, 0, 28, 3),
    ("resnet50", "l2 3x3 128-128", 128, 128, 3, 1, 1, 28, 3),
    ("resnet50", "l3 1x1 512-256", 512, 256, 1, 1, 0, 28, 1),
    ("resnet50", "l3 3x3/2 256-256", 256, 256, 3, 2, 1, 28, 1),
    ("resnet50", "l3 1x1/2 512-1024 ds", 512, 1024, 1, 2, 0, 28, 1),
    ("resnet50", "l3 1x1 256-1024", 256, 1024, 1, 1, 0, 14, 6),
    ("resnet50", "l3 1x1 1024-256", 1024, 256, 1, 1, 0, 14, 5),
    ("resnet50", "l3 3x3 256-256", 256, 256, 3, 1, 1, 14, 5),
    ("resnet50", "l4 1x1 1024-512", 1024, 512, 1, 1, 0, 14, 1),
    ("resnet50", "l4 3x3/2 512-512", 512, 512, 3, 2, 1, 14, 1),
    ("resnet50", "l4 1x1/2 1024-2048 ds", 1024, 2048, 1, 2, 0, 14, 1),
    ("resnet50", "l4 1x1 512-2048", 512, 2048, 1, 1, 0, 7, 3),
    ("resnet50", "l4 1x1 2048-512", 2048, 512, 1, 1, 0, 7, 2),
    ("resnet50", "l4 3x3 512-512", 512, 512, 3, 1, 1, 7, 2),
]


def _median(ts):
    ts = sorted(ts)
    n = len(ts)
    return ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])


def _time(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return _median(ts)


def worker(which, batches, repeats, threads):
    import numpy as np

    rng = np.random.default_rng(0)
    out = {"times": {}, "macs": {}}
    if which == "ours":
        sys.path.insert(0, str(ROOT))
        from convcalc.kernels import conv

        a = rng.standard_normal((2048, 2048), dtype=np.float32)
        b = rng.standard_normal((2048, 2048), dtype=np.float32)
        t = _time(lambda: a @ b, max(repeats, 5))
        out["gemm_gflops"] = 2 * 2048 ** 3 / t / 1e9
    else:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        out["torch"] = torch.__version__
    for N in batches:
        for net, name, ci, co, k, s, p, L, _ in LAYERS:
            x = rng.standard_normal((N, ci, L, L), dtype=np.float32)
            w = rng.standard_normal((co, ci, k, k), dtype=np.float32) * 0.05
            key = f"{N}|{net}|{name}"
            if which == "ours":
                pads = ((p, p), (p, p))
                y, macs = conv(x, w, stride=(s, s), padding=pads)
                out["macs"][key] = macs
                out["times"][key] = _time(lambda: conv(x, w, stride=(s, s), padding=pads), repeats)
            else:
                xt, wt = torch.from_numpy(x), torch.from_numpy(w)
                with torch.no_grad():
                    out["times"][key] = _time(lambda: F.conv2d(xt, wt, stride=s, padding=p), repeats)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    repeats = max(args.repeats, 5)
    if args.worker:
        worker(args.worker, batches, repeats, args.threads)
        return

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    results = {}
    for _ in range(max(args.rounds, 1)):
        for which in ("ours", "torch"):
            if results.get(which, {}).get("failed"):
                continue
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", which, "--threads",
                   str(args.threads), "--repeats", str(repeats), "--batches", args.batches]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                if which == "torch":
                    print("torch worker failed (is torch installed?); only our timings are shown")
                    results["torch"] = {"times": {}, "failed": True}
                    continue
                raise SystemExit(proc.returncode)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            prev = results.get(which)
            if prev is None:
                results[which] = r
            else:
                for key, t in r["times"].items():
                    prev["times"][key] = min(prev["times"][key], t)
                if "gemm_gflops" in r:
                    prev["gemm_gflops"] = max(prev["gemm_gflops"], r["gemm_gflops"])

    ours, ref = results["ours"], results["torch"]
    gemm = ours["gemm_gflops"]
    ct = os.environ.get("OPENBLAS_CORETYPE")
    print(f"threads={args.threads} (OMP/OPENBLAS/MKL_NUM_THREADS), repeats={repeats} (median), "
          f"rounds={args.rounds} (best median), "
          f"torch {ref.get('torch', 'n/a')}")
    print(f"OPENBLAS_CORETYPE: {'set to ' + repr(ct) if ct is not None else 'not set'}")
    print(f"numpy float32 GEMM 2048^3: {gemm:.1f} GFLOP/s")
    hdr = f"{'N':>2} {'layer':<24}{'x':>3} {'MMACs':>8} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} " \
          f"{'GFLOP/s':>8} {'%gemm':>6}"
    totals = {}
    for N in batches:
        print()
        print(hdr)
        for net, name, ci, co, k, s, p, L, cnt in LAYERS:
            key = f"{N}|{net}|{name}"
            to, macs = ours["times"][key], ours["macs"][key]
            tt = ref["times"].get(key)
            gf = 2 * macs / to / 1e9
            tot = totals.setdefault((N, net), [0.0, 0.0, 0])
            tot[0] += cnt * to
            tot[1] += cnt * tt if tt else 0.0
            tot[2] += cnt * macs
            tts = f"{tt * 1e3:9.2f}" if tt else f"{'-':>9}"
            rs = f"{to / tt:6.2f}" if tt else f"{'-':>6}"
            print(f"{N:>2} {net[:1].upper() + ' ' + name:<24}{cnt:>3} {macs / 1e6:8.1f} {to * 1e3:9.2f} {tts} {rs} "
                  f"{gf:8.1f} {100 * gf / gemm:5.0f}%")
    print()
    print("whole conv forward (each shape times its count in the net):")
    all_o = all_t = 0.0
    for (N, net), (to, tt, macs) in totals.items():
        all_o += to
        all_t += tt
        r = f"ratio {to / tt:.2f}" if tt else ""
        print(f"  N={N} {net:<9} {macs / 1e9:6.2f} GMACs  ours {to * 1e3:8.1f} ms  torch {tt * 1e3:8.1f} ms  {r}"
              f"  ours {2 * macs / to / 1e9:6.1f} GFLOP/s ({100 * 2 * macs / to / 1e9 / gemm:.0f}% of GEMM)")
    if all_t:
        print(f"  total: ours {all_o * 1e3:.1f} ms, torch {all_t * 1e3:.1f} ms, ratio {all_o / all_t:.2f}")


if __name__ == "__main__":
    main()
