"""Live Prometheus metrics of a run, made from the one ``LiveFeed`` and nothing else.

``LiveMetrics`` is a prometheus-client *collector*: it listens to ``feed.second_closed``
(each second the master merged, the same seconds written to timeline.jsonl), adds each
second's counts into its own running totals, and renders them at every scrape. It keeps no
per-request counting of its own and never reads Locust's statistics (design contract 7).
The exposition (every family, labels in braces)::

    swarm_requests_total{method,name}                      counter
    swarm_requests_failed_total{method,name}               counter
    swarm_request_failures_by_kind_total{method,name,kind} counter
    swarm_request_timeouts_total{method,name}              counter
    swarm_response_bytes_total{method,name}                counter
    swarm_request_duration_milliseconds{method,name}       histogram, le 1 … 5000 ms
    swarm_users, swarm_workers                             gauges, of the last closed second
    swarm_run_state{state}                                 1 for the run's state, 0 for the 7 others
    swarm_run_info{run_id,scenario}                        1: the run now (or last) in this process
    swarm_seconds_closed_total                             counter of merged seconds
    swarm_budget_status{scope,metric,status}               1 for each budget's status, else 0
    swarm_budget_limit{scope,metric}                       the limit (budget plus tolerance)
    swarm_budget_value{scope,metric,bound}                 the run so far's figure and interval
    swarm_arrivals_total{group,outcome}                    counter, outcome started | dropped
    swarm_schedule_lag_seconds{group}                      histogram, le 0.001 … 5 s
    swarm_in_flight{group}                                 gauge, arrivals in flight (last second)
    swarm_planned_arrival_rate{group}                      gauge, arrivals/s the plan asks for now
    swarm_custom_<name>{<dims>}                            a custom metric, by kind (below)
    swarm_custom_values_missing_total{metric}              counter of values not found

The names follow ``metrics.prom`` (``framework.reports.prometheus``), with two deliberate
differences: there is no ``name="Aggregated"`` series (``sum()`` over the names gives it,
and an aggregated series would double every sum), and ``swarm_budget_status`` here is one
series per status (``pending``, ``passing``, ``at risk``, ``failing``), as live statuses are
four, not the final verdict's three numbers.

Counters count for the life of the master process: in the web UI, where each start is a new
run in the same process, they keep counting instead of starting again at zero, so
``rate()`` and ``increase()`` stay right across runs; ``swarm_run_info`` says which run is
on. Every request sent is counted, paused seconds included (the figures the budgets are
judged on leave paused time out; a counter of what was sent does not). Latency is of the
successful requests, in milliseconds, bucketed at :data:`LATENCY_BUCKETS_MS`.

Open-model load groups (``load: {model: open}``) add the last four families, one series per
group: the arrivals that started or were dropped (``max_in_flight`` reached), counted by the
second they were *due* in and including those that started after their second closed (late
``arr`` records); the schedule lag of the started ones (actual start − due) in seconds,
bucketed at :data:`LAG_BUCKETS_S`; the arrivals in flight in the last closed second
(``sec.active``); and the rate the plan asks for at scrape time (0 unless the run is
running). ``rate(swarm_arrivals_total{outcome="started"}[1m])`` against
``swarm_planned_arrival_rate`` says whether the generator keeps its schedule.

Custom metrics (``Second.metrics``: ``counter()``, ``gauge()``, ``histogram()``, ``timer()``,
``meter()`` and a scenario's ``metrics:`` and ``gauges:``) are one family each, named
``swarm_custom_`` and the metric's name with ``.`` as ``_`` (``detector.queue.depth`` →
``swarm_custom_detector_queue_depth``), their dimensions as labels (the union of the
dimension names the metric was recorded with; a dimension named ``quantile``, ``le`` or
starting with ``__`` is the label ``dim_<name>``), the unit in the HELP text. The API bounds
a metric to 100 dimension sets, so the series are bounded too. By kind:

* ``counter`` and ``meter``: a counter, ``swarm_custom_<name>_total``, of what they added;
* ``gauge``: a gauge of the value set last;
* ``histogram`` and ``timer``: a summary — ``_count`` and ``_sum`` of every value recorded
  (``rate(_sum[1m]) / rate(_count[1m])`` is the mean over any range), and the 0.5, 0.95 and
  0.99 quantiles of the values of the last :data:`QUANTILE_WINDOW_S` closed seconds (read
  off the merged histograms; left out while the window holds none). A summary rather than
  a Prometheus histogram because a metric's unit is the user's (a score, items, ms): no one
  set of bucket bounds fits them all, and the timeline's histograms give exact quantiles.

``swarm_custom_values_missing_total{metric}`` counts the values a scenario's extraction
looked for and did not find, per metric. Two metric names that differ only by ``.`` against
``_`` would make one family name: the second is left out (the first in name order stays).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from framework.live.budget_status import BudgetLimit, BudgetStatus, budget_statuses
from framework.live.custom_metrics import (
    COUNTER_KINDS,
    LEVELS,
    MetricTotals,
    SeriesTotals,
    dimension_labels,
)
from framework.live.feed import LiveFeed
from framework.live.state import STATES
from framework.plan.rates import RatePlan
from framework.timeline.codec import sum_blobs
from framework.timeline.histograms import cumulative_counts
from framework.timeline.metric_records import HISTOGRAM_KINDS
from framework.timeline.recorder import is_timeout
from framework.timeline.records import ArrivalSecond, RequestSecond, Second

__all__ = [
    "BUDGET_STATUSES",
    "CUSTOM_PREFIX",
    "LAG_BUCKETS_S",
    "LATENCY_BUCKETS_MS",
    "QUANTILE_WINDOW_S",
    "LiveMetrics",
    "custom_families",
    "custom_family_name",
]

LATENCY_BUCKETS_MS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
"""Bucket bounds of ``swarm_request_duration_milliseconds``: the same as ``metrics.prom``'s
(``framework.verdicts.results.LATENCY_BUCKETS_MS``, a later stage, so repeated here; a unit
test keeps the two equal)."""

LAG_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip
"""Bucket bounds of ``swarm_schedule_lag_seconds``: a generator that keeps its schedule
starts arrivals within a millisecond or two; seconds of lag mean it fell far behind."""

BUDGET_STATUSES = ("pending", "passing", "at risk", "failing")

CUSTOM_PREFIX = "swarm_custom_"
QUANTILE_WINDOW_S = 60
"""Closed seconds whose values a custom histogram's or timer's quantiles are of: recent
enough to follow the run, long enough to hold a p99 of a few values a second."""
_RESERVED_LABELS = ("quantile", "le")

_BOUNDS_US = [b * 1000 for b in LATENCY_BUCKETS_MS]
_LE = [str(b) for b in LATENCY_BUCKETS_MS]
_LAG_BOUNDS_US = [round(b * 1_000_000) for b in LAG_BUCKETS_S]
_LAG_LE = [f"{b:g}" for b in LAG_BUCKETS_S]


@dataclass
class _Totals:
    """Running totals of one ``(method, name)``."""

    count: int = 0
    failures: int = 0
    timeouts: int = 0
    bytes: int = 0
    latency_count: int = 0
    sum_us: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_MS))

    def add(self, record: RequestSecond) -> None:
        self.count += record.count
        self.bytes += record.bytes
        for kind, n in record.failures.items():
            self.failures += n
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n
            if is_timeout(kind):
                self.timeouts += n
        self.latency_count += record.latency_count
        self.sum_us += record.sum_us
        if record.hist_blobs and record.latency_count:
            counts = cumulative_counts(sum_blobs(record.hist_blobs), _BOUNDS_US)
            self.buckets = [a + b for a, b in zip(self.buckets, counts, strict=True)]


@dataclass
class _Arrivals:
    """Running totals of one open load group's arrivals."""

    started: int = 0
    dropped: int = 0
    lag_sum_us: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(LAG_BUCKETS_S))

    def add(self, record: ArrivalSecond) -> None:
        self.started += record.started
        self.dropped += record.dropped
        self.lag_sum_us += record.lag_sum_us
        blobs = [b for b in record.lag_hist_blobs if b]
        if blobs and record.started:
            counts = cumulative_counts(sum_blobs(blobs), _LAG_BOUNDS_US)
            self.buckets = [a + b for a, b in zip(self.buckets, counts, strict=True)]


