"""Event hooks with keyword-only payloads, in the manner of Locust's ``EventHook``.

A listener that raises is logged and skipped: a broken sink or plugin must never end the run
that it watches, nor stop the listeners after it from hearing the event.

    >>> changed = Hook("state_changed")
    >>> @changed.add_listener
    ... def show(*, state: str, **_kwargs: object) -> None:
    ...     print("now", state)
    >>> changed.fire(state="running", previous="starting")
    now running
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Hook"]

logger = logging.getLogger(__name__)

Listener = Callable[..., Any]


class Hook:
    """One event: listeners are called in the order they were added, with keywords only."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Listener] = []

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._listeners)} listeners)"

    def add_listener(self, listener: Listener) -> Listener:
        """Add ``listener``; returns it, so this works as a decorator."""
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def fire(self, **payload: Any) -> None:
        """Call every listener with ``payload``; one that raises is logged, not propagated."""
        for listener in list(self._listeners):
            try:
                listener(**payload)
            except Exception:
                logger.exception("swarm: %s listener %r failed", self.name, listener)
