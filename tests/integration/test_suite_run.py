"""``swarm suite`` end to end: real ``swarm run`` children against a real mock detector the
suite starts from its ``mocks:`` and stops after; the suite folder's suite.json, suite.md
and suite.html; exit codes (a failing test → 1 and the rest skipped, ``--keep-going``,
``--type``); a scalability test at 1 and 2 workers; ``--report-only``; Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.child_processes import REPO_ROOT

pytestmark = pytest.mark.integration

SCENARIO = """\
name: probe
host: http://127.0.0.1:{port}
users:
  - name: client
    think_time: {{fixed_ms: 50}}
    requests:
      - {{name: detect, method: POST, path: /detect, json: {{content: x}}, expect: {{status: 200}}}}
load: {{shape: constant, users: 4, spawn_rate: 4, duration: 4s}}
"""

MOCKS = """\
host: 127.0.0.1
detectors:
  fast:
    port: {port}
    latency: {{model: uniform, min_ms: 20, max_ms: 40}}
"""

SUITE = """\
name: probe-suite
targets: {p95_ms: 2000, success_rate: 95%}
mocks: mocks.yaml
tests:
  - {name: smoke-fast, type: smoke, scenario: probe.yaml}
  - name: too-slow
    type: load
    scenario: probe.yaml
    targets: {p95_ms: 5}
  - name: scale-fast
    type: scalability
    scenario: probe.yaml
    set: {load.duration: 5s}
    scale: {workers: [1, 2], per_worker: {load.users: 2, load.spawn_rate: 2}}
"""

LONG_SUITE = """\
name: long-suite
mocks: mocks.yaml
tests:
  - {name: too-slow, type: load, scenario: probe.yaml, targets: {p95_ms: 5}}
  - {name: long, type: soak, scenario: probe.yaml, set: {load.duration: 90s}}
  - {name: never, type: smoke, scenario: probe.yaml}
