"""``swarm run --workers 2`` under faults: a killed worker, SIGTERM, a killed master, secrets.

Every run targets a recording HTTP server on 127.0.0.1 and is watched through its run folder
(``run.json`` phases) and its process tree (``psutil``, a Locust dependency): the master and
the workers are children of ``swarm run`` in sessions of their own, so each can be signalled
alone, as a crash or an OOM kill would. Every wait has a deadline; every process the tests
start, or that ``swarm run`` starts, is killed at teardown if it is still there.

The two killed-worker runs (exit 3, and exit 0 with ``--allow-worker-loss``) run side by side
to keep the file under ~90 s, in one reports folder (so the store sees both); the second one,
which ends normally, also serves the secrets test, and runs an open-model group beside its
users, whose report counts the dead worker's share of the arrivals as missed.
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

from framework.cli.store_commands import resolve_baseline
from framework.errors import NoBaselineError
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
STOP_S = 5.0  # SIGTERM → the load stops within this
SLACK_S = 3.0  # a loaded 2-core machine
POLL_S = 0.1
WORKER_MODULE = "framework.locust_glue.worker_main"


def _scenario(url: str, duration_s: int, open_rate: int | None = None) -> str:
    """Four users, two per worker, each a request every ~50 ms: a steady, known rate; with
    ``open_rate``, also a users entry with its own open load at that many arrivals/s."""
    arrivals = (
        f"""
          - name: arrivals
            requests:
              - {{name: open, method: POST, path: /created, expect: {{status: 201}}}}
            load: {{model: open, shape: constant, rate: {open_rate}, duration: {duration_s}s}}"""
        if open_rate
        else ""
    )
    return textwrap.dedent(
        f"""\
        name: cluster-faults
        host: {url}
        headers: {{X-API-Key: "${{API_KEY}}"}}
        users:
          - name: client
            think_time: {{fixed_ms: 50}}
            requests:
              - {{name: ok, path: /ok, expect: {{status: 200}}}}{arrivals}
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

KILL_AFTER_S = 6.0  # into an 18 s plan: seconds of both workers before, of the survivor after
KILLED_PLAN_S = 18
TAKEOVER_S = 6  # Locust marks a silent worker missing after ~4 s and re-dispatches its users
OPEN_RATE = 40  # arrivals/s of the --allow-worker-loss run's open group, 20/s per worker


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
    """Two 18 s runs side by side, strict and ``--allow-worker-loss``; one worker each SIGKILLed."""
    folder = tmp_path_factory.mktemp("killed-worker")
    with contextlib.ExitStack() as stack:
        runs: dict[str, tuple[SwarmRun, RecordingServer]] = {}
        for label, extra in (("strict", ()), ("allowed", ("--allow-worker-loss",))):
            server = stack.enter_context(RecordingServer())
            scenario = folder / f"{label}.yaml"
            # the run that may lose a worker also runs an open group beside its users, whose
            # report must count the dead worker's share of the arrivals as missed
            open_rate = OPEN_RATE if label == "allowed" else None
            text = _scenario(server.url, KILLED_PLAN_S, open_rate)
            scenario.write_text(text, encoding="utf-8")
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


