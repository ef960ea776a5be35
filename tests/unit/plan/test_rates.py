"""Open-model plans on literals: rates over time, phases, and the arrivals they lay out."""

from __future__ import annotations

import math

import pytest

from framework.plan import rates
from framework.plan.rates import RatePlan
from framework.plan.shapes import Phase


def _phases(plan: RatePlan) -> list[tuple[str, float, float, str, float | None]]:
    return [(p.name, p.start_s, p.end_s, p.kind, p.rate) for p in plan.phases]


def test_constant_rate_holds_from_the_first_moment_to_the_end():
    plan = rates.constant(rate=50, duration_s=60)
    assert _phases(plan) == [("steady", 0.0, 60.0, "plateau", 50.0)]
    assert plan.rate_at(0) == 50.0 and plan.rate_at(59.999) == 50.0
    assert plan.rate_at(60) is None
    assert plan.expected_arrivals(0, 60) == 3000.0
    assert plan.expected_arrivals(10, 10.5) == 25.0
    assert plan.peak_rate == 50.0
    assert all(p.users == 0 for p in plan.phases)


def test_stepped_without_ramp_jumps_at_each_step_and_holds_the_last():
    plan = rates.stepped(start_rate=10, step_rate=5, step_duration_s=30, steps=3, hold_s=20)
    assert _phases(plan) == [
        ("step 1", 0.0, 30.0, "plateau", 10.0),
        ("step 2", 30.0, 60.0, "plateau", 15.0),
        ("step 3", 60.0, 90.0, "plateau", 20.0),
        ("hold", 90.0, 110.0, "plateau", 20.0),
    ]
    assert plan.rate_at(29.9) == 10.0 and plan.rate_at(30) == 15.0
    assert plan.expected_arrivals(0, 110) == 300 + 450 + 600 + 400
    assert plan.peak_rate == 20.0


def test_stepped_ramps_move_linearly_from_the_previous_level_and_are_their_own_phase():
    plan = rates.stepped(start_rate=10, step_rate=10, step_duration_s=60, steps=2, ramp_s=5)
    assert _phases(plan) == [
        ("ramp-up", 0.0, 5.0, "ramp", 10.0),
        ("step 1", 5.0, 60.0, "plateau", 10.0),
        ("ramp to step 2", 60.0, 65.0, "ramp", 20.0),
        ("step 2", 65.0, 120.0, "plateau", 20.0),
    ]
    assert plan.rate_at(2.5) == 5.0
    assert plan.rate_at(62.5) == 15.0
    # 0→10 over 5 s is 25 arrivals, 10→20 over 5 s is 75
    assert plan.expected_arrivals(0, 5) == 25.0
    assert plan.expected_arrivals(60, 65) == 75.0
    assert plan.expected_arrivals(0, 120) == 25 + 550 + 75 + 1100
    assert plan.expected_arrivals(1, 2) == pytest.approx(3.0)  # rate 2 → 4 over the second


def test_spike_jumps_and_drops_at_once_unless_given_a_ramp():
    sudden = rates.spike(base_rate=5, spike_rate=50, base_s=10, spike_s=5, recovery_s=10)
    assert _phases(sudden) == [
        ("base", 0.0, 10.0, "plateau", 5.0),
        ("spike", 10.0, 15.0, "spike", 50.0),
        ("recovery", 15.0, 25.0, "plateau", 5.0),
    ]
    assert sudden.expected_arrivals(0, 25) == 50 + 250 + 50
    ramped = rates.spike(base_rate=5, spike_rate=50, base_s=10, spike_s=5, recovery_s=10, ramp_s=2)
    assert [p.name for p in ramped.phases] == [
        "ramp-up", "base", "ramp to spike", "spike", "ramp to recovery", "recovery"
    ]  # fmt: skip
    assert ramped.rate_at(11) == 27.5
    assert ramped.rate_at(16) == 27.5
    # each 2 s ramp is a trapezoid: 0→5: 5, 5→50: 55, 50→5: 55
    assert ramped.expected_arrivals(0, 25) == pytest.approx(5 + 40 + 55 + 150 + 55 + 40)
    assert ramped.peak_rate == 50.0


def test_wave_follows_the_cosine_and_its_integral_is_exact():
    plan = rates.wave(min_rate=10, max_rate=30, period_s=60, duration_s=150)
    assert _phases(plan) == [
        ("cycle 1", 0.0, 60.0, "wave", 30.0),
        ("cycle 2", 60.0, 120.0, "wave", 30.0),
        ("cycle 3", 120.0, 150.0, "wave", 30.0),
    ]
    assert plan.rate_at(0) == 10.0
    assert plan.rate_at(30) == pytest.approx(30.0)
    assert plan.rate_at(15) == pytest.approx(20.0)
    # a whole period averages (min + max) / 2
    assert plan.expected_arrivals(0, 60) == pytest.approx(1200.0)
    # the first quarter: 10·15 + 10·(15 - sin(π/2)·60/(2π))
    assert plan.expected_arrivals(0, 15) == pytest.approx(150 + 10 * (15 - 60 / (2 * math.pi)))
    assert plan.peak_rate == 30.0


