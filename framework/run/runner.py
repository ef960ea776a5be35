"""Run a scenario with Locust child processes and keep the run folder true to what happened.

Locust runs in child processes — one local process, or a master with worker processes —
each in its own session, so gevent never patches the CLI and a terminal Ctrl-C reaches
swarm first. On Ctrl-C or SIGTERM swarm asks the master to stop with SIGINT (Locust's
graceful path: it stops the users, writes its reports and tells workers to quit; a headless
shape run only installs its SIGTERM handler once the shape ends, so SIGTERM would kill it
outright). The children start with SIGINT at its default even when swarm itself was started
with it ignored (a background job of a script), and die with swarm if swarm is killed
(``framework.run.processes``). A second Ctrl-C, or a master still running
``_INTERRUPT_GRACE_S`` after the first, kills everything.
Locust's log is shown live, copied to the run folder, and read for phase changes and lost
workers; a headless run also shows its progress (``framework.run.progress``), which on a
terminal replaces the echo of Locust's INFO lines. A distributed master runs with Locust's
rebalancing on, so the users of a lost worker go to the workers that remain. Secret values
are kept out where texts are made: inside Locust (see ``locust_glue.redaction``), and here
in what swarm itself writes (``run.json`` holds the host and tags as the redacted scenario
has them). Each output line
is masked as it is copied, for what Locust's process prints outside its logging (a crash's
traceback); no file is rewritten after the run.

With ``--web`` the Locust process is a *session* and each start in its UI a run of its own
(``framework.run.web_session``): the session folder holds ``session.json`` and the whole
log, each run its own folder, run.json, report and index entry.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from framework import __version__
from framework.errors import ExitCode, RunError, ScenarioError, UsageError
from framework.live.announce import announced_at, read_announcement
from framework.live.faults import FAULTS_ENV
from framework.plan.faults import FaultPlanError, PlannedFault, planned_faults
from framework.plan.groups import LoadSchedule, schedule_for
from framework.plan.record import PlanRecord
from framework.plan.shapes import LoadPlan
from framework.run.bundle import write_bundle
from framework.run.faults import check_admin_apis, fault_records, record_change, settle_faults
from framework.run.folder import (
    RunFolder,
    RunRecord,
    SessionFolder,
    create_run_folder,
    new_run_id,
    swarm_process,
)
from framework.run.processes import LoggedProcess
from framework.run.revision import git_revision
from framework.run.web_session import RunEnd, RunEndHandler, WebRuns
from framework.scenario.budgets import Budgets
from framework.scenario.interpolation import MASK, mask_url_password
from framework.scenario.loader import LoadedScenario
from framework.timeline.writer import WRITE_FAILURE_END

if TYPE_CHECKING:  # imported when a run shows it: rich and the statistics take a while
    from framework.run.progress import TerminalProgress

__all__ = [
    "RunEnd",
    "RunOptions",
    "RunOutcome",
    "check_metrics_port",
    "check_port",
    "locust_command",
    "metrics_url",
    "run_scenario",
    "worker_command",
]


# Locust log lines that mark a phase of the run.
_PHASE_MARKERS = (
    ("Starting web interface at", "web-ui"),
    ("Waiting for workers to be ready", "waiting-for-workers"),
    ("Shape test starting", "running"),
    ("Ramping to", "running"),
    ("Shape test stopping", "stopping"),
    ("Run time limit reached", "stopping"),
    ("Shutting down", "stopping"),
)
_LIVE_STATES = ("running", "paused", "stopping")
# What Locust's log says of a web-UI session itself (its runs' phases are announced).
_SESSION_PHASES = ("web-ui", "waiting-for-workers")
_MISSING = "failed to send heartbeat, setting state to missing"
_HEALED = "self-healed with heartbeat"
_WORKERS_QUIT_GRACE_S = 15.0
_INTERRUPT_GRACE_S = 15.0  # after Ctrl-C/SIGTERM: time for Locust to stop and write its reports
_WRITE_FAILURE = "swarm: cannot write "
_ABORT_FIELDS = ("rule", "kind", "message", "figures", "second", "elapsed_s")
_SEARCH_FIELDS = ("steps_run", "stopped_at_step", "reason", "stopped_at")
_FORWARDED_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)  # pause, resume (locust_glue.control)


@dataclass(frozen=True)
class RunOptions:
    """How to run: where the run folder goes, headless or web UI, workers, extra Locust flags.

    ``workers`` starts that many local worker processes beside a master; ``expect_workers``
    waits for that many more to connect from elsewhere (``swarm worker``). ``env`` is added
    to Locust's environment; its values may be keys, so ``repr()`` shows only its names.
    """

    reports_dir: Path = Path("reports")
    run_id: str | None = None
    web: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = 8089
    locust_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 0
    expect_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    master_port: int = 0
    allow_worker_loss: bool = False
    workers_timeout_s: float = 60.0
    # Live Prometheus /metrics (owner: H): a port of its own besides the web UI's (0: none).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    plugins: tuple[Path, ...] = ()  # Python files Locust loads beside the scenario (hooks)
    # Terminal progress of a headless run (framework.run.progress): off for library callers;
    # ``budgets`` are those the report will judge (``--budgets``), else the scenario's.
    progress: bool = False
    progress_interval_s: float = 10.0
    budgets: Budgets | None = None

    def __repr__(self) -> str:
        shown = {
            f.name: {k: MASK for k in self.env} if f.name == "env" else getattr(self, f.name)
            for f in fields(self)
        }
        return f"RunOptions({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def distributed(self) -> bool:
        return self.workers > 0 or self.expect_workers > 0


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended; ``scenario`` is the copy saved as its ``scenario.yaml`` (secrets as
    ``${VAR}``), handed on so the report need not parse that file again."""

    run_dir: Path
    exit_code: int
    status: str
    scenario: Mapping[str, Any] | None = None
    message: str | None = None
    runs: tuple[RunEnd, ...] = ()
    """With ``--web``: the session's runs (``run_dir`` is then the session folder)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _locust_version() -> str:
    try:
        return importlib.metadata.version("locust")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _entry_file() -> Path:
    """Where ``locustfiles/scenario.py`` is installed (found without importing it)."""
    spec = importlib.util.find_spec("locustfiles.scenario")
    if spec is None or spec.origin is None:
        raise RunError("swarm is not installed correctly: locustfiles/scenario.py is missing")
    return Path(spec.origin)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host if host not in ("", "*", "0.0.0.0") else "127.0.0.1", 0))
        return int(probe.getsockname()[1])


def metrics_url(options: RunOptions) -> str | None:
    """Where the run's live ``/metrics`` can be scraped: its own port if given, else the web
    UI's; ``None`` for a headless run without ``--metrics-port``. A wildcard address is
    written as 127.0.0.1 (the URL must be one a scraper on this machine can open)."""
    if options.metrics_port:
        host, port = options.metrics_host, options.metrics_port
    elif options.web:
        host, port = options.web_host, options.web_port
    else:
        return None
    host = "127.0.0.1" if host in ("", "*", "0.0.0.0", "::") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/metrics"


def check_metrics_port(host: str, port: int) -> None:
    """``UsageError`` (exit 2, before any load is sent) when ``host:port`` cannot be bound:
    a user who asked for ``/metrics`` there expects it, and a run without it would pass
    unwatched."""
    check_port(host, port, flag="--metrics-port", serves="/metrics")


def check_port(host: str, port: int, *, flag: str, serves: str) -> None:
    """``UsageError`` naming ``flag`` (exit 2, before anything starts) when ``host:port``
    cannot be bound: Locust would otherwise fail inside a greenlet with a traceback, after
    the run folder was made."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(
                f"{flag} {port}: cannot serve {serves} at {host}:{port}: {reason}; "
                "choose a free port (or stop what listens there)",
                flag=flag,
                value=str(port),
            ) from None


