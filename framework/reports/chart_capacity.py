"""The capacity chart: each step's measured throughput against its load, and the USL curve.

Load is a number here (users or concurrency), not a category, so the steps sit at their
real distances and the fitted curve runs smoothly between and beyond them; each measured
point carries its throughput interval as a vertical whisker (and, for an open run's
Little's-law concurrency, its load interval as a horizontal one), and the predicted peak
is a diamond with both its intervals. The highest step meeting every budget is ringed.

    >>> from framework.verdicts.capacity import Capacity, CapacityPoint
    >>> from framework.verdicts.results import Figure
    >>> pts = tuple(CapacityPoint(f"step {i}", Figure(float(i)), Figure(10.0 * i, 9.0 * i,
    ...             11.0 * i)) for i in (1, 2, 3))
    >>> capacity_chart(Capacity("stepped", "users", pts)).count('class="point"')
    3
"""

from __future__ import annotations

import math

from framework.reports.charts import (
    Frame,
    format_number,
    legend,
    nice_ticks,
    open_svg,
    series_path,
    svg_escape,
    svg_number,
    value_range,
    whisker_path,
    x_axis,
    y_axis,
)
from framework.verdicts.capacity import Capacity

__all__ = ["capacity_chart"]

_MEASURED = "#2563eb"
_FITTED = "#f59e0b"
_PEAK = "#dc2626"
_PASSING = "#10b981"
_CURVE_POINTS = 120
_MAX_REACH = 3.0  # the curve is drawn to a peak at most this many times the highest load


def capacity_chart(capacity: Capacity, *, width: int = 960, height: int = 320) -> str:
    """Measured throughput per step (dots with interval whiskers) against load, the fitted
    USL curve, and the predicted peak with its intervals on both axes."""
    n, esc = svg_number, svg_escape
    points = [p for p in capacity.points if p.load.value is not None]
    loads = [p.load.value or 0.0 for p in points]
    top_load = max(loads, default=1.0)
    reach = top_load
    peak = capacity.peak_load
    peak_shown = peak is not None and peak.value is not None and peak.value <= _MAX_REACH * top_load
    if peak_shown and peak is not None and peak.value is not None:
        reach = max(reach, peak.value, min(peak.high or peak.value, _MAX_REACH * top_load))
    fit = capacity.fit if capacity.no_fit_reason is None else None
    if fit is not None:
        reach = max(reach, top_load * 1.25)
    x_ticks = nice_ticks(0.0, reach * 1.02)
    curve: list[tuple[float, float | None]] = []
    if fit is not None:
        step = x_ticks[-1] / _CURVE_POINTS
        curve = [(i * step, fit.throughput_at(i * step)) for i in range(1, _CURVE_POINTS + 1)]
    ys = [v for p in points for v in (p.throughput.value, p.throughput.high) if v is not None]
    ys += [y for _, y in curve if y is not None]
    if peak_shown and capacity.peak_throughput is not None:
        pt = capacity.peak_throughput
        ys += [v for v in (pt.value, pt.high) if v is not None and math.isfinite(v)]
    low, high = value_range(ys, floor_zero=True)
    y_ticks = nice_ticks(low, high)
    left, right, top, bottom = 70, 24, 34, 46
    frame = Frame(
        left, top, width - left - right, height - top - bottom,
        x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1],
    )  # fmt: skip
    unit = capacity.load_unit
    title = f"Throughput against load ({unit}): measured and fitted"
    parts = [open_svg(width, height, title, "capacity-chart")]
    parts.append(y_axis(frame, y_ticks, "requests per second", "left", format_number))
    for tick in x_ticks:
        parts.append(
            f'<text x="{n(frame.x(tick))}" y="{n(frame.top + frame.height + 17)}" '
            f'text-anchor="middle" class="tick">{esc(format_number(tick))}</text>'
        )
    parts.append(x_axis(frame, unit, height))
    if curve:
        parts.append(
            f'<path class="series fitted" d="{series_path(frame, curve, step=False)}" '
            f'fill="none" stroke="{_FITTED}" stroke-width="2" stroke-dasharray="6 3"/>'
        )
    for p in points:
        x = frame.x(p.load.value or 0.0)
        t = p.throughput
        if t.value is None:
            continue
        if t.low is not None and t.high is not None:
            d = whisker_path(x, frame.y(t.low), frame.y(t.high), 5)
            parts.append(
                f'<path class="whisker" d="{d}" stroke="{_MEASURED}" stroke-width="1.5" '
                'fill="none"/>'
            )
        if p.load.low is not None and p.load.high is not None:
            y = frame.y(t.value)
            parts.append(
                f'<path class="whisker" d="M{n(frame.x(p.load.low))} {n(y)}'
                f'H{n(frame.x(p.load.high))}" stroke="{_MEASURED}" stroke-width="1" fill="none"/>'
            )
        if p.step == capacity.highest_passing_step:
            parts.append(
                f'<circle class="passing" cx="{n(x)}" cy="{n(frame.y(t.value))}" r="8" '
                f'fill="none" stroke="{_PASSING}" stroke-width="2"/>'
            )
        offered = "" if p.offered is None else f" ({p.offered:g} {capacity.offered_unit})"
        parts.append(
            f'<circle class="point" cx="{n(x)}" cy="{n(frame.y(t.value))}" r="4" '
            f'fill="{_MEASURED}"><title>{esc(p.step)}{esc(offered)}: '
            f"{esc(format_number(t.value))} req/s at {esc(format_number(p.load.value or 0))} "
            f"{esc(unit)}</title></circle>"
        )
    items = [("measured (interval)", _MEASURED, "line")]
    if curve:
        items.append(("fitted USL", _FITTED, "line"))
    if peak_shown and peak is not None and capacity.peak_throughput is not None:
        parts.append(_peak_marker(frame, capacity))
        items.append(("predicted peak (intervals)", _PEAK, "line"))
    if capacity.highest_passing_step is not None:
        items.append(("highest step meeting the budgets", _PASSING, "line"))
    parts.append(legend(items, left, 16, width - right))
    parts.append("</svg>")
    return "".join(parts)


