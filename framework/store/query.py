"""A run's timeline as pandas tables: one tidy row per second × request name, and queries of it.

``run_frame`` is for notebooks; ``query_run`` answers "p95 of /detect during the fault,
every 30 s" with the report's own intervals; ``swarm query`` prints the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["QUERY_METRICS", "query_run", "run_frame"]

QUERY_METRICS = ("count", "rps", "error_rate", "mean", "p50", "p95", "p99", "max")
"""What ``query_run`` computes; every one but ``count`` and ``max`` with an interval."""

DEFAULT_METRICS = ("count", "rps", "error_rate", "mean", "p50", "p95", "p99")


def run_frame(run: str | Path, *, reports_dir: str | Path = "reports") -> pd.DataFrame:
    """One row per second × request name of ``run`` (a folder, a run id in ``reports_dir``,
    or ``latest``): ``time``, ``elapsed_s``, ``name``, ``method``, ``requests``,
    ``failures``, ``error_rate``, ``rps``, ``mean_ms``, ``p50_ms``, ``p95_ms``, ``p99_ms``,
    ``max_ms``, ``users``, ``phase``, ``fault``, ``counted``."""
    raise NotImplementedError


def query_run(
    run: str | Path,
    *,
    start: float | str | None = None,
    end: float | str | None = None,
    phase: str | None = None,
    names: Sequence[str] | str | None = None,
    by: Sequence[str] | str = (),
    every: float | str | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    confidence: float = 0.95,
    reports_dir: str | Path = "reports",
) -> pd.DataFrame:
    """Metrics of a part of ``run``, grouped, each with its interval (``<metric>_low``,
    ``<metric>_high``) computed as the report computes it."""
    raise NotImplementedError
