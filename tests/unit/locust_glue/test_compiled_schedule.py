"""The compiled scenario exposes its load schedule; Locust's shape runs the schedule's plan:
today's plan for one shared closed load, the engine's idle plan otherwise."""

from __future__ import annotations

from framework.locust_glue.compiler import compile_scenario
from framework.plan.load_plan import plan_for
from framework.plan.shapes import Stage
from framework.scenario.loader import load_scenario

CLOSED = """\
name: c
host: http://127.0.0.1:9
users: [{name: a, requests: [{path: /}]}]
load: {shape: constant, users: 3, spawn_rate: 3, duration: 10s}
"""
MIXED = """\
name: m
host: http://127.0.0.1:9
timeout: 1s
users:
  - {name: readers, requests: [{path: /r}]}
  - name: writers
    requests: [{path: /w}]
    load: {model: open, shape: spike, base_rate: 1, spike_rate: 5, base_duration: 5s,
           spike_duration: 5s, recovery_duration: 5s}
load: {shape: constant, users: 3, spawn_rate: 3, duration: 10s}
"""


def _compiled(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return compile_scenario(load_scenario(path, env={}))


def test_one_shared_closed_load_keeps_today_s_plan_and_shape(tmp_path):
    compiled = _compiled(tmp_path, CLOSED)
    scenario = load_scenario(tmp_path / "s.yaml", env={}).scenario
    assert not compiled.schedule.engine
    assert compiled.plan == plan_for(scenario.load)
    assert compiled.shape_class.__name__ == "ConstantShape"
    assert compiled.shape_class.plan.stage_at(5) == Stage(3, 3.0)


def test_load_groups_give_locust_the_idle_plan_of_the_whole_schedule(tmp_path):
    compiled = _compiled(tmp_path, MIXED)
    schedule = compiled.schedule
    assert schedule.engine and [g.name for g in schedule.groups] == ["scenario", "writers"]
    assert compiled.plan == schedule.locust_plan()
    assert compiled.plan.duration_s == 15.0 and compiled.plan.phases == schedule.phases
    assert compiled.shape_class.plan.stage_at(7) == Stage(0, 1)
    assert compiled.shape_class.__name__ == "ConstantSpikeShape"
    assert [c.__name__ for c in compiled.user_classes] == ["readers", "writers"]
