"""Charts over named categories: values with intervals per step or run, and counted bars.

A stepped run's throughput and p95 per step, each run's overall p95 in a comparison, and
the failures by kind are all one value per category rather than a line over time, so
their charts place categories at even spacing and draw each value's confidence interval
as a whisker, or draw counts as bars, largest first.

    >>> svg = interval_chart(["10 u", "20 u"],
    ...                      [IntervalSeries("p95", [Interval(12.0, 11.0, 13.0), Interval(15.0)],
    ...                                      "#f59e0b")], x_label="step", y_label="ms")
    >>> svg.count('class="whisker"'), svg.count("<circle")
    (1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from framework.reports.charts import (
    Format,
    Frame,
    Point,
    format_number,
    legend,
    open_svg,
    series_path,
    shorten,
    svg_escape,
    svg_number,
    value_frame,
    whisker_path,
    x_axis,
    y_axis,
)

__all__ = ["Interval", "IntervalSeries", "bar_chart", "interval_chart"]


@dataclass(frozen=True)
class Interval:
    """A value and its confidence interval; ``None`` parts are not drawn."""

    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class IntervalSeries:
    """One value with its interval per category, drawn as a dot with whiskers."""

    label: str
    values: Sequence[Interval]
    color: str
    axis: Literal["left", "right"] = "left"


def interval_chart(
    categories: Sequence[str],
    series: Sequence[IntervalSeries],
    *,
    x_label: str,
    y_label: str,
    y2_label: str | None = None,
    highlight: str | None = None,
    highlight_label: str = "",
    title: str = "",
    y_format: Format = format_number,
    width: int = 960,
    height: int = 300,
) -> str:
    """Values with confidence intervals per category (e.g. per step): dots, whiskers and a
    connecting line; ``highlight`` shades one category (the knee)."""
    n, esc = svg_number, svg_escape
    right_axis = y2_label is not None and any(s.axis == "right" for s in series)
    left, right, top, bottom = 70, (70 if right_axis else 24), 34, 46
    count = max(len(categories), 1)
    plot = (left, top, width - left - right, height - top - bottom)
    frames: dict[str, tuple[Frame, list[float]]] = {}
    for side in ("left", "right"):
        ys = [
            v
            for s in series
            if s.axis == side
            for i in s.values
            for v in (i.value, i.low, i.high)
            if v is not None
        ]
        frames[side] = value_frame(ys, plot=plot, x0=-0.5, x1=count - 0.5)
    frame, ticks = frames["left"]
    parts = [open_svg(width, height, title or y_label, "interval-chart")]
    if highlight in categories:
        index = list(categories).index(highlight)
        bx0, bx1 = frame.x(index - 0.5), frame.x(index + 0.5)
        parts.append(
            f'<rect class="band" x="{n(bx0)}" y="{n(frame.top)}" width="{n(bx1 - bx0)}" '
            f'height="{n(frame.height)}" fill="#6366f1" fill-opacity="0.12">'
            f"<title>{esc(highlight_label or highlight)}</title></rect>"
        )
    parts.append(y_axis(frame, ticks, y_label, "left", y_format))
    if right_axis:
        rframe, rticks = frames["right"]
        parts.append(y_axis(rframe, rticks, y2_label or "", "right", y_format))
    for i, name in enumerate(categories):
        shown = shorten(name, 18)
        parts.append(
            f'<text x="{n(frame.x(i))}" y="{n(frame.top + frame.height + 17)}" '
            f'text-anchor="middle" class="tick">{esc(shown)}<title>{esc(name)}</title></text>'
        )
    parts.append(x_axis(frame, x_label, height))
    offset = 0.08 * (len(series) - 1)
    for k, s in enumerate(series):
        use = frames[s.axis][0] if right_axis else frame
        shift = -offset + 0.16 * k
        points: list[Point] = [(i + shift, iv.value) for i, iv in enumerate(s.values)]
        d = series_path(use, points, step=False)
        if d:
            parts.append(
                f'<path class="series" d="{d}" fill="none" stroke="{esc(s.color)}" '
                f'stroke-width="1.5" stroke-opacity="0.6"/>'
            )
        for i, iv in enumerate(s.values):
            if iv.value is None:
                continue
            cx = use.x(i + shift)
            if iv.low is not None and iv.high is not None:
                d = whisker_path(cx, use.y(iv.low), use.y(iv.high), 5)
                parts.append(
                    f'<path class="whisker" d="{d}" '
                    f'stroke="{esc(s.color)}" stroke-width="1.5" fill="none"/>'
                )
            parts.append(
                f'<circle class="point" cx="{n(cx)}" cy="{n(use.y(iv.value))}" r="4" '
                f'fill="{esc(s.color)}"><title>{esc(s.label)} at {esc(categories[i])}: '
                f"{esc(y_format(iv.value))}</title></circle>"
            )
    items = [(s.label, s.color, "line") for s in series]
    if highlight in categories:
        items.append((highlight_label or "knee", "#6366f1", "band"))
    parts.append(legend(items, left, 16, width - right))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    x_label: str,
    title: str = "",
    color: str = "#dc2626",
    value_format: Format = format_number,
    width: int = 960,
    max_bars: int = 12,
) -> str:
    """Horizontal bars, largest first (at most ``max_bars``, the rest summed as "other")."""
    n, esc = svg_number, svg_escape
    ordered = sorted(bars, key=lambda b: -b[1])
    if len(ordered) > max_bars:
        rest = sum(v for _, v in ordered[max_bars - 1 :])
        ordered = [*ordered[: max_bars - 1], (f"{len(bars) - max_bars + 1} other kinds", rest)]
    row, top, left = 24, 10, 300
    height = top + row * max(len(ordered), 1) + 44
    frame = Frame(left, top, width - left - 90, row * max(len(ordered), 1), 0, 1, 0, 1)
    peak = max((v for _, v in ordered), default=0) or 1
    parts = [open_svg(width, height, title or x_label, "bar-chart")]
    for i, (label, value) in enumerate(ordered):
        y = top + i * row
        shown = shorten(label, 44)
        length = value / peak * frame.width
        parts.append(
            f'<text x="{left - 8}" y="{n(y + 16)}" text-anchor="end" class="tick">'
            f"{esc(shown)}<title>{esc(label)}</title></text>"
            f'<rect class="bar" x="{left}" y="{n(y + 4)}" width="{n(max(length, 1))}" '
            f'height="{row - 8}" fill="{esc(color)}"><title>{esc(label)}: '
            f"{esc(value_format(value))}</title></rect>"
            f'<text x="{n(left + max(length, 1) + 6)}" y="{n(y + 16)}" class="tick">'
            f"{esc(value_format(value))}</text>"
        )
    base = top + frame.height
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{n(base)}" class="axis"/>'
        f'<text x="{n(left + frame.width / 2)}" y="{n(base + 30)}" text-anchor="middle" '
        f'class="axis-label">{esc(x_label)}</text></svg>'
    )
    return "".join(parts)
