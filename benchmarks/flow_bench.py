"""A 3-step flow with captures, compiled by swarm, vs the same flow hand-written for Locust.

The flow (``fixtures/flow_compiled.yaml``) logs in and captures a JSON field, sends it in
the next request's path and captures a response header, then posts both and captures the
status; ``fixtures/flow_handwritten.py`` is what a Locust user writes for it by hand. The
compiled side also records one ``TXN`` per iteration, which is not counted as a request.

Each run is one headless Locust process pinned to core 0 against a fast local server on
core 1, and the figure held against the target (>= 0.95) is the median of the per-round
ratios of requests per CPU second of the Locust process, compiled over hand-written. By
default (``--mode shared``, ``shared_core.py``) both sides of a round run at the same time on
core 0, each against a target of its own, counted over the window they share: they see the
same neighbours and the same core speed, which alternating runs on this VM do not (an A/A
pair scatters ±10 % per round alternating, a few per cent shared; ``--aa`` shows it).
``--sides`` picks another pair, e.g. ``bare:handwritten``: the compiled user class alone in
a plain locustfile (``fixtures/flow_bare.py``), the flow engine's cost without the rest of
a swarm run.
``--mode alternating`` runs them one after the other (``compiled_vs_handwritten.py``'s
machinery, the order flipping each round). Beside it, ``fixtures/interleaved_cost.py`` runs
both users' iterations alternately in one process (one user, no scheduler), once for the task
path alone and once with each side's request listeners (the compiled side with swarm's).

    python benchmarks/flow_bench.py --seconds 12 --rounds 6 --users 20
    python benchmarks/flow_bench.py --seconds 12 --rounds 6 --users 20 --aa
    python benchmarks/flow_bench.py --seconds 12 --rounds 6 --sides bare:handwritten

Every process started here is stopped in a ``finally`` block; everything binds 127.0.0.1.
Exit codes: 0 the target met (or a pair it is not about), 1 below it, 2 nothing could be
measured (the message says why: a failed run, runs that overlapped too little, no cores
0 and 1), 130 interrupted.
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
    interleaved_cost,
)
from shared_core import run_shared

__all__ = ["WORKLOAD", "main"]

WORKLOAD = Workload("flow", FIXTURES / "flow_compiled.yaml", FIXTURES / "flow_handwritten.py")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


SIDES = ("compiled", "handwritten", "bare", "generated")


def _sides(text: str) -> tuple[str, str]:
    parts = tuple(text.split(":"))
    if len(parts) != 2 or not set(parts) <= set(SIDES):
        raise argparse.ArgumentTypeError(f"expected A:B, each one of {', '.join(SIDES)}")
    return parts[0], parts[1]


def _shared_rounds(args: argparse.Namespace, tmp: Path) -> list[float]:
    """Both sides at once on core 0 each round (``shared_core.py``); the per-round ratios."""
    ratios: list[float] = []
    for number in range(args.rounds):
        first_side, second_side = args.sides
        # which side starts first flips each round
        sides = (first_side, second_side) if number % 2 == 0 else (second_side, first_side)
        runs = run_shared(WORKLOAD, sides, args.seconds, args.users, tmp, number)
        if number % 2 == 1:
            runs = (runs[1], runs[0])
        for i, run in enumerate(runs):
            label = f"{run.side} {'AB'[i]}" if first_side == second_side else run.side
            print(
                f"  round {number + 1} {label:<13} {run.per_cpu_s:7.0f} req/cpu-s "
                f"{run.rps:7.0f} rps ({run.requests} req in the common {run.measured_s:.1f} s, "
                f"{run.cpu_s:.2f} cpu-s, {run.failures} failed in the run)",
                flush=True,
            )
        ratios.append(runs[0].per_cpu_s / runs[1].per_cpu_s)
        print(f"  round {number + 1} ratio req/cpu-s {ratios[-1]:.3f}", flush=True)
    return ratios


def _alternating_rounds(args: argparse.Namespace, tmp: Path, host: str) -> list[float]:
    """One side after the other each round, each pinned alone to core 0."""
    settings = Settings(args.seconds, args.rounds, args.users, 0, concurrent=False)
    ratios: list[float] = []
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
        ratios.append(compiled.per_cpu_s / handwritten.per_cpu_s)
        print(f"  round {number + 1} ratio req/cpu-s {ratios[-1]:.3f}", flush=True)
    return ratios


def _interleaved(blocks: int, host: str, tmp: Path) -> None:
    for listeners, what in ((False, "task path"), (True, "with each side's request listeners")):
        found = interleaved_cost(WORKLOAD, host, blocks, tmp, listeners=listeners)
        figures = ", ".join(f"{1 / r:.3f}" for r in found["cost_ratios"])
        print(
            f"  interleaved in one process ({what}), hand-written/compiled CPU per iteration: "
            f"median {1 / found['median_cost_ratio']:.3f} (blocks {figures}; "
            f"{found['failures']} failed)",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=12, help="per run (default 12)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds (default 6)")
    parser.add_argument("--users", type=int, default=20, help="users per side (default 20)")
    parser.add_argument(
        "--mode",
        choices=["shared", "alternating"],
        default="shared",
        help="shared: both sides at once on core 0, counted over their common window "
        "(default); alternating: one after the other, each alone on core 0",
    )
    parser.add_argument(
        "--sides",
        type=_sides,
        default=("compiled", "handwritten"),
        metavar="A:B",
        help="shared mode: the pair, each of compiled, handwritten, bare (the compiled user "
        "class alone, fixtures/flow_bare.py), generated (a sketch of straight-line code, "
        "fixtures/flow_generated.py); default compiled:handwritten",
    )
    parser.add_argument(
        "--aa",
        action="store_true",
        help="shared mode: the hand-written side against itself (the measurement's scatter)",
    )
    parser.add_argument(
        "--server", choices=["auto", "nginx", "asyncio"], default="auto", help="alternating mode"
    )
    parser.add_argument(
        "--interleaved-blocks",
        type=int,
        default=10,
        help="blocks of the in-process interleaved CPU-cost checks (0: skip)",
    )
    args = parser.parse_args(argv)
    if min(args.seconds, args.rounds, args.users) < 1:
        parser.error("--seconds, --rounds and --users must be whole numbers >= 1")
    if args.aa:
        args.sides = ("handwritten", "handwritten")
    if args.mode != "shared" and (args.aa or args.sides != ("compiled", "handwritten")):
        parser.error("--aa and --sides need --mode shared")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    if not {LOCUST_CPU, SERVER_CPU} <= os.sched_getaffinity(0) or not shutil.which("taskset"):
        print(f"needs cores {LOCUST_CPU} and {SERVER_CPU} and taskset (util-linux)")
        return 2
    what = "/".join(args.sides)
    judged = args.sides == ("compiled", "handwritten")  # the pair the target is about
    try:
        with tempfile.TemporaryDirectory(prefix="flow-bench-") as folder:
            tmp = Path(folder)
            server = "asyncio" if args.mode == "shared" else args.server
            with fast_server(tmp, server) as (host, description):
                print(
                    f"flow ({args.mode}): {args.rounds} rounds x {args.seconds} s, "
                    f"{args.users} users per side, target {description}",
                    flush=True,
                )
                if args.mode == "shared":
                    ratios = _shared_rounds(args, tmp)
                else:
                    ratios = _alternating_rounds(args, tmp, host)
                if args.interleaved_blocks > 0 and judged:
                    _interleaved(args.interleaved_blocks, host, tmp)
    except KeyboardInterrupt:
        print("interrupted; every process started here has been stopped")
        return 130
    except RuntimeError as exc:  # a run that failed or could not be measured: say which
        print(f"flow: cannot measure: {exc}")
        return 2
    median = statistics.median(ratios)
    verdict = "ok" if median >= TARGET_RATIO else f"BELOW target {TARGET_RATIO}"
    print(
        f"flow ({args.mode}): median req/cpu-s ratio {what} {median:.3f} "
        f"(rounds {', '.join(f'{r:.3f}' for r in ratios)})" + (f"; {verdict}" if judged else "")
    )
    return 0 if not judged or median >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
