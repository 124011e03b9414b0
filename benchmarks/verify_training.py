"""Time `convcalc verify MODEL` against `convcalc verify MODEL --training` (whole commands,
interleaved so both see the same machine load) and print the medians and their ratio, plus
the peak resident memory of each. Goal (issue #14): --training within 3x of the forward.

    PYTHONPATH=. python benchmarks/verify_training.py [MODEL] [REPEATS]
"""
import resource
import statistics
import subprocess
import sys
import time


def run(args):
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "convcalc", "verify", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    fwd, trn = [], []
    for _ in range(repeats):
        fwd.append(run([model])[0])
        trn.append(run([model, "--training"])[0])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    f, t = statistics.median(fwd), statistics.median(trn)
    print(f"{model}: verify {f:.2f} s, verify --training {t:.2f} s (medians of {repeats}), ratio {t / f:.2f}x; "
          f"largest child peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
