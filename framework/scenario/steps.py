"""Which kind a flow step is, read from the key it is written with, on data as written.

A step is told by its key: ``think``, ``repeat``, ``poll`` or ``transaction``; anything else
with a request's fields is a request. The models (``flows``) dispatch on this, and the
template and variable checks walk the YAML data with it before (and whether or not) the
models validate, so a broken step elsewhere does not hide a template error here.

    >>> step_kind({"think": "500ms"}), step_kind({"path": "/x"}), step_kind({"sleep": 1})
    ('think', 'request', None)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from framework.scenario.yaml_source import KeyPath

__all__ = ["FLOW_SECTIONS", "STEP_KINDS", "raw_steps", "step_kind"]

STEP_KINDS = ("request", "think", "repeat", "poll", "transaction")
"""Every kind of flow step, in the order messages list them."""
FLOW_SECTIONS = ("on_start", "flow")
"""The sections of a users entry that hold steps, in the order they run."""
_KEYED = ("think", "repeat", "poll", "transaction")
_REQUEST_KEYS = frozenset(
    {"name", "method", "path", "query", "headers", "json", "body", "expect", "timeout",
     "capture", "weight"}
)  # fmt: skip


def step_kind(value: Any) -> str | None:
    """The kind of the step ``value`` (a mapping as written), else ``None``."""
    if not isinstance(value, Mapping):
        return None
    for kind in _KEYED:
        if kind in value:
            return kind
    if _REQUEST_KEYS & {str(k) for k in value}:
        return "request"
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def raw_steps(steps: Any, base: KeyPath = ()) -> Iterator[tuple[KeyPath, str, Mapping[str, Any]]]:
    """``(path, kind, step)`` for every step of a steps list as written, depth first in the
    order they run; a poll is followed by its request (kind ``request``, path ``poll.request``).
    Steps of no known kind are skipped (validation names them)."""
    for i, step in enumerate(_list(steps)):
        kind = step_kind(step)
        if kind is None:
            continue
        path: KeyPath = (*base, i)
        yield path, kind, step
        if kind in ("repeat", "transaction"):
            yield from raw_steps(step.get("steps"), (*path, "steps"))
        elif kind == "poll":
            poll = step.get("poll")
            request = poll.get("request") if isinstance(poll, Mapping) else None
            if isinstance(request, Mapping):
                yield (*path, "poll", "request"), "request", request
