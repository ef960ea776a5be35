"""``swarm run --workers 2`` under faults: a killed worker, SIGTERM, a killed master, secrets.

Every run targets a recording HTTP server on 127.0.0.1 and is watched through its run folder
(``run.json`` phases) and its process tree (``psutil``, a Locust dependency): the master and
the workers are children of ``swarm run`` in sessions of their own, so each can be signalled
alone, as a crash or an OOM kill would. Every wait has a deadline; every process the tests
start, or that ``swarm run`` starts, is killed at teardown if it is still there.

The two killed-worker runs (exit 3, and exit 0 with ``--allow-worker-loss``) run side by side
to keep the file under ~90 s; the second one, which ends normally, also serves the secrets test.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from framework.timeline.reader import read_timeline
from framework.timeline.records import Timeline
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "sekrit-xyz"
START_DEADLINE_S = 45.0  # swarm run → Locust master and workers imported → "running"
EXIT_DEADLINE_S = 60.0
MASTER_TIMEOUT_S = 5  # $SWARM_MASTER_TIMEOUT for the tests where the master dies
WORKER_EXIT_SLACK_S = 6.0  # beyond MASTER_TIMEOUT_S: heartbeat check period + shutdown
POLL_S = 0.1
WORKER_MODULE = "framework.locust_glue.worker_main"


def _scenario(url: str, duration_s: int) -> str:
    """Four users, two per worker, each a request every ~50 ms: a steady, known rate."""
    return textwrap.dedent(
        f"""\
        name: cluster-faults
        host: {url}
        headers: {{X-API-Key: "${{API_KEY}}"}}
        users:
          - name: client
            think_time: {{fixed_ms: 50}}
            requests:
              - {{name: ok, path: /ok, expect: {{status: 200}}}}
        load: {{shape: constant, users: 4, spawn_rate: 4, duration: {duration_s}s}}
        """
    )


class SwarmRun:
    """``swarm run FILE --workers 2`` as a child process, with handles on its Locust processes.

    The master and workers live in sessions of their own (``framework.run.processes``), so a
    signal to ``swarm run``'s group never reaches them: every descendant ever seen is
    remembered and killed at ``cleanup``.
    """

    def __init__(
        self,
        folder: Path,
        scenario: Path,
        run_id: str,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.run_dir = folder / "reports" / run_id
        self.output = folder / f"{run_id}.out"
        self.seen: dict[int, psutil.Process] = {}
        command = [
            sys.executable, "-m", "framework.cli.main", "run", str(scenario), "--workers", "2",
            "--out", str(folder / "reports"), "--run-id", run_id, *extra,
        ]  # fmt: skip
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                command,
                cwd=folder,
                env={**os.environ, "API_KEY": SECRET, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run_json(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "run.json").read_text(encoding="utf-8"))

    def children(self) -> list[psutil.Process]:
        """The live Locust processes under ``swarm run`` (remembered for cleanup)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)
        return [p for p in self.seen.values() if _alive(p)]

    def workers(self) -> list[psutil.Process]:
        return [p for p in self.children() if WORKER_MODULE in _cmdline(p)]

    def master(self) -> psutil.Process:
        masters = [p for p in self.children() if "-m locust" in _cmdline(p)]
        assert len(masters) == 1, f"expected one Locust master, found {masters}"
        return masters[0]

    def wait_running(self) -> float:
        """Block until run.json says "running" with both workers up; return that time."""
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"swarm run exited early: {self.log_tail()}")
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                if self.run_json()["status"] == "running" and len(self.workers()) == 2:
                    return time.monotonic()
            time.sleep(POLL_S)
        pytest.fail(f"run not running within {START_DEADLINE_S:g} s: {self.log_tail()}")

    def wait_exit(self, deadline_s: float = EXIT_DEADLINE_S) -> int:
        try:
            return self.process.wait(deadline_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"swarm run still running after {deadline_s:g} s: {self.log_tail()}")

    def log_tail(self, lines: int = 25) -> str:
        text = self.output.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def cleanup(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        for child in self.seen.values():
            if _alive(child):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        psutil.wait_procs(list(self.seen.values()), timeout=10)


def _cmdline(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())
    return ""


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _stats_counts(run_dir: Path) -> dict[str, tuple[int, int]]:
    """``locust_stats.csv``: ``"METHOD name"`` → (requests, failures), Aggregated left out."""
    with (run_dir / "locust_stats.csv").open(newline="", encoding="utf-8") as handle:
        return {
            f"{row['Type']} {row['Name']}": (int(row["Request Count"]), int(row["Failure Count"]))
            for row in csv.DictReader(handle)
            if row["Name"] != "Aggregated"
        }


def _timeline_counts(timeline: Timeline) -> dict[str, tuple[int, int]]:
    return {
        name: (timeline.total(name).count, timeline.total(name).failure_count)
        for name in timeline.names()
    }


# --- (a) a worker killed mid-run ------------------------------------------------------------

KILL_AFTER_S = 6.0  # into a 12 s plan: seconds of both workers before, of one worker after


@dataclass
class KilledWorkerRun:
    exit_code: int
    run_dir: Path
    run_json: dict[str, Any]
    killed_pid: int
    killed_at_s: float  # unix time of the SIGKILL
    sent: int  # requests the target answered during the run
    api_keys: set[str | None]  # the X-API-Key values the target received


@pytest.fixture(scope="module")
def killed_worker_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, KilledWorkerRun]]:
    """Two 12 s runs side by side, strict and ``--allow-worker-loss``; one worker each SIGKILLed."""
    folder = tmp_path_factory.mktemp("killed-worker")
    with contextlib.ExitStack() as stack:
        runs: dict[str, tuple[SwarmRun, RecordingServer]] = {}
        for label, extra in (("strict", ()), ("allowed", ("--allow-worker-loss",))):
            server = stack.enter_context(RecordingServer())
            scenario = folder / f"{label}.yaml"
            scenario.write_text(_scenario(server.url, 12), encoding="utf-8")
            run = SwarmRun(folder, scenario, label, *extra)
            stack.callback(run.cleanup)
            runs[label] = (run, server)
        killed: dict[str, tuple[int, float]] = {}
        running_at = {label: run.wait_running() for label, (run, _) in runs.items()}
        for label in sorted(runs, key=running_at.__getitem__):
            run = runs[label][0]
            _sleep_until(running_at[label] + KILL_AFTER_S)
            victim = run.workers()[0]
            victim.send_signal(signal.SIGKILL)
            killed[label] = (victim.pid, time.time())
        results = {}
        for label, (run, server) in runs.items():
            code = run.wait_exit()
            results[label] = KilledWorkerRun(
                exit_code=code,
                run_dir=run.run_dir,
                run_json=run.run_json(),
                killed_pid=killed[label][0],
                killed_at_s=killed[label][1],
                sent=len(received := server.requests("/ok")),
                api_keys={r.header("X-API-Key") for r in received},
            )
            print(f"\n[{label}] exit {code}; {run.log_tail(3)}")
        yield results


