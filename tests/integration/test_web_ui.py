"""The Locust web UI driving a scenario's shape, through the UI's own HTTP API.

``/stats/requests`` is memoised by Locust for 2 s, so a sample may be up to ~2 s old; the
assertions allow for that and every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_LOCUSTFILE = REPO_ROOT / "locustfiles" / "scenario.py"
SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
POLL_S = 0.2
UI_DEADLINE_S = 30.0
STAGE_1_S = 4.0

STAGES_SCENARIO = f"""
    name: web stages
    users:
      - name: visitor
        think_time: {{fixed_ms: 50}}
        requests:
          - {{name: list, path: /ok, weight: 2}}
          - {{name: submit, method: POST, path: /ok, json: {{a: 1}}}}
    load:
      shape: stages
      stages:
        - {{duration: {STAGE_1_S}s, users: 2, spawn_rate: 100}}
        - {{duration: 60s, users: 4, spawn_rate: 100}}
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _post(url: str, form: dict[str, str] | None = None) -> Any:
    data = urllib.parse.urlencode(form or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
        return json.load(response)


def _wait_for_ui(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + UI_DEADLINE_S
    while True:
        assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"no web UI in {UI_DEADLINE_S} s:\n{log.read_text()}"
        time.sleep(POLL_S)


@dataclass(frozen=True)
class Sample:
    t_s: float
    state: str
    users: int


def _sample(base: str, start: float, until, deadline_s: float) -> list[Sample]:
    """Poll ``/stats/requests`` until ``until(samples)`` holds; fail after ``deadline_s``."""
    samples: list[Sample] = []
    while True:
        stats = _get(base + "/stats/requests")
        samples.append(Sample(time.monotonic() - start, stats["state"], stats["user_count"]))
        if until(samples):
            return samples
        assert time.monotonic() - start < deadline_s, samples
        time.sleep(POLL_S)


def _running_counts(samples: list[Sample]) -> list[int]:
    return [s.users for s in samples if s.users > 0]


def test_web_ui_runs_the_scenario_shape_and_restarts_it_from_the_first_stage(
    recording_server, tmp_path, child_processes, free_port
):
    scenario = _write(tmp_path, STAGES_SCENARIO)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "locust.log"
    command = [sys.executable, "-m", "locust", "-f", str(SCENARIO_LOCUSTFILE)]
    command += ["--scenario", str(scenario), "--host", recording_server.url]
    command += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    with log.open("w") as out:
        locust = child_processes.start(command, stdout=out, stderr=subprocess.STDOUT)
    _wait_for_ui(base, locust, log)

    # first run: the shape, not the form's user_count, sets the users: 2, then 4
    reply = _post(base + "/swarm", {"user_count": "1", "spawn_rate": "1"})
    started = time.monotonic()
    assert reply["success"] is True
    assert "StagesShape" in reply["message"]
    samples = _sample(base, started, lambda s: s[-1].users == 4, STAGE_1_S + 10)
    stage_1 = [s.users for s in samples if s.t_s < STAGE_1_S - 0.3]
    assert 2 in stage_1 and max(stage_1) == 2, samples
    assert _running_counts(samples) == sorted(_running_counts(samples)), samples

    stats = _get(base + "/stats/requests")["stats"]
    counted = {(s["method"], s["name"]) for s in stats if s["num_requests"] > 0}
    assert counted == {("GET", "list"), ("POST", "submit"), ("", "Aggregated")}

    assert _post(base + "/stop")["success"] is True
    stopped = time.monotonic()
    _sample(base, stopped, lambda s: s[-1].state == "stopped" and s[-1].users == 0, 10)

    # second run: the plan replays from 0 s, so stage 1 (2 users) again, not stage 2
    assert _post(base + "/swarm")["success"] is True
    restarted = time.monotonic()
    samples = _sample(base, restarted, lambda s: s[-1].t_s >= STAGE_1_S - 0.5, STAGE_1_S + 5)
    assert 2 in _running_counts(samples), samples
    assert max(_running_counts(samples)) == 2, samples

    assert _post(base + "/stop")["success"] is True
    locust.send_signal(signal.SIGTERM)
    assert locust.wait(timeout=15) == 0, log.read_text()[-2000:]
    assert recording_server.requests("/ok")


# --- swarm run --web ------------------------------------------------------------------------

SHORT_STAGES_SCENARIO = """
    name: web short
    users:
      - name: visitor
        think_time: {fixed_ms: 50}
        requests:
          - {name: list, path: /ok}
    load:
      shape: stages
      stages:
        - {duration: 1s, users: 1, spawn_rate: 10}
        - {duration: 1s, users: 2, spawn_rate: 10}
"""


@dataclass(frozen=True)
class WebSession:
    """What ``swarm run --web`` recorded at each step of one scripted session."""

    status_when_ui_up: str | None
    status_after_start: str | None
    status_after_shape_end: str | None
    status_after_restart: str | None
    returncode: int
    final: dict[str, Any]
    session: dict[str, Any]
    leftover_pids: list[int]


def _run_status(run_dir: Path, file_name: str = "run.json") -> str | None:
    try:
        return json.loads((run_dir / file_name).read_text())["status"]
    except (OSError, ValueError):
        return None


def _poll_status(
    run_dir: Path, wanted: str, deadline_s: float, file_name: str = "run.json"
) -> str | None:
    """Poll run.json (or session.json) until its status is ``wanted``; return the last seen."""
    deadline = time.monotonic() + deadline_s
    status = _run_status(run_dir, file_name)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(POLL_S / 2)
        status = _run_status(run_dir, file_name)
    return status


@pytest.fixture(scope="module")
def web_session(tmp_path_factory, module_child_processes, free_port) -> WebSession:
    """``swarm run --web``: start a run in the UI, let the shape end, restart, SIGTERM.

    The session folder is ``reports/<run id>`` (session.json); each start is a run folder
    ``<run id>-1``, ``<run id>-2`` (see test_web_runs.py for the rest of that behaviour).
    """
    folder = tmp_path_factory.mktemp("swarm_web")
    scenario = _write(folder, SHORT_STAGES_SCENARIO)
    run_id = f"web-{uuid.uuid4().hex[:12]}"
    session_dir = folder / "reports" / run_id
    first, second = session_dir.with_name(f"{run_id}-1"), session_dir.with_name(f"{run_id}-2")
    with RecordingServer() as server, (folder / "swarm.log").open("w") as out:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [str(SWARM), "run", str(scenario), "--host", server.url]
        command += ["--out", str(folder / "reports"), "--run-id", run_id]
        command += ["--web", "--web-port", str(port)]
        swarm = module_child_processes.start(
            command,
            marker=run_id,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _wait_for_ui(base, swarm, folder / "swarm.log")
        when_up = _poll_status(session_dir, "web-ui", 5, "session.json")
        assert _post(base + "/swarm")["success"] is True
        after_start = _poll_status(first, "running", 15)
        after_end = _poll_status(first, "finished", 15)
        # Restart only once Locust has really stopped the first run's users.
        _sample(base, time.monotonic(), lambda s: s[-1].state == "stopped", 20)
        assert _post(base + "/swarm")["success"] is True
        after_restart = _poll_status(second, "running", 15)
        swarm.send_signal(signal.SIGTERM)
        returncode = swarm.wait(timeout=30)
    return WebSession(
        status_when_ui_up=when_up,
        status_after_start=after_start,
        status_after_shape_end=after_end,
        status_after_restart=after_restart,
        returncode=returncode,
        final=json.loads((second / "run.json").read_text()),
        session=json.loads((session_dir / "session.json").read_text()),
        leftover_pids=module_child_processes.pids_with_marker(run_id),
    )


def test_swarm_web_session_records_web_ui_then_a_run_running_then_finished(web_session):
    assert web_session.status_when_ui_up == "web-ui"
    assert web_session.status_after_start == "running"
    assert web_session.status_after_shape_end == "finished"


def test_swarm_web_sigterm_during_a_run_exits_130_with_that_run_interrupted(web_session):
    assert web_session.returncode == 130
    assert web_session.final["status"] == "interrupted"
    assert web_session.final["mode"] == "web"
    assert web_session.session["status"] == "interrupted"
    assert web_session.leftover_pids == []


def test_swarm_web_restart_is_a_new_run_that_runs(web_session):
    assert web_session.status_after_restart == "running"
