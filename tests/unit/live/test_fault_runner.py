"""The fault runner on literal plan times: starts, ends, pauses, failures and the run's end."""

from __future__ import annotations

from framework.live.faults import (
    FaultActionError,
    FaultActions,
    FaultRunner,
    mock_body,
    run_command,
)
from framework.plan.faults import PlannedFault


class _Actions(FaultActions):
    def __init__(self, fail: str | None = None) -> None:
        self.done: list[tuple] = []
        self.fail = fail

    def start(self, fault, remaining_s):
        if self.fail == "start":
            raise FaultActionError("PUT http://h:1/admin/faults: connection refused")
        self.done.append(("start", fault.name, remaining_s))

    def renew(self, fault, remaining_s):
        self.done.append(("renew", fault.name, remaining_s))

    def end(self, fault):
        if self.fail == "end":
            raise FaultActionError("DELETE failed")
        self.done.append(("end", fault.name))


_OUTAGE = PlannedFault("outage", 10.0, 20.0, "mock", "http://h:1", {"outage": True})
_LATER = PlannedFault("later", 50.0, 55.0, "command", "true", {"start": "true"})


def _runner(actions):
    changes = []
    return FaultRunner([_OUTAGE, _LATER], actions=actions, on_change=changes.append), changes


def test_faults_start_and_end_as_the_plan_clock_passes_their_times():
    actions = _Actions()
    runner, changes = _runner(actions)
    for plan_s in (0.0, 9.9, 10.05, 15.0, 20.1):
        runner.step(plan_s)
    assert actions.done == [("start", "outage", 9.95), ("end", "outage")]
    assert [(c.name, c.status, c.plan_s) for c in changes] == [
        ("outage", "active", 10.05), ("outage", "ended", 20.1)
    ]  # fmt: skip


def test_the_runs_end_ends_what_is_in_force_and_skips_what_never_started():
    actions = _Actions()
    runner, changes = _runner(actions)
    runner.step(12.0)
    runner.finish(13.0, "the run was stopped")
    assert actions.done[-1] == ("end", "outage")
    assert [(c.name, c.status, c.error) for c in changes[1:]] == [
        ("outage", "ended", "ended early: the run was stopped"),
        ("later", "skipped", "not started: the run was stopped"),
    ]
    assert runner.done


def test_a_failed_start_is_recorded_not_raised():
    runner, changes = _runner(_Actions(fail="start"))
    runner.step(10.0)
    assert (changes[0].status, changes[0].error) == (
        "failed", "PUT http://h:1/admin/faults: connection refused"
    )  # fmt: skip
    runner.step(25.0)  # nothing to end
    assert len(changes) == 1


def test_a_failed_end_is_recorded_as_failed():
    runner, changes = _runner(_Actions(fail="end"))
    runner.step(10.0)
    runner.step(21.0)
    assert (changes[-1].status, changes[-1].error) == ("failed", "ending it: DELETE failed")


def test_a_resume_renews_the_faults_in_force_for_what_is_left():
    actions = _Actions()
    runner, _ = _runner(actions)
    runner.step(11.0)
    runner.resume(14.0)
    assert actions.done[-1] == ("renew", "outage", 6.0)


def test_mock_body_sets_the_duration_and_hang_is_every_request_timing_out():
    assert mock_body({"hang": True, "error_rate": 0.5}, 4.0) == {
        "duration_s": 4.0, "timeout_probability": 1.0, "error_rate": 0.5
    }  # fmt: skip
    assert mock_body({"outage": True}, 0.0)["duration_s"] > 0


def test_a_failing_or_slow_command_raises_a_clear_error():
    for command, timeout_s, words in (("exit 3", 5.0, "exited with code 3"),
                                      ("sleep 5", 0.2, "timed out after 0.2 s")):  # fmt: skip
        try:
            run_command(command, timeout_s)
        except FaultActionError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(command)
