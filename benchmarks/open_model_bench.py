"""Benchmark: how many arrivals per second one worker core keeps on schedule, and with two.

An open model is only as good as its schedule: an arrival that starts late hides the
latency the open model exists to show. So the figure is the highest arrival rate a
worker sustains with the schedule lag p99 under 10 ms and no arrival dropped, next to the
closed model's rate on the same core (FastHttpUser, no think time: as fast as answers
come back), measured in the same run of this script; then the same with 2 workers.

For each worker count W (1, then 2):

1. closed: ``swarm run`` of 50 users with no think time for ``--closed-s`` seconds
   against a 0 ms mock detector; the figure is the steady window's throughput;
2. open, coarse: one ``swarm run`` of an open ``stages`` shape whose rate climbs from
   ``--from`` to ``--to`` times the closed rate in steps of ``--step`` (``--step-s``
   seconds each); each step is judged on its seconds after the first (the timeline's
   ``arr`` lines: lag p99 from their histograms, drops from their counts; the worker CPU
   from the ``sec`` lines). The sustained rate is the highest step such that it and every
   step below it kept lag p99 < 10 ms with no drop;
3. open, fine (not with ``--quick``): the same between the last step kept and the first
   one behind, in ``--fine-steps`` steps, so the figure is within a few percent. Each
   open run begins with an unjudged warm-up: a ramp from 0 to 90 % of its first rate.

The mock detector runs on ``--server-cores`` (default core 0) and swarm (master and
workers) on ``--client-cores`` (default core 1, or every core for W = 2, which then
shares one with the detector on a 2-core machine: read the scaling with that in mind).

    python benchmarks/open_model_bench.py            # ~5 minutes
    python benchmarks/open_model_bench.py --quick    # ~2 minutes, the coarse pass only
    python benchmarks/open_model_bench.py --boost    # root: nice -20 in its own autogroup
    python benchmarks/open_model_bench.py --boost --workers 1   # the one-worker part only

Prints every step and the figures as ratios; the results are recorded in
``benchmarks/README.md``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mock_detectors_bench import boost_priority, free_port, wait_ready  # noqa: E402
from framework.timeline.reader import read_timeline  # noqa: E402

__all__ = ["StepResult", "main"]

LAG_P99_LIMIT_MS = 10.0
GROUP = "scenario"  # the load group of a scenario-level load (CONTRACTS15 §2)
RUN_DEADLINE_PAD_S = 60.0

MOCKS = """
detectors:
  zero: {{port: {port}, latency: {{model: fixed, ms: 0}}}}
"""

CLOSED = """
name: open-model bench, closed reference
host: {url}
users:
  - name: closed
    requests:
      - {{name: detect, method: POST, path: /detect, json: {{content: bench}}}}
load: {{shape: constant, users: {users}, spawn_rate: {users}, duration: {duration}s}}
"""

OPEN = """
name: open-model bench, stepped arrivals
host: {url}
users:
  - name: open
    requests:
      - {{name: detect, method: POST, path: /detect, json: {{content: bench}}}}
