"""Custom metrics run against run: each metric both runs recorded, by key and figure.

The endpoints' comparison (``rules.compare_windows``) works on each run's estimates; a
custom metric's estimates reach the verdicts as ``MetricResult`` figures (value and
interval, ``framework.verdicts.custom_metrics``), so each is turned back into an estimate
whose standard error gives that interval (``DEFAULT_BATCHES`` batch means, as the
analysis computes it) and compared by the same log-ratio test, false alarms controlled
with Holm (or Benjamini–Hochberg) across the custom metrics' rows.

Figures compared, and which way is worse:

* histogram and timer: ``mean``, ``p95``, ``p99`` — higher is worse (latency-like);
* gauge: ``mean`` (time-weighted) — higher is worse (a queue depth, a memory use);
* counter and meter: ``rate`` — no direction of its own: a change is ``changed``, unless a
  budget on the metric says which way is bad (``min_rate``: lower is worse; ``max_rate`` or
  ``max_total``: higher is worse), and then ``regression`` or ``improvement``.

A change counts only past ``min_effect`` (relative; the units vary, so there is no absolute
floor as ``min_effect_ms`` gives latencies). Keys present in one run only are not compared.

    >>> from framework.verdicts.results import Figure, MetricResult
    >>> def run(p95):
    ...     return [MetricResult("x.ms", "timer", "ms", {}, "x.ms", 900,
    ...                          figures={"p95": Figure(p95, p95 * 0.95, p95 * 1.05)})]
    >>> [r.verdict for r in compare_metrics(run(100.0), run(200.0))]
    ['regression']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from framework.stats.distributions import t_quantile
from framework.stats.estimators import DEFAULT_BATCHES, Estimate
from framework.stats.significance import Comparison, adjust, compare_estimates
from framework.verdicts.results import Change, Figure, MetricComparisonRow, MetricResult

__all__ = ["COMPARED_FIGURES", "budget_directions", "compare_metrics", "worse_direction"]

COMPARED_FIGURES: dict[str, tuple[str, ...]] = {
    "histogram": ("mean", "p95", "p99"),
    "timer": ("mean", "p95", "p99"),
    "gauge": ("mean",),
    "counter": ("rate",),
    "meter": ("rate",),
}
"""The figures of each kind a comparison reads."""

_LOWER_IS_WORSE = frozenset({"min_rate", "min"})
_HIGHER_IS_WORSE = frozenset({"max_rate", "max_total", "max", "mean", "p50", "p95", "p99"})


def budget_directions(budgets: Mapping[str, Any] | None) -> dict[str, str]:
    """Which way is worse for each metric a budget names (``budgets.metrics``: key → its
    limits, a mapping or a model): ``lower`` when it sets a minimum (``min_rate``),
    ``higher`` when it sets only maxima (``max_rate``, ``max_total``); both: no direction.

    >>> budget_directions({"jobs": {"min_rate": 2}, "alerts": {"max_rate": 1}})
    {'jobs': 'lower', 'alerts': 'higher'}
    """
    directions: dict[str, str] = {}
    for key, limits in (budgets or {}).items():
        if hasattr(limits, "model_dump"):
            limits = limits.model_dump()
        names = {str(k) for k, v in dict(limits or {}).items() if v is not None}
        lower, higher = bool(names & _LOWER_IS_WORSE), bool(names & _HIGHER_IS_WORSE)
        if lower != higher:
            directions[str(key)] = "lower" if lower else "higher"
    return directions


def worse_direction(metric: MetricResult, directions: Mapping[str, str] | None = None) -> str:
    """``higher`` or ``lower`` (which way is worse), ``""`` when neither: a counter's or
    meter's rate without a budget on its key or name."""
    if metric.kind not in ("counter", "meter"):
        return "higher"
    directions = directions or {}
    return directions.get(metric.key) or directions.get(metric.name) or ""


