"""Open connections of one serving process: their bound, their timeouts, their file descriptors.

Why: every connection holds a file descriptor, and a process that runs out of them
cannot accept the next one — not even ``GET /health``. Measured before this module:
1,100 idle half-open sockets (connected, sending nothing) left ``/health`` answering
0 of 5 under a 1,024-descriptor limit, because nothing ever closed them. So

- ``raise_fd_limit`` lifts ``RLIMIT_NOFILE``'s soft limit to the hard one at start;
- ``ConnectionTable`` bounds the open connections below that limit: a connection
  beyond the bound closes the oldest *idle* one (nothing read and unanswered, which
  includes a client still trickling its headers), or is refused with 503 when every
  connection has a request in flight, so a newcomer such as a health check gets in
  while idle sockets pile up;
- a sweep every quarter of the shorter timeout closes connections idle for
  ``idle_timeout_s`` and answers 408 to requests whose headers have not all arrived
  ``header_timeout_s`` after their first byte (or whose body stalled for
  ``idle_timeout_s``). A sweep costs nothing per request, unlike a timer per request.

    >>> limits = ConnectionLimits(max_connections=100)
    >>> limits.sweep_every_s
    1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_HEADER_TIMEOUT_S",
    "DEFAULT_IDLE_TIMEOUT_S",
    "Connection",
    "ConnectionLimits",
    "ConnectionTable",
    "backlog_for",
    "fd_reserve",
    "raise_fd_limit",
]

DEFAULT_HEADER_TIMEOUT_S = 10.0
"""From a request's first byte to the end of its headers; then 408 and close."""

DEFAULT_IDLE_TIMEOUT_S = 75.0
"""A kept-alive connection with nothing to read or answer is closed after this (as nginx)."""

_MAX_BACKLOG = 2048
_SPARE_FDS = 64  # listeners, stdio, the event loop's own descriptors, pipes to children


def raise_fd_limit() -> tuple[int, int]:
    """Lift the soft ``RLIMIT_NOFILE`` to the hard limit; return the (soft, hard) in force.

    The soft limit is often 1,024 while the hard one allows far more; an unprivileged
    process may raise its own soft limit up to the hard one.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft, hard


def backlog_for(fd_limit: int) -> int:
    """The listen backlog: asyncio accepts up to this many sockets in one go, before any
    connection it replaces is closed, so it must fit in the spare descriptors."""
    return max(16, min(_MAX_BACKLOG, fd_limit // 8))


def fd_reserve(fd_limit: int) -> int:
    """Descriptors kept free beyond the connection bound: two accept bursts and spares."""
    return _SPARE_FDS + 2 * backlog_for(fd_limit)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a connection may wait on its client, and how many may be open at once."""

    max_connections: int
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S

    @property
    def sweep_every_s(self) -> float:
        """A quarter of the shorter timeout (at most 1 s), so a timeout fires within 25 %."""
        return min(1.0, max(0.01, min(self.header_timeout_s, self.idle_timeout_s) / 4))


class Connection(Protocol):
    """What the table needs from a connection (``protocol.HttpProtocol``)."""

    def close(self) -> None:
        """Drop the connection now."""
        ...

    def check_timeouts(self, now: float) -> None:
        """Close the connection if it has waited on its client too long at ``now``."""
        ...


class ConnectionTable:
    """The open connections of one process, and which of them are idle, oldest first.

    A connection is *idle* from when it opens or its last answer leaves until a
    request has been read whole; only idle connections are closed to make room.
    """

    def __init__(self, limits: ConnectionLimits, loop: asyncio.AbstractEventLoop) -> None:
        self.limits = limits
        self._loop = loop
        self._open: set[Connection] = set()
        self._idle: dict[Connection, None] = {}  # in the order they became idle
        self._sweeper: asyncio.TimerHandle | None = None
        self.evicted = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, connection: Connection) -> bool:
        """Count a new connection; False if it must be refused (all others are busy)."""
        self._open.add(connection)
        self._idle[connection] = None
        while len(self._open) > self.limits.max_connections:
            victim = next(iter(self._idle))
            if victim is connection:  # the only idle one is the newcomer itself
                self.refused += 1
                self.closed(connection)
                return False
            self.evicted += 1
            self.closed(victim)
            victim.close()
        return True

    def busy(self, connection: Connection) -> None:
        """``connection`` has a request to answer: not to be closed for room or idleness."""
        self._idle.pop(connection, None)

    def idle(self, connection: Connection) -> None:
        """``connection`` answered everything it read; it is now the newest idle one."""
        if connection in self._open:  # ``busy`` took it out, so it goes in last
            self._idle[connection] = None

    def closed(self, connection: Connection) -> None:
        """Forget ``connection`` (called again when its transport reports the loss)."""
        self._open.discard(connection)
        self._idle.pop(connection, None)

    def start(self) -> None:
        """Sweep for timeouts every ``limits.sweep_every_s`` until ``stop``."""
        self._sweeper = self._loop.call_later(self.limits.sweep_every_s, self._sweep)

    def stop(self) -> None:
        """Stop sweeping and drop every connection (at shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(self._open):
            connection.close()

    def _sweep(self) -> None:
        now = self._loop.time()
        for connection in list(self._idle):
            connection.check_timeouts(now)
        self._sweeper = self._loop.call_later(self.limits.sweep_every_s, self._sweep)
