"""The limits on what swarm reads, and the one reader that keeps to them.

Scenarios, budgets, data files and mock configs arrive from pull requests and CI variables,
run folders from anywhere: no input may make swarm read without end (``/dev/zero``, a FIFO
nobody writes), hold gigabytes, or recurse past the interpreter's stack. So every file is
opened without blocking, refused unless it is a regular file, and read only up to its
limit; YAML is also bounded in nesting depth and in values after alias expansion (the
"billion laughs" bomb).

Each limit has a default and one environment variable that raises it (the README's
"Limits" table lists them all)::

    >>> YAML_BYTES.env, YAML_BYTES.value({})
    ('SWARM_MAX_YAML_BYTES', 262144)
    >>> YAML_BYTES.value({"SWARM_MAX_YAML_BYTES": "1MiB"})
    1048576

A refusal is an ``InputRefused`` whose message names the limit and how to raise it; the
caller wraps it in its own error (``ScenarioError``, ``ConfigError``, ``ReportError``),
beside the file's name. Belongs to no stage: every stage reads files.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass

from framework.errors import ConfigError

__all__ = [
    "DATA_BYTES",
    "JSON_BYTES",
    "LIMITS",
    "OPENAPI_BYTES",
    "OPENAPI_VALUES",
    "TIMELINE_BYTES",
    "YAML_BYTES",
    "YAML_DEPTH",
    "YAML_VALUES",
    "InputRefused",
    "Limit",
    "excerpt",
    "read_bytes",
    "read_text",
]

_UNITS = {"": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
_SETTING = re.compile(r"\s*(\d{1,18})\s*([a-z]*)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Limit:
    """One bound on an input: its default, the environment variable that overrides it, and
    what it bounds (``what``, in messages) in which ``unit``."""

    env: str
    default: int
    what: str
    unit: str = "bytes"

    def value(self, environ: Mapping[str, str] | None = None) -> int:
        """The limit in force: ``environ[env]`` (default ``os.environ``) if set, else the
        default. Sizes take ``k``/``KiB``, ``M``/``MiB``, ``G``/``GiB``; ``ConfigError``
        (exit 2) names the variable when its value is not a positive whole number."""
        environ = os.environ if environ is None else environ
        text = environ.get(self.env, "").strip()
        if not text:
            return self.default
        match = _SETTING.fullmatch(text)
        scale = _UNITS.get(match.group(2).lower()) if match else None
        if self.unit != "bytes" and match and match.group(2):
            scale = None
        if match is None or scale is None or int(match.group(1)) < 1:
            example = (
                "a number of bytes, e.g. 1048576 or 1MiB" if self.unit == "bytes" else "e.g. 100"
            )
            got = excerpt(repr(text))
            raise ConfigError(
                f"{self.env} must be a positive whole number ({example}), got {got}",
                flag=self.env,
            )
        return int(match.group(1)) * scale

    def refusal(self, found: str, *, wanted: int | None = None) -> InputRefused:
        """The error for an input past this limit: what was ``found``, the limit, and the
        setting that would admit ``wanted`` (when known)."""
        limit = self.value()
        setting = (
            f"{self.env}={_roomy(wanted)}" if wanted is not None else f"{self.env} above {limit}"
        )
        return InputRefused(
            f"{found}; the limit for {self.what} is {_amount(limit, self.unit)}; "
            f"to allow more, set {setting}",
            limit=self,
        )


class InputRefused(ValueError):
    """A file was not read, or not parsed, because it is not a regular file or is past a
    ``Limit`` (``limit``, ``None`` for the kind of file).

    Not a ``SwarmError``: the message names no file, so each reader wraps it in its own
    error beside the file's name (as with ``YamlSyntaxError``).
    """

    def __init__(self, message: str, *, limit: Limit | None = None) -> None:
        self.limit = limit
        super().__init__(message)


def read_bytes(path: str | os.PathLike[str], limit: Limit) -> bytes:
    """The content of the regular file ``path``, refused (``InputRefused``) when it is
    anything else or longer than ``limit``.

    Opened non-blocking, so a FIFO with no writer is refused instead of waited on; at
    most ``limit + 1`` bytes are ever read, so ``/proc`` files and files that grow cannot
    exceed it either. ``OSError`` (a missing file, no permission) is left to the caller.
    """
    maximum = limit.value()
    _refuse_irregular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        _refuse_irregular(info.st_mode)  # in case it was replaced since the stat above
        if info.st_size > maximum:
            raise limit.refusal(f"is {_amount(info.st_size)}", wanted=info.st_size)
        data = handle.read(maximum + 1)
    if len(data) > maximum:
        raise limit.refusal(f"is more than {_amount(maximum)}", wanted=None)
    return data


def read_text(path: str | os.PathLike[str], limit: Limit) -> str:
    """``read_bytes`` decoded as UTF-8 (``UnicodeDecodeError`` is the caller's to word)."""
    return read_bytes(path, limit).decode("utf-8")


def excerpt(text: str, width: int = 80) -> str:
    """``text`` cut to ``width`` characters, ending in "…" when it was longer: how a
    message quotes what it found (``excerpt(repr(value))``) without echoing a 50 MB input
    back."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _refuse_irregular(mode: int) -> None:
    """``InputRefused`` unless ``mode`` is a regular file's, saying what it is instead."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise InputRefused("is a directory, not a file")
    kinds = [
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    raise InputRefused(f"is {kind}, not a regular file; swarm reads only regular files")


def _amount(count: int, unit: str = "bytes") -> str:
    """``262,144 bytes (256 KiB)``; other units plainly (``64 levels``)."""
    if unit != "bytes":
        return f"{count:,} {unit}"
    for size, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if count >= size:
            return f"{count:,} bytes ({count / size:.4g} {name})"
    return f"{count:,} bytes"


def _roomy(count: int) -> str:
    """A setting that admits ``count``: whole MiB (or KiB) rounded up."""
    if count >= 1024**2:
        return f"{-(-count // 1024**2)}MiB"
    return f"{-(-count // 1024)}KiB" if count >= 1024 else str(count)


KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

YAML_BYTES = Limit(
    "SWARM_MAX_YAML_BYTES", 256 * KIB, "a YAML file (scenario, budgets, mock-detector config)"
)
"""A scenario is a few KiB; 256 KiB parses in well under a second with PyYAML."""
YAML_VALUES = Limit(
    "SWARM_MAX_YAML_VALUES", 10_000, "a YAML file", unit="values (aliases expanded)"
)
"""Values (scalars, lists, mappings) after ``*alias`` expansion: stops a billion-laughs bomb
of a few hundred bytes before it is built."""
YAML_DEPTH = Limit("SWARM_MAX_YAML_DEPTH", 64, "a YAML file", unit="levels of nesting")
"""Nesting of lists and mappings, aliases expanded: far below Python's recursion limit."""
DATA_BYTES = Limit("SWARM_MAX_DATA_BYTES", 16 * MIB, "a CSV data file")
"""Each worker keeps every row of a data file in memory."""
JSON_BYTES = Limit(
    "SWARM_MAX_JSON_BYTES",
    32 * MIB,
    "a run folder's JSON file (run.json, results.json, store.json)",
)
"""``results.json`` of a run with hundreds of names is a few MiB."""
TIMELINE_BYTES = Limit("SWARM_MAX_TIMELINE_BYTES", 2 * GIB, "a timeline")
"""A timeline grows by about 0.3 MiB a minute for ten busy names (measured): 2 GiB holds
days of such a run."""

OPENAPI_BYTES = Limit("SWARM_MAX_OPENAPI_BYTES", 16 * MIB, "an OpenAPI document (swarm init)")
"""Public API descriptions run to several MiB (a large one is 5–10 MiB of YAML); they are
read once, by ``swarm init``, not by every run."""
OPENAPI_VALUES = Limit(
    "SWARM_MAX_OPENAPI_VALUES",
    1_000_000,
    "an OpenAPI document (swarm init)",
    unit="values (aliases expanded)",
)
"""Values of an OpenAPI document, aliases expanded: a 10 MiB description holds a few hundred
thousand; still refuses an alias bomb before it expands."""

LIMITS = (
    YAML_BYTES, YAML_VALUES, YAML_DEPTH, DATA_BYTES, JSON_BYTES, TIMELINE_BYTES,
    OPENAPI_BYTES, OPENAPI_VALUES,
)  # fmt: skip
"""Every limit, in the order the README's table lists them."""
