"""``report.html``: the whole run in one self-contained page that works offline.

Everything is inline — CSS, a small script (pointer read-outs and sortable tables) and
the charts, drawn as SVG by the ``chart_*`` modules — so the file can be attached to a CI
job, mailed or opened from disk with no network at all. Jinja2 renders it with autoescaping
on (``html_templates``): every string from the scenario (request names, messages, tags) is
escaped, and the only markup inserted as-is is what this module and the charts build from
escaped parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from framework.reports import charts
from framework.reports.capacity import capacity_headline, capacity_rows, fit_lines
from framework.reports.chart_capacity import capacity_chart
from framework.reports.chart_categories import Interval, IntervalSeries, bar_chart, interval_chart
from framework.reports.chart_comparison import ratio_marker
from framework.reports.chart_timeseries import Band, Line, line_chart
from framework.reports.custom_metrics_html import metric_comparison_view, metrics_view
from framework.reports.faults import (
    FAULTS_NOTE,
    figure_text,
    in_force_text,
    recovery_text,
    sla_text,
)
from framework.reports.formatting import COMPARED_UNITS, VERDICT_ORDER, budget_unit, format_percent
from framework.reports.headline import headline
from framework.reports.html_templates import render_page
from framework.reports.markdown import budgets_for
from framework.reports.open_model import (
    OPEN_MODEL_NOTE,
    latency_pairs,
    missed_notes,
    missed_text,
    name_rows,
    phase_load,
    planned_text,
    run_start,
)
from framework.run.folder import RunRecord
from framework.verdicts.results import EndpointResult, Figure, Results, SeriesPoint

__all__ = ["render_html"]

_COLORS = {
    "throughput": "#2563eb",
    "users": "#64748b",
    "p50": "#10b981",
    "p95": "#f59e0b",
    "p99": "#ef4444",
    "failures": "#dc2626",
    "error_rate": "#7c3aed",
    "steady": "#93c5fd",
    "fault": "#f43f5e",
}


def _origin(results: Results) -> float:
    """The charts' time zero: when the plan started running, else the first second."""
    for phase in RunRecord.from_record(results.run).phases:
        if phase.get("name") == "running":
            try:
                return datetime.fromisoformat(phase["at"].replace("Z", "+00:00")).timestamp()
            except (KeyError, ValueError):
                break
    return float(results.series[0].t) if results.series else results.baseline.start_s


def _points(
    series: Sequence[SeriesPoint], origin: float, value: Any, how: str = "mean"
) -> list[tuple[float, float | None]]:
    raw = [(p.t - origin, value(p)) for p in series]
    return charts.downsample(raw, charts.MAX_POINTS, how)  # type: ignore[arg-type]


def _error_percent(p: SeriesPoint) -> float | None:
    return p.failures / p.requests * 100 if p.requests else None


def _time_charts(results: Results) -> dict[str, Markup]:
    series, window = results.series, results.baseline
    if not series:
        return {}
    origin = _origin(results)
    steady = Band("steady state (analysed)", window.start_s - origin,
                         window.end_s - origin, _COLORS["steady"], opacity=0.16)  # fmt: skip
    faults = _fault_bands(results, origin)
    x_label = "time since start (m:ss)"
    load = line_chart(
        [
            Line("throughput (req/s)", _points(series, origin, lambda p: p.requests),
                 _COLORS["throughput"]),
            Line("users", _points(series, origin, lambda p: p.users, "max"),
                 _COLORS["users"], axis="right", step=True, dash="5 3"),
        ],
        bands=[steady, *faults], x_label=x_label, y_label="requests per second", y2_label="users",
        title="Users and throughput over time",
    )  # fmt: skip
    p95 = window.overall.p95_ms
    bands = [steady]
    if p95.low is not None and p95.high is not None:
        label = f"steady-state p95 {p95.confidence:.0%} CI"
        bands.append(Band(label, steady.x0, steady.x1, _COLORS["p95"],
                          low=p95.low, high=p95.high, opacity=0.3))  # fmt: skip
    latency = line_chart(
        [
            Line("p50", _points(series, origin, lambda p: p.p50_ms), _COLORS["p50"]),
            Line("p95", _points(series, origin, lambda p: p.p95_ms, "max"), _COLORS["p95"]),
            Line("p99", _points(series, origin, lambda p: p.p99_ms, "max"), _COLORS["p99"]),
        ],
        bands=[*bands, *faults], x_label=x_label, y_label="response time (ms)",
        title="Response time percentiles over time",
    )  # fmt: skip
    errors = line_chart(
        [
            Line("failures per second", _points(series, origin, lambda p: p.failures),
                 _COLORS["failures"]),
            Line("error rate (%)", _points(series, origin, _error_percent, "max"),
                 _COLORS["error_rate"], axis="right", dash="4 3"),
        ],
        bands=[steady, *faults], x_label=x_label, y_label="failures per second",
        y2_label="error rate (%)", title="Errors over time",
    )  # fmt: skip
    return {"load": Markup(load), "latency": Markup(latency), "errors": Markup(errors)}


