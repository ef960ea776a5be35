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
from typing import TYPE_CHECKING, Any

import numpy as np

from framework.stats.estimators import DEFAULT_BATCHES, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import columns_from_rows
from framework.stats.quality import GroupSchedule, missed_tolerance
from framework.timeline.codec import rows_from_blobs
from framework.timeline.histograms import BucketRows, percentiles_us
from framework.verdicts.results import ArrivalGroup, Figure, Percentiles

if TYPE_CHECKING:
    from framework.timeline.columns import TimelineColumns
    from framework.timeline.records import Second, Timeline
    from framework.verdicts.analysis import PlannedWindow
    from framework.verdicts.planned_arrivals import ArrivalPlan

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
    plan: ArrivalPlan | None = None,
) -> tuple[ArrivalGroup, ...]:
    """Each open load group's arrivals due in ``window`` (``groups``: only those): due,
    started, dropped, and the schedule lag's p50 and p99 with intervals, sorted by group.

    With the run's ``plan``, also what the plan asked for in the window's seconds that
    were not paused, and the arrivals missed (planned but due on no load generator); a
    group of the plan with no arrival due at all is listed too (all of it missed)."""
    seconds = [s for s in timeline.seconds if window.start_s <= s.t < window.end_s]
    names = sorted({a.group for s in seconds for a in s.arrivals} | set(plan.plans if plan else ()))
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
        missing: dict[str, Any] = {}
        if plan is not None and group in plan.plans:
            missing = _missed(timeline, window, plan, group, seconds)
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
                **missing,
            )
        )
    return tuple(found)


def _missed(
    timeline: Timeline,
    window: PlannedWindow,
    plan: ArrivalPlan,
    group: str,
    seconds: Sequence[Second],
) -> dict[str, Any]:
    """``group``'s planned and missed arrivals in ``window`` (the ``ArrivalGroup`` fields):
    every second of it but the paused ones, whether or not the timeline has a line for it
    (a second no generator reported is all missed)."""
    paused = {s.t for s in timeline.paused}
    wall = [t for t in range(window.start_s, window.end_s) if t not in paused]
    planned = plan.planned(group, wall)
    due_at = dict.fromkeys(wall, 0)
    for second in seconds:
        for a in second.arrivals:
            if a.group == group and second.t in due_at:
                due_at[second.t] += a.due
    due = np.array([due_at[t] for t in wall], dtype=float)
    total = float(planned.sum())
    missed = max(0, round(total - float(due.sum())))
    tolerance = missed_tolerance(total, plan.arrivals.get(group, "uniform"))
    stretch = _short_stretch(wall, planned - due) if missed > tolerance else None
    return {
        "planned": round(total, 1),
        "missed": missed,
        "missed_fraction": missed / total if total else None,
        "missed_tolerance": round(tolerance, 1),
        "short_from_s": stretch[0] if stretch else None,
        "short_to_s": stretch[1] if stretch else None,
    }


def _short_stretch(wall: Sequence[int], deficit: np.ndarray) -> tuple[int, int] | None:
    """The run of consecutive seconds ``[from, to)`` whose arrivals fell furthest short of
    the plan together (the largest sum of ``deficit``; Kadane's scan), ``None`` if none fell
    short. A lost worker's share shows as one such run, from its death to its detection."""
    best, best_at = 0.0, None
    running, begin = 0.0, 0
    for i, d in enumerate(deficit.tolist()):
        if running <= 0:
            running, begin = 0.0, i
        running += d
        if running > best:
            best, best_at = running, (begin, i)
    if best_at is None:
        return None
    return wall[best_at[0]], wall[best_at[1]] + 1


def schedule_of(groups: Sequence[ArrivalGroup]) -> list[GroupSchedule]:
    """The groups as the ``schedule`` quality check reads them."""
    return [
        GroupSchedule(
            g.group,
            g.due,
            g.dropped,
            g.lag_p99_ms.value,
            planned=g.planned,
            missed=g.missed or 0,
            missed_tolerance=g.missed_tolerance or 0.0,
        )
        for g in groups
    ]
