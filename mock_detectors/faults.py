"""Faults injected at run time through the admin API, and the board all processes read.

A fault is a ``FaultSpec`` (what to change) plus an expiry on the monotonic clock;
once the expiry passes it has no effect, so the detector reverts by itself even if
nobody calls the admin API again.

Why a shared-memory board: with ``--processes N`` every process accepts connections
on the same port, so a fault set through whichever process answered ``PUT
/admin/faults`` must reach all of them. The board is an anonymous shared mapping
created before the processes fork: the writer stores the fault as JSON and bumps a
generation number; a reader re-reads the JSON only when the generation changed, so
the per-request cost is one 8-byte read. ``time.monotonic`` is system-wide on Linux,
so every process agrees on when the fault ends.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing
import struct
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ActiveFault", "FaultBoard", "FaultSpec"]

_Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
_HEADER = struct.Struct("<qq")  # generation, length of the JSON that follows
_SIZE = 1 << 16


class FaultSpec(BaseModel):
    """The body of ``PUT /admin/faults``: what to change, and for how long.

    Unset fields leave the configured behaviour alone. ``error_rate`` and
    ``timeout_probability`` replace the configured rates; latency becomes
    ``sampled * latency_multiplier + added_latency_ms``; ``outage`` answers 503 to
    everything except ``/metrics`` and the admin API.

    Strict types: a number must be a JSON number (``true`` is not 1, ``"5"`` is not
    5) and ``outage`` a JSON boolean (``"yes"`` is refused), so a typo in a script
    gets a 400 naming the field instead of a fault nobody meant.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    duration_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]
    error_rate: _Rate | None = None
    error_status: Annotated[int, Field(ge=400, le=599)] = 503
    added_latency_ms: Annotated[float, Field(ge=0, le=600_000, allow_inf_nan=False)] = 0.0
    latency_multiplier: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = 1.0
    timeout_probability: _Rate | None = None
    outage: bool = False

    @model_validator(mode="after")
    def _changes_something(self) -> FaultSpec:
        if not self.kinds():
            raise ValueError(
                "a fault must change something: set error_rate, added_latency_ms, "
                "latency_multiplier, timeout_probability or outage"
            )
        return self

    def kinds(self) -> list[str]:
        """The kinds of change this fault makes, as named in the ``active_faults`` metric."""
        kinds = []
        if self.error_rate is not None:
            kinds.append("error_rate")
        if self.added_latency_ms or self.latency_multiplier != 1.0:
            kinds.append("latency")
        if self.timeout_probability is not None:
            kinds.append("timeout")
        if self.outage:
            kinds.append("outage")
        return kinds


@dataclass(frozen=True, slots=True)
class ActiveFault:
    """A fault in force until ``expires_at`` (``time.monotonic`` seconds)."""

    spec: FaultSpec
    expires_at: float

    def remaining_s(self, now: float) -> float:
        """Seconds left at ``now``; 0 once expired."""
        return max(0.0, self.expires_at - now)

    def to_json(self, now: float) -> dict[str, Any]:
        """What ``GET /admin/faults`` shows."""
        return {
            **self.spec.model_dump(),
            "kinds": self.spec.kinds(),
            "expires_in_s": round(self.remaining_s(now), 3),
        }


class FaultBoard:
    """The current fault of one detector, shared by every process that serves it.

    Create it in the parent before forking; each process then calls ``current(now)``
    per request and ``set``/``clear`` from the admin API.
    """

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, _SIZE)  # anonymous and MAP_SHARED: survives fork
        self._lock = multiprocessing.get_context("fork").Lock()
        self._seen_generation = 0
        self._cached: ActiveFault | None = None

    def current(self, now: float) -> ActiveFault | None:
        """The fault in force at ``now``, or ``None`` (including once it has expired)."""
        generation = _HEADER.unpack_from(self._map, 0)[0]
        if generation != self._seen_generation:
            self._reload()
        fault = self._cached
        if fault is not None and now >= fault.expires_at:
            return None
        return fault

    def set(self, spec: FaultSpec, now: float) -> ActiveFault:
        """Put ``spec`` in force from ``now`` for ``spec.duration_s``, replacing any other."""
        fault = ActiveFault(spec, now + spec.duration_s)
        self._write({"spec": spec.model_dump(), "expires_at": fault.expires_at})
        return fault

    def clear(self) -> None:
        """End the current fault now."""
        self._write(None)

    def generation(self) -> int:
        """Bumped by every ``set`` and ``clear``; lets a caller tell if its fault was replaced."""
        return _HEADER.unpack_from(self._map, 0)[0]

    def _write(self, payload: dict[str, Any] | None) -> None:
        data = json.dumps(payload).encode()
        with self._lock:
            generation = _HEADER.unpack_from(self._map, 0)[0] + 1
            self._map[_HEADER.size : _HEADER.size + len(data)] = data
            _HEADER.pack_into(self._map, 0, generation, len(data))

    def _reload(self) -> None:
        with self._lock:
            generation, length = _HEADER.unpack_from(self._map, 0)
            raw = bytes(self._map[_HEADER.size : _HEADER.size + length])
        payload = json.loads(raw) if raw else None
        self._cached = (
            None
            if payload is None
            else ActiveFault(FaultSpec.model_validate(payload["spec"]), payload["expires_at"])
        )
        self._seen_generation = generation
