"""Coverage by simulation: do the nominal 95% intervals contain the truth 95% of the time?

Each replication draws raw latencies (lognormal, independent or with AR(1) log-latency),
bins them per second into HdrHistograms plus exact sums -- what the timeline holds -- and asks
the public API for intervals.  The truth is analytic: for log-latency N(mu, sigma^2) the mean
is exp(mu + sigma^2 / 2) and the p95 is exp(mu + 1.645 sigma).  Everything is seeded, so the
figures are the same on every run; the thresholds leave room for binomial noise (the
standard error of a coverage of 95% over 400 replications is 1.1 points).

The whole file runs in well under a minute on one core: histograms are filled with numpy
(checked against ``record_value`` below) and runs are summarised as soon as they are made.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from scipy import signal, stats

from framework.stats.changepoint import detect
from framework.stats.estimators import Estimate, estimates
from framework.stats.interval_data import IntervalData
from framework.stats.quality import Grade, check_dependence
from framework.stats.significance import compare, compare_estimates

MU = math.log(20_000.0)  # median latency 20 ms, in µs
SIGMA = 0.5
TRUE_MEAN = math.exp(MU + SIGMA**2 / 2)
TRUE_P95 = math.exp(MU + SIGMA * stats.norm.ppf(0.95))


# --------------------------------------------------------------------------- synthetic runs


def fill(histogram: HdrHistogram, values_us: np.ndarray) -> HdrHistogram:
    """Record many integer µs values at once, with HdrHistogram's own bucket arithmetic."""
    v = np.asarray(values_us, dtype=np.int64)
    _, bits = np.frexp((v | histogram.sub_bucket_mask).astype(float))  # bit length
    bucket = bits - histogram.unit_magnitude - (histogram.sub_bucket_half_count_magnitude + 1)
    sub = v >> (bucket + histogram.unit_magnitude)
    index = (
        ((bucket + 1) << histogram.sub_bucket_half_count_magnitude)
        + sub
        - histogram.sub_bucket_half_count
    )
    np.add.at(np.ctypeslib.as_array(histogram.counts), index, 1)
    total = histogram.get_total_count() + v.size
    histogram.set_internal_tacking_values(int(index.min()), int(index.max()), total)
    return histogram


def to_intervals(latencies_us: np.ndarray, per_second: np.ndarray) -> list[IntervalData]:
    """Cut a latency sequence into seconds holding ``per_second`` requests each."""
    out = []
    edges = np.concatenate([[0], np.cumsum(per_second)])
    for a, b in itertools.pairwise(edges):
        x = latencies_us[a:b]
        if x.size == 0:
            out.append(IntervalData(0))
            continue
        h = fill(HdrHistogram(1, 60_000_000, 3), np.rint(x))
        out.append(IntervalData(int(x.size), 0, float(x.sum()), float(x @ x), h))
    return out


def lognormal_latencies(rng: np.random.Generator, n: int, phi: float, scale: float = 1.0):
    """Latencies (µs) whose logs are a stationary AR(1) with lag-one correlation ``phi``."""
    e = rng.standard_normal(n)
    z = signal.lfilter([math.sqrt(1 - phi**2)], [1, -phi], e, zi=[phi * rng.standard_normal()])[0]
    return scale * np.exp(MU + SIGMA * z)


def make_run(rng, seconds: int, rate: float, phi: float, scale: float = 1.0):
    per_second = rng.poisson(rate, seconds)
    return to_intervals(lognormal_latencies(rng, int(per_second.sum()), phi, scale), per_second)


@dataclass(frozen=True)
class Run:
    mean: Estimate
    p95: Estimate
    naive_mean_covers: bool  # the iid t interval for the mean, for contrast


def summarise(intervals: list[IntervalData]) -> Run:
    est = estimates(intervals, ["mean", "p95"])
    n = sum(iv.count for iv in intervals)
    total = sum(iv.sum_us for iv in intervals)
    sq = sum(iv.sumsq_us for iv in intervals)
    mean = total / n
    half = 1.96 * math.sqrt((sq - n * mean**2) / (n - 1) / n)
    return Run(est["mean"], est["p95"], abs(mean - TRUE_MEAN) <= half)


def simulate(seed: int, reps: int, seconds: int, rate: float, phi: float) -> list[Run]:
    rng = np.random.default_rng(seed)
    return [summarise(make_run(rng, seconds, rate, phi)) for _ in range(reps)]


def covers(est: Estimate, truth: float) -> bool:
    return est.low <= truth <= est.high


