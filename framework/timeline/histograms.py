"""Fast reads of HdrHistograms: percentiles from the counts array with numpy.

``HdrHistogram.get_value_at_percentile`` walks the counts in Python (~4 ms per call at 3
significant digits); reports ask for thousands of them (three per second of a run), so
this reads the ctypes counts array once and answers every percentile with ``searchsorted``.
Values follow HdrHistogram's own convention (the highest value equivalent to the bucket).

A one-hour, 20-name run holds 72,000 per-second histograms; decoding each into a 185 KB
HdrHistogram is what made reports slow and large. ``SparseHistogram`` (one histogram's
non-empty buckets) and ``BucketRows`` (many, as the rows of a sparse matrix) hold the same
counts in a few hundred numbers each and answer the same questions.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

__all__ = [
    "BucketLayout",
    "BucketRows",
    "SparseHistogram",
    "cumulative_counts",
    "percentiles_us",
]


def percentiles_us(
    histogram: HdrHistogram | SparseHistogram, levels: Sequence[float]
) -> list[float | None]:
    """The value (µs) at each percentile level (0–100); ``None`` for an empty histogram."""
    total = histogram.get_total_count()
    if total == 0:
        return [None] * len(levels)
    if isinstance(histogram, SparseHistogram):
        cumulative = np.cumsum(histogram.counts_nonzero)
        index_at = histogram.index
    else:
        cumulative = np.cumsum(np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len])
        index_at = None
    out: list[float | None] = []
    for level in levels:
        wanted = max(1, int(np.ceil(min(max(level, 0.0), 100.0) / 100 * total)))
        index = int(np.searchsorted(cumulative, wanted))
        if index_at is not None:
            index = int(index_at[index])
        value = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
        out.append(float(value))
    return out


def cumulative_counts(
    histogram: HdrHistogram | SparseHistogram, bounds_us: Sequence[float]
) -> list[int]:
    """How many recorded values are at or below each bound (µs), for Prometheus buckets."""
    if histogram.get_total_count() == 0:
        return [0] * len(bounds_us)
    last = histogram.counts_len - 1
    indexes = [min(histogram.get_counts_array_index(int(b)), last) for b in bounds_us]
    if isinstance(histogram, SparseHistogram):
        cumulative = np.concatenate([[0], np.cumsum(histogram.counts_nonzero)])
        at = np.searchsorted(histogram.index, indexes, side="right")
        return [int(c) for c in cumulative[at]]
    cumulative = np.cumsum(np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len])
    return [int(cumulative[index]) for index in indexes]


@dataclass(frozen=True)
class BucketLayout:
    """What a counts-array index means: HdrHistogram's bucket arithmetic, vectorised.

    Two histograms share a layout when their lowest trackable value and significant digits
    agree (``counts_len`` also depends on the highest trackable value); an index then names
    the same range of values, so their counts add index by index.
    """

    lowest_trackable_value: int
    highest_trackable_value: int
    significant_figures: int
    unit_magnitude: int
    sub_bucket_half_count_magnitude: int
    counts_len: int

    @classmethod
    def of(cls, histogram: HdrHistogram) -> BucketLayout:
        return cls(
            histogram.lowest_trackable_value,
            histogram.highest_trackable_value,
            histogram.significant_figures,
            histogram.unit_magnitude,
            histogram.sub_bucket_half_count_magnitude,
            histogram.counts_len,
        )

    def index_of(self, value: int) -> int:
        """``HdrHistogram.get_counts_array_index``: the bucket ``value`` falls in."""
        half = self.sub_bucket_half_count_magnitude
        mask = ((1 << (half + 1)) - 1) << self.unit_magnitude
        bucket = (int(value) | mask).bit_length() - self.unit_magnitude - (half + 1)
        sub = int(value) >> (bucket + self.unit_magnitude)
        return ((bucket + 1) << half) + sub - (1 << half)

    def lowest_values(self, index: np.ndarray) -> np.ndarray:
        """``get_value_from_index`` of each index: the lowest value of its bucket."""
        index = np.asarray(index, dtype=np.int64)
        half = self.sub_bucket_half_count_magnitude
        bucket = (index >> half) - 1
        sub = (index & ((1 << half) - 1)) + (1 << half)
        first = bucket < 0
        sub = np.where(first, sub - (1 << half), sub)
        bucket = np.where(first, 0, bucket)
        return sub << (bucket + self.unit_magnitude)

    def highest_values(self, index: np.ndarray) -> np.ndarray:
        """``get_highest_equivalent_value(get_value_from_index(i))``: a bucket's top value."""
        index = np.asarray(index, dtype=np.int64)
        bucket = np.maximum((index >> self.sub_bucket_half_count_magnitude) - 1, 0)
        return self.lowest_values(index) + (np.int64(1) << (bucket + self.unit_magnitude)) - 1

    def midpoints(self, index: np.ndarray) -> np.ndarray:
        """The middle (µs) of the whole values each bucket holds: a percentile reported at
        it is off by half a bucket at most, half HdrHistogram's worst case (it reports the
        upper edge). Below 2048 µs at 3 digits a bucket is one value, reported exactly."""
        return (self.lowest_values(index) + self.highest_values(index)) / 2

    def value_from_index(self, index: int) -> int:
        """``lowest_values`` of one index, in plain integers (no numpy overhead)."""
        half = self.sub_bucket_half_count_magnitude
        bucket = (index >> half) - 1
        sub = (index & ((1 << half) - 1)) + (1 << half)
        if bucket < 0:
            sub -= 1 << half
            bucket = 0
        return sub << (bucket + self.unit_magnitude)

    def highest_value(self, index: int) -> int:
        """``highest_values`` of one index, in plain integers."""
        bucket = max((index >> self.sub_bucket_half_count_magnitude) - 1, 0)
        return self.value_from_index(index) + (1 << (bucket + self.unit_magnitude)) - 1


