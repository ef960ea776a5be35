"""Periodic stalls: a detector that stops answering for ``for_s`` seconds every ``every_s``.

Why: a stop-the-world pause (a garbage collector, a lock held by a batch job, a
failover) is what makes a closed load model lie. A closed model's users sit waiting
through the pause and send nothing, so only one request per user sees it; traffic
that arrives at a rate keeps arriving, and every arrival during the pause waits. The
stall lets swarm's own tests and docs show that difference against a target whose
answer is known in advance (``docs/open_model.md``).

The stall clock starts when the service starts (every process of a ``--processes N``
service shares the parent's start), so the windows are
``[start + offset_s + k * every_s, start + offset_s + k * every_s + for_s)`` for
``k = 0, 1, ...``; ``offset_s`` defaults to ``every_s - for_s`` (serve normally first,
then stall). A request to ``/detect`` or ``/detect/batch`` that arrives inside a window
is held until the window ends and then served as usual (its drawn latency counts from
there); requests arriving outside a window are answered normally. ``/health``,
``/metrics`` and the admin API are not held, and ``/health`` tells where the clock is,
so a test can time its run against the windows.

    >>> clock = StallClock(every_s=10, for_s=2, offset_s=8, started_at=100.0)
    >>> clock.wait_s(107.0), clock.wait_s(108.5), clock.wait_s(119.0)
    (0.0, 1.5, 1.0)
    >>> round(open_model_percentile_s(0.99, every_s=10, for_s=2), 3)
    1.9
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field

from framework.scenario.fields import NOT_BOOL, OnePassModel

__all__ = [
    "StallClock",
    "StallConfig",
    "closed_model_pacing_s",
    "closed_model_rate",
    "open_model_percentile_s",
]

_Seconds = Annotated[float, Field(gt=0, le=86_400), NOT_BOOL]


class StallConfig(OnePassModel):
    """``stall: {every_s: 10, for_s: 2}``: hold every request for 2 s of each 10 s."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    every_s: _Seconds
    for_s: _Seconds
    offset_s: Annotated[float, Field(ge=0, le=86_400), NOT_BOOL] | None = None

    relation_fields: ClassVar[tuple[str, ...]] = ("every_s", "for_s")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"every_s", "for_s"} <= values.keys() and values["for_s"] >= values["every_s"]:
            yield (
                "for_s",
                f"for_s ({values['for_s']:g}) must be < every_s ({values['every_s']:g}): "
                "a detector that never leaves its stall would never answer",
            )

    @property
    def first_s(self) -> float:
        """Seconds from the service's start to the first stall (``offset_s`` or its default)."""
        return self.every_s - self.for_s if self.offset_s is None else self.offset_s

    def describe(self) -> str:
        """``stalls 2 s every 10 s (first after 8 s)``, for the startup line."""
        return f"stalls {self.for_s:g} s every {self.every_s:g} s (first after {self.first_s:g} s)"


@dataclass(frozen=True, slots=True)
class StallClock:
    """The stall windows of one detector; times are ``time.monotonic`` seconds.

    ``started_at`` is the service's start, shared by all its processes.
    """

    every_s: float
    for_s: float
    offset_s: float
    started_at: float

    @classmethod
    def of(cls, config: StallConfig, started_at: float) -> StallClock:
        """The clock of ``config`` for a service that started at ``started_at``."""
        return cls(config.every_s, config.for_s, config.first_s, started_at)

    def wait_s(self, now: float) -> float:
        """Seconds a request arriving at ``now`` is held: to the end of its window, else 0."""
        since_first = now - self.started_at - self.offset_s
        if since_first < 0:
            return 0.0
        into = math.fmod(since_first, self.every_s)
        return self.for_s - into if into < self.for_s else 0.0

    def next_stall_in_s(self, now: float) -> float:
        """Seconds from ``now`` to the start of the next window (0 while in one)."""
        since_first = now - self.started_at - self.offset_s
        if since_first < 0:
            return -since_first
        into = math.fmod(since_first, self.every_s)
        return 0.0 if into < self.for_s else self.every_s - into

    def state(self, now: float) -> dict[str, Any]:
        """What ``/health`` shows, so a client can place its run against the windows."""
        return {
            "every_s": self.every_s,
            "for_s": self.for_s,
            "offset_s": self.offset_s,
            "since_start_s": round(now - self.started_at, 4),
            "stalled": self.wait_s(now) > 0,
            "ends_in_s": round(self.wait_s(now), 4),
            "next_stall_in_s": round(self.next_stall_in_s(now), 4),
        }


