"""Charts of candidate ÷ baseline ratios: the forest plot and the one-row ratio marker.

A comparison's answer is a ratio with a confidence interval per request name and metric,
judged against 1 and a ±``min_effect`` zone of "no practical change". Both charts draw
exactly that on a log scale (so 0.5× and 2× are equally far from 1), coloured by verdict:
``forest_plot`` shows every line of ``swarm report --compare`` at once, one marker shape
per candidate, and ``ratio_marker`` fits one ratio into a table cell.

    >>> svg = ratio_marker(1.3, 1.1, 1.5, verdict="regression")
    >>> svg.startswith("<svg") and 'fill="#dc2626"' in svg
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from framework.reports.charts import flow, open_svg, shorten, svg_escape, svg_number
from framework.reports.formatting import VERDICT_ORDER
from framework.verdicts.results import ComparisonRow

__all__ = ["VERDICT_COLORS", "ComparedLine", "forest_plot", "ratio_marker"]

VERDICT_COLORS = {
    "regression": "#dc2626",
    "improvement": "#16a34a",
    "changed": "#d97706",
    "no detectable change": "#64748b",
}
_RATIO_TICKS = (0.05, 0.1, 0.2, 0.25, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0,
                1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0,
                10.0, 20.0)  # fmt: skip
_SHAPES = ("circle", "square", "diamond", "triangle")


@dataclass(frozen=True)
class ComparedLine:
    """One request name and metric across the candidates (``None`` where one lacks it)."""

    scope: str
    metric: str
    baseline: float | None
    cells: tuple[ComparisonRow | None, ...]

    @property
    def worst(self) -> str:
        found = [c.verdict for c in self.cells if c is not None]
        return min(found, key=VERDICT_ORDER.__getitem__, default="no detectable change")


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
    n = svg_number
    span = math.log(2.0)

    def x(value: float) -> float:
        clamped = min(max(value, 0.5), 2.0)
        return 4 + (math.log(clamped) / span + 1) / 2 * (width - 8)

    color = VERDICT_COLORS.get(verdict, "#64748b")
    mid = height / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ratio" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="ratio {n(ratio)}">',
        f'<rect x="{n(x(1 - min_effect))}" y="2" '
        f'width="{n(x(1 + min_effect) - x(1 - min_effect))}" height="{height - 4}" '
        f'fill="#e2e8f0"/>',
        f'<line x1="{n(x(1))}" x2="{n(x(1))}" y1="1" y2="{height - 1}" stroke="#94a3b8"/>',
    ]
    if low is not None and high is not None:
        parts.append(
            f'<line x1="{n(x(low))}" x2="{n(x(high))}" y1="{n(mid)}" y2="{n(mid)}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
    parts.append(f'<circle cx="{n(x(ratio))}" cy="{n(mid)}" r="3.5" fill="{color}"/></svg>')
    return "".join(parts)


def forest_plot(
    lines: Sequence[ComparedLine],
    labels: Sequence[str],
    *,
    min_effect: float,
    title: str = "Candidate ÷ baseline per request and metric",
    width: int = 960,
) -> str:
    """Every line's ratio with its interval, one marker shape per candidate, coloured by
    verdict, on a log scale around 1 with the ±``min_effect`` band of "no practical change".

    ``labels`` names the candidates (in the order of each line's cells).
    """
    n, esc = svg_number, svg_escape
    count = max(len(labels), 1)
    left, right, top, bottom = 250, 24, 40, 46
    row_h = 8 + 10 * count
    height = top + row_h * max(len(lines), 1) + bottom
    values = [v for ln in lines for c in ln.cells if c is not None
              for v in (c.ratio, c.low, c.high) if v is not None and v > 0]  # fmt: skip
    values += [1 - 2 * min_effect, 1 + 2 * min_effect]
    a = math.log(min(max(min(values), 0.05), 0.98))
    b = math.log(max(min(max(values), 20.0), 1.02))
    pad = (b - a) * 0.05
    a, b = a - pad, b + pad
    plot_w = width - left - right

    def x(value: float) -> float:
        clamped = min(max(value, math.exp(a)), math.exp(b))
        return left + (math.log(clamped) - a) / (b - a) * plot_w

    bottom_y = top + row_h * max(len(lines), 1)
    parts = [open_svg(width, height, title, "forest-plot")]
    scope, shade = None, True
    for i, line in enumerate(lines):
        y0 = top + i * row_h
        if line.scope != scope:
            scope, shade = line.scope, not shade
        if shade:
            parts.append(f'<rect x="0" y="{n(y0)}" width="{width}" height="{row_h}" '
                         f'fill="#f8fafc"/>')  # fmt: skip
    band_x0, band_x1 = x(1 - min_effect), x(1 + min_effect)
    parts.append(
        f'<rect class="band" x="{n(band_x0)}" y="{top}" width="{n(band_x1 - band_x0)}" '
        f'height="{n(bottom_y - top)}" fill="#cbd5e1" fill-opacity="0.45">'
        f"<title>±{min_effect:.0%}: no practical change</title></rect>"
    )
    for tick in _ratio_ticks(math.exp(a), math.exp(b), x):
        px = x(tick)
        style = 'stroke="#64748b"' if tick == 1 else 'class="grid"'
        parts.append(
            f'<line x1="{n(px)}" x2="{n(px)}" y1="{top}" y2="{n(bottom_y)}" {style}/>'
            f'<text x="{n(px)}" y="{n(bottom_y + 16)}" text-anchor="middle" class="tick">'
            f"{tick:g}×</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{n(bottom_y)}" y2="{n(bottom_y)}" '
        f'class="axis"/><text x="{n(left + plot_w / 2)}" y="{height - 6}" '
        f'text-anchor="middle" class="axis-label">candidate ÷ baseline (log scale; '
        f"1× = no change)</text>"
    )
    for i, line in enumerate(lines):
        y0 = top + i * row_h
        label = f"{line.scope} · {line.metric}"
        shown = shorten(label, 36)
        parts.append(
            f'<text x="{left - 8}" y="{n(y0 + row_h / 2 + 4)}" text-anchor="end" '
            f'class="tick">{esc(shown)}<title>{esc(label)}</title></text>'
        )
        for k, cell in enumerate(line.cells):
            cy = y0 + 4 + 10 * k + 5
            if cell is None or cell.ratio is None:
                reason = "not measured" if cell is None else "no ratio"
                parts.append(f'<text x="{n(x(1) + 6)}" y="{n(cy + 3)}" class="tick" '
                             f'style="font-size:9px">{esc(reason)}</text>')  # fmt: skip
                continue
            color = VERDICT_COLORS.get(cell.verdict, "#64748b")
            interval = ""
            if cell.low is not None and cell.high is not None:
                interval = f" [{cell.low:.3f}, {cell.high:.3f}]"
                parts.append(
                    f'<path class="whisker" d="M{n(x(cell.low))} {n(cy)}H{n(x(cell.high))}'
                    f'M{n(x(cell.low))} {n(cy - 3)}v6M{n(x(cell.high))} {n(cy - 3)}v6" '
                    f'stroke="{color}" stroke-width="1.6" fill="none"/>'
                )
            tip = (f"{labels[k] if k < len(labels) else k}: {label}: ratio "
                   f"{cell.ratio:.3f}{interval}, {cell.verdict}")  # fmt: skip
            parts.append(_marker(k, x(cell.ratio), cy, color, tip))
    parts.append(_forest_legend(labels, min_effect, left, width - right))
    parts.append("</svg>")
    return "".join(parts)


def _marker(kind: int, cx: float, cy: float, color: str, tip: str, r: float = 4.5) -> str:
    """A filled marker of shape ``kind`` (one per candidate) with a hover title."""
    n = svg_number
    shape = _SHAPES[kind % len(_SHAPES)]
    title = f"<title>{svg_escape(tip)}</title>"
    fill = f'fill="{svg_escape(color)}"'
    if shape == "circle":
        return f'<circle cx="{n(cx)}" cy="{n(cy)}" r="{r}" {fill}>{title}</circle>'
    if shape == "square":
        s = r * 0.9
        return (f'<rect x="{n(cx - s)}" y="{n(cy - s)}" width="{n(2 * s)}" '
                f'height="{n(2 * s)}" {fill}>{title}</rect>')  # fmt: skip
    if shape == "diamond":
        pts = [(cx, cy - r - 1), (cx + r + 1, cy), (cx, cy + r + 1), (cx - r - 1, cy)]
    else:
        pts = [(cx, cy - r - 1), (cx + r + 1, cy + r), (cx - r - 1, cy + r)]
    points = " ".join(f"{n(x)},{n(y)}" for x, y in pts)
    return f'<polygon points="{points}" {fill}>{title}</polygon>'


def _ratio_ticks(lo: float, hi: float, x: Callable[[float], float]) -> list[float]:
    """Ratio ticks in ``[lo, hi]``, at least 44 px apart, always including 1."""
    inside = [t for t in _RATIO_TICKS if lo <= t <= hi]
    kept = [1.0]
    for side in (t for t in inside if t > 1), (t for t in reversed(inside) if t < 1):
        last = x(1.0)
        for tick in side:
            if abs(x(tick) - last) >= 44:
                kept.append(tick)
                last = x(tick)
    return sorted(kept)


def _forest_legend(labels: Sequence[str], min_effect: float, x0: float, right: float) -> str:
    """The marker shape of each candidate, the verdict colours and the no-change band.

    Unlike ``charts.legend`` its swatches are the plot's own markers, so it lays them out
    itself.
    """
    n = svg_number
    items = [(_marker(k, 0, 0, "#334155", label), label) for k, label in enumerate(labels)]
    for verdict, color in VERDICT_COLORS.items():
        swatch = f'<rect x="-5" y="-4" width="10" height="8" fill="{color}"/>'
        items.append((swatch, verdict))
    band = '<rect x="-7" y="-5" width="14" height="10" fill="#cbd5e1" fill-opacity="0.6"/>'
    items.append((band, f"±{min_effect:.0%} no practical change"))
    shown = [shorten(text, 40) for _, text in items]
    spots = flow([24 + 6.6 * len(text) for text in shown], x0, 16.0, right, gap=12)
    parts = [
        f'<g transform="translate({n(cx + 6)},{n(cy - 4)})">{swatch}</g>'
        f'<text x="{n(cx + 16)}" y="{n(cy)}" class="legend">{svg_escape(text)}</text>'
        for (swatch, _), text, (cx, cy) in zip(items, shown, spots, strict=True)
    ]
    return '<g class="chart-legend">' + "".join(parts) + "</g>"
