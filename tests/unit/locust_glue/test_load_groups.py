"""The engine's parts that need no process: the plan clock, the user split, the arrival pool.

The clock runs on a literal ``perf`` function; the pool's arrivals block on gevent events
the test opens itself, so nothing here waits on the wall clock.
"""

from __future__ import annotations

from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group
from locust import User, task
from locust.env import Environment

from framework.locust_glue.engine import Engine
from framework.locust_glue.load_groups import OpenGroup, PlanClock, open_user_class, share_of_users
from framework.locust_glue.telemetry import DUE_KEY
from framework.plan import rates, shapes
from framework.plan.arrivals import ArrivalTimes, Share
from framework.plan.groups import LoadGroup, LoadSchedule


class FakePerf:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_clock_runs_on_perf_and_stands_still_while_paused() -> None:
    perf = FakePerf()
    clock = PlanClock(perf)
    clock.set("running", 0.0)
    perf.now += 2.5
    assert clock.now() == 2.5
    assert clock.perf_at(3.0) == 103.0
    clock.set("paused", 2.5)
    perf.now += 10
    assert clock.now() == 2.5
    assert not clock.running.is_set()
    clock.set("running", 2.5)
    perf.now += 1
    assert clock.now() == 3.5
    assert clock.running.is_set()


def test_clock_ignores_message_delay_but_follows_a_real_jump() -> None:
    perf = FakePerf()
    clock = PlanClock(perf)
    clock.set("running", 0.0)
    perf.now += 1.0
    clock.set("running", 0.995)  # 5 ms of delay on the way: the due times stay put
    assert clock.now() == 1.0
    clock.set("running", 1.5)  # the master says 0.5 s more: believe it
    assert clock.now() == 1.5


def test_users_split_evenly_with_the_remainder_spread_by_group() -> None:
    assert [share_of_users(10, Share(i, 3)) for i in range(3)] == [4, 3, 3]
    assert [share_of_users(10, Share(i, 3), offset=1) for i in range(3)] == [3, 4, 3]
    assert [share_of_users(1, Share(i, 2), offset=1) for i in range(2)] == [0, 1]
    assert share_of_users(7, Share()) == 7


class Recorder:
    def __init__(self) -> None:
        self.started: list[tuple[str, float, int]] = []
        self.dropped: list[str] = []

    def record_arrival(self, group: str, due_s: float, lag_ms: float, in_flight: int) -> None:
        self.started.append((group, lag_ms, in_flight))

    def record_dropped(self, group: str, due_s: float, count: int = 1) -> None:
        self.dropped.extend([group] * count)


GATE = Event()
SEEN: list[dict[str, Any]] = []


class Blocking(User):
    abstract = True
    starts = 0

    def on_start(self) -> None:
        type(self).starts += 1

    @task
    def wait_for_gate(self) -> None:
        SEEN.append(self.context())
        GATE.wait()


class Flat:
    duration_s = 10.0

    def rate_at(self, elapsed_s: float) -> float | None:
        return 1.0 if elapsed_s < 10 else None

    def expected_arrivals(self, start_s: float, end_s: float) -> float:
        return min(end_s, 10.0) - min(start_s, 10.0)


def _group(recorder: Recorder, pool: Group, max_in_flight: int) -> OpenGroup:
    kind = open_user_class(Blocking)
    return OpenGroup(
        "writers",
        ArrivalTimes(Flat()),
        [kind],
        [1],
        max_in_flight,
        environment=Environment(),
        clock=PlanClock(),
        pool=pool,
        recorder=recorder,
        share=lambda: Share(),
    )


def test_arrivals_beyond_max_in_flight_are_dropped_and_instances_reused() -> None:
    GATE.clear()
    SEEN.clear()
    recorder, pool = Recorder(), Group()
    group = _group(recorder, pool, max_in_flight=2)
    kind = group.kinds[0]
    for due in (1.0, 2.0, 3.0):
        group.arrive(due)
    gevent.sleep(0)  # let the two started arrivals reach the gate
    assert [r[0] for r in recorder.started] == ["writers", "writers"]
    assert recorder.dropped == ["writers"]
    assert group.active == 2
    assert [c[DUE_KEY] for c in SEEN] == [1.0, 2.0]  # the request context carries the due time
    GATE.set()
    pool.join(timeout=5)
    assert group.active == 0
    group.arrive(4.0)
    pool.join(timeout=5)
    assert kind.starts == 2  # on_start once per instance: the third arrival reused one
    assert len(recorder.started) == 3


def test_open_user_class_is_never_spawned_by_locust_itself() -> None:
    assert open_user_class(Blocking).abstract is True
    assert issubclass(open_user_class(Blocking), Blocking)


def _engine(client_id: str) -> Engine:
    schedule = LoadSchedule.of(
        [
            LoadGroup(
                "readers",
                (0,),
                (1,),
                "closed",
                shapes.constant(users=3, spawn_rate=3, duration_s=60),
            ),
            LoadGroup("writers", (0,), (1,), "open", rates.constant(rate=5, duration_s=60)),
        ]
    )
    return Engine(Environment(), schedule, [Blocking], client_id=client_id, recorder=Recorder())


def test_engine_share_is_its_place_among_the_masters_workers() -> None:
    engine = _engine("b")
    engine.update("paused", 3.0, ["c", "a", "b"])
    assert engine.share == Share(1, 3)
    engine.update("paused", 3.5, ["c", "b"])  # a left: re-split from the same message
    assert engine.share == Share(0, 2)
    engine.update("paused", 4.0, ["a", "c"])  # not (yet) among them: no share of the load
    assert engine.share is None


def test_engine_waits_for_locusts_start_and_stops_on_stopped() -> None:
    engine = _engine("local")
    engine.update("paused", 0.0, ["local"])
    assert engine.groups == []  # not armed: on a worker the spawn (and the host) comes later
    engine.on_test_start()
    assert [g.name for g in engine.groups] == ["readers", "writers"]
    assert set(engine.active()) == {"readers", "writers"}
    engine.update("stopped", 0.0, ["local"])
    assert engine.groups == [] and not engine.armed
    assert engine.clock.state == "stopped"
