"""Unit tests of framework.store.history: change points named by run, and the text rendering."""

from __future__ import annotations

import numpy as np
import pytest

from framework.store.history import Shift, format_value, render_trend, sparkline, trend
from framework.store.records import HistoryPoint
from framework.store.results_store import ResultsStore
from tests.unit.store.test_store import write_run


def history(levels, cv=0.01, seed=0, interval=0.03):
    """Points of a history holding each (value, runs) level in turn, with multiplicative noise."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.full(runs, value, dtype=float) for value, runs in levels])
    values = values * (1 + cv * rng.standard_normal(values.size))
    return [
        HistoryPoint(
            f"run-{i:02d}",
            f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00.000Z",
            float(v),
            float(v) * (1 - interval),
            float(v) * (1 + interval),
        )
        for i, v in enumerate(values)
    ]


def test_an_eight_percent_step_is_found_at_the_run_where_it_happened():
    points = history([(100.0, 15), (108.0, 15)])
    found = trend(points, metric="p95", scenario="checkout")
    (shift,) = found.shifts
    assert (shift.index, shift.run_id, shift.started_at) == (15, "run-15", points[15].started_at)
    assert shift.relative_change == pytest.approx(0.08, abs=0.01)
    assert (shift.direction, shift.worse) == ("up", True)
    assert shift.p_value < 0.001
    assert shift.describe() == f"{shift.relative_change:+.1%} at run run-15"
    assert shift.describe().startswith("+8.")
    assert found.values == tuple(p.value for p in points)


def test_a_flat_noisy_history_has_no_change_points():
    assert trend(history([(100.0, 40)], cv=0.02)).shifts == ()
    assert trend(history([(100.0, 4)])).shifts == ()
    assert trend([]).shifts == ()


def test_a_drop_in_throughput_is_worse_and_a_rise_better():
    (drop,) = trend(history([(500.0, 12), (450.0, 12)]), metric="throughput").shifts
    assert (drop.direction, drop.worse) == ("down", True)
    assert drop.describe().startswith("-10.")
    (rise,) = trend(history([(500.0, 12), (550.0, 12)]), metric="throughput").shifts
    assert (rise.direction, rise.worse) == ("up", False)
    (faster,) = trend(history([(100.0, 12), (80.0, 12)]), metric="p99").shifts
    assert faster.worse is False


def test_runs_without_a_value_are_left_out():
    points = [("a", "t1", None, None, None), *history([(100.0, 3)])]
    assert [p.run_id for p in trend(points).points] == ["run-00", "run-01", "run-02"]


def test_a_change_from_zero_is_described_by_its_levels():
    points = [(f"r{i}", "t", 0.0 if i < 10 else 0.02, None, None) for i in range(20)]
    (shift,) = trend(points, metric="error_rate").shifts
    assert shift.describe() == "0 → 0.02 at run r10"
    assert shift.worse


def test_unknown_metrics_are_rejected():
    with pytest.raises(ValueError, match="metric must be one of"):
        trend([], metric="p42")


def test_sparkline_scales_values_to_eight_levels_and_buckets_to_a_width():
    assert sparkline([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5.0, 5.0, 5.0]) == "▅▅▅"
    assert sparkline([]) == ""
    assert sparkline([1.0, 1.0, 9.0, 9.0], width=2) == "▁█"
    assert len(sparkline(list(map(float, range(100))), width=30)) == 30


def test_format_value_uses_the_metric_unit():
    assert format_value("p95", 101.25) == "101.2"
    assert format_value("p95", 3.456) == "3.46"
    assert format_value("throughput", 5.0) == "5.0"
    assert format_value("error_rate", 0.0123) == "1.23%"
    assert format_value("mean", None) == "-"


def test_the_rendering_marks_the_change_under_the_sparkline_and_in_the_table():
    points = history([(100.0, 15), (108.0, 15)])
    text = render_trend(trend(points, scenario="checkout"), max_rows=5)
    lines = text.splitlines()
    assert lines[0] == "checkout · overall · p95 (ms): 30 runs, 1 change point"
    assert len(lines[1].split()[0]) == 30  # one sparkline character per run
    assert lines[2] == "  " + " " * 15 + "^"
    assert lines[3].startswith("  +8.") and "at run run-15 (2026-11-01 15:00):" in lines[3]
    assert lines[3].endswith(", worse")
    table = lines[5:]
    assert table[0].split() == ["#", "run", "started", "(UTC)", "p95", "interval"]
    assert table[1].split() == ["…", "14", "runs"]
    assert table[2].split()[:2] == ["15", "run-14"]
    assert table[3].split()[:2] == ["16", "run-15"] and "◀ +8." in table[3]
    assert table[4].split() == ["…", "9", "runs"]
    assert [row.split()[1] for row in table[5:]] == [f"run-{i}" for i in range(25, 30)]
    assert "[" in table[5] and "]" in table[5]


def test_an_empty_trend_says_there_is_nothing_yet():
    text = render_trend(trend([], metric="error_rate", scenario="checkout", name="GET /"))
    assert text.splitlines() == [
        "checkout · GET / · error_rate (%): 0 runs, 0 change points",
        "  no analysed run has this figure yet",
    ]


def test_a_long_history_is_drawn_in_buckets_with_the_change_marked():
    points = history([(100.0, 100), (120.0, 100)])
    found = trend(points)
    assert [s.index for s in found.shifts] == [100]
    lines = render_trend(found, width=50).splitlines()
    assert len(lines[1].split()[0]) == 50
    assert lines[2].index("^") - 2 == 25


def test_the_history_of_stored_runs_finds_the_run_where_p95_stepped_up(tmp_path):
    reports = tmp_path / "reports"
    rng = np.random.default_rng(7)
    for i in range(30):
        level = 100.0 if i < 15 else 108.0
        write_run(
            reports,
            f"2026110{i // 10}T{i % 10:02d}0000Z-checkout",
            started=f"2026-11-0{1 + i // 10}T{i % 10:02d}:00:00Z",
            p95=level * (1 + 0.01 * rng.standard_normal()),
        )
    found = trend(ResultsStore(reports).history("checkout", metric="p95"), scenario="checkout")
    assert [s.run_id for s in found.shifts] == ["20261101T050000Z-checkout"]
    assert isinstance(found.shifts[0], Shift)
