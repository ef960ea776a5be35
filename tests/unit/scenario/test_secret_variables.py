"""Which variables are secrets: those a request sends, and those the scenario declares."""

from __future__ import annotations

import pytest

from framework.errors import ScenarioError
from framework.plan.summary import describe_scenario
from framework.scenario.interpolation import Redactor, interpolate, secret_variables
from framework.scenario.loader import load_scenario

SCENARIO = """
name: s
host: http://${TARGET_HOST}:8000
headers: {X-Top: "${TOP_KEY}"}
tags: {build: "${BUILD_ID}", region: "${REGION}"}
secrets: [REGION]
users:
  - name: u
    headers: {X-User: "${USER_KEY}"}
    requests:
      - path: /items/${PATH_TOKEN}
        query: {key: "${QUERY_KEY}", n: "${PAGE:-1}"}
        headers: {X-Req: "${REQ_KEY}"}
        json: {nested: ["${BODY_KEY}"]}
      - name: raw
        method: POST
        path: /raw
        body: "token=${RAW_KEY}"
load: {shape: constant, users: "${USERS}", duration: "${DURATION}"}
"""
ENV = {
    "TARGET_HOST": "127.0.0.1",
    "TOP_KEY": "top-key-1",
    "BUILD_ID": "1234",
    "REGION": "eu-west-7",
    "USER_KEY": "user-key-1",
    "PATH_TOKEN": "path-tok-1",
    "QUERY_KEY": "query-key-1",
    "REQ_KEY": "req-key-1",
    "BODY_KEY": "body-key-1",
    "RAW_KEY": "raw-key-1",
    "USERS": "100",
    "DURATION": "30s",
}
SENT = {"TOP_KEY", "USER_KEY", "PATH_TOKEN", "QUERY_KEY", "PAGE", "REQ_KEY", "BODY_KEY", "RAW_KEY"}


@pytest.fixture
def loaded(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return load_scenario(path, env=ENV)


def test_every_variable_a_request_sends_and_every_declared_one_is_secret(loaded):
    assert loaded.secret_names == SENT | {"REGION"}


def test_configuration_is_not_secret_and_is_saved_as_used(loaded):
    assert loaded.redacted["load"] == {"shape": "constant", "users": "100", "duration": "30s"}
    assert loaded.redacted["tags"]["build"] == "1234"
    assert loaded.redacted["host"] == "http://127.0.0.1:8000"
    assert loaded.scenario.load.users == 100
    assert not {"100", "1234", "30s", "127.0.0.1"} & loaded.secrets


def test_secret_values_are_collected_and_shown_as_references(loaded):
    assert loaded.secrets == {ENV[name] for name in SENT - {"PAGE"}} | {"eu-west-7"}
    assert loaded.redacted["tags"]["region"] == "${REGION}"
    assert loaded.redacted["headers"] == {"X-Top": "${TOP_KEY}"}
    request = loaded.redacted["users"][0]["requests"][0]
    assert request["path"] == "/items/${PATH_TOKEN}"
    assert request["query"] == {"key": "${QUERY_KEY}", "n": "1"}  # the default is no secret
    assert request["json"] == {"nested": ["${BODY_KEY}"]}


def test_a_request_without_name_is_labelled_by_its_path_as_written(loaded):
    assert loaded.request_label(0, 0) == "/items/${PATH_TOKEN}"
    assert loaded.request_path(0, 0) == "/items/${PATH_TOKEN}"
    assert loaded.request_label(0, 1) == "raw"
    assert loaded.scenario.users[0].requests[0].path == "/items/path-tok-1"  # what is sent


def test_a_variable_used_in_a_request_and_in_configuration_is_secret_everywhere():
    data = {"headers": {"K": "${SHARED}"}, "tags": {"t": "${SHARED}"}}
    out = interpolate(data, {"SHARED": "shared-1"})
    assert out.redacted == {"headers": {"K": "${SHARED}"}, "tags": {"t": "${SHARED}"}}
    assert out.secrets == {"shared-1"}


def test_a_variable_only_in_configuration_is_saved_in_clear():
    out = interpolate({"tags": {"build": "${BUILD_ID}"}}, {"BUILD_ID": "1234"})
    assert out.redacted == {"tags": {"build": "1234"}}
    assert out.secrets == set()


def test_a_declared_secret_is_secret_even_where_no_request_sends_it():
    data = {"secrets": ["BUILD_ID"], "tags": {"build": "${BUILD_ID}"}}
    out = interpolate(data, {"BUILD_ID": "build-77"})
    assert out.redacted == {"secrets": ["BUILD_ID"], "tags": {"build": "${BUILD_ID}"}}
    assert out.resolved["tags"] == {"build": "build-77"}
    assert out.secrets == {"build-77"}


def test_the_secrets_list_holds_names_and_is_not_resolved():
    out = interpolate({"secrets": ["${X}"]}, {"X": "value"})
    assert out.resolved == {"secrets": ["${X}"]}


def test_a_configuration_value_that_looks_like_a_reference_is_saved_escaped():
    out = interpolate({"tags": {"t": "${A}"}}, {"A": "${B}"})
    assert out.resolved == {"tags": {"t": "${B}"}}
    assert out.redacted == {"tags": {"t": "$${B}"}}
    assert interpolate(out.redacted, {"B": "no"}).resolved == out.resolved


def test_secret_variables_reads_only_sent_fields_and_the_declaration():
    data = {
        "name": "${NAME}",
        "description": "${DESC}",
        "users": [{"host": "${HOST}", "requests": [{"name": "${LABEL}", "path": "/"}]}],
        "secrets": ["DECLARED"],
    }
    assert secret_variables(data) == {"DECLARED"}
    assert secret_variables(["not", "a", "mapping"]) == frozenset()


def test_secrets_must_name_variables(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nsecrets: [API_KEY, 'not a name']\nusers: [{name: u, requests: [{path: /}]}]\n"
        "load: {shape: constant, users: 1, duration: 1s}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    (problem,) = caught.value.problems
    assert problem.line == 2 and "secrets" in problem.path and "'not a name'" in str(problem)


def test_redactor_masks_longest_first_and_is_falsy_without_secrets():
    redactor = Redactor({"abc", "abcdef", ""})
    assert redactor.text("x abcdef y abc") == "x *** y ***"
    assert redactor.found_in("..abc..") and not redactor.found_in("ab")
    assert "abc" not in repr(redactor)
    assert not Redactor() and not Redactor({""})


def test_validate_names_the_secrets_and_shows_no_value(loaded):
    text = describe_scenario(loaded)
    assert "secrets (sent, never written): BODY_KEY, PAGE, PATH_TOKEN, QUERY_KEY" in text
    assert "/items/${PATH_TOKEN}" in text
    assert not [value for value in loaded.secrets if value in text]