class SparseHistogram:
    """A read-only latency histogram held as its non-empty buckets.

    It answers the part of HdrHistogram's interface that swarm's statistics read (totals,
    min and max, bucket indexes, the counts array), so estimators and reports take it where
    they take an HdrHistogram; but it costs a few hundred numbers instead of a 185 KB
    counts array, and building one from the timeline needs no HdrHistogram at all.
    ``index`` is ascending and ``counts`` positive, as ``np.flatnonzero`` would give them.

    >>> layout = BucketLayout.of(HdrHistogram(1, 3_600_000_000, 3))
    >>> h = SparseHistogram(np.array([5, 9]), np.array([2, 1]), layout)
    >>> h.get_total_count(), h.get_min_value(), h.get_max_value(), h.counts.tolist()
    (3, 5, 9, [0, 0, 0, 0, 0, 2, 0, 0, 0, 1])
    """

    __slots__ = ("counts_nonzero", "index", "layout", "total")

    def __init__(self, index: np.ndarray, counts: np.ndarray, layout: BucketLayout) -> None:
        self.index = index
        self.counts_nonzero = counts
        self.layout = layout
        self.total = int(counts.sum()) if counts.size else 0

    @property
    def unit_magnitude(self) -> int:
        return self.layout.unit_magnitude

    @property
    def sub_bucket_half_count_magnitude(self) -> int:
        return self.layout.sub_bucket_half_count_magnitude

    @property
    def counts_len(self) -> int:
        return self.layout.counts_len

    @property
    def counts(self) -> np.ndarray:
        """The dense counts array up to the highest non-empty bucket (a fresh copy)."""
        dense = np.zeros(int(self.index[-1]) + 1 if self.index.size else 0, dtype=np.int64)
        dense[self.index] = self.counts_nonzero
        return dense

    def get_total_count(self) -> int:
        return self.total

    def get_min_value(self) -> int:
        """As HdrHistogram: the lowest value of the first non-empty bucket (0 when empty)."""
        if not self.total:
            return 0
        return self.layout.value_from_index(int(self.index[0]))

    def get_max_value(self) -> int:
        """As HdrHistogram: the highest value of the last non-empty bucket (0 when empty)."""
        if not self.total:
            return 0
        return self.layout.highest_value(int(self.index[-1]))

    def get_counts_array_index(self, value: int) -> int:
        return self.layout.index_of(value)

    def get_value_from_index(self, index: int) -> int:
        return self.layout.value_from_index(index)

    def get_highest_equivalent_value(self, value: int) -> int:
        return self.layout.highest_value(self.layout.index_of(value))

    def get_count_at_index(self, index: int) -> int:
        at = int(np.searchsorted(self.index, index))
        found = at < self.index.size and self.index[at] == index
        return int(self.counts_nonzero[at]) if found else 0

    def to_hdrhistogram(self) -> HdrHistogram:
        """A real HdrHistogram with these counts (as decoding and adding the blobs gives)."""
        layout = self.layout
        histogram = HdrHistogram(
            layout.lowest_trackable_value,
            layout.highest_trackable_value,
            layout.significant_figures,
        )
        if self.total:
            np.ctypeslib.as_array(histogram.counts)[self.index] = self.counts_nonzero
            histogram.set_internal_tacking_values(
                int(self.index[0]), int(self.index[-1]), self.total
            )
        return histogram


