"""What a suite's tests came to, read from their run folders: the document ``suite.json`` holds.

Each test's outcome rests on its run folder, not on anything the suite kept in memory, so
``swarm suite --report-only`` (after a ``swarm report`` with other settings, say) gives the
same document the suite run wrote: the verdict, reasons and key figures from the run's
``results.json``, how it ended from its ``run.json``. Paths in the document are relative to
the suite folder (``../../<run_id>/report.html``), so the reports folder can be moved or
published whole and every link still works.

    >>> status_of(verdict="inconclusive", run_status="finished", run_exit_code=0)
    ('passed', 0)
    >>> status_of(verdict="failed", run_status="finished", run_exit_code=0)
    ('failed', 1)
    >>> status_of(verdict=None, run_status="failed", run_exit_code=3)
    ('error', 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from framework.errors import ExitCode
from framework.suites.model import TEST_TYPES

__all__ = [
    "SUITE_FORMAT_VERSION",
    "RunEntry",
    "Status",
    "SuiteResult",
    "TestResult",
    "entries_of",
    "read_run",
    "status_of",
]

SUITE_FORMAT_VERSION = 1
"""Version of ``suite.json`` (see docs/suites.md); readers ignore fields they do not know."""

Status = Literal["passed", "failed", "skipped", "error"]
_FIGURES = (
    ("throughput_rps", "throughput_rps"),
    ("p95_ms", "p95_ms"),
    ("error_rate", "error_rate"),
)


def status_of(
    *, verdict: str | None, run_status: str | None, run_exit_code: int | None
) -> tuple[Status, int]:
    """A test run's status and the exit code it stands for, from what its folder says.

    A run that could not run or was interrupted (``run.json`` exit code 3 or 130, or no
    ``results.json`` at all) is an ``error``; otherwise the report's verdict decides, as it
    decides ``swarm run``'s exit code: ``failed`` fails, ``passed`` and ``inconclusive`` pass.
    """
    if run_exit_code in (ExitCode.RUN_FAILED, ExitCode.INTERRUPTED):
        return "error", int(run_exit_code)
    if verdict is None:
        if run_status == "interrupted":
            return "error", int(ExitCode.INTERRUPTED)
        return "error", int(run_exit_code or ExitCode.RUN_FAILED)
    if verdict == "failed":
        if run_status == "interrupted":
            return "error", int(ExitCode.INTERRUPTED)
        return "failed", int(ExitCode.CHECK_FAILED)
    return "passed", int(ExitCode.OK)


@dataclass(frozen=True)
class RunEntry:
    """One run of a test (a scalability test has one per worker count).

    ``exit_code`` is what its ``swarm run`` returned when the suite ran it (``None`` when
    read back only); ``status`` and ``verdict`` come from the folder.
    """

    run_id: str
    run_dir: Path
    workers: int
    status: Status
    exit_code: int | None
    verdict: str | None
    run_status: str | None = None
    reasons: tuple[str, ...] = ()
    figures: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    duration_s: float | None = None
    findings: tuple[str, ...] = ()
    """What the run's report found beyond the figures: each scheduled fault's recovery
    against its SLA, the capacity of a stepped or find_capacity run."""

    def to_dict(self, suite_dir: Path) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": _relative(self.run_dir, suite_dir),
            "report": _relative(self.run_dir / "report.html", suite_dir),
            "workers": self.workers,
            "status": self.status,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "run_status": self.run_status,
            "duration_seconds": self.duration_s,
        }


def read_run(
    run_dir: Path,
    *,
    workers: int,
    exit_code: int | None = None,
    duration_s: float | None = None,
) -> RunEntry:
    """A run of a test as its folder has it (``run.json``, ``results.json``); a folder that
    holds neither is an ``error`` with a reason saying so. ``exit_code``, when the suite saw
    the run's process end, is the one that counts."""
    run = _json(run_dir / "run.json")
    results = _json(run_dir / "results.json")
    run_status = run.get("status") if isinstance(run.get("status"), str) else None
    recorded = run.get("exit_code") if isinstance(run.get("exit_code"), int) else None
    verdict = results.get("verdict") if isinstance(results.get("verdict"), str) else None
    reasons = [r for r in results.get("reasons") or () if isinstance(r, str)]
    if exit_code is not None:  # the suite saw the process end: its code is the truth
        status: Status = {0: "passed", 1: "failed"}.get(exit_code, "error")  # type: ignore[assignment]
    else:
        status, _ = status_of(verdict=verdict, run_status=run_status, run_exit_code=recorded)
    if not run:
        reasons.insert(0, f"no run folder at {run_dir}: the run never started")
    elif not results:
        why = run.get("message") if isinstance(run.get("message"), str) else None
        ended = f"no results.json: the run ended {run_status or 'unknown'}"
        reasons.insert(0, ended + (f" ({why})" if why else ""))
    elif run_status not in (None, "finished") and status == "error":
        why = run.get("message") if isinstance(run.get("message"), str) else run_status
        reasons.insert(0, f"the run ended {run_status}: {why}")
    return RunEntry(
        run_id=run_dir.name,
        run_dir=run_dir,
        workers=workers,
        status=status,
        exit_code=exit_code,
        verdict=verdict,
        run_status=run_status,
        reasons=tuple(reasons),
        figures=_figures(results),
        duration_s=duration_s,
        findings=_findings(results),
    )


