"""Load groups and the schedule: which users entries run under which load, and all of it
together; the plan record of a schedule in run.json and back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from framework.plan import rates, shapes
from framework.plan.groups import LoadGroup, LoadSchedule, schedule_for
from framework.plan.load_plan import plan_for
from framework.plan.record import GroupRecord, PlanRecord
from framework.plan.shapes import Phase, Stage
from framework.scenario.model import Scenario

CLOSED = {"shape": "constant", "users": 10, "spawn_rate": 5, "duration": "1m"}
OPEN = {"model": "open", "shape": "constant", "rate": 50, "duration": "2m"}
SPIKE = {
    "model": "open", "shape": "spike", "base_rate": 5, "spike_rate": 50, "base_duration": 20,
    "spike_duration": 10, "recovery_duration": 30, "arrivals": "poisson", "max_in_flight": 200,
}  # fmt: skip


def _scenario(load: dict[str, Any] | None, *users: dict[str, Any]) -> Scenario:
    data: dict[str, Any] = {
        "name": "s",
        "users": [{"requests": [{"path": "/"}], **u} for u in users],
    }
    if load is not None:
        data["load"] = load
    return Scenario.model_validate(data)


def test_one_shared_closed_load_is_today_s_plan_and_no_engine():
    scenario = _scenario(CLOSED, {"name": "a", "weight": 3}, {"name": "b"})
    schedule = schedule_for(scenario)
    (group,) = schedule.groups
    assert (group.name, group.users, group.weights, group.model) == (
        "scenario",
        (0, 1),
        (3, 1),
        "closed",
    )
    assert not schedule.engine
    assert schedule.model == "closed"
    assert schedule.locust_plan() == plan_for(scenario.load)
    assert schedule.phases == plan_for(scenario.load).phases


def test_an_open_scenario_load_is_one_open_group_run_by_the_engine():
    scenario = _scenario(OPEN, {"name": "a"}, {"name": "b", "weight": 2})
    schedule = schedule_for(scenario)
    (group,) = schedule.groups
    assert (group.model, group.users, group.weights) == ("open", (0, 1), (1, 2))
    assert (group.arrivals, group.max_in_flight) == ("uniform", 1000)
    assert group.plan == rates.constant(rate=50, duration_s=120)
    assert schedule.engine and schedule.model == "open"
    plan = schedule.locust_plan()
    assert plan.duration_s == 120 and plan.phases == group.plan.phases
    assert plan.stage_at(0) == Stage(0, 1) and plan.stage_at(119) == Stage(0, 1)
    assert plan.stage_at(120) is None
    assert (schedule.users_at(10), schedule.rate_at(10)) == (0, 50.0)


def test_readers_steady_and_writers_spike_run_side_by_side():
    scenario = _scenario(
        CLOSED, {"name": "readers"}, {"name": "writers", "load": SPIKE}, {"name": "admins"}
    )
    schedule = schedule_for(scenario)
    shared, writers = schedule.groups
    assert (shared.name, shared.users, shared.model) == ("scenario", (0, 2), "closed")
    assert (writers.name, writers.users, writers.model) == ("writers", (1,), "open")
    assert (writers.arrivals, writers.max_in_flight) == ("poisson", 200)
    assert schedule.engine and schedule.model == "mixed"
    assert schedule.duration_s == 60.0
    assert [(p.name, p.start_s, p.end_s, p.kind, p.users, p.rate) for p in schedule.phases] == [
        ("scenario ramp-up + writers base", 0.0, 2.0, "ramp", 10, 5.0),
        ("scenario steady + writers base", 2.0, 20.0, "plateau", 10, 5.0),
        ("scenario steady + writers spike", 20.0, 30.0, "spike", 10, 50.0),
        ("scenario steady + writers recovery", 30.0, 60.0, "plateau", 10, 5.0),
    ]
    assert (schedule.users_at(25), schedule.rate_at(25)) == (10, 50.0)
    assert (schedule.peak_users, schedule.peak_rate) == (10, 50.0)
    assert schedule.locust_plan().users_at(25) == 0


def test_a_shorter_group_leaves_the_rest_of_the_run_to_the_others():
    short = LoadGroup("a", (0,), (1,), "open", rates.constant(rate=10, duration_s=30))
    long = LoadGroup("b", (1,), (1,), "open", rates.constant(rate=5, duration_s=90))
    schedule = LoadSchedule.of([short, long])
    assert schedule.duration_s == 90
    assert [(p.name, p.end_s, p.rate) for p in schedule.phases] == [
        ("a steady + b steady", 30.0, 15.0),
        ("b steady", 90.0, 5.0),
    ]
    assert schedule.rate_at(10) == 15.0 and schedule.rate_at(60) == 5.0
    assert schedule.phase_at(95) is None


def test_every_entry_with_its_own_load_needs_no_scenario_load():
    scenario = _scenario(None, {"name": "a", "load": OPEN}, {"name": "b", "load": CLOSED})
    schedule = schedule_for(scenario)
    assert [g.name for g in schedule.groups] == ["a", "b"]
    assert schedule.model == "mixed" and schedule.duration_s == 120


def test_a_single_entry_with_its_own_closed_load_is_today_s_plan():
    scenario = _scenario(None, {"name": "a", "load": CLOSED})
    schedule = schedule_for(scenario)
    assert not schedule.engine
    assert schedule.locust_plan() == plan_for(scenario.users[0].load)


def test_time_scale_scales_every_group_s_durations_and_keeps_rates():
    scenario = _scenario(CLOSED, {"name": "r"}, {"name": "w", "load": SPIKE})
    schedule = schedule_for(scenario, time_scale=0.5)
    writers = schedule.groups[1]
    assert writers.plan == rates.spike(
        base_rate=5, spike_rate=50, base_s=10, spike_s=5, recovery_s=15
    )
    assert schedule.duration_s == 30.0


def test_combined_phase_kind_prefers_ramp_then_spike_then_wave():
    wave = LoadGroup(
        "w", (0,), (1,), "open", rates.wave(min_rate=1, max_rate=2, period_s=10, duration_s=10)
    )
    plan = shapes.spike(
        base_users=1, spike_users=5, base_s=5, spike_s=5, recovery_s=5, spawn_rate=100
    )
    spike = LoadGroup("s", (1,), (1,), "closed", plan)
    kinds = [p.kind for p in LoadSchedule.of([wave, spike]).phases]
    assert kinds == ["ramp", "wave", "ramp", "spike", "ramp", "plateau"]


def test_no_group_is_no_schedule():
    with pytest.raises(ValueError, match="at least one group"):
        LoadSchedule.of([])


def test_the_plan_record_of_a_mixed_schedule_survives_run_json():
    scenario = _scenario(CLOSED, {"name": "readers"}, {"name": "writers", "load": SPIKE})
    schedule = schedule_for(scenario)
    record = PlanRecord.from_schedule(schedule, ["readers", "writers"])
    written = json.loads(json.dumps(record.to_record()))
    assert PlanRecord.from_record(written) == record
    assert written["model"] == "mixed" and written["peak_rate"] == 50.0
    assert written["phases"][2] == {
        "name": "scenario steady + writers spike", "kind": "spike", "start_s": 20.0,
        "end_s": 30.0, "users": 10, "rate": 50.0,
    }  # fmt: skip
    shared, writers = written["groups"]
    assert shared == {
        "name": "scenario", "users": ["readers"], "model": "closed", "shape": "constant",
        "duration_s": 60.0, "peak_users": 10, "phases": shared["phases"],
    }  # fmt: skip
    assert "rate" not in shared["phases"][0]
    assert {k: v for k, v in writers.items() if k != "phases"} == {
        "name": "writers", "users": ["writers"], "model": "open", "shape": "spike",
        "duration_s": 60.0, "peak_rate": 50.0, "arrivals": "poisson", "max_in_flight": 200,
    }  # fmt: skip
    assert writers["phases"][1] == {
        "name": "spike", "kind": "spike", "start_s": 20.0, "end_s": 30.0, "users": 0, "rate": 50.0,
    }  # fmt: skip
    assert record.open_model


def test_a_closed_run_s_record_keeps_its_layout_and_adds_model_and_groups():
    scenario = _scenario(CLOSED, {"name": "a"})
    written = PlanRecord.from_schedule(schedule_for(scenario), ["a"]).to_record()
    assert list(written) == ["shape", "duration_s", "peak_users", "phases", "model", "groups"]
    assert written["phases"] == PlanRecord.from_plan(plan_for(scenario.load)).to_record()["phases"]
    assert written["model"] == "closed" and written["groups"][0]["users"] == ["a"]


def test_a_plan_record_of_before_open_loads_reads_as_one_closed_load():
    record = PlanRecord.from_record(
        {"shape": "constant", "duration_s": 10, "peak_users": 2,
         "phases": [{"name": "steady", "kind": "plateau", "start_s": 0, "end_s": 10, "users": 2}]}
    )  # fmt: skip
    assert (record.model, record.groups, record.peak_rate) == (None, (), None)
    assert not record.open_model
    assert record.phases == (Phase("steady", 0, 10, 2, "plateau"),)


def test_damaged_groups_are_dropped_and_odd_values_left_out():
    record = PlanRecord.from_record(
        {"model": "open", "groups": [
            "nonsense", {"users": ["x"]},
            {"name": "w", "users": ["w", 3], "model": "sideways", "arrivals": "bursty",
             "max_in_flight": True, "peak_rate": "lots"},
        ]}
    )  # fmt: skip
    assert record.groups == (
        GroupRecord(name="w", users=("w",), model="closed", shape=None, duration_s=None),
    )
