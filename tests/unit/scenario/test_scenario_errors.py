"""Malformed scenarios: each one must be reported at the right place with a useful message.

Every case is a literal YAML file and the exact problems ``load_scenario`` must report:
(line, column, field path, message). A person fixes the file from these alone, so the
message has to name what was found and what is allowed.
"""

from __future__ import annotations

import textwrap

import pytest

from framework.errors import Problem, ScenarioError, UnresolvedVariableError
from framework.scenario.loader import load_scenario
from framework.scenario.model import host_url

FILE = "scenario.yaml"
DURATION_HELP = "use a number of seconds (90), or units h/m/s/ms combined (90s, 2m, 1h30m, 250ms)"
STATUS_HELP = "use a code (200), a list ([200, 201]), a class ('2xx') or a range ('200-299')"
HELPERS = "choice, data, now, random_id, random_int, random_text, user_id, vars"
TOP_KEYS = (
    "name, description, host, headers, timeout, data, users, load, tags, secrets, budgets, "
    "abort, validation, mocks, faults, gauges"
)
USER_KEYS = (
    "name, weight, host, headers, timeout, think_time, requests, flow, on_start, flow_name, "
    "on_capture_failure, load"
)
MISSING_LOAD = (
    "required field is missing: users 'u' run under the scenario's load (they have no load "
    "of their own); add a load section, or give each users entry its own load"
)
REQUEST_KEYS = "name, method, path, weight, query, headers, json, body, expect, timeout, metrics"


def _y(text: str) -> str:
    """An indented literal in the table below → the YAML file's text."""
    return textwrap.dedent(text).lstrip("\n")


def _seen(problems: list[Problem]) -> list[tuple[int | None, int | None, str, str]]:
    """The problems as (line, column, path, message)."""
    return [(p.line, p.column, p.path, p.message) for p in problems]


def _load_error(tmp_path, monkeypatch, text: str, **options) -> ScenarioError:
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    options.setdefault("env", {})
    with pytest.raises(ScenarioError) as info:
        load_scenario(FILE, **options)
    return info.value


