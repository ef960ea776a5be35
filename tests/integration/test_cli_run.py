"""``swarm run`` as a user runs it: a subprocess against a real recording server.

Each run has a unique run id, which also finds the Locust process ``swarm`` starts (in a
session of its own), so teardown can stop it by pid and the SIGINT test can prove it ended.
Shared runs are module-scoped fixtures: one run, several behaviours checked on it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
SECRET = "sekrit-123"
RUN_DEADLINE_S = 40.0
POLL_S = 0.05


@dataclass(frozen=True)
class SwarmRun:
    """What one ``swarm run`` left behind."""

    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float
    run_dir: Path


def _write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_HOST", "API_KEY")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _run_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def _start_swarm(children, args: list[str], folder: Path, run_id: str | None, **env: str):
    stdout = (folder / "swarm.stdout").open("w")
    stderr = (folder / "swarm.stderr").open("w")
    with stdout, stderr:
        return children.start(
            [str(SWARM), "run", *args],
            marker=run_id,
            cwd=folder,
            env=_env(**env),
            stdout=stdout,
            stderr=stderr,
        )


def _finish(child, folder: Path, out: Path, run_id: str | None, started: float) -> SwarmRun:
    returncode = child.wait(timeout=RUN_DEADLINE_S)
    return SwarmRun(
        returncode=returncode,
        stdout=(folder / "swarm.stdout").read_text(),
        stderr=(folder / "swarm.stderr").read_text(),
        elapsed_s=time.monotonic() - started,
        run_dir=out / (run_id or "-"),
    )


def _swarm_run(children, folder: Path, args: list[str], run_id: str | None, **env: str):
    """``swarm run ARGS`` to the end (bounded by RUN_DEADLINE_S)."""
    out = folder / "reports"
    extra = ["--run-id", run_id] if run_id else []
    started = time.monotonic()
    child = _start_swarm(children, [*args, "--out", str(out), *extra], folder, run_id, **env)
    return _finish(child, folder, out, run_id, started)


def _run_json(run: SwarmRun) -> dict[str, Any]:
    return json.loads((run.run_dir / "run.json").read_text())


def _stats_rows(run_dir: Path) -> dict[str, dict[str, str]]:
    with (run_dir / "locust_stats.csv").open(newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def _at(phase: dict[str, str]) -> datetime:
    return datetime.fromisoformat(phase["at"].replace("Z", "+00:00"))


# --- a run that finishes ----------------------------------------------------------------------

FINISHED_SCENARIO = """
    name: cli finished
    host: http://127.0.0.1:CLOSED_PORT
    headers: {X-API-Key: "${API_KEY}"}
    users:
      - name: caller
        think_time: {fixed_ms: 20}
        requests:
          - {name: check, path: /ok, expect: {status: 200}}
    load:
      shape: stages
      stages:
        - {duration: 1s, users: 1, spawn_rate: 10}
        - {duration: 4s, users: 2, spawn_rate: 10}
