"""The run timeline: the on-disk, append-only record of every request, second by second.

Contract 2 of the design: every report, baseline and comparison is computed from this
file, so it is written as the run goes (a crash loses at most the last few seconds) and
read back with no Locust in sight. This module holds the records and the read
``Timeline``; ``framework.timeline.writer`` writes the file, ``framework.timeline.reader``
reads it, ``framework.timeline.codec`` encodes and decodes its histograms. The format is
specified in ``docs/timeline.md``; in short, one JSON object per line::

    {"type": "header", "format": "swarm-timeline", "version": 1, ...}
    {"type": "req", "t": 1700000000, "method": "POST", "name": "/detect", "count": 98, ...}
    {"type": "arr", "t": 1700000000, "group": "writers", "due": 50, "started": 50, ...}
    {"type": "met", "t": 1700000000, "name": "detector.score", "kind": "histogram", ...}
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np
from hdrh.histogram import HdrHistogram

from framework.timeline.arrivals import (
    ALL_GROUPS,
    ArrivalRecord,
    ArrivalSecond,
    added_arrivals,
)
from framework.timeline.codec import (
    HISTOGRAM_HIGHEST_US,
    HISTOGRAM_LOWEST_US,
    HISTOGRAM_SIGNIFICANT_DIGITS,
    LAYOUT,
    decode_buckets,
    decode_histogram,
    encode_histogram,
    new_histogram,
    one_blob,
    sum_blobs,
)
from framework.timeline.endpoints import (
    AGGREGATE_METHODS,
    AGGREGATED,
    endpoint_key,
    selects,
    split_endpoint_key,
)
from framework.timeline.histograms import BucketRows, SparseHistogram
from framework.timeline.metric_records import Dims, MetricSecond

if TYPE_CHECKING:
    from framework.timeline.columns import TimelineColumns

__all__ = [
    "ALL_GROUPS",
    "FILE_NAME",
    "FORMAT",
    "HISTOGRAM_HIGHEST_US",
    "HISTOGRAM_LOWEST_US",
    "HISTOGRAM_SIGNIFICANT_DIGITS",
    "LAYOUT",
    "MAX_FAILURE_MESSAGES",
    "MAX_MESSAGE_CHARS",
    "READABLE_VERSIONS",
    "VERSION",
    "ArrivalRecord",
    "ArrivalSecond",
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
    "merge_messages",
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
    sum_us: int  # exact sum of successful requests' latencies, microseconds
    sumsq_us: int | float  # exact sum of their squares (float only past 2**63)
    hist: str  # HdrHistogram V2, compressed, base64 ("" when no request succeeded)
    type: NotRequired[str]  # "req" or "late" on disk; absent on the wire
    # version 2: the latencies of failed requests, apart (absent when none failed)
    fail_sum_us: NotRequired[int]
    fail_sumsq_us: NotRequired[int | float]
    fail_hist: NotRequired[str]
    # additive (version 2): failure message -> count, at most MAX_FAILURE_MESSAGES of them,
    # each at most MAX_MESSAGE_CHARS long; failures not listed are "other" (absent: none kept)
    failure_messages: NotRequired[dict[str, int]]
    # version 3, open-model requests only: the service time (actual send -> response) of
    # the successful ones; their main latency fields above hold the response time from the
    # intended start (the moment the arrival was due). Absent when none of them succeeded.
    svc_count: NotRequired[int]
    svc_sum_us: NotRequired[int]
    svc_sumsq_us: NotRequired[int | float]
    svc_hist: NotRequired[str]


@dataclass(frozen=True)
class RequestSecond:
    """The requests of one endpoint in one second (or, from ``Timeline.total``, a range).

    ``sum_us``, ``sumsq_us`` and ``hist_blobs`` hold the latencies of the successful
    requests (design contract 6: latency figures rest on successes), ``fail_sum_us``,
    ``fail_sumsq_us`` and ``fail_hist_blobs`` those of the failed ones. A version-1 timeline
    kept them together: its records have ``failures_in_latency`` set, and their latency
    fields hold every request. The sums are exact, so mean and variance are too; the
    histograms are for percentiles (their own mean uses bucket midpoints), kept encoded
    and decoded on every access of ``histogram`` / ``failure_histogram``.

    ``failure_messages`` counts the failures' messages (``"HTTP 500: upstream down"``), the
    most frequent ``MAX_FAILURE_MESSAGES`` of them: a bounded sample, so the failures it
    does not list (``failure_count - sum``) are "other messages", never lost from the
    counts.

    Open-model requests (version 3): their latency in ``sum_us``/``hist`` (and ``fail_*``)
    is the response time from the *intended* start, the moment the arrival was due, so
    every figure built on these fields shows what a user of the service would see.
    ``svc_count``, ``svc_sum_us``, ``svc_sumsq_us`` and ``svc_hist_blobs`` hold the service
    time (actual send to response) of the ``svc_count`` successful open-model requests
    among them; all zero/empty for closed-model requests.
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
    fail_sum_us: int = 0
    fail_sumsq_us: int | float = 0
    fail_hist_blobs: tuple[str, ...] = ()
    failures_in_latency: bool = False
    failure_messages: Mapping[str, int] = field(default_factory=dict)
    svc_count: int = 0
    svc_sum_us: int = 0
    svc_sumsq_us: int | float = 0
    svc_hist_blobs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Locust's way to name an endpoint: ``"POST /detect"`` (just the name if no method)."""
        return endpoint_key(self.method, self.name)

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())

    @property
    def latency_count(self) -> int:
        """How many latencies ``sum_us`` and the histogram hold: the successful requests
        (every request in a version-1 record, ``failures_in_latency``)."""
        return self.count if self.failures_in_latency else self.count - self.failure_count

    @property
    def mean_us(self) -> float | None:
        """Exact mean latency of the successful requests in µs; ``None`` without any."""
        n = self.latency_count
        return self.sum_us / n if n else None

    @property
    def variance_us2(self) -> float | None:
        """Exact sample variance (n - 1 denominator) in µs²; ``None`` below two latencies."""
        n = self.latency_count
        if n < 2:
            return None
        return max(0.0, (self.sumsq_us - self.sum_us * self.sum_us / n) / (n - 1))

    @property
    def failure_mean_us(self) -> float | None:
        """Exact mean latency of the failed requests in µs; ``None`` without any, or when
        a version-1 record mixed them into ``sum_us``."""
        if self.failures_in_latency or not self.failure_count:
            return None
        return self.fail_sum_us / self.failure_count

    @property
    def histogram(self) -> HdrHistogram:
        """A fresh HdrHistogram (µs) of the successful requests' latencies (all requests'
        in a version-1 record); decodes each time it is read."""
        if not self.hist_blobs:
            return new_histogram()
        return sum_blobs(self.hist_blobs).to_hdrhistogram()

    @property
    def failure_histogram(self) -> HdrHistogram:
        """A fresh HdrHistogram (µs) of the failed requests' latencies."""
        if not self.fail_hist_blobs:
            return new_histogram()
        return sum_blobs(self.fail_hist_blobs).to_hdrhistogram()

    @property
    def service_mean_us(self) -> float | None:
        """Exact mean service time of the successful open-model requests in µs; ``None``
        without any."""
        return self.svc_sum_us / self.svc_count if self.svc_count else None

    def service_histogram(self) -> HdrHistogram:
        """A fresh HdrHistogram (µs) of the successful open-model requests' service times
        (actual send to response; empty for closed-model requests); decodes on each call."""
        if not self.svc_hist_blobs:
            return new_histogram()
        return sum_blobs(self.svc_hist_blobs).to_hdrhistogram()

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
            fail_sum_us=self.fail_sum_us + other.fail_sum_us,
            fail_sumsq_us=self.fail_sumsq_us + other.fail_sumsq_us,
            fail_hist_blobs=self.fail_hist_blobs + other.fail_hist_blobs,
            failures_in_latency=self.failures_in_latency or other.failures_in_latency,
            failure_messages=merge_messages(self.failure_messages, other.failure_messages),
            svc_count=self.svc_count + other.svc_count,
            svc_sum_us=self.svc_sum_us + other.svc_sum_us,
            svc_sumsq_us=self.svc_sumsq_us + other.svc_sumsq_us,
            svc_hist_blobs=self.svc_hist_blobs + other.svc_hist_blobs,
        )

    def to_record(self) -> RequestRecord:
        """The line/wire form; several histograms are merged into one blob first.

        The failures' latency fields are written only when some request failed, so a
        line without failures reads as it did in version 1.
        """
        record = RequestRecord(
            t=self.t,
            method=self.method,
            name=self.name,
            count=self.count,
            failures=dict(self.failures),
            bytes=self.bytes,
            sum_us=self.sum_us,
            sumsq_us=self.sumsq_us,
            hist=one_blob(self.hist_blobs),
        )
        if self.failure_count and not self.failures_in_latency:
            record["fail_sum_us"] = self.fail_sum_us
            record["fail_sumsq_us"] = self.fail_sumsq_us
            record["fail_hist"] = one_blob(self.fail_hist_blobs)
        if self.failure_messages:
            record["failure_messages"] = dict(self.failure_messages)
        if self.svc_count:
            record["svc_count"] = self.svc_count
            record["svc_sum_us"] = self.svc_sum_us
            record["svc_sumsq_us"] = self.svc_sumsq_us
            record["svc_hist"] = one_blob(self.svc_hist_blobs)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RequestSecond:
        """A record from its line/wire form.

        A record with failures but no ``fail_sum_us`` kept its failures' latencies with the
        successes' (every version-1 line; a synthetic record that mixed them): it is read
        with ``failures_in_latency`` set, so its figures mean what they meant then.
        """
        hist = record.get("hist") or ""
        fail_hist = record.get("fail_hist") or ""
        failures = record.get("failures") or {}
        messages = record.get("failure_messages") or {}
        svc_hist = record.get("svc_hist") or ""
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
            "fail_sum_us": int(record.get("fail_sum_us", 0)),
            "fail_sumsq_us": record.get("fail_sumsq_us", 0),
            "fail_hist_blobs": (fail_hist,) if fail_hist else (),
            "failures_in_latency": bool(failures) and "fail_sum_us" not in record,
            "failure_messages": (
                merge_messages({str(k): int(v) for k, v in messages.items()}) if messages else {}
            ),
            "svc_count": int(record.get("svc_count", 0)),
            "svc_sum_us": int(record.get("svc_sum_us", 0)),
            "svc_sumsq_us": record.get("svc_sumsq_us", 0),
            "svc_hist_blobs": (svc_hist,) if svc_hist else (),
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
        failed_ms: Iterable[float] | None = None,
        bytes: int = 0,
        service_ms: Iterable[float] | None = None,
    ) -> RequestSecond:
        """Build a record from raw latencies, for synthetic timelines in tests and benchmarks.

        With ``failed_ms``, ``latencies_ms`` are the successful requests' and ``failed_ms``
        the failed ones' (``failures`` then names their kinds, one count per latency).
        Without it, ``failures`` counts are a subset of ``latencies_ms`` and the record
        mixes them, as a version-1 timeline did (``failures_in_latency``). ``service_ms``
        makes them open-model requests: the service times of some of the successful ones
        (``latencies_ms`` being their response times from the intended start).
        """
        count, sum_us, sumsq_us, blobs = _latency_sums(latencies_ms)
        svc = _latency_sums(service_ms) if service_ms is not None else (0, 0, 0, ())
        found = dict(failures or {})
        if failed_ms is None:
            found_record = cls(
                t=t, method=method, name=name, count=count, failures=found, bytes=bytes,
                sum_us=sum_us, sumsq_us=sumsq_us, hist_blobs=blobs,
                failures_in_latency=bool(found),
            )  # fmt: skip
        else:
            failed, fail_sum_us, fail_sumsq_us, fail_blobs = _latency_sums(failed_ms)
            if sum(found.values()) != failed:
                raise ValueError(f"failures {found} must count the {failed} failed latencies")
            found_record = cls(
                t=t, method=method, name=name, count=count + failed, failures=found,
                bytes=bytes, sum_us=sum_us, sumsq_us=sumsq_us, hist_blobs=blobs,
                fail_sum_us=fail_sum_us, fail_sumsq_us=fail_sumsq_us, fail_hist_blobs=fail_blobs,
            )  # fmt: skip
        if svc[0] > found_record.latency_count:
            raise ValueError(
                f"{svc[0]} service times for {found_record.latency_count} successful requests"
            )
        if not svc[0]:
            return found_record
        return replace(
            found_record, svc_count=svc[0], svc_sum_us=svc[1], svc_sumsq_us=svc[2],
            svc_hist_blobs=svc[3],
        )  # fmt: skip