def _locustfiles(entry: Path, options: RunOptions) -> str:
    """Locust's ``-f``: the entry file, then each plugin (Locust imports them in this order,
    so a plugin's ``init`` listener runs after swarm's and finds the live feed)."""
    return ",".join(str(p) for p in (entry, *options.plugins))


def locust_command(
    loaded: LoadedScenario, run_dir: Path, options: RunOptions, *, master_port: int = 0
) -> list[str]:
    """The ``locust`` command line of the local process or master (no secrets in it)."""
    command = [sys.executable, "-m", "locust"]
    if options.distributed or loaded.modified:
        # The scenario as the command line changed it (--set, --time-scale) is in the bundle.
        command += ["-f", _locustfiles(run_dir / "swarm_bundle.py", options)]
    else:
        command += ["-f", _locustfiles(_entry_file(), options), "--scenario", str(loaded.path)]
    if options.distributed:
        command += ["--master"]
        command += ["--master-bind-host", options.master_bind_host]
        command += ["--master-bind-port", str(master_port)]
        command += ["--expect-workers", str(options.workers + options.expect_workers)]
        command += ["--expect-workers-max-wait", f"{options.workers_timeout_s:g}"]
        # A lost worker's users go to the others (Locust calls start() again when it marks
        # a worker missing), so the plan's user count holds.
        command += ["--enable-rebalancing"]
    command += ["--html", str(run_dir / "locust_report.html"), "--csv", str(run_dir / "locust")]
    folder_option = "--swarm-session-dir" if options.web else "--swarm-run-dir"
    command += ["--exit-code-on-error", "0", folder_option, str(run_dir)]
    if loaded.host_override:
        command += ["--host", loaded.host_override]
    if options.metrics_port:
        command += ["--swarm-metrics-host", options.metrics_host]
        command += ["--swarm-metrics-port", str(options.metrics_port)]
    if options.web:
        command += ["--web-host", options.web_host, "--web-port", str(options.web_port)]
    else:
        command += ["--headless", "--only-summary"]
    return command + list(options.locust_args)


