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

Open-model load (timeline version 3): an arrival due at 200.0 that started 2 ms late and
was answered 30 ms after it was due, 28 ms after it was sent; another one due in that
second found ``max_in_flight`` reached and was dropped. Arrivals are keyed by the second
they were *due*, requests (as always) by the second they completed::

    >>> rec = SecondRecorder()
    >>> rec.record_arrival("writers", due_s=200.0, lag_ms=2.0, in_flight=1)
    >>> rec.record_dropped("writers", due_s=200.5)
    >>> rec.record_open("/w", "POST", t_s=200.03, latency_ms=30.0, service_ms=28.0,
    ...                 size_bytes=5, failure_kind=None)
    >>> payload = rec.drain(now_s=201.2)
    >>> [(a["t"], a["group"], a["due"], a["started"], a["dropped"]) for a in payload["arrivals"]]
    [(200, 'writers', 2, 1, 1)]
    >>> merger = TimelineMerger(grace_s=5.0)
    >>> merger.add("w1", payload, now_s=201.2)
    0
    >>> (second,) = merger.close(now_s=201.3).seconds
    >>> r, a = second.requests[0], second.arrivals[0]
    >>> r.sum_us, r.svc_sum_us, a.lag_sum_us, a.dropped
    (30000, 28000, 2000, 1)
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import NotRequired, TypedDict

import numpy as np

