"""The results of one analysed run: every figure with its interval, every verdict, every reason.

This is the one structure that the statistics produce and every report renders (JSON,
Markdown, HTML, JUnit, Prometheus text), so renderers never compute anything themselves.
``results.json`` is ``Results.to_dict()``; its schema is versioned (``RESULTS_VERSION``) and
documented in ``docs/results.md``. Latencies are in milliseconds, rates are fractions,
throughput is requests per second, times are unix seconds or ISO-8601 UTC strings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from framework.scenario.grades import GradeName
from framework.timeline.endpoints import endpoint_key

if TYPE_CHECKING:
    from framework.stats.estimators import Estimate
    from framework.verdicts.capacity import Capacity
    from framework.verdicts.faults import FaultResult

__all__ = [
    "LATENCY_BUCKETS_MS",
    "RESULTS_VERSION",
    "ArrivalGroup",
    "BudgetVerdict",
    "ComparisonRow",
    "EndpointResult",
    "FailureLatency",
    "FailureMessage",
    "Figure",
    "GroupPhase",
    "GroupPhases",
    "MetricComparisonRow",
    "MetricResult",
    "MetricSeries",
    "OpenModel",
    "OpenModelName",
    "Percentiles",
    "QualityCheck",
    "QualityResult",
    "Results",
    "SeriesPoint",
    "ValidationMessage",
    "Window",
]

RESULTS_VERSION = 1
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
BudgetOutcome = Literal["pass", "fail", "inconclusive"]
Change = Literal["regression", "improvement", "changed", "no detectable change"]
"""A comparison's verdict; ``changed`` only for a custom counter or meter whose rate moved
and for which no budget says which way is worse (``framework.verdicts.metric_comparison``)."""


@dataclass(frozen=True)
class Figure:
    """One estimate with its confidence interval, as results.json and the store show it.

    The statistics' own ``framework.stats.estimators.Estimate`` carries more (standard
    error, batches, block length) in the estimators' units; ``Figure.from_estimate`` is the
    one way from it to a ``Figure``. The results store keeps only ``value``, ``low`` and
    ``high`` of each, so a ``Figure`` it reads back has the other fields at their defaults.
    ``low``/``high`` are ``None`` when no interval could be formed (too little data).
    ``censored`` marks a percentile that falls among timed-out requests: the true value is
    at least ``value`` ("≥ timeout"). ``effective_n`` is the number of independent samples
    that would give an interval this wide (autocorrelation makes it smaller than ``n``).
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    confidence: float = 0.95
    n: int = 0
    effective_n: float | None = None
    method: str = ""
    censored: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def from_estimate(cls, est: Estimate | None, scale: float = 1.0) -> Figure:
        """``est`` as shown: times ``scale`` (1/1000 turns µs into ms), non-finite parts
        as ``None`` (JSON has no NaN), no estimate as ``Figure(value=None)``."""
        if est is None or not math.isfinite(est.value):
            return cls(value=None)
        finite = math.isfinite(est.low) and math.isfinite(est.high)
        return cls(
            value=est.value * scale,
            low=est.low * scale if finite else None,
            high=est.high * scale if finite else None,
            confidence=est.confidence,
            n=est.n,
            effective_n=est.effective_n if math.isfinite(est.effective_n) else None,
            method=est.method,
            censored=est.censored,
            notes=est.notes,
        )

    @property
    def relative_half_width(self) -> float | None:
        """Half the interval's width over the value; ``None`` without an interval."""
        if self.value in (None, 0) or self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2 / abs(self.value)


@dataclass(frozen=True)
class QualityCheck:
    name: str
    grade: GradeName
    reason: str


