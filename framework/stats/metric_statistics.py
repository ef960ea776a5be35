"""Each metric as a statistic of interval combinations, with its linearised series.

Batch means and the block bootstrap both need the same three things from a metric: its value
over any combination of intervals (a batch, a resample), the number of requests behind that
value, and the metric's per-interval linearised series, whose long-run variance sets the
estimate's and whose autocorrelation sets the block length.  :class:`Statistic` carries them,
so the interval methods never branch on the metric.  Metrics are named ``"mean"``,
``"p50"``, ``"p90"``, ``"p95"``, ``"p99"`` (any ``"pNN.N"``, or ``"median"``),
``"throughput"`` and ``"error_rate"``; latencies are in microseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import IntervalColumns, RowRanges

__all__ = [
    "METRICS",
    "Combine",
    "Statistic",
    "is_censored",
    "metric_statistic",
    "quantile_level",
]

Combine = Callable[[np.ndarray], np.ndarray]
"""Maps a per-interval array (intervals first) to its sums over each combination of intervals."""

METRICS = ("mean", "p50", "p90", "p95", "p99", "throughput", "error_rate")
_QUANTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def quantile_level(metric: str) -> float | None:
    """The quantile a metric names (``"p95"`` -> 0.95, ``"median"`` -> 0.5), else ``None``."""
    if metric == "median":
        return 0.5
    match = _QUANTILE.match(metric)
    return float(match.group(1)) / 100 if match else None


@dataclass(frozen=True)
class Statistic:
    """One metric on one timeline, in the form every interval method needs.

    ``stat(combine)`` recomputes the metric on combinations of intervals -- batches, or
    bootstrap resamples: ``combine`` maps any per-interval array (intervals first) to its
    per-combination sums -- and returns the values and the number of requests behind each.
    ``linear`` is the metric's per-interval linearised series (its influence summed over each
    interval; sums to ~0), whose long-run variance governs the estimate's, and ``unit_var`` is
    that series' variance per request if requests were iid.
    """

    metric: str
    value: float
    n: int
    stat: Callable[[Combine], tuple[np.ndarray, np.ndarray]]
    linear: np.ndarray
    unit_var: float
    censored: bool = False
    notes: tuple[str, ...] = ()


def _ratio_statistic(
    metric: str, num: np.ndarray, den: np.ndarray, n: int, unit_var: float
) -> Statistic:
    total = den.sum()
    value = num.sum() / total if total > 0 else math.nan

    def stat(combine: Combine) -> tuple[np.ndarray, np.ndarray]:
        d = combine(den)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, combine(num) / d, np.nan), d

    linear = num - (value if total > 0 else 0.0) * den
    return Statistic(metric, float(value), n, stat, linear, unit_var)


def _row_quantiles(matrix: np.ndarray, buckets: np.ndarray, p: float) -> np.ndarray:
    """Quantile ``p`` of each row of bucket counts, with HdrHistogram's rank rule."""
    totals = matrix.sum(axis=1)
    target = np.maximum(np.floor(p * totals + 0.5), 1)
    index = (np.cumsum(matrix, axis=1) < target[:, None]).sum(axis=1)
    values = buckets[np.minimum(index, buckets.size - 1)] if buckets.size else np.zeros(len(totals))
    return np.where(totals > 0, values, np.nan)


_WINDOW = 0.05
"""Widest share of the requests on either side of a percentile that a resample's own
percentile is first looked for in (half the share beyond it, up to 5%)."""