def test_the_survivor_takes_over_the_killed_worker_s_users_so_the_load_holds(
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
    after = [counts[t] for t in range(kill_s + TAKEOVER_S, last_s)]
    assert before and after, (first_s, kill_s, last_s)
    ratio = statistics.median(after) / statistics.median(before)
    print(f"\nkilled worker: request rate after the takeover / before = {ratio:.2f}")
    assert 0.8 <= ratio <= 1.25, f"the load did not hold: before {before}, after {after}"

    seconds = {s.t: s for s in timeline.seconds}
    assert all(seconds[t].workers == 2 for t in range(first_s + 1, kill_s)), seconds
    # One worker left, running all four of the plan's users.
    late = range(kill_s + TAKEOVER_S, last_s)
    assert [(seconds[t].workers, seconds[t].users) for t in late] == [(1, 4)] * len(late)
    missing = [e for e in result.run_json["worker_events"] if e["event"] == "missing"]
    assert missing and _unix(missing[0]["at"]) - result.killed_at_s < TAKEOVER_S, missing

    lost = result.sent - timeline.total("GET ok").count
    lost_s = lost / (statistics.median(before) / 2)
    print(f"killed worker: {lost} requests ({lost_s:.1f} s of one worker) never reported")
    assert 0 <= lost_s < 5.0


def test_a_run_that_lost_a_worker_is_never_passed_in_the_store_nor_a_baseline(
    killed_worker_runs: dict[str, KilledWorkerRun],
) -> None:
    """Both runs share one reports folder: the exit-3 run is listed failed and skipped."""
    strict, allowed = killed_worker_runs["strict"], killed_worker_runs["allowed"]
    results = json.loads((strict.run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["verdict"] == "failed"
    assert any(r.startswith("the run exited 3: lost 1 worker") for r in results["reasons"])
    reports = strict.run_dir.parent
    listing = subprocess.run(
        [sys.executable, "-m", "framework.cli.main", "runs", "list", "--out", str(reports)],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert rows["strict"][4:6] == ["finished", "failed"], listing
    assert rows["allowed"][4:6] == ["finished", "passed"], listing
    baseline = resolve_baseline("latest", "cluster-faults", reports)
    assert baseline.name == allowed.run_dir.name
    with pytest.raises(NoBaselineError):
        resolve_baseline("latest", "cluster-faults", reports, exclude_run_id="allowed")


def test_an_open_group_counts_the_killed_worker_s_share_of_arrivals_as_missed(
    killed_worker_runs: dict[str, KilledWorkerRun],
) -> None:
    """Between the kill and the master marking the worker missing, every other arrival of
    the uniform schedule was due on the dead worker: in no ``arr`` line, so "missed"."""
    result = killed_worker_runs["allowed"]
    results = json.loads((result.run_dir / "results.json").read_text(encoding="utf-8"))
    (group,) = results["open_model"]["groups"]
    window = results["settings"]["window"]
    planned_s = window["end_s"] - window["start_s"]
    missing = [e for e in result.run_json["worker_events"] if e["event"] == "missing"]
    assert missing, result.run_json["worker_events"]
    detection_s = _unix(missing[0]["at"]) - result.killed_at_s
    expected = OPEN_RATE / 2 * detection_s
    print(
        f"\nkilled worker, open group at {OPEN_RATE}/s: planned {group['planned']}, due "
        f"{group['due']}, missed {group['missed']} (detection after {detection_s:.1f} s: "
        f"~{expected:.0f} expected)"
    )
    # the plan is rebuilt from the run folder: the window's seconds at the planned rate
    assert group["planned"] == pytest.approx(OPEN_RATE * planned_s, abs=1)
    assert group["due"] + group["missed"] == pytest.approx(group["planned"], abs=1)
    # the dead worker's share until it was noticed, plus the up to ~3 s of its own
    # arrivals it had laid out but not yet reported when it died
    assert expected * 0.5 <= group["missed"] <= OPEN_RATE / 2 * (detection_s + 4)
    assert group["missed"] > group["missed_tolerance"]
    assert results["open_model"]["workers_lost"]
    kill_s = result.killed_at_s
    assert group["short_from_s"] <= kill_s + 1 and group["short_to_s"] >= kill_s + 2, group
    rule = next(v for v in results["validation"] if v["rule"] == "max_dropped")
    assert not rule["passed"] and "a load generator was lost" in rule["message"], rule


# --- (b) SIGTERM to swarm run ---------------------------------------------------------------


@dataclass
class InterruptedRun:
    exit_code: int
    run_dir: Path
    signalled_to_exit_s: float  # includes swarm's own report after Locust stopped
    signalled_at_s: float  # unix time of the SIGTERM
    last_request_at_s: float  # unix time the target answered its last request
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
            signalled, signalled_at_s = time.monotonic(), time.time()
            code = run.wait_exit()
            yield InterruptedRun(
                exit_code=code,
                run_dir=run.run_dir,
                signalled_to_exit_s=time.monotonic() - signalled,
                signalled_at_s=signalled_at_s,
                last_request_at_s=max(r.received_at for r in server.requests("/ok")),
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


def test_sigterm_stops_the_load_and_the_cluster_within_5_s_by_the_run_s_own_clock(
    sigterm_run: InterruptedRun,
) -> None:
    """Timed on the target and in run.json (``ended_at``: the last Locust process gone),
    not on swarm's exit, which comes after its own report of the run."""
    record = json.loads((sigterm_run.run_dir / "run.json").read_text(encoding="utf-8"))
    load_stopped_s = sigterm_run.last_request_at_s - sigterm_run.signalled_at_s
    cluster_stopped_s = _unix(record["ended_at"]) - sigterm_run.signalled_at_s
    print(
        f"\nSIGTERM → load stopped after {load_stopped_s:.2f} s, cluster {cluster_stopped_s:.2f} s"
    )
    assert load_stopped_s < STOP_S + SLACK_S
    assert cluster_stopped_s < STOP_S + SLACK_S


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