@dataclass(frozen=True)
class QualityResult:
    """A pass/warn/fail grade (the worst check) with every check and what to do about it.

    ``detectable_p95_change`` is the smallest p95 regression (0.08 = 8%) a comparison with
    an equally precise baseline would detect; ``run_longer_factor`` how many times longer
    the run must be for the target interval width (1 when already met).
    """

    grade: GradeName
    checks: tuple[QualityCheck, ...] = ()
    detectable_p95_change: float | None = None
    run_longer_factor: float | None = None


@dataclass(frozen=True)
class FailureLatency:
    """How long the failed requests of a name took, beside (never inside) its latency
    figures, which rest on successful requests only (design contract 6): a refused
    connection answers in a millisecond and would make a dead target look fast.

    Plain values without intervals: they describe the failures, no verdict rests on them.
    """

    count: int
    mean_ms: float
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


@dataclass(frozen=True)
class FailureMessage:
    """One thing the failures of a name said (``"HTTP 500: upstream down"``), and how often,
    counted from the timeline (never from Locust's CSV, which a crash can lose)."""

    message: str
    count: int


@dataclass(frozen=True)
class EndpointResult:
    """Every figure of one request name (or ``Aggregated``) over one window.

    ``count`` counts every request, failed ones included; the latency figures (``mean_ms``
    .. ``p99_ms``, ``min_ms``, ``max_ms``, ``p90_ms``, ``latency_buckets_ms``) are those of
    the successful requests (of all requests in a version-1 timeline, see
    ``Results.settings["failures_in_latency"]``); ``failure_latency`` the failed ones'.
    ``failure_messages`` are the most frequent messages of the failures, most frequent
    first; ``failure_messages_other`` counts the failures they leave out (rarer messages,
    or none recorded: timelines from before messages were kept).
    """

    name: str
    method: str
    count: int
    failures: int
    failures_by_kind: dict[str, int]
    timeouts: int
    bytes: int
    min_ms: float | None
    max_ms: float | None
    p90_ms: float | None
    mean_ms: Figure
    median_ms: Figure
    p95_ms: Figure
    p99_ms: Figure
    throughput_rps: Figure
    error_rate: Figure
    quality: QualityResult
    latency_buckets_ms: tuple[tuple[float, int], ...] = ()
    failure_latency: FailureLatency | None = None
    failure_messages: tuple[FailureMessage, ...] = ()
    failure_messages_other: int = 0

    @property
    def key(self) -> str:
        return endpoint_key(self.method, self.name)

    @property
    def successes(self) -> int:
        """Requests that succeeded: what latency figures and latency budgets rest on."""
        return self.count - self.failures


@dataclass(frozen=True)
class Window:
    """A stretch of the run analysed on its own: the steady state, or one step's plateau.

    ``start_s`` and ``end_s`` are unix seconds; a pause inside the window is left out of
    every figure, and ``paused_s`` says how many of its seconds that was."""

    name: str
    start_s: float
    end_s: float
    users: int | None
    overall: EndpointResult
    endpoints: tuple[EndpointResult, ...]
    paused_s: float = 0.0  # seconds of [start_s, end_s) the run was paused in: not analysed

    @property
    def duration_s(self) -> float:
        """The seconds analysed: the window less its paused seconds."""
        return self.end_s - self.start_s - self.paused_s


@dataclass(frozen=True)
class Percentiles:
    """p50, p95 and p99 of one latency, each with its interval (ms)."""

    p50_ms: Figure
    p95_ms: Figure
    p99_ms: Figure


@dataclass(frozen=True)
class OpenModelName:
    """One request name of an open-model run: its two latencies side by side.

    ``response`` is the response time from the *intended* start, the moment the request was
    due (the name's main latency, the same figures as its ``EndpointResult``): what a user
    of the service experiences. ``service`` is the time from the actual send, over the
    ``service_count`` successful open-model requests. Where the target stalled, requests
    queued behind their schedule: the response time shows the wait, the service time (what
    a closed model measures) hides it -- coordinated omission.
    """

    name: str
    method: str
    service_count: int
    response: Percentiles
    service: Percentiles

    @property
    def key(self) -> str:
        return endpoint_key(self.method, self.name)


