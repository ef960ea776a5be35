"""Pause and resume real runs: ``swarm ctl``, the web UI's endpoints, signals to ``swarm run``.

Each run targets a real recording server, so "no request while paused" is what the target
saw, not what Locust says. Pauses are held for ``HOLD_S`` by polling the run's own
``GET /swarm/state`` (``paused_s``), every wait bounded by a deadline.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.child_processes import REPO_ROOT
from tests.integration.recording_server import RecordedRequest, RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
PLUGIN = REPO_ROOT / "examples" / "plugins" / "slack_like_notifier.py"
PLAN_S = 8.0
HOLD_S = 5.0  # how long each test keeps its run paused
IN_FLIGHT_S = 0.5  # requests sent before the pause may still arrive this long after it
DEADLINE_S = 60.0
POLL_S = 0.1

SCENARIO = """
    name: pause resume
    host: HOST
    users:
      - name: caller
        think_time: {fixed_ms: 50}
        requests:
          - {name: check, path: /ok}
    load: {shape: constant, users: 3, spawn_rate: 30, duration: 8s}
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SWARM_HOST"}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _poll(what: str, check: Callable[[], Any], deadline_s: float = DEADLINE_S) -> Any:
    """``check()``'s first truthy answer; fails naming ``what`` after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")


def _run_json(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def _http(method: str, url: str) -> tuple[int, dict[str, Any]]:
    sent = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(sent, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return 0, {}


def _state(control: str) -> dict[str, Any]:
    return _http("GET", f"{control}/swarm/state")[1]


def _ctl(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWARM), "ctl", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(),
    )


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _phase_times(record: dict[str, Any], name: str) -> list[float]:
    return [_at(p["at"]) for p in record["phases"] if p["name"] == name]


def _hold_pause(control: str) -> None:
    _poll(f"{HOLD_S:g} s paused", lambda: (_state(control).get("paused_s") or 0) >= HOLD_S)


def _sent_while_paused(received: list[RecordedRequest], paused: float, resumed: float) -> int:
    """Requests the target saw after the pause (and its requests in flight) until resuming."""
    return sum(1 for r in received if paused + IN_FLIGHT_S <= r.received_at < resumed)


def _start_swarm(children, folder: Path, args: list[str], run_id: str, **env: str):
    log = (folder / f"{run_id}.out").open("w")
    with log:
        return children.start(
            [str(SWARM), "run", *args, "--out", str(folder / "reports"), "--run-id", run_id],
            marker=run_id,
            cwd=folder,
            env=_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _scenario(folder: Path, host: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(SCENARIO).replace("HOST", host), encoding="utf-8")
    return path


def _wait_running(run_dir: Path) -> str:
    """The run's control address, once its plan has run 2 s."""
    control = _poll("a control address", lambda: _run_json(run_dir).get("control"))
    _poll("2 s of the plan", lambda: (_state(control).get("plan_elapsed_s") or 0) >= 2.0)
    return control


# --- a headless run paused and resumed with swarm ctl, with the example plugin --------------


@dataclass(frozen=True)
class CtlRun:
    run_dir: Path
    out: Path
    returncode: int
    first_pause: subprocess.CompletedProcess[str]
    second_pause: subprocess.CompletedProcess[str]
    status: subprocess.CompletedProcess[str]
    resume: subprocess.CompletedProcess[str]
    received: list[RecordedRequest]
    output: str


@pytest.fixture(scope="module")
def ctl_run(tmp_path_factory, module_child_processes) -> CtlRun:
    folder = tmp_path_factory.mktemp("ctl")
    run_id = f"ctl-{uuid.uuid4().hex[:10]}"
    out = folder / "reports"
    with RecordingServer() as server:
        child = _start_swarm(
            module_child_processes,
            folder,
            [str(_scenario(folder, server.url)), "--plugin", str(PLUGIN)],
            run_id,
            SWARM_NOTIFY_URL=f"{server.url}/created",
        )
        run_dir = out / run_id
        control = _wait_running(run_dir)
        first = _ctl("pause", run_id, out=out)
        second = _ctl("pause", "latest", out=out)
        _hold_pause(control)
        status = _ctl("status", str(run_dir), out=out)
        resume = _ctl("resume", run_id, "--reason", "maintenance over", out=out)
        returncode = child.wait(timeout=DEADLINE_S)
        received = server.requests()
    return CtlRun(
        run_dir,
        out,
        returncode,
        first,
        second,
        status,
        resume,
        received,
        (folder / f"{run_id}.out").read_text(),
    )


def test_swarm_ctl_pauses_and_resumes_a_headless_run(ctl_run):
    assert ctl_run.first_pause.returncode == 0, ctl_run.first_pause.stderr
    assert "paused" in ctl_run.first_pause.stdout
    assert ctl_run.resume.returncode == 0, ctl_run.resume.stderr
    assert "running" in ctl_run.resume.stdout
    assert ctl_run.status.returncode == 0 and "paused" in ctl_run.status.stdout
    assert ctl_run.returncode == 0, ctl_run.output
    assert _run_json(ctl_run.run_dir)["status"] == "finished"


