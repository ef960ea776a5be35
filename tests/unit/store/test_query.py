"""``run_frame``, ``query_run`` and ``swarm query`` on a run folder written by the timeline writer.

The run: a stepped plan (3 steps of 40 s) of two names with 2 % errors, started 0.4 s past
a whole second (so every phase boundary cuts a second, as in real runs), paused for 5 s in
step 2 (seconds 60–65 are marked paused and keep their requests), and one fault that ran
from 20.7 s to 30.2 s (a second never started). The report (``swarm report``) is computed
on the same folder; the query must reproduce its figures to the last digit.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import framework
from framework.cli.main import main
from framework.errors import UsageError
from framework.plan import shapes
from framework.store.frame import FRAME_COLUMNS, run_frame
from framework.store.query import DEFAULT_METRICS, QUERY_METRICS, query_run
from framework.store.run_seconds import parse_offset
from framework.timeline.reader import read_timeline
from framework.timeline.writer import TimelineWriter
from tests.synthetic import START_S, Latency, write_run

START = START_S + 0.4
PAUSED = range(START_S + 60, START_S + 66)  # the seconds the 60.4–65.4 s pause touches
FAULT = (START + 20.3, START + 29.8)  # 20.7 s to 30.2 s after START_S
NAMES = ("GET /a", "POST /b")


def _unix(times: pd.Series) -> list[int]:
    return [int(t.timestamp()) for t in times]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("query") / "run-1"
    plan = shapes.stepped(start_users=10, step_users=10, steps=3, step_duration_s=40, spawn_rate=10)
    write_run(
        folder,
        seconds=126,
        names=NAMES,
        latency={
            "GET /a": Latency(median_ms=40, sigma=0.5, phi=0.6, level_sd=0.1),
            "POST /b": Latency(median_ms=90, sigma=0.4, phi=0.6, level_sd=0.1),
        },
        rps={"GET /a": 40.0, "POST /b": 20.0},
        error_rate=0.02,
        plan=plan,
        seed=16,
    )
    # the pause: its seconds are marked in the timeline (rewritten by the writer) ...
    path = folder / "timeline.jsonl"
    timeline = read_timeline(path)
    path.unlink()
    with TimelineWriter(path, created_s=float(START_S)) as writer:
        for second in timeline.seconds:
            writer.write_second(dataclasses.replace(second, paused=second.t in PAUSED))
        writer.close(ended_s=START_S + 126.2, reason="quit")
    # ... and in run.json, with a start 0.4 s past a whole second and the faults
    run = json.loads((folder / "run.json").read_text())
    run["phases"] = [
        {"name": "starting", "at": _iso(START_S - 2)},
        {"name": "running", "at": _iso(START)},
        {"name": "paused", "at": _iso(START + 60)},
        {"name": "running", "at": _iso(START + 65)},
        {"name": "stopping", "at": _iso(START_S + 126)},
        {"name": "finished", "at": _iso(START_S + 127)},
    ]
    run["faults"] = [
        {
            "name": "success-outage",
            "kind": "mock",
            "target": "http://127.0.0.1:9001",
            "action": {"outage": True},
            "planned_start_s": 20.3,
            "planned_end_s": 29.8,
            "recovery_sla_s": 2.0,
            "started_at": _iso(FAULT[0]),
            "ended_at": _iso(FAULT[1]),
            "status": "ended",
            "error": None,
        },
        {
            "name": "never",
            "kind": "command",
            "target": "true",
            "action": {},
            "planned_start_s": 100.0,
            "planned_end_s": 110.0,
            "recovery_sla_s": None,
            "started_at": None,
            "ended_at": None,
            "status": "skipped",
            "error": None,
        },
    ]
    (folder / "run.json").write_text(json.dumps(run))
    assert main(["report", str(folder)]) in (0, 1)
    return folder


@pytest.fixture(scope="module")
def results(run_dir) -> dict:
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def frame(run_dir) -> pd.DataFrame:
    return run_frame(run_dir)


# --- run_frame ------------------------------------------------------------------------------


def test_one_row_per_second_and_name_in_time_order(frame) -> None:
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert len(frame) == 126 * len(NAMES)
    assert frame.groupby("time").size().eq(2).all()
    assert frame.time.is_monotonic_increasing
    assert str(frame.time.dt.tz) == "UTC"
    assert frame.time.iloc[0] == pd.Timestamp(START_S, unit="s", tz="UTC")
    assert frame.elapsed_s.iloc[0] == pytest.approx(-0.4)  # the second the start cuts


def test_rows_add_up_to_the_timeline_totals(run_dir, frame) -> None:
    timeline = read_timeline(run_dir / "timeline.jsonl")
    for key in NAMES:
        method, name = key.split(" ")
        rows = frame[(frame.name == name) & (frame.method == method)]
        seconds = [*timeline.seconds, *timeline.paused]
        found = [r for s in seconds for r in s.requests if r.key == key]
        assert rows.requests.sum() == sum(r.count for r in found)
        assert rows.failures.sum() == sum(r.failure_count for r in found)
        means = dict(zip(_unix(rows.time), rows.mean_ms, strict=True))
        assert [means[r.t] * 1000 for r in found] == pytest.approx([r.mean_us for r in found])


def test_per_second_percentiles_are_each_seconds_histograms(run_dir, frame) -> None:
    timeline = read_timeline(run_dir / "timeline.jsonl")
    second = timeline.seconds[10]
    record = second.get("POST /b")
    row = frame[(frame.time == pd.Timestamp(second.t, unit="s", tz="UTC")) & (frame.name == "/b")]
    hist = record.histogram
    assert row.p95_ms.item() == hist.get_value_at_percentile(95) / 1000
    assert row.max_ms.item() == hist.get_max_value() / 1000
    assert row.error_rate.item() == record.failure_count / record.count
    assert row.users.item() == second.users


def test_paused_seconds_are_rows_not_counted(frame) -> None:
    paused = frame[~frame.counted]
    assert sorted(set(_unix(paused.time))) == list(PAUSED)
    assert paused.requests.sum() > 0  # their requests are there, just not counted


def test_each_second_wholly_inside_a_phase_carries_its_name(frame) -> None:
    phase_at = dict(zip(_unix(frame.time), frame.phase, strict=True))
    assert phase_at[START_S] is None  # cut by the start (0.4 s in)
    assert phase_at[START_S + 1] is None  # the 1 s ramp-up, 0.4–1.4 s, holds no whole second
    assert phase_at[START_S + 2] == phase_at[START_S + 39] == "step 1"  # 1.4–40.4 s
    assert phase_at[START_S + 40] is None  # cut by the end of step 1 at 40.4 s
    assert phase_at[START_S + 41] is None  # cut by the start of step 2 at 41.4 s
    assert phase_at[START_S + 59] == "step 2"
    assert phase_at[START_S + 66] == "step 2"  # pushed 5 s later by the pause
    assert phase_at[START_S + 125] is None  # the last second, cut short by the stop


def test_a_second_touched_by_a_fault_carries_its_name(frame) -> None:
    fault_at = dict(zip(_unix(frame.time), frame.fault, strict=True))
    assert fault_at[START_S + 19] is None
    assert fault_at[START_S + 20] == "success-outage"  # from 20.7 s
    assert fault_at[START_S + 30] == "success-outage"  # to 30.2 s
    assert fault_at[START_S + 31] is None
    assert "never" not in set(frame.fault)  # never started: marks nothing


def test_framework_exposes_both_without_importing_pandas_up_front() -> None:
    code = "import sys, framework, framework.cli.main; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert framework.run_frame is run_frame
    assert framework.query_run is query_run
    with pytest.raises(AttributeError):
        _ = framework.no_such_thing


# --- query_run against the report -----------------------------------------------------------


def _same(row, figure: dict, metric: str, scale: float = 1.0) -> None:
    assert row[metric] == pytest.approx(figure["value"] * scale, rel=1e-12)
    assert row[f"{metric}_low"] == pytest.approx(figure["low"] * scale, rel=1e-12)
    assert row[f"{metric}_high"] == pytest.approx(figure["high"] * scale, rel=1e-12)


def _window(results: dict, window: dict) -> tuple[float, float]:
    return window["start_s"] - START, window["end_s"] - START


def test_the_steady_window_gives_the_reports_figures_and_intervals(run_dir, results) -> None:
    steady = results["baseline"]
    start, end = _window(results, steady)
    row = query_run(run_dir, start=start, end=end).iloc[0]
    overall = steady["overall"]
    assert row["count"] == overall["count"]
    assert row["seconds"] == steady["end_s"] - steady["start_s"] - steady["paused_s"]
    for metric, field in [
        ("p95", "p95_ms"),
        ("p50", "median_ms"),
        ("p99", "p99_ms"),
        ("mean", "mean_ms"),
        ("rps", "throughput_rps"),
        ("error_rate", "error_rate"),
    ]:
        _same(row, overall[field], metric)


def test_by_name_gives_each_names_report_figures(run_dir, results) -> None:
    steady = results["baseline"]
    start, end = _window(results, steady)
    rows = query_run(run_dir, start=start, end=end, by="name", metrics=("p95", "max", "count"))
    for endpoint in steady["endpoints"]:
        row = rows[rows.name == endpoint["name"]].iloc[0]
        assert row["method"] == endpoint["method"]
        assert row["count"] == endpoint["count"]
        assert row["max"] == endpoint["max_ms"]
        _same(row, endpoint["p95_ms"], "p95")


def test_by_phase_gives_each_steps_report_figures(run_dir, results) -> None:
    rows = query_run(run_dir, by="phase")
    assert results["steps"]
    for step in results["steps"]:
        row = rows[rows.phase == step["name"]].iloc[0]
        assert row["count"] == step["overall"]["count"]
        _same(row, step["overall"]["p95_ms"], "p95")
        _same(row, step["overall"]["error_rate"], "error_rate")


def test_phase_selects_one_phase_and_names_glob_picks_names(run_dir, results) -> None:
    step = next(s for s in results["steps"] if s["name"] == "step 2")
    endpoint = next(e for e in step["endpoints"] if e["name"] == "/a")
    row = query_run(run_dir, phase="step 2", names="GET *").iloc[0]
    _same(row, endpoint["p95_ms"], "p95")
    assert (
        query_run(run_dir, names=["/a"])["count"].item()
        == query_run(run_dir, names="GET /a")["count"].item()
    )


def test_a_subset_of_names_is_estimated_together(run_dir, frame) -> None:
    both = query_run(run_dir, names=["/a", "/b"])  # every name: the report's all requests
    one = query_run(run_dir, names=["/a"])
    counted = frame[frame.counted]
    assert both["count"].item() == counted.requests.sum()
    assert one["count"].item() == counted[counted.name == "/a"].requests.sum()


def test_by_fault_splits_the_seconds_with_and_without_it(run_dir, frame) -> None:
    rows = query_run(run_dir, by="fault", metrics=("count",))
    counted = frame[frame.counted]
    assert list(rows.fault) == [None, "success-outage"]
    during = counted[counted.fault == "success-outage"]
    assert rows.iloc[1]["seconds"] == len(during) // 2 == 11  # seconds 20..30
    assert rows.iloc[1]["count"] == during.requests.sum()
    assert rows["count"].sum() == counted.requests.sum()  # before + after it, end to end


def test_every_cuts_fixed_intervals_from_the_first_second(run_dir, frame) -> None:
    rows = query_run(run_dir, start="10s", end="1:10", every="20s", by=["name"])
    assert list(rows.elapsed_s.unique()) == pytest.approx([10.6, 30.6, 50.6])
    assert set(rows.name) == {"/a", "/b"}
    # 59 whole seconds in [10 s, 70 s); 6 of them paused
    assert rows.groupby("elapsed_s").seconds.first().tolist() == [20, 20, 13]
    inside = frame[frame.counted & (frame.elapsed_s >= 10) & (frame.elapsed_s + 1 <= 70)]
    assert rows["count"].sum() == inside.requests.sum()


def test_metrics_choose_the_columns(run_dir) -> None:
    rows = query_run(run_dir, metrics="p95,count,max")
    assert list(rows.columns) == [
        "time", "elapsed_s", "seconds", "p95", "p95_low", "p95_high", "count", "max",
    ]  # fmt: skip
    every = query_run(run_dir)
    shown = [c for c in every.columns if c in QUERY_METRICS]
    assert shown == list(DEFAULT_METRICS) == [m for m in QUERY_METRICS if m != "max"]


def test_one_second_gives_values_without_an_interval(run_dir) -> None:
    row = query_run(run_dir, start=10, end=12).iloc[0]  # 10.4–12.4 s: second 11 only
    assert row["seconds"] == 1
    assert row["p95"] > 0 and np.isnan(row["p95_low"])


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"start": "5m", "end": "2m"}, "--from 5:00 is not before --to 2:00"),
        ({"start": "10m"}, "at or after the end of the run (it lasted 2:05.6)"),
        ({"start": "62s", "end": "65s"}, "holds no whole counted second"),
        ({"phase": "step 9"}, "unknown phase 'step 9'; the phases of this run: 'ramp-up', "),
        ({"phase": "ramp-up"}, "phase 'ramp-up' holds no whole counted second"),
        ({"metrics": ("p95", "p42")}, "unknown metric 'p42'; choose from count, rps, "),
        ({"names": ["/c*"]}, "matches no request name of this run; its names: 'GET /a', "),
        ({"by": "host"}, "cannot group by 'host'; choose from name, phase, fault"),
        ({"every": "1.5s"}, "whole seconds, at least 1s"),
        ({"start": "1:75"}, "expected mm:ss or hh:mm:ss"),
        ({"end": "soon"}, "--to: invalid duration 'soon'"),
        ({"confidence": 1.5}, "confidence must be between 0 and 1"),
    ],
)
def test_bad_input_is_a_usage_error_naming_what_is_allowed(run_dir, kwargs, words) -> None:
    with pytest.raises(UsageError) as caught:
        query_run(run_dir, **kwargs)
    assert words in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_unknown_run_names_where_it_looked_and_the_closest_ids(run_dir) -> None:
    with pytest.raises(UsageError, match=r"no run 'run-2' .*did you mean 'run-1'"):
        query_run("run-2", reports_dir=run_dir.parent)
    with pytest.raises(UsageError, match="no run with a timeline in"):
        run_frame("latest", reports_dir=run_dir / "nowhere")


def test_offsets_read_as_durations_or_clock_readings() -> None:
    assert parse_offset("1h2m", "--from") == 3720.0
    assert parse_offset("1:02:03", "--from") == 3723.0
    assert parse_offset("0:07.5", "--from") == 7.5
    assert parse_offset(12, "start") == 12.0


# --- swarm query ----------------------------------------------------------------------------


def _query(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["query", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_latest_and_run_ids_are_found_in_out(capsys, run_dir) -> None:
    code, out, _ = _query(capsys, "latest", "--out", str(run_dir.parent), "--format", "json")
    assert code == 0
    by_id = _query(capsys, "run-1", "--out", str(run_dir.parent), "--format", "json")[1]
    assert json.loads(out) == json.loads(by_id)


def test_csv_and_json_parse_back_to_the_rows(capsys, run_dir) -> None:
    args = ("--by", "name,phase", "--metric", "count,p95,error_rate,max")
    expected = query_run(run_dir, by=["name", "phase"], metrics="count,p95,error_rate,max")
    code, out, _ = _query(capsys, str(run_dir), *args, "--format", "csv")
    assert code == 0
    parsed = pd.read_csv(StringIO(out))
    assert list(parsed.columns) == list(expected.columns)
    assert parsed["count"].tolist() == expected["count"].tolist()
    assert np.allclose(parsed.p95_low, expected.p95_low, equal_nan=True)
    assert pd.to_datetime(parsed.time).tolist() == expected.time.tolist()
    code, out, _ = _query(capsys, str(run_dir), *args, "--format", "json")
    rows = json.loads(out)
    assert [r["phase"] for r in rows] == [None if p is None else p for p in expected.phase]
    assert [r["p95_high"] for r in rows] == pytest.approx(
        [None if np.isnan(v) else v for v in expected.p95_high], rel=1e-14
    )
    assert rows[0]["time"].endswith("Z")


def test_the_table_puts_each_interval_beside_its_value(capsys, run_dir) -> None:
    code, out, _ = _query(capsys, str(run_dir), "--by", "fault", "--metric", "p95,error_rate")
    assert code == 0
    row = query_run(run_dir, by="fault", metrics="p95").iloc[1]
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["from", "fault", "seconds", "p95"]
    assert f"{row.p95:.1f} ({row.p95_low:.1f}–{row.p95_high:.1f})" in lines[2]
    assert lines[2].split()[1] == "success-outage" and lines[1].split()[1] == "-"
    assert "95% confidence" in lines[-1]


def test_output_file_is_written_whole(capsys, run_dir, tmp_path) -> None:
    target = tmp_path / "q.csv"
    code, out, err = _query(capsys, str(run_dir), "--format", "csv", "-o", str(target))
    assert (code, out) == (0, "")
    assert "1 row(s) written to" in err
    assert len(pd.read_csv(target)) == 1
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from", "3m", "--to", "1m"], "is not before --to"),
        (["--phase", "warm"], "unknown phase 'warm'"),
        (["--metric", "p95,median"], "unknown metric 'median'"),
        (["--name", "/nope"], "matches no request name"),
        (["--every", "0s"], "at least 1s"),
        (["-o", "/nonexistent-dir/q.csv"], "cannot write"),
    ],
)
def test_cli_errors_exit_2_with_a_message_and_write_nothing(capsys, run_dir, args, words) -> None:
    code, out, err = _query(capsys, str(run_dir), *args)
    assert code == 2
    assert out == ""
    assert err.startswith("swarm: ") and words in err
    assert "Traceback" not in err


def test_cli_no_such_run_exits_2(capsys, tmp_path) -> None:
    code, _, err = _query(capsys, "nothing-here", "--out", str(tmp_path))
    assert code == 2 and "no run 'nothing-here'" in err
    with pytest.raises(SystemExit) as caught:  # argparse: a choice it does not know
        main(["query", str(tmp_path), "--format", "xml"])
    assert caught.value.code == 2
