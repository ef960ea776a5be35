"""Flows: a users entry's steps, run top to bottom on every iteration, with captured values.

A step is a request (every field a request has, plus ``capture``), a ``think`` pause, a
``repeat`` around steps, a ``poll`` (one request repeated until a check on its answer holds
or a timeout passes) or a ``transaction`` (a named group of steps, also timed as a whole).
Captures put values from an answer (a JSONPath, a regex on the body, a header, the status)
into variables that the templates of later steps read as ``{{ vars.NAME }}``.

Everything here is checked when the scenario loads: JSONPaths and regexes compile, a poll
has a timeout, a repeat says how often, and (``var_problems``) every ``vars.NAME`` is
captured by a step written before it, or by ``on_start``. The executor
(``framework.locust_glue``) and ``swarm try`` run these models; ``walk_steps`` and
``flow_names`` are how the rest of swarm lists what a flow does and records.

    >>> step = RequestStep.model_validate(
    ...     {"path": "/login", "method": "post", "capture": [{"var": "token", "json": "$.token"}]}
    ... )
    >>> step.capture[0].source
    'json $.token'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse as parse_json_path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from framework.durations import parse_duration
from framework.scenario.fields import NOT_BOOL, Duration, Flag, shown
from framework.scenario.request import Expect, RequestSpec, ThinkTime, _Model, regex_compiles
from framework.scenario.steps import STEP_KINDS, step_kind
from framework.scenario.yaml_source import KeyPath

if TYPE_CHECKING:
    from framework.scenario.model import UserSpec

__all__ = [
    "AGGREGATE_POLL",
    "AGGREGATE_TXN",
    "CAPTURE_FAILURE_MODES",
    "DEFAULT_REPEAT_MAX",
    "MAX_REPEAT",
    "UNKNOWN_STEP",
    "Capture",
    "PollSpec",
    "PollStep",
    "RepeatSpec",
    "RepeatStep",
    "RequestStep",
    "Step",
    "ThinkStep",
    "TransactionStep",
    "compile_json_path",
    "flow_names",
    "request_steps",
    "walk_steps",
]

MAX_REPEAT = 100_000
"""Most iterations a ``repeat`` may ask for (``times`` or ``max``): more is a typo."""
DEFAULT_REPEAT_MAX = 100
"""Iterations a ``while``/``until`` repeat runs at most unless ``max`` says otherwise."""
AGGREGATE_TXN = "TXN"
"""The method under which a transaction (and the whole flow) is recorded."""
AGGREGATE_POLL = "POLL"
"""The method under which a poll's total time is recorded."""
CAPTURE_FAILURE_MODES = ("end_iteration", "continue")
"""What a capture that finds nothing does after failing its request: end the iteration
(the default: later steps would send a request without the value), or go on."""
UNKNOWN_STEP = "unknown_step"
"""The pydantic error type of a step of no known kind (``problems`` adds the keys found)."""

_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RepeatCount = Annotated[int, Field(ge=1, le=MAX_REPEAT), NOT_BOOL]


@functools.lru_cache(maxsize=1024)
def compile_json_path(text: str) -> JSONPath:
    """``text`` parsed as a JSONPath (jsonpath-ng's extended syntax: filters, ``len``);
    ``ValueError`` with the parser's message. Cached: each step's path is parsed once."""
    try:
        return parse_json_path(text)
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses of its own
        raise ValueError(f"invalid JSONPath {shown(text)}: {exc}") from None


class Capture(_Model):
    """One value taken from a response into ``vars.<var>``: exactly one of ``json`` (a
    JSONPath; its first match), ``regex`` (on the body: the first group, or the whole match
    without groups), ``header`` (case-insensitive) or ``status: true`` (the code, an int).

    Without ``default``, finding nothing fails the request (kind ``check``); with it, the
    default is stored and nothing fails.
    """

    var: str = Field(description="Variable name: letters, digits and _, not starting with a digit.")
    json_path: str | None = Field(
        None, alias="json", min_length=1, description="JSONPath into the JSON body: $.items[0].id"
    )
    regex: str | None = Field(
        None, min_length=1, description="Regular expression on the body; its first group."
    )
    header: str | None = Field(None, min_length=1, description="Response header name.")
    status: Flag | None = Field(None, description="true: the status code.")
    default: Any = Field(None, description="Stored when nothing is found (then no failure).")

    @field_validator("var")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _VAR.match(value):
            raise ValueError(
                f"var must be a name of letters, digits and _ (not starting with a digit), "
                f"read as {{{{ vars.NAME }}}}; got {shown(value)}"
            )
        return value

    @field_validator("json_path")
    @classmethod
    def _json_path_parses(cls, value: str | None) -> str | None:
        if value is not None:
            compile_json_path(value)
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return regex_compiles(value)

    @field_validator("status")
    @classmethod
    def _status_true(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("status: true captures the status code; false captures nothing")
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Capture:
        given = [
            key
            for key, name in (("json", "json_path"), ("regex", "regex"), ("header", "header"))
            if getattr(self, name) is not None
        ] + (["status"] if self.status else [])
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"a capture takes exactly one of json, regex, header, status: true (found: {found})"
            )
        return self

    @property
    def has_default(self) -> bool:
        """Whether ``default`` was written (``default: null`` stores ``None``)."""
        return "default" in self.model_fields_set

    @property
    def source(self) -> str:
        """Where the value comes from, for messages: ``json $.token``, ``header ETag``."""
        if self.json_path is not None:
            return f"json {self.json_path}"
        if self.regex is not None:
            return f"regex {self.regex}"
        if self.header is not None:
            return f"header {self.header}"
        return "status"


