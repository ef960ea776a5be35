"""A 3-step flow with captures, compiled by swarm, vs the same flow hand-written for Locust.

The flow (``fixtures/flow_compiled.yaml``) logs in and captures a JSON field, sends it in
the next request's path and captures a response header, then posts both and captures the
status; ``fixtures/flow_handwritten.py`` is what a Locust user writes for it by hand. The
compiled side also records one ``TXN`` per iteration, which is not counted as a request.

Each run is one headless Locust process pinned to core 0 against a fast local server on
core 1, run by ``compiled_vs_handwritten.py``'s machinery: rounds alternate the two sides
(the order flipping each round), and the figure held against the target (>= 0.95) is the
median of the per-round ratios of requests per CPU second of the Locust process, compiled
over hand-written — both measured in the same round, so a busy neighbour weighs on both.

    python benchmarks/flow_bench.py --seconds 10 --rounds 4 --users 20

Every process started here is stopped in a ``finally`` block; everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compiled_vs_handwritten import (
    FIXTURES,
    LOCUST_CPU,
    SERVER_CPU,
    TARGET_RATIO,
    Settings,
    Workload,
    _run_pair,
    fast_server,
)

__all__ = ["WORKLOAD", "main"]

WORKLOAD = Workload("flow", FIXTURES / "flow_compiled.yaml", FIXTURES / "flow_handwritten.py")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run (default 10)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--users", type=int, default=20, help="users (default 20)")
    parser.add_argument("--server", choices=["auto", "nginx", "asyncio"], default="auto")
    args = parser.parse_args(argv)
    if min(args.seconds, args.rounds, args.users) < 1:
        parser.error("--seconds, --rounds and --users must be whole numbers >= 1")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    if not {LOCUST_CPU, SERVER_CPU} <= os.sched_getaffinity(0) or not shutil.which("taskset"):
        print(f"needs cores {LOCUST_CPU} and {SERVER_CPU} and taskset (util-linux)")
        return 2
    settings = Settings(args.seconds, args.rounds, args.users, 0, concurrent=False)
    per_cpu: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="flow-bench-") as folder:
            tmp = Path(folder)
            with fast_server(tmp, args.server) as (host, server):
                print(f"flow: {args.rounds} rounds x {args.seconds} s, {args.users} users, "
                      f"target {server}", flush=True)  # fmt: skip
                for number in range(args.rounds):
                    runs = {r.side: r for r in _run_pair(WORKLOAD, settings, host, tmp, number)}
                    compiled, handwritten = runs["compiled"], runs["handwritten"]
                    for result in (compiled, handwritten):
                        print(
                            f"  round {number + 1} {result.side:<11} "
                            f"{result.per_cpu_s:7.0f} req/cpu-s {result.rps:7.0f} rps "
                            f"({result.requests} req, {result.failures} failed)",
                            flush=True,
                        )
                    per_cpu.append(compiled.per_cpu_s / handwritten.per_cpu_s)
                    print(f"  round {number + 1} ratio req/cpu-s {per_cpu[-1]:.3f}", flush=True)
    except KeyboardInterrupt:
        print("interrupted; every process started here has been stopped")
        return 130
    median = statistics.median(per_cpu)
    verdict = "ok" if median >= TARGET_RATIO else f"BELOW target {TARGET_RATIO}"
    print(
        f"flow: median req/cpu-s ratio compiled/hand-written {median:.3f} "
        f"(rounds {', '.join(f'{r:.3f}' for r in per_cpu)}); {verdict}"
    )
    return 0 if median >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
