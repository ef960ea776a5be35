"""Open-model load sections and users entries with their own load: what loads, what is
refused (where and why), and what loads with a warning."""

from __future__ import annotations

import json
import textwrap

import pytest

from framework.errors import Problem, ScenarioError
from framework.scenario.loader import load_scenario
from framework.scenario.model import (
    OpenConstantLoad,
    OpenSpikeLoad,
    OpenStagesLoad,
    OpenSteppedLoad,
    OpenWaveLoad,
    Scenario,
    SteppedLoad,
)
from framework.scenario.overrides import parse_override

FILE = "scenario.yaml"
HEAD = """\
name: t
timeout: 1s
users:
  - name: readers
    requests: [{path: /r}]
"""


def _load(tmp_path, text: str, **options):
    path = tmp_path / FILE
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_scenario(path, env={}, **options)


def _problems(tmp_path, text: str, **options) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, text, **options)
    return [(p.line, p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("load", "model", "peak"),
    [
        ("{model: open, shape: constant, rate: 50, duration: 1m}", OpenConstantLoad, 50),
        (
            "{model: open, shape: stepped, start_rate: 10, step_rate: 5, step_duration: 30s, "
            "steps: 3, ramp: 5s}",
            OpenSteppedLoad,
            20,
        ),
        (
            "{model: open, shape: spike, base_rate: 5, spike_rate: 50, base_duration: 1m, "
            "spike_duration: 10s, recovery_duration: 1m}",
            OpenSpikeLoad,
            50,
        ),
        (
            "{model: open, shape: wave, min_rate: 1, max_rate: 9, period: 1m, duration: 3m}",
            OpenWaveLoad,
            9,
        ),
        (
            "{model: open, shape: stages, stages: [{duration: 10s, rate: 5}, "
            "{duration: 20s, rate: 25, ramp: 5s}]}",
            OpenStagesLoad,
            25,
        ),
    ],
)
def test_each_open_shape_loads_with_its_defaults(tmp_path, load, model, peak):
    loaded = _load(tmp_path, HEAD + f"load: {load}\n")
    section = loaded.scenario.load
    assert isinstance(section, model)
    assert (section.arrivals, section.max_in_flight, section.peak_rate) == ("uniform", 1000, peak)
    assert loaded.warnings == ()


def test_a_closed_shape_may_say_model_closed_and_means_what_it_did(tmp_path):
    written = "{shape: stepped, start_users: 1, step_users: 1, step_duration: 1m, steps: 2, "
    written += "spawn_rate: 1"
    plain = _load(tmp_path, HEAD + f"load: {written}}}\n").scenario.load
    said = _load(tmp_path, HEAD + f"load: {written}, model: closed}}\n").scenario.load
    assert isinstance(plain, SteppedLoad) and plain == said


def test_every_users_entry_with_its_own_load_needs_no_scenario_load(tmp_path):
    loaded = _load(
        tmp_path,
        HEAD
        + "    load: {model: open, shape: constant, rate: 5, duration: 10s, arrivals: poisson}\n"
        + "  - name: writers\n    requests: [{path: /w}]\n"
        + "    load: {shape: constant, users: 2, duration: 10s}\n",
    )
    readers, writers = loaded.scenario.users
    assert loaded.scenario.load is None
    assert readers.load.arrivals == "poisson" and writers.load.users == 2


MIXED = (
    HEAD
    + """\
  - name: writers
    requests: [{path: /w}]
    load:
      model: open
      shape: spike
      base_rate: 0
      spike_rate: 50
      users: 10
      base_duration: 10s
      spike_duration: 5s
      recovery_duration: 10s
      max_in_flight: 0
load:
  shape: constant
  users: 10
  rate: 50
  duration: 1m
  arrivals: poisson
  ramp: 2s
"""
)


def test_bad_open_and_mixed_sections_are_each_reported_at_their_line(tmp_path):
    problems = _problems(tmp_path, MIXED)
    assert [(line, path) for line, path, _ in problems] == [
        (11, "users[1].load.base_rate"),
        (13, "users[1].load.users"),
        (17, "users[1].load.max_in_flight"),
        (21, "load.rate"),
        (23, "load.arrivals"),
        (24, "load.ramp"),
    ]
    messages = {path: message for _, path, message in problems}
    assert messages["users[1].load.base_rate"] == "Input should be greater than 0 (found 0)"
    assert messages["users[1].load.max_in_flight"] == (
        "Input should be greater than or equal to 1 (found 0)"
    )
    assert messages["users[1].load.users"].startswith(
        "users is a closed-model field (users); this load is open (model: open), in arrivals "
        "per second (base_rate, spike_rate): one load takes the fields of one model"
    )
    assert messages["load.rate"].startswith(
        "rate is an open-model field (arrivals per second); this load is closed, in users "
        "(users, spawn_rate): one load takes the fields of one model"
    )
    assert messages["load.arrivals"] == (
        "arrivals is an open-model setting; this load is closed (model: closed, the default), "
        "where it means nothing: write model: open, or drop arrivals"
    )


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (
            "{model: open, shape: ramp, rate: 5}",
            [(6, "load.shape", "unknown shape 'ramp' for model: open; allowed: 'constant', "
              "'stepped', 'spike', 'wave', 'stages', 'find_capacity'")],
        ),
        (
            "{model: opne, shape: constant, rate: 5, duration: 1m}",
            [(6, "load.model", "unknown model 'opne'; allowed: 'closed', 'open'")],
        ),
        (
            "{model: open, rate: 5, duration: 1m}",
            [(6, "load", "missing 'shape'; allowed: constant, stepped, spike, wave, stages, "
              "find_capacity")],
        ),
        (
            "{model: open, shape: constant, rate: -2, duration: 1m}",
            [(6, "load.rate", "Input should be greater than 0 (found -2)")],
        ),
        (
            "{model: open, shape: constant, rate: 5, duration: 1m, arrivals: bursty}",
            [(6, "load.arrivals", "Input should be 'uniform' or 'poisson' (found 'bursty')")],
        ),
        (
            "{model: open, shape: wave, min_rate: 5, max_rate: 5, period: 1m, duration: 1m}",
            [(6, "load.max_rate", "must be above min_rate (5), got 5")],
        ),
        (
            "{model: open, shape: stages, stages: [{duration: 5s, rate: 5, ramp: 6s}]}",
            [(6, "load.stages[0].ramp", "must not be longer than duration (5 s), got 6 s: the "
              "ramp is the first part of a level's duration")],
        ),
    ],
)  # fmt: skip
def test_open_section_problems_name_the_field_and_what_is_allowed(tmp_path, load, expected):
    assert _problems(tmp_path, HEAD + f"load: {load}\n") == expected


