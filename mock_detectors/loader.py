"""Read a mock-detector YAML file into a ``MocksConfig``, or say exactly what is wrong.

Why not plain ``yaml.safe_load`` + ``model_validate``: a bare pydantic error gives a
location like ``('detectors', 'x', 'latency', 'uniform', 'max')``, which a person
must translate back into the file. ``framework.yamlsource`` (shared with the
scenario loader) remembers where every key was written, so each problem reads like
``detectors.yaml:14:7: detectors.x.latency.max: unknown field; did you mean 'max_ms'?
allowed: model, min_ms, max_ms`` — file, line, field path, and what is allowed.
All problems are reported in one pass (``DetectorConfigError.problems``).
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from framework.errors import ConfigError, Problem
from framework.yamlsource import Located, YamlSyntaxError, load_located
from mock_detectors.config import MocksConfig

__all__ = ["DEFAULT_CONFIG_PATH", "DetectorConfigError", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("detectors.yaml")
"""The five ready profiles shipped with the package."""


class DetectorConfigError(ConfigError):
    """A mock-detector config cannot be used; ``problems`` lists everything found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in mock-detector config"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


def load_config(path: str | Path) -> MocksConfig:
    """Load and validate the file at ``path``; raise ``DetectorConfigError`` if unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorConfigError(
            [Problem(str(path), None, None, "", f"cannot read the file: {exc}")]
        ) from exc
    return parse_config(text, str(path))


def parse_config(text: str, filename: str = "<config>") -> MocksConfig:
    """Validate YAML ``text``; ``filename`` only labels the problems."""
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        line, column = exc.position or (None, None)
        raise DetectorConfigError([Problem(filename, line, column, "", str(exc))]) from None
    data = located.data
    if () not in located.values:  # nothing but comments and blank lines
        raise DetectorConfigError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    "",
                    "the file is empty; expected a mapping with 'detectors'",
                )
            ]
        )
    if not isinstance(data, dict):
        raise DetectorConfigError(
            [
                Problem(
                    filename,
                    1,
                    1,
                    "",
                    f"expected a mapping with 'detectors' at the top, got {type(data).__name__}",
                )
            ]
        )
    try:
        return MocksConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error, located, filename) for error in exc.errors()]
        problems.sort(key=lambda p: (p.line is None, p.line or 0, p.column or 0))
        raise DetectorConfigError(problems) from None


def _problem(error: Any, located: Located, filename: str) -> Problem:
    """Turn one pydantic error into a located, readable ``Problem``."""
    loc = tuple(error["loc"])
    path_steps, line, column = _locate(loc, located)
    path = _format_path(path_steps)
    kind = error["type"]
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        message = f"unknown field {loc[-1]!r}"
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if near:
            message += f"; did you mean {near[0]!r}?"
        if allowed:
            message += f" allowed: {', '.join(allowed)}"
    elif kind == "missing":
        message = f"missing required field {loc[-1]!r}"
        path = _format_path(path_steps[:-1]) if path_steps else path
    elif kind == "union_tag_not_found":
        tags = error.get("ctx", {}).get("discriminator", "'model'")
        message = f"missing {tags}, which picks the kind; allowed: {_tags_of(loc)}"
    elif kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        discriminator = str(ctx.get("discriminator", "kind")).strip("'")
        message = f"unknown {discriminator} {ctx.get('tag')!r}; allowed: {ctx.get('expected_tags')}"
    elif kind in _BOUNDS:
        bound = error.get("ctx", {}).get(_BOUNDS[kind][0])
        message = f"must be {_BOUNDS[kind][1]} {bound}, got {error.get('input')!r}"
    elif "input" in error and not isinstance(error["input"], dict | list):
        message += f" (got {error['input']!r})"
    return Problem(filename, line, column, path, message)


def _locate(loc: tuple[Any, ...], located: Located) -> tuple[list[Any], int | None, int | None]:
    """Follow ``loc`` through the loaded data; return the real path and the deepest place.

    Steps that exist only in pydantic's view (the tag of a discriminated union,
    ``[key]`` for a dict-key error) are dropped from the path.
    """
    steps: list[Any] = []
    found: list[Any] = []  # the part of ``steps`` that exists in the file
    node = located.data
    for step in loc:
        if step == "[key]":
            continue
        if isinstance(node, dict):
            key = _find_key(node, step)
            if key is _MISSING:
                if node.get("model") == step:
                    continue  # the tag of a discriminated union
                steps.append(step)
                node = None
                continue
            steps.append(key)
            found.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            steps.append(step)
            found.append(step)
            node = node[step]
        else:
            steps.append(step)
            node = None
    line, column = located.position(tuple(found), prefer_key=True) or (None, None)
    return steps, line, column


_MISSING = object()

_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}


def _find_key(mapping: dict[Any, Any], step: Any) -> Any:
    """pydantic reports dict keys as strings; YAML may have loaded them as numbers."""
    if step in mapping:
        return step
    for key in mapping:
        if str(key) == str(step):
            return key
    return _MISSING


def _format_path(steps: list[Any]) -> str:
    out = ""
    for step in steps:
        if isinstance(step, int) and not isinstance(step, bool):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc``, or [] if it is not a model."""
    target = _type_at(loc)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def _tags_of(loc: tuple[Any, ...]) -> str:
    """The allowed ``model`` tags of the discriminated union found at ``loc``."""
    tags = []
    for member in _union_members(_type_at_raw(loc)):
        field = member.model_fields.get("model") if isinstance(member, type) else None
        if field is not None:
            tags.append(str(field.default))
    return ", ".join(tags)


def _type_at(loc: tuple[Any, ...]) -> Any:
    members = _union_members(_type_at_raw(loc))
    return members[0] if len(members) == 1 else None


def _type_at_raw(loc: tuple[Any, ...]) -> Any:
    current: Any = MocksConfig
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        members = _union_members(current)
        if len(members) > 1:  # discriminated union: this step is the tag
            current = next(
                (
                    m
                    for m in members
                    if getattr(m.model_fields.get("model"), "default", None) == step
                ),
                None,
            )
            continue
        current = members[0] if members else None
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(step))
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            if step != "[key]":
                current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
        else:
            return None
    return current


def _union_members(tp: Any) -> list[Any]:
    """Strip ``Annotated`` and ``None`` and list what is left of a union (or the type)."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            if arg is not type(None):
                out.extend(_union_members(arg))
        return out
    return [] if tp is None else [tp]
