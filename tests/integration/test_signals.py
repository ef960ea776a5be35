"""``swarm run`` stopped by signals as scripts and supervisors send them, and killed outright.

A script that runs ``swarm run … &`` starts it as a background job of a non-interactive
shell, which ignores SIGINT — and an ignored signal stays ignored in every process started
from it, so Locust never saw the SIGINT by which swarm asks it to stop: SIGTERM left the load
running to the end of the plan (``--web``: forever). Here each run is started exactly that
way (``bash -c 'swarm run … & wait $!'``, which also hands back swarm's exit code), against
a recording target, and the stop is timed on the target's clock and the run's own ``run.json``
rather than on how long swarm took to write its reports afterwards. SIGKILL of swarm must
take the Locust master and workers down with it, and the next ``swarm runs`` must say the
run was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
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
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from framework.run.processes import LoggedProcess
from tests.integration.child_processes import is_alive
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
STOP_S = 5.0  # what swarm promises: the load stops this soon after SIGINT/SIGTERM
SLACK_S = 3.0  # a loaded 2-core machine: process wake-ups, Locust's own shutdown
START_DEADLINE_S = 45.0
EXIT_DEADLINE_S = 40.0  # far below the 60 s plan: a run that ignores the signal fails here
POLL_S = 0.1

SCENARIO = """
    name: signals
    host: {url}
    users:
      - name: caller
        think_time: {{fixed_ms: 50}}
        requests:
          - {{name: ok, path: /ok}}
    load: {{shape: constant, users: {users}, spawn_rate: {users}, duration: 60s}}
"""


def _write_scenario(folder: Path, url: str, users: int = 2) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(SCENARIO.format(url=url, users=users)), encoding="utf-8")
    return path


def _run_json(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _wait_for(predicate, deadline_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            pytest.fail(f"timed out after {deadline_s:g} s waiting for {what}:\n{tail}")
        time.sleep(POLL_S)


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_background_job_of_a_script_starts_with_sigint_ignored():
    """The premise of the tests below: ``cmd &`` in ``bash -c`` runs ``cmd`` with SIGINT ignored."""
    probe = "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"
    done = subprocess.run(
        ["bash", "-c", f"{sys.executable} -c '{probe}' & wait $!"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "True"


def test_swarm_s_children_take_sigint_even_when_swarm_ignores_it(tmp_path):
    """``LoggedProcess`` resets SIGINT in the child: Locust must see swarm's polite stop."""
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        child = LoggedProcess(
            "probe", [sys.executable, "-c", probe], log_path=tmp_path / "probe.log", env=os.environ
        )
        assert child.wait(30) == 0
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "probe.log").read_text().strip() == "True"


@dataclass(frozen=True)
class StoppedRun:
    exit_code: int
    run_dir: Path
    record: dict[str, Any]
    signalled_at: float  # unix time of the SIGTERM
    last_request_at: float  # unix time the target answered its last request
    leftovers: list[int]


def _sigterm_background_run(
    folder: Path, children, server: RecordingServer, extra: list[str], start_load=None
) -> StoppedRun:
    """``bash -c 'swarm run … & wait $!'``, SIGTERM to swarm once the target sees traffic."""
    run_id = f"sig-{uuid.uuid4().hex[:12]}"
    run_dir = folder / "reports" / run_id
    # with --web, run_dir is the session folder (Locust's files) and the start its run -1
    record_dir = run_dir.with_name(f"{run_id}-1") if "--web" in extra else run_dir
    pid_file = folder / "swarm.pid"
    log = folder / "swarm.log"
    scenario = _write_scenario(folder, server.url)
    reports = str(folder / "reports")
    command = " ".join(
        [str(SWARM), "run", str(scenario), "--out", reports, "--run-id", run_id, *extra]
    )
    shell = children.start(
        ["bash", "-c", f"{command} >{log} 2>&1 & echo $! >{pid_file}; wait $!"],
        marker=run_id,
        cwd=folder,
        extra_env={},
    )
    _wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip(), 10, "swarm's pid", log)
    swarm_pid = int(pid_file.read_text())
    if start_load is not None:
        start_load(log)
    _wait_for(
        lambda: _run_json(record_dir).get("status") == "running", START_DEADLINE_S, "running", log
    )
    _wait_for(lambda: len(server.requests("/ok")) >= 20, START_DEADLINE_S, "traffic", log)
    signalled_at = time.time()
    os.kill(swarm_pid, signal.SIGTERM)
    try:
        code = shell.wait(EXIT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"swarm still running {EXIT_DEADLINE_S:g} s after SIGTERM: {log.read_text()}")
    return StoppedRun(
        exit_code=code,
        run_dir=run_dir,
        record=_run_json(record_dir),
        signalled_at=signalled_at,
        last_request_at=max(r.received_at for r in server.requests("/ok")),
        leftovers=children.pids_with_marker(run_id),
    )


