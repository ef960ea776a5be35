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

Inputs are plain per-interval records (:class:`IntervalData`, one per timeline interval, normally
one second) so this module depends on neither the timeline reader nor Locust.  Metrics are named
``"mean"``, ``"p50"``, ``"p90"``, ``"p95"``, ``"p99"`` (any ``"pNN.N"``), ``"throughput"`` and
``"error_rate"``.  Latencies are in microseconds, throughput in requests per second.

Example::

    est = estimate(intervals, "p95", interval_s=1.0)
    print(f"p95 {est.value:.0f} us, 95% CI [{est.low:.0f}, {est.high:.0f}]")

``docs/statistics.md`` explains each method, its assumptions and its references.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import sparse, stats

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

__all__ = [
    "DEFAULT_BATCHES",
    "DEPENDENCE_RATIO",
    "METRICS",
    "MIN_BATCHES",
    "Comparison",
    "Estimate",
    "IntervalData",
    "OverheadTest",
    "adjust",
    "benjamini_hochberg",
    "block_length",
    "compare",
    "compare_estimates",
    "estimate",
    "estimates",
    "holm",
    "is_censored",
    "minimum_detectable_change",
    "overhead",
    "overhead_estimates",
    "required_duration_s",
]

Method = Literal["auto", "batch_means", "block_bootstrap"]
Combine = Callable[[np.ndarray], np.ndarray]
Verdict = Literal["regression", "improvement", "no detectable change"]


@dataclass(frozen=True)
class IntervalData:
    """What the timeline holds for one request name in one interval (normally one second).

    ``count`` includes failures; ``sum_us`` / ``sumsq_us`` are the exact sum and sum of squares
    of the latencies (µs, µs²); ``histogram`` holds the same latencies in µs (``None`` when
    nothing completed).  ``timeouts`` counts requests cut off by the client timeout (also in
    ``count`` and ``failures``): their recorded latency is only a lower bound.
    """

    count: int
    failures: int = 0
    sum_us: float = 0.0
    sumsq_us: float = 0.0
    histogram: HdrHistogram | None = None
    timeouts: int = 0


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


@dataclass(frozen=True)
class Comparison:
    """Run B against baseline A on one metric: the ratio B/A, its interval and a verdict.

    ``verdict`` is "regression" (worse by at least ``min_effect`` and significant), "improvement"
    (better by at least ``min_effect``) or "no detectable change".  ``equivalent`` says the whole
    interval lies within ±``min_effect``, i.e. a change of that size is ruled out.  ``p_value`` is
    for "no change" (two-sided); ``adjusted`` names the multiple-testing correction applied to it.
    """

    metric: str
    ratio: float
    low: float
    high: float
    confidence: float
    p_value: float
    df: float
    verdict: Verdict
    min_effect: float
    equivalent: bool
    a: Estimate
    b: Estimate
    notes: tuple[str, ...] = ()
    adjusted: str | None = None


@dataclass(frozen=True)
class OverheadTest:
    """One-sided test of "B costs less than ``max_overhead`` more than A".

    ``ratio`` is cost(B)/cost(A) (latency or error rate B/A; for throughput A/B, since less
    throughput is the cost); ``low``/``high`` are one-sided bounds at ``confidence``.  "pass" when
    ``high`` < 1 + max_overhead, "fail" when ``low`` > 1 + max_overhead, else "inconclusive".
    ``p_value`` is for the null "overhead >= max_overhead".
    """

    metric: str
    ratio: float
    low: float
    high: float
    confidence: float
    max_overhead: float
    p_value: float
    verdict: Literal["pass", "fail", "inconclusive"]
    a: Estimate
    b: Estimate


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Columns:
    """The per-interval counters as arrays, plus the histograms as a sparse count matrix."""

    counts: np.ndarray
    failures: np.ndarray
    sums: np.ndarray
    sumsqs: np.ndarray
    timeouts: np.ndarray
    interval_s: float
    hist: sparse.csr_array | None  # (intervals, buckets) counts, or None if not needed
    bucket_us: np.ndarray | None  # bucket midpoints, µs, ascending


