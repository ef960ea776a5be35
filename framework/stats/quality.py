"""How far a run's figures can be trusted: a grade of pass / warn / fail, and why.

The grade is the *worst* of named checks, each with a reason a person can act on -- not a
weighted sum, because one broken assumption is enough to make a figure wrong and a good CPU
reading must not hide a censored p99.  The checks:

- **precision**: the interval's relative half-width (a wide interval is honest but not useful).
- **dependence**: enough batches, each at least 5 Politis-White block lengths long; shorter
  batches are correlated and the interval comes out too narrow.
- **tail support**: enough requests beyond each percentile (>= 10 beyond p99 to pass).
- **stationarity**: the first and last thirds of the run agree (a batch-means test on the
  mean, and on the share of requests beyond each percentile; Holm across the metrics); a
  drift or a step inside the run means there is no single "p95" to estimate.
- **load generator**: its CPU stayed below saturation and no worker intervals went missing,
  or the latencies measure the generator rather than the system under test.
- **errors**: failures mixed into latency figures, and percentiles censored by timeouts (the
  percentile's rank falls among timed-out requests, so it is only known to be >= the timeout).
- **schedule** (open model only): the load generators started arrivals on time (schedule
  lag p99 within ``max_lag_p99_ms``) and dropped at most ``max_dropped`` of them; otherwise
  the load applied was not the load planned, and the message gives the busiest generator's
  CPU, which usually explains why. Arrivals the plan asked for that were never due on any
  generator (a lost worker's share, a stalled clock) count with the dropped ones once they
  exceed what rounding and Poisson variation explain (:func:`missed_tolerance`).

Example::

    quality = assess(intervals, interval_s=1.0, cpu_percent=cpu, timeout_s=30.0)
    print(quality.grade, *quality.reasons, sep="\\n")
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from framework.scenario.grades import Grade, worst
from framework.stats.block_length import undetected_block_length
from framework.stats.estimators import (
    DEFAULT_BATCHES,
    DEPENDENCE_RATIO,
    MIN_BATCHES,
    Estimate,
    estimates,
)
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import IntervalColumns, Intervals, RowRanges, as_columns
from framework.stats.metric_statistics import metric_statistic, quantile_level
from framework.stats.significance import holm

__all__ = [
    "STATIONARITY_ALPHA",
    "Check",
    "GroupSchedule",
    "Quality",
    "assess",
    "check_dependence",
    "check_errors",
    "check_load_generator",
    "check_precision",
    "check_schedule",
    "check_stationarity",
    "check_tail_support",
    "grade",
    "missed_tolerance",
]


@dataclass(frozen=True)
class Check:
    """One named data-quality check: its grade and the reason, in words."""

    name: str
    grade: Grade
    reason: str


@dataclass(frozen=True)
class Quality:
    """The run's grade (the worst check's) and every check behind it."""

    grade: Grade
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        """``"name: reason"`` for each check that did not pass, worst first."""
        bad = sorted((c for c in self.checks if c.grade != Grade.PASS), key=lambda c: -c.grade.rank)
        return tuple(f"{c.name}: {c.reason}" for c in bad)


def grade(checks: Iterable[Check]) -> Quality:
    """Combine checks: the grade is the worst of them (pass when there are none)."""
    checks = tuple(checks)
    return Quality(worst(c.grade for c in checks), checks)


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def _level(metric: str) -> float | None:
    if metric == "median":
        return 0.5
    if metric.startswith("p"):
        try:
            return float(metric[1:]) / 100
        except ValueError:
            return None
    return None


def check_precision(est: Estimate, *, warn_above: float = 0.05, fail_above: float = 0.20) -> Check:
    """Grade the interval's relative half-width: pass <= 5%, warn <= 20%, else fail."""
    name = f"precision {est.metric}"
    rel = est.relative_half_width
    if not math.isfinite(rel):
        return Check(name, Grade.FAIL, "no confidence interval could be computed")
    text = f"±{_percent(rel)} at {est.confidence:.0%} confidence"
    if rel <= warn_above:
        return Check(name, Grade.PASS, text)
    advice = "; run longer (half-width shrinks as 1/sqrt(duration))"
    if rel <= fail_above:
        return Check(name, Grade.WARN, text + advice)
    return Check(name, Grade.FAIL, text + advice)