def _latency_sums(latencies_ms: Iterable[float]) -> tuple[int, int, int, tuple[str, ...]]:
    """Count, exact sums and encoded histogram of some latencies (ms)."""
    hist = new_histogram()
    count = sum_us = sumsq_us = 0
    for ms in latencies_ms:
        us = latency_us(ms)
        hist.record_value(min(us, HISTOGRAM_HIGHEST_US))
        count += 1
        sum_us += us
        sumsq_us += us * us
    return count, sum_us, sumsq_us, (encode_histogram(hist, release=True),) if count else ()


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
    sum_us: np.ndarray  # float64, successful requests (exact below 2**53 µs)
    sumsq_us: np.ndarray  # float64
    failures_by_kind: Mapping[str, np.ndarray]
    latency_count: np.ndarray | None = None  # latencies in sum_us; None: as ``count``
    fail_sum_us: np.ndarray | None = None  # float64, failed requests
    fail_sumsq_us: np.ndarray | None = None
    svc_count: np.ndarray | None = None  # successful open-model requests' service times
    svc_sum_us: np.ndarray | None = None  # float64
    svc_sumsq_us: np.ndarray | None = None  # float64

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Second:
    """One closed second of the run: every endpoint's requests, plus the load applied.

    ``users`` is the user count sampled during that second (carried forward from the
    previous sample when none fell in it); ``workers`` the live load generators (1 when
    local). Both are ``None`` for a second whose ``sec`` line was never written (crash).
    ``cpu_percent`` is the busiest load generator's CPU use (its process CPU time over wall
    time, measured by swarm on each generator and sent with its reports), for the
    load-generator health check; ``None`` when not sampled. ``paused`` marks a second in
    which the run was paused (even partly): it is recorded, and left out of every statistic.

    Version 3: ``arrivals`` holds the open-model arrivals *due* in this second, one record
    per load group (sorted by group); ``active`` the load per group sampled like ``users``
    (closed groups: users running; open groups: arrivals in flight), empty when the run
    has a single closed load. ``users`` stays the total.

    Version 4: ``metrics`` holds the custom metrics recorded in this second, one record per
    metric name and dimension set (sorted by ``key``), see ``timeline.metric_records``.
    """

    t: int
    users: int | None = None
    workers: int | None = None
    requests: tuple[RequestSecond, ...] = ()
    cpu_percent: float | None = None
    paused: bool = False
    arrivals: tuple[ArrivalSecond, ...] = ()
    active: Mapping[str, int] = field(default_factory=dict)
    metrics: tuple[MetricSecond, ...] = ()

    def get(self, name: str) -> RequestSecond | None:
        """The record for ``"METHOD name"`` (or a bare name, if only one method uses it)."""
        found = [r for r in self.requests if r.key == name]
        found = found or [r for r in self.requests if r.name == name]
        return found[0] if len(found) == 1 else None

    @property
    def count(self) -> int:
        """Requests completed in this second (transactions and polls' totals left out)."""
        return sum(r.count for r in self.requests if r.method not in AGGREGATE_METHODS)

    @property
    def failure_count(self) -> int:
        """Failed requests in this second (transactions and polls' totals left out)."""
        return sum(r.failure_count for r in self.requests if r.method not in AGGREGATE_METHODS)

    def arrival(self, group: str) -> ArrivalSecond | None:
        """The arrivals of load group ``group`` due in this second, or ``None``."""
        found = [a for a in self.arrivals if a.group == group]
        return found[0] if found else None


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

    ``seconds`` holds the counted seconds only: a second marked ``paused`` (the run was
    paused in it) is in ``paused`` instead, requests and all, so no statistic, window,
    chart or estimate read from ``seconds`` counts paused time (their requests were
    recorded, and are kept there).

    A value that keeps nothing: every method reads the records afresh. A caller that reads
    many endpoints or ranges (the report) holds a
    :class:`~framework.timeline.columns.TimelineColumns`, which indexes the records and
    decodes each endpoint's histograms once.

    ``decoded_rows`` holds the histograms the reader decoded to check them, as each
    endpoint's bucket rows over the whole run: read once, so ``TimelineColumns`` need not
    decode them again. It is data from the file, not a cache: it never changes.
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

    decoded_rows: Mapping[tuple[str, str], BucketRows] = field(
        default_factory=dict, repr=False, compare=False
    )
    paused: tuple[Second, ...] = ()

    def _range(self, start_s: int | None, end_s: int | None) -> tuple[Second, ...]:
        """The seconds in ``[start_s, end_s)`` (seconds are in time order)."""
        first = 0 if start_s is None else _bisect(self.seconds, start_s)
        last = len(self.seconds) if end_s is None else _bisect(self.seconds, end_s)
        return self.seconds[first : max(first, last)]

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
        return sorted({endpoint_key(m, n) for m, n in self.endpoints()})

    def _method_and_name(self, name: str | None) -> tuple[str, str]:
        """The ``(method, name)`` a selection is labelled with: ``AGGREGATED`` for all."""
        return ("", AGGREGATED) if name is None else split_endpoint_key(name, self.endpoints())

    def endpoints(self) -> list[tuple[str, str]]:
        """Every ``(method, name)`` seen, sorted."""
        return sorted({(r.method, r.name) for second in self.seconds for r in second.requests})

    def select(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> Iterator[RequestSecond]:
        """Records of ``name`` (a key, or a bare name matching every method) in
        ``[start_s, end_s)``; ``name=None`` yields every endpoint but the aggregates (``TXN``
        and ``POLL``, see ``endpoints.is_aggregate``): all requests together."""
        for second in self._range(start_s, end_s):
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
        """The counters of ``series(name, start_s, end_s)``, row for row, as arrays (read
        afresh: hold a ``TimelineColumns`` to read many)."""
        return self._columns().counters(name, start_s, end_s)

    @property
    def failures_in_latency(self) -> bool:
        """Whether some latencies of failed requests are mixed into the successful ones'
        (a version-1 timeline with failures): latency figures then include failures."""
        return any(r.failures_in_latency for second in self.seconds for r in second.requests)

    def merged_histogram(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> HdrHistogram:
        """One HdrHistogram (µs) of every matching successful request's latency in
        ``[start_s, end_s)`` (every request's, in a version-1 timeline)."""
        blobs = [b for r in self.select(name, start_s, end_s) for b in r.hist_blobs]
        return sum_blobs(blobs).to_hdrhistogram() if blobs else new_histogram()

    def failure_histogram(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> SparseHistogram:
        """The failed requests' latencies in ``[start_s, end_s)``, merged (µs; empty in a
        version-1 timeline, which kept none apart)."""
        blobs = [b for r in self.select(name, start_s, end_s) for b in r.fail_hist_blobs]
        return sum_blobs(blobs)

    def series(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> list[RequestSecond]:
        """One record per second in ``[start_s, end_s)``, zero-count ones included, for
        throughput and batch means."""
        method, label = self._method_and_name(name)
        return [
            _added(second.t, method, label, tuple(r for r in second.requests if _matches(r, name)))
            for second in self._range(start_s, end_s)
        ]

    def buckets(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> BucketRows:
        """The latency histograms of ``series(name, start_s, end_s)``, row for row, as sparse
        bucket counts, without decoding one HdrHistogram per second (read afresh: hold a
        ``TimelineColumns`` to read many)."""
        return self._columns().buckets(name, start_s, end_s)

    def service_histogram(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> HdrHistogram:
        """One HdrHistogram (µs) of the service times (actual send to response) of every
        matching successful open-model request in ``[start_s, end_s)``; empty when none."""
        blobs = [b for r in self.select(name, start_s, end_s) for b in r.svc_hist_blobs]
        return sum_blobs(blobs).to_hdrhistogram() if blobs else new_histogram()

    @property
    def open_model(self) -> bool:
        """Whether the run had open-model load: some arrival was due, or some request
        carries a service time (version 3)."""
        return any(
            second.arrivals or any(r.svc_count for r in second.requests) for second in self.seconds
        )

    def arrival_groups(self) -> list[str]:
        """Every load group with arrivals due in a counted second, sorted."""
        return sorted({a.group for second in self.seconds for a in second.arrivals})

    def arrivals_total(
        self, group: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> ArrivalSecond:
        """The arrivals of ``group`` (``None``: every group, labelled ``ALL_GROUPS``) due
        in ``[start_s, end_s)``, added up (``t`` = first second of the range).

        Counts and lag sums are exact; ``in_flight_max`` is the largest second's (within a
        second the groups' add, as do the workers').
        """
        first = start_s if start_s is not None else (self.start_s or 0)
        return added_arrivals(
            first,
            ALL_GROUPS if group is None else group,
            (
                [a for a in second.arrivals if group is None or a.group == group]
                for second in self._range(start_s, end_s)
            ),
        )

    def lag_histogram(
        self, group: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> HdrHistogram:
        """One HdrHistogram (µs) of the schedule lag (actual start − due) of every arrival
        of ``group`` (``None``: all) that started, due in ``[start_s, end_s)``."""
        blobs = [
            b
            for second in self._range(start_s, end_s)
            for a in second.arrivals
            if group is None or a.group == group
            for b in a.lag_hist_blobs
        ]
        return sum_blobs(blobs).to_hdrhistogram() if blobs else new_histogram()

    def metric_series(self) -> list[tuple[str, Dims]]:
        """Every custom metric's (name, dimension set) recorded in a counted second, sorted."""
        return sorted({m.series for second in self.seconds for m in second.metrics})

    def metric_seconds(
        self,
        name: str,
        dims: Mapping[str, str] | Dims | None = None,
        start_s: int | None = None,
        end_s: int | None = None,
    ) -> list[MetricSecond]:
        """The records of metric ``name`` in ``[start_s, end_s)``, one per second that has
        one (seconds without a record are left out: a metric need not be recorded every
        second), in time order.

        ``dims`` selects one dimension set (``{}`` the one without dimensions); ``None``
        takes every dimension set of the name, each second's records combined into one
        labelled without dimensions.
        """
        wanted: Dims | None = None
        if dims is not None:
            items = dims.items() if isinstance(dims, Mapping) else dims
            wanted = tuple(sorted((str(k), str(v)) for k, v in items))
        found: list[MetricSecond] = []
        for second in self._range(start_s, end_s):
            records = [
                m for m in second.metrics if m.name == name and (wanted is None or m.dims == wanted)
            ]
            if not records:
                continue
            if wanted is not None or (len(records) == 1 and not records[0].dims):
                found.extend(records)
                continue
            combined = replace(records[0], dims=())
            for record in records[1:]:
                combined = combined.combine(record)
            found.append(combined)
        return found

    def _columns(self) -> TimelineColumns:
        from framework.timeline.columns import TimelineColumns  # it builds on this module

        return TimelineColumns(self)


def _matches(record: RequestSecond, name: str | None) -> bool:
    """Whether ``name`` selects ``record``; ``None`` (all requests together) selects every
    record but a transaction's or a poll's total, which would count their requests twice."""
    if name is None:
        return record.method not in AGGREGATE_METHODS
    return selects(name, record.method, record.name)


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
    count = bytes_ = sum_us = fail_sum_us = 0
    sumsq_us: int | float = 0
    fail_sumsq_us: int | float = 0
    failures: dict[str, int] = {}
    messages: dict[str, int] = {}
    blobs: list[str] = []
    fail_blobs: list[str] = []
    svc_blobs: list[str] = []
    svc_count = svc_sum_us = 0
    svc_sumsq_us: int | float = 0
    mixed = False
    for r in records:
        count += r.count
        bytes_ += r.bytes
        sum_us += r.sum_us
        sumsq_us += r.sumsq_us
        fail_sum_us += r.fail_sum_us
        fail_sumsq_us += r.fail_sumsq_us
        for kind, n in r.failures.items():
            failures[kind] = failures.get(kind, 0) + n
        for message, n in r.failure_messages.items():
            messages[message] = messages.get(message, 0) + n
        blobs += r.hist_blobs
        fail_blobs += r.fail_hist_blobs
        mixed = mixed or r.failures_in_latency
        if r.svc_count:
            svc_count += r.svc_count
            svc_sum_us += r.svc_sum_us
            svc_sumsq_us += r.svc_sumsq_us
            svc_blobs += r.svc_hist_blobs
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
        fail_sum_us=fail_sum_us,
        fail_sumsq_us=fail_sumsq_us,
        fail_hist_blobs=tuple(fail_blobs),
        failures_in_latency=mixed,
        failure_messages=merge_messages(messages),
        svc_count=svc_count,
        svc_sum_us=svc_sum_us,
        svc_sumsq_us=svc_sumsq_us,
        svc_hist_blobs=tuple(svc_blobs),
    )


def merge_messages(*counts: Mapping[str, int], limit: int | None = None) -> dict[str, int]:
    """Failure-message counts added together, keeping the ``limit`` most frequent (ties by
    text, so the result does not depend on the order of the arguments' keys); messages
    longer than ``MAX_MESSAGE_CHARS`` are cut to it.

    >>> merge_messages({"a": 2, "b": 1}, {"b": 3}, limit=1)
    {'b': 4}
    """
    total: dict[str, int] = {}
    for mapping in counts:
        for message, n in mapping.items():
            text = message[:MAX_MESSAGE_CHARS]
            total[text] = total.get(text, 0) + n
    limit = MAX_FAILURE_MESSAGES if limit is None else limit
    if len(total) <= limit:
        return total
    kept = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return dict(kept)


def latency_us(latency_ms: float) -> int:
    """Locust's float milliseconds as whole microseconds (never negative)."""
    return max(0, round(latency_ms * 1000.0))


FORMAT = "swarm-timeline"
VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
"""Versions ``read_timeline`` reads: version 1 kept failed requests' latencies together
with the successful ones'; version 2 keeps them apart (``fail_*`` fields); version 3 adds
open-model load (``arr`` lines, ``svc_*`` fields, ``sec.active``), and an open-model
request's latency fields hold its response time from the intended start; version 4 adds
custom metrics (``met`` lines, ``framework.timeline.metric_records``)."""
FILE_NAME = "timeline.jsonl"
MAX_FAILURE_MESSAGES = 20
"""Distinct failure messages a record keeps (per second and endpoint, and when records are
added together): a target that puts a request id in every error must not grow the timeline
by a line per failure."""
MAX_MESSAGE_CHARS = 200
"""A failure message is cut to this many characters."""