def _changes_comment(loaded: LoadedScenario) -> list[str]:
    """The head of the saved ``scenario.yaml`` when the command line changed the scenario:
    the file it came from, each ``--set`` (already applied below) and the ``--time-scale``
    (applied to the plan in ``run.json``, not to the durations below)."""
    if not loaded.modified:
        return []
    lines = [f"The scenario as this run used it: {loaded.path.name} with"]
    lines += [f"  --set {text}" for text in loaded.shown_overrides]
    if loaded.time_scale != 1.0:
        lines.append(
            f"  --time-scale {loaded.time_scale:g} (every duration of load below times "
            f"{loaded.time_scale:g}, its spawn rates divided by it; run.json's plan is the "
            "plan that ran)"
        )
    return lines


def worker_command(master_host: str, master_port: int) -> list[str]:
    """A worker that downloads the scenario bundle from its master (``-f -``)."""
    return [
        sys.executable, "-m", "framework.locust_glue.worker_main", "--worker",
        "--master-host", master_host, "--master-port", str(master_port), "-f", "-",
    ]  # fmt: skip


class _Run:
    """The mutable state of one run while its processes live."""

    def __init__(
        self,
        loaded: LoadedScenario,
        options: RunOptions,
        folder: RunFolder,
        *,
        on_run_end: RunEndHandler | None = None,
        out: TextIO = sys.stdout,
        progress: TerminalProgress | None = None,
    ) -> None:
        self.loaded = loaded
        self.progress = progress
        self.options = options
        self.folder = folder
        self.lock = threading.Lock()
        self.web = (
            WebRuns(
                folder,
                scenario=loaded.redacted,
                lock=self.lock,
                on_run_end=on_run_end,
                out=out,
                interrupted_at=lambda: self.interrupted_at,
            )
            if isinstance(folder, SessionFolder)
            else None
        )
        self.seen = {"starting"}
        self.interrupted = threading.Event()
        self.interrupted_at: datetime | None = None
        self.interrupt_noted = False
        self.missing: set[str] = set()
        self.process_deaths: list[str] = []
        self.aborted_at: datetime | None = None
        self.faults: tuple[PlannedFault, ...] = ()

    def on_master_line(self, line: str) -> None:
        with self.lock, self._noting_write_failures():
            announced = read_announcement(line)
            starts = announced is not None and announced["event"] == "run"
            starts = starts and announced.get("phase") == "started"
            if self.web is not None and not starts:
                self.web.copy_line(line)
            if announced is not None:
                self.on_announcement(announced)
                if self.web is not None and starts:
                    self.web.copy_line(line)
                return
            if _WRITE_FAILURE in line and WRITE_FAILURE_END in line:
                start = line.index(_WRITE_FAILURE) + len("swarm: ")
                failed = self.web.target() if self.web is not None else self.folder
                failed.note_write_failure(line[start : line.index(WRITE_FAILURE_END)])
            for marker, phase in _PHASE_MARKERS:
                if self.web is not None and phase not in _SESSION_PHASES:
                    continue
                if marker in line and phase != self.folder.record.status:
                    self.seen.add(phase)
                    self.folder.phase(phase, _now())
            if _MISSING in line or _HEALED in line:
                worker = line.split("Worker ", 1)[-1].split(" ", 1)[0]
                event = "missing" if _MISSING in line else "recovered"
                (self.missing.add if event == "missing" else self.missing.discard)(worker)
                self._worker_event(worker, event)

    def on_announcement(self, announced: dict[str, Any]) -> None:
        """A state the master's run moved to: record the live ones (running, paused,
        stopping) as phases at the master's time; how the run ended is decided here.
        With ``--web``, ``run`` starts and ends a run of the session, and states, aborts,
        sinks' news and transitions are the current run's."""
        event = announced["event"]
        if event == "run" and self.web is not None:
            self.web.on_run(announced)
        elif event == "abort":
            self._on_abort(announced)
        elif event == "capacity_search":
            self._on_capacity_search(announced)
        elif event == "sink":
            self._note_sink(announced)
        elif event == "control" and isinstance(announced.get("url"), str):
            self.folder.record.control = announced["url"]  # where ``swarm ctl`` reaches it
            self.folder.save()
        elif event == "state" and isinstance(announced.get("state"), str):
            self._on_state(announced)
        elif event == "fault":
            folder = self.current_folder
            at = _iso(announced_at(announced))
            if record_change(folder.record.faults, announced, at, self.loaded.redactor):
                folder.save()

    def _on_state(self, announced: dict[str, Any]) -> None:
        """A state of the master's run: a transition in run.json, the progress's state, and
        for the live ones a phase (of the current run, in a web-UI session)."""
        state, at = announced["state"], announced_at(announced)
        reason = announced.get("reason") if isinstance(announced.get("reason"), str) else None
        self._transition(state, at, reason)
        if self.progress is not None:
            at_s = announced.get("at_s")
            self.progress.on_state(state, at_s if isinstance(at_s, int | float) else None, reason)
        if state not in _LIVE_STATES:
            return
        if self.web is not None:
            self.web.on_state(state, at)
        elif state != self.folder.record.status:
            self.seen.add(state)
            self.folder.phase(state, at)

    @property
    def current_folder(self) -> RunFolder:
        """Where the master's news goes: the run folder, or in a web-UI session the folder
        of its current run (the session's own record when no run has started)."""
        if self.web is not None and self.web.current is not None:
            return self.web.current
        return self.folder

    def _on_abort(self, announced: dict[str, Any]) -> None:
        """An abort guard tripped in the master: keep its rule and figures in run.json (the
        run ends ``aborted`` once Locust has stopped)."""
        self.aborted_at = announced_at(announced)
        folder = self.current_folder
        folder.record.abort = {
            "at": _iso(self.aborted_at),
            **{k: announced.get(k) for k in _ABORT_FIELDS},
        }
        folder.save()

    def _on_capacity_search(self, announced: dict[str, Any]) -> None:
        """Where the master's capacity search is (a find_capacity run): run.json's
        ``capacity_search``, rewritten as it goes."""
        folder = self.current_folder
        folder.record.capacity_search = {k: announced.get(k) for k in _SEARCH_FIELDS}
        folder.save()

    @property
    def aborted_first(self) -> bool:
        """A guard stopped the run (before any Ctrl-C, which then only hurried it)."""
        if self.aborted_at is None:
            return False
        return self.interrupted_at is None or self.aborted_at <= self.interrupted_at

    def _note_sink(self, announced: dict[str, Any]) -> None:
        """A live sink's news (InfluxDB: writing, failing, its totals at the end): the
        latest of each sink goes to run.json's ``sinks``."""
        name = announced.get("sink")
        name = name if isinstance(name, str) and name else "influxdb"
        folder = self.current_folder
        folder.record.sinks[name] = {
            k: v for k, v in announced.items() if k not in ("event", "sink")
        }
        folder.save()

    def _transition(self, state: str, at: datetime, reason: str | None) -> None:
        """Note one of the master's transitions (with its reason) in run.json's
        ``transitions``."""
        folder = self.current_folder
        folder.record.transitions.append({"state": state, "at": _iso(at), "reason": reason})
        folder.save()

    def on_worker_exit(self, name: str, code: int) -> None:
        with self.lock, self._noting_write_failures():
            if "stopping" in self.seen or self.interrupted.is_set():
                return
            self.process_deaths.append(name)
            self._worker_event(name, f"process exited with code {code}")

    @contextlib.contextmanager
    def _noting_write_failures(self) -> Iterator[None]:
        """run.json that cannot be saved mid-run (a full disk) fails the run at its end;
        it must not end the thread that reads Locust's output."""
        try:
            yield
        except RunError as exc:
            self.folder.note_write_failure(str(exc))

    def _worker_event(self, worker: str, event: str) -> None:
        folder = self.web.target() if self.web is not None else self.folder
        folder.record.worker_events.append({"at": _iso(_now()), "worker": worker, "event": event})
        folder.save()

    @property
    def lost_workers(self) -> int:
        return max(len(self.process_deaths), len(self.missing))


