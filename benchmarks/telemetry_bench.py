"""Costs of the timeline: master merge CPU, per-request recorder cost, master memory.

    python benchmarks/telemetry_bench.py            # all three, plus the real-Locust rps run
    python benchmarks/telemetry_bench.py --quick    # smaller sizes, no Locust run

(a) merge: 50 simulated workers x 20 endpoints report every 3 s (Locust's interval); the
    master msgpack-decodes each report, merges it, releases closed seconds and writes
    them. Figure: CPU seconds per wall second, i.e. the fraction of one core (target < 25%).
(b) record: microseconds per ``SecondRecorder.record`` and per full request listener, and
    per open-model request (``record_open``, ``record_arrival``, both: the open path, and
    the listener given an open-model request's context with ``swarm_due``); per custom
    histogram value through the public API (``framework.histogram``: a handle made once,
    and a fresh ``histogram(name, **dims)`` call each time), as a ratio to the request
    listener's cost (target <= 1); and,
    unless --quick, requests/s of a real single-process Locust run against a fast local
    server, telemetry on vs off, alternating runs (target ratio >= 0.97). Locust's CPU
    seconds per request are reported too: on a shared machine they are the steadier
    figure (the rps ratio of a CPU-bound Locust is the inverse CPU-per-request ratio).
(c) memory: a simulated one-hour, 20-endpoint run through the merger and writer, traced
    with tracemalloc at two request rates: it must stay flat, whatever the rate or length.
(d) sinks: on the seconds (a) merged, the master's added cost per second of run: feeding
    the ``LiveFeed`` (its ``LiveStatistics``) and the InfluxDB sink's part on the event loop
    (``InfluxSink.on_second``: the points of the second, into the bounded buffer), as a
    fraction of one core next to (a)'s merge (target: < 10% on top of it). With
    ``--influx-url URL`` (and ``--influx-bucket``), also the writing thread's CPU, writing
    every point to that server in the sink's batches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import msgpack

from framework.timeline.recorder import RecorderPayload, SecondRecorder, TimelineMerger
from framework.timeline.writer import TimelineWriter

REPORT_INTERVAL_S = 3
NAMES = [f"/endpoint/{i}" for i in range(20)]


def _templates(rate_per_name: int, count: int, seed: int) -> list[RecorderPayload]:
    """Worker payloads covering seconds 0..REPORT_INTERVAL_S, reused with shifted ``t``."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        rec = SecondRecorder()
        for s in range(REPORT_INTERVAL_S):
            for name in NAMES:
                for _ in range(rate_per_name):
                    kind = "HTTP 500" if rng.random() < 0.01 else None
                    rec.record(name, "GET", s + rng.random(), rng.lognormvariate(3, 0.6), 512, kind)
        out.append(rec.drain(now_s=REPORT_INTERVAL_S))
    return out


def _shifted(template: RecorderPayload, base_s: int) -> RecorderPayload:
    return RecorderPayload(
        v=template["v"],
        complete_before_s=base_s + template["complete_before_s"],
        records=[{**r, "t": r["t"] + base_s} for r in template["records"]],
    )


