"""Custom metrics in the timeline: one metric and dimension set in one second (``met`` lines).

A custom metric is something a load test measures besides its requests: the server's own
processing time from a header, a detector's score, a batch's size, a queue depth polled
from the service. Each has a hierarchical name (``detector.queue.depth``), an explicit
unit, a kind, and dimensions (``model="fast"``); a load generator records it per second
and dimension set, the master merges the workers' records exactly as it merges request
latencies, and the timeline keeps one ``met`` line per second, name and dimension set
(format version 4, ``docs/timeline.md``).

Kinds, and what a record holds:

* ``counter`` and ``meter``: ``count`` adds and their exact ``sum`` (a meter is a counter
  reported as a rate of events per second);
* ``histogram`` and ``timer``: ``count`` values, their exact ``sum`` and ``sumsq``, ``min``,
  ``max`` and an HdrHistogram of the values in thousandths of the unit (the timeline's
  latency layout: 0.001 to 3,600,000 of the unit, 3 significant digits; larger values are
  counted in the top bucket while ``sum`` keeps them exactly). A timer is a histogram whose
  unit is a time (``ms`` by default), so a ``ms`` timer's histogram is in microseconds,
  exactly like a request latency's;
* ``gauge``: ``count`` sets, their ``sum``, ``min``, ``max``, and the ``last`` value with the
  unix time it was set (``last_at``), so merging two load generators' gauges keeps the most
  recent value.

``missing`` counts values a scenario's extraction looked for and did not find (a JSON path
that matched nothing): counted, never fatal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from hdrh.histogram import HdrHistogram

from framework.timeline.codec import new_histogram, one_blob, sum_blobs

__all__ = [
    "HISTOGRAM_KINDS",
    "METRIC_KINDS",
    "METRIC_NAME",
    "METRIC_SCALE",
    "MetricRecord",
    "MetricSecond",
    "metric_key",
]

METRIC_KINDS = ("counter", "gauge", "histogram", "timer", "meter")
"""Every kind a custom metric may have."""
HISTOGRAM_KINDS = frozenset({"histogram", "timer"})
"""Kinds whose records hold a histogram of values."""
METRIC_SCALE = 1000
"""A histogram counts each value times this (thousandths of the unit), as an integer."""
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
"""A metric name: identifiers joined by dots (``detector.queue.depth``)."""

Dims = tuple[tuple[str, str], ...]


class MetricRecord(TypedDict):
    """A ``met`` line (without ``type``) and its form in a worker's report."""

    t: int
    name: str
    kind: str
    unit: str
    dims: dict[str, str]
    count: int
    sum: int | float
    sumsq: NotRequired[int | float]
    min: NotRequired[float]
    max: NotRequired[float]
    hist: NotRequired[str]
    last: NotRequired[float]
    last_at: NotRequired[float]
    missing: NotRequired[int]


def metric_key(name: str, dims: Mapping[str, str] | Dims = ()) -> str:
    """How a metric and dimension set are named in reports, budgets and queries:
    ``detector.score{model=fast,region=eu}`` (dimensions sorted), the bare name without."""
    items = sorted(dims.items() if isinstance(dims, Mapping) else dims)
    if not items:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in items) + "}"


@dataclass(frozen=True)
class MetricSecond:
    """One custom metric's records of one dimension set in one second (or a merged range).

    ``dims`` is sorted by dimension name. The sums are exact (ints stay ints); the
    histograms are kept encoded (``hist_blobs``), one per merged record, and added when
    read or written, like a request record's.
    """

    t: int
    name: str
    kind: str
    unit: str
    dims: Dims = ()
    count: int = 0
    sum: int | float = 0
    sumsq: int | float = 0
    min: float | None = None
    max: float | None = None
    hist_blobs: tuple[str, ...] = ()
    last: float | None = None
    last_at: float | None = None
    missing: int = 0

    @property
    def key(self) -> str:
        """``name{dim=value,...}``: see ``metric_key``."""
        return metric_key(self.name, self.dims)

    @property
    def series(self) -> tuple[str, Dims]:
        """The (name, dimensions) this record belongs to, for grouping seconds."""
        return (self.name, self.dims)

    @property
    def mean(self) -> float | None:
        """Exact mean of the values (histograms, timers) or of the sets (gauges)."""
        return self.sum / self.count if self.count else None

    def histogram(self) -> HdrHistogram:
        """A fresh HdrHistogram of the values in thousandths of the unit (empty for kinds
        without one); decodes on each call."""
        if not self.hist_blobs:
            return new_histogram()
        return sum_blobs(self.hist_blobs).to_hdrhistogram()

    def combine(self, other: MetricSecond) -> MetricSecond:
        """Add another record of the same metric and dimensions; keeps this one's ``t``.

        Counters and sums add exactly, histograms merge, ``min``/``max`` widen, and a
        gauge's ``last`` is the one set most recently (ties: ``other``'s).
        """
        last, last_at = self.last, self.last_at
        if other.last_at is not None and (last_at is None or other.last_at >= last_at):
            last, last_at = other.last, other.last_at
        return MetricSecond(
            t=self.t,
            name=self.name,
            kind=self.kind,
            unit=self.unit,
            dims=self.dims,
            count=self.count + other.count,
            sum=self.sum + other.sum,
            sumsq=self.sumsq + other.sumsq,
            min=_extreme(min, self.min, other.min),
            max=_extreme(max, self.max, other.max),
            hist_blobs=self.hist_blobs + other.hist_blobs,
            last=last,
            last_at=last_at,
            missing=self.missing + other.missing,
        )

    def to_record(self) -> MetricRecord:
        """The line/wire form: only the fields its kind uses, histograms merged to one."""
        record = MetricRecord(
            t=self.t,
            name=self.name,
            kind=self.kind,
            unit=self.unit,
            dims=dict(self.dims),
            count=self.count,
            sum=self.sum,
        )
        if self.kind in HISTOGRAM_KINDS:
            record["sumsq"] = self.sumsq
            record["hist"] = one_blob(self.hist_blobs)
        if self.min is not None:
            record["min"] = self.min
        if self.max is not None:
            record["max"] = self.max
        if self.last is not None:
            record["last"] = self.last
            record["last_at"] = self.last_at if self.last_at is not None else float(self.t)
        if self.missing:
            record["missing"] = self.missing
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MetricSecond:
        """A record from its line/wire form (``KeyError``/``ValueError``/``TypeError`` when
        a field is missing or of the wrong type; the reader counts such a line as damaged)."""
        kind = str(record["kind"])
        if kind not in METRIC_KINDS:
            raise ValueError(f"unknown metric kind {kind!r}")
        name = str(record["name"])
        if not METRIC_NAME.fullmatch(name):
            raise ValueError(f"metric name {name!r} is not an identifier path")
        dims = record.get("dims") or {}
        hist = record.get("hist") or ""
        return cls(
            t=int(record["t"]),
            name=name,
            kind=kind,
            unit=str(record["unit"]),
            dims=tuple(sorted((str(k), str(v)) for k, v in dims.items())),
            count=int(record["count"]),
            sum=_number(record.get("sum", 0)),
            sumsq=_number(record.get("sumsq", 0)),
            min=_optional_float(record.get("min")),
            max=_optional_float(record.get("max")),
            hist_blobs=(hist,) if hist else (),
            last=_optional_float(record.get("last")),
            last_at=_optional_float(record.get("last_at")),
            missing=int(record.get("missing", 0)),
        )


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return pick(a, b)


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(_number(value))