def run_scenario(
    loaded: LoadedScenario,
    options: RunOptions,
    *,
    out: TextIO = sys.stdout,
    on_start: Callable[[RunFolder], None] | None = None,
    on_run_end: RunEndHandler | None = None,
) -> RunOutcome:
    """Run ``loaded`` to the end of its plan (or until interrupted) and return the outcome.

    With ``options.web`` this is a web-UI session: ``options.run_id`` (or a new id) names the
    session folder, each start in the UI makes a run, and ``on_run_end`` is called for each
    run once it has ended (on a worker thread, one at a time; its return value, the report's
    exit code, is noted in session.json). The outcome is then the session's (see
    ``_session_verdict``), with its runs in ``runs``."""
    if options.metrics_port:
        check_metrics_port(options.metrics_host, options.metrics_port)
    if options.web:
        check_port(options.web_host, options.web_port, flag="--web-port", serves="the web UI")
    started = _now()
    run_id = options.run_id or new_run_id(loaded.scenario.name, started)
    schedule = schedule_for(loaded.scenario, time_scale=loaded.time_scale)
    plan = schedule.locust_plan()
    faults = _planned_faults(loaded, schedule)
    check_admin_apis(faults, loaded.scenario.faults)  # before any folder or load
    redactor = loaded.redactor
    tags = loaded.redacted.get("tags")
    record = RunRecord(
        run_id=run_id,
        scenario=loaded.scenario.name,
        scenario_file=str(loaded.path),
        host=mask_url_password(redactor.text(loaded.host)) if loaded.host else None,
        started_at="",
        tags=dict(tags) if isinstance(tags, dict) else {},
        git_revision=git_revision(str(loaded.path)),
        mode="web" if options.web else "headless",
        workers=options.workers + options.expect_workers,
        plan=PlanRecord.from_schedule(schedule, [u.name for u in loaded.scenario.users]),
        overrides=loaded.shown_overrides,
        time_scale=loaded.time_scale,
        swarm_process=swarm_process(),
        swarm_version=__version__,
        locust_version=_locust_version(),
        faults=fault_records(faults, redactor),
    )
    folder = create_run_folder(
        options.reports_dir,
        run_id,
        record,
        started=started,
        kind=SessionFolder if options.web else RunFolder,
    )
    folder.write_scenario(loaded.redacted, _changes_comment(loaded))
    master_port = 0
    if options.distributed or loaded.modified:
        write_bundle(loaded, folder.path)
    if options.distributed:
        master_port = options.master_port or _free_port(options.master_bind_host)
        folder.record.master = f"{options.master_bind_host}:{master_port}"
    command = locust_command(loaded, folder.path, options, master_port=master_port)
    folder.record.locust_args = [mask_url_password(redactor.text(a)) for a in command[3:]]
    folder.record.metrics_url = metrics_url(options)
    folder.phase("starting", started)
    if on_start:
        on_start(folder)

    progress = _progress(loaded, options, folder, plan, out, schedule=schedule)
    echo = progress.echo if progress is not None else out
    say = progress.say if progress is not None else out.write
    run = _Run(loaded, options, folder, on_run_end=on_run_end, out=out, progress=progress)
    run.faults = faults
    env = {**os.environ, **options.env, "PYTHONUNBUFFERED": "1"}
    if faults:  # the master runs them; resolved values stay in its environment, unwritten
        env[FAULTS_ENV] = json.dumps([fault.to_dict() for fault in faults])
    processes: list[LoggedProcess] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if run.interrupted.is_set():
            say("swarm: second interrupt, killing locust\n")
            for process in processes:
                process.signal(signal.SIGKILL)
            return
        run.interrupted_at = _now()
        run.interrupted.set()
        name = signal.Signals(signum).name
        say(f"swarm: {name}, stopping locust (Ctrl-C again to kill it)\n")
        if processes:
            processes[0].signal(signal.SIGINT)

    def forward(signum: int, _frame: FrameType | None) -> None:
        """SIGUSR1 / SIGUSR2 pause / resume: the master's control handles them once it has
        announced its control endpoint (before that they would end it)."""
        name = signal.Signals(signum).name
        if processes and folder.record.control and not run.interrupted.is_set():
            processes[0].signal(signum)
        else:
            out.write(f"swarm: {name} ignored: the run cannot be paused or resumed yet\n")

    # Before the children start, so a signal in between is not lost.
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        | {s: signal.signal(s, forward) for s in _FORWARDED_SIGNALS}
        if on_main_thread
        else {}
    )
    try:
        if progress is not None:
            progress.start()
        try:
            processes.append(
                LoggedProcess(
                    "master" if options.distributed else "locust",
                    command,
                    log_path=folder.path / "locust.log",
                    env=env,
                    secrets=loaded.secrets,
                    echo=echo,
                    echoes=_not_announcement,
                    on_line=run.on_master_line,
                )
            )
            for i in range(1, options.workers + 1):
                processes.append(
                    LoggedProcess(
                        f"worker-{i}",
                        worker_command("127.0.0.1", master_port),
                        log_path=folder.path / f"worker-{i}.log",
                        env=env,
                        secrets=loaded.secrets,
                    )
                )
        except OSError as exc:
            for process in processes:
                process.stop()
            folder.finish("failed", ExitCode.RUN_FAILED, _now(), f"cannot start locust: {exc}")
            raise RunError(f"cannot start locust: {exc}", path=folder.path) from None
        if run.interrupted.is_set():  # a signal while the children were starting
            processes[0].signal(signal.SIGINT)
        master, workers = processes[0], processes[1:]
        returncode = _supervise(run, master, workers)
    finally:
        if progress is not None:
            progress.stop(ended_as=_ended_as(run, processes))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    folder.record.worker_processes = [
        {"name": w.name, "pid": w.pid, "exit_code": w.poll()} for w in workers
    ]
    _settle_faults(run)
    if run.web is not None:
        run.web.settle(_now(), locust_code=returncode)
    status, code, message = (
        _session_verdict(run, run.web, returncode)
        if run.web is not None
        else _verdict(run, returncode)
    )
    for process in (master, *workers):
        if process.write_error:
            folder.note_write_failure(process.write_error)
    if folder.write_failures and code != ExitCode.INTERRUPTED:
        status, code, message = "failed", ExitCode.RUN_FAILED, folder.write_failures[0]
    _finish(folder, status, code, message, out)
    return RunOutcome(
        run_dir=folder.path,
        exit_code=code,
        status=status,
        scenario=loaded.redacted,
        message=message,
        runs=tuple(run.web.ended) if run.web is not None else (),
    )


