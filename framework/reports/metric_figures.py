"""How every report shows a custom metric: its figures by kind, each in its unit.

``Results.metrics`` holds one ``MetricResult`` per metric and per dimension set
(``framework.verdicts.custom_metrics``); the Markdown, JUnit and console reports (and the
HTML one) show them the same way through this module: ``mean 12.3 ms [11.8, 12.9]``, a
rate per second (``rate 3.2 alerts/s [2.9, 3.5]``), an observed figure without an
interval (``max 40.0 jobs``), ``–`` for a figure with no value.

    >>> from framework.verdicts.results import Figure, MetricResult
    >>> m = MetricResult("q", "gauge", "jobs", {}, "q", 3, 0, {"mean": Figure(4.0, 3.5, 4.5)})
    >>> figure_text(m, "mean")
    '4.0 jobs [3.5, 4.5]'
"""

from __future__ import annotations

from collections.abc import Sequence

from framework.reports.formatting import budget_unit, format_figure, format_value
from framework.scenario.budgets import METRIC_LIMITS, parse_metric_key
from framework.verdicts.budgets import OBSERVED
from framework.verdicts.metric_budgets import is_metric_budget
from framework.verdicts.results import BudgetVerdict, MetricResult

__all__ = [
    "FIGURES_BY_KIND",
    "budget_verdict_unit",
    "console_lines",
    "figure_text",
    "figure_unit",
    "figures_text",
    "is_lower_limit",
]

FIGURES_BY_KIND = {
    "histogram": ("mean", "p50", "p95", "p99", "max"),
    "timer": ("mean", "p50", "p95", "p99", "max"),
    "counter": ("rate", "total"),
    "meter": ("rate", "total"),
    "gauge": ("mean", "min", "max", "last"),
}
"""The figures a metric of each kind has, in the order reports show them."""

CONSOLE_LINES = 12
"""Most custom-metric lines the terminal summary prints (the reports list them all)."""


def _shown(unit: str) -> str:
    """A unit as ``format_value`` shows it: a dimensionless ``1`` shows as nothing, and
    ``%`` as ``percent`` (``format_value`` would read the value as a fraction to scale)."""
    return "" if unit in ("", "1") else "percent" if unit == "%" else unit


def figure_unit(result: MetricResult, figure: str) -> str:
    """The unit of one of ``result``'s figures: the metric's, per second for a rate."""
    unit = _shown(result.unit)
    if figure == "rate":
        return f"{unit}/s" if unit else "/s"
    return unit


def figure_text(result: MetricResult, figure: str) -> str:
    """One figure with its interval (``12.3 ms [11.8, 12.9]``), an observed one without
    (``40.0 jobs``), ``–`` when it has no value."""
    found = result.figures.get(figure)
    if found is None or found.value is None:
        return "–"
    unit = figure_unit(result, figure)
    if found.method == OBSERVED:
        return format_value(found.value, unit)
    return format_figure(found, unit)


def figures_text(result: MetricResult, separator: str = "; ") -> str:
    """Every figure of ``result``'s kind, named: ``mean 12.3 ms [11.8, 12.9]; p50 …``."""
    names = FIGURES_BY_KIND.get(result.kind, tuple(result.figures))
    return separator.join(f"{name} {figure_text(result, name)}" for name in names)


def budget_verdict_unit(verdict: BudgetVerdict, metrics: Sequence[MetricResult]) -> str:
    """The unit ``format_value`` takes for a budget verdict's figure: a request budget's
    (``budget_unit``), or a metric budget's from the metric it names."""
    if not is_metric_budget(verdict):
        return budget_unit(verdict.metric)
    field = METRIC_LIMITS[verdict.metric][0]
    for result in metrics:
        if result.key == verdict.scope or _same_key(result, verdict.scope):
            return figure_unit(result, field)
    return ""


def is_lower_limit(verdict: BudgetVerdict) -> bool:
    """Whether the budget is a floor (``min_throughput``, ``min_rate``, a gauge's ``min``)."""
    if is_metric_budget(verdict):
        return METRIC_LIMITS[verdict.metric][1] == "lower"
    return verdict.metric == "min_throughput"


def _same_key(result: MetricResult, scope: str) -> bool:
    """A budget key written with other spacing or dimension order names the same set."""
    try:
        name, dims = parse_metric_key(scope)
    except ValueError:
        return False
    return name == result.name and dims == result.dims


def console_lines(metrics: Sequence[MetricResult]) -> list[str]:
    """The terminal summary's custom-metrics section: one line per metric (each metric as
    a whole first, then its dimension sets), at most ``CONSOLE_LINES``."""
    if not metrics:
        return []
    ordered = [m for m in metrics if not m.dims] + [m for m in metrics if m.dims]
    lines = ["  custom metrics:"]
    for m in ordered[:CONSOLE_LINES]:
        missing = f", {m.missing} missing" if m.missing else ""
        lines.append(
            f"    {m.key[:40]:<40} {m.kind:<9} n={m.count}{missing}: {figures_text(m, ', ')}"
        )
    if len(ordered) > CONSOLE_LINES:
        lines.append(f"    … {len(ordered) - CONSOLE_LINES} more: see report.md")
    return lines
