"""Cost of ``framework.run_frame`` and ``framework.query_run`` (``swarm query``) on an hour's run.

    python benchmarks/query_bench.py                # 1 h x 20 names (the report benchmark's run)
    python benchmarks/query_bench.py --quick        # 10 min x 20 names
    python benchmarks/query_bench.py --keep DIR     # keep (and reuse) the synthetic run in DIR

The run folder is ``benchmarks/report_bench.py``'s (``tests/synthetic.py``: lognormal
latencies with an AR(1) level, 50-500 rps per name, 1 % errors, a constant plan with a
one-minute ramp), so the figures sit beside the report's. Each case runs in a fresh child
process that times the whole call -- reading the run folder included, as a notebook or
``swarm query`` pays it -- with ``perf_counter`` and reports its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CASES: dict[str, dict[str, object]] = {
    "run_frame": {},
    "query_run: whole run, one row": {"query": {}},
    "query_run: by name (20 rows)": {"query": {"by": "name"}},
    "query_run: by phase": {"query": {"by": "phase"}},
    "query_run: 10m-20m, p95 only": {"query": {"start": "10m", "end": "20m", "metrics": "p95"}},
    "query_run: every 5m, by name": {"query": {"every": "5m", "by": "name"}},
    "query_run: every 30s (all names)": {"query": {"every": "30s"}},
    "query_run: every 30s, by name": {"query": {"every": "30s", "by": "name"}},
}


def measure(run_dir: Path, case: str) -> dict[str, float]:
    """In this process: time one case on ``run_dir``; rows out, peak RSS after it."""
    import framework

    spec = CASES[case]
    started, cpu = time.perf_counter(), time.process_time()
    if "query" in spec:
        frame = framework.query_run(run_dir, **spec["query"])  # type: ignore[arg-type]
    else:
        frame = framework.run_frame(run_dir)
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "rows": len(frame),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(run_dir: Path, case: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(run_dir), "--case", case],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 min x 20 names")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the synthetic run here")
    parser.add_argument("--repeat", type=int, default=1, help="measure each case this often")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.case)))
        return 0

    from benchmarks.report_bench import generate

    root = args.keep or Path(tempfile.mkdtemp(prefix="query-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    seconds = 600 if args.quick else 3600
    folder = generate(root / f"run-{seconds}s-20n-1x", seconds, 20, 1.0)
    print(f"query benchmark: {seconds} s x 20 names ({folder})")
    print(f"  {'case':<36} {'rows':>7} {'wall':>8} {'CPU':>8} {'peak RSS':>9}")
    for case in CASES:
        runs = [_child(folder, case) for _ in range(args.repeat)]
        best = min(runs, key=lambda m: m["wall_s"])
        print(
            f"  {case:<36} {best['rows']:>7} {best['wall_s']:>7.2f}s {best['cpu_s']:>7.2f}s "
            f"{best['peak_rss_mb']:>7.0f} MB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
