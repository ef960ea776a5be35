"""Confidence intervals for load-test metrics that stay honest when latency is autocorrelated.

Load-test latency is heavy-tailed and autocorrelated (queues drain slowly, a GC pause slows a
burst of requests), so formulas that assume independent samples -- order statistics, the plain
bootstrap, the t interval -- give intervals far too narrow: in our simulations their nominal 95%
intervals covered the true p95 only 16-51% of the time.  Here every interval comes from *time*:

- **batch means** (default): cut the run into ``batches`` contiguous stretches of time, compute
  the metric in each, and use the spread of those values (t with batches - 1 degrees of freedom).
  Batches much longer than the correlation time are nearly independent.
- **circular block bootstrap** over per-interval data, block length by Politis-White: used by
  ``method="auto"`` when the run is too short for 20 batches of at least five block lengths.
- **Politis-White block length** of the metric's per-interval linearised series: the correlation
  time, the effective sample size and the "batch >= 5 x block length" dependence check.

Inputs are plain per-interval records (:class:`~framework.stats.interval_data.IntervalData`, one per
timeline interval, normally one second) so this module depends on neither the timeline reader
nor Locust.  Metrics are those of :mod:`framework.stats.metric_statistics`.  Latencies are in
microseconds, throughput in requests per second.  Comparing two runs is
:mod:`framework.stats.significance`; planning a run's length is :mod:`framework.stats.precision`.

Example::

    est = estimate(intervals, "p95", interval_s=1.0)
    print(f"p95 {est.value:.0f} us, 95% CI [{est.low:.0f}, {est.high:.0f}]")

``docs/statistics.md`` explains each method, its assumptions and its references.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import sparse

from framework.stats.block_length import block_length
from framework.stats.distributions import beta_quantile, t_quantile
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import IntervalColumns, Intervals, RowRanges, as_columns
from framework.stats.metric_statistics import METRICS, Statistic, metric_statistic, quantile_level

__all__ = [
    "DEFAULT_BATCHES",
    "DEPENDENCE_RATIO",
    "MIN_BATCHES",
    "Estimate",
    "Method",
    "estimate",
    "estimates",
]

Method = Literal["auto", "batch_means", "block_bootstrap"]

DEFAULT_BATCHES = 20
"""Batches per run: enough degrees of freedom (19) for a tight t quantile, few enough that each
batch of a few-minute run still spans many correlation times."""

DEPENDENCE_RATIO = 5.0
"""Batches shorter than this many Politis-White block lengths give too-narrow intervals; our
simulations flagged under-covering runs reliably at this ratio."""

MIN_BATCHES = 10
"""Fewest batches ``method="auto"`` will use before switching to the block bootstrap."""


@dataclass(frozen=True)
class Estimate:
    """A metric with its confidence interval and what the interval rests on.

    ``value`` is the whole-run estimate (µs for latency, requests/s, or a fraction for
    ``error_rate``); ``[low, high]`` its two-sided interval at ``confidence``.  ``n`` counts the
    requests behind it and ``effective_n`` the independent requests that would give an interval
    this wide.  ``batches`` and ``batch_s`` describe the batches (or, for the block bootstrap, the
    blocks) and ``block_s`` the Politis-White block length in seconds: batches shorter than
    ``DEPENDENCE_RATIO`` block lengths make the interval too narrow.  ``censored`` marks a
    percentile that falls among timed-out requests, so it is only known to be >= the timeout.
    ``intervals`` is the number of consecutive intervals of ``interval_s`` seconds behind the
    estimate: how much correlation a run this long could detect depends on it.
    """

    value: float
    low: float
    high: float
    confidence: float
    n: int
    effective_n: float
    method: str
    batches: int
    batch_s: float
    notes: tuple[str, ...] = ()
    metric: str = ""
    se: float = math.nan
    block_s: float = math.nan
    censored: bool = False
    intervals: int = 0
    interval_s: float = 1.0

    @property
    def half_width(self) -> float:
        """Half the interval's width, in the metric's units."""
        return (self.high - self.low) / 2

    @property
    def relative_half_width(self) -> float:
        """Half-width as a fraction of the value (``inf`` when the value is 0)."""
        if self.value == 0:
            return math.inf if self.half_width > 0 else 0.0
        return abs(self.half_width / self.value)

    @property
    def dependence_ok(self) -> bool:
        """Whether batches span at least ``DEPENDENCE_RATIO`` correlation (block) lengths."""
        return self.batch_s >= DEPENDENCE_RATIO * self.block_s


_CHUNK = 128  # bootstrap replicates computed at once, to bound memory


def _effective_n(s: Statistic, linear_var: float) -> float:
    """Independent requests giving the same variance: n * (iid variance / actual variance)."""
    if not linear_var > 0 or not s.unit_var > 0:
        return float(s.n)
    return float(min(s.n, s.n * s.n * s.unit_var / linear_var))


@dataclass(frozen=True)
class _Spread:
    """What one interval method found: the interval, its standard error and what it rests on.

    ``linear_var`` is the variance of the linearised series summed over the batches or
    resamples (for the effective sample size); ``batch_intervals`` is a batch's (or block's)
    length in intervals.
    """

    low: float
    high: float
    se: float
    linear_var: float
    method: str
    batches: int
    batch_intervals: float
    notes: tuple[str, ...]


def _batch_means(s: Statistic, batches: int, confidence: float) -> _Spread:
    intervals = s.linear.size
    b = max(1, min(batches, intervals))
    combine = RowRanges.even(intervals, b)

    values, sizes = s.stat(combine)
    keep = (sizes > 0) & np.isfinite(values)
    values, sizes = values[keep], sizes[keep]
    used = int(keep.sum())
    notes = list(s.notes)
    se = math.nan
    low = high = math.nan
    if used >= 2 and math.isfinite(s.value):
        center = np.sum(sizes * values) / sizes.sum()
        deviations = sizes / sizes.mean() * (values - center)
        se = float(math.sqrt(np.sum(deviations**2) / (used * (used - 1))))
        half = t_quantile(0.5 + confidence / 2, used - 1) * se
        low, high = s.value - half, s.value + half
    else:
        notes.append(f"only {used} non-empty batch(es): no interval")
    linear_batches = combine(s.linear)[keep]
    linear_var = used / (used - 1) * float(np.sum(linear_batches**2)) if used >= 2 else 0.0
    return _Spread(low, high, se, linear_var, "batch_means", used, intervals / b, tuple(notes))


def _block_bootstrap(
    s: Statistic, confidence: float, block: float, replicates: int, rng: np.random.Generator
) -> _Spread:
    intervals = s.linear.size
    length = max(1, round(block))
    blocks = math.ceil(intervals / length)
    starts = rng.integers(0, intervals, size=(replicates, blocks))
    picks = ((starts[:, :, None] + np.arange(length)) % intervals).reshape(replicates, -1)
    picks = picks[:, :intervals]
    flat = (np.arange(replicates)[:, None] * intervals + picks).ravel()
    weights = np.bincount(flat, minlength=replicates * intervals).reshape(replicates, -1)
    weights = weights.astype(float)
    # Replicates in chunks: each is a dense row over every bucket the run used.
    chunks = [weights[i : i + _CHUNK] for i in range(0, replicates, _CHUNK)]
    values = np.concatenate([s.stat(_ResampleSums(w))[0] for w in chunks])
    values = values[np.isfinite(values)]
    alpha = 1 - confidence
    notes = (
        *s.notes,
        f"circular block bootstrap, {replicates} replicates of {length}-interval blocks",
    )
    if values.size >= 2:
        low, high = (float(v) for v in np.quantile(values, [alpha / 2, 1 - alpha / 2]))
        se = float(values.std(ddof=1))
    else:
        low = high = se = math.nan
    linear_var = float(np.var(_ResampleSums(weights)(s.linear), ddof=1))
    return _Spread(low, high, se, linear_var, "block_bootstrap", blocks, length, notes)


class _ResampleSums:
    """A ``Combine`` for bootstrap resamples: ``weights @ a``, where ``weights`` is
    (resamples, intervals). Dense arrays are summed with einsum rather than BLAS, whose
    threads would spin on a second core for products this small and gain no time."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights

    def __call__(self, a: np.ndarray | sparse.csr_array) -> np.ndarray:
        if sparse.issparse(a):
            return self.weights @ a
        return np.einsum("rt,t...->r...", self.weights, a)


