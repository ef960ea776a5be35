"""The live tail of a timeline: whole new lines only, each second once, damage skipped."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from framework.live.timeline_tail import TimelineTail
from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, RequestSecond, Second
from framework.timeline.writer import TimelineWriter

CREATED_S = 1_700_000_000.0
T0 = 1_700_000_000


def _second(t: int, ms: list[float], users: int = 3) -> Second:
    requests = (
        RequestSecond.from_latencies(t, "GET", "/ok", ms),
        RequestSecond.from_latencies(t, "POST", "/detect", [10.0, 20.0]),
    )
    return Second(t=t, users=users, workers=2, requests=requests)


def _lines(tmp_path: Path, seconds: int = 3) -> list[bytes]:
    """The lines a writer makes for ``seconds`` seconds: header, (2 req + sec) each, end."""
    path = tmp_path / "written.jsonl"
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        for i in range(seconds):
            writer.write_second(_second(T0 + i, [1.0, 2.0, 3.0 + i]))
    return path.read_bytes().splitlines(keepends=True)


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def test_tail_gives_each_second_once_as_its_sec_line_arrives(tmp_path):
    lines = _lines(tmp_path)
    path = tmp_path / FILE_NAME
    tail = TimelineTail(path)
    assert tail.read() == []  # not there yet
    _append(path, b"".join(lines[:3]))  # header and the req lines of the first second
    assert tail.read() == []
    _append(path, lines[3])  # its sec line
    first = tail.read()
    assert [(s.t, s.users, s.workers) for s in first] == [(T0, 3, 2)]
    assert [r.key for r in first[0].requests] == ["GET /ok", "POST /detect"]
    _append(path, b"".join(lines[4:]))
    rest = tail.read()
    assert [s.t for s in rest] == [T0 + 1, T0 + 2]
    assert tail.read() == [] and tail.ended
    assert (tail.damaged, tail.late) == (0, 0)


def test_tail_waits_for_a_partial_last_line_to_be_finished(tmp_path):
    lines = _lines(tmp_path, seconds=1)
    path = tmp_path / FILE_NAME
    tail = TimelineTail(path)
    sec_line = lines[3]
    _append(path, b"".join(lines[:3]) + sec_line[:10])  # the writer is mid-line
    assert tail.read() == []
    assert tail.damaged == 0  # a line being written is not damage
    _append(path, sec_line[10:])
    assert [s.t for s in tail.read()] == [T0]
    assert tail.damaged == 0


def test_tail_matches_the_reader_on_a_whole_file(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"".join(_lines(tmp_path, seconds=5)))
    tailed = TimelineTail(path).read()
    read = read_timeline(path).seconds
    assert [(s.t, s.users, [(r.key, r.count, r.sum_us) for r in s.requests]) for s in tailed] == [
        (s.t, s.users, [(r.key, r.count, r.sum_us) for r in s.requests]) for s in read
    ]


def _flip_histogram(line: bytes) -> bytes:
    record = json.loads(line)
    raw = bytearray(base64.b64decode(record["hist"]))
    raw[len(raw) // 2] ^= 0xFF
    record["hist"] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(record).encode() + b"\n"


def _negative_count(line: bytes) -> bytes:
    record = json.loads(line)
    record["count"] = -3
    return json.dumps(record).encode() + b"\n"


def test_tail_skips_and_counts_damaged_lines_and_keeps_the_rest(tmp_path):
    lines = _lines(tmp_path)
    lines[1] = b"{this is not json\n"  # a req line of the first second
    lines[4] = _flip_histogram(lines[4])  # GET /ok of the second second
    lines[5] = _negative_count(lines[5])  # POST /detect of the second second
    path = tmp_path / FILE_NAME
    path.write_bytes(b"".join(lines))
    tail = TimelineTail(path)
    seconds = tail.read()
    assert [s.t for s in seconds] == [T0, T0 + 1, T0 + 2]
    assert [[r.key for r in s.requests] for s in seconds] == [
        ["POST /detect"],
        [],
        ["GET /ok", "POST /detect"],
    ]
    assert tail.damaged == 3
    assert read_timeline(path).damaged_records == 3  # the same lines the reader refuses


def test_tail_counts_late_lines_without_adding_them(tmp_path):
    path = tmp_path / FILE_NAME
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        writer.write_second(_second(T0, [1.0]))
        writer.write_late(RequestSecond.from_latencies(T0, "GET", "/ok", [9.0]))
        writer.write_second(_second(T0 + 1, [1.0]))
    tail = TimelineTail(path)
    seconds = tail.read()
    assert [s.get("GET /ok").count for s in seconds] == [1, 1]
    assert tail.late == 1


def test_a_second_whose_sec_line_is_damaged_still_comes_with_its_requests(tmp_path):
    lines = _lines(tmp_path)
    lines[3] = b'{"type": "sec", "t": "soon"}\n'
    path = tmp_path / FILE_NAME
    path.write_bytes(b"".join(lines))
    tail = TimelineTail(path)
    seconds = tail.read()
    assert [(s.t, s.users) for s in seconds] == [(T0, None), (T0 + 1, 3), (T0 + 2, 3)]
    assert seconds[0].get("GET /ok").count == 3
    assert tail.damaged == 1


def test_a_file_that_is_not_a_timeline_is_not_followed(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text('{"type": "header", "format": "something else"}\n{"type": "sec", "t": 1}\n')
    tail = TimelineTail(path)
    assert tail.read() == []
    assert tail.problem is not None and "not a swarm timeline" in tail.problem


def test_tail_carries_arrivals_and_active_and_hands_late_arr_lines_out_apart(tmp_path):
    from framework.timeline.records import ArrivalSecond

    path = tmp_path / FILE_NAME
    tail = TimelineTail(path)
    writer = TimelineWriter(path, created_s=CREATED_S)
    arrivals = (ArrivalSecond.from_lags(T0, "writers", [1.0, 2.0], dropped=1, in_flight_max=2),)
    writer.write_second(
        Second(t=T0, users=2, workers=1, arrivals=arrivals, active={"writers": 2, "readers": 5})
    )
    writer.flush()
    (second,) = tail.read()
    assert second.active == {"writers": 2, "readers": 5}
    (found,) = second.arrivals
    assert (found.group, found.due, found.started, found.dropped) == ("writers", 3, 2, 1)
    assert tail.late_arrivals() == []
    writer.write_late_arrival(ArrivalSecond.from_lags(T0, "writers", [700.0]))
    writer.write_second(Second(t=T0 + 1, users=2, workers=1))
    writer.flush()
    assert [s.t for s in tail.read()] == [T0 + 1]
    (late,) = tail.late_arrivals()
    assert (late.t, late.started) == (T0, 1)
    assert tail.late_arrivals() == []  # each once
    writer.close()


def test_tail_skips_a_damaged_arr_line_and_counts_it(tmp_path):
    lines = _lines(tmp_path, seconds=1)
    bad = {"type": "arr", "t": T0, "group": "w", "due": 5, "started": 1, "dropped": 1}
    path = tmp_path / FILE_NAME  # due is not started + dropped: damaged
    _append(path, b"".join([lines[0], (json.dumps(bad) + "\n").encode(), *lines[1:]]))
    tail = TimelineTail(path)
    (second,) = tail.read()
    assert second.arrivals == () and tail.damaged == 1
