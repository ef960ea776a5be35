"""Microbenchmark: the CPU one open-model arrival costs, next to one closed request.

In one process (no master, no report traffic), against a fast local keep-alive server in
a child process (``telemetry_bench``'s asyncio one), with swarm's request listener
recording every request:

- **closed**: 50 (``--users``) ``FastHttpUser`` users, no think time, for ``--seconds``;
- **open**: an :class:`~framework.locust_glue.load_groups.OpenGroup` at ``--rate``
  arrivals/s (a constant plan, uniform arrivals) of the same user, for ``--seconds``.

The figure is this process's CPU (``time.process_time``) per request answered, in µs;
runs alternate (closed, open, closed, open, ...) so a shared machine's load hits both.
``--no-http`` replaces the request by a listener call alone (the task fires the request
event itself), isolating the engine's own cost per arrival from the HTTP client's.

    python benchmarks/open_arrival_bench.py                    # 3 pairs, 4 s each
    python benchmarks/open_arrival_bench.py --no-http --rate 5000
    python benchmarks/open_arrival_bench.py --profile open     # cProfile of one open run

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import multiprocessing
import pstats
import resource
import socket
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import gevent  # noqa: E402
from gevent.pool import Group  # noqa: E402
from locust import FastHttpUser, User, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from benchmarks.telemetry_bench import _serve  # noqa: E402
from framework.locust_glue.load_groups import OpenGroup, PlanClock, open_user_class  # noqa: E402
from framework.locust_glue.telemetry import Telemetry  # noqa: E402
from framework.plan.arrivals import ArrivalTimes, Share  # noqa: E402
from framework.plan.rates import constant as constant_rate  # noqa: E402
from framework.timeline.recorder import SecondRecorder  # noqa: E402

__all__ = ["main"]


class Hammer(FastHttpUser):
    """One request per task, no think time."""

    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/ok", name="ok")


class Listener(User):
    """No HTTP: each task only fires the request event, as a client would on an answer."""

    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.environment.events.request.fire(
            request_type="GET",
            name="ok",
            response_time=0.1,
            response_length=2,
            exception=None,
            context=self.context(),
        )
        gevent.sleep(0)  # a request yields to the hub at least once


def _environment(user: type[User], host: str) -> tuple[Environment, list[int]]:
    environment = Environment(user_classes=[user], host=host)
    telemetry = Telemetry(
        environment, "worker", path=None, grace_s=5.0, tick_s=0.5, sync_every_s=5.0, meta=None
    )
    assert telemetry.on_request is not None
    environment.events.request.add_listener(telemetry.on_request)
    count = [0]

    def _count(**_kwargs: object) -> None:
        count[0] += 1

    environment.events.request.add_listener(_count)
    return environment, count


class _Pauses:
    """How long the cyclic collector held the process, per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.ms[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def show(self) -> None:
        for generation, pauses in self.ms.items():
            if pauses:
                print(
                    f"    gc gen {generation}: {len(pauses)} pauses, "
                    f"max {max(pauses):.1f} ms, total {sum(pauses):.0f} ms"
                )
        for pauses in self.ms.values():
            pauses.clear()


PAUSES = _Pauses()
FREEZE = False


def _usage() -> tuple[float, float, int, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_nvcsw, usage.ru_nivcsw


def _show(before: tuple, after: tuple, done: int) -> None:
    per = [(a - b) / max(done, 1) for a, b in zip(after, before, strict=True)]
    print(
        f"    per request: user {per[0] * 1e6:.1f} µs, sys {per[1] * 1e6:.1f} µs, "
        f"voluntary switches {per[2]:.2f}, involuntary {per[3]:.2f}"
    )


def run_closed(user: type[User], host: str, seconds: float, users: int = 50) -> tuple[int, float]:
    """Requests answered and CPU seconds of ``users`` closed users for ``seconds``."""
    user.host = host
    environment, count = _environment(user, host)
    if FREEZE:
        gc.collect()
        gc.freeze()
    pool = Group()
    for _ in range(users):
        user(environment).start(pool)
    gevent.sleep(0.5)  # warm up: connections open
    count[0], cpu, before = 0, time.process_time(), _usage()
    gevent.sleep(seconds)
    done, cpu = count[0], time.process_time() - cpu
    _show(before, _usage(), done)
    PAUSES.show()
    pool.kill(block=True)
    return done, cpu


def run_open(user: type[User], host: str, seconds: float, rate: float) -> tuple[int, float]:
    """Requests answered and CPU seconds of an open group at ``rate``/s for ``seconds``."""
    user.host = host
    environment, count = _environment(user, host)
    if FREEZE:
        gc.collect()
        gc.freeze()
    clock = PlanClock()
    pool = Group()
    arrivals = ArrivalTimes(constant_rate(rate=rate, duration_s=seconds + 0.5))
    group = OpenGroup(
        "open",
        arrivals,
        [open_user_class(user)],
        [1],
        1000,
        environment=environment,
        clock=clock,
        pool=pool,
        recorder=SecondRecorder(),
        share=lambda: Share(),
    )
    clock.set("running", 0.0)
    runner = pool.spawn(group.run, from_start=True)
    gevent.sleep(0.5)  # warm up: instances made, connections open
    count[0], cpu, before = 0, time.process_time(), _usage()
    gevent.sleep(seconds)
    done, cpu = count[0], time.process_time() - cpu
    _show(before, _usage(), done)
    PAUSES.show()
    runner.join()
    print(f"    {group.created} user instances made")
    pool.kill(block=True)
    return done, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="open arrivals/s")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--users", type=int, default=50, help="closed users")
    parser.add_argument("--no-http", action="store_true", help="listener only, no request")
    parser.add_argument("--only", choices=("open", "closed"), help="run one kind only")
    parser.add_argument("--profile", choices=("open", "closed"), help="cProfile one run")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() before each run")
    args = parser.parse_args(argv)
    gc.callbacks.append(PAUSES)
    global FREEZE
    FREEZE = args.freeze
    user: type[User] = Listener if args.no_http else Hammer
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    time.sleep(0.5)
    host = f"http://127.0.0.1:{port}"
    try:
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            if args.profile == "open":
                done, cpu = run_open(user, host, args.seconds, args.rate)
            else:
                done, cpu = run_closed(user, host, args.seconds, args.users)
            profiler.disable()
            print(f"{args.profile}: {done} requests, {cpu / max(done, 1) * 1e6:.1f} µs CPU each")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            return 0
        costs: dict[str, list[float]] = {"closed": [], "open": []}
        for i in range(args.pairs):
            for kind in ("closed", "open") if i % 2 == 0 else ("open", "closed"):
                if args.only and kind != args.only:
                    continue
                if kind == "closed":
                    done, cpu = run_closed(user, host, args.seconds, args.users)
                else:
                    done, cpu = run_open(user, host, args.seconds, args.rate)
                costs[kind].append(cpu / max(done, 1) * 1e6)
                rate = done / args.seconds
                print(f"  {kind:6} {rate:8,.0f}/s  {costs[kind][-1]:6.1f} µs CPU each")
        if args.only:
            return 0
        closed_us, open_us = statistics.median(costs["closed"]), statistics.median(costs["open"])
        print(
            f"median CPU per request: closed {closed_us:.1f} µs, open {open_us:.1f} µs "
            f"(open - closed {open_us - closed_us:+.1f} µs, ratio {open_us / closed_us:.2f})"
        )
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
