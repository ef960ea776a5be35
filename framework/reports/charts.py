"""The parts every swarm SVG chart is built from: frame, axes, ticks, legend, escaping.

Reports must work offline and from a single file, so charts are drawn as inline SVG text
on the server rather than by a JavaScript library from a CDN. Each kind of chart lives in
its own module (``chart_timeseries``, ``chart_categories``, ``chart_comparison``,
``chart_trend``); this one holds what they share, so every chart escapes text, rounds
coordinates, spaces ticks and draws axes and legends the same way. Every function is pure:
numbers in, SVG text out, and every string from the scenario goes through ``svg_escape``.
Long series are thinned with ``downsample`` so a one-hour run stays a few hundred kilobytes.

    >>> frame = Frame(left=70, top=20, width=800, height=200, x0=0, x1=10, y0=0, y1=100)
    >>> frame.x(5), frame.y(100)
    (470.0, 20.0)
    >>> series_path(frame, [(0, 0.0), (5, None), (10, 50.0)], step=False)
    'M70 220M870 120'
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_POINTS",
    "Format",
    "Frame",
    "Point",
    "downsample",
    "flow",
    "format_elapsed",
    "format_number",
    "legend",
    "nice_ticks",
    "open_svg",
    "round_for_data",
    "series_path",
    "shorten",
    "svg_escape",
    "svg_number",
    "time_ticks",
    "value_frame",
    "value_range",
    "whisker_path",
    "x_axis",
    "y_axis",
]

MAX_POINTS = 1000
Point = tuple[float, float | None]
Format = Callable[[float], str]


@dataclass(frozen=True)
class Frame:
    """The plot area in SVG units (``left``, ``top``, ``width``, ``height``) and the data
    ranges it shows (``x0``–``x1``, ``y0``–``y1``); ``x`` and ``y`` map data to SVG units.

    ``y`` clamps to the range, so a whisker past the top tick stops at the frame's edge.
    """

    left: float
    top: float
    width: float
    height: float
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * self.width

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        clamped = min(max(value, self.y0), self.y1)
        return self.top + self.height - (clamped - self.y0) / span * self.height


def svg_escape(text: object) -> str:
    """``text`` safe inside SVG element text and attribute values (quotes too)."""
    return html.escape(str(text), quote=True)


def svg_number(value: float) -> str:
    """A coordinate with at most one decimal and no trailing zeros: ``12``, ``12.5``."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis, if it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def round_for_data(value: float | None) -> float | None:
    """Three significant digits at least, to keep the embedded hover data small."""
    if value is None or value == 0:
        return value
    digits = max(0, 3 - math.floor(math.log10(abs(value))) - 1)
    return round(value, digits)


def format_number(value: float) -> str:
    """Axis labels: ``1.5k`` for thousands, at most three significant digits below."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}"


def format_elapsed(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` for an offset in seconds."""
    s = round(seconds)
    sign, s = ("-", -s) if s < 0 else ("", s)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{sec:02d}" if h else f"{sign}{m}:{sec:02d}"


def downsample(
    points: Sequence[Point], max_points: int = MAX_POINTS, how: Literal["max", "mean"] = "mean"
) -> list[Point]:
    """At most ``max_points`` points: consecutive buckets reduced to their max or mean.

    ``max`` keeps spikes visible (use it for latency percentiles), ``mean`` keeps areas
    (throughput, users). A bucket whose values are all ``None`` stays a gap. The bucket's x
    is its first point's, so steps stay aligned with the run's seconds.
    """
    if max_points < 1:
        raise ValueError(f"downsample: max_points must be >= 1, got {max_points}")
    if len(points) <= max_points:
        return list(points)
    size = math.ceil(len(points) / max_points)
    out: list[Point] = []
    for start in range(0, len(points), size):
        bucket = points[start : start + size]
        ys = [y for _, y in bucket if y is not None]
        y = None if not ys else max(ys) if how == "max" else sum(ys) / len(ys)
        out.append((bucket[0][0], y))
    return out


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10ⁿ apart) covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value < high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200)


def time_ticks(low: float, high: float, count: int = 8) -> list[float]:
    """Ticks in ``[low, high]`` seconds at a step a clock reads well (15 s, 5 min, 1 h …)."""
    span = max(high - low, 1.0)
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) // step) + 1)]


def value_range(values: Sequence[float], floor_zero: bool) -> tuple[float, float]:
    """``(low, high)`` of ``values``, never empty (``high > low``); from 0 with ``floor_zero``."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if floor_zero:
        low = min(low, 0.0)
    if high <= low:
        high = low + (abs(high) or 1.0)
    return low, high


def value_frame(
    ys: Sequence[float], *, plot: tuple[float, float, float, float], x0: float, x1: float
) -> tuple[Frame, list[float]]:
    """A frame whose y range runs from 0 (or below) to round ticks covering ``ys``, and the
    ticks; ``plot`` is ``(left, top, width, height)`` in SVG units."""
    low, high = value_range(ys, floor_zero=True)
    ticks = nice_ticks(low, high)
    return Frame(*plot, x0, x1, ticks[0], ticks[-1]), ticks


def open_svg(width: int, height: int, title: str, kind: str, extra: str = "") -> str:
    """The ``<svg>`` start tag (class ``chart <kind>``, scaled by ``viewBox``) and its title,
    which screen readers announce; ``extra`` is more attributes, already escaped."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{svg_escape(title)}"{extra}>'
        f"<title>{svg_escape(title)}</title>"
    )


