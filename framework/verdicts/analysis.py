"""From a timeline to figures: windows of the run, each request name's estimates and grade.

Everything here is a pure function of the timeline and the run record (no clock, no
Locust): the steady-state window skips the warm-up (by default the plan's opening ramp),
each plateau of a stepped plan is analysed on its own, and every figure comes from
``framework.stats.estimators`` with an interval that allows for autocorrelation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from framework.plan.shapes import Phase
from framework.run.folder import RunRecord
from framework.scenario.budgets import ValidationRules
from framework.scenario.metrics import FIGURE_FIELDS, KEY_METRICS, LATENCY_METRICS
from framework.stats.estimators import DEFAULT_BATCHES, Estimate, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import IntervalColumns, IntervalData, columns_from_rows
from framework.stats.precision import minimum_detectable_change, required_duration_s
from framework.stats.quality import Check, assess, check_schedule, grade
from framework.timeline.codec import merged_rows, sum_blobs
from framework.timeline.columns import TimelineColumns
from framework.timeline.endpoints import AGGREGATED
from framework.timeline.histograms import (
    BucketRows,
    SparseHistogram,
    cumulative_counts,
    percentiles_us,
)
from framework.timeline.recorder import is_timeout
from framework.timeline.records import RequestSecond, SecondCounters, Timeline, merge_messages
from framework.verdicts.open_model import arrival_groups, schedule_of, service_percentiles
from framework.verdicts.results import (
    LATENCY_BUCKETS_MS,
    EndpointResult,
    FailureLatency,
    FailureMessage,
    Figure,
    OpenModel,
    OpenModelName,
    Percentiles,
    QualityCheck,
    QualityResult,
    Window,
)

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

    from framework.verdicts.planned_arrivals import ArrivalPlan

__all__ = [
    "REPORTED_FAILURE_MESSAGES",
    "Analysed",
    "AnalysisSettings",
    "GeneratorHealth",
    "PlannedWindow",
    "analyse_window",
    "estimator_columns",
    "interval_data",
    "iso_seconds",
    "load_generator_health",
    "paused_spans",
    "phase_windows",
    "planned_windows",
    "run_start_s",
    "steady_window",
    "wall_time_s",
    "window_series",
]


REPORTED_FAILURE_MESSAGES = 10
"""Failure messages listed per name (and for all requests together), most frequent first."""


@dataclass(frozen=True)
class AnalysisSettings:
    """Knobs of the analysis; the defaults are what ``swarm report`` uses."""

    confidence: float = 0.95
    warmup_s: float | None = None
    target_half_width: float = 0.10
    timeout_s: float | None = None


@dataclass(frozen=True)
class PlannedWindow:
    """A named stretch of the run in unix seconds, ``[start_s, end_s)``."""

    name: str
    start_s: int
    end_s: int
    users: int | None


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso_seconds(text: Any) -> float | None:
    """Unix seconds of an ISO 8601 time as run.json writes them (``…Z``), or ``None`` for
    anything else: a fault's ``started_at`` is null until it happened, and a hand-edited
    run.json must not stop a report."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return _parse_time(text)
    except ValueError:
        return None


def _run_record(run: RunRecord | Mapping[str, Any]) -> RunRecord:
    """The typed record of ``run``: as given, or read from its ``run.json`` form."""
    return run if isinstance(run, RunRecord) else RunRecord.from_record(run)


def run_start_s(run: RunRecord | Mapping[str, Any], timeline: Timeline) -> float:
    """When the load plan started: the run's ``running`` phase, else the first second seen."""
    for phase in _run_record(run).phases:
        if phase.get("name") == "running":
            return _parse_time(phase["at"])
    return float(timeline.start_s or 0)


