"""Worker-side recording and master-side merging, on literals (no Locust, no clock)."""

from __future__ import annotations

import random

import msgpack
import pytest

from framework.timeline.recorder import (
    TIMEOUT,
    SecondRecorder,
    TimelineMerger,
    failure_kind,
    is_timeout,
)
from framework.timeline.records import HISTOGRAM_HIGHEST_US, RequestSecond, new_histogram

PERCENTILES = (1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100)


def _requests(seed: int, n: int) -> list[tuple[str, str, float, float, int, str | None]]:
    """Deterministic (name, method, t_s, latency_ms, bytes, failure_kind) over 4 seconds."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name, method = rng.choice([("/ok", "GET"), ("/detect", "POST")])
        kind = rng.choice([None] * 8 + ["HTTP 500", "expectation"])
        out.append(
            (name, method, 100 + 4 * i / n, rng.lognormvariate(2, 1), rng.randint(0, 900), kind)
        )
    return out


def _record_all(recorder: SecondRecorder, requests) -> None:
    for name, method, t_s, ms, size, kind in requests:
        recorder.record(name, method, t_s=t_s, latency_ms=ms, size_bytes=size, failure_kind=kind)


def _released(merger: TimelineMerger) -> dict[tuple[int, str], RequestSecond]:
    return {(r.t, r.key): r for s in merger.finish().seconds for r in s.requests}


def _same_histogram(a, b) -> None:
    assert a.get_total_count() == b.get_total_count()
    assert a.get_min_value() == b.get_min_value()
    assert a.get_max_value() == b.get_max_value()
    for p in PERCENTILES:
        assert a.get_value_at_percentile(p) == b.get_value_at_percentile(p)


# --- recording ---


def test_fast_index_is_hdrhistograms_counts_index():
    from framework.timeline import recorder as r

    h = new_histogram()
    rng = random.Random(1)
    values = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 10**6, HISTOGRAM_HIGHEST_US]
    values += [rng.randint(0, HISTOGRAM_HIGHEST_US) for _ in range(20_000)]
    values += [int(rng.lognormvariate(8, 3)) % HISTOGRAM_HIGHEST_US for _ in range(20_000)]
    for v in values:
        bucket = (v | r._SUB_BUCKET_MASK).bit_length() - r._BUCKET_SHIFT
        index = ((bucket + 1) << r._HALF_COUNT_MAGNITUDE) + (v >> bucket) - r._HALF_COUNT
        assert index == h._counts_index_for(v), v


def test_counters_are_exact_and_keyed_by_completion_second_and_endpoint():
    rec = SecondRecorder()
    rec.record("/ok", "GET", t_s=100.1, latency_ms=1.0, size_bytes=10, failure_kind=None)
    rec.record("/ok", "GET", t_s=100.9, latency_ms=3.0, size_bytes=20, failure_kind="HTTP 500")
    rec.record("/ok", "POST", t_s=100.5, latency_ms=2.0, size_bytes=5, failure_kind=None)
    rec.record("/ok", "GET", t_s=101.0, latency_ms=0.0004, size_bytes=0, failure_kind=None)
    payload = rec.drain(now_s=101.5)
    got = {(p["t"], p["method"], p["name"]): p for p in payload["records"]}
    assert set(got) == {(100, "GET", "/ok"), (100, "POST", "/ok"), (101, "GET", "/ok")}
    first = got[(100, "GET", "/ok")]
    assert (first["count"], first["bytes"], first["failures"]) == (2, 30, {"HTTP 500": 1})
    # the failed request's latency is kept apart from the successful one's (version 2)
    assert (first["sum_us"], first["sumsq_us"]) == (1000, 1000**2)
    assert (first["fail_sum_us"], first["fail_sumsq_us"]) == (3000, 3000**2)
    assert got[(101, "GET", "/ok")]["sum_us"] == 0  # 0.4 µs rounds to 0, still counted
    assert payload["complete_before_s"] == 101


def test_drained_histogram_equals_hdrhistogram_record_value():
    rec, reference = SecondRecorder(), new_histogram()
    rng = random.Random(7)
    for _ in range(5_000):
        ms = rng.lognormvariate(3, 2)
        rec.record("/x", "GET", t_s=5.5, latency_ms=ms, size_bytes=0, failure_kind=None)
        reference.record_value(min(round(ms * 1000), HISTOGRAM_HIGHEST_US))
    (record,) = rec.drain(now_s=6.0)["records"]
    _same_histogram(RequestSecond.from_record(record).histogram, reference)


@pytest.mark.parametrize("per_cell", [1, 127, 128, 3_000])  # both sides of the numpy cut
def test_successes_counted_in_bulk_equal_each_counted_alone(per_cell):
    """What the listener appends is counted when drained, exactly as one by one: count,
    bytes, exact sums, histogram; a bound ``successes.append`` outlives every drain."""
    rng = random.Random(per_cell)
    rec = SecondRecorder()
    append = rec.successes.append  # as the request listener holds it
    expected: dict[tuple[int, str, str], list] = {}
    payloads = []
    for t in (100, 101, 102):
        for method, name in (("GET", "/a"), ("POST", "/b")):
            for _ in range(per_cell):
                ms = rng.choice([0.0004, 1e7, -1.0, rng.lognormvariate(1, 2)])
                size = rng.randint(0, 500)
                append((t + rng.random() * 0.999, method, name, ms, size))
                us = max(round(ms * 1000.0), 0)
                cell = expected.setdefault((t, method, name), [0, 0, 0, 0, new_histogram()])
                cell[0], cell[1] = cell[0] + 1, cell[1] + size
                cell[2], cell[3] = cell[2] + us, cell[3] + us * us
                cell[4].record_value(min(us, HISTOGRAM_HIGHEST_US))
        assert rec.recorded == sum(c[0] for c in expected.values())
        payloads.append(rec.drain(now_s=t + 1.5, before_s=t + 1))
    assert rec.successes == []
    got = {(r["t"], r["method"], r["name"]): r for p in payloads for r in p["records"]}
    assert set(got) == set(expected)
    for key, (count, size, total, squares, histogram) in expected.items():
        record = got[key]
        assert (record["count"], record["bytes"], record["failures"]) == (count, size, {})
        wire_squares = squares if squares < 2**63 else float(squares)  # as msgpack carries it
        assert (record["sum_us"], record["sumsq_us"]) == (total, wire_squares)
        _same_histogram(RequestSecond.from_record(record).histogram, histogram)


def test_latency_beyond_an_hour_is_clamped_in_histogram_but_exact_in_sum():
    rec = SecondRecorder()
    rec.record("/slow", "GET", t_s=1.0, latency_ms=7_200_000.0, size_bytes=0, failure_kind=None)
    (record,) = rec.drain(now_s=2.0)["records"]
    r = RequestSecond.from_record(record)
    assert r.sum_us == 7_200_000_000
    assert r.histogram.get_total_count() == 1


def test_drain_hands_over_once_and_is_msgpack_serialisable():
    rec = SecondRecorder()
    _record_all(rec, _requests(seed=3, n=500))
    payload = rec.drain(now_s=104.2)
    assert sum(p["count"] for p in payload["records"]) == 500
    assert msgpack.unpackb(msgpack.packb(payload)) == payload
    assert rec.drain(now_s=105.0) == {
        "v": 4,  # payload version 4: custom metrics may ride along
        "complete_before_s": 105,
        "records": [],
        "arrivals": [],
    }


def test_drain_before_a_second_keeps_the_open_second_for_later():
    rec = SecondRecorder()
    for t_s in (100.2, 100.8, 101.1, 101.5):
        rec.record("/ok", "GET", t_s=t_s, latency_ms=1, size_bytes=0, failure_kind=None)
    first = rec.drain(now_s=101.6, before_s=101)
    assert [(r["t"], r["count"]) for r in first["records"]] == [(100, 2)]
    assert first["complete_before_s"] == 101
    assert rec.pending_cells == 1
    rest = rec.drain(now_s=102.0)
    assert [(r["t"], r["count"]) for r in rest["records"]] == [(101, 2)]


def test_huge_sum_of_squares_is_sent_as_float_to_fit_msgpack():
    rec = SecondRecorder()
    for _ in range(3):
        rec.record("/hang", "GET", t_s=1.0, latency_ms=3_000_000.0, size_bytes=0, failure_kind=None)
    (record,) = rec.drain(now_s=2.0)["records"]
    assert isinstance(record["sumsq_us"], float)
    assert record["sumsq_us"] == pytest.approx(3 * 3e9**2)
    msgpack.packb(record)


@pytest.mark.parametrize(
    ("exception", "status", "kind"),
    [
        (None, 200, None),
        (OSError("500 Internal Server Error"), 500, "HTTP 500"),
        (ConnectionRefusedError(), 0, "ConnectionRefusedError"),
        (TimeoutError(), None, "timeout"),
        (type("ReadTimeout", (OSError,), {})(), None, "timeout"),
        (type("Timeout", (BaseException,), {})(), 0, "timeout"),
        (type("LocustBadStatusCode", (ConnectionError,), {})(), 404, "HTTP 404"),
        (type("CatchResponseError", (Exception,), {})("wrong body"), 200, "expectation"),
        (type("CatchResponseError", (Exception,), {})("bad status"), 503, "expectation"),
        ("failed by hand", None, "expectation"),
    ],
)
def test_failure_kind_names_status_expectation_or_exception_class(exception, status, kind):
    assert failure_kind(exception, status) == kind


# --- merging ---


def test_merged_worker_histograms_match_single_run():
    requests = _requests(seed=11, n=4_000)
    single, one, two = SecondRecorder(), SecondRecorder(), SecondRecorder()
    _record_all(single, requests)
    _record_all(one, requests[0::2])
    _record_all(two, requests[1::2])

    alone = TimelineMerger()
    alone.add("solo", single.drain(now_s=105), now_s=105)
    split = TimelineMerger()
    # worker one reports twice (a second split across reports), worker two once
    split.add("w1", one.drain(now_s=102.5), now_s=102.5)
    split.add("w2", two.drain(now_s=105), now_s=105)
    split.add("w1", one.drain(now_s=105), now_s=105)

    expected, got = _released(alone), _released(split)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        have = got[key]
        assert (have.count, dict(have.failures), have.bytes) == (
            want.count,
            dict(want.failures),
            want.bytes,
        )
        assert (have.sum_us, have.sumsq_us) == (want.sum_us, want.sumsq_us)
        _same_histogram(have.histogram, want.histogram)
    assert sum(r.count for r in got.values()) == 4_000


def test_second_closes_once_every_reporting_worker_has_passed_it():
    merger = TimelineMerger(grace_s=5)
    rec = SecondRecorder()
    rec.record("/ok", "GET", t_s=100.5, latency_ms=1, size_bytes=0, failure_kind=None)
    merger.add("w1", rec.drain(now_s=100.7), now_s=100.7)
    merger.add("w2", SecondRecorder().drain(now_s=101.2), now_s=101.2)
    assert merger.close(now_s=101.3).seconds == ()  # w1 may still send more for 100
    merger.add("w1", SecondRecorder().drain(now_s=101.1), now_s=101.4)
    assert [s.t for s in merger.close(now_s=101.5).seconds] == [100]
    assert merger.next_s == 101


def test_silent_worker_holds_a_second_no_longer_than_the_grace():
    merger = TimelineMerger(grace_s=5)
    merger.add("alive", SecondRecorder().drain(now_s=100.0), now_s=100.0)
    merger.add("dead", SecondRecorder().drain(now_s=100.0), now_s=100.0)
    merger.observe(100.0, users=4, workers=2)
    for now in (101.0, 102.0, 103.0, 104.0):
        merger.add("alive", SecondRecorder().drain(now_s=now), now_s=now)
        assert merger.close(now_s=now).seconds == ()
    merger.add("alive", SecondRecorder().drain(now_s=105.5), now_s=105.5)
    # "dead" last reported at 100.0, more than grace_s ago: only "alive" gates now
    assert [s.t for s in merger.close(now_s=105.5).seconds] == [100, 101, 102, 103, 104]


def test_grace_closes_seconds_even_when_the_worker_still_reports_old_watermarks():
    merger = TimelineMerger(grace_s=5)
    merger.observe(100.2, users=1, workers=1)
    merger.add("stuck", SecondRecorder().drain(now_s=100.0), now_s=106.0)
    assert [s.t for s in merger.close(now_s=106.0).seconds] == [100]  # 100 + 1 + 5 <= 106


def test_late_data_comes_back_as_a_correction_and_is_counted():
    merger = TimelineMerger(grace_s=1)
    merger.observe(100.0, users=1, workers=1)
    # nobody reports yet, so every second the master clock has finished is released
    assert [s.t for s in merger.close(now_s=102.0).seconds] == [100, 101]
    rec = SecondRecorder()
    rec.record("/ok", "GET", t_s=100.9, latency_ms=2, size_bytes=1, failure_kind=None)
    rec.record("/ok", "GET", t_s=100.95, latency_ms=2, size_bytes=1, failure_kind=None)
    assert merger.add("slow", rec.drain(now_s=101.0), now_s=102.5) == 1
    result = merger.close(now_s=102.6)
    assert [(r.t, r.key, r.count) for r in result.late] == [(100, "GET /ok", 2)]
    assert (merger.late_records, merger.late_requests) == (1, 2)
    assert merger.close(now_s=102.7).late == ()


def test_every_second_is_released_in_order_with_load_carried_forward():
    merger = TimelineMerger(grace_s=5)
    merger.observe(100.1, users=5, workers=2)
    merger.observe(100.9, users=6, workers=2)
    merger.observe(103.0, users=9, workers=1)
    merger.add("w", SecondRecorder().drain(now_s=104.5), now_s=104.5)
    seconds = merger.close(now_s=104.5).seconds
    assert [(s.t, s.users, s.workers, s.count) for s in seconds] == [
        (100, 6, 2, 0),
        (101, 6, 2, 0),
        (102, 6, 2, 0),
        (103, 9, 1, 0),
    ]


def test_finish_releases_everything_including_the_partial_last_second():
    merger = TimelineMerger(grace_s=5)
    rec = SecondRecorder()
    rec.record("/ok", "GET", t_s=100.5, latency_ms=1, size_bytes=0, failure_kind=None)
    rec.record("/ok", "GET", t_s=102.5, latency_ms=1, size_bytes=0, failure_kind=None)
    merger.add("w", rec.drain(now_s=102.6), now_s=102.6)
    seconds = merger.finish().seconds
    assert [(s.t, s.count) for s in seconds] == [(100, 1), (101, 0), (102, 1)]
    assert merger.open_seconds == 0


def test_merger_memory_is_bounded_by_open_seconds():
    merger = TimelineMerger(grace_s=2)
    rec = SecondRecorder()
    for t in range(1000, 1300):
        rec.record("/ok", "GET", t_s=t + 0.5, latency_ms=1, size_bytes=0, failure_kind=None)
        merger.add("w", rec.drain(now_s=t + 0.9), now_s=t + 0.9)
        merger.close(now_s=t + 0.95)
        assert merger.open_seconds <= 1


def test_timeouts_wrapped_by_geventhttpclient_count_as_timeouts():
    class RetriesExceeded(Exception):
        def __init__(self, url: str, retries: int, original: BaseException) -> None:
            super().__init__(url, retries)
            self.original = original

    wrapped = RetriesExceeded("http://x/", 0, original=TimeoutError("timed out"))
    assert failure_kind(wrapped, 0) == failure_kind(TimeoutError(), 0) == "timeout"


def test_every_timeout_the_recorder_names_is_a_timeout_to_the_analysis():
    class ReadTimeout(OSError):
        pass

    for exception in (TimeoutError(), ReadTimeout()):
        assert failure_kind(exception) == TIMEOUT
        assert is_timeout(failure_kind(exception))
    assert is_timeout("connection timed out") and is_timeout("ConnectTimeout")
    assert not is_timeout("HTTP 504") and not is_timeout("ConnectionRefusedError")
