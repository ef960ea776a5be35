"""Fast reads of HdrHistograms: percentiles from the counts array with numpy.

``HdrHistogram.get_value_at_percentile`` walks the counts in Python (~4 ms per call at 3
significant digits); reports ask for thousands of them (three per second of a run), so
this reads the ctypes counts array once and answers every percentile with ``searchsorted``.
Values follow HdrHistogram's own convention (the highest value equivalent to the bucket).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

__all__ = ["cumulative_counts", "percentiles_us"]


def percentiles_us(histogram: HdrHistogram, levels: Sequence[float]) -> list[float | None]:
    """The value (µs) at each percentile level (0–100); ``None`` for an empty histogram."""
    total = histogram.get_total_count()
    if total == 0:
        return [None] * len(levels)
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    cumulative = np.cumsum(counts)
    out: list[float | None] = []
    for level in levels:
        wanted = max(1, int(np.ceil(min(max(level, 0.0), 100.0) / 100 * total)))
        index = int(np.searchsorted(cumulative, wanted))
        value = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
        out.append(float(value))
    return out


def cumulative_counts(histogram: HdrHistogram, bounds_us: Sequence[float]) -> list[int]:
    """How many recorded values are at or below each bound (µs), for Prometheus buckets."""
    if histogram.get_total_count() == 0:
        return [0] * len(bounds_us)
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    cumulative = np.cumsum(counts)
    last = histogram.counts_len - 1
    out = []
    for bound in bounds_us:
        index = min(histogram.get_counts_array_index(int(bound)), last)
        out.append(int(cumulative[index]))
    return out
