"""``--set PATH=VALUE``: read as YAML, applied before ``${VAR}``s and validation, problems at
the flag; and environment values for settings, which are configuration saved in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.errors import ScenarioError
from framework.scenario.loader import load_scenario
from framework.scenario.overrides import apply_overrides, parse_override

SCENARIO = """\
name: shop
host: http://127.0.0.1:9
headers: {X-Key: "${API_KEY}"}
users:
  - name: browse
    think_time: {fixed_ms: 100}
    requests:
      - {name: home, path: /}
      - {name: item, path: /item}
  - name: buy
    weight: 2
    requests: [{path: /buy}]
load: {shape: constant, users: 5, spawn_rate: 5, duration: 1m}
"""
SECRET = "key-value-123"


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def _load(path: Path, *sets: str, env: dict[str, str] | None = None):
    return load_scenario(
        path, overrides=[parse_override(s) for s in sets], env=env or {"API_KEY": SECRET}
    )


def _problems(path: Path, *sets: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        _load(path, *sets)
    return [str(p) for p in caught.value.problems]


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("load.users=50", ("load", "users"), 50),
        ("load.duration=2m", ("load", "duration"), "2m"),
        ("load.spawn_rate=2.5", ("load", "spawn_rate"), 2.5),
        ("users.0.think_time.fixed_ms=0", ("users", "0", "think_time", "fixed_ms"), 0),
        ("users[1].weight=3", ("users", 1, "weight"), 3),
        ("users.browse.weight=3", ("users", "browse", "weight"), 3),
        ("tags.ci=true", ("tags", "ci"), True),
        ("load.stages=[1, 2]", ("load", "stages"), [1, 2]),
        ("budgets.overall={p95_ms: 300}", ("budgets", "overall"), {"p95_ms": 300}),
        ("tags.note=", ("tags", "note"), None),
        ("tags.eq=a=b", ("tags", "eq"), "a=b"),
        ("load.users=${USERS:-5}", ("load", "users"), "${USERS:-5}"),
    ],
)
def test_the_value_is_read_as_a_yaml_value_and_the_path_as_dotted_keys(text, path, value):
    override = parse_override(text)
    assert (override.path, override.value, override.text) == (path, value, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("load.users", "expected PATH=VALUE such as load.users=50"),
        ("=5", "PATH is empty"),
        ("load..users=5", "empty or malformed part ''"),
        ("load.users[x]=5", "empty or malformed part 'users[x]'"),
        ("load.users=[1", "is not a YAML value"),
    ],
)
def test_a_malformed_override_is_refused_saying_what_is_expected(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_override(text)


# --- applying ---------------------------------------------------------------------------------


def test_overrides_apply_in_order_to_a_copy_and_the_last_one_wins():
    data = {"load": {"users": 5}}
    sets = [parse_override(s) for s in ("load.users=6", "load={shape: constant, users: 7}")]
    applied = apply_overrides(data, sets, "s.yaml")
    assert data == {"load": {"users": 5}}
    assert applied.data == {"load": {"shape": "constant", "users": 7}}
    assert applied.origins == {("load",): "--set load"}  # the later one replaced load.users


def test_a_missing_key_is_created_and_its_problems_point_at_the_flag():
    applied = apply_overrides({}, [parse_override("budgets.overall.p95_ms=300")], "s.yaml")
    assert applied.data == {"budgets": {"overall": {"p95_ms": 300}}}
    assert applied.origins == {("budgets",): "--set budgets.overall.p95_ms"}


def test_a_users_entry_is_found_by_its_name_and_a_request_by_its_name(scenario):
    loaded = _load(scenario, "users.buy.weight=7", "users.browse.requests.item.weight=4")
    assert loaded.scenario.users[1].weight == 7
    assert loaded.scenario.users[0].requests[1].weight == 4


def test_overrides_reach_the_scenario_and_its_saved_copy(scenario):
    loaded = _load(
        scenario,
        "load.users=50",
        "load.duration=2m",
        "users.0.think_time.fixed_ms=0",
        "budgets.overall.p95_ms=300",
    )
    assert (loaded.scenario.load.users, loaded.scenario.load.duration) == (50, 120.0)
    assert loaded.scenario.users[0].think_time.fixed_ms == 0
    assert loaded.scenario.budgets.overall.p95_ms == 300
    assert loaded.redacted["load"]["users"] == 50
    assert loaded.redacted["budgets"] == {"overall": {"p95_ms": 300}}
    assert loaded.source["load"]["duration"] == "2m"  # what bundles ship: overrides applied
    assert loaded.overrides == (
        "load.users=50",
        "load.duration=2m",
        "users.0.think_time.fixed_ms=0",
        "budgets.overall.p95_ms=300",
    )


# --- problems: the flag, the path, what is allowed ----------------------------------------------


def test_an_unknown_key_names_the_flag_the_nearest_key_and_the_allowed_ones(scenario):
    assert _problems(scenario, "load.userz=5") == [
        f"{scenario}: --set load.userz: unknown key 'userz'; did you mean 'users'? "
        "Allowed: model, shape, users, spawn_rate, duration."
    ]


def test_an_unknown_top_level_key_created_by_the_flag_is_refused_at_the_flag(scenario):
    (problem,) = _problems(scenario, "lod.users=5")
    assert problem.startswith(f"{scenario}: --set lod.users: lod: unknown key 'lod'")
    assert "did you mean 'load'?" in problem


def test_an_index_out_of_range_names_the_entries_there_are(scenario):
    assert _problems(scenario, "users.5.weight=3") == [
        f"{scenario}: --set users.5.weight: index 5 is out of range: users has 2 entries "
        "(indexes 0..1)"
    ]


def test_an_entry_name_no_entry_has_lists_the_names(scenario):
    assert _problems(scenario, "users.brows.weight=3") == [
        f"{scenario}: --set users.brows.weight: users has no entry named 'brows'; did you "
        "mean 'browse'? Give an index (indexes 0..1) or a name: browse, buy."
    ]


def test_a_path_through_a_plain_value_is_refused(scenario):
    (problem,) = _problems(scenario, "load.users.max=3")
    assert "--set load.users.max: load.users is a number (5), not a mapping or a list" in problem


def test_a_wrong_type_gets_the_model_s_own_message_at_the_flag_not_a_line(scenario, tmp_path):
    (from_flag,) = _problems(scenario, "load.users=lots")
    in_file = tmp_path / "in_file.yaml"
    in_file.write_text(SCENARIO.replace("users: 5,", "users: lots,"), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(in_file, env={"API_KEY": SECRET})
    (from_yaml,) = caught.value.problems
    assert from_yaml.line == 13  # the file's problem has its line ...
    assert from_flag == f"{scenario}: --set load.users: {from_yaml.message}"  # ... same words
    assert "valid integer" in from_yaml.message and "'lots'" in from_yaml.message


def test_every_problem_is_reported_at_once(scenario):
    problems = _problems(scenario, "load.users=0", "users.9.weight=1", "users.0.weight=x")
    assert len(problems) == 3
    assert all("--set " in p for p in problems)


def test_a_problem_below_an_overridden_section_names_the_flag_and_the_field(scenario):
    problems = _problems(scenario, "load={shape: stepped, steps: 2}")
    assert f"{scenario}: --set load: load.spawn_rate: required field is missing" in problems


def test_a_problem_of_the_file_s_section_names_the_flags_that_changed_it(scenario):
    (problem,) = _problems(scenario, "users.0.think_time.pacing=1s")
    assert problem == (
        f"{scenario}:6:17: users[0].think_time: set exactly one of fixed_ms, uniform_ms, "
        "pacing, throughput (found: fixed_ms, pacing) (with --set users.0.think_time.pacing)"
    )


def test_an_unset_variable_in_a_value_names_the_flag(scenario):
    assert _problems(scenario, "load.users=${NOPE}") == [
        f"{scenario}: --set load.users: ${{NOPE}} is not set and has no default; set NOPE "
        "in the environment or write ${NOPE:-default}"
    ]


# --- ${VAR}s: resolved after the overrides; secrets never in clear ------------------------------


def test_a_value_s_variable_is_resolved_from_the_environment_and_converted(scenario):
    env = {"API_KEY": SECRET, "USERS": "12"}
    loaded = _load(scenario, "load.users=${USERS:-5}", "load.duration=${LEN:-90s}", env=env)
    assert (loaded.scenario.load.users, loaded.scenario.load.duration) == (12, 90.0)
    assert loaded.redacted["load"]["users"] == "12"  # configuration: saved as it was used
    assert loaded.redacted["load"]["duration"] == "90s"


def test_a_secret_set_by_an_override_is_a_reference_in_every_saved_form(scenario):
    loaded = _load(
        scenario,
        "users.0.requests.0.headers.Authorization=Bearer ${TOKEN}",
        env={"API_KEY": SECRET, "TOKEN": "token-456"},
    )
    assert loaded.scenario.users[0].requests[0].headers["Authorization"] == "Bearer token-456"
    assert loaded.redacted["users"][0]["requests"][0]["headers"] == {
        "Authorization": "Bearer ${TOKEN}"
    }
    assert "TOKEN" in loaded.secret_names
    assert loaded.shown_overrides == ["users.0.requests.0.headers.Authorization=Bearer ${TOKEN}"]
    assert "token-456" not in repr(loaded)


def test_an_override_that_puts_a_secret_elsewhere_keeps_it_a_reference(scenario):
    loaded = _load(scenario, "tags.key=${API_KEY}")
    assert loaded.redacted["tags"] == {"key": "${API_KEY}"}


def test_a_secret_value_the_shell_expanded_into_an_override_is_masked_in_the_flags_shown(
    scenario,
):
    loaded = _load(scenario, f"tags.key={SECRET}")  # "${API_KEY}" in double quotes
    assert loaded.shown_overrides == ["tags.key=***"]
    assert "overrides=['tags.key=***']" in repr(loaded)


# --- environment values for settings, without --set (configuration, saved in clear) ---------------

SETTINGS = """\
name: env
host: http://127.0.0.1:9
users:
  - name: u
    weight: ${WEIGHT:-2}
    think_time: {fixed_ms: "${THINK_MS:-0}"}
    requests: [{path: /}]
