"""Per-phase baselines of each load group, when a run had several (user kinds with their own load).

A run whose ``users`` entries carry their own ``load`` runs several load groups at once (a
steady background of readers and a spike of writers, say): ``run.json``'s plan lists each
under ``groups`` with its phases. A phase of one group is analysed over the request names
of that group's users entries only, so the writers' spike is judged on the writers'
requests, not diluted by the readers'. Which names a users entry sends comes from the run's
saved scenario (``framework.scenario.loader.requests_by_user``: the rule that names them for
Locust); the windows are the plan's phases moved by pauses, as the plan's own steps are.

Example::

    found = group_phases(data.record, timeline, data.scenario, settings, columns=columns)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from framework.run.folder import RunRecord
from framework.scenario.budgets import ValidationRules
from framework.scenario.loader import requests_by_user
from framework.timeline.columns import TimelineColumns
from framework.timeline.endpoints import endpoint_key
from framework.timeline.records import Timeline
from framework.verdicts.analysis import AnalysisSettings, analyse_window, phase_windows
from framework.verdicts.planned_arrivals import ArrivalPlan
from framework.verdicts.results import GroupPhase, GroupPhases

__all__ = ["PHASE_KINDS", "group_phases"]

PHASE_KINDS = ("plateau", "spike", "wave")
"""The phases of a group analysed on their own: every kind but the ramps, whose load is
still changing (a single group's plan analyses only its plateaus, as before)."""


def group_phases(
    run: RunRecord,
    timeline: Timeline,
    scenario: Mapping[str, Any],
    settings: AnalysisSettings,
    *,
    columns: TimelineColumns,
    rules: ValidationRules | None = None,
    plan: ArrivalPlan | None = None,
) -> tuple[GroupPhases, ...]:
    """Each load group's phases analysed over that group's request names, when the plan
    has more than one group (``()`` otherwise, and for a group none of whose names ran);
    ``plan`` (the open groups' plans) sets each phase's arrivals against the planned ones."""
    groups = run.plan.groups
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
        phases = []
        for phase, window in phase_windows(run, timeline, group.phases, PHASE_KINDS):
            analysed = analyse_window(
                timeline,
                window,
                settings,
                columns=columns,
                names=keys,
                groups=(group.name,),
                rules=rules,
                plan=plan,
            )
            phases.append(GroupPhase(phase.kind, phase.rate, analysed.window))
        found.append(GroupPhases(group.name, group.model, group.users, keys, tuple(phases)))
    return tuple(found)
