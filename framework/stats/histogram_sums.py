"""The sums of one window's histogram matrix that several estimates share, each taken once.

Every percentile estimate of a window reads the same few sums of its (intervals x buckets)
histogram matrix: the latencies in each interval, the whole window's histogram, the batch
histograms of batch means, and, for the bootstrap, the buckets around the window's own
percentile. Each is a pass over every entry of the matrix, so taking them once per window
instead of once per metric is most of what keeps a report fast.

They are kept here, in one mutable object that the caller creates and passes down, rather
than inside :class:`~framework.stats.interval_data.IntervalColumns`: the columns stay a
frozen value, whatever computed what first can be seen at the call site, and the kept sums
live exactly as long as the caller holds this object (the analysis: one request name in
one window). Every sum here is also a pure method of the columns; this only remembers them.

Example::

    sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    found = estimates(cols, ("p95", "p99"), sums=sums)  # the sums are taken for p95 ...
    quality = assess(cols, computed=found, sums=sums)  # ... and reused for p99 and here
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse

from framework.stats.interval_data import IntervalColumns, RowRanges

__all__ = ["HistogramSums"]


class HistogramSums:
    """Sums of ``columns.hist`` taken on first use and kept, for estimates that share them.

    ``batches``, if given, is the number of batches of batch means: the whole window's
    histogram is then taken as the sum of those batches' histograms, which batch means
    reads anyway, so one pass over the matrix gives both (the result is the same as a pass
    of its own). A percentile asks for the batch histograms through :meth:`sums` with a
    :class:`~framework.stats.interval_data.RowRanges`, so any batching is kept, not only
    this one.

    Only one window's columns: a part of the window is :meth:`slice`, whose per-interval
    totals are a part of these.
    """

    def __init__(self, columns: IntervalColumns, *, batches: int | None = None) -> None:
        self.columns = columns
        self.batches = (
            RowRanges.even(len(columns), min(batches, len(columns)))
            if batches is not None and len(columns)
            else None
        )
        self._row_totals_of: tuple[HistogramSums, int, int] | None = None  # set by slice
        self._row_totals: np.ndarray | None = None
        self._bucket_totals: np.ndarray | None = None
        self._at_or_below: dict[int, np.ndarray] = {}
        self._bucket_columns: dict[tuple[int, int], sparse.csr_array] = {}
        self._batch_sums: dict[bytes, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"HistogramSums({len(self.columns)} intervals, {self._kept()} sums kept)"

    def _kept(self) -> int:
        single = (self._row_totals is not None) + (self._bucket_totals is not None)
        return single + len(self._at_or_below) + len(self._bucket_columns) + len(self._batch_sums)

    def row_totals(self) -> np.ndarray:
        """``columns.hist_row_totals``: latencies recorded in each interval."""
        if self._row_totals is None:
            if self._row_totals_of is not None:
                whole, first, last = self._row_totals_of
                self._row_totals = whole.row_totals()[first:last]
            else:
                self._row_totals = self.columns.hist_row_totals
        return self._row_totals

    def bucket_totals(self) -> np.ndarray:
        """``columns.hist_bucket_totals``: the whole window's histogram (dense, by bucket)."""
        if self._bucket_totals is None:
            if self.batches is not None:
                self._bucket_totals = self.sums(self.batches).sum(axis=0)
            else:
                self._bucket_totals = self.columns.hist_bucket_totals
        return self._bucket_totals

    def rows_at_or_below(self, bucket: int) -> np.ndarray:
        """``columns.rows_at_or_below(bucket)``: latencies in each interval's buckets
        ``0 .. bucket`` (kept per bucket: a percentile and its resamples ask again)."""
        if bucket not in self._at_or_below:
            self._at_or_below[bucket] = self.columns.rows_at_or_below(bucket)
        return self._at_or_below[bucket]

    def bucket_columns(self, first: int, last: int) -> sparse.csr_array:
        """``columns.hist_columns(first, last)``: buckets ``first .. last - 1`` only (every
        chunk of bootstrap resamples reads the same ones)."""
        key = (first, last)
        if key not in self._bucket_columns:
            self._bucket_columns[key] = self.columns.hist_columns(first, last)
        return self._bucket_columns[key]

    def sums(self, combine: Callable[[sparse.csr_array], np.ndarray]) -> np.ndarray:
        """``columns.hist_sums(combine)``; kept when ``combine`` is a ``RowRanges`` (batches,
        which every percentile asks for), not for resamples (each chunk is asked once)."""
        if not isinstance(combine, RowRanges):
            return self.columns.hist_sums(combine)
        key = combine.starts.tobytes()
        if key not in self._batch_sums:
            self._batch_sums[key] = self.columns.hist_sums(combine)
        return self._batch_sums[key]

    def slice(self, first: int, last: int, *, batches: int | None = None) -> HistogramSums:
        """Sums of ``columns.slice(first, last)``, a fresh object: its per-interval totals
        are a part of these (taken here if not yet), everything else is its own.
        ``batches`` is the slice's own batch count (see the class)."""
        part = HistogramSums(self.columns.slice(first, last), batches=batches)
        part._row_totals_of = (self, first, last)
        return part
