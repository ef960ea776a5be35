"""Run a suite: each test a ``swarm run`` child process, in order, then the suite report.

Each test is a normal run — its own folder, ``run.json``, reports and index entry, its own
exit code — made by the same command a person would type, so a suite's run is
indistinguishable from one run by hand, and ``swarm report`` / ``swarm compare`` work on it
unchanged. The child is ``python -m framework.cli run SCENARIO --run-id ID --set ...``, in a
session of its own (it dies with the suite if the suite is killed): a terminal's Ctrl-C
reaches the suite alone, which forwards one SIGINT, so the child stops Locust gracefully
and leaves a complete run folder (a second Ctrl-C is forwarded too: the child then kills
Locust). The suite then writes its report of what ran and exits 130.

A test that fails (exit 1) or cannot run (2, 3) stops the suite unless ``keep_going``; the
tests after it are listed ``skipped``. The suite report is rewritten after every test, so
even a suite that is killed leaves one that lists what had finished.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

import framework
from framework.errors import ExitCode, RunError, UsageError
from framework.run.folder import new_run_id
from framework.run.processes import child_setup
from framework.suites.loader import LoadedSuite, PlannedTest
from framework.suites.mocks import suite_mocks
from framework.suites.report import write_suite_report
from framework.suites.results import SuiteResult, TestResult, read_run
from framework.suites.scaling import scaling_of

__all__ = ["SUITES_FOLDER", "SuiteOptions", "SuiteOutcome", "run_suite", "suite_command"]

SUITES_FOLDER = "suites"
"""Where suite folders go inside the reports folder: ``<out>/suites/<UTC time>-<name>/``."""


@dataclass(frozen=True)
class SuiteOptions:
    """How to run a suite.

    ``analysis_args`` are passed to every ``swarm run`` (``--confidence 0.9``,
    ``--baseline latest``, ...); ``confidence`` is the level of the scalability analysis
    (the same ``--confidence``); ``quiet`` passes ``--quiet``; ``env`` is added to the
    children's environment.
    """

    reports_dir: Path = Path("reports")
    test_type: str = "all"
    keep_going: bool = False
    analysis_args: tuple[str, ...] = ()
    confidence: float = 0.95
    quiet: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteOutcome:
    """What ran, where the suite report is and the exit code (``SuiteResult.exit_code``)."""

    result: SuiteResult
    folder: Path
    files: Mapping[str, Path]

    @property
    def exit_code(self) -> int:
        return self.result.exit_code


def suite_command(
    test: PlannedTest, run_id: str, workers: int, reports_dir: Path, options: SuiteOptions
) -> list[str]:
    """The ``swarm run`` command line of one run of ``test``."""
    command = [
        sys.executable, "-m", "framework.cli", "run", str(test.scenario_path),
        "--out", str(reports_dir), "--run-id", run_id, "--workers", str(workers),
    ]  # fmt: skip
    if test.test.time_scale != 1.0:
        command += ["--time-scale", repr(test.test.time_scale)]
    for text in test.overrides_at(workers):
        command += ["--set", text]
    command += list(options.analysis_args)
    if options.quiet:
        command.append("--quiet")
    return command


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _suite_folder(reports_dir: Path, name: str, now: datetime) -> Path:
    """A new ``<out>/suites/<UTC time>-<name>`` (``-2``, ``-3`` … if taken this second)."""
    base = reports_dir / SUITES_FOLDER
    stem = new_run_id(name, now)
    try:
        base.mkdir(parents=True, exist_ok=True)
        for n in range(1, 100):
            folder = base / (stem if n == 1 else f"{stem}-{n}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder
    except OSError as exc:
        raise RunError(
            f"cannot create the suite folder in {base}: {exc.strerror or exc}", path=base
        ) from None
    raise RunError(f"too many suites named {name!r} this second in {base}", path=base)


class _Interrupt:
    """Ctrl-C / SIGTERM while a suite runs: noted, and forwarded as SIGINT to the run
    going on (each signal once: the second makes that run kill Locust)."""

    def __init__(self, out: TextIO) -> None:
        self.set = False
        self.child: subprocess.Popen[bytes] | None = None
        self._out = out

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        again = self.set
        self.set = True
        child = self.child
        if child is not None and child.poll() is None:
            word = "the run stops Locust at once" if again else "the run stops gracefully"
            self._out.write(f"swarm suite: {name}: {word}; the suite report follows\n")
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGINT)
        else:
            self._out.write(f"swarm suite: {name}: no further test starts\n")


def run_suite(
    loaded: LoadedSuite,
    options: SuiteOptions,
    *,
    out: TextIO = sys.stderr,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SuiteOutcome:
    """Run the tests of ``options.test_type`` in order and write the suite report.

    ``UsageError`` when no test has that type (nothing written); ``RunError`` when the
    suite folder cannot be made or the mocks cannot start (before any test runs).
    """
    selected = loaded.selected(options.test_type)
    if not selected:
        present = sorted({t.type for t in loaded.tests})
        raise UsageError(
            f"suite {loaded.name!r} has no test of type {options.test_type!r}; its types: "
            f"{', '.join(present)} (or all)",
            flag="--type",
            value=options.test_type,
        )
    reports_dir = options.reports_dir.resolve()
    interrupt = _Interrupt(out)
    on_main = threading.current_thread() is threading.main_thread()
    previous = (
        {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)} if on_main else {}
    )
    try:
        with suite_mocks(loaded.mocks_path, out=out):
            started = clock()
            folder = _suite_folder(reports_dir, loaded.name, started)
            return _run_tests(
                loaded, selected, options, reports_dir, folder, started, interrupt, out, clock
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_tests(
    loaded: LoadedSuite,
    selected: Sequence[PlannedTest],
    options: SuiteOptions,
    reports_dir: Path,
    folder: Path,
    started: datetime,
    interrupt: _Interrupt,
    out: TextIO,
    clock: Callable[[], datetime],
) -> SuiteOutcome:
    t0 = time.monotonic()
    done: list[TestResult] = []
    stop_reason: str | None = None
    env = _child_env(options.env)

    def result(ended: bool) -> SuiteResult:
        why = stop_reason or "not run: the suite was stopped before it"
        rest = [
            TestResult(t.name, t.type, str(t.test.scenario), skipped_because=why)
            for t in selected[len(done) :]
        ]
        return SuiteResult(
            name=loaded.name,
            description=loaded.suite.description,
            suite_file=str(loaded.path),
            suite_dir=folder,
            started_at=_utc(started),
            selected_type=options.test_type,
            tests=(*done, *rest),
            duration_s=time.monotonic() - t0,
            ended_at=_utc(clock()) if ended else None,
            interrupted=interrupt.set,
        )

    out.write(
        f"swarm suite: {loaded.name}: {len(selected)} test(s) of type {options.test_type}; "
        f"suite folder {folder}\n"
    )
    files = write_suite_report(result(False), folder)
    for position, test in enumerate(selected, 1):
        if stop_reason is not None or interrupt.set:
            break
        runs = []
        for workers in test.worker_counts:
            if interrupt.set:
                break
            run_id = f"{folder.name}-{test.name}"
            if test.test.scale is not None:
                run_id += f"-w{workers}"
            command = suite_command(test, run_id, workers, reports_dir, options)
            label = f" at {workers} workers" if test.test.scale is not None else ""
            out.write(
                f"swarm suite: [{position}/{len(selected)}] {test.name} ({test.type}){label}: "
                f"{test.scenario_path.name} → {reports_dir / run_id}\n"
            )
            out.flush()
            began = time.monotonic()
            code = _run_child(command, env, interrupt)
            runs.append(
                read_run(
                    reports_dir / run_id,
                    workers=workers,
                    exit_code=code,
                    duration_s=round(time.monotonic() - began, 3),
                )
            )
            out.write(f"swarm suite: {test.name}{label}: exit code {code}\n")
            if code not in (ExitCode.OK, ExitCode.CHECK_FAILED):
                break  # could not run (or interrupted): the other worker counts would not either
        scaling, scaling_error = (None, None)
        if test.test.scale is not None and len(runs) == len(test.worker_counts):
            scaling, scaling_error = scaling_of(runs, confidence=options.confidence)
        entry = TestResult(
            test.name,
            test.type,
            str(test.test.scenario),
            tuple(runs),
            scaling=scaling,
            scaling_error=scaling_error,
        )
        done.append(entry)
        if interrupt.set:
            stop_reason = "not run: the suite was interrupted (Ctrl-C or SIGTERM)"
        elif entry.status != "passed" and not options.keep_going:
            stop_reason = f"not run: {test.name} {entry.status} (use --keep-going to run the rest)"
        files = write_suite_report(result(False), folder)
    if interrupt.set and stop_reason is None:
        stop_reason = "not run: the suite was interrupted (Ctrl-C or SIGTERM)"
    final = result(True)
    files = write_suite_report(final, folder)
    return SuiteOutcome(final, folder, files)


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: this one, ``extra``, and this ``framework`` first on
    ``PYTHONPATH``, so ``python -m framework.cli`` runs the same swarm as the suite."""
    root = str(Path(framework.__file__).resolve().parent.parent)
    env = {**os.environ, **extra}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in paths if p != root]])
    return env


def _run_child(command: list[str], env: Mapping[str, str], interrupt: _Interrupt) -> int:
    """Run one ``swarm run``; its output goes where the suite's does. Its exit code."""
    try:
        child = subprocess.Popen(
            command,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=child_setup(),
        )
    except OSError as exc:
        raise RunError(f"cannot start swarm run: {exc}") from None
    interrupt.child = child
    try:
        if interrupt.set:  # a signal while it was starting
            os.killpg(child.pid, signal.SIGINT)
        return child.wait()
    finally:
        interrupt.child = None
