"""Unit tests of framework.stats.quality: each check on literals, the grade as the worst of them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from framework.scenario.grades import Grade
from framework.stats.estimators import Estimate
from framework.stats.quality import (
    Check,
    assess,
    check_dependence,
    check_errors,
    check_load_generator,
    check_precision,
    check_stationarity,
    check_tail_support,
    grade,
)
from tests import literals
from tests.literals import interval


def literal(metric="p95", value=100.0, half=2.0, **kw) -> Estimate:
    """A batch-means estimate of ``value`` ± ``half`` (se from t(19) ≈ 2.09)."""
    fields = {"low": value - half, "high": value + half, "se": half / 2.09, **kw}
    return literals.literal(value=value, metric=metric, **fields)


def steady_run(seconds=120, rate=20, seed=0, step_at=None, step=1.0):
    rng = np.random.default_rng(seed)
    run = []
    for t in range(seconds):
        scale = step if step_at is not None and t >= step_at else 1.0
        run.append(interval(np.rint(scale * rng.lognormal(10, 0.4, rate))))
    return run


# --------------------------------------------------------------------------- grade


def test_grade_is_the_worst_check():
    checks = [
        Check("a", Grade.PASS, "fine"),
        Check("b", Grade.WARN, "meh"),
        Check("c", Grade.FAIL, "bad"),
    ]
    quality = grade(checks)
    assert quality.grade == Grade.FAIL
    assert quality.reasons == ("c: bad", "b: meh")
    assert grade(checks[:2]).grade == Grade.WARN
    assert grade([]).grade == Grade.PASS


def test_grades_are_ordered_and_serialise_as_words():
    assert [g.rank for g in (Grade.PASS, Grade.WARN, Grade.FAIL)] == [0, 1, 2]
    assert Grade.WARN == "warn"


# --------------------------------------------------------------------------- checks


def test_precision_grades_the_relative_half_width():
    assert check_precision(literal(half=4.0)).grade == Grade.PASS
    warn = check_precision(literal(half=10.0))
    assert warn.grade == Grade.WARN and "±10.0%" in warn.reason and "run longer" in warn.reason
    assert check_precision(literal(half=30.0)).grade == Grade.FAIL
    assert check_precision(literal(low=math.nan, high=math.nan)).grade == Grade.FAIL


def test_dependence_passes_long_batches_and_flags_short_ones():
    assert check_dependence(literal()).grade == Grade.PASS
    short = check_dependence(literal(batch_s=6.0))  # 3 block lengths; run = 60 block lengths
    assert short.grade == Grade.WARN and "under 5x" in short.reason
    assert check_dependence(literal(batch_s=1.0)).grade == Grade.FAIL  # run = 10 block lengths
    few = check_dependence(literal(batches=6, batch_s=50.0))
    assert few.grade == Grade.WARN and "only 6 batches" in few.reason
    boot = check_dependence(literal(method="block_bootstrap", batches=40, batch_s=2.0))
    assert boot.grade == Grade.WARN and "bootstrap" in boot.reason
    assert check_dependence(literal(se=math.nan)).grade == Grade.FAIL


def test_tail_support_needs_ten_requests_beyond_the_percentile():
    assert check_tail_support(literal("p99", n=1000)).grade == Grade.PASS
    warn = check_tail_support(literal("p99", n=500))
    assert warn.grade == Grade.WARN and "5 requests beyond p99" in warn.reason
    assert "1000 requests are needed" in warn.reason
    assert check_tail_support(literal("p99", n=200)).grade == Grade.FAIL
    assert check_tail_support(literal("p95", n=200)).grade == Grade.PASS
    with pytest.raises(ValueError, match="'mean'"):
        check_tail_support(literal("mean"))


def test_load_generator_flags_saturated_cpu_and_missing_intervals():
    assert check_load_generator([40, 50, 60] * 20).grade == Grade.PASS
    hot = check_load_generator([95] * 60)
    assert hot.grade == Grade.FAIL and "add workers" in hot.reason
    assert check_load_generator([50] * 99 + [97]).grade == Grade.WARN
    assert check_load_generator([80] * 60).grade == Grade.WARN
    assert check_load_generator([]).grade == Grade.WARN
    one = check_load_generator([50] * 60, missing_intervals=1, expected_intervals=600)
    assert one.grade == Grade.WARN and "1 worker intervals missing (0.2%)" in one.reason
    many = check_load_generator([50] * 60, missing_intervals=60, expected_intervals=600)
    assert many.grade == Grade.FAIL


def test_errors_censored_percentiles_fail_and_say_at_least_the_timeout():
    censored = literal("p99", censored=True)
    check = check_errors(1000, 20, 20, percentiles=[literal("p95"), censored], timeout_s=30.0)
    assert check.grade == Grade.FAIL
    assert "p99 censored by timeouts: report ≥ 30 s" in check.reason
    assert "p95" not in check.reason.split(";")[1]


def test_errors_warn_on_failures_or_timeouts_and_pass_otherwise():
    assert check_errors(1000, 0).grade == Grade.PASS
    assert check_errors(1000, 20).grade == Grade.WARN
    assert check_errors(1000, 1, 1).grade == Grade.WARN
    assert "2.0%" in check_errors(1000, 20).reason


def test_stationarity_passes_a_steady_run():
    assert check_stationarity(steady_run(), "mean").grade == Grade.PASS


def test_stationarity_fails_a_run_that_steps_up_inside():
    check = check_stationarity(steady_run(step_at=60, step=1.3), "p95")
    assert check.grade == Grade.FAIL
    assert "higher than first" in check.reason and "steady window" in check.reason


def test_stationarity_cannot_judge_a_very_short_run():
    assert check_stationarity(steady_run(seconds=20), "mean").grade == Grade.WARN


# --------------------------------------------------------------------------- assess


def test_assess_runs_every_check_and_takes_the_worst():
    run = steady_run(seconds=150, rate=20)
    quality = assess(run, cpu_percent=[50.0] * 150, timeout_s=30.0)
    names = {c.name for c in quality.checks}
    assert {"precision mean", "dependence p95", "tail support p99", "stationarity p95"} <= names
    assert {"load generator", "errors"} <= names
    worst = max((c.grade for c in quality.checks), key=lambda g: g.rank)
    assert quality.grade == worst


def test_assess_fails_a_run_whose_p99_is_censored_by_timeouts():
    run = [interval([20_000] * 97 + [30_000_000] * 3, failures=3, timeouts=3) for _ in range(60)]
    quality = assess(run, metrics=("p95", "p99"), timeout_s=30.0)
    assert quality.grade == Grade.FAIL
    assert any("p99 censored" in r for r in quality.reasons)


def test_assess_reuses_estimates_it_is_given():
    run = steady_run(seconds=60)
    given = {"mean": literal("mean", value=1.0, half=0.5)}  # deliberately imprecise
    quality = assess(run, metrics=("mean",), computed=given)
    precision = next(c for c in quality.checks if c.name == "precision mean")
    assert precision.grade == Grade.FAIL
