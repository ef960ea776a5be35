"""Flows in the scenario format: every error where it is written, the vars rule, the schema.

Each case is a literal YAML file; the problems are (line, column, field path, message), as
a person reads them in ``swarm validate``'s output.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from framework.cli.main import main
from framework.errors import ScenarioError
from framework.scenario.flows import (
    PollStep,
    RepeatStep,
    RequestStep,
    ThinkStep,
    TransactionStep,
    flow_names,
    request_steps,
    walk_steps,
)
from framework.scenario.loader import load_scenario, requests_by_user
from framework.scenario.templates import RenderContext, compile_value

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
FILE = "scenario.yaml"
HEAD = "name: t\nhost: http://127.0.0.1:1\nload: {shape: constant, users: 1, duration: 10s}\n"


def _y(text: str) -> str:
    return HEAD + textwrap.dedent(text).lstrip("\n")


def _problems(tmp_path, monkeypatch, text: str) -> list[tuple[int | None, int | None, str, str]]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(FILE, env={}, render_templates=True)
    return [(p.line, p.column, p.path, p.message) for p in info.value.problems]


def _loaded(tmp_path, monkeypatch, text: str):
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    return load_scenario(FILE, env={}, render_templates=True)


STEP_HELP = (
    "unknown step kind; a step is one of: request (path: /x, method, ...), think: 500ms, "
    "repeat: {times: N} with steps, poll: {request, every, timeout, until}, "
    "transaction: NAME with steps"
)

ERRORS = [
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {sleep: 1s}
        """,
        [(7, 9, "users[0].flow[0]", f"{STEP_HELP} (found keys: sleep)")],
        id="unknown-step-kind-lists-the-kinds",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {path: /x, capture: [{var: id, json: "$.items["}]}
        """,
        [
            (
                7,
                46,
                "users[0].flow[0].capture[0].json",
                "invalid JSONPath '$.items[': Parse error near the end of string!",
            )
        ],
        id="jsonpath-that-does-not-parse",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {path: /x, capture: [{var: id, regex: "id=(\\\\d+"}]}
        """,
        [
            (
                7,
                47,
                "users[0].flow[0].capture[0].regex",
                "invalid regular expression: missing ), unterminated subpattern at position 3 "
                "(found 'id=(\\\\d+')",
            )
        ],
        id="regex-that-does-not-compile",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - poll:
                  request: {path: /jobs/1}
                  every: 1s
                  until: {status: 200}
        """,
        [(8, 11, "users[0].flow[0].poll.timeout", "required field is missing")],
        id="poll-without-timeout",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - poll:
                  request: {path: /jobs/1}
                  every: 0s
                  timeout: 10s
                  until: {status: 200}
        """,
        [
            (
                9,
                18,
                "users[0].flow[0].poll.every",
                "Input should be greater than 0 (found 0.0)",
            )
        ],
        id="poll-every-zero",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - repeat: {}
                steps: [{path: /x}]
              - repeat: {times: 2, while: "{{ user_id > 1 }}"}
                steps: [{path: /x}]
        """,
        [
            (
                7,
                17,
                "users[0].flow[0].repeat",
                "a repeat takes exactly one of times, while, until (found: none)",
            ),
            (
                9,
                17,
                "users[0].flow[1].repeat",
                "a repeat takes exactly one of times, while, until (found: times, while)",
            ),
        ],
        id="repeat-with-none-or-several-of-times-while-until",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {name: a, path: "/a/{{ vars.id }}"}
        """,
        [
            (
                7,
                25,
                "users[0].flow[0].path",
                "{{ vars.id }}: no step before this one captures 'id'; nothing is captured "
                "before here (a step's capture: [...] sets vars for the steps after it; "
                "on_start's, for the whole flow)",
            )
        ],
        id="unknown-var",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {path: /x, capture: [{var: id, json: $.id}, {var: id, header: X-Id}]}
        """,
        [
            (
                7,
                59,
                "users[0].flow[0].capture[1].var",
                "var 'id' is captured twice in this step (capture[0] too); a step stores one "
                "value per var: rename one",
            )
        ],
        id="var-captured-twice-in-one-step",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {name: pay, path: /pay}
              - transaction: pay
                steps: [{path: /x}]
              - poll: {request: {path: /j}, every: 1s, timeout: 5s, until: {status: 200}}
                name: pay
        """,
        [
            (
                8,
                22,
                "users[0].flow[1].transaction",
                "transaction 'pay' has the name of a request; one name must mean one thing: "
                "rename one",
            ),
            (
                11,
                15,
                "users[0].flow[2].name",
                "poll 'pay' (POLL) has the name of a request; one name must mean one thing: "
                "give the poll another name",
            ),
        ],
        id="transaction-or-poll-named-like-a-request",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {path: /x, weight: 3}
        """,
        [
            (
                7,
                28,
                "users[0].flow[0].weight",
                "weight picks one of a users entry's requests; a flow runs every step in "
                "order, so a step has no weight: drop it (or move the request to requests:) "
                "(found 3)",
            )
        ],
        id="weight-refused-in-a-flow",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {path: /x, nmae: a}
        """,
        [
            (
                7,
                20,
                "users[0].flow[0].nmae",
                "unknown key 'nmae'; did you mean 'name'? Allowed: name, method, path, query, "
                "headers, json, body, expect, timeout, metrics, capture.",
            )
        ],
        id="unknown-key-in-a-step-lists-the-step-keys",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - {path: /x, capture: [{var: a, json: $.a, header: A}, {var: b}]}
        """,
        [
            (
                7,
                30,
                "users[0].flow[0].capture[0]",
                "a capture takes exactly one of json, regex, header, status: true "
                "(found: json, header)",
            ),
            (
                7,
                62,
                "users[0].flow[0].capture[1]",
                "a capture takes exactly one of json, regex, header, status: true (found: none)",
            ),
        ],
        id="capture-with-none-or-two-sources",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow:
              - think: {pacing: 1s}
        """,
        [
            (
                7,
                16,
                "users[0].flow[0].think",
                "pacing and throughput pace whole iterations (think_time of the users entry); "
                "a think step is a pause: a duration (think: 500ms), fixed_ms or uniform_ms",
            )
        ],
        id="think-step-is-a-pause",
    ),
    pytest.param(
        """
        users:
          - name: u
            flow_name: f
        """,
        [
            (
                5,
                5,
                "users[0].requests",
                "required field is missing: give requests (weighted requests) or flow (steps "
                "in order), or both",
            ),
            (
                6,
                16,
                "users[0].flow_name",
                "names the flow's transaction, but this users entry has no flow",
            ),
        ],
        id="neither-requests-nor-flow",
    ),
    pytest.param(
        """
        headers: {Authorization: "Bearer {{ vars.token }}"}
        users:
          - name: u
            on_start:
              - {path: /login, capture: [{var: token, json: $.token}]}
            requests: [{path: /x}]
        """,
        [
            (
                4,
                26,
                "headers.Authorization",
                "headers of the scenario or of a users entry are sent with every request, "
                "on_start's first one too, before anything is captured: put a header that "
                "reads vars on the steps that send it",
            )
        ],
        id="vars-in-scenario-headers",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_flow_error_is_reported_where_it_is_written(tmp_path, monkeypatch, text, expected):
    assert _problems(tmp_path, monkeypatch, _y(text)) == expected


def _unknown_vars(tmp_path, monkeypatch, text: str) -> list[tuple[str, str]]:
    """(path, var) of every unknown-var problem."""
    found = []
    for _line, _col, path, message in _problems(tmp_path, monkeypatch, _y(text)):
        assert message.startswith("{{ vars."), message
        found.append((path, message.split("}}")[0].removeprefix("{{ vars.").strip()))
    return found


def test_on_start_vars_are_visible_in_the_flow_and_weighted_requests(tmp_path, monkeypatch):
    loaded = _loaded(
        tmp_path,
        monkeypatch,
        _y("""
        users:
          - name: u
            on_start:
              - {name: login, method: POST, path: /login, capture: [{var: token, json: $.token}]}
              - {name: me, path: /me, headers: {Authorization: "Bearer {{ vars.token }}"}}
            flow:
              - {name: a, path: /a, headers: {Authorization: "Bearer {{ vars.token }}"}}
            requests:
              - {name: b, path: "/b/{{ vars.token }}"}
        """),
    )
    assert [type(s) for s in loaded.scenario.users[0].on_start] == [RequestStep, RequestStep]


def test_a_var_captured_later_is_not_visible_earlier(tmp_path, monkeypatch):
    found = _unknown_vars(
        tmp_path,
        monkeypatch,
        """
        users:
          - name: u
            on_start:
              - {path: "/me/{{ vars.id }}"}
            flow:
              - {path: "/a/{{ vars.id }}", capture: [{var: id, json: $.id}]}
              - {path: "/b/{{ vars.id }}"}
        """,
    )
    # on_start runs before the flow, and a step's own capture comes after its request
    assert found == [("users[0].on_start[0].path", "id"), ("users[0].flow[0].path", "id")]


def test_repeat_and_transaction_nesting_follows_written_order(tmp_path, monkeypatch):
    found = _unknown_vars(
        tmp_path,
        monkeypatch,
        """
        users:
          - name: u
            flow:
              - transaction: t
                steps:
                  - {path: /list, capture: [{var: item, json: "$.items[0]"}]}
              - repeat: {while: "{{ vars.more }}"}
                steps:
                  - {path: "/page/{{ vars.item }}/{{ vars.next }}"}
                  - {path: /next, capture: [{var: next, json: $.next}, {var: more, json: $.more}]}
              - repeat: {until: "{{ vars.done }}", max: 5}
                steps:
                  - {path: "/s/{{ vars.next }}", capture: [{var: done, status: true}]}
              - poll:
                  request: {path: "/j/{{ vars.state }}", capture: [{var: state, json: $.s}]}
                  every: 1s
                  timeout: 5s
                  until: {status: 200}
              - {path: "/after/{{ vars.state }}/{{ vars.done }}"}
        """,
    )
    # item (captured in the transaction) reads fine after it; next is captured later in the
    # same repeat; while is tested before the steps (more unknown), until after (done known);
    # a poll's request does not read its own capture, the step after it does
    assert found == [
        ("users[0].flow[1].repeat.while", "more"),
        ("users[0].flow[1].steps[0].path", "next"),
        ("users[0].flow[3].poll.request.path", "state"),
    ]


def test_unknown_var_suggests_the_nearest_and_lists_what_is_captured(tmp_path, monkeypatch):
    problems = _problems(
        tmp_path,
        monkeypatch,
        _y("""
        users:
          - name: u
            flow:
              - {path: /login, capture: [{var: token, json: $.token}, {var: uid, status: true}]}
              - {path: /x, json: {auth: "{{ vars.tokne }}"}}
        """),
    )
    assert problems == [
        (
            8,
            33,
            "users[0].flow[1].json.auth",
            "{{ vars.tokne }}: no step before this one captures 'tokne' (did you mean "
            "'token'?); captured before here: token, uid",
        )
    ]


def test_flow_models_walk_and_names(tmp_path, monkeypatch):
    loaded = _loaded(
        tmp_path,
        monkeypatch,
        _y("""
        users:
          - name: shopper
            on_start:
              - {name: login, method: post, path: /login, capture: [{var: token, json: $.token}]}
            flow:
              - {name: list, path: /items, capture: [{var: id, json: "$.items[0].id"}]}
              - think: 500ms
              - transaction: checkout
                steps:
                  - {name: add, method: POST, path: "/cart/{{ vars.id }}"}
                  - repeat: {times: 2}
                    steps: [{name: pay, method: POST, path: /pay}]
              - poll:
                  request: {name: job, path: "/jobs/{{ vars.id }}"}
                  every: 250ms
                  timeout: 5s
                  until: {json: [{path: state, equals: done}]}
            flow_name: shop
            on_capture_failure: continue
        """),
    )
    user = loaded.scenario.users[0]
    assert [(path, type(step)) for path, step in walk_steps(user.flow)] == [
        ((0,), RequestStep),
        ((1,), ThinkStep),
        ((2,), TransactionStep),
        ((2, "steps", 0), RequestStep),
        ((2, "steps", 1), RepeatStep),
        ((2, "steps", 1, "steps", 0), RequestStep),
        ((3,), PollStep),
        ((3, "poll", "request"), RequestStep),
    ]
    expected = [
        ("TXN", "shop"),
        ("POST", "login"),
        ("GET", "list"),
        ("TXN", "checkout"),
        ("POST", "add"),
        ("POST", "pay"),
        ("POLL", "job (poll)"),
        ("GET", "job"),
    ]
    assert flow_names(user) == expected
    assert loaded.flow_names(0) == expected
    assert requests_by_user(loaded.redacted) == {"shopper": expected}
    assert [r.label for r in request_steps(user)] == ["login", "list", "add", "pay", "job"]
    assert user.flow[1].think.fixed_ms == 500
    assert user.flow[3].poll.every == 0.25 and user.on_capture_failure == "continue"
    assert user.requests == []


def test_vars_render_from_the_context():
    render = compile_value("Bearer {{ vars.token }}")
    context = RenderContext(user_id=1, sources={}, claimed={}, vars={"token": "abc"})
    assert render(context) == "Bearer abc"


def test_render_check_gives_each_var_a_sample(tmp_path, monkeypatch):
    text = _y("""
        users:
          - name: u
            flow:
              - path: /a
                capture: [{var: obj, json: $.o}, {var: code, status: true},
                          {var: n, regex: "n=(\\\\d+)"}, {var: d, json: $.d, default: 5}]
              - {path: "/b/{{ vars.obj.id + 1 }}/{{ vars.code // 100 }}/{{ vars.d * 2 }}"}
        """)
    _loaded(tmp_path, monkeypatch, text)  # a JSON value may be anything; a status is a number
    bad = text.replace("{{ vars.d * 2 }}", "{{ vars.n - 1 }}")
    problems = _problems(tmp_path, monkeypatch, bad)
    # a regex captures text: arithmetic on it fails at run time, so it fails here
    assert len(problems) == 1 and problems[0][2] == "users[0].flow[1].path"
    assert "a sample of each captured var" in problems[0][3]


def test_requests_only_scenarios_are_unchanged(tmp_path, monkeypatch):
    loaded = _loaded(
        tmp_path,
        monkeypatch,
        _y("""
        users:
          - name: u
            requests: [{path: /x, weight: 2}]
        """),
    )
    user = loaded.scenario.users[0]
    assert user.flow is None and user.on_start == [] and flow_names(user) == []


def test_validate_exits_2_naming_file_line_and_field(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(
        _y("""
        users:
          - name: u
            flow:
              - {path: "/a/{{ vars.job }}"}
              - poll: {request: {path: /j}, every: 1s, until: {status: 200}}
        """),
        encoding="utf-8",
    )
    assert main(["validate", FILE]) == 2
    err = capsys.readouterr().err
    assert "scenario.yaml:7:16: users[0].flow[0].path: {{ vars.job }}: no step before" in err
    assert "scenario.yaml:8:15: users[0].flow[1].poll.timeout: required field is missing" in err
    assert "Traceback" not in err


def test_validate_lists_the_flow_steps(capsys):
    assert main(["validate", str(SCENARIOS / "flow.yaml")]) == 0
    out = capsys.readouterr().out
    assert "    on_start (once per user):\n      GET    hello" in out
    assert "    flow screening (TXN), every iteration, on capture failure: end iteration:" in out
    assert "      poll ready (POLL): every 0.2s, timeout 5s:\n        GET    health" in out
    assert "      transaction screen (TXN):\n        POST   detect" in out
    assert "capture request_id, verdict, score" in out


def test_shipped_flow_scenario_validates_and_plans(capsys):
    loaded = load_scenario(SCENARIOS / "flow.yaml", env={}, render_templates=True)
    user = loaded.scenario.users[0]
    assert user.flow_name == "screening" and len(user.on_start) == 1
    kinds = {type(step) for _path, step in walk_steps(user.flow)}
    assert kinds == {PollStep, TransactionStep, RequestStep, RepeatStep, ThinkStep}
    assert main(["plan", str(SCENARIOS / "flow.yaml"), "--width", "40", "--height", "4"]) == 0


def _schema(capsys) -> dict:
    assert main(["schema"]) == 0
    return json.loads(capsys.readouterr().out)


def test_schema_describes_steps_one_kind_each(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema(capsys)
    items = schema["$defs"]["UserSpec"]["properties"]["flow"]["anyOf"][0]["items"]
    refs = [member["$ref"].rsplit("/", 1)[1] for member in items["oneOf"]]
    assert refs == ["RequestStep", "ThinkStep", "RepeatStep", "PollStep", "TransactionStep"]
    assert "weight" not in schema["$defs"]["RequestStep"]["properties"]
    assert "json" in schema["$defs"]["Capture"]["properties"]
    validator = jsonschema.Draft202012Validator(schema)
    document = yaml.safe_load((SCENARIOS / "flow.yaml").read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []
    document["users"][0]["flow"].append({"sleep": 1})
    assert list(validator.iter_errors(document))  # an unknown step kind matches no member
