"""What the USL fit adds to every stepped report: import and fit time by number of steps.

Run: ``python benchmarks/usl_bench.py [--repeat 5]``. Prints the one-off import cost of
``scipy.optimize`` (after the rest of ``swarm report`` is imported, as in a real report)
and the best-of-``repeat`` wall time of ``fit_usl`` (200 bootstrap refits) on synthetic
steps of a known curve with 3 % noise and intervals.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    # what a report imports anyway
    import framework.reports.run_report
    import framework.verdicts.builder  # noqa: F401

    started = time.perf_counter()
    import scipy.optimize  # noqa: F401

    took = time.perf_counter() - started
    print(f"import scipy.optimize (after swarm report's imports): {took:.3f} s")

    from framework.stats.usl import fit_usl, usl_throughput

    rng = np.random.default_rng(0)
    for steps in (4, 8, 20, 50):
        loads = np.linspace(5, 100, steps)
        truth = usl_throughput(loads, 10.0, 0.03, 0.0005)
        measured = truth * (1 + 0.03 * rng.standard_normal(steps))
        intervals = [(x * 0.94, x * 1.06) for x in measured]
        best = min(_timed(fit_usl, loads, measured, intervals) for _ in range(args.repeat))
        print(f"fit_usl, {steps:>2} steps: {best * 1000:.0f} ms (best of {args.repeat})")


def _timed(fit, *args) -> float:
    started = time.perf_counter()
    fit(*args)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
