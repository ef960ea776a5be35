"""The scenario format: one YAML file describes targets, users, requests and the load shape.

These pydantic models are the single definition of the format: the loader validates
against them, ``swarm schema`` exports them as JSON Schema for editors, and the compiler
reads them. Every model forbids unknown keys so a typo is an error, not a silent default.
Templates and ``${VAR}`` references are resolved before validation (see ``loader``).

The loader validates with the secret values in the validation context
(``{SECRETS_CONTEXT: values}``); every model keeps them to mask them in its ``repr()``
and ``str()``, so a scenario printed anywhere shows ``***`` where a key was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from framework.scenario.abort import AbortRule
from framework.scenario.budgets import Budgets, ValidationRules
from framework.scenario.custom_metrics import GaugeSpec
from framework.scenario.faults import FaultSpec
from framework.scenario.fields import NOT_BOOL, Duration, shown
from framework.scenario.flows import CAPTURE_FAILURE_MODES, Step
from framework.scenario.request import (
    MAX_MS,
    MAX_RATE,
    MAX_WEIGHT,
    METHODS,
    SECRETS_CONTEXT,
    Expect,
    JsonCheck,
    RequestSpec,
    ThinkTime,
    Weight,
    _Model,
)

__all__ = [
    "CLOSED_FIELDS",
    "DEFAULT_MAX_IN_FLIGHT",
    "DUPLICATE_USER_NAMES",
    "LOAD_TAGS",
    "MAX_ARRIVAL_RATE",
    "MAX_IN_FLIGHT",
    "MAX_MS",
    "MAX_RATE",
    "MAX_SPAWN_RATE",
    "MAX_STAGES",
    "MAX_USERS",
    "MAX_WEIGHT",
    "METHODS",
    "OPEN_FIELDS",
    "OPEN_ONLY_SETTINGS",
    "SECRETS_CONTEXT",
    "SHARED_GROUP",
    "ArrivalRate",
    "ClosedLoadSpec",
    "ConstantLoad",
    "DataFile",
    "Duration",
    "Expect",
    "FindCapacityLoad",
    "JsonCheck",
    "LoadSpec",
    "OpenConstantLoad",
    "OpenFindCapacityLoad",
    "OpenLoadSpec",
    "OpenSpikeLoad",
    "OpenStageSpec",
    "OpenStagesLoad",
    "OpenSteppedLoad",
    "OpenWaveLoad",
    "RequestSpec",
    "Scenario",
    "SpikeLoad",
    "StageSpec",
    "StagesLoad",
    "SteppedLoad",
    "ThinkTime",
    "UserSpec",
    "WaveLoad",
    "host_url",
]

MAX_USERS = 10_000_000
"""Most simulated users a load shape may ask for: far beyond what a Locust cluster runs
(a few thousand per worker core), so a larger number is a typo, not a plan."""
MAX_SPAWN_RATE = 1_000_000
"""Most users started per second (Locust starts a few hundred per second per worker)."""
MAX_STAGES = 10_000
"""Most steps of a stepped shape or entries of a stages list."""

PositiveInt = Annotated[int, Field(ge=1), NOT_BOOL]
UserCount = Annotated[int, Field(ge=1, le=MAX_USERS), NOT_BOOL]
Users = Annotated[int, Field(ge=0, le=MAX_USERS), NOT_BOOL]
SpawnRate = Annotated[float, Field(gt=0, le=MAX_SPAWN_RATE), NOT_BOOL]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


SHARED_GROUP = "scenario"
"""The name of the load group of the users entries that share the scenario-level load."""
DUPLICATE_USER_NAMES = "duplicate_user_names"
"""The pydantic error type of two ``users`` entries with one name (the loader places it)."""
CLOSED_FIELDS = frozenset(
    {"users", "spawn_rate", "start_users", "step_users", "base_users", "spike_users",
     "spike_spawn_rate", "min_users", "max_users"}
)  # fmt: skip
"""Fields only a closed load (a number of users) has: an open load written with one mixes
the two models, and the message says so instead of "unknown key"."""
OPEN_FIELDS = frozenset(
    {"rate", "start_rate", "step_rate", "base_rate", "spike_rate", "min_rate", "max_rate",
     "arrivals", "max_in_flight", "ramp"}
)  # fmt: skip
"""Fields only an open load (arrivals per second) has."""
OPEN_ONLY_SETTINGS = ("arrivals", "max_in_flight", "ramp")
"""Open-load settings that are not rates: on a closed shape they mean nothing."""
DEFAULT_MAX_IN_FLIGHT = 1000
"""Arrivals one load generator runs at once unless ``max_in_flight`` says otherwise."""
MAX_ARRIVAL_RATE = 1_000_000
"""Most arrivals per second an open load may ask for (a worker core sustains thousands)."""
MAX_IN_FLIGHT = 1_000_000
"""Largest ``max_in_flight``: each arrival in flight is a greenlet and a connection."""

ArrivalRate = Annotated[float, Field(gt=0, le=MAX_ARRIVAL_RATE), NOT_BOOL]


def _open_field_message(key: str, own: Sequence[str]) -> str:
    """What to say of an open-model key written in a closed section with fields ``own``."""
    if key in OPEN_ONLY_SETTINGS:
        return (
            f"{key} is an open-model setting; this load is closed (model: closed, the "
            f"default), where it means nothing: write model: open, or drop {key}"
        )
    return (
        f"{key} is an open-model field (arrivals per second); this load is closed, in "
        f"users ({', '.join(own)}): one load takes the fields of one model, so write "
        f"model: open with rates only, or drop {key}"
    )


def _closed_field_message(key: str, own: Sequence[str]) -> str:
    """What to say of a closed-model key written in an open section with fields ``own``."""
    return (
        f"{key} is a closed-model field (users); this load is open (model: open), in "
        f"arrivals per second ({', '.join(own)}): one load takes the fields of one model, "
        f"so drop {key}, or drop model: open and write users only"
    )


class _ClosedSection(_Model):
    """A closed load section: keys of the open model are named as such when written here."""

    misplaced_keys: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        own = [n for n in cls.model_fields if n in CLOSED_FIELDS] or ["stages"]
        cls.misplaced_keys = {k: _open_field_message(k, own) for k in sorted(OPEN_FIELDS)}


class _OpenSection(_Model):
    """An open load section: keys of the closed model are named as such when written here."""

    misplaced_keys: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        own = [n for n in cls.model_fields if n.endswith("rate")] or ["stages"]
        cls.misplaced_keys = {k: _closed_field_message(k, own) for k in sorted(CLOSED_FIELDS)}


class _ClosedLoad(_ClosedSection):
    model: Literal["closed"] = Field(
        "closed", description="closed (default): a number of users, each waiting for answers."
    )


class _OpenLoad(_OpenSection):
    """What every open shape shares: how arrivals are spaced and how many may run at once."""

    model: Literal["open"] = Field(
        description="open: arrivals per second, started on schedule whatever the target does."
    )
    arrivals: Literal["uniform", "poisson"] = Field(
        "uniform", description="uniform (evenly spaced, default) or poisson (random gaps)."
    )
    max_in_flight: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT), NOT_BOOL] = Field(
        DEFAULT_MAX_IN_FLIGHT,
        description="Most arrivals in flight per load generator (worker); more are dropped.",
    )

    @property
    def peak_rate(self) -> float:
        """The highest rate the section asks for, in arrivals per second."""
        raise NotImplementedError


_SEARCH_KEYS = {
    "steps": (
        "find_capacity takes max_steps, not steps: the most steps the search runs (it stops "
        "earlier once a budget fails with confidence); write max_steps"
    ),
    "hold": (
        "find_capacity has no hold: the search ends after its last step or as soon as it "
        "has its answer; drop hold (or use shape: stepped)"
    ),
}
"""Keys of ``stepped`` that a capacity search does not take, with what to write instead."""


class ConstantLoad(_ClosedLoad):
    shape: Literal["constant"]
    users: UserCount
    spawn_rate: SpawnRate | None = Field(None, description="Default: all users within 1 s.")
    duration: Duration = Field(gt=0)


class SteppedLoad(_ClosedLoad):
    shape: Literal["stepped"]
    start_users: UserCount
    step_users: UserCount
    step_duration: Duration = Field(gt=0)
    steps: Annotated[int, Field(ge=1, le=MAX_STAGES), NOT_BOOL]
    hold: Duration = 0.0
    spawn_rate: SpawnRate

    relation_fields: ClassVar[tuple[str, ...]] = ("start_users", "step_users", "steps")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"start_users", "step_users", "steps"} <= values.keys():
            peak = values["start_users"] + (values["steps"] - 1) * values["step_users"]
            if peak > MAX_USERS:
                yield (
                    "steps",
                    f"the last step would run {peak} users (start_users + (steps - 1) * "
                    f"step_users); at most {MAX_USERS} are allowed",
                )


class SpikeLoad(_ClosedLoad):
    shape: Literal["spike"]
    base_users: UserCount
    spike_users: UserCount
    base_duration: Duration = Field(gt=0)
    spike_duration: Duration = Field(gt=0)
    recovery_duration: Duration = Field(gt=0)
    spawn_rate: SpawnRate
    spike_spawn_rate: SpawnRate | None = None

    relation_fields: ClassVar[tuple[str, ...]] = ("base_users", "spike_users")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"base_users", "spike_users"} <= values.keys():
            base, spike = values["base_users"], values["spike_users"]
            if spike <= base:
                yield "spike_users", f"must be above base_users ({base}), got {spike}"


class WaveLoad(_ClosedLoad):
    shape: Literal["wave"]
    min_users: Users
    max_users: UserCount
    period: Duration = Field(gt=0)
    duration: Duration = Field(gt=0)
    spawn_rate: SpawnRate

    relation_fields: ClassVar[tuple[str, ...]] = ("min_users", "max_users")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"min_users", "max_users"} <= values.keys():
            low, high = values["min_users"], values["max_users"]
            if high <= low:
                yield "max_users", f"must be above min_users ({low}), got {high}"


class FindCapacityLoad(_ClosedLoad):
    """The stepped plan of ``max_steps`` steps, which the run leaves as soon as a step fails
    a budget with confidence or the fitted USL peak lies below the load (a capacity search;
    see docs/capacity.md). ``max_steps`` bounds the search, not its length: it may stop early.
    """

    shape: Literal["find_capacity"]
    start_users: UserCount
    step_users: UserCount
    step_duration: Duration = Field(gt=0)
    max_steps: Annotated[int, Field(ge=1, le=MAX_STAGES), NOT_BOOL] = Field(
        description="The most steps the search runs; it stops earlier once it has its answer."
    )
    spawn_rate: SpawnRate

    relation_fields: ClassVar[tuple[str, ...]] = ("start_users", "step_users", "max_steps")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"start_users", "step_users", "max_steps"} <= values.keys():
            peak = values["start_users"] + (values["max_steps"] - 1) * values["step_users"]
            if peak > MAX_USERS:
                yield (
                    "max_steps",
                    f"the last step would run {peak} users (start_users + (max_steps - 1) * "
                    f"step_users); at most {MAX_USERS} are allowed",
                )

    @property
    def peak_users(self) -> int:
        """The users of the last step the search may reach."""
        return self.start_users + (self.max_steps - 1) * self.step_users


class StageSpec(_ClosedSection):
    duration: Duration = Field(gt=0)
    users: Users
    spawn_rate: SpawnRate


class StagesLoad(_ClosedLoad):
    shape: Literal["stages"]
    stages: list[StageSpec] = Field(min_length=1, max_length=MAX_STAGES)


def _ramp_problem(ramp: Any, duration: Any, duration_key: str) -> Iterator[tuple[str, str]]:
    if ramp is not None and duration is not None and ramp > duration:
        yield (
            "ramp",
            f"must not be longer than {duration_key} ({duration:g} s), got {ramp:g} s: "
            f"the ramp is the first part of a level's duration",
        )


class OpenConstantLoad(_OpenLoad):
    """``rate`` arrivals per second for ``duration``."""

    shape: Literal["constant"]
    rate: ArrivalRate = Field(description="Arrivals per second.")
    duration: Duration = Field(gt=0)

    @property
    def peak_rate(self) -> float:
        return self.rate


class OpenSteppedLoad(_OpenLoad):
    """``steps`` levels ``start_rate``, ``start_rate + step_rate``, …, each ``step_duration``."""

    shape: Literal["stepped"]
    start_rate: ArrivalRate
    step_rate: ArrivalRate
    step_duration: Duration = Field(gt=0)
    steps: Annotated[int, Field(ge=1, le=MAX_STAGES), NOT_BOOL]
    hold: Duration = 0.0
    ramp: Duration = Field(0.0, description="Seconds the rate takes to move to each new level.")

    relation_fields: ClassVar[tuple[str, ...]] = (
        "start_rate", "step_rate", "steps", "ramp", "step_duration"
    )  # fmt: skip

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"start_rate", "step_rate", "steps"} <= values.keys():
            peak = values["start_rate"] + (values["steps"] - 1) * values["step_rate"]
            if peak > MAX_ARRIVAL_RATE:
                yield (
                    "steps",
                    f"the last step would ask for {peak:g} arrivals/s (start_rate + (steps - 1)"
                    f" * step_rate); at most {MAX_ARRIVAL_RATE} are allowed",
                )
        yield from _ramp_problem(values.get("ramp"), values.get("step_duration"), "step_duration")

    @property
    def peak_rate(self) -> float:
        return self.start_rate + (self.steps - 1) * self.step_rate


class OpenFindCapacityLoad(_OpenLoad):
    """The open stepped plan of ``max_steps`` levels, left as soon as a step fails a budget
    with confidence or the fitted USL peak lies below the rate (a capacity search)."""

    shape: Literal["find_capacity"]
    start_rate: ArrivalRate
    step_rate: ArrivalRate
    step_duration: Duration = Field(gt=0)
    max_steps: Annotated[int, Field(ge=1, le=MAX_STAGES), NOT_BOOL] = Field(
        description="The most steps the search runs; it stops earlier once it has its answer."
    )
    ramp: Duration = Field(0.0, description="Seconds the rate takes to move to each new level.")

    relation_fields: ClassVar[tuple[str, ...]] = (
        "start_rate", "step_rate", "max_steps", "ramp", "step_duration"
    )  # fmt: skip

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"start_rate", "step_rate", "max_steps"} <= values.keys():
            peak = values["start_rate"] + (values["max_steps"] - 1) * values["step_rate"]
            if peak > MAX_ARRIVAL_RATE:
                yield (
                    "max_steps",
                    f"the last step would ask for {peak:g} arrivals/s (start_rate + "
                    f"(max_steps - 1) * step_rate); at most {MAX_ARRIVAL_RATE} are allowed",
                )
        yield from _ramp_problem(values.get("ramp"), values.get("step_duration"), "step_duration")

    @property
    def peak_rate(self) -> float:
        return self.start_rate + (self.max_steps - 1) * self.step_rate


class OpenSpikeLoad(_OpenLoad):
    """``base_rate``, then ``spike_rate`` (the total, not the extra), then ``base_rate`` again."""

    shape: Literal["spike"]
    base_rate: ArrivalRate
    spike_rate: ArrivalRate
    base_duration: Duration = Field(gt=0)
    spike_duration: Duration = Field(gt=0)
    recovery_duration: Duration = Field(gt=0)
    ramp: Duration = Field(0.0, description="Seconds the rate takes to move to each new level.")

    relation_fields: ClassVar[tuple[str, ...]] = (
        "base_rate", "spike_rate", "ramp", "base_duration", "spike_duration", "recovery_duration"
    )  # fmt: skip

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"base_rate", "spike_rate"} <= values.keys():
            base, spike = values["base_rate"], values["spike_rate"]
            if spike <= base:
                yield "spike_rate", f"must be above base_rate ({base:g}), got {spike:g}"
        durations = [
            (values[k], k)
            for k in ("base_duration", "spike_duration", "recovery_duration")
            if values.get(k) is not None
        ]
        if durations:
            yield from _ramp_problem(values.get("ramp"), *min(durations))

    @property
    def peak_rate(self) -> float:
        return self.spike_rate


class OpenWaveLoad(_OpenLoad):
    """A cosine between ``min_rate`` and ``max_rate``, starting at the trough."""

    shape: Literal["wave"]
    min_rate: ArrivalRate
    max_rate: ArrivalRate
    period: Duration = Field(gt=0)
    duration: Duration = Field(gt=0)

    relation_fields: ClassVar[tuple[str, ...]] = ("min_rate", "max_rate")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"min_rate", "max_rate"} <= values.keys():
            low, high = values["min_rate"], values["max_rate"]
            if high <= low:
                yield "max_rate", f"must be above min_rate ({low:g}), got {high:g}"

    @property
    def peak_rate(self) -> float:
        return self.max_rate


class OpenStageSpec(_OpenSection):
    duration: Duration = Field(gt=0)
    rate: ArrivalRate = Field(description="Arrivals per second.")
    ramp: Duration = Field(0.0, description="Seconds the rate takes to move to this level.")

    relation_fields: ClassVar[tuple[str, ...]] = ("ramp", "duration")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        yield from _ramp_problem(values.get("ramp"), values.get("duration"), "duration")


class OpenStagesLoad(_OpenLoad):
    """Free-form stages of ``{duration, rate, ramp}``, one after the other."""

    shape: Literal["stages"]
    stages: list[OpenStageSpec] = Field(min_length=1, max_length=MAX_STAGES)

    @property
    def peak_rate(self) -> float:
        return max(stage.rate for stage in self.stages)


for _search in (FindCapacityLoad, OpenFindCapacityLoad):
    _search.misplaced_keys = {**_search.misplaced_keys, **_SEARCH_KEYS}

ClosedLoadSpec = Annotated[
    ConstantLoad | SteppedLoad | SpikeLoad | WaveLoad | StagesLoad | FindCapacityLoad,
    Field(discriminator="shape"),
]
OpenLoadSpec = Annotated[
    OpenConstantLoad
    | OpenSteppedLoad
    | OpenSpikeLoad
    | OpenWaveLoad
    | OpenStagesLoad
    | OpenFindCapacityLoad,
    Field(discriminator="shape"),
]
LOAD_TAGS = ("model", "shape")
"""The fields that pick a load section's model, then its shape (for the loader's messages)."""


def _model_given(value: Any) -> Any:
    """A load mapping without ``model`` is closed: today's files keep their meaning."""
    if isinstance(value, Mapping) and "model" not in value:
        return {"model": "closed", **value}
    return value


