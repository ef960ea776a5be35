"""Custom metrics in the timeline (format version 4): ``met`` lines written, read back,
late ones added into their second, damaged ones skipped, and the ``Timeline`` accessors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.errors import ReportError
from framework.live.timeline_tail import TimelineTail
from framework.timeline.codec import encode_histogram, new_histogram
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, VERSION, RequestSecond, Second
from framework.timeline.writer import TimelineWriter

CREATED_S = 1_700_000_000.0
T0 = 1_700_000_000


def histogram_record(
    t: int, name: str, values: list[float], unit: str = "ms", **dims: str
) -> MetricSecond:
    """A histogram record of ``values``, built the long way (no recorder)."""
    hist = new_histogram()
    for value in values:
        hist.record_value(max(1, round(value * METRIC_SCALE)))
    return MetricSecond(
        t=t,
        name=name,
        kind="histogram",
        unit=unit,
        dims=tuple(sorted(dims.items())),
        count=len(values),
        sum=sum(values),
        sumsq=sum(v * v for v in values),
        min=min(values),
        max=max(values),
        hist_blobs=(encode_histogram(hist, release=True),),
    )


def counter_record(t: int, name: str, n: int, **dims: str) -> MetricSecond:
    return MetricSecond(
        t=t, name=name, kind="counter", unit="items", dims=tuple(sorted(dims.items())),
        count=1, sum=n,
    )  # fmt: skip


def gauge_record(t: int, value: float, at: float) -> MetricSecond:
    return MetricSecond(
        t=t, name="queue.depth", kind="gauge", unit="jobs", count=1, sum=value,
        min=value, max=value, last=value, last_at=at,
    )  # fmt: skip


def _write(path: Path, seconds: list[Second], late: list[MetricSecond] = ()) -> list[str]:
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        for second in seconds:
            writer.write_second(second)
        for record in late:
            writer.write_late_metric(record)
    return path.read_text().splitlines()


def _run(tmp_path: Path, late: list[MetricSecond] = ()) -> tuple[Path, list[str]]:
    path = tmp_path / FILE_NAME
    seconds = [
        Second(
            t=t,
            users=2,
            workers=1,
            requests=(RequestSecond.from_latencies(t, "GET", "/x", [1.0, 2.0]),),
            metrics=(
                histogram_record(t, "detector.server_ms", [10.0, 20.0, 30.0], model="fast"),
                counter_record(t, "detector.batch.items", 3),
                histogram_record(t, "detector.server_ms", [5.0], model="slow"),
            ),
        )
        for t in (T0, T0 + 1)
    ]
    return path, _write(path, seconds, late)


def test_met_lines_follow_the_seconds_requests_and_precede_its_sec_line(tmp_path):
    _path, lines = _run(tmp_path)
    types = [json.loads(line)["type"] for line in lines]
    assert json.loads(lines[0])["version"] == VERSION == 4
    assert types[1:6] == ["req", "met", "met", "met", "sec"]
    met = json.loads(lines[2])
    assert met["name"] == "detector.server_ms" and met["dims"] == {"model": "fast"}
    assert met["count"] == 3 and met["sum"] == 60.0 and met["hist"]


def test_met_lines_read_back_into_each_seconds_metrics_sorted_by_key(tmp_path):
    path, _lines = _run(tmp_path)
    timeline = read_timeline(path)
    assert timeline.damaged_records == 0
    keys = [m.key for m in timeline.seconds[0].metrics]
    assert keys == [
        "detector.batch.items",
        "detector.server_ms{model=fast}",
        "detector.server_ms{model=slow}",
    ]
    fast = timeline.seconds[1].metrics[1]
    assert fast.count == 3 and fast.histogram().get_value_at_percentile(50) == pytest.approx(
        20_000, rel=1e-3
    )


def test_late_met_line_is_added_into_its_second(tmp_path):
    late = [counter_record(T0, "detector.batch.items", 4), gauge_record(T0, 7.0, CREATED_S + 2)]
    path, lines = _run(tmp_path, late=late)
    assert json.loads(lines[-3])["late"] is True
    timeline = read_timeline(path)
    first = timeline.seconds[0]
    items = [m for m in first.metrics if m.name == "detector.batch.items"]
    assert [(m.count, m.sum) for m in items] == [(2, 7)]
    assert [m.key for m in first.metrics][-1] == "queue.depth"
    assert timeline.late_records == 2


def test_metric_seconds_selects_one_dimension_set_or_combines_them(tmp_path):
    path, _lines = _run(tmp_path)
    timeline = read_timeline(path)
    assert timeline.metric_series() == [
        ("detector.batch.items", ()),
        ("detector.server_ms", (("model", "fast"),)),
        ("detector.server_ms", (("model", "slow"),)),
    ]
    fast = timeline.metric_seconds("detector.server_ms", {"model": "fast"})
    assert [(m.t, m.count) for m in fast] == [(T0, 3), (T0 + 1, 3)]
    every = timeline.metric_seconds("detector.server_ms")
    assert [(m.t, m.count, m.dims, m.max) for m in every] == [
        (T0, 4, (), 30.0),
        (T0 + 1, 4, (), 30.0),
    ]
    assert every[0].histogram().get_total_count() == 4
    assert timeline.metric_seconds("detector.server_ms", start_s=T0 + 1)[0].t == T0 + 1
    assert timeline.metric_seconds("detector.server_ms", {"model": "eu"}) == []
    assert timeline.metric_seconds("no.such.metric") == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.__setitem__("count", -1), "count must be an integer >= 0"),
        (lambda r: r.__setitem__("kind", "rate"), "unknown metric kind 'rate'"),
        (lambda r: r.__setitem__("name", "bad name"), "is not an identifier path"),
        (lambda r: r.pop("unit"), "unit must be text"),
        (lambda r: r.__setitem__("count", 5), "count 5 but 3 in its histogram"),
        (lambda r: r.__setitem__("hist", "AAAA"), "does not decode"),
        (lambda r: r.__setitem__("t", "soon"), "t must be a whole unix second"),
        (lambda r: r.__setitem__("dims", {"model": 3}), "dims must be an object of text"),
        (lambda r: r.__setitem__("sum", "x"), "sum must be a finite number"),
    ],
)
def test_damaged_met_line_is_skipped_and_counted(tmp_path, change, reason):
    path, lines = _run(tmp_path)
    record = json.loads(lines[2])  # detector.server_ms{model=fast} in T0
    change(record)
    lines[2] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    timeline = read_timeline(path)
    assert timeline.damaged_records == 1
    assert timeline.damaged[0].line == 3 and reason in timeline.damaged[0].reason
    assert "detector.server_ms{model=fast}" not in [m.key for m in timeline.seconds[0].metrics]
    assert len(timeline.seconds[1].metrics) == 3


def test_paused_second_keeps_its_metrics_apart(tmp_path):
    path = tmp_path / FILE_NAME
    metric = counter_record(T0 + 1, "jobs.done", 2)
    _write(path, [Second(t=T0, users=1), Second(t=T0 + 1, users=1, paused=True, metrics=(metric,))])
    timeline = read_timeline(path)
    assert timeline.paused[0].metrics == (metric,)
    assert timeline.metric_series() == []


def test_version_5_timeline_is_refused_naming_the_readable_versions(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text(json.dumps({"type": "header", "format": "swarm-timeline", "version": 5}) + "\n")
    with pytest.raises(ReportError, match=r"version 5 is not supported .*versions 1, 2, 3, 4\)"):
        read_timeline(path)


def test_version_3_timeline_without_met_lines_still_reads(tmp_path):
    path, lines = _run(tmp_path)
    header = json.loads(lines[0])
    header["version"] = 3
    kept = [json.dumps(header)] + [line for line in lines[1:] if '"type":"met"' not in line]
    path.write_text("\n".join(kept) + "\n")
    timeline = read_timeline(path)
    assert len(timeline.seconds) == 2 and timeline.metric_series() == []


def test_live_tail_hands_out_seconds_with_their_metrics(tmp_path):
    path, _lines = _run(tmp_path, late=[counter_record(T0, "detector.batch.items", 4)])
    tail = TimelineTail(path)
    seconds = tail.read()
    assert [len(s.metrics) for s in seconds] == [3, 3]
    assert seconds[0].metrics[0].sum == 3  # the late line is counted, not added
    assert tail.late == 1 and tail.damaged == 0
