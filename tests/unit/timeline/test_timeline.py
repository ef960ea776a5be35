"""The on-disk timeline: writing, reading back, and surviving crashes, on literals."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from framework.errors import ReportError, RunError
from framework.timeline.reader import read_timeline
from framework.timeline.recorder import SecondRecorder, TimelineMerger
from framework.timeline.records import FILE_NAME, RequestSecond, Second
from framework.timeline.writer import TimelineWriter

OK_MS = [1.0, 2.0, 3.0, 4.0, 100.0]
DETECT_MS = [10.0, 20.0, 30.0]


def _write_run(path: Path, *, close: bool = True) -> None:
    writer = TimelineWriter(path, created_s=99.5, meta={"scenario": "smoke"})
    for t in (100, 101, 102):
        requests = (
            RequestSecond.from_latencies(
                t, "GET", "/ok", OK_MS, failures={"HTTP 500": 1}, bytes=50
            ),
            RequestSecond.from_latencies(t, "POST", "/detect", DETECT_MS),
        )
        writer.write_second(Second(t=t, users=10, workers=2, requests=requests))
    writer.write_second(Second(t=103, users=10, workers=2))
    if close:
        writer.close(ended_s=104.0, reason="quit")
    else:
        writer.flush(None)


def test_written_seconds_read_back_exactly(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path)
    tl = read_timeline(path)
    assert (tl.complete, tl.truncated, tl.late_records) == (True, False, 0)
    assert tl.header["version"] == 4 and tl.header["meta"] == {"scenario": "smoke"}
    assert [(s.t, s.users, s.workers, s.count) for s in tl.seconds] == [
        (100, 10, 2, 8),
        (101, 10, 2, 8),
        (102, 10, 2, 8),
        (103, 10, 2, 0),
    ]
    assert (tl.start_s, tl.end_s) == (100, 104)
    assert tl.names() == ["GET /ok", "POST /detect"]
    assert tl.endpoints() == [("GET", "/ok"), ("POST", "/detect")]
    ok = tl.total("GET /ok")
    assert (ok.count, dict(ok.failures), ok.bytes, ok.failure_count) == (
        15,
        {"HTTP 500": 3},
        150,
        3,
    )
    assert ok.mean_us == pytest.approx(statistics.mean(OK_MS * 3) * 1000)
    assert ok.variance_us2 == pytest.approx(statistics.variance([m * 1000 for m in OK_MS * 3]))
    assert tl.end["reason"] == "quit"


def test_merged_histogram_covers_a_range_and_a_bare_name(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path)
    tl = read_timeline(path)
    assert tl.merged_histogram("/ok", start_s=101, end_s=103).get_total_count() == 10
    assert tl.merged_histogram().get_total_count() == 24
    assert tl.merged_histogram("POST /detect").get_value_at_percentile(50) == 20_000 + 15
    everything = tl.total()
    assert (everything.key, everything.count, everything.histogram.get_total_count()) == (
        "Aggregated",
        24,
        24,
    )


def test_series_has_one_record_per_second_including_idle_ones(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path)
    series = read_timeline(path).series("POST /detect")
    assert [(r.t, r.key, r.count) for r in series] == [
        (100, "POST /detect", 3),
        (101, "POST /detect", 3),
        (102, "POST /detect", 3),
        (103, "POST /detect", 0),
    ]


def test_truncated_last_line_is_tolerated_and_earlier_seconds_kept(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path, close=False)
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b'{"type":"sec","t":102') + 25])  # cut mid-line
    tl = read_timeline(path)
    assert (tl.complete, tl.truncated) == (False, True)
    # second 102's request lines made it, its "sec" line did not: data kept, load unknown
    assert [(s.t, s.users, s.count) for s in tl.seconds] == [
        (100, 10, 8),
        (101, 10, 8),
        (102, None, 8),
    ]


def test_missing_end_line_means_incomplete_but_readable(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path, close=False)
    tl = read_timeline(path)
    assert (tl.complete, tl.truncated, len(tl.seconds)) == (False, False, 4)


def test_late_corrections_are_added_into_their_second(tmp_path):
    path = tmp_path / FILE_NAME
    with TimelineWriter(path, created_s=0.0) as writer:
        writer.write_second(
            Second(
                t=5,
                users=1,
                workers=1,
                requests=(RequestSecond.from_latencies(5, "GET", "/a", [1.0]),),
            )
        )
        writer.write_late(RequestSecond.from_latencies(5, "GET", "/a", [3.0, 5.0]))
        writer.write_late(RequestSecond.from_latencies(5, "GET", "/b", [7.0]))
    tl = read_timeline(path)
    assert tl.late_records == 2
    assert tl.end["late_requests"] == 3
    (second,) = tl.seconds
    assert (second.get("/a").count, second.get("/a").sum_us, second.get("GET /b").count) == (
        3,
        9000,
        1,
    )
    assert second.get("/a").histogram.get_total_count() == 3


def test_recorder_to_merger_to_file_keeps_every_request(tmp_path):
    path = tmp_path / FILE_NAME
    recorder, merger = SecondRecorder(), TimelineMerger(grace_s=5)
    for i in range(300):
        kind = "HTTP 500" if i % 10 == 0 else None
        recorder.record(
            "/ok", "GET", t_s=100 + i / 100, latency_ms=1 + i % 7, size_bytes=3, failure_kind=kind
        )
    merger.add("w1", recorder.drain(now_s=103.1), now_s=103.1)
    with TimelineWriter(path, created_s=100.0, source="local") as writer:
        for second in merger.finish().seconds:
            writer.write_second(second)
    total = read_timeline(path).total("GET /ok")
    assert (total.count, total.failure_count, total.bytes) == (300, 30, 900)


def test_unknown_record_types_are_skipped_for_forward_compatibility(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path, close=False)
    with path.open("a") as f:
        f.write(json.dumps({"type": "annotation", "t": 101, "text": "deploy"}) + "\n")
    assert len(read_timeline(path).seconds) == 4


def test_unknown_version_is_a_report_error_naming_the_version(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text(
        json.dumps({"type": "header", "format": "swarm-timeline", "version": 99}) + "\n"
    )
    with pytest.raises(
        ReportError, match=r"version 99 is not supported \(this swarm reads versions 1, 2, 3, 4\)"
    ):
        read_timeline(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b'{"format": "locust-csv", "version": 1}\n', "not a swarm timeline"),
        (b"garbage\n", ":1: corrupt line"),
    ],
)
def test_files_that_are_not_timelines_are_report_errors(tmp_path, content, message):
    path = tmp_path / FILE_NAME
    path.write_bytes(content)
    with pytest.raises(ReportError, match=message):
        read_timeline(path)


def test_corrupt_line_before_the_end_is_skipped_and_counted_with_its_line(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path)
    lines = path.read_text().splitlines()
    lines[3] = lines[3][:20]
    path.write_text("\n".join(lines) + "\n")
    tl = read_timeline(path)
    assert tl.damaged_records == 1 and str(tl.damaged[0]).startswith("line 4: not JSON")
    assert tl.complete


def test_malformed_record_is_skipped_and_counted(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path, close=False)
    with path.open("a") as f:
        f.write(json.dumps({"type": "req", "t": 104, "method": "GET"}) + "\n")
        f.write(json.dumps({"type": "sec", "t": 104}) + "\n")
    tl = read_timeline(path)
    assert tl.damaged_records == 1 and tl.damaged[0].line == 12
    assert "req: name must be text" in tl.damaged[0].reason
    assert tl.seconds[-1].t == 104 and tl.seconds[-1].count == 0


def test_missing_file_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="cannot read timeline"):
        read_timeline(tmp_path / "nope.jsonl")


def test_writer_refuses_to_overwrite_a_timeline(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path)
    with pytest.raises(RunError, match="already exists"):
        TimelineWriter(path, created_s=0.0)


def test_writer_fsyncs_at_most_every_sync_interval(tmp_path, monkeypatch):
    synced: list[int] = []
    monkeypatch.setattr("framework.timeline.writer.os.fsync", synced.append)
    writer = TimelineWriter(tmp_path / FILE_NAME, created_s=100.0, sync_every_s=5.0)
    assert len(synced) == 1  # the header is on disk before the run starts
    for now in (101.0, 102.0, 104.9):
        writer.flush(now)
    assert len(synced) == 1
    writer.flush(105.0)
    writer.flush(106.0)
    assert len(synced) == 2
    writer.close(ended_s=107.0)
    assert len(synced) == 3
