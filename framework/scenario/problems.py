"""Pydantic validation errors on YAML data, turned into located problems a person can fix.

Pydantic reports ``('load', 'stages', 'stages', 0, 'users')``; people fix ``scenario.yaml:14:7:
load.stages[0].users``. Getting from one to the other means following the error's ``loc``
through the data (dropping the tag pydantic inserts for a discriminated union, and its
``[key]`` marker for a bad mapping key), and following the same ``loc`` through the model's
types to list the keys that are allowed where an unknown one was written. Both the scenario
loader (with ``--budgets`` files) and the mock-detector config loader need exactly this, so
it lives here once; each loader keeps only its own wording.

    >>> format_path(("users", 0, "requests", 2, "path"))
    'users[0].requests[2].path'
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from framework.errors import Problem
from framework.scenario.fields import RELATION
from framework.scenario.yaml_source import KeyPath, Located
from framework.suggestions import did_you_mean, nearest

__all__ = [
    "MESSAGE_LIMIT",
    "allowed_keys",
    "format_path",
    "locate",
    "problem_at",
    "union_tags",
    "validation_problems",
]

_VALUE_ERROR = "Value error, "
MESSAGE_LIMIT = 400
"""Most characters of one problem's message: whatever a file holds, the error stays short."""
_PLAIN = {
    "finite_number": "must be a finite number (not inf or nan, and within ±1.8e308)",
}
"""Pydantic's wording replaced where it does not say what is allowed."""


def format_path(path: Iterable[Any]) -> str:
    """``('users', 0, 'name')`` → ``users[0].name``; list indexes in brackets, keys dotted."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def problem_at(
    label: str, located: Located, path: KeyPath, message: str, *, key: bool = False
) -> Problem:
    """A problem at ``path`` (or its nearest ancestor in the file); ``key`` points at the key.

    Where ``path`` was set on the command line (``located.origin``), the problem names that
    flag instead of a line of the file, which holds some other value there or none; where
    flags set something inside it (a think time given a second kind), the problem is the
    file's, and the message names them too.
    """
    flag = located.origin(path)
    line, col = (None, None) if flag else located.position(path, prefer_key=key) or (None, None)
    inside = located.origins_below(path) if path and not flag else []
    if inside:
        message = f"{message} (with {', '.join(inside)})"
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    text = format_path(path)
    if len(text) > MESSAGE_LIMIT // 2:
        text = text[: MESSAGE_LIMIT // 2 - 3] + "..."
    return Problem(label, line, col, text, message, flag)


_MISSING = object()


def _child_key(node: Any, part: Any) -> Any:
    """The key or index under which ``node`` holds ``part``, else ``_MISSING``.

    Pydantic reports mapping keys as strings; YAML may have loaded them as numbers.
    """
    if isinstance(node, dict):
        if part in node:
            return part
        return next((k for k in node if str(k) == str(part)), _MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return part
    return _MISSING


def locate(
    data: Any, loc: tuple[Any, ...], root: type[BaseModel], tag: str
) -> tuple[KeyPath, bool]:
    """Follow a pydantic ``loc`` through ``data``: the path as written, and whether it exists.

    ``data`` was validated as ``root``; ``tag`` names the field that picks a discriminated
    union's member (``shape``, ``model``). Pydantic puts the member's tag right after such a
    union (``load.stages.stages`` for ``shape: stages``) and ``[key]`` after an invalid mapping
    key; neither is in the file, so both are dropped. A key pydantic reports as a string finds
    the number YAML loaded. After the first part the data lacks, the rest of ``loc`` is kept.
    """
    path: list[Any] = []
    current = data
    exists = True
    tp: Any = root
    for part in loc:
        if part == "[key]":
            continue
        at_union = _tagged_union(tp, tag)
        tp = _descend(tp, part, tag)
        if at_union:
            continue
        key = _child_key(current, part)
        if key is _MISSING:
            path.append(part)
            exists, current = False, None
        else:
            path.append(key)
            current = current[key]
    return tuple(path), exists


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` until a model, a container or a real union is left."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _members(tp: Any) -> list[Any]:
    """The members of a union (unwrapped), or the one type."""
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _tag_values(member: Any, tag: str) -> tuple[Any, ...]:
    """The ``Literal`` values of ``member``'s tag field (``shape: Literal["wave"]``)."""
    fields = (
        member.model_fields if isinstance(member, type) and issubclass(member, BaseModel) else {}
    )
    field = fields.get(tag)
    return typing.get_args(field.annotation) if field is not None else ()


