"""``--set PATH=VALUE``: change a value of a scenario from the command line, not in its file.

An override is applied to the file's data as read, before ``${VAR}`` substitution and
validation, so an overridden value is substituted and validated exactly as if the file
held it: the same messages, the same exit code. What differs is where a problem points:
at the flag (``--set load.users``), since the file holds some other value there.

``PATH`` is dotted keys into the document; a list entry is picked by its index
(``users.0`` or ``users[0]``) or, where the entries have names, by its name
(``users.browse``). ``VALUE`` is read as a YAML value, as if written in the file: ``50``
is a number, ``2m`` a string the model reads as a duration, ``true`` a flag, ``[1, 2]`` a
list, ``${USERS:-5}`` a reference resolved from the environment.

    >>> o = parse_override("users[0].think_time.fixed_ms=0")
    >>> o.path, o.value, o.flag
    (('users', 0, 'think_time', 'fixed_ms'), 0, '--set users[0].think_time.fixed_ms')
    >>> users = parse_override("load.users=50")
    >>> applied = apply_overrides({"load": {"users": 5}}, [users], "s.yaml")
    >>> applied.data, applied.origins
    ({'load': {'users': 50}}, {('load', 'users'): '--set load.users'})

A key the scenario does not have yet is created (``budgets.overall.p95_ms=300`` in a file
without budgets), so that validation can tell a real field from a typo and say which keys
are allowed there. A list index out of range, an entry name no entry has, or a path that
goes through a plain value is refused here, each with the flag and what is allowed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from framework.errors import Problem
from framework.limits import excerpt
from framework.scenario.problems import format_path
from framework.scenario.yaml_source import KeyPath, YamlSyntaxError, is_empty, load_located
from framework.suggestions import did_you_mean, nearest

__all__ = ["SET_FLAG", "AppliedOverrides", "Override", "apply_overrides", "parse_override"]

SET_FLAG = "--set"
_PART = re.compile(r"([^\[\]]*)((?:\[\d+\])*)")
_EXAMPLE = "such as load.users=50 or users.0.think_time.fixed_ms=0"


@dataclass(frozen=True)
class Override:
    """One ``--set PATH=VALUE``: the path's parts, the value as YAML read it, the text given.

    A part is a key (``str``) or, written in brackets, a list index (``int``); a key of
    digits (``users.0``) is an index where the document has a list there.
    """

    path: tuple[str | int, ...]
    value: Any
    text: str

    @property
    def written_path(self) -> str:
        """The path as it was written on the command line."""
        return self.text.partition("=")[0].strip()

    @property
    def flag(self) -> str:
        """``--set load.users``: where a problem with this value points (a long path cut)."""
        return f"{SET_FLAG} {excerpt(self.written_path)}"


def parse_override(text: str) -> Override:
    """Read ``PATH=VALUE``; ``ValueError`` saying what is wrong and what is expected."""
    if "=" not in text:
        raise ValueError(f"expected PATH=VALUE {_EXAMPLE}, got {excerpt(text)!r}")
    written, _, raw = text.partition("=")
    written = written.strip()
    if not written:
        raise ValueError(f"PATH is empty in {excerpt(text)!r}; expected PATH=VALUE {_EXAMPLE}")
    path: list[str | int] = []
    for part in written.split("."):
        match = _PART.fullmatch(part)
        if not part or match is None or (not match.group(1) and not match.group(2)):
            raise ValueError(
                f"PATH {excerpt(written)!r} has an empty or malformed part {part!r}; write "
                f"dotted keys with list indexes as .0 or [0], {_EXAMPLE}"
            )
        if match.group(1):
            path.append(match.group(1))
        path.extend(int(index) for index in re.findall(r"\d+", match.group(2)))
    return Override(tuple(path), _yaml_value(raw), text)


def _yaml_value(raw: str) -> Any:
    """``raw`` read as YAML reads a value in the file (bounded as every document is);
    nothing at all is ``null``, as ``key:`` with no value is in YAML."""
    try:
        located = load_located(raw)
    except YamlSyntaxError as exc:
        raise ValueError(f"VALUE {excerpt(raw)!r} is not a YAML value: {exc}") from None
    return None if is_empty(located) else located.data


@dataclass
class AppliedOverrides:
    """The data with the overrides applied, where each was applied, and what was refused.

    ``origins`` maps the path each override set (or the first key it had to create) to its
    flag, for ``Located.origins``; ``problems`` are the overrides that could not be applied,
    each left out.
    """

    data: dict[str, Any]
    origins: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[Override], label: str
) -> AppliedOverrides:
    """A copy of ``data`` with each override applied in order (a later one wins).

    ``label`` names the scenario in the problems of overrides that cannot be applied.
    """
    applied = AppliedOverrides(copy.deepcopy(dict(data)))
    for override in overrides:
        try:
            where = _apply(applied.data, override)
        except _Refused as exc:
            applied.problems.append(Problem(label, None, None, "", exc.message, override.flag))
            continue
        for path in [p for p in applied.origins if p[: len(where)] == where]:
            del applied.origins[path]  # replaced by this override, with all below it
        applied.origins[where] = override.flag
    return applied


class _Refused(Exception):
    """An override that cannot be applied, and why: a signal within this module, which
    ``apply_overrides`` turns into a ``Problem`` naming the flag."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _apply(root: dict[str, Any], override: Override) -> KeyPath:
    """Set the override's value in ``root``; return the path it set, or the first key it
    created on the way there (everything below that came from the flag)."""
    node: Any = root
    done: list[str | int] = []
    created: KeyPath | None = None
    for i, part in enumerate(override.path):
        last = i == len(override.path) - 1
        if isinstance(node, list):
            key: Any = _list_index(node, part, tuple(done))
        elif isinstance(node, dict):
            key = _mapping_key(node, part, tuple(done))
        else:
            raise _Refused(
                f"{format_path(done)} is {_kind(node)} ({excerpt(repr(node))}), not a mapping "
                f"or a list, so it has no {str(part)!r} to set",
            )
        done.append(key)
        if last:
            node[key] = override.value
        else:
            if isinstance(node, dict) and (key not in node or node[key] is None):
                node[key] = {}
                created = created or tuple(done)
            node = node[key]
    return created or tuple(done)


