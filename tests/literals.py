"""Literal inputs for the statistics tests: one interval of given latencies, one estimate.

Tests of the estimators, the significance tests and run planning build their inputs from
these, so each can state the latencies or the standard error it is about and nothing else.
"""

from __future__ import annotations

import numpy as np
from hdrh.histogram import HdrHistogram
from scipy import stats

from framework.stats.estimators import Estimate
from framework.stats.interval_data import IntervalData

__all__ = ["interval", "literal"]


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
    """A batch-means estimate with standard error ``se``; ``kw`` overrides any other field."""
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