def paused_spans(run: RunRecord | Mapping[str, Any]) -> list[tuple[float, float]]:
    """Each stretch ``(start_s, end_s)`` the run spent paused, from its phases: a
    ``paused`` phase lasts until the next phase (a run that ended paused, until its end)."""
    phases = _run_record(run).phases
    spans = []
    for i, phase in enumerate(phases):
        if phase.get("name") != "paused" or not isinstance(phase.get("at"), str):
            continue
        following = next(
            (p.get("at") for p in phases[i + 1 :] if isinstance(p.get("at"), str)), None
        )
        spans.append((_parse_time(phase["at"]), _parse_time(following) if following else math.inf))
    return spans


def wall_time_s(start_s: float, plan_s: float, spans: Sequence[tuple[float, float]]) -> float:
    """The unix time at which the plan reached ``plan_s``: its clock stands still while
    the run is paused, so each pause that began before that moment pushes it later.

        >>> wall_time_s(100.0, 30.0, [(110.0, 125.0)])
        145.0
    """
    wall = start_s + plan_s
    for lo, hi in sorted(spans):
        if lo < wall:
            wall += hi - lo
    return wall


def _observed_end_s(timeline: Timeline) -> int:
    """One past the last whole second: the final second is cut short by the stop."""
    return (timeline.end_s or 0) - 1


def steady_window(
    run: RunRecord | Mapping[str, Any], timeline: Timeline, warmup_s: float | None
) -> PlannedWindow:
    """The analysed window: after the warm-up, up to the end of the plan (or of the data).

    Times are the plan's, moved later by the pauses before them (``wall_time_s``); the
    paused seconds inside the window are not in ``timeline.seconds``, so no figure counts
    them. The default warm-up is the plan's opening ramp (every ``ramp`` phase before the first
    plateau), since latency while users are still arriving is not the steady state.
    """
    record = _run_record(run)
    start = run_start_s(record, timeline)
    plan = record.plan
    if warmup_s is None:
        warmup_s = 0.0
        for phase in plan.phases:
            if phase.kind != "ramp":
                break
            warmup_s = float(phase.end_s)
    spans = paused_spans(record)
    plan_end = wall_time_s(start, float(plan.duration_s or math.inf), spans)
    first = math.ceil(wall_time_s(start, warmup_s, spans))
    last = min(math.floor(plan_end), _observed_end_s(timeline))
    return PlannedWindow("steady state", first, max(first, last), plan.peak_users)


def planned_windows(run: RunRecord | Mapping[str, Any], timeline: Timeline) -> list[PlannedWindow]:
    """Each plateau of a stepped, staged or find_capacity plan as its own window (ramps
    left out; a find_capacity run's steps after it stopped are past the timeline's end)."""
    record = _run_record(run)
    if record.plan.shape not in ("stepped", "stages", "find_capacity"):
        return []
    return [w for _, w in phase_windows(record, timeline, record.plan.phases, ("plateau",))]


def phase_windows(
    run: RunRecord | Mapping[str, Any],
    timeline: Timeline,
    phases: Iterable[Phase],
    kinds: Collection[str],
) -> list[tuple[Phase, PlannedWindow]]:
    """The phases of ``kinds`` as windows of whole seconds, moved later by the pauses
    before them; a phase shorter than 2 s there is left out (no interval rests on it).
    An open phase (a ``rate``) has no users: its window's ``users`` is ``None``."""
    record = _run_record(run)
    start = run_start_s(record, timeline)
    end = _observed_end_s(timeline)
    spans = paused_spans(record)
    windows = []
    for phase in phases:
        if phase.kind not in kinds:
            continue
        first = math.ceil(wall_time_s(start, float(phase.start_s), spans))
        last = min(math.floor(wall_time_s(start, float(phase.end_s), spans)), end)
        if last - first >= 2:
            users = None if phase.rate is not None else phase.users
            windows.append((phase, PlannedWindow(phase.name, first, last, users)))
    return windows


def _timeouts(record: RequestSecond) -> int:
    return sum(n for kind, n in record.failures.items() if is_timeout(kind))


