"""``shape: find_capacity``: what loads (closed and open), what is refused (file:line:field,
and why), its warnings, and its plan (the stepped plan of ``max_steps`` steps)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from framework.errors import ScenarioError
from framework.plan.groups import schedule_for
from framework.plan.load_plan import FIND_CAPACITY, plan_for, rate_plan_for
from framework.plan.shapes import stepped
from framework.plan.summary import describe_scenario, search_note
from framework.scenario.loader import load_scenario
from framework.scenario.model import FindCapacityLoad, OpenFindCapacityLoad, Scenario

FILE = "scenario.yaml"
HEAD = """\
name: t
timeout: 1s
users:
  - name: readers
    requests: [{path: /r}]
"""
CLOSED = (
    "{shape: find_capacity, start_users: 10, step_users: 10, step_duration: 30s, "
    "max_steps: 20, spawn_rate: 10}"
)
OPEN = (
    "{model: open, shape: find_capacity, start_rate: 10, step_rate: 10, step_duration: 30s, "
    "max_steps: 20, ramp: 0}"
)
BUDGETS = "budgets: {overall: {p95_ms: 200}}\n"


def _load(tmp_path, text: str, **options):
    path = tmp_path / FILE
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_scenario(path, env={}, **options)


def _problems(tmp_path, text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, text)
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_the_closed_and_open_sections_of_the_contract_load(tmp_path):
    closed = _load(tmp_path, HEAD + f"load: {CLOSED}\n" + BUDGETS)
    assert isinstance(closed.scenario.load, FindCapacityLoad)
    assert closed.scenario.load.peak_users == 200
    assert closed.warnings == ()
    opened = _load(tmp_path, HEAD + f"load: {OPEN}\n" + BUDGETS)
    assert isinstance(opened.scenario.load, OpenFindCapacityLoad)
    assert opened.scenario.load.peak_rate == 200
    assert opened.warnings == ()


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (
            CLOSED.replace("max_steps: 20", "max_steps: 0"),
            [(6, "load.max_steps", "Input should be greater than or equal to 1 (found 0)")],
        ),
        (
            CLOSED.replace("max_steps: 20", "max_steps: 10001"),
            [(6, "load.max_steps", "Input should be less than or equal to 10000 (found 10001)")],
        ),
        (
            CLOSED.replace("max_steps: 20", "max_steps: true"),
            [(6, "load.max_steps", "expected a number, got true; true and false are not numbers")],
        ),
        (
            CLOSED.replace("start_users: 10", "start_users: 9999999"),
            [
                (
                    6,
                    "load.max_steps",
                    "the last step would run 10000189 users (start_users + (max_steps - 1) * "
                    "step_users); at most 10000000 are allowed",
                )
            ],
        ),
        (
            CLOSED.replace("max_steps: 20", "steps: 20"),
            [
                (6, "load.max_steps", "required field is missing"),
                (
                    6,
                    "load.steps",
                    "find_capacity takes max_steps, not steps: the most steps the search runs "
                    "(it stops earlier once a budget fails with confidence); write max_steps",
                ),
            ],
        ),
        (
            CLOSED.replace("}", ", step_rate: 5}"),
            [
                (
                    6,
                    "load.step_rate",
                    "step_rate is an open-model field (arrivals per second); this load is "
                    "closed, in users (start_users, step_users, spawn_rate): one load takes the "
                    "fields of one model, so write model: open with rates only, or drop "
                    "step_rate",
                )
            ],
        ),
        (
            OPEN.replace("}", ", spawn_rate: 5}"),
            [
                (
                    6,
                    "load.spawn_rate",
                    "spawn_rate is a closed-model field (users); this load is open (model: "
                    "open), in arrivals per second (start_rate, step_rate): one load takes the "
                    "fields of one model, so drop spawn_rate, or drop model: open and write "
                    "users only",
                )
            ],
        ),
        (
            OPEN.replace("ramp: 0", "ramp: 40s"),
            [
                (
                    6,
                    "load.ramp",
                    "must not be longer than step_duration (30 s), got 40 s: the ramp is the "
                    "first part of a level's duration",
                )
            ],
        ),
        (
            OPEN.replace("}", ", hold: 10s}"),
            [
                (
                    6,
                    "load.hold",
                    "find_capacity has no hold: the search ends after its last step or as "
                    "soon as it has its answer; drop hold (or use shape: stepped)",
                )
            ],
        ),
    ],
)
def test_bad_sections_name_the_line_field_and_what_is_allowed(tmp_path, load, expected):
    problems = _problems(tmp_path, HEAD + f"load: {load}\n")
    assert [(line, path, message) for line, path, message in problems] == expected


def test_the_search_is_for_the_scenario_level_load_only(tmp_path):
    text = (
        HEAD
        + f"""\
  - name: writers
    requests: [{{path: /w}}]
    load: {CLOSED}
