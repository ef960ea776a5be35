"""Estimators fed sparse histogram rows (the report's path) give exactly what they give on
per-interval records (the public API's path), including resampled percentiles looked for
near the run's own and sums taken a piece at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

import framework.stats.interval_data as interval_data
from framework.stats.estimators import estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import (
    IntervalColumns,
    IntervalData,
    RowRanges,
    as_columns,
    columns_from_rows,
    interval_columns,
)
from framework.stats.metric_statistics import METRICS, metric_statistic
from framework.stats.quality import assess
from framework.timeline.codec import LAYOUT
from framework.timeline.histograms import BucketRows


def _run(
    seed: int, seconds: int = 120, fast_until: int = 0
) -> tuple[list[IntervalData], BucketRows]:
    """The same run twice: as records holding HdrHistograms, and as sparse rows plus counters.

    Seconds before ``fast_until`` are five times faster, so their percentiles lie far below
    the whole run's.
    """
    rng = np.random.default_rng(seed)
    level = 0.0
    records, indptr, index, counts = [], [0], [], []
    for t in range(seconds):
        level = 0.7 * level + rng.normal(0, 0.1)
        n = int(rng.poisson(80)) if t % 17 else 0  # now and then an idle second
        latencies = np.rint(
            rng.lognormal(np.log(20_000) + level, 0.5, n) / (5 if t < fast_until else 1)
        )
        h = HdrHistogram(LAYOUT.lowest_trackable_value, LAYOUT.highest_trackable_value, 3)
        for v in latencies:
            h.record_value(int(v))
        dense = np.ctypeslib.as_array(h.counts)[: h.counts_len]
        used = np.flatnonzero(dense)
        index.extend(used.tolist())
        counts.extend(dense[used].tolist())
        indptr.append(len(index))
        failures = int(rng.binomial(n, 0.02)) if n else 0
        records.append(
            IntervalData(
                n, failures, float(latencies.sum()), float(latencies @ latencies), h if n else None
            )
        )
    rows = BucketRows(
        np.array(indptr),
        np.array(index, dtype=np.uint16),
        np.array(counts, dtype=np.uint16),
        LAYOUT,
    )
    return records, rows


def _columns(records: list[IntervalData], rows: BucketRows) -> IntervalColumns:
    counters = np.array([(r.count, r.failures, r.sum_us, r.sumsq_us, r.timeouts) for r in records])
    return columns_from_rows(*counters.T, rows=rows, interval_s=1.0)


@pytest.mark.parametrize("method", ["batch_means", "block_bootstrap", "auto"])
def test_estimates_from_rows_equal_estimates_from_records(method):
    records, rows = _run(1)
    expected = estimates(records, METRICS, method=method, replicates=199)
    assert estimates(_columns(records, rows), METRICS, method=method, replicates=199) == expected


def test_quality_from_rows_equals_quality_from_records():
    records, rows = _run(2, seconds=150, fast_until=30)
    expected = assess(records, cpu_percent=[50.0] * len(records), timeout_s=30.0)
    found = assess(_columns(records, rows), cpu_percent=[50.0] * len(records), timeout_s=30.0)
    assert found == expected
    drifts = [c.reason for c in found.checks if c.name.startswith("stationarity")]
    assert len(drifts) == 3 and all("last third" in reason for reason in drifts)


def _reference_quantiles(sums: np.ndarray, buckets: np.ndarray, p: float) -> np.ndarray:
    """HdrHistogram's rank rule, row by row, on dense bucket sums."""
    out = []
    for row in sums:
        total = row.sum()
        if total == 0:
            out.append(math.nan)
            continue
        target = max(math.floor(p * total + 0.5), 1)
        out.append(buckets[int(np.searchsorted(np.cumsum(row), target))])
    return np.array(out)


