"""What the swarm tab of the Locust web UI shows: one JSON-ready dict from the live feed.

``GET /swarm/live`` returns ``TabView.data(feed, now_s)``; the tab's script only renders it,
so everything it shows is tested here without Locust or a browser. Per request name and
for all requests together: p50 / p95 / p99 (ms) and throughput and error rate, each with its
confidence interval once enough seconds are in (a point figure before), the data-quality
grade of the run so far, and the worst budget status on that name; for the run: its state
and transitions, the plan's phase and position (elapsed of planned time, with paused time
left out), users and workers, each budget's status, and the most frequent failure messages;
for an open-model run, each open load group's arrivals (``arrivals``: the plan's rate and the
rate achieved over the last ``ARRIVALS_WINDOW_S`` seconds, the schedule lag p50 / p99, the
arrivals dropped and in flight; an empty list for a closed-model run); and each custom metric
and dimension set (``metrics``, at most ``MAX_METRIC_ROWS``: key, kind, unit, its value in the
last second that recorded it and its figure of the run so far, counted seconds only; an
empty list when the run records none).

Intervals are not free (about 8 ms per name for the five metrics, and 6 ms more for the
quality checks, at any run length), so however often the tab asks, the figures are
recomputed only when a second has closed since and ``refresh_s`` (2 s) have passed, and the
quality grade, which moves slowly, at most every ``quality_every_s`` (10 s): at 20 names that
is about a tenth of the master's core, and nothing at all while no one watches. A new run (a new
``LiveStatistics``) is computed at once. State and plan position are cheap and always fresh.

    >>> from framework.live.feed import LiveFeed
    >>> view = TabView(plan=None, limits=[])
    >>> data = view.data(LiveFeed(started_s=0.0), now_s=1.0)
    >>> data["state"], data["rows"][0]["key"]
    ('starting', 'Aggregated')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framework.live.arrivals import GroupArrivals
from framework.live.budget_status import BudgetLimit, BudgetStatus, budget_statuses
from framework.live.custom_metrics import COUNTER_KINDS, MetricTotals, SeriesTotals
from framework.live.feed import LiveFeed
from framework.live.state import ENDED
from framework.live.statistics import ALL, LiveStatistics, Snapshot
from framework.plan.rates import RatePlan
from framework.plan.record import PlanRecord
from framework.stats.estimators import DEFAULT_BATCHES, Estimate, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.quality import assess
from framework.timeline.endpoints import OVERALL, selects
from framework.timeline.metric_records import HISTOGRAM_KINDS
from framework.timeline.records import Second

__all__ = [
    "ARRIVALS_WINDOW_S",
    "MAX_FAILURE_MESSAGES",
    "MAX_METRIC_ROWS",
    "FailureMessages",
    "TabView",
    "metric_row",
]

MAX_FAILURE_MESSAGES = 20
"""Failure messages the tab lists (the most frequent, of the run so far)."""

ARRIVALS_WINDOW_S = 10
"""Counted seconds over which the tab holds an open group's achieved rate against its plan."""

MAX_METRIC_ROWS = 200
"""Custom metric rows the tab lists (by key); the timeline and the report have them all."""

_TRACKED_MESSAGES = 200
"""Distinct (name, message) pairs kept while counting; past it the rarest are dropped."""

_LATENCY = ("p50", "p95", "p99")
_METRICS = (*_LATENCY, "throughput", "error_rate")
_QUALITY_METRICS = ("mean", "p95", "p99")
_RANK = {"pending": 0, "passing": 1, "at risk": 2, "failing": 3}
_STOPPED = ENDED | {"stopping"}


