"""``${VAR}`` substitution: defaults, escapes, and the redacted copy that may be saved."""

from __future__ import annotations

import pytest

from framework.scenario.interpolation import MissingVariable, interpolate, mask_url_password


@pytest.mark.parametrize(
    ("text", "env", "resolved"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": "set"}, "set"),
        ("${A:-dflt}", {"A": ""}, "dflt"),
        ("${A:-}", {}, ""),
        ("${A}", {"A": ""}, ""),
        ("${A:-http://h:1/p}", {}, "http://h:1/p"),
        ("$${A}", {"A": "x"}, "${A}"),
        ("cost: $5", {}, "cost: $5"),
        ("$A", {"A": "x"}, "$A"),
    ],
)
def test_references_resolve_from_env_or_default(text, env, resolved):
    assert interpolate({"v": text}, env).resolved == {"v": resolved}


def test_non_string_leaves_and_keys_are_left_alone():
    data = {"${K}": [1, 2.5, True, None], "n": {"deep": ["${A}"]}}
    out = interpolate(data, {"K": "key", "A": "a"})
    assert out.resolved == {"${K}": [1, 2.5, True, None], "n": {"deep": ["a"]}}


def test_env_value_is_not_expanded_again():
    assert interpolate({"v": "${A}"}, {"A": "${B}", "B": "no"}).resolved == {"v": "${B}"}


def test_env_values_are_secrets_and_redacted_to_their_reference():
    out = interpolate({"headers": {"Authorization": "Bearer ${TOKEN}"}}, {"TOKEN": "t0k3n"})
    assert out.resolved == {"headers": {"Authorization": "Bearer t0k3n"}}
    assert out.redacted == {"headers": {"Authorization": "Bearer ${TOKEN}"}}
    assert out.secrets == {"t0k3n"}


def test_defaults_are_not_secret_and_stay_in_the_redacted_copy():
    out = interpolate({"tenant": "${TENANT:-perf}"}, {})
    assert out.redacted == {"tenant": "perf"}
    assert out.secrets == set()


def test_empty_env_value_is_not_recorded_as_a_secret():
    out = interpolate({"headers": {"v": "${A}"}}, {"A": ""})
    assert out.secrets == set()
    assert out.redacted == {"headers": {"v": "${A}"}}


def test_escape_survives_in_the_redacted_copy_so_it_reloads_the_same():
    out = interpolate({"v": "$${HOME}"}, {"HOME": "/root"})
    assert out.redacted == {"v": "$${HOME}"}
    assert interpolate(out.redacted, {"HOME": "/root"}).resolved == out.resolved


def test_host_keeps_its_env_value_with_password_masked():
    env = {"TARGET": "https://bot:pw@api.example:8443/v1"}
    out = interpolate({"host": "${TARGET}", "users": [{"host": "${TARGET}"}]}, env)
    assert out.resolved["host"] == "https://bot:pw@api.example:8443/v1"
    assert out.redacted == {
        "host": "https://bot:***@api.example:8443/v1",
        "users": [{"host": "https://bot:***@api.example:8443/v1"}],
    }


def test_literal_host_password_is_masked_too():
    out = interpolate({"host": "http://u:plain@h"}, {})
    assert out.redacted == {"host": "http://u:***@h"}


def test_password_in_env_host_is_recorded_as_a_secret():
    out = interpolate({"host": "http://u:${PW}@h"}, {"PW": "hunter2"})
    assert out.secrets == {"hunter2"}


def test_only_scenario_and_user_host_fields_are_public():
    data = {"users": [{"requests": [{"headers": {"host": "${VHOST_KEY}"}}]}]}
    out = interpolate(data, {"VHOST_KEY": "s3cret"})
    assert out.redacted == {"users": [{"requests": [{"headers": {"host": "${VHOST_KEY}"}}]}]}


def test_missing_variables_are_listed_with_their_paths():
    data = {"headers": {"A": "${ONE}"}, "users": [{"host": "${TWO}"}], "ok": "${THREE:-x}"}
    out = interpolate(data, {})
    assert out.missing == [
        MissingVariable(("headers", "A"), "ONE"),
        MissingVariable(("users", 0, "host"), "TWO"),
    ]
    assert out.resolved["headers"] == {"A": ""}
    assert out.redacted["headers"] == {"A": "${ONE}"}


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://u:pw@h/", "http://u:***@h/"),
        ("https://u:pw@h:8443/p?q=1", "https://u:***@h:8443/p?q=1"),
        ("http://u@h/", "http://u@h/"),
        ("http://h/", "http://h/"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url_password_hides_only_the_password(url, masked):
    assert mask_url_password(url) == masked


def test_values_too_short_to_mask_are_redacted_but_not_searched_for():
    out = interpolate({"headers": {"K": "${K}"}}, {"K": "ab"})
    assert out.redacted == {"headers": {"K": "${K}"}}
    assert out.secrets == set()
