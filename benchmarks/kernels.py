#!/usr/bin/env python
"""Benchmark: convcalc.kernels (pure NumPy) against torch, in one run.

Three parts, each printed with medians and ratios:

* whole networks at ONE thread (resnet50, mobilenet_v2, efficientnet_b0, batch 1, 224x224): our
  forward pass through verify's layer->kernel table with weights drawn beforehand, against the
  same network exported by convcalc (``to_torch_source``) and run by torch under no_grad.
  Goals: ours/torch <= 1.2, 1.5, 1.5.  Our time per layer kind is listed too;
* single ops against torch.nn.functional at the same thread count (batch norm, depthwise conv,
  activations, adaptive pooling);
* big convolutions as a share of numpy's own float32 GEMM rate (2048^3) measured in the same
  process and run (goal >= 80%); torch's rate on the same convolution is shown as a share of the
  same anchor (its direct convolutions are the reference for what a shape allows), and so is
  numpy's product alone at the convolution's own GEMM shape (no im2col copy: the ceiling of any
  im2col convolution here).

Ours and torch run in SEPARATE subprocesses, one after the other, with the same thread count
(OMP/OPENBLAS/MKL_NUM_THREADS): in one process the other library's idle worker threads spin and
steal a core.  Each case: one warm-up, then the median of --repeats timed calls; with --rounds R
the two subprocesses alternate R times and each case keeps its best median (the machine is shared);
with R > 1 the ratios measured within each round (ours/torch, conv/GEMM) are also printed with
their median over the rounds.  The load average is printed next to the figures.
OPENBLAS_CORETYPE is reported and never changed here; with --coretype an extra GEMM line is
measured in a child whose environment lacks it and OPENBLAS_L2_SIZE.  --cpu times with the
process's CPU clock, which at one thread leaves out the waits for a core on a loaded machine.

    python benchmarks/kernels.py [--threads 1,2] [--repeats 7] [--rounds 2] [--nets resnet50,...]

Not a test: it prints a report.
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
NETS = {"resnet50": 1.2, "mobilenet_v2": 1.5, "efficientnet_b0": 1.5}   # name -> goal ratio

# big convolutions: (name, C_in, C_out, k, stride, padding, input size, batch)
CONVS = [
    ("alexnet conv2 5x5", 96, 256, 5, 1, 2, 27, 1),
    ("alexnet conv3 3x3", 256, 384, 3, 1, 1, 13, 1),
    ("resnet50 3x3 64@56", 64, 64, 3, 1, 1, 56, 1),
    ("resnet50 3x3 128@28", 128, 128, 3, 1, 1, 28, 1),
    ("resnet50 3x3 256@14", 256, 256, 3, 1, 1, 14, 1),
    ("resnet50 1x1 256-64@56", 256, 64, 1, 1, 0, 56, 1),
    ("resnet50 3x3 64@56 N8", 64, 64, 3, 1, 1, 56, 8),
    ("vgg16 3x3 128@112", 128, 128, 3, 1, 1, 112, 1),
]

# single ops: (name, input shape, spec)
OPS = [
    ("batch_norm 32x112x112", (1, 32, 112, 112), ("bn",)),
    ("batch_norm 144x56x56 N8", (8, 144, 56, 56), ("bn",)),
    ("dwconv 3x3 32@112", (1, 32, 112, 112), ("dw", 3, 1, 1)),
    ("dwconv 3x3/2 96@112", (1, 96, 112, 112), ("dw", 3, 2, 1)),
    ("dwconv 5x5 240@28", (1, 240, 28, 28), ("dw", 5, 1, 2)),
    ("dwconv 3x3 144@56 N8", (8, 144, 56, 56), ("dw", 3, 1, 1)),
    ("relu 64x112x112", (1, 64, 112, 112), ("relu",)),
    ("relu6 96x112x112", (1, 96, 112, 112), ("relu6",)),
    ("silu 96x112x112", (1, 96, 112, 112), ("silu",)),
    ("hardswish 96x112x112", (1, 96, 112, 112), ("hardswish",)),
    ("adaptive_avg 2048x7x7->1", (8, 2048, 7, 7), ("aap", 1)),
    ("adaptive_avg 512x13x13->6", (8, 512, 13, 13), ("aap", 6)),
    ("max_pool 3x3/2 64@112", (1, 64, 112, 112), ("maxpool",)),
]


def _median(ts):
    ts = sorted(ts)
    n = len(ts)
    return ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])


# --cpu: time with the process's CPU clock instead of the wall clock.  At one thread this
# leaves out the time the process waits for a core on a loaded machine.
CLOCK = time.perf_counter


def _time(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = CLOCK()
        fn()
        ts.append(CLOCK() - t)
    return _median(ts)


# -- our side ------------------------------------------------------------------------------------

def _our_op(K, spec, x, rng, np):
    C = x.shape[1]
    kind = spec[0]
    if kind == "bn":
        m, v = rng.random(C, dtype=np.float32), rng.random(C, dtype=np.float32) + 0.5
        g, b = rng.random(C, dtype=np.float32), rng.random(C, dtype=np.float32)
        return lambda: K.batch_norm(x, m, v, g, b)
    if kind == "dw":
        k, s, p = spec[1:]
        w = rng.random((C, 1, k, k), dtype=np.float32)
        return lambda: K.conv(x, w, None, s, p, 1, C)
    if kind == "aap":
        return lambda: K.adaptive_avg_pool(x, spec[1])
    if kind == "maxpool":
        return lambda: K.max_pool(x, 3, 2, 1)
    return lambda: getattr(K, kind)(x)


def _our_net(name, np, rng, repeats):
    """verify's own path without the checks: the graph walked once per call, each node run by
    its registered kernel with weights drawn beforehand by verify's ``draw``, each tensor freed
    after its last consumer as verify does.  Returns the median time and the time per layer
    kind (averaged over three walks)."""
    from convcalc import zoo
    from convcalc.graph import to_graph
    from convcalc import kernels as K
    from convcalc.verify import draw, kernel_for, operands

    K.steady_heap()     # as verify() does before it runs a network
    model = zoo.get(name)
    graph = to_graph(model.net)
    x = rng.random((1, *model.input), dtype=np.float32)
    plan = {}

    def first(node, xs):
        k = kernel_for(node.layer)
        shape, args = tuple(xs[0].shape[1:]), node.layer.args()
        w, b = draw(k.weights(args, shape), k.buffers(args, shape), rng)
        plan[node.key] = (k.run, node.layer, w, b)
        return k.run(node.layer, operands(node.layer, xs), w, b)[0]

    graph.walk(x, first)
    uses = {k: len(v) for k, v in graph.consumers().items()}

    def walk(visit):
        env, left = {graph.inputs[0]: x}, dict(uses)
        for node in graph:
            y = visit(node, [env[i] for i in node.inputs])
            for i in node.inputs:
                left[i] = left.get(i, 1) - 1
                if left[i] <= 0:
                    env.pop(i, None)
            env[node.key] = y
        return y

    def run(node, xs):
        fn, layer, w, b = plan[node.key]
        return fn(layer, operands(layer, xs), w, b)[0]

    per_kind = {}

    def timed(node, xs):
        fn, layer, w, b = plan[node.key]
        t = CLOCK()
        y = fn(layer, operands(layer, xs), w, b)[0]
        kind = layer.kind + ("(groups)" if getattr(layer, "groups", 1) > 1 else "")
        per_kind[kind] = per_kind.get(kind, 0.0) + CLOCK() - t
        return y

    total = _time(lambda: walk(run), repeats)
    runs = 3
    for _ in range(runs):
        walk(timed)
    return total, {k: v / runs for k, v in per_kind.items()}


def worker_ours(threads, repeats, nets):
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from convcalc import kernels as K

    rng = np.random.default_rng(0)
    out = {"times": {}, "macs": {}}
    a = rng.random((2048, 2048), dtype=np.float32)
    b = rng.random((2048, 2048), dtype=np.float32)
    out["gemm_gflops"] = 2 * 2048 ** 3 / _time(lambda: a @ b, max(repeats, 5)) / 1e9
    for name, ci, co, k, s, p, L, N in CONVS:
        x = rng.random((N, ci, L, L), dtype=np.float32)
        w = rng.random((co, ci, k, k), dtype=np.float32)
        out["macs"][name] = K.conv(x, w, None, s, p)[1]
        out["times"]["conv|" + name] = _time(lambda: K.conv(x, w, None, s, p), repeats)
        # the product alone at the conv's own shape (Co x C*k*k by C*k*k x N*Lo*Lo), no im2col copy:
        # what any im2col convolution can reach on this machine
        lo = (L + 2 * p - k) // s + 1
        wm, cols = w.reshape(co, -1), rng.random((ci * k * k, N * lo * lo), dtype=np.float32)
        out["times"]["gemm|" + name] = _time(lambda: wm @ cols, repeats)
    for name, shape, spec in OPS:
        x = rng.random(shape, dtype=np.float32) - np.float32(0.5)
        out["times"]["op|" + name] = _time(_our_op(K, spec, x, rng, np), repeats)
    if threads == 1:
        out["kinds"] = {}
        for name in nets:
            t, kinds = _our_net(name, np, rng, max(3, repeats // 2))
            out["times"]["net|" + name] = t
            out["kinds"][name] = kinds
    print(json.dumps(out))


# -- torch side ----------------------------------------------------------------------------------

def _torch_op(torch, F, spec, x):
    C = x.shape[1]
    kind = spec[0]
    if kind == "bn":
        m, v, g, b = torch.rand(C), torch.rand(C) + 0.5, torch.rand(C), torch.rand(C)
        return lambda: F.batch_norm(x, m, v, g, b)
    if kind == "dw":
        k, s, p = spec[1:]
        w = torch.rand(C, 1, k, k)
        return lambda: F.conv2d(x, w, None, s, p, 1, C)
    if kind == "aap":
        return lambda: F.adaptive_avg_pool2d(x, spec[1])
    if kind == "maxpool":
        return lambda: F.max_pool2d(x, 3, 2, 1)
    return lambda: getattr(F, kind)(x)


def _torch_net(name, torch, repeats):
    from convcalc import zoo
    from convcalc.io.export import to_torch_source

    model = zoo.get(name)
    ns = {}
    exec(compile(to_torch_source(model), f"<{name}>", "exec"), ns)
    net = ns["Net"]().eval()
    x = torch.rand(1, *model.input)
    with torch.no_grad():
        return _time(lambda: net(x), repeats)


def worker_torch(threads, repeats, nets):
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(ROOT))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {"times": {}, "torch": torch.__version__}
    with torch.no_grad():
        for name, ci, co, k, s, p, L, N in CONVS:
            x, w = torch.rand(N, ci, L, L), torch.rand(co, ci, k, k)
            out["times"]["conv|" + name] = _time(lambda: F.conv2d(x, w, None, s, p), repeats)
        for name, shape, spec in OPS:
            x = torch.rand(*shape) - 0.5
            out["times"]["op|" + name] = _time(_torch_op(torch, F, spec, x), repeats)
    if threads == 1:
        for name in nets:
            out["times"]["net|" + name] = _torch_net(name, torch, max(3, repeats // 2))
    print(json.dumps(out))


def worker_gemm(repeats):
    import numpy as np

    a = np.ones((2048, 2048), np.float32)
    print(json.dumps({"gemm_gflops": 2 * 2048 ** 3 / _time(lambda: a @ a, max(repeats, 5)) / 1e9}))


# -- driver --------------------------------------------------------------------------------------

def _child(which, threads, args, env):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", which, "--threads", str(threads),
           "--repeats", str(args.repeats), "--nets", args.nets] + (["--cpu"] if args.cpu else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _merge(prev, r):
    if prev is None:
        return r
    for key, t in r["times"].items():
        prev["times"][key] = min(prev["times"].get(key, t), t)
    if "gemm_gflops" in r:
        prev["gemm_gflops"] = max(prev["gemm_gflops"], r["gemm_gflops"])
    for net, kinds in r.get("kinds", {}).items():
        if r["times"]["net|" + net] <= prev["times"]["net|" + net]:
            prev["kinds"][net] = kinds
    return prev


def _env(threads, drop_coretype=False):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if drop_coretype:       # in this child only: OpenBLAS picks its kernels by itself
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    return env


def _load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def _round_ratios(rounds, ours, ref):
    """Ratios within one round (both children ran back to back): ours/torch per case, and each
    big convolution's rate as a share of the same child's GEMM rate."""
    for key, to in ours["times"].items():
        t = ref["times"].get(key) if ref else None
        if t:
            rounds.setdefault(key, []).append(to / t)
    for name, macs in ours["macs"].items():
        gf = 2 * macs / ours["times"]["conv|" + name] / 1e9
        rounds.setdefault("share|" + name, []).append(gf / ours["gemm_gflops"])


def _spread(ratios):
    if not ratios or len(ratios) < 2:
        return ""
    return f"   [{_median(ratios):.2f}: " + " ".join(f"{r:.2f}" for r in ratios) + "]"


def _report(threads, ours, ref, nets, rounds):
    gemm = ours["gemm_gflops"]
    tt = ref["times"] if ref else {}
    print(f"\n=== {threads} thread{'s' if threads > 1 else ''}  ({_load()}) ===")
    print(f"numpy float32 GEMM 2048^3: {gemm:.1f} GFLOP/s")
    if threads == 1:
        print(f"\nwhole networks, batch 1, one thread: {'ours ms':>9} {'torch ms':>9} {'ratio':>6}  goal"
              f"{'   [median ratio of rounds: each]' if len(rounds.get('net|' + nets[0], ())) > 1 else ''}")
        for name in nets:
            to, t = ours["times"]["net|" + name], tt.get("net|" + name)
            r = to / t if t else float("nan")
            verdict = "ok" if r <= NETS.get(name, 1.5) else "MISSED"
            print(f"  {name:<33} {to * 1e3:9.1f} {t * 1e3 if t else float('nan'):9.1f} {r:6.2f}  "
                  f"<= {NETS.get(name, 1.5)} {verdict}{_spread(rounds.get('net|' + name))}")
            kinds = sorted(ours["kinds"][name].items(), key=lambda kv: -kv[1])[:6]
            print("    ours by kind: " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in kinds))
    print(f"\nsingle ops:{'':<24} {'ours ms':>9} {'torch ms':>9} {'ratio':>6}")
    for name, _, _ in OPS:
        to, t = ours["times"]["op|" + name], tt.get("op|" + name)
        print(f"  {name:<33} {to * 1e3:9.3f} {t * 1e3 if t else float('nan'):9.3f} "
              f"{to / t if t else float('nan'):6.2f}")
    print(f"\nbig convolutions:{'':<18} {'MMACs':>7} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'GFLOP/s':>8} "
          f"{'%gemm':>6} {'torch':>6} {'product':>7}")
    for name, *_ in CONVS:
        to, t, macs = ours["times"]["conv|" + name], tt.get("conv|" + name), ours["macs"][name]
        gf = 2 * macs / to / 1e9
        shares = rounds.get("share|" + name, [])
        torch_share = f"{100 * 2 * macs / t / 1e9 / gemm:5.0f}%" if t else "    -"   # torch's rate, same anchor
        print(f"  {name:<33} {macs / 1e6:7.1f} {to * 1e3:9.2f} {t * 1e3 if t else float('nan'):9.2f} "
              f"{to / t if t else float('nan'):6.2f} {gf:8.1f} {100 * gf / gemm:5.0f}% {torch_share} "
              f"{100 * 2 * macs / ours['times']['gemm|' + name] / 1e9 / gemm:6.0f}%"
              + (f"  [median of rounds {100 * _median(shares):.0f}%]" if len(shares) > 1 else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (networks run at 1 only)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--cpu", action="store_true", help="time with the process CPU clock (robust to a loaded "
                    "machine at one thread; at more threads it sums the threads' work)")
    ap.add_argument("--coretype", action="store_true", help="also measure GEMM with OPENBLAS_CORETYPE "
                    "and OPENBLAS_L2_SIZE unset")
    ap.add_argument("--worker", choices=["ours", "torch", "gemm"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.repeats = max(args.repeats, 5)
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    nets = [n for n in args.nets.split(",") if n]
    if args.worker:
        th = int(args.threads)
        {"ours": lambda: worker_ours(th, args.repeats, nets), "torch": lambda: worker_torch(th, args.repeats, nets),
         "gemm": lambda: worker_gemm(args.repeats)}[args.worker]()
        return
    ct = os.environ.get("OPENBLAS_CORETYPE")
    print(f"repeats={args.repeats} (median), rounds={args.rounds} (best median), "
          f"clock: {'process CPU time' if args.cpu else 'wall'}; start: {_load()}")
    print(f"OPENBLAS_CORETYPE: {'set to ' + repr(ct) if ct is not None else 'not set'}")
    for threads in [int(t) for t in args.threads.split(",")]:
        ours = ref = None
        rounds = {}         # per round, measured within that round: ours/torch, and conv/GEMM rates
        for _ in range(max(args.rounds, 1)):
            r = _child("ours", threads, args, _env(threads))
            if r is None:
                raise SystemExit("our worker failed")
            ours = _merge(ours, r)
            rt = _child("torch", threads, args, _env(threads))
            if rt is not None:
                ref = _merge(ref, rt)
            _round_ratios(rounds, r, rt)
        if ref is None:
            print("torch worker failed (is torch installed?); only our timings are shown")
        else:
            print(f"torch {ref['torch']}")
        _report(threads, ours, ref, nets, rounds)
        if args.coretype and ct is not None:
            r = _child("gemm", threads, args, _env(threads, drop_coretype=True))
            print(f"numpy GEMM without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE: {r['gemm_gflops']:.1f} GFLOP/s"
                  if r else "gemm child failed")


if __name__ == "__main__":
    main()
