"""The flow runner on literals: captures, polls, repeats and transactions with a fake client.

The fake client answers from a table and records what the runner fires, as Locust's
``request`` event would receive it; the clock is a counter the fake sleep moves, so the
poll's timing and the transactions' think-time rule are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from framework.locust_glue.compiler import RequestParts
from framework.locust_glue.flows import (
    FlowPoll,
    FlowRepeat,
    FlowRequest,
    FlowRunner,
    FlowThink,
    FlowTransaction,
    PollUnsent,
    _Body,
    compile_capture,
    compile_condition,
    compile_until,
    truthy,
)
from framework.scenario.interpolation import Redactor
from framework.scenario.model import Expect
from framework.scenario.templates import TemplateRenderError

# ---------------------------------------------------------------- captures on literals


@pytest.mark.parametrize(
    ("kwargs", "status", "headers", "body", "expected"),
    [
        ({"json_path": "$.token"}, 200, {}, '{"token": "t-1"}', "t-1"),
        ({"json_path": "$.items[0].id"}, 200, {}, '{"items": [{"id": 7}, {"id": 8}]}', 7),
        ({"json_path": "$.items[?(@.id > 7)].id"}, 200, {}, '{"items": [{"id": 7}, {"id": 8}]}', 8),
        ({"json_path": "$.missing"}, 200, {}, '{"token": 1}', None),
        ({"json_path": "$.token"}, 200, {}, "not json", None),
        ({"regex": r"count=(\d+)"}, 200, {}, "a count=42 b", "42"),
        ({"regex": r"count=\d+"}, 200, {}, "a count=42 b", "count=42"),
        ({"regex": r"count=(\d+)"}, 200, {}, "nothing", None),
        ({"header": "etag"}, 200, {"ETag": '"v1"'}, "", '"v1"'),
        ({"header": "X-Missing"}, 200, {"ETag": "x"}, "", None),
        ({"status": True}, 204, {}, "", 204),
        ({"status": True}, 0, {}, "", None),
    ],
)
def test_a_capture_takes_the_first_match_or_finds_nothing(kwargs, status, headers, body, expected):
    capture = compile_capture("v", **kwargs)
    assert capture.value(status, headers, _Body(body)) == expected


def test_a_capture_with_a_default_uses_it_when_nothing_is_found():
    capture = compile_capture("n", regex=r"count=(\d+)", default="0", has_default=True)
    assert capture.value(200, {}, _Body("none here")) == "0"


def test_a_capture_that_finds_nothing_says_which_and_where():
    assert compile_capture("token", json_path="$.token").message() == (
        "capture 'token': $.token found nothing"
    )


def test_rendered_conditions_read_words_as_booleans():
    assert [truthy(v) for v in (True, "true", "done", 1, "False", "0", "", None, 0)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert compile_condition("{{ vars.code == 200 }}")({"code": 200}) is True


# ---------------------------------------------------------------- a fake client


class _Response:
    def __init__(self, client: _Client, method: str, url: str, name: str) -> None:
        status, body, headers = client.answer(method, url)
        self.client, self.method, self.url, self.name = client, method, url, name
        self.status_code, self.text, self.headers = status, body, headers
        self.request_meta = {
            "response_time": 1.0,
            "exception": None if 0 < status < 400 else RuntimeError(f"HTTP {status}"),
        }
        self._outcome: Any = "default"

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> bool:
        exception = self.request_meta["exception"] if self._outcome == "default" else self._outcome
        self.client.fire(request_type=self.method, name=self.name, exception=exception)
        return False

    def success(self) -> None:
        self._outcome = None

    def failure(self, message: str) -> None:
        self._outcome = message


class _Client:
    """Answers ``routes[url]`` (a status, body, headers triple, or a function of the
    number of calls to that url giving one); records every fired event."""

    def __init__(self, routes: dict[str, Any], clock: _Clock) -> None:
        self.routes, self.clock = routes, clock
        self.sent: list[tuple[str, str]] = []
        self.fired: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        self.request_event = self

    def answer(self, method: str, url: str) -> tuple[int, str, dict[str, str]]:
        self.sent.append((method, url))
        self.calls[url] = self.calls.get(url, 0) + 1
        self.clock.now += 0.010  # every request takes 10 ms
        route = self.routes.get(url, (404, "{}", {}))
        return route(self.calls[url]) if callable(route) else route

    def request(self, method: str, url: str, *, name: str, **_kwargs: Any) -> _Response:
        return _Response(self, method, url, name)

    def fire(self, **kwargs: Any) -> None:
        self.fired.append(kwargs)

    def records(self) -> list[tuple[str, str, Any]]:
        return [(f["request_type"], f["name"], f.get("exception")) for f in self.fired]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Environment:
    runner = None


class _User:
    swarm_user_id = 1

    def __init__(self, client: _Client) -> None:
        self.swarm_rows: dict[str, Any] = {}
        self.client = client
        self.environment = _Environment()

    def context(self) -> dict[str, Any]:
        return {}


def _request(name: str, path: str, *, captures=(), method: str = "GET", check=None) -> FlowRequest:
    """A request step whose path is a template over ``vars`` (``{var}`` format fields)."""

    def render(_user: Any, vars: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        return path.format(**(vars or {})), {"name": name, "headers": {}}

    parts = RequestParts(
        method=method,
        name=name,
        where=f"flow.{name}",
        render=render,
        check=check,
        needs_body=False,
        timeout_s=None,
        static=None,
        keywords=("name", "headers"),
    )
    return FlowRequest(f"flow.{name}", parts, tuple(captures))


def _run(
    steps, routes, *, end_on_capture_failure: bool = True, vars=None
) -> tuple[bool, _Client, _Clock, dict[str, Any]]:
    clock = _Clock()
    client = _Client(routes, clock)
    runner = FlowRunner(
        steps,
        end_on_capture_failure=end_on_capture_failure,
        sleep=clock.sleep,
        clock=clock,
    )
    vars = {} if vars is None else vars
    ok = runner.run(_User(client), runner.flow, vars)
    return ok, client, clock, vars


_LOGIN = ("/login", (200, '{"token": "t-9"}', {}))


# ---------------------------------------------------------------- running


def test_a_captured_value_reaches_the_next_request_and_the_flow_is_one_transaction():
    steps = [
        FlowTransaction(
            "flow",
            "shop",
            (
                _request(
                    "login", "/login", captures=[compile_capture("token", json_path="$.token")]
                ),
                _request("me", "/me/{token}"),
            ),
        )
    ]
    ok, client, _clock, vars = _run(steps, dict([_LOGIN, ("/me/t-9", (200, "{}", {}))]))
    assert ok and vars == {"token": "t-9"}
    assert client.sent == [("GET", "/login"), ("GET", "/me/t-9")]
    assert client.records() == [("GET", "login", None), ("GET", "me", None), ("TXN", "shop", None)]
    assert client.fired[-1]["response_time"] == pytest.approx(20.0)


def test_a_capture_that_finds_nothing_fails_its_request_and_ends_the_iteration():
    steps = [
        FlowTransaction(
            "flow",
            "shop",
            (
                _request(
                    "login", "/login", captures=[compile_capture("token", json_path="$.nope")]
                ),
                _request("me", "/me"),
            ),
        )
    ]
    ok, client, _clock, _vars = _run(steps, dict([_LOGIN]))
    assert not ok
    assert client.sent == [("GET", "/login")]  # "me" never sent
    (login, txn) = client.records()
    assert login == ("GET", "login", "capture 'token': $.nope found nothing")
    assert txn[:2] == ("TXN", "shop") and "login" in str(txn[2])


def test_on_capture_failure_continue_fails_the_step_but_runs_the_rest():
    steps = [
        _request("login", "/login", captures=[compile_capture("token", json_path="$.nope")]),
        _request("other", "/other"),
    ]
    ok, client, _clock, _vars = _run(steps, dict([_LOGIN]), end_on_capture_failure=False)
    assert ok
    assert [s[1] for s in client.sent] == ["/login", "/other"]
    assert client.records()[0][2] == "capture 'token': $.nope found nothing"


def test_a_poll_repeats_every_interval_until_its_check_holds_and_records_its_total():
    def job(n: int) -> tuple[int, str, dict[str, str]]:
        return 200, '{"state": "%s"}' % ("done" if n >= 3 else "running"), {}

    until = compile_until(
        Expect.model_validate({"json": [{"path": "state", "equals": "done"}]}), Redactor()
    )
    poll = FlowPoll(
        "flow.poll",
        "job_done",
        _request("job_status", "/jobs/1", captures=[compile_capture("state", json_path="$.state")]),
        every_s=1.0,
        timeout_s=30.0,
        until=until,
    )
    ok, client, _clock, vars = _run([poll], {"/jobs/1": job})
    assert ok and vars["state"] == "done"
    assert client.records() == [
        ("GET", "job_status", None),
        ("GET", "job_status", None),
        ("GET", "job_status", None),
        ("POLL", "job_done", None),
    ]
    # three requests of 10 ms and two waits of 1 s
    assert client.fired[-1]["response_time"] == pytest.approx(2030.0)


def test_a_poll_that_times_out_fails_and_ends_the_iteration():
    until = compile_until(
        Expect.model_validate({"json": [{"path": "state", "equals": "done"}]}), Redactor()
    )
    poll = FlowPoll(
        "flow.poll",
        "job_done",
        _request("job_status", "/jobs/1"),
        every_s=1.0,
        timeout_s=2.5,
        until=until,
    )
    after = _request("after", "/after")
    ok, client, _clock, _vars = _run([poll, after], {"/jobs/1": (200, '{"state": "running"}', {})})
    assert not ok
    assert [s[1] for s in client.sent] == ["/jobs/1"] * 3
    kind, name, failure = client.records()[-1]
    assert (kind, name) == ("POLL", "job_done") and "2.5 s" in str(failure)
    assert type(failure).__name__ == "PollTimeout"


def test_a_poll_whose_request_cannot_be_rendered_fails_at_once_instead_of_until_its_timeout():
    def render(_user: Any, _vars: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        raise TemplateRenderError("flow.poll.request.path", KeyError("job"))

    parts = RequestParts(
        method="GET",
        name="job_status",
        where="flow.poll.request",
        render=render,
        check=None,
        needs_body=False,
        timeout_s=None,
        static=None,
    )
    until = compile_until(Expect.model_validate({"status": 200}), Redactor())
    poll = FlowPoll(
        "flow.poll", "job_done", FlowRequest("flow.poll.request", parts, ()), 1.0, 30.0, until
    )
    ok, client, clock, _vars = _run([poll, _request("after", "/after")], {})
    assert not ok and client.sent == []  # nothing sent, the step after it neither
    assert clock.now == 100.0  # no wait for a next try
    kind, name, failure = client.records()[-1]
    assert (kind, name) == ("POLL", "job_done") and isinstance(failure, PollUnsent)


def test_repeat_times_runs_its_steps_that_many_times():
    repeat = FlowRepeat("flow.r", (_request("a", "/a"),), times=3)
    _ok, client, _clock, _vars = _run([repeat], {"/a": (200, "{}", {})})
    assert len(client.sent) == 3


def test_repeat_until_stops_when_the_condition_holds_and_while_before_a_pass():
    counting = _request("c", "/c", captures=[compile_capture("n", json_path="$.n")])
    routes: dict[str, Callable[[int], Any]] = {"/c": lambda n: (200, f'{{"n": {n}}}', {})}
    until = FlowRepeat(
        "flow.r", (counting,), condition=compile_condition("{{ vars.n >= 4 }}"), until=True
    )
    _ok, client, _clock, _vars = _run([until], routes)
    assert len(client.sent) == 4
    never = FlowRepeat("flow.w", (counting,), condition=compile_condition("{{ vars.more }}"))
    _ok, client, _clock, _vars = _run([never], routes, vars={"more": "false"})
    assert client.sent == []


def test_repeat_stops_at_max_passes():
    spin = FlowRepeat(
        "flow.r", (_request("a", "/a"),), condition=compile_condition("{{ true }}"), max_passes=5
    )
    _ok, client, _clock, _vars = _run([spin], {"/a": (200, "{}", {})})
    assert len(client.sent) == 5


def test_think_steps_are_left_out_of_a_transactions_time():
    steps = [
        FlowTransaction(
            "flow",
            "checkout",
            (_request("a", "/a"), FlowThink("flow.t", lambda: 0.5), _request("b", "/b")),
        )
    ]
    _ok, client, clock, _vars = _run(steps, {"/a": (200, "{}", {}), "/b": (200, "{}", {})})
    assert clock.now == pytest.approx(100.52)
    assert client.fired[-1]["request_type"] == "TXN"
    assert client.fired[-1]["response_time"] == pytest.approx(20.0)


def test_a_failed_step_fails_every_transaction_around_it_and_the_flow_goes_on():
    steps = [
        FlowTransaction(
            "flow",
            "shop",
            (
                FlowTransaction("flow.0", "pay", (_request("bad", "/fail"),)),
                _request("after", "/after"),
            ),
        )
    ]
    ok, client, _clock, _vars = _run(steps, {"/fail": (500, "{}", {}), "/after": (200, "{}", {})})
    assert ok
    records = client.records()
    assert [r[:2] for r in records] == [
        ("GET", "bad"),
        ("TXN", "pay"),
        ("GET", "after"),
        ("TXN", "shop"),
    ]
    assert str(records[0][2]) == "HTTP 500"  # Locust's own outcome, as without a flow
    assert (
        type(records[1][2]).__name__ == "StepFailed"
        and type(records[3][2]).__name__ == "StepFailed"
    )


class _Stopped(BaseException):
    """Stands in for gevent's GreenletExit: the user is being stopped mid-flow."""