from framework.timeline.metric_records import Dims, MetricRecord, MetricSecond
from framework.timeline.records import (
    HISTOGRAM_HIGHEST_US,
    MAX_FAILURE_MESSAGES,
    MAX_MESSAGE_CHARS,
    ArrivalRecord,
    ArrivalSecond,
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
    belongs to that second or after. Arrivals (version 3) are keyed by the second they were
    due: one that starts after that second was drained arrives late, and is merged as a
    correction like a late request. ``metrics`` (version 4) are the custom metrics the
    process's ``MetricRecorder`` held (the glue adds them), keyed by the second they were
    recorded in.
    """

    v: int
    complete_before_s: int
    records: list[RequestRecord]
    arrivals: NotRequired[list[ArrivalRecord]]
    metrics: NotRequired[list[MetricRecord]]


# A cell is a list, not an object, because it is updated for every failure (and every
# batch of successes) on the worker, and list indexing is the cheapest mutable access
# CPython offers:
# [count, bytes, sum_us, sumsq_us, failures {kind: n}, buckets {hdr counts index: n},
#  fail_sum_us, fail_sumsq_us, fail_buckets {hdr counts index: n}, messages {text: n},
#  service times [ms, ...] of the successful open-model requests]
# The latency fields of successes and failures are kept apart (design contract 6); the
# service times (``record_open``) are counted when drained.
_Cell = list
_Gauges = tuple[int | None, int | None, float | None, Mapping[str, int]]
"""users, workers, cpu_percent, active: the load sampled in one second."""
# An arrival cell, per (due second, group), for the same reason:
# [started, dropped, lag_sum_us, lag_sumsq_us, lag_buckets {hdr counts index: n},
#  in_flight_max]
_ArrivalCell = list


class SecondRecorder:
    """Exact per-second, per-endpoint counters and latency histograms on one load generator.

    A successful request costs one list append on the load generator's hot path
    (``successes``, or ``record``): they are counted in batches (``_fold``, on every
    ``drain``), each second and endpoint's latencies in one vectorised pass, which costs far
    less than counting each as it comes. A failure is counted at once (``record``): its
    kind and message need it. Instead of HdrHistogram's ``record_value`` the counts-array
    index is computed (``int.bit_length``, or numpy's ``frexp`` in a batch) and counted in
    a dict, so an idle endpoint costs a few hundred bytes rather than a 185 KB counts
    array. The histogram is built once per cell, in ``drain``.
    """

    def __init__(self) -> None:
        self._cells: dict[tuple[int, str, str], _Cell] = {}
        self._arrivals: dict[tuple[int, str], _ArrivalCell] = {}
        self._tallied = 0
        self.successes: list[tuple[float, str, str, float, int]] = []
        """Successful requests not counted yet: ``(t_s, method, name, latency_ms,
        size_bytes)``, appended by the request listener (``record`` does the same). The list
        is emptied in place, never replaced, so a bound ``successes.append`` stays valid.
        They wait for the next ``drain``: ~130 bytes each."""

    @property
    def recorded(self) -> int:
        """Requests recorded so far, counted or not (drains do not reset it)."""
        return self._tallied + len(self.successes)

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
        if failure_kind is None:
            self.successes.append((t_s, method, name, latency_ms, size_bytes or 0))
            return
        key = (math.floor(t_s), method, name)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0, 0, 0, 0, {}, {}, 0, 0, {}, {}, []]
        _count_failure(cell, latency_ms, size_bytes, failure_kind, failure_message)
        self._tallied += 1

    def _fold(self) -> None:
        """Count the waiting ``successes`` into their cells: grouped by second and endpoint,
        each group's latencies counted in one pass (``_counted``, exactly as ``record``
        would count them one by one)."""
        if not self.successes:
            return
        batch = self.successes[:]
        # in place (the listener holds the list's append), and only what was taken: a
        # request a thread records meanwhile stays for the next fold
        del self.successes[: len(batch)]
        groups: dict[tuple[int, str, str], list] = {}
        floor = math.floor
        for t_s, method, name, latency_ms, size_bytes in batch:
            key = (floor(t_s), method, name)
            group = groups.get(key)
            if group is None:
                group = groups[key] = [[], 0]
            group[0].append(latency_ms)
            group[1] += size_bytes
        cells = self._cells
        for key, (latencies, size_bytes) in groups.items():
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = [0, 0, 0, 0, {}, {}, 0, 0, {}, {}, []]
            count, total, squares, found = _counted(latencies)
            cell[0] += count
            cell[1] += size_bytes
            cell[2] += total
            cell[3] += squares
            buckets = cell[5]
            for index, n in found.items():
                buckets[index] = buckets.get(index, 0) + n
        self._tallied += len(batch)

    def record_open(
        self,
        name: str,
        method: str,
        t_s: float,
        latency_ms: float,
        service_ms: float,
        size_bytes: int,
        failure_kind: str | None,
        failure_message: str | None = None,
    ) -> None:
        """Count one open-model request that completed at unix time ``t_s`` (seconds).

        ``latency_ms`` is its response time from the *intended* start (the moment its
        arrival was due): it goes where ``record`` puts a latency, so every figure shows
        what a user of the service saw, coordinated omission included. ``service_ms`` is
        the time from the actual send to the response (Locust's ``response_time``); it is
        kept apart (``svc_*``) for successful requests only.

        A success costs about what counting one costs (a failure is counted as ``record``
        counts it): the body is spelled out rather than shared (a second call and cell
        lookup would cost a third more), and the service times are kept as they come, a list
        per cell, counted in ``drain`` in one vectorised pass (counting them here, like the
        latency, would cost two thirds more). The lists live until the next drain (a report
        interval): 8 bytes a request.
        """
        key = (math.floor(t_s), method, name)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0, 0, 0, 0, {}, {}, 0, 0, {}, {}, []]
        self._tallied += 1
        if failure_kind is not None:
            _count_failure(cell, latency_ms, size_bytes, failure_kind, failure_message)
            return
        us = round(latency_ms * 1000.0)
        if us < 0:
            us = 0
        cell[0] += 1
        cell[1] += size_bytes or 0
        cell[2] += us
        cell[3] += us * us
        cell[10].append(service_ms)  # counted in drain, vectorised
        v = us if us <= HISTOGRAM_HIGHEST_US else HISTOGRAM_HIGHEST_US
        bucket = (v | _SUB_BUCKET_MASK).bit_length() - _BUCKET_SHIFT
        index = ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (v >> bucket) - _HALF_COUNT
        buckets = cell[5]
        buckets[index] = buckets.get(index, 0) + 1

    def record_arrival(self, group: str, due_s: float, lag_ms: float, in_flight: int) -> None:
        """Count one arrival of load group ``group`` that started ``lag_ms`` after it was
        due at unix time ``due_s``, with ``in_flight`` of the group's arrivals (itself
        included) then in flight on this load generator.

        Keyed by the second it was *due*, so a generator that falls behind shows it in the
        seconds whose schedule it missed. A negative lag (a clock's jitter) counts as 0.
        """
        key = (math.floor(due_s), group)
        cell = self._arrivals.get(key)
        if cell is None:
            cell = self._arrivals[key] = [0, 0, 0, 0, {}, 0]
        us = round(lag_ms * 1000.0)
        if us < 0:
            us = 0
        cell[0] += 1
        cell[2] += us
        cell[3] += us * us
        v = us if us <= HISTOGRAM_HIGHEST_US else HISTOGRAM_HIGHEST_US
        bucket = (v | _SUB_BUCKET_MASK).bit_length() - _BUCKET_SHIFT
        index = ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (v >> bucket) - _HALF_COUNT
        buckets = cell[4]
        buckets[index] = buckets.get(index, 0) + 1
        if in_flight > cell[5]:
            cell[5] = in_flight

    def record_dropped(self, group: str, due_s: float, count: int = 1) -> None:
        """Count ``count`` arrivals of ``group`` due at unix time ``due_s`` that could not
        start (no free slot under ``max_in_flight``): dropped, and never silently."""
        if count < 0:
            raise ValueError(f"record_dropped: count must be >= 0, got {count}")
        key = (math.floor(due_s), group)
        cell = self._arrivals.get(key)
        if cell is None:
            cell = self._arrivals[key] = [0, 0, 0, 0, {}, 0]
        cell[1] += count

    def drain(self, now_s: float, *, before_s: int | None = None) -> RecorderPayload:
        """Hand over (and forget) what was recorded, by default the open second included.

        Workers ship everything: the timeline's totals then equal Locust's, which are
        computed from the very same report, and the master adds partial seconds together.
        A local run drains only whole seconds (``before_s=floor(now)``), so each second
        is encoded once and never has to be decoded and merged again.
        """
        self._fold()
        mark = math.floor(now_s)
        if before_s is None:
            cells, self._cells = self._cells, {}
            arrivals, self._arrivals = self._arrivals, {}
        else:
            cells = {key: cell for key, cell in self._cells.items() if key[0] < before_s}
            for key in cells:
                del self._cells[key]
            arrivals = {key: cell for key, cell in self._arrivals.items() if key[0] < before_s}
            for key in arrivals:
                del self._arrivals[key]
            mark = min(mark, before_s)
        records = [_cell_record(t, method, name, cell) for (t, method, name), cell in cells.items()]
        return RecorderPayload(
            v=PAYLOAD_VERSION,
            complete_before_s=mark,
            records=records,
            arrivals=[_arrival_record(t, group, cell) for (t, group), cell in arrivals.items()],
        )

    @property
    def pending_cells(self) -> int:
        """Cells held: one per second and endpoint, plus one per second and load group."""
        self._fold()
        return len(self._cells) + len(self._arrivals)


def _count_failure(
    cell: _Cell,
    latency_ms: float,
    size_bytes: int,
    failure_kind: str,
    failure_message: str | None,
) -> None:
    """Count one failed request into its cell: its kind, message, latency apart from the
    successes' (design contract 6)."""
    us = round(latency_ms * 1000.0)
    if us < 0:
        us = 0
    cell[0] += 1
    cell[1] += size_bytes or 0
    failures = cell[4]
    failures[failure_kind] = failures.get(failure_kind, 0) + 1
    cell[6] += us
    cell[7] += us * us
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
    buckets = cell[8]
    buckets[index] = buckets.get(index, 0) + 1


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
    if cell[10]:
        svc_count, svc_sum_us, svc_sumsq_us, svc_buckets = _counted(cell[10])
        record["svc_count"] = svc_count
        record["svc_sum_us"] = svc_sum_us
        record["svc_sumsq_us"] = _wire_int(svc_sumsq_us)
        record["svc_hist"] = _encoded(svc_buckets)
    return record


def _counted(values_ms: list[float]) -> tuple[int, int, int, dict[int, int]]:
    """Count, exact sum and sum of squares (whole µs, as ``record`` rounds them) and the
    ``{hdr counts index: n}`` of some latencies: in one vectorised pass, or for a few of
    them (where numpy's fixed cost dominates) the way ``record`` counts them.

    ``np.rint`` rounds half to even on the same float64 product as ``round``, and the
    bucket index is ``record``'s, with ``frexp``'s exponent as ``bit_length`` (exact for
    these values, all below 2**53). The sums stay exact: int64 while they provably fit.
    """
    if len(values_ms) < _FEW:
        buckets: dict[int, int] = {}
        total = squares = 0
        for ms in values_ms:
            us = round(ms * 1000.0)
            if us < 0:
                us = 0
            total += us
            squares += us * us
            v = us if us <= HISTOGRAM_HIGHEST_US else HISTOGRAM_HIGHEST_US
            bucket = (v | _SUB_BUCKET_MASK).bit_length() - _BUCKET_SHIFT
            index = ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (v >> bucket) - _HALF_COUNT
            buckets[index] = buckets.get(index, 0) + 1
        return len(values_ms), total, squares, buckets
    us = np.maximum(np.rint(np.asarray(values_ms, dtype=np.float64) * 1000.0), 0.0)
    whole = us.astype(np.int64)
    largest = int(whole.max())
    if largest * largest * len(values_ms) < 2**63:
        total, squares = int(whole.sum()), int(np.dot(whole, whole))
    else:  # beyond int64: Python's integers
        ints = whole.tolist()
        total, squares = sum(ints), sum(map(operator.mul, ints, ints))
    v = np.minimum(whole, HISTOGRAM_HIGHEST_US)
    bucket = np.frexp((v | _SUB_BUCKET_MASK).astype(np.float64))[1] - _BUCKET_SHIFT
    index = ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + (v >> bucket) - _HALF_COUNT
    found, counts = np.unique(index, return_counts=True)
    return len(values_ms), total, squares, dict(zip(found.tolist(), counts.tolist(), strict=True))


def _arrival_record(t: int, group: str, cell: _ArrivalCell) -> ArrivalRecord:
    started, dropped, lag_sum_us, lag_sumsq_us, buckets, in_flight_max = cell
    return ArrivalRecord(
        t=t,
        group=group,
        due=started + dropped,
        started=started,
        dropped=dropped,
        lag_sum_us=lag_sum_us,
        lag_sumsq_us=_wire_int(lag_sumsq_us),
        lag_hist=_encoded(buckets),
        in_flight_max=in_flight_max,
    )


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
    """What ``TimelineMerger.close`` releases: seconds now complete, and corrections.

    ``late`` holds request data for seconds already released (``TimelineWriter.write_late``),
    ``late_arrivals`` arrivals due in seconds already released
    (``TimelineWriter.write_late_arrival``): an arrival that started after its second was
    released, or a worker's report that came after the grace. ``late_metrics`` holds
    custom metrics of seconds already released (``TimelineWriter.write_late_metric``).
    """

    seconds: tuple[Second, ...] = ()
    late: tuple[RequestSecond, ...] = ()
    late_arrivals: tuple[ArrivalSecond, ...] = ()
    late_metrics: tuple[MetricSecond, ...] = ()


class TimelineMerger:
    """Adds worker payloads by second and decides when a second is complete.

    A second ``s`` closes when every *reporting* worker has promised nothing more for it
    (``complete_before_s > s``), or once the master's clock passes ``s + 1 + grace_s``.
    A worker counts as reporting while its last payload is younger than ``grace_s``, so a
    dead worker holds seconds back for at most ``grace_s``. Data for a second already
    released is kept and returned as a ``late`` correction, never dropped.

    Arrivals (open-model load) are added per (due second, load group): counts and lag
    histograms exactly, ``in_flight_max`` as the sum of the workers' maxima (an upper
    bound of the cluster's peak: their peaks need not coincide). A worker whose second is
    split across two of its reports counts its larger maximum once, not both. Arrivals for a second
    already released are returned in ``late_arrivals``, as late requests are.

    Custom metrics (version 4) are added per (second, name, dimension set) with
    ``MetricSecond.combine``: counts and sums exactly, histograms merged, a gauge's last
    value the one set most recently; those of a second already released go to
    ``late_metrics``. ``add_metrics`` merges the master's own (a gauge it polls) without
    counting the master as a reporting worker.

    Memory is bounded by the open seconds (about ``grace_s`` + the report interval), each
    holding undecoded histogram blobs, whatever the request rate or run length.
    """

    def __init__(self, *, grace_s: float = 5.0) -> None:
        if grace_s < 0:
            raise ValueError(f"TimelineMerger: grace_s must be >= 0, got {grace_s}")
        self.grace_s = grace_s
        self._pending: dict[int, dict[tuple[str, str], RequestSecond]] = {}
        self._late: dict[tuple[int, str, str], RequestSecond] = {}
        self._pending_arrivals: dict[int, dict[str, ArrivalSecond]] = {}
        self._arrival_peaks: dict[tuple[int, str], dict[str, int]] = {}
        self._late_arrivals: dict[tuple[int, str], ArrivalSecond] = {}
        self._pending_metrics: dict[int, dict[tuple[str, Dims], MetricSecond]] = {}
        self._late_metrics: dict[tuple[int, str, Dims], MetricSecond] = {}
        self._watermark: dict[str, int] = {}
        self._last_seen_s: dict[str, float] = {}
        self._gauges: dict[int, _Gauges] = {}
        self._carried: _Gauges = (None, None, None, {})
        self._next_s: int | None = None
        self.late_records = 0
        self.late_requests = 0
        self.merged_requests = 0
        self.late_arrival_records = 0
        self.late_metric_records = 0

    @property
    def next_s(self) -> int | None:
        """The first second not yet released (``None`` before anything was seen)."""
        return self._next_s

    @property
    def open_seconds(self) -> int:
        return len(self._pending)

    def add(self, worker_id: str, payload: RecorderPayload, now_s: float) -> int:
        """Merge one worker payload received at master time ``now_s``; returns late records
        (request and arrival records for seconds already released)."""
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
        for arrival in payload.get("arrivals") or ():
            a = ArrivalSecond.from_record(arrival)
            if self._next_s is not None and a.t < self._next_s:
                key = (a.t, a.group)
                held = self._late_arrivals.get(key)
                self._late_arrivals[key] = held.combine(a) if held is not None else a
                self.late_arrival_records += 1
                late += 1
                continue
            groups = self._pending_arrivals.setdefault(a.t, {})
            held = groups.get(a.group)
            groups[a.group] = held.combine(a) if held is not None else a
            peaks = self._arrival_peaks.setdefault((a.t, a.group), {})
            peaks[worker_id] = max(peaks.get(worker_id, 0), a.in_flight_max)
        return late + self.add_metrics(payload.get("metrics") or ())

    def add_metrics(self, records: Iterable[MetricRecord]) -> int:
        """Merge custom-metric records (a payload's, or the master's own recorder's,
        which promise nothing about any second); returns those of released seconds."""
        late = 0
        for record in records:
            m = MetricSecond.from_record(record)
            if self._next_s is not None and m.t < self._next_s:
                key = (m.t, m.name, m.dims)
                held = self._late_metrics.get(key)
                self._late_metrics[key] = held.combine(m) if held is not None else m
                self.late_metric_records += 1
                late += 1
                continue
            cells = self._pending_metrics.setdefault(m.t, {})
            held = cells.get(m.series)
            cells[m.series] = held.combine(m) if held is not None else m
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
        active: Mapping[str, int] | None = None,
    ) -> None:
        """Sample the load applied during second ``floor(now_s)``; the last sample wins.

        ``active`` is the load per group (closed groups: users running; open groups:
        arrivals in flight), summed over the workers by the caller; ``None`` or empty when
        the run has a single closed load.
        """
        self._gauges[math.floor(now_s)] = (users, workers, cpu_percent, dict(active or {}))

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
        known = [*self._pending, *self._gauges, *self._pending_arrivals, *self._pending_metrics]
        limit = max(known) + 1 if known else (self._next_s or 0)
        return self._release(limit)

    def _release(self, limit: int) -> MergeResult:
        if self._next_s is None:
            known = [*self._pending, *self._gauges, *self._pending_arrivals]
            known += self._pending_metrics
            if not known:
                return self._with_late(())
            self._next_s = min(known)
        seconds = []
        for t in range(self._next_s, limit):
            gauges = self._gauges.pop(t, self._carried)
            self._carried = gauges
            users, workers, cpu, active = gauges
            cells = self._pending.pop(t, {})
            requests = tuple(sorted(cells.values(), key=lambda r: r.key))
            groups = self._pending_arrivals.pop(t, {})
            measured = self._pending_metrics.pop(t, {})
            seconds.append(
                Second(
                    t=t,
                    users=users,
                    workers=workers,
                    requests=requests,
                    cpu_percent=cpu,
                    arrivals=tuple(self._peaked(t, groups[g]) for g in sorted(groups)),
                    active=active,
                    metrics=tuple(sorted(measured.values(), key=lambda m: m.key)),
                )
            )
        self._next_s = max(self._next_s, limit)
        for t in [t for t in self._gauges if t < self._next_s]:
            del self._gauges[t]
        return self._with_late(tuple(seconds))

    def _peaked(self, t: int, arrival: ArrivalSecond) -> ArrivalSecond:
        """``arrival`` with ``in_flight_max`` the sum of each worker's largest maximum."""
        peaks = self._arrival_peaks.pop((t, arrival.group), None)
        return arrival if peaks is None else replace(arrival, in_flight_max=sum(peaks.values()))

    def _with_late(self, seconds: tuple[Second, ...]) -> MergeResult:
        late, self._late = self._late, {}
        arrivals, self._late_arrivals = self._late_arrivals, {}
        measured, self._late_metrics = self._late_metrics, {}
        return MergeResult(
            seconds=seconds,
            late=tuple(late[k] for k in sorted(late)),
            late_arrivals=tuple(arrivals[k] for k in sorted(arrivals)),
            late_metrics=tuple(measured[k] for k in sorted(measured)),
        )


def _index_constants() -> tuple[int, int, int, int]:
    """HdrHistogram's counts-index parameters for the timeline's histogram settings."""
    h = new_histogram()
    if h.unit_magnitude != 0:  # lowest trackable value 1 µs; the fast index assumes it
        raise RuntimeError("SecondRecorder's fast index needs a lowest trackable value of 1")
    shift = h.sub_bucket_half_count_magnitude + 1
    return h.sub_bucket_mask, shift, h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count


PAYLOAD_VERSION = 4  # 2: failures' latencies apart from the successes' (timeline version 2)
# 3: open-model requests' service times and arrivals (timeline version 3)
# 4: custom metrics (``metrics``, timeline version 4)
TIMEOUT = "timeout"
TEMPLATE = "template"
_TIMEOUT_WORDS = (TIMEOUT, "timed out")
_FEW = 128  # below this many service times in a cell, ``_counted`` loops instead of numpy
_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")
_SUB_BUCKET_MASK, _BUCKET_SHIFT, _HALF_COUNT_MAGNITUDE, _HALF_COUNT = _index_constants()
