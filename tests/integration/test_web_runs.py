"""``swarm run --web``: each start in the web UI is a complete run of its own.

A real ``swarm run --web`` (one process, or a master with two workers) against a recording
server, driven through the web UI's own HTTP API (``/swarm``, ``/stop``) as a browser would,
and stopped with SIGINT as a person would with Ctrl-C. Every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from framework.store.results_store import ResultsStore
from tests.integration.recording_server import RecordingServer
from tests.integration.test_web_ui import SWARM, _get, _post, _wait_for_ui, _write

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

POLL_S = 0.1
PLAN_S = 3.0

SHORT_PLAN = f"""
    name: web runs
    users:
      - name: visitor
        think_time: {{fixed_ms: 50}}
        requests:
          - {{name: list, path: /ok}}
    load:
      shape: stages
      stages:
        - {{duration: 1s, users: 1, spawn_rate: 10}}
        - {{duration: {PLAN_S - 1:g}s, users: 2, spawn_rate: 10}}
"""


def _json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _wait(what: str, check, deadline_s: float, log: Path) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, (
            f"no {what} in {deadline_s} s:\n{log.read_text()[-3000:]}"
        )
        time.sleep(POLL_S)


def _status(run_dir: Path) -> str | None:
    record = _json(run_dir / "run.json")
    return record.get("status") if record else None


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


@dataclass
class WebSession:
    folder: Path
    reports: Path
    session_id: str
    base: str
    process: subprocess.Popen
    log: Path

    def run_dir(self, n: int) -> Path:
        return self.reports / f"{self.session_id}-{n}"


def _start_session(
    folder: Path, children, free_port, server_url: str, workers: int, plan: str = SHORT_PLAN
) -> WebSession:
    scenario = _write(folder, plan)
    session_id = f"web-{uuid.uuid4().hex[:10]}"
    port = free_port()
    log = folder / "swarm.log"
    command = [str(SWARM), "run", str(scenario), "--host", server_url, "--workers", str(workers)]
    command += ["--out", str(folder / "reports"), "--run-id", session_id]
    command += ["--web", "--web-port", str(port)]
    process = children.start(command, marker=session_id, log=log, extra_env={})
    base = f"http://127.0.0.1:{port}"
    _wait_for_ui(base, process, log)
    session = WebSession(folder, folder / "reports", session_id, base, process, log)
    if workers:
        _wait("workers", lambda: _get(base + "/stats/requests").get("worker_count") == workers,
              30, log)  # fmt: skip
    return session


@dataclass(frozen=True)
class TwoRuns:
    session: WebSession
    runs_listed: dict[str, Any]
    report_status: int
    report_is_html: bool
    traversal_status: int
    unknown_status: int
    returncode: int
    indexed: set[str]


@pytest.fixture(scope="module", params=[0, 2], ids=["local", "workers-2"])
def two_runs(request, tmp_path_factory, module_child_processes, free_port) -> TwoRuns:
    """Start 1 runs its plan to the end; start 2 is stopped with Stop; then Ctrl-C."""
    folder = tmp_path_factory.mktemp(f"web_runs_{request.param}")
    with RecordingServer() as server:
        web = _start_session(folder, module_child_processes, free_port, server.url, request.param)
        assert _post(web.base + "/swarm")["success"] is True
        _wait(
            "first run's end", lambda: _status(web.run_dir(1)) == "finished", PLAN_S + 30, web.log
        )
        _wait("Locust stopped", lambda: _get(web.base + "/stats/requests")["state"] == "stopped",
              20, web.log)  # fmt: skip
        first_run = len(server.requests())
        assert _post(web.base + "/swarm")["success"] is True
        _wait("second run running", lambda: _status(web.run_dir(2)) == "running", 20, web.log)
        # the target's count, not Locust's statistics: those still hold the first run's
        _wait("second run's requests", lambda: len(server.requests()) > first_run, 20, web.log)
        assert _post(web.base + "/stop")["success"] is True
        _wait("second run's end", lambda: _status(web.run_dir(2)) == "finished", 30, web.log)
        _wait("reports", lambda: all(_get(web.base + "/swarm/runs")["runs"][i]["report"]
              for i in (0, 1)), 60, web.log)  # fmt: skip
        listed = _get(web.base + "/swarm/runs")
        status, body = _fetch(web.base + listed["runs"][0]["report"])
        traversal, _ = _fetch(f"{web.base}/swarm/reports/{web.session_id}-1/..%2Frun.json")
        unknown, _ = _fetch(f"{web.base}/swarm/reports/{web.session_id}/session.json")
        web.process.send_signal(signal.SIGINT)
        returncode = web.process.wait(timeout=40)
    with ResultsStore(web.reports) as store:
        indexed = {run.run_id for run in store.list(None, limit=10)}
    return TwoRuns(
        session=web,
        runs_listed=listed,
        report_status=status,
        report_is_html=body.lstrip().lower().startswith(b"<!doctype html"),
        traversal_status=traversal,
        unknown_status=unknown,
        returncode=returncode,
        indexed=indexed,
    )


def test_each_start_is_a_complete_run_folder_with_report_and_index_entry(two_runs):
    web = two_runs.session
    for n in (1, 2):
        run_dir = web.run_dir(n)
        record = _json(run_dir / "run.json")
        assert record["status"] == "finished" and record["exit_code"] == 0, record
        assert record["mode"] == "web"
        assert record["session"]["id"] == web.session_id and record["session"]["run"] == n
        assert [p["name"] for p in record["phases"]][-2:] == ["stopping", "finished"]
        for name in (
            "scenario.yaml",
            "timeline.jsonl",
            "locust.log",
            "results.json",
            "report.html",
        ):
            assert (run_dir / name).is_file(), (run_dir, name)
        last = (run_dir / "timeline.jsonl").read_text().splitlines()[-1]
        assert json.loads(last)["type"] == "end"
        assert (
            json.loads((run_dir / "results.json").read_text())["run"]["run_id"] == record["run_id"]
        )
    assert two_runs.indexed == {f"{web.session_id}-1", f"{web.session_id}-2"}


def test_the_plan_ending_and_stop_both_end_a_run_finished(two_runs):
    web = two_runs.session
    assert _json(web.run_dir(1) / "run.json")["message"] == "the load plan ended"
    assert _json(web.run_dir(2) / "run.json")["message"] == "stopped in the web UI"


def test_each_run_has_its_own_requests_in_its_own_timeline(two_runs):
    web = two_runs.session
    first = json.loads((web.run_dir(1) / "timeline.jsonl").read_text().splitlines()[0])
    second = json.loads((web.run_dir(2) / "timeline.jsonl").read_text().splitlines()[0])
    ended_1 = json.loads((web.run_dir(1) / "timeline.jsonl").read_text().splitlines()[-1])
    assert second["created_s"] > ended_1["t_s"] > first["created_s"]
    for n in (1, 2):
        lines = [json.loads(line) for line in (web.run_dir(n) / "timeline.jsonl").open()]
        times = [line["t"] for line in lines if line["type"] in ("req", "sec", "late")]
        header, end = lines[0], lines[-1]
        assert times and min(times) >= int(header["created_s"]) and max(times) <= end["t_s"]
        assert sum(line["count"] for line in lines if line["type"] in ("req", "late")) > 0


def test_ctrl_c_after_the_runs_exits_0_and_the_session_records_its_runs(two_runs):
    web = two_runs.session
    assert two_runs.returncode == 0, web.log.read_text()[-3000:]
    session = _json(web.reports / web.session_id / "session.json")
    assert session["status"] == "finished" and session["exit_code"] == 0
    assert [r["run_id"] for r in session["session"]["runs"]] == [
        f"{web.session_id}-1",
        f"{web.session_id}-2",
    ]
    assert not (web.reports / web.session_id / "run.json").exists()  # a session is no run


def test_swarm_runs_lists_the_session_runs_with_report_links(two_runs):
    web = two_runs.session
    listed = two_runs.runs_listed
    assert listed["session"] == web.session_id
    assert [r["run_id"] for r in listed["runs"]] == [f"{web.session_id}-1", f"{web.session_id}-2"]
    for run in listed["runs"]:
        assert run["state"] == "finished" and run["exit_code"] == 0
        assert run["started_at"] < run["ended_at"]
        assert run["report"] == f"/swarm/reports/{run['run_id']}/report.html"
    assert two_runs.report_status == 200 and two_runs.report_is_html


def test_swarm_reports_serves_only_files_of_this_session_runs(two_runs):
    assert two_runs.traversal_status == 404
    assert two_runs.unknown_status == 404


def test_ctrl_c_during_a_run_exits_130_and_that_run_is_interrupted_and_complete(
    tmp_path, child_processes, free_port
):
    with RecordingServer() as server:
        long_plan = SHORT_PLAN.replace(f"{PLAN_S - 1:g}s, users: 2", "60s, users: 2")
        web = _start_session(tmp_path, child_processes, free_port, server.url, 0, long_plan)
        assert _post(web.base + "/swarm")["success"] is True
        _wait("a running run", lambda: _status(web.run_dir(1)) == "running", 20, web.log)
        _wait("requests", lambda: server.requests("/ok"), 10, web.log)
        web.process.send_signal(signal.SIGINT)
        returncode = web.process.wait(timeout=40)
    assert returncode == 130, web.log.read_text()[-3000:]
    record = _json(web.run_dir(1) / "run.json")
    assert record["status"] == "interrupted" and record["exit_code"] == 130
    assert (web.run_dir(1) / "report.html").is_file()
    assert (
        json.loads((web.run_dir(1) / "timeline.jsonl").read_text().splitlines()[-1])["type"]
        == "end"
    )
    session = _json(web.reports / web.session_id / "session.json")
    assert session["status"] == "interrupted" and session["exit_code"] == 130
    with ResultsStore(web.reports) as store:
        assert [r.run_id for r in store.list(None, limit=5)] == [f"{web.session_id}-1"]


def test_ctrl_c_with_no_run_started_exits_0(tmp_path, child_processes, free_port):
    with RecordingServer() as server:
        web = _start_session(tmp_path, child_processes, free_port, server.url, 0)
        _wait("the web-ui phase", lambda: (_json(web.reports / web.session_id / "session.json")
              or {}).get("status") == "web-ui", 10, web.log)  # fmt: skip
        web.process.send_signal(signal.SIGINT)
        assert web.process.wait(timeout=30) == 0, web.log.read_text()[-3000:]
    assert not list(web.reports.glob(f"{web.session_id}-*"))


# --- the start form, in a real browser ------------------------------------------------------


def test_start_form_asks_nothing_the_plan_decides_and_starts_a_run(
    browser, tmp_path, child_processes, free_port
):
    from selenium.webdriver.common.by import By

    with RecordingServer() as server:
        web = _start_session(tmp_path, child_processes, free_port, server.url, 0)
        browser.get(web.base + "/")
        _wait("the start form", lambda: browser.find_elements(By.NAME, "userCount"), 20, web.log)
        for name in ("userCount", "spawnRate", "runTime"):
            for field in browser.find_elements(By.NAME, name):
                assert not field.is_displayed(), name
        visible = [e for e in browser.find_elements(By.CSS_SELECTOR, "input") if e.is_displayed()]
        assert [e.get_attribute("name") for e in visible] == ["host"]
        assert not [e for e in visible if e.get_attribute("required")]
        note = browser.execute_script(
            "return getComputedStyle(document.querySelector('form'), '::before').content"
        )
        assert "load plan: stages, 3 s, up to 2 users" in note
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        _wait("a run started from the form", lambda: _status(web.run_dir(1)) == "running", 20,
              web.log)  # fmt: skip
        assert _post(web.base + "/stop")["success"] is True
        _wait("its end", lambda: _status(web.run_dir(1)) == "finished", 30, web.log)
        web.process.send_signal(signal.SIGINT)
        assert web.process.wait(timeout=40) == 0, web.log.read_text()[-3000:]