def test_a_missing_load_names_the_entries_that_need_it(tmp_path):
    text = HEAD + "  - name: writers\n    requests: [{path: /w}]\n"
    text += "    load: {model: open, shape: constant, rate: 5, duration: 10s}\n"
    text += "  - name: admins\n    requests: [{path: /a}]\n"
    (problem,) = _problems(tmp_path, text)
    assert problem[1:] == (
        "load",
        "required field is missing: users 'readers', 'admins' run under the scenario's load "
        "(they have no load of their own); add a load section, or give each users entry its "
        "own load",
    )


def test_an_entry_with_its_own_load_may_not_take_the_shared_group_s_name(tmp_path):
    text = HEAD + "  - name: scenario\n    requests: [{path: /w}]\n"
    text += "    load: {model: open, shape: constant, rate: 5, duration: 10s}\n"
    text += "load: {shape: constant, users: 1, duration: 10s}\n"
    ((_, path, message),) = _problems(tmp_path, text)
    assert path == "users" and "may not be named 'scenario'" in message


def test_peak_rate_times_timeout_above_max_in_flight_is_a_warning_with_the_arithmetic(tmp_path):
    text = HEAD.replace("timeout: 1s", "timeout: 30s") + (
        "load:\n  model: open\n  shape: constant\n  rate: 100\n  duration: 1m\n"
        "  max_in_flight: 500\n"
    )
    loaded = _load(tmp_path, text)
    (warning,) = loaded.warnings
    assert (warning.line, warning.path) == (11, "load.max_in_flight")
    assert warning.message == (
        "peak rate 100 arrivals/s × request timeout 30 s = 3000 arrivals could be in flight at "
        "once while the target does not answer, above max_in_flight 500 per load generator: "
        "unless 6 or more workers share the rate, arrivals beyond it are dropped (and "
        "counted); raise max_in_flight to 3000 or shorten the timeout to 5 s"
    )


