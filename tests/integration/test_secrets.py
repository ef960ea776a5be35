"""Secret values are sent but never written: not by any file of the run folder, not by the
live web UI, not after a crash — and configuration from the environment stays intact.

The target echoes the API key header, the query key and the path back, in 200 bodies
(quoted by failed JSON checks) and in 401 error bodies, as careless APIs do. Three secrets
ride in a header, the query and the path (the path one in a request without ``name``, so
its path is its statistics name). ``USERS=100`` and ``BUILD_ID=1234`` are configuration
(users and a tag): with them, Locust's CSV header keeps its ``100%`` and run.json its tag.
"""

from __future__ import annotations

import csv
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
from pathlib import Path

import pytest

from tests.integration.child_processes import pids_with_marker
from tests.integration.echo_server import EchoServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
API_KEY = "sk-live-7f3a9c1e55"
QUERY_KEY = "qk-2b8d4e6f10"
PATH_TOKEN = "pt-9e1c3a5b77"
SECRETS = (API_KEY, QUERY_KEY, PATH_TOKEN)
CONFIG = {"USERS": "100", "BUILD_ID": "1234"}
RUN_DEADLINE_S = 60.0
POLL_S = 0.1

SCENARIO = """
    name: secrets echo
    headers: {X-API-Key: "${API_KEY}"}
    tags: {build: "${BUILD_ID}"}
    users:
      - name: caller
        think_time: {fixed_ms: 1000}
        requests:
          - {name: ok, path: /echo/plain}
          - path: /echo/${PATH_TOKEN}
            query: {key: "${QUERY_KEY}"}
            expect: {status: 200, json: [{path: echo.key, equals: nope}]}
          - name: echo-query
            path: /echo/plain
            query: {key: "${QUERY_KEY}"}
            expect: {json: [{path: echo.q, matches: "^nope$"}]}
          - path: /deny/${PATH_TOKEN}
            query: {key: "${QUERY_KEY}"}
          - name: deny-checked
            path: /deny/plain
            query: {key: "${QUERY_KEY}"}
            expect: {status: [200, 401], json: [{path: error, equals: fine}]}
    load: {shape: constant, users: "${USERS}", spawn_rate: 100, duration: DURATION}
"""


def _env() -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != "SWARM_HOST"},
        "PYTHONUNBUFFERED": "1",
        "API_KEY": API_KEY,
        "QUERY_KEY": QUERY_KEY,
        "PATH_TOKEN": PATH_TOKEN,
        **CONFIG,
    }


def _scenario(folder: Path, duration: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(SCENARIO.replace("DURATION", duration)), encoding="utf-8")
    return path


def _leaks(data: bytes) -> list[str]:
    return [secret for secret in SECRETS if secret.encode() in data]


def _folder_leaks(run_dir: Path) -> dict[str, list[str]]:
    """Every file under ``run_dir`` (recursively, as bytes) that holds a secret value."""
    found = {}
    for path in sorted(run_dir.rglob("*")):
        if path.is_file():
            leaks = _leaks(path.read_bytes())
            if leaks:
                found[str(path.relative_to(run_dir))] = leaks
    return found


def _swarm(children, folder: Path, target: str, run_id: str, *extra: str, duration: str):
    scenario = _scenario(folder, duration)
    command = [str(SWARM), "run", str(scenario), "--host", target]
    command += ["--out", str(folder / "reports"), "--run-id", run_id, *extra]
    log = (folder / "swarm.log").open("w")
    with log:
        return children.start(
            command, marker=run_id, cwd=folder, env=_env(), stdout=log, stderr=subprocess.STDOUT
        )


def _locust_pids(run_id: str, swarm_pid: int) -> list[int]:
    return [p for p in pids_with_marker(run_id) if p != swarm_pid]