class FailureMessages:
    """The run's failure messages by request key, counted from the feed's closed seconds.

    Bounded: at most ``_TRACKED_MESSAGES`` distinct pairs; when a new one would pass that,
    the rarest is dropped (its count is then lost from this list, never from the figures,
    which come from the statistics). Paused seconds are left out, as everywhere.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def add_second(self, second: Second) -> None:
        for record in second.requests:
            for message, count in record.failure_messages.items():
                pair = (record.key, message)
                if pair not in self.counts and len(self.counts) >= _TRACKED_MESSAGES:
                    del self.counts[min(self.counts, key=self.counts.__getitem__)]
                self.counts[pair] = self.counts.get(pair, 0) + count

    def top(self, n: int = MAX_FAILURE_MESSAGES) -> list[dict[str, Any]]:
        """The ``n`` most frequent, as ``{"key", "message", "count"}``, most frequent first."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:n]
        return [{"key": k, "message": m, "count": c} for (k, m), c in ranked]


@dataclass(frozen=True)
class _Figures:
    """What one computation gave: the per-name figures and the budgets' statuses."""

    statistics: LiveStatistics
    seconds: int
    last_t: int | None
    at_s: float
    rows: tuple[dict[str, Any], ...]
    budgets: tuple[BudgetStatus, ...]


