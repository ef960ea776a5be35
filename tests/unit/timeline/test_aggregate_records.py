"""A flow's transactions (TXN) and polls' totals (POLL) are kept per name but left out of
every overall figure: they time requests that are already counted."""

from __future__ import annotations

import pytest

from framework.live.abort_guard import _selected
from framework.live.statistics import ALL, LiveStatistics
from framework.timeline.columns import TimelineColumns
from framework.timeline.endpoints import AGGREGATE_METHODS, is_aggregate
from framework.timeline.records import RequestSecond, Second, Timeline


def _second(t: int) -> Second:
    return Second(
        t=t,
        users=1,
        workers=1,
        requests=(
            RequestSecond.from_latencies(t, "GET", "/items", [10.0, 20.0]),
            RequestSecond.from_latencies(t, "POST", "/pay", [30.0], failures={"HTTP 500": 1}),
            RequestSecond.from_latencies(t, "TXN", "checkout", [900.0]),
            RequestSecond.from_latencies(t, "POLL", "job done", [5000.0], failures={"timeout": 1}),
        ),
    )


@pytest.fixture
def timeline() -> Timeline:
    return Timeline(path=None, header={}, seconds=(_second(100), _second(101)))


def test_is_aggregate_names_the_transaction_and_poll_keys():
    assert frozenset({"TXN", "POLL"}) == AGGREGATE_METHODS
    assert [is_aggregate(k) for k in ("TXN checkout", "POLL job done", "GET /items", "TXN")] == [
        True,
        True,
        False,
        False,
    ]


def test_overall_figures_leave_transactions_and_polls_out(timeline):
    overall = timeline.total()
    assert overall.count == 6 and overall.failure_count == 2
    assert overall.histogram.get_max_value() < 40_000  # µs: no 900 ms transaction in it
    assert timeline.seconds[0].count == 3 and timeline.seconds[0].failure_count == 1
    columns = TimelineColumns(timeline)
    assert list(columns.counters().count) == [3, 3]
    assert list(columns.counters().failures) == [1, 1]
    assert columns.buckets().counts.sum() == timeline.total().latency_count  # no TXN in it


def test_transactions_and_polls_keep_their_own_figures(timeline):
    assert timeline.total("TXN checkout").count == 2
    assert timeline.total("POLL job done").failure_count == 2
    assert "TXN checkout" in timeline.names()
    assert list(TimelineColumns(timeline).counters("checkout").count) == [1, 1]


def test_live_statistics_and_abort_guards_count_requests_once(timeline):
    stats = LiveStatistics()
    for second in timeline.seconds:
        stats.add_second(second)
    assert stats.snapshot(ALL).count == 6 and stats.snapshot(ALL).failures == 2
    assert stats.snapshot("TXN checkout").count == 2
    assert [r.method for r in _selected(timeline.seconds[0].requests, None)] == ["GET", "POST"]
