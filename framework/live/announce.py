"""One line in Locust's log that tells ``swarm run`` what happened inside the master.

The master is a child process; what swarm must record in ``run.json`` from inside it (a
change of the run's state, a run that began or ended in the web UI, an abort and its
rule) travels as a log line ``swarm-event: {json}``, which the parent reads as it copies
the log (``framework.run.runner``). JSON keeps it one line, whatever the reason says.

    >>> line = announcement("state", state="paused", at_s=12.5, reason="web UI")
    >>> line
    'swarm-event: {"event": "state", "state": "paused", "at_s": 12.5, "reason": "web UI"}'
    >>> read_announcement("[2026-12-06 01:00:00,000] host/INFO/x: " + line)["state"]
    'paused'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["PREFIX", "announced_at", "announcement", "read_announcement"]

PREFIX = "swarm-event: "


def announcement(event: str, **fields: Any) -> str:
    """The log line that announces ``event`` with ``fields`` (JSON-serialisable values)."""
    return PREFIX + json.dumps({"event": event, **fields}, ensure_ascii=False)


def read_announcement(line: str) -> dict[str, Any] | None:
    """The announcement a log line carries, or ``None`` if it carries none (or a damaged one)."""
    at = line.find(PREFIX)
    if at < 0:
        return None
    try:
        found = json.loads(line[at + len(PREFIX) :])
    except ValueError:
        return None
    return found if isinstance(found, dict) and isinstance(found.get("event"), str) else None


def announced_at(announced: Mapping[str, Any]) -> datetime:
    """When the master says it happened (``at_s``, unix seconds), or now if the line does not
    say (a line from an older master, or a damaged value)."""
    at_s = announced.get("at_s")
    if isinstance(at_s, int | float) and not isinstance(at_s, bool):
        return datetime.fromtimestamp(at_s, UTC)
    return datetime.now(UTC)
