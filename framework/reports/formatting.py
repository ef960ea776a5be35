"""How every report format shows a number, a figure with its interval, a time and a verdict.

The Markdown, HTML, JUnit, comparison and history outputs are read side by side (a PR
comment next to the HTML report next to the CI test list), so they must say the same thing
the same way: ``12.3 ms [11.8, 12.9]``, ``≥ 10,000 ms`` for a censored value, ``1.25%``
for an error rate, ``–`` for nothing, regressions listed before improvements. This module
is that one way; the renderers only escape and lay out what it returns.

    >>> format_value(1234.5), format_value(0.0125, "%"), format_value(None)
    ('1,234 ms', '1.25%', '–')
    >>> format_value(300.0, compact=True)
    '300 ms'
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from framework.scenario.metrics import LATENCY_METRICS
from framework.verdicts.results import ComparisonRow, Figure

__all__ = [
    "COMPARED_UNITS",
    "VERDICT_ORDER",
    "budget_unit",
    "format_figure",
    "format_percent",
    "format_ratio",
    "format_time",
    "format_value",
    "metric_unit",
]

COMPARED_UNITS = {**dict.fromkeys(LATENCY_METRICS, "ms"), "throughput": "req/s", "error_rate": "%"}
"""The unit ``format_value`` takes for each metric a comparison row can have."""

VERDICT_ORDER = {"regression": 0, "changed": 1, "improvement": 2, "no detectable change": 3}
"""Comparison verdicts in the order they are listed: what needs attention first."""

_BUDGET_UNITS = {"error_rate": "%", "min_throughput": "req/s"}


def format_value(
    value: float | None, unit: str = "ms", *, with_unit: bool = True, compact: bool = False
) -> str:
    """One number in the report's style: ``1,234 ms``, ``12.3 ms``, ``0.584 ms``, ``1.25%``.

    ``unit`` ``"%"`` takes a fraction (0.0125 → ``1.25%``); ``None`` is shown as ``–``.
    ``compact`` drops zeros a limit set by hand does not have (``300 ms``, not ``300.0 ms``).
    """
    if value is None:
        return "–"
    if compact:
        scaled = value * 100 if unit == "%" else value
        text = f"{scaled:,.0f}" if abs(scaled) >= 1000 else f"{scaled:.4g}"
    elif unit == "%":
        text = f"{value * 100:.2f}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 1 or value == 0:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    if not with_unit or not unit:
        return text
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def format_figure(figure: Figure, unit: str = "ms") -> str:
    """``12.3 ms [11.8, 12.9]``; ``≥ 10,000 ms`` when censored; ``–`` without a value."""
    if figure.value is None:
        return "–"
    shown = format_value(figure.value, unit)
    if figure.censored:
        return f"≥ {shown}"
    if figure.low is None or figure.high is None:
        return f"{shown} (no CI)"
    low = format_value(figure.low, unit, with_unit=False)
    high = format_value(figure.high, unit, with_unit=False)
    return f"{shown} [{low}, {high}]"


def format_ratio(row: ComparisonRow | None) -> str:
    """A comparison's candidate ÷ baseline: ``1.250 [1.188, 1.313]``, ``1.250`` without an
    interval, ``–`` without a ratio (or a row)."""
    if row is None or row.ratio is None:
        return "–"
    if row.low is None or row.high is None:
        return f"{row.ratio:.3f}"
    return f"{row.ratio:.3f} [{row.low:.3f}, {row.high:.3f}]"


def format_percent(value: float | None) -> str:
    """A fraction as a whole percentage (``0.95`` → ``95%``); ``–`` for none or not finite."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.0%}"


def format_time(text: str | None) -> str:
    """An ISO-8601 time as ``2026-01-02 10:00:00 UTC``; ``–`` for none, text that is no
    time as it is (the caller escapes it)."""
    if not text:
        return "–"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def budget_unit(metric: str) -> str:
    """The unit ``format_value`` takes for a budget's metric (``ms`` unless it says)."""
    return _BUDGET_UNITS.get(metric, "ms")


def metric_unit(unit: str, figure: str = "") -> str:
    """The unit a custom metric's figure is shown in: a rate per second, a dimensionless
    ``1`` as none, and a ``%`` spelled out (``format_value`` reads ``%`` as a fraction)."""
    shown = {"1": "", "%": "percent"}.get(unit, unit)
    if figure == "rate":
        return f"{shown}/s" if shown else "/s"
    return shown
