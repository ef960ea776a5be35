"""The live stage: the run's state machine, the feed's hooks and the running statistics."""

from __future__ import annotations

import numpy as np
import pytest

from framework.live.feed import LiveFeed
from framework.live.hooks import Hook
from framework.live.state import IllegalTransition, RunState
from framework.live.statistics import ALL, LiveStatistics
from framework.timeline.records import RequestSecond, Second


def _second(t: int, latencies: dict[str, list[float]], failures: int = 0) -> Second:
    records = tuple(
        RequestSecond.from_latencies(
            t,
            "GET",
            name,
            values,
            failures={"HTTP 500": failures} if failures else None,
            failed_ms=[1.0] * failures,
        )
        for name, values in latencies.items()
    )
    return Second(t=t, users=5, workers=1, requests=records)


def test_state_machine_walks_the_documented_path_with_timestamps():
    state = RunState.starting(10.0)
    for step, at in (("running", 11), ("paused", 12), ("running", 15), ("stopping", 20)):
        state.move(step, at)
    state.move("finished", 21, "plan ended")
    assert [t.state for t in state.history] == [
        "starting",
        "running",
        "paused",
        "running",
        "stopping",
        "finished",
    ]
    assert state.history[-1].reason == "plan ended"
    assert state.seconds_in("paused", 30.0) == 3.0
    assert state.ended


@pytest.mark.parametrize(
    ("path", "refused", "words"),
    [
        (["running"], "running", "already running"),
        ([], "running_again", "unknown state"),
        (["running"], "finished", "from running"),
        (["running", "stopping", "finished"], "paused", r"already ended \(finished\)"),
        (["running", "stopping", "finished"], "running", "cannot resume"),
        ([], "paused", "cannot pause a run that is starting"),
    ],
)
def test_illegal_transitions_are_refused_with_the_reason(path, refused, words):
    state = RunState.starting(0.0)
    for i, step in enumerate(path):
        state.move(step, float(i + 1))
    before = list(state.history)
    with pytest.raises(IllegalTransition, match=words):
        state.move(refused, 99.0)
    assert state.history == before


def test_a_failing_listener_is_logged_and_the_others_still_hear(caplog):
    hook = Hook("second_closed")
    heard = []
    hook.add_listener(lambda **_kw: 1 / 0)
    hook.add_listener(lambda *, n, **_kw: heard.append(n))
    hook.fire(n=3)
    assert heard == [3]
    assert "ZeroDivisionError" in caplog.text


def test_pausing_freezes_the_plan_clock_and_paused_seconds_are_not_counted():
    feed = LiveFeed(started_s=0.0)
    changes = []
    feed.state_changed.add_listener(
        lambda *, state, previous, **_kw: changes.append((previous, state))
    )
    feed.move("running", 10.0)
    feed.add_second(_second(10, {"/a": [5.0] * 10}))
    feed.move("paused", 11.0)
    feed.add_second(_second(11, {"/a": [500.0] * 10}))
    assert feed.plan_elapsed_s(16.0) == 1.0
    feed.move("running", 16.0)
    assert feed.plan_elapsed_s(20.0) == 5.0
    assert feed.statistics.snapshot().count == 10
    assert feed.statistics.snapshot().p99_ms == pytest.approx(5.0, rel=1e-3)
    assert changes == [("starting", "running"), ("running", "paused"), ("paused", "running")]


def test_run_finished_fires_once_and_start_run_begins_afresh():
    feed = LiveFeed(started_s=0.0)
    ended, started = [], []
    feed.run_finished.add_listener(lambda *, state, **_kw: ended.append(state))
    feed.run_started.add_listener(lambda *, run_id, **_kw: started.append(run_id))
    feed.move("running", 1.0)
    feed.add_second(_second(1, {"/a": [1.0]}))
    feed.move("stopping", 2.0)
    feed.move("finished", 3.0)
    feed.start_run(4.0, run_id="second")
    assert ended == ["finished"] and started == ["second"]
    assert feed.state == "starting" and feed.statistics.snapshot().count == 0