def rate(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


@pytest.fixture(scope="module")
def iid_runs() -> list[Run]:
    """400 runs of ~2,000 independent requests: 10 requests/s for 200 s."""
    return simulate(seed=1, reps=400, seconds=200, rate=10, phi=0.0)


@pytest.fixture(scope="module")
def ar1_runs() -> list[Run]:
    """240 runs of ~20,000 requests with AR(1) log-latency (phi 0.9): 100 requests/s, 200 s."""
    return simulate(seed=2, reps=240, seconds=200, rate=100, phi=0.9)


# --------------------------------------------------------------------------- tests


def test_fast_fill_matches_record_value():
    values = np.rint(np.random.default_rng(0).lognormal(9, 1.5, 3000))
    fast = fill(HdrHistogram(1, 60_000_000, 3), values)
    slow = HdrHistogram(1, 60_000_000, 3)
    for v in values:
        slow.record_value(int(v))
    assert np.array_equal(np.ctypeslib.as_array(fast.counts), np.ctypeslib.as_array(slow.counts))
    assert (fast.get_total_count(), fast.get_min_value(), fast.get_max_value()) == (
        slow.get_total_count(),
        slow.get_min_value(),
        slow.get_max_value(),
    )


def test_iid_intervals_cover_mean_and_p95_about_95_percent(iid_runs):
    mean_cov = rate(covers(r.mean, TRUE_MEAN) for r in iid_runs)
    p95_cov = rate(covers(r.p95, TRUE_P95) for r in iid_runs)
    assert 0.92 <= mean_cov <= 0.98, mean_cov
    assert 0.92 <= p95_cov <= 0.98, p95_cov


def test_ar1_intervals_cover_mean_and_p95_at_least_90_percent(ar1_runs):
    mean_cov = rate(covers(r.mean, TRUE_MEAN) for r in ar1_runs)
    p95_cov = rate(covers(r.p95, TRUE_P95) for r in ar1_runs)
    assert mean_cov >= 0.90, mean_cov
    assert p95_cov >= 0.90, p95_cov
    # The data really is dependent: the independence formula fails on it.
    assert rate(r.naive_mean_covers for r in ar1_runs) < 0.75


def test_ar1_runs_of_adequate_length_pass_the_dependence_check(ar1_runs):
    passed = rate(check_dependence(r.p95).grade == Grade.PASS for r in ar1_runs)
    assert passed >= 0.8, passed
    # Effective sample size sees the correlation: (1 + phi) / (1 - phi) = 19 for log-latency.
    ratio = np.median([r.mean.n / r.mean.effective_n for r in ar1_runs])
    assert 8 < ratio < 40, ratio


def test_runs_short_for_their_correlation_are_flagged_not_trusted():
    # Correlation time ~1000 requests = 50 s at 20 requests/s, in a 200 s run.
    rng = np.random.default_rng(3)
    runs = [summarise(make_run(rng, 200, 20, 0.998)) for _ in range(40)]
    flagged = [check_dependence(r.p95).grade != Grade.PASS for r in runs]
    assert rate(flagged) >= 0.9, rate(flagged)
    # ... and rightly: intervals of such runs miss the truth far more than 5% of the time.
    assert rate(covers(r.p95, TRUE_P95) for r in runs) < 0.85


def test_compare_false_alarm_rate_under_no_change_is_at_most_5_percent(iid_runs, ar1_runs):
    for runs in (iid_runs, ar1_runs):
        pairs = list(zip(runs[0::2], runs[1::2], strict=True))
        results = [compare_estimates(a.p95, b.p95) for a, b in pairs]
        results += [compare_estimates(a.mean, b.mean) for a, b in pairs]
        slack = 2 * math.sqrt(0.05 * 0.95 / len(results))
        significant = rate(c.p_value < 0.05 for c in results)
        assert significant <= 0.05 + slack, significant
        alarms = rate(c.verdict != "no detectable change" for c in results)
        assert alarms <= 0.05, alarms


def test_compare_detects_a_20_percent_p95_regression(ar1_runs):
    rng = np.random.default_rng(4)
    baselines = ar1_runs[:60]
    worse = [summarise(make_run(rng, 200, 100, 0.9, scale=1.2)) for _ in baselines]
    results = [compare_estimates(a.p95, b.p95) for a, b in zip(baselines, worse, strict=True)]
    assert rate(c.verdict == "regression" for c in results) >= 0.8
    assert rate(c.low <= 1.2 <= c.high for c in results) >= 0.88


def test_compare_end_to_end_on_intervals():
    rng = np.random.default_rng(5)
    a = make_run(rng, 200, 100, 0.9)
    b = make_run(rng, 200, 100, 0.9, scale=1.2)
    assert compare(a, b, "p95").verdict == "regression"
    assert compare(b, a, "p95").verdict == "improvement"


@pytest.mark.parametrize("cv", [0.02, 0.03])
def test_changepoint_finds_an_8_percent_step_with_few_false_alarms(cv):
    rng = np.random.default_rng(6)
    found = false_alarms = 0
    for _ in range(40):
        k = int(rng.integers(8, 23))
        history = 100 * (1 + cv * rng.standard_normal(30))
        history[k:] *= 1.08
        found += any(abs(cp.index - k) <= 1 for cp in detect(history))
        false_alarms += bool(detect(100 * (1 + cv * rng.standard_normal(30))))
    assert found >= 32, found
    assert false_alarms <= 2, false_alarms
