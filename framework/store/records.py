"""The records the results store hands out: a run's summary, its key figures, a history point.

They are plain frozen values, apart from the SQLite index that fills them, so the CLI, the
history page and the tests can build and read them without opening an index, and a change
to how the index stores a run never reaches the code that only shows one.

Example::

    figures = KeyFigures("overall", count=3000, failures=0, grade="pass",
                         **{f: Figure(None, None, None) for f in FIGURES})
    figures.p95_ms.value is None      # True: not computed
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from framework.scenario.metrics import FIGURE_FIELDS
from framework.verdicts.results import Figure

__all__ = [
    "FIGURES",
    "HistoryPoint",
    "KeyFigures",
    "MetricHistory",
    "RebuildResult",
    "RunDetails",
    "RunSummary",
]

FIGURES = tuple(FIGURE_FIELDS.values())
"""The ``Figure`` fields of ``KeyFigures``: results.json's figure names, in column order."""


class HistoryPoint(NamedTuple):
    """One run's value of one metric: what ``ResultsStore.history`` returns, oldest first."""

    run_id: str
    started_at: str
    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class MetricHistory:
    """One figure of one custom metric key across a scenario's runs, oldest first: what
    ``ResultsStore.metric_history`` returns (``swarm history --metric detector.server_ms``)."""

    key: str
    name: str
    kind: str
    unit: str
    figure: str
    points: tuple[HistoryPoint, ...]


@dataclass(frozen=True)
class KeyFigures:
    """The key figures of one request name (``overall`` for all together) in a run's baseline.

    Each is results.json's ``Figure`` with only what the index keeps: value and interval.
    """

    name: str
    count: int
    failures: int
    mean_ms: Figure
    median_ms: Figure
    p95_ms: Figure
    p99_ms: Figure
    throughput_rps: Figure
    error_rate: Figure
    grade: str | None


@dataclass(frozen=True)
class RunSummary:
    """One indexed run; ``overall`` is ``None`` until the run has been analysed."""

    run_id: str
    scenario: str
    path: Path
    started_at: str
    ended_at: str | None
    status: str
    exit_code: int | None
    verdict: str | None
    git_revision: str | None
    host: str | None
    tags: Mapping[str, Any] = field(hash=False)
    pinned: bool
    overall: KeyFigures | None


@dataclass(frozen=True)
class RunDetails:
    """``swarm runs show``: the summary, where it came from, and every request name's figures."""

    run: RunSummary
    scenario_file: str | None
    indexed_at: str
    endpoints: tuple[KeyFigures, ...]


@dataclass(frozen=True)
class RebuildResult:
    """What ``rebuild`` indexed, and each folder it skipped with the reason."""

    indexed: int
    skipped: tuple[tuple[Path, str], ...]
