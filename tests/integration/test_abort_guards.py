"""Abort guards stop real runs: an outage injected into a real mock detector, a closed port.

- an ``error_rate`` rule trips ``for`` seconds into an outage injected mid-run through the
  mock detectors' admin API: the run ends ``aborted`` with exit 1, run.json's ``abort`` block
  names the rule and its figures, and every report says so;
- the default ``target_down`` guard (its window shortened to 5 s) stops a run whose target
  is a closed port, locally and with ``--workers 2``; switched off, the run goes to its end.

Every run is bounded by its plan and a deadline; every process is stopped at teardown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.mock_detectors.conftest import free_ports, request, start_service, write_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

RUN_DEADLINE_S = 90.0
POLL_S = 0.1


def _scenario(folder: Path, url: str, seconds: int, abort: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: guarded
            host: {url}
            users:
              - name: caller
                think_time: {{fixed_ms: 50}}
                requests:
                  - {{name: detect, method: POST, path: /detect, json: {{content: hi}}}}
            load: {{shape: constant, users: 2, spawn_rate: 10, duration: {seconds}s}}
            """
        )
        + abort,
        encoding="utf-8",
    )
    return path


def _start(children, folder: Path, scenario: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    run_id = f"abort-{uuid.uuid4().hex[:12]}"
    command = [sys.executable, "-m", "framework.cli.main", "run", str(scenario)]
    command += ["--out", str(folder / "reports"), "--run-id", run_id, *extra]
    with (folder / "swarm.out").open("w") as out:
        child = children.start(
            command,
            marker=run_id,
            cwd=folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return child, folder / "reports" / run_id


def _wait(child: subprocess.Popen, deadline_s: float = RUN_DEADLINE_S) -> int:
    try:
        return child.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"swarm still running after {deadline_s:g} s")


def _seconds_with_requests(run_dir: Path) -> int:
    try:
        text = (run_dir / "timeline.jsonl").read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    return len({json.loads(line)["t"] for line in text.splitlines() if '"type":"req"' in line})


def _run_record(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))


def _ran_s(record: dict) -> float:
    phases = {p["name"]: p["at"] for p in record["phases"]}

    def at(name: str) -> float:
        return datetime.fromisoformat(phases[name].replace("Z", "+00:00")).timestamp()

    return at(record["status"]) - at("running")


@pytest.fixture
def detector(tmp_path):
    (port,) = free_ports(1)
    config = write_config(
        tmp_path / "detectors.yaml",
        f"detectors:\n  steady:\n    port: {port}\n    latency: {{model: fixed, ms: 2}}\n",
    )
    service = start_service(config)
    try:
        yield service.urls["steady"]
    finally:
        service.stop()


