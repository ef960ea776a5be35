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

from pydantic import BaseModel, Discriminator, Tag
from pydantic_core import ErrorDetails

from framework.errors import Problem
from framework.scenario.fields import RELATION
from framework.scenario.flows import UNKNOWN_STEP
from framework.scenario.yaml_source import KeyPath, Located
from framework.suggestions import did_you_mean, nearest

__all__ = [
    "MESSAGE_LIMIT",
    "Tags",
    "allowed_keys",
    "duplicate_name_problems",
    "format_path",
    "locate",
    "misplaced_key",
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
    data: Any, loc: tuple[Any, ...], root: type[BaseModel], tag: Tags
) -> tuple[KeyPath, bool]:
    """Follow a pydantic ``loc`` through ``data``: the path as written, and whether it exists.

    ``data`` was validated as ``root``; ``tag`` names the field that picks a discriminated
    union's member (``shape``), or the fields of nested ones (``("model", "shape")``).
    Pydantic puts the member's tag right after such a union (``load.closed.stages.stages`` for
    ``shape: stages``) and ``[key]`` after an invalid mapping key; neither is in the file, so
    both are dropped. A key pydantic reports as a string finds
    the number YAML loaded. After the first part the data lacks, the rest of ``loc`` is kept.
    """
    path: list[Any] = []
    current = data
    exists = True
    tp: Any = root
    for part in loc:
        if part == "[key]":
            continue
        tagged = _callable_tags(tp)
        if tagged is not None and part in tagged:
            tp = tagged[part]
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


def _callable_tags(tp: Any) -> dict[str, Any] | None:
    """The members of a union picked by a function (pydantic ``Discriminator(callable)``),
    by their ``Tag``; ``None`` for any other type. Pydantic puts the tag in ``loc`` right
    after such a union (``flow.0.request.path``), as it does a field's value for a tagged
    one; the tag is not in the file either."""
    while typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            return None
        tp = args[0]
    if typing.get_origin(tp) is not typing.Annotated:
        return None
    base, *metadata = typing.get_args(tp)
    if not any(isinstance(m, Discriminator) and callable(m.discriminator) for m in metadata):
        return None
    members: dict[str, Any] = {}
    for member in typing.get_args(base):
        if typing.get_origin(member) is typing.Annotated:
            inner, *marks = typing.get_args(member)
            for mark in marks:
                if isinstance(mark, Tag):
                    members[mark.tag] = inner
    return members


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


Tags = str | tuple[str, ...]
"""The field that picks a discriminated union's member, or the fields of nested unions."""


def _tag_names(tag: Tags) -> tuple[str, ...]:
    return (tag,) if isinstance(tag, str) else tuple(tag)


def _field_values(member: Any, name: str) -> tuple[Any, ...]:
    """The ``Literal`` values of one field of ``member`` (``shape: Literal["wave"]``); for a
    union member (a nested union), those of all its members."""
    if typing.get_origin(member) in (typing.Union, types.UnionType):
        values: list[Any] = []
        for inner in _members(member):
            values += [v for v in _field_values(inner, name) if v not in values]
        return tuple(values)
    fields = (
        member.model_fields if isinstance(member, type) and issubclass(member, BaseModel) else {}
    )
    field = fields.get(name)
    return typing.get_args(field.annotation) if field is not None else ()


def _union_tag(tp: Any, tag: Tags) -> str | None:
    """Which of the ``tag`` fields picks the members of the union ``tp``: one whose values
    every member has and no two members share; ``None`` if ``tp`` is not such a union."""
    members = _members(tp)
    if len(members) < 2:
        return None
    for name in _tag_names(tag):
        values = [_field_values(m, name) for m in members]
        flat = [v for vs in values for v in vs]
        if all(values) and len(flat) == len(set(flat)):
            return name
    return None


def _tag_values(member: Any, tag: Tags) -> tuple[Any, ...]:
    """The values of the first ``tag`` field ``member`` has."""
    for name in _tag_names(tag):
        values = _field_values(member, name)
        if values:
            return values
    return ()


def _tagged_union(tp: Any, tag: Tags) -> bool:
    """Whether ``tp`` is a union whose members are picked by (one of) ``tag``."""
    return _union_tag(tp, tag) is not None


def _descend(tp: Any, part: Any, tag: Tags) -> Any:
    """The type one ``loc`` step below ``tp``; a union's step is its member's tag."""
    tagged = _callable_tags(tp)
    if tagged is not None:
        return tagged.get(part)
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
        name = _union_tag(tp, tag)
        if name is None:
            return None
        return next((m for m in _members(tp) if part in _field_values(m, name)), None)
    return None


