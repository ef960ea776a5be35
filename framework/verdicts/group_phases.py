"""Per-phase baselines of each load group, when a run had several (user kinds with their own load).

A run whose ``users`` entries carry their own ``load`` runs several load groups at once (a
steady background of readers and a spike of writers, say): ``run.json``'s plan lists each
under ``groups`` with its phases. A phase of one group is analysed over the request names
of that group's users entries only, so the writers' spike is judged on the writers'
requests, not diluted by the readers'. Which names a users entry sends comes from the run's
saved scenario (``framework.scenario.loader.requests_by_user``: the rule that names them for
Locust); the windows are the plan's phases moved by pauses, as the plan's own steps are.

Example::

    found = group_phases(data.run, timeline, data.scenario, settings, columns=columns)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from framework.plan.record import PlanRecord
from framework.plan.shapes import Phase
from framework.scenario.budgets import ValidationRules
from framework.scenario.loader import requests_by_user
from framework.timeline.columns import TimelineColumns
from framework.timeline.endpoints import endpoint_key
from framework.timeline.records import Timeline
from framework.verdicts.analysis import AnalysisSettings, analyse_window, phase_windows
from framework.verdicts.results import GroupPhase, GroupPhases

__all__ = ["PHASE_KINDS", "LoadGroupRecord", "group_phases", "load_groups"]

PHASE_KINDS = ("plateau", "spike", "wave")
"""The phases of a group analysed on their own: every kind but the ramps, whose load is
still changing (a single group's plan analyses only its plateaus, as before)."""


@dataclass(frozen=True)
class LoadGroupRecord:
    """One load group as ``run.json``'s plan records it: its name, model, users entries,
    and its phases with the planned rate of each (``None`` for closed phases)."""

    name: str
    model: str
    users: tuple[str, ...]
    phases: tuple[tuple[Phase, float | None], ...]


def _rate(data: Mapping[str, Any]) -> float | None:
    rate = data.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    return float(rate)


def load_groups(run: Mapping[str, Any]) -> list[LoadGroupRecord]:
    """The load groups of ``run.json``'s plan (``plan.groups``), read tolerantly: a group
    without a name, or a phase without name, start and end, is left out."""
    plan = run.get("plan")
    groups = plan.get("groups") if isinstance(plan, Mapping) else None
    found = []
    for group in groups if isinstance(groups, list) else ():
        if not isinstance(group, Mapping) or not isinstance(group.get("name"), str):
            continue
        phases = []
        for raw in group.get("phases") or ():
            parsed = PlanRecord.from_record({"phases": [raw]}).phases
            if parsed and isinstance(raw, Mapping):
                phases.append((parsed[0], _rate(raw)))
        users = group.get("users")
        model = group.get("model")
        found.append(
            LoadGroupRecord(
                name=group["name"],
                model=model if isinstance(model, str) else "closed",
                users=tuple(u for u in users if isinstance(u, str))
                if isinstance(users, list)
                else (),
                phases=tuple(phases),
            )
        )
    return found


def group_phases(
    run: Mapping[str, Any],
    timeline: Timeline,
    scenario: Mapping[str, Any],
    settings: AnalysisSettings,
    *,
    columns: TimelineColumns,
    rules: ValidationRules | None = None,
) -> tuple[GroupPhases, ...]:
    """Each load group's phases analysed over that group's request names, when the plan
    has more than one group (``()`` otherwise, and for a group none of whose names ran)."""
    groups = load_groups(run)
    if len(groups) < 2:
        return ()
    sent = requests_by_user(scenario)
    seen = set(columns.names())
    found = []
    for group in groups:
        keys = tuple(
            dict.fromkeys(
                endpoint_key(method, name)
                for user in group.users
                for method, name in sent.get(user, ())
                if endpoint_key(method, name) in seen
            )
        )
        if not keys:
            continue
        rates = {phase: rate for phase, rate in group.phases}
        phases = []
        for phase, window in phase_windows(run, timeline, rates, PHASE_KINDS):
            rate = rates[phase]
            if rate is not None:  # an open phase: its level is a rate, not users
                window = replace(window, users=None)
            analysed = analyse_window(
                timeline,
                window,
                settings,
                columns=columns,
                names=keys,
                groups=(group.name,),
                rules=rules,
            )
            phases.append(GroupPhase(phase.kind, rate, analysed.window))
        found.append(GroupPhases(group.name, group.model, group.users, keys, tuple(phases)))
    return tuple(found)