@dataclass(frozen=True)
class ArrivalGroup:
    """How well one open load group kept its schedule over a window.

    ``due`` arrivals were laid out by the load generators (``started + dropped``);
    ``dropped`` could not start (``max_in_flight`` reached), ``dropped_fraction`` of the due
    ones. The schedule lag (actual start - due) of the started ones has its p50 and p99 with
    intervals where the seconds allow. ``in_flight_max`` is the largest count in flight in
    one second (summed over load generators: an upper bound).

    ``planned`` is what the plan asked for in the window (the integral of its rate over the
    seconds not paused; ``None`` when the plan could not be rebuilt from the run folder),
    and ``missed = max(0, planned - due)`` (rounded) the arrivals no generator ever laid out
    — a lost worker's share until the master noticed, a stalled clock — ``missed_fraction``
    of the planned ones. ``missed_tolerance`` is how many may be missing by rounding or
    Poisson variation alone (``framework.stats.quality.missed_tolerance``); beyond it they
    count against ``validation.max_dropped`` with the dropped ones, and
    ``[short_from_s, short_to_s)`` is the stretch of unix seconds that fell furthest short.
    """

    group: str
    due: int
    started: int
    dropped: int
    dropped_fraction: float | None
    lag_p50_ms: Figure
    lag_p99_ms: Figure
    in_flight_max: int = 0
    planned: float | None = None
    missed: int | None = None
    missed_fraction: float | None = None
    missed_tolerance: float | None = None
    short_from_s: int | None = None
    short_to_s: int | None = None

    @property
    def missed_counted(self) -> int:
        """The missed arrivals that count against the schedule: all beyond the tolerance,
        none within it."""
        missed = self.missed or 0
        return missed if missed > (self.missed_tolerance or 0.0) else 0


@dataclass(frozen=True)
class OpenModel:
    """The open-model figures of a window: each name's response time from the intended
    start beside its service time, and each load group's schedule lag and dropped arrivals.

    ``overall`` is all requests together, given only when every name in the window has
    open-model requests (in a mixed run the closed ones' latency has no service time
    apart). ``cpu_percent_max`` is the busiest load generator's CPU peak in the window,
    which explains a generator that fell behind; ``workers_lost`` says a load generator
    was lost or went silent during the run (``run.json``'s ``worker_events``, or fewer
    workers reporting in the window), which explains arrivals missed.
    """

    names: tuple[OpenModelName, ...] = ()
    overall: OpenModelName | None = None
    groups: tuple[ArrivalGroup, ...] = ()
    cpu_percent_max: float | None = None
    workers_lost: bool = False


@dataclass(frozen=True)
class GroupPhase:
    """One phase of a load group analysed on its own, over that group's request names
    only; ``rate`` is the planned arrivals per second of an open group (``None``: closed,
    whose users are ``window.users``)."""

    kind: str
    rate: float | None
    window: Window


@dataclass(frozen=True)
class GroupPhases:
    """A load group (a users entry with its own load, or ``"scenario"`` for the shared
    one) and the baselines of its phases: ``users`` are its users entries, ``requests``
    the request names (keys) they send, on which its phases' figures rest."""

    name: str
    model: str
    users: tuple[str, ...]
    requests: tuple[str, ...]
    phases: tuple[GroupPhase, ...]


@dataclass(frozen=True)
class BudgetVerdict:
    """One budget checked against a figure's interval, never against a bare number."""

    scope: str
    metric: str
    budget: float
    tolerance: float
    limit: float
    figure: Figure
    verdict: BudgetOutcome
    message: str


@dataclass(frozen=True)
class ValidationMessage:
    """One validation rule: whether it held, and if not, by how much and what to do."""

    rule: str
    passed: bool
    message: str