def _columns(intervals: Sequence[IntervalData], interval_s: float, need_hist: bool) -> _Columns:
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
    if len(intervals) == 0:
        raise ValueError("no intervals: need at least one interval of timeline data")
    hist, buckets = _histogram_matrix(intervals) if need_hist else (None, None)
    return _Columns(
        counts=np.array([iv.count for iv in intervals], dtype=float),
        failures=np.array([iv.failures for iv in intervals], dtype=float),
        sums=np.array([iv.sum_us for iv in intervals], dtype=float),
        sumsqs=np.array([iv.sumsq_us for iv in intervals], dtype=float),
        timeouts=np.array([iv.timeouts for iv in intervals], dtype=float),
        interval_s=float(interval_s),
        hist=hist,
        bucket_us=buckets,
    )


def _nonzero_buckets(histogram: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """Indexes and counts of the histogram's non-empty buckets, read without a Python loop.

    Only the stretch between the recorded minimum and maximum is scanned (a whole counts array
    is ~17k buckets at 3 significant digits); if the min/max bookkeeping disagrees with the
    total count, the whole array is scanned instead.
    """
    try:
        counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    except (TypeError, AttributeError):  # an implementation without a ctypes counts array
        counts = np.array([histogram.get_count_at_index(i) for i in range(histogram.counts_len)])
    first = histogram.get_counts_array_index(histogram.get_min_value())
    last = histogram.get_counts_array_index(histogram.get_max_value())
    window = counts[max(first, 0) : last + 1]
    offset = max(first, 0)
    if window.sum() != histogram.get_total_count():
        window, offset = counts, 0
    idx = np.flatnonzero(window)
    return idx + offset, window[idx].astype(float)


def _histogram_matrix(
    intervals: Sequence[IntervalData],
) -> tuple[sparse.csr_array, np.ndarray]:
    """Stack the interval histograms as rows over the union of buckets any of them uses.

    The matrix is sparse: an hour-long run with a wide latency range touches tens of
    thousands of buckets over the run but only a few hundred in any one second.

    All histograms must share a bucket layout (lowest trackable value and significant digits)
    so that bucket indexes mean the same latency.  Buckets are represented by their midpoint,
    which halves the worst-case bucketing error of HdrHistogram's own percentiles (they report
    a bucket's upper edge): under 0.05% at 3 significant digits, 0.4% at 2.
    """
    layout: tuple[int, int] | None = None
    rows, cols, vals = [], [], []
    for t, iv in enumerate(intervals):
        h = iv.histogram
        if h is None or h.get_total_count() == 0:
            continue
        key = (h.unit_magnitude, h.sub_bucket_half_count_magnitude)
        if layout is None:
            layout = key
        elif key != layout:
            raise ValueError(
                f"intervals[{t}].histogram has bucket layout {key} (unit magnitude, sub-bucket "
                f"half-count magnitude) but earlier intervals have {layout}; record every "
                "interval with the same lowest value and significant digits"
            )
        idx, counts = _nonzero_buckets(h)
        rows.append(np.full(idx.size, t))
        cols.append(idx)
        vals.append(counts)
    if layout is None:
        return sparse.csr_array((len(intervals), 0)), np.zeros(0)
    all_cols = np.concatenate(cols)
    used = np.unique(all_cols)
    where = (np.concatenate(rows), np.searchsorted(used, all_cols))
    matrix = sparse.csr_array((np.concatenate(vals), where), shape=(len(intervals), used.size))
    return matrix, _bucket_midpoints(used, *layout)


def _bucket_midpoints(index: np.ndarray, unit_magnitude: int, half_magnitude: int) -> np.ndarray:
    """Midpoint (µs) of HdrHistogram counts-array buckets, as ``get_value_from_index`` maps them.

    A bucket holds the whole microseconds lowest .. lowest + width - 1; below 2048 µs (at 3
    significant digits) the width is 1 and the midpoint is the recorded value itself.
    """
    half = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub = (index & (half - 1)) + half
    low_bucket = bucket < 0
    sub = np.where(low_bucket, sub - half, sub)
    bucket = np.where(low_bucket, 0, bucket)
    width = 2.0 ** (bucket + unit_magnitude)
    return sub * width + (width - 1) / 2  # the middle of the whole µs the bucket holds


# --------------------------------------------------------------------------- metrics

METRICS = ("mean", "p50", "p90", "p95", "p99", "throughput", "error_rate")
_QUANTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_HIGHER_IS_BETTER = frozenset({"throughput"})


def _quantile_level(metric: str) -> float | None:
    if metric == "median":
        return 0.5
    match = _QUANTILE.match(metric)
    return float(match.group(1)) / 100 if match else None


@dataclass(frozen=True)
class _Statistic:
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
) -> _Statistic:
    total = den.sum()
    value = num.sum() / total if total > 0 else math.nan

    def stat(combine: Combine) -> tuple[np.ndarray, np.ndarray]:
        d = combine(den)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, combine(num) / d, np.nan), d

    linear = num - (value if total > 0 else 0.0) * den
    return _Statistic(metric, float(value), n, stat, linear, unit_var)


