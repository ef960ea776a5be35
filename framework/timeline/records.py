"""The run timeline: the on-disk, append-only record of every request, second by second.

Contract 2 of the design: every report, baseline and comparison is computed from this
file, so it is written as the run goes (a crash loses at most the last few seconds) and
read back with no Locust in sight. This module holds the records and the read
``Timeline``; ``framework.timeline.writer`` writes the file, ``framework.timeline.reader``
reads it, ``framework.timeline.codec`` encodes and decodes its histograms. The format is
specified in ``docs/timeline.md``; in short, one JSON object per line::

    {"type": "header", "format": "swarm-timeline", "version": 1, ...}
    {"type": "req", "t": 1700000000, "method": "POST", "name": "/detect", "count": 98, ...}
    {"type": "sec", "t": 1700000000, "users": 10, "workers": 2}
    {"type": "late", "t": 1699999999, ...}          # correction: data that came after its second
    {"type": "end", "t_s": 1700000060.2, "reason": "quit", ...}

Latency histograms are HdrHistograms in microseconds with 3 significant digits (any
recorded value is off by at most 1/1024 of itself), serialised with HdrHistogram's
compressed V2 encoding, base64. They are decoded only when asked for, because one
decoded histogram of this range costs ~185 KB and a one-hour run holds tens of thousands.

Example, writing a synthetic timeline and reading it back::

    >>> import pathlib, tempfile
    >>> from framework.timeline.reader import read_timeline
    >>> from framework.timeline.writer import TimelineWriter
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "timeline.jsonl"
    >>> with TimelineWriter(path, created_s=100.0) as writer:
    ...     r = RequestSecond.from_latencies(100, "GET", "/ok", [1.0, 2.0, 3.0])
    ...     writer.write_second(Second(t=100, users=1, workers=1, requests=(r,)))
    >>> tl = read_timeline(path)
    >>> tl.total("GET /ok").count, tl.merged_histogram("/ok").get_value_at_percentile(50)
    (3, 2000)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np
from hdrh.histogram import HdrHistogram

from framework.timeline.codec import (
    HISTOGRAM_HIGHEST_US,
    HISTOGRAM_LOWEST_US,
    HISTOGRAM_SIGNIFICANT_DIGITS,
    LAYOUT,
    decode_buckets,
    decode_histogram,
    encode_histogram,
    merged_rows,
    new_histogram,
    rows_from_blobs,
    sum_blobs,
)
from framework.timeline.endpoints import AGGREGATED, endpoint_key, selects, split_endpoint_key
from framework.timeline.histograms import BucketRows

__all__ = [
    "FILE_NAME",
    "FORMAT",
    "HISTOGRAM_HIGHEST_US",
    "HISTOGRAM_LOWEST_US",
    "HISTOGRAM_SIGNIFICANT_DIGITS",
    "LAYOUT",
    "VERSION",
    "DamagedLine",
    "DecodedEndpoint",
    "RequestRecord",
    "RequestSecond",
    "Second",
    "SecondCounters",
    "Timeline",
    "decode_buckets",
    "decode_histogram",
    "encode_histogram",
    "latency_us",
    "new_histogram",
]


class RequestRecord(TypedDict):
    """One endpoint's requests in one second: the wire payload and the ``req`` line.

    Workers send these to the master inside Locust's report (so it must stay msgpack-able:
    only str, int, float, dict, list), and the master writes them with ``"type": "req"``.
    """

    t: int  # unix second in which the requests completed (the worker's clock)
    method: str  # Locust's request_type, e.g. "POST"
    name: str  # Locust's name, e.g. "/detect"
    count: int  # requests, failed ones included (Locust's "Request Count")
    failures: dict[str, int]  # failure kind -> count; sums to Locust's "Failure Count"
    bytes: int  # sum of response_length
    sum_us: int  # exact sum of latencies, microseconds
    sumsq_us: int | float  # exact sum of squared latencies (float only past 2**63)
    hist: str  # HdrHistogram V2, compressed, base64 ("" when count == 0)
    type: NotRequired[str]  # "req" or "late" on disk; absent on the wire


@dataclass(frozen=True)
class RequestSecond:
    """The requests of one endpoint in one second (or, from ``Timeline.total``, a range).

    ``sum_us`` and ``sumsq_us`` are exact, so mean and variance are too; the histogram is
    for percentiles (its own mean uses bucket midpoints). ``hist_blobs`` keeps the encoded
    histograms undecoded; ``histogram`` decodes and adds them on every access.
    """

    t: int
    method: str
    name: str
    count: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)
    bytes: int = 0
    sum_us: int = 0
    sumsq_us: int | float = 0
    hist_blobs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Locust's way to name an endpoint: ``"POST /detect"`` (just the name if no method)."""
        return endpoint_key(self.method, self.name)

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())

    @property
    def mean_us(self) -> float | None:
        """Exact mean latency in microseconds; ``None`` without requests."""
        return self.sum_us / self.count if self.count else None

    @property
    def variance_us2(self) -> float | None:
        """Exact sample variance (n - 1 denominator) in µs²; ``None`` below two requests."""
        if self.count < 2:
            return None
        return max(0.0, (self.sumsq_us - self.sum_us * self.sum_us / self.count) / (self.count - 1))

    @property
    def histogram(self) -> HdrHistogram:
        """A fresh HdrHistogram (µs) holding every latency here; decodes each time it is read."""
        if not self.hist_blobs:
            return new_histogram()
        return sum_blobs(self.hist_blobs).to_hdrhistogram()

    def combine(self, other: RequestSecond) -> RequestSecond:
        """Add another record's counters and histograms to these; keeps this record's ``t``."""
        failures = dict(self.failures)
        for kind, n in other.failures.items():
            failures[kind] = failures.get(kind, 0) + n
        return RequestSecond(
            t=self.t,
            method=self.method,
            name=self.name,
            count=self.count + other.count,
            failures=failures,
            bytes=self.bytes + other.bytes,
            sum_us=self.sum_us + other.sum_us,
            sumsq_us=self.sumsq_us + other.sumsq_us,
            hist_blobs=self.hist_blobs + other.hist_blobs,
        )

    def to_record(self) -> RequestRecord:
        """The line/wire form; several histograms are merged into one blob first."""
        if len(self.hist_blobs) == 1:
            hist = self.hist_blobs[0]
        elif self.hist_blobs:
            hist = encode_histogram(self.histogram, release=True)
        else:
            hist = ""
        return RequestRecord(
            t=self.t,
            method=self.method,
            name=self.name,
            count=self.count,
            failures=dict(self.failures),
            bytes=self.bytes,
            sum_us=self.sum_us,
            sumsq_us=self.sumsq_us,
            hist=hist,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RequestSecond:
        hist = record.get("hist") or ""
        failures = record.get("failures") or {}
        fields = {
            "t": int(record["t"]),
            "method": str(record["method"]),
            "name": str(record["name"]),
            "count": int(record["count"]),
            "failures": {str(k): int(v) for k, v in failures.items()} if failures else {},
            "bytes": int(record.get("bytes", 0)),
            "sum_us": int(record.get("sum_us", 0)),
            "sumsq_us": record.get("sumsq_us", 0),
            "hist_blobs": (hist,) if hist else (),
        }
        # Set the fields directly: a frozen dataclass's __init__ goes through
        # object.__setattr__ field by field, half the cost of reading an hour's ~100k lines.
        found = object.__new__(cls)
        found.__dict__.update(fields)
        return found

    @classmethod
    def from_latencies(
        cls,
        t: int,
        method: str,
        name: str,
        latencies_ms: Iterable[float],
        *,
        failures: Mapping[str, int] | None = None,
        bytes: int = 0,
    ) -> RequestSecond:
        """Build a record from raw latencies, for synthetic timelines in tests and benchmarks.

        ``failures`` counts are a subset of the latencies (a failed request has a latency too).
        """
        hist = new_histogram()
        count = sum_us = sumsq_us = 0
        for ms in latencies_ms:
            us = latency_us(ms)
            hist.record_value(min(us, HISTOGRAM_HIGHEST_US))
            count += 1
            sum_us += us
            sumsq_us += us * us
        return cls(
            t=t,
            method=method,
            name=name,
            count=count,
            failures=dict(failures or {}),
            bytes=bytes,
            sum_us=sum_us,
            sumsq_us=sumsq_us,
            hist_blobs=(encode_histogram(hist, release=True),) if count else (),
        )


@dataclass(frozen=True)
class SecondCounters:
    """The exact counters of a selection of records, one row per second of a range (seconds
    without requests included): what throughput, error rates and batch means read, as
    arrays instead of a record object per second.
    """

    t: np.ndarray  # unix seconds
    count: np.ndarray
    failures: np.ndarray
    bytes: np.ndarray
    sum_us: np.ndarray  # float64: exact below 2**53 µs
    sumsq_us: np.ndarray  # float64
    failures_by_kind: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.t)


