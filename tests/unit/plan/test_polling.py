"""The gauges' poll schedule: a fixed grid from the start, overrun ticks skipped."""

from __future__ import annotations

import pytest

from framework.plan.polling import expected_polls, next_poll_s


@pytest.mark.parametrize(
    ("now_s", "expected"),
    [(10.0, 11.0), (10.3, 11.0), (11.0, 12.0), (11.999, 12.0), (14.5, 15.0)],
)
def test_the_next_poll_is_the_next_tick_of_the_grid(now_s, expected):
    assert next_poll_s(10.0, 1.0, now_s) == pytest.approx(expected)


def test_a_slow_poll_skips_the_ticks_it_overran_instead_of_catching_up():
    assert next_poll_s(0.0, 0.5, 2.2) == pytest.approx(2.5)


def test_a_clock_behind_the_start_still_waits_one_interval():
    assert next_poll_s(10.0, 2.0, 9.0) == pytest.approx(12.0)


def test_the_polls_a_run_makes():
    assert [expected_polls(d, 1.0) for d in (-1, 0, 0.5, 1, 9.99, 10)] == [0, 1, 1, 2, 10, 11]


def test_an_interval_of_zero_is_refused():
    with pytest.raises(ValueError, match="every_s must be above 0"):
        next_poll_s(0.0, 0.0, 1.0)
