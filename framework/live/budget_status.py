"""Provisional budget status while a run goes on: passing, at risk or failing.

The same rule as the final verdict (``framework.verdicts.budgets``), on the run so far:
``failing`` only when the whole confidence interval is beyond the limit, ``passing`` only
when the whole interval is within it, ``at risk`` otherwise — including while too few
seconds are in for an honest interval (``pending`` until any request has been seen).
Abort guards act on ``failing`` alone, so a run is never stopped on a point estimate.

    >>> from framework.scenario.budgets import Budgets
    >>> budgets = Budgets.model_validate({"overall": {"p95_ms": 200, "error_rate": "5%"}})
    >>> [(b.scope, b.metric) for b in budget_limits(budgets)]
    [('overall', 'p95_ms'), ('overall', 'error_rate')]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from framework.live.statistics import ALL, LiveStatistics
from framework.scenario.budgets import BUDGET_METRICS, Budgets
from framework.scenario.metrics import FIGURE_FIELDS, LATENCY_METRICS
from framework.stats.estimators import Estimate
from framework.timeline.endpoints import OVERALL, selects

__all__ = ["BudgetLimit", "BudgetStatus", "Status", "budget_limits", "budget_statuses"]

Status = Literal["pending", "passing", "at risk", "failing"]

_METRIC_OF = {field: metric for metric, field in FIGURE_FIELDS.items()}


@dataclass(frozen=True)
class BudgetLimit:
    """One budget: ``scope`` is ``"overall"`` or a request name or key; ``limit`` includes
    the tolerance; ``kind`` is ``"upper"`` (must not exceed) or ``"lower"`` (must reach)."""

    scope: str
    metric: str  # the budget's key: "p95_ms", "error_rate", "min_throughput", …
    budget: float
    limit: float
    kind: Literal["upper", "lower"]
    unit: str  # "ms", "rps" or "" (a fraction)

    @property
    def estimator_metric(self) -> str:
        """The metric's name for ``framework.stats`` (``"p95"``, ``"throughput"``)."""
        return _METRIC_OF[BUDGET_METRICS[self.metric][0]]


@dataclass(frozen=True)
class BudgetStatus:
    """Where one budget stands now; ``value``, ``low`` and ``high`` are in the budget's unit
    (ms, rps or a fraction), ``None`` while not estimated."""

    limit: BudgetLimit
    status: Status
    value: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        """``"overall p95_ms 212 ms [198, 230] vs ≤ 220 ms: at risk"``, for a person."""
        lim = self.limit
        shown = "–" if self.value is None else _fmt(self.value, lim.unit)
        if self.low is not None and self.high is not None:
            shown += f" [{_fmt(self.low, lim.unit)}, {_fmt(self.high, lim.unit)}]"
        relation = "≤" if lim.kind == "upper" else "≥"
        limit = _fmt(lim.limit, lim.unit)
        return f"{lim.scope} {lim.metric} {shown} vs {relation} {limit}: {self.status}"


def _fmt(value: float, unit: str) -> str:
    return f"{value * 100:.2f}%" if unit == "" else f"{value:.4g} {unit}"


def budget_limits(budgets: Budgets | None) -> list[BudgetLimit]:
    """Every budget the scenario sets, overall first, in ``BUDGET_METRICS`` order."""
    if budgets is None:
        return []
    scoped = [(OVERALL, budgets.overall)] if budgets.overall is not None else []
    scoped += list(budgets.requests.items())
    found = []
    for scope, limits in scoped:
        if limits is None:
            continue
        tolerance = budgets.tolerance if limits.tolerance is None else limits.tolerance
        for metric, (_field, kind, unit) in BUDGET_METRICS.items():
            budget = getattr(limits, metric)
            if budget is None:
                continue
            limit = budget * (1 + tolerance) if kind == "upper" else budget * (1 - tolerance)
            found.append(BudgetLimit(scope, metric, float(budget), limit, kind, unit))
    return found


def _keys_of(scope: str, statistics: LiveStatistics) -> list[str]:
    if scope == OVERALL:
        return [ALL]
    return [k for k, (m, n) in statistics.endpoints().items() if selects(scope, m, n)]


def _status(limit: BudgetLimit, estimate: Estimate | None) -> BudgetStatus:
    if estimate is None or not all(
        map(math.isfinite, (estimate.value, estimate.low, estimate.high))
    ):
        return BudgetStatus(limit, "at risk")  # no figure yet (no successful request, say)
    scale = 1 / 1000 if limit.estimator_metric in LATENCY_METRICS else 1.0
    value, low, high = estimate.value * scale, estimate.low * scale, estimate.high * scale
    if limit.kind == "upper":
        status: Status = (
            "passing" if high <= limit.limit else "failing" if low > limit.limit else "at risk"
        )
    else:
        status = "passing" if low >= limit.limit else "failing" if high < limit.limit else "at risk"
    return BudgetStatus(limit, status, value, low, high)


def budget_statuses(
    limits: Iterable[BudgetLimit],
    statistics: LiveStatistics,
    *,
    confidence: float = 0.95,
    min_seconds: int = 20,
) -> list[BudgetStatus]:
    """The status of each budget on the run so far (the statistics' counted seconds).

    A budget on a request name not seen yet is ``pending``; one whose figure cannot be
    estimated yet (fewer than ``min_seconds`` seconds, no successful request) is ``at risk``.
    """
    wanted: dict[str, set[str]] = {}
    limits = list(limits)
    for limit in limits:
        for key in _keys_of(limit.scope, statistics):
            wanted.setdefault(key, set()).add(limit.estimator_metric)
    found: dict[str, Mapping[str, Estimate]] = {
        key: statistics.estimates(
            key, sorted(metrics), confidence=confidence, min_seconds=min_seconds
        )
        for key, metrics in wanted.items()
        if statistics.snapshot(key).count
    }
    out = []
    for limit in limits:
        keys = [k for k in _keys_of(limit.scope, statistics) if k in found]
        if not keys:
            out.append(BudgetStatus(limit, "pending"))
            continue
        # a bare name with several methods: the worst of them stands for the name
        statuses = [_status(limit, found[k].get(limit.estimator_metric)) for k in keys]
        out.append(max(statuses, key=lambda s: _RANK[s.status]))
    return out


_RANK: dict[Status, int] = {"pending": 0, "passing": 1, "at risk": 2, "failing": 3}
