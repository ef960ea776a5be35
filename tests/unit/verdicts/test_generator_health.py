"""Load-generator health from the timeline: CPU per second and lost worker-seconds."""

from __future__ import annotations

from framework.timeline.reader import read_timeline
from framework.timeline.records import RequestSecond, Second
from framework.timeline.writer import TimelineWriter
from framework.verdicts.analysis import (
    AnalysisSettings,
    PlannedWindow,
    analyse_window,
    load_generator_health,
)


def _write(path, seconds):
    with TimelineWriter(path, created_s=1000.0, source="synthetic") as writer:
        for second in seconds:
            writer.write_second(second)
    return read_timeline(path)


def _second(t: int, *, workers: int, cpu: float | None) -> Second:
    record = RequestSecond.from_latencies(t, "GET", "item", [10.0 + (t % 7)] * 50)
    return Second(t=t, users=10, workers=workers, requests=(record,), cpu_percent=cpu)


def test_cpu_of_each_second_survives_the_file(tmp_path):
    timeline = _write(tmp_path / "t.jsonl", [_second(100, workers=2, cpu=42.5)])
    assert timeline.seconds[0].cpu_percent == 42.5


def test_seconds_without_a_cpu_sample_read_as_none(tmp_path):
    timeline = _write(tmp_path / "t.jsonl", [_second(100, workers=1, cpu=None)])
    assert timeline.seconds[0].cpu_percent is None


def test_health_counts_worker_seconds_below_the_peak(tmp_path):
    seconds = [_second(100 + i, workers=2 if i < 6 else 1, cpu=50.0) for i in range(10)]
    timeline = _write(tmp_path / "t.jsonl", seconds)
    health = load_generator_health(timeline, PlannedWindow("w", 100, 110, 10))
    assert (health.missing_intervals, health.expected_intervals) == (4, 20)
    assert health.cpu_percent == (50.0,) * 10


def test_a_saturated_load_generator_fails_the_quality_grade(tmp_path):
    seconds = [_second(100 + i, workers=1, cpu=97.0) for i in range(60)]
    timeline = _write(tmp_path / "t.jsonl", seconds)
    window = analyse_window(timeline, PlannedWindow("w", 100, 160, 10), AnalysisSettings()).window
    checks = {c.name: c for c in window.overall.quality.checks}
    generator = [c for name, c in checks.items() if "generator" in name]
    assert generator and generator[0].grade == "fail"
    assert window.overall.quality.grade == "fail"