def _peak_marker(frame: Frame, capacity: Capacity) -> str:
    """A diamond at the peak, with its throughput interval up and down and its load
    interval across (an unbounded end runs to the frame's edge)."""
    n, esc = svg_number, svg_escape
    load, through = capacity.peak_load, capacity.peak_throughput
    if load is None or through is None or load.value is None or through.value is None:
        return ""
    x, y = frame.x(load.value), frame.y(through.value)
    parts = []
    x_low = frame.x(load.low) if load.low is not None else frame.left
    x_high = frame.x(min(load.high, frame.x1)) if load.high is not None else frame.x(frame.x1)
    parts.append(
        f'<path class="whisker peak" d="M{n(x_low)} {n(y)}H{n(x_high)}" stroke="{_PEAK}" '
        'stroke-width="1.5" fill="none"/>'
    )
    if through.low is not None:
        y_high = frame.y(through.high) if through.high is not None else frame.top
        d = whisker_path(x, frame.y(through.low), y_high, 5)
        parts.append(
            f'<path class="whisker peak" d="{d}" stroke="{_PEAK}" stroke-width="1.5" fill="none"/>'
        )
    label = (
        f"predicted peak {format_number(through.value)} req/s at "
        f"{format_number(load.value)} {capacity.load_unit}"
    )
    parts.append(
        f'<path class="peak" d="M{n(x)} {n(y - 7)}L{n(x + 7)} {n(y)}L{n(x)} {n(y + 7)}'
        f'L{n(x - 7)} {n(y)}Z" fill="{_PEAK}"><title>{esc(label)}</title></path>'
    )
    return "".join(parts)
