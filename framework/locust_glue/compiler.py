"""Compile a loaded scenario into Locust ``FastHttpUser`` classes and one shape class.

Each ``users`` entry becomes a ``FastHttpUser`` subclass and each request a weighted task
calling ``self.client.request(method, path, name=...)`` — the same calls a hand-written
locustfile makes, so statistics names, events and failures behave identically. Templates
are compiled here once; a request without templates or checks does no extra work per call.

Secret values never reach Locust's records: a request without a ``name`` is labelled by
its path as written (``/items/${TOKEN}``), failure messages are masked where they are made,
and each user's ``request`` event and tasks go through ``redaction`` (only when the scenario
has secrets, so a scenario without any pays nothing).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import (
    FastHttpUser,
    LoadTestShape,
    between,
    constant,
    constant_pacing,
    constant_throughput,
)

from framework.locust_glue.checks import compile_expect
from framework.locust_glue.control import wait_while_paused
from framework.locust_glue.flows import FlowRunner, FlowTransaction, compile_steps
from framework.locust_glue.redaction import RedactingRequestEvent, guard_task
from framework.locust_glue.response_metrics import (
    ResponseMetrics,
    compile_response_metrics,
    metered_task,
)
from framework.locust_glue.sending import (
    RequestTimeout,
    fire_timeout,
    send,
    template_failure,
)
from framework.locust_glue.shape import shape_class
from framework.plan.groups import LoadSchedule, schedule_for
from framework.plan.shapes import LoadPlan
from framework.scenario.datafiles import DataExhaustedError, DataSource, read_rows
from framework.scenario.interpolation import Redactor
from framework.scenario.loader import LoadedScenario
from framework.scenario.model import RequestSpec, ThinkTime, UserSpec
from framework.scenario.templates import (
    RenderContext,
    TemplateRenderError,
    compile_tree,
    compile_value,
    data_refs,
    is_template,
    reads_only_vars,
    string_leaves,
    template_fields,
)

__all__ = [
    "CompiledScenario",
    "RequestParts",
    "RequestTimeout",
    "compile_scenario",
    "request_parts",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledScenario:
    """What a locustfile exposes: user classes (in scenario order), the shape and the plan.

    ``schedule`` is every load group of the scenario; ``plan`` is what Locust's shape runs,
    ``schedule.locust_plan()`` (the one closed plan as before, or the idle plan that keeps
    the run going while swarm's engine runs the groups, when ``schedule.engine``).
    """

    user_classes: tuple[type[FastHttpUser], ...]
    shape_class: type[LoadTestShape]
    plan: LoadPlan
    schedule: LoadSchedule


def compile_scenario(loaded: LoadedScenario) -> CompiledScenario:
    """Build the Locust classes for ``loaded``; data files are read here, once per process."""
    scenario = loaded.scenario
    sources = {
        name: DataSource(name, read_rows(loaded.base_dir / spec.file), spec.order)
        for name, spec in scenario.data.items()
    }
    ids = itertools.count(1)
    classes = tuple(
        _user_class(loaded, index, sources, ids) for index in range(len(scenario.users))
    )
    schedule = schedule_for(scenario, time_scale=loaded.time_scale)
    plan = schedule.locust_plan()
    return CompiledScenario(
        user_classes=classes, shape_class=shape_class(plan), plan=plan, schedule=schedule
    )


def _wait_time(think: ThinkTime | None) -> Callable[..., float]:
    if think is None:
        return constant(0)
    if think.fixed_ms is not None:
        return constant(think.fixed_ms / 1000)
    if think.uniform_ms is not None:
        return between(think.uniform_ms[0] / 1000, think.uniform_ms[1] / 1000)
    if think.pacing is not None:
        return constant_pacing(think.pacing)
    assert think.throughput is not None
    return constant_throughput(think.throughput)


def _user_class(
    loaded: LoadedScenario,
    index: int,
    sources: Mapping[str, DataSource],
    ids: Iterator[int],
) -> type[FastHttpUser]:
    scenario = loaded.scenario
    user = scenario.users[index]
    redactor = loaded.redactor
    timeout_s = user.timeout or scenario.timeout
    read = _data_files_read(scenario.headers, user)
    unique = [n for n, source in sources.items() if source.order == "unique" and n in read]
    base_headers = {**scenario.headers, **user.headers}
    data_names = list(scenario.data)
    request_tasks = [
        _task(
            request_parts(
                req,
                loaded.request_label(index, r),
                base_headers,
                sources,
                data_names,
                redactor,
                f"users[{index}].requests[{r}]",
            ),
            redactor,
        )
        for r, req in enumerate(user.requests)
    ]
    weights = [req.weight for req in user.requests]
    runner = _flow_runner(loaded, index, base_headers, sources)
    tasks: Any
    if runner is None:
        tasks = dict(zip(request_tasks, weights, strict=True))
    else:
        tasks = [_flow_task(runner, request_tasks, weights, redactor)]

    def __init__(self: FastHttpUser, environment: Any) -> None:
        FastHttpUser.__init__(self, environment)
        if redactor:
            self.client.request_event = RedactingRequestEvent(self.client.request_event, redactor)

    def on_start(self: FastHttpUser) -> None:
        self.swarm_user_id = next(ids)
        rows = {}
        for name in unique:
            # a user left without a row keeps running: each request that reads the file
            # fails with kind "template" (counted, in the report), instead of the user
            # silently stopping and the run applying less load than planned
            with contextlib.suppress(DataExhaustedError):
                rows[name] = sources[name].claim_row()
        self.swarm_rows = rows
        self.swarm_vars = {}
        if runner is not None and runner.on_start:
            wait_while_paused(self.environment)
            self.swarm_on_start_ok = runner.run(
                self, runner.on_start, self.swarm_vars, self.swarm_tracer
            )

    attrs: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"swarm users entry {user.name!r} of scenario {scenario.name!r}.",
        "host": loaded.host_for(user),
        "weight": user.weight,
        "wait_time": _wait_time(user.think_time),
        "tasks": tasks,
        "network_timeout": timeout_s,
        "connection_timeout": timeout_s,
        "__init__": __init__,
        "on_start": on_start,
        "swarm_user_id": 0,
        "swarm_rows": {},
        "swarm_vars": {},
        "swarm_flow": runner,
        "swarm_tracer": None,  # swarm try traces on_start through it
        "swarm_on_start_ok": True,
    }
    return type(user.name, (FastHttpUser,), attrs)


def _flow_runner(
    loaded: LoadedScenario,
    index: int,
    base_headers: Mapping[str, str],
    sources: Mapping[str, DataSource],
) -> FlowRunner | None:
    """The users entry's flow and ``on_start`` compiled, or ``None`` when it has neither."""
    user = loaded.scenario.users[index]
    flow = getattr(user, "flow", None) or []
    on_start = getattr(user, "on_start", None) or []
    if not flow and not on_start:
        return None
    redactor = loaded.redactor
    data_names = list(loaded.scenario.data)

    def parts_for(req: RequestSpec, where: str) -> RequestParts:
        label = redactor.text(req.name or req.path)
        return request_parts(req, label, base_headers, sources, data_names, redactor, where)

    where = f"users[{index}]"
    steps = compile_steps(flow, f"{where}.flow", parts_for, redactor)
    if steps:
        name = getattr(user, "flow_name", None) or user.name
        steps = (FlowTransaction(f"{where}.flow", name, steps),)
    return FlowRunner(
        steps,
        compile_steps(on_start, f"{where}.on_start", parts_for, redactor),
        end_on_capture_failure=getattr(user, "on_capture_failure", None) != "continue",
        redactor=redactor,
    )


def _flow_task(
    runner: FlowRunner,
    request_tasks: list[Callable[[FastHttpUser], None]],
    weights: list[int],
    redactor: Redactor,
) -> Callable[[FastHttpUser], None]:
    """The one task of a users entry with a flow: the flow once (captures start from what
    ``on_start`` captured), then one weighted request when the entry has ``requests`` too."""

    def flow_task(user: FastHttpUser) -> None:
        if runner.flow:
            runner.run(user, runner.flow, dict(user.swarm_vars))
        if request_tasks:
            random.choices(request_tasks, weights)[0](user)

    flow_task.__name__ = flow_task.__qualname__ = "flow"
    return guard_task(flow_task, redactor)


def _data_files_read(scenario_headers: Mapping[str, str], user: UserSpec) -> set[str]:
    """Names of the data files this kind of user's templates read."""
    dumped = user.model_dump(by_alias=True)
    written = {"headers": dict(scenario_headers), "users": [dumped]}
    texts = [text for _path, value in template_fields(written) for text in string_leaves(value)]
    texts += string_leaves([dumped.get("on_start"), dumped.get("flow")])  # every step's fields
    return {name for text in texts for name, _column in data_refs(text)}


@dataclass(frozen=True)
class RequestParts:
    """One request compiled once: what its task or flow step sends, and how it is judged.

    ``render(user, vars)`` gives the URL and the keyword arguments of
    ``client.request`` (raising ``TemplateRenderError``); ``vars`` are a flow's captured
    values, ``None`` outside a flow. ``static`` is that pair already made when nothing in
    the request needs rendering (no template, no query, no timeout): the fast path.
    """

    method: str
    name: str
    where: str
    render: Callable[[Any, Mapping[str, Any] | None], tuple[str, dict[str, Any]]]
    check: Callable[[int, str, float], str | None] | None
    needs_body: bool
    timeout_s: float | None
    static: tuple[str, dict[str, Any]] | None
    metrics: ResponseMetrics | None = None
    """The request's ``metrics:`` (``response_metrics``), ``None`` without any."""
    keywords: tuple[str, ...] = ("name",)
    """The keyword arguments ``render`` always gives (``name``, and ``headers``, ``json`` or
    ``data`` when the request has them): a flow written out as source passes them by name."""
    written: Mapping[str, Any] | None = None
    """The request's ``path`` and its ``headers``, ``json`` or ``data`` (those of
    ``keywords``) as written, when every template in them reads only ``vars`` and it has no
    query: a flow written out as source renders them inline, as ``render`` would."""


def request_parts(
    req: RequestSpec,
    name: str,
    base_headers: Mapping[str, str],
    sources: Mapping[str, DataSource],
    data_names: list[str],
    redactor: Redactor,
    where: str,
) -> RequestParts:
    """Compile ``req`` (labelled ``name``) once for its task or its flow step.

    ``where`` locates the request in the scenario (``users[0].requests[1]``) for the
    message of a template that fails to render.
    """
    method = req.method
    headers_spec = {**base_headers, **req.headers}
    path = compile_value(req.path, data_names=data_names)
    query, query_dynamic = compile_tree(req.query, data_names=data_names)
    header_renderers = {k: compile_value(v, data_names=data_names) for k, v in headers_spec.items()}
    headers_dynamic = any(is_template(v) for v in headers_spec.values())
    if req.json_body is not None:
        json_body, body_dynamic = compile_tree(req.json_body, data_names=data_names)
    else:
        json_body, body_dynamic = None, False
    body = compile_value(req.body, data_names=data_names) if req.body is not None else None
    dynamic = (
        is_template(req.path)
        or query_dynamic
        or headers_dynamic
        or body_dynamic
        or (req.body is not None and is_template(req.body))
    )
    # a flow step that only passes captured values along needs no user id or data rows
    vars_only = all(
        reads_only_vars(text)
        for text in string_leaves([req.path, req.query, headers_spec, req.json_body, req.body])
    )
    static_headers = dict(headers_spec) if not headers_dynamic else None
    check = compile_expect(req.expect, redactor) if req.expect is not None else None
    # Only body checks read the text; decoding it costs ~5 µs per response.
    needs_body = req.expect is not None and (
        req.expect.body_contains is not None or bool(req.expect.json_checks)
    )
    has_query = bool(req.query)

    static: tuple[str, dict[str, Any]] | None = None
    if not dynamic and not has_query and req.timeout is None:
        static_kwargs: dict[str, Any] = {"name": name}
        if headers_spec:
            static_kwargs["headers"] = dict(headers_spec)
        if json_body is not None:
            static_kwargs["json"] = json_body(None)
        elif body is not None:
            static_kwargs["data"] = body(None)
        static = (path(None), static_kwargs)

    # What does not change between requests is made here, once: the path when it is not a
    # template, and the keyword arguments that are not templates (``fixed_kwargs``, shared
    # by every request: ``client.request`` only reads them). Only templates render per call.
    path_dynamic = is_template(req.path)
    fixed_path = path(None) if not path_dynamic else None
    body_field = "json" if json_body is not None else "data" if body is not None else None
    body_renderer = json_body if json_body is not None else body
    body_template = body_field is not None and (
        body_dynamic if json_body is not None else is_template(req.body or "")
    )
    fixed_kwargs: dict[str, Any] = {"name": name}
    if static_headers:
        fixed_kwargs["headers"] = static_headers
    if body_field is not None and not body_template:
        assert body_renderer is not None
        fixed_kwargs[body_field] = body_renderer(None)
    per_call = headers_dynamic or body_template

    def render(user: FastHttpUser, vars: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        ctx: Mapping[str, Any] | None
        if not dynamic:
            ctx = None
        elif vars_only:
            ctx = {"vars": {} if vars is None else vars}
        else:
            ctx = RenderContext(
                user_id=user.swarm_user_id, sources=sources, claimed=user.swarm_rows, vars=vars
            )
        # a try per part, not per field (``field`` says which failed, as ``rendered`` does)
        field = "path"
        try:
            url = fixed_path if fixed_path is not None else path(ctx)
            if has_query:
                field = "query"
                rendered_query = query(ctx)
        except Exception as exc:  # whatever a template raises fails this request, not the user
            raise TemplateRenderError(f"{where}.{field}", exc) from None
        if has_query:
            url += ("&" if "?" in url else "?") + urlencode(rendered_query, doseq=True)
        if not per_call:
            return url, fixed_kwargs
        kwargs = dict(fixed_kwargs)
        try:
            if headers_dynamic:
                headers = {}
                for key, renderer in header_renderers.items():
                    field = f"headers.{key}"
                    headers[key] = renderer(ctx)
                kwargs["headers"] = headers
            if body_template:
                assert body_field is not None and body_renderer is not None
                field = body_field if body_field == "json" else "body"
                kwargs[body_field] = body_renderer(ctx)
        except Exception as exc:  # whatever a template raises fails this request, not the user
            raise TemplateRenderError(f"{where}.{field}", exc) from None
        return url, kwargs

    return RequestParts(
        method=method,
        name=name,
        where=where,
        render=render,
        check=check,
        needs_body=needs_body,
        timeout_s=req.timeout,
        static=static,
        metrics=compile_response_metrics(req.metrics),
        keywords=("name",)
        + (("headers",) if headers_spec else ())
        + ((body_field,) if body_field is not None else ()),
        written=_written(req, headers_spec) if vars_only and dynamic and not has_query else None,
    )


def _written(req: RequestSpec, headers: Mapping[str, str]) -> dict[str, Any]:
    """The fields of ``RequestParts.written``: the path, and the headers and body it has."""
    written: dict[str, Any] = {"path": req.path}
    if headers:
        written["headers"] = dict(headers)
    if req.json_body is not None:
        written["json"] = req.json_body
    elif req.body is not None:
        written["data"] = req.body
    return written


def _task(parts: RequestParts, redactor: Redactor) -> Callable[[FastHttpUser], None]:
    """One request as a task function named after it; the fast path matches a hand-written
    task. With secrets, exceptions leave it through ``guard_task``."""
    if parts.metrics is not None:  # recorded from its response: a task of its own
        return metered_task(parts, redactor)
    method, name, check, needs_body = parts.method, parts.name, parts.check, parts.needs_body
    timeout_s = parts.timeout_s

    if parts.static is not None:
        # Everything is known now: the task is the one call a hand-written task makes.
        static_url, static_kwargs = parts.static

        def static_task(user: FastHttpUser) -> None:
            wait_while_paused(user.environment)
            send(user, method, static_url, static_kwargs, check, needs_body)

        static_task.__name__ = static_task.__qualname__ = f"request_{name}"
        return guard_task(static_task, redactor)

    render = parts.render

    def task(user: FastHttpUser) -> None:
        wait_while_paused(user.environment)
        try:
            url, kwargs = render(user, None)
        except TemplateRenderError as exc:
            template_failure(user, method, name, exc)
            return
        if timeout_s is None:
            send(user, method, url, kwargs, check, needs_body)
            return
        started_perf, started_at = time.perf_counter(), time.time()
        try:
            with gevent.Timeout(timeout_s, RequestTimeout):
                send(user, method, url, kwargs, check, needs_body)
        except RequestTimeout:
            fire_timeout(user, method, name, url, timeout_s, started_perf, started_at)

    task.__name__ = f"request_{name}"
    task.__qualname__ = task.__name__
    return guard_task(task, redactor)
