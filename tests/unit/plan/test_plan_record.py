"""PlanRecord: the load plan's saved form, written by the runner and read by the analysis."""

from __future__ import annotations

import json

import pytest

from framework.plan import shapes
from framework.plan.load_plan import plan_record
from framework.plan.record import PlanRecord
from framework.plan.shapes import Phase

PLANS = [
    shapes.constant(users=10, spawn_rate=2, duration_s=60),
    shapes.stepped(start_users=10, step_users=10, step_duration_s=30, steps=3, spawn_rate=5),
    shapes.spike(base_users=5, spike_users=50, base_s=20, spike_s=10, recovery_s=20, spawn_rate=5),
    shapes.wave(min_users=2, max_users=20, period_s=30, duration_s=75, spawn_rate=10),
    shapes.stages(stages=[(10, 5, 5), (20, 15, 2.5), (5, 0, 10)]),
]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_a_plan_record_survives_run_json_unchanged(plan):
    record = PlanRecord.from_plan(plan)
    written = json.loads(json.dumps(record.to_record()))
    assert PlanRecord.from_record(written) == record
    assert record.phases == plan.phases
    assert (record.shape, record.duration_s, record.peak_users) == (
        plan.name,
        plan.duration_s,
        plan.peak_users,
    )


def test_the_saved_layout_is_the_documented_one():
    plan = shapes.constant(users=4, spawn_rate=2, duration_s=10)
    assert plan_record(plan) == {
        "shape": "constant",
        "duration_s": 10.0,
        "peak_users": 4,
        "phases": [
            {"name": "ramp-up", "kind": "ramp", "start_s": 0.0, "end_s": 2.0, "users": 4},
            {"name": "steady", "kind": "plateau", "start_s": 2.0, "end_s": 10.0, "users": 4},
        ],
    }
    assert list(plan_record(plan)["phases"][0]) == ["name", "kind", "start_s", "end_s", "users"]


@pytest.mark.parametrize("saved", [None, {}, [], "stepped"])
def test_no_plan_reads_as_the_empty_record_and_writes_back_as_an_empty_object(saved):
    record = PlanRecord.from_record(saved)
    assert record == PlanRecord()
    assert not record.recorded
    assert record.to_record() == {}


def test_an_old_or_partial_plan_keeps_what_it_says_and_drops_what_is_unusable():
    record = PlanRecord.from_record(
        {
            "shape": "stepped",
            "duration_s": 100,
            "phases": [
                {"name": "step 1", "start_s": 0, "end_s": 50},
                {"name": "no end", "start_s": 50},
                "not a phase",
            ],
        }
    )
    assert record.shape == "stepped"
    assert record.duration_s == 100 and isinstance(record.duration_s, int)
    assert record.peak_users is None
    assert record.phases == (Phase(name="step 1", start_s=0, end_s=50, users=0, kind=""),)
