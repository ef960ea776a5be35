"""The run state machine's paused spans, as the timeline marks them and the plan clock skips."""

from __future__ import annotations

import pytest

from framework.live.feed import LiveFeed
from framework.live.state import IllegalTransition, RunState


def _paused_run() -> RunState:
    state = RunState.starting(0.0)
    state.move("running", 1.0)
    state.move("paused", 10.4)
    state.move("running", 20.6, "resumed")
    return state


def test_spans_list_each_stretch_in_a_state_and_an_open_one_ends_now() -> None:
    state = _paused_run()
    assert state.spans("paused", 30.0) == [(10.4, 20.6)]
    state.move("paused", 25.0)
    assert state.spans("paused", 30.0) == [(10.4, 20.6), (25.0, 30.0)]


@pytest.mark.parametrize(
    ("t", "paused"), [(9, False), (10, True), (15, True), (20, True), (21, False)]
)
def test_a_second_partly_paused_is_a_paused_second(t: int, paused: bool) -> None:
    feed = LiveFeed(started_s=0.0)
    feed.run_state = _paused_run()
    assert feed.paused_in(t) is paused


def test_the_plan_clock_stands_still_while_paused() -> None:
    feed = LiveFeed(started_s=0.0)
    feed.move("running", 1.0)
    feed.move("paused", 11.0)
    assert feed.plan_elapsed_s(11.0) == feed.plan_elapsed_s(40.0) == 10.0
    feed.move("running", 41.0)
    assert feed.plan_elapsed_s(46.0) == 15.0


def test_pausing_twice_is_refused_with_the_reason() -> None:
    feed = LiveFeed(started_s=0.0)
    feed.move("running", 1.0)
    feed.move("paused", 2.0)
    with pytest.raises(IllegalTransition, match="already paused"):
        feed.move("paused", 3.0)
    assert feed.state == "paused"