def _planned_faults(loaded: LoadedScenario, schedule: LoadSchedule) -> tuple[PlannedFault, ...]:
    """The scenario's faults on the plan's clock; a fault that does not fit the plan is the
    scenario's problem (the CLI reports it located, before this)."""
    try:
        return planned_faults(loaded, schedule, time_scale=loaded.time_scale)
    except FaultPlanError as exc:
        raise ScenarioError([loaded.problem_at(p, m) for p, m in exc.problems]) from None


def _settle_faults(run: _Run) -> None:
    """End what the master left in force (it was killed) in every run folder of this
    ``swarm run``, and mark the faults that never started ``skipped``."""
    if not run.faults:
        return
    folders = list(run.web.runs.values()) if run.web is not None else [run.folder]
    for folder in folders:
        try:
            if settle_faults(folder.record.faults, run.faults, _iso(_now())):
                folder.save()
        except RunError as exc:
            folder.note_write_failure(str(exc))


def _progress(
    loaded: LoadedScenario,
    options: RunOptions,
    folder: RunFolder,
    plan: LoadPlan,
    out: TextIO,
    *,
    schedule: LoadSchedule,
) -> TerminalProgress | None:
    """The terminal progress of a headless run (``None`` in the web UI or when not asked);
    it shows the arrivals of the ``schedule``'s open load groups against their plans."""
    if not options.progress or options.web:
        return None
    from framework.live.arrivals import open_rates
    from framework.live.budget_status import budget_limits
    from framework.run.progress import TerminalProgress

    return TerminalProgress(
        run_dir=folder.path,
        plan=plan,
        rates=open_rates(schedule),
        limits=budget_limits(options.budgets or loaded.scenario.budgets),
        out=out,
        scenario=loaded.scenario.name,
        interval_s=options.progress_interval_s,
    )


