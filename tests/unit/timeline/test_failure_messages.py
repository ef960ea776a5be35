"""Failure messages in the timeline: counted per second and name on the load generators,
bounded, merged on the master, read back (older lines without them too), and counted per
name in the results."""

from __future__ import annotations

import json

from framework.timeline.reader import read_timeline
from framework.timeline.recorder import SecondRecorder, TimelineMerger, failure_message
from framework.timeline.records import (
    MAX_FAILURE_MESSAGES,
    MAX_MESSAGE_CHARS,
    RequestSecond,
    Second,
    merge_messages,
)
from framework.timeline.writer import TimelineWriter
from framework.verdicts.analysis import AnalysisSettings, PlannedWindow, analyse_window

T0 = 1_800_000_000


def _fail(rec: SecondRecorder, name: str, t: float, message: str, kind: str = "HTTP 500") -> None:
    rec.record(name, "POST", t, 12.0, 0, kind, message)


def _ok(rec: SecondRecorder, name: str, t: float) -> None:
    rec.record(name, "POST", t, 5.0, 10, None)


def test_recorder_counts_failure_messages_per_second_and_name():
    rec = SecondRecorder()
    for i in range(3):
        _fail(rec, "/detect", T0 + 0.1 * i, "HTTP 500: upstream down")
    _fail(rec, "/detect", T0 + 0.5, "HTTP 503: busy", kind="HTTP 503")
    _fail(rec, "/batch", T0 + 0.6, "HTTP 500: upstream down")
    _ok(rec, "/detect", T0 + 0.7)
    _fail(rec, "/detect", T0 + 1.2, "HTTP 500: upstream down")
    records = {(r["t"], r["name"]): r for r in rec.drain(T0 + 2)["records"]}
    assert records[(T0, "/detect")]["failure_messages"] == {
        "HTTP 500: upstream down": 3,
        "HTTP 503: busy": 1,
    }
    assert records[(T0, "/batch")]["failure_messages"] == {"HTTP 500: upstream down": 1}
    assert records[(T0 + 1, "/detect")]["failure_messages"] == {"HTTP 500: upstream down": 1}


def test_a_second_without_failures_carries_no_messages():
    rec = SecondRecorder()
    _ok(rec, "/detect", T0)
    (record,) = rec.drain(T0 + 1)["records"]
    assert "failure_messages" not in record
    assert "failure_messages" not in RequestSecond.from_record(record).to_record()


def test_recorder_keeps_a_bounded_number_of_messages_each_cut_short():
    rec = SecondRecorder()
    for i in range(MAX_FAILURE_MESSAGES + 15):
        _fail(rec, "/detect", T0, f"HTTP 500: request id {i}")
    _fail(rec, "/detect", T0, "x" * (MAX_MESSAGE_CHARS + 50))
    (record,) = rec.drain(T0 + 1)["records"]
    messages = record["failure_messages"]
    assert len(messages) == MAX_FAILURE_MESSAGES
    assert sum(record["failures"].values()) == MAX_FAILURE_MESSAGES + 16  # every failure counted
    assert all(len(m) <= MAX_MESSAGE_CHARS for m in messages)


def test_merging_keeps_the_most_frequent_messages_whatever_the_order():
    a = {"common": 5, "rare": 1}
    b = {"common": 2, "other": 3}
    assert merge_messages(a, b, limit=2) == {"common": 7, "other": 3}
    assert merge_messages(b, a, limit=2) == {"common": 7, "other": 3}


