"""What the terminal shows while a headless run goes on: figures from the feed, as text.

``ProgressView.figures(feed, now_s)`` reads one ``LiveFeed`` (the master's merged seconds
and the run's state) against the load plan and the budgets, and gives ``Progress``: where
the plan is (elapsed, phase, time left), the run's state, the load (users, workers), the
last ``recent_s`` seconds (rps, failures, p50 / p95) and the run so far (the same, with
confidence intervals once ``LiveStatistics.estimates`` gives them), the provisional
status of each budget and, for an open-model run, each open load group's arrivals: the rate
achieved against the plan's, the schedule lag p99 and the arrivals dropped (a closed-model
run shows exactly what it did before). ``progress_line`` words it as one plain line (CI logs);
``progress_table`` as the rows of the live display (a terminal). Pure: the clock comes in
as ``now_s``, so every word is tested on literals.

    >>> from framework.plan.shapes import constant
    >>> feed = LiveFeed(started_s=0.0)
    >>> _ = feed.move("running", 1.0)
    >>> view = ProgressView(constant(users=5, duration_s=60, spawn_rate=5))
    >>> progress_line(view.figures(feed, now_s=21.0))
    'swarm progress 0:20/1:00 · steady · running · waiting for the first second · 0:40 left'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from framework.live.arrivals import ArrivalFigures, GroupArrivals
from framework.live.budget_status import BudgetLimit, BudgetStatus, Status, budget_statuses
from framework.live.capacity_search import search_steps
from framework.live.feed import LiveFeed
from framework.live.state import ENDED, State
from framework.live.statistics import ALL, Snapshot
from framework.plan.load_plan import FIND_CAPACITY
from framework.plan.rates import RatePlan
from framework.plan.shapes import LoadPlan, Phase
from framework.stats.estimators import Estimate

__all__ = [
    "Interval",
    "Progress",
    "ProgressTable",
    "ProgressView",
    "clock",
    "progress_line",
    "progress_table",
    "search_words",
]

_INTERVAL_METRICS = ("p50", "p95", "throughput", "error_rate")
_STATUS_ORDER: tuple[Status, ...] = ("failing", "at risk", "passing", "pending")


@dataclass(frozen=True)
class Interval:
    """A figure of the run so far with its confidence interval, in the figure's unit
    (ms, rps, or a fraction)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Progress:
    """Everything one refresh shows; latencies in ms, rates as fractions.

    ``recent`` covers the last ``recent.seconds`` counted seconds, ``run`` every counted
    second so far; ``intervals`` holds the run so far's ``p50``, ``p95``, ``throughput``
    and ``error_rate`` with their intervals, empty until they are honest (enough seconds).
    ``users`` and ``workers`` are those of the latest second in (``None`` before it).
    ``arrivals`` holds each open load group's arrivals (empty for a closed-model run).
    ``search`` says which step a capacity search (``shape: find_capacity``) is judging.
    """

    state: State
    elapsed_s: float
    planned_s: float
    phase: Phase | None
    users: int | None
    workers: int | None
    recent: Snapshot
    run: Snapshot
    intervals: Mapping[str, Interval]
    budgets: tuple[BudgetStatus, ...]
    arrivals: tuple[GroupArrivals, ...] = ()
    search: str | None = None

    @property
    def left_s(self) -> float:
        """Planned time still to run, in whole seconds rounded up (0 once the plan has
        ended or the run stops), so elapsed and left add up to the plan."""
        if self.state == "stopping" or self.state in ENDED:
            return 0.0
        return float(math.ceil(max(0.0, self.planned_s - self.elapsed_s)))


