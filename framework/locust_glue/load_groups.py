"""The engine's two kinds of load group: open (arrivals on a schedule) and closed (users).

Each runs on one load generator, for that generator's share of its group, on the plan
clock the engine keeps (:class:`PlanClock`). Both start their greenlets in the engine's one
gevent ``Group``, so stopping the engine kills every one of them at once.

- :class:`OpenGroup`: a scheduling greenlet sleeps until each due time
  (:class:`framework.plan.arrivals.ArrivalTimes`) and starts the arrival on its own
  greenlet, on a free user instance of a kind picked by weight. Instances are made lazily,
  up to ``max_in_flight`` (their ``on_start`` runs once), and reused; with
  ``max_in_flight`` arrivals already running the arrival is dropped and counted, never
  silently skipped. Each arrival runs one task picked by weight, and records its lag
  (actual start − due) as it starts.
- :class:`ClosedGroup`: keeps this generator's share of the group's ``users`` running as
  ordinary Locust users (each ``User.start`` s its own greenlet, running tasks with its
  think time), starting and stopping them at its share of the spawn rate, kinds picked so
  the counts follow the weights.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import gevent
from gevent.event import Event
from gevent.pool import Group
from locust import User
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

from framework.locust_glue.telemetry import DUE_KEY
from framework.plan.arrivals import ArrivalTimes, Share

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "ClosedGroup",
    "OpenGroup",
    "PlanClock",
    "open_user_class",
    "share_of_users",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_IN_FLIGHT = 1000
"""Arrivals running at once per load generator and open group, unless the scenario says."""
_CHECK_S = 0.1
"""The longest a scheduler sleeps before looking at the clock and its share again."""
_CLOSED_TICK_S = 0.2
_RESYNC_S = 0.02
"""A master's clock reading further than this from ours moves ours; nearer ones are
message delay and are ignored, so that the due times do not jitter every half second."""
_TASK_EXCEPTIONS_QUIET = (StopUser, RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet)


class PlanClock:
    """Where the plan is on this load generator: set by the master's (or local feed's)
    readings, run forward on ``perf_counter`` between them, stopped while paused.

    ``state`` is ``"running"``, ``"paused"`` or ``"stopped"``; ``running`` is set exactly
    while it is ``"running"``, for the schedulers to wait on.
    """

    def __init__(self, perf: Callable[[], float] = time.perf_counter) -> None:
        self.perf = perf
        self.state = "stopped"
        self.running = Event()
        self._plan_s = 0.0
        self._perf_s = perf()

    def __repr__(self) -> str:
        return f"PlanClock({self.state}, plan_s={self.now():.3f})"

    def set(self, state: str, plan_elapsed_s: float) -> None:
        """Take a reading: the plan is at ``plan_elapsed_s`` now, in ``state``."""
        perf = self.perf()
        if state == "running":
            if self.state != "running" or abs(self.now(perf) - plan_elapsed_s) > _RESYNC_S:
                self._plan_s, self._perf_s = plan_elapsed_s, perf
            self.state = state
            self.running.set()
            return
        if self.state == "running":
            self._plan_s, self._perf_s = self.now(perf), perf
        if state == "paused" and self.state != "running":
            self._plan_s = plan_elapsed_s
        self.state = state
        self.running.clear()

    def now(self, perf: float | None = None) -> float:
        """The plan's elapsed seconds (standing still unless running)."""
        if self.state != "running":
            return self._plan_s
        return self._plan_s + ((self.perf() if perf is None else perf) - self._perf_s)

    def perf_at(self, plan_s: float) -> float:
        """The ``perf_counter`` value at which the plan reaches ``plan_s`` (if it keeps running)."""
        return self._perf_s + (plan_s - self._plan_s)


class ArrivalRecorder(Protocol):
    """What the engine records into (``framework.timeline.recorder.SecondRecorder``)."""

    def record_arrival(self, group: str, due_s: float, lag_ms: float, in_flight: int) -> None: ...

    def record_dropped(self, group: str, due_s: float, count: int = 1) -> None: ...