def _tagged_union(tp: Any, tag: str) -> bool:
    """Whether ``tp`` is a union whose members are picked by ``tag``."""
    members = _members(tp)
    return len(members) > 1 and all(_tag_values(m, tag) for m in members)


def _descend(tp: Any, part: Any, tag: str) -> Any:
    """The type one ``loc`` step below ``tp``; a union's step is its member's tag."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return tp if part == "[key]" else args[1]
    if origin in (typing.Union, types.UnionType):
        return next((m for m in _members(tp) if part in _tag_values(m, tag)), None)
    return None


def _type_at(root: type[BaseModel], loc: tuple[Any, ...], tag: str) -> Any:
    tp: Any = root
    for part in loc:
        tp = _descend(tp, part, tag)
        if tp is None:
            return None
    return tp


def allowed_keys(root: type[BaseModel], loc: tuple[Any, ...], tag: str) -> list[str]:
    """The keys (aliases where set) of the model at pydantic ``loc`` under ``root``, else []."""
    tp = _unwrap(_type_at(root, loc, tag))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def union_tags(root: type[BaseModel], loc: tuple[Any, ...], tag: str) -> list[str]:
    """The tag values that pick each member of the union at ``loc``, in declaration order."""
    tags = [_tag_values(m, tag) for m in _members(_type_at(root, loc, tag))]
    return [str(values[0]) for values in tags if values]


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_problems(
    label: str,
    located: Located,
    data: Any,
    errors: Iterable[ErrorDetails],
    *,
    root: type[BaseModel],
    tag: str,
) -> list[Problem]:
    """One problem per pydantic error from validating ``data`` (the file's data) as ``root``.

    ``tag`` names the field that picks a discriminated union's member. An unknown key gets the
    allowed keys and the nearest of them; a missing tag, the tags allowed.
    """
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        path, exists = locate(data, loc, root, tag)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed = allowed_keys(root, loc[:-1], tag)
            guess = nearest(key, allowed)
            hint = f"; {did_you_mean([guess])}" if guess else "."
            listing = f" Allowed: {', '.join(allowed)}." if allowed else ""
            message = f"unknown key {_found(key)}{hint}{listing}"
            problems.append(problem_at(label, located, path, message, key=True))
            continue
        if kind == "missing":
            problems.append(problem_at(label, located, path, "required field is missing"))
            continue
        message = _PLAIN.get(kind) or error["msg"].removeprefix(_VALUE_ERROR)
        if kind == "union_tag_invalid":
            tags = error.get("ctx", {}).get("expected_tags", "")
            given = error.get("input")
            value = given.get(tag) if isinstance(given, dict) else given
            message = f"unknown {tag} {_found(value)}; allowed: {tags}"
            path = (*path, tag) if path and path[-1] != tag else path
        elif kind == "union_tag_not_found":
            allowed = ", ".join(union_tags(root, loc, tag))
            message = f"missing {tag!r}; allowed: {allowed}"
        elif (
            exists
            and kind != RELATION
            and "input" in error
            and not isinstance(error["input"], dict | list)
            and "got " not in message
            and not (isinstance(error["input"], str) and repr(error["input"]) in message)
        ):
            message = f"{message} (found {_found(error['input'])})"
        problems.append(problem_at(label, located, path, message))
    return problems