load: {shape: constant, users: "${USERS:-5}", spawn_rate: "${RATE:-1}", duration: "${LEN:-1m}"}
tags: {build: "${BUILD:-dev}"}
"""


@pytest.mark.parametrize(
    ("env", "users", "rate", "duration", "weight", "think_ms", "build"),
    [
        ({}, 5, 1.0, 60.0, 2, 0.0, "dev"),
        (
            {"USERS": "7", "RATE": "2.5", "LEN": "2m", "WEIGHT": "3", "THINK_MS": "50",
             "BUILD": "b9"},
            7, 2.5, 120.0, 3, 50.0, "b9",
        ),
    ],
)  # fmt: skip
def test_environment_values_for_settings_are_converted_and_saved_in_clear(
    tmp_path, env, users, rate, duration, weight, think_ms, build
):
    path = tmp_path / "env.yaml"
    path.write_text(SETTINGS, encoding="utf-8")
    loaded = load_scenario(path, env=env)
    load = loaded.scenario.load
    assert (load.users, load.spawn_rate, load.duration) == (users, rate, duration)
    user = loaded.scenario.users[0]
    assert (user.weight, user.think_time.fixed_ms) == (weight, think_ms)
    assert loaded.secrets == frozenset() and loaded.secret_names == frozenset()
    saved = loaded.redacted
    assert str(saved["load"]["users"]) == str(users)  # the value, not ${USERS}
    assert "${" not in repr(saved)
    assert saved["tags"] == {"build": build}
