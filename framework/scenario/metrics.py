"""The key figures of a run, and the name each one goes by where it is written.

Six figures describe every request name: mean, median, p95 and p99 latency, throughput and
error rate. The estimators call them by metric (``"p50"``), results.json, the analysis and
the store's index by field (``"median_ms"``), and a budget by its own key (``"p50_ms"``).
The table is here, in the first stage, because budgets already name the figures they limit;
every later list of key metrics or fields is derived from it.

    >>> KEY_METRICS
    ('mean', 'p50', 'p95', 'p99', 'throughput', 'error_rate')
    >>> FIGURE_FIELDS["p50"], LATENCY_METRICS
    ('median_ms', ('mean', 'p50', 'p95', 'p99'))
"""

from __future__ import annotations

__all__ = ["FIGURE_FIELDS", "KEY_METRICS", "LATENCY_METRICS"]

FIGURE_FIELDS: dict[str, str] = {
    "mean": "mean_ms",
    "p50": "median_ms",
    "p95": "p95_ms",
    "p99": "p99_ms",
    "throughput": "throughput_rps",
    "error_rate": "error_rate",
}
"""Each key metric → its field in results.json (``EndpointResult``) and in the store's index,
in the order both list them."""

KEY_METRICS: tuple[str, ...] = tuple(FIGURE_FIELDS)
"""The key metrics by the estimators' names, in figure order."""

LATENCY_METRICS: tuple[str, ...] = tuple(m for m, f in FIGURE_FIELDS.items() if f.endswith("_ms"))
"""The key metrics that are latencies: microseconds in estimates, milliseconds in results."""
