"""A run that did not measure does not pass: real ``swarm run`` subprocesses, bounded.

Against a closed port every request is a ~1 ms connection refusal: with a p95 budget the
run must fail and say why, not pass on the refusals' latency. A body template that raises
fails each request with kind ``template`` (no traceback in Locust's log), and the run fails.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.recording_server import RecordingServer
from tests.integration.test_cli_run import _run_id, _swarm_run, _write

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TARGET_DOWN = """
    name: target down
    users:
      - name: caller
        think_time: {fixed_ms: 20}
        requests:
          - {name: check, path: /ok}
    load: {shape: constant, users: 2, spawn_rate: 2, duration: 3s}
    budgets:
      overall: {p95_ms: 500}
"""

BROKEN_TEMPLATE = """
    name: broken template
    users:
      - name: caller
        requests:
          - {name: post, path: /ok, method: POST, json: {n: "{{ 1 // 0 }}"}}
    load: {shape: constant, users: 2, spawn_rate: 2, duration: 3s}
"""


def _results(run) -> dict:
    return json.loads((run.run_dir / "results.json").read_text())


def test_a_p95_budget_against_a_target_that_is_down_fails_and_says_why(
    tmp_path, child_processes, free_port
):
    scenario = _write(tmp_path, TARGET_DOWN)
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = _swarm_run(child_processes, tmp_path, [str(scenario), "--host", host], _run_id("down"))

    assert run.returncode == 1, run.stderr
    results = _results(run)
    assert results["verdict"] == "failed"
    assert results["evidence"][0].startswith("no request succeeded: all ")
    assert "ConnectionRefusedError" in results["evidence"][0]
    (budget,) = results["budgets"]
    assert budget["verdict"] == "fail"
    assert "no successful request to measure" in budget["message"]
    overall = results["baseline"]["overall"]
    assert overall["p95_ms"]["value"] is None  # the refusals' latency is not a p95
    assert overall["failure_latency"]["count"] == overall["count"] > 0
    assert "no request succeeded" in (run.run_dir / "report.md").read_text()
    assert "FAILED" in run.stdout


def test_a_template_that_raises_fails_its_requests_without_a_traceback(tmp_path, child_processes):
    scenario = _write(tmp_path, BROKEN_TEMPLATE)
    with RecordingServer() as server:
        run = _swarm_run(
            child_processes, tmp_path, [str(scenario), "--host", server.url], _run_id("tpl")
        )
        received = server.requests()

    assert run.returncode == 1, run.stderr
    assert received == []  # nothing was sent
    results = _results(run)
    assert results["verdict"] == "failed"
    (post,) = results["baseline"]["endpoints"]
    assert post["count"] > 0 and post["failures_by_kind"] == {"template": post["count"]}
    assert "no request succeeded" in results["evidence"][0]
    log = (run.run_dir / "locust.log").read_text()
    assert "Traceback" not in log and "ZeroDivisionError" not in log.split("Error report")[0]
    failures = (run.run_dir / "locust_failures.csv").read_text()
    assert "template error in users[0].requests[0].json: ZeroDivisionError" in failures
