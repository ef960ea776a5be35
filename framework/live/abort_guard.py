"""Abort guards, judged on the merged timeline one closed second at a time.

Pure: closed seconds in (the ones the ``LiveFeed`` counts), at most one ``AbortTrip`` out,
with the rule and the figures that tripped it. The Locust glue listens to the feed's
``second_closed``, hands each second here, and stops the run on a trip; nothing here reads
a clock or Locust.

How a rule with ``for: N s`` is judged (the scenario's ``abort:`` list, and the default
``target_down`` guard):

- each counted second either **holds** (it has requests in the rule's scope and the
  figure reaches the limit), **breaks** (it has such requests and the figure is below the
  limit) or has **no data** (no request ended in it, or — for a latency rule — none
  succeeded);
- a streak begins at a second that holds; a second that breaks ends it; a second with no
  data neither breaks nor extends it by itself, and cannot trip it;
- the rule trips on a second that holds once the streak spans N counted seconds (its
  first to this one). A target whose users wait out a long timeout (a hang) therefore
  trips once two failing seconds N s apart came with nothing in between; quiet seconds of
  a slow-paced run never count as failures;
- paused seconds (``counted=False``) are left out entirely, as from every statistic.

``target_down`` holds in a second whose every request failed (a connection refused is a
failure too, counted at once). A second in which nothing ended is *no data*, not "down":
users that think for a minute between requests would otherwise look like a dead target.

Budgets with ``abort_on_fail`` are judged every ``budget_every_s`` counted seconds once
``abort_after`` of counted running time has passed, with ``budget_status``: a budget trips
only when it is ``failing`` — its whole confidence interval beyond the limit, never on a
point estimate.

    >>> from framework.scenario.abort import AbortRule
    >>> from framework.timeline.records import RequestSecond, Second
    >>> guard = AbortGuard([AbortRule.model_validate({"target_down": True, "for": 2})])
    >>> down = lambda t: Second(t=t, requests=(RequestSecond(
    ...     t=t, method="GET", name="/x", count=3, failures={"ConnectionRefusedError": 3}),))
    >>> guard.add_second(down(100), counted=True) is None
    True
    >>> guard.add_second(down(101), counted=True).rule
    'target_down for 2 s'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from framework.live.budget_status import BudgetLimit, BudgetStatus, budget_limits, budget_statuses
from framework.live.statistics import LiveStatistics
from framework.scenario.abort import AbortRule, guards_in_force
from framework.scenario.budgets import Budgets
from framework.timeline.codec import sum_blobs
from framework.timeline.endpoints import is_aggregate, selects
from framework.timeline.histograms import percentiles_us
from framework.timeline.records import RequestSecond, Second

__all__ = ["AbortGuard", "AbortTrip", "Kind"]

Kind = Literal["rule", "target_down", "budget"]

_LEVEL = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}


@dataclass(frozen=True)
class AbortTrip:
    """A guard that tripped: which (``rule``, as the scenario says it), why (``message``,
    for a person) and the figures, in JSON-ready form (fractions, ms, counts).

    ``second`` is the timeline second (unix s) that tripped it and ``elapsed_s`` the
    counted seconds of the run up to and including it.
    """

    rule: str
    kind: Kind
    message: str
    figures: dict[str, Any]
    second: int
    elapsed_s: int

    def to_record(self) -> dict[str, Any]:
        """The ``abort`` block of run.json (and of the ``abort`` announcement)."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "message": self.message,
            "figures": dict(self.figures),
            "second": self.second,
            "elapsed_s": self.elapsed_s,
        }


@dataclass
class _Streak:
    """The seconds since a rule's condition began to hold without a break."""

    first_index: int
    first_t: int
    seconds: int = 0  # seconds with data in the streak (all of them held)
    requests: int = 0
    failures: int = 0
    low: float | None = None
    high: float | None = None

    def add(self, requests: int, failures: int, value: float) -> None:
        self.seconds += 1
        self.requests += requests
        self.failures += failures
        self.low = value if self.low is None else min(self.low, value)
        self.high = value if self.high is None else max(self.high, value)


@dataclass
class _Judged:
    rule: AbortRule
    streak: _Streak | None = None


