"""A damaged timeline line is skipped and counted, never fatal and never in a figure."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, RequestSecond, Second, Timeline
from framework.timeline.writer import TimelineWriter

OK_MS = [1.0, 2.0, 3.0, 4.0, 100.0]
DAMAGED_LINE = 5  # the ``req`` line of GET /ok in second 101
CREATED_S = 1_700_000_000.0
T0 = 1_700_000_000


def _write_run(path: Path) -> list[str]:
    """Lines: 1 header; per second t0..t0+2 a GET /ok req, a POST /detect req, a sec; end."""
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        for t in (T0, T0 + 1, T0 + 2):
            requests = (
                RequestSecond.from_latencies(t, "GET", "/ok", OK_MS, failures={"HTTP 500": 1}),
                RequestSecond.from_latencies(t, "POST", "/detect", [10.0, 20.0]),
            )
            writer.write_second(Second(t=t, users=4, workers=2, requests=requests))
    return path.read_text().splitlines()


def _damage(tmp_path: Path, change: Callable[[dict[str, Any]], Any], line: int = DAMAGED_LINE):
    path = tmp_path / FILE_NAME
    lines = _write_run(path)
    record = json.loads(lines[line - 1])
    changed = change(record)
    lines[line - 1] = changed if isinstance(changed, str) else json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    return read_timeline(path)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.__setitem__(key, value)


def _other_histogram(record: dict[str, Any]) -> None:
    record["hist"] = RequestSecond.from_latencies(record["t"], "GET", "/ok", [5.0]).hist_blobs[0]


def _flipped_byte(record: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(record["hist"]))
    raw[len(raw) // 2] ^= 0xFF
    record["hist"] = base64.b64encode(bytes(raw)).decode()


DAMAGE = {
    "not JSON": (lambda record: "{this is not json", "not JSON"),
    "not an object": (lambda record: "[1, 2, 3]", "expected a JSON object, found list"),
    "timestamp is text": (_set("t", "yesterday"), "t must be a whole unix second"),
    "timestamp out of range": (_set("t", 99), "out of range"),
    "timestamp far ahead": (_set("t", T0 + 10**9), "out of range"),
    "negative count": (_set("count", -5), "count must be an integer >= 0, got -5"),
    "count as a boolean": (_set("count", True), "count must be an integer >= 0"),
    "negative bytes": (_set("bytes", -1), "bytes must be an integer >= 0"),
    "negative sum": (_set("sum_us", -1), "sum_us must be an integer >= 0"),
    "infinite sum of squares": (_set("sumsq_us", float("inf")), "sumsq_us must be a number"),
    "negative variance": (_set("sumsq_us", 1), "negative variance"),
    "more failures than requests": (_set("failures", {"HTTP 500": 9}), "9 failures out of 5"),
    "negative failures": (_set("failures", {"HTTP 500": -1}), "failures['HTTP 500']"),
    "missing name": (lambda record: record.__delitem__("name"), "name must be text"),
    "count without histogram": (_set("hist", ""), "count 5 without a histogram"),
    "count disagrees with histogram": (_other_histogram, "count 5 but 1 in its histogram"),
    "corrupt histogram": (_flipped_byte, "histogram does not decode"),
    "histogram not base64": (_set("hist", "@@not base64@@"), "histogram does not decode"),
    "failure messages not counts": (
        _set("failure_messages", {"HTTP 500": "many"}),
        "failure_messages must be an object of counts",
    ),
}


@pytest.mark.parametrize(("change", "reason"), DAMAGE.values(), ids=DAMAGE.keys())
def test_each_kind_of_damaged_request_line_is_skipped_counted_and_kept_out_of_figures(
    tmp_path, change, reason
):
    tl = _damage(tmp_path, change)
    assert tl.damaged_records == 1
    assert len(tl.damaged) == 1 and tl.damaged[0].line == DAMAGED_LINE
    assert reason in tl.damaged[0].reason
    assert str(tl.damaged[0]).startswith(f"line {DAMAGED_LINE}: ")
    ok = tl.total("GET /ok")  # two sound seconds of five requests; the damaged one is out
    assert (ok.count, ok.failure_count) == (10, 2)
    assert ok.histogram.get_total_count() == 10
    assert tl.total("POST /detect").count == 6
    assert [s.t for s in tl.seconds] == [T0, T0 + 1, T0 + 2]  # its second stays, with gauges
    counters = tl.counters("GET /ok")
    assert counters.count.tolist() == [5, 0, 5]
    assert (counters.count >= 0).all() and (counters.sum_us >= 0).all()
    assert tl.complete


def test_a_negative_count_never_gives_negative_throughput(tmp_path):
    tl = _damage(tmp_path, _set("count", -1000))
    assert min(tl.counters(None).count) >= 0
    assert tl.total(None).count == 16


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set("users", -1), "users must be an integer >= 0 or null"),
        (_set("workers", "two"), "workers must be an integer >= 0 or null"),
        (_set("cpu", -3.0), "cpu must be a number >= 0"),
        (_set("t", "soon"), "t must be a whole unix second"),
    ],
)
def test_a_damaged_second_line_loses_only_its_gauges(tmp_path, change, reason):
    tl = _damage(tmp_path, change, line=7)  # the sec line of second t0 + 1
    assert tl.damaged_records == 1 and reason in tl.damaged[0].reason
    middle = tl.seconds[1]
    assert (middle.t, middle.users, middle.workers, middle.count) == (T0 + 1, None, None, 7)
    assert tl.total(None).count == 21


def test_many_damaged_lines_are_all_counted_and_the_first_ten_kept(tmp_path):
    path = tmp_path / FILE_NAME
    lines = _write_run(path)
    garbage = [f"garbage {i}" for i in range(25)]
    path.write_text("\n".join([*lines[:-1], *garbage, lines[-1]]) + "\n")
    tl = read_timeline(path)
    assert tl.damaged_records == 25
    assert [d.line for d in tl.damaged] == list(range(11, 21))
    assert tl.total(None).count == 21 and tl.complete


def test_a_damaged_late_line_is_skipped_and_not_counted_as_late(tmp_path):
    path = tmp_path / FILE_NAME
    lines = _write_run(path)
    late = json.loads(lines[1]) | {"type": "late", "count": -2}
    path.write_text("\n".join([*lines[:-1], json.dumps(late), lines[-1]]) + "\n")
    tl = read_timeline(path)
    assert (tl.damaged_records, tl.late_records) == (1, 0)
    assert "late: count must be" in tl.damaged[0].reason


def test_sound_timeline_has_no_damage_and_its_histograms_match_a_fresh_decoding(tmp_path):
    path = tmp_path / FILE_NAME
    _write_run(path)
    checked = read_timeline(path)  # keeps the histograms it decoded to check them
    assert checked.damaged_records == 0 and checked.damaged == ()
    fresh = Timeline(path=path, header=checked.header, seconds=checked.seconds)
    for name in ("GET /ok", "POST /detect", None):
        kept, decoded = checked.buckets(name), fresh.buckets(name)
        assert kept.indptr.tolist() == decoded.indptr.tolist()
        assert kept.index.tolist() == decoded.index.tolist()
        assert kept.counts.tolist() == decoded.counts.tolist()


def _write_v2_run(path: Path) -> list[str]:
    """As ``_write_run``, with GET /ok's failure apart from its successes (version 2)."""
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        for t in (T0, T0 + 1, T0 + 2):
            ok = RequestSecond.from_latencies(
                t, "GET", "/ok", OK_MS[:4], failed_ms=[OK_MS[4]], failures={"HTTP 500": 1}
            )
            detect = RequestSecond.from_latencies(t, "POST", "/detect", [10.0, 20.0])
            writer.write_second(Second(t=t, users=4, workers=2, requests=(ok, detect)))
    return path.read_text().splitlines()