def _ended_as(run: _Run, processes: list[LoggedProcess]) -> str | None:
    """How the progress display should end when the master's last state would mislead:
    ``interrupted`` after Ctrl-C, ``failed`` when Locust did not exit cleanly."""
    if run.interrupted.is_set():
        return "interrupted"
    code = processes[0].poll() if processes else None
    return None if code == 0 else "failed"


def _not_announcement(line: str) -> bool:
    """Lines for the terminal: the master's announcements to swarm stay in ``locust.log``."""
    return read_announcement(line) is None


def _finish(folder: RunFolder, status: str, code: int, message: str | None, out: TextIO) -> None:
    """Record the end in run.json (``finish`` gives the reserve back first, so a full disk
    still leaves it saying ``failed`` and why); if even that fails, say so."""
    try:
        folder.finish(status, code, _now(), message)
    except RunError as exc:
        out.write(f"swarm: {exc}; run.json could not record how the run ended\n")


def _supervise(run: _Run, master: LoggedProcess, workers: list[LoggedProcess]) -> int:
    """Wait for the master, noting workers that die under it; then see the workers out.

    After an interrupt the master has ``_INTERRUPT_GRACE_S`` to stop; then it and the
    workers are killed, so a Locust that does not react to SIGINT cannot keep the load on.
    """
    alive = {w.name: w for w in workers}
    while True:
        returncode = master.wait(0.25)
        for name, worker in list(alive.items()):
            code = worker.poll()
            if code is not None:
                del alive[name]
                run.on_worker_exit(name, code)
        if returncode is not None:
            break
        if run.interrupted_at is not None and not run.interrupt_noted:
            run.interrupt_noted = True
            with run.lock:  # the signal's time, unless Locust's log said "stopping" first
                if run.web is not None:
                    run.web.interrupt(run.interrupted_at)
                if run.folder.record.status != "stopping":
                    run.folder.phase("stopping", run.interrupted_at)
        if (
            run.interrupted_at is not None
            and (_now() - run.interrupted_at).total_seconds() > _INTERRUPT_GRACE_S
        ):
            for process in (master, *alive.values()):
                process.signal(signal.SIGKILL)
    grace_s = 3.0 if run.interrupted.is_set() else _WORKERS_QUIT_GRACE_S
    for worker in alive.values():
        if worker.wait(grace_s) is None:
            worker.stop()
    return returncode


