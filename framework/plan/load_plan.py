"""Turn a scenario's ``load`` section into a pure ``LoadPlan`` (one factory per shape)."""

from __future__ import annotations

from typing import Any

from framework.plan import shapes
from framework.plan.record import PlanRecord
from framework.plan.shapes import LoadPlan
from framework.scenario.model import (
    ConstantLoad,
    LoadSpec,
    SpikeLoad,
    StagesLoad,
    SteppedLoad,
    WaveLoad,
)

__all__ = ["plan_for", "plan_record"]


def plan_for(load: LoadSpec) -> LoadPlan:
    """The plan a validated ``load`` section describes."""
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
    raise TypeError(f"unknown load section {type(load).__name__}")


def plan_record(plan: LoadPlan) -> dict[str, Any]:
    """The ``plan`` entry of ``run.json``: shape, length, peak and every phase (seconds)."""
    return PlanRecord.from_plan(plan).to_record()
