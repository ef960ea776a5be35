"""The arrivals each open load group's plan asked for, per second: what no ``arr`` line shows.

The timeline's ``arr`` lines count the arrivals that were *due* on some load generator. An
arrival due on none is in no line: a worker that died takes its share of the schedule with
it until the master notices (its heartbeat, 4–6 s), and a generator whose clock stalled or
that started late never lays out the arrivals it skipped. Only the plan knows them. So the
plan is rebuilt here from the run folder (the saved ``scenario.yaml``, overrides applied,
with ``run.json``'s ``time_scale``) and laid on the timeline's seconds: the plan's clock
starts at the run's ``running`` phase and stands still while the run is paused
(``framework.live.feed.LiveFeed.plan_elapsed_s``, the rule the master gives the
generators), and the seconds marked paused are left out, as every other figure leaves them.

    >>> from framework.plan.rates import constant
    >>> plan = ArrivalPlan({"scenario": constant(rate=10, duration_s=60)}, {},
    ...                    start_s=100.0, spans=[(110.5, 120.5)])
    >>> plan.planned("scenario", [104, 110, 115, 121]).tolist()
    [10.0, 5.0, 0.0, 10.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from framework.plan.load_plan import rate_plan_for
from framework.plan.rates import RatePlan
from framework.run.folder import RunRecord
from framework.scenario.model import SHARED_GROUP, LoadSpec
from framework.timeline.records import Timeline
from framework.verdicts.analysis import paused_spans, run_start_s

__all__ = ["ArrivalPlan", "arrival_plan", "open_rate_plans", "plan_elapsed_s"]

_LOAD = TypeAdapter(LoadSpec)
_SAME_DURATION_S = 1e-6


def plan_elapsed_s(wall_s: float, start_s: float, spans: Sequence[tuple[float, float]]) -> float:
    """Where the plan's clock stood at unix time ``wall_s``: time since ``start_s`` less the
    time paused since (the inverse of ``framework.verdicts.analysis.wall_time_s``), never
    below 0.

        >>> plan_elapsed_s(145.0, 100.0, [(110.0, 125.0)])
        30.0
    """
    paused = sum(max(0.0, min(hi, wall_s) - max(lo, start_s)) for lo, hi in spans)
    return max(0.0, wall_s - start_s - paused)


@dataclass(frozen=True)
class ArrivalPlan:
    """Each open group's :class:`RatePlan` and how it sits on the run's unix seconds.

    ``plans`` map a group's name to its plan and ``arrivals`` to its arrival model
    (``"uniform"`` or ``"poisson"``); ``start_s`` is when the plan's clock started and
    ``spans`` the ``(start_s, end_s)`` stretches it stood still (paused).
    ``workers_lost`` says that ``run.json`` recorded a worker lost or gone missing, the
    likely reason when arrivals were missed.
    """

    plans: Mapping[str, RatePlan]
    arrivals: Mapping[str, str]
    start_s: float
    spans: Sequence[tuple[float, float]] = ()
    workers_lost: bool = False

    def planned(self, group: str, seconds: Iterable[int]) -> np.ndarray:
        """Arrivals ``group``'s plan lays out in each unix second ``[t, t + 1)``: the integral
        of its rate over the plan time those wall seconds cover (0 while paused)."""
        plan = self.plans[group]
        found = []
        for t in seconds:
            lo = plan_elapsed_s(float(t), self.start_s, self.spans)
            hi = plan_elapsed_s(float(t) + 1.0, self.start_s, self.spans)
            found.append(plan.expected_arrivals(lo, max(lo, hi)))
        return np.array(found, dtype=float)


def open_rate_plans(
    scenario: Mapping[str, Any], *, time_scale: float = 1.0
) -> dict[str, tuple[RatePlan, str]]:
    """Each open load group of the saved ``scenario`` (plain data): its plan at ``time_scale``
    and its arrival model, by the group names of ``framework.plan.groups.schedule_for``
    (``"scenario"`` for the shared load, a users entry's name for its own).

    A load section that does not validate on its own (a ``${VAR}`` in a rate, say) is left
    out: its group's planned arrivals are then unknown, never guessed.
    """
    users = scenario.get("users")
    users = [u for u in users if isinstance(u, Mapping)] if isinstance(users, list) else []
    sections: list[tuple[str, Any]] = []
    if any(u.get("load") is None for u in users) and scenario.get("load") is not None:
        sections.append((SHARED_GROUP, scenario["load"]))
    sections += [(str(u.get("name")), u["load"]) for u in users if u.get("load") is not None]
    found = {}
    for name, raw in sections:
        try:
            load = _LOAD.validate_python(raw)
        except ValidationError:
            continue
        if getattr(load, "model", None) != "open":
            continue
        try:
            found[name] = (rate_plan_for(load, time_scale=time_scale), str(load.arrivals))
        except (TypeError, ValueError):
            continue
    return found


def arrival_plan(
    run: RunRecord, timeline: Timeline, scenario: Mapping[str, Any]
) -> ArrivalPlan | None:
    """The run's open groups' plans on its clock, from its saved scenario and ``run.json``;
    ``None`` when the run had no open group or its scenario is not there.

    A rebuilt plan whose length differs from the one ``run.json`` recorded for its group
    (the saved scenario is not the one that ran) is left out.
    """
    plans = open_rate_plans(scenario, time_scale=run.time_scale)
    if run.plan.groups:
        recorded = {g.name: g.duration_s for g in run.plan.groups if g.model == "open"}
    else:  # one load, recorded as the whole plan
        recorded = {name: run.plan.duration_s for name in plans} if len(plans) == 1 else {}
    kept = {
        name: found
        for name, found in plans.items()
        if recorded.get(name) is not None
        and math.isclose(found[0].duration_s, float(recorded[name] or 0), abs_tol=_SAME_DURATION_S)
    }
    if not kept:
        return None
    return ArrivalPlan(
        {name: plan for name, (plan, _) in kept.items()},
        {name: arrivals for name, (_, arrivals) in kept.items()},
        start_s=run_start_s(run, timeline),
        spans=tuple(paused_spans(run)),
        workers_lost=bool(run.worker_events),
    )