def interval_data(records: Sequence[RequestSecond]) -> list[IntervalData]:
    """The timeline's per-second records as the estimators' inputs, each record's histogram
    decoded into an HdrHistogram (the report itself reads ``Timeline.counters`` and
    ``Timeline.buckets`` instead, which give the same figures without one per second)."""
    return [
        IntervalData(
            count=r.count,
            failures=r.failure_count,
            sum_us=float(r.sum_us),
            sumsq_us=float(r.sumsq_us),
            histogram=r.histogram if r.latency_count else None,
            timeouts=_timeouts(r),
            latency_count=r.latency_count,
        )
        for r in records
    ]


def _timeout_count(counters: SecondCounters) -> np.ndarray:
    """Requests per second that failed by timing out (by the failure kind's wording)."""
    found = np.zeros(len(counters), dtype=np.int64)
    for kind, n in counters.failures_by_kind.items():
        if is_timeout(kind):
            found += n
    return found


def _columns(counters: SecondCounters, rows: BucketRows) -> IntervalColumns:
    """What ``interval_data`` gives for the same seconds, in column form, sharing the rows'
    arrays: no record object per second."""
    return columns_from_rows(
        counters.count,
        counters.failures,
        counters.sum_us,
        counters.sumsq_us,
        _timeout_count(counters),
        rows=rows,
        interval_s=1.0,
        latency_counts=counters.latency_count,
    )


def window_series(
    columns: TimelineColumns,
    key: str | None,
    start_s: int,
    end_s: int,
    *,
    among: Sequence[str] | None = None,
) -> tuple[SecondCounters, BucketRows]:
    """The per-second counters and latency histograms of one name in ``[start_s, end_s)``
    (``key`` None: all names, or those ``among`` together), exactly as
    :func:`analyse_window` reads them: ``swarm query`` estimates any part of a run from
    these, so its figures are the report's."""
    return _counters(columns, key, among, start_s, end_s), _rows(
        columns, key, among, start_s, end_s
    )


def estimator_columns(counters: SecondCounters, rows: BucketRows) -> IntervalColumns:
    """What the estimators take for those seconds (one interval a second), as the report
    builds it for a window."""
    return _columns(counters, rows)


@dataclass(frozen=True)
class Analysed:
    """A window's results plus the raw estimates behind them, keyed by endpoint key
    (``""`` for all requests together), for comparisons that need standard errors;
    ``open_model`` holds the window's open-model figures (``None`` for a closed run)."""

    window: Window
    estimates: Mapping[str, Mapping[str, Estimate]]
    open_model: OpenModel | None = None


def analyse_window(
    timeline: Timeline,
    window: PlannedWindow,
    settings: AnalysisSettings,
    *,
    columns: TimelineColumns | None = None,
    names: Collection[str] | None = None,
    groups: Collection[str] | None = None,
    rules: ValidationRules | None = None,
    plan: ArrivalPlan | None = None,
) -> Analysed:
    """Every figure of every request name, and of all together, within ``window``.

    ``columns`` are the timeline's :class:`~framework.timeline.columns.TimelineColumns`,
    for a caller that analyses several windows of one run: each name's histograms are then
    decoded once for all of them (and all requests together merged once). Without it, a
    fresh one serves this window.

    ``names`` (endpoint keys) restricts the window to those names, "all requests" then
    being them together (one load group's phase); ``groups`` restricts the open-model
    arrivals read to those load groups. ``rules`` give the schedule limits of the
    open-model quality check (the defaults without). ``plan`` is the run's open groups'
    plans (``framework.verdicts.planned_arrivals``): with it, each group's arrivals are
    set against what the plan asked for, and those never due count as missed.
    """
    if columns is None:
        columns = TimelineColumns(timeline)
    elif columns.timeline is not timeline:
        raise ValueError("columns must be the TimelineColumns of this very timeline")
    health = load_generator_health(timeline, window)
    keys = columns.names()
    among = None
    if names is not None and set(keys) - set(names):
        keys = [k for k in keys if k in names]
        among = tuple(keys)
    schedule, service, arrivals = None, {}, ()
    workers_lost = health.missing_intervals > 0 or (plan is not None and plan.workers_lost)
    if timeline.open_model or plan is not None:
        rules = rules or ValidationRules()
        arrivals = arrival_groups(
            timeline, window, confidence=settings.confidence, groups=groups, plan=plan
        )
        if arrivals:
            schedule = check_schedule(
                schedule_of(arrivals),
                max_lag_p99_ms=rules.max_lag_p99_ms,
                max_dropped=rules.max_dropped,
                cpu_peak=max(health.cpu_percent, default=None),
                workers_lost=workers_lost,
            )
        for key in keys:
            found_svc = service_percentiles(columns, key, window, confidence=settings.confidence)
            if found_svc is not None:
                service[key] = found_svc
    endpoints, per_name = [], {}
    for key in keys:
        checked = schedule if key in service else None
        result, per_name[key] = _endpoint(columns, key, window, settings, health, checked)
        endpoints.append(result)
    overall, everything = _endpoint(columns, None, window, settings, health, schedule, among=among)
    found: dict[str, Mapping[str, Estimate]] = {"": everything, **per_name}
    paused_s = sum(window.start_s <= s.t < window.end_s for s in timeline.paused)
    result_window = Window(
        window.name,
        window.start_s,
        window.end_s,
        window.users,
        overall,
        tuple(endpoints),
        paused_s=float(paused_s),
    )
    open_model = None
    if service or arrivals:
        open_model = _open_model(columns, result_window, service, arrivals, health, settings)
        open_model = dataclasses.replace(open_model, workers_lost=workers_lost)
    return Analysed(result_window, found, open_model)


