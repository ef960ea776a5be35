"""Custom metrics from the scenario, without code: a request's ``metrics:`` and ``gauges:``.

A request (in ``requests:`` or as a flow step) may list values to take from every response
that arrives — a header that is a number, the ``dur`` of a ``Server-Timing`` entry, a number
or the length of a list found by a JSON path, the body's size — each recorded as a
histogram, counter, gauge or meter with static dimensions. The top-level ``gauges:`` section
polls an endpoint every ``every`` while the run goes (the target's queue depth). Values
are recorded through the recording API (``framework.timeline.metrics_api``) by the Locust
glue (``locust_glue.response_metrics``, ``locust_glue.gauge_poller``).

Everything here is checked when the scenario loads: names are identifier paths, each entry
has exactly one source, JSON paths and regexes compile, and (``metric_problems``) one name
keeps one kind and one unit across the whole scenario.

    >>> metric = ResponseMetric.model_validate(
    ...     {"name": "detector.server_ms", "unit": "ms", "server_timing": "app"}
    ... )
    >>> metric.kind, metric.source
    ('histogram', 'server_timing app')
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from framework.scenario.fields import Duration, Flag, OnePassModel, shown
from framework.scenario.yaml_source import KeyPath

__all__ = [
    "DEFAULT_GAUGE_EVERY_S",
    "GAUGE_SOURCES",
    "MAX_DIMENSION_VALUE_CHARS",
    "MAX_GAUGE_TIMEOUT_S",
    "MAX_METRIC_DIMS",
    "METRIC_NAME_PATTERN",
    "MIN_GAUGE_EVERY_S",
    "RESERVED_DIMENSIONS",
    "RESPONSE_SOURCES",
    "SCENARIO_METRIC_KINDS",
    "UNIT_PATTERN",
    "GaugeSpec",
    "ResponseMetric",
    "metric_problems",
]

SCENARIO_METRIC_KINDS = ("histogram", "counter", "gauge", "meter")
"""The kinds a response value may be recorded as (a timer is for code: it times a block)."""
RESPONSE_SOURCES = ("header", "json_path", "server_timing", "body_size", "count_of")
"""Where a request's metric takes its value from; exactly one per entry."""
GAUGE_SOURCES = ("json_path", "header", "regex")
"""Where a polled gauge takes its value from in the answer; exactly one per gauge."""
METRIC_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
"""A metric name: identifiers joined by dots; the same as ``timeline.metric_records.
METRIC_NAME``, which this stage may not import (a unit test keeps the two equal)."""
MIN_GAUGE_EVERY_S = 0.1
"""Shortest poll interval of a gauge: a poller is not a load generator."""
DEFAULT_GAUGE_EVERY_S = 1.0
MAX_GAUGE_TIMEOUT_S = 5.0
"""A poll's default timeout is ``every`` up to this."""
MAX_METRIC_DIMS = 10
"""Most dimensions one entry may name: each is a column in every query of the metric."""

_NAME = re.compile(METRIC_NAME_PATTERN)
_DIM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
UNIT_PATTERN = r"[A-Za-z0-9_%/.\-]{1,32}"
"""A unit; the same as ``timeline.metric_recorder.METRIC_UNIT`` (kept equal by a test)."""
RESERVED_DIMENSIONS = frozenset({"name", "kind", "unit"})
"""Dimension names that label the metric itself (``timeline.metric_recorder``'s)."""
MAX_DIMENSION_VALUE_CHARS = 100
_UNIT = re.compile(UNIT_PATTERN)
_BAD_VALUE_CHARS = re.compile(r"[{}=,\x00-\x1f\x7f]")


_SECRETS_CONTEXT = "secrets"
"""``request.SECRETS_CONTEXT``: ``request`` imports this module, so it cannot be imported
here (a unit test keeps the two equal)."""


def _json_path(value: str | None) -> str | None:
    """``value`` when jsonpath-ng parses it, checked as a capture's is (``flows`` builds on
    ``request``, which imports this module: imported at call time)."""
    if value is not None:
        from framework.scenario.flows import compile_json_path

        compile_json_path(value)
    return value