def _row_quantiles(matrix: np.ndarray, buckets: np.ndarray, p: float) -> np.ndarray:
    """Quantile ``p`` of each row of bucket counts, with HdrHistogram's rank rule."""
    totals = matrix.sum(axis=1)
    target = np.maximum(np.floor(p * totals + 0.5), 1)
    index = (np.cumsum(matrix, axis=1) < target[:, None]).sum(axis=1)
    values = buckets[np.minimum(index, buckets.size - 1)] if buckets.size else np.zeros(len(totals))
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


def _quantile_statistic(cols: _Columns, metric: str, p: float) -> _Statistic:
    hist, buckets = cols.hist, cols.bucket_us
    assert hist is not None and buckets is not None
    per_interval = np.asarray(hist.sum(axis=1)).ravel()
    n = int(per_interval.sum())
    if n == 0:
        return _Statistic(
            metric,
            math.nan,
            0,
            lambda combine: (np.full(len(combine(per_interval)), np.nan), combine(per_interval)),
            np.zeros(len(per_interval)),
            0.0,
            notes=("no latencies in the histograms",),
        )
    whole = np.asarray(hist.sum(axis=0)).ravel()
    target = max(math.floor(p * n + 0.5), 1)
    k = int(np.searchsorted(np.cumsum(whole), target))
    below = np.asarray(hist[:, : k + 1].sum(axis=1)).ravel()  # at or below it, per interval
    p_hat = below.sum() / n

    def stat(combine: Combine) -> tuple[np.ndarray, np.ndarray]:
        return _row_quantiles(combine(hist), buckets, p), combine(per_interval)

    timeouts = int(cols.timeouts.sum())
    censored = is_censored(p, int(cols.counts.sum()), timeouts)
    notes = ()
    if censored:
        notes = (f"{metric} falls among the {timeouts} timed-out requests: it is a lower bound",)
    return _Statistic(
        metric,
        float(buckets[k]),
        n,
        stat,
        below - p_hat * per_interval,
        p_hat * (1 - p_hat),
        censored,
        notes,
    )


def _statistic(cols: _Columns, metric: str) -> _Statistic:
    n = int(cols.counts.sum())
    if metric == "mean":
        mean = cols.sums.sum() / n if n else math.nan
        var = (cols.sumsqs.sum() - n * mean**2) / (n - 1) if n > 1 else 0.0
        return _ratio_statistic(metric, cols.sums, cols.counts, n, max(var, 0.0))
    if metric == "error_rate":
        rate = cols.failures.sum() / n if n else math.nan
        return _ratio_statistic(metric, cols.failures, cols.counts, n, rate * (1 - rate))
    if metric == "throughput":
        durations = np.full(len(cols.counts), cols.interval_s)
        # Poisson arrivals as the independent reference: var(requests) = requests.
        return _ratio_statistic(metric, cols.counts, durations, n, 1.0)
    p = _quantile_level(metric)
    if p is None or not 0 < p < 1:
        raise ValueError(
            f"unknown metric {metric!r}; expected one of {', '.join(METRICS)} or 'pNN[.N]'"
        )
    return _quantile_statistic(cols, metric, p)


