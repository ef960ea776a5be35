"""Loading valid scenarios: parsed values, host precedence, secrets and redaction."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from framework.errors import UnresolvedVariableError
from framework.scenario.loader import load_scenario
from framework.scenario.problems import format_path

SCENARIO = """\
name: checkout
description: Browse then buy.
host: http://shop.local:8080/
headers: {X-API-Key: "${API_KEY}", X-Tenant: "${TENANT:-perf}"}
timeout: 5s
users:
  - name: browser
    weight: 3
    think_time: {uniform_ms: [100, 300]}
    requests:
      - {name: home, path: /, weight: 4, expect: {status: 2xx, max_ms: 500}}
      - {path: "/items/{{ random_int(1, 100) }}", method: get}
  - name: buyer
    host: http://pay.local/
    think_time: {pacing: 2s}
    requests:
      - path: /buy
        method: POST
        json: {item: "{{ random_int(1, 9) }}", note: "$${literal}"}
        expect: {status: [200, 201], json: [{path: order.id, exists: true}]}
        timeout: 1m30s
load: {shape: stepped, start_users: 10, step_users: 5, step_duration: 2m, steps: 3, spawn_rate: 5}
tags: {team: shop}
"""


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_scenario_is_parsed_into_typed_values(tmp_path):
    loaded = load_scenario(_write(tmp_path, SCENARIO), env={"API_KEY": "k-123"})
    s = loaded.scenario
    assert s.name == "checkout"
    assert s.host == "http://shop.local:8080"
    assert s.timeout == 5.0
    browser, buyer = s.users
    assert browser.think_time.uniform_ms == (100.0, 300.0)
    assert browser.requests[0].expect.status == tuple(range(200, 300))
    assert browser.requests[0].expect.max_ms == 500
    assert browser.requests[1].method == "GET"
    assert browser.requests[1].label == "/items/{{ random_int(1, 100) }}"
    assert buyer.think_time.pacing == 2.0
    assert buyer.requests[0].timeout == 90.0
    assert buyer.requests[0].expect.status == (200, 201)
    assert buyer.requests[0].expect.json_checks[0].path == "order.id"
    assert s.load.shape == "stepped"
    assert s.load.step_duration == 120.0
    assert s.tags == {"team": "shop"}


def test_loaded_path_is_absolute_and_base_dir_is_its_folder(tmp_path, monkeypatch):
    _write(tmp_path, SCENARIO)
    monkeypatch.chdir(tmp_path)
    loaded = load_scenario("scenario.yaml", env={"API_KEY": "k"})
    assert loaded.path == (tmp_path / "scenario.yaml").resolve()
    assert loaded.base_dir == tmp_path.resolve()


def test_env_values_are_used_but_redacted_and_remembered_as_secrets(tmp_path):
    loaded = load_scenario(_write(tmp_path, SCENARIO), env={"API_KEY": "k-123"})
    assert loaded.scenario.headers == {"X-API-Key": "k-123", "X-Tenant": "perf"}
    assert loaded.redacted["headers"] == {"X-API-Key": "${API_KEY}", "X-Tenant": "perf"}
    assert loaded.secrets == frozenset({"k-123"})


def test_escaped_dollar_brace_stays_literal(tmp_path):
    loaded = load_scenario(_write(tmp_path, SCENARIO), env={"API_KEY": "k"})
    assert loaded.scenario.users[1].requests[0].json_body["note"] == "${literal}"


def test_scenario_host_is_the_default_target(tmp_path):
    loaded = load_scenario(_write(tmp_path, SCENARIO), env={"API_KEY": "k"})
    browser, buyer = loaded.scenario.users
    assert loaded.host == "http://shop.local:8080"
    assert loaded.host_for(browser) == "http://shop.local:8080"
    assert loaded.host_for(buyer) == "http://pay.local"


@pytest.mark.parametrize(
    ("host", "env", "expected"),
    [
        ("http://flag:1/", {"SWARM_HOST": "http://env:2"}, "http://flag:1"),
        (None, {"SWARM_HOST": "http://env:2/"}, "http://env:2"),
        (None, {}, "http://shop.local:8080"),
    ],
)
def test_host_flag_beats_swarm_host_beats_scenario(tmp_path, host, env, expected):
    loaded = load_scenario(_write(tmp_path, SCENARIO), env={"API_KEY": "k", **env}, host=host)
    assert loaded.host == expected


def test_host_override_also_replaces_a_users_own_host(tmp_path):
    loaded = load_scenario(_write(tmp_path, SCENARIO), env={"API_KEY": "k"}, host="http://o")
    assert [loaded.host_for(u) for u in loaded.scenario.users] == ["http://o", "http://o"]


def test_require_host_is_met_when_every_user_has_its_own_host(tmp_path):
    text = """\
        name: t
        users: [{name: u, host: "http://a", requests: [{path: /x}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """
    loaded = load_scenario(_write(tmp_path, text), env={}, require_host=True)
    assert loaded.host is None
    assert loaded.host_for(loaded.scenario.users[0]) == "http://a"


def test_env_defaults_to_the_process_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("API_KEY", "from-env")
    monkeypatch.delenv("SWARM_HOST", raising=False)
    loaded = load_scenario(_write(tmp_path, SCENARIO))
    assert loaded.scenario.headers["X-API-Key"] == "from-env"


def test_every_unset_variable_is_named_in_one_error(tmp_path):
    text = """\
        name: t
        headers: {A: "${FIRST}", B: "${SECOND}", C: "${THIRD:-ok}"}
        users: [{name: u, requests: [{path: /x}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """
    with pytest.raises(UnresolvedVariableError) as info:
        load_scenario(_write(tmp_path, text), env={})
    messages = [p.message for p in info.value.problems]
    assert [m.split(" ")[0] for m in messages] == ["${FIRST}", "${SECOND}"]


def test_data_file_is_found_beside_the_scenario(tmp_path, monkeypatch):
    folder = tmp_path / "suite"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "accounts.csv").write_text("email\na@x\n", encoding="utf-8")
    text = """\
        name: t
        host: http://h
        data: {accounts: {file: data/accounts.csv, order: unique}}
        users: [{name: u, requests: [{path: "/u/{{ data.accounts.email }}"}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """
    scenario = _write(folder, text)
    monkeypatch.chdir(tmp_path)
    loaded = load_scenario(scenario, env={})
    assert loaded.scenario.data["accounts"].order == "unique"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("users", 0, "name"), "users[0].name"),
        (("load", "stages", 2, "users"), "load.stages[2].users"),
        ((0,), "[0]"),
    ],
)
def test_format_path_writes_indexes_in_brackets(path, text):
    assert format_path(path) == text