def _fault_bands(results: Results, origin: float) -> list[Band]:
    """Each fault that took effect as a shaded span named on the chart (one legend entry
    for them all, so many faults do not crowd the legend)."""
    bands = []
    for fault in results.faults:
        if fault.start_s is None or fault.end_s is None:
            continue
        bands.append(
            Band(
                f"fault: {fault.name}",
                fault.start_s - origin,
                fault.end_s - origin,
                _COLORS["fault"],
                opacity=0.14,
                caption=fault.name,
                in_legend=not bands,
                legend_label=None if bands else "faults (shaded, named)",
            )
        )
    return bands


def _faults_view(results: Results) -> list[dict[str, Any]]:
    """The "Faults" section's rows, worded by ``framework.reports.faults``."""
    origin = _origin(results) if results.series else None
    rows = []
    for fault in results.faults:
        during, before = fault.during, fault.before
        rows.append(
            {
                "f": fault,
                "in_force": in_force_text(fault, origin),
                "during_error": figure_text(during and during.error_rate, "%"),
                "during_p50": figure_text(during and during.p50_ms),
                "during_p95": figure_text(during and during.p95_ms),
                "during_rps": figure_text(during and during.throughput_rps, "req/s"),
                "before_error": figure_text(before and before.error_rate, "%"),
                "before_p95": figure_text(before and before.p95_ms),
                "recovery": recovery_text(fault),
                "sla": sla_text(fault),
            }
        )
    return rows


def _kinds_chart(results: Results) -> Markup | None:
    kinds = results.failures_by_kind
    if not kinds:
        return None
    svg = bar_chart(
        [(k, float(v)) for k, v in kinds.items()],
        x_label="failed requests in the steady state", title="Errors by kind",
        value_format=lambda v: f"{v:,.0f}",
    )  # fmt: skip
    return Markup(svg)


def _steps_chart(results: Results) -> Markup | None:
    if len(results.steps) < 2:
        return None

    def iv(f: Figure) -> Interval:
        return Interval(f.value, f.low, f.high)

    names = [s.name if s.users is None else f"{s.name} ({s.users} u)" for s in results.steps]
    knee = next((n for n, s in zip(names, results.steps, strict=True) if s.name == results.knee),
                None)  # fmt: skip
    svg = interval_chart(
        names,
        [
            IntervalSeries("throughput (req/s)",
                           [iv(s.overall.throughput_rps) for s in results.steps],
                           _COLORS["throughput"]),
            IntervalSeries("p95 (ms)", [iv(s.overall.p95_ms) for s in results.steps],
                           _COLORS["p95"], axis="right"),
        ],
        x_label="step (users)", y_label="requests per second", y2_label="p95 (ms)",
        highlight=knee, highlight_label="knee", title="Throughput and p95 per step",
    )  # fmt: skip
    return Markup(svg)


def _capacity_view(results: Results) -> dict[str, Any] | None:
    """The capacity section: its sentences, the measured-and-fitted chart, the rows."""
    found = results.capacity
    if found is None:
        return None
    return {
        "c": found,
        "headline": capacity_headline(found),
        "chart": Markup(capacity_chart(found)) if found.points else None,
        "rows": capacity_rows(found),
        "fit": fit_lines(found),
        "load_label": {"users": "Users", "concurrency": "Concurrency (X·R)"}[found.load_unit],
        "reported_only": found.verdict is not None and bool(results.budgets),
    }


def _endpoint_view(e: EndpointResult, results: Results, label: str) -> dict[str, Any]:
    return {
        "e": e,
        "label": label,
        "budgets": [
            {"metric": b.metric, "verdict": b.verdict, "message": b.message}
            for b in budgets_for(e, results)
        ],
        "problems": [c for c in e.quality.checks if c.grade != "pass"],
        "figures": [
            ("mean", e.mean_ms, "ms"),
            ("p50", e.median_ms, "ms"),
            ("p95", e.p95_ms, "ms"),
            ("p99", e.p99_ms, "ms"),
            ("throughput", e.throughput_rps, "req/s"),
            ("error rate", e.error_rate, "%"),
        ],
    }


