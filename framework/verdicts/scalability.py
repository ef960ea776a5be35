"""How a run's throughput grows with its load generators: one run per worker count, compared.

A scalability test runs one scenario at 1, 2, 4 … workers (``swarm suite``'s ``scale:
{workers: [...]}``) and asks two questions: does the throughput grow in proportion to the
workers (scaling efficiency ``X(n) / ((n / n0) · X(n0))``, 1 = linear), and when it does
not, was the load generator the limit rather than the target? The first needs each run's
steady-state throughput *with its interval*, since two runs of a few minutes differ by
chance too; the second needs the busiest worker's CPU, which the timeline records every
second (Locust's own sample, ``Second.cpu_percent``).

The efficiency's interval. The runs are independent, so the interval of the ratio
``X(n) / X(n0)`` is built on the log scale from the two runs' own intervals by the MOVER
method (Zou & Donner 2008, "method of variance estimates recovery"): with ``d = ln X(n) −
ln X(n0)`` and each run's log-scale half-widths below and above its value,

    low  = d − sqrt((ln X(n) − ln low(n))² + (ln high(n0) − ln X(n0))²)
    high = d + sqrt((ln high(n) − ln X(n))² + (ln X(n0) − ln low(n0))²)

which is the delta-method interval of a log-ratio (the variances of two independent
estimates add) when each interval is symmetric on the log scale, and keeps the skew of a
block-bootstrap interval when it is not. It uses exactly the intervals ``results.json``
shows (batch means or block bootstrap, both honest for autocorrelated seconds, see
``docs/statistics.md``), so no figure here rests on an iid formula. The efficiency and its
bounds are that ratio's times ``n0 / n``.

Example::

    scaling = scaling_from_runs([(1, Path("reports/run-1w")), (2, Path("reports/run-2w"))])
    print(scaling.verdict)
    # scales linearly to 2 workers (efficiency 0.97, 0.91–1.03)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.verdicts.results import Figure

__all__ = [
    "GENERATOR_CPU_LIMIT",
    "LINEAR_EFFICIENCY",
    "ScalePoint",
    "Scaling",
    "scaling_from_runs",
]

GENERATOR_CPU_LIMIT = 90.0
"""A worker this busy (percent of one core) was the limit: Locust's own warning level."""

LINEAR_EFFICIENCY = 0.9
"""An efficiency whose whole interval lies at or above this scales linearly; one whose
whole interval lies below it does not; one straddling it cannot tell."""


@dataclass(frozen=True)
class ScalePoint:
    """One worker count's run: its steady-state throughput, per worker, and the efficiency.

    ``workers`` is the worker count the run was asked for (0, one process without a master,
    counts as one load generator). ``throughput`` is the steady-state requests per second
    with its interval (``Figure(value=None)`` when the run measured nothing: ``note`` says
    why); ``per_worker`` is it over the load generators. ``efficiency`` is ``X(n) / ((n /
    n0) · X(n0))`` against the first (fewest workers) run with its interval (module
    docstring); ``None`` for the first run, or when either run has no throughput.
    ``cpu_max_percent`` is the busiest worker's highest CPU sample in the steady window
    (``None`` when never sampled); ``generator_limited`` says it reached
    ``GENERATOR_CPU_LIMIT``.
    """

    workers: int
    run_id: str
    throughput: Figure
    per_worker: Figure
    efficiency: Figure | None
    cpu_max_percent: float | None
    generator_limited: bool
    run_dir: str = ""
    note: str | None = None


@dataclass(frozen=True)
class Scaling:
    """Every worker count's point, fewest workers first, and the verdict in plain words.

    ``verdict`` reads like "scales linearly to 2 workers (efficiency 0.97, 0.91–1.03); at 4
    workers 0.62 (0.58–0.66): the generator was the limit, worker CPU 98 %".
    ``generator_limited`` is true when any run's busiest worker reached
    ``GENERATOR_CPU_LIMIT``: then the figures describe the load generators, not the target.
    """

    points: tuple[ScalePoint, ...]
    verdict: str
    generator_limited: bool
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, as ``suite.json`` embeds it under ``scaling``: each
        figure as ``{"value", "low", "high"}`` (``None`` where unknown)."""
        raise NotImplementedError


def scaling_from_runs(run_dirs: Sequence[tuple[int, Path]], *, confidence: float = 0.95) -> Scaling:
    """The scaling of one scenario from its runs, one ``(workers, run folder)`` per count.

    Reads each folder's ``results.json`` (the steady-state throughput ``swarm run``
    reported, so the suite and each run's report agree); a folder without one is analysed
    from its timeline. A missing folder, or a run that measured nothing, gives a point
    without figures and a verdict that says so, never an exception.
    """
    raise NotImplementedError