def test_a_flow_stopped_midway_records_no_transaction():
    def stop() -> float:
        raise _Stopped

    steps = [FlowTransaction("flow", "shop", (_request("a", "/a"), FlowThink("flow.t", stop)))]
    clock = _Clock()
    client = _Client({"/a": (200, "{}", {})}, clock)
    runner = FlowRunner(steps, sleep=clock.sleep, clock=clock)
    with pytest.raises(_Stopped):
        runner.run(_User(client), runner.flow, {})
    assert client.records() == [("GET", "a", None)]


def test_locusts_own_aggregated_row_leaves_transactions_out():
    from locust.env import Environment

    from framework.locust_glue.flows import keep_aggregates_out_of_locust_total

    env = Environment()
    keep_aggregates_out_of_locust_total(env)
    stats = env.stats
    stats.log_request("GET", "a", 10, 5)
    stats.log_request("TXN", "shop", 30, 0)
    stats.log_error("POLL", "job", "timeout")
    stats.log_request("POLL", "job", 900, 0)
    assert (stats.total.num_requests, stats.total.num_failures) == (1, 0)
    assert stats.get("shop", "TXN").num_requests == 1
    assert stats.get("job", "POLL").num_failures == 1 and len(stats.errors) == 1


# ---------------------------------------------------------------- the load path and the traced one