def _mapping_key(node: dict[Any, Any], part: str | int, done: KeyPath) -> Any:
    """The key of ``node`` that ``part`` names: an existing key as YAML loaded it (a key
    ``200`` is found by ``"200"``), else ``part`` itself, a new key."""
    if isinstance(part, int):
        where = format_path(done) or "the scenario"
        raise _Refused(f"{where} is a mapping, not a list; [{part}] indexes a list")
    return next((k for k in node if str(k) == part), part)


def _list_index(node: list[Any], part: str | int, done: KeyPath) -> int:
    """The index ``part`` names in ``node``: a number in range, or the name of an entry."""
    names = [item.get("name") for item in node if isinstance(item, dict)]
    names = [n for n in names if isinstance(n, str)]
    where = format_path(done)
    span = {0: "no index", 1: "index 0"}.get(len(node), f"indexes 0..{len(node) - 1}")
    if isinstance(part, int) or part.isdigit():
        index = int(part)
        if index < len(node):
            return index
        entries = f"{len(node)} entr{'y' if len(node) == 1 else 'ies'}"
        message = f"index {index} is out of range: {where} has {entries} ({span})"
        raise _Refused(message)
    for index, item in enumerate(node):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    guess = nearest(part, names)
    hint = f"; {did_you_mean([guess])}" if guess else "."
    allowed = f"an index ({span}) or a name: {', '.join(names)}" if names else f"an index ({span})"
    raise _Refused(f"{where} has no entry named {part!r}{hint} Give {allowed}.")


def _kind(value: Any) -> str:
    """``a number``, ``a string``, ...: what a plain value is, in words."""
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else f"a {type(value).__name__}"