@dataclass(frozen=True)
class ComparisonRow:
    """Candidate against baseline on one name and metric: the ratio, its interval, a verdict.

    ``low``/``high`` is the interval the multiple-testing correction reads, at confidence
    ``level`` (wider than the nominal one), and the verdict is read off it: a change when it
    excludes 1 and the ratio clears the minimum effects, never otherwise."""

    scope: str
    metric: str
    baseline: float | None
    candidate: float | None
    ratio: float | None
    low: float | None
    high: float | None
    p_value: float | None
    adjusted_p_value: float | None
    verdict: Change
    message: str
    level: float | None = None


@dataclass(frozen=True)
class MetricResult:
    """One custom metric over the analysed window (``framework.verdicts.custom_metrics``).

    ``dims`` is the dimension set (``{}``: every dimension set of the metric together);
    ``key`` is ``metric_key(name, dims)`` (``detector.score{model=fast}``), the name budgets,
    comparisons and history use. ``count`` is the values (histograms, timers), adds
    (counters, meters) or sets (gauges) in the window; ``missing`` the values a scenario's
    extraction looked for and did not find. ``figures`` by kind, each in ``unit``:
    histogram and timer ``mean``, ``p50``, ``p95``, ``p99`` (with intervals) and ``max``;
    counter and meter ``rate`` (per second, with an interval) and ``total``; gauge ``mean``
    (time-weighted, with an interval), ``min``, ``max`` and ``last``.
    """

    name: str
    kind: str
    unit: str
    dims: dict[str, str]
    key: str
    count: int
    missing: int = 0
    figures: dict[str, Figure] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricComparisonRow(ComparisonRow):
    """A ``ComparisonRow`` on one figure of one custom metric: ``scope`` is the metric's key
    (``detector.score{model=fast}``), ``metric`` the figure (``p95``, ``rate``, ``mean``),
    ``baseline``/``candidate`` in ``unit``; ``worse`` says which way is worse: ``higher``,
    ``lower``, or ``""`` (a counter's rate with no budget: a change is only ``changed``)."""

    kind: str = ""
    unit: str = ""
    worse: str = ""


@dataclass(frozen=True)
class MetricSeries:
    """One custom metric (all its dimension sets together) second by second, for charts:
    ``figure`` is what each point is — ``p95`` of a histogram or timer, ``rate`` (per s) of
    a counter or meter, ``last`` of a gauge — in ``unit``; ``points`` are ``(t, value)``
    with ``None`` for a second that recorded nothing."""

    name: str
    kind: str
    unit: str
    figure: str
    points: tuple[tuple[int, float | None], ...] = ()


