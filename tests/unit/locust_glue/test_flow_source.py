"""A plain flow written out as source (``flow_source``) sends, records and fails exactly as
the chain of closures does, for requests compiled from a real scenario."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

import pytest

from framework.locust_glue.compiler import compile_scenario
from framework.locust_glue.flows import FlowRunner, FlowTransaction
from framework.scenario.loader import load_scenario


class _Response:
    def __init__(self, client: _Client, method: str, url: str, name: str) -> None:
        status, body = client.routes.get(url, (200, "{}"))
        self.client, self.method, self.name = client, method, name
        self.status_code, self.text, self.headers = status, body, {"ETag": "v1"}
        self.content = body.encode()
        self.request_meta = {"response_time": 2.0, "exception": None}
        self.outcome: Any = None

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.client.fired.append((self.method, self.name, self.outcome))
        return False

    def success(self) -> None:
        self.outcome = None

    def failure(self, message: str) -> None:
        self.outcome = message


class _Client:
    """Records every request as sent (method, URL, every keyword) and every event."""

    def __init__(self, routes: dict[str, tuple[int, str]]) -> None:
        self.routes = routes
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.fired: list[tuple[str, str, Any]] = []
        self.request_event = self

    def request(self, method: str, url: str, **kwargs: Any) -> _Response:
        assert kwargs.pop("catch_response") is True
        self.sent.append((method, url, json.loads(json.dumps(kwargs))))
        return _Response(self, method, url, kwargs["name"])

    def fire(self, **kwargs: Any) -> None:
        exception = kwargs["exception"]
        self.fired.append((kwargs["request_type"], kwargs["name"], exception and str(exception)))


class _Environment:
    runner = None


class _User:
    swarm_user_id = 1

    def __init__(self, client: _Client) -> None:
        self.client, self.environment = client, _Environment()
        self.swarm_rows: dict[str, Any] = {}

    def context(self) -> dict[str, Any]:
        return {}


def _runner(tmp_path: Path, flow: str, *, on_capture_failure: str = "end_iteration") -> FlowRunner:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nhost: http://127.0.0.1:1\nusers:\n  - name: shop\n"
        f"    on_capture_failure: {on_capture_failure}\n    flow:\n{flow}"
        "load: {shape: constant, users: 1, duration: 5s}\n"
    )
    (user_class,) = compile_scenario(load_scenario(path)).user_classes
    runner: FlowRunner = user_class.swarm_flow
    return runner


def _both(runner: FlowRunner, routes: dict[str, tuple[int, str]]) -> tuple[Any, Any]:
    """The same flow run as source and as the chain: (ok, sent, fired, vars) each."""
    assert runner.plain is not None
    results = []
    for steps in (runner.flow, tuple(runner.flow)):  # a copy runs as the chain
        client, vars = _Client(routes), {}
        ok = runner.run(_User(client), steps, vars)
        results.append((ok, client.sent, client.fired, vars))
    return results[0], results[1]


_FLOW = """\
      - name: login
        path: /login
        capture: [{var: token, json: $.token}, {var: n, json: $.n}, {var: tag, header: etag}]
      - name: item
        method: POST
        path: "/items/{{ vars.token }}/x"
        headers: {Authorization: "Bearer {{ vars.token }}", X-Fixed: "1"}
        json:
          id: "{{ vars.n }}"
          spaced: " {{ vars.n }} "
          label: "n={{ vars.n }}"
          both: "{{ vars.token }}-{{ vars.n }}/{{ vars.tag }}"
          nested: {list: ["{{ vars.token }}", 1, plain], fixed: {a: 1}}
          count: 3
      - {name: raw, method: PUT, path: /raw, body: "token={{ vars.token }}&n={{ vars.n }}"}
      - {name: fixed, path: /fixed, headers: {X-Fixed: "2"}}
"""


def test_the_source_sends_what_the_renderer_renders(tmp_path):
    runner = _runner(tmp_path, _FLOW)
    source, chain = _both(runner, {"/login": (200, '{"token": "t-9", "n": 7}')})
    assert source == chain
    ok, sent, fired, vars = source
    assert ok and vars == {"token": "t-9", "n": 7, "tag": "v1"}
    assert sent[1] == (
        "POST",
        "/items/t-9/x",
        {
            "name": "item",
            "headers": {"Authorization": "Bearer t-9", "X-Fixed": "1"},
            "json": {
                "id": 7,  # a lone reference keeps the value's type,
                "spaced": 7,  # blanks around it or not
                "label": "n=7",
                "both": "t-9-7/v1",
                "nested": {"list": ["t-9", 1, "plain"], "fixed": {"a": 1}},
                "count": 3,
            },
        },
    )
    assert sent[2] == ("PUT", "/raw", {"name": "raw", "data": "token=t-9&n=7"})
    assert sent[3] == ("GET", "/fixed", {"name": "fixed", "headers": {"X-Fixed": "2"}})
    assert fired[-1] == ("TXN", "shop", None)


def test_a_variable_that_is_not_there_fails_its_request_as_the_renderer_says(tmp_path):
    runner = _runner(tmp_path, _FLOW, on_capture_failure="continue")
    source, chain = _both(runner, {"/login": (200, '{"n": 7}')})  # no token
    assert source == chain
    ok, sent, fired, _vars = source
    assert ok and [s[1] for s in sent] == ["/login", "/fixed"]  # item and raw unsent
    assert fired[1:3] == [
        (
            "POST",
            "item",
            "template error in users[0].flow[1].path: 'dict object' has no attribute 'token'",
        ),
        (
            "PUT",
            "raw",
            "template error in users[0].flow[2].body: 'dict object' has no attribute 'token'",
        ),
    ]
    assert fired[-1] == ("TXN", "shop", "step 'login' failed")


def test_a_missing_capture_ends_the_iteration_by_default(tmp_path):
    runner = _runner(tmp_path, _FLOW)
    source, chain = _both(runner, {"/login": (500, "oops")})
    assert source == chain
    ok, sent, fired, _vars = source
    assert not ok and len(sent) == 1
    assert fired == [
        ("GET", "login", "capture 'token': $.token found nothing"),
        ("TXN", "shop", "step 'login' failed"),
    ]


@pytest.mark.parametrize(
    ("flow", "plain"),
    [
        ("      - {name: a, path: /a}\n", True),
        ("      - {name: a, path: /a}\n      - think: 10ms\n", False),
        ("      - {name: a, path: /a, timeout: 2}\n", False),
        (
            "      - poll: {request: {path: /job}, every: 1s, timeout: 5s, until: {status: 200}}\n",
            False,
        ),
        ("      - transaction: pay\n        steps: [{name: a, path: /a}]\n", False),
    ],
)
def test_only_a_flow_of_plain_requests_is_written_out(tmp_path, flow, plain):
    runner = _runner(tmp_path, flow)
    assert isinstance(runner.flow[0], FlowTransaction)
    assert (runner.plain is not None) is plain


def test_a_traceback_through_the_source_shows_its_lines(tmp_path):
    runner = _runner(tmp_path, "      - {name: a, path: /a, capture: [{var: x, json: $.x}]}\n")
    client = _Client({"/a": (200, '{"x": 1}')})
    client.request = None  # type: ignore[assignment, method-assign]
    assert runner.plain is not None
    with pytest.raises(TypeError) as caught:
        runner.plain(_User(client), {})
    shown = "".join(traceback.format_exception(caught.value))
    assert "<swarm plain flow users[0].flow>" in shown
    assert "with client.request(s0_method, s0_url" in shown