"""
PLAN_DURATION_S = 5.0  # long enough for a non-empty analysed window


@dataclass(frozen=True)
class FinishedRun:
    run: SwarmRun
    server_url: str
    received: list


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, module_child_processes, free_port) -> FinishedRun:
    """A 5 s stages run whose scenario host is a closed port, overridden by ``--host``."""
    folder = tmp_path_factory.mktemp("finished")
    scenario = _write(folder, FINISHED_SCENARIO.replace("CLOSED_PORT", str(free_port())))
    with RecordingServer() as server:
        run = _swarm_run(
            module_child_processes,
            folder,
            [str(scenario), "--host", server.url],
            _run_id("finished"),
            API_KEY=SECRET,
        )
        received = server.requests()
    assert run.returncode == 0, run.stderr
    return FinishedRun(run=run, server_url=server.url, received=received)


def test_finished_run_exits_0_and_fills_its_run_folder(finished_run):
    run = finished_run.run
    files = {p.name for p in run.run_dir.iterdir()}
    assert {
        "scenario.yaml",
        "run.json",
        "locust.log",
        "locust_report.html",
        "locust_stats.csv",
        "locust_failures.csv",
        "locust_stats_history.csv",
    } <= files
    record = _run_json(run)
    assert record["status"] == "finished"
    assert record["exit_code"] == 0
    assert record["run_id"] == run.run_dir.name
    assert record["scenario"] == "cli finished"
    assert record["mode"] == "headless"
    assert record["ended_at"] and record["message"] is None
    assert "check" in _stats_rows(run.run_dir)


def test_run_json_records_the_plan(finished_run):
    plan = _run_json(finished_run.run)["plan"]
    assert plan["shape"] == "stages"
    assert plan["duration_s"] == PLAN_DURATION_S
    assert plan["peak_users"] == 2
    assert plan["phases"][0]["start_s"] == 0.0
    assert plan["phases"][-1]["end_s"] == PLAN_DURATION_S
    assert [p["users"] for p in plan["phases"]][-1] == 2


def test_run_json_phases_go_starting_running_stopping_finished_in_time_order(finished_run):
    record = _run_json(finished_run.run)
    phases = record["phases"]
    assert [p["name"] for p in phases] == ["starting", "running", "stopping", "finished"]
    times = [_at(p) for p in phases]
    assert times == sorted(times)
    assert record["started_at"] == phases[0]["at"]
    assert record["ended_at"] == phases[-1]["at"]


def test_shape_run_ends_by_itself_when_its_plan_ends(finished_run):
    phases = {p["name"]: _at(p) for p in _run_json(finished_run.run)["phases"]}
    ran_s = (phases["stopping"] - phases["running"]).total_seconds()
    # the shape is polled about once a second, so the end lands within ~1 s of the plan's
    assert PLAN_DURATION_S - 0.5 <= ran_s <= PLAN_DURATION_S + 2.0, ran_s
    assert finished_run.run.elapsed_s < PLAN_DURATION_S + 15


def test_host_flag_overrides_the_scenario_host(finished_run):
    assert _run_json(finished_run.run)["host"] == finished_run.server_url
    row = _stats_rows(finished_run.run.run_dir)["check"]
    assert int(row["Request Count"]) > 0
    assert int(row["Failure Count"]) == 0
    assert len(finished_run.received) >= int(row["Request Count"])


def test_env_secret_reaches_the_target_but_no_file_of_the_run_folder(finished_run):
    assert finished_run.received
    assert {r.header("X-API-Key") for r in finished_run.received} == {SECRET}
    leaks = [
        p.name
        for p in finished_run.run.run_dir.rglob("*")
        if p.is_file() and SECRET.encode() in p.read_bytes()
    ]
    assert leaks == []
    assert SECRET not in finished_run.run.stdout + finished_run.run.stderr


def test_saved_scenario_shows_the_variable_not_its_value(finished_run):
    saved = yaml.safe_load((finished_run.run.run_dir / "scenario.yaml").read_text())
    assert saved["headers"] == {"X-API-Key": "${API_KEY}"}
    assert saved["name"] == "cli finished"


# --- an unreachable target ------------------------------------------------------------------

UNREACHABLE_SCENARIO = """
    name: unreachable
    users:
      - name: caller
        think_time: {fixed_ms: 20}
        requests:
          - {name: check, path: /ok}
    load: {shape: constant, users: 2, spawn_rate: 2, duration: 2s}
"""


def test_unreachable_target_finishes_and_counts_every_request_as_failed(
    tmp_path, child_processes, free_port
):
    scenario = _write(tmp_path, UNREACHABLE_SCENARIO)
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = _swarm_run(child_processes, tmp_path, [str(scenario), "--host", host], _run_id("down"))

    # the run itself finished; its verdict fails: no request succeeded (design contract 6)
    assert run.returncode == 1, run.stderr
    assert _run_json(run)["status"] == "finished"
    row = _stats_rows(run.run_dir)["check"]
    assert int(row["Request Count"]) > 0
    assert int(row["Failure Count"]) == int(row["Request Count"])
    failures = (run.run_dir / "locust_failures.csv").read_text()
    assert "ConnectionRefused" in failures or "Connection refused" in failures


# --- interrupted with SIGINT ----------------------------------------------------------------

LONG_SCENARIO = """
    name: long
    users:
      - name: caller
        think_time: {fixed_ms: 20}
        requests:
          - {name: check, path: /ok}
    load: {shape: constant, users: 2, spawn_rate: 2, duration: 60s}