@dataclass(frozen=True)
class SeriesPoint:
    """One second of the run for charts: load, throughput, errors and latency percentiles."""

    t: int
    users: int | None
    workers: int | None
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class Results:
    """Everything ``swarm report`` knows about one run."""

    analysis_id: str
    created_at: str
    run: dict[str, Any]
    settings: dict[str, Any]
    baseline: Window
    steps: tuple[Window, ...] = ()
    knee: str | None = None
    knee_reason: str | None = None
    budgets: tuple[BudgetVerdict, ...] = ()
    validation: tuple[ValidationMessage, ...] = ()
    comparison: tuple[ComparisonRow, ...] = ()
    compared_to: str | None = None
    series: tuple[SeriesPoint, ...] = ()
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    recommendations: tuple[str, ...] = ()
    verdict: Literal["passed", "failed", "inconclusive"] = "passed"
    reasons: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    """Why the run measured nothing a verdict can rest on (also among ``reasons``): no
    request completed or succeeded in the analysed window, or the window is empty."""
    version: int = RESULTS_VERSION
    open_model: OpenModel | None = None
    """The steady state's open-model figures; ``None`` for a closed-model run (and then
    absent from results.json, which stays as it was)."""
    group_phases: tuple[GroupPhases, ...] = ()
    """Per-phase baselines of each load group, when the run had more than one (absent
    from results.json otherwise)."""
    faults: tuple[FaultResult, ...] = ()
    """Each scheduled fault of the run: figures during it, the baseline before it, its
    recovery time against its SLA (``framework.verdicts.faults``; absent from results.json
    for a run without faults)."""
    capacity: Capacity | None = None
    """Where a stepped, stages or find_capacity run saturates: per-step load and
    throughput, the USL fit and its predicted peak, the highest step meeting every budget
    (``framework.verdicts.capacity``); ``None`` for other runs (absent from results.json)."""
    metrics: tuple[MetricResult, ...] = ()
    """The custom metrics over the steady state, each dimension set and each metric as a
    whole (absent from results.json for a run without custom metrics)."""
    metric_comparison: tuple[MetricComparisonRow, ...] = ()
    """The custom metrics against the baseline's, by key and figure (absent from
    results.json when empty); a regression here fails the run as an endpoint's does."""
    metric_series: tuple[MetricSeries, ...] = ()
    """Each custom metric second by second, for the report's charts (absent when empty)."""

    @property
    def meets_requirements(self) -> bool:
        return all(v.passed for v in self.validation)

    @property
    def validation_errors(self) -> tuple[str, ...]:
        return tuple(v.message for v in self.validation if not v.passed)

    @property
    def _compared(self) -> tuple[ComparisonRow, ...]:
        return self.comparison + self.metric_comparison

    def summary(self) -> dict[str, Any]:
        """The headline figures of the steady state, flat, for dashboards and CI tools."""
        o = self.baseline.overall
        counts = {k: sum(1 for b in self.budgets if b.verdict == k) for k in ("pass", "fail")}
        counts["inconclusive"] = sum(1 for b in self.budgets if b.verdict == "inconclusive")
        return {
            "scenario": self.run.get("scenario"),
            "verdict": self.verdict,
            "duration_s": self.baseline.duration_s,
            "users": self.baseline.users,
            "requests": o.count,
            "failures": o.failures,
            "timeouts": o.timeouts,
            "error_rate": o.error_rate.value,
            "throughput_rps": o.throughput_rps.value,
            "mean_ms": o.mean_ms.value,
            "p50_ms": o.median_ms.value,
            "p90_ms": o.p90_ms,
            "p95_ms": o.p95_ms.value,
            "p95_ms_low": o.p95_ms.low,
            "p95_ms_high": o.p95_ms.high,
            "p99_ms": o.p99_ms.value,
            "min_ms": o.min_ms,
            "max_ms": o.max_ms,
            "censored": o.p95_ms.censored or o.p99_ms.censored,
            "quality": o.quality.grade,
            "budgets": counts,
            "regressions": sum(1 for r in self._compared if r.verdict == "regression"),
            "improvements": sum(1 for r in self._compared if r.verdict == "improvement"),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN and infinity become ``None``)."""
        data = _plain(self)
        if self.open_model is None:
            del data["open_model"]
        if not self.group_phases:
            del data["group_phases"]
        if not self.faults:
            del data["faults"]
        if self.capacity is None:
            del data["capacity"]
        if not self.metrics:
            del data["metrics"]
        if not self.metric_comparison:
            del data["metric_comparison"]
        if not self.metric_series:
            del data["metric_series"]
        data["meets_requirements"] = self.meets_requirements
        data["validation_errors"] = list(self.validation_errors)
        summary = _plain(self.summary())
        data["summary"] = summary
        data["scenarios"] = [
            {
                "name": self.run.get("scenario"),
                "run_id": self.run.get("run_id"),
                "verdict": self.verdict,
                "reasons": list(self.reasons),
                "meets_requirements": self.meets_requirements,
                "summary": summary,
                "requests": data["baseline"]["endpoints"],
            }
        ]
        return data


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, EndpointResult | OpenModelName):
            out["key"] = value.key
        if isinstance(value, Figure):
            out["relative_half_width"] = _plain(value.relative_half_width)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