def _open_model(
    columns: TimelineColumns,
    window: Window,
    service: Mapping[str, tuple[int, Percentiles]],
    arrivals: tuple,
    health: GeneratorHealth,
    settings: AnalysisSettings,
) -> OpenModel:
    """Each open-model name's two latencies side by side, the groups' schedule, and all
    requests together when every name in the window is open-model."""

    def side_by_side(e: EndpointResult, found: tuple[int, Percentiles]) -> OpenModelName:
        response = Percentiles(e.median_ms, e.p95_ms, e.p99_ms)
        return OpenModelName(e.name, e.method, found[0], response, found[1])

    names = tuple(side_by_side(e, service[e.key]) for e in window.endpoints if e.key in service)
    overall = None
    measured = [e for e in window.endpoints if e.count]
    if service and all(e.key in service for e in measured) and len(service) == len(measured):
        planned = PlannedWindow(window.name, int(window.start_s), int(window.end_s), window.users)
        found = service_percentiles(columns, None, planned, confidence=settings.confidence)
        if found is not None:
            overall = side_by_side(window.overall, found)
    return OpenModel(
        names=names,
        overall=overall,
        groups=arrivals,
        cpu_percent_max=max(health.cpu_percent, default=None),
    )


@dataclass(frozen=True)
class GeneratorHealth:
    """What the timeline says about the load generators during a window.

    ``cpu_percent`` holds the busiest generator's CPU use per second (empty when never
    sampled); ``missing_intervals`` counts worker-seconds below the window's peak worker
    count — a lost or silent worker — out of ``expected_intervals``.
    """

    cpu_percent: tuple[float, ...]
    missing_intervals: int
    expected_intervals: int


def load_generator_health(timeline: Timeline, window: PlannedWindow) -> GeneratorHealth:
    """CPU samples and missing worker-seconds of the seconds inside ``window``."""
    inside = [s for s in timeline.seconds if window.start_s <= s.t < window.end_s]
    cpu = tuple(s.cpu_percent for s in inside if s.cpu_percent is not None)
    workers = [s.workers for s in inside if s.workers is not None]
    peak = max(workers, default=0)
    missing = sum(peak - w for w in workers)
    return GeneratorHealth(cpu, missing, peak * len(workers))


