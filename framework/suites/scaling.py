"""A scalability test's runs (one per worker count) → the ``Scaling`` of its suite entry.

The analysis is ``framework.verdicts.scalability.scaling_from_runs`` (throughput per worker
and scaling efficiency with intervals, the generator-limited flag); here it is only asked,
and a set of runs it cannot analyse (a run without a timeline) becomes a reason in the
entry instead of failing the suite report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from framework.errors import SwarmError
from framework.suites.results import RunEntry

__all__ = ["scaling_of"]


def scaling_of(
    runs: Sequence[RunEntry], *, confidence: float = 0.95
) -> tuple[Any | None, str | None]:
    """``(Scaling, None)``, or ``(None, why not)`` when the runs cannot be analysed."""
    from framework.verdicts.scalability import scaling_from_runs

    try:
        return scaling_from_runs(
            [(run.workers, run.run_dir) for run in runs], confidence=confidence
        ), None
    except (SwarmError, ValueError, OSError) as exc:
        return None, f"no scaling analysis: {exc}"
