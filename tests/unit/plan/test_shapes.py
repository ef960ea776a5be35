"""Pure load shapes, checked over their whole timelines on literals (no Locust, no clock)."""

from __future__ import annotations

import math

import pytest

from framework.plan.shapes import LoadPlan, Phase, Stage, constant, spike, stages, stepped, wave


def _users(plan: LoadPlan, times: list[float]) -> list[int]:
    return [plan.users_at(t) for t in times]


def _phase_rows(plan: LoadPlan) -> list[tuple[str, float, float, int, str]]:
    return [(p.name, p.start_s, p.end_s, p.users, p.kind) for p in plan.phases]


def _assert_contiguous(plan: LoadPlan) -> None:
    assert plan.phases[0].start_s == 0
    assert plan.phases[-1].end_s == plan.duration_s
    for before, after in zip(plan.phases, plan.phases[1:], strict=False):
        assert before.end_s == after.start_s


# --- constant ---


def test_constant_holds_users_until_duration_then_ends():
    plan = constant(users=10, spawn_rate=3, duration_s=60)
    assert plan.name == "constant"
    assert plan.duration_s == 60
    assert plan.stage_at(0) == Stage(users=10, spawn_rate=3.0)
    assert plan.stage_at(59.999) == Stage(users=10, spawn_rate=3.0)
    assert plan.stage_at(60) is None
    assert plan.stage_at(1e9) is None
    assert plan.users_at(60) == 0


def test_constant_splits_ceil_of_users_over_rate_as_ramp_up():
    plan = constant(users=10, spawn_rate=3, duration_s=60)
    assert _phase_rows(plan) == [
        ("ramp-up", 0.0, 4.0, 10, "ramp"),
        ("steady", 4.0, 60.0, 10, "plateau"),
    ]
    _assert_contiguous(plan)


def test_ramp_longer_than_plan_covers_whole_plan():
    plan = constant(users=100, spawn_rate=1, duration_s=30)
    assert _phase_rows(plan) == [("ramp-up", 0.0, 30.0, 100, "ramp")]


# --- stepped ---


def test_stepped_targets_each_level_for_its_step_then_holds_then_ends():
    plan = stepped(
        start_users=10, step_users=5, step_duration_s=60, steps=3, spawn_rate=5, hold_s=30
    )
    assert plan.duration_s == 210
    assert _users(plan, [0, 59.9, 60, 119.9, 120, 179.9, 180, 209.9, 210]) == [
        10, 10, 15, 15, 20, 20, 20, 20, 0,
    ]  # fmt: skip
    assert plan.stage_at(100) == Stage(users=15, spawn_rate=5.0)
    assert plan.stage_at(210) is None


def test_stepped_phases_give_each_step_its_own_plateau_after_its_ramp():
    plan = stepped(
        start_users=10, step_users=5, step_duration_s=60, steps=3, spawn_rate=2, hold_s=30
    )
    assert _phase_rows(plan) == [
        ("ramp-up", 0.0, 5.0, 10, "ramp"),
        ("step 1", 5.0, 60.0, 10, "plateau"),
        ("ramp to step 2", 60.0, 63.0, 15, "ramp"),
        ("step 2", 63.0, 120.0, 15, "plateau"),
        ("ramp to step 3", 120.0, 123.0, 20, "ramp"),
        ("step 3", 123.0, 180.0, 20, "plateau"),
        ("hold", 180.0, 210.0, 20, "plateau"),
    ]
    _assert_contiguous(plan)


def test_stepped_without_hold_ends_after_last_step():
    plan = stepped(start_users=1, step_users=1, step_duration_s=10, steps=2, spawn_rate=1)
    assert plan.duration_s == 20
    assert plan.phases[-1].name == "step 2"
    assert plan.stage_at(19.99) == Stage(2, 1.0)
    assert plan.stage_at(20) is None


def test_stepped_can_step_down():
    plan = stepped(start_users=30, step_users=-10, step_duration_s=10, steps=3, spawn_rate=10)
    assert _users(plan, [0, 10, 20, 30]) == [30, 20, 10, 0]
    assert plan.phases[2] == Phase("ramp to step 2", 10.0, 11.0, 20, "ramp")


def test_stepped_fractional_step_boundaries_are_exact():
    plan = stepped(start_users=1, step_users=1, step_duration_s=0.1, steps=5, spawn_rate=100)
    assert _users(plan, [0.0, 0.1, 0.2, 0.3, 0.4]) == [1, 2, 3, 4, 5]


# --- spike ---


def test_spike_goes_base_then_spike_then_back_to_base():
    plan = spike(base_users=10, spike_users=100, base_s=60, spike_s=30, recovery_s=60, spawn_rate=2)
    assert plan.duration_s == 150
    assert plan.stage_at(0) == Stage(10, 2.0)
    assert plan.stage_at(59.9) == Stage(10, 2.0)
    assert plan.stage_at(60) == Stage(100, 100.0)  # default spike_spawn_rate = spike_users
    assert plan.stage_at(89.9) == Stage(100, 100.0)
    assert plan.stage_at(90) == Stage(10, 100.0)  # the drop is as sharp as the jump
    assert plan.stage_at(149.9) == Stage(10, 100.0)
    assert plan.stage_at(150) is None


