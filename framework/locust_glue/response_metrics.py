"""A request's ``metrics:`` recorded from each response that arrives, through the recording API.

The scenario says where a value is (``framework.scenario.custom_metrics.ResponseMetric``);
this module takes it out of a response and records it:

- ``header``: the header's value as a number (the first, when the header is repeated);
- ``server_timing``: the ``dur`` (ms) of the named entry of ``Server-Timing``
  (``app;dur=12.3, db;desc="x";dur=4``, every ``Server-Timing`` header read);
- ``json_path``: the first match of the JSONPath in the JSON body, a number (a numeric
  string counts; ``true`` / ``false`` do not);
- ``count_of``: the length of the list the JSONPath finds (with a wildcard path, the
  number of matches);
- ``body_size``: the body's bytes.

A source that finds nothing counts one ``missing`` value (``handle.missing()``), never a
failure of the request. A response that did not arrive (no status) is not measured. A
histogram, counter or meter takes values ``>= 0``: a negative one is missing too.

The extraction is pure (``extract``, ``compile_extractor``), tested on literals. The glue
is two hooks: ``metered_task`` replaces a weighted request's task when the request has
metrics (``compiler._task``), and a flow's request step calls ``ResponseMetrics.record``
(``flows.FlowRunner._send``) only when its request has metrics; a request without them
pays nothing.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
from locust import FastHttpUser

from framework.locust_glue.control import wait_while_paused
from framework.locust_glue.flows import simple_json_path
from framework.locust_glue.redaction import guard_task
from framework.locust_glue.sending import RequestTimeout, fire_timeout, send, template_failure
from framework.scenario.custom_metrics import ResponseMetric
from framework.scenario.flows import compile_json_path
from framework.scenario.interpolation import Redactor
from framework.scenario.templates import TemplateRenderError

if TYPE_CHECKING:
    from framework.locust_glue.compiler import RequestParts

__all__ = [
    "Extractor",
    "ResponseBody",
    "ResponseMetrics",
    "compile_extractor",
    "compile_response_metrics",
    "extract",
    "header_value",
    "metered_task",
    "number",
    "server_timing_ms",
]

Extractor = Callable[[Mapping[str, Any], "ResponseBody"], float | None]
"""``(headers, body) -> value``, ``None`` when the source found nothing."""

_NOTHING = object()
_ENTRY_SPLIT = re.compile(r',(?=(?:[^"]*"[^"]*")*[^"]*$)')
"""A comma outside double quotes: between two entries of a ``Server-Timing`` value."""
_PARAM_SPLIT = re.compile(r';(?=(?:[^"]*"[^"]*")*[^"]*$)')


class ResponseBody:
    """A response body read once: its bytes and, on first use, its JSON (shared by every
    metric of the response)."""

    __slots__ = ("_document", "content")

    def __init__(self, content: bytes) -> None:
        self.content = content
        self._document: Any = _NOTHING

    @property
    def document(self) -> Any:
        """The parsed JSON, or ``_NOTHING`` when the body is not JSON."""
        if self._document is _NOTHING:
            try:
                self._document = json.loads(self.content)
            except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is one)
                self._document = None
                return _NOTHING
        return self._document


def number(value: Any) -> float | None:
    """``value`` as a finite number: an int, a float or a numeric string; else ``None``.

    >>> number(12), number(" 3.5 "), number(True), number("fast"), number(float("nan"))
    (12.0, 3.5, None, None, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str | bytes):
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def header_value(headers: Mapping[str, Any], name: str) -> list[str]:
    """Every value of header ``name`` (any case), in order; ``[]`` when there is none.

    A response's headers (geventhttpclient's) find any case and give a list when the header
    is repeated; a plain mapping is searched case-insensitively.
    """
    found = headers.get(name)
    if found is None:
        wanted = name.lower()
        found = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if found is None:
        return []
    return [str(v) for v in found] if isinstance(found, list | tuple) else [str(found)]