def open_user_class(user_class: type[User]) -> type[User]:
    """``user_class`` for open-model arrivals: the request context carries when the
    arrival was due (``swarm_due``, a ``perf_counter`` value), which the telemetry
    listener turns into the latency from the intended start."""

    def context(self: Any) -> dict[str, float]:
        return {DUE_KEY: self.swarm_due}

    return type(
        user_class.__name__,
        (user_class,),
        {
            "__module__": __name__,
            "__doc__": f"Open-model arrivals of {user_class.__name__!r}.",
            "context": context,
            "swarm_due": 0.0,
            "abstract": True,  # never spawned by Locust itself
        },
    )


def share_of_users(users: int, share: Share, offset: int = 0) -> int:
    """This generator's part of ``users``: as even as can be, the remainder going to the
    generators ``offset``, ``offset + 1``, … (so several groups spread theirs)."""
    base, extra = divmod(users, share.count)
    return base + (1 if (share.index - offset) % share.count < extra else 0)


class OpenGroup:
    """One open load group on this generator (see the module docstring)."""

    def __init__(
        self,
        name: str,
        times: ArrivalTimes,
        kinds: Sequence[type[User]],
        weights: Sequence[int],
        max_in_flight: int,
        *,
        environment: Any,
        clock: PlanClock,
        pool: Group,
        recorder: ArrivalRecorder,
        share: Callable[[], Share | None],
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.times = times
        self.kinds = tuple(kinds)
        self.weights = tuple(weights)
        self.max_in_flight = max_in_flight
        self.environment = environment
        self.clock = clock
        self.pool = pool
        self.recorder = recorder
        self.share = share
        self.rng = rng if rng is not None else random.Random()
        self.in_flight = 0
        self.created = 0
        self._free: dict[type[User], list[User]] = {kind: [] for kind in self.kinds}
        self._only = self.kinds[0] if len(self.kinds) == 1 else None

    def __repr__(self) -> str:
        return f"OpenGroup({self.name!r}, in_flight={self.in_flight}, created={self.created})"

    @property
    def active(self) -> int:
        """Arrivals running now."""
        return self.in_flight

    def run(self, *, from_start: bool) -> None:
        """The scheduling loop: until the plan has no more arrivals for this generator.

        It sleeps only until the next arrival is due, then starts every arrival due by
        then in one go: nothing else runs meanwhile (starting one does not yield), so the
        clock and the share cannot change inside the batch.
        """
        clock, times, perf, arrive = self.clock, self.times, time.perf_counter, self.arrive
        running, sleep = clock.running, gevent.sleep
        share = self._wait_for_share()
        after = -1.0 if from_start else clock.now()
        due = times.next_due(after, share)
        while due is not None:
            if not running.is_set():
                running.wait()
                continue
            current = self.share()
            if current is not share and current != share:
                if current is None:
                    sleep(_CHECK_S)
                    continue
                share = current
                due = times.next_due(clock.now(), share)
                continue
            due_perf = clock.perf_at(due)
            now = perf()
            if due_perf > now:
                wait_s = due_perf - now
                sleep(wait_s if wait_s < _CHECK_S else _CHECK_S)
                continue
            while due_perf <= now:
                arrive(due_perf)
                due = times.next_due(due, share)
                if due is None:
                    return
                due_perf = clock.perf_at(due)

    def _wait_for_share(self) -> Share:
        while (share := self.share()) is None:
            gevent.sleep(_CHECK_S)
        return share

    def arrive(self, due_perf: float) -> None:
        """Start the arrival due at ``due_perf`` on a free instance, or count it dropped."""
        if self.in_flight >= self.max_in_flight:
            late_s = time.perf_counter() - due_perf
            self.recorder.record_dropped(self.name, time.time() - late_s)
            return
        kind = self._only or self._pick()
        free = self._free[kind]
        user: User | None = free.pop() if free else None
        if user is None and self.created >= self.max_in_flight:
            self._evict_other(kind)
        self.in_flight += 1
        self.pool.spawn(self._run_one, kind, user, due_perf)

    def _pick(self) -> type[User]:
        return self.rng.choices(self.kinds, self.weights)[0]

    def _evict_other(self, kind: type[User]) -> None:
        """Every instance exists and none of ``kind`` is free: make room by dropping a free
        one of another kind (there is one, since fewer than ``max_in_flight`` run)."""
        for other, free in self._free.items():
            if other is not kind and free:
                free.pop()
                self.created -= 1
                return

    def _run_one(self, kind: type[User], user: User | None, due_perf: float) -> None:
        try:
            if user is None:
                self.created += 1
                user = kind(self.environment)
                user.on_start()
            lag_s = time.perf_counter() - due_perf
            if lag_s < 0.0:
                lag_s = 0.0
            self.recorder.record_arrival(
                self.name, time.time() - lag_s, lag_s * 1000, self.in_flight
            )
            user.swarm_due = due_perf  # type: ignore[attr-defined]
            tasks = user.tasks
            task = tasks[0] if len(tasks) == 1 else self.rng.choice(tasks)
            task(user)
        except _TASK_EXCEPTIONS_QUIET:
            pass
        except Exception as exc:
            logger.exception("swarm: an arrival of %s failed", self.name)
            self.environment.events.user_error.fire(
                user_instance=user, exception=exc, tb=exc.__traceback__
            )
        finally:
            self.in_flight -= 1
            if user is not None:
                self._free[kind].append(user)


class ClosedGroup:
    """One closed load group on this generator (see the module docstring)."""

    def __init__(
        self,
        name: str,
        plan: Any,
        kinds: Sequence[type[User]],
        weights: Sequence[int],
        *,
        environment: Any,
        clock: PlanClock,
        pool: Group,
        share: Callable[[], Share | None],
        offset: int = 0,
    ) -> None:
        self.name = name
        self.plan = plan
        self.kinds = tuple(kinds)
        self.weights = tuple(weights)
        self.environment = environment
        self.clock = clock
        self.pool = pool
        self.share = share
        self.offset = offset
        self.users: list[User] = []
        self._counts = [0] * len(self.kinds)

    def __repr__(self) -> str:
        return f"ClosedGroup({self.name!r}, users={len(self.users)})"

    @property
    def active(self) -> int:
        """Users running now."""
        return len(self.users)

    def target(self) -> tuple[int, float]:
        """This generator's users and spawn rate at the plan's time now."""
        share = self.share()
        stage = self.plan.stage_at(self.clock.now())
        if share is None or stage is None:
            return 0, 1.0
        users = share_of_users(stage.users, share, self.offset)
        return users, max(stage.spawn_rate / share.count, 1e-3)

    def run(self) -> None:
        """Start and stop users toward the target, at the spawn rate, until the plan ends."""
        tokens, last = 1.0, time.perf_counter()
        while True:
            if self.clock.state == "stopped":
                return
            users, rate = self.target()
            now = time.perf_counter()
            tokens = min(tokens + (now - last) * rate, max(1.0, rate * _CLOSED_TICK_S))
            last = now
            while tokens >= 1 and len(self.users) != users:
                self._start_one() if len(self.users) < users else self._stop_one()
                tokens -= 1
            if len(self.users) == users and self.plan.stage_at(self.clock.now()) is None:
                return
            gap_s = _CLOSED_TICK_S if len(self.users) == users else min(1 / rate, _CLOSED_TICK_S)
            gevent.sleep(gap_s)

    def _start_one(self) -> None:
        """A user of the kind furthest below its weighted share, started in the pool."""
        total_weight = sum(self.weights)
        n = len(self.users) + 1
        index = max(
            range(len(self.kinds)),
            key=lambda i: n * self.weights[i] / total_weight - self._counts[i],
        )
        user = self.kinds[index](self.environment)
        user.swarm_kind_index = index  # type: ignore[attr-defined]
        user.start(self.pool)
        self.users.append(user)
        self._counts[index] += 1

    def _stop_one(self) -> None:
        """The most recently started user stops (at once if waiting, else after its task)."""
        user = self.users.pop()
        self._counts[user.swarm_kind_index] -= 1  # type: ignore[attr-defined]
        user.stop(force=False)