class ProgressView:
    """Figures of one run for the terminal: its plan, its budgets' limits, the window.

    Intervals (and the budget statuses, which rest on them) cost more than point figures,
    so they are worked out again only every ``estimate_every_s`` new seconds; the point
    figures are fresh at every call. ``rates`` are the open load groups' plans
    (``open_rates(schedule)``), what their achieved arrival rates are held against.
    """

    def __init__(
        self,
        plan: LoadPlan,
        limits: Sequence[BudgetLimit] = (),
        *,
        recent_s: int = 10,
        estimate_every_s: int = 5,
        confidence: float = 0.95,
        rates: Mapping[str, RatePlan] | None = None,
    ) -> None:
        if recent_s < 1 or estimate_every_s < 1:
            raise ValueError("recent_s and estimate_every_s must be >= 1")
        self.plan = plan
        self.rates = dict(rates or {})
        self.limits = tuple(limits)
        self.recent_s = recent_s
        self.estimate_every_s = estimate_every_s
        self.confidence = confidence
        self._cached_for: tuple[int, int] | None = None  # (id of statistics, seconds)
        self._intervals: dict[str, Interval] = {}
        self._budgets: tuple[BudgetStatus, ...] = ()

    def figures(self, feed: LiveFeed, now_s: float) -> Progress:
        """The run as ``feed`` has it at unix time ``now_s``."""
        statistics = feed.statistics
        elapsed = feed.plan_elapsed_s(_plan_clock(feed, now_s))
        self._refresh_estimates(feed)
        latest = feed.latest
        phase = self.plan.phase_at(elapsed) if feed.state == "running" else None
        return Progress(
            state=feed.state,
            elapsed_s=elapsed,
            planned_s=self.plan.duration_s,
            phase=phase,
            users=None if latest is None else latest.users,
            workers=None if latest is None else latest.workers,
            recent=statistics.snapshot(ALL, window_s=self.recent_s),
            run=statistics.snapshot(ALL),
            intervals=dict(self._intervals),
            budgets=self._budgets,
            arrivals=feed.group_arrivals(self.rates, window_s=self.recent_s),
            search=self._search(feed),
        )

    def _search(self, feed: LiveFeed) -> str | None:
        """The step a capacity search judges: where the plan was at the end of the latest
        second in (seconds reach the master late with workers, so the plan's clock can be a
        step ahead of what is judged)."""
        latest = feed.latest
        if feed.state != "running" or latest is None:
            return None
        return search_words(self.plan, self.plan.phase_at(feed.plan_elapsed_s(latest.t + 1.0)))

    def _refresh_estimates(self, feed: LiveFeed) -> None:
        statistics = feed.statistics
        key = (id(statistics), statistics.seconds)
        if self._cached_for == key:
            return
        if (
            self._cached_for is not None
            and self._cached_for[0] == key[0]
            and self._intervals
            and statistics.seconds - self._cached_for[1] < self.estimate_every_s
        ):
            return  # intervals move slowly: worked out again every few seconds
        self._cached_for = key
        found = statistics.estimates(ALL, _INTERVAL_METRICS, confidence=self.confidence)
        self._intervals = {
            metric: interval
            for metric, estimate in found.items()
            if (interval := _interval(metric, estimate)) is not None
        }
        self._budgets = tuple(budget_statuses(self.limits, statistics, confidence=self.confidence))


def search_words(plan: LoadPlan, phase: Phase | None) -> str | None:
    """``"capacity search: judging step 3 of at most 20"`` while a find_capacity plan is on
    a step's plateau (``"…: ramping to step 4"`` between them); ``None`` for other plans.

    >>> from dataclasses import replace
    >>> from framework.plan.shapes import stepped
    >>> plan = stepped(start_users=5, step_users=5, step_duration_s=30, steps=4, spawn_rate=5)
    >>> search_words(replace(plan, name=FIND_CAPACITY), plan.phase_at(40))
    'capacity search: judging step 2 of at most 4 (10 users)'
    """
    if plan.name != FIND_CAPACITY or phase is None:
        return None
    steps = search_steps(plan.phases)
    step = next((s for s in steps if s.name == phase.name), None)
    if step is None:
        return f"capacity search: {phase.name.replace('ramp to', 'ramping to')}"
    load = f"{step.load:g} users" if phase.rate is None else f"{step.load:g} arrivals/s"
    return f"capacity search: judging {step.name} of at most {len(steps)} ({load})"


def _plan_clock(feed: LiveFeed, now_s: float) -> float:
    """``now_s``, held at the moment the run began to stop: the plan's clock ends there."""
    for transition in feed.run_state.history:
        if transition.state == "stopping" or transition.state in ENDED:
            return min(now_s, transition.at_s)
    return now_s


def _interval(metric: str, estimate: Estimate) -> Interval | None:
    values = (estimate.value, estimate.low, estimate.high)
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    scale = 1 / 1000 if metric in ("p50", "p95") else 1.0  # the statistics' latencies are µs
    return Interval(estimate.value * scale, estimate.low * scale, estimate.high * scale)


# --- words --------------------------------------------------------------------------------


