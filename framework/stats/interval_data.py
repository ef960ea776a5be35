"""The per-interval input of every estimator, and its column form with a sparse histogram matrix.

A run reaches the estimators as one :class:`IntervalData` per timeline interval (normally one
second), so they depend on neither the timeline reader nor Locust.  Every estimator recomputes
its metric over many combinations of intervals (batches, bootstrap resamples), so the records
are turned once into arrays (:class:`IntervalColumns`), and the interval histograms into one
sparse (intervals x buckets) count matrix that a batch or resample is a matrix product away
from.  Reading the HdrHistogram buckets lives here because it is what makes that fast.  A
reader that already holds the run's histograms as sparse rows (the timeline's
:class:`~framework.timeline.histograms.BucketRows`) hands them over as they are
(:func:`columns_from_rows`): the matrix then shares their memory and costs no pass at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from framework.timeline.histograms import BucketLayout, SparseHistogram

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

    from framework.timeline.histograms import BucketRows

__all__ = [
    "IntervalColumns",
    "IntervalData",
    "Intervals",
    "RowRanges",
    "as_columns",
    "columns_from_rows",
    "interval_columns",
]


@dataclass(frozen=True)
class IntervalData:
    """What the timeline holds for one request name in one interval (normally one second).

    ``count`` includes failures; ``sum_us`` / ``sumsq_us`` are the exact sum and sum of squares
    of the latencies (µs, µs²); ``histogram`` holds the same latencies in µs (``None`` when
    nothing completed): an ``HdrHistogram``, or the timeline's lighter ``SparseHistogram``,
    which answers the same reads. ``latency_count`` is how many latencies those hold: the
    successful requests when failures are kept apart (the timeline's way), ``None`` when
    every request's latency is in them. ``timeouts`` counts requests cut off by the client
    timeout (also in ``count`` and ``failures``): their recorded latency is a lower bound.
    """

    count: int
    failures: int = 0
    sum_us: float = 0.0
    sumsq_us: float = 0.0
    histogram: HdrHistogram | SparseHistogram | None = None
    timeouts: int = 0
    latency_count: int | None = None


@dataclass(frozen=True)
class IntervalColumns:
    """The per-interval counters as arrays, plus the histograms as a sparse count matrix.

    A frozen value: the sums of the matrix below are computed on every call. Estimates that
    share them (several percentiles of one window) keep them in a
    :class:`~framework.stats.histogram_sums.HistogramSums` that the caller creates.

    ``latency_counts`` are the latencies in ``sums`` and ``hist`` per interval (successful
    requests when failures are kept apart); ``None`` means ``counts``, every request.
    """

    counts: np.ndarray
    failures: np.ndarray
    sums: np.ndarray
    sumsqs: np.ndarray
    timeouts: np.ndarray
    interval_s: float
    hist: sparse.csr_array | None  # (intervals, buckets) counts, or None if not needed
    bucket_us: np.ndarray | None  # bucket midpoints, µs, ascending
    latency_counts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def latency_n(self) -> np.ndarray:
        """Latencies per interval in ``sums`` and ``hist`` (``counts`` when not kept apart)."""
        return self.counts if self.latency_counts is None else self.latency_counts

    @property
    def hist_row_totals(self) -> np.ndarray:
        """Latencies recorded in each interval (the histogram matrix's row sums)."""
        assert self.hist is not None
        return _row_sums(self.hist.data, self.hist.indptr)

    @property
    def hist_bucket_totals(self) -> np.ndarray:
        """The whole run's histogram (the matrix's column sums)."""
        assert self.hist is not None
        return _bucket_sums(self.hist, 0, self.hist.shape[0])

    def rows_at_or_below(self, bucket: int) -> np.ndarray:
        """Latencies in each interval's buckets ``0 .. bucket``."""
        assert self.hist is not None
        return _row_sums(self.hist.data, self.hist.indptr, self.hist.indices, bucket)

    def hist_columns(self, first: int, last: int) -> sparse.csr_array:
        """The histogram matrix's buckets ``first .. last - 1`` only."""
        assert self.hist is not None
        return self.hist[:, first:last]

    def hist_sums(self, combine: Callable[[sparse.csr_array], np.ndarray]) -> np.ndarray:
        """``combine(self.hist)``, dense."""
        assert self.hist is not None
        return np.asarray(combine(self.hist))

    def slice(self, first: int, last: int) -> IntervalColumns:
        """Intervals ``first`` to ``last - 1``; the histogram rows are views, not copies."""
        hist = None
        if self.hist is not None:
            a, b = self.hist.indptr[first], self.hist.indptr[last]
            hist = sparse.csr_array(
                (
                    self.hist.data[a:b],
                    self.hist.indices[a:b],
                    self.hist.indptr[first : last + 1] - a,
                ),
                shape=(last - first, self.hist.shape[1]),
            )
        return IntervalColumns(
            counts=self.counts[first:last],
            failures=self.failures[first:last],
            sums=self.sums[first:last],
            sumsqs=self.sumsqs[first:last],
            timeouts=self.timeouts[first:last],
            interval_s=self.interval_s,
            hist=hist,
            bucket_us=self.bucket_us,
            latency_counts=(
                None if self.latency_counts is None else self.latency_counts[first:last]
            ),
        )


class RowRanges:
    """Contiguous stretches of intervals (batches), as a ``Combine``: sums any per-interval
    array -- counters, or the histogram matrix -- over each stretch.

    ``starts`` are the first interval of each stretch (ascending, from 0); the last one runs
    to the end. A stretch's histogram is a contiguous block of matrix rows, so it is one
    ``bincount``, with no matrix product.
    """

    def __init__(self, starts: np.ndarray) -> None:
        self.starts = np.asarray(starts, dtype=np.int64)

    @classmethod
    def even(cls, intervals: int, stretches: int) -> RowRanges:
        """``stretches`` contiguous, near-equal stretches of ``intervals`` (the longer first).

        >>> RowRanges.even(10, 4).starts.tolist()
        [0, 3, 6, 8]
        """
        sizes = np.full(stretches, intervals // stretches)
        sizes[: intervals % stretches] += 1
        return cls(np.concatenate([[0], np.cumsum(sizes)[:-1]]))

    def __call__(self, a: np.ndarray | sparse.csr_array) -> np.ndarray:
        if not sparse.issparse(a):
            return np.add.reduceat(a, self.starts, axis=0)
        ends = np.append(self.starts[1:], a.shape[0])
        sums = [_bucket_sums(a, i, j) for i, j in zip(self.starts, ends, strict=True)]
        return np.array(sums, dtype=float).reshape(len(self.starts), a.shape[1])


_PIECE = 1 << 20  # entries added at once: the 64-bit copies numpy makes of them stay small


def _row_sums(
    values: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray | None = None,
    at_most: int = 0,
) -> np.ndarray:
    """Sums of ``values[indptr[i]:indptr[i + 1]]`` for each i (empty ranges give 0) -- only
    of the values whose ``indices`` are ``<= at_most`` when indices are given -- a piece of
    rows at a time: reduceat makes a float copy of what it adds."""
    out = np.zeros(len(indptr) - 1)
    if not int(indptr[-1]):  # no latency at all (every request failed)
        return out
    full = np.flatnonzero(np.diff(indptr) > 0)
    cuts = np.searchsorted(indptr[full], np.arange(0, int(indptr[-1]), _PIECE))
    for lo, hi in zip(cuts, [*cuts[1:], full.size], strict=True):
        if hi > lo:
            starts = indptr[full[lo:hi]]
            end = int(indptr[full[hi - 1] + 1])
            piece = values[starts[0] : end]
            if indices is not None:
                piece = np.where(indices[starts[0] : end] <= at_most, piece, 0)
            out[full[lo:hi]] = np.add.reduceat(piece, starts - starts[0], dtype=float)
    return out


def _bucket_sums(hist: sparse.csr_array, first: int, last: int) -> np.ndarray:
    """Rows ``first .. last - 1`` of the matrix added into one dense row."""
    a, b = int(hist.indptr[first]), int(hist.indptr[last])
    out = np.zeros(hist.shape[1])
    for i in range(a, b, _PIECE):
        j = min(i + _PIECE, b)
        out += np.bincount(hist.indices[i:j], weights=hist.data[i:j], minlength=hist.shape[1])
    return out


Intervals = Sequence[IntervalData] | IntervalColumns
"""What the estimators take: interval records, or the same already in columns."""


def as_columns(intervals: Intervals, interval_s: float, need_hist: bool) -> IntervalColumns:
    """``intervals`` in column form (columns pass through, keeping their own ``interval_s``)."""
    if isinstance(intervals, IntervalColumns):
        if need_hist and intervals.hist is None:
            raise ValueError("percentiles need the histograms: these columns were built without")
        if len(intervals) == 0:
            raise ValueError("no intervals: need at least one interval of timeline data")
        return intervals
    return interval_columns(intervals, interval_s, need_hist)


def columns_from_rows(
    counts: np.ndarray,
    failures: np.ndarray,
    sums: np.ndarray,
    sumsqs: np.ndarray,
    timeouts: np.ndarray,
    rows: BucketRows,
    interval_s: float,
    latency_counts: np.ndarray | None = None,
) -> IntervalColumns:
    """Columns of per-interval counters plus histograms already held as sparse rows.

    The rows become the histogram matrix as they are: a column is a bucket index of
    ``rows.layout``, and the matrix shares the rows' arrays, so building it costs nothing
    however many requests the histograms hold.
    """
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
    if len(counts) == 0 or len(rows) != len(counts):
        raise ValueError(
            f"need one histogram row per interval: {len(rows)} rows, {len(counts)} intervals"
        )
    hist, buckets = _matrix(rows.indptr, rows.index, rows.counts, rows.layout)
    return IntervalColumns(
        counts=np.asarray(counts, dtype=float),
        failures=np.asarray(failures, dtype=float),
        sums=np.asarray(sums, dtype=float),
        sumsqs=np.asarray(sumsqs, dtype=float),
        timeouts=np.asarray(timeouts, dtype=float),
        interval_s=float(interval_s),
        hist=hist,
        bucket_us=buckets,
        latency_counts=None if latency_counts is None else np.asarray(latency_counts, dtype=float),
    )


def interval_columns(
    intervals: Sequence[IntervalData], interval_s: float, need_hist: bool
) -> IntervalColumns:
    """The intervals as arrays; the histogram matrix only if ``need_hist`` (it costs a read).

    ``interval_s`` is each interval's length in seconds; at least one interval is required.
    """
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
    if len(intervals) == 0:
        raise ValueError("no intervals: need at least one interval of timeline data")
    hist, buckets = _histogram_matrix(intervals) if need_hist else (None, None)
    return IntervalColumns(
        counts=np.array([iv.count for iv in intervals], dtype=float),
        failures=np.array([iv.failures for iv in intervals], dtype=float),
        sums=np.array([iv.sum_us for iv in intervals], dtype=float),
        sumsqs=np.array([iv.sumsq_us for iv in intervals], dtype=float),
        timeouts=np.array([iv.timeouts for iv in intervals], dtype=float),
        interval_s=float(interval_s),
        hist=hist,
        bucket_us=buckets,
        latency_counts=(
            None
            if all(iv.latency_count is None for iv in intervals)
            else np.array(
                [iv.count if iv.latency_count is None else iv.latency_count for iv in intervals],
                dtype=float,
            )
        ),
    )


def _nonzero_buckets(histogram: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """Indexes and counts of the histogram's non-empty buckets, read without a Python loop.

    Only the stretch between the recorded minimum and maximum is scanned (a whole counts array
    is ~17k buckets at 3 significant digits); if the min/max bookkeeping disagrees with the
    total count, the whole array is scanned instead.
    """
    try:
        counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    except (TypeError, AttributeError):  # an implementation without a ctypes counts array
        counts = np.array([histogram.get_count_at_index(i) for i in range(histogram.counts_len)])
    first = histogram.get_counts_array_index(histogram.get_min_value())
    last = histogram.get_counts_array_index(histogram.get_max_value())
    window = counts[max(first, 0) : last + 1]
    offset = max(first, 0)
    if window.sum() != histogram.get_total_count():
        window, offset = counts, 0
    idx = np.flatnonzero(window)
    return idx + offset, window[idx].astype(float)


def _histogram_matrix(
    intervals: Sequence[IntervalData],
) -> tuple[sparse.csr_array, np.ndarray]:
    """Stack the interval histograms as the rows of a sparse matrix whose columns are bucket
    indexes, the same layout ``columns_from_rows`` gives.

    The matrix is sparse: an hour-long run with a wide latency range touches tens of
    thousands of buckets over the run but only a few hundred in any one second.

    All histograms must share a bucket layout (lowest trackable value and significant digits)
    so that bucket indexes mean the same latency.  Buckets are represented by their midpoint,
    which halves the worst-case bucketing error of HdrHistogram's own percentiles (they report
    a bucket's upper edge): under 0.05% at 3 significant digits, 0.4% at 2.
    """
    layout: BucketLayout | None = None
    sizes, indexes, counts = np.zeros(len(intervals) + 1, dtype=np.int64), [], []
    for t, iv in enumerate(intervals):
        h = iv.histogram
        if h is None or h.get_total_count() == 0:
            continue
        found = h.layout if isinstance(h, SparseHistogram) else BucketLayout.of(h)
        if layout is None:
            layout = found
        elif _magnitudes(found) != _magnitudes(layout):
            raise ValueError(
                f"intervals[{t}].histogram has bucket layout {_magnitudes(found)} (unit "
                f"magnitude, sub-bucket half-count magnitude) but earlier intervals have "
                f"{_magnitudes(layout)}; record every interval with the same lowest value and "
                "significant digits"
            )
        idx, n = _nonzero_buckets(h)
        sizes[t + 1] = idx.size
        indexes.append(idx)
        counts.append(n)
    if layout is None:
        return sparse.csr_array((len(intervals), 0)), np.zeros(0)
    return _matrix(np.cumsum(sizes), np.concatenate(indexes), np.concatenate(counts), layout)


def _magnitudes(layout: BucketLayout) -> tuple[int, int]:
    return layout.unit_magnitude, layout.sub_bucket_half_count_magnitude


def _matrix(
    indptr: np.ndarray, index: np.ndarray, counts: np.ndarray, layout: BucketLayout
) -> tuple[sparse.csr_array, np.ndarray]:
    """The (intervals x buckets) count matrix of CSR arrays, sharing them, and the midpoint
    of every bucket up to the highest one used."""
    width = int(index.max()) + 1 if index.size else 0
    # scipy wants 32- or 64-bit indexes: 16-bit ones (compact rows) are widened, a copy
    index = index.astype(np.int32, copy=False) if index.itemsize < 4 else index
    hist = sparse.csr_array(
        (counts, index, indptr.astype(index.dtype, copy=False)), shape=(len(indptr) - 1, width)
    )
    return hist, layout.midpoints(np.arange(width))