CASES = [
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests: [{path: /x}]
            load: shape: constant
        """),
        [(5, 12, "", "invalid YAML: mapping values are not allowed here")],
        id="yaml-syntax-error-has-line-and-column",
    ),
    pytest.param(
        "name: t\n\tusers: []\n",
        [(2, 1, "", "invalid YAML: found character '\\t' that cannot start any token")],
        id="yaml-tab-indent",
    ),
    pytest.param(
        "",
        [
            (
                1,
                None,
                "",
                "the file is empty (no YAML, only blanks or comments); expected a scenario: a "
                "YAML mapping with at least name, users and load (see scenarios/smoke.yaml)",
            ),
        ],
        id="empty-file-says-it-is-empty",
    ),
    pytest.param(
        "# only a comment\n",
        [
            (
                1,
                None,
                "",
                "the file is empty (no YAML, only blanks or comments); expected a scenario: a "
                "YAML mapping with at least name, users and load (see scenarios/smoke.yaml)",
            ),
        ],
        id="comment-only-file-says-it-is-empty",
    ),
    pytest.param(
        "- name: t\n- users: []\n",
        [
            (
                1,
                1,
                "",
                "a scenario must be a mapping of fields (name, users, load, ...), found list",
            )
        ],
        id="top-level-list",
    ),
    pytest.param(
        "just a sentence\n",
        [(1, 1, "", "a scenario must be a mapping of fields (name, users, load, ...), found str")],
        id="top-level-scalar",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
            name: t2
        """),
        [(4, 1, "", "duplicate key 'name'")],
        id="duplicate-top-level-key",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    path: /y
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(6, 9, "", "duplicate key 'path'")],
        id="duplicate-nested-key",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            loads: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (1, 1, "load", MISSING_LOAD),
            (
                3,
                1,
                "loads",
                f"unknown key 'loads'; did you mean 'load'? Allowed: {TOP_KEYS}.",
            ),
        ],
        id="unknown-top-level-key-suggests-closest",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
            owner: perf-team
        """),
        [(4, 1, "owner", f"unknown key 'owner'. Allowed: {TOP_KEYS}.")],
        id="unknown-key-without-close-match-lists-allowed",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                thinktime: {fixed_ms: 100}
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                5,
                "users[0].thinktime",
                f"unknown key 'thinktime'; did you mean 'think_time'? Allowed: {USER_KEYS}.",
            )
        ],
        id="unknown-key-in-users",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    methd: POST
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                6,
                9,
                "users[0].requests[0].methd",
                f"unknown key 'methd'; did you mean 'method'? Allowed: {REQUEST_KEYS}.",
            )
        ],
        id="unknown-key-in-requests",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    expect: {stauts: 200}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                6,
                18,
                "users[0].requests[0].expect.stauts",
                "unknown key 'stauts'; did you mean 'status'? "
                "Allowed: status, json, body_contains, max_ms.",
            )
        ],
        id="unknown-key-in-expect",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, user: 3, duration: 10s}
        """),
        [
            (3, 7, "load.users", "required field is missing"),
            (
                3,
                25,
                "load.user",
                "unknown key 'user'; did you mean 'users'? "
                "Allowed: model, shape, users, spawn_rate, duration.",
            ),
        ],
        id="unknown-key-in-load",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                think_time: {fixed: 100}
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                18,
                "users[0].think_time.fixed",
                "unknown key 'fixed'; did you mean 'fixed_ms'? "
                "Allowed: fixed_ms, uniform_ms, pacing, throughput.",
            )
        ],
        id="unknown-key-in-think-time",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    expect: {json: [{path: verdict, equal: clean}]}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                6,
                41,
                "users[0].requests[0].expect.json[0].equal",
                "unknown key 'equal'; did you mean 'equals'? "
                "Allowed: path, equals, in, exists, matches, gte, lte.",
            )
        ],
        id="unknown-key-in-json-check",
    ),
    pytest.param(
        _y("""
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(1, 1, "name", "required field is missing")],
        id="missing-name",
    ),
    pytest.param(
        _y("""
            name: t
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(1, 1, "users", "required field is missing")],
        id="missing-users",
    ),
    pytest.param(
        _y("""
            name: t
            users: []
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(2, 8, "users", "List should have at least 1 item after validation, not 0")],
        id="empty-users",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
        """),
        [(1, 1, "load", MISSING_LOAD)],
        id="missing-load",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                3,
                5,
                "users[0].requests",
                "required field is missing: give requests (weighted requests) or flow "
                "(steps in order), or both",
            )
        ],
        id="missing-requests",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - method: GET
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(5, 9, "users[0].requests[0].path", "required field is missing")],
        id="missing-path",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - {method: FETCH, path: /x}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                18,
                "users[0].requests[0].method",
                "Input should be 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD' or 'OPTIONS' "
                "(found 'FETCH')",
            )
        ],
        id="bad-method-lists-allowed",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: health
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                15,
                "users[0].requests[0].path",
                "path must start with '/' (or be a full http(s) URL), got 'health'",
            )
        ],
        id="path-without-slash",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - {path: /x, weight: 0}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                28,
                "users[0].requests[0].weight",
                "Input should be greater than or equal to 1 (found 0)",
            )
        ],
        id="request-weight-zero",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                weight: -2
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(4, 13, "users[0].weight", "Input should be greater than or equal to 1 (found -2)")],
        id="user-weight-negative",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                think_time: {fixed_ms: 100, pacing: 2s}
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                17,
                "users[0].think_time",
                "set exactly one of fixed_ms, uniform_ms, pacing, throughput "
                "(found: fixed_ms, pacing)",
            )
        ],
        id="think-time-two-kinds",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                think_time: {}
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                17,
                "users[0].think_time",
                "set exactly one of fixed_ms, uniform_ms, pacing, throughput (found: none)",
            )
        ],
        id="think-time-no-kind",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                think_time: {uniform_ms: [300, 100]}
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                30,
                "users[0].think_time.uniform_ms",
                "is a range [low, high] in ms; high must not be below low, got [300, 100] "
                "(write [100, 300])",
            )
        ],
        id="uniform-ms-reversed",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 2x}
        """),
        [(3, 45, "load.duration", f"invalid duration '2x'; {DURATION_HELP}")],
        id="duration-unknown-unit",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: -5}
        """),
        [(3, 45, "load.duration", "duration must not be negative, got -5")],
        id="duration-negative",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: ramp, users: 1, duration: 10s}
        """),
        [
            (
                3,
                15,
                "load.shape",
                "unknown shape 'ramp'; allowed: 'constant', 'stepped', 'spike', 'wave', 'stages', "
                "'find_capacity'",
            )
        ],
        id="unknown-shape-lists-allowed",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {users: 1, duration: 10s}
        """),
        [
            (
                3,
                7,
                "load",
                "missing 'shape'; allowed: constant, stepped, spike, wave, stages, find_capacity",
            )
        ],
        id="missing-shape",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: stepped, start_users: 1, step_users: 1, step_duration: 1m, spawn_rate: 1}
        """),
        [(3, 7, "load.steps", "required field is missing")],
        id="stepped-missing-steps",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load:
              shape: spike
              base_users: 10
              spike_users: 10
              base_duration: 1m
              spike_duration: 30s
              recovery_duration: 1m
              spawn_rate: 5
        """),
        [(6, 16, "load.spike_users", "must be above base_users (10), got 10")],
        id="spike-not-above-base",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: wave, min_users: 50, max_users: 5, period: 2m, duration: 6m,
                   spawn_rate: 5}
        """),
        [(3, 47, "load.max_users", "must be above min_users (50), got 5")],
        id="wave-max-below-min",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: stages, stages: []}
        """),
        [(3, 31, "load.stages", "List should have at least 1 item after validation, not 0")],
        id="stages-empty",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load:
              shape: stages
              stages:
                - {duration: 1m, users: 5, spawn_rate: 1}
                - {duration: 1m, users: -1, spawn_rate: 1}
        """),
        [
            (
                7,
                29,
                "load.stages[1].users",
                "Input should be greater than or equal to 0 (found -1)",
            )
        ],
        id="stage-users-negative",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - {path: /x, expect: {status: 6xx}}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                37,
                "users[0].requests[0].expect.status",
                f"invalid status '6xx'; {STATUS_HELP}",
            )
        ],
        id="status-class-6xx",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - {path: /x, expect: {status: 700}}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                37,
                "users[0].requests[0].expect.status",
                "status codes must be 100..599, got 700",
            )
        ],
        id="status-700",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - {path: /x, expect: {status: abc}}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                37,
                "users[0].requests[0].expect.status",
                f"invalid status 'abc'; {STATUS_HELP}",
            )
        ],
        id="status-word",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - {path: /x, expect: {status: [200, 99]}}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                37,
                "users[0].requests[0].expect.status",
                "status codes must be 100..599, got 99",
            )
        ],
        id="status-list-with-bad-code",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    expect: {json: [{path: verdict, matches: '[a-'}]}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                6,
                50,
                "users[0].requests[0].expect.json[0].matches",
                "invalid regular expression: unterminated character set at position 0 "
                "(found '[a-')",
            )
        ],
        id="json-check-invalid-regex",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    expect: {json: [{path: verdict}]}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                6,
                25,
                "users[0].requests[0].expect.json[0]",
                "a JSON check needs a condition: equals, in, exists, matches, gte or lte",
            )
        ],
        id="json-check-without-condition",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    json: {a: 1}
                    body: hello
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(7, 15, "users[0].requests[0].body", "set either json or body, not both")],
        id="json-and-body",
    ),
    pytest.param(
        _y("""
            name: t
            headers: {X-API-Key: "${API_KEY}"}
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                2,
                22,
                "headers.X-API-Key",
                "${API_KEY} is not set and has no default; set API_KEY in the environment "
                "or write ${API_KEY:-default}",
            )
        ],
        id="unset-variable-named",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: "/items/{{ random_uuid() }}"
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                5,
                15,
                "users[0].requests[0].path",
                f"unknown template name(s) ['random_uuid']; allowed: {HELPERS}",
            )
        ],
        id="unknown-template-helper",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /x
                    query: {n: "{{ random_int(1, }}"}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                6,
                20,
                "users[0].requests[0].query.n",
                "template syntax error: unexpected '}', expected ')'",
            )
        ],
        id="template-syntax-error",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: /login
                    method: POST
                    json: {user: "{{ data.accounts.email }}"}
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                7,
                22,
                "users[0].requests[0].json.user",
                "template uses data file 'accounts'; "
                "known data files: none are declared under 'data:'",
            )
        ],
        id="template-uses-undeclared-data-file",
    ),
    pytest.param(
        _y("""
            name: t
            headers: {X-Request-Id: "{{ random_uuid() }}"}
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                2,
                25,
                "headers.X-Request-Id",
                f"unknown template name(s) ['random_uuid']; allowed: {HELPERS}",
            )
        ],
        id="template-error-in-scenario-headers",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                headers: {X-Trace: "{{ trace_id }}"}
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                24,
                "users[0].headers.X-Trace",
                f"unknown template name(s) ['trace_id']; allowed: {HELPERS}",
            )
        ],
        id="template-error-in-user-headers",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests: [{path: /x}]
              - name: u
                requests: [{path: /y}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(5, 11, "users[1].name", "two users entries are named 'u'; names must be unique")],
        id="duplicate-user-names",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: my user
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                3,
                11,
                "users[0].name",
                "user name must start with a letter or _ and hold only letters, digits, _ "
                "and -, got 'my user'",
            )
        ],
        id="user-name-with-space",
    ),
    pytest.param(
        _y("""
            name: t
            host: localhost:8001
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(2, 7, "host", "host must be an http:// or https:// URL, got 'localhost:8001'")],
        id="host-not-a-url",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                host: ftp://files.example
                requests: [{path: /x}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (
                4,
                11,
                "users[0].host",
                "host must be an http:// or https:// URL, got 'ftp://files.example'",
            )
        ],
        id="user-host-not-http",
    ),
    pytest.param(
        _y("""
            name: t
            data:
              accounts: {file: accounts.csv, order: shuffled}
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [
            (3, 20, "data.accounts.file", "data file not found: {dir}/accounts.csv"),
            (
                3,
                41,
                "data.accounts.order",
                "Input should be 'sequential', 'random' or 'unique' (found 'shuffled')",
            ),
        ],
        id="data-order-lists-allowed",
    ),
    pytest.param(
        _y("""
            name: t
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 5, spawn_rate: 0, duration: 10s}
        """),
        [(3, 47, "load.spawn_rate", "Input should be greater than 0 (found 0)")],
        id="spawn-rate-zero",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                weigth: 2
                requests:
                  - path: health
                    method: FETCH
            load: {shape: constant, users: 0, duration: 2x}
            tags: {kind: smoke}
        """),
        [
            (
                4,
                5,
                "users[0].weigth",
                f"unknown key 'weigth'; did you mean 'weight'? Allowed: {USER_KEYS}.",
            ),
            (
                6,
                15,
                "users[0].requests[0].path",
                "path must start with '/' (or be a full http(s) URL), got 'health'",
            ),
            (
                7,
                17,
                "users[0].requests[0].method",
                "Input should be 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD' or 'OPTIONS' "
                "(found 'FETCH')",
            ),
            (8, 32, "load.users", "Input should be greater than or equal to 1 (found 0)"),
            (8, 45, "load.duration", f"invalid duration '2x'; {DURATION_HELP}"),
        ],
        id="several-problems-in-one-pass-sorted-by-line",
    ),
    pytest.param(
        _y("""
            name: t
            data:
              accounts: {file: accounts.csv}
            users: [{name: u, requests: [{path: "/u/{{ data.accounts.id }}"}]}]
            load: {shape: constant, users: 1, duration: 10s}
        """),
        [(3, 20, "data.accounts.file", "data file not found: {dir}/accounts.csv")],
        id="data-file-missing-on-disk",
    ),
    pytest.param(
        _y("""
            name: t
            users:
              - name: u
                requests:
                  - path: "/u/{{ data.acounts.id }}"
                  - path: "/v/{{ random_uuid() }}"
            load: {shape: constant, users: 1, duration: 10s}
            bogus: 1
        """),
        [
            (
                5,
                15,
                "users[0].requests[0].path",
                "template uses data file 'acounts'; "
                "known data files: none are declared under 'data:'",
            ),
            (
                6,
                15,
                "users[0].requests[1].path",
                f"unknown template name(s) ['random_uuid']; allowed: {HELPERS}",
            ),
            (8, 1, "bogus", f"unknown key 'bogus'. Allowed: {TOP_KEYS}."),
        ],
        id="schema-and-template-problems-reported-together",
    ),
    pytest.param(
        _y("""
            name: t
            data:
              accounts: {file: accounts.csv}
            users: [{name: u, requests: [{path: /x}]}]
            load: {shape: constant, users: 1, duration: 10s}
            bogus: 1
        """),
        [
            (3, 20, "data.accounts.file", "data file not found: {dir}/accounts.csv"),
            (6, 1, "bogus", f"unknown key 'bogus'. Allowed: {TOP_KEYS}."),
        ],
        id="missing-data-file-reported-beside-schema-problem",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_malformed_scenario_is_reported_where_and_why(tmp_path, monkeypatch, text, expected):
    folder = str(tmp_path.resolve())
    expected = [
        (line, col, path, msg.replace("{dir}", folder)) for line, col, path, msg in expected
    ]
    error = _load_error(tmp_path, monkeypatch, text)
    assert _seen(error.problems) == expected
    assert all(p.file == FILE for p in error.problems)


HOST_CASES_YAML = _y("""
    name: t
    users: [{name: u, requests: [{path: /x}]}]
    load: {shape: constant, users: 1, duration: 10s}
""")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"host": "localhost:8001"},
            "scenario.yaml: host: --host must be an http:// or https:// URL, got 'localhost:8001'",
            id="host-flag-not-a-url",
        ),
        pytest.param(
            {"env": {"SWARM_HOST": "localhost"}},
            "scenario.yaml: host: SWARM_HOST must be an http:// or https:// URL, got 'localhost'",
            id="swarm-host-env-not-a-url",
        ),
        pytest.param(
            {"require_host": True},
            "scenario.yaml: host: no target host; set 'host' in the scenario, pass --host URL "
            "or set SWARM_HOST",
            id="require-host-with-no-host-anywhere",
        ),
    ],
)
def test_host_problem_names_where_the_host_came_from(tmp_path, monkeypatch, options, expected):
    error = _load_error(tmp_path, monkeypatch, HOST_CASES_YAML, **options)
    assert [str(p) for p in error.problems] == [expected]