def test_an_error_rate_guard_aborts_a_run_once_an_injected_outage_lasts_its_for(
    tmp_path, child_processes, detector
):
    abort = "abort:\n  - {error_rate: 50%, for: 4s}\n"
    scenario = _scenario(tmp_path, detector, seconds=60, abort=abort)
    child, run_dir = _start(child_processes, tmp_path, scenario)
    deadline = time.monotonic() + 40
    while _seconds_with_requests(run_dir) < 4:  # a few healthy seconds first
        assert child.poll() is None and time.monotonic() < deadline, "no healthy seconds"
        time.sleep(POLL_S)
    fault = {"duration_s": 60, "outage": True}
    assert request(detector, "PUT", "/admin/faults", body=fault).status == 200
    outage_at = time.time()
    code = _wait(child)
    output = (tmp_path / "swarm.out").read_text()
    record = _run_record(run_dir)

    assert code == 1, output
    assert record["status"] == "aborted" and record["exit_code"] == 1
    assert [p["name"] for p in record["phases"]][-2:] == ["stopping", "aborted"]
    abort_block = record["abort"]
    assert abort_block["rule"] == "error_rate ≥ 50% for 4 s"
    figures = abort_block["figures"]
    assert figures["metric"] == "error_rate" and figures["limit"] == 0.5
    assert figures["lowest"] >= 0.5 and figures["span_s"] >= 4
    assert figures["failures"] > 0
    # it tripped on the outage, not before it, and long before the plan's 60 s
    assert figures["from_second"] >= int(outage_at) - 1
    assert _ran_s(record) < 30
    assert "swarm: run aborted: abort guard 'error_rate ≥ 50% for 4 s' tripped" in output

    # the folder and the reports are complete, and each says why the run stopped
    for name in ("timeline.jsonl", "report.html", "report.md", "results.json", "junit.xml"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "locust_report.html").exists()
    timeline = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    assert timeline[-1]["type"] == "end"
    healthy = [r for r in timeline if r["type"] == "req" and not r.get("failures")]
    assert healthy and all(r["t"] < figures["from_second"] for r in healthy)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["verdict"] == "failed"
    assert results["reasons"][0].startswith("the run was aborted: abort guard 'error_rate")
    assert results["run"]["abort"]["figures"]["lowest"] == figures["lowest"]
    assert "abort guard" in (run_dir / "report.md").read_text()
    assert "error_rate ≥ 50% for 4 s" in (run_dir / "report.html").read_text()
    junit = (run_dir / "junit.xml").read_text()
    assert "the run aborted: abort guard" in junit and "<failure" in junit


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "workers-2"])
def test_the_target_down_guard_stops_a_run_against_a_closed_port(
    tmp_path, child_processes, free_port, workers
):
    url = f"http://127.0.0.1:{free_port()}"
    scenario = _scenario(tmp_path, url, seconds=60, abort="abort: [{target_down: true, for: 5s}]\n")
    extra = ("--workers", str(workers)) if workers else ()
    child, run_dir = _start(child_processes, tmp_path, scenario, *extra)
    code = _wait(child)
    output = (tmp_path / "swarm.out").read_text()
    record = _run_record(run_dir)

    assert code == 1, output
    assert record["status"] == "aborted", output
    assert record["abort"]["kind"] == "target_down"
    figures = record["abort"]["figures"]
    assert figures["requests"] == figures["failures"] > 0
    assert figures["span_s"] == 5
    # 5 s of failures once requests flow; distributed seconds close ~3-6 s late
    assert _ran_s(record) < 25
    assert "ConnectionRefusedError" in (run_dir / "results.json").read_text()
    assert "target looks down" in (run_dir / "report.md").read_text()
    if workers:
        assert not [e for e in record["worker_events"] if "exited with code" in e["event"]]


def test_switched_off_the_target_down_guard_lets_the_run_go_to_its_end(
    tmp_path, child_processes, free_port
):
    url = f"http://127.0.0.1:{free_port()}"
    scenario = _scenario(tmp_path, url, seconds=8, abort="abort: [{target_down: false}]\n")
    child, run_dir = _start(child_processes, tmp_path, scenario)
    code = _wait(child)
    record = _run_record(run_dir)
    assert record["status"] == "finished"
    assert record["abort"] is None
    assert code == 1  # no request succeeded: a run without evidence cannot pass
    assert _ran_s(record) >= 7


def _json_of(url: str, data: bytes | None = None) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, data=data, timeout=5) as response:
        return json.loads(response.read())


def _poll_for(what: str, check, deadline_s: float = RUN_DEADLINE_S):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(POLL_S)
    pytest.fail(f"timed out after {deadline_s:g} s waiting for {what}")


def test_a_guard_aborts_a_web_ui_run_and_the_session_goes_on(tmp_path, child_processes, free_port):
    """In --web mode a trip ends that run ``aborted`` (exit 1 in its record, the rule as its
    message) and leaves the web UI up for the next start; Ctrl-C then ends the session, 0."""
    import signal

    url = f"http://127.0.0.1:{free_port()}"
    scenario = _scenario(tmp_path, url, seconds=60, abort="abort: [{target_down: true, for: 3s}]\n")
    port = free_port()
    child, session = _start(child_processes, tmp_path, scenario, "--web", "--web-port", str(port))
    base = f"http://127.0.0.1:{port}"
    _poll_for("the web UI", lambda: _json_of(f"{base}/swarm/runs"))
    assert _json_of(f"{base}/swarm", data=b"")["success"] is True

    def ended() -> dict | None:
        runs = _json_of(f"{base}/swarm/runs")["runs"]
        return runs[0] if runs and runs[0]["state"] == "aborted" else None

    run = _poll_for("the first run aborted", ended)
    assert run["exit_code"] == 1
    assert "abort guard 'target_down for 3 s' tripped" in run["message"]
    record = _run_record(Path(run["folder"]))
    assert record["status"] == "aborted" and record["abort"]["kind"] == "target_down"
    assert _json_of(f"{base}/swarm/state")["state"] == "aborted"
    child.send_signal(signal.SIGINT)
    assert _wait(child) == 0, (tmp_path / "swarm.out").read_text()[-3000:]
    assert session.name in run["run_id"]