def _findings(results: Mapping[str, Any]) -> tuple[str, ...]:
    """One sentence per fault (its recovery and SLA verdict) and one for the capacity, as
    the run's report words them."""
    found = []
    for fault in results.get("faults") or ():
        if isinstance(fault, Mapping) and isinstance(fault.get("message"), str):
            found.append(f"fault {fault.get('name')}: {fault['message']}")
    capacity = results.get("capacity")
    if isinstance(capacity, Mapping) and isinstance(capacity.get("message"), str):
        found.append(f"capacity: {capacity['message']}")
    return tuple(found)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _figures(results: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    """``requests``, ``throughput_rps``, ``p95_ms``, ``error_rate`` of the steady state,
    each ``{value, low, high}``; only those the results have."""
    baseline = results.get("baseline")
    overall = baseline.get("overall") if isinstance(baseline, Mapping) else None
    if not isinstance(overall, Mapping):
        return {}
    found: dict[str, dict[str, float | None]] = {}
    if isinstance(overall.get("count"), int):
        found["requests"] = {"value": overall["count"], "low": None, "high": None}
    for name, key in _FIGURES:
        figure = overall.get(key)
        if isinstance(figure, Mapping):
            found[name] = {k: _number(figure.get(k)) for k in ("value", "low", "high")}
        elif isinstance(figure, int | float):
            found[name] = {"value": float(figure), "low": None, "high": None}
    return found


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` with ``/`` separators (a link in Markdown and HTML)."""
    return Path(os.path.relpath(path, start)).as_posix()


@dataclass(frozen=True)
class TestResult:
    """One test of the suite: its runs (none when skipped) and, for a scalability test with
    a ``scale``, E's ``Scaling`` across them (``scaling_error`` says why there is none)."""

    __test__ = False  # not a pytest class

    name: str
    type: str
    scenario: str
    runs: tuple[RunEntry, ...] = ()
    skipped_because: str | None = None
    scaling: Any = None
    scaling_error: str | None = None

    @property
    def status(self) -> Status:
        """``skipped`` without runs; else the worst of its runs (error, failed, passed)."""
        if not self.runs:
            return "skipped"
        statuses = {run.status for run in self.runs}
        for worst in ("error", "failed", "skipped"):
            if worst in statuses:
                return worst  # type: ignore[return-value]
        return "passed"

    @property
    def exit_code(self) -> int | None:
        """The worst exit code of its runs (130 over 3 over 1 over 0); ``None`` if skipped."""
        codes = [run.exit_code for run in self.runs if run.exit_code is not None]
        if not codes:
            return _code_of(self.status) if self.runs else None
        return max(codes, key=_severity)

    @property
    def verdict(self) -> str | None:
        """Its run's verdict; of several runs, the worst (failed, inconclusive, passed)."""
        verdicts = [run.verdict for run in self.runs if run.verdict is not None]
        for worst in ("failed", "inconclusive", "passed"):
            if worst in verdicts:
                return worst
        return verdicts[0] if verdicts else None

    @property
    def last_run(self) -> RunEntry | None:
        """The run whose figures the entry shows: the last (most workers, for a scale)."""
        return self.runs[-1] if self.runs else None

    @property
    def reasons(self) -> list[str]:
        """Why it did not pass: each run's reasons (named by workers when several)."""
        if self.skipped_because:
            return [self.skipped_because]
        several = len(self.runs) > 1
        found = []
        for run in self.runs:
            prefix = f"{run.workers} workers: " if several else ""
            found += [f"{prefix}{reason}" for reason in run.reasons]
        if self.scaling_error:
            found.append(self.scaling_error)
        return found

    def to_dict(self, suite_dir: Path) -> dict[str, Any]:
        """The entry of ``suite.json``'s ``results[type]``."""
        last = self.last_run
        entry: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "scenario": self.scenario,
            "status": self.status,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "run_id": last.run_id if last else None,
            "run_dir": _relative(last.run_dir, suite_dir) if last else None,
            "report": _relative(last.run_dir / "report.html", suite_dir) if last else None,
            "figures": dict(last.figures) if last else {},
            "findings": list(last.findings) if last else [],
            "reasons": self.reasons,
            "duration_seconds": _sum(run.duration_s for run in self.runs),
            "runs": [run.to_dict(suite_dir) for run in self.runs],
        }
        if self.scaling is not None:
            entry["scaling"] = self.scaling.as_dict()
        return entry


def _sum(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known), 3) if known else None


def _severity(code: int) -> int:
    return {0: 0, 1: 1, 2: 2, 3: 3, 130: 4}.get(code, 3)


def _code_of(status: Status) -> int:
    return {"passed": 0, "failed": 1}.get(status, int(ExitCode.RUN_FAILED))


@dataclass(frozen=True)
class SuiteResult:
    """The whole suite: its tests in the order they were listed, and how it went.

    ``interrupted`` is set when Ctrl-C or SIGTERM ended it (the tests after are skipped).
    """

    name: str
    description: str
    suite_file: str
    suite_dir: Path
    started_at: str
    selected_type: str
    tests: tuple[TestResult, ...]
    duration_s: float
    ended_at: str | None = None
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for test in self.tests if test.status == status)

    @property
    def exit_code(self) -> int:
        """The suite's exit code: 130 interrupted; 3 a test could not run; 1 any failed
        (or skipped after one); 0 all passed."""
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if self.count("error"):
            return int(ExitCode.RUN_FAILED)
        if self.count("failed") or self.count("skipped"):
            return int(ExitCode.CHECK_FAILED)
        return int(ExitCode.OK)

    def summary(self) -> dict[str, Any]:
        total = len(self.tests)
        passed = self.count("passed")
        return {
            "total": total,
            "passed": passed,
            "failed": self.count("failed") + self.count("error"),
            "errors": self.count("error"),
            "skipped": self.count("skipped"),
            "success_rate": round(passed / total, 6) if total else None,
            "duration_seconds": round(self.duration_s, 3),
        }

    def by_type(self) -> dict[str, list[TestResult]]:
        """Tests grouped by type, types in ``TEST_TYPES`` order, tests in suite order."""
        grouped: dict[str, list[TestResult]] = {}
        for kind in TEST_TYPES:
            tests = [t for t in self.tests if t.type == kind]
            if tests:
                grouped[kind] = tests
        return grouped

    def to_dict(self) -> dict[str, Any]:
        """``suite.json`` (docs/suites.md)."""
        return {
            "format_version": SUITE_FORMAT_VERSION,
            "test_suite": self.name,
            "description": self.description,
            "suite_file": self.suite_file,
            "timestamp": self.started_at,
            "ended_at": self.ended_at,
            "selected_type": self.selected_type,
            "interrupted": self.interrupted,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "order": [test.name for test in self.tests],
            "results": {
                kind: [test.to_dict(self.suite_dir) for test in tests]
                for kind, tests in self.by_type().items()
            },
        }


def entries_of(document: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """A ``suite.json``'s entries in the order the suite listed them."""
    entries = [
        entry
        for tests in (document.get("results") or {}).values()
        if isinstance(tests, list)
        for entry in tests
        if isinstance(entry, Mapping)
    ]
    order = document.get("order")
    if isinstance(order, list):
        rank = {name: i for i, name in enumerate(order)}
        entries.sort(key=lambda e: rank.get(e.get("name"), len(rank)))
    return entries
