"""Open-model arrivals in the live feed: per group figures, late arrivals, the plan's rate."""

from __future__ import annotations

import pytest

from framework.live.arrivals import ArrivalStatistics, planned_rate
from framework.live.feed import LiveFeed
from framework.plan import rates
from framework.timeline.records import ArrivalSecond, Second

T0 = 1_700_000_000


def _arr(t: int, lags_ms: list[float], dropped: int = 0, group: str = "writers", peak: int = 0):
    return ArrivalSecond.from_lags(t, group, lags_ms, dropped=dropped, in_flight_max=peak)


def test_run_so_far_and_recent_window_add_up_due_started_dropped_and_lag_percentiles():
    stats = ArrivalStatistics(recent_s=3)
    for i in range(5):  # 10 started a second with lags 1..10 ms, 1 dropped every second
        lags = [float(n) for n in range(1, 11)]
        stats.add_second(Second(t=T0 + i, arrivals=(_arr(T0 + i, lags, dropped=1, peak=i),)))
    run = stats.figures("writers")
    assert (run.seconds, run.due, run.started, run.dropped) == (5, 55, 50, 5)
    assert run.rate == 10.0 and run.due_rate == 11.0
    assert run.dropped_fraction == pytest.approx(5 / 55)
    assert run.lag_p50_ms == pytest.approx(5.0, abs=0.01)
    assert run.lag_p99_ms == pytest.approx(10.0, abs=0.01)
    assert run.in_flight_max == 4
    recent = stats.figures("writers", window_s=2)
    assert (recent.seconds, recent.due, recent.started, recent.in_flight_max) == (2, 22, 20, 4)
    assert stats.figures("writers", window_s=10).seconds == 3  # at most recent_s


def test_a_paused_second_counts_no_arrival_but_its_in_flight_is_the_latest():
    stats = ArrivalStatistics()
    stats.add_second(Second(t=T0, arrivals=(_arr(T0, [1.0]),), active={"writers": 3}))
    paused = Second(t=T0 + 1, arrivals=(_arr(T0 + 1, [1.0, 2.0]),), active={"writers": 0})
    stats.add_second(paused, counted=False)
    run = stats.figures("writers")
    assert (run.seconds, run.started, run.in_flight) == (1, 1, 0)


def test_late_arrivals_go_into_their_recent_second_and_the_run_so_far():
    stats = ArrivalStatistics(recent_s=2)
    for i in range(3):
        stats.add_second(Second(t=T0 + i, arrivals=(_arr(T0 + i, [1.0]),)))
    stats.add_late(_arr(T0 + 2, [900.0, 900.0]))  # recent: into its own second's row
    stats.add_late(_arr(T0, [2.0], dropped=3))  # too old for the window: the run only
    recent = stats.figures("writers", window_s=1)
    assert (recent.started, recent.dropped) == (3, 0)
    assert recent.lag_p99_ms == pytest.approx(900.0, rel=0.001)
    run = stats.figures("writers")
    assert (run.started, run.dropped, run.due) == (6, 3, 9)


def test_a_group_that_appears_later_counts_the_seconds_before_it_as_time():
    stats = ArrivalStatistics(recent_s=10)
    stats.add_second(Second(t=T0))
    stats.add_second(Second(t=T0 + 1, arrivals=(_arr(T0 + 1, [1.0] * 4),)))
    assert stats.figures("writers").rate == 2.0
    assert stats.figures("writers", window_s=10).rate == 2.0
    assert stats.figures("nobody").started == 0 and stats.groups() == ["writers"]


def test_planned_rate_is_the_plans_mean_over_the_window_counting_time_outside_it_as_idle():
    plan = rates.stages(stages=[(10, 20.0, 0), (10, 40.0, 0)])
    assert planned_rate(plan, end_s=20.0, seconds=20) == 30.0
    assert planned_rate(plan, end_s=3.0, seconds=10) == 6.0  # 3 s of it before the start
    assert planned_rate(plan, end_s=0.0, seconds=10) is None
    assert planned_rate(plan, end_s=25.0, seconds=5) == 0.0  # past its end


def test_feed_shows_each_open_group_against_its_plan_and_adds_late_arrivals_once_unpaused():
    feed = LiveFeed(started_s=T0 - 1.0)
    feed.move("running", float(T0))
    late_seen = []
    feed.arrival_late.add_listener(lambda *, arrival, counted, **_: late_seen.append(counted))
    for i in range(4):
        feed.add_second(Second(t=T0 + i, arrivals=(_arr(T0 + i, [1.0] * 45, dropped=5),)))
    feed.move("paused", T0 + 4.2)
    feed.add_second(Second(t=T0 + 4, arrivals=(_arr(T0 + 4, [1.0] * 7),)))
    feed.add_late_arrivals([_arr(T0 + 4, [1.0] * 9), _arr(T0 + 3, [1.0] * 2)])
    assert late_seen == [False, True]  # the paused second's late arrivals count nowhere
    plan = rates.constant(rate=50, duration_s=60)
    (writers,) = feed.group_arrivals({"writers": plan}, window_s=10)
    assert (writers.group, writers.planned_rate) == ("writers", 50.0)
    assert (writers.run.started, writers.run.dropped) == (182, 20)
    assert writers.recent.rate == pytest.approx(182 / 4)
    assert writers.behind  # 45.5/s of 50/s


def test_a_closed_run_has_no_arrival_groups():
    feed = LiveFeed(started_s=0.0)
    feed.add_second(Second(t=T0, users=3, active={"scenario": 3}))
    assert feed.group_arrivals({}) == ()
