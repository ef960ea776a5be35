"""``swarm run --web``: a web-UI session whose every start is a complete run.

The session (the Locust process's lifetime) has a folder of its own, ``reports/<session>/``,
with ``session.json`` (a run record of the session: its phases, how it ended, its runs) and
the whole Locust log (``locust.log``, ``worker-N.log``). Each start in the UI is a run: the
Locust master makes its folder ``reports/<session>-<n>/`` and writes its timeline there
(``framework.locust_glue.session``), and announces ``run`` ``phase="started"`` and
``phase="ended"`` in its log. Here, on the parent's side, a start writes the run's
``run.json`` (with ``session`` pointing back) and ``scenario.yaml``, the state announcements
become its phases, the log lines of the run are copied to its own ``locust.log`` (an excerpt
of the session's), and an end records how it ended and hands the run to ``on_run_end`` (the
CLI's report and index entry) on a worker thread, one run after another, so that reading
Locust's log never waits for a report.

A run ends ``finished`` when its plan ends or the user presses Stop; ``interrupted`` (130)
if Ctrl-C or SIGTERM came while it was live (starting, running or paused); ``failed`` (3)
if one of its files could not be written, or Locust ended without ending it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from framework.errors import ExitCode, RunError
from framework.live.announce import announced_at
from framework.run.folder import (
    RunFolder,
    SessionFolder,
    create_run_folder,
    validate_run_id,
)

__all__ = ["RunEnd", "WebRuns"]

_LIVE = frozenset({"starting", "running", "paused"})
_INTERRUPTED = "stopped by Ctrl-C or SIGTERM while the run was in progress"


@dataclass(frozen=True)
class RunEnd:
    """A web-UI run that has ended, its run.json complete: what ``on_run_end`` is given."""

    run_dir: Path
    run_id: str
    status: str
    exit_code: int
    message: str | None
    scenario: Mapping[str, Any] | None


RunEndHandler = Callable[[RunEnd], int | None]


class WebRuns:
    """The runs of one session as the parent sees them; every method is called with the
    run's lock held (``lock``), from the thread that reads Locust's log."""

    def __init__(
        self,
        session: SessionFolder,
        *,
        scenario: Mapping[str, Any],
        lock: threading.Lock,
        on_run_end: RunEndHandler | None,
        out: TextIO,
        interrupted_at: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.session = session
        self.scenario = scenario
        self.lock = lock
        self.out = out
        self.runs: dict[str, RunFolder] = {}
        self.current: RunFolder | None = None
        self.ended: list[RunEnd] = []
        self._excerpt: TextIO | None = None
        self._interrupted: set[str] = set()
        self._interrupted_at = interrupted_at
        self._on_run_end = on_run_end
        self._queue: queue.Queue[RunEnd | None] = queue.Queue()
        self._reporter = threading.Thread(target=self._report_each, name="web-reports", daemon=True)
        self._reporter.start()
        session.record.session = {"id": session.path.name, "runs": []}
        session.save()

    # -- announcements ---------------------------------------------------------------------

    def on_run(self, announced: Mapping[str, Any]) -> None:
        """``run`` ``phase="started"`` or ``"ended"`` from the master."""
        run_id = announced.get("run_id")
        if not isinstance(run_id, str) or not self._ours(run_id):
            return
        at = announced_at(announced)
        if announced.get("phase") == "started" and run_id not in self.runs:
            self._start(run_id, at)
        elif announced.get("phase") == "ended" and run_id in self.runs:
            state = announced.get("state")
            reason = announced.get("reason")
            self._end(
                self.runs[run_id],
                at,
                state if isinstance(state, str) else "finished",
                reason if isinstance(reason, str) else None,
            )

    def _ours(self, run_id: str) -> bool:
        """Only ``<session>-<n>``: the master makes no other name (and the id is all that is
        taken from the log line; the folder is found from it, inside the reports folder)."""
        prefix = f"{self.session.path.name}-"
        try:
            validate_run_id(run_id)
        except ValueError:
            return False
        return run_id.startswith(prefix) and run_id[len(prefix) :].isdigit()

    def _start(self, run_id: str, at: datetime) -> None:
        if self.current is not None and self.current.record.status not in _ENDED:
            self._end(self.current, at, "failed", "the next run started before this one ended")
        base = self.session.record
        record = replace(
            base,
            run_id=run_id,
            started_at="",
            ended_at=None,
            status="starting",
            exit_code=None,
            phases=[],
            worker_events=[],
            worker_processes=[],
            message=None,
            faults=[dict(fault, action=dict(fault["action"])) for fault in base.faults],
            session={
                "id": self.session.path.name,
                "folder": str(self.session.path),
                "run": len(self.runs) + 1,
                "log": str(self.session.path / "locust.log"),
            },
        )
        try:
            folder = create_run_folder(
                self.session.path.parent, run_id, record, started=at, adopt=True
            )
            folder.write_scenario(dict(self.scenario))
            folder.phase("starting", at)
        except (RunError, OSError) as exc:
            self.session.note_write_failure(str(exc))
            self.out.write(f"swarm: run {run_id}: {exc}\n")
            return
        self.runs[run_id] = self.current = folder
        self._open_excerpt(folder)
        self.out.write(f"swarm: run {run_id} started; folder {folder.path}\n")
        self.session.record.session["runs"].append({"run_id": run_id, "status": "starting"})
        self._save_session()

    def _end(self, folder: RunFolder, at: datetime, state: str, reason: str | None) -> None:
        run_id = folder.record.run_id
        status, code, message = state, ExitCode.OK, reason
        signalled = self._interrupted_at()
        if signalled is not None and _live_at(folder, signalled):
            self._interrupted.add(run_id)
        if run_id in self._interrupted:
            status, code, message = "interrupted", ExitCode.INTERRUPTED, _INTERRUPTED
        elif folder.write_failures:
            status, code, message = "failed", ExitCode.RUN_FAILED, folder.write_failures[0]
        elif state == "aborted":
            code = ExitCode.CHECK_FAILED
        elif state != "finished":
            code = ExitCode.RUN_FAILED
        try:
            folder.finish(status, code, at, message)
        except RunError as exc:
            self.out.write(f"swarm: {exc}; run.json could not record how run {run_id} ended\n")
        if folder is self.current:
            self._close_excerpt()
        self._set_session_entry(run_id, status=status, exit_code=int(code))
        end = RunEnd(folder.path, run_id, status, int(code), message, self.scenario)
        self.ended.append(end)
        self.out.write(f"swarm: run {run_id} {status}; results in {folder.path}\n")
        self._queue.put(end)

    def on_state(self, state: str, at: datetime) -> None:
        """A live state of the current run (running, paused, stopping): a phase of it."""
        folder = self.current
        if folder is not None and folder.record.status not in _ENDED:
            if state != folder.record.status:
                folder.phase(state, at)
            self._set_session_entry(folder.record.run_id, status=state)

    def interrupt(self, at: datetime) -> None:
        """Ctrl-C or SIGTERM: the current run, if still live, is interrupted (it still gets
        its end, its report and its index entry once the master has stopped it)."""
        folder = self.current
        if folder is not None and folder.record.status not in _ENDED and _live_at(folder, at):
            self._interrupted.add(folder.record.run_id)
            if folder.record.status != "stopping":
                folder.phase("stopping", at)

    @property
    def interrupted_runs(self) -> list[str]:
        return sorted(self._interrupted)

    @property
    def failed_runs(self) -> list[RunEnd]:
        return [end for end in self.ended if end.status == "failed"]

    def target(self) -> RunFolder:
        """Where a worker event or a write failure goes: the current live run, else the
        session."""
        folder = self.current
        if folder is not None and folder.record.status not in _ENDED:
            return folder
        return self.session

    # -- the log excerpt -------------------------------------------------------------------

    def copy_line(self, line: str) -> None:
        """Copy a (masked) line of the session's log into the current run's ``locust.log``."""
        if self._excerpt is None:
            return
        try:
            self._excerpt.write(line)
            self._excerpt.flush()
        except OSError as exc:
            if self.current is not None:
                where = self.current.path / "locust.log"
                self.current.note_write_failure(f"cannot write {where}: {exc}")
            self._close_excerpt()

    def _open_excerpt(self, folder: RunFolder) -> None:
        self._close_excerpt()
        try:
            self._excerpt = (folder.path / "locust.log").open("a", encoding="utf-8")
        except OSError as exc:
            folder.note_write_failure(f"cannot write {folder.path}/locust.log: {exc}")

    def _close_excerpt(self) -> None:
        excerpt, self._excerpt = self._excerpt, None
        if excerpt is not None:
            with contextlib.suppress(OSError):
                excerpt.close()

    # -- the end of the session ------------------------------------------------------------

    def settle(self, at: datetime, *, locust_code: int) -> None:
        """Locust has exited: end a run it left open (interrupted, or failed if nobody
        interrupted it), then wait for every run's report."""
        with self.lock:
            folder = self.current
            if folder is not None and folder.record.status not in _ENDED:
                self._end(folder, at, "failed", f"locust exited with code {locust_code} "
                          "before the run ended; see the session's locust.log")  # fmt: skip
        self._queue.put(None)
        self._reporter.join()

    def _report_each(self) -> None:
        while (end := self._queue.get()) is not None:
            if self._on_run_end is None:
                continue
            try:
                code = self._on_run_end(end)
            except Exception as exc:  # a report that fails leaves the next runs' reports be
                self.out.write(f"swarm: run {end.run_id}: report failed: {exc}\n")
                continue
            with self.lock:
                self._set_session_entry(end.run_id, report_exit_code=code)

    def _set_session_entry(self, run_id: str, **values: Any) -> None:
        for entry in self.session.record.session.get("runs", []):
            if entry.get("run_id") == run_id:
                entry.update(values)
        self._save_session()

    def _save_session(self) -> None:
        with contextlib.suppress(RunError):  # noted in write_failures; the session goes on
            self.session.save()


_ENDED = frozenset({"finished", "failed", "aborted", "interrupted"})


def _live_at(folder: RunFolder, at: datetime) -> bool:
    """Whether the run was live (starting, running, paused) at ``at``, by its phases: the
    master may have announced its stop, or even its end, before the signal was noted."""
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    phase = None
    for entry in folder.record.phases:
        if entry.get("at", "") <= stamp:
            phase = entry.get("name")
    return phase in _LIVE