def test_problem_prints_as_file_line_column_path_message(tmp_path, monkeypatch):
    text = _y("""
        name: t
        users: [{name: u, requests: [{path: /x}]}]
        load: {shape: constant, users: 1, duration: -5}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    assert [str(p) for p in error.problems] == [
        "scenario.yaml:3:45: load.duration: duration must not be negative, got -5"
    ]
    assert str(error) == (
        "1 problem in scenario:\n"
        "  scenario.yaml:3:45: load.duration: duration must not be negative, got -5"
    )


def test_error_text_counts_problems_and_lists_each_on_its_own_line(tmp_path, monkeypatch):
    text = _y("""
        name: t
        users: [{name: u, requests: [{path: x}]}]
        load: {shape: constant, users: 0, duration: 10s}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    lines = str(error).splitlines()
    assert lines[0] == "2 problems in scenario:"
    assert lines[1].startswith("  scenario.yaml:2:37: users[0].requests[0].path: ")
    assert lines[2].startswith("  scenario.yaml:3:32: load.users: ")


def test_only_unset_variables_raise_unresolved_variable_error(tmp_path, monkeypatch):
    text = _y("""
        name: t
        headers: {X-API-Key: "${API_KEY}", X-Tenant: "${TENANT}"}
        users: [{name: u, requests: [{path: /x}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    assert type(error) is UnresolvedVariableError
    assert [(p.path, p.message.split(" is ")[0]) for p in error.problems] == [
        ("headers.X-API-Key", "${API_KEY}"),
        ("headers.X-Tenant", "${TENANT}"),
    ]


def test_unset_variable_beside_another_problem_is_a_plain_scenario_error(tmp_path, monkeypatch):
    text = _y("""
        name: t
        headers: {X-API-Key: "${API_KEY}"}
        users: [{name: u, requests: [{path: x}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    assert type(error) is ScenarioError
    assert [p.path for p in error.problems] == ["headers.X-API-Key", "users[0].requests[0].path"]


def test_unset_variable_in_host_is_reported_once(tmp_path, monkeypatch):
    text = _y("""
        name: t
        host: ${TARGET}
        users: [{name: u, requests: [{path: /x}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    assert type(error) is UnresolvedVariableError
    assert [str(p) for p in error.problems] == [
        "scenario.yaml:2:7: host: ${TARGET} is not set and has no default; set TARGET in the "
        "environment or write ${TARGET:-default}"
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration: 2x", "'2x'"), ("duration: 1m30", "'1m30'")],
)
def test_message_quotes_the_found_value_once(tmp_path, monkeypatch, field, value):
    text = _y(f"""
        name: t
        users: [{{name: u, requests: [{{path: /x}}]}}]
        load: {{shape: constant, users: 1, {field}}}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    assert error.problems[0].message.count(value) == 1


def test_second_yaml_document_says_one_document_is_expected(tmp_path, monkeypatch):
    error = _load_error(tmp_path, monkeypatch, "name: a\n---\nname: b\n")
    assert [str(p) for p in error.problems] == [
        "scenario.yaml:2:1: invalid YAML: expected a single document in the stream; "
        "but found another document"
    ]


def test_missing_file_is_reported_without_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load_scenario("nope.yaml", env={})
    assert [str(p) for p in info.value.problems] == ["nope.yaml: file not found"]


def test_directory_is_refused_as_a_scenario(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()
    with pytest.raises(ScenarioError) as info:
        load_scenario("scenarios", env={})
    assert [str(p) for p in info.value.problems] == ["scenarios: is a directory, not a file"]


def test_non_utf8_file_names_the_bad_byte(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(FILE, env={})
    assert [str(p) for p in info.value.problems] == [
        "scenario.yaml:1:10: not UTF-8 text (byte 9 cannot be decoded), so it looks binary; "
        "expected a scenario: a YAML mapping with at least name, users and load "
        "(see scenarios/smoke.yaml)"
    ]


def test_empty_data_file_is_refused_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "accounts.csv").write_text("", encoding="utf-8")
    text = _y("""
        name: t
        data: {accounts: {file: accounts.csv}}
        users: [{name: u, requests: [{path: "/u/{{ data.accounts.id }}"}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    csv = tmp_path.resolve() / "accounts.csv"
    assert [str(p) for p in error.problems] == [
        f"scenario.yaml:2:25: data.accounts.file: cannot use data file: {csv}: "
        "empty CSV file (a header line is required)"
    ]


def test_template_column_missing_from_data_file_is_reported(tmp_path, monkeypatch):
    (tmp_path / "accounts.csv").write_text("email,password\na@x,1\n", encoding="utf-8")
    text = _y("""
        name: t
        data: {accounts: {file: accounts.csv}}
        users: [{name: u, requests: [{path: "/u/{{ data.accounts.emial }}"}]}]
        load: {shape: constant, users: 1, duration: 10s}
    """)
    error = _load_error(tmp_path, monkeypatch, text)
    [problem] = error.problems
    assert (problem.line, problem.column, problem.path) == (3, 37, "users[0].requests[0].path")
    assert "'emial'" in problem.message
    assert "email, password" in problem.message


@pytest.mark.parametrize("url", ["http://", "https:// spaced", "http:///path"])
def test_every_way_to_give_a_host_refuses_the_same_urls(tmp_path, monkeypatch, url):
    with pytest.raises(ValueError, match="must be an http:// or https:// URL"):
        host_url(url)
    in_file = HOST_CASES_YAML.replace("name: t\n", f"name: t\nhost: '{url}'\n")
    assert "host must be an http" in str(_load_error(tmp_path, monkeypatch, in_file))
    flag = _load_error(tmp_path, monkeypatch, HOST_CASES_YAML, host=url)
    assert [p.message for p in flag.problems] == [
        f"--host must be an http:// or https:// URL, got {url.rstrip('/')!r}"
    ]
    env = _load_error(tmp_path, monkeypatch, HOST_CASES_YAML, env={"SWARM_HOST": url})
    assert [p.message for p in env.problems] == [
        f"SWARM_HOST must be an http:// or https:// URL, got {url.rstrip('/')!r}"
    ]


def test_every_way_to_give_a_host_drops_trailing_slashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(HOST_CASES_YAML.replace("name: t\n", "name: t\nhost: http://a/\n"))
    assert load_scenario(FILE, env={}).host == host_url("http://a/") == "http://a"
    assert load_scenario(FILE, env={}, host="http://b//").host == "http://b"
    assert load_scenario(FILE, env={"SWARM_HOST": "https://c/"}).host == "https://c"
