"""Unit tests of framework.stats.precision: detectable change and run length from literals."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from framework.stats.precision import minimum_detectable_change, required_duration_s
from framework.stats.significance import compare_estimates
from tests.literals import literal


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


def test_an_interval_enormous_against_its_value_detects_nothing_instead_of_overflowing():
    # a p95 of 2 µs whose standard error is seconds (a few huge outliers among instant
    # answers): exp(z * sqrt(2) * se / value) is beyond any float
    assert minimum_detectable_change(literal(0.002, 5_000.0)) == math.inf


def test_comparing_against_an_enormous_interval_gives_an_unbounded_ratio_not_an_error():
    c = compare_estimates(literal(100.0, 2.0), literal(0.002, 5_000.0))
    assert c.high == math.inf and c.verdict == "no detectable change"