def _drop_weight(schema: dict[str, Any]) -> None:
    schema.get("properties", {}).pop("weight", None)


class RequestStep(RequestSpec):
    """A request in a flow: every field of a request but ``weight`` (steps run in order,
    none is picked by weight), plus ``capture``."""

    model_config = ConfigDict(json_schema_extra=_drop_weight)
    refused_keys: ClassVar[tuple[str, ...]] = ("weight",)

    capture: list[Capture] = Field(
        default_factory=list, description="Values taken from the response into vars."
    )

    @field_validator("weight")
    @classmethod
    def _no_weight(cls, value: int) -> int:
        raise ValueError(
            "weight picks one of a users entry's requests; a flow runs every step in order, "
            "so a step has no weight: drop it (or move the request to requests:)"
        )


def _think_shorthand(value: Any) -> Any:
    """``think: 500ms`` (a duration) → ``{fixed_ms: 500}``."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"fixed_ms": parse_duration(value) * 1000}
    return value


def _think_schema(schema: dict[str, Any]) -> None:
    prop = schema.get("properties", {}).get("think")
    if prop is not None:
        duration = TypeAdapter(Duration).json_schema()
        schema["properties"]["think"] = {
            "anyOf": [duration, prop],
            "description": "A pause: a duration (500ms), {fixed_ms: N} or {uniform_ms: [a, b]}.",
        }


class ThinkStep(_Model):
    """A pause between steps: a duration (``think: 500ms``), ``fixed_ms`` or ``uniform_ms``."""

    model_config = ConfigDict(json_schema_extra=_think_schema)

    think: Annotated[ThinkTime, BeforeValidator(_think_shorthand)]

    @field_validator("think")
    @classmethod
    def _a_pause(cls, value: ThinkTime) -> ThinkTime:
        if value.pacing is not None or value.throughput is not None:
            raise ValueError(
                "pacing and throughput pace whole iterations (think_time of the users "
                "entry); a think step is a pause: a duration (think: 500ms), fixed_ms or "
                "uniform_ms"
            )
        return value


_CONDITION = "a condition template, like '{{ vars.state != \"done\" }}'"


class RepeatSpec(_Model):
    """How often a ``repeat`` runs its steps: exactly one of ``times``; ``while`` (checked
    before each round, so maybe none); ``until`` (checked after each round, so at least
    one). A condition is a template whose value is tested for truth; ``max`` bounds the
    rounds of ``while``/``until`` (then the repeat ends, without failing)."""

    times: RepeatCount | None = Field(None, description="Run the steps this many times.")
    while_: str | None = Field(
        None, alias="while", min_length=1, description="Run while this template is true."
    )
    until: str | None = Field(
        None, min_length=1, description="Run until this template is true (at least once)."
    )
    max: RepeatCount = Field(DEFAULT_REPEAT_MAX, description="Most rounds of a while/until repeat.")

    @field_validator("while_", "until")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value:
            raise ValueError(f"expected {_CONDITION}; got {shown(value)}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> RepeatSpec:
        given = [
            key
            for key, name in (("times", "times"), ("while", "while_"), ("until", "until"))
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a repeat takes exactly one of times, while, until (found: {found})")
        if self.times is not None and "max" in self.model_fields_set:
            raise ValueError(
                "max bounds a while/until repeat; with times, times is the count: drop max"
            )
        return self

    @property
    def condition(self) -> str | None:
        """The ``while`` or ``until`` template, if any."""
        return self.while_ if self.while_ is not None else self.until


class PollSpec(_Model):
    """Send ``request`` every ``every`` until ``until`` (checks in the ``expect`` format)
    holds on its answer, or fail once ``timeout`` has passed since the first one."""

    request: RequestStep
    every: Duration = Field(gt=0, description="Time from one poll request's start to the next.")
    timeout: Duration = Field(gt=0, description="Give up (and fail the poll) after this long.")
    until: Expect = Field(description="Checks on the answer that end the poll: status, json, ...")

    relation_fields: ClassVar[tuple[str, ...]] = ("every", "timeout")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        every, timeout = values.get("every"), values.get("timeout")
        if every is not None and timeout is not None and every >= timeout:
            yield (
                "every",
                f"must be below timeout ({timeout:g} s), got {every:g} s: the poll would ask "
                f"only once",
            )


class PollStep(_Model):
    """A poll; its total time is recorded as ``name`` (method ``POLL``), each request as
    itself."""

    poll: PollSpec
    name: str | None = Field(
        None, min_length=1, description="The poll's name; default '<request name> (poll)'."
    )

    @property
    def label(self) -> str:
        return self.name or f"{self.poll.request.label} (poll)"


class RepeatStep(_Model):
    """Steps run again and again, as ``repeat`` says."""

    repeat: RepeatSpec
    steps: list[Step] = Field(min_length=1)


class TransactionStep(_Model):
    """A named group of steps, also recorded as a whole (method ``TXN``)."""

    transaction: str = Field(min_length=1, description="The group's name in the statistics.")
    steps: list[Step] = Field(min_length=1)

    @field_validator("transaction")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in "\n\r\t"):
            raise ValueError(f"a transaction name is one non-blank line, got {shown(value)}")
        return value


def _model_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return _KIND_OF.get(type(value))
    return step_kind(value)


_STEP_HELP = (
    "unknown step kind; a step is one of: request (path: /x, method, ...), think: 500ms, "
    "repeat: {times: N} with steps, poll: {request, every, timeout, until}, "
    "transaction: NAME with steps"
)

Step = Annotated[
    Annotated[RequestStep, Tag("request")]
    | Annotated[ThinkStep, Tag("think")]
    | Annotated[RepeatStep, Tag("repeat")]
    | Annotated[PollStep, Tag("poll")]
    | Annotated[TransactionStep, Tag("transaction")],
    Discriminator(_model_kind, custom_error_type=UNKNOWN_STEP, custom_error_message=_STEP_HELP),
]
"""One flow step; its kind is the key it is written with (``steps.step_kind``)."""

_KIND_OF: dict[type, str] = {
    RequestStep: "request",
    ThinkStep: "think",
    RepeatStep: "repeat",
    PollStep: "poll",
    TransactionStep: "transaction",
}
assert set(_KIND_OF.values()) == set(STEP_KINDS)

RepeatStep.model_rebuild()
TransactionStep.model_rebuild()

StepModel = RequestStep | ThinkStep | RepeatStep | PollStep | TransactionStep


def walk_steps(
    steps: Sequence[StepModel], base: KeyPath = ()
) -> Iterator[tuple[KeyPath, StepModel]]:
    """``(path, step)`` for every step of ``steps``, depth first in the order written:
    a repeat or transaction, then its steps (path ``(i, "steps", j)``); a poll, then its
    request (path ``(i, "poll", "request")``). Paths are relative to ``steps``; prefix
    ``("users", u, "flow")`` for the place in the file.

    >>> steps = [TransactionStep(transaction="t", steps=[ThinkStep(think={"fixed_ms": 1})])]
    >>> [path for path, _ in walk_steps(steps)]
    [(0,), (0, 'steps', 0)]
    """
    for i, step in enumerate(steps):
        path: KeyPath = (*base, i)
        yield path, step
        if isinstance(step, RepeatStep | TransactionStep):
            yield from walk_steps(step.steps, (*path, "steps"))
        elif isinstance(step, PollStep):
            yield (*path, "poll", "request"), step.poll.request


Labeler = Callable[[str, KeyPath, RequestSpec], str]
"""``(section, path, request) -> name``: a request step's statistics name (section
``on_start`` or ``flow``, ``path`` within it); the loader's reads the written, redacted
name so a secret in a path stays a reference."""


def _label(section: str, path: KeyPath, request: RequestSpec) -> str:
    return request.label


def flow_names(user: UserSpec, label: Labeler | None = None) -> list[tuple[str, str]]:
    """Every ``(method, name)`` the steps of ``user`` record, once each, in order: the whole
    flow (``TXN``, ``flow_name`` or the entry's name), then on_start's and the flow's
    requests, transactions (``TXN``) and polls (``POLL``). Not the weighted ``requests``."""
    label = label or _label
    names: list[tuple[str, str]] = []
    if user.flow:
        names.append((AGGREGATE_TXN, user.flow_name or user.name))
    for section in ("on_start", "flow"):
        for path, step in walk_steps(getattr(user, section) or []):
            if isinstance(step, RequestStep):
                key = (step.method, label(section, path, step))
            elif isinstance(step, TransactionStep):
                key = (AGGREGATE_TXN, step.transaction)
            elif isinstance(step, PollStep):
                key = (
                    AGGREGATE_POLL,
                    step.name
                    or f"{label(section, (*path, 'poll', 'request'), step.poll.request)} (poll)",
                )
            else:
                continue
            if key not in names:
                names.append(key)
    return names


def request_steps(user: UserSpec) -> list[RequestSpec]:
    """Every request ``user`` may send: its weighted requests, then the request steps of
    on_start and the flow (poll requests included)."""
    found: list[RequestSpec] = list(user.requests)
    for section in ("on_start", "flow"):
        found += [
            s for _, s in walk_steps(getattr(user, section) or []) if isinstance(s, RequestStep)
        ]
    return found
