"""Scheduled faults against a real mock detector, on the plan's clock.

One ~20 s ``swarm run --workers 2`` (shared by several tests) with an outage from 8 s to
11 s of the plan and a command fault from 17 s to 19 s: the mock saw exactly one PUT and one
DELETE (the master runs the faults, not each worker), at the planned plan times; run.json
records both faults with their times and statuses; the timeline has failures during the
outage and none before it; the report measures the outage's recovery against its SLA from
the seconds before it (the baseline) and after it. An unreachable admin API stops
``swarm run`` with exit 3 before anything starts; Ctrl-C in the middle of a fault ends it
(the mock answers normally again) and run.json says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from framework.timeline.reader import read_timeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

RUN_DEADLINE_S = 90.0
POLL_S = 0.05
SLACK_S = 1.5  # a fault lands within ~0.1 s of its time; this only bounds a loaded machine


def _mocks(children, folder: Path, port: int) -> None:
    config = folder / "mocks.yaml"
    config.write_text(
        f"host: 127.0.0.1\ndetectors:\n  target:\n    port: {port}\n"
        "    latency: {model: fixed, ms: 5}\n",
        encoding="utf-8",
    )
    children.start(
        [sys.executable, "-m", "mock_detectors", "--config", str(config)],
        log=folder / "mocks.log",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _admin(port)
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the mock detector did not start")


def _admin(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/faults", timeout=2) as answer:
        return json.loads(answer.read())


def _scenario(folder: Path, *, seconds: int, faults: str) -> Path:
    path = folder / f"scenario-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: scheduled-faults
            host: ${{TARGET}}
            mocks: mocks.yaml
            users:
              - name: caller
                think_time: {{fixed_ms: 50}}
                requests:
                  - {{name: detect, method: POST, path: /detect, json: {{content: hi}},
                     expect: {{status: 200}}}}
            load: {{shape: constant, users: 2, spawn_rate: 20, duration: {seconds}s}}
            abort: [{{target_down: false}}]
            faults:
            """
        )
        + textwrap.indent(textwrap.dedent(faults), "  "),
        encoding="utf-8",
    )
    return path


def _swarm(children, folder: Path, scenario: Path, run_id: str, port: int, *extra: str):
    command = [sys.executable, "-m", "framework.cli.main", "run", str(scenario),
               "--out", str(folder / "reports"), "--run-id", run_id, "--quiet", *extra]  # fmt: skip
    return children.start(
        command,
        marker=run_id,
        log=folder / f"{run_id}.log",
        extra_env={"TARGET": f"http://127.0.0.1:{port}"},
    )


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _running_at(run: dict[str, Any]) -> float:
    return next(_unix(t["at"]) for t in run["transitions"] if t["state"] == "running")