def bench_merge(
    workers: int, seconds: int, rate_per_name: int, closed: list | None = None
) -> dict[str, float]:
    """``closed``, when given, receives every second the merger closes (for ``bench_sinks``)."""
    templates = _templates(rate_per_name, count=8, seed=1)
    # what arrives on the wire: msgpack bytes, prepared before the clock starts
    reports = []
    for base in range(1_000_000, 1_000_000 + seconds, REPORT_INTERVAL_S):
        for w in range(workers):
            payload = _shifted(templates[(w + base) % len(templates)], base)
            reports.append((base, f"w{w}", msgpack.packb({"swarm_timeline": payload})))
    with tempfile.TemporaryDirectory() as tmp:
        writer = TimelineWriter(Path(tmp) / "timeline.jsonl", created_s=1_000_000.0)
        merger = TimelineMerger(grace_s=5.0)
        cpu0 = time.process_time()
        last_base = None
        for base, worker, blob in reports:
            now = base + REPORT_INTERVAL_S + 0.1
            merger.add(worker, msgpack.unpackb(blob)["swarm_timeline"], now_s=now)
            if base != last_base:
                for second in merger.close(now_s=now).seconds:
                    writer.write_second(second)
                    if closed is not None:
                        closed.append(second)
                writer.flush(now)
                last_base = base
        for second in merger.finish().seconds:
            writer.write_second(second)
            if closed is not None:
                closed.append(second)
        writer.close(ended_s=1_000_000.0 + seconds)
        cpu = time.process_time() - cpu0
        size = (Path(tmp) / "timeline.jsonl").stat().st_size
    return {
        "workers": workers,
        "names": len(NAMES),
        "simulated_s": seconds,
        "requests_per_s": workers * len(NAMES) * rate_per_name,
        "cpu_s": cpu,
        "core_fraction": cpu / seconds,
        "timeline_bytes_per_s": size / seconds,
    }


def bench_sinks(
    seconds: list, simulated_s: int, influx_url: str | None = None, bucket: str = "swarm"
) -> dict[str, float]:
    """CPU per simulated second of what the live sinks add on the master, by part."""
    from framework.live.feed import LiveFeed
    from framework.live.influx import InfluxSettings, second_points
    from framework.locust_glue.influx_sink import BATCH_POINTS, InfluxSink, _influx_writer

    feed = LiveFeed(started_s=0.0, run_id="bench")
    feed.move("running", 0.0)
    cpu0 = time.process_time()
    for second in seconds:
        feed.add_second(second)
    feed_cpu = time.process_time() - cpu0

    cpu0 = time.process_time()
    points = 0
    for second in seconds:
        points += len(second_points(second, run_id="bench", scenario="s", state="running"))
    points_cpu = time.process_time() - cpu0

    settings = InfluxSettings(url=influx_url or "http://127.0.0.1:9", org="swarm", bucket=bucket)
    sink = InfluxSink(settings, scenario="s", run_id="bench")  # not started: no thread
    cpu0 = time.process_time()
    for second in seconds:
        sink.on_second(second=second, counted=True, feed=feed)
    sink_cpu = time.process_time() - cpu0
    prometheus_cpu, scrape_cpu = _prometheus_cost(seconds)
    found = {
        "seconds": len(seconds),
        "points_per_s": points / simulated_s,
        "prometheus_on_second_core_fraction": prometheus_cpu / simulated_s,
        "prometheus_scrape_every_15s_core_fraction": scrape_cpu / 15.0,
        "live_feed_core_fraction": feed_cpu / simulated_s,
        "influx_points_core_fraction": points_cpu / simulated_s,
        "influx_on_second_core_fraction": sink_cpu / simulated_s,
        "sinks_on_loop_core_fraction": (feed_cpu + sink_cpu + prometheus_cpu) / simulated_s
        + scrape_cpu / 15.0,
    }
    if influx_url:
        write, close = _influx_writer(settings, timeout_s=10.0)
        held = sink.buffer.take(len(sink.buffer))
        cpu0 = time.process_time()
        for i in range(0, len(held), BATCH_POINTS):
            write(held[i : i + BATCH_POINTS])
        found["influx_thread_core_fraction"] = (time.process_time() - cpu0) / simulated_s
        close()
    return found