# --------------------------------------------------------------------------- block length


def block_length(series: Sequence[float] | np.ndarray) -> float:
    """Politis-White automatic block length (in intervals) for the circular block bootstrap.

    It is the correlation length that matters for a time-series mean: it estimates the long-run
    variance g and G = sum |k| gamma(k) with a flat-top lag window whose bandwidth comes from the
    first run of K_n insignificant autocorrelations (Politis & White 2004), then returns
    (2 G^2 / D)^(1/3) n^(1/3) with D = 4/3 g^2 (the Patton, Politis & White 2009 correction),
    clipped to [1, min(3 sqrt(n), n/3)].  An iid series gives about 1-3.

    >>> block_length([1.0, 2.0, 1.0, 2.0]) >= 1
    True
    """
    x = np.asarray(series, dtype=float)
    n = x.size
    if n < 4:
        return 1.0
    e = x - x.mean()
    gamma0 = float(e @ e) / n
    if gamma0 <= 1e-300:
        return 1.0
    k_n = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 1)
    b_max = math.ceil(min(3 * math.sqrt(n), n / 3))
    acov = np.array([e[k:] @ e[: n - k] / n for k in range(m_max + 1)])
    rho = np.abs(acov / gamma0)
    threshold = 2 * math.sqrt(math.log10(n) / n)
    m_hat = m_max
    for m in range(m_max - k_n + 1):
        if np.all(rho[m + 1 : m + k_n + 1] < threshold):
            m_hat = m
            break
    big_m = min(2 * max(m_hat, 1), m_max)
    lags = np.arange(1, big_m + 1)
    t = lags / big_m
    flat_top = np.where(t <= 0.5, 1.0, 2 * (1 - t))
    g = gamma0 + 2 * np.sum(flat_top * acov[1 : big_m + 1])
    big_g = 2 * np.sum(flat_top * lags * acov[1 : big_m + 1])
    if g <= 0:
        return 1.0
    d_cb = 4 / 3 * g**2
    b = (2 * big_g**2 / d_cb) ** (1 / 3) * n ** (1 / 3)
    return float(min(max(b, 1.0), b_max))


# --------------------------------------------------------------------------- estimation

DEFAULT_BATCHES = 20
"""Batches per run: enough degrees of freedom (19) for a tight t quantile, few enough that each
batch of a few-minute run still spans many correlation times."""

DEPENDENCE_RATIO = 5.0
"""Batches shorter than this many Politis-White block lengths give too-narrow intervals; our
simulations flagged under-covering runs reliably at this ratio."""

MIN_BATCHES = 10
"""Fewest batches ``method="auto"`` will use before switching to the block bootstrap."""


_CHUNK = 128  # bootstrap replicates computed at once, to bound memory