def test_failure_message_is_the_class_and_text_without_addresses():
    assert failure_message("expected status 200, got 500") == "expected status 200, got 500"
    assert failure_message(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
    assert failure_message(ValueError("<Conn object at 0x7f00deadbeef> closed")) == (
        "ValueError: <Conn> closed"
    )
    assert failure_message(TimeoutError()) == "TimeoutError"

    class Wrapped(Exception):
        original = OSError("socket timed out")

    assert failure_message(Wrapped("retries exceeded")) == "OSError: socket timed out"
    assert len(failure_message(ValueError("y" * 1000))) == MAX_MESSAGE_CHARS


def _two_workers_timeline(path):
    """Two workers fail differently on /detect in the same seconds; the master merges."""
    w1, w2 = SecondRecorder(), SecondRecorder()
    for s in range(4):
        for _ in range(3):
            _fail(w1, "/detect", T0 + s + 0.1, "HTTP 500: upstream down")
            _fail(w2, "/detect", T0 + s + 0.2, "HTTP 500: upstream down")
        _fail(w2, "/detect", T0 + s + 0.3, "ConnectionResetError: reset", kind="Reset")
        _fail(w1, "/health", T0 + s + 0.4, "expected status 200, got 503", kind="expectation")
        for i in range(10):
            _ok(w1, "/detect", T0 + s + 0.05 * i)
            _ok(w2, "/detect", T0 + s + 0.05 * i)
            _ok(w1, "/health", T0 + s + 0.05 * i)
    merger = TimelineMerger(grace_s=5.0)
    merger.add("w1", w1.drain(T0 + 4.5), T0 + 4.5)
    merger.add("w2", w2.drain(T0 + 4.5), T0 + 4.5)
    with TimelineWriter(path, created_s=T0) as writer:
        for second in merger.finish().seconds:
            writer.write_second(second)
    return read_timeline(path)


def test_master_merges_two_workers_messages_and_results_count_them_per_name(tmp_path):
    timeline = _two_workers_timeline(tmp_path / "timeline.jsonl")
    line = next(
        json.loads(x)
        for x in (tmp_path / "timeline.jsonl").read_text().splitlines()
        if '"/detect"' in x
    )
    assert line["failure_messages"] == {
        "HTTP 500: upstream down": 6,
        "ConnectionResetError: reset": 1,
    }
    window = PlannedWindow("steady state", T0, T0 + 4, 2)
    result = analyse_window(timeline, window, AnalysisSettings()).window
    by_name = {e.key: e for e in result.endpoints}
    detect = by_name["POST /detect"]
    assert [(m.message, m.count) for m in detect.failure_messages] == [
        ("HTTP 500: upstream down", 24),
        ("ConnectionResetError: reset", 4),
    ]
    assert detect.failure_messages_other == 0
    health = by_name["POST /health"]
    assert [(m.message, m.count) for m in health.failure_messages] == [
        ("expected status 200, got 503", 4)
    ]
    assert result.overall.failures == 32
    assert sum(m.count for m in result.overall.failure_messages) == 32


def test_an_older_line_without_messages_reads_as_messages_not_recorded(tmp_path):
    path = tmp_path / "timeline.jsonl"
    with TimelineWriter(path, created_s=T0) as writer:
        for s in range(4):
            r = RequestSecond.from_latencies(
                T0 + s, "GET", "/x", [5.0] * 8, failures={"HTTP 500": 2}, failed_ms=[1.0, 1.0]
            )
            writer.write_second(Second(t=T0 + s, users=1, workers=1, requests=(r,)))
    assert "failure_messages" not in path.read_text()
    timeline = read_timeline(path)
    window = PlannedWindow("steady state", T0, T0 + 4, 1)
    (x,) = analyse_window(timeline, window, AnalysisSettings()).window.endpoints
    assert x.failure_messages == ()
    assert x.failure_messages_other == 8


def test_a_late_correction_adds_its_messages_into_its_second(tmp_path):
    path = tmp_path / "timeline.jsonl"
    failed = RequestSecond.from_latencies(
        T0, "GET", "/x", [], failed_ms=[1.0], failures={"HTTP 500": 1}
    )  # a sound line: its failure histogram holds the failure's latency
    on_time = RequestSecond.from_record(
        {**failed.to_record(), "failure_messages": {"HTTP 500: a": 1}}
    )
    late = RequestSecond.from_record(
        {**on_time.to_record(), "failure_messages": {"HTTP 500: b": 1}}
    )
    with TimelineWriter(path, created_s=T0) as writer:
        writer.write_second(Second(t=T0, users=1, workers=1, requests=(on_time,)))
        writer.write_late(late)
    (record,) = read_timeline(path).seconds[0].requests
    assert record.failure_messages == {"HTTP 500: a": 1, "HTTP 500: b": 1}