def test_pausing_a_paused_run_is_refused_with_exit_2_and_the_run_goes_on(ctl_run):
    assert ctl_run.second_pause.returncode == 2
    assert "cannot pause: the run is already paused" in ctl_run.second_pause.stderr
    states = [t["state"] for t in _run_json(ctl_run.run_dir)["transitions"]]
    assert states.count("paused") == 1


def test_no_request_reaches_the_target_while_paused(ctl_run):
    record = _run_json(ctl_run.run_dir)
    (paused,), resumed = _phase_times(record, "paused"), _phase_times(record, "running")[-1]
    checks = [r for r in ctl_run.received if r.path == "/ok"]
    assert _sent_while_paused(checks, paused, resumed) == 0
    assert any(r.received_at < paused for r in checks)
    assert any(r.received_at > resumed for r in checks)


def test_the_run_ends_at_its_planned_duration_plus_the_paused_time(ctl_run):
    record = _run_json(ctl_run.run_dir)
    running, stopping = _phase_times(record, "running")[0], _phase_times(record, "stopping")[0]
    (paused,), resumed = _phase_times(record, "paused"), _phase_times(record, "running")[-1]
    paused_s = resumed - paused
    assert paused_s >= HOLD_S
    ran_s = stopping - running
    # without the plan's clock frozen, the run would end PLAN_S after it began
    assert PLAN_S + paused_s - 1.0 <= ran_s <= PLAN_S + paused_s + 2.5, (ran_s, paused_s)


def test_run_json_records_every_transition_with_its_time_and_reason(ctl_run):
    record = _run_json(ctl_run.run_dir)
    transitions = record["transitions"]
    assert [t["state"] for t in transitions] == [
        "running",
        "paused",
        "running",
        "stopping",
        "finished",
    ]
    assert transitions[1]["reason"] == "swarm ctl"
    assert transitions[2]["reason"] == "maintenance over"
    times = [_at(t["at"]) for t in transitions]
    assert times == sorted(times)
    assert [p["name"] for p in record["phases"]][:5] == [
        "starting",
        "running",
        "paused",
        "running",
        "stopping",
    ]
    assert record["control"].startswith("http://127.0.0.1:")


def test_the_timeline_marks_the_paused_seconds_and_the_report_leaves_them_out(ctl_run):
    record = _run_json(ctl_run.run_dir)
    (paused,), resumed = _phase_times(record, "paused"), _phase_times(record, "running")[-1]
    lines = (ctl_run.run_dir / "timeline.jsonl").read_text().splitlines()
    seconds = [json.loads(x) for x in lines if '"type": "sec"' in x or '"type":"sec"' in x]
    marked = [s["t"] for s in seconds if s.get("paused")]
    assert marked == list(range(math.floor(paused), math.floor(resumed) + 1))

    results = json.loads((ctl_run.run_dir / "results.json").read_text())
    window = results["settings"]["window"]
    summary = results["summary"]
    assert window["end_s"] - window["start_s"] > len(marked)  # the window spans the pause
    counted = (
        window["end_s"]
        - window["start_s"]
        - sum(window["start_s"] <= t < window["end_s"] for t in marked)
    )
    in_window = sum(
        r.received_at >= window["start_s"] and r.received_at < window["end_s"]
        for r in ctl_run.received
        if r.path == "/ok"
    )
    assert summary["requests"] <= in_window
    assert summary["duration_s"] == counted
    # throughput over the counted seconds only: with the pause, it would be far lower
    assert summary["throughput_rps"] == pytest.approx(summary["requests"] / counted, rel=0.05)
    assert [s["t"] for s in results["series"] if s["t"] in marked] == []


def test_the_example_plugin_hears_the_state_changes_and_the_end(ctl_run):
    texts = [r.json()["text"] for r in ctl_run.received if r.path == "/created"]
    assert any("running → paused (swarm ctl)" in t for t in texts), texts
    assert any("paused → running (maintenance over)" in t for t in texts), texts
    final = [t for t in texts if t.startswith("swarm run finished:")]
    assert len(final) == 1, texts
    assert " paused)" in final[0] and " 0 paused)" not in final[0]


def test_swarm_ctl_on_a_finished_run_says_so_and_exits_2(ctl_run):
    for action in ("pause", "resume", "stop"):
        done = _ctl(action, str(ctl_run.run_dir), out=ctl_run.out)
        assert done.returncode == 2
        assert "is not going on: it ended finished" in done.stderr
    status = _ctl("status", "latest", out=ctl_run.out)
    assert status.returncode == 2 and "finished" in status.stdout


# --- swarm ctl stop -------------------------------------------------------------------------


