"""Read an OpenAPI 3.0 / 3.1 document (YAML or JSON): parsed, validated, ``$ref``s resolvable.

Validation is openapi-spec-validator's (the OpenAPI Initiative's JSON Schemas of the format
plus its own checks: path parameters declared, operationIds unique, defaults and examples
of the right type); ``$ref``s are resolved by its jsonschema-path ``SchemaPath``, the same
resolver the validator walks, within the document and to local files beside it. A remote
``$ref`` (``https://…``) is not fetched: ``swarm init`` reads nothing from the network.

Every problem is an ``OpenApiError`` (exit 2) located at the document's line where the YAML
or JSON parser, or the validator's path into the document, gives one.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema_path import SchemaPath
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from referencing.exceptions import Unresolvable, Unretrievable

from framework.errors import OpenApiError, Problem
from framework.limits import OPENAPI_BYTES, OPENAPI_VALUES, InputRefused, excerpt, read_text
from framework.scenario.yaml_source import Located, YamlSyntaxError, load_located

__all__ = ["MAX_PROBLEMS", "VERSIONS", "OpenApiDocument", "read_openapi"]

VERSIONS = {"3.0": OpenAPIV30SpecValidator, "3.1": OpenAPIV31SpecValidator}
"""The OpenAPI versions read (by ``major.minor``), each with its validator."""
MAX_PROBLEMS = 20
"""Most validation problems listed: a broken generator's output can hold thousands."""


@dataclass
class OpenApiDocument:
    """A valid OpenAPI document: its plain data (keys as strings, dates as ISO text), the
    ``SchemaPath`` root that resolves ``$ref``s on the way down, its ``version``
    (``"3.0"`` or ``"3.1"``) and where each value stands in the file (``located``)."""

    path: Path
    data: dict[str, Any]
    root: SchemaPath
    version: str
    located: Located = field(repr=False)

    @property
    def title(self) -> str:
        """``info.title``, the name the scenario gets."""
        return str(self.data.get("info", {}).get("title", "") or self.path.stem)


def read_openapi(path: str | Path) -> OpenApiDocument:
    """Read, parse and validate the OpenAPI document at ``path``; ``OpenApiError`` if any of
    that fails, with the line of each problem where one is known."""
    file = Path(path)
    label = str(path)
    try:
        text = read_text(file, OPENAPI_BYTES)
    except FileNotFoundError:
        raise _error(label, None, "no such file") from None
    except InputRefused as exc:
        raise _error(label, None, str(exc)) from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise _error(
            label, line, f"not UTF-8 text (byte {exc.start}); expected YAML or JSON"
        ) from None
    except OSError as exc:
        raise _error(label, None, f"cannot read: {exc.strerror}") from None
    located = _parse(text, label)
    data = _plain(located.data)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise _error(label, 1, f"not an OpenAPI document: the file holds {kind}, not a mapping")
    version = _version(data, label, located)
    root = SchemaPath.from_dict(
        data, base_uri=file.resolve().as_uri(), handlers={"file": _local_file}
    )
    problems = list(_validation_problems(VERSIONS[version](root), data, label, located))
    if not problems:
        problems = list(_ref_problems(root, data, label, located))
    if problems:
        raise OpenApiError(problems)
    return OpenApiDocument(file, data, root, version, located)


def _error(label: str, line: int | None, message: str, column: int | None = None) -> OpenApiError:
    return OpenApiError([Problem(label, line, column, "", message)])


def _parse(text: str, label: str) -> Located:
    """YAML (JSON is YAML too) with each value's place; a JSON text that YAML refuses
    (tabs) is read as JSON, without places; JSON's own message where both refuse it."""
    try:
        located = load_located(text, values_limit=OPENAPI_VALUES)
    except YamlSyntaxError as exc:
        if not text.lstrip().startswith(("{", "[")):
            line, column = exc.position or (None, None)
            raise _error(label, line, f"neither YAML nor JSON: {exc}", column) from None
        try:
            return Located(data=json.loads(text))
        except json.JSONDecodeError as bad:
            raise _error(label, bad.lineno, f"invalid JSON: {bad.msg}", bad.colno) from None
    if () not in located.values:
        raise _error(label, 1, "the file is empty; expected an OpenAPI document (YAML or JSON)")
    return located