def _wait_gone(run_id: str, deadline_s: float) -> list[int]:
    deadline = time.monotonic() + deadline_s
    while (left := pids_with_marker(run_id)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return left


def _timeline_lines(run_dir: Path) -> int:
    try:
        return len((run_dir / "timeline.jsonl").read_bytes().splitlines())
    except OSError:
        return 0


# --- (a) + (d): a headless run to its end ---------------------------------------------------


@dataclass(frozen=True)
class FinishedRun:
    returncode: int
    output: str
    run_dir: Path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, module_child_processes) -> FinishedRun:
    folder = tmp_path_factory.mktemp("secrets_finished")
    run_id = f"secrets-{uuid.uuid4().hex[:12]}"
    with EchoServer() as target:
        swarm = _swarm(module_child_processes, folder, target.url, run_id, duration="4s")
        returncode = swarm.wait(timeout=RUN_DEADLINE_S)
    return FinishedRun(
        returncode=returncode,
        output=(folder / "swarm.log").read_text(errors="replace"),
        run_dir=folder / "reports" / run_id,
    )


def test_no_file_of_the_run_folder_holds_a_secret_the_target_echoed(finished_run):
    assert finished_run.returncode == 0, finished_run.output[-3000:]
    assert _folder_leaks(finished_run.run_dir) == {}
    assert _leaks(finished_run.output.encode()) == []


def test_echoed_secrets_reached_the_target_and_are_masked_in_failure_messages(finished_run):
    with (finished_run.run_dir / "locust_failures.csv").open(newline="") as handle:
        failures = {(row["Name"], row["Error"]) for row in csv.DictReader(handle)}
    names = {name for name, _error in failures}
    assert {"/echo/${PATH_TOKEN}", "echo-query", "/deny/${PATH_TOKEN}", "deny-checked"} <= names
    errors = " ".join(error for _name, error in failures)
    # The target echoed the key, the query value and the path: each came back masked.
    assert "json echo.key = '***'" in errors
    assert "json echo.q = '***'" in errors
    assert "json error = 'invalid key ***" in errors


def test_a_path_without_name_is_labelled_by_its_path_as_written(finished_run):
    with (finished_run.run_dir / "locust_stats.csv").open(newline="") as handle:
        names = {row["Name"] for row in csv.DictReader(handle)}
    assert {"/echo/${PATH_TOKEN}", "/deny/${PATH_TOKEN}"} <= names
    timeline = (finished_run.run_dir / "timeline.jsonl").read_text()
    assert "/echo/${PATH_TOKEN}" in timeline


