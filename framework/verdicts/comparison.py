"""Run against run: recompute both steady states from their timelines, then compare."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from framework.stats.estimators import Estimate
from framework.stats.significance import overhead_estimates
from framework.verdicts.analysis import AnalysisSettings, analyse_window, steady_window
from framework.verdicts.builder import RunData
from framework.verdicts.custom_metrics import metric_results
from framework.verdicts.metric_comparison import compare_metrics
from framework.verdicts.results import ComparisonRow, MetricComparisonRow, MetricResult
from framework.verdicts.rules import compare_windows

__all__ = ["compare_run_metrics", "compare_runs", "overhead_test"]

_METRIC_ALIASES = {"median": "p50", "p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}


def _estimates(data: RunData, settings: AnalysisSettings) -> Mapping[str, Mapping[str, Estimate]]:
    window = steady_window(data.record, data.timeline, settings.warmup_s)
    return analyse_window(data.timeline, window, settings).estimates


def compare_runs(
    baseline: RunData,
    candidate: RunData,
    settings: AnalysisSettings,
    *,
    min_effect: float = 0.05,
    min_effect_ms: float = 1.0,
    correction: Literal["holm", "bh"] = "holm",
) -> list[ComparisonRow]:
    """Every shared name and metric, false alarms controlled across all of them; a latency
    change counts when it clears both ``min_effect`` and ``min_effect_ms``."""
    return compare_windows(
        _estimates(baseline, settings),
        _estimates(candidate, settings),
        min_effect=min_effect,
        min_effect_ms=min_effect_ms,
        confidence=settings.confidence,
        correction=correction,
    )


def _metrics(data: RunData, settings: AnalysisSettings) -> tuple[MetricResult, ...]:
    window = steady_window(data.record, data.timeline, settings.warmup_s)
    return metric_results(
        data.timeline, window.start_s, window.end_s, confidence=settings.confidence
    )


def compare_run_metrics(
    baseline: RunData,
    candidate: RunData,
    settings: AnalysisSettings,
    *,
    min_effect: float = 0.05,
    correction: Literal["holm", "bh"] = "holm",
    directions: Mapping[str, str] | None = None,
) -> list[MetricComparisonRow]:
    """Every custom metric key both runs recorded, figure by figure, over each run's steady
    state (``metric_comparison.compare_metrics``); ``directions`` from the budgets."""
    return compare_metrics(
        _metrics(baseline, settings),
        _metrics(candidate, settings),
        min_effect=min_effect,
        confidence=settings.confidence,
        correction=correction,
        directions=directions,
    )


def overhead_test(
    baseline: RunData,
    candidate: RunData,
    settings: AnalysisSettings,
    metric: str,
    max_overhead: float,
) -> str:
    """ "Does the candidate cost less than ``max_overhead`` more?" for all requests together.

    Returns one line starting with the verdict (pass, fail or inconclusive).
    """
    metric = _METRIC_ALIASES.get(metric, metric)
    a = _estimates(baseline, settings)[""][metric]
    b = _estimates(candidate, settings)[""][metric]
    test = overhead_estimates(a, b, max_overhead=max_overhead, confidence=settings.confidence)
    return (
        f"{test.verdict}: {metric} cost ratio {test.ratio:.4f} "
        f"(one-sided {settings.confidence:.0%} bounds [{test.low:.4f}, {test.high:.4f}]) "
        f"against a {max_overhead:.2%} overhead limit; p={test.p_value:.3g}"
    )