def test_the_timeout_of_the_warning_is_the_longest_a_request_of_the_group_may_wait(tmp_path):
    text = HEAD.replace("timeout: 1s", "timeout: 30s").replace(
        "[{path: /r}]", "[{path: /r, timeout: 2s}, {path: /s, timeout: 4s}]"
    )
    text += "load: {model: open, shape: constant, rate: 300, duration: 1m}\n"
    (warning,) = _load(tmp_path, text).warnings
    assert "300 arrivals/s × request timeout 4 s = 1200 arrivals" in warning.message
    assert (warning.line, warning.path) == (6, "load.max_in_flight")  # not written: its section


def test_no_warning_when_max_in_flight_holds_the_rate_through_the_timeout(tmp_path):
    text = HEAD + "load: {model: open, shape: constant, rate: 1000, duration: 1m}\n"
    assert _load(tmp_path, text).warnings == ()


def test_a_scenario_load_every_entry_overrides_is_a_warning(tmp_path):
    text = HEAD + "    load: {model: open, shape: constant, rate: 5, duration: 10s}\n"
    text += "load: {shape: constant, users: 1, duration: 10s}\n"
    (warning,) = _load(tmp_path, text).warnings
    assert warning.path == "load" and "runs no one" in warning.message


def test_set_changes_an_open_rate_and_is_checked_as_the_file_is(tmp_path):
    text = HEAD + "load: {model: open, shape: constant, rate: 5, duration: 10s}\n"
    loaded = _load(tmp_path, text, overrides=[parse_override("load.rate=80")])
    assert loaded.scenario.load.rate == 80.0
    (problem,) = _problems(tmp_path, text, overrides=[parse_override("load.rate=0")])
    assert problem[1:] == ("load.rate", "Input should be greater than 0 (found 0)")
    (problem,) = _problems(tmp_path, text, overrides=[parse_override("load.users=5")])
    assert problem[1] == "load.users" and "closed-model field" in problem[2]


def test_the_json_schema_knows_the_open_shapes_and_the_per_entry_load():
    jsonschema = pytest.importorskip("jsonschema")
    schema = Scenario.model_json_schema(by_alias=True)
    validator = jsonschema.Draft202012Validator(json.loads(json.dumps(schema)))
    user = {"name": "u", "requests": [{"path": "/"}]}
    good = {
        "name": "s",
        "users": [{**user, "load": {"model": "open", "shape": "constant", "rate": 5,
                                    "duration": "1m", "arrivals": "poisson"}}],
    }  # fmt: skip
    assert list(validator.iter_errors(good)) == []
    bad = {"name": "s", "users": [user], "load": {"model": "open", "shape": "constant",
                                                  "rate": 0, "duration": "1m"}}  # fmt: skip
    assert list(validator.iter_errors(bad)) != []
    no_load = {"name": "s", "users": [user]}
    assert list(validator.iter_errors(no_load)) != []


def test_problem_text_is_file_line_field_message(tmp_path):
    text = HEAD + "load: {model: open, shape: constant, rate: 0, duration: 1m}\n"
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, text)
    (problem,) = caught.value.problems
    assert isinstance(problem, Problem)
    assert str(problem).endswith(
        f"{FILE}:6:44: load.rate: Input should be greater than 0 (found 0)"
    )
