"""swarm's load engine end to end: open-model arrivals and kinds with loads of their own.

Real ``swarm run`` processes against the recording server: one local open-model run, one
``--workers 2`` run with a closed group and two open groups at once (one of them too slow
for its ``max_in_flight``), and a ``--web`` session started and stopped through the UI's
HTTP API. Each is module-scoped and checked by several tests; every wait polls to a deadline.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.recording_server import SLOW_S, RecordingServer
from tests.integration.test_cli_run import _run_id, _swarm_run, _write
from tests.integration.test_web_ui import SWARM, _get, _post, _wait_for_ui

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RATE = 40
DURATION_S = 8

OPEN_SCENARIO = f"""
    name: engine open
    users:
      - name: caller
        requests:
          - {{name: check, path: /ok}}
    load: {{model: open, shape: constant, rate: {RATE}, duration: {DURATION_S}s}}
"""

WRITERS_RATE = 30
SLOW_RATE = 10
KINDS_S = 10
KINDS_SCENARIO = f"""
    name: engine kinds
    users:
      - name: readers
        think_time: {{fixed_ms: 100}}
        requests:
          - {{name: read, path: /ok}}
        load: {{shape: constant, users: 4, spawn_rate: 20, duration: {KINDS_S}s}}
      - name: writers
        requests:
          - {{name: write, method: POST, path: /created}}
        load: {{model: open, shape: constant, rate: {WRITERS_RATE}, duration: {KINDS_S}s}}
      - name: laggards
        requests:
          - {{name: slow, path: /slow}}
        load:
          model: open
          shape: constant
          rate: {SLOW_RATE}
          duration: {KINDS_S}s
          max_in_flight: 1
"""


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "timeline.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _arrivals(lines: list[dict[str, Any]]) -> dict[str, Counter]:
    """Per group: due, started, dropped summed over the run."""
    totals: dict[str, Counter] = {}
    for line in lines:
        if line["type"] == "arr":
            totals.setdefault(line["group"], Counter()).update(
                {k: line[k] for k in ("due", "started", "dropped")}
            )
    return totals


def _requests(lines: list[dict[str, Any]]) -> dict[str, Counter]:
    totals: dict[str, Counter] = {}
    for line in lines:
        if line["type"] in ("req", "late"):
            totals.setdefault(line["name"], Counter()).update(
                {
                    "count": line["count"],
                    "sum_us": line["sum_us"],
                    "svc_count": line.get("svc_count", 0),
                    "svc_sum_us": line.get("svc_sum_us", 0),
                }
            )
    return totals


# --- one local open-model run ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    run_dir: Path
    lines: list[dict[str, Any]]


@pytest.fixture(scope="module")
def open_run(tmp_path_factory, module_child_processes) -> Run:
    folder = tmp_path_factory.mktemp("engine_open")
    scenario = _write(folder, OPEN_SCENARIO)
    with RecordingServer() as server:
        run = _swarm_run(
            module_child_processes,
            folder,
            [str(scenario), "--host", server.url],
            _run_id("engine-open"),
        )
    return Run(run.returncode, run.stderr, run.run_dir, _lines(run.run_dir))


def test_open_run_starts_rate_times_duration_arrivals(open_run: Run) -> None:
    assert open_run.returncode in (0, 1), open_run.stderr  # ran; the verdict is not the point
    arrivals = _arrivals(open_run.lines)
    assert set(arrivals) == {"scenario"}
    due = arrivals["scenario"]
    assert abs(due["due"] - RATE * DURATION_S) <= 2, due
    assert due["dropped"] == 0 and due["started"] == due["due"]
    per_second = [line["due"] for line in open_run.lines if line["type"] == "arr"]
    assert max(per_second) <= RATE + 1  # evenly spaced: never a burst above the rate


def test_open_requests_measure_from_the_intended_start(open_run: Run) -> None:
    check = _requests(open_run.lines)["check"]
    assert check["count"] >= RATE * DURATION_S - 5
    assert check["svc_count"] == check["count"]  # every one an open-model request
    assert check["sum_us"] >= check["svc_sum_us"] > 0  # from the due time >= from the send
    lagged = [line for line in open_run.lines if line["type"] == "arr" and line["started"]]
    assert all(line["lag_sum_us"] >= 0 and line["lag_hist"] for line in lagged)


def test_open_run_seconds_carry_the_arrivals_in_flight(open_run: Run) -> None:
    active = [
        line["active"] for line in open_run.lines if line["type"] == "sec" and "active" in line
    ]
    assert active and all(set(a) == {"scenario"} for a in active)


# --- two workers: a closed group and two open groups at once --------------------------------


@pytest.fixture(scope="module")
def kinds_run(tmp_path_factory, module_child_processes) -> Run:
    folder = tmp_path_factory.mktemp("engine_kinds")
    scenario = _write(folder, KINDS_SCENARIO)
    with RecordingServer() as server:
        run = _swarm_run(
            module_child_processes,
            folder,
            [str(scenario), "--host", server.url, "--workers", "2"],
            _run_id("engine-kinds"),
        )
    return Run(run.returncode, run.stderr, run.run_dir, _lines(run.run_dir))


def test_two_workers_together_keep_the_groups_rate(kinds_run: Run) -> None:
    assert kinds_run.returncode in (0, 1), kinds_run.stderr
    writers = _arrivals(kinds_run.lines)["writers"]
    assert abs(writers["due"] - WRITERS_RATE * KINDS_S) <= 3, writers  # not twice: split
    assert writers["dropped"] == 0
    assert _requests(kinds_run.lines)["write"]["count"] >= WRITERS_RATE * KINDS_S - 5
    logs = "".join(p.read_text() for p in kinds_run.run_dir.glob("worker-*.log"))
    assert "as 0 of 2" in logs and "as 1 of 2" in logs


def test_arrivals_beyond_max_in_flight_are_counted_dropped(kinds_run: Run) -> None:
    laggards = _arrivals(kinds_run.lines)["laggards"]
    assert laggards["due"] == laggards["started"] + laggards["dropped"]
    # one slot per worker, each arrival holding it SLOW_S: at most 2 / SLOW_S can start
    assert laggards["started"] <= 2 / SLOW_S * KINDS_S + 4
    assert laggards["dropped"] >= SLOW_RATE * KINDS_S - laggards["started"] - 3 > 0
    assert _requests(kinds_run.lines)["slow"]["count"] <= laggards["started"]


def test_closed_group_runs_its_users_beside_the_open_groups(kinds_run: Run) -> None:
    read = _requests(kinds_run.lines)["read"]
    assert read["count"] > 4 * KINDS_S  # 4 users with 100 ms think time: ~ 35/s
    assert read["svc_count"] == 0  # closed: latency from the send, as before
    steady = [
        line["active"]
        for line in kinds_run.lines
        if line["type"] == "sec" and line.get("active", {}).get("readers") == 4
    ]
    assert steady, "no second with the readers' 4 users running"
    assert all({"readers", "writers", "laggards"} <= set(a) for a in steady)
    users = [
        line["users"] for line in kinds_run.lines if line["type"] == "sec" and line.get("active")
    ]
    assert max(users) >= 4


# --- the web UI: a start runs the engine, Stop stops it -------------------------------------

WEB_SCENARIO = """
    name: engine web
    users:
      - name: caller
        requests:
          - {name: check, path: /ok}
    load: {model: open, shape: constant, rate: 20, duration: 60s}