def _type_at(root: type[BaseModel], loc: tuple[Any, ...], tag: Tags) -> Any:
    tp: Any = root
    for part in loc:
        tp = _descend(tp, part, tag)
        if tp is None:
            return None
    return tp


def allowed_keys(root: type[BaseModel], loc: tuple[Any, ...], tag: Tags) -> list[str]:
    """The keys (aliases where set) of the model at pydantic ``loc`` under ``root``, else []."""
    tp = _unwrap(_type_at(root, loc, tag))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        refused = getattr(tp, "refused_keys", ())
        return [info.alias or name for name, info in tp.model_fields.items() if name not in refused]
    return []


def misplaced_key(root: type[BaseModel], loc: tuple[Any, ...], tag: Tags) -> str | None:
    """What the model at pydantic ``loc`` says of its unknown key ``loc[-1]`` (a field of
    another kind of section, ``misplaced_keys``), else ``None``."""
    tp = _unwrap(_type_at(root, loc[:-1], tag))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return getattr(tp, "misplaced_keys", {}).get(loc[-1])
    return None


def union_tags(root: type[BaseModel], loc: tuple[Any, ...], tag: Tags) -> list[str]:
    """The tag values that pick each member of the union at ``loc``, in declaration order."""
    tp = _type_at(root, loc, tag)
    name = _union_tag(tp, tag)
    if name is None:
        tags = [_tag_values(m, tag) for m in _members(tp)]
        return [str(values[0]) for values in tags if values]
    return [str(v) for m in _members(tp) for v in _field_values(m, name)]


def _written(data: Any, path: KeyPath) -> Any:
    """The value at ``path`` in ``data``, else ``None``."""
    for part in path:
        key = _child_key(data, part)
        if key is _MISSING:
            return None
        data = data[key]
    return data


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
    tag: Tags,
) -> list[Problem]:
    """One problem per pydantic error from validating ``data`` (the file's data) as ``root``.

    ``tag`` names the field that picks a discriminated union's member (or the fields of
    nested unions, outermost first). An unknown key gets the allowed keys and the nearest of
    them, or the model's own word for a key it knows belongs elsewhere (``misplaced_keys``);
    a missing tag, the tags allowed.
    """
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        path, exists = locate(data, loc, root, tag)
        kind = error["type"]
        if kind == "extra_forbidden" and (known := misplaced_key(root, loc, tag)):
            problems.append(problem_at(label, located, path, known, key=True))
            continue
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
            ctx = error.get("ctx", {})
            name = str(ctx.get("discriminator", "")).strip("'\"") or _tag_names(tag)[0]
            given = error.get("input")
            value = given.get(name) if isinstance(given, dict) else given
            written = _written(data, path)
            names = _tag_names(tag)
            before = names[: names.index(name)] if name in names else ()
            outer = [
                f"{t}: {written[t]}"
                for t in before
                if isinstance(written, dict) and isinstance(written.get(t), str)
            ]
            context = f" for {', '.join(outer)}" if outer else ""
            tags = ctx.get("expected_tags", "")
            message = f"unknown {name} {_found(value)}{context}; allowed: {tags}"
            path = (*path, name) if path and path[-1] != name else path
        elif kind == UNKNOWN_STEP and isinstance(error.get("input"), dict):
            keys = ", ".join(str(k) for k in error["input"]) or "none"
            message = f"{message} (found keys: {keys})"
        elif kind == "union_tag_not_found":
            ctx = error.get("ctx", {})
            name = str(ctx.get("discriminator", "")).strip("'\"") or _tag_names(tag)[0]
            allowed = ", ".join(union_tags(root, loc, tag))
            message = f"missing {name!r}; allowed: {allowed}"
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


def duplicate_name_problems(
    label: str, located: Located, data: Any, section: str, message: str
) -> list[Problem]:
    """A problem at each ``name`` of ``data[section]`` (a list) that an earlier item already
    used, where the second one is written; ``message`` is formatted with ``name`` (its repr)."""
    items = data.get(section) if isinstance(data, dict) else None
    seen: set[str] = set()
    problems = []
    for i, item in enumerate(items if isinstance(items, list) else ()):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            text = message.format(name=repr(name))
            problems.append(problem_at(label, located, (section, i, "name"), text))
        seen.add(name)
    return problems
