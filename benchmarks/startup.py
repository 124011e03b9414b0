"""Cold start-up of the CLI: median wall time of `convcalc alexnet` and `convcalc list`
over >= 5 runs, and the ratio to `python -c pass` measured in the same run.

    python benchmarks/startup.py [--runs 7]
"""
import argparse
import statistics
import subprocess
import sys
import time


def timed(cmd, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("commands", nargs="*", default=["alexnet", "list", "alexnet --format json"])
    args = ap.parse_args()
    base = timed([sys.executable, "-c", "pass"], args.runs)
    print(f"python -c pass           {base * 1000:7.1f} ms")
    for c in args.commands:
        t = timed([sys.executable, "-m", "convcalc", *c.split()], args.runs)
        print(f"convcalc {c:<16}{t * 1000:7.1f} ms   x{t / base:5.1f} of python -c pass")


if __name__ == "__main__":
    main()
