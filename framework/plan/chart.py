"""Show a load plan in a terminal: a chart of users over time, then a table of its phases.

An open plan is drawn the same way in arrivals per second; a schedule of several load
groups (:func:`render_schedule`) draws each group, then their sum (one chart per unit:
users of the closed groups, arrivals per second of the open ones), then the combined phases.

People check a :class:`~framework.plan.shapes.LoadPlan` before spending an hour of cluster time
on it, so the CLI can print it before a run starts. Rendering is pure and deterministic:
the same plan and size always give the same text, which the tests compare on literals.
Only block characters are used, no colour, so the output survives CI logs and copy-paste::

    stepped: 3m, peak 30 users
    30 ┤                                ████████████████
       │                ████████████████████████████████
     0 ┤████████████████████████████████████████████████
       └┬───────────────┬───────────────┬──────────────┬
        0s              1m              2m            3m

    phase           kind     start   end  users
    ramp-up         ramp        0s    5s     10
    step 1          plateau     5s    1m     10
    ramp to step 2  ramp        1m  1m5s     20
    ...
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from framework.plan.groups import LoadGroup, LoadSchedule
from framework.plan.rates import RatePlan
from framework.plan.shapes import LoadPlan, Phase

__all__ = ["RATE_UNIT", "USERS_UNIT", "format_duration", "render_plan", "render_schedule"]

# Eighth blocks, so a column's top edge is drawn to 1/8 of a row.
_BLOCKS = " ▁▂▃▄▅▆▇█"
# Candidate spacings between x-axis ticks, in seconds: round numbers a reader expects.
_TICK_STEPS_S = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip
# Sample points per column: enough to catch a wave's crest; steps are caught at phase starts.
_SAMPLES_PER_COLUMN = 8
_MIN_PLOT_WIDTH = 10
_MIN_HEIGHT = 2


def format_duration(seconds: float) -> str:
    """Seconds as ``1h2m3s``, dropping zero parts: ``90 -> "1m30s"``, ``3600 -> "1h"``.

    Fractions are kept to a tenth of a second (``1.5 -> "1.5s"``), because short test plans
    use sub-second stages; hours are the largest unit since load tests rarely run for days.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"format_duration: seconds must be a number, got {seconds!r}")
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"format_duration: seconds must be finite and >= 0, got {seconds!r}")
    tenths = round(seconds * 10)
    whole, fraction = divmod(tenths, 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if fraction:
        parts.append(f"{secs}.{fraction}s")
    elif secs or not parts:
        parts.append(f"{secs}s")
    return "".join(parts)


def render_plan(plan: LoadPlan | RatePlan, *, width: int = 72, height: int = 12) -> str:
    """Draw ``plan`` as a users-over-time chart ``width`` characters wide and ``height`` rows tall.

    Each column covers ``duration_s / plot_width`` seconds and shows the highest target in that
    span, so a spike shorter than a column still shows. The y axis is labelled with the peak,
    half the peak and 0; the x axis with round times (``0s``, ``2m``, ``10m30s``) and the end.
    Below the chart is one line per phase: name, kind, start, end, users. An open plan
    (:class:`~framework.plan.rates.RatePlan`) is drawn the same way in arrivals per second.

        >>> from framework.plan.shapes import constant
        >>> print(render_plan(constant(users=5, spawn_rate=5, duration_s=60), width=20, height=2))
        constant: 1m, peak 5 users
        5 ┤█████████████████
        0 ┤█████████████████
          └┬───────────────┬
           0s             1m
        <BLANKLINE>
        phase    kind     start  end  users
        ramp-up  ramp        0s   1s      5
        steady   plateau     1s   1m      5
    """
    if isinstance(plan, RatePlan):
        series = _Series(plan.duration_s, _rate_of(plan), plan.peak_rate, RATE_UNIT)
        table = _phase_table(plan.phases, rate=True)
    else:
        series = _Series(plan.duration_s, plan.users_at, plan.peak_users, USERS_UNIT)
        table = _phase_table(plan.phases, users=True)
    lines = [f"{plan.name}: {format_duration(plan.duration_s)}, peak {_level(series)}"]
    lines += _chart(series, [p.start_s for p in plan.phases], "render_plan", width, height)
    return "\n".join([*lines, "", *table])


def render_schedule(
    schedule: LoadSchedule,
    *,
    width: int = 72,
    height: int = 12,
    user_names: Sequence[str] = (),
) -> str:
    """Draw every load group of ``schedule``, then their sum, then the combined phases.

    ``user_names`` (the scenario's users entries' names) name who runs under each group.

    A closed group is drawn in users, an open one in arrivals per second; the sum is drawn
    once per unit (users of the closed groups together, arrivals per second of the open
    ones), since the two do not add up. A schedule the engine does not run (one closed load
    shared by every users entry) is :func:`render_plan` of its plan, as before.
    """
    if not schedule.engine:
        return render_plan(schedule.locust_plan(), width=width, height=height)
    starts = [p.start_s for p in schedule.phases]
    lines = []
    for group in schedule.groups:
        lines.append(f"group {group.name} ({group.model}): {_group_detail(group, user_names)}")
        lines.append(render_plan(group.plan, width=width, height=height))
        lines.append("")
    if len(schedule.groups) > 1:
        title = f"all groups: {schedule.name}, {format_duration(schedule.duration_s)}"
        if schedule.model != "open":
            users = _Series(schedule.duration_s, schedule.users_at, schedule.peak_users, USERS_UNIT)
            lines.append(f"{title}, users of the closed groups together, peak {_level(users)}")
            lines += _chart(users, starts, "render_schedule", width, height)
            lines.append("")
        if schedule.model != "closed":
            rate = _Series(schedule.duration_s, schedule.rate_at, schedule.peak_rate, RATE_UNIT)
            lines.append(f"{title}, arrivals of the open groups together, peak {_level(rate)}")
            lines += _chart(rate, starts, "render_schedule", width, height)
            lines.append("")
        lines.append("combined phases (cut at every group's phase boundary):")
        lines += _phase_table(
            schedule.phases, users=schedule.model != "open", rate=schedule.model != "closed"
        )
    return "\n".join(lines).rstrip("\n")


USERS_UNIT = "users"
RATE_UNIT = "arrivals/s"


@dataclass(frozen=True)
class _Series:
    """One line of a chart: a length, the level at each moment, its peak and its unit."""

    duration_s: float
    value_at: Callable[[float], float]
    peak: float
    unit: str


def _rate_of(plan: RatePlan) -> Callable[[float], float]:
    def rate(elapsed_s: float) -> float:
        return plan.rate_at(elapsed_s) or 0.0

    return rate


def _number(value: float) -> str:
    return f"{value:g}" if not float(value).is_integer() else str(int(value))


def _level(series: _Series) -> str:
    return f"{_number(series.peak)} {series.unit}"


def _group_detail(group: LoadGroup, user_names: Sequence[str]) -> str:
    """Who runs under a group, and how an open group's arrivals are spaced and bounded."""
    if len(user_names) > max(group.users):
        who = [
            f"{user_names[i]} (weight {w})" for i, w in zip(group.users, group.weights, strict=True)
        ]
        detail = f"users entries {', '.join(who)}"
    else:
        detail = f"weights {', '.join(map(str, group.weights))}"
    if group.model == "open":
        detail += f", {group.arrivals} arrivals, max_in_flight {group.max_in_flight} per worker"
    return detail


def _chart(series: _Series, starts: list[float], where: str, width: int, height: int) -> list[str]:
    """The chart rows and the x axis of ``series``; ``where`` names the caller in errors."""
    if isinstance(height, bool) or not isinstance(height, int) or height < _MIN_HEIGHT:
        raise ValueError(f"{where}: height must be an integer >= {_MIN_HEIGHT}, got {height!r}")
    label_w = len(_number(series.peak))
    gutter = label_w + 2
    plot_w = width - gutter if isinstance(width, int) and not isinstance(width, bool) else -1
    if plot_w < _MIN_PLOT_WIDTH:
        raise ValueError(
            f"{where}: width must leave at least {_MIN_PLOT_WIDTH} columns after the "
            f"{gutter}-character axis, got {width!r}"
        )
    values = _column_values(series, starts, plot_w)
    lines = _chart_rows(values, series.peak, height, label_w)
    axis, labels = _x_axis(series.duration_s, plot_w)
    lines.append(" " * (label_w + 1) + "└" + axis)
    lines.append((" " * gutter + labels).rstrip())
    return lines


def _column_values(series: _Series, starts: list[float], columns: int) -> list[float]:
    """The highest level in each column's time span, sampled evenly and at every phase start."""
    span_s = series.duration_s / columns
    values = []
    for c in range(columns):
        lo, hi = c * span_s, (c + 1) * span_s
        times = [lo + k * span_s / _SAMPLES_PER_COLUMN for k in range(_SAMPLES_PER_COLUMN)]
        times += [t for t in starts if lo <= t < hi]
        values.append(max(series.value_at(t) for t in times))
    return values


def _chart_rows(values: list[float], peak: float, height: int, label_w: int) -> list[str]:
    """Rows top to bottom; labelled rows get ``┤``, the rest ``│``."""
    labels = {height - 1: _number(peak), 0: "0"}
    if height >= 4:
        middle = height // 2 - 1
        labels.setdefault(middle, str(round(peak * (middle + 1) / height)))
    rows = []
    for r in range(height - 1, -1, -1):
        cells = []
        for value in values:
            fill = (value / peak * height - r) if peak else 0.0
            cells.append(_BLOCKS[max(0, min(8, round(fill * 8)))])
        label = labels.get(r)
        prefix = f"{label:>{label_w}} ┤" if label is not None else " " * label_w + " │"
        rows.append((prefix + "".join(cells)).rstrip())
    return rows


def _x_axis(duration_s: float, columns: int) -> tuple[str, str]:
    """The axis line (``┬`` at ticks) and the labels under it, both ``columns`` wide.

    Ticks sit at multiples of the roundest step that fits about one label per 10 columns; the
    end is always labelled, right-aligned, and any tick label that would touch another is
    dropped rather than overlapped.
    """
    max_ticks = max(1, columns // 10)
    step_s = next((s for s in _TICK_STEPS_S if duration_s / s <= max_ticks), _TICK_STEPS_S[-1])
    axis = ["─"] * columns
    labels = [" "] * columns
    end_label = format_duration(duration_s)
    end_start = columns - len(end_label)
    axis[-1] = "┬"
    labels[end_start:] = end_label
    k = 0
    while k * step_s < duration_s:
        col = round(k * step_s / duration_s * columns)
        text = format_duration(round(k * step_s, 1))
        k += 1
        if col + len(text) >= end_start:  # keep a space before the end label
            break
        if (col > 0 and labels[col - 1] != " ") or any(
            ch != " " for ch in labels[col : col + len(text)]
        ):
            continue
        axis[col] = "┬"
        labels[col : col + len(text)] = text
    return "".join(axis), "".join(labels)


def _phase_table(phases: Sequence[Phase], *, users: bool = False, rate: bool = False) -> list[str]:
    """One aligned line per phase, under a header: name, kind, start, end, then users
    and/or the arrival rate."""
    header = ("phase", "kind", "start", "end")
    header += ("users",) * users + ("arrivals/s",) * rate
    rows = [
        (p.name, p.kind, format_duration(p.start_s), format_duration(p.end_s))
        + (str(p.users),) * users
        + (_number(p.rate) if p.rate is not None else "-",) * rate
        for p in phases
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [f"{row[0]:<{widths[0]}}", f"{row[1]:<{widths[1]}}"]
        cells += [f"{cell:>{w}}" for cell, w in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
    return lines