LoadSpec = Annotated[
    ClosedLoadSpec | OpenLoadSpec,
    Field(discriminator="model"),
    BeforeValidator(_model_given),
]
"""A ``load`` section: closed (users) or open (arrivals per second), then one of six shapes."""


class UserSpec(_Model):
    """A kind of simulated user: compiled into one Locust ``FastHttpUser`` class."""

    name: str = Field(description="Identifier: letters, digits, _ and -.")
    weight: Weight = 1
    host: str | None = Field(None, description="Overrides the scenario host for this user.")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration | None = Field(None, gt=0)
    think_time: ThinkTime | None = None
    requests: list[RequestSpec] = Field(
        default_factory=list,
        description="Weighted requests: each iteration sends one, picked by weight.",
    )
    flow: list[Step] | None = Field(
        None,
        min_length=1,
        description=(
            "Steps run top to bottom on every iteration (docs/flows.md); with requests too, "
            "each iteration runs the flow, then one weighted request."
        ),
    )
    on_start: list[Step] = Field(
        default_factory=list,
        description="Steps run once per simulated user before its first iteration (a login).",
    )
    flow_name: str | None = Field(
        None, min_length=1, description="The whole flow's transaction name; default: name."
    )
    on_capture_failure: Literal[CAPTURE_FAILURE_MODES] = Field(  # type: ignore[valid-type]
        "end_iteration",
        description="After a capture found nothing (and its request failed): end the "
        "iteration, or continue with the next step.",
    )
    load: LoadSpec | None = Field(
        None,
        description=(
            "This kind's own load (closed or open), run beside the others; without it the "
            "kind runs under the scenario's load, shared with the other kinds by weight."
        ),
    )

    relation_fields: ClassVar[tuple[str, ...]] = ("requests", "flow", "flow_name")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values.get("requests") == [] and "flow" in values and values["flow"] is None:
            yield (
                "requests",
                "required field is missing: give requests (weighted requests) or flow "
                "(steps in order), or both",
            )
        if values.get("flow_name") is not None and "flow" in values and values["flow"] is None:
            yield "flow_name", "names the flow's transaction, but this users entry has no flow"

    @field_validator("requests")
    @classmethod
    def _some_requests(cls, value: list[RequestSpec]) -> list[RequestSpec]:
        if not value:
            raise ValueError(
                "requests is empty; list at least one request, or drop requests and use flow"
            )
        return value

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"user name must start with a letter or _ and hold only letters, digits, _ "
                f"and -, got {shown(value)}"
            )
        return value

    @field_validator("host")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)