def _prometheus_cost(seconds: list) -> tuple[float, float]:
    """CPU of the live ``/metrics`` collector: its part of every closed second (two budgets,
    judged every 5 s, as a scenario with budgets has them) apart from the feed it listens
    to, and of one scrape at the end of the run (the most series it ever renders)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from framework.live.budget_status import budget_limits
    from framework.live.feed import LiveFeed
    from framework.live.metrics import LiveMetrics
    from framework.scenario.budgets import Budgets

    def feed_all(registry: CollectorRegistry | None) -> float:
        feed = LiveFeed(started_s=0.0, run_id="bench")
        feed.move("running", 0.0)
        if registry is not None:
            budgets = Budgets.model_validate({"overall": {"p95_ms": 200, "error_rate": "1%"}})
            registry.register(LiveMetrics(feed, scenario="s", limits=budget_limits(budgets)))
        cpu0 = time.process_time()
        for second in seconds:
            feed.add_second(second)
        return time.process_time() - cpu0

    registry = CollectorRegistry(auto_describe=False)
    bare, watched = feed_all(None), feed_all(registry)
    cpu0 = time.process_time()
    generate_latest(registry)
    return max(0.0, watched - bare), time.process_time() - cpu0


def _per_call_us(run: Callable[[], None], n: int, repeats: int = 3) -> float:
    """Microseconds per call of a loop of ``n`` calls: the best of ``repeats`` runs (the
    others are the shared machine's noise)."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def bench_record(n: int) -> dict[str, float]:
    rng = random.Random(2)
    samples = [(rng.choice(NAMES), 1e9 + i / 5000, rng.lognormvariate(3, 0.6)) for i in range(n)]
    lags = [rng.expovariate(1.0) for _ in range(n)]

    def closed() -> None:
        rec = SecondRecorder()
        for name, t_s, ms in samples:
            rec.record(name, "GET", t_s, ms, 512, None)

    def open_requests() -> None:
        rec = SecondRecorder()
        for (name, t_s, ms), lag in zip(samples, lags, strict=True):
            rec.record_open(name, "GET", t_s, ms + lag, ms, 512, None)

    def arrivals() -> None:
        rec = SecondRecorder()
        for (_name, t_s, _ms), lag in zip(samples, lags, strict=True):
            rec.record_arrival("writers", t_s, lag, 10)

    def open_path() -> None:  # what one open-model request costs: its arrival and its answer
        rec = SecondRecorder()
        for (name, t_s, ms), lag in zip(samples, lags, strict=True):
            rec.record_arrival("writers", t_s, lag, 10)
            rec.record_open(name, "GET", t_s, ms + lag, ms, 512, None)

    # interleaved, best of three each: the ratio is what matters on a shared machine
    record_us = _per_call_us(closed, n)
    record_open_us = _per_call_us(open_requests, n)
    record_arrival_us = _per_call_us(arrivals, n)
    open_path_us = _per_call_us(open_path, n)
    rec = SecondRecorder()
    for name, t_s, ms in samples:
        rec.record(name, "GET", t_s, ms, 512, None)
    t0 = time.perf_counter()
    rec.drain(now_s=2e9)
    drain_ms = (time.perf_counter() - t0) * 1e3

    from framework.locust_glue.telemetry import Telemetry

    telemetry = Telemetry(
        None,  # type: ignore[arg-type]  # a worker's listener never touches the environment
        "worker",
        path=None,
        grace_s=5.0,
        tick_s=0.5,
        sync_every_s=5.0,
        meta=None,
    )
    on_request = telemetry.on_request
    assert on_request is not None
    t0 = time.perf_counter()
    for name, _t_s, ms in samples:
        on_request(
            request_type="GET",
            name=name,
            response_time=ms,
            response_length=512,
            exception=None,
            response=None,
            context={},
            start_time=0.0,
            url=name,
        )
    listener_us = (time.perf_counter() - t0) / n * 1e6
    due = time.perf_counter()
    t0 = time.perf_counter()
    for name, _t_s, ms in samples:
        on_request(
            request_type="GET",
            name=name,
            response_time=ms,
            response_length=512,
            exception=None,
            response=None,
            context={"swarm_due": due},  # an open-model request (contract 4 of issue #15)
            start_time=0.0,
            url=name,
        )
    open_listener_us = (time.perf_counter() - t0) / n * 1e6
    custom = _custom_metric_costs(samples, on_request)
    return {
        "requests": n,
        "record_us": record_us,
        "record_open_us": record_open_us,
        "record_arrival_us": record_arrival_us,
        "open_path_us": open_path_us,
        "record_open_over_record": record_open_us / record_us,
        "listener_us": listener_us,
        "open_listener_us": open_listener_us,
        "drain_ms": drain_ms,
        **custom,
    }


def _custom_metric_costs(
    samples: list[tuple[str, float, float]], on_request: Callable[..., None]
) -> dict[str, float]:
    """Microseconds per custom histogram value (issue #18: no more than a request costs),
    through the public API with a handle made once and with ``histogram(...)`` called each
    time, beside the request listener's per-request cost, all best of three, interleaved."""
    from framework.timeline.metric_recorder import default_recorder
    from framework.timeline.metrics_api import histogram

    n = len(samples)
    handle = histogram("bench.server_ms", unit="ms", model="fast")

    def listener() -> None:
        for name, _t_s, ms in samples:
            on_request(
                request_type="GET",
                name=name,
                response_time=ms,
                response_length=512,
                exception=None,
                response=None,
                context={},
                start_time=0.0,
                url=name,
            )

    def with_handle() -> None:
        for _name, _t_s, ms in samples:
            handle.record(ms)

    def fresh_call() -> None:
        for _name, _t_s, ms in samples:
            histogram("bench.server_ms", unit="ms", model="fast").record(ms)

    # interleaved rounds, best of each: the machine's load drifts alike for all three
    best = {listener: math.inf, with_handle: math.inf, fresh_call: math.inf}
    for _ in range(5):
        for run in best:
            best[run] = min(best[run], _per_call_us(run, n, repeats=1))
    listener_us, handle_us, fresh_us = best[listener], best[with_handle], best[fresh_call]
    t0 = time.perf_counter()
    drained = default_recorder().drain(time.time())
    drain_ms = (time.perf_counter() - t0) * 1e3
    return {
        "request_listener_best_us": listener_us,
        "custom_histogram_handle_us": handle_us,
        "custom_histogram_fresh_call_us": fresh_us,
        "custom_handle_over_request": handle_us / listener_us,
        "custom_fresh_call_over_request": fresh_us / listener_us,
        "custom_drain_ms": drain_ms,
        "custom_drain_cells": len(drained),
    }


def bench_memory(rate_per_name: int, seconds: int, workers: int = 2) -> dict[str, float]:
    templates = _templates(rate_per_name, count=4, seed=3)
    tracemalloc.start()
    checkpoints = {}
    with tempfile.TemporaryDirectory() as tmp:
        writer = TimelineWriter(Path(tmp) / "timeline.jsonl", created_s=0.0)
        merger = TimelineMerger(grace_s=5.0)
        tracemalloc.reset_peak()
        for base in range(0, seconds, REPORT_INTERVAL_S):
            now = base + REPORT_INTERVAL_S + 0.1
            for w in range(workers):
                merger.add(f"w{w}", _shifted(templates[(w + base) % len(templates)], base), now)
            for second in merger.close(now_s=now).seconds:
                writer.write_second(second)
            writer.flush(now)
            if base + REPORT_INTERVAL_S in (600, 1800, 3600) or base + REPORT_INTERVAL_S >= seconds:
                current, peak = tracemalloc.get_traced_memory()
                checkpoints[base + REPORT_INTERVAL_S] = (current, peak)
        writer.close(ended_s=float(seconds))
    tracemalloc.stop()
    return {
        "rate_per_name": rate_per_name,
        "requests": rate_per_name * len(NAMES) * workers * seconds,
        "checkpoints_MB": {
            t: (round(c / 2**20, 2), round(p / 2**20, 2)) for t, (c, p) in checkpoints.items()
        },
    }


# -- real Locust: requests/s with telemetry on vs off --------------------------------------

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

_LOCUSTFILE = textwrap.dedent(
    """
    import json
    import os
    import time
    from pathlib import Path

    import gevent
    from locust import FastHttpUser, events, task

    MODE = os.environ.get("BENCH_TELEMETRY", "0")  # "0" off, "1" on, "toggle": A/B each second
    state = {"on": MODE == "1", "requests": {"on": 0, "off": 0}, "time_s": {"on": 0.0, "off": 0.0}}

    @events.init.add_listener
    def _install(environment, **_kw):
        if MODE in ("1", "toggle"):
            from framework.locust_glue.telemetry import install
            state["telemetry"] = install(environment, Path(os.environ["BENCH_RUN_DIR"]))
        if MODE == "toggle":
            environment.events.request.remove_listener(state["telemetry"].on_request)

    @events.request.add_listener
    def _count(**_kw):
        state["requests"]["on" if state["on"] else "off"] += 1

    def _toggle(environment):
        gevent.sleep(1.0)  # ramp-up
        state["requests"] = {"on": 0, "off": 0}
        while True:
            start = time.perf_counter()
            gevent.sleep(1.0)
            phase = "on" if state["on"] else "off"
            state["time_s"][phase] += time.perf_counter() - start
            listener = state["telemetry"].on_request
            if state["on"]:
                environment.events.request.remove_listener(listener)
            else:
                environment.events.request.add_listener(listener)
            state["on"] = not state["on"]

    @events.test_start.add_listener
    def _start(environment, **_kw):
        state["cpu_start"] = time.process_time()
        if MODE == "toggle":
            state["toggler"] = gevent.spawn(_toggle, environment)

    @events.test_stop.add_listener
    def _stop(**_kw):
        if "toggler" in state:
            state["toggler"].kill()
        result = {
            "cpu_s": time.process_time() - state["cpu_start"],
            "requests": state["requests"],
            "time_s": state["time_s"],
        }
        Path(os.environ["BENCH_CPU_FILE"]).write_text(json.dumps(result))

    class Hammer(FastHttpUser):
        @task
        def hit(self):
            self.client.get("/ok")
    """
)


def _serve(port: int) -> None:
    """A minimal keep-alive HTTP server, several times faster than one Locust process."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(_RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def bench_locust_rps(pairs: int, toggles: int, run_s: int, users: int) -> dict[str, object]:
    """Alternating separate runs (off/on, on/off, ...), then single runs that switch the
    request listener on and off every second: the second design sees the same machine
    load in both arms, so it is the figure to trust on a shared machine."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    time.sleep(0.5)
    rps: dict[str, list[float]] = {"off": [], "on": []}
    cpu_us: dict[str, list[float]] = {"off": [], "on": []}
    toggled: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            locustfile = Path(tmp) / "bench_locustfile.py"
            locustfile.write_text(_LOCUSTFILE)

            def run(mode: str, tag: str, seconds: int) -> tuple[dict, dict]:
                prefix = Path(tmp) / tag
                env = {
                    **os.environ,
                    "BENCH_TELEMETRY": mode,
                    "BENCH_RUN_DIR": str(Path(tmp) / f"run_{tag}"),
                    "BENCH_CPU_FILE": str(Path(tmp) / f"cpu_{tag}"),
                }
                cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"]
                cmd += [f"-u{users}", f"-r{users}", f"-t{seconds}s", "--only-summary"]
                cmd += [f"--host=http://127.0.0.1:{port}", f"--json-file={prefix}"]
                subprocess.run(cmd, env=env, capture_output=True, timeout=seconds + 60)
                stats = json.loads(Path(f"{prefix}.json").read_text())[0]
                return stats, json.loads((Path(tmp) / f"cpu_{tag}").read_text())

            for i in range(pairs):
                for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    stats, probe = run("1" if mode == "on" else "0", f"{mode}{i}", run_s)
                    span = stats["last_request_timestamp"] - stats["start_time"]
                    rps[mode].append(stats["num_requests"] / span)
                    cpu_us[mode].append(probe["cpu_s"] / stats["num_requests"] * 1e6)
            for i in range(toggles):
                _stats, probe = run("toggle", f"toggle{i}", 2 * run_s)
                on = probe["requests"]["on"] / probe["time_s"]["on"]
                off = probe["requests"]["off"] / probe["time_s"]["off"]
                toggled.append(on / off)
    finally:
        server.terminate()
        server.join(5)

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else math.nan

    return {
        "rps_off": [round(x) for x in rps["off"]],
        "rps_on": [round(x) for x in rps["on"]],
        "rps_ratio_on_off": round(mean(rps["on"]) / mean(rps["off"]), 4),
        "cpu_us_per_request_off": [round(x, 1) for x in cpu_us["off"]],
        "cpu_us_per_request_on": [round(x, 1) for x in cpu_us["on"]],
        "cpu_ratio_off_on": round(mean(cpu_us["off"]) / mean(cpu_us["on"]), 4),
        "toggled_rps_ratio_on_off": [round(x, 4) for x in toggled],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, skip Locust runs")
    parser.add_argument("--pairs", type=int, default=3, help="on/off Locust run pairs")
    parser.add_argument("--toggles", type=int, default=2, help="Locust runs toggling each second")
    parser.add_argument("--run-s", type=int, default=10, help="seconds per run (toggled: twice)")
    parser.add_argument("--only-locust", action="store_true", help="just the rps comparison")
    parser.add_argument("--influx-url", help="(d): also write the points to this server")
    parser.add_argument("--influx-bucket", default="swarm", help="(d): its bucket")
    args = parser.parse_args()
    quick = args.quick
    if args.only_locust:
        rps = bench_locust_rps(args.pairs, args.toggles, run_s=args.run_s, users=20)
        print(f"(b) locust rps: {json.dumps(rps)}")
        print(f"    load average at the end: {os.getloadavg()} on {os.cpu_count()} cores")
        return

    for rate in (20,) if quick else (20, 100):
        closed: list = []
        merge = bench_merge(
            workers=50, seconds=15 if quick else 60, rate_per_name=rate, closed=closed
        )
        print(f"(a) merge: {json.dumps(merge)}")
        print(
            f"    master CPU for {merge['workers']} workers x {merge['names']} names at "
            f"{merge['requests_per_s']} requests/s: {merge['core_fraction']:.1%} of one core "
            "(target < 25%)"
        )
        sinks = bench_sinks(closed, merge["simulated_s"], args.influx_url, args.influx_bucket)
        print(f"(d) sinks: {json.dumps(sinks)}")
        print(
            f"    on the master's loop: LiveFeed {sinks['live_feed_core_fraction']:.1%} + "
            f"InfluxDB points {sinks['influx_on_second_core_fraction']:.1%} + "
            f"/metrics {sinks['prometheus_on_second_core_fraction']:.1%} (and a scrape every "
            f"15 s {sinks['prometheus_scrape_every_15s_core_fraction']:.1%}) = "
            f"{sinks['sinks_on_loop_core_fraction']:.1%} of one core, on top of the merge's "
            f"{merge['core_fraction']:.1%} (target < 10%)"
        )
    record = bench_record(100_000 if quick else 500_000)
    print(f"(b) record: {json.dumps(record)}")
    for rate in (5, 200) if not quick else (5,):
        memory = bench_memory(rate_per_name=rate, seconds=600 if quick else 3600)
        print(f"(c) memory: {json.dumps(memory)}  (MB current, peak at simulated second)")
    if not quick:
        rps = bench_locust_rps(args.pairs, args.toggles, run_s=args.run_s, users=20)
        print(f"(b) locust rps: {json.dumps(rps)}  (target ratio >= 0.97)")
    print(f"    load average at the end: {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
