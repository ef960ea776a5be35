"""Unit tests of framework.estimators on small literal timelines and literal estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from scipy import stats

from framework.estimators import (
    MIN_BATCHES,
    Estimate,
    IntervalData,
    adjust,
    benjamini_hochberg,
    block_length,
    compare,
    compare_estimates,
    estimate,
    estimates,
    holm,
    is_censored,
    minimum_detectable_change,
    overhead_estimates,
    required_duration_s,
)


def interval(values_us, failures: int = 0, timeouts: int = 0, digits: int = 3) -> IntervalData:
    """One interval of literal latencies, recorded the way a worker records them."""
    if len(values_us) == 0:
        return IntervalData(0, failures, timeouts=timeouts)
    h = HdrHistogram(1, 60_000_000, digits)
    for v in values_us:
        h.record_value(int(v))
    x = np.asarray(values_us, dtype=float)
    return IntervalData(len(x), failures, float(x.sum()), float(x @ x), h, timeouts)


def literal(value=100.0, se=2.0, batches=20, metric="p95", **kw) -> Estimate:
    half = stats.t.ppf(0.975, batches - 1) * se
    fields = dict(
        value=value,
        low=value - half,
        high=value + half,
        confidence=0.95,
        n=10_000,
        effective_n=2_000.0,
        method="batch_means",
        batches=batches,
        batch_s=15.0,
        metric=metric,
        se=se,
        block_s=2.0,
    )
    fields.update(kw)
    return Estimate(**fields)


# --------------------------------------------------------------------------- estimates


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


# --------------------------------------------------------------------------- block length


def test_block_length_of_independent_noise_is_short():
    x = np.random.default_rng(5).standard_normal(2000)
    assert 1.0 <= block_length(x) <= 4.0


def test_block_length_of_ar1_matches_theory():
    # AR(1) phi = 0.5: G = 4 gamma0, g = 3 gamma0, so b = (2 G^2 / (4/3 g^2))^(1/3) n^(1/3).
    rng = np.random.default_rng(6)
    n = 20_000
    x = np.zeros(n)
    e = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = 0.5 * x[t - 1] + e[t]
    theory = (2 * 16 / (4 / 3 * 9)) ** (1 / 3) * n ** (1 / 3)
    assert block_length(x) == pytest.approx(theory, rel=0.35)


def test_block_length_of_degenerate_series_is_one():
    assert block_length([5.0] * 100) == 1.0
    assert block_length([1.0, 2.0]) == 1.0


# --------------------------------------------------------------------------- comparison


def test_identical_runs_show_no_change_and_equivalence():
    rng = np.random.default_rng(7)
    run = [interval(np.rint(rng.lognormal(10, 0.5, 30))) for _ in range(100)]
    c = compare(run, run, "p95", min_effect=0.10)
    assert (c.ratio, c.p_value, c.verdict) == (1.0, 1.0, "no detectable change")
    assert c.equivalent  # the interval rules out a change of 10% either way
    assert not compare(run, run, "p95", min_effect=0.01).equivalent


def test_a_large_significant_increase_is_a_regression():
    c = compare_estimates(literal(100.0, 2.0), literal(120.0, 2.4))
    assert c.ratio == pytest.approx(1.2)
    assert c.low < 1.2 < c.high
    assert c.p_value < 1e-6
    assert c.verdict == "regression"
    assert not c.equivalent


def test_log_ratio_uses_welch_degrees_of_freedom():
    c = compare_estimates(literal(100.0, 2.0), literal(100.0, 2.0))
    assert c.df == pytest.approx(38.0)
    se = math.sqrt(2) * 0.02
    assert c.high == pytest.approx(math.exp(stats.t.ppf(0.975, 38) * se))


def test_more_throughput_is_an_improvement():
    c = compare_estimates(
        literal(100.0, 1.0, metric="throughput"), literal(120.0, 1.0, metric="throughput")
    )
    assert c.verdict == "improvement"


def test_significant_but_small_changes_are_not_verdicts():
    c = compare_estimates(literal(100.0, 0.2), literal(103.0, 0.2), min_effect=0.05)
    assert c.p_value < 0.001
    assert c.verdict == "no detectable change"
    assert compare_estimates(literal(100.0, 0.2), literal(103.0, 0.2), min_effect=0.02).verdict == (
        "regression"
    )


def test_error_rates_of_zero_compare_without_a_ratio():
    zero = literal(0.0, 0.0, metric="error_rate")
    c = compare_estimates(zero, zero)
    assert math.isnan(c.ratio) and c.verdict == "no detectable change"
    worse = compare_estimates(zero, literal(0.02, 0.002, metric="error_rate"))
    assert worse.ratio == math.inf and worse.verdict == "regression"


def test_comparing_different_metrics_is_an_error():
    with pytest.raises(ValueError, match=r"'p95'.*'p99'"):
        compare_estimates(literal(metric="p95"), literal(metric="p99"))


def _holm_reference(p):
    m, order = len(p), np.argsort(p)
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _bh_reference(p):
    m, order = len(p), np.argsort(p)
    out = np.empty(m)
    for rank, i in enumerate(order):
        out[i] = min(min(1.0, m * p[j] / (r + 1)) for r, j in enumerate(order) if r >= rank)
    return out


def test_holm_and_benjamini_hochberg_on_literals():
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    assert holm(p) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert benjamini_hochberg(p) == pytest.approx([0.05] * 5)
    assert holm([]) == () and benjamini_hochberg([]) == ()


def test_holm_and_benjamini_hochberg_match_their_definitions():
    p = np.random.default_rng(8).uniform(0, 0.2, 25)
    assert holm(p) == pytest.approx(_holm_reference(p))
    assert benjamini_hochberg(p) == pytest.approx(_bh_reference(p))


def test_adjust_recomputes_verdicts_from_adjusted_p_values():
    borderline = compare_estimates(literal(100.0, 4.0), literal(112.0, 4.0))
    assert 0.01 < borderline.p_value < 0.05 and borderline.verdict == "regression"
    strong = compare_estimates(literal(100.0, 1.0), literal(120.0, 1.0))
    nothing = compare_estimates(literal(100.0, 2.0), literal(100.0, 2.0))
    adjusted = adjust([borderline, strong, nothing], method="holm")
    assert [c.adjusted for c in adjusted] == ["holm"] * 3
    assert adjusted[0].p_value == pytest.approx(min(1.0, 2 * borderline.p_value))
    assert [c.verdict for c in adjusted] == [
        "no detectable change",
        "regression",
        "no detectable change",
    ]
    with pytest.raises(ValueError, match="'bonferroni'"):
        adjust([strong], method="bonferroni")  # type: ignore[arg-type]


def test_overhead_passes_fails_or_is_inconclusive():
    a = literal(100.0, 1.0, metric="mean")
    assert (
        overhead_estimates(a, literal(102.0, 1.0, metric="mean"), max_overhead=0.05).verdict
        == "pass"
    )
    assert (
        overhead_estimates(a, literal(110.0, 1.0, metric="mean"), max_overhead=0.05).verdict
        == "fail"
    )
    unsure = overhead_estimates(a, literal(105.0, 3.0, metric="mean"), max_overhead=0.05)
    assert unsure.verdict == "inconclusive"
    assert unsure.low < 1.05 < unsure.high
    assert 0.05 < unsure.p_value < 0.95


def test_overhead_on_throughput_is_the_throughput_lost():
    a = literal(100.0, 0.5, metric="throughput")
    test = overhead_estimates(a, literal(97.0, 0.5, metric="throughput"), max_overhead=0.05)
    assert test.ratio == pytest.approx(100 / 97)
    assert test.verdict == "pass"


# --------------------------------------------------------------------------- planning


def test_minimum_detectable_change_follows_the_power_formula():
    est = literal(100.0, 2.0)
    z = stats.t.ppf(0.975, 38) + stats.t.ppf(0.8, 38)
    assert minimum_detectable_change(est) == pytest.approx(math.expm1(z * math.sqrt(2) * 0.02))
    assert minimum_detectable_change(literal(100.0, 1.0)) < minimum_detectable_change(est) / 1.9
    assert minimum_detectable_change(literal(100.0, math.nan)) == math.inf


def test_required_duration_scales_with_the_square_of_the_precision_wanted():
    est = literal(100.0, 2.0)
    rel = est.relative_half_width
    assert required_duration_s(est, 300.0, rel / 2) == pytest.approx(1200.0)
    assert required_duration_s(est, 300.0, rel * 2) == pytest.approx(75.0)
    with pytest.raises(ValueError, match="target"):
        required_duration_s(est, 300.0, 0.0)
