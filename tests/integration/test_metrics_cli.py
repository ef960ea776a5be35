"""``/metrics`` as a user meets it from the command line: on the web UI's port in ``--web``
mode, and a ``--metrics-port`` that is taken (exit 2, nothing runs)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.child_processes import ChildProcesses
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SWARM = [sys.executable, "-m", "framework.cli.main"]
ENV = {"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
POLL_S = 0.2

SCENARIO = """\
name: metrics-cli
host: {host}
users:
  - name: client
    think_time: {{fixed_ms: 50}}
    requests:
      - {{name: ping, path: /ping}}
load: {{shape: constant, users: 2, spawn_rate: 2, duration: 60s}}
budgets:
  overall: {{p95_ms: 500}}
"""


def _scenario(folder: Path, host: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(SCENARIO.format(host=host), encoding="utf-8")
    return path


def _metrics(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``{sample name: {labels: value}}`` of a ``/metrics`` answer (raises until it answers)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _poll(what: str, check, deadline_s: float, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            found = check()
        except (OSError, urllib.error.URLError):
            found = None
        if found:
            return found
        time.sleep(POLL_S)
    pytest.fail(f"{what} did not happen in {deadline_s:g}s\n{log.read_text()[-3000:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_web_mode_serves_live_metrics_on_the_web_ui_port(
    tmp_path: Path, recording_server: RecordingServer, child_processes: ChildProcesses
) -> None:
    scenario = _scenario(tmp_path, recording_server.url)
    web_port = _free_port()
    run_id = f"web-metrics-{web_port}"
    log = tmp_path / "swarm.log"
    swarm = child_processes.start(
        [
            *SWARM,
            "run",
            str(scenario),
            "--web",
            "--web-port",
            str(web_port),
            "--out",
            str(tmp_path / "reports"),
            "--run-id",
            run_id,
        ],
        log=log,
        extra_env=ENV,
        marker=run_id,
    )
    base = f"http://127.0.0.1:{web_port}"
    before = _poll("/metrics on the web UI port", lambda: _metrics(f"{base}/metrics"), 40, log)
    assert before["swarm_run_state"][(("state", "running"),)] == 0
    # no run yet: each start in the web UI is a run of its own, <session>-1, <session>-2, ...
    assert before["swarm_run_info"] == {(("run_id", ""), ("scenario", "metrics-cli")): 1}
    assert "swarm_requests_total" not in before  # nothing sent yet
    pending = (("metric", "p95_ms"), ("scope", "overall"), ("status", "pending"))
    assert before["swarm_budget_status"][pending] == 1

    form = urllib.parse.urlencode({"user_count": "2", "spawn_rate": "2"}).encode()
    with urllib.request.urlopen(f"{base}/swarm", data=form, timeout=5) as response:
        assert json.loads(response.read())["success"] is True

    def counting() -> dict | None:
        found = _metrics(f"{base}/metrics")
        total = sum(found.get("swarm_requests_total", {}).values())
        return found if total > 0 and found["swarm_users"][()] == 2 else None

    during = _poll("requests counted on /metrics", counting, 40, log)
    assert during["swarm_run_state"][(("state", "running"),)] == 1
    assert during["swarm_workers"][()] == 1
    first = f"{run_id}-1"
    assert during["swarm_run_info"] == {(("run_id", first), ("scenario", "metrics-cli")): 1}
    record = json.loads((tmp_path / "reports" / first / "run.json").read_text())
    assert record["metrics_url"] == f"{base}/metrics"
    swarm.send_signal(signal.SIGINT)
    swarm.wait(60)


@pytest.mark.parametrize(
    ("flags", "serves"),
    [(["--metrics-port"], "/metrics"), (["--web", "--web-port"], "the web UI")],
    ids=["metrics-port", "web-port"],
)
def test_a_port_in_use_is_refused_before_anything_runs(
    tmp_path: Path, recording_server: RecordingServer, flags: list[str], serves: str
) -> None:
    scenario = _scenario(tmp_path, recording_server.url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*SWARM, "run", str(scenario), *flags, str(port), "--out", str(tmp_path / "reports")],
            capture_output=True,
            text=True,
            env={**ENV, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert f"{flags[-1]} {port}: cannot serve {serves} at 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
    assert recording_server.requests() == []  # no load was sent


def test_alerts_with_a_broken_scenario_names_the_problem_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(textwrap.dedent("name: x\nbudgets: {overall: {p95_ms: -1}}\n"), "utf-8")
    done = subprocess.run(
        [*SWARM, "alerts", str(broken)],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 2
    assert "broken.yaml" in done.stderr and "p95_ms" in done.stderr
    assert "Traceback" not in done.stderr
