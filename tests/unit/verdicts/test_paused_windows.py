"""The analysis leaves paused seconds out: windows move by the pauses, no figure counts them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from framework.plan import shapes
from framework.plan.record import PlanRecord
from framework.run.folder import RunRecord
from framework.timeline.reader import read_timeline
from framework.timeline.records import RequestSecond, Second
from framework.timeline.writer import TimelineWriter
from framework.verdicts.analysis import (
    AnalysisSettings,
    analyse_window,
    paused_spans,
    planned_windows,
    steady_window,
    wall_time_s,
)

T0 = 1_700_000_000
PAUSE = (T0 + 20, T0 + 30)  # paused for 10 s, 20 s into the plan
PLAN = shapes.constant(users=5, spawn_rate=100, duration_s=60)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(plan=PLAN) -> RunRecord:
    phases = [("running", T0), ("paused", PAUSE[0]), ("running", PAUSE[1]), ("stopping", T0 + 70)]
    return RunRecord(
        run_id="r",
        scenario="s",
        scenario_file=None,
        host=None,
        started_at=_iso(T0 - 2),
        phases=[{"name": n, "at": _iso(t)} for n, t in phases],
        plan=PlanRecord.from_plan(plan),
    )


@pytest.fixture
def timeline(tmp_path):
    """10 requests of 2 ms a second while running; 100 of 900 ms a second while paused (the
    requests in flight at the pause, and a broken target), which no figure may count."""
    path = tmp_path / "timeline.jsonl"
    with TimelineWriter(path, created_s=float(T0)) as writer:
        for t in range(T0, T0 + 71):
            paused = PAUSE[0] <= t < PAUSE[1]
            latencies = [900.0] * 100 if paused else [2.0] * 10
            record = RequestSecond.from_latencies(t, "GET", "/x", latencies)
            writer.write_second(Second(t=t, users=5, workers=1, requests=(record,), paused=paused))
        writer.close(ended_s=T0 + 71.5, reason="quit")
    return read_timeline(path)


def test_the_plan_reaches_a_moment_later_by_the_pauses_before_it() -> None:
    spans = [(110.0, 125.0), (130.0, 131.0)]
    assert wall_time_s(100.0, 5.0, spans) == 105.0
    assert wall_time_s(100.0, 20.0, spans) == 136.0
    assert paused_spans(_record()) == [(float(PAUSE[0]), float(PAUSE[1]))]


def test_the_steady_window_ends_at_the_plan_end_plus_the_paused_time(timeline) -> None:
    window = steady_window(_record(), timeline, warmup_s=0.0)
    assert (window.start_s, window.end_s) == (T0, T0 + 70)


def test_no_figure_counts_the_paused_seconds(timeline) -> None:
    window = steady_window(_record(), timeline, warmup_s=0.0)
    analysed = analyse_window(timeline, window, AnalysisSettings(warmup_s=0.0)).window
    assert (analysed.paused_s, analysed.duration_s) == (10.0, 60.0)
    overall = analysed.overall
    assert overall.count == 60 * 10  # 60 running seconds; the 1000 paused requests left out
    assert overall.throughput_rps.value == pytest.approx(10.0)  # time denominators skip the pause
    assert overall.max_ms < 10  # none of the paused seconds' 900 ms latencies
    assert overall.p99_ms.value < 10


def test_plateaus_of_a_stepped_plan_move_by_the_pause(timeline) -> None:
    stepped = shapes.stepped(
        start_users=5, step_users=5, step_duration_s=30, steps=2, spawn_rate=100
    )
    windows = planned_windows(_record(stepped), timeline)
    # the second plateau begins 30 s into the plan: 40 s after the start, with the pause
    assert [w.start_s for w in windows][-1] >= T0 + 40