def test_spike_phases_mark_one_second_edges_by_default():
    plan = spike(base_users=10, spike_users=100, base_s=60, spike_s=30, recovery_s=60, spawn_rate=2)
    assert _phase_rows(plan) == [
        ("ramp-up", 0.0, 5.0, 10, "ramp"),
        ("base", 5.0, 60.0, 10, "plateau"),
        ("ramp to spike", 60.0, 61.0, 100, "ramp"),
        ("spike", 61.0, 90.0, 100, "spike"),
        ("ramp to recovery", 90.0, 91.0, 10, "ramp"),
        ("recovery", 91.0, 150.0, 10, "plateau"),
    ]
    _assert_contiguous(plan)


def test_spike_honours_explicit_spike_spawn_rate():
    plan = spike(
        base_users=0,
        spike_users=50,
        base_s=10,
        spike_s=20,
        recovery_s=10,
        spawn_rate=1,
        spike_spawn_rate=10,
    )
    assert plan.stage_at(15) == Stage(50, 10.0)
    assert [p.name for p in plan.phases] == [
        "base", "ramp to spike", "spike", "ramp to recovery", "recovery",
    ]  # fmt: skip
    assert plan.phases[1] == Phase("ramp to spike", 10.0, 15.0, 50, "ramp")


# --- wave ---


def test_wave_follows_cosine_from_min_to_max_and_back():
    plan = wave(min_users=10, max_users=30, period_s=60, duration_s=120, spawn_rate=10)
    assert _users(plan, [0, 15, 30, 45, 60, 90, 119.999, 120]) == [10, 20, 30, 20, 10, 30, 10, 0]
    assert plan.stage_at(30) == Stage(30, 10.0)
    assert plan.stage_at(120) is None


def test_wave_rounds_half_up():
    plan = wave(min_users=0, max_users=1, period_s=4, duration_s=4, spawn_rate=1)
    assert plan.users_at(1) == 1  # exactly 0.5 → 1
    assert plan.users_at(0.5) == 0  # (1 - cos(π/4)) / 2 ≈ 0.146


def test_wave_phases_are_ramp_then_one_per_period_with_partial_last():
    plan = wave(min_users=5, max_users=25, period_s=60, duration_s=150, spawn_rate=5)
    assert _phase_rows(plan) == [
        ("ramp-up", 0.0, 1.0, 5, "ramp"),
        ("cycle 1", 1.0, 60.0, 25, "wave"),
        ("cycle 2", 60.0, 120.0, 25, "wave"),
        ("cycle 3", 120.0, 150.0, 25, "wave"),
    ]
    _assert_contiguous(plan)
    assert plan.peak_users == 25


def test_wave_from_zero_has_no_ramp_phase():
    plan = wave(min_users=0, max_users=4, period_s=10, duration_s=10, spawn_rate=2)
    assert _phase_rows(plan) == [("cycle 1", 0.0, 10.0, 4, "wave")]


# --- stages ---


def test_stages_hold_each_target_for_its_duration():
    plan = stages(stages=[(10, 5, 1), (20, 20, 5), (10, 0, 10)])
    assert plan.name == "stages"
    assert plan.duration_s == 40
    assert plan.stage_at(0) == Stage(5, 1.0)
    assert plan.stage_at(9.99) == Stage(5, 1.0)
    assert plan.stage_at(10) == Stage(20, 5.0)
    assert plan.stage_at(30) == Stage(0, 10.0)
    assert plan.stage_at(40) is None


def test_stages_phases_ramp_up_and_down():
    plan = stages(stages=[(10, 5, 1), (20, 20, 5), (10, 0, 10)])
    assert _phase_rows(plan) == [
        ("ramp-up", 0.0, 5.0, 5, "ramp"),
        ("stage 1", 5.0, 10.0, 5, "plateau"),
        ("ramp to stage 2", 10.0, 13.0, 20, "ramp"),
        ("stage 2", 13.0, 30.0, 20, "plateau"),
        ("ramp to stage 3", 30.0, 32.0, 0, "ramp"),
        ("stage 3", 32.0, 40.0, 0, "plateau"),
    ]
    _assert_contiguous(plan)


def test_stages_unchanged_target_has_no_ramp():
    plan = stages(stages=[(5, 2, 10), (5, 2, 1)])
    assert [p.name for p in plan.phases] == ["ramp-up", "stage 1", "stage 2"]


def test_ramp_after_unfinished_ramp_starts_from_level_reached():
    # stage 1 only reaches 5 of its 100 users (1/s for 5 s), so going to 10 is a 5-user ramp.
    plan = stages(stages=[(5, 100, 1), (20, 10, 1)])
    assert _phase_rows(plan) == [
        ("ramp-up", 0.0, 5.0, 100, "ramp"),
        ("ramp to stage 2", 5.0, 10.0, 10, "ramp"),
        ("stage 2", 10.0, 25.0, 10, "plateau"),
    ]


