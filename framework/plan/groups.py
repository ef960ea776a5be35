"""Load groups: which users entries run under which load, and the whole run's schedule.

A scenario's users entries either share the scenario-level ``load`` (by weight, as before)
or carry a ``load`` of their own, closed (users) or open (arrivals per second). Each load
with the entries running under it is a :class:`LoadGroup`; the groups run side by side, and
:class:`LoadSchedule` is all of them together: the longest group's length, and phases cut at
every group's phase boundary so that each second of the run belongs to one combined phase::

    >>> from framework.plan import rates, shapes
    >>> readers = LoadGroup("readers", (0,), (1,), "open", rates.constant(rate=50, duration_s=60))
    >>> writers = LoadGroup("writers", (1,), (1,), "closed",
    ...     shapes.constant(users=10, spawn_rate=10, duration_s=30))
    >>> schedule = LoadSchedule.of((readers, writers))
    >>> [(p.name, p.start_s, p.end_s, p.users, p.rate) for p in schedule.phases]
    [('readers steady + writers ramp-up', 0.0, 1.0, 10, 50.0), \
('readers steady + writers steady', 1.0, 30.0, 10, 50.0), ('readers steady', 30.0, 60.0, 0, 50.0)]
    >>> schedule.engine, schedule.users_at(10), schedule.rate_at(10)
    (True, 10, 50.0)

Today's case, one closed load shared by every users entry, is one closed group; its
schedule is not run by swarm's engine (``engine`` is ``False``) and :meth:`LoadSchedule.
locust_plan` is that group's plan unchanged, so such runs behave exactly as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from framework.plan.load_plan import plan_for, rate_plan_for
from framework.plan.rates import RatePlan
from framework.plan.shapes import LoadPlan, Phase, Stage, phase_containing
from framework.scenario.model import SHARED_GROUP, Scenario

__all__ = ["KIND_PRIORITY", "LoadGroup", "LoadSchedule", "schedule_for"]

KIND_PRIORITY = ("ramp", "spike", "wave", "plateau")
"""Which kind a combined phase takes when its groups' phases differ: the first listed.
A second in which any group ramps describes a change, not a level."""
_DIGITS = 9


@dataclass(frozen=True)
class LoadGroup:
    """One load and the users entries running under it.

    ``name`` is the users entry's name for its own load, ``"scenario"`` for the shared one;
    ``users`` are indices into ``scenario.users`` and ``weights`` theirs (which kind a started
    user, or an arrival, is picked by). ``arrivals`` and ``max_in_flight`` (per load
    generator) are for open groups; closed groups have the defaults.
    """

    name: str
    users: tuple[int, ...]
    weights: tuple[int, ...]
    model: Literal["closed", "open"]
    plan: LoadPlan | RatePlan
    arrivals: Literal["uniform", "poisson"] = "uniform"
    max_in_flight: int | None = None

    def users_at(self, elapsed_s: float) -> int:
        """Users this group runs at ``elapsed_s`` (0 for an open group, or once it ended)."""
        plan = self.plan
        return plan.users_at(elapsed_s) if isinstance(plan, LoadPlan) else 0

    def rate_at(self, elapsed_s: float) -> float:
        """Arrivals per second due at ``elapsed_s`` (0 for a closed group, or once it ended)."""
        plan = self.plan
        if not isinstance(plan, RatePlan):
            return 0.0
        return plan.rate_at(elapsed_s) or 0.0

    @property
    def peak(self) -> float:
        """Peak users (closed) or peak arrivals per second (open)."""
        plan = self.plan
        return plan.peak_users if isinstance(plan, LoadPlan) else plan.peak_rate


@dataclass(frozen=True)
class LoadSchedule:
    """Every group of a run, side by side, and their combined phases.

    ``duration_s`` is the longest group's; ``phases`` are cut at every group's phase
    boundaries, named ``"<group> <phase>"`` joined with ``" + "`` (just the phase name when
    there is one group), of the kind ramp > spike > wave > plateau among them, with ``users``
    the sum of the closed groups' phase users and ``rate`` the sum of the open groups' phase
    rates (``None`` when no open group runs then). Build one with :meth:`of`.
    """

    groups: tuple[LoadGroup, ...]
    duration_s: float
    phases: tuple[Phase, ...]

    @classmethod
    def of(cls, groups: Sequence[LoadGroup]) -> LoadSchedule:
        """The schedule of ``groups``: its length and its combined phases."""
        groups = tuple(groups)
        if not groups:
            raise ValueError("LoadSchedule.of: at least one group is needed, got none")
        duration = max(g.plan.duration_s for g in groups)
        return cls(groups, duration, _combined_phases(groups))

    @property
    def engine(self) -> bool:
        """Whether swarm's engine runs the groups: ``False`` only for one closed group holding
        every users entry, which Locust's own shape runs as before."""
        if len(self.groups) != 1:
            return True
        return self.groups[0].model != "closed"

    @property
    def model(self) -> Literal["closed", "open", "mixed"]:
        """``"closed"`` or ``"open"`` when every group is, else ``"mixed"``."""
        models = {g.model for g in self.groups}
        return models.pop() if len(models) == 1 else "mixed"  # type: ignore[return-value]

    @property
    def name(self) -> str:
        """The shape of a one-group schedule; the groups' shapes joined by ``" + "`` else."""
        return " + ".join(g.plan.name for g in self.groups)

    def users_at(self, elapsed_s: float) -> int:
        """Users of every closed group at ``elapsed_s``, together."""
        return sum(g.users_at(elapsed_s) for g in self.groups)

    def rate_at(self, elapsed_s: float) -> float:
        """Arrivals per second due at ``elapsed_s`` over every open group."""
        return sum(g.rate_at(elapsed_s) for g in self.groups)

    @property
    def peak_users(self) -> int:
        """The highest number of users the closed groups run together (phase levels)."""
        return max((p.users for p in self.phases), default=0)

    @property
    def peak_rate(self) -> float:
        """The highest arrival rate the open groups ask for together (phase levels)."""
        return max((p.rate or 0.0 for p in self.phases), default=0.0)

    def phase_at(self, elapsed_s: float) -> Phase | None:
        """The combined phase containing ``elapsed_s``, or ``None`` outside the schedule."""
        return phase_containing(self.phases, elapsed_s)

    def locust_plan(self) -> LoadPlan:
        """The plan Locust's shape runs: the one group's plan when the engine is not used;
        else the schedule's length and phases with 0 users throughout (the engine starts the
        users and arrivals itself; Locust's shape only keeps the run going to its end)."""
        if not self.engine:
            plan = self.groups[0].plan
            assert isinstance(plan, LoadPlan)
            return plan
        return LoadPlan(self.name, self.duration_s, self.phases, _ENGINE_STAGE)