def check_dependence(
    est: Estimate, *, min_batches: int = MIN_BATCHES, ratio: float = DEPENDENCE_RATIO
) -> Check:
    """Are the batches long compared with the correlation time, and are there enough?

    Pass: batch means with >= ``min_batches`` batches, each >= ``ratio`` block lengths.
    Warn: otherwise, if the run spans >= 20 block lengths (the interval leans on the block
    bootstrap or few batches and may be somewhat narrow).  Fail: a shorter run, or no interval.

    On a *short* run -- one too short for ``min_batches`` batches of ``ratio`` times the
    block length it cannot detect (:func:`undetected_block_length`, about 4 intervals, so
    under ~197 intervals) -- an estimate below that length is no evidence of near
    independence, only of a run too short to tell: it never passes, and at its floor of one
    interval it fails. On simulated 60 s M/M/1 runs whose estimate sat at the floor, the p95
    interval covered the truth in 6 of 22 runs.
    """
    name = f"dependence {est.metric}"
    if not math.isfinite(est.se):
        return Check(name, Grade.FAIL, "too few non-empty batches for an interval")
    run_s = est.batches * est.batch_s
    unseen = undetected_block_length(est.intervals) if est.intervals > 0 else 0.0
    block = est.block_s / est.interval_s
    if block < unseen and est.intervals < min_batches * ratio * unseen:
        needed = math.ceil(min_batches * ratio * unseen) * est.interval_s
        text = (
            f"block length {est.block_s:.3g} s{', at its floor' if block <= 1 else ''}, but "
            f"a run of {est.intervals} intervals cannot detect correlation lengths under "
            f"{unseen * est.interval_s:.3g} s; the interval may be too narrow -- run at "
            f"least {needed:.0f} s"
        )
        if block <= 1 or run_s < 20 * est.block_s:
            return Check(name, Grade.FAIL, text)
        return Check(name, Grade.WARN, text)
    spans = f"batches of {est.batch_s:.3g} s vs a correlation (block) length of {est.block_s:.3g} s"
    if est.method == "batch_means" and est.batches >= min_batches and est.dependence_ok:
        return Check(name, Grade.PASS, f"{est.batches} {spans}")
    if est.method == "block_bootstrap":
        spans = f"block bootstrap: the run is {run_s / est.block_s:.0f} block lengths long"
    elif est.batches < min_batches:
        spans = f"only {est.batches} batches"
    else:
        spans = f"{est.batches} {spans}, under {ratio:g}x"
    grade_ = Grade.WARN if run_s >= 20 * est.block_s else Grade.FAIL
    return Check(name, grade_, spans + "; the interval may be too narrow -- run longer")


def check_tail_support(est: Estimate, *, pass_at: int = 10, warn_at: int = 3) -> Check:
    """Enough requests beyond a percentile to pin it: >= 10 passes, >= 3 warns, else fail.

    Beyond p99 of 500 requests lie 5 requests: the "p99" is then nearly the maximum.
    """
    p = _level(est.metric)
    if p is None:
        raise ValueError(f"check_tail_support needs a percentile estimate, got {est.metric!r}")
    beyond = math.floor(est.n * (1 - p) + 1e-9)
    name = f"tail support {est.metric}"
    text = f"{beyond} requests beyond {est.metric} (of {est.n})"
    if beyond >= pass_at:
        return Check(name, Grade.PASS, text)
    need = math.ceil(pass_at / (1 - p))
    advice = f"; {need} requests are needed for {pass_at}"
    return Check(name, Grade.WARN if beyond >= warn_at else Grade.FAIL, text + advice)


_THIRD_BATCHES = 10
"""Batches in each third of the run for the stationarity test: a third is short."""

STATIONARITY_ALPHA = 0.05
"""Family-wise level of :func:`assess`'s stationarity checks together: on a steady run all
of them pass at least 95% of the time (their p-values are Holm-adjusted)."""


def check_stationarity(
    intervals: Intervals,
    metric: str = "mean",
    *,
    interval_s: float = 1.0,
    alpha: float = 0.05,
    warn_drift: float = 0.03,
    fail_drift: float = 0.10,
) -> Check:
    """Compare the run's first and last thirds with a batch-means test over time.

    A significant (at ``alpha``) change of at least ``fail_drift`` fails, of ``warn_drift``
    warns: the run drifted or stepped (warm-up, a leak, autoscaling), so its single figure
    describes no steady state.  Pass the steady-state window, not the ramp-up.  Several
    metrics of one run are tested together by :func:`assess`, which adjusts their
    p-values (Holm) so that a steady run fails no more than ``alpha`` of the time.
    """
    need_hist = quantile_level(metric) is not None
    cols = as_columns(intervals, interval_s, need_hist)
    sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    test = _drift(_thirds(sums), sums, metric)
    return _stationarity(test, len(cols), metric, alpha=alpha, p_adjusted=test.p_value,
                         warn_drift=warn_drift, fail_drift=fail_drift)  # fmt: skip