load:
  model: open
  shape: stages
  arrivals: uniform
  max_in_flight: 1000
  stages:
{stages}
"""


@dataclass(frozen=True)
class StepResult:
    """One step of the open run: its rate and what the timeline says of its schedule."""

    rate: float
    due: int
    started: int
    dropped: int
    lag_p50_ms: float
    lag_p99_ms: float
    answered_rps: float
    cpu_max: float | None  # the busiest load generator's CPU %, the step's worst second

    @property
    def kept(self) -> bool:
        """On schedule: lag p99 under the limit and nothing dropped."""
        return self.due > 0 and self.dropped == 0 and self.lag_p99_ms < LAG_P99_LIMIT_MS


def _swarm(scenario: Path, workers: int, cores: str, folder: Path, run_id: str, deadline_s: float):
    """``swarm run`` pinned to ``cores``; returns the run folder (raises if it did not finish)."""
    out = folder / "reports"
    command = [
        "taskset", "-c", cores, sys.executable, "-m", "framework.cli", "run", str(scenario),
        "--workers", str(workers), "--out", str(out), "--run-id", run_id,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    log = folder / f"{run_id}.log"
    with log.open("w") as handle:
        code = subprocess.run(
            command, stdout=handle, stderr=subprocess.STDOUT, cwd=folder, env=env,
            timeout=deadline_s, check=False,
        ).returncode  # fmt: skip
    if code not in (0, 1):  # 1: a verdict failed (e.g. data quality), the figures stand
        raise SystemExit(f"swarm run {run_id} exited {code}; see {log}")
    return out / run_id


def _plan_start(run_dir: Path) -> float:
    run = json.loads((run_dir / "run.json").read_text())
    running = next(p for p in run["phases"] if p["name"] == "running")
    return datetime.fromisoformat(running["at"].replace("Z", "+00:00")).timestamp()


def closed_rate(url: str, workers: int, cores: str, folder: Path, duration_s: int) -> float:
    """Requests/s of 50 closed users with no think time, in the run's steady window."""
    scenario = folder / f"closed-{workers}.yaml"
    scenario.write_text(CLOSED.format(url=url, users=50, duration=duration_s))
    run_dir = _swarm(
        scenario, workers, cores, folder, f"closed-{workers}", duration_s + RUN_DEADLINE_PAD_S
    )
    results = json.loads((run_dir / "results.json").read_text())
    return float(results["baseline"]["overall"]["throughput_rps"]["value"])


def open_steps(
    url: str, workers: int, cores: str, folder: Path, rates: list[float], step_s: int, label: str
) -> list[StepResult]:
    """One stepped open run over ``rates``; each step judged on its seconds after the first.

    A first, unjudged stage ramps from 0 to 90 % of the first rate over two steps' time,
    warming the worker up (its pool of user instances and their connections) the way a
    climb through lower steps would, so no step pays for the start of the run.
    """
    scenario = folder / f"open-{label}-{workers}.yaml"
    warm_up = (
        f"    - {{duration: {2 * step_s}s, rate: {round(0.9 * rates[0])}, ramp: {2 * step_s}s}}"
    )
    stages = "\n".join(
        [warm_up, *(f"    - {{duration: {step_s}s, rate: {rate}}}" for rate in rates)]
    )
    scenario.write_text(OPEN.format(url=url, stages=stages))
    run_dir = _swarm(
        scenario,
        workers,
        cores,
        folder,
        f"open-{label}-{workers}",
        (len(rates) + 2) * step_s + RUN_DEADLINE_PAD_S,
    )
    timeline = read_timeline(run_dir / "timeline.jsonl")
    start = _plan_start(run_dir)
    results = []
    for index, rate in enumerate(rates, start=2):
        first = math.ceil(start + index * step_s + 1)  # skip the step's first second
        end = math.floor(start + (index + 1) * step_s)
        arrivals = timeline.arrivals_total(GROUP, first, end)
        lags = timeline.lag_histogram(GROUP, first, end)
        answered = sum(r.count for r in timeline.select(None, first, end))
        cpus = [
            sec.cpu_percent
            for sec in timeline.seconds
            if first <= sec.t < end and sec.cpu_percent is not None
        ]
        results.append(
            StepResult(
                rate=rate,
                due=arrivals.due,
                started=arrivals.started,
                dropped=arrivals.dropped,
                lag_p50_ms=lags.get_value_at_percentile(50) / 1000,
                lag_p99_ms=lags.get_value_at_percentile(99) / 1000,
                answered_rps=answered / max(1, end - first),
                cpu_max=max(cpus, default=None),
            )
        )
    return results


def sustained(steps: list[StepResult]) -> float:
    """The highest rate such that it and every lower step kept the schedule (0 if none)."""
    best = 0.0
    for step in steps:
        if not step.kept:
            break
        best = step.rate
    return best