class _MetricFields(OnePassModel):
    """What a request's metric and a polled gauge share: name, unit and dimensions.

    No secret can be in one (``dims`` refuses them), so unlike a request it keeps none
    to mask in its repr."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(description="Identifier path: detector.server_ms.")
    unit: str = Field(description="The values' unit: ms, s, bytes, items, jobs, 1.")
    dims: dict[str, str] = Field(
        default_factory=dict,
        description="Static dimensions: {model: fast}; ${VAR} allowed, secrets not.",
    )

    @field_validator("name")
    @classmethod
    def _identifier_path(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"a metric name is identifiers joined by dots (letters, digits and _, not "
                f"starting with a digit), like detector.queue.depth; got {shown(value)}"
            )
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if not _UNIT.fullmatch(value):
            raise ValueError(
                f"a unit is 1 to 32 letters, digits or _ % / . - (ms, s, bytes, items, jobs, "
                f"1); got {shown(value)}"
            )
        return value

    @field_validator("dims", mode="before")
    @classmethod
    def _dims(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        if len(value) > MAX_METRIC_DIMS:
            raise ValueError(f"at most {MAX_METRIC_DIMS} dimensions, got {len(value)}")
        dims = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _DIM.fullmatch(key):
                raise ValueError(
                    f"a dimension name is an identifier (letters, digits and _, not starting "
                    f"with a digit), like model; got {shown(key)}"
                )
            if key in RESERVED_DIMENSIONS:
                raise ValueError(
                    f"dimension name {key!r} is reserved ({', '.join(sorted(RESERVED_DIMENSIONS))}"
                    f" label the metric itself); pick another, like {key}_"
                )
            if isinstance(item, bool):
                item = str(item).lower()
            elif isinstance(item, int | float):
                item = f"{item:g}" if isinstance(item, float) else str(item)
            if not isinstance(item, str) or not item:
                raise ValueError(
                    f"dimension {key!r}: a value is a non-empty string (or number), got "
                    f"{shown(item)}; dimensions are static: one value per entry"
                )
            if len(item) > MAX_DIMENSION_VALUE_CHARS or _BAD_VALUE_CHARS.search(item):
                raise ValueError(
                    f"dimension {key!r}: a value is at most {MAX_DIMENSION_VALUE_CHARS} "
                    f"characters without {{ }} = , or control characters, got {shown(item)}"
                )
            dims[key] = item
        return dims

    @field_validator("dims")
    @classmethod
    def _no_secrets(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        secrets = info.context.get(_SECRETS_CONTEXT) if info.context else None
        for key, item in value.items():
            if secrets and any(secret and secret in item for secret in secrets):
                raise ValueError(
                    f"dimension {key!r} holds a secret's value; dimensions are written to the "
                    f"timeline and every report: use a variable that is not a secret"
                )
        return value


class ResponseMetric(_MetricFields):
    """One value taken from each response of a request, recorded as ``kind``.

    A source that finds nothing (no such header, a JSON path that matches nothing, a value
    that is not a number) counts one ``missing`` value of the metric; the request's outcome
    never depends on it.
    """

    kind: Literal[SCENARIO_METRIC_KINDS] = Field(  # type: ignore[valid-type]
        "histogram", description="histogram (default), counter, gauge or meter."
    )
    header: str | None = Field(None, min_length=1, description="A response header: a number.")
    json_path: str | None = Field(
        None, min_length=1, description="A JSONPath into the JSON body: its first match, a number."
    )
    server_timing: str | None = Field(
        None, min_length=1, description="The dur= (ms) of this Server-Timing entry: app."
    )
    body_size: Flag | None = Field(None, description="true: the response body's bytes.")
    count_of: str | None = Field(
        None, min_length=1, description="A JSONPath: the length of the list it finds."
    )

    relation_fields: ClassVar[tuple[str, ...]] = RESPONSE_SOURCES

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        given = [key for key in RESPONSE_SOURCES if values.get(key) not in (None, False)]
        if all(key in values for key in RESPONSE_SOURCES) and len(given) != 1:
            found = ", ".join(given) if given else "none"
            yield (
                "",
                f"a metric takes exactly one source of header, json_path, server_timing, "
                f"body_size: true, count_of (found: {found})",
            )

    @field_validator("json_path", "count_of")
    @classmethod
    def _json_path_parses(cls, value: str | None) -> str | None:
        return _json_path(value)

    @field_validator("body_size")
    @classmethod
    def _body_size_true(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("body_size: true records the body's bytes; false records nothing")
        return value

    @property
    def source(self) -> str:
        """Where the value comes from, for messages: ``header X-Processing-Ms``."""
        for key in RESPONSE_SOURCES:
            value = getattr(self, key)
            if value is True:
                return key
            if value is not None:
                return f"{key} {value}"
        return "none"


class GaugeSpec(_MetricFields):
    """A gauge polled from an endpoint every ``every`` while the run goes: on the master
    of a distributed run, in the one process of a local run."""

    path: str | None = Field(
        None, min_length=1, description="On the scenario's host: /admin/queue."
    )
    url: str | None = Field(None, min_length=1, description="A full http(s) URL instead of path.")
    json_path: str | None = Field(
        None, min_length=1, description="A JSONPath into the answer: its first match, a number."
    )
    header: str | None = Field(None, min_length=1, description="A header of the answer: a number.")
    regex: str | None = Field(
        None, min_length=1, description="A regular expression on the body: its first group."
    )
    every: Duration = Field(DEFAULT_GAUGE_EVERY_S, description="Poll interval (>= 100ms).")
    timeout: Duration | None = Field(
        None, gt=0, description=f"Per poll; default every, at most {MAX_GAUGE_TIMEOUT_S:g} s."
    )

    relation_fields: ClassVar[tuple[str, ...]] = ("path", "url", *GAUGE_SOURCES)

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if "path" in values and "url" in values:
            if values["path"] is None and values["url"] is None:
                yield "", "a gauge polls path: (on the scenario's host) or url: (a full URL)"
            elif values["path"] is not None and values["url"] is not None:
                yield "url", "set either path (on the scenario's host) or url, not both"
        given = [key for key in GAUGE_SOURCES if values.get(key) is not None]
        if all(key in values for key in GAUGE_SOURCES) and len(given) != 1:
            found = ", ".join(given) if given else "none"
            yield (
                "",
                f"a gauge takes exactly one source of json_path, header, regex (found: {found})",
            )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(
                f"path must start with '/' (or give url: a full URL), got {shown(value)}"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"url must be an http:// or https:// URL, got {shown(value)}")
        return value

    @field_validator("json_path")
    @classmethod
    def _json_path_parses(cls, value: str | None) -> str | None:
        return _json_path(value)

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        from framework.scenario.request import regex_compiles

        return regex_compiles(value)

    @field_validator("every")
    @classmethod
    def _often_enough(cls, value: float) -> float:
        if value < MIN_GAUGE_EVERY_S:
            raise ValueError(
                f"must be at least {MIN_GAUGE_EVERY_S * 1000:g}ms: a gauge is polled, not "
                f"loaded; got {value * 1000:g}ms"
            )
        return value

    @property
    def kind(self) -> str:
        """Always ``gauge``: what a poll records."""
        return "gauge"

    @property
    def timeout_s(self) -> float:
        """The timeout of one poll: ``timeout``, else ``every`` up to 5 s."""
        return self.timeout if self.timeout is not None else min(self.every, MAX_GAUGE_TIMEOUT_S)

    @property
    def source(self) -> str:
        """Where the value comes from, for messages: ``json_path $.depth``."""
        for key in GAUGE_SOURCES:
            value = getattr(self, key)
            if value is not None:
                return f"{key} {value}"
        return "none"

    def target(self, host: str | None) -> str | None:
        """The URL polled: ``url``, or ``path`` on ``host`` (``None`` without a host)."""
        if self.url is not None:
            return self.url
        return None if host is None else host.rstrip("/") + (self.path or "")


def metric_problems(scenario: Any, *, has_host: bool = True) -> list[tuple[KeyPath, str]]:
    """``(path, message)`` for each metric of ``scenario`` (a ``model.Scenario``) that
    contradicts an earlier one of its name (another kind or unit: one name is one series),
    and each gauge with a ``path`` when there is no host to put it on (``has_host``: the
    scenario's ``host``, ``--host`` or ``$SWARM_HOST``)."""
    from framework.scenario.flows import RequestStep, walk_steps

    seen: dict[str, tuple[str, str, str]] = {}
    problems: list[tuple[KeyPath, str]] = []

    def check(path: KeyPath, metric: ResponseMetric | GaugeSpec) -> None:
        first = seen.get(metric.name)
        if first is None:
            seen[metric.name] = (metric.kind, metric.unit, _format(path))
            return
        kind, unit, at = first
        if (kind, unit) != (metric.kind, metric.unit):
            problems.append(
                (
                    path,
                    f"metric {metric.name!r} is a {metric.kind} in {metric.unit!r} here but a "
                    f"{kind} in {unit!r} at {at}; one name keeps one kind and one unit: "
                    "rename one, or make them agree",
                )
            )

    for u, user in enumerate(scenario.users):
        for r, request in enumerate(user.requests):
            for m, metric in enumerate(request.metrics):
                check(("users", u, "requests", r, "metrics", m), metric)
        for section in ("on_start", "flow"):
            for path, step in walk_steps(getattr(user, section) or [], ("users", u, section)):
                if isinstance(step, RequestStep):
                    for m, metric in enumerate(step.metrics):
                        check((*path, "metrics", m), metric)
    for g, gauge in enumerate(scenario.gauges):
        check(("gauges", g), gauge)
        if gauge.path is not None and not has_host:
            problems.append(
                (
                    ("gauges", g, "path"),
                    "a gauge's path is polled on the scenario's host, and there is none: set "
                    "host, pass --host, or give url: a full URL",
                )
            )
    return problems


def _format(path: KeyPath) -> str:
    from framework.scenario.problems import format_path

    return format_path(path)