def test_swarm_ctl_stop_ends_the_run_finished_before_its_plan(tmp_path, child_processes):
    run_id = f"stop-{uuid.uuid4().hex[:10]}"
    with RecordingServer() as server:
        scenario = _scenario(tmp_path, server.url)
        text = scenario.read_text().replace("duration: 8s", "duration: 60s")
        scenario.write_text(text)
        child = _start_swarm(child_processes, tmp_path, [str(scenario)], run_id)
        run_dir = tmp_path / "reports" / run_id
        control = _wait_running(run_dir)
        # past the warm-up and the ramp's tail, so the stopped run has seconds to judge
        _poll("8 s of the plan", lambda: (_state(control).get("plan_elapsed_s") or 0) >= 8.0)
        stop = _ctl("stop", run_id, out=tmp_path / "reports")
        returncode = child.wait(timeout=DEADLINE_S)
    assert stop.returncode == 0, stop.stderr
    record = _run_json(run_dir)
    assert returncode == 0
    assert record["status"] == "finished" and record["exit_code"] == 0
    stopping = next(t for t in record["transitions"] if t["state"] == "stopping")
    assert stopping["reason"] == "swarm ctl"
    ran_s = _phase_times(record, "stopping")[0] - _phase_times(record, "running")[0]
    assert ran_s < 30


# --- the web UI's endpoints -----------------------------------------------------------------


def test_the_web_ui_answers_pause_resume_stop_and_state(tmp_path, child_processes, free_port):
    run_id = f"web-{uuid.uuid4().hex[:10]}"
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    with RecordingServer() as server:
        scenario = _scenario(tmp_path, server.url)
        scenario.write_text(scenario.read_text().replace("duration: 8s", "duration: 60s"))
        child = _start_swarm(
            child_processes, tmp_path, [str(scenario), "--web", "--web-port", str(port)], run_id
        )
        _poll("the web UI", lambda: _http("GET", f"{web}/swarm/state")[0] == 200)
        early = _http("POST", f"{web}/swarm/pause")
        start = urllib.request.Request(
            f"{web}/swarm", data=b"user_count=3&spawn_rate=30", method="POST"
        )
        with urllib.request.urlopen(start, timeout=10):
            pass
        _poll("2 s of the plan", lambda: (_state(web).get("plan_elapsed_s") or 0) >= 2.0)
        paused = _http("POST", f"{web}/swarm/pause")
        again = _http("POST", f"{web}/swarm/pause")
        paused_at = time.time()
        _hold_pause(web)
        frozen = _state(web)
        resumed_at = time.time()  # before asking: the gate opens before the answer comes back
        resumed = _http("POST", f"{web}/swarm/resume")
        _poll("requests after resuming", lambda: server.requests()[-1].received_at > resumed_at)
        stopped = _http("POST", f"{web}/swarm/stop")
        state = _state(web)
        received = server.requests("/ok")
        child.send_signal(signal.SIGINT)
        child.wait(timeout=DEADLINE_S)
    assert early[0] == 409 and "starting" in early[1]["error"]
    assert paused == (200, {"state": "paused"})
    assert again[0] == 409 and "already paused" in again[1]["error"]
    assert frozen["state"] == "paused" and 2.0 <= frozen["plan_elapsed_s"] < 2.0 + HOLD_S
    assert resumed == (200, {"state": "running"})
    assert stopped == (200, {"state": "stopping"})
    assert [t["state"] for t in state["transitions"]][:5] == [
        "starting",
        "running",
        "paused",
        "running",
        "stopping",
    ]
    assert _sent_while_paused(received, paused_at, resumed_at) == 0
    run = _run_json(tmp_path / "reports" / f"{run_id}-1")  # the session's first run
    assert run.get("control") == web
    assert run["status"] == "finished"  # a stop from the UI ends the run, not the session


# --- two workers, paused and resumed by signals to swarm run ---------------------------------


def test_signals_pause_and_resume_a_run_with_two_workers(tmp_path, child_processes):
    run_id = f"workers-{uuid.uuid4().hex[:10]}"
    with RecordingServer() as server:
        scenario = _scenario(tmp_path, server.url)
        child = _start_swarm(child_processes, tmp_path, [str(scenario), "--workers", "2"], run_id)
        run_dir = tmp_path / "reports" / run_id
        control = _wait_running(run_dir)  # the master starts once both workers are ready
        child.send_signal(signal.SIGUSR1)
        _poll("the pause", lambda: _state(control).get("state") == "paused")
        _hold_pause(control)
        child.send_signal(signal.SIGUSR2)
        _poll("the resume", lambda: _state(control).get("state") == "running")
        returncode = child.wait(timeout=DEADLINE_S)
        received = server.requests("/ok")
    record = _run_json(run_dir)
    assert returncode == 0, (tmp_path / f"{run_id}.out").read_text()
    reasons = [(t["state"], t["reason"]) for t in record["transitions"]]
    assert ("paused", "signal SIGUSR1") in reasons and ("running", "signal SIGUSR2") in reasons
    (paused,), resumed = _phase_times(record, "paused"), _phase_times(record, "running")[-1]
    assert _sent_while_paused(received, paused, resumed) == 0
    assert any(r.received_at > resumed for r in received)
    ran_s = _phase_times(record, "stopping")[0] - _phase_times(record, "running")[0]
    assert ran_s >= PLAN_S + (resumed - paused) - 1.0
