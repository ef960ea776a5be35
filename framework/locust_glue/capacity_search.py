"""The capacity search in the Locust master: judge each merged second, stop the run early.

``install_capacity_search(environment, scenario, schedule)`` (called from the ``init``
event, after the telemetry) does nothing unless the scenario's load is ``shape:
find_capacity``. Then it listens to the feed's ``second_closed`` and hands every second,
with where the plan was at its end, to a pure
``framework.live.capacity_search.CapacitySearch``. As the search goes:

- each step it reaches is logged (``capacity search: judging step 3 (30 users)``) and each
  completed step with its throughput and budget statuses; ``capacity_search`` is announced
  for ``swarm run`` to keep in run.json (``steps_run``, ``stopped_at_step``, ``reason``,
  ``stopped_at``) whenever a step begins, when the search stops and when the run ends;
- when it stops, the run ends the way a plan that ran out ends — headless,
  ``runner.quit()``; in the web UI, ``runner.stop()`` — and ends ``finished`` (not
  ``aborted``: stopping is what a search is for) with the reason ``capacity search: …``;
- a new start in the web UI is a new run: the search begins again from step 1.

Workers have no feed and judge nothing: the master judges the merged seconds.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import gevent
from locust.env import Environment

from framework.live.announce import announcement
from framework.live.capacity_search import CapacitySearch, SearchStop
from framework.live.feed import LiveFeed
from framework.locust_glue.telemetry import telemetry_of
from framework.plan.groups import LoadSchedule
from framework.plan.load_plan import FIND_CAPACITY
from framework.scenario.model import Scenario
from framework.timeline.records import Second

__all__ = ["REASON_PREFIX", "install_capacity_search"]

logger = logging.getLogger(__name__)

REASON_PREFIX = "capacity search: "
"""How the reason of a run the search ended begins (run.json's transitions and message)."""


def _iso(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, UTC).isoformat().replace("+00:00", "Z")


class _Searching:
    """The search of the feed's current run (a new web-UI start gets a fresh one)."""

    def __init__(self, environment: Environment, scenario: Scenario, schedule: LoadSchedule):
        self.environment = environment
        self.scenario = scenario
        self.schedule = schedule
        self.search = self._new_search()
        self.stopped_at: str | None = None

    def _new_search(self) -> CapacitySearch:
        unit = "arrivals/s" if self.schedule.model == "open" else "users"
        return CapacitySearch(self.schedule.phases, self.scenario.budgets, load_unit=unit)

    def on_run_started(self, **_kwargs: Any) -> None:
        self.search = self._new_search()
        self.stopped_at = None
        self._announce(None)

    def on_second_closed(self, *, second: Second, counted: bool, feed: LiveFeed, **_: Any) -> None:
        if feed.run_state.ended or feed.state == "stopping":
            return  # the run is ending anyway: its last seconds stop nothing
        search = self.search
        reached, completed = search.reached, len(search.completed)
        plan_s = feed.plan_elapsed_s(float(second.t + 1))
        stop = search.add_second(second, plan_s=plan_s, counted=counted)
        for result in search.completed[completed:]:
            statuses = ", ".join(f"{b.text}" for b in result.budgets) or "no budgets judged"
            logger.info(
                "swarm: capacity search: %s done (%d s, %.4g req/s): %s",
                result.step.name,
                result.seconds,
                result.throughput,
                statuses,
            )
        if stop is not None:
            self.stop(stop, feed)
        elif search.reached is not None and search.reached != reached:
            step = search.reached
            logger.info(
                "swarm: capacity search: judging %s of at most %d (%g %s)",
                step.name,
                len(search.steps),
                step.load,
                search.load_unit,
            )
            self._announce(None)

    def on_run_finished(self, *, state: str, **_kwargs: Any) -> None:
        self._announce(state)

    def _announce(self, ended: str | None) -> None:
        """Tell ``swarm run`` where the search is (``ended``: the run's final state)."""
        record = self.search.record(self.stopped_at, ended=ended)
        logger.info(announcement("capacity_search", **record))

    def stop(self, stop: SearchStop, feed: LiveFeed) -> None:
        now = time.time()
        self.stopped_at = _iso(now)
        reason = REASON_PREFIX + stop.reason
        logger.warning("swarm: stopping the run: %s", reason)
        self._announce("finished")
        telemetry = telemetry_of(self.environment)
        if telemetry is not None:
            telemetry.end_as("finished", reason)
        if feed.run_state.allows("stopping"):
            feed.move("stopping", now, reason)
        runner = self.environment.runner
        if runner is None:
            return
        options = self.environment.parsed_options
        headless = options is None or bool(getattr(options, "headless", True))
        gevent.spawn(runner.quit if headless else runner.stop)


def install_capacity_search(
    environment: Environment, scenario: Scenario, schedule: LoadSchedule
) -> CapacitySearch | None:
    """Run the capacity search of a ``find_capacity`` scenario on ``environment``'s feed;
    ``None`` on a worker (no feed) or for any other shape."""
    if schedule.name != FIND_CAPACITY:
        return None
    telemetry = telemetry_of(environment)
    feed = telemetry.feed if telemetry is not None else None
    if feed is None:
        return None
    searching = _Searching(environment, scenario, schedule)
    feed.second_closed.add_listener(searching.on_second_closed)
    feed.run_started.add_listener(searching.on_run_started)
    feed.run_finished.add_listener(searching.on_run_finished)
    return searching.search
