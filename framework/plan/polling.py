"""When a scenario's gauges are polled: on a fixed grid from the poller's start.

A poll that takes longer than its interval does not shift the grid, and the ticks it
overran are skipped, not caught up: a gauge is a sample of the target's state, and a
burst of late polls would only load a target that is already slow. Pure, so the
schedule is tested on numbers; the glue (``locust_glue.gauge_poller``) reads the clock.

    >>> next_poll_s(100.0, 1.0, 100.2), next_poll_s(100.0, 1.0, 103.5)
    (101.0, 104.0)
"""

from __future__ import annotations

import math

__all__ = ["expected_polls", "next_poll_s"]


def next_poll_s(started_s: float, every_s: float, now_s: float) -> float:
    """The first tick ``started_s + k * every_s`` (k >= 1) after ``now_s``."""
    if every_s <= 0:
        raise ValueError(f"every_s must be above 0, got {every_s}")
    ticks = max(1, math.floor((now_s - started_s) / every_s + 1e-9) + 1)
    return started_s + ticks * every_s


def expected_polls(duration_s: float, every_s: float) -> int:
    """How many polls a poller running ``duration_s`` starts (the first at once), when
    each answers within its interval."""
    if duration_s < 0:
        return 0
    return math.floor(duration_s / every_s + 1e-9) + 1
