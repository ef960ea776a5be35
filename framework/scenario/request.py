"""What one request is: its method, path, body, headers and the checks on its answer.

Split from ``model`` so the flow steps (``flows``), which are requests with captures, and
the users entries that hold them (``model``) can both build on it without importing each
other. ``model`` re-exports every name here, so ``framework.scenario.model.RequestSpec``
stays the one address for callers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from framework.scenario.custom_metrics import ResponseMetric
from framework.scenario.fields import NOT_BOOL, Duration, Flag, OnePassModel, shown
from framework.scenario.interpolation import mask_secrets

__all__ = [
    "MAX_MS",
    "MAX_RATE",
    "MAX_WEIGHT",
    "METHODS",
    "SECRETS_CONTEXT",
    "Expect",
    "JsonCheck",
    "Milliseconds",
    "Number",
    "RequestSpec",
    "ThinkTime",
    "Weight",
    "regex_compiles",
]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

MAX_RATE = 1_000_000
"""Most requests per second one user may be paced at (``think_time.throughput``)."""
MAX_MS = 3_600_000
"""Longest think time or response-time limit in ms (an hour): more is a unit mistake."""
MAX_WEIGHT = 1_000_000
"""Largest weight of a user kind or a request: weights are ratios, not counts."""
Weight = Annotated[int, Field(ge=1, le=MAX_WEIGHT), NOT_BOOL]
Milliseconds = Annotated[float, Field(ge=0, le=MAX_MS), NOT_BOOL]
Number = Annotated[float, NOT_BOOL]
SECRETS_CONTEXT = "secrets"
"""The validation-context key under which the loader passes the secret values."""


class _Secrets:
    """The secret values a model was validated with, kept for its repr only.

    Any two are equal, so a scenario validated with secrets equals the same data
    validated without: which values were secret is not part of what the scenario is.
    """

    __slots__ = ("values",)

    def __init__(self, values: frozenset[str] = frozenset()) -> None:
        self.values = values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Secrets)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<{len(self.values)} secret values>"


class _Model(OnePassModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
    _secrets: _Secrets = PrivateAttr(default_factory=_Secrets)

    @model_validator(mode="after")
    def _keep_secrets(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get(SECRETS_CONTEXT):
            self._secrets = _Secrets(frozenset(info.context[SECRETS_CONTEXT]))
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields as pydantic shows them, with secret values masked (repr and str)."""
        secrets = self._secrets.values
        for name, value in super().__repr_args__():
            yield name, mask_secrets(value, secrets)


class ThinkTime(_Model):
    """How long a user waits between requests; set exactly one field.

    ``pacing`` and ``throughput`` follow Locust's ``constant_pacing`` and
    ``constant_throughput``: they count from the start of one task to the next.
    """

    fixed_ms: Milliseconds | None = Field(None, description="Always wait this many ms.")
    uniform_ms: tuple[Milliseconds, Milliseconds] | None = Field(
        None, description="Wait a uniformly random time in [low, high] ms."
    )
    pacing: Duration | None = Field(None, description="Start a request every this often.")
    throughput: Annotated[float, Field(gt=0, le=MAX_RATE), NOT_BOOL] | None = Field(
        None, description="Requests per second per user."
    )

    relation_fields: ClassVar[tuple[str, ...]] = ("uniform_ms",)

    @model_validator(mode="after")
    def _exactly_one(self) -> ThinkTime:
        """Which fields were given, once every one is valid (a typo'd key is not "none")."""
        given = [
            k
            for k in ("fixed_ms", "uniform_ms", "pacing", "throughput")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"set exactly one of fixed_ms, uniform_ms, pacing, throughput (found: {found})"
            )
        return self

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values.get("uniform_ms") is not None:
            low, high = values["uniform_ms"]
            if high < low:
                yield (
                    "uniform_ms",
                    f"is a range [low, high] in ms; high must not be below low, "
                    f"got [{low:g}, {high:g}] (write [{high:g}, {low:g}])",
                )


