"""``Figure.from_estimate``: the one way from the statistics' estimate to a shown figure."""

from __future__ import annotations

import math

import pytest

from framework.verdicts.results import Figure
from tests.literals import literal


def test_latency_estimate_in_microseconds_becomes_milliseconds_with_its_interval():
    est = literal(value=2000.0, se=50.0, censored=True, notes=("few batches",))
    figure = Figure.from_estimate(est, 1 / 1000)
    assert figure.value == pytest.approx(2.0)
    assert (figure.low, figure.high) == (
        pytest.approx(est.low / 1000),
        pytest.approx(est.high / 1000),
    )
    assert (figure.n, figure.effective_n, figure.method) == (10_000, 2_000.0, "batch_means")
    assert figure.censored and figure.notes == ("few batches",)


def test_missing_or_non_finite_parts_become_none():
    assert Figure.from_estimate(None) == Figure(value=None)
    assert Figure.from_estimate(literal(value=math.nan)) == Figure(value=None)
    no_interval = Figure.from_estimate(literal(low=math.nan, effective_n=math.inf))
    assert no_interval.value == 100.0
    assert (no_interval.low, no_interval.high, no_interval.effective_n) == (None, None, None)