def test_snapshot_equals_the_merged_histograms_per_name_and_overall():
    rng = np.random.default_rng(1)
    stats = LiveStatistics(recent_s=5)
    every = {"/a": [], "/b": []}
    for t in range(40):
        lat = {name: list(rng.lognormal(3, 0.5, 50)) for name in every}
        for name, values in lat.items():
            every[name].extend(values)
        stats.add_second(_second(t, lat, failures=2))
    a = stats.snapshot("GET /a")
    assert a.count == 40 * 52 and a.failures == 80 and a.seconds == 40
    assert a.rps == pytest.approx(52.0)
    assert a.p95_ms == pytest.approx(np.percentile(every["/a"], 95), rel=0.01)
    overall = stats.snapshot(ALL)
    both = every["/a"] + every["/b"]
    assert overall.count == 2 * 40 * 52
    assert overall.mean_ms == pytest.approx(np.mean(both), rel=1e-6)
    assert stats.snapshot("GET /a", window_s=5).count == 5 * 52
    assert stats.keys() == ["GET /a", "GET /b"]


def test_estimates_wait_for_enough_seconds_then_bracket_the_truth():
    rng = np.random.default_rng(2)
    stats = LiveStatistics()
    for t in range(10):
        stats.add_second(_second(t, {"/a": list(rng.normal(100, 10, 100))}))
    assert stats.estimates("GET /a") == {}
    for t in range(10, 120):
        stats.add_second(_second(t, {"/a": list(rng.normal(100, 10, 100))}))
    found = stats.estimates("GET /a", ["mean", "p50", "throughput"])
    assert found["mean"].low < 100_000 < found["mean"].high  # µs, as framework.stats gives
    assert found["throughput"].value == pytest.approx(100.0)


def test_a_long_run_is_kept_in_bounded_rows_with_the_same_totals():
    stats = LiveStatistics(max_rows=20)
    for t in range(101):
        stats.add_second(_second(t, {"/a": [float(1 + t % 7)] * 3}))
    series = stats._series["GET /a"]
    assert len(series.rows) <= 20 and series.row_s > 1
    rows_total = sum(r.counters[0] for r in series.rows)
    assert rows_total == stats.snapshot("GET /a").count == 303
    assert stats.estimates("GET /a", ["throughput"])["throughput"].value == pytest.approx(3.0)


def test_a_name_that_appears_late_counts_the_seconds_before_it():
    stats = LiveStatistics()
    for t in range(10):
        stats.add_second(_second(t, {"/a": [1.0]}))
    stats.add_second(_second(10, {"/a": [1.0], "/late": [2.0, 2.0]}))
    late = stats.snapshot("GET /late")
    assert late.seconds == 11 and late.rps == pytest.approx(2 / 11)


def test_budget_status_fails_only_when_the_whole_interval_is_beyond_the_limit():
    from framework.live.budget_status import budget_limits, budget_statuses
    from framework.scenario.budgets import Budgets

    budgets = Budgets.model_validate(
        {
            "tolerance": 0,
            "overall": {"p95_ms": 50, "min_throughput": 10},
            "requests": {"/a": {"mean_ms": 200}, "/never": {"p95_ms": 1}},
        }
    )
    limits = budget_limits(budgets)
    stats = LiveStatistics()
    rng = np.random.default_rng(3)
    stats.add_second(_second(0, {"/a": list(rng.normal(100, 5, 100))}))
    early = {(s.limit.scope, s.limit.metric): s.status for s in budget_statuses(limits, stats)}
    assert early[("overall", "p95_ms")] == "at risk"  # one second: no honest interval yet
    assert early[("/never", "p95_ms")] == "pending"
    for t in range(1, 60):
        stats.add_second(_second(t, {"/a": list(rng.normal(100, 5, 100))}))
    found = {(s.limit.scope, s.limit.metric): s for s in budget_statuses(limits, stats)}
    assert found[("overall", "p95_ms")].status == "failing"  # p95 ≈ 108 ms, limit 50
    assert found[("overall", "p95_ms")].low > 50
    assert found[("overall", "min_throughput")].status == "passing"
    assert found[("/a", "mean_ms")].status == "passing"
    assert "overall p95_ms" in found[("overall", "p95_ms")].text


def test_the_plan_clock_stops_where_the_run_began_stopping():
    feed = LiveFeed(started_s=0.0)
    feed.move("running", 10.0)
    feed.move("paused", 12.0)
    feed.move("running", 15.0)
    feed.move("stopping", 20.0, "abort guard")
    feed.move("aborted", 21.0, "abort guard")
    assert feed.plan_elapsed_s(20.0) == feed.plan_elapsed_s(99.0) == 7.0