def flow(
    widths: Sequence[float], x: float, y: float, right: float, gap: float
) -> list[tuple[float, float]]:
    """Where items of these widths go, laid out from ``(x, y)`` left to right ``gap`` apart,
    wrapping to a row 16 units lower before ``right`` (a legend's swatches and labels)."""
    spots, cx, cy = [], x, y
    for width in widths:
        if cx + width > right and cx > x:
            cx, cy = x, cy + 16
        spots.append((cx, cy))
        cx += width + gap
    return spots


def legend(items: Sequence[tuple[str, str, str]], x: float, y: float, right: float) -> str:
    """Swatches and labels in a row from ``(x, y)``, wrapping before ``right``.

    ``items`` are ``(label, color, kind)``; ``kind`` ``"band"`` draws a shaded block, any
    other a line. Labels past 40 characters are cut, with the whole one as a tooltip.
    """
    shown = [shorten(label, 40) for label, _, _ in items]
    spots = flow([22 + 6.6 * len(text) for text in shown], x, y, right, gap=14)
    parts = []
    for (label, color, kind), text, (cx, cy) in zip(items, shown, spots, strict=True):
        if kind == "band":
            swatch = f'<rect x="{svg_number(cx)}" y="{svg_number(cy - 8)}" width="14" height="10" '
            swatch += f'fill="{svg_escape(color)}" fill-opacity="0.3"/>'
        else:
            swatch = f'<rect x="{svg_number(cx)}" y="{svg_number(cy - 4)}" width="14" height="3" '
            swatch += f'fill="{svg_escape(color)}"/>'
        parts.append(
            f'{swatch}<text x="{svg_number(cx + 18)}" y="{svg_number(cy)}" class="legend">'
            f"{svg_escape(text)}<title>{svg_escape(label)}</title></text>"
        )
    return '<g class="chart-legend">' + "".join(parts) + "</g>"


def y_axis(frame: Frame, ticks: Sequence[float], label: str | None, side: str, fmt: Format) -> str:
    """Tick labels on the ``left`` (with grid lines across the frame) or ``right`` side,
    and ``label`` turned along the axis (none when ``None``)."""
    n = svg_number
    parts = []
    for tick in ticks:
        y = frame.y(tick)
        if side == "left":
            parts.append(
                f'<line x1="{n(frame.left)}" x2="{n(frame.left + frame.width)}" '
                f'y1="{n(y)}" y2="{n(y)}" class="grid"/>'
                f'<text x="{n(frame.left - 6)}" y="{n(y + 4)}" text-anchor="end" '
                f'class="tick">{svg_escape(fmt(tick))}</text>'
            )
        else:
            parts.append(
                f'<text x="{n(frame.left + frame.width + 6)}" y="{n(y + 4)}" '
                f'class="tick">{svg_escape(fmt(tick))}</text>'
            )
    if label is not None:
        middle = frame.top + frame.height / 2
        x = frame.left - 50 if side == "left" else frame.left + frame.width + 50
        angle = -90 if side == "left" else 90
        parts.append(
            f'<text transform="translate({n(x)},{n(middle)}) rotate({angle})" '
            f'text-anchor="middle" class="axis-label">{svg_escape(label)}</text>'
        )
    return "".join(parts)


def x_axis(frame: Frame, label: str | None, height: int) -> str:
    """The line along the frame's bottom and ``label`` centred under it, near the bottom
    of an SVG ``height`` units tall (no label when ``None``)."""
    n = svg_number
    bottom = frame.top + frame.height
    text = f'<line x1="{n(frame.left)}" x2="{n(frame.left + frame.width)}" '
    text += f'y1="{n(bottom)}" y2="{n(bottom)}" class="axis"/>'
    if label is not None:
        text += (
            f'<text x="{n(frame.left + frame.width / 2)}" y="{height - 6}" '
            f'text-anchor="middle" class="axis-label">{svg_escape(label)}</text>'
        )
    return text


def series_path(frame: Frame, points: Sequence[Point], step: bool) -> str:
    """An SVG path through the points, lifting the pen at ``None``; ``step`` draws each
    change as a horizontal then a vertical segment."""
    commands, pen_down = [], False
    for x, y in points:
        if y is None:
            pen_down = False
            continue
        px, py = frame.x(x), frame.y(y)
        if not pen_down:
            commands.append(f"M{svg_number(px)} {svg_number(py)}")
        elif step:
            commands.append(f"H{svg_number(px)}V{svg_number(py)}")
        else:
            commands.append(f"L{svg_number(px)} {svg_number(py)}")
        pen_down = True
    return "".join(commands)


def whisker_path(x: float, low_y: float, high_y: float, cap: float) -> str:
    """The ``d`` of a vertical confidence whisker at ``x`` from ``low_y`` to ``high_y`` (SVG
    units), with caps ``cap`` units either side."""
    n = svg_number
    return (
        f"M{n(x)} {n(low_y)}V{n(high_y)}"
        f"M{n(x - cap)} {n(low_y)}h{2 * cap}M{n(x - cap)} {n(high_y)}h{2 * cap}"
    )