"""


@dataclass(frozen=True)
class InterruptedRun:
    run: SwarmRun
    locust_pids: list[int]
    pids_after: list[int]
    stop_s: float


def _wait_for(predicate, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {deadline_s} s waiting for {what}"
        time.sleep(POLL_S)


def _status(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "run.json").read_text())["status"]
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory, module_child_processes) -> InterruptedRun:
    """A 60 s run stopped by SIGINT once the target has seen some traffic."""
    folder = tmp_path_factory.mktemp("interrupted")
    scenario = _write(folder, LONG_SCENARIO)
    run_id = _run_id("sigint")
    out = folder / "reports"
    with RecordingServer() as server:
        args = [str(scenario), "--host", server.url, "--out", str(out), "--run-id", run_id]
        started = time.monotonic()
        child = _start_swarm(module_child_processes, args, folder, run_id)
        _wait_for(lambda: _status(out / run_id) == "running", 20, "run.json status running")
        _wait_for(lambda: len(server.requests()) >= 20, 20, "traffic at the target")
        locust_pids = [
            pid for pid in module_child_processes.pids_with_marker(run_id) if pid != child.pid
        ]
        interrupted_at = time.monotonic()
        child.send_signal(signal.SIGINT)
        run = _finish(child, folder, out, run_id, started)
        stop_s = time.monotonic() - interrupted_at
    return InterruptedRun(
        run=run,
        locust_pids=locust_pids,
        pids_after=module_child_processes.pids_with_marker(run_id),
        stop_s=stop_s,
    )


def test_sigint_stops_the_run_with_exit_130_and_a_valid_run_folder(interrupted_run):
    run = interrupted_run.run
    assert run.returncode == 130, run.stderr
    assert interrupted_run.stop_s < 15
    record = _run_json(run)
    assert record["status"] == "interrupted"
    assert record["exit_code"] == 130
    assert [p["name"] for p in record["phases"]][-1] == "interrupted"
    assert (run.run_dir / "scenario.yaml").is_file()
    assert "Aggregated" in _stats_rows(run.run_dir)  # Locust's stats CSV is there


def test_sigint_leaves_no_locust_process_behind(interrupted_run):
    assert len(interrupted_run.locust_pids) == 1, interrupted_run.locust_pids
    (pid,) = interrupted_run.locust_pids
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert interrupted_run.pids_after == []


def test_sigint_lets_locust_shut_down_and_write_its_html_report(interrupted_run):
    run_dir = interrupted_run.run.run_dir
    assert "Shutting down" in (run_dir / "locust.log").read_text()
    assert (run_dir / "locust_report.html").is_file()


# --- invalid input ----------------------------------------------------------------------------

INVALID_SCENARIO = """
    name: invalid
    users:
      - name: caller
        requests:
          - {path: /ok, methd: GET}
    load: {shape: constant, users: 0, duration: 1s}
"""


def test_invalid_scenario_exits_2_with_located_problems_and_no_traceback(tmp_path, child_processes):
    scenario = _write(tmp_path, INVALID_SCENARIO)
    run = _swarm_run(
        child_processes, tmp_path, [str(scenario), "--host", "http://127.0.0.1:9"], None
    )

    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "unknown key 'methd'; did you mean 'method'?" in run.stderr
    assert "load.users" in run.stderr
    assert not (tmp_path / "reports").exists()


def test_run_id_that_escapes_the_reports_folder_exits_2(tmp_path, child_processes):
    scenario = _write(tmp_path, UNREACHABLE_SCENARIO)
    run = _swarm_run(
        child_processes, tmp_path, [str(scenario), "--host", "http://127.0.0.1:9"], "../escape"
    )

    assert run.returncode == 2
    assert "--run-id" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "reports").exists()
