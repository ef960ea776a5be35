"""A scenario's ``faults:`` on the plan's clock: when each starts and ends, against what.

Pure: a phase's start comes from the schedule (already scaled), the written ``at`` offset
and ``duration`` are scaled by ``--time-scale`` as every duration of load is, so a fault
keeps its place in the plan. ``recovery_sla`` and a command's timeout are not scaled: they
are about the system, not the plan. ``fault_record`` is the one shape of a fault in
``run.json`` (its ``faults`` list), which the run rewrites as faults start and end.

    >>> from framework.plan.groups import LoadSchedule, LoadGroup
    >>> from framework.plan.shapes import constant
    >>> from framework.scenario.faults import FaultSpec
    >>> plan = constant(users=5, spawn_rate=5, duration_s=60)
    >>> schedule = LoadSchedule.of([LoadGroup("scenario", (0,), (1,), "closed", plan)])
    >>> fault = FaultSpec.model_validate(
    ...     {"at": "30s", "duration": "20s", "admin_url": "http://h:1", "set": {"outage": True}})
    >>> [(f.name, f.start_s, f.end_s) for f in resolve_faults([fault], schedule, time_scale=0.5)]
    [('mock-1', 15.0, 25.0)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from framework.plan.groups import LoadSchedule
from framework.plan.shapes import LoadPlan, Phase
from framework.scenario.faults import FaultSpec

if TYPE_CHECKING:
    from framework.errors import Problem
    from framework.scenario.loader import LoadedScenario
    from framework.scenario.model import Scenario

__all__ = [
    "FAULT_STATUSES",
    "FaultPlanError",
    "PlannedFault",
    "describe_fault",
    "fault_problems",
    "fault_record",
    "planned_faults",
    "render_faults",
    "resolve_faults",
]

FAULT_STATUSES = ("planned", "active", "ended", "failed", "skipped")
"""A fault's ``status`` in run.json: not yet started, in force, ended as planned (or with the
run), a start or end that failed, never started (the run ended first)."""


@dataclass(frozen=True)
class PlannedFault:
    """One fault on the plan's clock (plan seconds, after ``--time-scale``).

    ``target`` is the mock's admin base URL, or the start command; ``action`` is the mock's
    settings as written (``{"outage": True}``) or ``{"start", "stop", "timeout_s"}``.
    """

    name: str
    start_s: float
    end_s: float
    kind: Literal["mock", "command"]
    target: str
    action: Mapping[str, Any] = field(default_factory=dict)
    recovery_sla_s: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Plain data (how the master is handed its faults)."""
        return {
            "name": self.name,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "kind": self.kind,
            "target": self.target,
            "action": dict(self.action),
            "recovery_sla_s": self.recovery_sla_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedFault:
        """The inverse of ``to_dict``."""
        sla = data.get("recovery_sla_s")
        return cls(
            name=str(data["name"]),
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            kind="command" if data.get("kind") == "command" else "mock",
            target=str(data["target"]),
            action=dict(data.get("action") or {}),
            recovery_sla_s=None if sla is None else float(sla),
        )


class FaultPlanError(ValueError):
    """Faults that do not fit the plan; ``problems`` are ``(key path, message)`` pairs."""

    def __init__(self, problems: Sequence[tuple[tuple[Any, ...], str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in self.problems))


def _phases_and_end(plan: LoadSchedule | LoadPlan) -> tuple[tuple[Phase, ...], float]:
    return tuple(plan.phases), float(plan.duration_s)


def resolve_faults(
    faults: Sequence[FaultSpec],
    plan: LoadSchedule | LoadPlan,
    *,
    time_scale: float = 1.0,
    mock_urls: Mapping[str, str] | None = None,
) -> tuple[PlannedFault, ...]:
    """``faults`` on ``plan``'s clock; ``FaultPlanError`` for a start at or after the plan's
    end or an unknown phase. A mock not in ``mock_urls`` keeps its name as ``target``."""
    phases, end_s = _phases_and_end(plan)
    by_name: dict[str, Phase] = {}
    for phase in phases:
        by_name.setdefault(phase.name, phase)
    urls = mock_urls or {}
    planned, problems = [], []
    for i, fault in enumerate(faults):
        offset_s = fault.at.offset * time_scale
        if fault.at.phase is not None:
            phase = by_name.get(fault.at.phase)
            if phase is None:
                names = ", ".join(repr(n) for n in by_name) or "none"
                problems.append(
                    (("faults", i, "at", "phase"),
                     f"the plan has no phase {fault.at.phase!r}; its phases: {names} "
                     "(swarm plan shows them)"),
                )  # fmt: skip
                continue
            start_s = phase.start_s + offset_s
        else:
            start_s = offset_s
        if start_s >= end_s:
            problems.append(
                (("faults", i, "at"),
                 f"starts at {start_s:g} s of the plan, at or after its end ({end_s:g} s"
                 f"{_scaled(time_scale)}); a fault must start while the load runs"),
            )  # fmt: skip
            continue
        if fault.command is not None:
            kind: Literal["mock", "command"] = "command"
            target = fault.command.start
            action: dict[str, Any] = {
                "start": fault.command.start,
                "stop": fault.command.stop,
                "timeout_s": fault.command.timeout,
            }
        else:
            kind = "mock"
            target = fault.admin_url or urls.get(fault.mock or "", fault.mock or "")
            action = fault.set.body() if fault.set is not None else {}
        planned.append(
            PlannedFault(
                name=fault.default_name(i),
                start_s=start_s,
                end_s=start_s + fault.duration * time_scale,
                kind=kind,
                target=target,
                action=action,
                recovery_sla_s=fault.recovery_sla,
            )
        )
    if problems:
        raise FaultPlanError(problems)
    return tuple(planned)


def _scaled(time_scale: float) -> str:
    return f" with --time-scale {time_scale:g}" if time_scale != 1.0 else ""


def planned_faults(
    scenario: LoadedScenario | Scenario,
    plan_or_schedule: LoadSchedule | LoadPlan,
    *,
    time_scale: float = 1.0,
) -> tuple[PlannedFault, ...]:
    """The faults of ``scenario`` (a ``LoadedScenario``, whose mock names resolve to admin
    URLs, or a bare ``Scenario``) on the plan's clock; ``FaultPlanError`` if one does not
    fit the plan. ``time_scale`` scales the written offsets and durations; give the
    schedule made with the same scale."""
    from framework.scenario.loader import LoadedScenario

    if isinstance(scenario, LoadedScenario):
        model, urls = scenario.scenario, scenario.mock_urls
    else:
        model, urls = scenario, {}
    return resolve_faults(model.faults, plan_or_schedule, time_scale=time_scale, mock_urls=urls)


def fault_problems(
    loaded: LoadedScenario, schedule: LoadSchedule
) -> tuple[list[Problem], list[Problem]]:
    """The located errors (a fault that does not fit the plan) and warnings (a fault that
    ends after the plan: its recovery cannot be measured) of ``loaded``'s faults."""
    try:
        planned = planned_faults(loaded, schedule, time_scale=loaded.time_scale)
    except FaultPlanError as exc:
        return [loaded.problem_at(path, message) for path, message in exc.problems], []
    warnings = []
    for i, fault in enumerate(planned):
        if fault.end_s > schedule.duration_s:
            message = (
                f"fault {fault.name!r} ends at {fault.end_s:g} s, after the plan's end "
                f"({schedule.duration_s:g} s): it is ended with the run, and its recovery "
                "cannot be measured"
            )
            warnings.append(loaded.problem_at(("faults", i, "duration"), message))
    return [], warnings


def fault_record(
    fault: PlannedFault,
    *,
    status: str = "planned",
    started_at: str | None = None,
    ended_at: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One entry of run.json's ``faults``: the plan (plan seconds) and what happened (ISO
    UTC times, ``None`` when it never did; ``status`` one of ``FAULT_STATUSES``)."""
    return {
        "name": fault.name,
        "kind": fault.kind,
        "target": fault.target,
        "action": dict(fault.action),
        "planned_start_s": round(fault.start_s, 3),
        "planned_end_s": round(fault.end_s, 3),
        "recovery_sla_s": fault.recovery_sla_s,
        "started_at": started_at,
        "ended_at": ended_at,
        "status": status,
        "error": error,
    }


def describe_fault(fault: PlannedFault) -> str:
    """One line: ``outage: 30s–50s, mock http://127.0.0.1:8001 outage=True, recovery SLA 2s``."""
    from framework.plan.chart import format_duration

    span = f"{format_duration(fault.start_s)}–{format_duration(fault.end_s)}"
    if fault.kind == "mock":
        settings = " ".join(f"{k}={v}" for k, v in fault.action.items())
        what = f"mock {fault.target} {settings}"
    else:
        stop = fault.action.get("stop")
        what = f"command {fault.target!r}" + (f", stop {stop!r}" if stop else "")
    sla = fault.recovery_sla_s
    return f"{fault.name}: {span}, {what}" + (
        f", recovery SLA {format_duration(sla)}" if sla else ""
    )


def render_faults(faults: Sequence[PlannedFault], duration_s: float, *, width: int = 72) -> str:
    """A strip per fault on the plan's time axis (``█`` while it is in force), then its line:
    what ``swarm plan`` prints under the chart.

        >>> f = PlannedFault("outage", 3.0, 6.0, "mock", "http://h:1", {"outage": True})
        >>> print(render_faults([f], 12.0, width=12))
        faults on the plan's clock:
          outage ···███······
            outage: 3s–6s, mock http://h:1 outage=True
    """
    if not faults:
        return ""
    label = max(len(f.name) for f in faults)
    lines = ["faults on the plan's clock:"]
    end_s = max([duration_s, *(f.end_s for f in faults)])
    for fault in faults:
        cells = []
        for column in range(width):
            t0, t1 = end_s * column / width, end_s * (column + 1) / width
            on = fault.start_s < t1 and fault.end_s > t0
            cells.append("█" if on else "·")
        lines.append(f"  {fault.name:<{label}} {''.join(cells)}")
        lines.append(f"    {describe_fault(fault)}")
    return "\n".join(lines)
