"""swarm's load engine: runs a schedule's load groups on every load generator.

Locust's own spawning runs one closed load over all user kinds. A schedule with an open
group, or with kinds that carry their own load (``LoadSchedule.engine``), runs here
instead: Locust's shape then asks for 0 users until the end (``schedule.locust_plan()``),
and on every load generator (each worker, or the local process) an :class:`Engine` runs
the groups (:mod:`framework.locust_glue.load_groups`) on the plan's clock.

The clock and the split come from the master (or the local process) as the
``"swarm_schedule"`` message, ``{"state": "running" | "paused" | "stopped",
"plan_elapsed_s": float, "workers": [sorted client ids]}``, sent on every telemetry tick
(0.5 s) and at once on every state change (:class:`ScheduleBroadcaster`). A generator's
share is its place in ``workers``; one that joins mid-run starts with the next message, and
the others re-split from it. A local run sends the message to itself (Locust's
``LocalRunner.send_message`` calls the listener in place), with ``workers == ["local"]``.

Pausing stops the clock: no arrival is due while paused, and the running ones (and the
closed users) wait at the pause gate in their tasks. Stopping (the state ``"stopped"``, a
worker's ``test_stop``, quit) kills every greenlet of the engine and drops its user
instances, so nothing carries over into the next run of a web-UI session.

Each generator reports the arrivals in flight and the users running per group
(``active()``) under ``"swarm_active"`` in its report to the master, which sums them into the
timeline's ``sec.active`` and ``sec.users``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gevent.pool import Group
from locust import User
from locust.env import Environment
from locust.runners import STATE_MISSING, LocalRunner, MasterRunner, WorkerRunner

from framework.live.state import State
from framework.locust_glue.load_groups import (
    DEFAULT_MAX_IN_FLIGHT,
    ArrivalRecorder,
    ClosedGroup,
    OpenGroup,
    PlanClock,
    open_user_class,
)
from framework.locust_glue.telemetry import ACTIVE_KEY, telemetry_of
from framework.plan.arrivals import ArrivalTimes, Share
from framework.plan.groups import LoadSchedule

__all__ = [
    "ACTIVE_KEY",
    "LOCAL_CLIENT_ID",
    "SCHEDULE_MESSAGE",
    "Engine",
    "ScheduleBroadcaster",
    "engine_of",
    "install",
    "schedule_state",
]

logger = logging.getLogger(__name__)

SCHEDULE_MESSAGE = "swarm_schedule"
LOCAL_CLIENT_ID = "local"
_FROM_START_S = 1.0
"""A generator that first hears of a run before this plan-time starts at arrival 0 (the
arrivals due since are started late, with their lag); later ones join from now."""
_NEW_RUN_S = 2.0
_ATTRIBUTE = "swarm_engine"


def schedule_state(state: State | None) -> str:
    """The run state as the message says it: only running and paused keep load going."""
    return state if state in ("running", "paused") else "stopped"


class Engine:
    """The load groups of one schedule on one load generator (worker or local process)."""

    def __init__(
        self,
        environment: Environment,
        schedule: LoadSchedule,
        user_classes: Sequence[type[User]],
        *,
        client_id: str,
        recorder: ArrivalRecorder,
    ) -> None:
        self.environment = environment
        self.schedule = schedule
        self.user_classes = tuple(user_classes)
        self.client_id = client_id
        self.recorder = recorder
        self.clock = PlanClock()
        self.pool = Group()
        self.share: Share | None = None
        self.groups: list[OpenGroup | ClosedGroup] = []
        self._open_classes = {cls: open_user_class(cls) for cls in self.user_classes}
        self._started = False
        self.armed = False
        """Locust has started a test here (``test_start``: on a worker, the master's spawn
        has come, with the host); the engine runs only while armed and told to."""

    def __repr__(self) -> str:
        return f"Engine({self.client_id!r}, {self.clock!r}, share={self.share})"

    def active(self) -> dict[str, int]:
        """Per group: arrivals in flight (open) or users running (closed)."""
        return {group.name: group.active for group in self.groups}

    def update(self, state: str, plan_elapsed_s: float, workers: Sequence[str]) -> None:
        """Take the master's reading of the clock and the generators taking part."""
        if state not in ("running", "paused"):
            self.stop()
            return
        ids = sorted(str(w) for w in workers)
        self.share = Share(ids.index(self.client_id), len(ids)) if self.client_id in ids else None
        if self._started and plan_elapsed_s < self.clock.now() - _NEW_RUN_S:
            self.stop()  # the plan went back: a new run whose start this generator missed
        self.clock.set(state, float(plan_elapsed_s))
        if not self._started and self.armed:
            self._start()

    def on_test_start(self, **_kwargs: Any) -> None:
        """Arm the engine; start it if the master has already said the run is on (its
        message can come before the spawn that fires this on a worker)."""
        self.armed = True
        if not self._started and self.clock.state in ("running", "paused"):
            self._start()

    def on_message(self, msg: Any, **_kwargs: Any) -> None:
        """The ``swarm_schedule`` listener (a worker's, or the local process's)."""
        data = msg.data if isinstance(msg.data, Mapping) else {}
        try:
            self.update(
                str(data.get("state")),
                float(data.get("plan_elapsed_s", 0.0)),
                list(data.get("workers") or ()),
            )
        except (TypeError, ValueError):
            logger.warning("swarm: ignored a malformed %s message: %r", SCHEDULE_MESSAGE, data)

    def stop(self, **_kwargs: Any) -> None:
        """Kill every greenlet of the run and forget its user instances."""
        self.armed = False
        self.clock.set("stopped", self.clock.now())
        if self._started:
            self.pool.kill(block=True, timeout=5)
        self.pool = Group()
        self.groups = []
        self._started = False

    def _start(self) -> None:
        from_start = self.clock.now() < _FROM_START_S
        host = self.environment.host
        if host:  # as Locust does for its own spawning (a worker learns it from the spawn)
            for cls in self.user_classes:
                cls.host = host
        self._started = True
        self.pool = Group()
        self.groups = [self._group(g, position) for position, g in enumerate(self.schedule.groups)]
        for group in self.groups:
            if isinstance(group, OpenGroup):
                self.pool.spawn(group.run, from_start=from_start)
            else:
                self.pool.spawn(group.run)
        logger.info(
            "swarm: engine running %d load groups as %s of %s",
            len(self.groups),
            self.share.index if self.share else "-",
            self.share.count if self.share else "-",
        )

    def _group(self, group: Any, position: int) -> OpenGroup | ClosedGroup:
        kinds = [self.user_classes[i] for i in group.users]
        if group.model == "open":
            return OpenGroup(
                group.name,
                ArrivalTimes(group.plan, group.arrivals, random.Random()),
                [self._open_classes[k] for k in kinds],
                group.weights,
                group.max_in_flight or DEFAULT_MAX_IN_FLIGHT,
                environment=self.environment,
                clock=self.clock,
                pool=self.pool,
                recorder=self.recorder,
                share=lambda: self.share,
            )
        return ClosedGroup(
            group.name,
            group.plan,
            kinds,
            group.weights,
            environment=self.environment,
            clock=self.clock,
            pool=self.pool,
            share=lambda: self.share,
            offset=position,
        )


