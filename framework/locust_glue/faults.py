"""Scheduled faults in the Locust master (or the one local process), on the plan's clock.

``swarm run`` hands the master its planned faults in ``$SWARM_FAULTS`` (see
``framework.live.faults``). Each run of the feed (a headless run, or each start in the web
UI) gets a fresh ``FaultRunner``: a greenlet steps it with the feed's ``plan_elapsed_s``
while the run is ``running`` (so a pause freezes the faults with the plan), a resume renews
what is in force, and the move to ``stopping`` (the plan's end, a stop in the web UI, Ctrl-C
or SIGTERM reaching Locust) ends every fault in force before the master goes on. Every
change is announced (``fault``: name, status, at_s, plan_s, error) for ``swarm run`` to
record in run.json. Workers have no feed and run no faults: they are executed once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from locust.env import Environment

from framework.live.announce import announcement
from framework.live.faults import FAULTS_ENV, FaultChange, FaultRunner
from framework.live.feed import LiveFeed
from framework.locust_glue.telemetry import feed_of
from framework.plan.faults import FaultPlanError, PlannedFault

__all__ = ["install_faults"]

logger = logging.getLogger(__name__)

_STEP_S = 0.1
"""How often the greenlet reads the plan clock: a fault starts within this of its time."""
_ENDING = ("stopping", "finished", "failed", "aborted", "interrupted")


class _Faults:
    """The fault runner of the feed's current run and the greenlet that steps it."""

    def __init__(self, feed: LiveFeed, faults: tuple[PlannedFault, ...]) -> None:
        self.feed = feed
        self.faults = faults
        self.runner: FaultRunner | None = None
        self.greenlet: gevent.Greenlet | None = None

    def plan_s(self) -> float:
        return self.feed.plan_elapsed_s(time.time())

    def on_run_started(self, **_kwargs: Any) -> None:
        self._stop("the next run started")
        self.runner = None

    def on_state(self, *, state: str, previous: str | None = None, **_kwargs: Any) -> None:
        if state == "running":
            if self.runner is None:
                self.runner = FaultRunner(self.faults, on_change=self._announce)
                self.greenlet = gevent.spawn(self._step_forever)
            elif previous == "paused":
                self.runner.resume(self.plan_s())
        elif state in _ENDING:
            self._stop("the run was stopped" if state == "stopping" else f"the run {state}")

    def on_quit(self, **_kwargs: Any) -> None:
        self._stop("Locust quit")

    def _stop(self, why: str) -> None:
        greenlet, self.greenlet = self.greenlet, None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=True)
        runner = self.runner
        if runner is not None and not runner.done:
            plan_s = self.plan_s()
            runner.step(plan_s)  # a fault due to end by now ends as planned
            runner.finish(plan_s, why)

    def _step_forever(self) -> None:
        while self.runner is not None and not self.runner.done:
            if self.feed.state == "running":
                self.runner.step(self.plan_s())
            gevent.sleep(_STEP_S)

    def _announce(self, change: FaultChange) -> None:
        shown = f" ({change.error})" if change.error else ""
        logger.info(
            "swarm: fault %s %s at %.1f s%s", change.name, change.status, change.plan_s, shown
        )
        logger.info(
            announcement(
                "fault",
                name=change.name,
                status=change.status,
                plan_s=change.plan_s,
                error=change.error,
                at_s=round(time.time(), 3),
            )
        )


def install_faults(
    environment: Environment, planned: Callable[[], Sequence[PlannedFault]] | None = None
) -> None:
    """Run the faults of ``$SWARM_FAULTS`` on ``environment``'s feed; nothing on a worker
    (no feed) or when none are planned.

    Without ``$SWARM_FAULTS`` (plain ``locust -f locustfiles/scenario.py --scenario F``,
    where no ``swarm run`` resolved them) the faults come from ``planned()``: the scenario's
    own, resolved here; one that cannot be is logged and none run."""
    raw = os.environ.get(FAULTS_ENV)
    feed = feed_of(environment)
    if feed is None or (not raw and planned is None):
        return
    try:
        if raw:
            faults = tuple(PlannedFault.from_dict(item) for item in json.loads(raw))
        else:
            faults = tuple(planned()) if planned is not None else ()
    except FaultPlanError as exc:
        logger.error("swarm: the scenario's faults cannot run: %s", exc)
        return
    except (ValueError, KeyError, TypeError) as exc:
        logger.error("swarm: cannot read the planned faults in $%s: %s", FAULTS_ENV, exc)
        return
    if not faults:
        return
    glue = _Faults(feed, faults)
    feed.state_changed.add_listener(glue.on_state)
    feed.run_started.add_listener(glue.on_run_started)
    environment.events.quit.add_listener(glue.on_quit)
