"""``shape: find_capacity`` stops a real run early: ``swarm run --workers 2`` against a
target of known capacity (``queueing_server``: one request at a time, 50 ms each).

Steps of 1 and 5 users (of at most 4) under a p95 budget of 150 ms: 1 user waits about
50 ms, 5 users about 250 ms (Little's law), so step 1 meets the budget with confidence and
step 2 fails it with confidence once 10 s of its plateau are in. The run must stop there,
well before the plan's 48 s, end ``finished`` (not aborted) with the reason ``capacity
search: …``, and keep the search in run.json; the progress line names the step judged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime

import pytest

from tests.integration.queueing_server import QueueingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

RUN_DEADLINE_S = 100.0
PLAN_S = 48.0  # 4 steps of 12 s


@pytest.fixture(scope="module")
def search_run(tmp_path_factory, module_child_processes):
    folder = tmp_path_factory.mktemp("find-capacity")
    with QueueingServer() as server:
        scenario = folder / "find-capacity.yaml"
        scenario.write_text(
            textwrap.dedent(
                f"""\
                name: capacity-probe
                host: {server.url}
                timeout: 5s
                users:
                  - name: clients
                    requests: [{{name: work, path: /work}}]
                load: {{shape: find_capacity, start_users: 1, step_users: 4,
                        step_duration: 12s, max_steps: 4, spawn_rate: 10}}
                budgets: {{overall: {{p95_ms: 150}}}}
                """
            ),
            encoding="utf-8",
        )
        run_id = f"capacity-{uuid.uuid4().hex[:12]}"
        command = [sys.executable, "-m", "framework.cli.main", "run", str(scenario)]
        command += ["--out", str(folder / "reports"), "--run-id", run_id, "--workers", "2"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SWARM_PROGRESS_INTERVAL_S": "2"}
        output = folder / "swarm.out"
        with output.open("w") as out:
            child = module_child_processes.start(
                command, marker=run_id, cwd=folder, env=env, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            code = child.wait(timeout=RUN_DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"swarm still running after {RUN_DEADLINE_S:g} s")
    run_dir = folder / "reports" / run_id
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    return code, record, output.read_text(encoding="utf-8"), run_dir


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_search_stops_the_run_at_the_first_step_that_fails_its_budget(search_run):
    _code, record, _out, _run_dir = search_run
    search = record["capacity_search"]
    assert search["steps_run"] == 2
    assert search["stopped_at_step"] == "step 2"
    assert search["reason"].startswith("step 2 (5 users) failed a budget with confidence")
    assert "overall p95_ms" in search["reason"] and search["reason"].endswith("failing")
    stopped = _at(search["stopped_at"])
    running = next(_at(t["at"]) for t in record["transitions"] if t["state"] == "running")
    # step 2's plateau begins 13 s in; 10 s of it are judged: well before the plan's end
    assert 20 <= stopped - running < PLAN_S - 10
    assert record["plan"]["shape"] == "find_capacity"
    assert record["plan"]["duration_s"] == PLAN_S


def test_a_stopped_search_ends_the_run_finished_with_its_reason(search_run):
    _code, record, _out, _run_dir = search_run
    assert record["status"] == "finished" and record["exit_code"] == 0
    assert record["abort"] is None
    assert record["message"].startswith("capacity search: step 2 (5 users)")
    finished = [t for t in record["transitions"] if t["state"] == "finished"]
    assert len(finished) == 1
    assert finished[0]["reason"] == f"capacity search: {record['capacity_search']['reason']}"


def test_the_progress_line_names_the_step_being_judged(search_run):
    _code, _record, out, _run_dir = search_run
    lines = [line for line in out.splitlines() if line.startswith("swarm progress")]
    assert any("capacity search: judging step 1 of at most 4 (1 users)" in ln for ln in lines)
    assert any("capacity search: judging step 2 of at most 4 (5 users)" in ln for ln in lines)
    assert not any("judging step 3" in line for line in lines)


def test_the_report_judges_the_capacity_found_and_exits_0(search_run):
    code, _record, _out, run_dir = search_run
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    capacity = results["capacity"]
    # step 1 met the budget with confidence: capacity found (docs/capacity.md's verdict)
    assert capacity["verdict"] == "pass"
    assert capacity["message"].startswith("capacity 1 users")
    assert code == 0
