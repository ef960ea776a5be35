"""Response checks: (status, body, latency ms) → None when acceptable, else the failure text."""

from __future__ import annotations

import json

import pytest

from framework.locust_glue.checks import compile_expect, lookup
from framework.scenario.model import Expect

OK_BODY = json.dumps(
    {"verdict": {"label": "clean", "score": 0.12, "labels": ["ham", "short"]}, "count": 3}
)


def _check(expect: dict, status: int = 200, text: str = OK_BODY, latency_ms: float = 10.0):
    return compile_expect(Expect.model_validate(expect))(status, text, latency_ms)


@pytest.mark.parametrize(
    ("expect", "status", "message"),
    [
        ({"status": 200}, 200, None),
        ({"status": 200}, 201, "status 201, expected 200"),
        ({"status": [200, 204]}, 204, None),
        ({"status": [200, 201, 204]}, 500, "status 500, expected 200, 201, 204"),
        ({"status": "2xx"}, 299, None),
        ({"status": "2xx"}, 404, "status 404, expected 200-299"),
        ({"status": "200-202"}, 202, None),
        ({"status": "200-202"}, 203, "status 203, expected 200-202"),
        ({"status": "404"}, 404, None),
        ({"status": 404}, 200, "status 200, expected 404"),
    ],
)
def test_status_codes_lists_classes_and_ranges(expect, status, message):
    assert _check(expect, status=status) == message


@pytest.mark.parametrize(
    ("status", "message"),
    [(200, None), (302, None), (399, None), (400, "status 400"), (503, "status 503")],
)
def test_without_status_below_400_is_success(status, message):
    assert _check({}, status=status) == message


def test_json_checks_alone_keep_the_below_400_rule():
    assert _check({"json": [{"path": "count", "exists": True}]}, status=404) == "status 404"


@pytest.mark.parametrize(
    ("latency_ms", "message"),
    [(499.0, None), (500.0, None), (730.4, "slower than 500 ms")],
)
def test_max_ms_fails_slower_responses(latency_ms, message):
    assert _check({"max_ms": 500}, latency_ms=latency_ms) == message


def test_latency_failures_share_one_message_so_locust_groups_them():
    messages = {_check({"max_ms": 1000}, latency_ms=ms) for ms in (1000.4, 1200.0, 5000.0)}
    assert messages == {"slower than 1000 ms"}


def test_status_is_checked_before_latency_and_body():
    expect = {"status": 200, "max_ms": 5, "body_contains": "nope"}
    assert _check(expect, status=500, latency_ms=99) == "status 500, expected 200"
    assert _check(expect, latency_ms=99) == "slower than 5 ms"
    assert _check(expect, latency_ms=1) == "body does not contain 'nope'"


@pytest.mark.parametrize(
    ("needle", "message"), [("clean", None), ("spam", "body does not contain 'spam'")]
)
def test_body_contains_searches_the_text(needle, message):
    assert _check({"body_contains": needle}) == message


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"path": "verdict.label", "equals": "clean"}, None),
        (
            {"path": "verdict.label", "equals": "spam"},
            "json verdict.label = 'clean', expected 'spam'",
        ),
        ({"path": "count", "equals": 3}, None),
        ({"path": "verdict.label", "in": ["clean", "spam"]}, None),
        (
            {"path": "count", "in": [1, 2]},
            "json count = 3, expected one of [1, 2]",
        ),
        ({"path": "verdict.score", "exists": True}, None),
        ({"path": "verdict.reason", "exists": True}, "json verdict.reason is missing"),
        ({"path": "verdict.reason", "exists": False}, None),
        ({"path": "count", "exists": False}, "json count should be absent, found 3"),
        ({"path": "verdict.label", "matches": "^cl"}, None),
        (
            {"path": "verdict.label", "matches": "^sp"},
            "json verdict.label = 'clean', expected to match '^sp'",
        ),
        ({"path": "count", "matches": "^3$"}, None),
        ({"path": "verdict.score", "gte": 0.1}, None),
        ({"path": "verdict.score", "gte": 0.5}, "json verdict.score not >= 0.5"),
        ({"path": "verdict.score", "lte": 0.12}, None),
        ({"path": "count", "lte": 2}, "json count not <= 2"),
        ({"path": "count", "gte": 1, "lte": 5}, None),
        (
            {"path": "verdict.label", "gte": 1},
            "json verdict.label = 'clean', expected a number >= 1",
        ),
        ({"path": "verdict.missing", "equals": 1}, "json verdict.missing is missing"),
    ],
)
def test_json_field_conditions(check, message):
    assert _check({"json": [check]}) == message


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("verdict.labels.0", None),
        ("verdict.labels.-1", "json verdict.labels.-1 = 'short', expected 'ham'"),
        ("verdict.labels.2", "json verdict.labels.2 is missing"),
        ("verdict.labels.first", "json verdict.labels.first is missing"),
    ],
)
def test_dotted_path_indexes_into_lists(path, message):
    assert _check({"json": [{"path": path, "equals": "ham"}]}) == message


def test_first_failing_json_check_is_reported():
    checks = [
        {"path": "count", "equals": 3},
        {"path": "count", "lte": 1},
        {"path": "x", "exists": True},
    ]
    assert _check({"json": checks}) == "json count not <= 1"


@pytest.mark.parametrize("text", ["<html>busy</html>", "", "{truncated"])
def test_non_json_body_fails_json_checks(text):
    assert _check({"json": [{"path": "a", "exists": True}]}, text=text) == "response is not JSON"


def test_non_json_body_passes_when_there_are_no_json_checks():
    assert _check({"status": 200}, text="<html>ok</html>") is None


def test_long_values_are_shortened_in_messages():
    message = _check({"json": [{"path": "verdict.label", "equals": "x" * 60}]})
    assert (
        message == "json verdict.label = 'clean', expected 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    )


def test_lookup_follows_dicts_and_list_indexes():
    doc = {"a": [{"b": {"c": 1}}], "k": {"1": "by-key"}}
    assert lookup(doc, "a.0.b.c") == 1
    assert lookup(doc, "k.1") == "by-key"
    assert lookup([10, 20], "1") == 20


def test_equals_null_requires_a_null_value():
    assert _check({"json": [{"path": "count", "equals": None}]}) is not None


def test_equals_number_does_not_accept_a_boolean():
    assert _check({"json": [{"path": "flag", "equals": 1}]}, text='{"flag": true}') is not None