def _comparison_view(results: Results) -> list[dict[str, Any]]:
    min_effect = float(results.settings.get("min_effect") or 0.05)
    rows = []
    for r in sorted(results.comparison, key=lambda r: VERDICT_ORDER[r.verdict]):
        unit = COMPARED_UNITS.get(r.metric, "")
        marker = ratio_marker(r.ratio, r.low, r.high, min_effect=min_effect, verdict=r.verdict)
        rows.append({"r": r, "unit": unit, "marker": Markup(marker)})
    return rows


def _duration(results: Results) -> str:
    run = results.run
    try:
        start = datetime.fromisoformat(str(run["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(run["ended_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "–"
    return charts.format_elapsed((end - start).total_seconds())


def _failure_views(results: Results) -> list[dict[str, Any]]:
    """Every name with failures: the failures' own latency and what they said, most failing
    name first."""
    failing = [e for e in results.baseline.endpoints if e.failures]
    return [
        {
            "e": e,
            "latency": e.failure_latency,
            "messages": e.failure_messages,
            "other": e.failure_messages_other,
        }
        for e in sorted(failing, key=lambda e: (-e.failures, e.key))
    ]


def _open_model_view(results: Results) -> dict[str, Any] | None:
    """The "Open model" section: each name's latencies side by side, each group's schedule."""
    found = results.open_model
    if found is None:
        return None
    return {
        "note": OPEN_MODEL_NOTE,
        "rows": [
            {
                "label": label,
                "row": row,
                "overall": row is found.overall,
                "pairs": latency_pairs(row),
            }
            for label, row in name_rows(found)
        ],
        "groups": [
            {"g": g, "planned": planned_text(g), "missed": missed_text(g)} for g in found.groups
        ],
        "missed_notes": missed_notes(found, run_start(results)),
        "cpu": found.cpu_percent_max,
    }


def _group_phases_view(results: Results) -> list[dict[str, Any]]:
    """Each load group with its phases' rows (several groups only)."""
    return [
        {
            "g": group,
            "phases": [{"p": phase, "load": phase_load(phase)} for phase in group.phases],
        }
        for group in results.group_phases
    ]


def _view(results: Results, locust_report: str | None = None) -> dict[str, Any]:
    window = results.baseline
    overall = window.overall
    endpoints = sorted(window.endpoints, key=lambda e: -e.count)
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    for b in results.budgets:
        counts[b.verdict] += 1
    changes = {"regression": 0, "changed": 0, "improvement": 0, "no detectable change": 0}
    for c in (*results.comparison, *results.metric_comparison):
        changes[c.verdict] += 1
    run: Mapping[str, Any] = results.run
    plan = RunRecord.from_record(run).plan
    return {
        "results": results,
        "headline": headline(results),
        "locust_report": locust_report,
        "failing": _failure_views(results),
        "run": run,
        "plan": plan,
        "settings": results.settings,
        "window": window,
        "overall": _endpoint_view(overall, results, "All requests"),
        "endpoints": [_endpoint_view(e, results, e.key) for e in endpoints],
        "budget_counts": counts,
        "budget_unit": budget_unit,
        "changes": changes,
        "comparison": _comparison_view(results),
        "metric_comparison": metric_comparison_view(results),
        "custom_metrics": metrics_view(
            results, _origin(results) if results.series else results.baseline.start_s
        ),
        "charts": _time_charts(results),
        "kinds_chart": _kinds_chart(results),
        "kinds": sorted(results.failures_by_kind.items(), key=lambda kv: -kv[1]),
        "steps_chart": _steps_chart(results),
        "capacity": _capacity_view(results),
        "duration": _duration(results),
        "started": run.get("started_at"),
        "percent": format_percent,
        "open_model": _open_model_view(results),
        "group_phases": _group_phases_view(results),
        "faults": _faults_view(results),
        "faults_note": FAULTS_NOTE,
    }


def render_html(results: Results, *, locust_report: str | None = None) -> str:
    """The HTML report of ``results`` (one file, no external resources).

    ``locust_report`` is the path, relative to the page, of Locust's own HTML report when
    the run folder has one: the page links it, for Locust's views of the same run.
    """
    return render_page("report.html.j2", _view(results, locust_report))