def _check_url(value: str | None) -> str | None:
    return None if value is None else host_url(value)


_HOST_URL = re.compile(r"^https?://[^/\s]+")


def host_url(value: str, *, given_as: str = "host") -> str:
    """``value`` as a target base URL, without trailing slashes; ``ValueError`` unless it is
    ``http://`` or ``https://`` and a host.

    The one rule for every way a target is given (a scenario's or a user's ``host``,
    ``--host``, ``$SWARM_HOST``); ``given_as`` names the way in the message.

    >>> host_url("http://api:8001/")
    'http://api:8001'
    """
    if not _HOST_URL.match(value):
        raise ValueError(f"{given_as} must be an http:// or https:// URL, got {shown(value)}")
    return value.rstrip("/")


class DataFile(_Model):
    """A CSV file (with a header line) whose rows feed templates as ``data.<name>``."""

    file: str = Field(min_length=1, description="Path, relative to the scenario file.")
    order: Literal["sequential", "random", "unique"] = "sequential"


_LOAD_SOMEWHERE = {
    "anyOf": [
        {"required": ["load"]},
        {"properties": {"users": {"items": {"required": ["load"]}}}},
    ]
}
"""In the JSON Schema: a scenario-level load, or a load on every users entry."""


def _search_problems(load: Any, users: Sequence[UserSpec]) -> Iterator[tuple[str, str]]:
    """A capacity search steps the whole run and stops it: it is the scenario's one load."""
    searching = [u.name for u in users if u.load is not None and u.load.shape == "find_capacity"]
    if searching:
        yield (
            "users",
            f"users {', '.join(map(repr, searching))}: shape find_capacity is for the "
            f"scenario-level load only (the search stops the whole run); move it to the "
            f"scenario's load, or use shape: stepped here",
        )
    if load is not None and load.shape == "find_capacity":
        own = [u.name for u in users if u.load is not None]
        if own:
            yield (
                "load",
                f"shape find_capacity steps the whole run, so every users entry runs under "
                f"it; users {', '.join(map(repr, own))} have a load of their own: drop it, "
                f"or use shape: stepped",
            )