def _estimate(
    cols: IntervalColumns,
    sums: HistogramSums,
    metric: str,
    confidence: float,
    batches: int,
    method: Method,
    replicates: int,
    rng: np.random.Generator,
) -> Estimate:
    s = metric_statistic(cols, metric, sums)
    block = block_length(s.linear)
    intervals = s.linear.size
    notes: tuple[str, ...] = ()
    if intervals < 2 or s.n == 0:
        spread = _batch_means(s, batches, confidence)  # no interval
    elif method == "block_bootstrap":
        spread = _block_bootstrap(s, confidence, block, replicates, rng)
    elif method == "auto" and intervals / min(batches, intervals) < DEPENDENCE_RATIO * block:
        longest = int(intervals // (DEPENDENCE_RATIO * block))
        if longest >= MIN_BATCHES:
            spread = _batch_means(s, longest, confidence)
            notes = (f"{longest} batches so that each spans >= {DEPENDENCE_RATIO:g} block lengths",)
        else:
            spread = _block_bootstrap(s, confidence, block, replicates, rng)
            notes = (
                f"run is short for its correlation time (block {block * cols.interval_s:.3g} s):"
                " the interval may be too narrow",
            )
    else:
        spread = _batch_means(s, batches, confidence)
    est = Estimate(
        value=s.value,
        low=spread.low,
        high=spread.high,
        confidence=confidence,
        n=s.n,
        effective_n=_effective_n(s, spread.linear_var),
        method=spread.method,
        batches=spread.batches,
        batch_s=spread.batch_intervals * cols.interval_s,
        notes=(*spread.notes, *notes),
        metric=s.metric,
        se=spread.se,
        block_s=block * cols.interval_s,
        censored=s.censored,
        intervals=intervals,
        interval_s=cols.interval_s,
    )
    return _bounded(est, cols)


def _bounded(est: Estimate, cols: IntervalColumns) -> Estimate:
    """Keep intervals inside the metric's range; give error rates at least Clopper-Pearson.

    With no failures (or failures in every request) the batches cannot vary, so batch means
    alone would claim [0, 0]; the exact binomial interval still bounds the rate, though it
    assumes independent requests.
    """
    if est.metric != "error_rate":
        return replace(est, low=max(est.low, 0.0)) if est.low < 0 else est
    n, k = est.n, int(cols.failures.sum())
    if n == 0:
        return est
    alpha = 1 - est.confidence
    cp_low = beta_quantile(alpha / 2, k, n - k + 1) if k > 0 else 0.0
    cp_high = beta_quantile(1 - alpha / 2, k + 1, n - k) if k < n else 1.0
    low = float(np.nanmin([est.low, cp_low]))
    high = float(np.nanmax([est.high, cp_high]))
    notes = est.notes
    if (k == 0 or k == n) or not est.high >= cp_high:
        notes = (*notes, "interval widened to Clopper-Pearson (assumes independent requests)")
    return replace(est, low=max(low, 0.0), high=min(high, 1.0), notes=notes)


def _check_common(confidence: float, batches: int, method: str) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if batches < 2:
        raise ValueError(f"batches must be >= 2, got {batches!r}")
    if method not in ("auto", "batch_means", "block_bootstrap"):
        raise ValueError(
            f"method must be 'auto', 'batch_means' or 'block_bootstrap', got {method!r}"
        )


def estimates(
    intervals: Intervals,
    metrics: Iterable[str] = METRICS,
    *,
    interval_s: float = 1.0,
    confidence: float = 0.95,
    batches: int = DEFAULT_BATCHES,
    method: Method = "auto",
    replicates: int = 999,
    seed: int | np.random.Generator | None = 0,
    sums: HistogramSums | None = None,
) -> dict[str, Estimate]:
    """Estimate several metrics of one run, taking each sum of the histograms only once.

    ``intervals`` are consecutive timeline intervals of ``interval_s`` seconds (empty ones
    included: they are time too), as records or already in columns (which carry their own
    interval length).  ``method`` is "batch_means", "block_bootstrap" or "auto":
    batch means with ``batches`` batches, fewer (not below 10) if that is what it takes for each
    to span ``DEPENDENCE_RATIO`` Politis-White block lengths, else the block bootstrap.
    ``replicates`` and ``seed`` drive the bootstrap only; the default seed makes reports
    reproducible.

    ``sums`` keeps the sums of the histograms that the percentiles share (see
    :class:`~framework.stats.histogram_sums.HistogramSums`); pass one, made of these very
    columns, to share them with later calls too -- :func:`~framework.stats.quality.assess`
    of the same window, say. Without it, the sums are kept for this call only.
    """
    names = list(metrics)
    _check_common(confidence, batches, method)
    need_hist = any(quantile_level(m) is not None for m in names)
    cols = as_columns(intervals, interval_s, need_hist)
    if sums is None:
        sums = HistogramSums(cols, batches=batches)
    elif sums.columns is not cols:
        raise ValueError("sums must be a HistogramSums of these very columns")
    rng = np.random.default_rng(seed)
    return {
        m: _estimate(cols, sums, m, confidence, batches, method, replicates, rng) for m in names
    }


def estimate(
    intervals: Intervals,
    metric: str,
    *,
    interval_s: float = 1.0,
    confidence: float = 0.95,
    batches: int = DEFAULT_BATCHES,
    method: Method = "auto",
    replicates: int = 999,
    seed: int | np.random.Generator | None = 0,
    sums: HistogramSums | None = None,
) -> Estimate:
    """Estimate one metric with a confidence interval that allows for autocorrelation.

    See :func:`estimates` for the arguments.  For ``error_rate`` the interval is widened to at
    least the Clopper-Pearson interval, so a run with no failures still gets an upper bound.
    """
    return estimates(
        intervals,
        [metric],
        interval_s=interval_s,
        confidence=confidence,
        batches=batches,
        method=method,
        replicates=replicates,
        seed=seed,
        sums=sums,
    )[metric]
