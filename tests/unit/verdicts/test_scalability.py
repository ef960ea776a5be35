"""Scaling efficiency with intervals, the generator-limited flag and the verdict's words:
on literal figures, and on run folders written with the timeline writer."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from framework.plan import shapes
from framework.timeline.reader import read_timeline
from framework.timeline.writer import TimelineWriter
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.results import Figure
from framework.verdicts.scalability import (
    EFFICIENCY_METHOD,
    ScalePoint,
    efficiency,
    scaling_from_runs,
    scaling_of,
)
from tests.synthetic import Latency, write_run


def point(workers, value, low, high, *, cpu=40.0, users=None, run_id=None):
    figure = Figure(value, low, high)
    return ScalePoint(
        workers=workers,
        run_id=run_id or f"run-{workers}w",
        throughput=figure,
        per_worker=Figure(value / workers, low / workers, high / workers),
        efficiency=None,
        cpu_max_percent=cpu,
        generator_limited=cpu is not None and cpu >= 90,
        users=users,
    )


def test_efficiency_interval_combines_both_runs_log_half_widths():
    e = efficiency(Figure(100.0, 95.0, 105.0), 1, Figure(190.0, 180.0, 200.0), 2)
    assert e is not None and e.method == EFFICIENCY_METHOD
    d = math.log(1.9)
    below = math.hypot(math.log(190 / 180), math.log(105 / 100))
    above = math.hypot(math.log(200 / 190), math.log(100 / 95))
    assert e.value == pytest.approx(0.95)
    assert e.low == pytest.approx(math.exp(d - below) / 2)  # 0.883
    assert e.high == pytest.approx(math.exp(d + above) / 2)  # 1.021
    assert round(e.low, 3) == 0.883 and round(e.high, 3) == 1.021


def test_efficiency_of_log_symmetric_intervals_is_the_delta_method():
    # each interval value·exp(±h): the ratio's is exp(d ± sqrt(h1² + h2²))
    h1, h2 = 0.04, 0.03
    a = Figure(200.0, 200 * math.exp(-h1), 200 * math.exp(h1))
    b = Figure(700.0, 700 * math.exp(-h2), 700 * math.exp(h2))
    e = efficiency(a, 2, b, 8)
    half = math.hypot(h1, h2)
    assert e.value == pytest.approx(700 / (4 * 200))
    assert e.low == pytest.approx(e.value * math.exp(-half))
    assert e.high == pytest.approx(e.value * math.exp(half))


def test_efficiency_without_interval_or_throughput():
    bare = efficiency(Figure(100.0), 1, Figure(150.0, 140.0, 160.0), 2)
    assert bare.value == pytest.approx(0.75) and bare.low is None and bare.high is None
    assert efficiency(Figure(None), 1, Figure(150.0, 140.0, 160.0), 2) is None
    assert efficiency(Figure(0.0, 0.0, 0.0), 1, Figure(150.0, 140.0, 160.0), 2) is None


def test_verdict_linear_then_generator_limited_with_its_cpu():
    scaling = scaling_of(
        [
            point(4, 248.0, 240.0, 256.0, cpu=98.0),
            point(1, 100.0, 97.0, 103.0),
            point(2, 194.0, 188.0, 200.0, cpu=60.0),
        ]
    )
    assert [p.workers for p in scaling.points] == [1, 2, 4]
    assert scaling.points[0].efficiency is None
    assert scaling.generator_limited
    assert scaling.verdict == (
        "scales linearly to 2 workers (efficiency 0.97, 0.93–1.01); at 4 workers 0.62 "
        "(0.59–0.65): the generator was the limit, worker CPU 98 %"
    )


def test_sublinear_with_idle_workers_points_beyond_the_generator():
    scaling = scaling_of([point(1, 100.0, 97.0, 103.0), point(2, 130.0, 125.0, 135.0)])
    assert not scaling.generator_limited
    assert scaling.verdict.startswith("does not scale linearly: at 2 workers 0.65 (0.62–0.68)")
    assert "the workers had headroom (worker CPU 40 %)" in scaling.verdict


def test_an_interval_across_the_linear_level_cannot_tell():
    scaling = scaling_of([point(1, 100.0, 80.0, 120.0), point(2, 180.0, 150.0, 210.0)])
    assert scaling.points[1].efficiency.low < 0.9 < scaling.points[1].efficiency.high
    assert scaling.verdict.startswith("cannot tell whether it scales linearly: at 2 workers 0.90")
    assert "run longer" in scaling.verdict


def test_users_that_did_not_grow_with_the_workers_explain_the_efficiency():
    scaling = scaling_of(
        [point(1, 100.0, 97.0, 103.0, users=40), point(2, 101.0, 98.0, 104.0, users=40)]
    )
    assert "users did not grow with the workers (40 at 1 worker, 40 at 2 workers)" in (
        scaling.verdict
    )
    grown = scaling_of(
        [point(1, 100.0, 97.0, 103.0, users=40), point(2, 120.0, 116.0, 124.0, users=80)]
    )
    assert "did not grow" not in grown.verdict


def test_one_worker_count_gives_its_throughput_and_no_efficiency():
    scaling = scaling_of([point(2, 194.0, 188.0, 200.0)])
    assert scaling.points[0].efficiency is None
    assert scaling.verdict == (
        "one worker count only: 2 workers, 194.0 req/s (188.0–200.0); "
        "scaling efficiency needs a second worker count"
    )
    assert scaling_of([]).verdict == "no runs to compare"


def test_as_dict_is_plain_json():
    scaling = scaling_of([point(1, 100.0, 97.0, 103.0), point(2, 194.0, 188.0, 200.0)])
    data = json.loads(json.dumps(scaling.as_dict()))
    assert data["verdict"] == scaling.verdict and data["generator_limited"] is False
    first, second = data["points"]
    assert first["efficiency"] is None
    assert first["throughput_rps"] == {"value": 100.0, "low": 97.0, "high": 103.0}
    assert second["efficiency"]["value"] == pytest.approx(0.97)
    assert second["per_worker_rps"]["value"] == pytest.approx(97.0)


# --- run folders -------------------------------------------------------------------------


def _run(tmp_path, name, *, rps, users, cpu=None, workers=1, error_rate=0.0, seed=0):
    """A 60 s synthetic run folder; ``cpu``/``workers`` written into every second."""
    folder = write_run(
        tmp_path / name,
        seconds=60,
        latency=Latency(median_ms=20),
        rps=rps,
        plan=shapes.constant(users=users, spawn_rate=users, duration_s=60),
        error_rate=error_rate,
        seed=seed,
    )
    if cpu is not None or workers != 1:
        timeline = read_timeline(folder / "timeline.jsonl")
        (folder / "timeline.jsonl").unlink()
        with TimelineWriter(folder / "timeline.jsonl", created_s=float(timeline.start_s)) as w:
            for second in timeline.seconds:
                w.write_second(dataclasses.replace(second, cpu_percent=cpu, workers=workers))
    return folder


def _write_results(folder, confidence=0.95):
    from framework.verdicts.analysis import AnalysisSettings

    options = ReportOptions(analysis=AnalysisSettings(confidence=confidence))
    results, _ = build_results(load_run(folder), options, created_at="2026-01-01T00:00:00Z")
    (folder / "results.json").write_text(json.dumps(results.to_dict()), encoding="utf-8")


def test_two_run_folders_scale_linearly_from_their_timelines(tmp_path):
    one = _run(tmp_path, "one", rps=50.0, users=10, cpu=30.0)
    two = _run(tmp_path, "two", rps=100.0, users=20, cpu=35.0, workers=2, seed=1)
    scaling = scaling_from_runs([(1, one), (2, two)])
    first, second = scaling.points
    assert first.run_id == "one" and second.run_id == "two"
    assert first.throughput.value == pytest.approx(50.0, rel=0.1)
    assert second.per_worker.value == pytest.approx(second.throughput.value / 2)
    e = second.efficiency
    assert e.low < 1.0 < e.high  # the truth is linear
    assert e.low >= 0.9 and scaling.verdict.startswith("scales linearly to 2 workers")
    assert (first.cpu_max_percent, second.cpu_max_percent) == (30.0, 35.0)
    assert not scaling.generator_limited and first.users == 10 and second.users == 20


def test_generator_limited_from_ninety_percent_worker_cpu(tmp_path):
    base = _run(tmp_path, "base", rps=50.0, users=10, cpu=89.9)
    busy = _run(tmp_path, "busy", rps=60.0, users=20, cpu=90.0, workers=2, seed=1)
    scaling = scaling_from_runs([(1, base), (2, busy)])
    assert [p.generator_limited for p in scaling.points] == [False, True]
    assert scaling.generator_limited
    assert "the generator was the limit, worker CPU 90 %" in scaling.verdict


def test_results_json_is_read_when_at_the_asked_confidence(tmp_path):
    one = _run(tmp_path, "one", rps=50.0, users=10)
    two = _run(tmp_path, "two", rps=100.0, users=20, seed=1)
    _write_results(one)
    _write_results(two)
    data = json.loads((two / "results.json").read_text())
    data["baseline"]["overall"]["throughput_rps"].update(value=75.0, low=74.0, high=76.0)
    (two / "results.json").write_text(json.dumps(data))
    found = scaling_from_runs([(1, one), (2, two)])
    assert found.points[1].throughput.value == 75.0  # the report's figure, not recomputed
    # at another confidence the figures are recomputed from the timeline
    other = scaling_from_runs([(1, one), (2, two)], confidence=0.9)
    assert other.points[1].throughput.value == pytest.approx(100.0, rel=0.1)
    assert other.confidence == 0.9 and other.points[1].efficiency.confidence == 0.9


def test_a_run_that_measured_nothing_gives_a_verdict_not_a_traceback(tmp_path):
    good = _run(tmp_path, "good", rps=50.0, users=10)
    dead = _run(tmp_path, "dead", rps=50.0, users=20, error_rate=1.0, seed=1)
    scaling = scaling_from_runs([(1, good), (2, dead)])
    assert scaling.points[1].throughput.value is None and scaling.points[1].efficiency is None
    assert scaling.verdict.startswith("cannot tell: at 2 workers no figures (measured nothing:")
    assert "no request succeeded" in scaling.verdict

    missing = scaling_from_runs([(1, tmp_path / "nowhere"), (2, good)])
    assert missing.verdict.startswith(
        "no scaling figures: the reference run at 1 worker (nowhere): no run folder at"
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{not json")
    found = scaling_from_runs([(1, good), (2, broken)])
    assert "cannot read the run" in found.points[1].note
    assert "at 2 workers no figures (cannot read the run:" in found.verdict


def test_bad_confidence_is_refused():
    with pytest.raises(ValueError, match="confidence"):
        scaling_from_runs([], confidence=1.5)
