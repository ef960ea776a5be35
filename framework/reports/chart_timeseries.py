"""Line charts over a run's seconds: throughput, users, percentiles and errors over time.

The run report's time charts share one shape: a few series against elapsed time, often on
two y axes (requests per second and users), with shaded bands behind them (the analysed
steady state, the steady-state p95 interval). They carry their drawn points as JSON so the
report's small script can read values under the pointer, which is why they live apart from
the static charts.

    >>> svg = line_chart([Line("p95", ((0, 10.0), (1, 12.0)), "#f59e0b")],
    ...                  x_label="elapsed", y_label="ms")
    >>> svg.startswith("<svg") and "<path" in svg and ">p95<" in svg
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from framework.reports.charts import (
    Format,
    Frame,
    Point,
    format_elapsed,
    format_number,
    legend,
    nice_ticks,
    open_svg,
    round_for_data,
    series_path,
    shorten,
    svg_escape,
    svg_number,
    time_ticks,
    value_frame,
    value_range,
    x_axis,
    y_axis,
)

__all__ = ["Band", "Line", "line_chart"]


@dataclass(frozen=True)
class Line:
    """One series: ``(x, y)`` points in x order; a ``None`` y leaves a gap in the line."""

    label: str
    points: Sequence[Point]
    color: str
    axis: Literal["left", "right"] = "left"
    step: bool = False
    dash: str | None = None
    width: float = 1.75


@dataclass(frozen=True)
class Band:
    """A shaded rectangle from ``x0`` to ``x1``; ``low``/``high`` ``None`` span the plot.

    ``label`` is its tooltip and legend entry (``legend_label`` instead, when given; none
    when ``in_legend`` is false: many bands of one kind share one entry). ``caption`` is
    written inside the plot at the band's top, to name a span (a fault) where it is drawn.
    """

    label: str
    x0: float
    x1: float
    color: str
    low: float | None = None
    high: float | None = None
    opacity: float = 0.18
    caption: str = ""
    in_legend: bool = True
    legend_label: str | None = None


def line_chart(
    lines: Sequence[Line],
    *,
    x_label: str,
    y_label: str,
    y2_label: str | None = None,
    bands: Sequence[Band] = (),
    title: str = "",
    x_format: Format = format_elapsed,
    y_format: Format = format_number,
    y2_format: Format = format_number,
    width: int = 960,
    height: int = 300,
) -> str:
    """A line chart with a left (and optionally right) y axis, bands behind the lines.

    The SVG carries its drawn series as ``data-series`` JSON and its plot geometry as
    ``data-plot``, so the report's small script can show values under the pointer.
    """
    n, esc = svg_number, svg_escape
    right_axis = y2_label is not None and any(line.axis == "right" for line in lines)
    legend_items = [
        (b.legend_label or b.label, b.color, "band") for b in bands if b.label and b.in_legend
    ]
    legend_items += [(line.label, line.color, "line") for line in lines]
    rows = 1 + int(sum(28 + 6.6 * min(len(t), 40) for t, _, _ in legend_items) // (width - 90))
    top = 14 + 16 * rows
    left, right, bottom = 70, (70 if right_axis else 24), 46
    xs = [x for line in lines for x, _ in line.points]
    xs += [v for b in bands for v in (b.x0, b.x1)]
    x0, x1 = value_range(xs, floor_zero=False) if xs else (0.0, 1.0)
    plot = (left, top, width - left - right, height - top - bottom)
    frames: dict[str, tuple[Frame, list[float]]] = {}
    for side in ("left", "right"):
        ys = [y for ln in lines if ln.axis == side for _, y in ln.points if y is not None]
        if side == "left":
            ys += [v for b in bands for v in (b.low, b.high) if v is not None]
        frames[side] = value_frame(ys, plot=plot, x0=x0, x1=x1)
    frame, ticks = frames["left"]
    series = {
        "lines": [
            {
                "label": ln.label,
                "color": ln.color,
                "points": [[round_for_data(x), round_for_data(y)] for x, y in ln.points],
            }
            for ln in lines
        ],
    }
    geometry = [n(v) for v in (frame.left, frame.top, frame.width, frame.height, x0, x1)]
    encoded = esc(json.dumps(series, separators=(",", ":")))
    extra = f' data-plot="{",".join(geometry)}" data-series="{encoded}"'
    parts = [open_svg(width, height, title or y_label, "line-chart", extra)]
    for band in bands:
        y_top = frame.top if band.high is None else frame.y(band.high)
        y_bottom = frame.top + frame.height if band.low is None else frame.y(band.low)
        bx0, bx1 = frame.x(max(band.x0, x0)), frame.x(min(band.x1, x1))
        parts.append(
            f'<rect class="band" x="{n(bx0)}" y="{n(y_top)}" '
            f'width="{n(max(bx1 - bx0, 0.5))}" height="{n(max(y_bottom - y_top, 0.5))}" '
            f'fill="{esc(band.color)}" fill-opacity="{band.opacity}">'
            f"<title>{esc(band.label)}</title></rect>"
        )
    captioned = [b for b in bands if b.caption and b.x1 >= x0 and b.x0 <= x1]
    for i, band in enumerate(captioned):  # alternate rows, so neighbours' names stay apart
        bx = frame.x(max(band.x0, x0)) + 3
        parts.append(
            f'<text class="band-caption" x="{n(bx)}" y="{n(frame.top + 11 + 12 * (i % 2))}" '
            f'fill="{esc(band.color)}">{esc(shorten(band.caption, 30))}'
            f"<title>{esc(band.label)}</title></text>"
        )
    parts.append(y_axis(frame, ticks, y_label, "left", y_format))
    if right_axis:
        rframe, rticks = frames["right"]
        parts.append(y_axis(rframe, rticks, y2_label or "", "right", y2_format))
    for tick in time_ticks(x0, x1) if x_format is format_elapsed else nice_ticks(x0, x1, 8):
        if x0 <= tick <= x1:
            px = frame.x(tick)
            parts.append(
                f'<line x1="{n(px)}" x2="{n(px)}" y1="{n(frame.top + frame.height)}" '
                f'y2="{n(frame.top + frame.height + 4)}" class="axis"/>'
                f'<text x="{n(px)}" y="{n(frame.top + frame.height + 17)}" '
                f'text-anchor="middle" class="tick">{esc(x_format(tick))}</text>'
            )
    parts.append(x_axis(frame, x_label, height))
    for line in lines:
        use = frames[line.axis][0] if right_axis else frame
        d = series_path(use, line.points, line.step)
        if d:
            dash = f' stroke-dasharray="{esc(line.dash)}"' if line.dash else ""
            parts.append(
                f'<path class="series" d="{d}" fill="none" stroke="{esc(line.color)}" '
                f'stroke-width="{line.width}" stroke-linejoin="round"{dash}>'
                f"<title>{esc(line.label)}</title></path>"
            )
    parts.append(legend(legend_items, left, 16, width - right))
    parts.append("</svg>")
    return "".join(parts)
