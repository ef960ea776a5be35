"""The trend chart: one metric across a scenario's runs, with the runs where its level moved.

``swarm history --html`` exists to answer "when did this get slower?", so its chart is
built around the change points that ``history.trend`` found: a vertical line between the
last run before a shift and the first after it, labelled ("+8.2% at run X") and red when
worse, green when better, with the level of each stretch between shifts drawn dashed.
Each run is a point with its confidence interval as a whisker; its hover title names the
run, its time and the interval.

Example::

    shown = trend(store.history("checkout", "overall", "p95"), metric="p95", scenario="checkout")
    svg = trend_chart(shown)                              # the history page's main chart
    small = trend_chart(shown, compact=True, width=420, height=210)   # a small multiple
"""

from __future__ import annotations

import itertools
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
    whisker_path,
    x_axis,
    y_axis,
)
from framework.reports.formatting import format_value, metric_unit
from framework.store.history import UNITS, Trend

__all__ = ["BETTER", "CHANGED", "COLORS", "WORSE", "trend_chart", "trend_unit", "unit_of"]

COLORS = {"p95": "#f59e0b", "p50": "#10b981", "p99": "#ef4444", "mean": "#0ea5e9",
          "median": "#10b981", "throughput": "#2563eb", "error_rate": "#7c3aed"}  # fmt: skip
"""The line colour of each history metric (the run report's colours for the same figures)."""

WORSE, BETTER, CHANGED = "#dc2626", "#16a34a", "#d97706"
"""The colours of a change point where the metric got worse, better, or (a custom counter's
rate, which has no worse direction) changed."""


def unit_of(metric: str) -> str:
    """The unit ``format_value`` takes for a history metric (``%`` for fractions)."""
    return UNITS.get(metric, "ms")


def trend_unit(history: Trend) -> str:
    """The unit ``format_value`` takes for a trend: a custom metric's own, else ``unit_of``."""
    if history.unit is None:
        return unit_of(history.metric)
    return metric_unit(history.unit, history.metric)


def trend_chart(
    history: Trend,
    *,
    title: str = "",
    width: int = 960,
    height: int = 340,
    compact: bool = False,
) -> str:
    """The metric over the runs (oldest left): line, CI whiskers, level of each stretch, and
    a labelled vertical line at each change point, between the last run before it and the
    first run after it. Every point's hover title names its run, time and interval."""
    n, esc = svg_number, svg_escape
    points = history.points
    count = len(points)
    unit = trend_unit(history)
    color = COLORS.get(history.metric, "#f59e0b")

    def fmt(value: float) -> str:
        return f"{value * 100:.3g}%" if unit == "%" else format_number(value)

    labels = [] if compact else [s.describe() for s in history.shifts]
    label_rows = min(len(labels), 3)
    top = 34 + 15 * label_rows
    left, right, bottom = (56 if compact else 70), 24, (36 if compact else 46)
    ys = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    ticks = nice_ticks(max(low - pad, 0.0) if low >= 0 else low - pad, high + pad,
                       4 if compact else 5)  # fmt: skip
    frame = Frame(left, top, width - left - right, height - top - bottom,
                  -0.5, max(count, 1) - 0.5, ticks[0], ticks[-1])  # fmt: skip
    name = title or f"{history.metric} of {history.name} over runs"
    parts = [open_svg(width, height, name, "trend-chart"), y_axis(frame, ticks, None, "left", fmt)]
    base_y = top + frame.height
    step = max(1, math.ceil(count / (6 if compact else 12)))
    for i in range(0, count, step):
        parts.append(
            f'<text x="{n(frame.x(i))}" y="{n(base_y + 16)}" text-anchor="middle" '
            f'class="tick">{i + 1}<title>{esc(points[i].run_id)}</title></text>'
        )
    parts.append(x_axis(frame, None if compact else "run (oldest → newest)", height))
    if not compact:
        parts.append(
            f'<text transform="translate({left - 52},{n(top + frame.height / 2)}) rotate(-90)" '
            f'text-anchor="middle" class="axis-label">{esc(f"{history.metric} ({unit})")}</text>'
        )
    for first, end, mean in _segments(history):
        y = frame.y(mean)
        parts.append(
            f'<path class="level" d="M{n(frame.x(first - 0.5))} {n(y)}'
            f'H{n(frame.x(end - 0.5))}" stroke="#475569" stroke-width="1.5" '
            f'stroke-dasharray="6 4" fill="none"><title>level of runs {first + 1}–{end}: '
            f"{esc(format_value(mean, unit))}</title></path>"
        )
    for k, shift in enumerate(history.shifts):
        x = frame.x(shift.index - 0.5)
        stroke = {"worse": WORSE, "better": BETTER}.get(shift.judged, CHANGED)
        parts.append(
            f'<line class="change-point" x1="{n(x)}" x2="{n(x)}" y1="{n(top - 4)}" '
            f'y2="{n(base_y)}" stroke="{stroke}" stroke-width="2" stroke-dasharray="4 3">'
            f"<title>{esc(shift.describe())} ({shift.judged}, "
            f"p = {shift.p_value:.2g})</title></line>"
        )
        if labels:
            y = 30 + 15 * (k % max(label_rows, 1)) + 10
            anchor, dx = ("end", -5) if x > left + frame.width * 0.7 else ("start", 5)
            parts.append(
                f'<text class="change-label" x="{n(x + dx)}" y="{n(y)}" '
                f'text-anchor="{anchor}" fill="{stroke}" font-weight="600" '
                f'style="font-size:12px">{esc(labels[k])}</text>'
            )
    path = series_path(frame, [(i, p.value) for i, p in enumerate(points)], step=False)
    if path:
        parts.append(f'<path class="series" d="{path}" fill="none" stroke="{color}" '
                     f'stroke-width="1.75" stroke-linejoin="round"/>')  # fmt: skip
    for i, p in enumerate(points):
        cx = frame.x(i)
        interval = ""
        if p.low is not None and p.high is not None:
            cap = 3 if compact else 4
            interval = f" [{format_value(p.low, unit, with_unit=False)}, " \
                       f"{format_value(p.high, unit, with_unit=False)}]"  # fmt: skip
            d = whisker_path(cx, frame.y(p.low), frame.y(p.high), cap)
            parts.append(
                f'<path class="whisker" d="{d}" stroke="{color}" stroke-width="1.2" '
                f'stroke-opacity="0.7" fill="none"/>'
            )
        tip = (f"#{i + 1} {p.run_id} · {str(p.started_at)[:16].replace('T', ' ')}: "
               f"{format_value(p.value, unit)}{interval}")  # fmt: skip
        parts.append(
            f'<circle class="point" cx="{n(cx)}" cy="{n(frame.y(p.value))}" '
            f'r="{2.5 if compact else 3.5}" fill="{color}"><title>{esc(tip)}</title></circle>'
        )
    items = [(history.metric, color, "line"), ("level between change points", "#475569", "line")]
    if history.shifts:
        items += [("change point, worse", WORSE, "line"), ("change point, better", BETTER, "line")]
    parts.append(legend(items if not compact else items[:1], left, 16, width - right))
    parts.append("</svg>")
    return "".join(parts)


def _segments(history: Trend) -> list[tuple[int, int, float]]:
    """(first, end, mean) of each stretch of runs between change points."""
    values = history.values
    cuts = [0, *(s.index for s in history.shifts), len(values)]
    return [(a, b, sum(values[a:b]) / (b - a)) for a, b in itertools.pairwise(cuts) if b > a]
