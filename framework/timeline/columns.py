"""A read timeline's records as arrays, endpoint by endpoint: the report's way in.

A report reads every endpoint in every window, then all requests together, then the
per-second series of all of them. Reading each from the records would walk every record
and decode every histogram blob again and again, so :class:`TimelineColumns` indexes the
records by endpoint once, turns their counters into arrays once, and decodes each
endpoint's histograms once, on first use, for the whole run; all requests together are the
merge of those. Any range of seconds is then a slice (views, no copy).

It is its own object, created by the caller that reads many ranges (the report builder,
once per run) and passed to where they are read, rather than a memo inside the frozen
:class:`~framework.timeline.records.Timeline`: the timeline stays a value that keeps
nothing, what is decoded and kept is decided at the call site, in no particular order, and
it is let go with this object.

Example::

    columns = TimelineColumns(read_timeline(path))
    counters = columns.counters("POST /detect", start_s, end_s)  # arrays, one row a second
    rows = columns.buckets("POST /detect", start_s, end_s)  # decoded once, then sliced
    everything = columns.buckets(None)  # the endpoints' rows merged, once
    service = columns.service_buckets("POST /detect")  # open-model service times (v3)
"""

from __future__ import annotations

import numpy as np

from framework.timeline.codec import merged_rows, rows_from_blobs
from framework.timeline.endpoints import endpoint_key, is_aggregate, selects, split_endpoint_key
from framework.timeline.histograms import BucketRows
from framework.timeline.records import RequestSecond, SecondCounters, Timeline, _matches

__all__ = ["TimelineColumns"]

Endpoint = tuple[str, str]
"""``(method, name)``; the method is ``""`` for a bare name."""

_COUNTERS = (
    "count",
    "failures",
    "bytes",
    "sum_us",
    "sumsq_us",
    "latency_count",
    "fail_sum_us",
    "fail_sumsq_us",
    "svc_count",
    "svc_sum_us",
    "svc_sumsq_us",
)


class _EndpointCounters:
    """One endpoint's counters as arrays, one entry per record (not per second)."""

    def __init__(self, records: list[RequestSecond]) -> None:
        by_kind: dict[str, np.ndarray] = {}
        for i, r in enumerate(records):
            for kind, n in r.failures.items():
                if kind not in by_kind:
                    by_kind[kind] = np.zeros(len(records))
                by_kind[kind][i] = n
        self.by_kind = by_kind
        self.columns = {
            "count": np.array([r.count for r in records], dtype=float),
            "failures": sum(by_kind.values(), np.zeros(len(records))),
            "bytes": np.array([r.bytes for r in records], dtype=float),
            "sum_us": np.array([float(r.sum_us) for r in records]),
            "sumsq_us": np.array([float(r.sumsq_us) for r in records]),
            "latency_count": np.array([r.latency_count for r in records], dtype=float),
            "fail_sum_us": np.array([float(r.fail_sum_us) for r in records]),
            "fail_sumsq_us": np.array([float(r.fail_sumsq_us) for r in records]),
            "svc_count": np.array([r.svc_count for r in records], dtype=float),
            "svc_sum_us": np.array([float(r.svc_sum_us) for r in records]),
            "svc_sumsq_us": np.array([float(r.svc_sumsq_us) for r in records]),
        }