def clock(seconds: float) -> str:
    """``75`` → ``"1:15"``; ``3725`` → ``"1:02:05"`` (whole seconds, rounded down)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _with_interval(interval: Interval | None, point: str, show: Callable[[float], str]) -> str:
    """``point`` alone, or ``"12.0 [11.2, 12.9]"`` once the interval is known."""
    if interval is None:
        return point
    return f"{show(interval.value)} [{show(interval.low)}, {show(interval.high)}]"


def _budget_words(budgets: Sequence[BudgetStatus]) -> str | None:
    """``"1 failing, 2 passing"`` in order of concern; ``None`` without budgets."""
    if not budgets:
        return None
    counts = {s: sum(b.status == s for b in budgets) for s in _STATUS_ORDER}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def _place(progress: Progress) -> str:
    where = f"{clock(progress.elapsed_s)}/{clock(progress.planned_s)}"
    return f"{where} · {progress.phase.name}" if progress.phase is not None else where


def progress_line(progress: Progress) -> str:
    """One plain line (no colours, no cursor moves) for logs: ``swarm progress 0:20/1:00 ·
    step 2 · running · users 10 · workers 2 · 98.4 rps · 1234 req · 0.00% failed · p50 12.1
    ms · p95 30.2 ms (last 10 s) · run p50 12.0 [11.2, 12.9] ms · p95 … · budgets: 2 passing
    · 0:40 left``."""
    parts = [f"swarm progress {_place(progress)}", progress.state]
    if progress.search is not None:
        parts.append(progress.search)
    if progress.run.seconds == 0:
        parts.append("waiting for the first second")
    else:
        recent, run, intervals = progress.recent, progress.run, progress.intervals
        parts += [
            f"users {_count(progress.users)}",
            f"workers {_count(progress.workers)}",
            f"{recent.rps:.1f} rps",
            f"{run.count} req",
            f"{_percent(recent.error_rate)} failed",
            f"p50 {_ms(recent.p50_ms)} ms",
            f"p95 {_ms(recent.p95_ms)} ms (last {recent.seconds} s)",
            f"run p50 {_with_interval(intervals.get('p50'), _ms(run.p50_ms), _ms)} ms",
            f"p95 {_with_interval(intervals.get('p95'), _ms(run.p95_ms), _ms)} ms",
        ]
        parts += [_arrival_words(g) for g in progress.arrivals]
        budgets = _budget_words(progress.budgets)
        if budgets:
            parts.append(f"budgets: {budgets}")
    parts.append(f"{clock(progress.left_s)} left")
    return " · ".join(parts)


def _arrival_words(group: GroupArrivals) -> str:
    """``"writers 48.2/50.0 arr/s, lag p99 3.10 ms, 2 dropped"``: the last seconds' achieved
    arrival rate over the plan's, their lag p99, and the run so far's drops."""
    recent, run = group.recent, group.run
    return (
        f"{group.group} {_arrival_rates(group)} arr/s, lag p99 {_ms(recent.lag_p99_ms)} ms, "
        f"{run.dropped} dropped"
    )


def _arrival_rates(group: GroupArrivals) -> str:
    achieved = f"{group.recent.rate:.1f}"
    return achieved if group.planned_rate is None else f"{achieved}/{group.planned_rate:.1f}"


def _dropped(figures: ArrivalFigures) -> str:
    """``"2 (0.40%)"``; ``"0"`` when nothing was due or dropped."""
    share = figures.dropped_fraction
    return (
        str(figures.dropped)
        if not figures.dropped or share is None
        else (f"{figures.dropped} ({_percent(share)})")
    )


def _count(value: int | None) -> str:
    return "–" if value is None else str(value)


@dataclass(frozen=True)
class ProgressTable:
    """The live display's text: a title, ``rows`` of (figure, last N s, run so far), and
    one line per budget."""

    title: str
    columns: tuple[str, str, str]
    rows: tuple[tuple[str, str, str], ...]
    budgets: tuple[tuple[Status, str], ...]
    fraction_done: float


def progress_table(progress: Progress, *, scenario: str | None = None) -> ProgressTable:
    """The live display of ``progress`` (see ``ProgressTable``)."""
    recent, run, intervals = progress.recent, progress.run, progress.intervals
    head = [f"swarm · {scenario}" if scenario else "swarm", _place(progress), progress.state]
    if progress.search is not None:
        head.append(progress.search)
    head.append(f"{clock(progress.left_s)} left")
    rows: list[tuple[str, str, str]] = [
        ("users · workers", f"{_count(progress.users)} · {_count(progress.workers)}", ""),
    ]
    if run.seconds:
        rps_run = _with_interval(intervals.get("throughput"), f"{run.rps:.1f}", _rate)
        failed_run = _with_interval(intervals.get("error_rate"), _percent(run.error_rate), _percent)
        rows += [
            ("requests", str(recent.count), str(run.count)),
            ("rps", f"{recent.rps:.1f}", rps_run),
            ("failed", _percent(recent.error_rate), failed_run),
            (
                "p50 ms",
                _ms(recent.p50_ms),
                _with_interval(intervals.get("p50"), _ms(run.p50_ms), _ms),
            ),
            (
                "p95 ms",
                _ms(recent.p95_ms),
                _with_interval(intervals.get("p95"), _ms(run.p95_ms), _ms),
            ),
        ]
        for group in progress.arrivals:
            recent, run_arrivals = group.recent, group.run
            rows += [
                (
                    f"{group.group} arrivals/s (achieved/planned)",
                    _arrival_rates(group),
                    f"{run_arrivals.rate:.1f}",
                ),
                (
                    f"{group.group} lag p99 ms",
                    _ms(recent.lag_p99_ms),
                    _ms(run_arrivals.lag_p99_ms),
                ),
                (f"{group.group} dropped", _dropped(recent), _dropped(run_arrivals)),
            ]
    else:
        rows.append(("requests", "waiting for the first second", ""))
    budgets = tuple(
        sorted(
            ((b.status, b.text) for b in progress.budgets),
            key=lambda item: _STATUS_ORDER.index(item[0]),
        )
    )
    done = progress.elapsed_s / progress.planned_s if progress.planned_s > 0 else 1.0
    return ProgressTable(
        title=" · ".join(head),
        columns=("", f"last {recent.seconds} s", f"run so far ({run.seconds} s)")
        if run.seconds
        else ("", "", ""),
        rows=tuple(rows),
        budgets=budgets,
        fraction_done=min(1.0, max(0.0, done)),
    )


def _rate(value: float) -> str:
    return f"{value:.1f}"