class AbortGuard:
    """The guards of one run: the scenario's ``abort:`` rules (plus the default
    ``target_down`` unless it names it) and, with ``abort_on_fail``, its budgets.

    Feed it every closed second in order; ``add_second`` returns the trip on the second a
    guard trips, and ``None`` before and after (``tripped`` keeps it). A new run in the same
    process needs a new guard.
    """

    def __init__(
        self,
        rules: Sequence[AbortRule],
        budgets: Budgets | None = None,
        *,
        budget_every_s: int = 5,
        confidence: float = 0.95,
    ) -> None:
        self.rules = guards_in_force(rules)
        self._judged = [_Judged(rule) for rule in self.rules]
        on_fail = budgets is not None and budgets.abort_on_fail
        self.budget_limits: list[BudgetLimit] = budget_limits(budgets) if on_fail else []
        self.abort_after_s = budgets.abort_after if budgets is not None and on_fail else 0.0
        self.budget_every_s = max(1, budget_every_s)
        self.confidence = confidence
        self.seconds = 0
        self.tripped: AbortTrip | None = None

    def __repr__(self) -> str:
        rules = [r.text for r in self.rules]
        budgets = len(self.budget_limits)
        return f"AbortGuard(rules={rules}, budgets={budgets}, seconds={self.seconds})"

    @property
    def active(self) -> bool:
        """Whether any guard is there to judge (none: the listener can stay away)."""
        return bool(self.rules or self.budget_limits)

    def add_second(
        self,
        second: Second,
        *,
        counted: bool = True,
        statistics: LiveStatistics | None = None,
    ) -> AbortTrip | None:
        """Judge one closed second; the trip if a guard trips on it. ``statistics`` (the
        feed's, with this second already in) is needed for the budgets only."""
        if self.tripped is not None or not counted:
            return None
        self.seconds += 1
        for judged in self._judged:
            trip = self._judge(judged, second)
            if trip is not None:
                self.tripped = trip
                return trip
        if statistics is not None and self._budgets_due():
            trip = self._judge_budgets(second, statistics)
            if trip is not None:
                self.tripped = trip
                return trip
        return None

    # -- rules ------------------------------------------------------------------------------

    def _judge(self, judged: _Judged, second: Second) -> AbortTrip | None:
        rule = judged.rule
        figure = _figure(rule, _selected(second.requests, rule.request))
        if figure is None:
            return None  # no data: neither breaks nor extends the streak
        requests, failures, value = figure
        limit = 1.0 if rule.condition == "target_down" else rule.limit
        assert limit is not None
        if value < limit:
            judged.streak = None
            return None
        if judged.streak is None:
            judged.streak = _Streak(self.seconds, second.t)
        streak = judged.streak
        streak.add(requests, failures, value)
        span = self.seconds - streak.first_index + 1
        if span < rule.seconds:
            return None
        return self._trip(rule, streak, span, second)

    def _trip(self, rule: AbortRule, streak: _Streak, span: int, second: Second) -> AbortTrip:
        figures: dict[str, Any] = {
            "metric": rule.condition,
            "limit": rule.limit,
            "scope": rule.request or "overall",
            "for_s": rule.seconds,
            "span_s": span,
            "seconds_with_requests": streak.seconds,
            "from_second": streak.first_t,
            "to_second": second.t,
            "requests": streak.requests,
            "failures": streak.failures,
        }
        failed = f"{streak.failures} of {streak.requests} requests failed"
        if rule.condition == "target_down":
            kind: Kind = "target_down"
            message = f"every request failed for {span} s ({failed}): the target looks down"
        elif rule.condition == "error_rate":
            kind = "rule"
            figures.update(lowest=streak.low, highest=streak.high)
            message = (
                f"the error rate was at or above {_pct(rule.limit)} in every second with "
                f"requests for {span} s (lowest {_pct(streak.low)}; {failed})"
            )
        else:
            kind = "rule"
            figures.update(lowest=streak.low, highest=streak.high)
            message = (
                f"{rule.condition.removesuffix('_ms')} was at or above {rule.limit:g} ms in "
                f"every second with successful requests for {span} s (lowest "
                f"{_ms(streak.low)}, highest {_ms(streak.high)})"
            )
        if rule.request:
            message = f"{rule.request}: {message}"
        return AbortTrip(
            rule=rule.text,
            kind=kind,
            message=f"abort guard '{rule.text}' tripped: {message}",
            figures=figures,
            second=second.t,
            elapsed_s=self.seconds,
        )

    # -- budgets ----------------------------------------------------------------------------

    def _budgets_due(self) -> bool:
        if not self.budget_limits or self.seconds < self.abort_after_s:
            return False
        return self.seconds % self.budget_every_s == 0

    def _judge_budgets(self, second: Second, statistics: LiveStatistics) -> AbortTrip | None:
        statuses = budget_statuses(self.budget_limits, statistics, confidence=self.confidence)
        failing = next((s for s in statuses if s.status == "failing"), None)
        return None if failing is None else self._budget_trip(failing, second)

    def _budget_trip(self, status: BudgetStatus, second: Second) -> AbortTrip:
        limit = status.limit
        rule = f"budgets.abort_on_fail: {limit.scope} {limit.metric}"
        figures = {
            "metric": limit.metric,
            "scope": limit.scope,
            "budget": limit.budget,
            "limit": limit.limit,
            "kind": limit.kind,
            "unit": limit.unit,
            "value": status.value,
            "low": status.low,
            "high": status.high,
            "confidence": self.confidence,
            "seconds": self.seconds,
        }
        side = "above" if limit.kind == "upper" else "below"
        message = (
            f"budget failed with confidence after {self.seconds} s, the whole "
            f"{self.confidence:.0%} interval {side} the limit: {status.text}"
        )
        return AbortTrip(
            rule=rule,
            kind="budget",
            message=f"abort guard '{rule}' tripped: {message}",
            figures=figures,
            second=second.t,
            elapsed_s=self.seconds,
        )


def _selected(records: Iterable[RequestSecond], request: str | None) -> list[RequestSecond]:
    if request is None:
        return [r for r in records if not is_aggregate((r.method, r.name))]
    return [r for r in records if selects(request, r.method, r.name)]


def _figure(rule: AbortRule, records: list[RequestSecond]) -> tuple[int, int, float] | None:
    """``(requests, failures, value)`` of one second for ``rule``, or ``None`` (no data).

    ``value`` is in the rule's unit: a fraction (``target_down`` and ``error_rate``: the
    share that failed) or ms (latencies, of successful requests only).
    """
    requests = sum(r.count for r in records)
    failures = sum(r.failure_count for r in records)
    if requests == 0:
        return None
    if rule.condition in ("target_down", "error_rate"):
        return requests, failures, failures / requests
    latency_count = sum(r.latency_count for r in records)
    if latency_count == 0:
        return None  # nothing succeeded: no latency to judge (target_down's business)
    if rule.condition == "mean_ms":
        return requests, failures, sum(r.sum_us for r in records) / latency_count / 1000
    blobs = [b for r in records for b in r.hist_blobs if b]
    (value,) = percentiles_us(sum_blobs(blobs), [_LEVEL[rule.condition]])
    return None if value is None else (requests, failures, value / 1000)


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction * 100:.4g}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g} ms"
