"""Budgets on custom metrics (``budgets.metrics``), judged on the run's ``MetricResult``s.

Each limit is judged like a request budget (``framework.verdicts.budgets.judge_limit``):
by the figure's interval, with the same tolerance, pass only when the whole interval is
within, fail only when it is wholly beyond, inconclusive otherwise; an observed figure (a
max, a min, a total) by its value. What a request budget cannot meet, a metric budget can,
and both fail with a message saying so (design contract 6, no verdict without evidence):

* a limit that does not fit the metric's kind (``p95`` on a counter): the run recorded the
  metric, but not that figure;
* a metric (or dimension set) the run never recorded.

A verdict's ``scope`` is the budget's key (``detector.server_ms{model=fast}``, dimensions
as written) and its ``metric`` the limit (``p95``, ``min_rate``): limits are named apart
from the request budgets' (``p95_ms``), which is how reports tell them apart
(``is_metric_budget``).
"""

from __future__ import annotations

from collections.abc import Sequence

from framework.scenario.budgets import METRIC_LIMITS, Budgets, parse_metric_key
from framework.suggestions import nearest
from framework.timeline.metric_records import metric_key
from framework.verdicts.budgets import judge_limit
from framework.verdicts.results import BudgetVerdict, Figure, MetricResult

__all__ = ["is_metric_budget", "limit_unit", "metric_budget_verdicts"]


def is_metric_budget(verdict: BudgetVerdict) -> bool:
    """Whether ``verdict`` judged a custom metric (``budgets.metrics``), not requests."""
    return verdict.metric in METRIC_LIMITS


def limit_unit(limit: str, unit: str) -> str:
    """The unit a limit's figure is in: the metric's, per second for a rate."""
    return f"{unit}/s" if METRIC_LIMITS[limit][0] == "rate" else unit


def metric_budget_verdicts(
    metrics: Sequence[MetricResult], budgets: Budgets
) -> list[BudgetVerdict]:
    """Every ``budgets.metrics`` limit judged on ``metrics``, in the budgets' order."""
    found = {r.key: r for r in metrics}
    verdicts = []
    for key, limits in budgets.metrics.items():
        name, dims = parse_metric_key(key)
        result = found.get(metric_key(name, dims))
        tolerance = limits.tolerance if limits.tolerance is not None else budgets.tolerance
        for limit, budget in limits.limits():
            field, bound, kinds = METRIC_LIMITS[limit]
            label = f"metric {key}"
            if result is None:
                why = _never_recorded(name, dims, metrics)
                verdicts.append(_failed(key, limit, budget, tolerance, f"{label} {limit}: {why}"))
                continue
            if result.kind not in kinds:
                fits = ", ".join(k for k, v in METRIC_LIMITS.items() if result.kind in v[2])
                why = (
                    f"{limit} does not fit a {result.kind} (its limits: {fits}); "
                    "the run has no such figure"
                )
                verdicts.append(_failed(key, limit, budget, tolerance, f"{label} {limit}: {why}"))
                continue
            figure = result.figures.get(field, Figure(value=None))
            unit = limit_unit(limit, result.unit)
            missing = "; ".join(figure.notes) or "no data in the analysed window"
            verdicts.append(
                judge_limit(
                    key, limit, budget, tolerance, figure, bound, _shown_unit(unit),
                    missing=missing, label=label,
                )
            )  # fmt: skip
    return verdicts


def _shown_unit(unit: str) -> str:
    """A metric's unit as ``judge_limit`` shows it ("" would read as a percentage)."""
    return unit or "1"


def _never_recorded(name: str, dims: dict[str, str], metrics: Sequence[MetricResult]) -> str:
    same = sorted(r.key for r in metrics if r.name == name and r.dims)
    if dims and any(r.name == name for r in metrics):
        sets = ", ".join(same[:10]) + (" …" if len(same) > 10 else "") if same else "none"
        return f"the run never recorded {metric_key(name, dims)} (its dimension sets: {sets})"
    names = sorted({r.name for r in metrics})
    listed = ", ".join(names[:10]) + (" …" if len(names) > 10 else "") if names else "none"
    guess = nearest(name, names)
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f"the run never recorded a metric named {name!r}{hint} (metrics: {listed})"


def _failed(key: str, limit: str, budget: float, tolerance: float, message: str) -> BudgetVerdict:
    bound = METRIC_LIMITS[limit][1]
    slack = abs(budget) * tolerance
    limit_value = budget + slack if bound == "upper" else budget - slack
    return BudgetVerdict(
        key, limit, budget, tolerance, limit_value, Figure(value=None), "fail", message
    )
