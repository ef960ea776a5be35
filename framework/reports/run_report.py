"""Analyse a run folder and write its reports: what ``swarm report`` and ``swarm run`` do last."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from framework.errors import UsageError
from framework.reports.markdown import append_step_summary
from framework.reports.writer import write_reports
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.results import Results

__all__ = ["ReportOutcome", "report_run", "resolve_run"]


@dataclass(frozen=True)
class ReportOutcome:
    results: Results
    files: dict[str, Path]

    @property
    def failed(self) -> bool:
        return self.results.verdict == "failed"


def resolve_run(reference: str, reports_dir: Path) -> Path:
    """A run folder from a path or a run id inside ``reports_dir``."""
    direct = Path(reference)
    if direct.is_dir():
        return direct
    inside = reports_dir / reference
    if inside.is_dir():
        return inside
    raise UsageError(
        f"no run folder {reference!r} (looked at {direct} and {inside}); "
        "give a run folder path or a run id from the reports folder",
        value=reference,
    )


def report_run(
    run_dir: Path,
    options: ReportOptions,
    *,
    baseline: Path | None = None,
    scenario: Mapping[str, Any] | None = None,
) -> ReportOutcome:
    """Recompute everything from the run's timeline and write every report format.

    ``scenario`` is the run's saved scenario when the caller holds it (as ``load_run``).
    """
    data = load_run(run_dir, scenario=scenario)
    base = load_run(baseline) if baseline is not None else None
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    results, _ = build_results(data, options, created_at=created, baseline=base)
    files = write_reports(run_dir, results)
    append_step_summary(results)
    return ReportOutcome(results, files)