def measure(args: argparse.Namespace, url: str, folder: Path, workers: int) -> dict[str, float]:
    """The closed rate, the stepped open run, and the sustained open rate for ``workers``."""
    cores = args.client_cores if workers == 1 else args.both_cores
    load_before = os.getloadavg()[0]
    closed = closed_rate(url, workers, cores, folder, args.closed_s)
    count = round((args.to - args.from_) / args.step) + 1
    rates = [round(closed * (args.from_ + i * args.step)) for i in range(count)]
    print(f"\n{workers} worker(s) on cores {cores} (1-min load {load_before:.2f})")
    print(f"  closed, 50 users, no think time: {closed:8,.0f} req/s")
    steps = open_steps(url, workers, cores, folder, rates, args.step_s, "coarse")
    _print_steps("coarse", steps)
    best = sustained(steps)
    kept = [step for step in steps if step.rate <= best]
    if not args.quick and len(kept) < len(steps):
        low = kept[-1].rate if kept else rates[0] / 2
        high = steps[len(kept)].rate
        fine = [
            round(low + (high - low) * (i + 1) / (args.fine_steps + 1))
            for i in range(args.fine_steps)
        ]
        fine_steps = open_steps(url, workers, cores, folder, fine, args.step_s, "fine")
        _print_steps("fine", fine_steps)
        best = max(best, sustained(fine_steps))
    print(f"  sustained open rate: {best:,.0f}/s = {best / closed:.2f}x the closed rate")
    return {"workers": workers, "closed_rps": closed, "open_rps": best, "ratio": best / closed}


def _print_steps(label: str, steps: list[StepResult]) -> None:
    for step in steps:
        cpu = "   –" if step.cpu_max is None else f"{step.cpu_max:4.0f}"
        print(
            f"  {label:6} {step.rate:8,.0f}/s: due {step.due:6d} dropped {step.dropped:5d} "
            f"lag p50 {step.lag_p50_ms:6.2f} ms p99 {step.lag_p99_ms:7.2f} ms "
            f"answered {step.answered_rps:8,.0f}/s cpu {cpu}%  "
            f"{'kept' if step.kept else 'BEHIND'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-cores", default="0", help="taskset list for the mock detector")
    parser.add_argument("--client-cores", default="1", help="taskset list for 1 worker")
    parser.add_argument("--both-cores", default="0,1", help="taskset list for 2 workers")
    parser.add_argument("--closed-s", type=int, default=10, help="closed reference seconds")
    parser.add_argument("--from", dest="from_", type=float, default=0.1, help="first step")
    parser.add_argument("--to", type=float, default=1.2, help="last step, x closed rate")
    parser.add_argument("--step", type=float, default=0.1, help="step, x closed rate")
    parser.add_argument("--step-s", type=int, default=4, help="seconds per step")
    parser.add_argument("--fine-steps", type=int, default=5, help="steps of the fine pass")
    parser.add_argument("--quick", action="store_true", help="the coarse pass only, 3 s steps")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--workers", type=int, choices=(1, 2), help="only this worker count")
    parser.add_argument("--boost", action="store_true", help="root: nice -20, own autogroup")
    args = parser.parse_args(argv)
    if args.quick:
        args.step_s, args.closed_s = 3, 6
    if args.boost:
        boost_priority()
    if shutil.which("taskset") is None:
        raise SystemExit("taskset not found (apt-get install util-linux)")

    folder = Path(tempfile.mkdtemp(prefix="open-model-bench-"))
    port = free_port()
    config = folder / "mocks.yaml"
    config.write_text(textwrap.dedent(MOCKS.format(port=port)))
    command = [
        "taskset", "-c", args.server_cores, sys.executable, "-m", "mock_detectors",
        "--config", str(config), "--log-level", "WARNING",
    ]  # fmt: skip
    service = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    print(
        f"host {os.uname().nodename}, {os.cpu_count()} cpus; mock detector (0 ms) on cores "
        f"{args.server_cores}; swarm in {folder}"
    )
    figures = []
    started = time.monotonic()
    try:
        wait_ready(service)
        url = f"http://127.0.0.1:{port}"
        for workers in (args.workers,) if args.workers else (1, 2):
            figures.append(measure(args, url, folder, workers))
    finally:
        service.terminate()
        service.wait(10)
    print(f"\nfigures ({time.monotonic() - started:.0f} s):")
    for figure in figures:
        print(
            f"  {figure['workers']} worker(s): closed {figure['closed_rps']:,.0f}/s, "
            f"open {figure['open_rps']:,.0f}/s = {figure['ratio']:.2f}x closed"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if len(figures) < 2:
        return 0
    one, two = figures
    if one["open_rps"] and one["closed_rps"]:
        print(
            f"  scaling 1 -> 2 workers: open {two['open_rps'] / one['open_rps']:.2f}x, "
            f"closed {two['closed_rps'] / one['closed_rps']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
