"""Abort guards judged on synthetic seconds: streaks, seconds without data, budgets by interval."""

from __future__ import annotations

import numpy as np
import pytest

from framework.live.abort_guard import AbortGuard
from framework.live.statistics import LiveStatistics
from framework.scenario.abort import AbortRule, guards_in_force
from framework.scenario.budgets import Budgets
from framework.timeline.records import RequestSecond, Second


def _rules(*items: dict) -> list[AbortRule]:
    return [AbortRule.model_validate(item) for item in items]


def _second(t: int, ok: int = 0, failed: int = 0, ms: float = 10.0, name: str = "/a") -> Second:
    records = ()
    if ok or failed:
        records = (
            RequestSecond.from_latencies(
                t,
                "GET",
                name,
                [ms] * ok,
                failures={"HTTP 500": failed} if failed else None,
                failed_ms=[1.0] * failed,
            ),
        )
    return Second(t=t, users=2, workers=1, requests=records)


def _measured(t: int, latencies_ms: list[float]) -> Second:
    record = RequestSecond.from_latencies(t, "GET", "/a", latencies_ms)
    return Second(t=t, users=2, requests=(record,))


def _feed(guard: AbortGuard, seconds: list[Second], stats: LiveStatistics | None = None):
    """Feed ``seconds`` in order; the index of the tripping second and the trip."""
    for i, second in enumerate(seconds):
        if stats is not None:
            stats.add_second(second)
        trip = guard.add_second(second, counted=True, statistics=stats)
        if trip is not None:
            return i, trip
    return None, None


def test_the_default_target_down_guard_is_in_force_unless_an_item_names_it():
    assert [r.text for r in guards_in_force([])] == ["target_down for 30 s"]
    assert guards_in_force(_rules({"target_down": False})) == []
    assert [r.text for r in guards_in_force(_rules({"target_down": True, "for": "5s"}))] == [
        "target_down for 5 s"
    ]


def test_target_down_trips_after_its_for_of_seconds_whose_every_request_failed():
    guard = AbortGuard(_rules({"target_down": True, "for": 10}))
    index, trip = _feed(guard, [_second(t, failed=3) for t in range(100, 130)])
    assert index == 9  # the tenth second
    assert trip.kind == "target_down"
    assert trip.figures["requests"] == 30 and trip.figures["failures"] == 30
    assert trip.figures["from_second"] == 100 and trip.second == 109
    assert "every request failed for 10 s" in trip.message


def test_one_successful_request_breaks_the_target_down_streak():
    guard = AbortGuard(_rules({"target_down": True, "for": 10}))
    seconds = [_second(t, failed=3) for t in range(9)] + [_second(9, ok=1, failed=2)]
    seconds += [_second(t, failed=3) for t in range(10, 19)]
    assert _feed(guard, seconds) == (None, None)
    index, _trip = _feed(guard, [_second(19, failed=3)])
    assert index == 0  # ten failing seconds since the break: 10..19


def test_seconds_without_requests_neither_break_nor_trip_a_streak():
    guard = AbortGuard(_rules({"error_rate": "50%", "for": 5}))
    seconds = [_second(0, failed=2), *(_second(t) for t in range(1, 8))]
    assert _feed(guard, seconds) == (None, None)  # nothing ended: no trip on empty seconds
    index, trip = _feed(guard, [_second(8, ok=1, failed=1)])
    assert index == 0
    assert trip.figures["span_s"] == 9 and trip.figures["seconds_with_requests"] == 2


def test_a_run_that_sends_nothing_is_not_called_down():
    guard = AbortGuard([])
    assert _feed(guard, [_second(t) for t in range(100)]) == (None, None)


def test_error_rate_rule_trips_at_its_limit_and_reports_the_lowest_second():
    guard = AbortGuard(_rules({"error_rate": "50%", "for": "3s"}, {"target_down": False}))
    seconds = [_second(0, ok=9, failed=1), _second(1, ok=5, failed=5)]
    seconds += [_second(2, ok=2, failed=8), _second(3, ok=4, failed=6)]
    index, trip = _feed(guard, seconds)
    assert index == 3
    assert trip.rule == "error_rate ≥ 50% for 3 s"
    assert trip.figures["lowest"] == pytest.approx(0.5)
    assert trip.figures["highest"] == pytest.approx(0.8)
    assert trip.figures["failures"] == 19 and trip.figures["requests"] == 30


