"""Load a scenario file: YAML → ``${VAR}`` substitution → validation, every problem in one pass.

Each problem names the file, line and column, the field path, what was found and what is
allowed, so a person can fix the whole file in one go instead of one error per attempt.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from framework.budgets import Budgets
from framework.datafiles import read_rows
from framework.errors import ConfigError, Problem, ScenarioError, UnresolvedVariableError
from framework.interpolation import interpolate
from framework.scenario import Scenario, UserSpec
from framework.templates import TemplateError, compile_tree, compile_value, data_refs
from framework.yamlsource import Located, YamlSyntaxError, load_located

__all__ = ["HOST_ENV_VAR", "LoadedScenario", "format_path", "load_budgets", "load_scenario"]

HOST_ENV_VAR = "SWARM_HOST"
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario plus what the run needs around it.

    ``redacted`` is the resolved scenario as plain data with every secret replaced by its
    ``${VAR}`` reference: the only form that may be saved or shown. ``source`` is the file's
    data before any substitution (references intact), which bundles ship to workers.
    """

    scenario: Scenario
    path: Path
    redacted: dict[str, Any]
    secrets: frozenset[str]
    host_override: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def host(self) -> str | None:
        """The default target: the override, else the scenario's ``host``."""
        return self.host_override or self.scenario.host

    def host_for(self, user: UserSpec) -> str | None:
        """The target of one users entry: the override, its own ``host``, the scenario's."""
        return self.host_override or user.host or self.scenario.host


def format_path(path: KeyPath) -> str:
    """``('users', 0, 'name')`` → ``users[0].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_scenario(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    host: str | None = None,
    require_host: bool = False,
) -> LoadedScenario:
    """Read and validate ``path``; raise ``ScenarioError`` listing every problem found.

    The target host is, in order: ``host`` (the ``--host`` flag), ``$SWARM_HOST``, the
    scenario's ``host``.
    """
    env = os.environ if env is None else env
    file = Path(path)
    label = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(label, None, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError(
            [Problem(label, None, None, "", "is a directory, not a file")]
        ) from None
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 text (byte {exc.start})"
        raise ScenarioError([Problem(label, None, None, "", msg)]) from None
    except OSError as exc:
        raise ScenarioError(
            [Problem(label, None, None, "", f"cannot read: {exc.strerror}")]
        ) from None

    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        line, col = exc.position or (None, None)
        raise ScenarioError([Problem(label, line, col, "", str(exc))]) from None
    if not isinstance(located.data, dict):
        found = type(located.data).__name__
        msg = f"a scenario must be a mapping of fields (name, users, load, ...), found {found}"
        raise ScenarioError([Problem(label, 1, 1, "", msg)])

    values = interpolate(located.data, env)
    problems = [
        _problem(
            label,
            located,
            m.path,
            f"${{{m.name}}} is not set and has no default; set {m.name} in the environment "
            f"or write ${{{m.name}:-default}}",
        )
        for m in values.missing
    ]
    unresolved = {m.path for m in values.missing}
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(values.resolved)
    except ValidationError as exc:
        problems.extend(
            p
            for p in _validation_problems(label, located, values.resolved, exc)
            if p.path not in {format_path(u) for u in unresolved}
        )
    columns, data_problems = _data_columns(label, located, values.resolved, file.parent)
    problems.extend(data_problems)
    problems.extend(_template_problems(label, located, values.resolved, columns))
    problems.extend(_duplicate_user_problems(label, located, values.resolved))

    override = (host or env.get(HOST_ENV_VAR) or "").rstrip("/") or None
    if override is not None and not override.startswith(("http://", "https://")):
        where = "--host" if host else HOST_ENV_VAR
        problems.append(
            Problem(
                label,
                None,
                None,
                "host",
                f"{where} must be an http:// or https:// URL, got {override!r}",
            )
        )
    needs_host = scenario is not None and any(u.host is None for u in scenario.users)
    if needs_host and require_host and not (override or scenario.host):
        message = (
            f"no target host; set 'host' in the scenario, pass --host URL or set {HOST_ENV_VAR}"
        )
        problems.append(Problem(label, None, None, "host", message))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        if all("is not set and has no default" in p.message for p in problems):
            raise UnresolvedVariableError(problems)
        raise ScenarioError(problems)
    assert scenario is not None
    return LoadedScenario(
        scenario=scenario,
        path=file.resolve(),
        redacted=values.redacted,
        secrets=frozenset(values.secrets),
        host_override=override,
        source=located.data,
    )


def load_budgets(path: str | os.PathLike[str]) -> Budgets:
    """Read a ``--budgets`` file (the ``budgets:`` section on its own); every problem at once."""
    label = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read budgets file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        line, col = exc.position or (None, None)
        raise ConfigError(str(Problem(label, line, col, "", str(exc)))) from None
    try:
        return Budgets.model_validate(located.data)
    except ValidationError as exc:
        problems = _validation_problems(label, located, located.data, exc, model_path=("budgets",))
        raise ConfigError(
            f"{len(problems)} problem(s) in budgets file:\n" + "\n".join(f"  {p}" for p in problems)
        ) from None


def _problem(
    label: str, located: Located, path: KeyPath, message: str, *, key: bool = False
) -> Problem:
    line, col = located.position(path, prefer_key=key) or (None, None)
    return Problem(label, line, col, format_path(path), message)


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[KeyPath, bool]:
    """Map a pydantic ``loc`` to a path in the data, dropping union tags; say if it exists.

    Pydantic puts a discriminated union's tag right after the field (``load.stages.stages``
    for ``shape: stages``), so the first ``loc`` part equal to a mapping's ``shape`` is the
    tag even when the mapping also has a key of that name.
    """
    path: list[str | int] = []
    current = data
    exists = True
    tag_skipped: set[int] = set()
    for part in loc:
        if (
            isinstance(current, dict)
            and isinstance(part, str)
            and current.get("shape") == part
            and id(current) not in tag_skipped
        ):
            tag_skipped.add(id(current))
            continue
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            current = current[part]
            path.append(part)
        else:
            path.append(part)
            exists = False
            current = None
    return tuple(path), exists


def _unwrap(tp: Any) -> Any:
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


def _descend(tp: Any, key: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if key in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            arg = _unwrap(arg)
            shape = getattr(arg, "model_fields", {}).get("shape")
            if shape is not None and key in typing.get_args(shape.annotation):
                return arg
    return None


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    tp: Any = Scenario
    for part in loc:
        tp = _descend(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validation_problems(
    label: str,
    located: Located,
    data: Any,
    exc: ValidationError,
    *,
    model_path: tuple[str, ...] = (),
) -> list[Problem]:
    """Problems from a pydantic error; ``model_path`` locates the validated model inside
    ``Scenario`` (``("budgets",)`` for a budgets file) so unknown keys get suggestions."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        path, exists = _data_path(data, loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed = _allowed_keys((*model_path, *loc[:-1]))
            guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]!r}?" if guess else "."
            listing = f" Allowed: {', '.join(allowed)}." if allowed else ""
            problems.append(
                _problem(label, located, path, f"unknown key {key!r}{hint}{listing}", key=True)
            )
            continue
        if kind == "missing":
            problems.append(_problem(label, located, path, "required field is missing"))
            continue
        if not loc and error["msg"].endswith(_DUPLICATE_USERS):
            continue  # reported where the second name is, by _duplicate_user_problems
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if kind == "union_tag_invalid":
            tags = error.get("ctx", {}).get("expected_tags", "")
            given = error.get("input")
            shape = given.get("shape") if isinstance(given, dict) else given
            message = f"unknown shape {shape!r}; allowed: {tags}"
            path = (*path, "shape") if path and path[-1] != "shape" else path
        elif kind == "union_tag_not_found":
            message = "missing 'shape'; allowed: constant, stepped, spike, wave, stages"
        elif (
            exists
            and "input" in error
            and not isinstance(error["input"], dict | list)
            and "got " not in message
            and not (isinstance(error["input"], str) and repr(error["input"]) in message)
        ):
            message = f"{message} (found {_found(error['input'])})"
        problems.append(_problem(label, located, path, message))
    return problems


