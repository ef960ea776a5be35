"""``--time-scale F`` on the pure plan: every duration times F, every stated spawn rate over F,
for every shape; the scaled plan is the one written with the scaled numbers."""

from __future__ import annotations

import math
import typing
from typing import Any

import pytest
from pydantic import BeforeValidator, TypeAdapter

from framework.durations import parse_duration
from framework.plan.load_plan import SCALED_FIELDS, plan_for, scale_load
from framework.scenario.model import (
    ClosedLoadSpec,
    LoadSpec,
    OpenLoadSpec,
    OpenStagesLoad,
    OpenStageSpec,
    StagesLoad,
    StageSpec,
)

LOAD = TypeAdapter(LoadSpec)

SHAPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # shape: (the load as written, the same load written by hand at a tenth of the time)
    "constant": (
        {"shape": "constant", "users": 50, "spawn_rate": 5, "duration": "1h"},
        {"shape": "constant", "users": 50, "spawn_rate": 50, "duration": "6m"},
    ),
    "stepped": (
        {"shape": "stepped", "start_users": 10, "step_users": 10, "step_duration": "5m",
         "steps": 3, "hold": "10m", "spawn_rate": 2},
        {"shape": "stepped", "start_users": 10, "step_users": 10, "step_duration": "30s",
         "steps": 3, "hold": "1m", "spawn_rate": 20},
    ),
    "spike": (
        {"shape": "spike", "base_users": 10, "spike_users": 100, "base_duration": "2m",
         "spike_duration": "1m", "recovery_duration": "3m", "spawn_rate": 5,
         "spike_spawn_rate": 50},
        {"shape": "spike", "base_users": 10, "spike_users": 100, "base_duration": "12s",
         "spike_duration": "6s", "recovery_duration": "18s", "spawn_rate": 50,
         "spike_spawn_rate": 500},
    ),
    "wave": (
        {"shape": "wave", "min_users": 10, "max_users": 50, "period": "10m",
         "duration": "30m", "spawn_rate": 1},
        {"shape": "wave", "min_users": 10, "max_users": 50, "period": "1m",
         "duration": "3m", "spawn_rate": 10},
    ),
    "stages": (
        {"shape": "stages", "stages": [
            {"duration": "1m", "users": 20, "spawn_rate": 1},
            {"duration": "4m", "users": 60, "spawn_rate": 2},
            {"duration": "30s", "users": 0, "spawn_rate": 10},
        ]},
        {"shape": "stages", "stages": [
            {"duration": "6s", "users": 20, "spawn_rate": 10},
            {"duration": "24s", "users": 60, "spawn_rate": 20},
            {"duration": "3s", "users": 0, "spawn_rate": 100},
        ]},
    ),
}  # fmt: skip


def _load(data: dict[str, Any]) -> Any:
    return LOAD.validate_python(data)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_tenth_of_the_time_is_the_plan_written_with_a_tenth_of_every_duration(shape):
    written, by_hand = SHAPES[shape]
    assert plan_for(_load(written), time_scale=0.1) == plan_for(_load(by_hand))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("factor", [0.1, 0.5, 2.0, 3.0])
def test_every_shape_keeps_its_levels_at_the_scaled_times(shape, factor):
    plan = plan_for(_load(SHAPES[shape][0]))
    scaled = plan_for(_load(SHAPES[shape][0]), time_scale=factor)
    assert scaled.name == plan.name
    assert scaled.duration_s == pytest.approx(plan.duration_s * factor)
    assert scaled.peak_users == plan.peak_users
    plateaus = [p for p in plan.phases if p.kind != "ramp"]
    assert plateaus
    for phase in plateaus:  # the middle of each plateau, and the crest of each wave
        t = (phase.start_s + phase.end_s) / 2
        before, after = plan.stage_at(t), scaled.stage_at(t * factor)
        assert after.users == before.users, (phase.name, t)
        assert after.spawn_rate == pytest.approx(before.spawn_rate / factor)
    assert scaled.stage_at(plan.duration_s * factor) is None