def _kill_event(result: KilledWorkerRun) -> tuple[dict[str, str], dict[str, Any]]:
    """The run.json worker event of the killed process, and its worker_processes entry."""
    record = result.run_json
    exits = [e for e in record["worker_events"] if e["event"] == "process exited with code -9"]
    assert len(exits) == 1, record["worker_events"]
    entry = next(p for p in record["worker_processes"] if p["name"] == exits[0]["worker"])
    return exits[0], entry


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_killed_worker_fails_the_run_with_exit_3_and_run_json_says_which_and_when(
    killed_worker_runs: dict[str, KilledWorkerRun],
) -> None:
    result = killed_worker_runs["strict"]
    record = result.run_json
    assert result.exit_code == 3
    assert (record["status"], record["exit_code"]) == ("finished", 3)
    assert "lost 1 worker" in record["message"] and "--allow-worker-loss" in record["message"]
    event, entry = _kill_event(result)
    assert entry["pid"] == result.killed_pid and entry["exit_code"] == -9
    assert -0.5 <= _unix(event["at"]) - result.killed_at_s <= 3.0, event
    # Locust's own view: the master stops hearing the dead worker's heartbeat.
    assert any(e["event"] == "missing" for e in record["worker_events"]), record["worker_events"]
    survivors = [p for p in record["worker_processes"] if p["pid"] != result.killed_pid]
    assert [p["exit_code"] for p in survivors] == [0]


