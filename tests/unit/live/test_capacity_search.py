"""The live capacity search on literal seconds: which seconds a step counts, when a budget
stops it (failing with confidence only), when the fitted USL peak stops it, and that it
runs every step when nothing fails."""

from __future__ import annotations

import numpy as np
import pytest

from framework.live.capacity_search import (
    CapacitySearch,
    judged_from_s,
    search_steps,
)
from framework.plan.rates import stepped as rate_stepped
from framework.plan.shapes import stepped
from framework.scenario.budgets import Budgets
from framework.stats.usl import usl_throughput
from framework.timeline.records import RequestSecond, Second

T0 = 1_700_000_000
P95 = Budgets.model_validate({"overall": {"p95_ms": 100}})


def _plan(steps: int = 5, step_s: float = 21):
    """Steps of 10, 20, … users, each ``step_s`` long with a 1 s ramp: plateau ``step_s − 1``."""
    return stepped(start_users=10, step_users=10, step_duration_s=step_s, steps=steps,
                   spawn_rate=100)  # fmt: skip


def _second(t: int, latencies_ms: list[float], failed: int = 0) -> Second:
    record = RequestSecond.from_latencies(
        t,
        "GET",
        "/a",
        latencies_ms,
        failures={"HTTP 500": failed} if failed else None,
        failed_ms=[1.0] * failed,
    )
    return Second(t=t, users=1, workers=1, requests=(record,))


def _run(search: CapacitySearch, latency_of, seconds: int, *, requests_of=None, offset=0.4):
    """Feed ``seconds`` closed seconds; the second ``i`` ends ``i + 1 + offset`` s into the
    plan (the run began ``offset`` s into a second). ``latency_of(users)`` gives the second's
    latencies; returns ``(index, stop)`` of the stopping second, or ``(None, None)``."""
    rng = np.random.default_rng(7)
    plan = _plan_of(search)
    for i in range(seconds):
        plan_s = i + 1 + offset
        phase = plan.phase_at(min(plan_s - 0.5, plan.duration_s - 1e-9))
        users = phase.users if phase is not None else 0
        count = requests_of(users) if requests_of else 50
        latencies = list(latency_of(users) * rng.uniform(0.9, 1.1, size=count))
        stop = search.add_second(_second(T0 + i, latencies), plan_s=plan_s)
        if stop is not None:
            return i, stop
    return None, None


_PLANS: dict[int, object] = {}


def _plan_of(search: CapacitySearch):
    return _PLANS[id(search)]


def _search(plan, budgets=P95, **options) -> CapacitySearch:
    search = CapacitySearch(plan.phases, budgets, **options)
    _PLANS[id(search)] = plan
    return search


def test_steps_are_the_plans_step_plateaus_with_their_load():
    steps = search_steps(_plan(3).phases)
    assert [(s.index, s.name, s.load, s.start_s, s.end_s) for s in steps] == [
        (1, "step 1", 10.0, 1.0, 21.0),
        (2, "step 2", 20.0, 22.0, 42.0),
        (3, "step 3", 30.0, 43.0, 63.0),
    ]
    open_plan = rate_stepped(start_rate=5, step_rate=5, step_duration_s=20, steps=2, ramp_s=2)
    assert [(s.name, s.load) for s in search_steps(open_plan.phases)] == [
        ("step 1", 5.0),
        ("step 2", 10.0),
    ]


def test_a_step_is_judged_after_half_its_plateau_and_at_least_ten_seconds():
    step_10, step_60 = search_steps(_plan(1, 11).phases)[0], search_steps(_plan(1, 61).phases)[0]
    assert judged_from_s(step_10) == 10
    assert judged_from_s(step_60) == 30


def test_stops_on_the_first_step_whose_budget_fails_with_confidence():
    search = _search(_plan())
    # 10 users: 50 ms, 20: 80 ms, 30: 200 ms — the third step fails p95 <= 100 ms
    index, stop = _run(search, lambda users: {10: 50, 20: 80, 30: 200}.get(users, 400), 200)
    assert stop is not None and stop.kind == "budget"
    assert stop.step.name == "step 3"
    assert stop.figures["metric"] == "p95_ms" and stop.figures["low"] > 100
    assert stop.reason.startswith("step 3 (30 users) failed a budget with confidence")
    # judged once half the plateau (10 s) is in: the 10th counted second of step 3
    assert index == 43 + 10 - 1
    assert search.steps_run == 3
    assert [r.step.name for r in search.completed] == ["step 1", "step 2"]
    record = search.record("2026-01-01T00:00:00Z")
    assert record == {
        "steps_run": 3,
        "stopped_at_step": "step 3",
        "reason": stop.reason,
        "stopped_at": "2026-01-01T00:00:00Z",
    }
    assert search.add_second(_second(T0 + 999, [500.0]), plan_s=60.0) is None  # stays stopped