@dataclass(frozen=True)
class _Idle:
    """The level of Locust's own shape under the engine: no users of its own."""

    def __call__(self, elapsed_s: float) -> Stage:
        return Stage(users=0, spawn_rate=1)


_ENGINE_STAGE = _Idle()


def _combined_phases(groups: Sequence[LoadGroup]) -> tuple[Phase, ...]:
    """Cut the run at every group's phase boundary; name, kind and levels per cut."""
    cuts = sorted(
        {round(t, _DIGITS) for g in groups for p in g.plan.phases for t in (p.start_s, p.end_s)}
    )
    if len(groups) == 1:
        return tuple(groups[0].plan.phases)
    phases = []
    for start_s, end_s in itertools.pairwise(cuts):
        middle = (start_s + end_s) / 2
        parts = [(g, g.plan.phase_at(middle)) for g in groups]
        active = [(g, p) for g, p in parts if p is not None]
        if not active:
            continue
        name = " + ".join(f"{g.name} {p.name}" for g, p in active)
        kinds = {p.kind for _, p in active}
        kind = next((k for k in KIND_PRIORITY if k in kinds), active[0][1].kind)
        users = sum(p.users for g, p in active if g.model == "closed")
        open_rates = [p.rate or 0.0 for g, p in active if g.model == "open"]
        rate = sum(open_rates) if open_rates else None
        phases.append(Phase(name, start_s, end_s, users, kind, rate=rate))
    return tuple(phases)


def schedule_for(scenario: Scenario, *, time_scale: float = 1.0) -> LoadSchedule:
    """The groups of ``scenario`` and their schedule, durations scaled by ``time_scale``.

    The entries without a load of their own form the group ``"scenario"`` under the
    scenario-level load (first, when there is one); each entry with its own load is a group
    named after it, in the order of ``users``.
    """
    groups = []
    shared = [i for i, user in enumerate(scenario.users) if user.load is None]
    if shared:
        if scenario.load is None:
            raise ValueError(
                "schedule_for: users entries without a load of their own need the scenario's load"
            )
        groups.append(_group(SHARED_GROUP, shared, scenario, scenario.load, time_scale=time_scale))
    for i, user in enumerate(scenario.users):
        if user.load is not None:
            groups.append(_group(user.name, [i], scenario, user.load, time_scale=time_scale))
    return LoadSchedule.of(groups)


def _group(
    name: str, users: Sequence[int], scenario: Scenario, load: Any, *, time_scale: float
) -> LoadGroup:
    weights = tuple(scenario.users[i].weight for i in users)
    if load.model == "open":
        return LoadGroup(
            name,
            tuple(users),
            weights,
            "open",
            rate_plan_for(load, time_scale=time_scale),
            arrivals=load.arrivals,
            max_in_flight=load.max_in_flight,
        )
    return LoadGroup(name, tuple(users), weights, "closed", plan_for(load, time_scale=time_scale))