def test_stages_ramp_where_asked_from_the_previous_stage():
    plan = rates.stages(stages=[(10, 20, 0), (20, 40, 4), (10, 40, 3), (10, 10, 0)])
    assert _phases(plan) == [
        ("stage 1", 0.0, 10.0, "plateau", 20.0),
        ("ramp to stage 2", 10.0, 14.0, "ramp", 40.0),
        ("stage 2", 14.0, 30.0, "plateau", 40.0),
        ("stage 3", 30.0, 40.0, "plateau", 40.0),  # no change of rate: no ramp
        ("stage 4", 40.0, 50.0, "plateau", 10.0),
    ]
    assert plan.rate_at(12) == 30.0
    assert plan.expected_arrivals(0, 50) == 200 + 120 + 640 + 400 + 100


def test_a_ramp_as_long_as_its_stage_never_holds_the_level():
    plan = rates.stages(stages=[(10, 20, 10)])
    assert _phases(plan) == [("ramp-up", 0.0, 10.0, "ramp", 20.0)]
    assert plan.expected_arrivals(0, 10) == 100.0


def test_expected_arrivals_stop_at_the_end_of_the_plan():
    plan = rates.constant(rate=10, duration_s=5)
    assert plan.expected_arrivals(0, 100) == 50.0
    assert plan.expected_arrivals(5, 10) == 0.0


def test_a_rule_without_an_integral_is_integrated_numerically():
    plan = RatePlan(
        "custom", 10.0, (Phase("all", 0, 10, 0, "plateau", rate=20.0),), lambda t: 2 * t
    )
    assert plan.expected_arrivals(0, 10) == pytest.approx(100.0, rel=1e-3)


@pytest.mark.parametrize("elapsed", [-1, math.nan])
def test_a_negative_or_nan_time_is_a_caller_bug(elapsed):
    with pytest.raises(ValueError, match="elapsed_s must be >= 0"):
        rates.constant(rate=1, duration_s=1).rate_at(elapsed)


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 2), (0, math.nan), (0, math.inf)])
def test_expected_arrivals_refuse_a_window_that_is_not_one(start, end):
    with pytest.raises(ValueError, match="0 <= start_s <= end_s"):
        rates.constant(rate=1, duration_s=1).expected_arrivals(start, end)


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (rates.constant, {"rate": 0, "duration_s": 1}, "constant: rate must be > 0, got 0"),
        (rates.constant, {"rate": -5, "duration_s": 1}, "constant: rate must be > 0, got -5"),
        (rates.constant, {"rate": True, "duration_s": 1}, "rate must be a finite number"),
        (rates.constant, {"rate": math.inf, "duration_s": 1}, "rate must be a finite number"),
        (
            rates.stepped,
            {"start_rate": 1, "step_rate": 1, "step_duration_s": 1, "steps": 0},
            "stepped: steps must be >= 1, got 0",
        ),
        (
            rates.stepped,
            {"start_rate": 1, "step_rate": 1, "step_duration_s": 1, "steps": 1, "ramp_s": -1},
            "stepped: ramp_s must be >= 0, got -1",
        ),
        (
            rates.spike,
            {"base_rate": 5, "spike_rate": 5, "base_s": 1, "spike_s": 1, "recovery_s": 1},
            "spike: spike_rate must be > base_rate",
        ),
        (
            rates.wave,
            {"min_rate": 5, "max_rate": 2, "period_s": 1, "duration_s": 1},
            "wave: max_rate must be > min_rate",
        ),
        (rates.stages, {"stages": []}, "stages: stages must be a non-empty list"),
        (rates.stages, {"stages": [(1, 2)]}, r"stages\[0\] must be \(duration_s, rate, ramp_s\)"),
        (rates.stages, {"stages": [(1, 0, 0)]}, r"stages\[0\].rate must be > 0, got 0"),
    ],
)
def test_factories_name_themselves_the_argument_and_the_value(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


def test_plans_compare_by_value():
    assert rates.wave(min_rate=1, max_rate=2, period_s=3, duration_s=4) == rates.wave(
        min_rate=1, max_rate=2, period_s=3, duration_s=4
    )
    assert rates.constant(rate=1, duration_s=2) != rates.constant(rate=2, duration_s=2)