class Scenario(_Model):
    """A whole load test: who calls what, how often, and how the load changes over time."""

    model_config = ConfigDict(json_schema_extra=_LOAD_SOMEWHERE)

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    host: str | None = Field(None, description="Target base URL; --host and SWARM_HOST override.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every request.")
    timeout: Duration = Field(60.0, gt=0, description="Connect and read timeout per request.")
    data: dict[str, DataFile] = Field(default_factory=dict)
    users: list[UserSpec] = Field(min_length=1)
    load: LoadSpec | None = Field(
        None,
        description=(
            "The load of every users entry without a load of its own; optional when each has one."
        ),
    )
    tags: dict[str, Any] = Field(default_factory=dict, description="Free labels for reports.")
    secrets: list[str] = Field(
        default_factory=list,
        description=(
            "Further variables whose values are secrets (never written anywhere), beside "
            "every ${VAR} a request sends in a path, query, header or body."
        ),
    )
    budgets: Budgets | None = Field(None, description="Limits judged by confidence interval.")
    abort: list[AbortRule] = Field(
        default_factory=list,
        description=(
            "Abort guards: conditions that stop the run once they held for their 'for' "
            "(the run ends aborted, exit code 1). The target_down guard (every request "
            "failed for 30 s) is on unless an item names target_down."
        ),
    )
    validation: ValidationRules = Field(
        default_factory=ValidationRules, description="When figures are good enough to trust."
    )
    mocks: str | None = Field(
        None,
        min_length=1,
        description=(
            "The mock detectors file that faults' mock names come from, relative to the "
            "scenario; default: the packaged mock_detectors/detectors.yaml."
        ),
    )
    faults: list[FaultSpec] = Field(
        default_factory=list,
        description="Faults injected on the plan's clock (docs/faults.md).",
    )
    gauges: list[GaugeSpec] = Field(
        default_factory=list,
        description="Custom gauges polled from an endpoint during the run "
        "(docs/scenario_metrics.md).",
    )

    @field_validator("host")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)

    relation_fields: ClassVar[tuple[str, ...]] = ("users", "load")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        users = values.get("users")
        if users is None or "load" not in values:
            return
        shared = [user.name for user in users if user.load is None]
        if values["load"] is None and shared:
            yield (
                "load",
                f"required field is missing: users {', '.join(map(repr, shared))} run under "
                f"the scenario's load (they have no load of their own); add a load section, "
                f"or give each users entry its own load",
            )
        yield from _search_problems(values["load"], users)
        if values["load"] is not None and shared:
            named = [u.name for u in users if u.load is not None and u.name == SHARED_GROUP]
            if named:
                yield (
                    "users",
                    f"a users entry with its own load may not be named {SHARED_GROUP!r} "
                    f"while others share the scenario's load: that load's group is called "
                    f"{SHARED_GROUP!r} in the plan and the timeline; rename the entry",
                )

    @field_validator("secrets")
    @classmethod
    def _variable_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _VARIABLE.match(name):
                raise ValueError(
                    f"secrets lists variable names (letters, digits and _, not starting "
                    f"with a digit), like API_KEY; got {shown(name)}"
                )
        return value

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in "\n\r\t"):
            raise ValueError(f"name must be one non-blank line, got {shown(value)}")
        return value

    @field_validator("faults")
    @classmethod
    def _unique_fault_names(cls, value: list[FaultSpec]) -> list[FaultSpec]:
        names = [fault.default_name(i) for i, fault in enumerate(value)]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two faults are named {name!r}; give each a unique name")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        seen: set[str] = set()
        for user in self.users:
            if user.name in seen:
                raise PydanticCustomError(
                    DUPLICATE_USER_NAMES,
                    f"two users entries are named {user.name!r}; names must be unique",
                )
            seen.add(user.name)
        return self
