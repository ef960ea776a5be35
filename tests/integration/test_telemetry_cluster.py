"""A real Locust master with two real workers writes a timeline that agrees with Locust.

Exactness is the point: per endpoint, the timeline's request and failure counts equal
Locust's own final totals, its latency sums equal the raw latencies' sums, and
percentiles of the merged HdrHistograms are within the histogram's stated error
(3 significant digits: 1/1024 relative, plus 1 µs of rounding) of the raw latencies'.
"""

from __future__ import annotations

import csv
import json
import os
import random
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, Timeline, latency_us

pytestmark = pytest.mark.integration

LOCUSTFILE = textwrap.dedent(
    """
    from pathlib import Path

    from locust import FastHttpUser, constant, events, task

    from framework.locust_glue.telemetry import install


    @events.init_command_line_parser.add_listener
    def _add_arguments(parser):
        parser.add_argument("--swarm-run-dir", default="")


    @events.init.add_listener
    def _install(environment, **_kw):
        run_dir = environment.parsed_options.swarm_run_dir if environment.parsed_options else ""
        install(environment, Path(run_dir) if run_dir else None)


    class Client(FastHttpUser):
        wait_time = constant(0.01)

        @task(4)
        def ok(self):
            self.client.get("/ok")

        @task(1)
        def fail(self):
            self.client.get("/fail")

        @task(1)
        def post_ok(self):
            self.client.post("/ok", data=b"payload")
    """
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        time.sleep(random.uniform(0.0, 0.004))  # spread latencies over a few ms
        status = 200 if self.path.startswith("/ok") else 500
        body = b"x" * (17 if status == 200 else 5)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *_args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile_rank(p: float, n: int) -> int:
    """HdrHistogram's rank for percentile ``p`` (1-based), so raw and histogram agree."""
    return max(1, int(p * n / 100 + 0.5))


@pytest.fixture
def host() -> Iterator[str]:
    """A threaded HTTP server on loopback: 200 for /ok, 500 for anything else."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cluster_timeline_matches_locust_totals_and_raw_percentiles(
    tmp_path: Path, host: str
) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    run_dir, raw_log, prefix = tmp_path / "run", tmp_path / "raw.jsonl", tmp_path / "locust"
    env = {**os.environ, "SWARM_RAW_LATENCY_LOG": str(raw_log), "PYTHONUNBUFFERED": "1"}
    port = _free_port()
    locust = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    master_cmd = [
        *locust,
        "--master",
        "--master-bind-host=127.0.0.1",
        f"--master-bind-port={port}",
        "--headless",
        "--expect-workers=2",
        "-u10",
        "-r10",
        "-t6s",
        f"--host={host}",
        f"--csv={prefix}",
        f"--json-file={prefix}",
        f"--swarm-run-dir={run_dir}",
    ]
    worker_cmd = [*locust, "--worker", "--master-host=127.0.0.1", f"--master-port={port}"]
    procs: list[subprocess.Popen] = []
    try:
        with (tmp_path / "master.log").open("w") as log:
            master = subprocess.Popen(master_cmd, env=env, cwd=tmp_path, stdout=log, stderr=log)
        procs.append(master)
        for i in range(2):
            with (tmp_path / f"worker{i}.log").open("w") as log:
                procs.append(
                    subprocess.Popen(worker_cmd, env=env, cwd=tmp_path, stdout=log, stderr=log)
                )
        code = master.wait(timeout=90)
        for worker in procs[1:]:
            worker.wait(timeout=30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert code in (0, 1), (tmp_path / "master.log").read_text()[-3000:]  # 1: failures seen

    tl = read_timeline(run_dir / FILE_NAME)
    assert tl.header["source"] == "master"
    locust_final = _assert_counts_equal_locust(tl, prefix)

    # Locust's CSV is refreshed by a 1 s greenlet and may miss the workers' final reports
    with Path(f"{prefix}_stats.csv").open() as f:
        csv_rows = {f"{r['Type']} {r['Name']}": r for r in csv.DictReader(f) if r["Type"]}
    for key, (requests, failures) in locust_final.items():
        assert int(csv_rows[key]["Request Count"]) <= requests
        assert int(csv_rows[key]["Failure Count"]) <= failures

    _assert_percentiles_match_raw(tl, raw_log)

    # what the failures said, merged from both workers: every failure of GET /fail counted
    messages: dict[tuple[str, str], int] = defaultdict(int)
    for second in tl.seconds:
        for r in second.requests:
            for message, n in r.failure_messages.items():
                messages[(r.key, message)] += n
    assert {key for key, _ in messages} == {"GET /fail"}
    assert sum(messages.values()) == locust_final["GET /fail"][1]
    assert all("500" in message for _, message in messages), messages

    # load columns: users and live workers for every second
    assert all(s.users is not None and s.workers is not None for s in tl.seconds)
    assert max(s.users for s in tl.seconds) == 10
    assert max(s.workers for s in tl.seconds) == 2
    assert len([s for s in tl.seconds if s.count]) >= 5
    assert sum(s.count for s in tl.seconds) == sum(r[0] for r in locust_final.values())


def test_local_run_writes_the_same_exact_timeline(tmp_path: Path, host: str) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    run_dir, raw_log, prefix = tmp_path / "run", tmp_path / "raw.jsonl", tmp_path / "locust"
    env = {**os.environ, "SWARM_RAW_LATENCY_LOG": str(raw_log)}
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u5", "-r5"]
    cmd += ["-t4s", f"--host={host}", f"--json-file={prefix}", f"--swarm-run-dir={run_dir}"]
    with (tmp_path / "local.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log, stderr=log)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert code in (0, 1), (tmp_path / "local.log").read_text()[-3000:]

    tl = read_timeline(run_dir / FILE_NAME)
    assert tl.header["source"] == "local"
    _assert_counts_equal_locust(tl, prefix)
    _assert_percentiles_match_raw(tl, raw_log)
    assert max(s.users for s in tl.seconds) == 5
    assert {s.workers for s in tl.seconds} == {1}


def _assert_counts_equal_locust(tl: Timeline, prefix: Path) -> dict[str, tuple[int, int]]:
    """Per endpoint, exactly Locust's final totals (--json-file is written after the last
    worker report; the CSV is refreshed by a 1 s greenlet and can miss it)."""
    assert tl.complete and not tl.truncated and tl.late_records == 0
    locust_final = {
        f"{e['method']} {e['name']}": (e["num_requests"], e["num_failures"])
        for e in json.loads(Path(f"{prefix}.json").read_text())
    }
    assert set(tl.names()) == set(locust_final) == {"GET /ok", "GET /fail", "POST /ok"}
    for key, (requests, failures) in locust_final.items():
        total = tl.total(key)
        assert (total.count, total.failure_count) == (requests, failures), key
    assert tl.total("GET /fail").failures == {"HTTP 500": locust_final["GET /fail"][1]}
    assert tl.total("GET /ok").failure_count == 0
    return locust_final


def _assert_percentiles_match_raw(tl: Timeline, raw_log: Path) -> None:
    """Raw latencies from every load generator, compared per endpoint: the successful
    requests' with the latency fields, the failed ones' with their own (timeline v2)."""
    raw: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for line in raw_log.read_text().splitlines():
        method, name, ms, failed = json.loads(line)
        raw[(f"{method} {name}", failed)].append(latency_us(ms))
    for (key, failed), values in raw.items():
        values.sort()
        total = tl.total(key)
        if failed:
            assert (total.failure_count, total.fail_sum_us) == (len(values), sum(values)), key
            merged = tl.failure_histogram(key).to_hdrhistogram()
        else:
            assert (total.latency_count, total.sum_us) == (len(values), sum(values)), key
            merged = tl.merged_histogram(key)
        assert merged.get_total_count() == len(values)
        for p in (50, 95, 99):
            exact = values[_percentile_rank(p, len(values)) - 1]
            approx = merged.get_value_at_percentile(p)
            assert abs(approx - exact) <= exact / 1000 + 1, (key, failed, p, approx, exact)
