"""HistogramSums: the histogram sums that a window's estimates share are taken once, kept in
the object the caller passes, and never on the frozen columns themselves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import framework.stats.interval_data as interval_data
from framework.stats.estimators import DEFAULT_BATCHES, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import IntervalColumns, RowRanges, interval_columns
from framework.stats.quality import assess
from tests.literals import interval


def _columns(seconds: int = 90, seed: int = 0) -> IntervalColumns:
    rng = np.random.default_rng(seed)
    records = [
        interval(np.rint(rng.lognormal(10, 0.4, int(rng.poisson(40)))), failures=t % 7 == 0)
        for t in range(seconds)
    ]
    return interval_columns(records, 1.0, need_hist=True)


@pytest.fixture
def passes(monkeypatch):
    """How many passes over the matrix's entries each kind of sum made."""
    made = {"rows": 0, "buckets": 0}

    def counted(name, kind):
        original = getattr(interval_data, name)

        def wrapper(*args, **kwargs):
            made[kind] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(interval_data, name, wrapper)

    counted("_row_sums", "rows")
    counted("_bucket_sums", "buckets")
    return made


def test_each_sum_is_taken_once_and_equals_the_columns_own(passes):
    cols = _columns()
    sums = HistogramSums(cols)
    ranges = RowRanges(np.array([0, 30, 60]))
    for _ in range(2):
        np.testing.assert_array_equal(sums.row_totals(), cols.hist_row_totals)
        np.testing.assert_array_equal(sums.bucket_totals(), cols.hist_bucket_totals)
        np.testing.assert_array_equal(sums.rows_at_or_below(40), cols.rows_at_or_below(40))
        np.testing.assert_array_equal(sums.sums(ranges), cols.hist_sums(ranges))
        assert (sums.bucket_columns(3, 9) != cols.hist_columns(3, 9)).nnz == 0
    assert sums.sums(RowRanges(np.array([0, 30, 60]))) is sums.sums(ranges)
    assert sums.bucket_columns(3, 9) is sums.bucket_columns(3, 9)
    # `sums` took each once; the columns' own are computed on every call (twice)
    once = {"rows": 1 + 1, "buckets": 1 + len(ranges.starts)}
    assert passes == {kind: 3 * n for kind, n in once.items()}


def test_given_batches_the_whole_histogram_is_the_batch_histograms_added_up(passes):
    cols = _columns()
    sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    whole = sums.bucket_totals()
    assert passes["buckets"] == DEFAULT_BATCHES  # one per batch, none for the whole
    sums.sums(RowRanges.even(len(cols), DEFAULT_BATCHES))
    assert passes["buckets"] == DEFAULT_BATCHES  # and batch means finds them kept
    np.testing.assert_array_equal(whole, HistogramSums(cols).bucket_totals())


def test_percentiles_estimated_together_share_one_set_of_sums(passes):
    cols = _columns()
    sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    found = estimates(cols, ("p50", "p95", "p99"), method="batch_means", sums=sums)
    rows_at_or_below = len({est.value for est in found.values()})
    assert passes == {"rows": 1 + rows_at_or_below, "buckets": DEFAULT_BATCHES}
    assert found == estimates(cols, ("p50", "p95", "p99"), method="batch_means")


def test_assess_reads_the_sums_the_estimates_took(monkeypatch):
    cols = _columns()
    taken = []
    row_totals = IntervalColumns.hist_row_totals
    counted = property(lambda c: taken.append(len(c)) or row_totals.fget(c))
    monkeypatch.setattr(IntervalColumns, "hist_row_totals", counted)
    sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    found = estimates(cols, ("mean", "p95", "p99"), sums=sums)
    quality = assess(cols, computed=found, sums=sums)
    # the window's per-interval totals, once: its thirds take their part of them
    assert taken == [len(cols)]
    assert quality == assess(cols, computed=found)


def test_estimating_leaves_the_columns_as_they_were():
    cols = _columns()
    before = dict(vars(cols))
    sums = HistogramSums(cols, batches=DEFAULT_BATCHES)
    found = estimates(cols, ("mean", "p95", "p99"), sums=sums)
    assess(cols, computed=found, sums=sums)
    estimates(cols, ("p95",), method="block_bootstrap", replicates=99)
    fields = {f.name for f in dataclasses.fields(IntervalColumns)}
    assert set(vars(cols)) == fields
    assert all(vars(cols)[name] is value for name, value in before.items())


def test_a_slice_takes_its_per_interval_totals_from_the_whole():
    cols = _columns()
    whole = HistogramSums(cols)
    part = whole.slice(30, 60, batches=10)
    np.testing.assert_array_equal(part.row_totals(), cols.slice(30, 60).hist_row_totals)
    assert np.shares_memory(part.row_totals(), whole.row_totals())
    assert len(part.columns) == 30 and part.batches is not None
    assert part.batches.starts.tolist() == list(range(0, 30, 3))


def test_sums_of_other_columns_are_refused():
    cols, other = _columns(seed=1), _columns(seed=2)
    with pytest.raises(ValueError, match="these very columns"):
        estimates(cols, ("p95",), sums=HistogramSums(other))
    with pytest.raises(ValueError, match="these very columns"):
        assess(cols, sums=HistogramSums(other))