def test_latency_rule_watches_only_its_request_and_ignores_seconds_without_successes():
    guard = AbortGuard(
        _rules({"p95_ms": 200, "for": 3, "request": "/slow"}, {"target_down": False})
    )
    seconds = []
    for t in range(6):
        fast = _second(t, ok=50, ms=5.0, name="/fast")
        slow = _second(t, ok=10, ms=300.0, name="/slow") if t != 2 else _second(t, failed=4)
        seconds.append(Second(t=t, users=2, requests=fast.requests + slow.requests))
    index, trip = _feed(guard, seconds)
    assert index == 3  # seconds 0, 1, (2 failed only: no latency), 3
    assert trip.figures["scope"] == "/slow"
    assert 295 <= trip.figures["lowest"] <= 305
    assert trip.message.startswith("abort guard 'p95_ms ≥ 200 ms for 3 s on /slow' tripped: /slow:")


def test_paused_seconds_are_left_out_of_a_streak():
    guard = AbortGuard(_rules({"target_down": True, "for": 3}))
    assert guard.add_second(_second(0, failed=1)) is None
    for t in range(1, 50):
        assert guard.add_second(_second(t, ok=5), counted=False) is None
    assert guard.add_second(_second(50, failed=1)) is None
    assert guard.add_second(_second(51, failed=1)) is not None


def test_a_guard_trips_once():
    guard = AbortGuard(_rules({"target_down": True, "for": 1}))
    assert guard.add_second(_second(0, failed=1)) is not None
    assert guard.add_second(_second(1, failed=1)) is None
    assert guard.tripped is not None and guard.tripped.second == 0


def _budget_guard(**settings) -> AbortGuard:
    budgets = Budgets.model_validate(
        {"tolerance": 0, "abort_on_fail": True, "abort_after": "30s", **settings}
    )
    return AbortGuard(_rules({"target_down": False}), budgets, budget_every_s=1)


def test_abort_on_fail_trips_when_the_whole_interval_is_beyond_the_limit():
    guard = _budget_guard(overall={"mean_ms": 100})
    rng = np.random.default_rng(5)
    seconds = []
    stats = LiveStatistics()
    for t in range(120):
        latencies = list(rng.normal(150, 10, 50))
        seconds.append(
            Second(
                t=t, users=2, requests=(RequestSecond.from_latencies(t, "GET", "/a", latencies),)
            )
        )
    index, trip = _feed(guard, seconds, stats)
    assert index == 29  # not before abort_after (30 counted seconds)
    assert trip.kind == "budget"
    assert trip.figures["low"] > 100
    assert "failed with confidence" in trip.message


def test_abort_on_fail_does_not_trip_on_a_point_estimate_beyond_the_limit():
    """The mean is above the limit, but the interval straddles it: no trip, ever."""
    guard = _budget_guard(overall={"mean_ms": 100})
    stats = LiveStatistics()
    rng = np.random.default_rng(5)
    seconds = []
    for t in range(200):
        # a true mean of 103 ms against a limit of 100, with few, scattered samples: the
        # point estimate is beyond the limit all along, the interval never wholly
        latencies = list(rng.normal(103, 60, 4).clip(1))
        seconds.append(
            Second(
                t=t, users=2, requests=(RequestSecond.from_latencies(t, "GET", "/a", latencies),)
            )
        )
    index, trip = _feed(guard, seconds, stats)
    estimate = stats.estimates(metrics=["mean"])["mean"]
    assert estimate.value / 1000 > 100  # the point estimate is beyond the limit
    assert estimate.low / 1000 <= 100  # … the interval is not
    assert (index, trip) == (None, None)


def test_without_abort_on_fail_budgets_never_stop_a_run():
    budgets = Budgets.model_validate({"tolerance": 0, "overall": {"mean_ms": 1}})
    guard = AbortGuard(_rules({"target_down": False}), budgets, budget_every_s=1)
    assert not guard.active
