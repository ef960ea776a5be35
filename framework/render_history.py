"""The history page: one metric across a scenario's runs, with the runs where its level moved.

``swarm history SCENARIO --html`` writes it beside the text trend. It draws the metric over
the runs as a line with each run's confidence interval as a whisker, marks every change point
that ``history.trend`` found where the level moved (a vertical line labelled "+8.2% at run
X", red when worse, green when better), draws the level of each stretch between them, and
lists the runs (time, git revision, value with its interval, verdict). Small multiples show
the overall p95, throughput and error rate the same way. Like the run report it is one
autoescaped file with no external resources, so it works from disk with no network.

Example::

    store = ResultsStore(Path("reports"))
    shown = trend(store.history("checkout", "overall", "p95"), metric="p95", scenario="checkout")
    page = write_history_page(store, shown)     # reports/history-checkout.html
"""

from __future__ import annotations

import html
import itertools
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from framework import charts
from framework.errors import SwarmError
from framework.history import HIGHER_IS_BETTER, UNITS, Trend, trend
from framework.render_html import _asset, _environment
from framework.render_markdown import format_value
from framework.run_records import RunSummary
from framework.store import ResultsStore

__all__ = [
    "MULTIPLES",
    "default_path",
    "render_history_html",
    "trend_chart",
    "write_history_page",
]

MULTIPLES = ("p95", "throughput", "error_rate")
"""The overall metrics drawn as small multiples under the main chart."""

COLORS = {"p95": "#f59e0b", "p50": "#10b981", "p99": "#ef4444", "mean": "#0ea5e9",
          "median": "#10b981", "throughput": "#2563eb", "error_rate": "#7c3aed"}  # fmt: skip
WORSE, BETTER = "#dc2626", "#16a34a"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def unit_of(metric: str) -> str:
    """The unit ``format_value`` takes for a history metric (``%`` for fractions)."""
    return UNITS.get(metric, "ms")


def _segments(history: Trend) -> list[tuple[int, int, float]]:
    """(first, end, mean) of each stretch of runs between change points."""
    values = history.values
    cuts = [0, *(s.index for s in history.shifts), len(values)]
    return [(a, b, sum(values[a:b]) / (b - a)) for a, b in itertools.pairwise(cuts) if b > a]


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
    points = history.points
    n = len(points)
    unit = unit_of(history.metric)
    color = COLORS.get(history.metric, "#f59e0b")

    def fmt(value: float) -> str:
        return f"{value * 100:.3g}%" if unit == "%" else charts.format_number(value)

    labels = [] if compact else [s.describe() for s in history.shifts]
    label_rows = min(len(labels), 3)
    top = 34 + 15 * label_rows
    left, right, bottom = (56 if compact else 70), 24, (36 if compact else 46)
    ys = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    ticks = charts.nice_ticks(max(low - pad, 0.0) if low >= 0 else low - pad, high + pad,
                              4 if compact else 5)  # fmt: skip
    frame = charts._Frame(left, top, width - left - right, height - top - bottom,
                          -0.5, max(n, 1) - 0.5, ticks[0], ticks[-1])  # fmt: skip
    name = title or f"{history.metric} of {history.name} over runs"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend-chart" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(name)}">'
        f"<title>{_esc(name)}</title>"
    ]
    for tick in ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{left}" x2="{_f(left + frame.width)}" y1="{_f(y)}" y2="{_f(y)}" '
            f'class="grid"/><text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end" '
            f'class="tick">{_esc(fmt(tick))}</text>'
        )
    base_y = top + frame.height
    step = max(1, math.ceil(n / (6 if compact else 12)))
    for i in range(0, n, step):
        parts.append(
            f'<text x="{_f(frame.x(i))}" y="{_f(base_y + 16)}" text-anchor="middle" '
            f'class="tick">{i + 1}<title>{_esc(points[i].run_id)}</title></text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{_f(left + frame.width)}" y1="{_f(base_y)}" '
        f'y2="{_f(base_y)}" class="axis"/>'
    )
    if not compact:
        unit_text = "%" if unit == "%" else unit
        parts.append(
            f'<text x="{_f(left + frame.width / 2)}" y="{height - 6}" text-anchor="middle" '
            f'class="axis-label">run (oldest → newest)</text><text transform="translate('
            f'{left - 52},{_f(top + frame.height / 2)}) rotate(-90)" text-anchor="middle" '
            f'class="axis-label">{_esc(f"{history.metric} ({unit_text})")}</text>'
        )
    for first, end, mean in _segments(history):
        y = frame.y(mean)
        parts.append(
            f'<path class="level" d="M{_f(frame.x(first - 0.5))} {_f(y)}'
            f'H{_f(frame.x(end - 0.5))}" stroke="#475569" stroke-width="1.5" '
            f'stroke-dasharray="6 4" fill="none"><title>level of runs {first + 1}–{end}: '
            f"{_esc(format_value(mean, unit))}</title></path>"
        )
    for k, shift in enumerate(history.shifts):
        x = frame.x(shift.index - 0.5)
        stroke = WORSE if shift.worse else BETTER
        parts.append(
            f'<line class="change-point" x1="{_f(x)}" x2="{_f(x)}" y1="{_f(top - 4)}" '
            f'y2="{_f(base_y)}" stroke="{stroke}" stroke-width="2" stroke-dasharray="4 3">'
            f"<title>{_esc(shift.describe())} ({'worse' if shift.worse else 'better'}, "
            f"p = {shift.p_value:.2g})</title></line>"
        )
        if labels:
            y = 30 + 15 * (k % max(label_rows, 1)) + 10
            anchor, dx = ("end", -5) if x > left + frame.width * 0.7 else ("start", 5)
            parts.append(
                f'<text class="change-label" x="{_f(x + dx)}" y="{_f(y)}" '
                f'text-anchor="{anchor}" fill="{stroke}" font-weight="600" '
                f'style="font-size:12px">{_esc(labels[k])}</text>'
            )
    path = "".join(
        f"{'M' if i == 0 else 'L'}{_f(frame.x(i))} {_f(frame.y(p.value))}"
        for i, p in enumerate(points)
    )
    if path:
        parts.append(f'<path class="series" d="{path}" fill="none" stroke="{color}" '
                     f'stroke-width="1.75" stroke-linejoin="round"/>')  # fmt: skip
    for i, p in enumerate(points):
        cx = frame.x(i)
        interval = ""
        if p.low is not None and p.high is not None:
            lo, hi = frame.y(p.low), frame.y(p.high)
            cap = 3 if compact else 4
            interval = f" [{format_value(p.low, unit, with_unit=False)}, " \
                       f"{format_value(p.high, unit, with_unit=False)}]"  # fmt: skip
            parts.append(
                f'<path class="whisker" d="M{_f(cx)} {_f(lo)}V{_f(hi)}M{_f(cx - cap)} '
                f'{_f(lo)}h{2 * cap}M{_f(cx - cap)} {_f(hi)}h{2 * cap}" stroke="{color}" '
                f'stroke-width="1.2" stroke-opacity="0.7" fill="none"/>'
            )
        tip = (f"#{i + 1} {p.run_id} · {str(p.started_at)[:16].replace('T', ' ')}: "
               f"{format_value(p.value, unit)}{interval}")  # fmt: skip
        parts.append(
            f'<circle class="point" cx="{_f(cx)}" cy="{_f(frame.y(p.value))}" '
            f'r="{2.5 if compact else 3.5}" fill="{color}"><title>{_esc(tip)}</title></circle>'
        )
    items = [(history.metric, color, "line"), ("level between change points", "#475569", "line")]
    if history.shifts:
        items += [("change point, worse", WORSE, "line"), ("change point, better", BETTER, "line")]
    parts.append(charts._legend(items if not compact else items[:1], left, 16, width - right))
    parts.append("</svg>")
    return "".join(parts)