_PIECE = 1 << 20  # entries added at once


@dataclass(frozen=True)
class BucketRows:
    """Histograms of consecutive intervals (normally seconds) as the rows of a sparse matrix.

    Row ``i`` holds buckets ``index[indptr[i]:indptr[i + 1]]`` (ascending) with ``counts``
    alike; a row without requests is empty. One array for a whole run is what lets reports
    read thousands of per-second histograms without decoding one HdrHistogram each.
    """

    indptr: np.ndarray
    index: np.ndarray
    counts: np.ndarray
    layout: BucketLayout

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def slice(self, first: int, last: int) -> BucketRows:
        """Rows ``first`` to ``last - 1`` (views, no copy)."""
        a, b = self.indptr[first], self.indptr[last]
        return BucketRows(
            self.indptr[first : last + 1] - a, self.index[a:b], self.counts[a:b], self.layout
        )

    def row(self, i: int) -> SparseHistogram:
        a, b = self.indptr[i], self.indptr[i + 1]
        return SparseHistogram(self.index[a:b], self.counts[a:b], self.layout)

    def total(self) -> SparseHistogram:
        """Every row added together."""
        if not self.index.size:
            return SparseHistogram(self.index, self.counts, self.layout)
        summed = np.zeros(self.layout.counts_len, dtype=np.int64)
        for i in range(0, self.index.size, _PIECE):  # bincount copies what it adds to 64 bits
            piece = slice(i, i + _PIECE)
            found = np.bincount(self.index[piece], weights=self.counts[piece])
            summed[: found.size] += found.astype(np.int64)
        index = np.flatnonzero(summed)
        return SparseHistogram(index, summed[index], self.layout)

    def percentiles_us(self, levels: Sequence[float]) -> np.ndarray:
        """``percentiles_us`` of every row at once: shape (rows, levels), NaN for empty rows."""
        rows = len(self)
        if self.index.size <= _PIECE:
            return self._percentiles_us(levels)
        # a piece of rows at a time: the running sums are 64-bit copies of the counts
        cuts = np.searchsorted(self.indptr, np.arange(0, self.index.size, _PIECE))
        bounds = [*np.unique(np.clip(cuts, 0, rows - 1)).tolist(), rows]
        return np.concatenate(
            [self.slice(a, b)._percentiles_us(levels) for a, b in itertools.pairwise(bounds)]
        )

    def _percentiles_us(self, levels: Sequence[float]) -> np.ndarray:
        rows = len(self)
        out = np.full((rows, len(levels)), np.nan)
        if not self.index.size:
            return out
        cumulative = np.concatenate([[0], np.cumsum(self.counts, dtype=np.int64)])
        before = cumulative[self.indptr[:-1]]
        totals = cumulative[self.indptr[1:]] - before
        cumulative = cumulative[1:]
        full = totals > 0
        for j, level in enumerate(levels):
            share = min(max(float(level), 0.0), 100.0) / 100
            wanted = np.maximum(1, np.ceil(share * totals[full]).astype(np.int64))
            at = np.searchsorted(cumulative, before[full] + wanted)
            out[full, j] = self.layout.highest_values(self.index[at])
        return out