def server_timing_ms(values: Sequence[str], entry: str) -> float | None:
    """The ``dur`` (ms) of the first ``Server-Timing`` entry named ``entry`` (any case) in
    the header's ``values``; ``None`` when there is no such entry or it has no number.

    >>> server_timing_ms(['app;dur=12.3, db;desc="a, b";dur=4'], "db")
    4.0
    >>> server_timing_ms(["cache;desc=hit"], "cache") is None
    True
    """
    wanted = entry.lower()
    for value in values:
        quoted = '"' in value  # a quoted desc may hold , and ; (the regexes cost ~5 µs)
        for part in _ENTRY_SPLIT.split(value) if quoted else value.split(","):
            params = _PARAM_SPLIT.split(part) if quoted else part.split(";")
            if params[0].strip().lower() != wanted:
                continue
            for param in params[1:]:
                key, _, raw = param.partition("=")
                if key.strip().lower() == "dur":
                    return number(raw.strip().strip('"'))
            return None
    return None


def _json_getter(path: str, *, count: bool) -> Callable[[Any], Any]:
    """The first match of ``path`` in a document (``_NOTHING`` for none); with ``count``, the
    list's length (or the number of matches of a path with a wildcard)."""
    keys = simple_json_path(path)
    if keys is not None:

        def follow(document: Any) -> Any:
            current = document
            for key in keys:
                if isinstance(key, int):
                    if not isinstance(current, list) or not -len(current) <= key < len(current):
                        return _NOTHING
                elif not isinstance(current, dict) or key not in current:
                    return _NOTHING
                current = current[key]
            if count:
                return len(current) if isinstance(current, list) else _NOTHING
            return current

        return follow
    expression = compile_json_path(path)

    def find(document: Any) -> Any:
        matches = expression.find(document)
        if not matches:
            return _NOTHING
        if not count:
            return matches[0].value
        if len(matches) == 1:
            found = matches[0].value
            return len(found) if isinstance(found, list) else 1
        return len(matches)

    return find


def compile_extractor(metric: ResponseMetric) -> Extractor:
    """``metric``'s source as a function of a response's headers and body."""
    if metric.header is not None:
        header = metric.header

        def from_header(headers: Mapping[str, Any], _body: ResponseBody) -> float | None:
            values = header_value(headers, header)
            return number(values[0].strip()) if values else None

        return from_header
    if metric.server_timing is not None:
        entry = metric.server_timing

        def from_server_timing(headers: Mapping[str, Any], _body: ResponseBody) -> float | None:
            return server_timing_ms(header_value(headers, "Server-Timing"), entry)

        return from_server_timing
    if metric.body_size:

        def from_body_size(_headers: Mapping[str, Any], body: ResponseBody) -> float | None:
            return float(len(body.content))

        return from_body_size
    path = metric.json_path if metric.json_path is not None else metric.count_of
    if path is None:
        raise ValueError(f"metric {metric.name!r} has no source")
    getter = _json_getter(path, count=metric.count_of is not None)

    def from_json(_headers: Mapping[str, Any], body: ResponseBody) -> float | None:
        document = body.document
        if document is _NOTHING:
            return None
        found = getter(document)
        return None if found is _NOTHING else number(found)

    return from_json


def extract(
    metric: ResponseMetric, headers: Mapping[str, Any], body: bytes | ResponseBody
) -> float | None:
    """The value ``metric`` takes from a response (``None``: missing), as the run records it.

    >>> spec = ResponseMetric.model_validate({"name": "n", "unit": "items", "count_of": "$.r"})
    >>> extract(spec, {}, b'{"r": [1, 2, 3]}'), extract(spec, {}, b"not json")
    (3.0, None)
    """
    found = compile_extractor(metric)(
        headers, body if isinstance(body, ResponseBody) else ResponseBody(body)
    )
    if found is not None and found < 0 and metric.kind != "gauge":
        return None
    return found


