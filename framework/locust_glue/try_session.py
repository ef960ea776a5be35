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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import gevent
from locust.env import Environment

from framework.locust_glue.compiler import compile_scenario, request_parts
from framework.locust_glue.flows import FlowRequest, FlowRunner, FlowStep, FlowTracer
from framework.scenario.datafiles import DataSource, read_rows
from framework.scenario.flows import RequestStep, walk_steps
from framework.scenario.loader import LoadedScenario
from framework.scenario.model import Expect, UserSpec
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
    requests in all, in order round the list (default: each once). A ``user`` that names
    no entry runs nothing (the command line refuses it first).
    """
    users = loaded.scenario.users
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
    hub = gevent.get_hub()
    not_errors = hub.NOT_ERROR
    # Ctrl-C or SIGTERM while a request or a poll waits reaches the hub first; it passes
    # the interrupt on to this greenlet, and without this would print it as a traceback
    hub.NOT_ERROR = (*not_errors, KeyboardInterrupt)
    try:
        for index, (spec, cls) in enumerate(zip(users, compiled.user_classes, strict=True)):
            if user is None or spec.name == user:
                requests = _request_steps(loaded, index, sources)
                tracer.user(spec.name, loaded.host_for(spec), _expects(loaded, index))
                _try_user(cls(environment), requests, tracer, iterations, loaded)
    finally:
        hub.NOT_ERROR = not_errors


def _try_user(
    instance: Any,
    requests: Sequence[FlowStep],
    tracer: TryTracer,
    count: int | None,
    loaded: LoadedScenario,
) -> None:
    """``on_start`` (its steps traced), then ``count`` passes of the flow (default 1), or,
    without a flow, ``count`` requests in order round the list (default: each once)."""
    flow: FlowRunner | None = instance.swarm_flow
    instance.swarm_tracer = tracer  # the user's own on_start runs its steps traced
    started = _guarded(tracer, instance.on_start)
    vars: dict[str, Any] = instance.swarm_vars
    if flow is not None and flow.on_start and not (started and instance.swarm_on_start_ok):
        # a run goes on regardless (each step then fails on the missing value); a try stops
        # at the cause instead of printing every consequence (a poll would wait its timeout)
        tracer.note("on_start ended early: the flow and requests are not tried")
        _guarded(tracer, instance.on_stop)
        return
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
    """Each request name of the entry (its requests, and the request steps of its
    ``on_start`` and flow, poll requests included) with its ``expect``."""
    spec = loaded.scenario.users[index]
    found: dict[str, Expect | None] = {
        loaded.request_label(index, r): req.expect for r, req in enumerate(spec.requests or ())
    }
    for section in (spec.on_start or [], spec.flow or []):
        for _path, step in walk_steps(section):
            if isinstance(step, RequestStep):
                found.setdefault(loaded.redactor.text(step.label), step.expect)
    return found


def _guarded(tracer: TryTracer, call: Callable[[], Any]) -> bool:
    """``call()``'s result (False: it ended early); an exception it raises (not an
    interrupt) is reported, not raised, and is False: a try shows what went wrong."""
    try:
        return call() is not False
    except Exception as exc:
        tracer.error(failure_message(exc))
        return False