class JsonCheck(_Model):
    """A check on one field of a JSON response, addressed by a dotted path (``labels.0``)."""

    path: str = Field(min_length=1)
    equals: Any = None
    one_of: list[Any] | None = Field(None, alias="in")
    exists: Flag | None = None
    matches: str | None = None
    gte: Number | None = None
    lte: Number | None = None

    relation_fields: ClassVar[tuple[str, ...]] = ("gte", "lte")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        low, high = values.get("gte"), values.get("lte")
        if low is not None and high is not None and high < low:
            yield "lte", f"must not be below gte ({low:g}): nothing would pass, got {high:g}"

    @field_validator("matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return regex_compiles(value)

    @model_validator(mode="after")
    def _has_a_condition(self) -> JsonCheck:
        conditions = {"equals", "one_of", "exists", "matches", "gte", "lte"}
        if not conditions & self.model_fields_set:
            raise ValueError(
                "a JSON check needs a condition: equals, in, exists, matches, gte or lte"
            )
        return self


StatusList = tuple[int, ...]


def regex_compiles(value: str | None) -> str | None:
    """``value`` unchanged when it is a regular expression Python compiles (or ``None``); a
    field validator's ``ValueError`` with the compiler's words otherwise."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _parse_status(value: Any) -> Any:
    """``200`` | ``[200, 201]`` | ``"2xx"`` | ``"200-299"`` → a tuple of codes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a status code, list or range, got {value!r}")
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list) and any(isinstance(code, bool) for code in value):
        raise ValueError(f"expected status codes, got {shown(value)}; true/false are not codes")
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"[1-5]xx", text):
            base = int(text[0]) * 100
            return tuple(range(base, base + 100))
        match = re.fullmatch(r"(\d{3})\s*-\s*(\d{3})", text)
        if match:
            low, high = int(match.group(1)), int(match.group(2))
            if high < low:
                raise ValueError(f"status range {shown(value)} ends before it starts")
            return tuple(range(low, high + 1))
        if text.isdigit():
            return (int(text),)
        raise ValueError(
            f"invalid status {shown(value)}; use a code (200), a list ([200, 201]), "
            "a class ('2xx') or a range ('200-299')"
        )
    return value


class Expect(_Model):
    """What makes a response a success; without it, Locust's rule applies (status < 400)."""

    status: (
        Annotated[
            StatusList,
            BeforeValidator(_parse_status),
            WithJsonSchema(
                {
                    "anyOf": [
                        {"type": "integer", "minimum": 100, "maximum": 599},
                        {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                        {"type": "string", "pattern": r"^\s*([1-5]xx|\d{3}(\s*-\s*\d{3})?)\s*$"},
                    ]
                }
            ),
        ]
        | None
    ) = Field(None, description="Code, list of codes, class ('2xx') or range ('200-299').")
    json_checks: list[JsonCheck] = Field(default_factory=list, alias="json")
    body_contains: str | None = None
    max_ms: Annotated[float, Field(gt=0, le=MAX_MS), NOT_BOOL] | None = Field(
        None, description="Slower responses count as failures."
    )

    @field_validator("status")
    @classmethod
    def _codes_valid(cls, value: StatusList | None) -> StatusList | None:
        if value is not None:
            bad = [c for c in value if not 100 <= c <= 599]
            if bad:
                raise ValueError(f"status codes must be 100..599, got {bad[0]}")
            if not value:
                raise ValueError("status list must not be empty")
        return value


class RequestSpec(_Model):
    """One weighted request a user makes; ``name`` is the label in every statistic."""

    name: str | None = Field(None, min_length=1, description="Stats label; default: the path.")
    method: Literal[METHODS] = "GET"  # type: ignore[valid-type]
    path: str = Field(min_length=1)
    weight: Weight = 1
    query: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json")
    body: str | None = None
    expect: Expect | None = None
    timeout: Duration | None = Field(None, gt=0)
    metrics: list[ResponseMetric] = Field(
        default_factory=list,
        description="Values taken from each response into custom metrics.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _path_or_url(cls, value: str) -> str:
        if not (value.startswith(("/", "http://", "https://", "{{"))):
            raise ValueError(
                f"path must start with '/' (or be a full http(s) URL), got {shown(value)}"
            )
        return value

    relation_fields: ClassVar[tuple[str, ...]] = ("json_body", "body")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values.get("json_body") is not None and values.get("body") is not None:
            yield "body", "set either json or body, not both"

    @property
    def label(self) -> str:
        return self.name or self.path