class ScheduleBroadcaster:
    """The master's (or local process's) side: sends ``swarm_schedule`` on every telemetry
    tick and on every state change of its live feed."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.stopping = False

    def __repr__(self) -> str:
        return f"ScheduleBroadcaster(stopping={self.stopping})"

    def message(self, now_s: float) -> dict[str, Any]:
        """What the workers are told now."""
        telemetry = telemetry_of(self.environment)
        feed = telemetry.feed if telemetry is not None else None
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            workers = sorted(c.id for c in runner.clients.values() if c.state != STATE_MISSING)
        else:
            workers = [LOCAL_CLIENT_ID]
        state = "stopped" if self.stopping else schedule_state(feed.state if feed else None)
        plan_s = feed.plan_elapsed_s(now_s) if feed is not None else 0.0
        return {"state": state, "plan_elapsed_s": round(plan_s, 6), "workers": workers}

    def send(self, now_s: float) -> None:
        runner = self.environment.runner
        if runner is not None:
            runner.send_message(SCHEDULE_MESSAGE, self.message(now_s))

    def on_state_changed(self, *, state: str, at_s: float, **_kwargs: Any) -> None:
        if state == "running":  # a start (or a resume): load goes on again
            self.stopping = False
        self.send(at_s)

    def on_test_stopping(self, **_kwargs: Any) -> None:
        """Locust begins to stop: say so before its ``stop`` reaches the workers, and say
        nothing else until the feed runs again (it still reads ``running`` until Locust's
        ``test_stop``, and a tick in between would start the workers' engines again)."""
        self.stopping = True
        self.send(time.time())


def engine_of(environment: Environment) -> Engine | None:
    """The engine of ``environment``'s load generator (``None`` on a master, or unless the
    scenario runs in engine mode)."""
    found = getattr(environment, _ATTRIBUTE, None)
    return found if isinstance(found, Engine) else None


def install(
    environment: Environment,
    schedule: LoadSchedule,
    user_classes: Sequence[type[User]],
) -> Engine | None:
    """Run ``schedule`` with swarm's engine on ``environment``; call it from ``init``, after
    ``telemetry.install``. Does nothing unless ``schedule.engine``. Returns the load
    generator's engine (``None`` on a master)."""
    if not schedule.engine:
        return None
    runner = environment.runner
    telemetry = telemetry_of(environment)
    if telemetry is None:
        raise RuntimeError("engine.install: call telemetry.install first")
    if isinstance(runner, MasterRunner | LocalRunner):
        broadcaster = ScheduleBroadcaster(environment)
        telemetry.ticked.append(broadcaster.send)
        environment.events.test_stopping.add_listener(broadcaster.on_test_stopping)
        if telemetry.feed is not None:
            telemetry.feed.state_changed.add_listener(broadcaster.on_state_changed)
    if not isinstance(runner, WorkerRunner | LocalRunner) or telemetry.recorder is None:
        return None
    client_id = runner.client_id if isinstance(runner, WorkerRunner) else LOCAL_CLIENT_ID
    engine = Engine(
        environment, schedule, user_classes, client_id=client_id, recorder=telemetry.recorder
    )
    setattr(environment, _ATTRIBUTE, engine)
    runner.register_message(SCHEDULE_MESSAGE, engine.on_message)
    telemetry.active = engine.active
    events = environment.events
    events.test_start.add_listener(engine.on_test_start)
    events.test_stop.add_listener(engine.stop)
    events.quit.add_listener(engine.stop)
    return engine
