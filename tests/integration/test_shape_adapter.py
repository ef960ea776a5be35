"""The LoadTestShape adapter driving a real (local, in-process) Locust runner.

No network: the user's only task sleeps. Each test polls the runner with a deadline, so a
shape that never ends fails the test in seconds instead of hanging the suite.
"""

from __future__ import annotations

import time

import gevent
import pytest
from locust import User, task
from locust.env import Environment
from locust.runners import STATE_STOPPED

from framework.locust_glue.shape import shape_class
from framework.plan.shapes import stages

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

POLL_S = 0.05
DEADLINE_S = 6.0


class IdleUser(User):
    """Does nothing but yield, so the test measures the shape, not a target."""

    @task
    def idle(self) -> None:
        gevent.sleep(0.01)


def _two_stage_plan():
    return stages(stages=[(1, 2, 20), (1, 4, 20)])


def _sample_until_stopped(runner, deadline_s: float) -> list[tuple[float, int]]:
    """``(seconds since call, user_count)`` every POLL_S until the runner stops or time runs out."""
    start = time.monotonic()
    samples = []
    while time.monotonic() - start < deadline_s:
        samples.append((time.monotonic() - start, runner.user_count))
        if runner.state == STATE_STOPPED:
            break
        gevent.sleep(POLL_S)
    return samples


def _users_seen(samples, lo_s: float, hi_s: float) -> set[int]:
    return {users for t, users in samples if lo_s <= t < hi_s}


@pytest.fixture
def env():
    shape = shape_class(_two_stage_plan())()
    environment = Environment(user_classes=[IdleUser], shape_class=shape)
    environment.create_local_runner()
    yield environment
    environment.runner.quit()


def test_shape_class_is_a_concrete_load_test_shape_named_for_the_plan():
    shape_type = shape_class(_two_stage_plan())
    assert shape_type.__name__ == "StagesShape"
    assert shape_type.abstract is False
    assert shape_type.use_common_options is False
    assert shape_type().tick() == (2, 20.0)


def test_runner_follows_plan_and_ends_by_itself(env):
    env.runner.start_shape()
    samples = _sample_until_stopped(env.runner, DEADLINE_S)

    assert env.runner.state == STATE_STOPPED, f"shape did not end in {DEADLINE_S}s: {samples}"
    # the shape greenlet ticks about once a second: 2 users in stage 1, 4 in stage 2
    assert _users_seen(samples, 0.5, 0.9) == {2}, samples
    assert _users_seen(samples, 1.5, 1.9) == {4}, samples
    assert max(users for _, users in samples) == 4
    ended_s = samples[-1][0]
    assert 1.9 <= ended_s < 3.5, samples
    assert env.runner.user_count == 0


def test_restarting_replays_the_plan_from_zero(env):
    env.runner.start_shape()
    gevent.sleep(1.5)
    assert env.runner.user_count == 4
    env.runner.stop()
    assert env.runner.user_count == 0

    env.runner.start_shape()
    samples = _sample_until_stopped(env.runner, DEADLINE_S)

    assert _users_seen(samples, 0.5, 0.9) == {2}, samples  # stage 1 again, not stage 2 or the end
    assert _users_seen(samples, 1.5, 1.9) == {4}, samples
    assert env.runner.state == STATE_STOPPED
    assert 1.9 <= samples[-1][0] < 3.5, samples