class TimelineColumns:
    """Counters and latency histograms of any endpoint (or all) over any range of seconds.

    The records are indexed and their counters turned into arrays when this is created;
    an endpoint's histograms are decoded for the whole run the first time it is asked for,
    and kept, and all requests together are the merge of every endpoint's (each decoded at
    most once, whatever the order of the calls). A bare name that selects several
    endpoints is read from its records on each call, and not kept.
    """

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        seconds = timeline.seconds
        self._times = np.array([s.t for s in seconds], dtype=np.int64)
        rows: dict[Endpoint, list[int]] = {}
        records: dict[Endpoint, list[RequestSecond]] = {}
        for row, second in enumerate(seconds):
            for r in second.requests:
                endpoint = (r.method, r.name)
                rows.setdefault(endpoint, []).append(row)
                records.setdefault(endpoint, []).append(r)
        self._records = {e: (np.array(rows[e], dtype=np.int64), records[e]) for e in sorted(rows)}
        self._counters = {e: _EndpointCounters(found) for e, (_, found) in self._records.items()}
        self._rows: dict[Endpoint, BucketRows] = {}
        self._all: BucketRows | None = None
        self._service_rows: dict[Endpoint, BucketRows] = {}

    def __repr__(self) -> str:
        return (
            f"TimelineColumns({len(self._times)} seconds, {len(self._records)} endpoints, "
            f"{len(self._rows)} decoded{', all merged' if self._all is not None else ''})"
        )

    def names(self) -> list[str]:
        """Every endpoint key seen (``"POST /detect"``), sorted."""
        return sorted({endpoint_key(m, n) for m, n in self._records})

    def endpoints(self) -> list[Endpoint]:
        """Every ``(method, name)`` seen, sorted."""
        return list(self._records)

    def endpoint(self, key: str) -> Endpoint:
        """The ``(method, name)`` of a key such as ``"POST /detect"`` (a bare name: no method)."""
        return split_endpoint_key(key, self._records)

    def counters(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> SecondCounters:
        """The counters of ``name`` (a key, a bare name, or ``None`` for all) in
        ``[start_s, end_s)``, one row per second of the timeline, as arrays."""
        first, last = self._positions(start_s, end_s)
        columns = {c: np.zeros(last - first) for c in _COUNTERS}
        kinds: dict[str, np.ndarray] = {}
        for endpoint, (rows, _) in self._records.items():
            if not _selected(name, endpoint):
                continue
            found = self._counters[endpoint]
            lo, hi = np.searchsorted(rows, (first, last))
            at = rows[lo:hi] - first  # an endpoint has at most one record per second
            for c in _COUNTERS:
                columns[c][at] += found.columns[c][lo:hi]
            for kind, n in found.by_kind.items():
                kinds.setdefault(kind, np.zeros(last - first))[at] += n[lo:hi]
        return SecondCounters(
            t=self._times[first:last],
            count=columns["count"].astype(np.int64),
            failures=columns["failures"].astype(np.int64),
            bytes=columns["bytes"].astype(np.int64),
            sum_us=columns["sum_us"],
            sumsq_us=columns["sumsq_us"],
            failures_by_kind={k: v.astype(np.int64) for k, v in sorted(kinds.items())},
            latency_count=columns["latency_count"].astype(np.int64),
            fail_sum_us=columns["fail_sum_us"],
            fail_sumsq_us=columns["fail_sumsq_us"],
            svc_count=columns["svc_count"].astype(np.int64),
            svc_sum_us=columns["svc_sum_us"],
            svc_sumsq_us=columns["svc_sumsq_us"],
        )

    def select(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> list[RequestSecond]:
        """The records ``Timeline.select`` gives, an endpoint's found through the index
        instead of by scanning every second."""
        endpoint = None if name is None else self._one_endpoint(name)
        if endpoint is None:
            return list(self.timeline.select(name, start_s, end_s))
        first, last = self._positions(start_s, end_s)
        rows, records = self._records[endpoint]
        lo, hi = np.searchsorted(rows, (first, last))
        return records[lo:hi]

    def buckets(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> BucketRows:
        """The latency histograms of ``counters(name, start_s, end_s)``, row for row, as
        sparse bucket counts: what estimators and per-second percentiles read, without
        decoding one HdrHistogram per second."""
        first, last = self._positions(start_s, end_s)
        if name is None:
            return self._all_rows().slice(first, last)
        endpoint = self._one_endpoint(name)
        if endpoint is None:
            return self._read(name, first, last)
        return self._endpoint_rows(endpoint).slice(first, last)

    def service_buckets(
        self, name: str | None = None, start_s: int | None = None, end_s: int | None = None
    ) -> BucketRows:
        """The service-time histograms (actual send to response) of the successful
        open-model requests of ``counters(name, start_s, end_s)``, row for row (the
        ``svc_count`` column counts them); empty rows for closed-model requests. An
        endpoint's are decoded once for the run, on first use, and kept."""
        first, last = self._positions(start_s, end_s)
        found = [e for e in self._records if _selected(name, e)]
        parts = [self._endpoint_service_rows(e) for e in found]
        if len(parts) == 1:
            return parts[0].slice(first, last)
        merged = merged_rows(parts, len(self._times), narrow=True) if parts else None
        if merged is None:
            return rows_from_blobs(np.zeros(0, dtype=np.int64), [], last - first)
        return merged.slice(first, last)

    def _endpoint_service_rows(self, endpoint: Endpoint) -> BucketRows:
        if endpoint not in self._service_rows:
            at, records = self._records[endpoint]
            blobs = [b for r in records for b in r.svc_hist_blobs]
            rows = np.repeat(at, [len(r.svc_hist_blobs) for r in records])
            self._service_rows[endpoint] = rows_from_blobs(
                rows, blobs, len(self._times), narrow=True
            )
        return self._service_rows[endpoint]

    def _positions(self, start_s: int | None, end_s: int | None) -> tuple[int, int]:
        """Rows of the seconds in ``[start_s, end_s)`` (seconds are in time order)."""
        first = 0 if start_s is None else int(np.searchsorted(self._times, start_s))
        last = len(self._times) if end_s is None else int(np.searchsorted(self._times, end_s))
        return first, max(first, last)

    def _one_endpoint(self, name: str) -> Endpoint | None:
        """The endpoint ``name`` selects, if it selects exactly one; else ``None``."""
        found = [(m, n) for m, n in self._records if selects(name, m, n)]
        return found[0] if len(found) == 1 else None

    def _endpoint_rows(self, endpoint: Endpoint) -> BucketRows:
        """The endpoint's histograms over the whole run, decoded on first use and kept (or
        as the reader decoded them to check them)."""
        if endpoint not in self._rows and endpoint in self.timeline.decoded_rows:
            self._rows[endpoint] = self.timeline.decoded_rows[endpoint]
        if endpoint not in self._rows:
            at, records = self._records[endpoint]
            blobs = [b for r in records for b in r.hist_blobs]
            rows = np.repeat(at, [len(r.hist_blobs) for r in records])
            self._rows[endpoint] = rows_from_blobs(rows, blobs, len(self._times), narrow=True)
        return self._rows[endpoint]

    def _all_rows(self) -> BucketRows:
        """All requests together over the whole run: every endpoint's rows merged, kept."""
        if self._all is None:
            if self._records:
                parts = [self._endpoint_rows(e) for e in self._records if _selected(None, e)]
                self._all = merged_rows(parts, len(self._times), narrow=True)
            else:
                self._all = rows_from_blobs(np.zeros(0, dtype=np.int64), [], len(self._times))
        return self._all

    def _read(self, name: str, first: int, last: int) -> BucketRows:
        """The histograms of every record ``name`` matches, read from the records."""
        rows: list[int] = []
        blobs: list[str] = []
        for row, second in enumerate(self.timeline.seconds[first:last]):
            for r in second.requests:
                if _matches(r, name):
                    rows += [row] * len(r.hist_blobs)
                    blobs += r.hist_blobs
        return rows_from_blobs(np.array(rows, dtype=np.int64), blobs, last - first)


def _selected(name: str | None, endpoint: Endpoint) -> bool:
    """Whether ``name`` selects ``endpoint``; ``None``, all requests together, leaves the
    aggregates (a transaction's, a poll's total) out, as ``Timeline.select`` does."""
    if name is None:
        return not is_aggregate(endpoint)
    return selects(name, *endpoint)
