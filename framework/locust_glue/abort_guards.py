"""Abort guards in the Locust master: judge each merged second, stop the run on a trip.

``install_abort_guards(environment, scenario)`` (called from the ``init`` event, after the
telemetry) listens to the feed's ``second_closed`` and hands every second to a pure
``framework.live.abort_guard.AbortGuard``. When a guard trips:

1. the log says why, for a person, and announces ``abort`` (rule, figures, at_s) for
   ``swarm run`` to record in run.json;
2. the feed moves to ``stopping`` with the reason, and the telemetry will end the run
   ``aborted`` instead of ``finished`` once the last second is in;
3. the load stops the way a finished plan stops it: headless, ``runner.quit()`` (workers
   quit after their final reports, the timeline is finished, Locust writes its reports);
   in the web UI, ``runner.stop()`` (this run ends, the UI stays).

Workers have no feed and judge nothing: the master judges the merged seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust.env import Environment

from framework.live.abort_guard import AbortGuard, AbortTrip
from framework.live.announce import announcement
from framework.live.feed import LiveFeed
from framework.locust_glue.telemetry import telemetry_of
from framework.scenario.model import Scenario
from framework.timeline.records import Second

__all__ = ["install_abort_guards"]

logger = logging.getLogger(__name__)


class _Guarding:
    """The guard of the feed's current run (a new web-UI start gets a fresh one)."""

    def __init__(self, environment: Environment, scenario: Scenario) -> None:
        self.environment = environment
        self.scenario = scenario
        self.guard = self._new_guard()

    def _new_guard(self) -> AbortGuard:
        return AbortGuard(self.scenario.abort, self.scenario.budgets)

    def on_run_started(self, **_kwargs: Any) -> None:
        self.guard = self._new_guard()

    def on_second_closed(self, *, second: Second, counted: bool, feed: LiveFeed, **_: Any) -> None:
        if feed.run_state.ended or feed.state == "stopping":
            return  # the run is ending anyway: its last seconds trip nothing
        trip = self.guard.add_second(second, counted=counted, statistics=feed.statistics)
        if trip is not None:
            self.abort(trip, feed)

    def abort(self, trip: AbortTrip, feed: LiveFeed) -> None:
        now = time.time()
        hint = " (abort: [{target_down: false}] turns this guard off)"
        shown = trip.message + (hint if trip.kind == "target_down" else "")
        logger.warning("swarm: stopping the run: %s", shown)
        logger.info(announcement("abort", **trip.to_record(), at_s=round(now, 3)))
        telemetry = telemetry_of(self.environment)
        if telemetry is not None:
            telemetry.end_as("aborted", trip.message)
        if feed.run_state.allows("stopping"):
            feed.move("stopping", now, trip.message)
        runner = self.environment.runner
        if runner is None:
            return
        options = self.environment.parsed_options
        headless = options is None or bool(getattr(options, "headless", True))
        gevent.spawn(runner.quit if headless else runner.stop)


def install_abort_guards(environment: Environment, scenario: Scenario) -> AbortGuard | None:
    """Judge ``scenario``'s abort guards on ``environment``'s feed; ``None`` on a worker
    (no feed) or when every guard is switched off."""
    telemetry = telemetry_of(environment)
    feed = telemetry.feed if telemetry is not None else None
    if feed is None:
        return None
    guarding = _Guarding(environment, scenario)
    if not guarding.guard.active:
        return None
    feed.second_closed.add_listener(guarding.on_second_closed)
    feed.run_started.add_listener(guarding.on_run_started)
    return guarding.guard