def test_allow_worker_loss_exits_0_and_still_records_the_killed_worker(
    killed_worker_runs: dict[str, KilledWorkerRun],
) -> None:
    result = killed_worker_runs["allowed"]
    record = result.run_json
    assert result.exit_code == 0
    assert (record["status"], record["exit_code"], record["message"]) == ("finished", 0, None)
    _event, entry = _kill_event(result)
    assert entry["pid"] == result.killed_pid


def test_timeline_after_a_killed_worker_keeps_the_survivor_and_agrees_with_locust(
    killed_worker_runs: dict[str, KilledWorkerRun],
) -> None:
    result = killed_worker_runs["strict"]
    timeline = read_timeline(result.run_dir / "timeline.jsonl")
    assert timeline.complete and not timeline.truncated
    assert _timeline_counts(timeline) == _stats_counts(result.run_dir)

    busy = [s for s in timeline.series("GET ok") if s.count]
    first_s, last_s = busy[0].t, busy[-1].t  # both partial seconds
    kill_s = int(result.killed_at_s)
    counts = {s.t: s.count for s in timeline.series("GET ok")}
    # The dead worker's last report was up to 3 s before its death: only earlier seconds
    # have both workers' requests in full.
    before = [counts[t] for t in range(first_s + 1, kill_s - 3)]
    after = [counts[t] for t in range(kill_s + 1, last_s)]
    assert before and after, (first_s, kill_s, last_s)
    assert min(after) > 0, f"the surviving worker's seconds went missing: {after}"
    one_worker_rate = statistics.median(after)
    ratio = one_worker_rate / statistics.median(before)
    assert 0.3 <= ratio <= 0.75, f"before {before}, after {after}"

    lost = result.sent - timeline.total("GET ok").count
    lost_s = lost / one_worker_rate
    print(f"\nkilled worker: {lost} requests ({lost_s:.1f} s of one worker) never reported")
    assert 0 <= lost_s < 5.0

    live = {s.t: s.workers for s in timeline.seconds}
    assert all(live[t] == 2 for t in range(first_s + 1, kill_s)), live
    # Locust marks a silent worker missing after ~4 s (3 missed heartbeats).
    assert all(live[t] == 1 for t in range(kill_s + 6, last_s)), live


# --- (b) SIGTERM to swarm run ---------------------------------------------------------------


@dataclass
class InterruptedRun:
    exit_code: int
    run_dir: Path
    signalled_to_exit_s: float
    leftovers: list[psutil.Process]


@pytest.fixture(scope="module")
def sigterm_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InterruptedRun]:
    """A 30 s run sent SIGTERM 3 s into its load (as ``docker stop`` or systemd would)."""
    folder = tmp_path_factory.mktemp("sigterm")
    with RecordingServer() as server:
        scenario = folder / "scenario.yaml"
        scenario.write_text(_scenario(server.url, 30), encoding="utf-8")
        run = SwarmRun(
            folder, scenario, "sigterm", env={"SWARM_MASTER_TIMEOUT": str(MASTER_TIMEOUT_S)}
        )
        try:
            _sleep_until(run.wait_running() + 3.0)
            processes = run.children()
            assert len(processes) == 3, processes
            run.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            code = run.wait_exit()
            yield InterruptedRun(
                exit_code=code,
                run_dir=run.run_dir,
                signalled_to_exit_s=time.monotonic() - signalled,
                leftovers=[p for p in processes if _alive(p)],
            )
        finally:
            run.cleanup()