class _Watch:
    """Polls the mock's GET /admin/faults and keeps when it answered active and inactive."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: list[tuple[float, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                self.seen.append((time.time(), bool(_admin(self.port)["active"])))
            time.sleep(POLL_S)

    def first(self, active: bool, after: float = 0.0) -> float:
        return next(t for t, a in self.seen if a is active and t > after)


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory, module_child_processes, free_port) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("scheduled-faults")
    port = free_port()
    _mocks(module_child_processes, folder, port)
    scenario = _scenario(
        folder,
        seconds=20,
        faults=f"""\
        - name: outage
          at: 8s
          duration: 3s
          mock: target
          set: {{outage: true}}
          recovery_sla: 2s
        - name: marker
          at: 17s
          duration: 2s
          command:
            start: "date +%s.%N > {folder}/marker.on"
            stop: "date +%s.%N > {folder}/marker.off"
        """,
    )
    watch = _Watch(port)
    child = _swarm(module_child_processes, folder, scenario, "faulted", port, "--workers", "2")
    code = child.wait(timeout=RUN_DEADLINE_S)
    watch.stop.set()
    watch.thread.join(5)
    run_dir = folder / "reports" / "faulted"
    yield {
        "code": code,
        "folder": folder,
        "run_dir": run_dir,
        "run": json.loads((run_dir / "run.json").read_text()),
        "watch": watch,
        "mocks_log": (folder / "mocks.log").read_text(),
        "output": (folder / "faulted.log").read_text(),
    }


def test_the_mock_sees_one_put_and_one_delete_at_the_planned_plan_times(fault_run):
    run, watch = fault_run["run"], fault_run["watch"]
    assert fault_run["code"] in (0, 1), fault_run["output"]
    log = fault_run["mocks_log"]
    assert log.count("fault injected") == 1, log  # the master, not each of 2 workers
    assert log.count("fault cleared through the admin API") == 1, log
    assert '"outage":true' in log
    zero = _running_at(run)
    on = watch.first(True)
    off = watch.first(False, after=on)
    assert zero + 8 - POLL_S <= on <= zero + 8 + SLACK_S
    assert zero + 11 - POLL_S <= off <= zero + 11 + SLACK_S


def test_run_json_records_each_fault_with_its_times_and_status(fault_run):
    faults = {f["name"]: f for f in fault_run["run"]["faults"]}
    zero = _running_at(fault_run["run"])
    outage, marker = faults["outage"], faults["marker"]
    assert outage["kind"] == "mock" and outage["action"] == {"outage": True}
    assert outage["target"].startswith("http://127.0.0.1:")
    assert (outage["planned_start_s"], outage["planned_end_s"]) == (8.0, 11.0)
    assert outage["recovery_sla_s"] == 2.0
    assert outage["status"] == "ended" and outage["error"] is None
    assert _unix(outage["started_at"]) - zero == pytest.approx(8, abs=SLACK_S)
    assert _unix(outage["ended_at"]) - _unix(outage["started_at"]) == pytest.approx(3, abs=SLACK_S)
    assert marker["kind"] == "command" and marker["status"] == "ended"
    on = float((fault_run["folder"] / "marker.on").read_text())
    off = float((fault_run["folder"] / "marker.off").read_text())
    assert on == pytest.approx(_unix(marker["started_at"]), abs=0.5)
    assert off - on == pytest.approx(2, abs=SLACK_S)


def test_the_timeline_fails_during_the_outage_and_not_before(fault_run):
    outage = next(f for f in fault_run["run"]["faults"] if f["name"] == "outage")
    start, end = _unix(outage["started_at"]), _unix(outage["ended_at"])
    before = during = 0
    for second in read_timeline(fault_run["run_dir"] / "timeline.jsonl").seconds:
        failures = sum(r.failure_count for r in second.requests)
        if second.t + 1 <= start:
            before += failures
        elif start + 1 <= second.t and second.t + 1 <= end:
            during += failures
    assert before == 0
    assert during > 0


def test_the_report_measures_the_outage_and_its_recovery_against_the_sla(fault_run):
    results = json.loads((fault_run["run_dir"] / "results.json").read_text())
    outage = next(f for f in results["faults"] if f["name"] == "outage")
    assert outage["during"]["error_rate"]["value"] > 0.9  # an outage answers 503 to all
    assert outage["before"]["failures"] == 0
    assert outage["measured"], outage["message"]
    # The mock answers normally the moment the DELETE lands, but whether the next few 3 s
    # windows are back within a 5 ms target's tight baseline depends on the machine's load:
    # the test holds the report to its own rule, not to a number.
    if outage["recovered"]:
        recovery = outage["recovery_s"]
        assert 0 <= recovery["low"] <= recovery["value"] <= recovery["high"]
        expected = "pass" if recovery["high"] <= 2 else "fail" if recovery["low"] >= 2 else None
        assert outage["verdict"] == (expected or "inconclusive"), outage["message"]
    else:
        assert outage["recovery_s"] is None and "not recovered" in outage["message"]
    assert outage["recovery_sla_s"] == 2.0
    assert "outage" in (fault_run["run_dir"] / "report.html").read_text()


def test_an_unreachable_admin_api_exits_3_before_any_load(tmp_path, child_processes, free_port):
    port = free_port()  # nothing listens there
    (tmp_path / "mocks.yaml").write_text(
        f"detectors:\n  target:\n    port: {port}\n    latency: {{model: fixed, ms: 5}}\n"
    )
    scenario = _scenario(
        tmp_path, seconds=5, faults="- {at: 1s, duration: 1s, mock: target, set: {outage: true}}\n"
    )
    child = _swarm(child_processes, tmp_path, scenario, "unreachable", port)
    assert child.wait(timeout=60) == 3
    output = (tmp_path / "unreachable.log").read_text()
    assert f"cannot reach the admin API of mock 'target' at http://127.0.0.1:{port}" in output
    assert "connection refused" in output and "Traceback" not in output
    assert not (tmp_path / "reports" / "unreachable").exists()


def test_ctrl_c_in_the_middle_of_a_fault_ends_it(tmp_path, child_processes, free_port):
    port = free_port()
    _mocks(child_processes, tmp_path, port)
    scenario = _scenario(
        tmp_path,
        seconds=60,
        faults="- {name: long, at: 1s, duration: 50s, mock: target, set: {error_rate: 1}}\n",
    )
    child = _swarm(child_processes, tmp_path, scenario, "interrupted", port)
    run_json = tmp_path / "reports" / "interrupted" / "run.json"
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if run_json.exists() and '"status": "active"' in run_json.read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the fault never became active")
    assert _admin(port)["active"] is True
    os.killpg(child.pid, signal.SIGINT)
    assert child.wait(timeout=60) == 130
    assert _admin(port)["active"] is False  # ended, not left to expire in 50 s
    fault = json.loads(run_json.read_text())["faults"][0]
    assert fault["status"] == "ended" and fault["ended_at"] is not None
    assert "ended early" in fault["error"]


def test_plain_locust_runs_the_scenarios_faults_too(tmp_path, child_processes, free_port):
    """``locust -f locustfiles/scenario.py --scenario F``, with no ``swarm run`` to resolve the
    faults, resolves them from the scenario and runs them on its own plan clock."""
    port = free_port()
    _mocks(child_processes, tmp_path, port)
    scenario = _scenario(
        tmp_path,
        seconds=5,
        faults="- {name: blip, at: 1s, duration: 2s, mock: target, set: {outage: true}}\n",
    )
    locustfile = Path(__file__).resolve().parents[2] / "locustfiles" / "scenario.py"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--scenario", str(scenario),
               "--headless", "--only-summary"]  # fmt: skip
    child = child_processes.start(
        command, log=tmp_path / "locust.log", extra_env={"TARGET": f"http://127.0.0.1:{port}"}
    )
    child.wait(timeout=60)
    output = (tmp_path / "locust.log").read_text()
    assert "swarm: fault blip active" in output and "swarm: fault blip ended" in output, output
    mocks_log = (tmp_path / "mocks.log").read_text()
    assert mocks_log.count("fault injected") == 1 and "cleared through the admin API" in mocks_log
