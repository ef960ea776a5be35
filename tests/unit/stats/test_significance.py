"""Unit tests of framework.stats.significance: run-vs-baseline tests on literal estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from framework.stats.significance import (
    adjust,
    benjamini_hochberg,
    compare,
    compare_estimates,
    holm,
    overhead_estimates,
)
from tests.literals import interval, literal


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


# --------------------------------------------------------------------------- verdict vs interval


def _family(rng: np.random.Generator, size: int) -> list:
    """Comparisons of a metric whose candidates move by anything from -80% to +150%."""
    out = []
    for _ in range(size):
        base = literal(100.0, float(rng.uniform(1, 40)), batches=int(rng.integers(5, 21)))
        ratio = float(np.exp(rng.uniform(-1.6, 0.9)))
        cand = literal(100.0 * ratio, float(rng.uniform(1, 40)) * ratio)
        out.append(compare_estimates(base, cand, min_effect=0.05))
    return out


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_an_adjusted_verdict_never_contradicts_the_interval_shown(method):
    rng = np.random.default_rng(11)
    for _ in range(60):
        for c in adjust(_family(rng, 14), method):
            lower, upper = c.effect_bounds
            if c.low > upper or c.high < lower:  # wholly beyond the minimum effect
                assert c.verdict != "no detectable change", c
            if c.verdict != "no detectable change":
                assert c.low > 1 or c.high < 1, c  # a change rests on an interval without 1
            assert c.level >= c.confidence or math.isclose(c.level, c.confidence)  # wider


def test_the_issue_case_a_p95_ratio_far_below_one_reads_as_its_interval_does():
    # p95 x0.224 with a per-comparison interval of about [0.07, 0.72], one of 14 rows:
    # it used to read "no detectable change" beside that interval (Holm raised its p).
    base = literal(1000.0, 400.0, batches=10)
    cand = literal(224.0, 90.0, batches=10)
    alone = compare_estimates(base, cand)
    assert alone.high < 1 / 1.05 and alone.verdict == "improvement"
    others = [compare_estimates(literal(100.0, 2.0), literal(100.0, 2.0)) for _ in range(13)]
    adjusted = adjust([alone, *others])[0]
    assert adjusted.p_value > 0.05
    # the interval shown is the one the adjusted test reads: it contains 1, as the verdict says
    assert adjusted.low < 1 < adjusted.high
    assert adjusted.verdict == "no detectable change"
    assert adjusted.level > 0.95  # wider than the per-comparison interval


def test_bonferroni_sized_adjustment_gives_the_alpha_over_m_interval():
    c = compare_estimates(literal(100.0, 2.0), literal(110.0, 2.2))
    others = [compare_estimates(literal(100.0, 2.0), literal(100.0, 2.0)) for _ in range(3)]
    adjusted = adjust([c, *others])[0]  # the smallest p of four: Holm multiplies it by 4
    assert adjusted.p_value == pytest.approx(4 * c.p_value)
    assert adjusted.level == pytest.approx(1 - 0.05 / 4)
    half = stats.t.ppf(1 - 0.05 / 8, c.df) * c.se
    assert adjusted.low == pytest.approx(c.ratio * math.exp(-half))


def test_a_latency_change_under_the_absolute_minimum_is_no_detectable_change():
    # a 1 ms endpoint, 6% faster and precisely measured: 0.06 ms is below a 1 ms minimum
    base, cand = literal(1000.0, 2.0, metric="mean"), literal(940.0, 2.0, metric="mean")
    assert compare_estimates(base, cand).verdict == "improvement"
    c = compare_estimates(base, cand, min_effect_abs=1000.0)
    assert c.verdict == "no detectable change"
    assert c.equivalent  # a 1 ms change either way is ruled out
    # the same relative change of a 100 ms endpoint clears 1 ms
    slow = compare_estimates(
        literal(100_000.0, 200.0, metric="mean"),
        literal(94_000.0, 200.0, metric="mean"),
        min_effect_abs=1000.0,
    )
    assert slow.verdict == "improvement"