class LiveMetrics(Collector):
    """The metrics of ``feed``'s runs, for a ``CollectorRegistry`` of their own.

    ``limits`` are the scenario's budgets (``budget_limits``); their status is recomputed
    every ``budget_every_s`` counted seconds (an interval estimate costs more than a scrape
    should) and when a run ends. ``run_id`` names the run until the feed names one
    (``feed.start_run``). ``rates`` are the open load groups' plans (``open_rates``), for
    ``swarm_planned_arrival_rate`` at the time ``clock`` gives at each scrape.
    """

    def __init__(
        self,
        feed: LiveFeed,
        *,
        scenario: str,
        limits: Sequence[BudgetLimit] = (),
        run_id: str | None = None,
        budget_every_s: int = 5,
        rates: Mapping[str, RatePlan] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.feed = feed
        self.rates = dict(rates or {})
        self.clock = clock
        self.arrivals: dict[str, _Arrivals] = {name: _Arrivals() for name in sorted(self.rates)}
        self.in_flight: dict[str, int] = {}
        self.scenario = scenario
        self.limits = list(limits)
        self.run_id = feed.run_id or run_id or ""
        self.budget_every_s = max(1, budget_every_s)
        self.totals: dict[tuple[str, str], _Totals] = {}
        self.seconds = 0
        self.custom = MetricTotals(window_s=QUANTILE_WINDOW_S)
        self.users: int | None = None
        self.workers: int | None = None
        self.statuses: list[BudgetStatus] = [BudgetStatus(limit, "pending") for limit in limits]
        self._judged_at = 0
        feed.second_closed.add_listener(self.on_second)
        feed.run_started.add_listener(self.on_run_started)
        feed.run_finished.add_listener(self.on_run_finished)
        feed.arrival_late.add_listener(self.on_arrival_late)

    def __repr__(self) -> str:
        return f"LiveMetrics(run_id={self.run_id!r}, seconds={self.seconds})"

    # -- the feed's hooks ------------------------------------------------------------------

    def on_second(self, *, second: Second, **_kwargs: Any) -> None:
        """Add one closed second to the totals (every second: paused ones too)."""
        self.seconds += 1
        if second.users is not None:
            self.users = second.users
        if second.workers is not None:
            self.workers = second.workers
        for record in second.requests:
            key = (record.method, record.name)
            totals = self.totals.get(key)
            if totals is None:
                totals = self.totals[key] = _Totals()
            totals.add(record)
        for arrival in second.arrivals:
            self._arrivals(arrival.group).add(arrival)
        self.custom.add_second(second)
        for group, n in second.active.items():
            if group in self.arrivals:  # open groups only: closed ones run users
                self.in_flight[group] = n
        counted = self.feed.statistics.seconds
        if self.limits and counted - self._judged_at >= self.budget_every_s:
            self._judge()

    def on_arrival_late(self, *, arrival: ArrivalSecond, **_kwargs: Any) -> None:
        """Arrivals due in a second already closed: counted as they come (paused ones too)."""
        self._arrivals(arrival.group).add(arrival)

    def _arrivals(self, group: str) -> _Arrivals:
        found = self.arrivals.get(group)
        if found is None:
            found = self.arrivals[group] = _Arrivals()
        return found

    def on_run_started(self, *, run_id: str | None, **_kwargs: Any) -> None:
        """A new run in this process (web UI): name it; budgets start again as pending."""
        self.run_id = run_id or self.run_id
        self.statuses = [BudgetStatus(limit, "pending") for limit in self.limits]
        self._judged_at = 0

    def on_run_finished(self, **_kwargs: Any) -> None:
        if self.limits:
            self._judge()

    def _judge(self) -> None:
        self._judged_at = self.feed.statistics.seconds
        self.statuses = budget_statuses(self.limits, self.feed.statistics)

    # -- the exposition --------------------------------------------------------------------

    def describe(self) -> Iterable[Any]:
        """Nothing up front: the registry then never calls ``collect`` on registration."""
        return []

    def collect(self) -> Iterator[Any]:
        """Every family, from the totals so far (cheap: no statistics computed here)."""
        endpoint = ["method", "name"]
        requests = CounterMetricFamily(
            "swarm_requests", "Requests sent, by request name (merged timeline).", labels=endpoint
        )
        failed = CounterMetricFamily(
            "swarm_requests_failed", "Requests that failed, by request name.", labels=endpoint
        )
        by_kind = CounterMetricFamily(
            "swarm_request_failures_by_kind",
            "Failed requests by kind (HTTP 500, timeout, ConnectionRefusedError, ...).",
            labels=[*endpoint, "kind"],
        )
        timeouts = CounterMetricFamily(
            "swarm_request_timeouts", "Requests that timed out.", labels=endpoint
        )
        nbytes = CounterMetricFamily(
            "swarm_response_bytes", "Bytes of the responses received.", labels=endpoint
        )
        duration = HistogramMetricFamily(
            "swarm_request_duration_milliseconds",
            "Response times of successful requests, in milliseconds.",
            labels=endpoint,
        )
        for (method, name), t in sorted(self.totals.items()):
            labels = [method, name]
            requests.add_metric(labels, t.count)
            failed.add_metric(labels, t.failures)
            timeouts.add_metric(labels, t.timeouts)
            nbytes.add_metric(labels, t.bytes)
            for kind, n in sorted(t.by_kind.items()):
                by_kind.add_metric([*labels, kind], n)
            buckets = [*zip(_LE, t.buckets, strict=True), ("+Inf", t.latency_count)]
            duration.add_metric(labels, buckets=buckets, sum_value=t.sum_us / 1000)
        yield from (requests, failed, by_kind, timeouts, nbytes, duration)
        yield from self._load_and_state()
        yield from self._budgets()
        if self.arrivals:
            yield from self._open_model()
        if self.custom.series:
            yield from custom_families(self.custom)

    def _open_model(self) -> Iterator[Any]:
        arrivals = CounterMetricFamily(
            "swarm_arrivals",
            "Open-model arrivals by the second they were due: started, or dropped "
            "(max_in_flight reached).",
            labels=["group", "outcome"],
        )
        lag = HistogramMetricFamily(
            "swarm_schedule_lag_seconds",
            "Schedule lag of the started arrivals (actual start minus due), in seconds.",
            labels=["group"],
        )
        in_flight = GaugeMetricFamily(
            "swarm_in_flight",
            "Open-model arrivals in flight, in the last closed second (all load generators).",
            labels=["group"],
        )
        planned = GaugeMetricFamily(
            "swarm_planned_arrival_rate",
            "Arrivals per second the load plan asks for now (0 unless the run is running).",
            labels=["group"],
        )
        running = self.feed.state == "running"
        elapsed = self.feed.plan_elapsed_s(self.clock()) if running else 0.0
        for group, t in sorted(self.arrivals.items()):
            arrivals.add_metric([group, "started"], t.started)
            arrivals.add_metric([group, "dropped"], t.dropped)
            buckets = [*zip(_LAG_LE, t.buckets, strict=True), ("+Inf", t.started)]
            lag.add_metric([group], buckets=buckets, sum_value=t.lag_sum_us / 1_000_000)
            if group in self.in_flight:
                in_flight.add_metric([group], self.in_flight[group])
            plan = self.rates.get(group)
            if plan is not None:
                rate = (plan.rate_at(elapsed) or 0.0) if running else 0.0
                planned.add_metric([group], rate)
        yield from (arrivals, lag, in_flight, planned)

    def _load_and_state(self) -> Iterator[Any]:
        users = GaugeMetricFamily("swarm_users", "Users running, in the last closed second.")
        workers = GaugeMetricFamily(
            "swarm_workers", "Load generators connected, in the last closed second (1: local)."
        )
        if self.users is not None:
            users.add_metric([], self.users)
        if self.workers is not None:
            workers.add_metric([], self.workers)
        state = GaugeMetricFamily(
            "swarm_run_state", "1 for the state the run is in, 0 for the others.", labels=["state"]
        )
        for name in STATES:
            state.add_metric([name], 1.0 if name == self.feed.state else 0.0)
        info = GaugeMetricFamily(
            "swarm_run_info",
            "The run now (or last) in this master; labels name it. Always 1.",
            labels=["run_id", "scenario"],
        )
        info.add_metric([self.run_id, self.scenario], 1)
        seconds = CounterMetricFamily(
            "swarm_seconds_closed", "Seconds of the timeline the master has merged and closed."
        )
        seconds.add_metric([], self.seconds)
        yield from (users, workers, state, info, seconds)

    def _budgets(self) -> Iterator[Any]:
        labels = ["scope", "metric"]
        status = GaugeMetricFamily(
            "swarm_budget_status",
            "1 for each budget's live status (pending, passing, at risk, failing), else 0; "
            "failing only when the whole confidence interval is beyond the limit.",
            labels=[*labels, "status"],
        )
        limit = GaugeMetricFamily(
            "swarm_budget_limit",
            "The limit a budget is judged against (budget plus tolerance), in its unit "
            "(ms, requests per second, or a fraction).",
            labels=labels,
        )
        value = GaugeMetricFamily(
            "swarm_budget_value",
            "A budget's figure on the run so far (bound estimate) and its confidence "
            "interval (low, high), in the budget's unit.",
            labels=[*labels, "bound"],
        )
        for current in self.statuses:
            scope = [current.limit.scope, current.limit.metric]
            for name in BUDGET_STATUSES:
                status.add_metric([*scope, name], 1.0 if name == current.status else 0.0)
            limit.add_metric(scope, current.limit.limit)
            for bound, figure in (("estimate", current.value), ("low", current.low),
                                  ("high", current.high)):  # fmt: skip
                if figure is not None:
                    value.add_metric([*scope, bound], figure)
        yield from (status, limit, value)


def custom_family_name(name: str) -> str:
    """``detector.queue.depth`` → ``swarm_custom_detector_queue_depth``."""
    return CUSTOM_PREFIX + name.replace(".", "_")


def custom_families(totals: MetricTotals) -> list[Metric]:
    """One family per custom metric (see the module doc), and the missing values' counter."""
    by_name: dict[str, list[SeriesTotals]] = {}
    for series in totals.sorted():
        by_name.setdefault(series.name, []).append(series)
    families: list[Metric] = []
    taken: set[str] = set()
    missing = CounterMetricFamily(
        "swarm_custom_values_missing",
        "Values of a custom metric that a scenario's extraction looked for and did not find.",
        labels=["metric"],
    )
    for name, found in by_name.items():
        family_name = custom_family_name(name)
        if family_name in taken or family_name == "swarm_custom_values_missing":
            continue
        taken.add(family_name)
        families.append(_custom_family(family_name, found, totals.last_t))
        lost = sum(s.missing for s in found)
        if lost:
            missing.add_metric([name], lost)
    if missing.samples:
        families.append(missing)
    return families


def _custom_family(family_name: str, found: list[SeriesTotals], now_t: int | None) -> Metric:
    first = found[0]
    labelled = [dict(dimension_labels(s.dims, _RESERVED_LABELS)) for s in found]
    names = sorted({k for labels in labelled for k in labels})
    values = [[labels.get(k, "") for k in names] for labels in labelled]
    doc = f"Custom {first.kind} {first.name!r}, in {first.unit}."
    if first.kind in COUNTER_KINDS:
        counter = CounterMetricFamily(family_name, doc, labels=names)
        for series, label_values in zip(found, values, strict=True):
            counter.add_metric(label_values, series.sum)
        return counter
    if first.kind in HISTOGRAM_KINDS:
        summary = Metric(
            family_name, f"{doc} Quantiles of the last {QUANTILE_WINDOW_S} s.", "summary"
        )
        for series, label_values in zip(found, values, strict=True):
            labels = dict(zip(names, label_values, strict=True))
            quantiles = series.recent_percentiles(LEVELS, now_t=now_t)
            for level, value in zip(LEVELS, quantiles, strict=True):
                if value is not None:
                    quantile = {**labels, "quantile": f"{level / 100:g}"}
                    summary.add_sample(family_name, quantile, value)
            summary.add_sample(f"{family_name}_count", labels, series.count)
            summary.add_sample(f"{family_name}_sum", labels, series.sum)
        return summary
    gauge = GaugeMetricFamily(family_name, f"{doc} The value set last.", labels=names)
    for series, label_values in zip(found, values, strict=True):
        if series.last is not None:
            gauge.add_metric(label_values, series.last)
    return gauge