def _batch_starts(intervals: int, batches: int) -> np.ndarray:
    """First interval of each of ``batches`` contiguous, near-equal stretches of time."""
    sizes = np.full(batches, intervals // batches)
    sizes[: intervals % batches] += 1
    return np.concatenate([[0], np.cumsum(sizes)[:-1]])


def _effective_n(s: _Statistic, linear_var: float) -> float:
    """Independent requests giving the same variance: n * (iid variance / actual variance)."""
    if not linear_var > 0 or not s.unit_var > 0:
        return float(s.n)
    return float(min(s.n, s.n * s.n * s.unit_var / linear_var))


def _from_batches(
    s: _Statistic, batches: int, confidence: float, interval_s: float, block: float
) -> Estimate:
    intervals = s.linear.size
    b = max(1, min(batches, intervals))
    starts = _batch_starts(intervals, b)

    rows = np.repeat(np.arange(b), np.diff(np.append(starts, intervals)))
    indicator = sparse.csr_array((np.ones(intervals), (rows, np.arange(intervals))))

    def combine(a: np.ndarray) -> np.ndarray:
        if sparse.issparse(a):
            return (indicator @ a).toarray()
        return np.add.reduceat(a, starts, axis=0)

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
        half = float(stats.t.ppf(0.5 + confidence / 2, used - 1)) * se
        low, high = s.value - half, s.value + half
    else:
        notes.append(f"only {used} non-empty batch(es): no interval")
    linear_batches = combine(s.linear)[keep]
    linear_var = used / (used - 1) * float(np.sum(linear_batches**2)) if used >= 2 else 0.0
    return Estimate(
        value=s.value,
        low=low,
        high=high,
        confidence=confidence,
        n=s.n,
        effective_n=_effective_n(s, linear_var),
        method="batch_means",
        batches=used,
        batch_s=intervals / b * interval_s,
        notes=tuple(notes),
        metric=s.metric,
        se=se,
        block_s=block * interval_s,
        censored=s.censored,
    )


def _from_bootstrap(
    s: _Statistic,
    confidence: float,
    interval_s: float,
    block: float,
    replicates: int,
    rng: np.random.Generator,
) -> Estimate:
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
    values = np.concatenate([s.stat(lambda a, w=w: w @ a)[0] for w in chunks])
    values = values[np.isfinite(values)]
    alpha = 1 - confidence
    notes = [
        *s.notes,
        f"circular block bootstrap, {replicates} replicates of {length}-interval blocks",
    ]
    if values.size >= 2:
        low, high = (float(v) for v in np.quantile(values, [alpha / 2, 1 - alpha / 2]))
        se = float(values.std(ddof=1))
    else:
        low = high = se = math.nan
    linear_var = float(np.var(weights @ s.linear, ddof=1))
    return Estimate(
        value=s.value,
        low=low,
        high=high,
        confidence=confidence,
        n=s.n,
        effective_n=_effective_n(s, linear_var),
        method="block_bootstrap",
        batches=blocks,
        batch_s=length * interval_s,
        notes=tuple(notes),
        metric=s.metric,
        se=se,
        block_s=block * interval_s,
        censored=s.censored,
    )


def _estimate(
    cols: _Columns,
    metric: str,
    confidence: float,
    batches: int,
    method: Method,
    replicates: int,
    rng: np.random.Generator,
) -> Estimate:
    s = _statistic(cols, metric)
    block = block_length(s.linear)
    intervals = s.linear.size
    if intervals < 2 or s.n == 0:
        est = _from_batches(s, batches, confidence, cols.interval_s, block)  # no interval
    elif method == "block_bootstrap":
        est = _from_bootstrap(s, confidence, cols.interval_s, block, replicates, rng)
    elif method == "auto" and intervals / min(batches, intervals) < DEPENDENCE_RATIO * block:
        longest = int(intervals // (DEPENDENCE_RATIO * block))
        if longest >= MIN_BATCHES:
            est = _from_batches(s, longest, confidence, cols.interval_s, block)
            note = f"{longest} batches so that each spans >= {DEPENDENCE_RATIO:g} block lengths"
        else:
            est = _from_bootstrap(s, confidence, cols.interval_s, block, replicates, rng)
            note = (
                f"run is short for its correlation time (block {block * cols.interval_s:.3g} s):"
                " the interval may be too narrow"
            )
        est = replace(est, notes=(*est.notes, note))
    else:
        est = _from_batches(s, batches, confidence, cols.interval_s, block)
    return _bounded(est, cols)


def _bounded(est: Estimate, cols: _Columns) -> Estimate:
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
    cp_low = stats.beta.ppf(alpha / 2, k, n - k + 1) if k > 0 else 0.0
    cp_high = stats.beta.ppf(1 - alpha / 2, k + 1, n - k) if k < n else 1.0
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
    intervals: Sequence[IntervalData],
    metrics: Iterable[str] = METRICS,
    *,
    interval_s: float = 1.0,
    confidence: float = 0.95,
    batches: int = DEFAULT_BATCHES,
    method: Method = "auto",
    replicates: int = 999,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, Estimate]:
    """Estimate several metrics of one run, reading the histograms only once.

    ``intervals`` are consecutive timeline intervals of ``interval_s`` seconds (empty ones
    included: they are time too).  ``method`` is "batch_means", "block_bootstrap" or "auto":
    batch means with ``batches`` batches, fewer (not below 10) if that is what it takes for each
    to span ``DEPENDENCE_RATIO`` Politis-White block lengths, else the block bootstrap.
    ``replicates`` and ``seed`` drive the bootstrap only; the default seed makes reports
    reproducible.
    """
    names = list(metrics)
    _check_common(confidence, batches, method)
    need_hist = any(_quantile_level(m) is not None for m in names)
    cols = _columns(intervals, interval_s, need_hist)
    rng = np.random.default_rng(seed)
    return {m: _estimate(cols, m, confidence, batches, method, replicates, rng) for m in names}


def estimate(
    intervals: Sequence[IntervalData],
    metric: str,
    *,
    interval_s: float = 1.0,
    confidence: float = 0.95,
    batches: int = DEFAULT_BATCHES,
    method: Method = "auto",
    replicates: int = 999,
    seed: int | np.random.Generator | None = 0,
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
    )[metric]


# --------------------------------------------------------------------------- comparison


def _log_ratio(a: Estimate, b: Estimate) -> tuple[float, float, float]:
    """log(B/A), its standard error by the delta method, and Welch-Satterthwaite df.

    Each run's se(log value) = se / value; the two runs are independent, so variances add.
    Each run's variance estimate carries batches - 1 degrees of freedom.
    """
    sa, sb = a.se / a.value, b.se / b.value
    da, db = max(a.batches - 1, 1), max(b.batches - 1, 1)
    var = sa**2 + sb**2
    df = var**2 / (sa**4 / da + sb**4 / db) if var > 0 else float(da + db)
    return math.log(b.value / a.value), math.sqrt(var), df


def _verdict(
    metric: str, ratio: float, p_value: float, confidence: float, min_effect: float
) -> Verdict:
    if math.isnan(ratio) or not p_value < 1 - confidence:
        return "no detectable change"
    if 0 < ratio < math.inf and abs(math.log(ratio)) < math.log1p(min_effect):
        return "no detectable change"  # real, perhaps, but smaller than anyone asked about
    worse = ratio < 1 if metric in _HIGHER_IS_BETTER else ratio > 1
    return "regression" if worse else "improvement"


def compare_estimates(
    a: Estimate, b: Estimate, *, min_effect: float = 0.05, confidence: float = 0.95
) -> Comparison:
    """Compare run B with baseline A from their estimates (see :func:`compare`)."""
    if a.metric != b.metric:
        raise ValueError(f"cannot compare {a.metric!r} with {b.metric!r}")
    if not min_effect >= 0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    notes: list[str] = []
    usable = all(math.isfinite(e.se) for e in (a, b))
    if usable and a.value > 0 and b.value > 0:
        d, se, df = _log_ratio(a, b)
        ratio = math.exp(d)
        if se > 0:
            half = stats.t.ppf(0.5 + confidence / 2, df) * se
            low, high = math.exp(d - half), math.exp(d + half)
            p_value = float(2 * stats.t.sf(abs(d) / se, df))
        else:
            low = high = ratio
            p_value = 1.0 if d == 0 else 0.0
    elif usable and (a.value > 0 or b.value > 0):
        # One side is zero (typically an error rate): no ratio interval, test the difference.
        diff, se = b.value - a.value, math.hypot(a.se, b.se)
        df = float(max(a.batches + b.batches - 2, 1))
        ratio = math.inf if a.value == 0 else 0.0
        low = high = math.nan
        p_value = float(2 * stats.t.sf(abs(diff) / se, df)) if se > 0 else 0.0
        notes.append("one run's value is 0: p-value from the difference, no ratio interval")
    else:
        ratio, low, high, p_value, df = math.nan, math.nan, math.nan, 1.0, math.nan
        notes.append("no ratio: values are zero or have no interval")
    bound = 1 + min_effect
    return Comparison(
        metric=a.metric,
        ratio=ratio,
        low=low,
        high=high,
        confidence=confidence,
        p_value=p_value,
        df=df,
        verdict=_verdict(a.metric, ratio, p_value, confidence, min_effect),
        min_effect=min_effect,
        equivalent=bool(low >= 1 / bound and high <= bound),
        a=a,
        b=b,
        notes=tuple(notes),
    )


def compare(
    a_intervals: Sequence[IntervalData],
    b_intervals: Sequence[IntervalData],
    metric: str,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    *,
    interval_s: float = 1.0,
    batches: int = DEFAULT_BATCHES,
    method: Method = "auto",
    seed: int | np.random.Generator | None = 0,
) -> Comparison:
    """Ratio B/A of a metric between run B and baseline A, with a batch-means log-ratio test.

    Each run's metric is estimated by :func:`estimate`; the log-ratio's standard error adds the
    two runs' (delta method: se/value) and its degrees of freedom follow Welch-Satterthwaite.
    Rank tests such as Mann-Whitney treat requests as independent and raised false alarms in
    36% of no-change comparisons on autocorrelated data; this test held 5%.  The verdict is a
    "regression" or "improvement" only if the change is significant at ``confidence`` and at
    least ``min_effect`` (0.05 = 5%) in size.

    Example::

        c = compare(baseline, candidate, "p95")
        print(c.verdict, f"x{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}] p={c.p_value:.2g}")
    """
    kwargs = dict(interval_s=interval_s, batches=batches, method=method, seed=seed)
    a = estimate(a_intervals, metric, confidence=confidence, **kwargs)  # type: ignore[arg-type]
    b = estimate(b_intervals, metric, confidence=confidence, **kwargs)  # type: ignore[arg-type]
    return compare_estimates(a, b, min_effect=min_effect, confidence=confidence)


def holm(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm's step-down adjusted p-values, in input order: controls the family-wise error rate.

    Use when any false alarm across many names and metrics is costly (a CI gate).

    >>> holm([0.01, 0.04, 0.03])
    (0.03, 0.06, 0.06)
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return tuple(round(float(v), 15) for v in out)


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """Benjamini-Hochberg adjusted p-values (q-values), in input order: controls the false
    discovery rate, i.e. the expected share of flagged changes that are not real.

    >>> benjamini_hochberg([0.01, 0.04, 0.03])
    (0.03, 0.04, 0.04)
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")[::-1]
    ranks = m - np.arange(m)  # 1-based rank of each p among the ascending p-values
    adjusted = np.minimum.accumulate(p[order] * m / ranks)
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return tuple(round(float(v), 15) for v in out)


def adjust(
    comparisons: Sequence[Comparison], method: Literal["holm", "bh"] = "holm"
) -> tuple[Comparison, ...]:
    """Comparisons with multiple-testing adjusted p-values and verdicts recomputed from them.

    The intervals are left as they were (per-comparison), so a comparison whose interval
    excludes 1 may still read "no detectable change" after adjustment.
    """
    if method not in ("holm", "bh"):
        raise ValueError(f"method must be 'holm' or 'bh', got {method!r}")
    adjusted = (holm if method == "holm" else benjamini_hochberg)([c.p_value for c in comparisons])
    return tuple(
        replace(
            c,
            p_value=p,
            adjusted=method,
            verdict=_verdict(c.metric, c.ratio, p, c.confidence, c.min_effect),
        )
        for c, p in zip(comparisons, adjusted, strict=True)
    )


def overhead_estimates(
    a: Estimate, b: Estimate, *, max_overhead: float, confidence: float = 0.95
) -> OverheadTest:
    """One-sided test that B costs less than ``max_overhead`` (0.05 = 5%) more than A."""
    if a.metric != b.metric:
        raise ValueError(f"cannot compare {a.metric!r} with {b.metric!r}")
    if not max_overhead > -1:
        raise ValueError(f"max_overhead must be > -1, got {max_overhead!r}")
    if not (a.value > 0 and b.value > 0 and math.isfinite(a.se) and math.isfinite(b.se)):
        nan = math.nan
        return OverheadTest(
            a.metric, nan, nan, nan, confidence, max_overhead, nan, "inconclusive", a, b
        )
    d, se, df = _log_ratio(a, b)
    if a.metric in _HIGHER_IS_BETTER:
        d = -d
    bound = math.log1p(max_overhead)
    q = stats.t.ppf(confidence, df) * se
    low, high = math.exp(d - q), math.exp(d + q)
    p_value = float(stats.t.cdf((d - bound) / se, df)) if se > 0 else float(d >= bound)
    verdict: Literal["pass", "fail", "inconclusive"] = (
        "pass" if high < 1 + max_overhead else "fail" if low > 1 + max_overhead else "inconclusive"
    )
    return OverheadTest(
        a.metric, math.exp(d), low, high, confidence, max_overhead, p_value, verdict, a, b
    )


def overhead(
    a_intervals: Sequence[IntervalData],
    b_intervals: Sequence[IntervalData],
    metric: str = "mean",
    *,
    max_overhead: float,
    confidence: float = 0.95,
    interval_s: float = 1.0,
    batches: int = DEFAULT_BATCHES,
    method: Method = "auto",
    seed: int | np.random.Generator | None = 0,
) -> OverheadTest:
    """Does B (say, with tracing on) cost less than ``max_overhead`` more than A?

    "pass" needs evidence: the one-sided upper bound of cost(B)/cost(A) must lie below
    1 + max_overhead.  "fail" needs evidence the other way; otherwise "inconclusive" -- run
    longer.  Uses the same batch-means log-ratio as :func:`compare`.
    """
    kwargs = dict(interval_s=interval_s, batches=batches, method=method, seed=seed)
    a = estimate(a_intervals, metric, **kwargs)  # type: ignore[arg-type]
    b = estimate(b_intervals, metric, **kwargs)  # type: ignore[arg-type]
    return overhead_estimates(a, b, max_overhead=max_overhead, confidence=confidence)


# --------------------------------------------------------------------------- planning


def minimum_detectable_change(
    est: Estimate, *, confidence: float = 0.95, power: float = 0.8
) -> float:
    """Smallest relative change (0.12 = 12%) that :func:`compare` against an equally precise
    baseline detects with probability ``power``.

    On the log scale the difference of two such runs has standard error sqrt(2) * se/value and
    about 2 * (batches - 1) degrees of freedom; the change must exceed
    (t_{1-alpha/2} + t_{power}) standard errors.  ``inf`` when the estimate has no interval.
    """
    if not (est.value > 0 and math.isfinite(est.se)):
        return math.inf
    df = max(2 * (est.batches - 1), 1)
    z = stats.t.ppf(0.5 + confidence / 2, df) + stats.t.ppf(power, df)
    return math.expm1(z * math.sqrt(2) * est.se / est.value)


def required_duration_s(
    est: Estimate, duration_s: float, target_relative_half_width: float
) -> float:
    """Run length (s) at which this estimate's relative half-width would reach the target.

    Half-width shrinks as 1/sqrt(duration) once batches are long compared with the correlation
    time, so the run must be (current / target)^2 times as long.  ``duration_s`` is the length
    of the run the estimate came from.
    """
    if not target_relative_half_width > 0:
        raise ValueError(f"target must be > 0, got {target_relative_half_width!r}")
    current = est.relative_half_width
    if not math.isfinite(current):
        return math.inf
    return duration_s * (current / target_relative_half_width) ** 2