def open_model_percentile_s(
    q: float, *, every_s: float, for_s: float, service_s: float = 0.0
) -> float:
    """The ``q`` quantile of latency an open model sees against a stalling target, in s.

    Derivation, for arrivals evenly spread over whole cycles of ``P = every_s`` with a
    stall of ``S = for_s`` in each, and a service time ``s`` (``service_s``) outside it:

    - a share ``S / P`` of arrivals falls in a stall; one arriving ``u`` seconds into
      it, with ``u`` uniform on ``[0, S)``, waits ``S - u``, so its wait is uniform on
      ``(0, S]`` and its latency ``S - u + s``;
    - so for ``x >= s``, ``P(latency > x) = (S / P) * (S - (x - s)) / S = (S - x + s) / P``;
    - setting that to ``1 - q`` gives ``x = s + S - (1 - q) * P``.

    It holds while ``(1 - q) * P < S``, i.e. the quantile lies among the stalled
    arrivals; below that the answer is just ``s``. For ``S = 2``, ``P = 10``: p99 =
    ``s + 2 - 0.1`` = ``1.9 s + s`` (20 % of arrivals wait, the top 1 % of all are the
    top 5 % of those, waiting at least 95 % of 2 s), p95 = ``1.5 s + s``, p50 = ``s``.

    >>> round(open_model_percentile_s(0.95, every_s=10, for_s=2, service_s=0.005), 4)
    1.505
    """
    if not 0 < q < 1:
        raise ValueError(f"open_model_percentile_s: q must be in (0, 1), got {q!r}")
    if not 0 < for_s < every_s:
        raise ValueError(
            f"open_model_percentile_s: need 0 < for_s < every_s, got for_s={for_s!r}, "
            f"every_s={every_s!r}"
        )
    return service_s + max(0.0, for_s - (1 - q) * every_s)


def closed_model_rate(*, users: int, pacing_s: float, every_s: float, for_s: float) -> float:
    """Requests per second that ``users`` closed users paced at ``pacing_s`` send, on average.

    With pacing (the next request starts ``pacing_s`` after the previous one started,
    or at once if that one took longer) and a service time well below ``pacing_s <
    for_s``, each user sends one request per ``pacing_s`` while the target answers,
    plus the one request that is caught by each stall: the user waits with it until
    the stall ends and sends nothing else meanwhile. Per cycle that is
    ``(every_s - for_s) / pacing_s + 1`` requests per user. That single caught request
    is all a closed model sees of the stall: a share ``1 / ((every_s - for_s) /
    pacing_s + 1)`` of its requests, which is below 1 % (so its p99 misses the stall
    entirely) once ``pacing_s < (every_s - for_s) / 99``.
    """
    if users < 1 or not 0 < pacing_s < for_s < every_s:
        raise ValueError(
            "closed_model_rate: need users >= 1 and 0 < pacing_s < for_s < every_s, got "
            f"users={users!r}, pacing_s={pacing_s!r}, for_s={for_s!r}, every_s={every_s!r}"
        )
    return users * ((every_s - for_s) / pacing_s + 1) / every_s


def closed_model_pacing_s(*, rate: float, users: int, every_s: float, for_s: float) -> float:
    """The pacing at which ``users`` closed users send ``rate`` requests/s on average.

    The inverse of ``closed_model_rate``: ``rate * every_s = users * ((every_s -
    for_s) / pacing_s + 1)``, so ``pacing_s = users * (every_s - for_s) / (rate *
    every_s - users)``.

    >>> round(closed_model_pacing_s(rate=50, users=2, every_s=10, for_s=2), 5)
    0.03213
    """
    if users < 1 or rate * every_s <= users or not 0 < for_s < every_s:
        raise ValueError(
            "closed_model_pacing_s: need users >= 1, rate * every_s > users and "
            f"0 < for_s < every_s, got rate={rate!r}, users={users!r}, for_s={for_s!r}, "
            f"every_s={every_s!r}"
        )
    return users * (every_s - for_s) / (rate * every_s - users)
