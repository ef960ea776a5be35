"""Field types and the model base of every file swarm reads: numbers that are numbers, flags
that are flags, and checks between fields that run in the same pass as the field checks.

Pydantic in its lax mode reads ``true`` as the number 1 and ``"yes"`` as ``True``; in a
load test that is a typo turned into a plan, so ``NOT_BOOL`` refuses a bool where a number
belongs and ``Flag`` takes nothing but ``true`` or ``false``. Floats are finite wherever a
model says ``allow_inf_nan=False`` (``1e400`` is not a latency).

Pydantic runs a model's ``after`` validators only when every field is valid, so a wave with
``min_users`` above ``max_users`` used to be reported only once its missing ``period`` was
fixed. ``OnePassModel`` states those checks once, in ``relation_problems``, and runs them
on the fields that are valid even when others are not, so one ``swarm validate`` lists
every problem of the file. Shared by the scenario, the budgets and the mock-detector
config models.

    >>> shown("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (100 characters)"
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ModelWrapValidatorHandler,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError

from framework.durations import DURATION_FORMATS, MAX_DURATION_S, parse_duration
from framework.limits import excerpt

__all__ = [
    "ECHO_LIMIT",
    "NOT_BOOL",
    "RELATION",
    "Duration",
    "Flag",
    "OnePassModel",
    "shown",
]

ECHO_LIMIT = 60
"""Most characters of a value a message quotes back: a 50 MB value is named, not printed."""

RELATION = "relation"
"""The pydantic error type of a check between fields (``max_users`` above ``min_users``)."""


def shown(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut as ``framework.limits.excerpt`` cuts it, saying how long a long
    string was."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return excerpt(text, limit) + size


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError(
            "bool_not_number",
            "expected a number, got {found}; true and false are not numbers",
            {"found": str(value).lower()},
        )
    return value


NOT_BOOL = BeforeValidator(_not_bool)
"""Put last in an ``Annotated[int | float, Field(...), NOT_BOOL]``: refuses ``true``/``false``
and keeps the bounds in the JSON Schema."""


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise PydanticCustomError(
            "flag_type", "expected true or false, got {found}", {"found": shown(value)}
        )
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
"""``true`` or ``false`` only: not ``"yes"``, not ``1``."""


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda s: s, return_type=float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
                {
                    "type": "string",
                    "pattern": r"^(\d+(\.\d+)?)(ms|h|m|s)?((\d+(\.\d+)?)(ms|h|m|s))*$",
                },
            ],
            "description": f"Duration: {DURATION_FORMATS}",
        }
    ),
]
"""Seconds, written ``90``, ``90s``, ``2m``, ``1h30m`` or ``250ms`` (at most 30 days)."""


class OnePassModel(BaseModel):
    """A model whose checks between fields run even when some of its fields are invalid.

    Subclasses name the fields their checks read in ``relation_fields`` and yield
    ``(field, message)`` from ``relation_problems`` (``field`` ``""`` for the model as a
    whole). The checks get the fields' validated values; when other fields are invalid,
    only the named fields that are valid (or not given and defaulted), and each check
    skips itself when a field it reads is absent.
    """

    relation_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """``(field, message)`` for each check between ``values`` that fails."""
        return iter(())

    @model_validator(mode="wrap")
    @classmethod
    def _one_pass(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            model = handler(data)
        except ValidationError as exc:
            if not cls.relation_fields or not isinstance(data, Mapping):
                raise
            failed = {error["loc"][0] for error in exc.errors() if error["loc"]}
            broken = list(cls.relation_problems(_valid_fields(cls, data, failed)))
            if not broken:
                raise
            lines = [_init_error(error) for error in exc.errors()]
            raise ValidationError.from_exception_data(
                exc.title, [*lines, *_relation_errors(cls, data, broken)]
            ) from None
        if not cls.relation_fields or not isinstance(model, cls):
            return model
        values = {name: getattr(model, name) for name in cls.relation_fields}
        broken = list(cls.relation_problems(values))
        if broken:
            raise ValidationError.from_exception_data(
                cls.__name__, _relation_errors(cls, data, broken)
            )
        return model


def _key(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    return info.alias or name


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[info.annotation, *info.metadata])


def _valid_fields(
    model: type[BaseModel], data: Mapping[str, Any], failed: set[Any]
) -> dict[str, Any]:
    """The ``relation_fields`` of ``data`` that are valid, validated; defaults for the
    ones not given."""
    values: dict[str, Any] = {}
    for name in model.relation_fields:
        key = _key(model, name)
        if key in failed or name in failed:
            continue
        if key in data or name in data:
            try:
                values[name] = _adapter(model, name).validate_python(data.get(key, data.get(name)))
            except ValidationError:
                continue
        elif not model.model_fields[name].is_required():
            values[name] = model.model_fields[name].get_default(call_default_factory=True)
    return values


def _relation_errors(
    model: type[BaseModel], data: Any, broken: list[tuple[str, str]]
) -> list[InitErrorDetails]:
    errors = []
    for name, message in broken:
        key = _key(model, name) if name else None
        given = data.get(key) if key and isinstance(data, Mapping) else data
        errors.append(
            InitErrorDetails(
                type=PydanticCustomError(RELATION, "{message}", {"message": message}),
                loc=(key,) if key else (),
                input=given,
            )
        )
    return errors


def _init_error(error: Any) -> InitErrorDetails:
    """An error from ``ValidationError.errors()`` as it can be raised again."""
    ctx = error.get("ctx")
    try:
        PydanticKnownError(error["type"], ctx)
        kind: Any = error["type"]
    except KeyError:
        kind = PydanticCustomError(error["type"], "{message}", {"message": error["msg"]})
        ctx = None
    details = InitErrorDetails(type=kind, loc=tuple(error["loc"]), input=error.get("input"))
    if ctx is not None:
        details["ctx"] = ctx
    return details