@pytest.mark.parametrize("shape", SHAPES)
def test_every_ramp_still_reaches_its_target_within_its_scaled_stage(shape):
    scaled = plan_for(_load(SHAPES[shape][0]), time_scale=0.1)
    level = 0
    for phase in scaled.phases:
        if phase.kind == "ramp":
            rate = scaled.stage_at(phase.start_s).spawn_rate
            assert abs(phase.users - level) / rate <= phase.duration_s + 1e-9, phase
        if phase.kind != "wave":
            level = phase.users


def test_a_spawn_rate_left_to_its_default_still_means_within_about_a_second():
    constant = _load({"shape": "constant", "users": 40, "duration": "10m"})
    scaled = plan_for(constant, time_scale=0.1)
    assert scaled.stage_at(0).spawn_rate == 40.0
    assert scaled.duration_s == 60.0
    spike = _load(SHAPES["spike"][0] | {"spike_spawn_rate": None})
    scaled_spike = plan_for(spike, time_scale=0.1)
    spike_phase = next(p for p in scaled_spike.phases if p.kind == "spike")
    assert scaled_spike.stage_at(spike_phase.start_s).spawn_rate == 100.0  # spike_users per s


def test_decimal_scales_add_up_as_written():
    stage = {"duration": 30, "users": 1, "spawn_rate": 1}
    stages = _load({"shape": "stages", "stages": [stage] * 3})
    scaled = plan_for(stages, time_scale=0.1)
    assert scaled.duration_s == 9.0
    assert [p.end_s for p in scaled.phases][-1] == 9.0


def test_a_scale_of_one_is_the_plan_as_written():
    for written, _ in SHAPES.values():
        assert plan_for(_load(written), time_scale=1.0) == plan_for(_load(written))


def test_the_scenario_s_load_section_itself_is_left_as_written():
    load = _load(SHAPES["constant"][0])
    scaled = scale_load(load, 0.1)
    assert (load.duration, load.spawn_rate) == (3600.0, 5.0)
    assert (scaled.duration, scaled.spawn_rate) == (360.0, 50.0)


@pytest.mark.parametrize("factor", [0, -1, math.nan, math.inf, True, "0.1", None])
def test_a_scale_that_is_not_a_finite_number_above_zero_is_refused(factor):
    with pytest.raises(ValueError, match="time_scale must be a"):
        plan_for(_load(SHAPES["constant"][0]), time_scale=factor)


def _is_duration(info: Any) -> bool:
    return any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in info.metadata)


def _members(spec: Any) -> list[Any]:
    return list(typing.get_args(typing.get_args(spec)[0]))


def test_every_duration_and_spawn_rate_of_every_load_model_is_scaled():
    """A duration field added to a shape later fails here until ``--time-scale`` scales it.
    Open models' ramps are durations; their arrival rates are levels and are not scaled."""
    members = _members(ClosedLoadSpec) + _members(OpenLoadSpec)
    models = {m for m in members if m not in (StagesLoad, OpenStagesLoad)}
    models |= {StageSpec, OpenStageSpec}
    assert set(SCALED_FIELDS) == models
    for model in models:
        durations = {n for n, info in model.model_fields.items() if _is_duration(info)}
        rates = {n for n in model.model_fields if "spawn_rate" in n}
        assert (set(SCALED_FIELDS[model][0]), set(SCALED_FIELDS[model][1])) == (
            durations,
            rates,
        ), model.__name__
    assert set(StagesLoad.model_fields) == {"model", "shape", "stages"}
    assert set(OpenStagesLoad.model_fields) == {
        "model", "shape", "stages", "arrivals", "max_in_flight"
    }  # fmt: skip
    assert {_members(LoadSpec)[0], _members(LoadSpec)[1]} == {ClosedLoadSpec, OpenLoadSpec}
