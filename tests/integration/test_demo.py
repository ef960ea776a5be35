"""The README's first Quick start command, ``swarm demo``, end to end.

It starts the ``success`` mock detector, runs ``scenarios/demo.yaml`` on a master with two
workers, analyses the run and ends by printing the path of ``report.html``; its exit code
is non-zero only when a budget fails. The run is long enough to meet the default
validation rules (about three and a half minutes): its figures are trustworthy, and its
report says so.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.integration import background_demo

pytestmark = pytest.mark.integration

MOCK_MAX_MS = 500.0  # the `success` detector: uniform 200–500 ms


@pytest.fixture(scope="module")
def demo():
    """The demo started in the background as collection ended (``background_demo``)."""
    run = background_demo.start()
    if run is None:
        pytest.skip("the swarm console script is not installed, or no port is free for the mock")
    returncode, stdout, stderr = run.finish()
    return returncode, stdout, stderr, run.out, run.offset


def test_demo_ends_by_printing_the_report_html_path(demo):
    returncode, stdout, stderr, out, _offset = demo
    assert returncode == 0, stderr[-3000:]
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("swarm demo: run finished; report: ")
    report = Path(last.rsplit(" ", 1)[-1])
    assert report.name == "report.html" and report.is_file()
    assert report.parent.parent == out


def test_demo_runs_on_a_master_and_two_workers_against_the_mock(demo):
    _returncode, _stdout, _stderr, out, offset = demo
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "finished"
    assert run["workers"] == 2
    assert [w["exit_code"] for w in run["worker_processes"]] == [0, 0]
    assert run["host"] == f"http://127.0.0.1:{8001 + offset}"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["verdict"] == "passed"
    assert {b["verdict"] for b in results["budgets"]} == {"pass"}
    assert results["baseline"]["overall"]["count"] > 0
    for name in ("report.md", "junit.xml", "metrics.prom", "timeline.jsonl"):
        assert (run_dir / name).is_file(), name


def test_demo_run_meets_its_own_validation_rules(demo):
    _returncode, stdout, _stderr, out, _offset = demo
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    slowest_ms = results["baseline"]["overall"]["max_ms"]
    if not results["meets_requirements"] and slowest_ms > MOCK_MAX_MS * 1.02:
        # The mock never waits longer than 500 ms: a slower answer means the machine was
        # too busy to serve it on time (a neighbour's load), and the quality checks were
        # right to distrust the run. That says nothing about the demo.
        pytest.skip(f"machine too busy: an answer took {slowest_ms:.0f} ms, the mock's max is 500")
    assert results["meets_requirements"], results["validation_errors"]
    assert results["baseline"]["overall"]["count"] >= 1000
    assert "not yet trustworthy" not in stdout
    summary = next(line for line in stdout.splitlines() if line.startswith("swarm report:"))
    assert summary.startswith("swarm report: PASSED")
    assert "not yet trustworthy" not in (run_dir / "report.md").read_text()


def test_demo_says_what_the_mock_answers_and_how_long_it_runs(demo):
    _returncode, _stdout, stderr, _out, _offset = demo
    assert "answers uniform 200–500 ms" in stderr
    assert "for 3m30s (10 users, 2 workers)" in stderr


def test_demo_report_links_locust_own_report(demo):
    _returncode, _stdout, _stderr, out, _offset = demo
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert (run_dir / "locust_report.html").is_file()
    assert 'href="locust_report.html"' in (run_dir / "report.html").read_text()


def test_demo_leaves_no_mock_detector_running(demo):
    _returncode, _stdout, _stderr, _out, offset = demo
    with pytest.raises(ConnectionRefusedError), socket.socket() as probe:
        probe.connect(("127.0.0.1", 8001 + offset))