class TabView:
    """The tab's data for one feed; keeps the last computed figures (see the module doc).

    ``plan`` is the run's load plan (``None``: no position shown), ``limits`` the scenario's
    budgets (``budget_limits(scenario.budgets)``), ``rates`` the open load groups' plans
    (``open_rates(schedule)``). ``computations`` and
    ``quality_computations`` count how often the intervals and the grades were computed,
    which is what the cache bounds.
    """

    def __init__(
        self,
        *,
        plan: PlanRecord | None,
        limits: Sequence[BudgetLimit],
        confidence: float = 0.95,
        min_seconds: int = 20,
        refresh_s: float = 2.0,
        quality_every_s: float = 10.0,
        rates: Mapping[str, RatePlan] | None = None,
    ) -> None:
        self.plan = plan
        self.rates = dict(rates or {})
        self.limits = tuple(limits)
        self.confidence = confidence
        self.min_seconds = min_seconds
        self.refresh_s = refresh_s
        self.quality_every_s = quality_every_s
        self.failures = FailureMessages()
        self.metrics = MetricTotals()
        self.computations = 0
        self.quality_computations = 0
        self._figures: _Figures | None = None
        self._quality: dict[str, dict[str, Any]] = {}
        self._quality_at_s: float | None = None

    def attach(self, feed: LiveFeed) -> None:
        """Count failure messages from ``feed``'s closed seconds, afresh for each run."""
        feed.second_closed.add_listener(self._on_second)
        feed.run_started.add_listener(self._on_run_started)

    def _on_second(self, *, second: Second, counted: bool, **_kwargs: Any) -> None:
        if counted:
            self.failures.add_second(second)
            self.metrics.add_second(second)

    def _on_run_started(self, **_kwargs: Any) -> None:
        self.failures = FailureMessages()
        self.metrics = MetricTotals()

    def data(self, feed: LiveFeed, now_s: float) -> dict[str, Any]:
        """Everything the tab shows, as plain JSON values (no NaN: unknown is ``None``)."""
        figures = self._current(feed.statistics, now_s)
        latest = feed.latest
        history = feed.run_state.history
        return {
            "run_id": feed.run_id,
            "state": feed.state,
            "since_s": history[-1].at_s,
            "transitions": [
                {"state": t.state, "at_s": t.at_s, "reason": t.reason} for t in history
            ],
            "plan": self._plan_position(feed, now_s),
            "load": {
                "users": None if latest is None else latest.users,
                "workers": None if latest is None else latest.workers,
                "second": None if latest is None else latest.t,
            },
            "seconds": figures.seconds,
            "estimated_at": figures.last_t,
            "confidence": self.confidence,
            "min_seconds": self.min_seconds,
            "rows": list(figures.rows),
            "budgets": [_budget(status) for status in figures.budgets],
            "failures": self.failures.top(),
            "arrivals": [
                _arrivals(group)
                for group in feed.group_arrivals(self.rates, window_s=ARRIVALS_WINDOW_S)
            ],
            "metrics": [
                metric_row(series, self.metrics.seconds)
                for series in self.metrics.sorted()[:MAX_METRIC_ROWS]
            ],
        }

    def _current(self, statistics: LiveStatistics, now_s: float) -> _Figures:
        """The cached figures, unless a second has closed since and they are ``refresh_s``
        old, or they are of another run."""
        cached = self._figures
        if cached is not None and cached.statistics is statistics:
            unchanged = cached.seconds == statistics.seconds and cached.last_t == statistics.last_t
            if unchanged or now_s - cached.at_s < self.refresh_s:
                return cached
        else:
            self._quality, self._quality_at_s = {}, None  # another run: its own grades
        self.computations += 1
        grade_now = self._quality_at_s is None or now_s - self._quality_at_s >= self.quality_every_s
        if grade_now:
            self.quality_computations += 1
            self._quality_at_s = now_s
        statuses = tuple(budget_statuses(self.limits, statistics, confidence=self.confidence))
        self._figures = _Figures(
            statistics=statistics,
            seconds=statistics.seconds,
            last_t=statistics.last_t,
            at_s=now_s,
            rows=tuple(self._rows(statistics, statuses, grade_now=grade_now)),
            budgets=statuses,
        )
        return self._figures

    def _rows(
        self, statistics: LiveStatistics, statuses: Sequence[BudgetStatus], *, grade_now: bool
    ) -> list[dict[str, Any]]:
        endpoints = statistics.endpoints()
        rows = []
        for key in [ALL, *statistics.keys()]:
            method, name = endpoints.get(key, ("", key))
            found = [s for s in statuses if _covers(s.limit.scope, key, method, name)]
            rows.append(self._row(statistics, key, method, name, found, grade_now=grade_now))
        return rows

    def _row(
        self,
        statistics: LiveStatistics,
        key: str,
        method: str,
        name: str,
        statuses: Sequence[BudgetStatus],
        *,
        grade_now: bool,
    ) -> dict[str, Any]:
        snap = statistics.snapshot(key)
        found: Mapping[str, Estimate] = {}
        columns = statistics.columns(key, min_seconds=self.min_seconds)
        if columns is not None:
            sums = HistogramSums(columns, batches=DEFAULT_BATCHES)
            found = estimates(columns, _METRICS, confidence=self.confidence, sums=sums)
            if grade_now or key not in self._quality:
                graded = assess(
                    columns,
                    interval_s=columns.interval_s,
                    metrics=_QUALITY_METRICS,
                    computed={m: found[m] for m in _QUALITY_METRICS if m in found},
                    confidence=self.confidence,
                    sums=sums,
                )
                self._quality[key] = {
                    "grade": str(graded.grade),
                    "reasons": list(graded.reasons),
                    "of_seconds": snap.seconds,
                }
        worst = max((s.status for s in statuses), key=_RANK.__getitem__, default=None)
        return {
            "key": key,
            "method": method,
            "name": name,
            "overall": key == ALL,
            "count": snap.count,
            "failures": snap.failures,
            "seconds": snap.seconds,
            **{f"{m}_ms": _figure(found.get(m), _point_ms(snap, m), 1 / 1000) for m in _LATENCY},
            "throughput": _figure(found.get("throughput"), snap.rps if snap.seconds else None),
            "error_rate": _figure(found.get("error_rate"), snap.error_rate),
            "quality": self._quality.get(key),
            "budget": worst,
        }

    def _plan_position(self, feed: LiveFeed, now_s: float) -> dict[str, Any] | None:
        plan = self.plan
        if plan is None or not plan.recorded or plan.duration_s is None:
            return None
        stopped = [t.at_s for t in feed.run_state.history if t.state in _STOPPED]
        end_s = stopped[0] if stopped else now_s  # the plan's clock ends when the run stops
        elapsed = min(feed.plan_elapsed_s(end_s), float(plan.duration_s))
        phase = next((p for p in plan.phases if p.start_s <= elapsed < p.end_s), None)
        return {
            "shape": plan.shape,
            "duration_s": plan.duration_s,
            "elapsed_s": round(elapsed, 1),
            "remaining_s": round(max(0.0, plan.duration_s - elapsed), 1),
            "fraction": round(elapsed / plan.duration_s, 4) if plan.duration_s > 0 else None,
            "phase": None
            if phase is None
            else {
                "name": phase.name,
                "kind": phase.kind,
                "start_s": phase.start_s,
                "end_s": phase.end_s,
                "users": phase.users,
            },
            "phases": [p.name for p in plan.phases],
        }


