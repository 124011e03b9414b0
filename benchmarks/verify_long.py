"""Time verify on long 1-D inputs (issue #17's goal: a 1-D net of length 100,000 within 1 s) and
print how the time grows with the length: 10x the length should cost about 10x (the receptive-
field probe and the per-unit field checks are linear; a per-unit Python loop is not fast enough).

    PYTHONPATH=. python benchmarks/verify_long.py [REPEATS]
"""
import os
import statistics
import sys
import time
import warnings


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    warnings.simplefilter("ignore")
    import convcalc as cc
    from convcalc.verify import verify

    nets = {
        "conv chain": lambda: cc.Sequential(cc.Conv1d(1, 4, 3, padding=1), cc.ReLU(), cc.Conv1d(4, 4, 3, stride=2),
                                            cc.MaxPool1d(2), cc.Conv1d(4, 1, 5, dilation=2)),
        "upsampling": lambda: cc.Sequential(cc.Conv1d(1, 4, 3, padding=1), cc.ConvTranspose1d(4, 4, 3, stride=2),
                                            cc.Upsample(scale_factor=1.5, mode="linear"), cc.Conv1d(4, 1, 3)),
    }
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, build in nets.items():
        times = {}
        for length in (10_000, 100_000):
            ts = []
            for _ in range(repeats):
                t = time.perf_counter()
                ok = verify(build(), (1, length)).ok
                ts.append(time.perf_counter() - t)
            assert ok, f"{name} at {length}: verify disagrees"
            times[length] = statistics.median(ts)
        ratio = times[100_000] / times[10_000]
        print(f"{name:12s} 1x10000 {times[10_000]:6.3f} s   1x100000 {times[100_000]:6.3f} s   "
              f"ratio {ratio:5.1f} (linear: ~10)   goal <= 1 s: {'ok' if times[100_000] <= 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