def _counters(
    columns: TimelineColumns, key: str | None, among: Sequence[str] | None, start: int, end: int
) -> SecondCounters:
    """``columns.counters``, or (``key`` None, ``among`` given) those names' added up."""
    if key is not None or among is None:
        return columns.counters(key, start, end)
    parts = [columns.counters(k, start, end) for k in among]
    if not parts:
        return columns.counters("", start, end)  # no name: the seconds, all zero
    added: dict[str, Any] = {}
    for f in dataclasses.fields(SecondCounters):
        values = [getattr(p, f.name) for p in parts]
        if f.name == "t":
            added[f.name] = values[0]
        elif f.name == "failures_by_kind":
            kinds: dict[str, np.ndarray] = {}
            for found in values:
                for kind, n in found.items():
                    kinds[kind] = kinds[kind] + n if kind in kinds else n.copy()
            added[f.name] = dict(sorted(kinds.items()))
        elif any(v is None for v in values):
            added[f.name] = None
        else:
            added[f.name] = sum(values[1:], values[0].copy())
    return SecondCounters(**added)


def _rows(
    columns: TimelineColumns, key: str | None, among: Sequence[str] | None, start: int, end: int
) -> BucketRows:
    """``columns.buckets``, or (``key`` None, ``among`` given) those names' merged."""
    if key is not None or among is None:
        return columns.buckets(key, start, end)
    parts = [columns.buckets(k, start, end) for k in among]
    if len(parts) == 1:
        return parts[0]
    rows = len(columns.counters("", start, end))
    return merged_rows(parts, rows, narrow=True) if parts else columns.buckets("", start, end)


def _records(
    columns: TimelineColumns, key: str | None, among: Sequence[str] | None, start: int, end: int
) -> list[RequestSecond]:
    """``columns.select``, or (``key`` None, ``among`` given) those names' records."""
    if key is not None or among is None:
        return list(columns.select(key, start, end))
    return [r for k in among for r in columns.select(k, start, end)]


def _endpoint(
    columns: TimelineColumns,
    key: str | None,
    window: PlannedWindow,
    settings: AnalysisSettings,
    health: GeneratorHealth,
    schedule: Check | None = None,
    *,
    among: Sequence[str] | None = None,
) -> tuple[EndpointResult, Mapping[str, Estimate]]:
    """One name's figures (``key`` None: all names, or those ``among``); ``schedule``, the
    open model's schedule check, joins its quality checks when given."""
    counters = _counters(columns, key, among, window.start_s, window.end_s)
    rows = _rows(columns, key, among, window.start_s, window.end_s)
    count = int(counters.count.sum())
    method, name = columns.endpoint(key) if key is not None else ("", AGGREGATED)
    ms = 1 / 1000
    sums = None
    if count and len(counters) >= 2:
        intervals = _columns(counters, rows)
        # one set of histogram sums for the name in this window: every percentile, the
        # quality checks and the window's histogram below read them
        sums = HistogramSums(intervals, batches=DEFAULT_BATCHES)
        found = estimates(intervals, KEY_METRICS, confidence=settings.confidence, sums=sums)
        quality = assess(
            intervals,
            metrics=("mean", "p95", "p99"),
            computed=found,
            confidence=settings.confidence,
            cpu_percent=health.cpu_percent or None,
            missing_intervals=health.missing_intervals,
            expected_intervals=health.expected_intervals,
            timeout_s=settings.timeout_s,
            sums=sums,
        )
        if schedule is not None:
            quality = grade([*quality.checks, schedule])
        p95 = found["p95"]
        detectable = minimum_detectable_change(p95, confidence=settings.confidence)
        needed = required_duration_s(p95, max(len(intervals), 1), settings.target_half_width)
        factor = needed / max(len(intervals), 1) if math.isfinite(needed) else None
        quality_result = QualityResult(
            grade=quality.grade.value,
            checks=tuple(QualityCheck(c.name, c.grade.value, c.reason) for c in quality.checks),
            detectable_p95_change=detectable if math.isfinite(detectable) else None,
            run_longer_factor=max(1.0, factor) if factor is not None else None,
        )
    else:
        found = {}
        reason = "no requests in this window" if not count else "window shorter than 2 s"
        quality_result = QualityResult(
            grade="fail", checks=(QualityCheck("sample size", "fail", reason),)
        )
    measured = int(counters.latency_count.sum()) if counters.latency_count is not None else count
    hist = _whole(rows, sums).to_hdrhistogram() if measured else None
    by_kind = {k: int(n.sum()) for k, n in counters.failures_by_kind.items()}
    result = EndpointResult(
        name=name,
        method=method,
        count=count,
        failures=int(counters.failures.sum()),
        failures_by_kind=by_kind,
        timeouts=int(_timeout_count(counters).sum()),
        bytes=int(counters.bytes.sum()),
        min_ms=hist.get_min_value() * ms if hist else None,
        max_ms=hist.get_max_value() * ms if hist else None,
        p90_ms=percentiles_us(hist, (90,))[0] * ms if hist else None,
        **{
            field: Figure.from_estimate(found.get(metric), ms if metric in LATENCY_METRICS else 1.0)
            for metric, field in FIGURE_FIELDS.items()
        },
        quality=quality_result,
        latency_buckets_ms=_buckets(hist),
        failure_latency=_failure_latency(columns, key, window, counters, among),
        **_failure_messages(columns, key, window, int(counters.failures.sum()), among),
    )
    return result, found


