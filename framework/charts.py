"""Server-side SVG charts for the HTML report: line charts over time, interval charts, bars.

The report must work offline and from a single file, so charts are drawn here as inline SVG
markup instead of by a JavaScript library from a CDN. Every function is pure: data in, SVG
text out (all text escaped), with axis labels and a legend drawn inside the SVG. Long series
are thinned first with ``downsample`` so a one-hour run stays a few hundred kilobytes.

    >>> svg = line_chart([Line("p95", ((0, 10.0), (1, 12.0)), "#f59e0b")],
    ...                  x_label="elapsed", y_label="ms")
    >>> svg.startswith("<svg") and "<path" in svg and ">p95<" in svg
    True
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_POINTS",
    "Band",
    "Interval",
    "IntervalSeries",
    "Line",
    "bar_chart",
    "downsample",
    "format_elapsed",
    "interval_chart",
    "line_chart",
    "nice_ticks",
    "ratio_marker",
]

MAX_POINTS = 1000
Point = tuple[float, float | None]
Format = Callable[[float], str]


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
    """A shaded rectangle from ``x0`` to ``x1``; ``low``/``high`` ``None`` span the plot."""

    label: str
    x0: float
    x1: float
    color: str
    low: float | None = None
    high: float | None = None
    opacity: float = 0.18


@dataclass(frozen=True)
class Interval:
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


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _round(value: float | None) -> float | None:
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


def _time_ticks(low: float, high: float, count: int = 8) -> list[float]:
    span = max(high - low, 1.0)
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) // step) + 1)]


@dataclass(frozen=True)
class _Frame:
    """The plot area in SVG units and the data ranges it shows."""

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


def _legend(items: Sequence[tuple[str, str, str]], x: float, y: float, right: float) -> str:
    """Swatches and labels in a row (wrapping); ``items`` are (label, color, kind)."""
    parts, cx, cy = [], x, y
    for label, color, kind in items:
        text = label if len(label) <= 40 else label[:39] + "…"
        width = 22 + 6.6 * len(text)
        if cx + width > right and cx > x:
            cx, cy = x, cy + 16
        if kind == "band":
            swatch = f'<rect x="{_num(cx)}" y="{_num(cy - 8)}" width="14" height="10" '
            swatch += f'fill="{_esc(color)}" fill-opacity="0.3"/>'
        else:
            swatch = f'<rect x="{_num(cx)}" y="{_num(cy - 4)}" width="14" height="3" '
            swatch += f'fill="{_esc(color)}"/>'
        parts.append(
            f'{swatch}<text x="{_num(cx + 18)}" y="{_num(cy)}" class="legend">'
            f"{_esc(text)}<title>{_esc(label)}</title></text>"
        )
        cx += width + 14
    return '<g class="chart-legend">' + "".join(parts) + "</g>"


def _y_axis(frame: _Frame, ticks: Sequence[float], label: str, side: str, fmt: Format) -> str:
    parts = []
    for tick in ticks:
        y = frame.y(tick)
        if side == "left":
            parts.append(
                f'<line x1="{_num(frame.left)}" x2="{_num(frame.left + frame.width)}" '
                f'y1="{_num(y)}" y2="{_num(y)}" class="grid"/>'
                f'<text x="{_num(frame.left - 6)}" y="{_num(y + 4)}" text-anchor="end" '
                f'class="tick">{_esc(fmt(tick))}</text>'
            )
        else:
            parts.append(
                f'<text x="{_num(frame.left + frame.width + 6)}" y="{_num(y + 4)}" '
                f'class="tick">{_esc(fmt(tick))}</text>'
            )
    middle = frame.top + frame.height / 2
    x = frame.left - 50 if side == "left" else frame.left + frame.width + 50
    angle = -90 if side == "left" else 90
    parts.append(
        f'<text transform="translate({_num(x)},{_num(middle)}) rotate({angle})" '
        f'text-anchor="middle" class="axis-label">{_esc(label)}</text>'
    )
    return "".join(parts)


def _path(frame: _Frame, points: Sequence[Point], step: bool) -> str:
    """An SVG path through the points, lifting the pen at ``None``."""
    commands, pen_down = [], False
    for x, y in points:
        if y is None:
            pen_down = False
            continue
        px, py = frame.x(x), frame.y(y)
        if not pen_down:
            commands.append(f"M{_num(px)} {_num(py)}")
        elif step:
            commands.append(f"H{_num(px)}V{_num(py)}")
        else:
            commands.append(f"L{_num(px)} {_num(py)}")
        pen_down = True
    return "".join(commands)


def _range(values: Sequence[float], floor_zero: bool) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if floor_zero:
        low = min(low, 0.0)
    if high <= low:
        high = low + (abs(high) or 1.0)
    return low, high


def _open_svg(width: int, height: int, title: str, kind: str, extra: str = "") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}"{extra}>'
        f"<title>{_esc(title)}</title>"
    )


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
    right_axis = y2_label is not None and any(line.axis == "right" for line in lines)
    legend_items = [(b.label, b.color, "band") for b in bands if b.label]
    legend_items += [(line.label, line.color, "line") for line in lines]
    rows = 1 + int(sum(28 + 6.6 * min(len(t), 40) for t, _, _ in legend_items) // (width - 90))
    top = 14 + 16 * rows
    left, right, bottom = 70, (70 if right_axis else 24), 46
    xs = [x for line in lines for x, _ in line.points]
    xs += [v for b in bands for v in (b.x0, b.x1)]
    x0, x1 = _range(xs, floor_zero=False) if xs else (0.0, 1.0)
    frames = {}
    for side in ("left", "right"):
        ys = [y for ln in lines if ln.axis == side for _, y in ln.points if y is not None]
        if side == "left":
            ys += [v for b in bands for v in (b.low, b.high) if v is not None]
        low, high = _range(ys, floor_zero=True)
        ticks = nice_ticks(low, high)
        frames[side] = (
            _Frame(left, top, width - left - right, height - top - bottom,
                   x0, x1, ticks[0], ticks[-1]),
            ticks,
        )  # fmt: skip
    frame, ticks = frames["left"]
    series = {
        "lines": [
            {
                "label": ln.label,
                "color": ln.color,
                "points": [[_round(x), _round(y)] for x, y in ln.points],
            }
            for ln in lines
        ],
    }
    plot = [_num(v) for v in (frame.left, frame.top, frame.width, frame.height, x0, x1)]
    encoded = _esc(json.dumps(series, separators=(",", ":")))
    extra = f' data-plot="{",".join(plot)}" data-series="{encoded}"'
    parts = [_open_svg(width, height, title or y_label, "line-chart", extra)]
    for band in bands:
        y_top = frame.top if band.high is None else frame.y(band.high)
        y_bottom = frame.top + frame.height if band.low is None else frame.y(band.low)
        bx0, bx1 = frame.x(max(band.x0, x0)), frame.x(min(band.x1, x1))
        parts.append(
            f'<rect class="band" x="{_num(bx0)}" y="{_num(y_top)}" '
            f'width="{_num(max(bx1 - bx0, 0.5))}" height="{_num(max(y_bottom - y_top, 0.5))}" '
            f'fill="{_esc(band.color)}" fill-opacity="{band.opacity}">'
            f"<title>{_esc(band.label)}</title></rect>"
        )
    parts.append(_y_axis(frame, ticks, y_label, "left", y_format))
    if right_axis:
        rframe, rticks = frames["right"]
        parts.append(_y_axis(rframe, rticks, y2_label or "", "right", y2_format))
    for tick in _time_ticks(x0, x1) if x_format is format_elapsed else nice_ticks(x0, x1, 8):
        if x0 <= tick <= x1:
            px = frame.x(tick)
            parts.append(
                f'<line x1="{_num(px)}" x2="{_num(px)}" y1="{_num(frame.top + frame.height)}" '
                f'y2="{_num(frame.top + frame.height + 4)}" class="axis"/>'
                f'<text x="{_num(px)}" y="{_num(frame.top + frame.height + 17)}" '
                f'text-anchor="middle" class="tick">{_esc(x_format(tick))}</text>'
            )
    parts.append(
        f'<line x1="{_num(frame.left)}" x2="{_num(frame.left + frame.width)}" '
        f'y1="{_num(frame.top + frame.height)}" y2="{_num(frame.top + frame.height)}" '
        f'class="axis"/>'
        f'<text x="{_num(frame.left + frame.width / 2)}" y="{height - 6}" '
        f'text-anchor="middle" class="axis-label">{_esc(x_label)}</text>'
    )
    for line in lines:
        use = frames[line.axis][0] if right_axis else frame
        d = _path(use, line.points, line.step)
        if d:
            dash = f' stroke-dasharray="{_esc(line.dash)}"' if line.dash else ""
            parts.append(
                f'<path class="series" d="{d}" fill="none" stroke="{_esc(line.color)}" '
                f'stroke-width="{line.width}" stroke-linejoin="round"{dash}>'
                f"<title>{_esc(line.label)}</title></path>"
            )
    parts.append(_legend(legend_items, left, 16, width - right))
    parts.append("</svg>")
    return "".join(parts)


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
    right_axis = y2_label is not None and any(s.axis == "right" for s in series)
    left, right, top, bottom = 70, (70 if right_axis else 24), 34, 46
    n = max(len(categories), 1)
    frames = {}
    for side in ("left", "right"):
        ys = [
            v
            for s in series
            if s.axis == side
            for i in s.values
            for v in (i.value, i.low, i.high)
            if v is not None
        ]
        low, high = _range(ys, floor_zero=True)
        ticks = nice_ticks(low, high)
        frames[side] = (
            _Frame(left, top, width - left - right, height - top - bottom,
                   -0.5, n - 0.5, ticks[0], ticks[-1]),
            ticks,
        )  # fmt: skip
    frame, ticks = frames["left"]
    parts = [_open_svg(width, height, title or y_label, "interval-chart")]
    if highlight in categories:
        index = list(categories).index(highlight)
        bx0, bx1 = frame.x(index - 0.5), frame.x(index + 0.5)
        parts.append(
            f'<rect class="band" x="{_num(bx0)}" y="{_num(frame.top)}" width="{_num(bx1 - bx0)}" '
            f'height="{_num(frame.height)}" fill="#6366f1" fill-opacity="0.12">'
            f"<title>{_esc(highlight_label or highlight)}</title></rect>"
        )
    parts.append(_y_axis(frame, ticks, y_label, "left", y_format))
    if right_axis:
        rframe, rticks = frames["right"]
        parts.append(_y_axis(rframe, rticks, y2_label or "", "right", y_format))
    for i, name in enumerate(categories):
        shown = name if len(name) <= 18 else name[:17] + "…"
        parts.append(
            f'<text x="{_num(frame.x(i))}" y="{_num(frame.top + frame.height + 17)}" '
            f'text-anchor="middle" class="tick">{_esc(shown)}<title>{_esc(name)}</title></text>'
        )
    parts.append(
        f'<line x1="{_num(frame.left)}" x2="{_num(frame.left + frame.width)}" '
        f'y1="{_num(frame.top + frame.height)}" y2="{_num(frame.top + frame.height)}" '
        f'class="axis"/><text x="{_num(frame.left + frame.width / 2)}" y="{height - 6}" '
        f'text-anchor="middle" class="axis-label">{_esc(x_label)}</text>'
    )
    offset = 0.08 * (len(series) - 1)
    for k, s in enumerate(series):
        use = frames[s.axis][0] if right_axis else frame
        shift = -offset + 0.16 * k
        points: list[Point] = [(i + shift, iv.value) for i, iv in enumerate(s.values)]
        d = _path(use, points, step=False)
        if d:
            parts.append(
                f'<path class="series" d="{d}" fill="none" stroke="{_esc(s.color)}" '
                f'stroke-width="1.5" stroke-opacity="0.6"/>'
            )
        for i, iv in enumerate(s.values):
            if iv.value is None:
                continue
            cx = use.x(i + shift)
            if iv.low is not None and iv.high is not None:
                ylo, yhi = use.y(iv.low), use.y(iv.high)
                parts.append(
                    f'<path class="whisker" d="M{_num(cx)} {_num(ylo)}V{_num(yhi)}'
                    f'M{_num(cx - 5)} {_num(ylo)}h10M{_num(cx - 5)} {_num(yhi)}h10" '
                    f'stroke="{_esc(s.color)}" stroke-width="1.5" fill="none"/>'
                )
            parts.append(
                f'<circle class="point" cx="{_num(cx)}" cy="{_num(use.y(iv.value))}" r="4" '
                f'fill="{_esc(s.color)}"><title>{_esc(s.label)} at {_esc(categories[i])}: '
                f"{_esc(y_format(iv.value))}</title></circle>"
            )
    items = [(s.label, s.color, "line") for s in series]
    if highlight in categories:
        items.append((highlight_label or "knee", "#6366f1", "band"))
    parts.append(_legend(items, left, 16, width - right))
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
    ordered = sorted(bars, key=lambda b: -b[1])
    if len(ordered) > max_bars:
        rest = sum(v for _, v in ordered[max_bars - 1 :])
        ordered = [*ordered[: max_bars - 1], (f"{len(bars) - max_bars + 1} other kinds", rest)]
    row, top, left = 24, 10, 300
    height = top + row * max(len(ordered), 1) + 44
    frame = _Frame(left, top, width - left - 90, row * max(len(ordered), 1), 0, 1, 0, 1)
    peak = max((v for _, v in ordered), default=0) or 1
    parts = [_open_svg(width, height, title or x_label, "bar-chart")]
    for i, (label, value) in enumerate(ordered):
        y = top + i * row
        shown = label if len(label) <= 44 else label[:43] + "…"
        length = value / peak * frame.width
        parts.append(
            f'<text x="{left - 8}" y="{_num(y + 16)}" text-anchor="end" class="tick">'
            f"{_esc(shown)}<title>{_esc(label)}</title></text>"
            f'<rect class="bar" x="{left}" y="{_num(y + 4)}" width="{_num(max(length, 1))}" '
            f'height="{row - 8}" fill="{_esc(color)}"><title>{_esc(label)}: '
            f"{_esc(value_format(value))}</title></rect>"
            f'<text x="{_num(left + max(length, 1) + 6)}" y="{_num(y + 16)}" class="tick">'
            f"{_esc(value_format(value))}</text>"
        )
    base = top + frame.height
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{_num(base)}" class="axis"/>'
        f'<text x="{_num(left + frame.width / 2)}" y="{_num(base + 30)}" text-anchor="middle" '
        f'class="axis-label">{_esc(x_label)}</text></svg>'
    )
    return "".join(parts)


def ratio_marker(
    ratio: float | None,
    low: float | None,
    high: float | None,
    *,
    min_effect: float = 0.05,
    verdict: str = "",
    width: int = 180,
    height: int = 18,
) -> str:
    """A one-row forest plot of a candidate/baseline ratio: its interval against 1 and
    the ±``min_effect`` zone of "no practical change", on a log scale from 0.5× to 2×."""
    if ratio is None:
        return ""
    span = math.log(2.0)

    def x(value: float) -> float:
        clamped = min(max(value, 0.5), 2.0)
        return 4 + (math.log(clamped) / span + 1) / 2 * (width - 8)

    color = {"regression": "#dc2626", "improvement": "#16a34a"}.get(verdict, "#64748b")
    mid = height / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ratio" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="ratio {_num(ratio)}">',
        f'<rect x="{_num(x(1 - min_effect))}" y="2" '
        f'width="{_num(x(1 + min_effect) - x(1 - min_effect))}" height="{height - 4}" '
        f'fill="#e2e8f0"/>',
        f'<line x1="{_num(x(1))}" x2="{_num(x(1))}" y1="1" y2="{height - 1}" stroke="#94a3b8"/>',
    ]
    if low is not None and high is not None:
        parts.append(
            f'<line x1="{_num(x(low))}" x2="{_num(x(high))}" y1="{_num(mid)}" y2="{_num(mid)}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
    parts.append(f'<circle cx="{_num(x(ratio))}" cy="{_num(mid)}" r="3.5" fill="{color}"/></svg>')
    return "".join(parts)