def test_never_stops_on_a_budget_at_risk_or_pending():
    # 10 requests a second, 40–115 ms: the p95 (about 111 ms) is beyond the limit of
    # 110 ms, but its interval reaches below it (at risk) in every step
    search = _search(_plan(4))
    rng = np.random.default_rng(3)
    for i in range(84):
        latencies = list(rng.uniform(40, 115, size=10))
        assert search.add_second(_second(T0 + i, latencies), plan_s=i + 1.4) is None
    statuses = [b for r in search.completed for b in r.budgets]
    assert {b.status for b in statuses} == {"at risk"}
    assert all(b.value > 110 > b.low for b in statuses)
    # a budget on a request never sent stays pending and stops nothing
    pending = Budgets.model_validate({"requests": {"/never": {"p95_ms": 1}}})
    search = _search(_plan(4), pending)
    assert _run(search, lambda users: 500.0, 84) == (None, None)
    assert {b.status for r in search.completed for b in r.budgets} == {"pending"}


def test_a_point_estimate_beyond_the_limit_with_too_few_seconds_stops_nothing():
    # plateaus of 8 whole seconds: never enough for an interval, however slow
    search = _search(_plan(5, 10))
    assert _run(search, lambda users: 1000.0, 50) == (None, None)
    assert len(search.completed) == 5 and all(not r.budgets for r in search.completed)


def test_seconds_of_ramps_and_straddling_a_boundary_count_for_no_step():
    search = _search(_plan(2))
    _run(search, lambda users: 10.0, 45)
    (first,) = search.completed[:1]
    # step 1's plateau is [1, 21): with seconds ending at 1.4, 2.4, … the whole seconds in
    # it end at 2.4 … 20.4 (19 of them); the second ending at 21.4 straddles its end
    assert first.seconds == 19


def test_paused_seconds_are_left_out():
    search = _search(_plan(2))
    for i in range(10):
        search.add_second(_second(T0 + i, [500.0] * 50), plan_s=i + 1.4, counted=False)
    assert search.current is None and search.steps_run == 0


def _usl_latency(users: float) -> float:
    """Closed users with no think time: latency = users / throughput (Little's law)."""
    return users / float(usl_throughput(users, 100, 0.05, 0.002)) * 1000


def test_stops_once_the_fitted_peak_lies_below_the_next_load_with_confidence():
    # USL with lam 100, sigma 0.05, kappa 0.002: the peak is near 22 users
    plan = stepped(start_users=5, step_users=10, step_duration_s=21, steps=8, spawn_rate=100)
    search = _search(plan, None)
    rate = lambda users: max(1, round(float(usl_throughput(users, 100, 0.05, 0.002))))  # noqa: E731
    _index, stop = _run(search, _usl_latency, 200, requests_of=rate)
    assert stop is not None and stop.kind == "peak"
    # four steps (5, 15, 25, 35 users) complete, then the move to 45 users is refused
    assert [r.step.load for r in search.completed] == [5.0, 15.0, 25.0, 35.0]
    assert stop.step.name == "step 5" and stop.figures["load"] == 45.0
    assert stop.figures["peak_load_high"] < 45
    assert 15 < stop.figures["peak_load"] < 35
    assert "fitted USL peak" in stop.reason and "step 5's 45 users" in stop.reason
    assert search.steps_run == 4
    assert search.record(None)["stopped_at_step"] == "step 5"


def test_the_peak_is_only_fitted_once_four_steps_are_complete():
    calls = []

    def counting_fit(load, throughput, intervals, *, confidence):
        calls.append(len(load))
        raise ValueError("no fit")

    search = _search(_plan(6), None, fit=counting_fit)
    assert _run(search, lambda users: 10.0, 6 * 21) == (None, None)
    assert calls == [4, 5]  # after steps 4 and 5; step 6 is the last, nothing follows it


def test_runs_every_step_when_nothing_fails():
    search = _search(_plan(3))
    assert _run(search, lambda users: 20.0, 70) == (None, None)
    assert search.steps_run == 3 and search.stopped is None
    assert search.record("2026-01-01T00:00:00Z") == {
        "steps_run": 3,
        "stopped_at_step": None,
        "reason": (
            "ran all 3 steps: no step failed a budget with confidence and the fitted peak "
            "was not passed"
        ),
        "stopped_at": None,
    }
    assert all(
        r.throughput_low is not None and r.throughput_low <= 50 <= r.throughput_high
        for r in search.completed
    )


@pytest.mark.parametrize("failed", [25, 50])
def test_an_error_rate_budget_stops_on_failures_with_confidence(failed):
    budgets = Budgets.model_validate({"overall": {"error_rate": "5%"}})
    search = _search(_plan(3), budgets)
    for i in range(70):
        plan_s = i + 1.4
        phase = search.steps[1]
        bad = phase.start_s <= plan_s - 1 and plan_s <= phase.end_s
        second = _second(T0 + i, [10.0] * 50, failed=failed if bad else 0)
        stop = search.add_second(second, plan_s=plan_s)
        if stop is not None:
            break
    assert stop is not None and stop.step.name == "step 2"
    assert stop.figures["metric"] == "error_rate" and stop.figures["low"] > 0.05
