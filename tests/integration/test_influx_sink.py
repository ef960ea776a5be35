"""The InfluxDB sink against a real server: Debian's VictoriaMetrics, which takes the
InfluxDB v2 write API (``/api/v2/write``) and gives back what it stored (``/api/v1/export``).

Each test starts its own VictoriaMetrics on 127.0.0.1 with a temporary storage folder and
stops it. What the sink wrote must equal the timeline of the same run: counts exactly,
latency percentiles within HdrHistogram's precision. A server stopped for 30 s mid-run loses
nothing within the buffer bound; a wrong URL gives one warning, and the run still finishes
with run.json and the report saying how much was dropped. A server that never answers does
not hold up the master's event loop (a gevent-patched process, as Locust's).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.timeline.histograms import percentiles_us
from framework.timeline.reader import read_timeline
from framework.timeline.recorder import is_timeout
from tests.integration.child_processes import REPO_ROOT
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

VM_BINARY = shutil.which("victoria-metrics")
needs_vm = pytest.mark.skipif(
    VM_BINARY is None,
    reason="victoria-metrics is not installed (apt-get install victoria-metrics; .ci/run does)",
)
SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
START_DEADLINE_S = 20.0
LEVELS = {"p50_ms": 50, "p90_ms": 90, "p95_ms": 95, "p99_ms": 99, "max_ms": 100}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Victoria:
    """One VictoriaMetrics process on a port of 127.0.0.1, with a storage folder that
    outlives ``stop`` so that ``start`` again finds what was written before."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.storage.parent / "victoria.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(VM_BINARY),
                f"-storageDataPath={self.storage}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-loggerLevel=ERROR",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "victoria-metrics exited; see victoria.log"
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("victoria-metrics did not become healthy in time")

    def stop(self) -> None:
        """SIGTERM: VictoriaMetrics writes what it holds to disk and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def export(self, run_id: str) -> dict[tuple[str, str, str], dict[int, float]]:
        """Every stored sample of the run: (metric, key, kind) -> {unix s: value}."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).close()
        query = urllib.parse.urlencode(
            {"match[]": f'{{__name__=~"swarm_.+",run_id="{run_id}"}}', "start": "0"}
        ).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/export", data=query, timeout=30) as answer:
            text = answer.read().decode()
        found: dict[tuple[str, str, str], dict[int, float]] = {}
        for line in text.splitlines():
            series = json.loads(line)
            labels = series["metric"]
            key = f"{labels.get('method', '')} {labels.get('name', '')}".strip()
            name = (labels["__name__"], key, labels.get("kind", ""))
            samples = found.setdefault(name, {})
            for t_ms, value in zip(series["timestamps"], series["values"], strict=True):
                samples[t_ms // 1000] = value
        return found


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[Victoria]:
    server = Victoria(tmp_path / "victoria-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


SCENARIO = """
    name: influx sink
    host: http://127.0.0.1:1
    users:
      - name: caller
        think_time: {fixed_ms: THINK_MS}
        requests:
          - {name: ok, path: /ok, weight: 3}
          - {name: fail, path: /fail}
          - {name: detect, method: POST, path: /created, json: {x: 1}}
    load:
      shape: stages
      stages:
        - {duration: DURATIONs, users: 4, spawn_rate: 10}
"""


def _swarm_run(
    folder: Path,
    child_processes,
    *,
    host: str,
    duration_s: int,
    think_ms: int,
    influx_url: str,
    workers: int,
    run_id: str,
    during=None,
) -> tuple[int, str, Path]:
    scenario = folder / "scenario.yaml"
    text = SCENARIO.replace("DURATION", str(duration_s)).replace("THINK_MS", str(think_ms))
    scenario.write_text(textwrap.dedent(text))
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "INFLUXDB_V2_URL": influx_url,
        "INFLUXDB_V2_ORG": "swarm",
        "INFLUXDB_V2_BUCKET": "swarm",
        "INFLUXDB_V2_TOKEN": "token-never-written",
    }
    out = folder / "reports"
    output = (folder / "swarm.out").open("w")
    with output:
        child = child_processes.start(
            [
                *(str(SWARM), "run", str(scenario), "--host", host, "--out", str(out)),
                *("--run-id", run_id, "--workers", str(workers)),
            ],
            marker=run_id,
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if during is not None:
        during(out / run_id)
    code = child.wait(timeout=duration_s + 90)
    return code, (folder / "swarm.out").read_text(), out / run_id


def _timeline_figures(run_dir: Path) -> dict[tuple[str, str, str], dict[int, float]]:
    """What the stored samples must be, from the run's timeline."""
    timeline = read_timeline(run_dir / "timeline.jsonl")
    expected: dict[tuple[str, str, str], dict[int, float]] = {}

    def put(metric: str, key: str, t: int, value: float, kind: str = "") -> None:
        expected.setdefault((metric, key, kind), {})[t] = value

    for second in timeline.seconds:
        requests = failures = 0
        for record in second.requests:
            key = record.key
            put("swarm_requests_count", key, second.t, record.count)
            put("swarm_requests_failures", key, second.t, record.failure_count)
            put("swarm_requests_bytes", key, second.t, record.bytes)
            timeouts = sum(n for kind, n in record.failures.items() if is_timeout(kind))
            put("swarm_requests_timeouts", key, second.t, timeouts)
            for kind, n in record.failures.items():
                put("swarm_failures_count", key, second.t, n, kind)
            if record.latency_count:
                values = percentiles_us(record.histogram, list(LEVELS.values()))
                for label, value in zip(LEVELS, values, strict=True):
                    put(f"swarm_requests_{label}", key, second.t, value / 1000)
            requests += record.count
            failures += record.failure_count
        put("swarm_run_requests", "", second.t, requests)
        put("swarm_run_failures", "", second.t, failures)
        if second.users is not None:
            put("swarm_run_users", "", second.t, second.users)
            put("swarm_run_workers", "", second.t, second.workers)
    return expected


def _assert_stored_equals_timeline(victoria: Victoria, run_id: str, run_dir: Path) -> int:
    """Counts exactly, percentiles within HdrHistogram's precision; returns the samples."""
    stored = victoria.export(run_id)
    expected = _timeline_figures(run_dir)
    assert expected, "the timeline has no seconds"
    compared = 0
    for name, samples in expected.items():
        got = stored.get(name, {})
        assert set(got) >= set(samples), (
            f"{name}: seconds missing {sorted(set(samples) - set(got))}"
        )
        for t, value in samples.items():
            if name[0].endswith("_ms"):
                assert got[t] == pytest.approx(value, rel=2**-10, abs=0.001), (name, t)
            else:
                assert got[t] == value, (name, t)
            compared += 1
    assert stored[("swarm_requests_count", "GET ok", "")], "no request stored"
    return compared


def _sink(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text())["sinks"]["influxdb"]


@needs_vm
def test_two_worker_run_stores_exactly_its_timeline(tmp_path, victoria, child_processes):
    run_id = f"influx-{uuid.uuid4().hex[:10]}"
    with RecordingServer() as target:
        code, output, run_dir = _swarm_run(
            tmp_path,
            child_processes,
            host=target.url,
            duration_s=8,
            think_ms=20,
            influx_url=victoria.url,
            workers=2,
            run_id=run_id,
        )
    assert code == 0, output
    compared = _assert_stored_equals_timeline(victoria, run_id, run_dir)
    assert compared > 100
    sink = _sink(run_dir)
    assert (sink["status"], sink["dropped"], sink["failed_writes"]) == ("ok", 0, 0)
    assert sink["written"] > 0 and sink["url"] == victoria.url
    assert "token-never-written" not in "".join(
        p.read_text(errors="replace") for p in run_dir.iterdir() if p.is_file()
    )
    assert "cannot write" not in output


@needs_vm
def test_server_down_for_30_s_mid_run_loses_nothing(tmp_path, victoria, child_processes):
    run_id = f"influx-outage-{uuid.uuid4().hex[:10]}"
    outage: dict[str, float] = {}

    def stop_for_30_s(run_dir: Path) -> None:
        deadline = time.monotonic() + 40
        while not victoria.export(run_id).get(("swarm_requests_count", "GET ok", "")):
            assert time.monotonic() < deadline, "the sink wrote nothing before the outage"
            time.sleep(0.5)
        victoria.stop()
        outage["from"] = time.time()
        time.sleep(30)  # the outage itself
        outage["to"] = time.time()
        victoria.start()

    with RecordingServer() as target:
        code, output, run_dir = _swarm_run(
            tmp_path,
            child_processes,
            host=target.url,
            duration_s=55,
            think_ms=100,
            influx_url=victoria.url,
            workers=2,
            run_id=run_id,
            during=stop_for_30_s,
        )
    assert code == 0, output
    _assert_stored_equals_timeline(victoria, run_id, run_dir)
    sink = _sink(run_dir)
    assert (sink["status"], sink["dropped"]) == ("ok", 0), sink
    assert sink["failed_writes"] >= 1 and sink["error"]
    assert output.count("InfluxDB sink cannot write") == 1, output
    assert "InfluxDB sink writes to" in output
    # The run did not notice: every second of it is in the timeline, the outage's too,
    # with the plan's 4 users on 2 workers.
    timeline = read_timeline(run_dir / "timeline.jsonl")
    seconds = [s.t for s in timeline.seconds]
    assert seconds == list(range(seconds[0], seconds[-1] + 1))
    during = [s for s in timeline.seconds if outage["from"] + 1 < s.t < outage["to"] - 1]
    assert len(during) >= 25
    assert all(s.users == 4 and s.workers == 2 and s.requests for s in during)


@needs_vm
def test_wrong_url_warns_once_and_the_run_reports_what_was_dropped(tmp_path, child_processes):
    run_id = f"influx-wrong-{uuid.uuid4().hex[:10]}"
    closed = _free_port()
    with RecordingServer() as target:
        code, output, run_dir = _swarm_run(
            tmp_path,
            child_processes,
            host=target.url,
            duration_s=5,
            think_ms=50,
            influx_url=f"http://127.0.0.1:{closed}",
            workers=0,
            run_id=run_id,
        )
    assert code == 0, output
    assert output.count("InfluxDB sink cannot write") == 1, output
    assert "connection refused" in output
    sink = _sink(run_dir)
    seconds = len(read_timeline(run_dir / "timeline.jsonl").seconds)
    assert sink["status"] == "failed" and sink["written"] == 0
    assert sink["dropped"] >= seconds * 4  # 3 names and the run, every second
    assert sink["error"] == "connection refused"
    report = (run_dir / "report.md").read_text()
    assert "InfluxDB sink" in report and f"{sink['dropped']} points dropped" in report


NEVER_ANSWERS = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()  # as Locust does: threading and sockets are gevent's

    import json
    import socket
    import sys
    import time

    import gevent

    from framework.live.feed import LiveFeed
    from framework.live.influx import InfluxSettings
    from framework.locust_glue.influx_sink import InfluxSink
    from framework.timeline.records import RequestSecond, Second

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # connections are taken by the kernel, never answered
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    feed = LiveFeed(started_s=time.time(), run_id="stall")
    sink = InfluxSink(
        InfluxSettings(url=url, org="o", bucket="b"), scenario="s", run_id="stall",
        timeout_s=2.0, flush_s=1.0,
    )
    sink.attach(feed)
    sink.start(time.time())
    feed.move("running", time.time())
    gaps, in_flight_ticks = [], 0
    last = time.monotonic()
    end = last + 6.0
    t = int(time.time())
    while time.monotonic() < end:
        gevent.sleep(0.05)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
        if sink.in_flight:
            in_flight_ticks += 1
        if len(gaps) % 10 == 0:  # a second of 20 names every 0.5 s
            t += 1
            records = tuple(
                RequestSecond.from_latencies(t, "GET", "/n%d" % i, [1.0, 2.0, 5.0])
                for i in range(20)
            )
            feed.add_second(Second(t=t, users=10, workers=2, requests=records))
    started = time.monotonic()
    feed.move("stopping", time.time())
    feed.move("finished", time.time())
    finish_s = time.monotonic() - started
    sink.close()
    json.dump({
        "max_gap_s": max(gaps), "ticks": len(gaps), "in_flight_ticks": in_flight_ticks,
        "finish_s": finish_s, **sink.summary("finished"),
    }, sys.stdout)
    """
)


def test_a_server_that_never_answers_does_not_stall_the_event_loop(tmp_path):
    """Writes that hang for their whole 2 s timeout happen while the loop ticks every 50 ms:
    if they ran on the loop, no tick could happen during one, and a gap would be ≥ 2 s."""
    script = tmp_path / "never_answers.py"
    script.write_text(NEVER_ANSWERS)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["failed_writes"] >= 2, found
    assert found["error"].startswith("no answer within 2 s"), found
    assert found["in_flight_ticks"] >= 20, found  # the loop ran while writes hung
    assert found["max_gap_s"] < 1.0, found
    assert found["status"] == "failed" and found["dropped"] > 0 and found["written"] == 0
    assert found["finish_s"] < 6.0, found  # the end of the run waits one more try at most


CUSTOM_METRICS = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()  # as Locust does

    import json
    import sys
    import time

    from framework.live.feed import LiveFeed
    from framework.live.influx import InfluxSettings
    from framework.locust_glue.influx_sink import InfluxSink
    from framework.timeline.codec import encode_histogram, new_histogram
    from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
    from framework.timeline.records import Second

    url, run_id = sys.argv[1], sys.argv[2]
    feed = LiveFeed(started_s=time.time(), run_id=run_id)
    sink = InfluxSink(InfluxSettings(url=url, org="o", bucket="b"), scenario="s", run_id=run_id)
    sink.attach(feed)
    sink.start(time.time())
    feed.move("running", time.time())
    t0 = int(time.time()) - 10
    for i in range(5):
        t = t0 + i
        hist = new_histogram()
        values = [10.0 + k + i for k in range(10)]
        for v in values:
            hist.record_value(round(v * METRIC_SCALE))
        metrics = (
            MetricSecond(t=t, name="detector.batch.items", kind="counter", unit="items",
                         dims=(("model", "fast"),), count=2, sum=5 + i),
            MetricSecond(t=t, name="detector.queue.depth", kind="gauge", unit="jobs",
                         count=1, sum=float(i), min=float(i), max=float(i), last=float(i),
                         last_at=t + 0.5),
            MetricSecond(t=t, name="detector.server_ms", kind="timer", unit="ms",
                         dims=(("kind", "x"), ("model", "fast")), count=10, sum=sum(values),
                         min=min(values), max=max(values), hist_blobs=(encode_histogram(hist),)),
        )
        feed.add_second(Second(t=t, users=1, workers=1, metrics=metrics))
    feed.move("stopping", time.time())
    feed.move("finished", time.time())
    sink.close()
    json.dump({"t0": t0, **sink.summary("finished")}, sys.stdout)
    """
)


@needs_vm
def test_custom_metrics_are_stored_one_point_per_second_metric_and_dimension_set(
    tmp_path, victoria
):
    """What VictoriaMetrics (an InfluxDB-protocol server) stores of ``swarm_metric``: each
    kind's fields under its tags, the dimensions as tags (one named like a tag prefixed)."""
    script = tmp_path / "custom_metrics.py"
    script.write_text(CUSTOM_METRICS)
    run_id = f"influx-metrics-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), victoria.url, run_id],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "ok" and summary["dropped"] == 0, summary
    t0 = summary["t0"]
    urllib.request.urlopen(f"{victoria.url}/internal/force_flush", timeout=10).close()
    query = urllib.parse.urlencode(
        {"match[]": f'{{__name__=~"swarm_metric_.+",run_id="{run_id}"}}', "start": "0"}
    ).encode()
    with urllib.request.urlopen(f"{victoria.url}/api/v1/export", data=query, timeout=30) as answer:
        lines = answer.read().decode().splitlines()
    stored: dict[tuple[str, str], dict[int, float]] = {}
    labels_of: dict[str, dict[str, str]] = {}
    for line in lines:
        series = json.loads(line)
        labels = series["metric"]
        labels_of[labels["name"]] = labels
        samples = stored.setdefault((labels["__name__"], labels["name"]), {})
        for t_ms, value in zip(series["timestamps"], series["values"], strict=True):
            samples[t_ms // 1000 - t0] = value
    seconds = list(range(5))
    assert stored[("swarm_metric_sum", "detector.batch.items")] == {i: 5.0 + i for i in seconds}
    assert stored[("swarm_metric_rate", "detector.batch.items")] == {i: 5.0 + i for i in seconds}
    assert stored[("swarm_metric_count", "detector.batch.items")] == dict.fromkeys(seconds, 2.0)
    assert stored[("swarm_metric_last", "detector.queue.depth")] == {i: float(i) for i in seconds}
    assert stored[("swarm_metric_mean", "detector.server_ms")] == {i: 14.5 + i for i in seconds}
    p95 = stored[("swarm_metric_p95", "detector.server_ms")]
    assert all(abs(p95[i] - (19.0 + i)) <= 0.02 for i in seconds), p95
    assert stored[("swarm_metric_max", "detector.server_ms")] == {i: 19.0 + i for i in seconds}
    timer = labels_of["detector.server_ms"]
    assert (timer["kind"], timer["unit"], timer["model"], timer["dim_kind"]) == (
        "timer", "ms", "fast", "x",
    )  # fmt: skip
    assert labels_of["detector.batch.items"]["scenario"] == "s"