def _failure_messages(
    columns: TimelineColumns,
    key: str | None,
    window: PlannedWindow,
    failures: int,
    among: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The window's most frequent failure messages of ``key`` (all names for ``None``, or
    those ``among``), and how many failures they leave out."""
    if not failures:
        return {}
    counts: dict[str, int] = {}
    if key is None and among is None:
        records: Iterable[RequestSecond] = columns.timeline.select(
            None, window.start_s, window.end_s
        )
    else:
        records = _records(columns, key, among, window.start_s, window.end_s)
    for r in records:
        for message, n in r.failure_messages.items():
            counts[message] = counts.get(message, 0) + n
    top = merge_messages(counts, limit=REPORTED_FAILURE_MESSAGES)
    shown = tuple(
        FailureMessage(m, n) for m, n in sorted(top.items(), key=lambda item: (-item[1], item[0]))
    )
    return {
        "failure_messages": shown,
        "failure_messages_other": max(0, failures - sum(m.count for m in shown)),
    }


def _failure_latency(
    columns: TimelineColumns,
    key: str | None,
    window: PlannedWindow,
    counters: SecondCounters,
    among: Sequence[str] | None = None,
) -> FailureLatency | None:
    """The failed requests' own latency figures (``None`` without failures, or when a
    version-1 timeline mixed them into the successes')."""
    failed = int(counters.failures.sum())
    if not failed or counters.fail_sum_us is None:
        return None
    records = _records(columns, key, among, window.start_s, window.end_s)
    if any(r.failures_in_latency for r in records if r.failure_count):
        return None
    hist = sum_blobs([b for r in records for b in r.fail_hist_blobs])
    ms = 1 / 1000
    p50, p95 = percentiles_us(hist, (50, 95))
    return FailureLatency(
        count=failed,
        mean_ms=float(counters.fail_sum_us.sum()) / failed * ms,
        p50_ms=p50 * ms if p50 is not None else None,
        p95_ms=p95 * ms if p95 is not None else None,
        max_ms=hist.get_max_value() * ms if hist.get_total_count() else None,
    )


def _whole(rows: BucketRows, sums: HistogramSums | None) -> SparseHistogram:
    """The window's histogram: the one the estimators' ``sums`` hold when there are some (a
    pass saved), else the rows added up."""
    if sums is None:
        return rows.total()
    summed = sums.bucket_totals()
    index = np.flatnonzero(summed)
    return SparseHistogram(index, summed[index].astype(np.int64), rows.layout)


def _buckets(hist: HdrHistogram | None) -> tuple[tuple[float, int], ...]:
    if hist is None:
        return ()
    counts = cumulative_counts(hist, [b * 1000 for b in LATENCY_BUCKETS_MS])
    return tuple((float(b), c) for b, c in zip(LATENCY_BUCKETS_MS, counts, strict=True))