@pytest.mark.parametrize("metric", ["p50", "p95", "p99"])
def test_resampled_percentiles_equal_the_full_computation_even_far_from_the_runs(metric):
    records, rows = _run(3, seconds=200, fast_until=20)
    cols = _columns(records, rows)
    s = metric_statistic(cols, metric)
    p = float(metric[1:]) / 100
    rng = np.random.default_rng(4)
    weights = rng.poisson(1.0, size=(40, len(cols))).astype(float)
    weights[:5] = 0
    for i in range(5):  # resamples of the fast stretch only: their percentile is far away
        weights[i, rng.integers(0, 20, size=8)] = 1
    weights[5] = 0  # and one of no interval at all

    values, sizes = s.stat(lambda a: weights @ a)

    dense = cols.hist.toarray()
    expected = _reference_quantiles(weights @ dense, cols.bucket_us, p)
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(sizes, weights @ dense.sum(axis=1))
    whole = _reference_quantiles(dense.sum(axis=0)[None, :], cols.bucket_us, p)[0]
    assert (values[:5] < whole / 2).all()


def test_sums_taken_a_piece_at_a_time_equal_sums_taken_at_once(monkeypatch):
    records, rows = _run(5)
    dense = _columns(records, rows).hist.toarray()
    monkeypatch.setattr(interval_data, "_PIECE", 7)
    cols = _columns(records, rows)
    np.testing.assert_array_equal(cols.hist_row_totals, dense.sum(axis=1))
    np.testing.assert_array_equal(cols.hist_bucket_totals, dense.sum(axis=0))
    k = int(np.searchsorted(np.cumsum(dense.sum(axis=0)), dense.sum() * 0.9))
    np.testing.assert_array_equal(cols.rows_at_or_below(k), dense[:, : k + 1].sum(axis=1))
    starts = np.array([0, 13, 50, 51, 119])
    np.testing.assert_array_equal(cols.hist_sums(RowRanges(starts)), np.add.reduceat(dense, starts))


def test_the_whole_histogram_is_the_same_from_batches_or_from_every_entry():
    records, rows = _run(6)
    direct = _columns(records, rows)
    batched = _columns(records, rows)
    batched.hist_sums(RowRanges(np.array([0, 40, 80])))
    np.testing.assert_array_equal(batched.hist_bucket_totals, direct.hist_bucket_totals)


def test_a_slice_is_the_columns_of_its_records_and_its_sums_a_part_of_the_whole():
    records, rows = _run(7)
    cols = _columns(records, rows)
    whole = HistogramSums(cols)
    totals = whole.row_totals()  # summed before slicing: the slice takes its part
    kept = whole.slice(30, 90)
    part = kept.columns
    assert np.shares_memory(kept.row_totals(), totals)
    expected = interval_columns(records[30:90], 1.0, need_hist=True)
    assert len(part) == 60
    np.testing.assert_array_equal(part.hist_row_totals, totals[30:90])
    np.testing.assert_array_equal(part.counts, expected.counts)
    np.testing.assert_array_equal(part.hist.toarray(), cols.hist.toarray()[30:90])
    assert estimates(part, ("p95", "mean")) == estimates(records[30:90], ("p95", "mean"))


def test_columns_without_what_a_metric_needs_are_refused():
    records, rows = _run(8, seconds=20)
    without = interval_columns(records, 1.0, need_hist=False)
    with pytest.raises(ValueError, match="percentiles need the histograms"):
        as_columns(without, 1.0, need_hist=True)
    with pytest.raises(ValueError, match="no intervals"):
        as_columns(without.slice(0, 0), 1.0, need_hist=False)
    counters = np.zeros((5, 5))
    with pytest.raises(ValueError, match="one histogram row per interval: 20 rows, 5 intervals"):
        columns_from_rows(*counters.T, rows=rows, interval_s=1.0)
    with pytest.raises(ValueError, match="interval_s must be > 0"):
        columns_from_rows(*np.zeros((20, 5)).T, rows=rows, interval_s=0.0)
