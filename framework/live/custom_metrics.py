"""Custom metrics in the live views: each record's figures, and running totals per series.

The master's merged seconds carry the custom metrics (``Second.metrics``: one
``MetricSecond`` per metric and dimension set, merged across the load generators exactly as
request latencies are). Every live view reads them from there (design contract 7): the
InfluxDB sink writes ``second_figures`` of each record, the Prometheus collector and the web
UI tab keep ``MetricTotals`` (one ``SeriesTotals`` per metric and dimension set, added up
second by second) and read their figures.

Figures by kind, in the metric's unit (a histogram counts values times ``METRIC_SCALE``, so
its percentiles are divided back; each is clamped to the exact ``min``/``max``, which a
bucket's highest value may pass by its 0.1 % width):

* ``counter``, ``meter``: ``count`` (records: ``add``/``mark`` calls, values found),
  ``sum`` (the total they added), ``rate`` (``sum`` per second);
* ``histogram``, ``timer``: ``count``, ``sum``, ``mean``, ``min``, ``max``, ``p50``,
  ``p95``, ``p99``;
* ``gauge``: ``count`` (sets), ``last`` (the value set most recently), ``min``, ``max``.

``missing`` (values looked for and not found) is given whenever it is not 0.

    >>> from framework.timeline.metric_records import MetricSecond
    >>> record = MetricSecond(t=100, name="jobs.done", kind="counter", unit="jobs",
    ...     dims=(("queue", "a"),), count=3, sum=7)
    >>> second_figures(record)
    {'count': 3, 'sum': 7.0, 'rate': 7.0}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from framework.timeline.codec import LAYOUT, sum_blobs
from framework.timeline.histograms import SparseHistogram, percentiles_us
from framework.timeline.metric_records import (
    HISTOGRAM_KINDS,
    METRIC_SCALE,
    Dims,
    MetricSecond,
    metric_key,
)
from framework.timeline.records import Second

__all__ = [
    "COUNTER_KINDS",
    "LEVELS",
    "MetricTotals",
    "SeriesTotals",
    "dimension_labels",
    "histogram_percentiles",
    "merged_histogram",
    "second_figures",
]

COUNTER_KINDS = frozenset({"counter", "meter"})
"""Kinds whose records count events (a meter is a counter read as a rate)."""
LEVELS = (50.0, 95.0, 99.0)
"""The percentiles every live view gives of a histogram or timer."""

_EMPTY = SparseHistogram(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), LAYOUT)


def merged_histogram(blobs: Iterable[str]) -> SparseHistogram:
    """The encoded histograms added together (empty for none)."""
    found = [b for b in blobs if b]
    return sum_blobs(found) if found else _EMPTY


def histogram_percentiles(
    histogram: SparseHistogram,
    levels: Sequence[float] = LEVELS,
    *,
    low: float | None = None,
    high: float | None = None,
) -> list[float | None]:
    """Each percentile of a metric's histogram in the metric's unit, clamped to the exact
    ``low``/``high`` when given; ``None`` for an empty histogram."""
    out: list[float | None] = []
    for value in percentiles_us(histogram, levels):
        if value is not None:
            value = value / METRIC_SCALE
            if high is not None:
                value = min(value, high)
            if low is not None:
                value = max(value, low)
        out.append(value)
    return out


def second_figures(record: MetricSecond) -> dict[str, int | float]:
    """One record's figures by its kind (see the module doc): what the InfluxDB point of a
    metric in one second holds. Counts are ints, every other figure a float."""
    figures: dict[str, int | float] = {"count": int(record.count)}
    if record.kind in COUNTER_KINDS:
        figures["sum"] = float(record.sum)
        figures["rate"] = float(record.sum)  # one second
    elif record.kind in HISTOGRAM_KINDS:
        if record.count:
            figures["sum"] = float(record.sum)
            figures["mean"] = float(record.sum) / record.count
        if record.min is not None:
            figures["min"] = float(record.min)
        if record.max is not None:
            figures["max"] = float(record.max)
        if record.count and record.hist_blobs:
            found = histogram_percentiles(
                merged_histogram(record.hist_blobs), low=record.min, high=record.max
            )
            for level, value in zip(LEVELS, found, strict=True):
                if value is not None:
                    figures[f"p{level:g}"] = value
    else:
        if record.last is not None:
            figures["last"] = float(record.last)
        if record.min is not None:
            figures["min"] = float(record.min)
        if record.max is not None:
            figures["max"] = float(record.max)
    if record.missing:
        figures["missing"] = int(record.missing)
    return figures


def dimension_labels(dims: Dims, reserved: Iterable[str]) -> list[tuple[str, str]]:
    """A record's dimensions as tags or labels beside a view's own (``reserved``): a
    dimension named like one of them, or starting with ``__`` (reserved by Prometheus), is
    given as ``dim_<name>``.

    >>> dimension_labels((("kind", "x"), ("model", "fast")), ("name", "kind", "unit"))
    [('dim_kind', 'x'), ('model', 'fast')]
    """
    taken = set(reserved)
    return [(f"dim_{k}" if k in taken or k.startswith("__") else k, v) for k, v in dims]


@dataclass
class SeriesTotals:
    """One metric and dimension set added up over the seconds seen: exact sums, the merged
    histogram (sparse: a few hundred numbers, never a full HdrHistogram), the last record,
    and the histograms of the last ``window_s`` seconds (for windowed percentiles)."""

    name: str
    kind: str
    unit: str
    dims: Dims
    window_s: int = 60
    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    last: float | None = None
    last_at: float | None = None
    missing: int = 0
    latest: MetricSecond | None = None
    _index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _recent: deque[tuple[int, SparseHistogram, float | None, float | None]] = field(
        default_factory=deque
    )

    @property
    def key(self) -> str:
        return metric_key(self.name, self.dims)

    def add(self, record: MetricSecond) -> None:
        """Add one second's record of this series."""
        self.count += record.count
        self.sum += record.sum
        self.missing += record.missing
        if record.min is not None:
            self.min = record.min if self.min is None else min(self.min, record.min)
        if record.max is not None:
            self.max = record.max if self.max is None else max(self.max, record.max)
        if record.last_at is not None and (self.last_at is None or record.last_at >= self.last_at):
            self.last, self.last_at = record.last, record.last_at
        self.latest = record
        if record.kind in HISTOGRAM_KINDS and record.hist_blobs:
            hist = merged_histogram(record.hist_blobs)
            if hist.total:
                self._merge(hist)
                self._recent.append((record.t, hist, record.min, record.max))
        while self._recent and self._recent[0][0] <= record.t - self.window_s:
            self._recent.popleft()

    def _merge(self, hist: SparseHistogram) -> None:
        index = np.concatenate([self._index, hist.index.astype(np.int64)])
        counts = np.concatenate([self._counts, hist.counts_nonzero.astype(np.int64)])
        summed = np.bincount(index, weights=counts).astype(np.int64)
        self._index = np.flatnonzero(summed)
        self._counts = summed[self._index]

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def histogram(self) -> SparseHistogram:
        """Every value seen so far."""
        return SparseHistogram(self._index, self._counts, LAYOUT)

    def percentiles(self, levels: Sequence[float] = LEVELS) -> list[float | None]:
        """Percentiles of every value seen so far, in the metric's unit."""
        return histogram_percentiles(self.histogram(), levels, low=self.min, high=self.max)

    def recent_percentiles(
        self, levels: Sequence[float] = LEVELS, now_t: int | None = None
    ) -> list[float | None]:
        """Percentiles of the values of the last ``window_s`` seconds up to ``now_t``
        (default: the last record's second), clamped to their own min and max; ``None``
        while the window holds no value."""
        end = now_t if now_t is not None else (self.latest.t if self.latest else 0)
        parts = [p for p in self._recent if p[0] > end - self.window_s]
        if not parts:
            return [None] * len(levels)
        lows = [p[2] for p in parts if p[2] is not None]
        highs = [p[3] for p in parts if p[3] is not None]
        if len(parts) == 1:
            hist = parts[0][1]
        else:
            index = np.concatenate([p[1].index.astype(np.int64) for p in parts])
            counts = np.concatenate([p[1].counts_nonzero.astype(np.int64) for p in parts])
            summed = np.bincount(index, weights=counts).astype(np.int64)
            nonzero = np.flatnonzero(summed)
            hist = SparseHistogram(nonzero, summed[nonzero], LAYOUT)
        return histogram_percentiles(
            hist, levels, low=min(lows) if lows else None, high=max(highs) if highs else None
        )


class MetricTotals:
    """Every series' ``SeriesTotals``, added one closed second at a time.

    ``seconds`` counts the seconds added (with or without custom metrics in them): a
    counter's run-so-far rate is its total over them.
    """

    def __init__(self, *, window_s: int = 60) -> None:
        self.window_s = window_s
        self.series: dict[tuple[str, Dims], SeriesTotals] = {}
        self.seconds = 0
        self.last_t: int | None = None

    def __len__(self) -> int:
        return len(self.series)

    def add_second(self, second: Second) -> None:
        """Add every custom-metric record of one closed second."""
        self.seconds += 1
        self.last_t = second.t
        for record in second.metrics:
            self.add(record)

    def add(self, record: MetricSecond) -> None:
        """Add one record (a second's, or a late one for a second already added)."""
        found = self.series.get(record.series)
        if found is None:
            found = self.series[record.series] = SeriesTotals(
                name=record.name,
                kind=record.kind,
                unit=record.unit,
                dims=record.dims,
                window_s=self.window_s,
            )
        found.add(record)

    def sorted(self) -> list[SeriesTotals]:
        """Every series, by name then dimensions."""
        return [self.series[k] for k in sorted(self.series)]