def test_configuration_from_the_environment_is_saved_intact(finished_run):
    assert finished_run.returncode == 0, finished_run.output[-3000:]
    with (finished_run.run_dir / "locust_stats.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert "100%" in header
    for line in (finished_run.run_dir / "timeline.jsonl").read_text().splitlines():
        json.loads(line)
    record = json.loads((finished_run.run_dir / "run.json").read_text())
    assert record["tags"] == {"build": "1234"}
    assert record["status"] == "finished" and record["exit_code"] == 0
    assert record["plan"]["peak_users"] == 100
    saved = (finished_run.run_dir / "scenario.yaml").read_text()
    assert "${API_KEY}" in saved and "${QUERY_KEY}" in saved and "${PATH_TOKEN}" in saved
    assert "1234" in saved and "${BUILD_ID}" not in saved and "${USERS}" not in saved
    assert (finished_run.run_dir / "results.json").is_file()


# --- (b) + (c): the live web UI, then the Locust master killed ------------------------------

UI_ENDPOINTS = (
    "/",
    "/stats/requests",
    "/stats/report",
    "/stats/report?download=1&theme=light",
    "/stats/failures/csv",
    "/stats/requests/csv",
    "/stats/requests_full_history/csv",
    "/exceptions",
    "/exceptions/csv",
    "/stats/exceptions",
    "/stats/exceptions/csv",
    "/tasks",
    "/logs",
)


def _fetch(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_for(predicate, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {deadline_s} s"
        time.sleep(POLL_S * 2)


@dataclass(frozen=True)
class WebRun:
    pages: dict[str, tuple[int, bytes]]
    failed_names: set[str]
    folder_leaks_after_kill: dict[str, list[str]]
    swarm_exit: int


@pytest.fixture(scope="module")
def web_run(tmp_path_factory, module_child_processes, free_port) -> WebRun:
    folder = tmp_path_factory.mktemp("secrets_web")
    run_id = f"secrets-web-{uuid.uuid4().hex[:12]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run_dir = folder / "reports" / run_id
    with EchoServer() as target:
        swarm = _swarm(
            module_child_processes,
            folder,
            target.url,
            run_id,
            "--web",
            "--web-port",
            str(port),
            duration="60s",
        )

        def ui_up() -> bool:
            assert swarm.poll() is None, (folder / "swarm.log").read_text()[-3000:]
            try:
                return _fetch(base + "/")[0] == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        _wait_for(ui_up, 30, "web UI")
        form = urllib.parse.urlencode({"user_count": "1", "spawn_rate": "1"}).encode()
        assert json.loads(_fetch(base + "/swarm", form)[1])["success"] is True

        def failed_names() -> set[str]:
            stats = json.loads(_fetch(base + "/stats/requests")[1])
            return {e["name"] for e in stats["errors"]}

        _wait_for(lambda: len(failed_names()) >= 4, 30, "failures of every failing name")
        pages = {path: _fetch(base + path) for path in UI_ENDPOINTS}
        names = failed_names()

        for pid in _locust_pids(run_id, swarm.pid):
            os.kill(pid, signal.SIGKILL)
        swarm_exit = swarm.wait(timeout=30)
    return WebRun(
        pages=pages,
        failed_names=names,
        folder_leaks_after_kill=_folder_leaks(run_dir.parent),  # the session and its runs
        swarm_exit=swarm_exit,
    )


def test_no_web_ui_response_holds_a_secret_during_a_run(web_run):
    assert web_run.pages["/stats/requests"][0] == 200
    assert web_run.pages["/stats/failures/csv"][0] == 200
    leaking = {path: _leaks(body) for path, (_code, body) in web_run.pages.items()}
    assert {path: found for path, found in leaking.items() if found} == {}
    assert b"***" in web_run.pages["/stats/failures/csv"][1]
    assert "/echo/${PATH_TOKEN}" in web_run.failed_names


def test_no_file_holds_a_secret_after_the_locust_master_is_killed(web_run):
    assert web_run.swarm_exit != 0
    assert web_run.folder_leaks_after_kill == {}


# --- (c): swarm itself killed mid-run ---------------------------------------------------------


def test_no_file_holds_a_secret_after_swarm_is_killed_mid_run(tmp_path, child_processes):
    run_id = f"secrets-kill-{uuid.uuid4().hex[:12]}"
    run_dir = tmp_path / "reports" / run_id
    with EchoServer() as target:
        swarm = _swarm(child_processes, tmp_path, target.url, run_id, duration="6s")
        _wait_for(lambda: _timeline_lines(run_dir) >= 2, 30, "timeline seconds")
        swarm.send_signal(signal.SIGKILL)
        swarm.wait(timeout=10)
        # Whatever the Locust process does now (ends its plan and writes its reports, or
        # dies with swarm), nothing it leaves may hold a secret.
        assert _wait_gone(run_id, 30) == []
    assert (run_dir / "locust.log").is_file()
    assert _folder_leaks(run_dir) == {}


# --- workers apply the same rule ------------------------------------------------------------


def test_no_file_holds_a_secret_in_a_distributed_run(tmp_path, child_processes):
    run_id = f"secrets-dist-{uuid.uuid4().hex[:12]}"
    run_dir = tmp_path / "reports" / run_id
    with EchoServer() as target:
        swarm = _swarm(
            child_processes, tmp_path, target.url, run_id, "--workers", "1", duration="3s"
        )
        returncode = swarm.wait(timeout=RUN_DEADLINE_S)
    output = (tmp_path / "swarm.log").read_text(errors="replace")
    assert returncode == 0, output[-3000:]
    assert (run_dir / "worker-1.log").is_file()
    with (run_dir / "locust_failures.csv").open(newline="") as handle:
        errors = " ".join(row["Error"] for row in csv.DictReader(handle))
    assert "json echo.key = '***'" in errors
    assert _folder_leaks(run_dir) == {}
    assert _leaks(output.encode()) == []
