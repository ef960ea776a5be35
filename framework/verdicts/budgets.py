"""One budget judged on one figure, by its confidence interval.

A budget passes only when the whole interval is within ``budget × (1 + tolerance)`` (for
throughput, at or above ``budget × (1 − tolerance)``), fails only when the whole interval is
beyond it, and is inconclusive otherwise: a run too short or too noisy to tell gets no
verdict it has not earned. ``inconclusive: fail`` makes such budgets fail CI.
"""

from __future__ import annotations

from typing import Literal

from framework.scenario.budgets import BUDGET_METRICS
from framework.verdicts.results import BudgetVerdict, Figure

__all__ = ["OBSERVED", "judge", "judge_limit"]

OBSERVED = "observed"
"""A figure's ``method`` when it is a fact of the window, not an estimate (a custom
metric's max or total): judged by its value, it needs no interval."""


def _fmt(value: float, unit: str) -> str:
    if unit == "":
        return f"{value * 100:.2f}%"
    if unit == "1":
        return f"{value:.4g}"
    return f"{value:.4g} {unit}"


def judge(
    scope: str,
    metric: str,
    budget: float,
    tolerance: float,
    figure: Figure,
    *,
    missing: str = "no data",
) -> BudgetVerdict:
    """The verdict of one budget on one figure (see the module docstring).

    A figure without a value fails, ``missing`` saying why (design contract 6: no verdict
    without evidence): a latency budget with no successful request to measure, or any
    budget of a window without requests, must not pass, nor wait as inconclusive.
    """
    _field, kind, unit = BUDGET_METRICS[metric]
    return judge_limit(scope, metric, budget, tolerance, figure, kind, unit, missing=missing)


def judge_limit(
    scope: str,
    metric: str,
    budget: float,
    tolerance: float,
    figure: Figure,
    kind: Literal["upper", "lower"],
    unit: str,
    *,
    missing: str = "no data",
    label: str | None = None,
) -> BudgetVerdict:
    """``judge`` for any limit: ``kind`` "upper" (must not exceed) or "lower" (must
    reach), ``unit`` as messages show it ("" a fraction as a percentage, "1" a plain
    number). ``label`` names the budget in its message (``scope`` by default). The
    tolerance widens the limit by ``|budget| × tolerance``; a figure of method
    ``OBSERVED`` is judged by its value alone.
    """
    slack = abs(budget) * tolerance
    limit = budget + slack if kind == "upper" else budget - slack
    low, high, value = figure.low, figure.high, figure.value
    if value is None:
        verdict, why = "fail", missing
    elif figure.method == OBSERVED:
        passed = value <= limit if kind == "upper" else value >= limit
        verdict, why = ("pass" if passed else "fail"), f"{_fmt(value, unit)} (observed)"
    elif kind == "upper" and figure.censored:
        # Censored by timeouts: the true value is at least ``value``, never known to be less.
        verdict = "fail" if value > limit else "inconclusive"
        why = f"≥ {_fmt(value, unit)} (censored by timeouts)"
    elif low is None or high is None:
        verdict, why = "inconclusive", f"{_fmt(value, unit)} has no confidence interval"
    elif kind == "upper":
        verdict = "pass" if high <= limit else "fail" if low > limit else "inconclusive"
        why = f"{_fmt(value, unit)} [{_fmt(low, unit)}, {_fmt(high, unit)}]"
    else:
        verdict = "pass" if low >= limit else "fail" if high < limit else "inconclusive"
        why = f"{_fmt(value, unit)} [{_fmt(low, unit)}, {_fmt(high, unit)}]"
    relation = "≤" if kind == "upper" else "≥"
    message = (
        f"{label or scope} {metric}: {why} vs budget {_fmt(budget, unit)} "
        f"(limit {relation} {_fmt(limit, unit)} with {tolerance:.0%} tolerance): {verdict}"
    )
    return BudgetVerdict(scope, metric, budget, tolerance, limit, figure, verdict, message)
