"""The runs of one web-UI session: each start in the Locust web UI is a run of its own.

``swarm run FILE --web`` gives the master a *session folder* (``reports/<session>/``, where
``swarm run`` keeps the session's whole log and ``session.json``). The master makes one run
folder beside it for every start, ``reports/<session>-1/``, ``reports/<session>-2/``, …,
writes that run's timeline into it, and announces the run's start and end to ``swarm run``,
which writes its ``run.json``, its reports and its index entry (the parent owns those; the
master owns the timeline). A name already taken is skipped, never reused.

    >>> import tempfile
    >>> from pathlib import Path
    >>> reports = Path(tempfile.mkdtemp())
    >>> session = WebSession(reports / "web")
    >>> first = session.open_run(100.0)
    >>> first.run_id, first.path == reports / "web-1", session.current is first
    ('web-1', True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SessionRun", "WebSession"]

_MAX_TRIES = 1000


@dataclass
class SessionRun:
    """One start in the web UI: its id and folder, and when it started, stopped and ended
    (unix s; ``stopped_s`` is Stop or the plan's end, ``ended_s`` once its timeline is
    complete)."""

    run_id: str
    path: Path
    started_s: float
    stopped_s: float | None = None
    ended_s: float | None = None

    @property
    def open(self) -> bool:
        return self.ended_s is None


class WebSession:
    """The run folders one Locust process has made, in order; ``current`` is the last."""

    def __init__(self, session_dir: Path) -> None:
        self.session_dir = Path(session_dir)
        self.runs: list[SessionRun] = []

    @property
    def session_id(self) -> str:
        return self.session_dir.name

    @property
    def current(self) -> SessionRun | None:
        return self.runs[-1] if self.runs else None

    def find(self, run_id: str) -> SessionRun | None:
        """The run of this session called ``run_id`` (nothing else is ever looked up)."""
        return next((run for run in self.runs if run.run_id == run_id), None)

    def open_run(self, started_s: float) -> SessionRun:
        """Make the next run's folder (``<session>-<n>``, skipping names already taken)."""
        parent = self.session_dir.parent
        number = len(self.runs) + 1
        for _ in range(_MAX_TRIES):
            run_id = f"{self.session_id}-{number}"
            try:
                (parent / run_id).mkdir(parents=True)
            except FileExistsError:
                number += 1
                continue
            run = SessionRun(run_id, parent / run_id, started_s)
            self.runs.append(run)
            return run
        raise FileExistsError(f"no free run folder name {self.session_id}-<n> in {parent}")
