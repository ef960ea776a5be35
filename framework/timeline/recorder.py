"""Per-second request recording on load generators, and its merging on the master.

Locust's own statistics round latencies to about two significant digits and keep no
variance, so they cannot carry a baseline. Each worker therefore records every request
into a ``SecondRecorder`` (exact counters plus an HdrHistogram per second and endpoint),
ships ``drain()``'s payload inside Locust's regular worker report, and the master feeds
every payload to a ``TimelineMerger``, which decides when a second is complete and hands
it to the ``TimelineWriter``. Nothing here reads a clock or imports Locust: times are
passed in, so the closing rules are tested on literals.

    >>> rec = SecondRecorder()
    >>> rec.record("/ok", "GET", t_s=100.2, latency_ms=1.5, size_bytes=10, failure_kind=None)
    >>> merger = TimelineMerger(grace_s=5.0)
    >>> merger.add("w1", rec.drain(now_s=101.3), now_s=101.3)
    0
    >>> [(s.t, s.count) for s in merger.close(now_s=101.4).seconds]
    [(100, 1)]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypedDict

from framework.timeline.records import (
    HISTOGRAM_HIGHEST_US,
    MAX_FAILURE_MESSAGES,
    MAX_MESSAGE_CHARS,
    RequestRecord,
    RequestSecond,
    Second,
    encode_histogram,
    new_histogram,
)

__all__ = [
    "PAYLOAD_VERSION",
    "TEMPLATE",
    "TIMEOUT",
    "MergeResult",
    "RecorderPayload",
    "SecondRecorder",
    "TimelineMerger",
    "failure_kind",
    "failure_message",
    "is_timeout",
]


class RecorderPayload(TypedDict):
    """What a worker adds to its Locust report (msgpack-able), under ``PAYLOAD_KEY`` in glue.

    ``complete_before_s`` is the worker's promise that it holds nothing more for earlier
    seconds: requests are keyed by their completion second, so everything recorded later
    belongs to that second or after.
    """

    v: int
    complete_before_s: int
    records: list[RequestRecord]


# A cell is a list, not an object, because ``record`` runs once per request on the worker
# and list indexing is the cheapest mutable access CPython offers:
# [count, bytes, sum_us, sumsq_us, failures {kind: n}, buckets {hdr counts index: n},
#  fail_sum_us, fail_sumsq_us, fail_buckets {hdr counts index: n}, messages {text: n}]
# The latency fields of successes and failures are kept apart (design contract 6).
_Cell = list


class SecondRecorder:
    """Exact per-second, per-endpoint counters and latency histograms on one load generator.

    ``record`` costs about a microsecond: instead of HdrHistogram's ``record_value`` it
    computes the same counts-array index with ``int.bit_length`` and counts it in a dict,
    so an idle endpoint costs a few hundred bytes rather than a 185 KB counts array. The
    histogram is built once per cell, in ``drain``.
    """

    def __init__(self) -> None:
        self._cells: dict[tuple[int, str, str], _Cell] = {}
        self.recorded = 0

    def record(
        self,
        name: str,
        method: str,
        t_s: float,
        latency_ms: float,
        size_bytes: int,
        failure_kind: str | None,
        failure_message: str | None = None,
    ) -> None:
        """Count one request that completed at unix time ``t_s`` (seconds).

        A failure's ``failure_message`` (see ``failure_message``) is counted too, up to
        ``MAX_FAILURE_MESSAGES`` distinct ones per second and endpoint; later new ones are
        left out (the record's "other messages"), their failures still counted by kind.
        """
        key = (math.floor(t_s), method, name)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0, 0, 0, 0, {}, {}, 0, 0, {}, {}]
        us = round(latency_ms * 1000.0)
        if us < 0:
            us = 0
        cell[0] += 1
        cell[1] += size_bytes or 0
        if failure_kind is None:
            cell[2] += us
            cell[3] += us * us
            buckets = cell[5]
        else:
            failures = cell[4]
            failures[failure_kind] = failures.get(failure_kind, 0) + 1
            cell[6] += us
            cell[7] += us * us
            buckets = cell[8]
            if failure_message is not None:
                messages = cell[9]
                text = failure_message[:MAX_MESSAGE_CHARS]
                if text in messages:
                    messages[text] += 1
                elif len(messages) < MAX_FAILURE_MESSAGES:
                    messages[text] = 1
        v = us if us <= HISTOGRAM_HIGHEST_US else HISTOGRAM_HIGHEST_US
        bucket = (v | _SUB_BUCKET_MASK).bit_length() - _BUCKET_SHIFT
        index = ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (v >> bucket) - _HALF_COUNT
        buckets[index] = buckets.get(index, 0) + 1
        self.recorded += 1

    def drain(self, now_s: float, *, before_s: int | None = None) -> RecorderPayload:
        """Hand over (and forget) what was recorded, by default the open second included.

        Workers ship everything: the timeline's totals then equal Locust's, which are
        computed from the very same report, and the master adds partial seconds together.
        A local run drains only whole seconds (``before_s=floor(now)``), so each second
        is encoded once and never has to be decoded and merged again.
        """
        mark = math.floor(now_s)
        if before_s is None:
            cells, self._cells = self._cells, {}
        else:
            cells = {key: cell for key, cell in self._cells.items() if key[0] < before_s}
            for key in cells:
                del self._cells[key]
            mark = min(mark, before_s)
        records = [_cell_record(t, method, name, cell) for (t, method, name), cell in cells.items()]
        return RecorderPayload(v=PAYLOAD_VERSION, complete_before_s=mark, records=records)

    @property
    def pending_cells(self) -> int:
        return len(self._cells)


def _cell_record(t: int, method: str, name: str, cell: _Cell) -> RequestRecord:
    count, size, sum_us, sumsq_us, failures, buckets, fail_sum_us, fail_sumsq_us, fail_buckets = (
        cell[:9]
    )
    record = RequestRecord(
        t=t,
        method=method,
        name=name,
        count=count,
        failures=failures,
        bytes=size,
        sum_us=sum_us,
        sumsq_us=_wire_int(sumsq_us),
        hist=_encoded(buckets),
    )
    if failures:
        record["fail_sum_us"] = fail_sum_us
        record["fail_sumsq_us"] = _wire_int(fail_sumsq_us)
        record["fail_hist"] = _encoded(fail_buckets)
    if cell[9]:
        record["failure_messages"] = cell[9]
    return record


def _wire_int(value: int) -> int | float:
    """msgpack carries at most 64-bit integers; past that a float keeps 16 digits."""
    return value if value < 2**63 else float(value)


def _encoded(buckets: dict[int, int]) -> str:
    """The encoded histogram of ``{counts index: n}`` ("" when empty)."""
    if not buckets:
        return ""
    histogram = new_histogram()
    counts = histogram.counts
    for index, n in buckets.items():
        counts[index] = n
    histogram.set_internal_tacking_values(min(buckets), max(buckets), sum(buckets.values()))
    return encode_histogram(histogram, release=True)


def failure_kind(exception: object, status_code: int | None = None) -> str | None:
    """A short, stable label for why a request failed, for the ``failures`` counters.

    ``"expectation"`` when the scenario's own check failed (Locust's ``CatchResponseError``
    / ``ResponseError``), ``"template"`` when the request's templates failed to render (it
    was never sent), ``"HTTP 503"`` for an error status, ``"timeout"`` for any client
    timeout (``TimeoutError``, gevent's ``Timeout``, requests' ``ReadTimeout``...: their
    latency is only a lower bound, so the statistics must find them under one name),
    otherwise the exception's class name (``"ConnectionRefusedError"``). ``None`` means
    success.

    >>> failure_kind(None), failure_kind(ConnectionRefusedError(), 0), failure_kind(OSError(), 500)
    (None, 'ConnectionRefusedError', 'HTTP 500')
    """
    if exception is None:
        return None
    if isinstance(exception, str):
        return "expectation"
    original = getattr(exception, "original", None)
    if isinstance(original, BaseException):
        # geventhttpclient wraps the real cause (a socket timeout) in RetriesExceeded.
        return failure_kind(original, status_code)
    cls = type(exception).__name__
    if cls in ("CatchResponseError", "ResponseError"):
        return "expectation"
    if cls == "TemplateRenderError":  # framework.scenario.templates, raised by the glue
        return TEMPLATE
    if status_code is not None and status_code >= 400:
        return f"HTTP {status_code}"
    if isinstance(exception, TimeoutError) or is_timeout(cls):
        return TIMEOUT
    return cls


def failure_message(exception: object) -> str:
    """What a failure said, short and stable enough to count: ``"CatchResponseError:
    expected status 200, got 500"``, the exception's class and its text on one line, memory
    addresses taken out (``<Foo object at 0x7f…>`` would make each failure unique), cut to
    ``MAX_MESSAGE_CHARS``. The exception must already be clean of secrets: the glue's
    request events are (``locust_glue.redaction``).

    >>> failure_message(ConnectionRefusedError(111, "Connection refused"))
    'ConnectionRefusedError: [Errno 111] Connection refused'
    >>> failure_message("expected status 200, got 500")
    'expected status 200, got 500'
    """
    if isinstance(exception, str):
        text = exception
    else:
        original = getattr(exception, "original", None)
        if isinstance(original, BaseException):  # geventhttpclient's RetriesExceeded
            return failure_message(original)
        cls = type(exception).__name__
        try:
            detail = str(exception)
        except Exception:
            detail = ""
        text = f"{cls}: {detail}" if detail else cls
    text = _ADDRESS.sub("", " ".join(text.split()))
    return text[:MAX_MESSAGE_CHARS]


def is_timeout(kind: str) -> bool:
    """Whether a failure kind (or an exception's class name) means a client timeout.

    By wording, not only ``kind == TIMEOUT``: ``failure_kind`` turns every timeout it
    recognises into ``TIMEOUT``, but a timeline may carry other words for one (``"timed
    out"``, ``"ReadTimeout"``), and a timed-out request must count as one wherever read.

    >>> is_timeout(TIMEOUT), is_timeout("ReadTimeout"), is_timeout("HTTP 504")
    (True, True, False)
    """
    return any(word in kind.lower() for word in _TIMEOUT_WORDS)


@dataclass(frozen=True)
class MergeResult:
    """What ``TimelineMerger.close`` releases: seconds now complete, and corrections."""

    seconds: tuple[Second, ...] = ()
    late: tuple[RequestSecond, ...] = ()


class TimelineMerger:
    """Adds worker payloads by second and decides when a second is complete.

    A second ``s`` closes when every *reporting* worker has promised nothing more for it
    (``complete_before_s > s``), or once the master's clock passes ``s + 1 + grace_s``.
    A worker counts as reporting while its last payload is younger than ``grace_s``, so a
    dead worker holds seconds back for at most ``grace_s``. Data for a second already
    released is kept and returned as a ``late`` correction, never dropped.

    Memory is bounded by the open seconds (about ``grace_s`` + the report interval), each
    holding undecoded histogram blobs, whatever the request rate or run length.
    """

    def __init__(self, *, grace_s: float = 5.0) -> None:
        if grace_s < 0:
            raise ValueError(f"TimelineMerger: grace_s must be >= 0, got {grace_s}")
        self.grace_s = grace_s
        self._pending: dict[int, dict[tuple[str, str], RequestSecond]] = {}
        self._late: dict[tuple[int, str, str], RequestSecond] = {}
        self._watermark: dict[str, int] = {}
        self._last_seen_s: dict[str, float] = {}
        self._gauges: dict[int, tuple[int | None, int | None, float | None]] = {}
        self._carried: tuple[int | None, int | None, float | None] = (None, None, None)
        self._next_s: int | None = None
        self.late_records = 0
        self.late_requests = 0
        self.merged_requests = 0

    @property
    def next_s(self) -> int | None:
        """The first second not yet released (``None`` before anything was seen)."""
        return self._next_s

    @property
    def open_seconds(self) -> int:
        return len(self._pending)

    def add(self, worker_id: str, payload: RecorderPayload, now_s: float) -> int:
        """Merge one worker payload received at master time ``now_s``; returns late records."""
        self._watermark[worker_id] = max(
            self._watermark.get(worker_id, payload["complete_before_s"]),
            payload["complete_before_s"],
        )
        self._last_seen_s[worker_id] = now_s
        late = 0
        for record in payload["records"]:
            r = RequestSecond.from_record(record)
            self.merged_requests += r.count
            if self._next_s is not None and r.t < self._next_s:
                key = (r.t, r.method, r.name)
                self._late[key] = self._late[key].combine(r) if key in self._late else r
                self.late_records += 1
                self.late_requests += r.count
                late += 1
                continue
            cells = self._pending.setdefault(r.t, {})
            endpoint = (r.method, r.name)
            cells[endpoint] = cells[endpoint].combine(r) if endpoint in cells else r
        return late

    def forget(self, worker_id: str) -> None:
        """Stop waiting for a worker known to be gone (its data, if any, is still merged)."""
        self._watermark.pop(worker_id, None)
        self._last_seen_s.pop(worker_id, None)

    def observe(
        self,
        now_s: float,
        *,
        users: int | None,
        workers: int | None,
        cpu_percent: float | None = None,
    ) -> None:
        """Sample the load applied during second ``floor(now_s)``; the last sample wins."""
        self._gauges[math.floor(now_s)] = (users, workers, cpu_percent)

    def close(self, now_s: float) -> MergeResult:
        """Release every second that is complete at master time ``now_s``, in order."""
        floor_now = math.floor(now_s)
        limit = math.floor(now_s - self.grace_s)
        reporting = [
            mark
            for worker, mark in self._watermark.items()
            if self._last_seen_s[worker] >= now_s - self.grace_s
        ]
        promised = min(reporting) if reporting else floor_now
        return self._release(max(limit, min(promised, floor_now)))

    def fresh(self) -> TimelineMerger:
        """An empty merger for the next run in this process that keeps the workers' promises,
        so its first seconds wait for their reports as a running merger's would."""
        merger = TimelineMerger(grace_s=self.grace_s)
        merger._watermark = dict(self._watermark)
        merger._last_seen_s = dict(self._last_seen_s)
        return merger

    def promised_through(self, second: int, now_s: float) -> bool:
        """Whether every reporting worker has promised nothing more for ``second`` and before:
        after a stop, the master's sign that the run's last requests have all arrived."""
        return all(
            mark > second
            for worker, mark in self._watermark.items()
            if self._last_seen_s[worker] >= now_s - self.grace_s
        )

    def finish(self) -> MergeResult:
        """Release everything held, the partial last second included (the run is over)."""
        known = [*self._pending, *self._gauges]
        limit = max(known) + 1 if known else (self._next_s or 0)
        return self._release(limit)

    def _release(self, limit: int) -> MergeResult:
        if self._next_s is None:
            known = [*self._pending, *self._gauges]
            if not known:
                return MergeResult(late=self._take_late())
            self._next_s = min(known)
        seconds = []
        for t in range(self._next_s, limit):
            users, workers, cpu = self._gauges.pop(t, self._carried)
            self._carried = (users, workers, cpu)
            cells = self._pending.pop(t, {})
            requests = tuple(sorted(cells.values(), key=lambda r: r.key))
            seconds.append(
                Second(t=t, users=users, workers=workers, requests=requests, cpu_percent=cpu)
            )
        self._next_s = max(self._next_s, limit)
        for t in [t for t in self._gauges if t < self._next_s]:
            del self._gauges[t]
        return MergeResult(seconds=tuple(seconds), late=self._take_late())

    def _take_late(self) -> tuple[RequestSecond, ...]:
        late, self._late = self._late, {}
        return tuple(late[k] for k in sorted(late))


def _index_constants() -> tuple[int, int, int, int]:
    """HdrHistogram's counts-index parameters for the timeline's histogram settings."""
    h = new_histogram()
    if h.unit_magnitude != 0:  # lowest trackable value 1 µs; the fast index assumes it
        raise RuntimeError("SecondRecorder's fast index needs a lowest trackable value of 1")
    shift = h.sub_bucket_half_count_magnitude + 1
    return h.sub_bucket_mask, shift, h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count


PAYLOAD_VERSION = 2  # 2: failures' latencies apart from the successes' (timeline version 2)
TIMEOUT = "timeout"
TEMPLATE = "template"
_TIMEOUT_WORDS = (TIMEOUT, "timed out")
_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")
_SUB_BUCKET_MASK, _BUCKET_SHIFT, _HALF_COUNT_MAGNITUDE, _HALF_COUNT = _index_constants()