_COUNTERS = ("count", "failures", "bytes", "sum_us", "sumsq_us")


@dataclass(frozen=True)
class Second:
    """One closed second of the run: every endpoint's requests, plus the load applied.

    ``users`` is the user count sampled during that second (carried forward from the
    previous sample when none fell in it); ``workers`` the live load generators (1 when
    local). Both are ``None`` for a second whose ``sec`` line was never written (crash).
    ``cpu_percent`` is the busiest load generator's CPU use (Locust's own sample), for the
    load-generator health check; ``None`` when not sampled.
    """

    t: int
    users: int | None = None
    workers: int | None = None
    requests: tuple[RequestSecond, ...] = ()
    cpu_percent: float | None = None

    def get(self, name: str) -> RequestSecond | None:
        """The record for ``"METHOD name"`` (or a bare name, if only one method uses it)."""
        found = [r for r in self.requests if r.key == name]
        found = found or [r for r in self.requests if r.name == name]
        return found[0] if len(found) == 1 else None

    @property
    def count(self) -> int:
        return sum(r.count for r in self.requests)

    @property
    def failure_count(self) -> int:
        return sum(r.failure_count for r in self.requests)


@dataclass(frozen=True)
class DamagedLine:
    """A timeline line the reader skipped: its 1-based number and what was wrong with it."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class DecodedEndpoint:
    """One endpoint's histograms as the reader decoded them to check them: the second of
    each blob (ascending, one blob per second) and ``decode_buckets(blobs)``."""

    times: Sequence[int]
    blobs: Sequence[str]
    buckets: tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Timeline:
    """A read timeline: closed seconds in time order, plus what the reader noticed.

    ``complete`` is true when the ``end`` line was found (the run shut down cleanly);
    ``truncated`` when the last line was cut off (a crash mid-write), which is tolerated.
    ``late_records`` counts correction lines (data that arrived after its second was
    written); they are already added into ``seconds``. ``damaged_records`` counts lines
    skipped as damaged (not JSON, a field missing, of the wrong type or out of range, a
    histogram that does not decode or disagrees with its count); ``damaged`` keeps the
    first few of them with their reasons. Nothing of a damaged line is in ``seconds``.
    """

    path: Path | None
    header: Mapping[str, Any]
    seconds: tuple[Second, ...]
    complete: bool = False
    truncated: bool = False
    late_records: int = 0
    end: Mapping[str, Any] | None = None
    damaged_records: int = 0
    damaged: tuple[DamagedLine, ...] = ()

    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """What the fast readers derive once: an index of records by endpoint, the whole run's
    merged per-second histograms. Derived from ``seconds`` alone, which never change."""

    def keep_decoded(self, decoded: Mapping[tuple[str, str], DecodedEndpoint]) -> None:
        """Keep histograms the reader decoded already as those endpoints' bucket rows.

        They are exactly what ``buckets`` would decode for the whole run, so reading the
        file to check it costs no second decoding later.
        """
        if not decoded:
            return
        times = self._second_times()
        kept = self._memo.setdefault("endpoint_rows", {})
        for endpoint, found in decoded.items():
            rows = np.searchsorted(times, np.asarray(found.times, dtype=np.int64))
            kept[endpoint] = rows_from_blobs(
                rows, found.blobs, len(self.seconds), narrow=True, decoded=found.buckets
            )

    def _rows_of(self, start_s: int | None, end_s: int | None) -> tuple[int, int]:
        """Positions of the seconds in ``[start_s, end_s)`` (seconds are in time order)."""
        first = 0 if start_s is None else _bisect(self.seconds, start_s)
        last = len(self.seconds) if end_s is None else _bisect(self.seconds, end_s)
        return first, max(first, last)

    def _range(self, start_s: int | None, end_s: int | None) -> tuple[Second, ...]:
        first, last = self._rows_of(start_s, end_s)
        return self.seconds[first:last]

    def _by_endpoint(self) -> dict[tuple[str, str], tuple[np.ndarray, list[RequestSecond]]]:
        """Each endpoint's records with the position of their second, built once."""
        if "by_endpoint" not in self._memo:
            rows: dict[tuple[str, str], list[int]] = {}
            records: dict[tuple[str, str], list[RequestSecond]] = {}
            for row, second in enumerate(self.seconds):
                for r in second.requests:
                    endpoint = (r.method, r.name)
                    rows.setdefault(endpoint, []).append(row)
                    records.setdefault(endpoint, []).append(r)
            self._memo["by_endpoint"] = {
                e: (np.array(rows[e], dtype=np.int64), records[e]) for e in sorted(rows)
            }
        return self._memo["by_endpoint"]

    def _one_endpoint(self, name: str | None) -> tuple[str, str] | None:
        """The endpoint ``name`` selects, if it selects exactly one; else ``None``."""
        if name is None:
            return None
        found = [(m, n) for m, n in self._by_endpoint() if selects(name, m, n)]
        return found[0] if len(found) == 1 else None

    @property
    def start_s(self) -> int | None:
        return self.seconds[0].t if self.seconds else None

    @property
    def end_s(self) -> int | None:
        """One past the last second (so ``end_s - start_s`` is the span in seconds)."""
        return self.seconds[-1].t + 1 if self.seconds else None

    def endpoint(self, key: str) -> tuple[str, str]:
        """The ``(method, name)`` of a key such as ``"POST /detect"`` (a bare name: no method)."""
        return split_endpoint_key(key, self.endpoints())

    def names(self) -> list[str]:
        """Every endpoint key seen (``"POST /detect"``), sorted."""
        return sorted({endpoint_key(m, n) for m, n in self._by_endpoint()})

    def _method_and_name(self, name: str | None) -> tuple[str, str]:
        """The ``(method, name)`` a selection is labelled with: ``AGGREGATED`` for all."""
        return ("", AGGREGATED) if name is None else split_endpoint_key(name, self.endpoints())

    def endpoints(self) -> list[tuple[str, str]]:
        """Every ``(method, name)`` seen, sorted."""
        return list(self._by_endpoint())

    def select(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> Iterator[RequestSecond]:
        """Records of ``name`` (a key, or a bare name matching every method) in
        ``[start_s, end_s)``; ``name=None`` yields every endpoint."""
        first, last = self._rows_of(start_s, end_s)
        endpoint = self._one_endpoint(name)
        if endpoint is not None:
            rows, records = self._by_endpoint()[endpoint]
            lo, hi = np.searchsorted(rows, (first, last))
            yield from records[lo:hi]
            return
        for second in self.seconds[first:last]:
            for r in second.requests:
                if _matches(r, name):
                    yield r

    def total(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> RequestSecond:
        """All matching records added into one (``t`` = first second of the range).

        Its ``histogram`` is the merged histogram of the range; its counters are exact.
        """
        method, label = self._method_and_name(name)
        first = start_s if start_s is not None else (self.start_s or 0)
        return _added(first, method, label, self.select(name, start_s, end_s))

    def counters(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> SecondCounters:
        """The counters of ``series(name, start_s, end_s)``, row for row, as arrays."""
        first, last = self._rows_of(start_s, end_s)
        columns = {c: np.zeros(last - first) for c in _COUNTERS}
        kinds: dict[str, np.ndarray] = {}
        for endpoint, (rows, found, by_kind) in self._endpoint_counters().items():
            if name is not None and name not in (endpoint[1], f"{endpoint[0]} {endpoint[1]}"):
                continue
            lo, hi = np.searchsorted(rows, (first, last))
            at = rows[lo:hi] - first  # an endpoint has at most one record per second
            for c in _COUNTERS:
                columns[c][at] += found[c][lo:hi]
            for kind, n in by_kind.items():
                kinds.setdefault(kind, np.zeros(last - first))[at] += n[lo:hi]
        return SecondCounters(
            t=self._second_times()[first:last],
            count=columns["count"].astype(np.int64),
            failures=columns["failures"].astype(np.int64),
            bytes=columns["bytes"].astype(np.int64),
            sum_us=columns["sum_us"],
            sumsq_us=columns["sumsq_us"],
            failures_by_kind={k: v.astype(np.int64) for k, v in sorted(kinds.items())},
        )

    def _second_times(self) -> np.ndarray:
        if "times" not in self._memo:
            self._memo["times"] = np.array([s.t for s in self.seconds], dtype=np.int64)
        return self._memo["times"]

    def _endpoint_counters(
        self,
    ) -> dict[tuple[str, str], tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """Each endpoint's second positions, counters and failures by kind, built once."""
        if "counters" not in self._memo:
            built = {}
            for endpoint, (rows, records) in self._by_endpoint().items():
                by_kind: dict[str, np.ndarray] = {}
                for i, r in enumerate(records):
                    for kind, n in r.failures.items():
                        if kind not in by_kind:
                            by_kind[kind] = np.zeros(len(records))
                        by_kind[kind][i] = n
                found = {
                    "count": np.array([r.count for r in records], dtype=float),
                    "failures": sum(by_kind.values(), np.zeros(len(records))),
                    "bytes": np.array([r.bytes for r in records], dtype=float),
                    "sum_us": np.array([float(r.sum_us) for r in records]),
                    "sumsq_us": np.array([float(r.sumsq_us) for r in records]),
                }
                built[endpoint] = (rows, found, by_kind)
            self._memo["counters"] = built
        return self._memo["counters"]

    def merged_histogram(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> HdrHistogram:
        """One HdrHistogram (µs) of every matching latency in ``[start_s, end_s)``."""
        blobs = [b for r in self.select(name, start_s, end_s) for b in r.hist_blobs]
        return sum_blobs(blobs).to_hdrhistogram() if blobs else new_histogram()

    def series(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> list[RequestSecond]:
        """One record per second in ``[start_s, end_s)``, zero-count ones included, for
        throughput and batch means."""
        method, label = self._method_and_name(name)
        first, last = self._rows_of(start_s, end_s)
        endpoint = self._one_endpoint(name)
        if endpoint is None:
            return [
                _added(second.t, method, label, (r for r in second.requests if _matches(r, name)))
                for second in self.seconds[first:last]
            ]
        rows, records = self._by_endpoint()[endpoint]
        lo, hi = np.searchsorted(rows, (first, last))
        found = dict(zip(rows[lo:hi].tolist(), records[lo:hi], strict=True))
        return [
            _added(self.seconds[row].t, method, label, (found[row],) if row in found else ())
            for row in range(first, last)
        ]

    def buckets(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> BucketRows:
        """The latency histograms of ``series(name, start_s, end_s)``, row for row, as sparse
        bucket counts: what estimators and per-second percentiles read, without decoding
        one HdrHistogram per second.

        All requests together are merged once and kept. Until then, each endpoint asked
        for is decoded for the whole run and kept too, so that the merge needs no second
        decoding (then those are let go): analyse the endpoints first, then all together.
        """
        first, last = self._rows_of(start_s, end_s)
        if name is None:
            if "all" not in self._memo:
                self._memo["all"] = self._all_buckets()
            return self._memo["all"].slice(first, last)
        endpoint = self._one_endpoint(name)
        if endpoint is not None and "all" not in self._memo:
            kept = self._memo.setdefault("endpoint_rows", {})
            if endpoint not in kept:
                kept[endpoint] = self._read_buckets(name, 0, len(self.seconds), narrow=True)
            return kept[endpoint].slice(first, last)
        return self._read_buckets(name, first, last)

    def _all_buckets(self) -> BucketRows:
        """Every endpoint merged per second: from the kept endpoints if all are there."""
        kept = self._memo.pop("endpoint_rows", {})
        if kept and set(kept) == set(self._by_endpoint()):
            return merged_rows(list(kept.values()), len(self.seconds), narrow=True)
        return self._read_buckets(None, 0, len(self.seconds), narrow=True)

    def _read_buckets(
        self, name: str | None, first: int, last: int, *, narrow: bool = False
    ) -> BucketRows:
        endpoint = self._one_endpoint(name)
        rows: list[int] = []
        blobs: list[str] = []
        if endpoint is not None:
            at, records = self._by_endpoint()[endpoint]
            lo, hi = np.searchsorted(at, (first, last))
            for row, r in zip(at[lo:hi].tolist(), records[lo:hi], strict=True):
                rows += [row - first] * len(r.hist_blobs)
                blobs += r.hist_blobs
        else:
            for row, second in enumerate(self.seconds[first:last]):
                for r in second.requests:
                    if _matches(r, name):
                        rows += [row] * len(r.hist_blobs)
                        blobs += r.hist_blobs
        return rows_from_blobs(np.array(rows, dtype=np.int64), blobs, last - first, narrow=narrow)


def _matches(record: RequestSecond, name: str | None) -> bool:
    return name is None or selects(name, record.method, record.name)


def _bisect(seconds: Sequence[Second], t: int) -> int:
    """Index of the first second at or after ``t``."""
    lo, hi = 0, len(seconds)
    while lo < hi:
        mid = (lo + hi) // 2
        if seconds[mid].t < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _added(t: int, method: str, name: str, records: Iterable[RequestSecond]) -> RequestSecond:
    """``RequestSecond(t, method, name)`` with each record ``combine``d in, in one pass."""
    if isinstance(records, tuple) and len(records) == 1:
        (only,) = records
        if (only.t, only.method, only.name) == (t, method, name):
            return only  # adding one record to nothing gives an equal record
    count = bytes_ = sum_us = 0
    sumsq_us: int | float = 0
    failures: dict[str, int] = {}
    blobs: list[str] = []
    for r in records:
        count += r.count
        bytes_ += r.bytes
        sum_us += r.sum_us
        sumsq_us += r.sumsq_us
        for kind, n in r.failures.items():
            failures[kind] = failures.get(kind, 0) + n
        blobs += r.hist_blobs
    return RequestSecond(
        t=t,
        method=method,
        name=name,
        count=count,
        failures=failures,
        bytes=bytes_,
        sum_us=sum_us,
        sumsq_us=sumsq_us,
        hist_blobs=tuple(blobs),
    )


def latency_us(latency_ms: float) -> int:
    """Locust's float milliseconds as whole microseconds (never negative)."""
    return max(0, round(latency_ms * 1000.0))


FORMAT = "swarm-timeline"
VERSION = 1
FILE_NAME = "timeline.jsonl"
