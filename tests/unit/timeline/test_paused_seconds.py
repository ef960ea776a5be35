"""Paused seconds in the timeline: written marked, read back apart, refused when malformed."""

from __future__ import annotations

import json

from framework.timeline.reader import read_timeline
from framework.timeline.records import RequestSecond, Second
from framework.timeline.writer import TimelineWriter

T0 = 1_700_000_000


def _write(path, paused: set[int]) -> None:
    with TimelineWriter(path, created_s=float(T0)) as writer:
        for t in range(T0, T0 + 6):
            record = RequestSecond.from_latencies(t, "GET", "/x", [2.0] * 5)
            writer.write_second(
                Second(t=t, users=3, workers=1, requests=(record,), paused=t in paused)
            )
        writer.close(ended_s=T0 + 6.5, reason="quit")


def test_paused_seconds_are_marked_on_their_sec_line_only(tmp_path) -> None:
    path = tmp_path / "timeline.jsonl"
    _write(path, {T0 + 2, T0 + 3})
    sec_lines = [json.loads(x) for x in path.read_text().splitlines() if '"sec"' in x]
    assert [s.get("paused", False) for s in sec_lines] == [False, False, True, True, False, False]
    assert all("paused" not in s for s in sec_lines if s["t"] not in (T0 + 2, T0 + 3))


def test_paused_seconds_are_read_back_apart_with_their_requests(tmp_path) -> None:
    path = tmp_path / "timeline.jsonl"
    _write(path, {T0 + 2, T0 + 3})
    timeline = read_timeline(path)
    assert [s.t for s in timeline.seconds] == [T0, T0 + 1, T0 + 4, T0 + 5]
    assert [s.t for s in timeline.paused] == [T0 + 2, T0 + 3]
    assert all(s.paused and s.count == 5 for s in timeline.paused)
    assert timeline.total().count == 20  # every statistic reads ``seconds``: paused left out
    assert timeline.damaged_records == 0


def test_a_timeline_without_pauses_reads_as_before(tmp_path) -> None:
    path = tmp_path / "timeline.jsonl"
    _write(path, set())
    timeline = read_timeline(path)
    assert len(timeline.seconds) == 6 and timeline.paused == ()
    assert timeline.total().count == 30


def test_a_paused_field_that_is_not_a_boolean_is_damage(tmp_path) -> None:
    path = tmp_path / "timeline.jsonl"
    _write(path, set())
    lines = path.read_text().splitlines()
    at = next(i for i, x in enumerate(lines) if '"sec"' in x)
    damaged = json.loads(lines[at]) | {"paused": "yes"}
    lines[at] = json.dumps(damaged)
    path.write_text("\n".join(lines) + "\n")
    timeline = read_timeline(path)
    assert timeline.damaged_records == 1
    assert "paused must be true or false" in timeline.damaged[0].reason