def test_sigterm_exits_130_leaves_no_process_and_a_readable_run_folder(
    sigterm_run: InterruptedRun,
) -> None:
    print(f"\nSIGTERM → swarm run exited after {sigterm_run.signalled_to_exit_s:.1f} s")
    assert sigterm_run.exit_code == 130
    assert sigterm_run.leftovers == []
    record = json.loads((sigterm_run.run_dir / "run.json").read_text(encoding="utf-8"))
    assert (record["status"], record["exit_code"]) == ("interrupted", 130)
    timeline = read_timeline(sigterm_run.run_dir / "timeline.jsonl")
    assert timeline.total("GET ok").count > 0
    assert _stats_counts(sigterm_run.run_dir)["GET ok"][0] > 0


def test_sigterm_stops_the_master_gracefully_so_the_timeline_is_complete(
    sigterm_run: InterruptedRun,
) -> None:
    timeline = read_timeline(sigterm_run.run_dir / "timeline.jsonl")
    assert timeline.complete, "timeline has no end record: the master was killed, not stopped"
    assert _timeline_counts(timeline) == _stats_counts(sigterm_run.run_dir)
    assert (sigterm_run.run_dir / "locust_report.html").is_file()
    assert sigterm_run.signalled_to_exit_s < MASTER_TIMEOUT_S


# --- (c) the master SIGKILLed -----------------------------------------------------------------

MASTER_KILL_AFTER_S = 8.0  # long enough for the master to have written closed seconds


def test_workers_exit_on_their_own_within_swarm_master_timeout_when_the_master_is_killed(
    tmp_path: Path,
) -> None:
    with RecordingServer() as server:
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text(_scenario(server.url, 30), encoding="utf-8")
        run = SwarmRun(
            tmp_path, scenario, "master-kill", env={"SWARM_MASTER_TIMEOUT": str(MASTER_TIMEOUT_S)}
        )
        try:
            _sleep_until(run.wait_running() + MASTER_KILL_AFTER_S)
            master, workers = run.master(), run.workers()
            master.send_signal(signal.SIGKILL)
            killed, killed_at_s = time.monotonic(), time.time()
            exit_after: dict[int, float] = {}
            _gone, alive = psutil.wait_procs(
                workers,
                timeout=MASTER_TIMEOUT_S + WORKER_EXIT_SLACK_S,
                callback=lambda p: exit_after.setdefault(p.pid, time.monotonic() - killed),
            )
            code = run.wait_exit()
        finally:
            run.cleanup()
    print(
        f"\nmaster SIGKILLed; SWARM_MASTER_TIMEOUT={MASTER_TIMEOUT_S}: workers exited after "
        + ", ".join(f"{s:.1f} s" for s in sorted(exit_after.values()))
    )
    assert alive == [], f"workers still running {MASTER_TIMEOUT_S + WORKER_EXIT_SLACK_S:g} s on"
    for name in ("worker-1.log", "worker-2.log"):
        log = (run.run_dir / name).read_text(encoding="utf-8")
        assert f"Didn't get heartbeat from master in over {MASTER_TIMEOUT_S}s" in log
    assert code == 3
    record = run.run_json()
    assert (record["status"], record["exit_code"]) == ("failed", 3)
    assert "locust exited with code -9" in record["message"]
    timeline = read_timeline(run.run_dir / "timeline.jsonl")
    # A crash loses only the seconds still open: the grace (5 s) plus a report interval (3 s).
    assert not timeline.complete and timeline.total("GET ok").count > 0
    assert timeline.end_s is not None and timeline.end_s >= killed_at_s - 10, timeline.end_s


# --- (d) secrets -------------------------------------------------------------------------------


def test_secret_reaches_the_target_from_workers_but_no_file_of_the_run(
    killed_worker_runs: dict[str, KilledWorkerRun],
) -> None:
    """The ``--allow-worker-loss`` run ends normally, so every report file is there."""
    result = killed_worker_runs["allowed"]
    assert result.api_keys == {SECRET}
    bundle = (result.run_dir / "swarm_bundle.py").read_text(encoding="utf-8")
    assert "${API_KEY}" in bundle
    files = [p for p in result.run_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"swarm_bundle.py", "run.json", "timeline.jsonl", "locust.log", "worker-1.log"} <= names
    assert "locust_report.html" in names
    leaking = [p.name for p in files if SECRET.encode() in p.read_bytes()]
    assert leaking == []