class _Tracer:
    def __init__(self) -> None:
        self.lines: list[tuple[Any, ...]] = []

    def request(self, *args: Any) -> None:
        self.lines.append(("request", *args))

    def response(self, *args: Any) -> None:
        self.lines.append(("response", *args))

    def capture(self, *args: Any) -> None:
        self.lines.append(("capture", *args))

    def check(self, *args: Any) -> None:
        self.lines.append(("check", *args))

    def note(self, text: str) -> None:
        self.lines.append(("note", text))


def _not_201(status: int, _text: str, _ms: float) -> str | None:
    return None if status == 201 else f"status {status}, expected 201"


@pytest.mark.parametrize("end_on_capture_failure", [True, False])
def test_a_load_run_and_a_traced_run_record_the_same_outcomes(end_on_capture_failure):
    """An untraced run (a load) judges a response in fewer steps than a traced one (``swarm
    try``), and a plain flow's load runs as generated source (``flow_source``) rather than
    the chain of closures: all three must come to the same records, failures, captures,
    sent requests and end."""
    steps = [
        FlowTransaction(
            "flow",
            "shop",
            (
                _request(
                    "login",
                    "/login",
                    captures=[
                        compile_capture("token", json_path="$.token"),
                        compile_capture("etag", header="etag"),
                        compile_capture("code", status=True),
                    ],
                ),
                _request("created", "/made", check=_not_201),  # a check passes a 201
                _request("checked", "/checked", check=_not_201),  # a check fails a 200
                _request("error", "/error"),  # Locust's own failure, no check
                _request("down", "/down"),  # no response at all
                _request("missing", "/login", captures=[compile_capture("x", regex=r"x=(\d)")]),
                _request("after", "/me/{token}"),
            ),
        )
    ]
    routes = {
        "/login": (200, '{"token": "t-9"}', {"ETag": "v1"}),
        "/made": (201, "{}", {}),
        "/checked": (200, "{}", {}),
        "/error": (503, "{}", {}),
        "/down": (0, "", {}),
        "/me/t-9": (200, "{}", {}),
    }

    def outcome(tracer: _Tracer | None, *, chain: bool = False) -> tuple[Any, ...]:
        clock = _Clock()
        client = _Client(routes, clock)
        runner = FlowRunner(
            steps, end_on_capture_failure=end_on_capture_failure, sleep=clock.sleep, clock=clock
        )
        assert runner.plain is not None
        vars: dict[str, Any] = {}
        # the same steps, not ``runner.flow`` itself: ``run`` compiles them as a chain
        flow = tuple(runner.flow) if chain else runner.flow
        ok = runner.run(_User(client), flow, vars, tracer)
        records = [(k, n, None if e is None else str(e)) for k, n, e in client.records()]
        txn_ms = client.fired[-1]["response_time"]
        return ok, client.sent, records, vars, txn_ms

    tracer = _Tracer()
    load, chain, traced = outcome(None), outcome(None, chain=True), outcome(tracer)
    assert load == chain == traced
    ok, sent, records, vars, txn_ms = load
    assert vars == {"token": "t-9", "etag": "v1", "code": 200}
    assert records[:6] == [
        ("GET", "login", None),
        ("GET", "created", None),
        ("GET", "checked", "status 200, expected 201"),
        ("GET", "error", "HTTP 503"),
        ("GET", "down", "HTTP 0"),
        ("GET", "missing", r"capture 'x': regex 'x=(\\d)' found nothing"),
    ]
    assert txn_ms == pytest.approx(10.0 * len(sent))
    assert ok is not end_on_capture_failure
    assert (sent[-1] == ("GET", "/me/t-9")) is not end_on_capture_failure
    assert records[-1][:2] == ("TXN", "shop") and "checked" in str(records[-1][2])
    checks = [line[1:3] for line in tracer.lines if line[0] == "check"]
    assert checks[:3] == [("login", True), ("created", True), ("checked", False)]