def compare_metrics(
    baseline: Sequence[MetricResult],
    candidate: Sequence[MetricResult],
    *,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    correction: Literal["holm", "bh"] = "holm",
    directions: Mapping[str, str] | None = None,
) -> list[MetricComparisonRow]:
    """Candidate against baseline on every custom metric key both have, figure by figure
    (``COMPARED_FIGURES``), in the candidate's order; see the module docstring."""
    before = {m.key: m for m in baseline}
    pairs: list[tuple[MetricResult, str, Estimate, Estimate]] = []
    skipped: list[MetricComparisonRow] = []
    for metric in candidate:
        base = before.get(metric.key)
        if base is None:
            continue
        if (base.kind, base.unit) != (metric.kind, metric.unit):
            skipped.append(_not_compared(metric, base))
            continue
        for figure in COMPARED_FIGURES.get(metric.kind, ()):
            a, b = base.figures.get(figure), metric.figures.get(figure)
            if a is None or b is None or a.value is None or b.value is None:
                continue
            pairs.append((metric, figure, _estimate(a, figure), _estimate(b, figure)))
    found = [
        compare_estimates(a, b, min_effect=min_effect, confidence=confidence)
        for _, _, a, b in pairs
    ]
    rows = list(skipped)
    for (metric, figure, _, _), raw, c in zip(pairs, found, adjust(found, correction), strict=True):
        rows.append(_row(metric, figure, raw, c, correction, worse_direction(metric, directions)))
    return rows


def _estimate(figure: Figure, name: str) -> Estimate:
    """The estimate whose ``DEFAULT_BATCHES``-batch t interval is the figure's interval."""
    value = float(figure.value or 0.0)
    se = math.nan
    if figure.low is not None and figure.high is not None:
        half = (figure.high - figure.low) / 2
        se = half / t_quantile(0.5 + figure.confidence / 2, DEFAULT_BATCHES - 1)
    return Estimate(
        value=value,
        low=figure.low if figure.low is not None else math.nan,
        high=figure.high if figure.high is not None else math.nan,
        confidence=figure.confidence,
        n=figure.n,
        effective_n=figure.effective_n if figure.effective_n is not None else math.nan,
        method=figure.method or "batch-means",
        batches=DEFAULT_BATCHES,
        batch_s=math.nan,
        metric=name,
        se=se,
    )


def _verdict(found: str, worse: str) -> Change:
    """The log-ratio test calls a rise a regression; turn it to the metric's direction."""
    if found == "no detectable change":
        return "no detectable change"
    if not worse:
        return "changed"
    rose = found == "regression"
    return "regression" if rose == (worse == "higher") else "improvement"


def _row(
    metric: MetricResult,
    figure: str,
    raw: Comparison,
    c: Comparison,
    correction: str,
    worse: str,
) -> MetricComparisonRow:
    finite = math.isfinite(c.low) and math.isfinite(c.high) and math.isfinite(c.ratio)
    verdict = _verdict(c.verdict, worse)
    unit = f" {metric.unit}" if metric.unit and metric.unit != "1" else ""
    unit += "/s" if figure == "rate" else ""
    shown = f"×{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}]" if finite else "no ratio"
    level = c.level if math.isfinite(c.level) else c.confidence
    way = {"higher": "higher is worse", "lower": "lower is worse", "": "no worse direction"}
    return MetricComparisonRow(
        scope=metric.key,
        metric=figure,
        baseline=c.a.value,
        candidate=c.b.value,
        ratio=c.ratio if math.isfinite(c.ratio) else None,
        low=c.low if finite else None,
        high=c.high if finite else None,
        p_value=raw.p_value,
        adjusted_p_value=c.p_value,
        verdict=verdict,
        message=f"{metric.key} {figure}: {c.a.value:.4g} → {c.b.value:.4g}{unit}, {shown} "
        f"at {level:.1%}, adjusted p={c.p_value:.3g} ({correction}, {way[worse]}): {verdict}",
        level=c.level if finite else None,
        kind=metric.kind,
        unit=metric.unit,
        worse=worse,
    )


def _not_compared(metric: MetricResult, base: MetricResult) -> MetricComparisonRow:
    return MetricComparisonRow(
        scope=metric.key,
        metric="–",
        baseline=None,
        candidate=None,
        ratio=None,
        low=None,
        high=None,
        p_value=None,
        adjusted_p_value=None,
        verdict="no detectable change",
        message=f"{metric.key}: not compared, the baseline recorded it as a {base.kind} in "
        f"{base.unit!r} and this run as a {metric.kind} in {metric.unit!r}",
        kind=metric.kind,
        unit=metric.unit,
        worse=worse_direction(metric),
    )