"""


def _swarm(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "framework.cli", "suite", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT,
    )  # fmt: skip


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _suite_dirs(reports: Path, name: str) -> list[Path]:
    return sorted((reports / "suites").glob(f"*-{name}"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory, free_port):
    folder = tmp_path_factory.mktemp("suite")
    port = free_port()
    (folder / "probe.yaml").write_text(SCENARIO.format(port=port), encoding="utf-8")
    (folder / "mocks.yaml").write_text(MOCKS.format(port=port), encoding="utf-8")
    (folder / "suite.yaml").write_text(SUITE, encoding="utf-8")
    (folder / "long.yaml").write_text(LONG_SUITE, encoding="utf-8")
    return folder, port, folder / "reports"


@pytest.fixture(scope="module")
def stopped_at_failure(setup):
    """The whole suite without --keep-going: smoke passes, too-slow fails, scale skipped."""
    folder, port, reports = setup
    done = _swarm(str(folder / "suite.yaml"), "--out", str(reports), "--quiet")
    (suite_dir,) = _suite_dirs(reports, "probe-suite")
    return done, suite_dir, port


@pytest.fixture(scope="module")
def scaled(setup, stopped_at_failure):
    """``--type scalability``: the scale test alone, at 1 and 2 workers."""
    folder, _port, reports = setup
    done = _swarm(str(folder / "suite.yaml"), "--type", "scalability", "--out", str(reports),
                  "--quiet")  # fmt: skip
    newest = _suite_dirs(reports, "probe-suite")[-1]
    return done, newest


def test_a_failing_test_fails_the_suite_and_skips_the_rest(stopped_at_failure):
    done, suite_dir, port = stopped_at_failure
    assert done.returncode == 1, done.stderr[-3000:]
    suite = json.loads((suite_dir / "suite.json").read_text())
    assert suite["test_suite"] == "probe-suite" and suite["interrupted"] is False
    assert suite["summary"]["total"] == 3 and suite["summary"]["passed"] == 1
    assert (suite["summary"]["failed"], suite["summary"]["skipped"]) == (1, 1)
    (smoke,) = suite["results"]["smoke"]
    (slow,) = suite["results"]["load"]
    (scale,) = suite["results"]["scalability"]
    assert (smoke["status"], smoke["exit_code"]) == ("passed", 0)
    assert (slow["status"], slow["exit_code"], slow["verdict"]) == ("failed", 1, "failed")
    assert any("p95_ms" in reason for reason in slow["reasons"])
    assert scale["status"] == "skipped" and scale["runs"] == []
    assert scale["reasons"] == ["not run: too-slow failed (use --keep-going to run the rest)"]
    # each test is a normal run with its own folder, its targets as --set budgets
    report = (suite_dir / smoke["report"]).resolve()
    assert report.is_file() and report.parent.name == smoke["run_id"]
    run = json.loads((report.parent / "run.json").read_text())
    assert run["status"] == "finished"
    assert "budgets.overall.p95_ms=2000" in run["overrides"]
    assert "budgets.overall.error_rate=0.05" in run["overrides"]
    assert smoke["figures"]["throughput_rps"]["value"] > 0
    assert smoke["figures"]["p95_ms"]["low"] <= smoke["figures"]["p95_ms"]["value"]
    md = (suite_dir / "suite.md").read_text()
    assert f"[report](../../{smoke['run_id']}/report.html)" in md
    html = (suite_dir / "suite.html").read_text()
    assert f'href="../../{slow["run_id"]}/report.html"' in html
    assert "started mock detectors fast" in done.stderr
    assert not _answers(port)  # the mock the suite started is stopped


def test_type_picks_the_scalability_test_which_runs_once_per_worker_count(scaled):
    done, suite_dir = scaled
    assert done.returncode == 0, done.stderr[-3000:]
    suite = json.loads((suite_dir / "suite.json").read_text())
    assert list(suite["results"]) == ["scalability"] and suite["summary"]["total"] == 1
    (entry,) = suite["results"]["scalability"]
    assert entry["status"] == "passed"
    assert [r["workers"] for r in entry["runs"]] == [1, 2]
    assert [r["run_id"][-3:] for r in entry["runs"]] == ["-w1", "-w2"]
    for run in entry["runs"]:
        record = json.loads((suite_dir / run["run_dir"] / "run.json").read_text())
        assert record["workers"] == run["workers"]
        assert record["plan"]["peak_users"] == 2 * run["workers"]  # per_worker
    points = entry["scaling"]["points"]
    assert [p["workers"] for p in points] == [1, 2]
    assert all(p["throughput_rps"]["value"] > 0 for p in points)
    assert points[1]["efficiency"]["value"] > 0
    assert "scaling" in (suite_dir / "suite.md").read_text()


def test_report_only_rebuilds_the_newest_suite_folder_from_its_runs(setup, scaled):
    folder, _port, reports = setup
    newest = _suite_dirs(reports, "probe-suite")[-1]
    before = json.loads((newest / "suite.json").read_text())
    (newest / "suite.html").unlink()
    done = _swarm(str(folder / "suite.yaml"), "--report-only", "--out", str(reports))
    assert done.returncode == (0 if before["exit_code"] == 0 else 1), done.stderr
    after = json.loads((newest / "suite.json").read_text())
    assert (newest / "suite.html").is_file()
    assert after["summary"] == before["summary"]
    assert after["results"].keys() == before["results"].keys()
    first = _suite_dirs(reports, "probe-suite")[0]
    again = _swarm(str(folder / "suite.yaml"), "--report-only", "--suite-dir", str(first),
                   "--out", str(reports))  # fmt: skip
    assert again.returncode == 1


def test_keep_going_then_ctrl_c_stops_the_run_cleanly_writes_the_report_and_exits_130(
    setup, child_processes, scaled
):
    """--keep-going: the long test runs after too-slow failed; Ctrl-C during it."""
    folder, port, reports = setup
    env = {"PYTHONPATH": str(REPO_ROOT)}
    suite = child_processes.start(
        [sys.executable, "-m", "framework.cli", "suite", str(folder / "long.yaml"),
         "--out", str(reports), "--quiet", "--keep-going"],
        extra_env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    timeline = None
    while time.monotonic() < deadline:
        found = list(reports.glob("*-long-suite-long/timeline.jsonl"))
        if found and found[0].stat().st_size > 0:
            timeline = found[0]
            break
        assert suite.poll() is None, suite.stdout.read()
        time.sleep(0.2)
    assert timeline is not None, "the long test never started recording"
    suite.send_signal(signal.SIGINT)
    output, _ = suite.communicate(timeout=60)
    assert suite.returncode == 130, output[-3000:]
    run = json.loads((timeline.parent / "run.json").read_text())
    assert run["status"] == "interrupted" and run["exit_code"] == 130
    assert (timeline.parent / "results.json").is_file()
    (suite_dir,) = _suite_dirs(reports, "long-suite")
    document = json.loads((suite_dir / "suite.json").read_text())
    assert document["interrupted"] is True and document["exit_code"] == 130
    (slow,) = document["results"]["load"]
    (long,) = document["results"]["soak"]
    (never,) = document["results"]["smoke"]
    assert slow["status"] == "failed"
    assert (long["status"], long["exit_code"]) == ("error", 130)
    assert never["status"] == "skipped"
    assert "interrupted" in never["reasons"][0]
    assert not _answers(port)
