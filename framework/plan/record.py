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

A run made of load groups (open loads, users entries with their own load) is saved with
:meth:`PlanRecord.from_schedule`: the whole run as before (its phases cut at every group's
phase boundary, carrying ``rate`` where open groups run), plus ``model`` (``"closed"``,
``"open"`` or ``"mixed"``) and one :class:`GroupRecord` per group in ``groups``.

Reading is tolerant, as run folders of older swarm versions must still report: a missing or
malformed plan reads as the empty ``PlanRecord()``, which writes back as ``{}``; a plan
without ``model`` or ``groups`` (every run before open loads) reads with ``model`` ``None``
and no groups, which means one closed load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.plan.shapes import LoadPlan, Phase

if TYPE_CHECKING:
    from framework.plan.groups import LoadSchedule

__all__ = ["GroupRecord", "PlanRecord"]

_MODELS = ("closed", "open", "mixed")
_ARRIVALS = ("uniform", "poisson")


@dataclass(frozen=True)
class GroupRecord:
    """One load group's saved form: its users entries (by name), model, shape and phases.

    ``peak_users`` is set for a closed group, ``peak_rate`` (arrivals per second),
    ``arrivals`` and ``max_in_flight`` (per load generator) for an open one.
    """

    name: str
    users: tuple[str, ...]
    model: str
    shape: str | None
    duration_s: float | None
    phases: tuple[Phase, ...] = ()
    peak_users: int | None = None
    peak_rate: float | None = None
    arrivals: str | None = None
    max_in_flight: int | None = None

    def to_record(self) -> dict[str, Any]:
        """The group's entry in ``run.json``'s ``plan.groups``."""
        record: dict[str, Any] = {
            "name": self.name,
            "users": list(self.users),
            "model": self.model,
            "shape": self.shape,
            "duration_s": self.duration_s,
        }
        if self.model == "open":
            record["peak_rate"] = self.peak_rate
            record["arrivals"] = self.arrivals
            record["max_in_flight"] = self.max_in_flight
        else:
            record["peak_users"] = self.peak_users
        record["phases"] = [_phase_record(p) for p in self.phases]
        return record

    @classmethod
    def from_record(cls, data: Any) -> GroupRecord | None:
        """A group read back; ``None`` for an entry without a name."""
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            return None
        users = data.get("users")
        model = data.get("model")
        shape = data.get("shape")
        arrivals = data.get("arrivals")
        return cls(
            name=data["name"],
            users=tuple(u for u in users if isinstance(u, str)) if isinstance(users, list) else (),
            model=model if model in ("closed", "open") else "closed",
            shape=shape if isinstance(shape, str) else None,
            duration_s=_number(data.get("duration_s")),
            phases=_phases(data.get("phases")),
            peak_users=_int(data.get("peak_users")),
            peak_rate=_number(data.get("peak_rate")),
            arrivals=arrivals if arrivals in _ARRIVALS else None,
            max_in_flight=_int(data.get("max_in_flight")),
        )


@dataclass(frozen=True)
class PlanRecord:
    """A plan's saved form: ``shape`` name, ``duration_s``, ``peak_users`` and its phases.

    Every field is ``None`` (phases empty) when the run recorded no plan. ``model`` and
    ``groups`` are set by :meth:`from_schedule`; ``peak_rate`` too when open groups ran.
    """

    shape: str | None = None
    duration_s: float | None = None
    peak_users: int | None = None
    phases: tuple[Phase, ...] = ()
    model: str | None = None
    groups: tuple[GroupRecord, ...] = ()
    peak_rate: float | None = None

    @classmethod
    def from_plan(cls, plan: LoadPlan) -> PlanRecord:
        """The record of one closed plan on its own (no groups), as runs before open loads
        saved it."""
        return cls(plan.name, plan.duration_s, plan.peak_users, plan.phases)

    @classmethod
    def from_schedule(cls, schedule: LoadSchedule, user_names: Sequence[str]) -> PlanRecord:
        """The record of a run's whole schedule, as the runner saves it; ``user_names`` are
        the scenario's users entries' names, which the groups' indices point into."""
        groups = []
        for group in schedule.groups:
            plan = group.plan
            is_open = group.model == "open"
            groups.append(
                GroupRecord(
                    name=group.name,
                    users=tuple(user_names[i] for i in group.users),
                    model=group.model,
                    shape=plan.name,
                    duration_s=plan.duration_s,
                    phases=plan.phases,
                    peak_users=None if is_open else int(group.peak),
                    peak_rate=group.peak if is_open else None,
                    arrivals=group.arrivals if is_open else None,
                    max_in_flight=group.max_in_flight if is_open else None,
                )
            )
        has_open = schedule.model != "closed"
        return cls(
            shape=schedule.name,
            duration_s=schedule.duration_s,
            peak_users=schedule.peak_users,
            phases=schedule.phases,
            model=schedule.model,
            groups=tuple(groups),
            peak_rate=schedule.peak_rate if has_open else None,
        )

    @classmethod
    def from_record(cls, data: Mapping[str, Any] | None) -> PlanRecord:
        """Read the ``plan`` entry of ``run.json``; anything missing or of the wrong type is
        left out (a phase without a name, start and end is dropped), so old files still read."""
        if not isinstance(data, Mapping):
            return cls()
        shape = data.get("shape")
        model = data.get("model")
        groups = data.get("groups")
        return cls(
            shape=shape if isinstance(shape, str) else None,
            duration_s=_number(data.get("duration_s")),
            peak_users=_int(data.get("peak_users")),
            phases=_phases(data.get("phases")),
            model=model if model in _MODELS else None,
            groups=tuple(
                g
                for g in map(GroupRecord.from_record, groups if isinstance(groups, list) else ())
                if g is not None
            ),
            peak_rate=_number(data.get("peak_rate")),
        )

    @property
    def open_model(self) -> bool:
        """Whether any load of the run was open (arrivals per second)."""
        return self.model in ("open", "mixed")

    @property
    def recorded(self) -> bool:
        """Whether the run recorded a plan at all."""
        return self != PlanRecord()

    def to_record(self) -> dict[str, Any]:
        """The ``plan`` entry of ``run.json`` (``{}`` for no plan), in its documented layout."""
        if not self.recorded:
            return {}
        record: dict[str, Any] = {
            "shape": self.shape,
            "duration_s": self.duration_s,
            "peak_users": self.peak_users,
        }
        if self.peak_rate is not None:
            record["peak_rate"] = self.peak_rate
        record["phases"] = [_phase_record(p) for p in self.phases]
        if self.model is not None:
            record["model"] = self.model
            record["groups"] = [g.to_record() for g in self.groups]
        return record


def _phase_record(phase: Phase) -> dict[str, Any]:
    """A phase as ``run.json`` has it; ``rate`` only where it is set (open loads)."""
    record: dict[str, Any] = {
        "name": phase.name,
        "kind": phase.kind,
        "start_s": phase.start_s,
        "end_s": phase.end_s,
        "users": phase.users,
    }
    if phase.rate is not None:
        record["rate"] = phase.rate
    return record


def _phases(data: Any) -> tuple[Phase, ...]:
    items = data if isinstance(data, list) else ()
    return tuple(phase for phase in map(_phase, items) if phase is not None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
        rate=_number(data.get("rate")),
    )
