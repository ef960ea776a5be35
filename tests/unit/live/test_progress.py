"""The words of the terminal progress, from a feed, a plan and budgets (no process, no clock)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from framework.live.budget_status import budget_limits
from framework.live.feed import LiveFeed
from framework.live.progress import (
    ProgressView,
    clock,
    progress_line,
    progress_table,
)
from framework.plan.shapes import constant, stepped
from framework.scenario.budgets import Budgets
from framework.timeline.records import RequestSecond, Second

START = 1_700_000_000.0
T0 = 1_700_000_001


def _second(t: int, n: int = 50, failed: int = 0, *, seed: int = 0) -> Second:
    rng = np.random.default_rng(seed + t)
    ok = list(rng.uniform(8.0, 12.0, n - failed))
    record = RequestSecond.from_latencies(
        t,
        "GET",
        "/x",
        ok,
        failures={"HTTP 500": failed} if failed else None,
        failed_ms=[1.0] * failed,
    )
    return Second(t=t, users=5, workers=2, requests=(record,))


def _feed(seconds: int, *, n: int = 50, failed: int = 0) -> LiveFeed:
    feed = LiveFeed(started_s=START)
    feed.move("running", START + 0.5)
    for i in range(seconds):
        feed.add_second(_second(T0 + i, n, failed))
    return feed


def _plan():
    return stepped(start_users=5, step_users=5, step_duration_s=30, steps=2, spawn_rate=5)


def test_line_names_the_plan_position_phase_state_and_time_left():
    feed = _feed(0)
    line = progress_line(ProgressView(_plan()).figures(feed, now_s=START + 20.5))
    assert line.startswith("swarm progress 0:20/1:00 · step 1 · running")
    assert line.endswith("0:40 left")
    later = progress_line(ProgressView(_plan()).figures(feed, now_s=START + 30.7))
    assert "0:30/1:00 · ramp to step 2 · running" in later


def test_line_shows_load_throughput_failures_and_recent_percentiles():
    feed = _feed(15, n=50, failed=5)
    line = progress_line(
        ProgressView(constant(users=5, spawn_rate=5, duration_s=60)).figures(feed, now_s=START + 16)
    )
    assert "users 5 · workers 2" in line
    assert "50.0 rps" in line  # the last 10 s: 500 requests
    assert "750 req" in line  # the run so far
    assert "10.00% failed" in line
    p50 = float(re.search(r"· p50 ([\d.]+) ms", line).group(1))
    p95 = float(re.search(r"· p95 ([\d.]+) ms \(last 10 s\)", line).group(1))
    assert 9.0 < p50 < 11.0 and 11.0 < p95 < 12.2


def test_intervals_appear_only_once_enough_seconds_are_in():
    view = ProgressView(constant(users=5, spawn_rate=5, duration_s=120))
    early = progress_line(view.figures(_feed(10), now_s=START + 11))
    assert "run p50" in early and "[" not in early
    late = progress_line(view.figures(_feed(40), now_s=START + 41))
    found = re.search(r"run p50 ([\d.]+) \[([\d.]+), ([\d.]+)\] ms", late)
    assert found is not None, late
    value, low, high = map(float, found.groups())
    assert low <= value <= high
    assert re.search(r"· p95 [\d.]+ \[[\d.]+, [\d.]+\] ms", late)


@pytest.mark.parametrize(
    ("where", "word"), [("far above", "passing"), ("below", "failing"), ("at", "at risk")]
)
def test_budget_status_words_follow_the_interval(where, word):
    feed = _feed(40)
    p95 = feed.statistics.estimates(metrics=["p95"])["p95"]
    assert p95.low < p95.value < p95.high
    limit_ms = {"far above": 100.0, "below": p95.low / 2000, "at": p95.value / 1000}[where]
    limits = budget_limits(
        Budgets.model_validate({"overall": {"p95_ms": limit_ms}, "tolerance": 0})
    )
    view = ProgressView(constant(users=5, spawn_rate=5, duration_s=120), limits)
    line = progress_line(view.figures(feed, now_s=START + 41))
    assert f"budgets: 1 {word} ·" in line


def test_budgets_are_at_risk_before_the_interval_is_honest():
    limits = budget_limits(Budgets.model_validate({"overall": {"p95_ms": 1000}}))
    view = ProgressView(constant(users=5, spawn_rate=5, duration_s=120), limits)
    assert "budgets: 1 at risk" in progress_line(view.figures(_feed(5), now_s=START + 6))
    assert "budgets: 1 passing" in progress_line(view.figures(_feed(40), now_s=START + 41))


def test_time_left_stops_at_the_stop_and_the_clock_holds():
    feed = _feed(5)
    feed.move("stopping", START + 20.2)
    line = progress_line(
        ProgressView(constant(users=5, spawn_rate=5, duration_s=60)).figures(feed, now_s=START + 45)
    )
    assert line.startswith("swarm progress 0:19/1:00 · stopping")
    assert line.endswith("0:00 left")


def test_before_the_first_second_the_line_says_it_waits():
    feed = LiveFeed(started_s=START)
    line = progress_line(ProgressView(_plan()).figures(feed, now_s=START + 2))
    assert line == "swarm progress 0:00/1:00 · starting · waiting for the first second · 1:00 left"


def test_paused_seconds_are_left_out_of_the_figures():
    feed = LiveFeed(started_s=START)
    feed.move("running", START)
    feed.move("paused", T0 + 2)  # from the middle of second T0+2 on
    feed.move("running", T0 + 4)
    for i in range(6):
        feed.add_second(_second(T0 + i, n=10))
    assert feed.statistics.seconds == 4  # T0+2 and T0+3 were paused
    assert feed.statistics.snapshot().count == 40


def test_table_has_recent_and_run_columns_and_one_line_per_budget():
    limits = budget_limits(Budgets.model_validate({"overall": {"p95_ms": 100, "error_rate": "1%"}}))
    view = ProgressView(constant(users=5, spawn_rate=5, duration_s=120), limits)
    table = progress_table(view.figures(_feed(40, failed=5), now_s=START + 41), scenario="demo")
    assert table.title == "swarm · demo · 0:40/2:00 · steady · running · 1:20 left"
    assert table.columns == ("", "last 10 s", "run so far (40 s)")
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["users · workers"][0] == "5 · 2"
    assert rows["rps"][0] == "50.0" and rows["rps"][1].startswith("50.0 [")
    assert rows["failed"][0] == "10.00%"
    assert [status for status, _text in table.budgets] == ["failing", "passing"]
    assert "error_rate" in table.budgets[0][1]
    assert table.fraction_done == pytest.approx(40 / 120, abs=0.01)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (59.9, "0:59"), (75, "1:15"), (3725, "1:02:05")]
)
def test_clock(seconds, text):
    assert clock(seconds) == text


def test_a_second_the_timeline_marks_paused_is_left_out_whatever_the_state_heard():
    feed = LiveFeed(started_s=START)
    feed.move("running", START)  # the parent never heard of the pause (a late announcement)
    feed.add_second(_second(T0, n=10))
    feed.add_second(replace(_second(T0 + 1, n=99), paused=True))
    assert feed.statistics.seconds == 1
    assert feed.statistics.snapshot().count == 10


def _open_feed(seconds: int, *, started: int, dropped: int) -> LiveFeed:
    from framework.timeline.records import ArrivalSecond

    feed = LiveFeed(started_s=START)
    feed.move("running", float(T0))
    for t in range(T0, T0 + seconds):
        arrivals = (ArrivalSecond.from_lags(t, "writers", [2.0] * started, dropped=dropped),)
        feed.add_second(replace(_second(t), arrivals=arrivals, active={"writers": 4}))
    return feed


def test_an_open_group_shows_achieved_against_planned_arrivals_lag_p99_and_drops():
    from framework.plan.rates import constant as constant_rate

    feed = _open_feed(12, started=48, dropped=2)
    view = ProgressView(
        constant(users=5, duration_s=60, spawn_rate=5),
        rates={"writers": constant_rate(rate=50, duration_s=60)},
    )
    figures = view.figures(feed, now_s=T0 + 12.5)
    line = progress_line(figures)
    assert "· writers 48.0/50.0 arr/s, lag p99 2.00 ms, 24 dropped ·" in line
    rows = {row[0]: row[1:] for row in progress_table(figures).rows}
    assert rows["writers arrivals/s (achieved/planned)"] == ("48.0/50.0", "48.0")
    assert rows["writers lag p99 ms"] == ("2.00", "2.00")
    assert rows["writers dropped"] == ("20 (4.00%)", "24 (4.00%)")


def test_a_closed_run_shows_no_arrival_words():
    feed = LiveFeed(started_s=START)
    feed.move("running", float(T0))
    for t in range(T0, T0 + 5):
        feed.add_second(_second(t))
    figures = ProgressView(constant(users=5, duration_s=60, spawn_rate=5)).figures(feed, T0 + 6)
    assert figures.arrivals == ()
    assert "arr/s" not in progress_line(figures)
    assert not any("arrivals" in row[0] for row in progress_table(figures).rows)
