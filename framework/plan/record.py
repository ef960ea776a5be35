"""``PlanRecord``: the load plan as ``run.json`` stores it, and as every reader gets it back.

A :class:`~framework.plan.shapes.LoadPlan` holds its rule as a function of time, which cannot
be saved; what is saved is its shape name, length, peak and phases. The runner writes
``PlanRecord.from_plan(plan).to_record()`` and the analysis and reports read
``PlanRecord.from_record(run["plan"])``, so both sides go through one type::

    >>> from framework.plan import shapes
    >>> record = PlanRecord.from_plan(shapes.constant(users=5, spawn_rate=5, duration_s=60))
    >>> PlanRecord.from_record(record.to_record()) == record
    True
    >>> [p.name for p in record.phases]
    ['ramp-up', 'steady']

Reading is tolerant, as run folders of older swarm versions must still report: a missing or
malformed plan reads as the empty ``PlanRecord()``, which writes back as ``{}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from framework.plan.shapes import LoadPlan, Phase

__all__ = ["PlanRecord"]


@dataclass(frozen=True)
class PlanRecord:
    """A plan's saved form: ``shape`` name, ``duration_s``, ``peak_users`` and its phases.

    Every field is ``None`` (phases empty) when the run recorded no plan.
    """

    shape: str | None = None
    duration_s: float | None = None
    peak_users: int | None = None
    phases: tuple[Phase, ...] = ()

    @classmethod
    def from_plan(cls, plan: LoadPlan) -> PlanRecord:
        """The record of a plan, as the runner saves it."""
        return cls(plan.name, plan.duration_s, plan.peak_users, plan.phases)

    @classmethod
    def from_record(cls, data: Mapping[str, Any] | None) -> PlanRecord:
        """Read the ``plan`` entry of ``run.json``; anything missing or of the wrong type is
        left out (a phase without a name, start and end is dropped), so old files still read."""
        if not isinstance(data, Mapping):
            return cls()
        phases = tuple(
            phase for phase in map(_phase, data.get("phases") or ()) if phase is not None
        )
        shape = data.get("shape")
        peak = data.get("peak_users")
        return cls(
            shape=shape if isinstance(shape, str) else None,
            duration_s=_number(data.get("duration_s")),
            peak_users=peak if isinstance(peak, int) and not isinstance(peak, bool) else None,
            phases=phases,
        )

    @property
    def recorded(self) -> bool:
        """Whether the run recorded a plan at all."""
        return self != PlanRecord()

    def to_record(self) -> dict[str, Any]:
        """The ``plan`` entry of ``run.json`` (``{}`` for no plan), in its documented layout."""
        if not self.recorded:
            return {}
        return {
            "shape": self.shape,
            "duration_s": self.duration_s,
            "peak_users": self.peak_users,
            "phases": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "start_s": p.start_s,
                    "end_s": p.end_s,
                    "users": p.users,
                }
                for p in self.phases
            ],
        }


def _number(value: Any) -> float | None:
    """A JSON number as it was written (an int stays an int), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _phase(data: Any) -> Phase | None:
    if not isinstance(data, Mapping):
        return None
    name, start_s, end_s = (
        data.get("name"),
        _number(data.get("start_s")),
        _number(data.get("end_s")),
    )
    if name is None or start_s is None or end_s is None:
        return None
    users, kind = data.get("users"), data.get("kind")
    return Phase(
        name=str(name),
        start_s=start_s,
        end_s=end_s,
        users=users if isinstance(users, int) and not isinstance(users, bool) else 0,
        kind=kind if isinstance(kind, str) else "",
    )
