"""Symbolic analysis speed: cold CLI runs, a long chain through the API, and warm models.

    python benchmarks/symbolic.py [--runs 5] [--skip-warm] [--skip-chain]

Every figure is the median of ``--runs`` fresh processes (cold: imports, sympy and all), printed with
its ratio to ``python -c pass`` measured in the same run, the median CPU seconds of the child, and
the machine's load average before and after (other processes on a shared machine stretch wall time;
the ratios and CPU seconds move less). ``import sympy`` alone is timed too: it is the floor of every
symbolic command (sympy's package loads all of itself, whichever submodule is asked for).

Each command is run once, uncounted, before its timed runs, with bytecode writing allowed, so that
the timed runs read compiled modules as an installed package does (a checkout run with
``PYTHONDONTWRITEBYTECODE`` would otherwise compile convcalc's sources on every start).

Cold CLI targets (two cores): ``convcalc densenet121 --input 3xHxW`` <= 0.8 s, googlenet /
inception_v3 <= 1.0 s, through ``python -m convcalc`` and the installed ``convcalc`` script (when it
is on the PATH beside this Python); numeric ``convcalc resnet50`` is shown for comparison (it must
not import sympy). A 1,000-layer symbolic chain through ``convcalc.analyze`` <= 1.5 s and linear in
its length.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

CHAIN = """
import sys, time
t0 = time.perf_counter(); c0 = time.process_time()
import convcalc as cc
from convcalc.sym import dims
n = int(sys.argv[1])
H, W = dims("H W")
# convolutions without padding, kernel sizes varying: every layer's sizes and conditions differ
net = cc.Sequential(*[cc.Conv2d(4, 4, 1 + i % 3) for i in range(n)])
t1 = time.perf_counter(); c1 = time.process_time()
report = cc.summary(net, (4, H, W))
from convcalc.validity import describe  # (reads the facts the analysis stored; older versions solve here)
assert describe(report)[0] == f"H: >= {1 + sum(i % 3 for i in range(n))}"  # each layer takes k - 1 pixels
t2 = time.perf_counter(); c2 = time.process_time()
print(t2 - t0, c2 - c0, t2 - t1, c2 - c1)
"""


# The checkout this file is in is measured, whatever the current directory or an installed copy.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])


def run(cmd):
    """(wall seconds, CPU seconds of the child) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_of(cmd, runs):
    """(median wall, median CPU) over ``runs`` runs after one uncounted warm-up."""
    run(cmd)
    samples = [run(cmd) for _ in range(runs)]
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def load():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def script():
    """The installed console script beside this Python, if there is one."""
    path = os.path.join(os.path.dirname(sys.executable), "convcalc")
    return path if os.path.exists(path) else shutil.which("convcalc")


def cold_cli(runs, base, sympy_import):
    targets = {"densenet121": 0.8, "googlenet": 1.0, "inception_v3": 1.0}
    entries = [("python -m convcalc", [sys.executable, "-m", "convcalc"])]
    if script():
        entries.append(("convcalc (script)", [script()]))
    for label, argv in entries:
        for name, target in targets.items():
            t, cpu = median_of([*argv, name, "--input", "3xHxW"], runs)
            verdict = "ok" if t <= target else "MISSED"
            print(f"cold {label} {name:<13} --input 3xHxW {t:6.3f} s  x{t / base:5.1f} of python -c pass"
                  f"  x{t / sympy_import:4.2f} of import sympy  (cpu {cpu:.3f} s)  target <= {target} s: {verdict}")
        t, cpu = median_of([*argv, "resnet50"], runs)
        print(f"cold {label} resnet50 (numeric)            {t:6.3f} s  x{t / base:5.1f} of python -c pass"
              f"  x{t / sympy_import:4.2f} of import sympy  (cpu {cpu:.3f} s)")


def chain(runs, base):
    rows = []
    for n in (250, 500, 1000):
        samples = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", CHAIN, str(n)], capture_output=True, text=True, check=True,
                                 env=ENV, cwd=ROOT)
            samples.append([float(v) for v in out.stdout.split()])
        wall, cpu, awall, acpu = (statistics.median(s[i] for s in samples) for i in range(4))
        rows.append((n, wall))
        print(f"cold chain of {n:>4} layers   {wall:6.3f} s  x{wall / base:5.1f} of python -c pass  "
              f"(cpu {cpu:.3f} s; analyze alone {awall:.3f} s wall, {acpu:.3f} s cpu)")
    (_, t250), (_, t500), (_, t1000) = rows
    verdict = "ok" if t1000 <= 1.5 else "MISSED"
    print(f"  growth 250->500 x{t500 / t250:.2f}, 500->1000 x{t1000 / t500:.2f} (linear: <= 2); "
          f"1000 layers target <= 1.5 s: {verdict}")


def warm(runs):
    """In one process, sympy imported: the analysis and printing alone."""
    sys.path.insert(0, ROOT)
    import convcalc as cc
    from convcalc import sym, zoo
    from convcalc.render.text import to_json
    from convcalc.sym import dims

    H, W = dims("H W")
    for name in ("alexnet", "resnet50", "resnet152", "googlenet", "densenet121", "inception_v3"):
        cc.analyze(zoo.get(name), (3, H, W))  # warm-up: imports, printer
        times = []
        for _ in range(runs):
            sym._FMT_CACHE.clear()  # convcalc's own caches: do not let them flatter the figure
            sym._MEMO.clear()
            sym._IS_SYM.clear()
            sym._printer()._add_cache.clear()
            t0 = time.perf_counter()
            to_json(cc.analyze(zoo.get(name), (3, H, W)))  # printing the formulas is part of the job
            times.append(time.perf_counter() - t0)
        print(f"warm symbolic {name:<14} {statistics.median(times):6.3f} s (analysis + JSON)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-warm", action="store_true")
    ap.add_argument("--skip-chain", action="store_true")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, {load()}")
    base, base_cpu = median_of([sys.executable, "-c", "pass"], args.runs)
    sympy_import, sympy_cpu = median_of([sys.executable, "-c", "import sympy"], args.runs)
    print(f"python -c pass              {base:6.3f} s  (cpu {base_cpu:.3f} s)")
    print(f"python -c 'import sympy'    {sympy_import:6.3f} s  x{sympy_import / base:5.1f} of python -c pass"
          f"  (cpu {sympy_cpu:.3f} s)")
    cold_cli(args.runs, base, sympy_import)
    if not args.skip_chain:
        chain(args.runs, base)
    if not args.skip_warm:
        warm(args.runs)
    print(load())


if __name__ == "__main__":
    main()
