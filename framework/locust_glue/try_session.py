"""``swarm try``: one pass of each users entry against the target, every exchange traced.

No runner, no shape, no run folder: each users entry's compiled ``FastHttpUser`` class (the
very class a run uses, so its client, headers, timeouts, data rows and redaction are a
run's) is made once on a bare Locust ``Environment`` and driven by hand in this greenlet:
its ``on_start`` steps, then its flow once (or ``iterations`` times). An entry's plain
``requests`` go through the same ``FlowRunner`` as one-request steps — each once, in order
(or ``iterations`` of them, round the list; after each pass of the flow when it has one) —
so every request is rendered, sent, checked and recorded as in a run, and traced alike.

Two channels reach the tracer: the flow runner's ``FlowTracer`` calls (what was sent and
received, captures, checks — every outcome), and each request Locust records
(``recorded``, after the user's redaction): whether the request left and whether any
response came, which tells a target that is down from one that answered with errors, and
the wall time of transactions and polls.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from locust.env import Environment

from framework.errors import UsageError
from framework.locust_glue.compiler import compile_scenario, request_parts
from framework.locust_glue.flows import FlowRequest, FlowRunner, FlowStep, FlowTracer
from framework.scenario.datafiles import DataSource, read_rows
from framework.scenario.loader import LoadedScenario
from framework.scenario.model import Expect, RequestSpec, UserSpec
from framework.suggestions import did_you_mean, nearest
from framework.timeline.endpoints import is_aggregate
from framework.timeline.recorder import failure_message

__all__ = ["TryTracer", "try_scenario"]


class TryTracer(FlowTracer, Protocol):
    """What ``try_scenario`` reports to: the flow runner's ``FlowTracer`` calls, plus the
    start of each users entry (with each request name's ``expect``, to word a check that
    held) and each request as Locust recorded it."""

    def user(self, name: str, host: str | None, expects: Mapping[str, Expect | None]) -> None:
        """A users entry starts."""

    def recorded(
        self, kind: str, name: str, elapsed_ms: float, *, sent: bool, reached: bool
    ) -> None:
        """Locust recorded a request (``kind`` its method) or an aggregate (``TXN``,
        ``POLL``): ``sent`` it left, ``reached`` a response came."""

    def error(self, text: str) -> None:
        """Something raised outside any request; a failure."""


def try_scenario(
    loaded: LoadedScenario,
    tracer: TryTracer,
    *,
    user: str | None = None,
    iterations: int | None = None,
) -> None:
    """Run each users entry (only ``user`` if given) once against its target, traced.

    ``iterations``: passes of an entry's flow (default 1), or, for an entry without a flow,
    requests in all, in order round the list (default: each once). ``UsageError`` for an
    unknown ``user``.
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

    def on_request(**kwargs: Any) -> None:
        kind = str(kwargs.get("request_type", ""))
        unsent = type(kwargs.get("exception")).__name__ == "TemplateRenderError"
        tracer.recorded(
            kind,
            str(kwargs.get("name", "")),
            float(kwargs.get("response_time") or 0.0),
            sent=not unsent and not is_aggregate((kind, "")),
            reached=(getattr(kwargs.get("response"), "status_code", 0) or 0) > 0,
        )

    environment.events.request.add_listener(on_request)
    sources = {
        name: DataSource(name, read_rows(loaded.base_dir / spec.file), spec.order)
        for name, spec in loaded.scenario.data.items()
    }
    for index, (spec, cls) in enumerate(zip(users, compiled.user_classes, strict=True)):
        if user is None or spec.name == user:
            requests = _request_steps(loaded, index, sources)
            tracer.user(spec.name, loaded.host_for(spec), _expects(loaded, index))
            _try_user(cls(environment), requests, tracer, iterations, loaded)


def _try_user(
    instance: Any,
    requests: Sequence[FlowStep],
    tracer: TryTracer,
    count: int | None,
    loaded: LoadedScenario,
) -> None:
    """``on_start`` (its steps traced), then ``count`` passes of the flow (default 1), or,
    without a flow, ``count`` requests in order round the list (default: each once)."""
    flow: FlowRunner | None = getattr(instance, "swarm_flow", None)
    on_start: tuple[FlowStep, ...] = flow.on_start if flow is not None else ()
    if flow is not None:
        flow.on_start = ()  # the user's own on_start would run them untraced
    try:
        _guarded(tracer, instance.on_start)
    finally:
        if flow is not None:
            flow.on_start = on_start
    vars: dict[str, Any] = getattr(instance, "swarm_vars", {})
    if on_start:
        _guarded(tracer, lambda: flow.run(instance, on_start, vars, tracer))
    plain = FlowRunner((), redactor=loaded.redactor)
    order = itertools.cycle(requests)
    if flow is None or not flow.flow:  # requests only: ``count`` of them, round the list
        steps = [next(order) for _ in range(count or len(requests))]
        _guarded(tracer, lambda: plain.run(instance, steps, dict(vars), tracer))
    else:  # ``count`` passes of the flow, each followed by one request, as in a run
        for _ in range(count or 1):
            _guarded(tracer, lambda: flow.run(instance, flow.flow, dict(vars), tracer))
            if requests:
                one = [next(order)]
                _guarded(tracer, lambda one=one: plain.run(instance, one, dict(vars), tracer))
    _guarded(tracer, instance.on_stop)


def _request_steps(
    loaded: LoadedScenario, index: int, sources: Mapping[str, DataSource]
) -> tuple[FlowStep, ...]:
    """The entry's plain ``requests`` as one-request flow steps, compiled as a run's."""
    scenario = loaded.scenario
    spec: UserSpec = scenario.users[index]
    base_headers = {**scenario.headers, **spec.headers}
    steps = []
    for r, req in enumerate(spec.requests or ()):
        where = f"users[{index}].requests[{r}]"
        label = loaded.request_label(index, r)
        parts = request_parts(
            req, label, base_headers, sources, list(scenario.data), loaded.redactor, where
        )
        steps.append(FlowRequest(where, parts))
    return tuple(steps)


def _expects(loaded: LoadedScenario, index: int) -> dict[str, Expect | None]:
    """Each request name of the entry (its plain requests and its flow's request steps)
    with its ``expect``."""
    spec = loaded.scenario.users[index]
    found: dict[str, Expect | None] = {
        loaded.request_label(index, r): req.expect for r, req in enumerate(spec.requests or ())
    }
    for step in _flow_requests([*(getattr(spec, "on_start", None) or ()), *_flow(spec)]):
        name = loaded.redactor.text(step.name or step.path)
        found.setdefault(name, step.expect)
    return found


def _flow(spec: UserSpec) -> list[Any]:
    return list(getattr(spec, "flow", None) or ())


def _flow_requests(steps: Sequence[Any]) -> list[RequestSpec]:
    """Every request step of a flow, however deep (``framework.scenario.flows``)."""
    if not steps:
        return []
    from framework.scenario.flows import walk_steps

    return [step for _path, step in walk_steps(steps) if isinstance(step, RequestSpec)]


def _guarded(tracer: TryTracer, call: Any) -> None:
    """``call()``; an exception it raises (not an interrupt) is reported, not raised: a try
    shows what went wrong and goes on with the next step."""
    try:
        call()
    except Exception as exc:
        tracer.error(failure_message(exc))
