"""Scheduled faults: the scenario's errors, their place on the plan's clock, run.json's shape."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from framework.errors import ScenarioError
from framework.plan.faults import (
    FaultPlanError,
    PlannedFault,
    fault_problems,
    fault_record,
    planned_faults,
    render_faults,
    resolve_faults,
)
from framework.plan.groups import schedule_for
from framework.scenario.faults import FaultSpec
from framework.scenario.loader import load_scenario

_HEAD = """\
name: f
host: http://127.0.0.1:9
users:
  - name: u
    requests: [{path: /x}]
load: {shape: stepped, start_users: 1, step_users: 1, step_duration: 10s, steps: 3, spawn_rate: 1}
"""

_MOCKS = (
    "detectors:\n  alpha: {latency: {model: fixed, ms: 1}}\n"
    "  beta: {port: 9001, latency: {model: fixed, ms: 1}}\n"
)


def _file(tmp_path: Path, faults: str, *, mocks: str | None = None) -> Path:
    text = _HEAD + "faults:\n" + textwrap.indent(textwrap.dedent(faults), "  ")
    if mocks is not None:
        (tmp_path / "mocks.yaml").write_text(mocks, encoding="utf-8")
        text = "mocks: mocks.yaml\n" + text
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [str(p) for p in caught.value.problems]


def _spec(**fields) -> FaultSpec:
    return FaultSpec.model_validate(
        {"duration": "5s", "admin_url": "http://h:1", "set": {"outage": True}, **fields}
    )


def _schedule(tmp_path: Path, time_scale: float = 1.0):
    loaded = load_scenario(_file(tmp_path, "[]\n"), time_scale=time_scale)
    return schedule_for(loaded.scenario, time_scale=time_scale)


def test_unknown_mock_names_the_known_ones_with_file_and_line(tmp_path):
    mocks = _MOCKS
    path = _file(
        tmp_path, "- {at: 1s, duration: 2s, mock: alpah, set: {outage: true}}\n", mocks=mocks
    )
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:9:")
    assert "faults[0].mock" in problem and "'alpah'" in problem
    assert "did you mean 'alpha'" in problem and "known: alpha, beta" in problem


def test_mock_names_resolve_to_their_admin_urls(tmp_path):
    mocks = "host: 0.0.0.0\nbase_port: 7000\n" + _MOCKS
    path = _file(
        tmp_path, "- {at: 1s, duration: 2s, mock: beta, set: {error_rate: 0.5}}\n", mocks=mocks
    )
    loaded = load_scenario(path)
    (fault,) = planned_faults(loaded, schedule_for(loaded.scenario))
    assert fault.target == "http://127.0.0.1:9001"
    assert (fault.name, fault.kind, dict(fault.action)) == ("beta-1", "mock", {"error_rate": 0.5})


@pytest.mark.parametrize(
    ("fault", "field", "words"),
    [
        ("{at: 1s, duration: 2s, mock: a, admin_url: 'http://h:1', set: {outage: true}}",
         "faults[0].admin_url", "not both"),
        ("{at: 1s, duration: 2s, mock: a, set: {outage: true}, command: {start: x}}",
         "faults[0].command", "not both"),
        ("{at: 1s, duration: 2s}", "faults[0]", "needs a target"),
        ("{at: 1s, duration: 0s, command: {start: x}}", "faults[0].duration", "greater than 0"),
        ("{at: 1s, duration: -2s, command: {start: x}}", "faults[0].duration", ""),
        ("{at: 1s, duration: 2s, admin_url: 'http://h:1'}", "faults[0].set", "needs set"),
        ("{at: 1s, duration: 2s, admin_url: 'http://h:1', set: {outgae: true}}",
         "faults[0].set.outgae", "did you mean 'outage'"),
        ("{at: 1s, duration: 2s, admin_url: 'http://h:1', set: {}}", "faults[0].set",
         "error_rate, added_latency_ms, latency_multiplier, timeout_probability, outage, hang"),
        ("{at: 1s, duration: 2s, admin_url: 'h:1', set: {hang: true}}", "faults[0].admin_url",
         "http://"),
    ],
)  # fmt: skip
def test_malformed_faults_are_located_and_explained(tmp_path, fault, field, words):
    problems = _problems(_file(tmp_path, f"- {fault}\n"))
    assert any(f": {field}:" in p and words in p for p in problems), problems


def test_two_faults_with_one_name_are_refused(tmp_path):
    faults = (
        "- {name: x, at: 1s, duration: 1s, command: {start: a}}\n"
        "- {name: x, at: 2s, duration: 1s, command: {start: b}}\n"
    )
    assert any("two faults are named 'x'" in p for p in _problems(_file(tmp_path, faults)))


def test_a_start_at_the_plans_end_or_an_unknown_phase_is_a_located_error(tmp_path):
    path = _file(
        tmp_path,
        "- {at: 30s, duration: 1s, command: {start: a}}\n"
        "- {at: {phase: 'step 9'}, duration: 1s, command: {start: a}}\n",
    )
    loaded = load_scenario(path)
    errors, _ = fault_problems(loaded, schedule_for(loaded.scenario))
    shown = [str(e) for e in errors]
    assert shown[0].startswith(f"{path}:8:") and "at or after its end (30 s)" in shown[0]
    assert "faults[1].at.phase" in shown[1] and "'step 1'" in shown[1]


def test_a_fault_ending_after_the_plan_is_a_warning(tmp_path):
    loaded = load_scenario(_file(tmp_path, "- {at: 25s, duration: 10s, command: {start: a}}\n"))
    errors, warnings = fault_problems(loaded, schedule_for(loaded.scenario))
    assert errors == []
    assert "ends at 35 s, after the plan's end (30 s)" in str(warnings[0])


def test_phase_starts_and_time_scale_place_faults_on_the_plan(tmp_path):
    full, half = _schedule(tmp_path), _schedule(tmp_path, 0.5)
    step2 = next(p for p in full.phases if p.name == "step 2")
    faults = [_spec(at="4s"), _spec(at={"phase": "step 2", "offset": "2s"}, duration="6s")]
    a, b = resolve_faults(faults, full)
    assert (a.start_s, a.end_s) == (4.0, 9.0)
    assert (b.start_s, b.end_s) == (step2.start_s + 2, step2.start_s + 8)
    c, d = resolve_faults(faults, half, time_scale=0.5)
    half_step2 = next(p for p in half.phases if p.name == "step 2")
    assert (c.start_s, c.end_s) == (2.0, 4.5)
    assert (d.start_s, d.end_s) == (half_step2.start_s + 1, half_step2.start_s + 4)


def test_resolution_raises_with_key_paths(tmp_path):
    with pytest.raises(FaultPlanError) as caught:
        resolve_faults([_spec(at="40s")], _schedule(tmp_path))
    assert caught.value.problems[0][0] == ("faults", 0, "at")


def test_the_run_json_record_has_the_contracts_fields():
    fault = PlannedFault("o", 30.0, 50.0, "mock", "http://h:1", {"outage": True}, 2.0)
    assert fault_record(fault) == {
        "name": "o", "kind": "mock", "target": "http://h:1", "action": {"outage": True},
        "planned_start_s": 30.0, "planned_end_s": 50.0, "recovery_sla_s": 2.0,
        "started_at": None, "ended_at": None, "status": "planned", "error": None,
    }  # fmt: skip
    assert PlannedFault.from_dict(fault.to_dict()) == fault


def test_the_plan_chart_marks_each_fault_over_its_span():
    fault = PlannedFault("o", 5.0, 10.0, "command", "kill -STOP 1", {"start": "kill -STOP 1"})
    strip = render_faults([fault], 20.0, width=8).splitlines()[1]
    assert strip == "  o ··██····"