def _covers(scope: str, key: str, method: str, name: str) -> bool:
    """Whether a budget of ``scope`` is on this row (``overall`` is on all requests only)."""
    return scope == OVERALL if key == ALL else selects(scope, method, name)


def _point_ms(snap: Snapshot, metric: str) -> float | None:
    return getattr(snap, f"{metric}_ms")


def _number(value: float | None) -> float | None:
    """A JSON-safe number: ``None`` for unknown (NaN, infinite), rounded to 6 significant."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _figure(estimate: Estimate | None, point: float | None, scale: float = 1.0) -> dict:
    """``{"value", "low", "high"}``: the estimate with its interval, or the point figure
    (``low`` and ``high`` ``None``) while there is no estimate yet."""
    if estimate is None or not math.isfinite(estimate.value):
        return {"value": _number(point), "low": None, "high": None}
    low, high = (_number(v * scale) for v in (estimate.low, estimate.high))
    return {"value": _number(estimate.value * scale), "low": low, "high": high}


def _arrivals(group: GroupArrivals) -> dict[str, Any]:
    """One open group's row: rates per second over the recent seconds, lags in ms (recent
    and run so far), counts of the run so far."""
    recent, run = group.recent, group.run
    return {
        "group": group.group,
        "window_s": recent.seconds,
        "planned_rate": _number(group.planned_rate),
        "rate": _number(recent.rate) if recent.seconds else None,
        "behind": group.behind,
        "lag_p50_ms": _number(recent.lag_p50_ms),
        "lag_p99_ms": _number(recent.lag_p99_ms),
        "run_lag_p99_ms": _number(run.lag_p99_ms),
        "due": run.due,
        "started": run.started,
        "dropped": run.dropped,
        "dropped_fraction": _number(run.dropped_fraction),
        "in_flight": run.in_flight,
    }


def _budget(status: BudgetStatus) -> dict[str, Any]:
    limit = status.limit
    return {
        "scope": limit.scope,
        "metric": limit.metric,
        "status": status.status,
        "text": status.text,
        "kind": limit.kind,
        "unit": limit.unit,
        "budget": limit.budget,
        "limit": _number(limit.limit),
        "value": _number(status.value),
        "low": _number(status.low),
        "high": _number(status.high),
    }


def metric_row(series: SeriesTotals, seconds: int) -> dict[str, Any]:
    """One custom metric and dimension set: ``last`` is its value in the last second that
    recorded it (a histogram's mean, a counter's count per second, a gauge's last value;
    ``last_t`` that second), ``run`` its figures of the run so far over ``seconds`` counted
    seconds (histogram: ``mean``, ``p50``, ``p95``, ``p99``, ``max``; counter and meter:
    ``total``, ``rate`` per second; gauge: ``last``, ``min``, ``max``, ``mean`` of the sets).
    """
    latest = series.latest
    last: float | None = None
    if latest is not None:
        if series.kind in COUNTER_KINDS:
            last = float(latest.sum)
        elif series.kind in HISTOGRAM_KINDS:
            last = latest.mean
        else:
            last = latest.last
    run: dict[str, float | None]
    if series.kind in COUNTER_KINDS:
        run = {"total": series.sum, "rate": series.sum / seconds if seconds else None}
    elif series.kind in HISTOGRAM_KINDS:
        p50, p95, p99 = series.percentiles()
        run = {"mean": series.mean, "p50": p50, "p95": p95, "p99": p99, "max": series.max}
    else:
        run = {"last": series.last, "min": series.min, "max": series.max, "mean": series.mean}
    return {
        "key": series.key,
        "name": series.name,
        "dims": dict(series.dims),
        "kind": series.kind,
        "unit": series.unit,
        "last": _number(last),
        "last_t": None if latest is None else latest.t,
        "count": series.count,
        "missing": series.missing,
        "run": {k: _number(v) for k, v in run.items()},
    }