def _plain(value: Any) -> Any:
    """The data as JSON has it: YAML's ``200:`` keys as ``"200"``, its dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _version(data: dict[str, Any], label: str, located: Located) -> str:
    """``"3.0"`` or ``"3.1"``; anything else is not a document ``swarm init`` reads."""
    if "swagger" in data:
        raise _error(
            label,
            _line(located, ("swagger",)),
            f"this is a Swagger {data['swagger']} document (OpenAPI 2); swarm init reads "
            "OpenAPI 3.0 and 3.1: convert it first (swagger2openapi, or the Swagger Editor's "
            "'Convert to OpenAPI 3')",
        )
    if "openapi" not in data:
        keys = ", ".join(list(data)[:8]) or "none"
        raise _error(
            label,
            1,
            f"not an OpenAPI document: no 'openapi' field at the top (found keys: {keys}); "
            "an OpenAPI 3 document starts with e.g. 'openapi: 3.1.0'",
        )
    given = data["openapi"]
    line = _line(located, ("openapi",))
    if not isinstance(given, str):
        raise _error(
            label,
            line,
            f"openapi must be a string such as '3.1.0', got {given!r} (a "
            f"{type(given).__name__}): quote it, as YAML reads 3.0 as a number",
        )
    version = ".".join(given.split(".")[:2])
    if version not in VERSIONS:
        raise _error(
            label,
            line,
            f"openapi {excerpt(repr(given))} is not a version swarm init reads; "
            f"allowed: {', '.join(f'{v}.x' for v in VERSIONS)}",
        )
    return version


def _line(located: Located, path: tuple[Any, ...]) -> int | None:
    """The line of ``path`` in the file (keys written as strings or as YAML numbers)."""
    position = located.position(_original_path(located.data, path), prefer_key=True)
    return position[0] if position else None


def _original_path(data: Any, path: tuple[Any, ...]) -> tuple[Any, ...]:
    """``path`` with each mapping key as the parser built it (``200``, not ``"200"``)."""
    out: list[Any] = []
    node = data
    for part in path:
        if isinstance(node, dict):
            key = next((k for k in node if str(k) == str(part)), part)
        elif isinstance(node, list) and isinstance(part, int):
            key = part
        else:
            break
        out.append(key)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return tuple(out)


def _validation_problems(
    validator: Any, data: dict[str, Any], label: str, located: Located
) -> Iterator[Problem]:
    """The validator's errors as located problems (at most ``MAX_PROBLEMS``); a ``$ref``
    that cannot be resolved ends the walk (the validator cannot go past it)."""
    count = 0
    try:
        for error in validator.iter_errors():
            count += 1
            if count > MAX_PROBLEMS:
                yield Problem(label, None, None, "", f"… and more (first {MAX_PROBLEMS} shown)")
                return
            where = tuple(error.absolute_path) or _path_named(error.message, data)
            yield Problem(
                label,
                _line(located, where) if where else None,
                None,
                _dotted(where),
                f"invalid OpenAPI: {excerpt(error.message, 300)}",
            )
    except (Unresolvable, Unretrievable) as exc:
        yield _unresolvable(exc, data, label, located)


def _ref_problems(
    root: SchemaPath, data: dict[str, Any], label: str, located: Located
) -> Iterator[Problem]:
    """Every ``$ref`` the validator did not follow (3.1 leaves schemas' to JSON Schema),
    resolved once: the scenario is made from what they point at."""
    count = 0
    for at in _refs(data, ()):
        node = root
        try:
            for part in at:
                node = node / part
            with node.open():
                pass
        except (Unresolvable, Unretrievable) as exc:
            count += 1
            if count > MAX_PROBLEMS:
                return
            yield _unresolvable(exc, data, label, located, at=(*at, "$ref"))


def _refs(data: Any, at: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """The place of every mapping holding a ``$ref`` (examples' values left out: they
    are data, not references)."""
    if isinstance(data, dict):
        if isinstance(data.get("$ref"), str):
            yield at
            return
        for key, value in data.items():
            if key not in ("example", "const", "default", "enum"):
                yield from _refs(value, (*at, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _refs(value, (*at, index))


def _unresolvable(
    exc: Exception,
    data: dict[str, Any],
    label: str,
    located: Located,
    at: tuple[Any, ...] | None = None,
) -> Problem:
    ref = str(getattr(exc, "ref", "") or exc)
    if at is None:
        at = _ref_place(data, ref)
    written = _value_at(data, at) if at is not None else ref
    return Problem(
        label,
        _line(located, at) if at is not None else None,
        None,
        _dotted(at or ()),
        f"$ref {excerpt(repr(str(written)))} cannot be resolved: "
        f"{_unresolved(str(written), label)}",
    )


def _path_named(message: str, data: dict[str, Any]) -> tuple[Any, ...]:
    """The path item a message without a path names (``... in '/a/{id}' was not ...``)."""
    paths = data.get("paths") or {}
    for quoted in re.findall(r"'([^']*)'", message):
        if quoted in paths:
            return ("paths", quoted)
    return ()


def _value_at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _unresolved(ref: str, label: str) -> str:
    """Why ``ref`` (as written) cannot be resolved, in the words of what to do."""
    target = ref.split("#", 1)[0]
    if "://" in target and not target.startswith("file:"):
        return (
            "swarm init resolves $refs within the document and to local files beside it "
            "(it fetches nothing from the network)"
        )
    if target:
        beside = Path(label).resolve().parent / unquote(target.removeprefix("file://"))
        if not beside.is_file():
            return f"no file {target} beside the document"
        return f"{target} cannot be read as YAML or JSON, or nothing is at that place in it"
    return "nothing is at that place in the document"


def _ref_place(data: Any, ref: str, at: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where ``$ref: ref`` is written (the first such place), for the problem's line."""
    if isinstance(data, dict):
        written = data.get("$ref")
        if isinstance(written, str) and _same_ref(written, ref):
            return (*at, "$ref")
        for key, value in data.items():
            found = _ref_place(value, ref, (*at, key))
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = _ref_place(value, ref, (*at, index))
            if found is not None:
                return found
    return None


def _same_ref(written: str, ref: str) -> bool:
    """Whether ``$ref: written`` is the reference the resolver names ``ref`` (a pointer,
    or a file's absolute URI)."""
    if written.endswith(ref.lstrip("#")):
        return True
    target = written.split("#", 1)[0]
    return bool(target) and ref.split("#", 1)[0].endswith(target.lstrip("./"))


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def _local_file(uri: str) -> Any:
    """A ``$ref`` to another file: read within the same limits, parsed as YAML or JSON."""
    parts = urlsplit(uri)
    path = Path(unquote(parts.path))
    try:
        text = read_text(path, OPENAPI_BYTES)
        return _plain(load_located(text, values_limit=OPENAPI_VALUES).data)
    except (OSError, InputRefused, UnicodeDecodeError, YamlSyntaxError) as exc:
        raise Unretrievable(ref=uri) from exc
