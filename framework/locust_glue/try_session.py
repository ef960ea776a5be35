"""``swarm try``: one pass of each users entry against the target, every exchange traced.

No runner, no shape, no run folder: each users entry's compiled ``FastHttpUser`` class (the
very class a run uses, so templates, headers, checks and secrets behave as in a run) is made
once on a bare Locust ``Environment`` and driven by hand in this greenlet: ``on_start``, then
its flow once (or ``iterations`` times), or, for an entry without a flow, each of its
requests once in order (or ``iterations`` requests in all, round the list).

Two channels reach the tracer: the flow runner's ``FlowTracer`` calls (for a request that
is not in a flow, the client's call and response traced here), and every request Locust
records (``recorded``), read from the ``request`` event after the user's redaction — the
source of truth for what failed and whether the target answered at all.
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from locust import FastHttpUser
from locust.env import Environment

from framework.errors import UsageError
from framework.locust_glue.compiler import compile_scenario
from framework.scenario.loader import LoadedScenario
from framework.scenario.model import Expect
from framework.suggestions import did_you_mean, nearest

__all__ = ["AGGREGATE_KINDS", "TryTracer", "describe_expect", "try_scenario"]

AGGREGATE_KINDS = frozenset({"TXN", "POLL"})
"""Request types Locust records for a transaction's or a poll's total time, not a request."""


class TryTracer(Protocol):
    """What ``try_scenario`` reports to: the flow runner's ``FlowTracer`` calls, plus the
    start of each users entry, each request as Locust recorded it, and errors."""

    def user(self, name: str, host: str | None) -> None: ...

    def request(self, step_path: Any, method: str, url: str, headers: Any, body: Any) -> None: ...

    def response(
        self, step_path: Any, status: int, elapsed_ms: float, headers: Any, body: Any
    ) -> None: ...

    def capture(self, var: str, value: Any, source: str) -> None: ...

    def check(self, what: str, ok: bool, message: str) -> None: ...

    def note(self, text: str) -> None: ...

    def error(self, text: str) -> None: ...

    def recorded(
        self,
        kind: str,
        name: str,
        elapsed_ms: float,
        failure: str | None,
        *,
        reached: bool,
        sent: bool = True,
    ) -> None: ...


def try_scenario(
    loaded: LoadedScenario,
    tracer: TryTracer,
    *,
    user: str | None = None,
    iterations: int | None = None,
) -> None:
    """Run each users entry (only ``user`` if given) once against its target, tracing.

    ``iterations``: flow iterations of an entry with a flow, requests of one without
    (default: one iteration; each request once). ``UsageError`` for an unknown ``user``.
    """
    users = loaded.scenario.users
    names = [spec.name for spec in users]
    if user is not None and user not in names:
        guess = nearest(user, names)
        hint = f"; {did_you_mean([guess])}" if guess else ""
        raise UsageError(
            f"--user {user!r}: no users entry of that name; entries: {', '.join(names)}{hint}",
            flag="--user",
            value=user,
        )
    compiled = compile_scenario(loaded)
    environment = Environment(user_classes=list(compiled.user_classes))

    outcomes: list[str | None] = []  # the failures of the step going on (None: success)

    def on_request(**kwargs: Any) -> None:
        kind = str(kwargs.get("request_type", ""))
        exception = kwargs.get("exception")
        status = getattr(kwargs.get("response"), "status_code", 0) or 0
        failure = None if exception is None else _failure_text(exception, status)
        if kind not in AGGREGATE_KINDS:
            outcomes.append(failure)
        tracer.recorded(
            kind,
            str(kwargs.get("name", "")),
            float(kwargs.get("response_time") or 0.0),
            failure,
            reached=status > 0,
            sent=type(exception).__name__ != "TemplateRenderError",
        )

    environment.events.request.add_listener(on_request)
    for index, (spec, cls) in enumerate(zip(users, compiled.user_classes, strict=True)):
        if user is not None and spec.name != user:
            continue
        tracer.user(spec.name, loaded.host_for(spec))
        instance = cls(environment)
        step = ["on_start"]
        _trace_client(instance, tracer, lambda step=step: step[0])
        _guarded(tracer, instance.on_start)
        tasks = list(cls.tasks)
        count = len(tasks) if iterations is None else iterations
        for number, r in zip(range(count), itertools.cycle(range(len(tasks))), strict=False):
            step[0] = f"users[{index}].requests[{r}] {loaded.request_label(index, r)}"
            if count > len(tasks):
                step[0] += f" (#{number + 1})"
            outcomes.clear()
            _guarded(tracer, functools.partial(tasks[r], instance))
            if outcomes and all(failure is None for failure in outcomes):
                for held in describe_expect(spec.requests[r].expect):
                    tracer.check(held, True, "")
        _guarded(tracer, instance.on_stop)


def _failure_text(exception: BaseException | str, status: int) -> str:
    """What a failed request says: ``status 500`` for Locust's own status rule (its
    exception names the URL, which the request line shows already), else the message the
    report counts it under."""
    from framework.timeline.recorder import failure_message

    if type(exception).__name__ == "LocustBadStatusCode" and status:
        return f"status {status}"
    return failure_message(exception)


def _codes(codes: tuple[int, ...]) -> str:
    ordered = sorted(codes)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return " or ".join(map(str, ordered))


def describe_expect(expect: Expect | None) -> list[str]:
    """Each check of a request's ``expect`` in words, as a held check is shown; without
    ``expect``, Locust's rule (a status below 400).

    >>> expect = {"status": [200, 201, 202], "json": [{"path": "a", "in": [1]}]}
    >>> describe_expect(Expect.model_validate(expect))
    ['status 200-202', 'json a in [1]']
    >>> describe_expect(None)
    ['status below 400']
    """
    if expect is None:
        return ["status below 400"]
    held = [f"status {_codes(expect.status)}" if expect.status else "status below 400"]
    if expect.max_ms is not None:
        held.append(f"within {expect.max_ms:g} ms")
    if expect.body_contains is not None:
        held.append(f"body contains {expect.body_contains!r}")
    for check in expect.json_checks:
        where = f"json {check.path}"
        if check.exists is not None:
            held.append(f"{where} {'exists' if check.exists else 'is absent'}")
        if "equals" in check.model_fields_set:
            held.append(f"{where} = {json.dumps(check.equals)}")
        if check.one_of is not None:
            held.append(f"{where} in {json.dumps(check.one_of)}")
        if check.matches is not None:
            held.append(f"{where} matches {check.matches!r}")
        if check.gte is not None:
            held.append(f"{where} >= {check.gte:g}")
        if check.lte is not None:
            held.append(f"{where} <= {check.lte:g}")
    return held


def _guarded(tracer: TryTracer, call: Callable[[], Any]) -> None:
    """``call()``; an exception it raises (not an interrupt) is reported, not raised: a try
    shows what went wrong and goes on with the next step."""
    try:
        call()
    except Exception as exc:
        from framework.timeline.recorder import failure_message

        tracer.error(failure_message(exc))


def _trace_client(user: FastHttpUser, tracer: TryTracer, step: Callable[[], Any]) -> None:
    """Make ``user.client.request`` report each request it sends and the response it got,
    as sent (the client's own headers included, the JSON body serialised)."""
    client = user.client
    send = client.request

    def traced(method: str, url: str, **kwargs: Any) -> Any:
        path = step()
        body = kwargs.get("data") if kwargs.get("data") is not None else kwargs.get("json")
        tracer.request(path, method, client._build_url(url), kwargs.get("headers") or {}, body)
        started = time.perf_counter()
        response = send(method, url, **kwargs)
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = getattr(response, "status_code", 0) or 0
        # with no response, the failure Locust records says why (printed once, there)
        headers = list(response.headers.items()) if status and response.headers else []
        tracer.response(path, status, elapsed_ms, headers, _response_text(response))
        return response

    client.request = traced


def _response_text(response: Any) -> str:
    if not getattr(response, "status_code", 0):
        return ""
    try:
        return response.text or ""
    except Exception:
        content = getattr(response, "content", None) or b""
        return content.decode("utf-8", "replace") if isinstance(content, bytes) else ""
