"""``swarm run --set PATH=VALUE --time-scale F``: real runs of a scenario the command line
changed, on a master with two workers and in one process, against a recording server.

The workers prove they ran the changed scenario by what the target received (a request path
set with ``--set``); the master's shape proves it by the users and the length of the plan in
the merged timeline. Every run is bounded: plans of 6 s and 3 s, a deadline on each wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from framework.timeline.reader import read_timeline
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = "override-secret-4711"
RUN_DEADLINE_S = 60.0
SCENARIO = """\
name: overridden
host: {url}
headers: {{X-API-Key: "${{API_KEY}}"}}
users:
  - name: client
    think_time: {{fixed_ms: 50}}
    requests:
      - {{name: ok, path: /original, expect: {{status: 200}}}}
load: {{shape: constant, users: 1, spawn_rate: 1, duration: "${{LEN}}"}}
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    run_dir: Path
    received: list[Any]

    def run_json(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "run.json").read_text(encoding="utf-8"))


def _swarm(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m framework.cli ARGS`` to its end, in a session of its own (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "framework.cli", *args],
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        start_new_session=True,
        check=False,
    )


def _run(folder: Path, *extra: str) -> Run:
    run_id = f"set-{uuid.uuid4().hex[:10]}"
    with RecordingServer() as server:
        scenario = folder / "overridden.yaml"
        scenario.write_text(SCENARIO.format(url=server.url), encoding="utf-8")
        done = _swarm(
            folder,
            "run", str(scenario), "--out", str(folder / "reports"), "--run-id", run_id, *extra,
            env={"API_KEY": SECRET, "LEN": "60s"},
        )  # fmt: skip
        received = server.requests()
    return Run(done.returncode, done.stdout + done.stderr, folder / "reports" / run_id, received)


def _ran_s(record: dict[str, Any]) -> float:
    at = {
        p["name"]: datetime.fromisoformat(p["at"].replace("Z", "+00:00")) for p in record["phases"]
    }
    return (at["stopping"] - at["running"]).total_seconds()


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory) -> Run:
    """A 60 s plan of 1 user, run as 3 users for 6 s on a master and two workers."""
    run = _run(
        tmp_path_factory.mktemp("cluster"),
        "--workers", "2",
        "--set", "load.users=3",
        "--set", "users.client.requests.0.path=/ok",
        "--set", "tags.key=${API_KEY}",
        "--time-scale", "0.1",
    )  # fmt: skip
    assert run.returncode == 0, run.output
    return run


def test_the_master_runs_the_overridden_users_for_the_scaled_time(cluster_run):
    record = cluster_run.run_json()
    assert record["workers"] == 2
    assert record["plan"]["duration_s"] == 6.0 and record["plan"]["peak_users"] == 3
    timeline = read_timeline(cluster_run.run_dir / "timeline.jsonl")
    assert max(s.users for s in timeline.seconds) == 3
    assert max(s.workers or 0 for s in timeline.seconds) == 2
    # the shape is polled about once a second: the end lands within ~1 s of the 6 s plan
    assert 5.5 <= _ran_s(record) <= 8.0, record["phases"]
    assert len([s for s in timeline.seconds if s.users]) <= 9  # not the written 60 s


def test_the_workers_send_what_the_override_says(cluster_run):
    paths = {r.path for r in cluster_run.received}
    assert paths == {"/ok"}  # never the /original of the file
    assert {r.header("X-API-Key") for r in cluster_run.received} == {SECRET}


def test_run_json_and_the_saved_scenario_record_the_changes_and_no_secret(cluster_run):
    record = cluster_run.run_json()
    assert record["overrides"] == [
        "load.users=3",
        "users.client.requests.0.path=/ok",
        "tags.key=${API_KEY}",
    ]
    assert record["time_scale"] == 0.1
    text = (cluster_run.run_dir / "scenario.yaml").read_text(encoding="utf-8")
    assert text.startswith("# The scenario as this run used it: overridden.yaml with\n")
    saved = yaml.safe_load(text)
    assert saved["load"] == {"shape": "constant", "users": 3, "spawn_rate": 1, "duration": "60s"}
    assert saved["users"][0]["requests"][0]["path"] == "/ok"
    assert saved["tags"] == {"key": "${API_KEY}"}  # a secret set by --set stays a reference
    leaks = [
        p.name
        for p in cluster_run.run_dir.rglob("*")
        if p.is_file() and SECRET.encode() in p.read_bytes()
    ]
    assert leaks == []
    assert SECRET not in cluster_run.output


def test_report_offline_reproduces_the_scaled_window(cluster_run, tmp_path):
    results = cluster_run.run_dir / "results.json"
    before = json.loads(results.read_text(encoding="utf-8"))["baseline"]
    done = _swarm(tmp_path, "report", str(cluster_run.run_dir), env={})
    assert done.returncode == 0, done.stdout + done.stderr
    after = json.loads(results.read_text(encoding="utf-8"))["baseline"]
    assert (after["start_s"], after["end_s"], after["users"]) == (
        before["start_s"],
        before["end_s"],
        before["users"],
    )
    assert after["end_s"] - after["start_s"] <= 6.0
    assert after["users"] == 3


def test_one_process_runs_the_changed_scenario_from_its_bundle(tmp_path):
    run = _run(
        tmp_path,
        "--set", "load.users=2",
        "--set", "users.0.requests.0.path=/ok",
        "--time-scale", "0.05",
    )  # fmt: skip
    assert run.returncode == 0, run.output
    record = run.run_json()
    assert (record["workers"], record["time_scale"]) == (0, 0.05)
    assert record["locust_args"][:2] == ["-f", str(run.run_dir / "swarm_bundle.py")]
    assert record["plan"]["duration_s"] == 3.0
    timeline = read_timeline(run.run_dir / "timeline.jsonl")
    assert max(s.users for s in timeline.seconds) == 2
    assert 2.5 <= _ran_s(record) <= 5.0, record["phases"]
    assert {r.path for r in run.received} == {"/ok"}


def test_a_bad_override_runs_nothing_and_exits_2(tmp_path):
    run = _run(tmp_path, "--set", "load.userz=3")
    assert run.returncode == 2
    assert "--set load.userz: unknown key 'userz'; did you mean 'users'?" in run.output
    assert "Traceback" not in run.output
    assert run.received == [] and not run.run_dir.exists()