def _run_rows(history: Trend, runs: Mapping[str, RunSummary]) -> list[dict[str, Any]]:
    shifts = {s.index: s for s in history.shifts}
    rows = []
    for i, point in enumerate(history.points):
        summary = runs.get(point.run_id)
        rows.append({"i": i + 1, "p": point, "run": summary, "shift": shifts.get(i)})
    return rows


def render_history_html(
    history: Trend,
    *,
    runs: Mapping[str, RunSummary] | None = None,
    multiples: Sequence[Trend] = (),
    created_at: str,
) -> str:
    """The history page of ``history``; ``runs`` (by run id) adds each run's git revision and
    verdict to the table, ``multiples`` are drawn small under the main chart."""
    unit = unit_of(history.metric)
    view = {
        "h": history,
        "unit": unit,
        "chart": Markup(trend_chart(history)) if history.points else None,
        "rows": _run_rows(history, runs or {}),
        "multiples": [
            {"t": t, "chart": Markup(trend_chart(t, compact=True, width=420, height=210))}
            for t in multiples
            if t.points
        ],
        "created_at": created_at,
        "higher_is_better": history.metric in HIGHER_IS_BETTER,
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "fmt": lambda value, metric=history.metric: format_value(value, unit_of(metric)),
        "bare": lambda value: format_value(value, unit, with_unit=False),
    }
    return _environment().get_template("history.html.j2").render(**view)


def default_path(reports_dir: Path, scenario: str) -> Path:
    """``<reports>/history-<scenario>.html``, the scenario name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario).strip("._") or "scenario"
    return Path(reports_dir) / f"history-{safe}.html"


def write_history_page(
    store: ResultsStore,
    history: Trend,
    path: Path | None = None,
    *,
    created_at: str | None = None,
) -> Path:
    """Render ``history`` with its runs' details and the overall small multiples from
    ``store``, and write it (atomically) to ``path`` or ``default_path``."""
    runs = {r.run_id: r for r in store.list(history.scenario, limit=None, status=None)}
    multiples = []
    for metric in MULTIPLES:
        try:
            points = store.history(history.scenario, "overall", metric)
        except SwarmError:  # no overall figures of this scenario: skip the small multiple
            continue
        multiples.append(trend(points, metric=metric, scenario=history.scenario, name="overall"))
    stamp = created_at or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    page = render_history_html(history, runs=runs, multiples=multiples, created_at=stamp)
    target = Path(path) if path is not None else default_path(store.reports_dir, history.scenario)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
