"""Cost of ``swarm report``: the whole analysis and report writing for an hour-long run.

    python benchmarks/report_bench.py                 # 1 h x 20 names, then the scaling checks
    python benchmarks/report_bench.py --quick         # 10 min x 20 names, scaling on 5 min
    python benchmarks/report_bench.py --keep DIR      # keep (and reuse) the synthetic runs in DIR

Each synthetic run folder (``tests/synthetic.py``: lognormal latencies with an AR(1) level,
Poisson arrivals, 1% errors, a constant plan with a one-minute ramp) is analysed in a fresh
child process that times ``build_results`` + ``write_reports`` (``load_run``, i.e. reading
the timeline, included) with ``perf_counter`` and reports its peak RSS from
``resource.getrusage`` -- the figure ``swarm report`` would show.

Targets: the 1-hour, 20-name run (50-500 rps per name, ~20 million requests) in under 5 s
and 500 MB, and a cost that grows with seconds x names, not with requests: the same
seconds x names at 10x the request rate must cost about the same (and twice the seconds
about twice as much).
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


def _rates(names: int, scale: float) -> dict[str, float]:
    """50 .. 500 rps per name, spread evenly (about 275 on average), times ``scale``."""
    step = 450 / max(names - 1, 1)
    return {_name(i): (50 + i * step) * scale for i in range(names)}


def _name(i: int) -> str:
    return f"{'GET' if i % 3 else 'POST'} /endpoint/{i:02d}"


def generate(folder: Path, seconds: int, names: int, scale: float) -> Path:
    """Write the synthetic run (unless ``folder`` already holds one) and return it."""
    from framework.plan import shapes
    from tests.synthetic import Latency, write_run

    if (folder / "run.json").exists():
        return folder
    keys = [_name(i) for i in range(names)]
    models = {
        k: Latency(median_ms=20 + 5 * i, sigma=0.6, phi=0.7, level_sd=0.08)
        for i, k in enumerate(keys)
    }
    plan = shapes.constant(users=200, spawn_rate=200 / 60, duration_s=seconds)
    started = time.perf_counter()
    write_run(
        folder,
        seconds=seconds + 1,  # the last second is cut short by the stop, as in a real run
        names=keys,
        latency=models,
        rps=_rates(names, scale),
        error_rate=0.01,
        plan=plan,
        budgets={
            "overall": {"p95_ms": 500, "error_rate": "2%"},
            "requests": {keys[0]: {"p99_ms": 300}},
        },
        seed=seconds * 1000 + names + int(scale * 10),
    )
    size = (folder / "timeline.jsonl").stat().st_size
    print(
        f"  generated {folder.name}: {seconds} s x {names} names at {scale:g}x rate, "
        f"{size / 1e6:.0f} MB timeline, in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return folder


def measure(run_dir: Path) -> dict[str, float]:
    """In this process: time the whole report of ``run_dir``; peak RSS after it."""
    from framework.reports.writer import write_reports
    from framework.verdicts.builder import ReportOptions, build_results, load_run

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    data = load_run(run_dir)
    loaded = time.perf_counter()
    results, _ = build_results(data, ReportOptions(), created_at="2024-01-01T00:00:00Z")
    write_reports(run_dir, results)
    done = time.perf_counter()
    requests = sum(e.count for e in results.baseline.endpoints)
    return {
        "wall_s": done - started,
        "cpu_s": time.process_time() - cpu,
        "read_s": loaded - started,
        "analyse_s": done - loaded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "import_rss_mb": before,
        "requests": requests,
        "verdict": results.verdict,
    }


def _child(run_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(run_dir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(label: str, m: dict[str, float]) -> str:
    return (
        f"  {label:<34} {m['requests'] / 1e6:>6.2f} M  {m['wall_s']:>6.2f} s "
        f"{m['cpu_s']:>6.2f} s  (read {m['read_s']:.2f} s)  {m['peak_rss_mb']:>5.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 min main run, 5 min scaling")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the synthetic runs here")
    parser.add_argument("--repeat", type=int, default=1, help="measure each run this often")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0

    root = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    main_s, scale_s = (600, 300) if args.quick else (3600, 900)
    cases = [
        (f"{main_s} s x 20 names, 1x rate", main_s, 20, 1.0),
        (f"{scale_s} s x 20 names, 1x rate", scale_s, 20, 1.0),
        (f"{scale_s} s x 20 names, 10x rate", scale_s, 20, 10.0),
        (f"{scale_s * 2} s x 20 names, 1x rate", scale_s * 2, 20, 1.0),
        (f"{scale_s} s x 40 names, 1x rate", scale_s, 40, 1.0),
    ]
    print(f"swarm report benchmark (runs in {root})")
    folders = {}
    for label, seconds, names, scale in cases:
        folder = root / f"run-{seconds}s-{names}n-{scale:g}x"
        folders[label] = generate(folder, seconds, names, scale)
    print(f"  {'case':<34} {'requests':>8} {'wall':>8} {'CPU':>8}  {'(of wall)':<13} peak RSS")
    results: dict[str, dict[str, float]] = {}
    measured: dict[Path, dict[str, float]] = {}
    for label, *_ in cases:
        folder = folders[label]
        if folder not in measured:  # --quick: the main run is also the "2x seconds" one
            runs = [_child(folder) for _ in range(args.repeat)]
            measured[folder] = min(runs, key=lambda m: m["wall_s"])
        results[label] = measured[folder]
        print(_row(label, results[label]), flush=True)
    head = results[cases[0][0]]
    base, fast = results[cases[1][0]], results[cases[2][0]]
    longer, wider = results[cases[3][0]], results[cases[4][0]]
    met = head["wall_s"] < 5 and head["peak_rss_mb"] < 500
    print(
        f"  targets (< 5 s, < 500 MB for 3600 s x 20 names): {head['wall_s']:.2f} s, "
        f"{head['peak_rss_mb']:.0f} MB for {cases[0][0]}: "
        + (("met" if met else "MISSED") if main_s == 3600 else "not judged (--quick)")
    )
    print(
        f"  CPU time against {cases[1][0]}: 10x the requests {fast['cpu_s'] / base['cpu_s']:.2f}x, "
        f"2x the seconds {longer['cpu_s'] / base['cpu_s']:.2f}x, "
        f"2x the names {wider['cpu_s'] / base['cpu_s']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