def _thirds(whole: HistogramSums) -> tuple[HistogramSums, HistogramSums] | None:
    """The run's first and last thirds, each with the sums its estimates share; ``None``
    when a third is under 10 intervals. They are slices (views of the same matrix, whose
    per-interval totals the thirds take a part of)."""
    n = len(whole.columns)
    third = n // 3
    if third < 10:
        return None
    return (
        whole.slice(0, third, batches=_THIRD_BATCHES),
        whole.slice(n - third, n, batches=_THIRD_BATCHES),
    )


@dataclass(frozen=True)
class _Drift:
    """The last third against the first on one metric: the ratio of their values and the
    p-value of "no change" (``nan`` when there is nothing to compare)."""

    ratio: float
    p_value: float


_NO_DRIFT = _Drift(math.nan, math.nan)


_PERMUTATIONS = 1999
"""Relabellings of the thirds' batches the stationarity test draws (seeded): p-values to
1/2000, fine enough for a Holm-adjusted 5%."""


def _batches(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator summed over each of a third's batches."""
    ranges = RowRanges.even(len(den), min(_THIRD_BATCHES, len(den)))
    return ranges(np.asarray(num, dtype=float)), ranges(np.asarray(den, dtype=float))


def _permutation_p(
    first: tuple[np.ndarray, np.ndarray], last: tuple[np.ndarray, np.ndarray]
) -> float:
    """Two-sided p-value of "both thirds have the same ratio sum(num) / sum(den)".

    Under stationarity the two thirds' batches (each many correlation times long, and the
    thirds a third of the run apart) are exchangeable, so the test relabels them at random
    and asks how often the difference of the ratios is as large as the one seen. That holds
    its level whatever the batch values' distribution: a t test on batch means does not when
    a batch's value rests on a few bursts of slow requests (the share beyond p99 of an M/M/1
    queue failed steady runs 7% of the time at a 1.7% level).
    """
    num = np.concatenate([first[0], last[0]])
    den = np.concatenate([first[1], last[1]])
    k = len(first[1])
    if den[:k].sum() <= 0 or den[k:].sum() <= 0:
        return math.nan
    rng = np.random.default_rng(0)
    labels = np.argsort(rng.random((_PERMUTATIONS, num.size)), axis=1)
    take = np.zeros((_PERMUTATIONS + 1, num.size), dtype=bool)
    take[0, :k] = True
    np.put_along_axis(take[1:], labels[:, :k], True, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        one = (take @ num) / (take @ den)
        other = ((~take) @ num) / ((~take) @ den)
    diff = np.abs(other - one)
    seen = diff[0]
    if not math.isfinite(seen):
        return math.nan
    extreme = np.count_nonzero(diff[1:] >= seen * (1 - 1e-12))
    return (1 + extreme) / (1 + _PERMUTATIONS)


def _drift(
    thirds: tuple[HistogramSums, HistogramSums] | None, whole: HistogramSums, metric: str
) -> _Drift:
    """How the last third differs from the first on ``metric``, and whether significantly.

    The mean (and throughput, error rate) is a ratio estimator, tested on its batch means.
    A percentile's batch values are not: with a few requests beyond p99 in each batch their
    spread is skewed and too small more often than not (on a steady M/M/1 queue the p99 test
    failed 8% of runs at a 1.7% level). So a percentile is tested through the share of
    requests beyond the *whole window's* percentile -- a ratio estimator like the error
    rate, equal in both thirds exactly when the percentile is -- and its size is the ratio
    of the thirds' own percentiles.
    """
    if thirds is None:
        return _NO_DRIFT
    first, last = thirds
    p = quantile_level(metric)
    if p is None:
        a, b = (metric_statistic(part.columns, metric, part) for part in thirds)
        tests = [_batches(*_ratio_parts(part.columns, metric)) for part in (first, last)]
        return _Drift(b.value / a.value if a.value > 0 else math.nan, _permutation_p(*tests))
    whole_stat = metric_statistic(whole.columns, metric, whole)
    if whole_stat.n == 0:
        return _NO_DRIFT
    bucket = int(np.searchsorted(whole.columns.bucket_us, whole_stat.value))
    below = whole.rows_at_or_below(bucket)
    totals = whole.row_totals()
    n = len(totals)
    third = len(first.columns)
    tests = []
    for lo, hi in ((0, third), (n - third, n)):
        tests.append(_batches(totals[lo:hi] - below[lo:hi], totals[lo:hi]))
    a, b = (metric_statistic(part.columns, metric, part) for part in thirds)
    ratio = b.value / a.value if a.n and b.n and a.value > 0 else math.nan
    return _Drift(ratio, _permutation_p(*tests))


def _ratio_parts(cols: IntervalColumns, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator per interval of a ratio metric."""
    if metric == "mean":
        return cols.sums, cols.counts
    if metric == "error_rate":
        return cols.failures, cols.counts
    if metric == "throughput":
        return cols.counts, np.full(len(cols.counts), cols.interval_s)
    raise ValueError(f"unknown metric {metric!r} for the stationarity check")


def _stationarity(
    test: _Drift,
    intervals: int,
    metric: str,
    *,
    alpha: float,
    p_adjusted: float,
    correction: str = "",
    warn_drift: float = 0.03,
    fail_drift: float = 0.10,
) -> Check:
    """Grade one metric's drift from its (possibly multiplicity-adjusted) p-value."""
    name = f"stationarity {metric}"
    if test is _NO_DRIFT:
        return Check(name, Grade.WARN, f"{intervals} intervals: too short to test drift")
    if not 0 < test.ratio < math.inf or not math.isfinite(p_adjusted):
        return Check(name, Grade.PASS, "no drift measurable (no ratio between thirds)")
    drift = test.ratio - 1
    text = f"last third {_percent(abs(drift))} {'higher' if drift > 0 else 'lower'} than first"
    text += f" (p={p_adjusted:.2g}{', ' + correction if correction else ''})"
    if p_adjusted < alpha and abs(drift) >= fail_drift:
        return Check(name, Grade.FAIL, text + "; analyse a steady window")
    if p_adjusted < alpha and abs(drift) >= warn_drift:
        return Check(name, Grade.WARN, text)
    return Check(name, Grade.PASS, text)


def check_load_generator(
    cpu_percent: Sequence[float],
    *,
    missing_intervals: int = 0,
    expected_intervals: int = 0,
    cpu_warn: float = 75.0,
    cpu_fail: float = 90.0,
    missing_fail: float = 0.05,
) -> Check:
    """Did the load generator keep up?  CPU samples (% of a core, one per worker-interval)
    and the worker-intervals that never arrived.

    A saturated generator delays sending and timing, so latencies partly measure it (and
    throughput stops following the shape).  Fail when the 95th percentile of CPU reaches
    ``cpu_fail`` or more than ``missing_fail`` of ``expected_intervals`` are missing; warn
    when CPU peaks at ``cpu_fail``, its p95 reaches ``cpu_warn``, any interval is missing, or
    there are no CPU samples at all.
    """
    cpu = np.asarray(cpu_percent, dtype=float)
    parts: list[str] = []
    grades = [Grade.PASS]
    if cpu.size == 0:
        parts.append("no CPU samples")
        grades.append(Grade.WARN)
    else:
        p95, peak = float(np.percentile(cpu, 95)), float(cpu.max())
        parts.append(f"CPU p95 {p95:.0f}%, peak {peak:.0f}%")
        if p95 >= cpu_fail:
            grades.append(Grade.FAIL)
        elif p95 >= cpu_warn or peak >= cpu_fail:
            grades.append(Grade.WARN)
    if missing_intervals > 0:
        share = missing_intervals / expected_intervals if expected_intervals > 0 else 1.0
        parts.append(f"{missing_intervals} worker intervals missing ({_percent(share)})")
        grades.append(Grade.FAIL if share > missing_fail else Grade.WARN)
    found = worst(grades)
    if found != Grade.PASS:
        parts.append("latencies may include load-generator delay; add workers")
    return Check("load generator", found, "; ".join(parts))


@dataclass(frozen=True)
class GroupSchedule:
    """How one open load group kept its schedule over a window: arrivals ``due`` and
    ``dropped``, and the started ones' schedule lag p99 (ms; ``None``: none started).

    ``planned`` is what the plan asked for in the window (``None``: unknown), ``missed``
    how many of those were never due (``max(0, planned - due)``, rounded) and
    ``missed_tolerance`` how many may be missing by chance (:func:`missed_tolerance`).
    """

    group: str
    due: int
    dropped: int
    lag_p99_ms: float | None
    planned: float | None = None
    missed: int = 0
    missed_tolerance: float = 0.0

    @property
    def missed_counted(self) -> int:
        """The missed arrivals that count against the schedule: all of them beyond the
        tolerance, none within it."""
        return self.missed if self.missed > self.missed_tolerance else 0


MISSED_SD = 3.0
"""Poisson variation allowed before arrivals count as missed, in standard deviations."""
UNIFORM_ROUNDING = 2.0
"""Arrivals an evenly spaced schedule may lack over a window by rounding alone: its count in
``[a, b)`` is within one of the rate's integral at each end."""


def missed_tolerance(planned: float, arrivals: str) -> float:
    """How many of ``planned`` arrivals may be missing from the due ones with nothing wrong.

    A uniform schedule lays out whole arrivals, so a window's count is within one of the
    plan's integral at each of its ends (:data:`UNIFORM_ROUNDING`). A Poisson schedule's
    count over a window is Poisson with mean ``planned``: its standard deviation is
    ``sqrt(planned)``, and a shortfall within ``3 sd + 1`` is chance, not a lost generator.

        >>> missed_tolerance(1000, "uniform"), missed_tolerance(900, "poisson")
        (2.0, 91.0)
    """
    if arrivals == "poisson":
        return MISSED_SD * math.sqrt(max(planned, 0.0)) + 1.0
    return UNIFORM_ROUNDING


def _ms_text(ms: float) -> str:
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms:,.0f} ms"


def _share_text(x: float) -> str:
    return f"{100 * x:.2g}%"


def check_schedule(
    groups: Sequence[GroupSchedule],
    *,
    max_lag_p99_ms: float,
    max_dropped: float,
    cpu_peak: float | None = None,
    workers_lost: bool = False,
) -> Check:
    """Did the open model's load generators keep the schedule?  Warn when a group's lag
    p99 exceeds ``max_lag_p99_ms``, or its dropped arrivals, together with the planned
    ones never due (beyond their tolerance), exceed ``max_dropped`` of the planned ones.

    A generator that falls behind starts arrivals late or not at all: the target then got
    less load than planned, and the response times from the intended start include the
    generator's own delay. The message gives the figures against the limits and the
    busiest generator's CPU peak (``cpu_peak``, %), the usual cause::

        the generator fell behind: lag p99 84 ms > 50 ms; load generator CPU up to 97 %

    Arrivals missed outright are said to be "a load generator was lost" when
    ``workers_lost`` (the run lost a worker, or one went silent, in the window), else
    that "the generator did not keep the schedule" (a stalled clock, a late start).
    """
    named = len(groups) > 1
    problems, facts = [], []
    short = False
    for g in groups:
        label = f"{g.group}: " if named else ""
        parts = []
        if g.lag_p99_ms is not None and g.lag_p99_ms > max_lag_p99_ms:
            parts.append(f"lag p99 {_ms_text(g.lag_p99_ms)} > {_ms_text(max_lag_p99_ms)}")
        missed = g.missed_counted
        base = g.planned if g.planned else g.due
        share = (g.dropped + missed) / base if base else 0.0
        if share > max_dropped:
            if g.dropped:
                parts.append(
                    f"{_share_text(g.dropped / g.due if g.due else 0.0)} of arrivals dropped "
                    f"({g.dropped:,} of {g.due:,})"
                )
            if missed:
                short = True
                parts.append(
                    f"{_share_text(missed / base)} of planned arrivals never due "
                    f"({missed:,} of {base:,.0f})"
                )
            parts[-1] += f" > {_share_text(max_dropped)}"
        if parts:
            problems.append(label + ", ".join(parts))
        lag = "no arrival started" if g.lag_p99_ms is None else f"lag p99 {_ms_text(g.lag_p99_ms)}"
        missing = f", {g.missed:,} of {g.planned:,.0f} planned never due" if g.missed else ""
        facts.append(f"{label}{lag}, {g.dropped:,} of {g.due:,} arrivals dropped{missing}")
    cpu = (
        f"load generator CPU up to {cpu_peak:.0f} %"
        if cpu_peak is not None
        else "load generator CPU not sampled"
    )
    if problems:
        what = "the generator fell behind"
        if short:
            what = (
                "a load generator was lost"
                if workers_lost
                else "the generator did not keep the schedule"
            )
        return Check("schedule", Grade.WARN, f"{what}: {'; '.join(problems)}; {cpu}")
    limits = f"within lag p99 {_ms_text(max_lag_p99_ms)} and {_share_text(max_dropped)} dropped"
    return Check("schedule", Grade.PASS, f"{'; '.join(facts)} ({limits}); {cpu}")


def check_errors(
    requests: int,
    failures: int,
    timeouts: int = 0,
    *,
    percentiles: Iterable[Estimate] = (),
    timeout_s: float | None = None,
    warn_error_rate: float = 0.01,
    failures_in_latency: bool = True,
) -> Check:
    """Failures and timeouts, as they affect the latency figures.

    Fail when a reported percentile is censored by timeouts (report it as "≥ timeout").
    Warn when failures reach ``warn_error_rate`` or any request timed out: the latency
    figures then describe only the requests that succeeded, or -- in a version-1
    timeline, ``failures_in_latency`` -- have the failures' (often fast) latencies mixed in.
    """
    limit = f"{timeout_s:g} s" if timeout_s is not None else "the timeout"
    censored = [e.metric for e in percentiles if e.censored]
    rate = failures / requests if requests else 0.0
    text = f"{failures} failures in {requests} requests ({_percent(rate)}), {timeouts} timeouts"
    if censored:
        which = ", ".join(censored)
        return Check(
            "errors", Grade.FAIL, f"{text}; {which} censored by timeouts: report ≥ {limit}"
        )
    if rate >= warn_error_rate or timeouts > 0:
        which = "include failed requests" if failures_in_latency else "are of successes only"
        return Check("errors", Grade.WARN, f"{text}; latency figures {which}")
    return Check("errors", Grade.PASS, text)


def assess(
    intervals: Intervals,
    *,
    interval_s: float = 1.0,
    metrics: Sequence[str] = ("mean", "p95", "p99"),
    computed: Mapping[str, Estimate] | None = None,
    confidence: float = 0.95,
    cpu_percent: Sequence[float] | None = None,
    missing_intervals: int = 0,
    expected_intervals: int = 0,
    timeout_s: float | None = None,
    sums: HistogramSums | None = None,
) -> Quality:
    """Grade one request name's steady-state window with every check.

    ``computed`` reuses estimates already made (keyed by metric); the rest are estimated here.
    ``sums``, a :class:`~framework.stats.histogram_sums.HistogramSums` of the same columns
    (the one those estimates used), shares their sums of the histograms: the stationarity
    thirds take their per-interval totals from it.  Stationarity is tested for each metric
    and the p-values Holm-adjusted across the metrics (``STATIONARITY_ALPHA`` family-wise),
    so a steady run fails one of them at most 5% of the time; every metric reads the same
    two thirds.  The load-generator check runs when ``cpu_percent`` is
    given or intervals are missing.
    """
    need_hist = any(_level(m) is not None for m in metrics)
    cols = as_columns(intervals, interval_s, need_hist)
    if sums is None:
        sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    elif sums.columns is not cols:
        raise ValueError("sums must be a HistogramSums of these very columns")
    given = dict(computed or {})
    todo = [m for m in metrics if m not in given]
    if todo:
        given.update(estimates(cols, todo, confidence=confidence, sums=sums))
    checks: list[Check] = []
    for metric in metrics:
        est = given[metric]
        checks += [check_precision(est), check_dependence(est)]
        if _level(est.metric) is not None:
            checks.append(check_tail_support(est))
    thirds = _thirds(sums)
    drifts = [_drift(thirds, sums, m) for m in metrics]
    raw = [d.p_value for d in drifts]
    finite = [i for i, p in enumerate(raw) if math.isfinite(p)]
    adjusted = dict(zip(finite, holm([raw[i] for i in finite]), strict=True)) if finite else {}
    label = f"Holm over {len(finite)}" if len(finite) > 1 else ""
    checks += [
        _stationarity(d, len(cols), m, alpha=STATIONARITY_ALPHA,
                      p_adjusted=adjusted.get(i, math.nan), correction=label)
        for i, (m, d) in enumerate(zip(metrics, drifts, strict=True))
    ]  # fmt: skip
    if cpu_percent is not None or missing_intervals:
        checks.append(
            check_load_generator(
                cpu_percent or (),
                missing_intervals=missing_intervals,
                expected_intervals=expected_intervals,
            )
        )
    checks.append(
        check_errors(
            int(cols.counts.sum()),
            int(cols.failures.sum()),
            int(cols.timeouts.sum()),
            percentiles=[given[m] for m in metrics if _level(m) is not None],
            timeout_s=timeout_s,
            failures_in_latency=bool(
                cols.latency_n.sum() > cols.counts.sum() - cols.failures.sum()
            ),
        )
    )
    return grade(checks)