def _session_verdict(run: _Run, web: WebRuns, returncode: int) -> tuple[str, int, str | None]:
    """How a web-UI session ends. Its runs' verdicts are theirs (in each report and in the
    index); the session exits 130 only if Ctrl-C or SIGTERM interrupted a run in progress,
    3 if Locust failed or a run could not be recorded, and 0 otherwise: Ctrl-C after the
    runs (or before any) is how a web-UI session ends."""
    count = f"{len(web.ended)} run(s)"
    if web.interrupted_runs:
        return "interrupted", ExitCode.INTERRUPTED, f"interrupted {web.interrupted_runs[0]}"
    if returncode == 2 and not web.ended and not run.interrupted.is_set():
        return "failed", ExitCode.INVALID_INPUT, "locust rejected its arguments; see locust.log"
    if returncode != 0 and not run.interrupted.is_set():
        return "failed", ExitCode.RUN_FAILED, f"locust exited with code {returncode}; {count}"
    if web.failed_runs:
        failed = web.failed_runs[0]
        return "failed", ExitCode.RUN_FAILED, f"run {failed.run_id} failed: {failed.message}"
    return "finished", ExitCode.OK, count


def _verdict(run: _Run, returncode: int) -> tuple[str, int, str | None]:
    if run.aborted_first and returncode == 0:
        abort = run.folder.record.abort or {}
        return "aborted", ExitCode.CHECK_FAILED, str(abort.get("message") or "aborted")
    if run.interrupted.is_set():
        return "interrupted", ExitCode.INTERRUPTED, "stopped by Ctrl-C or SIGTERM"
    if returncode == 2 and "running" not in run.seen:
        return "failed", ExitCode.INVALID_INPUT, "locust rejected its arguments; see locust.log"
    if returncode != 0:
        message = f"locust exited with code {returncode}; see locust.log"
        return "failed", ExitCode.RUN_FAILED, message
    lost = run.lost_workers
    if lost and not run.options.allow_worker_loss:
        return (
            "finished",
            ExitCode.RUN_FAILED,
            f"lost {lost} worker(s) during the run; see worker_events "
            "(pass --allow-worker-loss to accept this)",
        )
    search = run.folder.record.capacity_search or {}
    if search.get("stopped_at_step") is not None:  # the capacity search ended the run
        return "finished", ExitCode.OK, f"capacity search: {search.get('reason')}"
    return "finished", ExitCode.OK, None