"""


@dataclass(frozen=True)
class WebRuns:
    first: int
    paused: tuple[int, int]
    resumed: int
    after_stop: int
    settled: int
    second: int
    returncode: int
    reports: Path
    session_id: str


def _wait(what: str, check, deadline_s: float) -> Any:
    deadline = time.monotonic() + deadline_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} in {deadline_s} s"
        time.sleep(0.1)
    return found


@pytest.fixture(scope="module")
def web_runs(tmp_path_factory, module_child_processes, free_port) -> WebRuns:
    folder = tmp_path_factory.mktemp("engine_web")
    scenario = _write(folder, WEB_SCENARIO)
    session_id = f"engine-web-{uuid.uuid4().hex[:8]}"
    port, log = free_port(), folder / "swarm.log"
    base = f"http://127.0.0.1:{port}"
    with RecordingServer() as server:
        command = [str(SWARM), "run", str(scenario), "--host", server.url, "--web"]
        command += ["--web-port", str(port), "--out", str(folder / "reports")]
        process = module_child_processes.start(
            [*command, "--run-id", session_id], marker=session_id, log=log, extra_env={}
        )
        _wait_for_ui(base, process, log)
        count = lambda: len(server.requests("/ok"))  # noqa: E731
        assert _post(base + "/swarm")["success"] is True
        first = _wait("requests of the first start", lambda: count() >= 30 and count(), 20)
        assert _post(base + "/swarm/pause")["state"] == "paused"
        time.sleep(0.3)  # a request in flight at the pause completes
        held = count()
        time.sleep(1.0)  # no arrival is due while paused: 20 would be, were it not
        paused = (held, count())
        assert _post(base + "/swarm/resume")["state"] == "running"
        resumed = _wait(
            "requests after resuming", lambda: count() >= paused[1] + 10 and count(), 20
        )
        assert _post(base + "/stop")["success"] is True
        _wait("Locust stopped", lambda: _get(base + "/stats/requests")["state"] == "stopped", 20)
        after_stop = count()
        time.sleep(1.0)  # a stopped engine sends nothing more: wait long enough to see one
        settled = count()
        assert _post(base + "/swarm")["success"] is True
        second = _wait(
            "requests of the second start", lambda: count() >= settled + 20 and count(), 20
        )
        assert _post(base + "/stop")["success"] is True
        _wait("Locust stopped", lambda: _get(base + "/stats/requests")["state"] == "stopped", 20)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=40)
    return WebRuns(
        first,
        paused,
        resumed,
        after_stop,
        settled,
        second,
        returncode,
        folder / "reports",
        session_id,
    )


def test_web_start_runs_the_engine_pause_holds_it_and_stop_stops_it(web_runs: WebRuns) -> None:
    assert web_runs.first >= 30
    assert web_runs.paused[0] == web_runs.paused[1]  # pausing stops the plan's clock
    assert web_runs.resumed >= web_runs.paused[1] + 10
    assert web_runs.settled == web_runs.after_stop  # nothing sent once stopped
    assert web_runs.second >= web_runs.settled + 20  # a second start runs it again
    assert web_runs.returncode == 0


def test_each_web_start_records_its_own_arrivals(web_runs: WebRuns) -> None:
    for n in (1, 2):
        lines = _lines(web_runs.reports / f"{web_runs.session_id}-{n}")
        due = _arrivals(lines)["scenario"]["due"]
        assert 20 <= due <= 20 * 10, (n, due)
