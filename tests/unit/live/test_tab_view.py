"""The swarm tab's data (``GET /swarm/live``): figures, budgets, plan position and the cache."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from framework.live.budget_status import budget_limits
from framework.live.feed import LiveFeed
from framework.live.statistics import ALL, LiveStatistics
from framework.live.tab_view import MAX_FAILURE_MESSAGES, FailureMessages, TabView
from framework.plan import shapes
from framework.plan.record import PlanRecord
from framework.scenario.budgets import Budgets
from framework.stats.estimators import estimates
from framework.timeline.records import RequestSecond, Second

PLAN = PlanRecord.from_plan(shapes.constant(users=5, spawn_rate=5, duration_s=100))


def _second(t: int, rng: np.random.Generator, *, failures: int = 2, message: str = "") -> Second:
    ok = RequestSecond.from_latencies(t, "GET", "/a", list(rng.normal(100, 10, 50)))
    bad = RequestSecond.from_latencies(
        t,
        "POST",
        "<b>/b</b>",
        list(rng.normal(20, 2, 10)),
        failures={"HTTP 500": failures},
        failed_ms=[1.0] * failures,
    )
    if message:
        bad = dataclasses.replace(bad, failure_messages={message: failures})
    return Second(t=t, users=5, workers=2, requests=(ok, bad))


def _running_feed(seconds: int, *, seed: int = 1, message: str = "") -> LiveFeed:
    rng = np.random.default_rng(seed)
    feed = LiveFeed(started_s=0.0)
    feed.move("running", 1.0)
    for t in range(seconds):
        feed.add_second(_second(t, rng, message=message))
    return feed


def _rows(data: dict) -> dict:
    return {row["key"]: row for row in data["rows"]}


def test_rows_per_name_and_overall_carry_point_figures_until_enough_seconds():
    feed = _running_feed(10)
    data = TabView(plan=PLAN, limits=[]).data(feed, now_s=11.0)
    rows = _rows(data)
    assert list(rows) == [ALL, "GET /a", "POST <b>/b</b>"]
    assert rows[ALL]["overall"] and rows[ALL]["count"] == 10 * 62
    assert rows["POST <b>/b</b>"]["name"] == "<b>/b</b>"  # data as it is: the page escapes
    p95 = rows["GET /a"]["p95_ms"]
    assert p95["value"] == pytest.approx(feed.statistics.snapshot("GET /a").p95_ms)
    assert p95["low"] is None and p95["high"] is None
    assert rows["POST <b>/b</b>"]["error_rate"]["value"] == pytest.approx(2 / 12, rel=1e-5)
    assert rows[ALL]["quality"] is None


def test_after_enough_seconds_every_figure_has_an_interval_and_a_quality_grade():
    feed = _running_feed(40)
    rows = _rows(TabView(plan=PLAN, limits=[]).data(feed, now_s=41.0))
    a = rows["GET /a"]
    for metric in ("p50_ms", "p95_ms", "p99_ms", "throughput", "error_rate"):
        figure = a[metric]
        assert figure["low"] is not None and figure["low"] <= figure["value"] <= figure["high"]
    expected = estimates(feed.statistics.columns("GET /a"), ["p95"])["p95"]
    assert a["p95_ms"]["value"] == pytest.approx(expected.value / 1000, rel=1e-5)  # ms
    assert 100 < a["p95_ms"]["value"] < 130
    assert a["throughput"]["value"] == pytest.approx(50.0)
    assert (
        rows["POST <b>/b</b>"]["error_rate"]["low"]
        < 2 / 12
        < rows["POST <b>/b</b>"]["error_rate"]["high"]
    )
    assert a["quality"]["grade"] in ("pass", "warn", "fail")
    assert isinstance(a["quality"]["reasons"], list)


def test_columns_are_the_rows_the_estimates_rest_on():
    feed = _running_feed(30)
    stats = feed.statistics
    assert stats.columns("GET /a", min_seconds=40) is None
    columns = stats.columns("GET /a")
    assert int(columns.counts.sum()) == stats.snapshot("GET /a").count
    direct = stats.estimates("GET /a", ["p95"])["p95"]
    assert estimates(columns, ["p95"])["p95"] == direct


def test_budgets_are_listed_and_each_row_shows_the_worst_status_on_it():
    limits = budget_limits(
        Budgets.model_validate(
            {
                "tolerance": 0,
                "overall": {"error_rate": "50%"},
                "requests": {"/a": {"p95_ms": 50}, "/never": {"p95_ms": 1}},
            }
        )
    )
    data = TabView(plan=None, limits=limits).data(_running_feed(40), now_s=41.0)
    statuses = {(b["scope"], b["metric"]): b["status"] for b in data["budgets"]}
    assert statuses == {
        ("overall", "error_rate"): "passing",
        ("/a", "p95_ms"): "failing",  # p95 ≈ 116 ms against 50 ms
        ("/never", "p95_ms"): "pending",
    }
    rows = _rows(data)
    assert rows[ALL]["budget"] == "passing"
    assert rows["GET /a"]["budget"] == "failing"
    assert rows["POST <b>/b</b>"]["budget"] is None
    failing = next(b for b in data["budgets"] if b["status"] == "failing")
    assert failing["low"] > failing["limit"] == 50 and "failing" in failing["text"]


def test_figures_are_recomputed_only_after_a_closed_second_and_at_most_every_refresh():
    rng = np.random.default_rng(5)
    feed = _running_feed(30)
    view = TabView(plan=PLAN, limits=[], refresh_s=2.0, quality_every_s=10.0)
    first = view.data(feed, now_s=31.0)
    for now in (31.1, 31.5, 35.0, 60.0):  # no second closed: cached, however often asked
        assert view.data(feed, now_s=now)["rows"] == first["rows"]
    assert view.computations == 1
    feed.add_second(_second(30, rng))
    assert view.data(feed, now_s=60.5)["seconds"] == 31  # 29.5 s since: recomputed
    feed.add_second(_second(31, rng))
    assert view.data(feed, now_s=61.0)["seconds"] == 31  # a second closed, but < 2 s ago
    assert view.data(feed, now_s=62.5)["seconds"] == 32
    assert view.computations == 3
    assert view.quality_computations == 2  # at 31.0 and 60.5; not at 62.5 (< 10 s)


def test_a_new_run_is_computed_at_once_and_starts_afresh():
    feed = _running_feed(30, message="HTTP 500: <script>boom</script>")
    view = TabView(plan=PLAN, limits=[])
    view.attach(feed)
    assert view.data(feed, now_s=31.0)["failures"] == []  # attached after those seconds
    feed.add_second(_second(30, np.random.default_rng(1), message="HTTP 500: down"))
    assert view.data(feed, now_s=40.0)["failures"] == [
        {"key": "POST <b>/b</b>", "message": "HTTP 500: down", "count": 2}
    ]
    feed.start_run(50.0, run_id="again")
    data = view.data(feed, now_s=50.5)
    assert view.computations == 3
    assert data["run_id"] == "again" and data["state"] == "starting"
    assert data["seconds"] == 0 and data["failures"] == []
    assert [r["key"] for r in data["rows"]] == [ALL]


def test_paused_seconds_add_no_failure_messages():
    feed = LiveFeed(started_s=0.0)
    view = TabView(plan=None, limits=[])
    view.attach(feed)
    rng = np.random.default_rng(2)
    feed.move("running", 0.0)
    feed.add_second(_second(0, rng, message="counted"))
    feed.move("paused", 1.0)
    feed.add_second(_second(1, rng, message="paused"))
    assert [f["message"] for f in view.data(feed, now_s=2.0)["failures"]] == ["counted"]


def test_failure_messages_stay_bounded_and_list_the_most_frequent_first():
    counter = FailureMessages()
    for i in range(500):
        record = dataclasses.replace(
            RequestSecond.from_latencies(i, "GET", "/x", [1.0]),
            failure_messages={f"m{i}": 1, "often": 3},
        )
        counter.add_second(Second(t=i, requests=(record,)))
    assert len(counter.counts) <= 200
    top = counter.top()
    assert top[0] == {"key": "GET /x", "message": "often", "count": 1500}
    assert len(top) == MAX_FAILURE_MESSAGES


def test_plan_position_leaves_paused_time_out_and_names_the_phase():
    feed = LiveFeed(started_s=0.0)
    feed.move("running", 10.0)
    feed.move("paused", 30.0)
    feed.move("running", 45.0)
    plan = TabView(plan=PLAN, limits=[]).data(feed, now_s=60.0)["plan"]
    assert plan["elapsed_s"] == 35.0 and plan["remaining_s"] == 65.0
    assert plan["fraction"] == pytest.approx(0.35)
    assert plan["phase"]["name"] == "steady" and plan["phases"] == ["ramp-up", "steady"]
    feed.move("stopping", 70.0)
    stopping = TabView(plan=PLAN, limits=[]).data(feed, now_s=90.0)
    assert stopping["plan"]["elapsed_s"] == 45.0  # frozen where the run was stopped
    feed.move("finished", 71.0)
    ended = TabView(plan=PLAN, limits=[]).data(feed, now_s=500.0)
    assert ended["plan"]["elapsed_s"] == 45.0
    assert [t["state"] for t in ended["transitions"]][-2:] == ["stopping", "finished"]
    assert TabView(plan=None, limits=[]).data(feed, now_s=60.0)["plan"] is None


def test_the_data_is_strict_json_with_unknown_figures_as_null():
    feed = LiveFeed(started_s=0.0)
    feed.move("running", 0.0)
    for t in range(30):  # every request fails: no latency figure exists
        failed = RequestSecond.from_latencies(
            t, "GET", "/down", [], failures={"ConnectionRefused": 3}, failed_ms=[1.0] * 3
        )
        feed.add_second(Second(t=t, users=1, workers=1, requests=(failed,)))
    limits = budget_limits(Budgets.model_validate({"requests": {"/down": {"p95_ms": 100}}}))
    data = TabView(plan=PLAN, limits=limits).data(feed, now_s=31.0)
    json.dumps(data, allow_nan=False)
    assert data["budgets"][0]["status"] == "at risk" and "nan" not in data["budgets"][0]["text"]
    down = _rows(data)["GET /down"]
    assert down["p95_ms"] == {"value": None, "low": None, "high": None}
    assert down["error_rate"]["value"] == 1.0


def test_a_feed_with_nothing_yet_shows_its_state_and_an_empty_overall_row():
    data = TabView(plan=PLAN, limits=[]).data(LiveFeed(started_s=5.0), now_s=6.0)
    assert data["state"] == "starting" and data["seconds"] == 0
    assert data["plan"]["elapsed_s"] == 0.0 and data["plan"]["phase"]["name"] == "ramp-up"
    assert data["load"] == {"users": None, "workers": None, "second": None}
    assert _rows(data)[ALL]["count"] == 0
    assert isinstance(LiveStatistics().columns(), type(None))


def test_open_groups_get_a_row_of_planned_and_achieved_rate_lag_drops_and_in_flight():
    from framework.plan.rates import constant as constant_rate
    from framework.timeline.records import ArrivalSecond

    feed = LiveFeed(started_s=0.0, run_id="r")
    feed.move("running", 1000.0)
    for t in range(1000, 1012):
        arrivals = (ArrivalSecond.from_lags(t, "writers", [2.0] * 40, dropped=10),)
        feed.add_second(Second(t=t, users=0, workers=1, arrivals=arrivals, active={"writers": 7}))
    view = TabView(plan=None, limits=[], rates={"writers": constant_rate(rate=50, duration_s=60)})
    data = view.data(feed, now_s=1012.5)
    json.dumps(data, allow_nan=False)
    assert data["arrivals"] == [
        {
            "group": "writers",
            "window_s": 10,
            "planned_rate": 50.0,
            "rate": 40.0,
            "behind": True,
            "lag_p50_ms": 2.0,
            "lag_p99_ms": 2.0,
            "run_lag_p99_ms": 2.0,
            "due": 600,
            "started": 480,
            "dropped": 120,
            "dropped_fraction": 0.2,
            "in_flight": 7,
        }
    ]
    closed = TabView(plan=None, limits=[]).data(_running_feed(3), now_s=1.0)
    assert closed["arrivals"] == []
