"""Open-model figures of a window: service time beside response time, and the schedule kept.

For an open-model request the timeline's main latency is the response time from the
*intended* start (the moment it was due), so every figure, budget and comparison already
shows what a user of the service experiences. What this adds, per request name, is the
service time (from the actual send), and per load group how late arrivals started (the
schedule lag) and how many could not start at all (dropped). Percentiles get their
intervals the way every latency does: per-second histograms in, batch means over time out
(``framework.stats.estimators``), so a stall of a few seconds widens them honestly.

Example::

    groups = arrival_groups(timeline, window, confidence=0.95)
    svc = service_percentiles(columns, "GET /orders", window, confidence=0.95)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from framework.stats.estimators import DEFAULT_BATCHES, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import columns_from_rows
from framework.stats.quality import GroupSchedule
from framework.timeline.codec import rows_from_blobs
from framework.timeline.histograms import BucketRows, percentiles_us
from framework.verdicts.results import ArrivalGroup, Figure, Percentiles

if TYPE_CHECKING:
    from framework.timeline.columns import TimelineColumns
    from framework.timeline.records import Timeline
    from framework.verdicts.analysis import PlannedWindow

__all__ = ["arrival_groups", "percentile_figures", "schedule_of", "service_percentiles"]

_MS = 1 / 1000
_LEVELS = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


def percentile_figures(
    counts: np.ndarray,
    sums_us: np.ndarray,
    sumsqs_us: np.ndarray,
    rows: BucketRows,
    metrics: Sequence[str],
    *,
    confidence: float,
) -> dict[str, Figure]:
    """Percentiles (ms) of per-second latencies (µs) with batch-means intervals.

    ``counts`` are the latencies per second (seconds without any included: they are time
    too), ``rows`` their histograms row for row. Two seconds or more get intervals, one gets
    the point value only, none gets no value.
    """
    total = int(np.sum(counts))
    if not total:
        return {m: Figure(value=None) for m in metrics}
    if len(counts) < 2:
        values = percentiles_us(rows.total(), [_LEVELS[m] for m in metrics])
        return {
            m: Figure(value=None if v is None else v * _MS, n=total)
            for m, v in zip(metrics, values, strict=True)
        }
    zeros = np.zeros(len(counts))
    cols = columns_from_rows(counts, zeros, sums_us, sumsqs_us, zeros, rows, 1.0)
    found = estimates(
        cols,
        metrics,
        confidence=confidence,
        sums=HistogramSums(cols, batches=DEFAULT_BATCHES),
    )
    return {m: Figure.from_estimate(found[m], _MS) for m in metrics}


def service_percentiles(
    columns: TimelineColumns,
    key: str | None,
    window: PlannedWindow,
    *,
    confidence: float,
) -> tuple[int, Percentiles] | None:
    """The service time (actual send to response) of ``key``'s successful open-model
    requests (``None``: all names) in ``window``: how many, and p50/p95/p99 with intervals;
    ``None`` when the window holds no service time of it (closed-model requests)."""
    times = columns.counters(key, window.start_s, window.end_s).t
    records = columns.select(key, window.start_s, window.end_s)
    measured = [r for r in records if r.svc_count]
    if not measured:
        return None
    n = len(times)
    counts, sums, sumsqs = np.zeros(n), np.zeros(n), np.zeros(n)
    blob_rows: list[int] = []
    blobs: list[str] = []
    for r in measured:
        row = int(np.searchsorted(times, r.t))
        counts[row] += r.svc_count
        sums[row] += float(r.svc_sum_us)
        sumsqs[row] += float(r.svc_sumsq_us)
        blob_rows += [row] * len(r.svc_hist_blobs)
        blobs += r.svc_hist_blobs
    order = np.argsort(np.array(blob_rows, dtype=np.int64), kind="stable")
    rows = rows_from_blobs(
        np.array(blob_rows, dtype=np.int64)[order], [blobs[i] for i in order], n, narrow=True
    )
    found = percentile_figures(
        counts, sums, sumsqs, rows, ("p50", "p95", "p99"), confidence=confidence
    )
    return int(counts.sum()), Percentiles(found["p50"], found["p95"], found["p99"])


def arrival_groups(
    timeline: Timeline,
    window: PlannedWindow,
    *,
    confidence: float,
    groups: Collection[str] | None = None,
) -> tuple[ArrivalGroup, ...]:
    """Each open load group's arrivals due in ``window`` (``groups``: only those): due,
    started, dropped, and the schedule lag's p50 and p99 with intervals, sorted by group."""
    seconds = [s for s in timeline.seconds if window.start_s <= s.t < window.end_s]
    names = sorted({a.group for s in seconds for a in s.arrivals})
    found = []
    for group in names:
        if groups is not None and group not in groups:
            continue
        n = len(seconds)
        started, sums, sumsqs = np.zeros(n), np.zeros(n), np.zeros(n)
        due = dropped = peak = 0
        blob_rows: list[int] = []
        blobs: list[str] = []
        for row, second in enumerate(seconds):
            for a in second.arrivals:
                if a.group != group:
                    continue
                due += a.due
                dropped += a.dropped
                peak = max(peak, a.in_flight_max)
                started[row] += a.started
                sums[row] += float(a.lag_sum_us)
                sumsqs[row] += float(a.lag_sumsq_us)
                blob_rows += [row] * len(a.lag_hist_blobs)
                blobs += a.lag_hist_blobs
        rows = rows_from_blobs(np.array(blob_rows, dtype=np.int64), blobs, n, narrow=True)
        lag = percentile_figures(started, sums, sumsqs, rows, ("p50", "p99"), confidence=confidence)
        found.append(
            ArrivalGroup(
                group=group,
                due=due,
                started=int(started.sum()),
                dropped=dropped,
                dropped_fraction=dropped / due if due else None,
                lag_p50_ms=lag["p50"],
                lag_p99_ms=lag["p99"],
                in_flight_max=peak,
            )
        )
    return tuple(found)


def schedule_of(groups: Sequence[ArrivalGroup]) -> list[GroupSchedule]:
    """The groups as the ``schedule`` quality check reads them."""
    return [GroupSchedule(g.group, g.due, g.dropped, g.lag_p99_ms.value) for g in groups]
