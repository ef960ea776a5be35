"""The one Locust ``LoadTestShape``: it reads the clock and asks a pure ``LoadPlan`` what to do.

All of the shape logic lives in :mod:`framework.plan.shapes`, where it is tested without Locust;
this adapter only turns the plan's clock into ``plan.stage_at(elapsed_s)``. The clock is the
live feed's ``plan_elapsed_s``: time since the run started running, less the time it spent
paused, so pausing freezes the plan and resuming continues it where it stopped (a run
paused for 30 s ends 30 s after its planned duration). While paused the shape keeps asking
for the same users: they wait at the pause gate (``framework.locust_glue.control``)
instead of being stopped, which would kill their requests in flight and lose them.

Restarts need nothing extra: Locust 2.47 calls ``reset_time()`` on the shape instance in
``Runner.start_shape()`` and again when the first ``start()`` of a run begins spawning, so
stopping and restarting a test from the web UI (or a new headless run) replays the plan from
0 s. ``tick()`` is polled about once a second by the runner's shape greenlet, so a target
change lands within ~1 s of its scheduled time and ``None`` (the end) within ~1 s of
``duration_s``.
"""

from __future__ import annotations

import time
from typing import ClassVar

from locust import LoadTestShape

from framework.locust_glue.telemetry import feed_of
from framework.plan.shapes import LoadPlan

__all__ = ["shape_class"]

_PLAN_STATES = ("running", "paused")


def shape_class(plan: LoadPlan) -> type[LoadTestShape]:
    """A ``LoadTestShape`` subclass that runs ``plan``; Locust's ``Environment`` wants an instance.

    The class is named after the plan (``"SteppedShape"``, ``"SpikeShape"``, …) because the
    web UI lists shapes by class name. ``use_common_options`` stays ``False``: the plan fixes
    users, spawn rate and run time, so Locust warns that ``-u``, ``-r`` and ``-t`` are ignored
    instead of silently mixing them in.

        >>> from framework.plan.shapes import constant
        >>> Shape = shape_class(constant(users=5, spawn_rate=5, duration_s=60))
        >>> Shape.__name__, Shape.plan.duration_s
        ('ConstantShape', 60.0)
    """

    the_plan = plan  # a class body can't see an enclosing name it also assigns

    class PlanShape(LoadTestShape):
        __doc__ = f"Runs the swarm {the_plan.name!r} load plan ({the_plan.duration_s:g} s)."

        plan: ClassVar[LoadPlan] = the_plan
        use_common_options: ClassVar[bool] = False

        def tick(self) -> tuple[int, float] | None:
            """``(user_count, spawn_rate)`` at the plan's elapsed time, or ``None`` to stop."""
            stage = self.plan.stage_at(self.plan_elapsed_s(time.time()))
            return None if stage is None else (stage.users, stage.spawn_rate)

        def plan_elapsed_s(self, now_s: float) -> float:
            """Where the plan is: the live feed's clock, which stands still while the run
            is paused; Locust's run time when no feed runs this test (a worker, a library
            user without telemetry, a web-UI start the feed has not begun)."""
            runner = self.runner
            feed = feed_of(runner.environment) if runner is not None else None
            if feed is not None and feed.state in _PLAN_STATES:
                return feed.plan_elapsed_s(now_s)
            return self.get_run_time()

    # a schedule of several groups is named "constant + spike": keep letters and digits only
    name = "".join(ch for ch in plan.name.title() if ch.isalnum()) + "Shape"
    PlanShape.__name__ = PlanShape.__qualname__ = name
    return PlanShape