def _other_failure_histogram(record: dict[str, Any]) -> None:
    record["fail_hist"] = RequestSecond.from_latencies(0, "GET", "/ok", [5.0, 6.0]).hist_blobs[0]


DAMAGE_V2 = {
    "negative failures' sum": (_set("fail_sum_us", -1), "fail_sum_us must be an integer >= 0"),
    "failures without their histogram": (_set("fail_hist", ""), "1 failures with no failure"),
    "failures' histogram disagrees": (
        _other_failure_histogram,
        "latencies 1 but 2 in its failure histogram",
    ),
    "successes' histogram holds the failure too": (
        lambda record: record.__setitem__(
            "hist", RequestSecond.from_latencies(0, "GET", "/ok", OK_MS).hist_blobs[0]
        ),
        "latencies 4 but 5 in its histogram",
    ),
}


@pytest.mark.parametrize(("change", "reason"), DAMAGE_V2.values(), ids=DAMAGE_V2.keys())
def test_a_version_2_line_is_checked_against_its_successes_and_its_failures_apart(
    tmp_path, change, reason
):
    path = tmp_path / FILE_NAME
    lines = _write_v2_run(path)
    record = json.loads(lines[DAMAGED_LINE - 1])
    change(record)
    lines[DAMAGED_LINE - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    tl = read_timeline(path)
    assert tl.damaged_records == 1 and reason in tl.damaged[0].reason, tl.damaged
    ok = tl.total("GET /ok")
    assert (ok.count, ok.failure_count, ok.latency_count) == (10, 2, 8)


def test_a_sound_version_2_timeline_reads_whole_even_when_every_request_failed(tmp_path):
    path = tmp_path / FILE_NAME
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        down = RequestSecond.from_latencies(
            T0, "GET", "/down", [], failed_ms=[1.0, 2.0], failures={"ConnectionRefusedError": 2}
        )
        writer.write_second(Second(t=T0, users=1, workers=1, requests=(down,)))
    tl = read_timeline(path)
    assert tl.damaged_records == 0
    total = tl.total("GET /down")
    assert (total.count, total.latency_count, total.failure_histogram.get_total_count()) == (
        2,
        0,
        2,
    )