def _assert_stopped_in_time_with_locust_reports(run: StoppedRun) -> None:
    print(
        f"\nSIGTERM → last request after {run.last_request_at - run.signalled_at:.2f} s, "
        f"run ended after {_unix(run.record['ended_at']) - run.signalled_at:.2f} s"
    )
    assert run.exit_code == 130
    assert (run.record["status"], run.record["exit_code"]) == ("interrupted", 130)
    assert run.last_request_at - run.signalled_at < STOP_S + SLACK_S
    assert _unix(run.record["ended_at"]) - run.signalled_at < STOP_S + SLACK_S
    stopping = [p for p in run.record["phases"] if p["name"] == "stopping"]
    assert stopping and _unix(stopping[0]["at"]) >= run.signalled_at - 1.0
    assert "Shutting down" in (run.run_dir / "locust.log").read_text()
    for name in ("locust_report.html", "locust_stats.csv", "locust_failures.csv"):
        assert (run.run_dir / name).is_file(), name
    assert run.leftovers == []


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]], ids=["one-process", "two-workers"])
def test_sigterm_stops_a_background_headless_run_within_5_s_with_locust_s_reports(
    tmp_path, child_processes, extra
):
    with RecordingServer() as server:
        run = _sigterm_background_run(tmp_path, child_processes, server, extra)
    _assert_stopped_in_time_with_locust_reports(run)
    if extra:
        assert [p["exit_code"] for p in run.record["worker_processes"]] == [0, 0]


def test_sigterm_stops_a_background_web_ui_run_within_5_s_with_locust_s_reports(
    tmp_path, child_processes, free_port
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def start_in_the_ui(log: Path) -> None:
        def ui_up() -> bool:
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(base + "/", timeout=2) as response,
            ):
                return response.status == 200
            return False

        _wait_for(ui_up, START_DEADLINE_S, "the web UI", log)
        request = urllib.request.Request(base + "/swarm", data=urllib.parse.urlencode({}).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["success"] is True

    with RecordingServer() as server:
        run = _sigterm_background_run(
            tmp_path,
            child_processes,
            server,
            ["--web", "--web-port", str(port)],
            start_load=start_in_the_ui,
        )
    assert run.record["mode"] == "web"
    _assert_stopped_in_time_with_locust_reports(run)


def test_sigkill_of_swarm_takes_master_and_workers_down_and_runs_list_says_interrupted(
    tmp_path, child_processes
):
    run_id = f"kill-{uuid.uuid4().hex[:12]}"
    reports = tmp_path / "reports"
    run_dir = reports / run_id
    log = tmp_path / "swarm.log"
    with RecordingServer() as server:
        scenario = _write_scenario(tmp_path, server.url, users=4)
        swarm = child_processes.start(
            [str(SWARM), "run", str(scenario), "--workers", "2", "--out", str(reports),
             "--run-id", run_id],
            marker=run_id,
            log=log,
            extra_env={},
        )  # fmt: skip
        _wait_for(lambda: _run_json(run_dir).get("status") == "running", START_DEADLINE_S,
                  "running", log)  # fmt: skip
        _wait_for(lambda: len(server.requests("/ok")) >= 20, START_DEADLINE_S, "traffic", log)
        locust = psutil.Process(swarm.pid).children(recursive=True)
        assert len(locust) == 3, locust  # the master and two workers
        listed_running = _runs_list(reports, tmp_path)
        swarm.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        swarm.wait(10)
        gone, alive = psutil.wait_procs(locust, timeout=STOP_S + SLACK_S)
        gone_after_s = time.monotonic() - killed_at
        sent = len(server.requests("/ok"))
        time.sleep(1.0)
        sent_later = len(server.requests("/ok"))
    print(f"\nswarm SIGKILLed: its {len(gone)} Locust processes gone after {gone_after_s:.2f} s")
    assert [p for p in alive if is_alive(p)] == []
    assert child_processes.pids_with_marker(run_id) == []
    assert sent_later == sent, "the target still got requests after swarm's processes died"
    assert _row(listed_running, run_id)[4] == "running"
    assert _run_json(run_dir)["status"] == "running"  # nothing settled it yet
    listed = _runs_list(reports, tmp_path)
    assert _row(listed, run_id)[4] == "interrupted"
    record = _run_json(run_dir)
    assert (record["status"], record["exit_code"]) == ("interrupted", 130)
    assert record["swarm_process"]["pid"] == swarm.pid
    assert f"swarm (pid {swarm.pid}) ended without finishing the run" in record["message"]


def _runs_list(reports: Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(SWARM), "runs", "list", "--out", str(reports)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def _row(listing: str, run_id: str) -> list[str]:
    return next(line.split() for line in listing.splitlines() if line.startswith(run_id))