@dataclass(frozen=True)
class _Compiled:
    extract: Extractor
    record: Callable[[float], Any]
    missing: Callable[[], Any]
    signed: bool


def _handle(metric: ResponseMetric) -> tuple[Callable[[float], Any], Callable[[], Any]]:
    """The recording API's handle of ``metric``: its record verb and ``missing``."""
    from framework.timeline import metrics_api

    dims = dict(metric.dims)
    if metric.kind == "histogram":
        handle: Any = metrics_api.histogram(metric.name, unit=metric.unit, **dims)
        return handle.record, handle.missing
    if metric.kind == "counter":
        handle = metrics_api.counter(metric.name, unit=metric.unit, **dims)
        return handle.add, handle.missing
    if metric.kind == "meter":
        handle = metrics_api.meter(metric.name, unit=metric.unit, **dims)
        return handle.mark, handle.missing
    handle = metrics_api.gauge(metric.name, unit=metric.unit, **dims)
    return handle.set, handle.missing


class ResponseMetrics:
    """A request's metrics, compiled once per process: ``record(response)`` after each one."""

    __slots__ = ("_metrics", "names")

    def __init__(self, metrics: Sequence[_Compiled], names: Sequence[str]) -> None:
        self._metrics = tuple(metrics)
        self.names = tuple(names)

    def __repr__(self) -> str:
        return f"ResponseMetrics({', '.join(self.names)})"

    def record(self, response: Any) -> None:
        """Record each metric from Locust's ``response`` (a ``FastResponse``); nothing when
        no response arrived."""
        if response is None or not response.status_code:
            return
        self.record_parts(response.headers or {}, response.content or b"")

    def record_parts(self, headers: Mapping[str, Any], content: bytes) -> None:
        """Record each metric from a response's headers and body."""
        body = ResponseBody(content)
        for metric in self._metrics:
            value = metric.extract(headers, body)
            if value is None or (value < 0 and not metric.signed):
                metric.missing()
            else:
                metric.record(value)


def compile_response_metrics(
    specs: Sequence[ResponseMetric],
    handle: Callable[[ResponseMetric], tuple[Callable[[float], Any], Callable[[], Any]]] = _handle,
) -> ResponseMetrics | None:
    """``specs`` compiled with their handles (``handle``: the recording API's), or ``None``
    for a request without metrics."""
    if not specs:
        return None
    compiled = []
    for spec in specs:
        record, missing = handle(spec)
        compiled.append(_Compiled(compile_extractor(spec), record, missing, spec.kind == "gauge"))
    return ResponseMetrics(compiled, [spec.name for spec in specs])


def metered_task(parts: RequestParts, redactor: Redactor) -> Callable[[FastHttpUser], None]:
    """A weighted request's task (as ``compiler._task`` makes it) that also records the
    request's metrics from the response it got."""
    metrics = parts.metrics
    assert metrics is not None
    method, name, check, needs_body = parts.method, parts.name, parts.check, parts.needs_body
    timeout_s, static, render = parts.timeout_s, parts.static, parts.render

    def task(user: FastHttpUser) -> None:
        wait_while_paused(user.environment)
        if static is not None:
            url, kwargs = static
        else:
            try:
                url, kwargs = render(user, None)
            except TemplateRenderError as exc:
                template_failure(user, method, name, exc)
                return
        if timeout_s is None:
            metrics.record(send(user, method, url, kwargs, check, needs_body))
            return
        started_perf, started_at = time.perf_counter(), time.time()
        try:
            with gevent.Timeout(timeout_s, RequestTimeout):
                response = send(user, method, url, kwargs, check, needs_body)
        except RequestTimeout:
            fire_timeout(user, method, name, url, timeout_s, started_perf, started_at)
            return
        metrics.record(response)

    task.__name__ = task.__qualname__ = f"request_{name}"
    return guard_task(task, redactor)