def _template_problems(
    label: str,
    located: Located,
    data: dict[str, Any],
    columns: dict[str, tuple[str, ...]],
) -> list[Problem]:
    """Compile every template in the raw data, so template errors show beside schema errors."""
    data_files = data.get("data")
    names = [str(k) for k in data_files] if isinstance(data_files, dict) else []
    fields: list[tuple[KeyPath, Any]] = _mapping_fields(data, ("headers",))
    for u, user in enumerate(_list(data.get("users"))):
        if not isinstance(user, dict):
            continue
        fields += _mapping_fields(user, ("users", u, "headers"))
        for r, req in enumerate(_list(user.get("requests"))):
            if not isinstance(req, dict):
                continue
            base: KeyPath = ("users", u, "requests", r)
            for key in ("path", "body", "json"):
                if key in req:
                    fields.append(((*base, key), req[key]))
            fields += _mapping_fields(req, (*base, "query"))
            fields += _mapping_fields(req, (*base, "headers"))
    problems = []
    for path, value in fields:
        try:
            if isinstance(value, str):
                compile_value(value, data_names=names)
            else:
                compile_tree(value, data_names=names)
        except TemplateError as exc:
            problems.append(_problem(label, located, path, str(exc)))
            continue
        for text in _strings(value):
            for name, column in sorted(data_refs(text), key=str):
                known = columns.get(name)
                if column is not None and known is not None and column not in known:
                    message = (
                        f"data file {name!r} has no column {column!r}; columns: {', '.join(known)}"
                    )
                    problems.append(_problem(label, located, path, message))
    return problems


def _strings(value: Any) -> list[str]:
    """Every string leaf of a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping_fields(owner: dict[str, Any], path: KeyPath) -> list[tuple[KeyPath, Any]]:
    """``(path + (key,), value)`` for each entry of the mapping at ``owner[path[-1]]``."""
    mapping = owner.get(str(path[-1]))
    if not isinstance(mapping, dict):
        return []
    return [((*path, k), v) for k, v in mapping.items()]


_DUPLICATE_USERS = "names must be unique"


def _duplicate_user_problems(label: str, located: Located, data: dict[str, Any]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for u, user in enumerate(_list(data.get("users"))):
        name = user.get("name") if isinstance(user, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            message = f"two users entries are named {name!r}; {_DUPLICATE_USERS}"
            problems.append(_problem(label, located, ("users", u, "name"), message))
        seen.add(name)
    return problems


def _data_columns(
    label: str, located: Located, data: dict[str, Any], base: Path
) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """Read each declared data file's columns; problems for files that cannot be used.

    Runs on the raw data, so a missing file is reported beside schema problems.
    """
    files = data.get("data")
    columns: dict[str, tuple[str, ...]] = {}
    problems = []
    for name, spec in files.items() if isinstance(files, dict) else ():
        relative = spec.get("file") if isinstance(spec, dict) else None
        if not isinstance(relative, str) or not relative:
            continue
        file = (base / relative).resolve()
        path = ("data", name, "file")
        try:
            rows = read_rows(file)
        except FileNotFoundError:
            problems.append(_problem(label, located, path, f"data file not found: {file}"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problems.append(_problem(label, located, path, f"cannot use data file: {exc}"))
        else:
            columns[str(name)] = tuple(rows[0].keys())
    return columns, problems
