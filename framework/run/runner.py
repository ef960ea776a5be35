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
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
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
from framework.errors import ExitCode, RunError
from framework.live.announce import read_announcement
from framework.plan.load_plan import plan_for
from framework.plan.record import PlanRecord
from framework.plan.shapes import LoadPlan
from framework.run.bundle import write_bundle
from framework.run.folder import (
    RunFolder,
    RunRecord,
    create_run_folder,
    new_run_id,
    swarm_process,
)
from framework.run.processes import LoggedProcess
from framework.run.revision import git_revision
from framework.scenario.budgets import Budgets
from framework.scenario.interpolation import MASK, mask_url_password
from framework.scenario.loader import LoadedScenario
from framework.timeline.writer import WRITE_FAILURE_END

if TYPE_CHECKING:  # imported when a run shows it: rich and the statistics take a while
    from framework.run.progress import TerminalProgress

__all__ = [
    "RunOptions",
    "RunOutcome",
    "locust_command",
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
_MISSING = "failed to send heartbeat, setting state to missing"
_HEALED = "self-healed with heartbeat"
_WORKERS_QUIT_GRACE_S = 15.0
_INTERRUPT_GRACE_S = 15.0  # after Ctrl-C/SIGTERM: time for Locust to stop and write its reports
_WRITE_FAILURE = "swarm: cannot write "


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


def locust_command(
    loaded: LoadedScenario, run_dir: Path, options: RunOptions, *, master_port: int = 0
) -> list[str]:
    """The ``locust`` command line of the local process or master (no secrets in it)."""
    command = [sys.executable, "-m", "locust"]
    if options.distributed:
        command += ["-f", str(run_dir / "swarm_bundle.py"), "--master"]
        command += ["--master-bind-host", options.master_bind_host]
        command += ["--master-bind-port", str(master_port)]
        command += ["--expect-workers", str(options.workers + options.expect_workers)]
        command += ["--expect-workers-max-wait", f"{options.workers_timeout_s:g}"]
        # A lost worker's users go to the others (Locust calls start() again when it marks
        # a worker missing), so the plan's user count holds.
        command += ["--enable-rebalancing"]
    else:
        command += ["-f", str(_entry_file()), "--scenario", str(loaded.path)]
    command += ["--html", str(run_dir / "locust_report.html"), "--csv", str(run_dir / "locust")]
    command += ["--exit-code-on-error", "0", "--swarm-run-dir", str(run_dir)]
    if loaded.host_override:
        command += ["--host", loaded.host_override]
    if options.web:
        command += ["--web-host", options.web_host, "--web-port", str(options.web_port)]
    else:
        command += ["--headless", "--only-summary"]
    return command + list(options.locust_args)


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
        progress: TerminalProgress | None = None,
    ) -> None:
        self.loaded = loaded
        self.progress = progress
        self.options = options
        self.folder = folder
        self.lock = threading.Lock()
        self.seen = {"starting"}
        self.interrupted = threading.Event()
        self.interrupted_at: datetime | None = None
        self.interrupt_noted = False
        self.missing: set[str] = set()
        self.process_deaths: list[str] = []

    def on_master_line(self, line: str) -> None:
        with self.lock, self._noting_write_failures():
            announced = read_announcement(line)
            if announced is not None:
                self.on_announcement(announced)
                return
            if _WRITE_FAILURE in line and WRITE_FAILURE_END in line:
                start = line.index(_WRITE_FAILURE) + len("swarm: ")
                self.folder.note_write_failure(line[start : line.index(WRITE_FAILURE_END)])
            for marker, phase in _PHASE_MARKERS:
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
        stopping) as phases at the master's time; how the run ended is decided here."""
        state = announced.get("state")
        if announced["event"] == "state" and self.progress is not None and isinstance(state, str):
            at_s = announced.get("at_s")
            reason = announced.get("reason")
            self.progress.on_state(
                state,
                at_s if isinstance(at_s, int | float) else None,
                reason if isinstance(reason, str) else None,
            )
        if announced["event"] != "state" or state not in _LIVE_STATES:
            return
        if state != self.folder.record.status:
            self.seen.add(state)
            at_s = announced.get("at_s")
            at = datetime.fromtimestamp(at_s, UTC) if isinstance(at_s, int | float) else _now()
            self.folder.phase(state, at)

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
        self.folder.record.worker_events.append(
            {"at": _iso(_now()), "worker": worker, "event": event}
        )
        self.folder.save()

    @property
    def lost_workers(self) -> int:
        return max(len(self.process_deaths), len(self.missing))


def run_scenario(
    loaded: LoadedScenario,
    options: RunOptions,
    *,
    out: TextIO = sys.stdout,
    on_start: Callable[[RunFolder], None] | None = None,
) -> RunOutcome:
    """Run ``loaded`` to the end of its plan (or until interrupted) and return the outcome."""
    started = _now()
    run_id = options.run_id or new_run_id(loaded.scenario.name, started)
    plan = plan_for(loaded.scenario.load)
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
        plan=PlanRecord.from_plan(plan),
        swarm_process=swarm_process(),
        swarm_version=__version__,
        locust_version=_locust_version(),
    )
    folder = create_run_folder(options.reports_dir, run_id, record, started=started)
    folder.write_scenario(loaded.redacted)
    master_port = 0
    if options.distributed:
        write_bundle(loaded, folder.path)
        master_port = options.master_port or _free_port(options.master_bind_host)
        folder.record.master = f"{options.master_bind_host}:{master_port}"
    command = locust_command(loaded, folder.path, options, master_port=master_port)
    folder.record.locust_args = [mask_url_password(redactor.text(a)) for a in command[3:]]
    folder.phase("starting", started)
    if on_start:
        on_start(folder)

    progress = _progress(loaded, options, folder, plan, out)
    echo = progress.echo if progress is not None else out
    say = progress.say if progress is not None else out.write
    run = _Run(loaded, options, folder, progress)
    env = {**os.environ, **options.env, "PYTHONUNBUFFERED": "1"}
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

    # Before the children start, so a signal in between is not lost.
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
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
    status, code, message = _verdict(run, returncode)
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
    )


def _progress(
    loaded: LoadedScenario, options: RunOptions, folder: RunFolder, plan: LoadPlan, out: TextIO
) -> TerminalProgress | None:
    """The terminal progress of a headless run (``None`` in the web UI or when not asked)."""
    if not options.progress or options.web:
        return None
    from framework.live.budget_status import budget_limits
    from framework.run.progress import TerminalProgress

    return TerminalProgress(
        run_dir=folder.path,
        plan=plan,
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


def _verdict(run: _Run, returncode: int) -> tuple[str, int, str | None]:
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
    return "finished", ExitCode.OK, None