def _windowed_quantiles(
    sums: HistogramSums, combine: Combine, p: float, whole: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """``_row_quantiles(combine(hist))``, reading only the buckets near the whole run's
    percentile: a resample's percentile lies close to the run's, so summing the few
    buckets around it (and the count below them) finds it without a product over every
    bucket. Combinations whose percentile falls outside get the full computation, so the
    result is always identical. The sums of the matrix are read through ``sums``: every
    chunk of resamples asks for the same ones.
    """
    buckets = sums.columns.bucket_us
    assert buckets is not None
    reach = min(p, 1 - p, 2 * _WINDOW) / 2
    cumulative = np.cumsum(whole)
    n = cumulative[-1]
    lo, hi = (int(i) for i in np.searchsorted(cumulative, ((p - reach) * n, (p + reach) * n)))
    hi = min(hi + 1, whole.size)
    below = np.asarray(combine(sums.rows_at_or_below(lo - 1)), dtype=float)
    inside = np.asarray(combine(sums.bucket_columns(lo, hi)), dtype=float)
    target = np.maximum(np.floor(p * totals + 0.5), 1)
    found = (below[:, None] + np.cumsum(inside, axis=1) < target[:, None]).sum(axis=1)
    values = buckets[lo + np.minimum(found, hi - lo - 1)]
    missed = (totals > 0) & ((below >= target) | (found >= hi - lo))
    if missed.any():  # only those, over the buckets the run used (no combination uses others)
        used = np.flatnonzero(whole)
        counts = sums.sums(combine)[np.ix_(missed, used)]
        values[missed] = _row_quantiles(counts, buckets[used], p)
    return np.where(totals > 0, values, np.nan)


def is_censored(p: float, requests: int, timeouts: int) -> bool:
    """Whether percentile ``p`` (0.99) of ``requests`` falls among the timed-out ones.

    Timed-out requests waited the full timeout, longer than any completed one, so they hold
    the top ``timeouts`` ranks; if the percentile's rank p * requests lies among them the
    percentile is only known to be >= the timeout.

    >>> is_censored(0.99, 1000, 20), is_censored(0.95, 1000, 20)
    (True, False)
    """
    return timeouts > 0 and p * requests > requests - timeouts


def _quantile_statistic(
    cols: IntervalColumns, metric: str, p: float, sums: HistogramSums
) -> Statistic:
    hist, buckets = cols.hist, cols.bucket_us
    assert hist is not None and buckets is not None
    per_interval = sums.row_totals()
    n = int(per_interval.sum())
    if n == 0:
        return Statistic(
            metric,
            math.nan,
            0,
            lambda combine: (np.full(len(combine(per_interval)), np.nan), combine(per_interval)),
            np.zeros(len(per_interval)),
            0.0,
            notes=("no latencies in the histograms",),
        )
    whole = sums.bucket_totals()
    target = max(math.floor(p * n + 0.5), 1)
    k = int(np.searchsorted(np.cumsum(whole), target))
    below = sums.rows_at_or_below(k)
    p_hat = below.sum() / n

    def stat(combine: Combine) -> tuple[np.ndarray, np.ndarray]:
        totals = combine(per_interval)
        if isinstance(combine, RowRanges):  # batches: their histograms are kept anyway
            return _row_quantiles(sums.sums(combine), buckets, p), totals
        return _windowed_quantiles(sums, combine, p, whole, totals), totals

    timeouts = int(cols.timeouts.sum())
    # Timed-out requests left out of the histogram (failures kept apart) would rank above
    # every latency in it: count them in, so a percentile they would reach is censored.
    left_out = int(cols.counts.sum() - cols.latency_n.sum())
    censored = is_censored(p, n + min(timeouts, left_out), timeouts)
    notes = ()
    if censored:
        notes = (f"{metric} falls among the {timeouts} timed-out requests: it is a lower bound",)
    return Statistic(
        metric,
        float(buckets[k]),
        n,
        stat,
        below - p_hat * per_interval,
        p_hat * (1 - p_hat),
        censored,
        notes,
    )


def metric_statistic(
    cols: IntervalColumns, metric: str, sums: HistogramSums | None = None
) -> Statistic:
    """``metric`` on the run in ``cols``; ``ValueError`` for an unknown metric name.

    Percentiles need ``cols.hist`` (see :func:`~framework.stats.interval_data.interval_columns`)
    and read its sums through ``sums``, a :class:`~framework.stats.histogram_sums.HistogramSums`
    of ``cols`` that the caller shares between metrics (a fresh one if not given). The
    returned ``stat`` keeps reading through it: batches and resamples reuse its sums.
    """
    n = int(cols.counts.sum())
    if metric == "mean":
        m = int(cols.latency_n.sum())
        mean = cols.sums.sum() / m if m else math.nan
        var = (cols.sumsqs.sum() - m * mean**2) / (m - 1) if m > 1 else 0.0
        return _ratio_statistic(metric, cols.sums, cols.latency_n, m, max(var, 0.0))
    if metric == "error_rate":
        rate = cols.failures.sum() / n if n else math.nan
        return _ratio_statistic(metric, cols.failures, cols.counts, n, rate * (1 - rate))
    if metric == "throughput":
        durations = np.full(len(cols.counts), cols.interval_s)
        # Poisson arrivals as the independent reference: var(requests) = requests.
        return _ratio_statistic(metric, cols.counts, durations, n, 1.0)
    p = quantile_level(metric)
    if p is None or not 0 < p < 1:
        raise ValueError(
            f"unknown metric {metric!r}; expected one of {', '.join(METRICS)} or 'pNN[.N]'"
        )
    if sums is None:
        sums = HistogramSums(cols)
    elif sums.columns is not cols:
        raise ValueError("sums must be a HistogramSums of these very columns")
    return _quantile_statistic(cols, metric, p, sums)
