"""Running statistics of a live run, per request name and for all requests together.

Every live view reads its figures here, so the terminal, the web UI tab, the sinks and the
abort guards never disagree (design contract 7). Two kinds of figure:

- ``snapshot``: point figures (count, rps, error rate, mean, p50/p95/p99, max) of the whole
  run so far or of the last ``window_s`` seconds. Cheap: sums of counters and histograms.
- ``estimates``: the same metrics with confidence intervals from :mod:`framework.stats`
  (batch means over time), as the report computes them. Dearer: callers ask every few
  seconds, not every request.

Memory stays bounded in a long run: the run so far is kept as at most ``max_rows`` rows
per name; when they fill up, neighbouring rows are added together (an interval of 2 s,
then 4 s, …), which batch means tolerate because they only ever add intervals up.
Seconds are fed in order; a second that came in paused is left out (``add_second``'s
``counted=False``), so paused time is in no statistic.

Open-model arrivals (due, started, dropped, schedule lag, in flight) are kept per load group
in ``arrivals`` (:class:`framework.live.arrivals.ArrivalStatistics`), from the same seconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from framework.live.arrivals import ArrivalStatistics
from framework.stats.estimators import Estimate, estimates
from framework.stats.interval_data import IntervalColumns, columns_from_rows
from framework.timeline.codec import LAYOUT, decode_buckets
from framework.timeline.endpoints import AGGREGATED, is_aggregate
from framework.timeline.histograms import BucketRows, SparseHistogram, percentiles_us
from framework.timeline.recorder import is_timeout
from framework.timeline.records import ArrivalSecond, RequestSecond, Second

__all__ = ["ALL", "LiveStatistics", "Snapshot"]

ALL = AGGREGATED
"""The key of all requests together, as Locust names its aggregated row."""

_COUNTERS = ("count", "failures", "timeouts", "latency_count", "sum_us", "sumsq_us", "bytes")
_LEVELS = (50.0, 95.0, 99.0, 100.0)


@dataclass(frozen=True)
class Snapshot:
    """Point figures of one name over ``seconds`` counted seconds (no intervals).

    Latency figures are of successful requests (design contract 6) and ``None`` when none
    succeeded; ``error_rate`` is ``None`` when nothing was sent.
    """

    key: str
    seconds: int
    count: int
    failures: int
    timeouts: int
    bytes: int
    rps: float
    error_rate: float | None
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class _Row:
    """One interval of one name: its counters and its latency histogram's non-empty buckets
    (sparse: a dense row of this layout would be 188 KB)."""

    __slots__ = ("counters", "counts", "index")

    def __init__(self, counters: np.ndarray, index: np.ndarray, counts: np.ndarray) -> None:
        self.counters = counters
        self.index = index
        self.counts = counts

    def plus(self, other: _Row) -> _Row:
        index, where = np.unique(np.concatenate([self.index, other.index]), return_inverse=True)
        counts = np.zeros(index.size, np.int64)
        np.add.at(counts, where, np.concatenate([self.counts, other.counts]))
        return _Row(self.counters + other.counters, index, counts)


def _empty_row() -> _Row:
    return _Row(np.zeros(len(_COUNTERS)), np.zeros(0, np.int64), np.zeros(0, np.int64))


class _Totals:
    """Rows added up, densely: one per name, for the run-so-far figures."""

    def __init__(self) -> None:
        self.counters = np.zeros(len(_COUNTERS))
        self.dense = np.zeros(LAYOUT.counts_len, np.int64)

    def add(self, row: _Row) -> None:
        self.counters += row.counters
        self.dense[row.index] += row.counts


class _Series:
    """The rows of one name: the last ``recent_s`` seconds apart, and the whole run."""

    def __init__(self, recent_s: int, max_rows: int) -> None:
        self.recent: deque[_Row] = deque(maxlen=recent_s)
        self.rows: list[_Row] = []
        self.row_s = 1  # seconds per row in ``rows``
        self.filling = 0  # seconds already in the last row
        self.max_rows = max_rows
        self.total = _Totals()
        self.seconds = 0

    def add(self, row: _Row) -> None:
        self.seconds += 1
        self.total.add(row)
        self.recent.append(row)
        if self.rows and self.filling < self.row_s:
            self.rows[-1] = self.rows[-1].plus(row)
            self.filling += 1
        else:
            self.rows.append(row)
            self.filling = 1
        if len(self.rows) > self.max_rows:
            self._coarsen()

    def _coarsen(self) -> None:
        """Add neighbouring rows together: half the rows, twice the interval."""
        rows = self.rows
        merged = [rows[i].plus(rows[i + 1]) for i in range(0, len(rows) - 1, 2)]
        if len(rows) % 2:
            merged.append(rows[-1])  # a row of row_s seconds at most: it keeps filling
        else:
            self.filling += self.row_s  # the last pair is the new, part-filled last row
        self.rows = merged
        self.row_s *= 2


def _row_of(records: Iterable[RequestSecond]) -> _Row:
    """The records of one second (one name, or all) added into one row."""
    counters = np.zeros(len(_COUNTERS))
    blobs: list[str] = []
    for record in records:
        timeouts = sum(n for kind, n in record.failures.items() if is_timeout(kind))
        counters += (
            record.count,
            record.failure_count,
            timeouts,
            record.latency_count,
            record.sum_us,
            record.sumsq_us,
            record.bytes,
        )
        blobs.extend(b for b in record.hist_blobs if b)
    if not blobs:
        return _Row(counters, np.zeros(0, np.int64), np.zeros(0, np.int64))
    _indptr, index, counts = decode_buckets(blobs)
    row = _Row(counters, np.zeros(0, np.int64), np.zeros(0, np.int64))
    return row.plus(_Row(np.zeros(len(_COUNTERS)), index.astype(np.int64), counts))


class LiveStatistics:
    """Per-name and overall figures of the seconds fed so far (see the module docstring)."""

    def __init__(self, *, recent_s: int = 30, max_rows: int = 600) -> None:
        if recent_s < 1 or max_rows < 20:
            raise ValueError("recent_s must be ≥ 1 and max_rows ≥ 20")
        self.recent_s = recent_s
        self.max_rows = max_rows
        self._series: dict[str, _Series] = {}
        self._endpoints: dict[str, tuple[str, str]] = {}
        self._estimated: dict[tuple[str, tuple[str, ...], float, int], Mapping[str, Estimate]] = {}
        self.seconds = 0
        self.last_t: int | None = None
        self.arrivals = ArrivalStatistics(recent_s=recent_s)

    def add_second(self, second: Second, *, counted: bool = True) -> None:
        """Take one closed second; ``counted=False`` (paused) leaves it out of every figure."""
        self.last_t = second.t
        self.arrivals.add_second(second, counted=counted)
        if not counted:
            return
        self.seconds += 1
        self._estimated.clear()
        by_key: dict[str, list[RequestSecond]] = {}
        for record in second.requests:
            by_key.setdefault(record.key, []).append(record)
            self._endpoints.setdefault(record.key, (record.method, record.name))
        rows = {key: _row_of(records) for key, records in by_key.items()}
        overall = _empty_row()
        for key, row in rows.items():
            if not is_aggregate(self._endpoints[key]):  # a TXN would count its requests twice
                overall = overall.plus(row)
        rows[ALL] = overall
        for key, series in self._series.items():
            if key not in rows:
                series.add(_empty_row())  # a second without requests is time too
        for key, row in rows.items():
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(self.recent_s, self.max_rows)
                for _ in range(self.seconds - 1):  # the name appears now: earlier seconds
                    series.add(_empty_row())
            series.add(row)

    def add_late_arrival(self, record: ArrivalSecond) -> None:
        """Arrivals due in a second already taken (they started after it closed): added
        into that second's figures. The caller leaves out those of a paused second."""
        self.arrivals.add_late(record)

    def keys(self) -> list[str]:
        """Request keys seen so far (``"GET /x"``), sorted, without ``ALL``."""
        return sorted(k for k in self._series if k != ALL)

    def endpoints(self) -> dict[str, tuple[str, str]]:
        """Each key seen so far → its ``(method, name)``."""
        return dict(self._endpoints)

    def snapshot(self, key: str = ALL, *, window_s: int | None = None) -> Snapshot:
        """Point figures of ``key`` over the whole run, or the last ``window_s`` seconds
        (at most ``recent_s``)."""
        series = self._series.get(key)
        summed = _Totals()
        if series is None:
            return _snapshot(key, 0, summed)
        if window_s is None:
            return _snapshot(key, series.seconds, series.total)
        rows = list(series.recent)[-window_s:] if window_s > 0 else []
        for row in rows:
            summed.add(row)
        return _snapshot(key, len(rows), summed)

    def estimates(
        self,
        key: str = ALL,
        metrics: Iterable[str] = ("mean", "p50", "p95", "p99", "throughput", "error_rate"),
        *,
        confidence: float = 0.95,
        min_seconds: int = 20,
    ) -> Mapping[str, Estimate]:
        """The run so far's estimates with intervals; empty until ``min_seconds`` are in
        (an interval of fewer seconds would not be honest about autocorrelation). Units are
        :mod:`framework.stats`'s: latencies in µs, throughput per second, rates as fractions.
        Kept until the next counted second: every live view may ask, the work is done once.
        """
        memo = (key, tuple(metrics), confidence, min_seconds)
        if memo not in self._estimated:
            columns = self.columns(key, min_seconds=min_seconds)
            found = (
                {} if columns is None else estimates(columns, list(memo[1]), confidence=confidence)
            )
            self._estimated[memo] = found
        return self._estimated[memo]

    def columns(self, key: str = ALL, *, min_seconds: int = 20) -> IntervalColumns | None:
        """The run so far of ``key`` as per-interval columns (each interval ``row_s`` long),
        as the estimators and the data-quality grade (:func:`framework.stats.quality.assess`)
        take them; ``None`` until ``min_seconds`` are in.

        A part-filled last row is left out: it would weigh less than the others.
        """
        series = self._series.get(key)
        if series is None or series.seconds < min_seconds or len(series.rows) < 10:
            return None
        rows = series.rows
        if series.filling < series.row_s and len(rows) > 10:
            rows = rows[:-1]
        counters = np.array([r.counters for r in rows])
        indptr = np.concatenate([[0], np.cumsum([r.index.size for r in rows])])
        bucket_rows = BucketRows(
            indptr.astype(np.int64),
            np.concatenate([r.index for r in rows]),
            np.concatenate([r.counts for r in rows]),
            LAYOUT,
        )
        return columns_from_rows(
            counters[:, 0],
            counters[:, 1],
            counters[:, 4],
            counters[:, 5],
            counters[:, 2],
            rows=bucket_rows,
            interval_s=float(series.row_s),
            latency_counts=counters[:, 3],
        )


def _snapshot(key: str, seconds: int, row: _Totals) -> Snapshot:
    count, failures, timeouts, latency_n, sum_us, _sumsq, nbytes = row.counters.tolist()
    p50 = p95 = p99 = top = None
    if latency_n > 0:
        index = np.flatnonzero(row.dense)
        values = percentiles_us(SparseHistogram(index, row.dense[index], LAYOUT), _LEVELS)
        p50, p95, p99, top = (None if v is None else v / 1000 for v in values)
    return Snapshot(
        key=key,
        seconds=seconds,
        count=int(count),
        failures=int(failures),
        timeouts=int(timeouts),
        bytes=int(nbytes),
        rps=count / seconds if seconds else 0.0,
        error_rate=failures / count if count else None,
        mean_ms=sum_us / latency_n / 1000 if latency_n else None,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=top,
    )
