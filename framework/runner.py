"""Run a scenario with Locust as a child process and keep the run folder true to what happened.

Locust runs in its own process (and its own session), so gevent never patches the CLI and
a terminal Ctrl-C reaches swarm first: swarm then asks Locust to stop (SIGTERM, Locust's
graceful path that still writes its reports), and a second Ctrl-C kills it. Locust's log
is shown live, copied to ``locust.log`` with secrets masked, and read for phase changes.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

from framework import __version__
from framework.errors import RunError
from framework.loader import LoadedScenario
from framework.loadplan import plan_for
from framework.rundir import RunFolder, RunRecord, create_run_folder, new_run_id, scrub_secrets

__all__ = [
    "EXIT_CHECK_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_RUN_FAILED",
    "RunOptions",
    "RunOutcome",
    "run_scenario",
]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID = 2
EXIT_RUN_FAILED = 3
EXIT_INTERRUPTED = 130


def _entry_file() -> Path:
    """Where ``locustfiles/scenario.py`` is installed (found without importing it)."""
    spec = importlib.util.find_spec("locustfiles.scenario")
    if spec is None or spec.origin is None:
        raise RunError("swarm is not installed correctly: locustfiles/scenario.py is missing")
    return Path(spec.origin)


# Locust log lines that mark a phase of the run.
_PHASE_MARKERS = (
    ("Starting web interface at", "web-ui"),
    ("Shape test starting", "running"),
    ("Ramping to", "running"),
    ("Shape test stopping", "stopping"),
    ("Run time limit reached", "stopping"),
    ("Shutting down", "stopping"),
)


@dataclass(frozen=True)
class RunOptions:
    """How to run: where the run folder goes, headless or web UI, extra Locust flags."""

    reports_dir: Path = Path("reports")
    run_id: str | None = None
    web: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = 8089
    locust_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    exit_code: int
    status: str


def _now() -> datetime:
    return datetime.now(UTC)


def _locust_version() -> str:
    try:
        return importlib.metadata.version("locust")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def locust_command(loaded: LoadedScenario, run_dir: Path, options: RunOptions) -> list[str]:
    """The exact ``locust`` command line for this run (no secrets: they stay in the env)."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(_entry_file()),
        "--scenario",
        str(loaded.path),
        "--html",
        str(run_dir / "locust_report.html"),
        "--csv",
        str(run_dir / "locust"),
        "--exit-code-on-error",
        "0",
        "--swarm-run-dir",
        str(run_dir),
    ]
    if loaded.host_override:
        command += ["--host", loaded.host_override]
    if options.web:
        command += ["--web-host", options.web_host, "--web-port", str(options.web_port)]
    else:
        command += ["--headless", "--only-summary"]
    return command + list(options.locust_args)


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
    record = RunRecord(
        run_id=run_id,
        scenario=loaded.scenario.name,
        scenario_file=str(loaded.path),
        host=loaded.host,
        started_at="",
        tags=dict(loaded.scenario.tags),
        mode="web" if options.web else "headless",
        plan={
            "shape": plan.name,
            "duration_s": plan.duration_s,
            "peak_users": plan.peak_users,
            "phases": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "start_s": p.start_s,
                    "end_s": p.end_s,
                    "users": p.users,
                }
                for p in plan.phases
            ],
        },
        swarm_version=__version__,
        locust_version=_locust_version(),
    )
    folder = create_run_folder(options.reports_dir, run_id, record, started=started)
    folder.write_scenario(loaded.redacted)
    command = locust_command(loaded, folder.path, options)
    folder.record.locust_args = command[3:]
    folder.phase("starting", started)
    if on_start:
        on_start(folder)

    env = {**os.environ, **options.env, "PYTHONUNBUFFERED": "1"}
    try:
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        folder.finish("failed", EXIT_RUN_FAILED, _now(), f"cannot start locust: {exc}")
        raise RunError(f"cannot start locust: {exc}") from None

    interrupted = threading.Event()
    seen = {"starting"}
    log_path = folder.path / "locust.log"

    def pump() -> None:
        secrets = sorted(loaded.secrets, key=len, reverse=True)
        with log_path.open("w", encoding="utf-8") as log:
            assert child.stdout is not None
            for line in child.stdout:
                for secret in secrets:
                    line = line.replace(secret, "***")
                out.write(line)
                out.flush()
                log.write(line)
                log.flush()
                for marker, phase in _PHASE_MARKERS:
                    if marker in line and phase not in seen:
                        seen.add(phase)
                        folder.phase(phase, _now())

    reader = threading.Thread(target=pump, name="locust-log", daemon=True)
    reader.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if interrupted.is_set():
            out.write("swarm: second interrupt, killing locust\n")
            _signal(child, signal.SIGKILL)
            return
        interrupted.set()
        out.write("swarm: interrupted, stopping locust (Ctrl-C again to kill it)\n")
        _signal(child, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    reader.join(timeout=10)
    scrub_secrets(folder.path, loaded.secrets)

    if interrupted.is_set():
        outcome = ("interrupted", EXIT_INTERRUPTED, "stopped by Ctrl-C or SIGTERM")
    elif returncode == 0:
        outcome = ("finished", EXIT_OK, None)
    elif returncode == 2 and "running" not in seen:
        outcome = ("failed", EXIT_INVALID, "locust rejected its arguments; see locust.log")
    else:
        outcome = (
            "failed",
            EXIT_RUN_FAILED,
            f"locust exited with code {returncode}; see locust.log",
        )
    status, code, message = outcome
    folder.finish(status, code, _now(), message)
    return RunOutcome(run_dir=folder.path, exit_code=code, status=status)


def _signal(child: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, sig)
