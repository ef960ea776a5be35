"""The open-model and load-group parts of every report, worded once.

An open-model run's reports show each request name's response time from the intended start
beside its service time (where they part, requests waited behind their schedule: the
coordinated omission a closed model hides), each load group's schedule lag and dropped
arrivals, and, for a run of several load groups, each group's phases. The Markdown, HTML
and terminal renderers lay out what this module words; nothing here escapes (each format
escapes its own way), and a closed-model run gets nothing from here, so its reports are
as they were.

Example::

    for label, row in name_rows(results.open_model):
        cells = [label] + [format_figure(p.response) for p in latency_pairs(row)]
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from framework.reports.formatting import format_figure, format_value
from framework.verdicts.results import (
    ArrivalGroup,
    Figure,
    GroupPhase,
    OpenModel,
    OpenModelName,
    Results,
)

__all__ = [
    "OPEN_MODEL_NOTE",
    "LatencyPair",
    "console_lines",
    "latency_pairs",
    "missed_notes",
    "missed_text",
    "name_rows",
    "phase_load",
    "planned_text",
    "run_start",
]

OPEN_MODEL_NOTE = (
    "Response time counts from the moment each request was due (what a user of the service "
    "experiences); service time from the moment it was actually sent (what a closed model "
    "measures). Where they part, requests waited behind their schedule: the coordinated "
    "omission a closed model hides."
)
"""What the two latencies mean, said the same in every format."""


@dataclass(frozen=True)
class LatencyPair:
    """One percentile of one name: from the intended start, and from the actual send."""

    level: str
    response: Figure
    service: Figure


def latency_pairs(row: OpenModelName) -> list[LatencyPair]:
    """p50, p95 and p99 of ``row``, each response time beside its service time."""
    return [
        LatencyPair("p50", row.response.p50_ms, row.service.p50_ms),
        LatencyPair("p95", row.response.p95_ms, row.service.p95_ms),
        LatencyPair("p99", row.response.p99_ms, row.service.p99_ms),
    ]


def name_rows(open_model: OpenModel) -> list[tuple[str, OpenModelName]]:
    """``(label, row)`` for all requests together (when given) and then each name."""
    rows = [("All requests", open_model.overall)] if open_model.overall is not None else []
    return rows + [(row.key, row) for row in open_model.names]


def phase_load(phase: GroupPhase) -> str:
    """A group phase's planned load: ``50 arrivals/s`` (open) or ``10 users`` (closed)."""
    if phase.rate is not None:
        return f"{phase.rate:g} arrivals/s"
    users = phase.window.users
    return "–" if users is None else f"{users} users"


def _dropped(fraction: float | None) -> str:
    return format_value(fraction, "%")


def planned_text(group: ArrivalGroup) -> str:
    """The arrivals the plan asked for, whole (``–`` when its plan could not be rebuilt)."""
    return "–" if group.planned is None else f"{group.planned:,.0f}"


def missed_text(group: ArrivalGroup) -> str:
    """Arrivals never due, and their share of the planned: ``250 (4.24%)``; ``–`` unknown."""
    if group.missed is None:
        return "–"
    return f"{group.missed:,} ({_dropped(group.missed_fraction)})"


def missed_notes(open_model: OpenModel, run_start_s: float | None = None) -> list[str]:
    """One sentence per load group whose missed arrivals exceed their tolerance: how many,
    when (seconds from ``run_start_s``, else unix seconds), and the likely cause."""
    notes = []
    for g in open_model.groups:
        if not g.missed_counted:
            continue
        when = ""
        if g.short_from_s is not None and g.short_to_s is not None:
            origin = run_start_s or 0.0
            first, last = g.short_from_s - origin, g.short_to_s - origin
            when = f", most between {first:,.0f} s and {last:,.0f} s"
            if run_start_s is not None:
                when += " into the run"
        cause = (
            "a load generator was lost, and its share of the schedule was neither sent nor "
            "counted until the master noticed"
            if open_model.workers_lost
            else "the generator did not keep the schedule (a stalled clock or a late start)"
        )
        notes.append(
            f"{g.group}: {g.missed:,} of {g.planned or 0:,.0f} planned arrivals were never due "
            f"on any load generator{when}: {cause}."
        )
    return notes


def console_lines(results: Results) -> list[str]:
    """The terminal summary's open-model lines: each name's p99 from the intended start
    and from the send, each group's lag and drops; none for a closed-model run."""
    found = results.open_model
    if found is None:
        return []
    lines = ["  open model: p99 from the intended start vs from the send (service time)"]
    for label, row in name_rows(found):
        lines.append(
            f"  {label[:28]:<28} response p99 {format_figure(row.response.p99_ms):>24}   "
            f"service p99 {format_figure(row.service.p99_ms):>24}"
        )
    for g in found.groups:
        lines.append(
            f"  load group {g.group[:20]:<20} lag p50 {format_figure(g.lag_p50_ms)}, "
            f"p99 {format_figure(g.lag_p99_ms)}; {g.started:,} of {g.due:,} arrivals started, "
            f"{g.dropped:,} dropped ({_dropped(g.dropped_fraction)})"
            + (
                ""
                if g.missed is None
                else f"; {missed_text(g)} of {planned_text(g)} planned missed"
            )
        )
    lines += [f"  ! {note}" for note in missed_notes(found, run_start(results))]
    return lines


def run_start(results: Results) -> float | None:
    """When the run's load began (unix seconds): its ``running`` phase in ``run.json``,
    else its first second; ``None`` when neither is there."""
    for phase in results.run.get("phases") or ():
        if isinstance(phase, dict) and phase.get("name") == "running":
            with contextlib.suppress(TypeError, ValueError):
                return datetime.fromisoformat(str(phase["at"]).replace("Z", "+00:00")).timestamp()
    return float(results.series[0].t) if results.series else None
