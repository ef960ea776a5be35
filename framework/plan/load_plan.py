"""Turn a scenario's ``load`` section into a pure ``LoadPlan`` (one factory per shape).

``--time-scale F`` is applied here, to the section, before the plan is made: every duration
is multiplied by ``F`` and every spawn rate the scenario states is divided by it, so the
plan is the one a person would get by writing the scaled numbers into the file. Each ramp
then takes ``F`` times as long and still reaches its target within its scaled stage, and
the plan's phases (ramps split off at ``ceil(|Δusers| / spawn_rate)`` whole seconds) are
computed for the scaled plan, not scaled afterwards. A spawn rate left to its default
(``constant`` and ``spike_spawn_rate``: "within about a second") keeps that meaning.

    >>> from framework.scenario.model import ConstantLoad
    >>> soak = ConstantLoad(shape="constant", users=50, spawn_rate=5, duration=3600)
    >>> plan = plan_for(soak, time_scale=0.1)
    >>> plan.duration_s, plan.stage_at(0)
    (360.0, Stage(users=50, spawn_rate=50.0))
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from framework.plan import rates, shapes
from framework.plan.rates import RatePlan
from framework.plan.record import PlanRecord
from framework.plan.shapes import LoadPlan
from framework.scenario.model import (
    ConstantLoad,
    FindCapacityLoad,
    LoadSpec,
    OpenConstantLoad,
    OpenFindCapacityLoad,
    OpenLoadSpec,
    OpenSpikeLoad,
    OpenStagesLoad,
    OpenStageSpec,
    OpenSteppedLoad,
    OpenWaveLoad,
    SpikeLoad,
    StagesLoad,
    StageSpec,
    SteppedLoad,
    WaveLoad,
)

__all__ = [
    "FIND_CAPACITY",
    "SCALED_FIELDS",
    "plan_for",
    "plan_record",
    "rate_plan_for",
    "scale_load",
]

SCALED_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ConstantLoad: (("duration",), ("spawn_rate",)),
    SteppedLoad: (("step_duration", "hold"), ("spawn_rate",)),
    SpikeLoad: (
        ("base_duration", "spike_duration", "recovery_duration"),
        ("spawn_rate", "spike_spawn_rate"),
    ),
    WaveLoad: (("period", "duration"), ("spawn_rate",)),
    StageSpec: (("duration",), ("spawn_rate",)),
    FindCapacityLoad: (("step_duration",), ("spawn_rate",)),
    OpenConstantLoad: (("duration",), ()),
    OpenSteppedLoad: (("step_duration", "hold", "ramp"), ()),
    OpenSpikeLoad: (("base_duration", "spike_duration", "recovery_duration", "ramp"), ()),
    OpenWaveLoad: (("period", "duration"), ()),
    OpenStageSpec: (("duration", "ramp"), ()),
    OpenFindCapacityLoad: (("step_duration", "ramp"), ()),
}
"""Per load model, its ``(durations, spawn rates)``: what ``--time-scale`` multiplies and
divides. Open models' arrival rates are levels, like users, and are not scaled; their ramps
are durations. A test checks that every duration field of every load model is listed."""
FIND_CAPACITY = "find_capacity"
"""The name of a capacity search's plan (``run.json``'s ``plan.shape``): the stepped plan of
its ``max_steps`` steps, phases named as stepped's (``"step 1"``, ``"ramp to step 2"``, …),
which the run leaves early once the search has its answer (``framework.live.capacity_search``)."""
_DIGITS = 9  # durations to the nanosecond: 0.1 * 30 s is 3 s, not 3.0000000000000004


def scale_load(load: LoadSpec, factor: float) -> LoadSpec:
    """``load`` with every duration times ``factor`` and every stated spawn rate divided by
    it; ``ValueError`` unless ``factor`` is a finite number > 0."""
    _check_factor(factor)
    if isinstance(load, StagesLoad | OpenStagesLoad):
        return load.model_copy(update={"stages": [_scaled(s, factor) for s in load.stages]})
    return _scaled(load, factor)


def _check_factor(factor: object) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int | float):
        raise ValueError(f"time_scale must be a number > 0, got {factor!r}")
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"time_scale must be a finite number > 0, got {factor!r}")


def _scaled(model: Any, factor: float) -> Any:
    durations, rates = SCALED_FIELDS[type(model)]
    update: dict[str, float] = {}
    for name in durations:
        update[name] = round(getattr(model, name) * factor, _DIGITS)
    for name in rates:
        rate = getattr(model, name)
        if rate is not None:
            update[name] = rate / factor
    return model.model_copy(update=update)


def plan_for(load: LoadSpec, *, time_scale: float = 1.0) -> LoadPlan:
    """The plan a validated closed ``load`` section describes, its time scaled by
    ``time_scale``; an open section is a ``TypeError`` (see :func:`rate_plan_for`)."""
    _check_factor(time_scale)
    if time_scale != 1.0:
        load = scale_load(load, time_scale)
    match load:
        case ConstantLoad():
            rate = load.spawn_rate if load.spawn_rate is not None else float(load.users)
            return shapes.constant(users=load.users, spawn_rate=rate, duration_s=load.duration)
        case SteppedLoad():
            return shapes.stepped(
                start_users=load.start_users,
                step_users=load.step_users,
                step_duration_s=load.step_duration,
                steps=load.steps,
                spawn_rate=load.spawn_rate,
                hold_s=load.hold,
            )
        case SpikeLoad():
            return shapes.spike(
                base_users=load.base_users,
                spike_users=load.spike_users,
                base_s=load.base_duration,
                spike_s=load.spike_duration,
                recovery_s=load.recovery_duration,
                spawn_rate=load.spawn_rate,
                spike_spawn_rate=load.spike_spawn_rate,
            )
        case WaveLoad():
            return shapes.wave(
                min_users=load.min_users,
                max_users=load.max_users,
                period_s=load.period,
                duration_s=load.duration,
                spawn_rate=load.spawn_rate,
            )
        case StagesLoad():
            return shapes.stages(stages=[(s.duration, s.users, s.spawn_rate) for s in load.stages])
        case FindCapacityLoad():
            plan = shapes.stepped(
                start_users=load.start_users,
                step_users=load.step_users,
                step_duration_s=load.step_duration,
                steps=load.max_steps,
                spawn_rate=load.spawn_rate,
            )
            return replace(plan, name=FIND_CAPACITY)
    raise TypeError(f"not a closed load section: {type(load).__name__}")


def rate_plan_for(load: OpenLoadSpec, *, time_scale: float = 1.0) -> RatePlan:
    """The plan a validated open ``load`` section describes, durations and ramps scaled by
    ``time_scale`` (the rates are kept: a level, like a number of users)."""
    _check_factor(time_scale)
    if time_scale != 1.0:
        load = scale_load(load, time_scale)
    match load:
        case OpenConstantLoad():
            return rates.constant(rate=load.rate, duration_s=load.duration)
        case OpenSteppedLoad():
            return rates.stepped(
                start_rate=load.start_rate,
                step_rate=load.step_rate,
                step_duration_s=load.step_duration,
                steps=load.steps,
                hold_s=load.hold,
                ramp_s=load.ramp,
            )
        case OpenSpikeLoad():
            return rates.spike(
                base_rate=load.base_rate,
                spike_rate=load.spike_rate,
                base_s=load.base_duration,
                spike_s=load.spike_duration,
                recovery_s=load.recovery_duration,
                ramp_s=load.ramp,
            )
        case OpenWaveLoad():
            return rates.wave(
                min_rate=load.min_rate,
                max_rate=load.max_rate,
                period_s=load.period,
                duration_s=load.duration,
            )
        case OpenStagesLoad():
            return rates.stages(stages=[(s.duration, s.rate, s.ramp) for s in load.stages])
        case OpenFindCapacityLoad():
            rate_plan = rates.stepped(
                start_rate=load.start_rate,
                step_rate=load.step_rate,
                step_duration_s=load.step_duration,
                steps=load.max_steps,
                ramp_s=load.ramp,
            )
            return replace(rate_plan, name=FIND_CAPACITY)
    raise TypeError(f"not an open load section: {type(load).__name__}")


def plan_record(plan: LoadPlan) -> dict[str, Any]:
    """The ``plan`` entry of ``run.json``: shape, length, peak and every phase (seconds)."""
    return PlanRecord.from_plan(plan).to_record()
