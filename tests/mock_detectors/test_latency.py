"""Each latency model draws from the distribution it claims (KS tests, fixed seeds)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from mock_detectors.latency import (
    EmpiricalLatency,
    ExponentialLatency,
    FixedLatency,
    LatencyModel,
    LognormalLatency,
    NormalLatency,
    UniformLatency,
    describe,
    make_sampler,
)

N = 4000
ALPHA = 0.001  # a correct sampler fails one run in a thousand; the seeds are fixed anyway


def draw(model: LatencyModel, seed: int = 20240601, n: int = N) -> np.ndarray:
    sample = make_sampler(model, random.Random(seed))
    return np.array([sample() for _ in range(n)])


def test_fixed_always_returns_its_value() -> None:
    assert set(draw(FixedLatency(ms=42.5), n=100)) == {42.5}


def test_uniform_matches_uniform_distribution() -> None:
    values = draw(UniformLatency(min_ms=200, max_ms=500))
    assert values.min() >= 200 and values.max() <= 500
    assert stats.kstest(values, stats.uniform(loc=200, scale=300).cdf).pvalue > ALPHA


def test_normal_matches_normal_distribution() -> None:
    values = draw(NormalLatency(mean_ms=150, stddev_ms=20))
    assert stats.kstest(values, stats.norm(loc=150, scale=20).cdf).pvalue > ALPHA


def test_normal_redraws_below_floor_giving_truncated_normal() -> None:
    values = draw(NormalLatency(mean_ms=100, stddev_ms=50, min_ms=80))
    assert values.min() >= 80
    a = (80 - 100) / 50
    truncated = stats.truncnorm(a=a, b=np.inf, loc=100, scale=50)
    assert stats.kstest(values, truncated.cdf).pvalue > ALPHA


def test_lognormal_matches_its_median_and_p95() -> None:
    model = LognormalLatency(median_ms=120, p95_ms=400)
    values = draw(model)
    sigma = np.log(400 / 120) / stats.norm.ppf(0.95)
    distribution = stats.lognorm(s=sigma, scale=120)
    assert distribution.ppf(0.95) == pytest.approx(400)
    assert stats.kstest(values, distribution.cdf).pvalue > ALPHA
    assert np.median(values) == pytest.approx(120, rel=0.05)
    assert np.percentile(values, 95) == pytest.approx(400, rel=0.08)


def test_exponential_matches_shifted_exponential() -> None:
    values = draw(ExponentialLatency(mean_ms=30, offset_ms=20))
    assert values.min() >= 20
    assert stats.kstest(values, stats.expon(loc=20, scale=30).cdf).pvalue > ALPHA


def test_empirical_matches_its_percentile_table() -> None:
    table = {0: 100, 50: 350, 90: 1000, 100: 2000}
    values = draw(EmpiricalLatency(percentiles=table))
    points = sorted(table.items())
    quantiles = [p / 100 for p, _ in points]
    ms = [v for _, v in points]

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.interp(x, ms, quantiles)

    assert stats.kstest(values, cdf).pvalue > ALPHA
    assert values.min() >= 100 and values.max() <= 2000


def test_same_seed_replays_same_latencies() -> None:
    model = LognormalLatency(median_ms=50, p95_ms=200)
    assert list(draw(model, seed=3, n=50)) == list(draw(model, seed=3, n=50))
    assert list(draw(model, seed=3, n=50)) != list(draw(model, seed=4, n=50))


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"model": "uniform", "min_ms": 5, "max_ms": 1}, "max_ms (1.0) must be >= min_ms"),
        ({"model": "lognormal", "median_ms": 100, "p95_ms": 50}, "must be > median_ms"),
        ({"model": "empirical", "percentiles": {50: 1, 100: 2}}, "must include 0"),
        ({"model": "empirical", "percentiles": {0: 5, 100: 2}}, "must not decrease"),
        ({"model": "normal", "mean_ms": 10, "stddev_ms": 1, "min_ms": 50}, "min_ms (50.0)"),
        ({"model": "fixed", "ms": -1}, "greater than or equal to 0"),
    ],
)
def test_invalid_models_are_refused_with_reason(data: dict, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        TypeAdapter(LatencyModel).validate_python(data)


def test_describe_names_model_and_parameters() -> None:
    assert describe(UniformLatency(min_ms=200, max_ms=500)) == "uniform 200–500 ms"
    assert describe(LognormalLatency(median_ms=120, p95_ms=400)) == (
        "lognormal median 120 ms p95 400 ms"
    )
