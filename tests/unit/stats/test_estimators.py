"""Unit tests of framework.stats.estimators on small literal timelines and literal estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from scipy import stats

from framework.stats.estimators import MIN_BATCHES, estimate, estimates
from framework.stats.interval_data import IntervalData
from framework.stats.metric_statistics import is_censored
from tests.literals import interval, literal


def test_mean_interval_is_the_t_interval_of_the_batch_means():
    levels = [1000 + 10 * t for t in range(20)]
    run = [interval([m] * 10) for m in levels]
    est = estimate(run, "mean", method="batch_means")
    se = np.std(levels, ddof=1) / math.sqrt(20)
    half = stats.t.ppf(0.975, 19) * se
    assert est.value == pytest.approx(np.mean(levels))
    assert (est.low, est.high) == pytest.approx((est.value - half, est.value + half))
    assert est.se == pytest.approx(se)
    assert (est.n, est.batches, est.batch_s, est.method) == (200, 20, 1.0, "batch_means")


def test_batches_are_contiguous_stretches_of_near_equal_length():
    run = [interval([1000 + t]) for t in range(45)]
    est = estimate(run, "mean", interval_s=2.0, batches=20, method="batch_means")
    assert est.batches == 20
    assert est.batch_s == pytest.approx(45 / 20 * 2.0)


def test_unequal_batches_weigh_by_requests_so_the_mean_stays_exact():
    run = [interval([1000] * 5), interval([2000] * 15)] * 10
    est = estimate(run, "mean", batches=20, method="batch_means")
    assert est.value == pytest.approx((5 * 1000 + 15 * 2000) / 20)
    assert est.low < est.value < est.high


def test_percentile_matches_hdrhistogram_of_the_merged_run():
    rng = np.random.default_rng(0)
    run = [interval(np.rint(rng.lognormal(10, 0.6, 50))) for _ in range(30)]
    merged = HdrHistogram(1, 60_000_000, 3)
    for iv in run:
        merged.add(iv.histogram)
    for metric, p in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        est = estimate(run, metric)
        assert merged.values_are_equivalent(int(est.value), merged.get_value_at_percentile(p))
        assert est.low <= est.value <= est.high


def test_decoded_timeline_histograms_give_the_same_estimates():
    # The timeline stores encoded histograms tracking 1 µs .. 1 hour at 3 digits.
    rng = np.random.default_rng(9)
    run, decoded = [], []
    for _ in range(40):
        h = HdrHistogram(1, 3_600_000_000, 3)
        x = np.rint(rng.lognormal(10, 0.6, 25))
        for v in x:
            h.record_value(int(v))
        iv = IntervalData(len(x), 0, float(x.sum()), float(x @ x), h)
        run.append(iv)
        decoded.append(
            IntervalData(iv.count, 0, iv.sum_us, iv.sumsq_us, HdrHistogram.decode(h.encode()))
        )
    assert estimate(run, "p99") == estimate(decoded, "p99")


def test_percentiles_of_small_values_are_exact():
    run = [interval(range(1, 101)) for _ in range(20)]
    assert estimate(run, "p50").value == 50
    assert estimate(run, "median").value == 50
    assert estimate(run, "p99.5").value == 100


def test_throughput_counts_requests_per_second_of_interval_time():
    run = [interval([1000] * 10) for _ in range(40)]
    est = estimate(run, "throughput", interval_s=0.5)
    assert est.value == pytest.approx(20.0)
    assert (est.low, est.high) == pytest.approx((20.0, 20.0))


def test_empty_intervals_count_as_time_but_not_as_latency():
    run = [interval([1000] * 10) if t % 2 == 0 else interval([]) for t in range(40)]
    assert estimate(run, "throughput").value == pytest.approx(5.0)
    assert estimate(run, "mean").value == pytest.approx(1000.0)
    assert estimate(run, "p95").value == 1000


def test_error_rate_is_failures_over_requests():
    run = [interval([1000] * 50, failures=t % 3) for t in range(30)]
    est = estimate(run, "error_rate")
    assert est.value == pytest.approx(30 / 1500)
    assert 0 <= est.low < est.value < est.high <= 1


def test_error_rate_without_failures_still_has_an_upper_bound():
    run = [interval([1000] * 50) for _ in range(20)]
    est = estimate(run, "error_rate")
    assert (est.value, est.low) == (0.0, 0.0)
    assert est.high == pytest.approx(1 - 0.025 ** (1 / 1000))
    assert any("Clopper-Pearson" in note for note in est.notes)


def test_percentiles_above_the_timeout_rank_are_censored():
    run = [interval([1000] * 98 + [30_000_000] * 2, failures=2, timeouts=2) for _ in range(20)]
    found = estimates(run, ["p95", "p99"])
    assert not found["p95"].censored
    assert found["p99"].censored
    assert any("lower bound" in note for note in found["p99"].notes)


def test_is_censored_compares_the_rank_with_the_timed_out_requests():
    assert is_censored(0.99, 1000, 11)
    assert not is_censored(0.99, 1000, 10)
    assert not is_censored(0.99, 1000, 0)


def test_effective_sample_size_of_independent_data_is_near_n():
    rng = np.random.default_rng(1)
    run = [interval(np.rint(rng.lognormal(10, 0.5, 40))) for _ in range(300)]
    est = estimate(run, "mean")
    assert 0.4 * est.n <= est.effective_n <= est.n


def test_block_bootstrap_is_labelled_and_reproducible():
    rng = np.random.default_rng(2)
    run = [interval(np.rint(rng.lognormal(10, 0.5, 30))) for _ in range(60)]
    one = estimate(run, "p95", method="block_bootstrap", replicates=200, seed=7)
    two = estimate(run, "p95", method="block_bootstrap", replicates=200, seed=7)
    assert one == two
    assert one.method == "block_bootstrap"
    assert one.low <= one.value <= one.high


def test_auto_uses_the_block_bootstrap_when_the_run_is_short_for_its_correlation():
    rng = np.random.default_rng(3)
    level = np.zeros(200)
    for t in range(1, 200):  # per-second AR(1), correlation time ~40 s
        level[t] = 0.95 * level[t - 1] + rng.standard_normal()
    run = [
        interval(np.rint(20_000 * np.exp(0.1 * lv + 0.3 * rng.standard_normal(20)))) for lv in level
    ]
    est = estimate(run, "p95")
    assert est.method == "block_bootstrap"
    assert not est.dependence_ok
    assert any("short for its correlation" in note for note in est.notes)


def test_auto_keeps_at_least_the_minimum_batches_when_it_uses_batch_means():
    rng = np.random.default_rng(4)
    level = np.zeros(400)
    for t in range(1, 400):
        level[t] = 0.6 * level[t - 1] + rng.standard_normal()
    run = [
        interval(np.rint(20_000 * np.exp(0.1 * lv + 0.3 * rng.standard_normal(10)))) for lv in level
    ]
    for est in estimates(run, ["mean", "p95", "throughput"]).values():
        if est.method == "batch_means":
            assert est.batches >= MIN_BATCHES
            assert est.batches == 20 or est.dependence_ok


def test_bad_inputs_are_rejected_with_the_value():
    run = [interval([1000] * 5) for _ in range(20)]
    with pytest.raises(ValueError, match=r"unknown metric 'p95th'; expected .*p95"):
        estimate(run, "p95th")
    with pytest.raises(ValueError, match="interval_s"):
        estimate(run, "mean", interval_s=0)
    with pytest.raises(ValueError, match="confidence"):
        estimate(run, "mean", confidence=95)
    with pytest.raises(ValueError, match="batches"):
        estimate(run, "mean", batches=1)
    with pytest.raises(ValueError, match="method"):
        estimate(run, "mean", method="jackknife")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no intervals"):
        estimate([], "mean")


def test_histograms_with_different_bucket_layouts_are_rejected():
    run = [interval([1000] * 5), interval([1000] * 5, digits=2)]
    with pytest.raises(ValueError, match=r"intervals\[1\]"):
        estimate(run, "p95")


def test_a_single_interval_has_no_interval_estimate():
    est = estimate([interval([1000, 2000])], "mean")
    assert math.isnan(est.low) and math.isnan(est.se)
    assert any("no interval" in note for note in est.notes)


def test_estimate_properties():
    est = literal(value=200.0, se=5.0)
    assert est.half_width == pytest.approx(stats.t.ppf(0.975, 19) * 5.0)
    assert est.relative_half_width == pytest.approx(est.half_width / 200.0)
    assert est.dependence_ok  # 15 s batches vs 2 s blocks
    assert not literal(batch_s=9.0).dependence_ok
