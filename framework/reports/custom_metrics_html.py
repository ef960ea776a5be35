"""The HTML report's custom metrics: the "Custom metrics" section and its comparison rows.

Each metric is shown as a whole (every dimension set together) and then by dimension set,
with its kind, unit, the values counted, each figure with its interval, and the values a
scenario's extraction looked for and did not find. A chart per metric shows it second by
second (``Results.metric_series``: a histogram's p95, a counter's rate, a gauge's last
value) over the run, the analysed steady state shaded. Every string is escaped by the
template or the chart; the figures are formatted by ``reports.formatting``.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from framework.reports import charts
from framework.reports.chart_comparison import ratio_marker
from framework.reports.chart_timeseries import Band, Line, line_chart
from framework.reports.formatting import VERDICT_ORDER, metric_unit
from framework.verdicts.results import MetricResult, MetricSeries, Results

__all__ = ["FIGURE_ORDER", "metric_comparison_view", "metrics_view"]

FIGURE_ORDER = ("mean", "p50", "p95", "p99", "max", "min", "last", "rate", "total")
"""The order a metric's figures are shown in."""

_EXACT = frozenset({"max", "min", "last", "total"})
"""Figures that are counted, not estimated: shown without an interval."""
_SERIES_LABELS = {"p95": "p95 per second", "rate": "per second", "last": "last value"}
_COLORS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#7c3aed", "#0891b2")


def _figures(metric: MetricResult) -> list[dict[str, Any]]:
    order = {name: i for i, name in enumerate(FIGURE_ORDER)}
    return [
        {
            "name": name,
            "figure": figure,
            "unit": metric_unit(metric.unit, name),
            "exact": name in _EXACT,
        }
        for name, figure in sorted(metric.figures.items(), key=lambda kv: order.get(kv[0], 99))
    ]


def _chart(series: MetricSeries, results: Results, origin: float, color: str) -> Markup:
    points = [(t - origin, v) for t, v in series.points]
    how = "max" if series.figure == "p95" else "mean"
    window = results.baseline
    steady = Band("steady state (analysed)", window.start_s - origin, window.end_s - origin,
                  "#93c5fd", opacity=0.16)  # fmt: skip
    unit = metric_unit(series.unit, series.figure)
    label = f"{series.name} {_SERIES_LABELS.get(series.figure, series.figure)}"
    svg = line_chart(
        [Line(label, charts.downsample(points, charts.MAX_POINTS, how), color,  # type: ignore[arg-type]
              step=series.kind == "gauge")],
        bands=[steady], x_label="time since start (m:ss)",
        y_label=f"{series.figure} ({unit})" if unit else series.figure,
        title=f"{series.name} over time",
    )  # fmt: skip
    return Markup(svg)


def metrics_view(results: Results, origin: float) -> list[dict[str, Any]]:
    """One entry per metric name: its whole row, its dimension rows, and its chart."""
    by_name: dict[str, list[MetricResult]] = {}
    for metric in results.metrics:
        by_name.setdefault(metric.name, []).append(metric)
    series = {s.name: s for s in results.metric_series}
    out = []
    for i, (name, found) in enumerate(sorted(by_name.items())):
        whole = next((m for m in found if not m.dims), None)
        parts = sorted((m for m in found if m.dims), key=lambda m: m.key)
        rows = [m for m in (whole, *parts) if m is not None]
        shown = series.get(name)
        chart = None
        if shown is not None and any(v is not None for _, v in shown.points):
            chart = _chart(shown, results, origin, _COLORS[i % len(_COLORS)])
        out.append(
            {
                "name": name,
                "kind": rows[0].kind,
                "unit": rows[0].unit,
                "rows": [{"m": m, "whole": not m.dims, "figures": _figures(m)} for m in rows],
                "chart": chart,
            }
        )
    return out


def metric_comparison_view(results: Results) -> list[dict[str, Any]]:
    """The custom metrics' comparison rows, what needs attention first, with their marker."""
    min_effect = float(results.settings.get("min_effect") or 0.05)
    rows = []
    for r in sorted(results.metric_comparison, key=lambda r: VERDICT_ORDER[r.verdict]):
        marker = ratio_marker(r.ratio, r.low, r.high, min_effect=min_effect, verdict=r.verdict)
        rows.append({"r": r, "unit": metric_unit(r.unit, r.metric), "marker": Markup(marker)})
    return rows