def test_stages_accepts_tuples_of_any_sequence():
    assert stages(stages=([1, 2, 3.5],)).stage_at(0) == Stage(2, 3.5)


# --- the plan itself ---


def test_negative_or_nan_elapsed_is_rejected():
    plan = constant(users=1, spawn_rate=1, duration_s=1)
    with pytest.raises(ValueError, match=r"constant: elapsed_s must be >= 0, got -1"):
        plan.stage_at(-1)
    with pytest.raises(ValueError, match="elapsed_s"):
        plan.stage_at(math.nan)


def test_phase_at_finds_containing_phase():
    plan = constant(users=10, spawn_rate=5, duration_s=10)
    assert plan.phase_at(0).name == "ramp-up"
    assert plan.phase_at(2).name == "steady"
    assert plan.phase_at(10) is None
    assert plan.phases[1].duration_s == 8


def test_plans_are_values():
    a = stepped(start_users=1, step_users=1, step_duration_s=1, steps=2, spawn_rate=1)
    b = stepped(start_users=1, step_users=1, step_duration_s=1, steps=2, spawn_rate=1)
    assert a == b
    assert a != stepped(start_users=1, step_users=1, step_duration_s=1, steps=2, spawn_rate=2)
    with pytest.raises(AttributeError):
        a.duration_s = 5  # type: ignore[misc]


# --- validation: each message names the factory, the argument and the value ---


_VALID = {
    constant: {"users": 1, "spawn_rate": 1, "duration_s": 1},
    stepped: {"start_users": 1, "step_users": 1, "step_duration_s": 1, "steps": 1, "spawn_rate": 1},
    spike: {
        "base_users": 1, "spike_users": 10, "base_s": 1, "spike_s": 1, "recovery_s": 1,
        "spawn_rate": 1,
    },
    wave: {"min_users": 1, "max_users": 5, "period_s": 1, "duration_s": 1, "spawn_rate": 1},
    stages: {"stages": [(1, 2, 1)]},
}  # fmt: skip


@pytest.mark.parametrize(
    ("factory", "changes", "message"),
    [
        (constant, {"users": 0}, "constant: users must be >= 1, got 0"),
        (constant, {"users": 1.5}, "constant: users must be an integer, got 1.5"),
        (constant, {"users": True}, "constant: users must be an integer, got True"),
        (constant, {"spawn_rate": 0}, "constant: spawn_rate must be > 0, got 0"),
        (constant, {"duration_s": -5}, "constant: duration_s must be > 0, got -5"),
        (
            constant,
            {"spawn_rate": math.inf},
            "constant: spawn_rate must be a finite number, got inf",
        ),
        (constant, {"duration_s": "60"}, "constant: duration_s must be a finite number, got '60'"),
        (stepped, {"steps": 0}, "stepped: steps must be >= 1, got 0"),
        (stepped, {"start_users": -1}, "stepped: start_users must be >= 0, got -1"),
        (stepped, {"step_duration_s": 0}, "stepped: step_duration_s must be > 0, got 0"),
        (stepped, {"hold_s": -1}, "stepped: hold_s must be >= 0, got -1"),
        (
            stepped,
            {"start_users": 5, "step_users": -6},
            "stepped: step_users must be >= -5, got -6",
        ),
        (
            stepped,
            {"start_users": 10, "step_users": -5, "steps": 4},
            "stepped: start_users + (steps - 1) * step_users must be >= 0, got -5 "
            "(start_users=10, step_users=-5, steps=4)",
        ),
        (spike, {"base_users": 10}, "spike: spike_users must be >= 11, got 10"),
        (spike, {"spike_s": 0}, "spike: spike_s must be > 0, got 0"),
        (spike, {"spike_spawn_rate": -2}, "spike: spike_spawn_rate must be > 0, got -2"),
        (wave, {"min_users": 5}, "wave: max_users must be >= 6, got 5"),
        (wave, {"period_s": 0}, "wave: period_s must be > 0, got 0"),
        (
            stages,
            {"stages": []},
            "stages: stages must be a non-empty list of (duration_s, users, spawn_rate), got []",
        ),
        (
            stages,
            {"stages": [(1, 2)]},
            "stages: stages[0] must be (duration_s, users, spawn_rate), got (1, 2)",
        ),
        (
            stages,
            {"stages": [(1, 2, 1), (1, -5, 1)]},
            "stages: stages[1].users must be >= 0, got -5",
        ),
        (stages, {"stages": [(0, 2, 1)]}, "stages: stages[0].duration_s must be > 0, got 0"),
        (stages, {"stages": [(1, 2, 0)]}, "stages: stages[0].spawn_rate must be > 0, got 0"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_argument_and_value(factory, changes, message):
    with pytest.raises(ValueError) as info:
        factory(**{**_VALID[factory], **changes})
    assert str(info.value) == message


def test_valid_baseline_arguments_are_accepted():
    for factory, kwargs in _VALID.items():
        assert isinstance(factory(**kwargs), LoadPlan)


def test_factories_are_keyword_only():
    with pytest.raises(TypeError):
        constant(10, 1, 60)  # type: ignore[misc]