load: {CLOSED}
"""
    )
    problems = _problems(tmp_path, text)
    assert [(path, message.split(":")[0]) for _, path, message in problems] == [
        ("users", "users 'writers'"),
        ("load", "shape find_capacity steps the whole run, so every users entry runs under it; "
                 "users 'writers' have a load of their own"),
    ]  # fmt: skip


def test_validate_warns_without_budgets_and_with_steps_too_short_to_judge(tmp_path):
    short = CLOSED.replace("step_duration: 30s", "step_duration: 8s")
    loaded = _load(tmp_path, HEAD + f"load: {short}\n")
    messages = {p.path: p.message for p in loaded.warnings}
    assert messages["load.shape"].startswith(
        "find_capacity without budgets stops only once the fitted USL peak lies below the "
        "next step's load"
    )
    assert messages["load.step_duration"].startswith(
        "step_duration 8 s is too short for the capacity search to judge a step's budgets"
    )


def test_the_plan_is_the_stepped_plan_of_max_steps_steps_named_find_capacity():
    load = Scenario.model_validate(
        {"name": "t", "users": [{"name": "u", "requests": [{"path": "/"}]}], "load": {
            "shape": "find_capacity", "start_users": 10, "step_users": 5,
            "step_duration": 20, "max_steps": 3, "spawn_rate": 5}}
    ).load  # fmt: skip
    plan = plan_for(load)
    same = stepped(start_users=10, step_users=5, step_duration_s=20, steps=3, spawn_rate=5)
    assert plan.name == FIND_CAPACITY
    assert (plan.duration_s, plan.phases) == (same.duration_s, same.phases)
    assert [p.name for p in plan.phases] == [
        "ramp-up", "step 1", "ramp to step 2", "step 2", "ramp to step 3", "step 3",
    ]  # fmt: skip
    assert plan_for(load, time_scale=0.5).duration_s == 30


def test_the_open_plan_is_the_open_stepped_plan():
    load = OpenFindCapacityLoad(
        model="open", shape="find_capacity", start_rate=5, step_rate=5, step_duration=10,
        max_steps=3, ramp=2,
    )  # fmt: skip
    plan = rate_plan_for(load)
    assert plan.name == FIND_CAPACITY and plan.duration_s == 30
    assert [(p.name, p.rate) for p in plan.phases if p.kind == "plateau"] == [
        ("step 1", 5.0), ("step 2", 10.0), ("step 3", 15.0),
    ]  # fmt: skip


def test_plan_and_validate_say_the_search_may_stop_early(tmp_path):
    loaded = _load(tmp_path, HEAD + f"load: {CLOSED}\n" + BUDGETS)
    note = search_note(schedule_for(loaded.scenario))
    assert note == (
        "find_capacity: at most 20 steps (10m); the capacity search stops the run early once "
        "a step fails a budget with confidence or the fitted USL peak lies below the next "
        "step's load"
    )
    assert note in describe_scenario(loaded)
    stepped_loaded = _load(tmp_path, HEAD + "load: {shape: constant, users: 1, duration: 1m}\n")
    assert search_note(schedule_for(stepped_loaded.scenario)) is None


def test_the_schema_knows_both_sections():
    schema = Scenario.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    assert defs["FindCapacityLoad"]["required"] == [
        "shape", "start_users", "step_users", "step_duration", "max_steps", "spawn_rate",
    ]  # fmt: skip
    assert "max_steps" in defs["OpenFindCapacityLoad"]["required"]


def test_the_shipped_scenario_takes_its_first_step_from_the_environment(tmp_path):
    path = Path(__file__).parents[3] / "scenarios" / "find-capacity.yaml"
    loaded = load_scenario(path, env={"START_USERS": "30"})
    assert loaded.scenario.load.start_users == 30
    assert load_scenario(path, env={}).scenario.load.start_users == 10
    assert load_scenario(path, env={}).warnings == ()
