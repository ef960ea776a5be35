"""A custom metric queried (``query_run(metric=...)``, ``swarm query --metric NAME``) on a
run folder written by the timeline writer, with ``met`` lines whose figures are known.

The run: 30 s; every second, a timer ``detector.server_ms`` in four dimension sets
(model fast/slow × region eu/us) whose values are known, a counter ``detector.batch.items``
per model, and a gauge ``detector.queue.depth`` set only every 5th second; seconds 20–21 are
paused (their records must count nowhere).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from framework.cli.main import main
from framework.errors import UsageError
from framework.store.query import query_run
from framework.timeline.codec import encode_histogram, new_histogram
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
from framework.timeline.reader import read_timeline
from framework.timeline.writer import TimelineWriter
from tests.synthetic import START_S, write_run

SECONDS = 30
PAUSED = (START_S + 20, START_S + 21)
BASE = {"fast": 10.0, "slow": 100.0}
REGION = {"eu": 0.0, "us": 5.0}


def _timer(t: int, model: str, region: str) -> MetricSecond:
    """Values base + region + 0..9 (ten of them) in second t."""
    values = [BASE[model] + REGION[region] + k for k in range(10)]
    hist = new_histogram()
    for v in values:
        hist.record_value(round(v * METRIC_SCALE))
    return MetricSecond(
        t=t, name="detector.server_ms", kind="timer", unit="ms",
        dims=(("model", model), ("region", region)), count=10, sum=sum(values),
        sumsq=sum(v * v for v in values), min=min(values), max=max(values),
        hist_blobs=(encode_histogram(hist),), missing=1 if model == "slow" else 0,
    )  # fmt: skip


def _records(t: int) -> tuple[MetricSecond, ...]:
    i = t - START_S
    found = [_timer(t, m, r) for m in BASE for r in REGION]
    found += [
        MetricSecond(t=t, name="detector.batch.items", kind="counter", unit="items",
                     dims=(("model", m),), count=2, sum=3 if m == "fast" else 5)
        for m in BASE
    ]  # fmt: skip
    if i % 5 == 0:
        found.append(
            MetricSecond(t=t, name="detector.queue.depth", kind="gauge", unit="jobs", count=1,
                         sum=float(i), min=float(i), max=float(i), last=float(i), last_at=t + 0.5)
        )  # fmt: skip
    return tuple(sorted(found, key=lambda m: m.key))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("metric-query") / "run-m"
    write_run(folder, seconds=SECONDS, rps=5.0, seed=3)
    path = folder / "timeline.jsonl"
    timeline = read_timeline(path)
    path.unlink()
    with TimelineWriter(path, created_s=float(START_S)) as writer:
        for second in timeline.seconds:
            writer.write_second(
                dataclasses.replace(second, paused=second.t in PAUSED, metrics=_records(second.t))
            )
        writer.close(ended_s=START_S + SECONDS + 0.2, reason="quit")
    return folder


def test_a_timer_over_the_whole_run_merges_every_dimension_set(run_dir) -> None:
    frame = query_run(run_dir, metric="detector.server_ms")
    assert len(frame) == 1 and frame.attrs["unit"] == "ms" and frame.attrs["kind"] == "timer"
    row = frame.iloc[0]
    counted = SECONDS - len(PAUSED)
    assert row["seconds"] == counted and row["count"] == counted * 40
    assert row["missing"] == counted * 2  # the slow sets miss one a second
    assert row["min"] == 10.0 and row["max"] == 114.0
    assert row["mean"] == pytest.approx((14.5 + 19.5 + 104.5 + 109.5) / 4)
    assert row["p50"] == pytest.approx(24.0, rel=1e-3)  # half the values are fast ones (10–24)
    assert row["p99"] == pytest.approx(114.0, rel=1e-3)
    assert list(frame.columns) == [
        "time", "elapsed_s", "seconds", "count", "mean", "p50", "p95", "p99", "min", "max",
        "missing",
    ]  # fmt: skip


def test_where_filters_and_group_by_makes_a_row_per_value(run_dir) -> None:
    frame = query_run(run_dir, metric="detector.server_ms", where=["region=us"], group_by="model")
    assert list(frame["model"]) == ["fast", "slow"]
    assert list(frame["mean"]) == [pytest.approx(19.5), pytest.approx(109.5)]
    assert list(frame["min"]) == [15.0, 105.0]
    both = query_run(run_dir, metric="detector.server_ms", where={"model": ["fast", "slow"]},
                     group_by=["model", "region"])  # fmt: skip
    assert [(r.model, r.region) for r in both.itertuples()] == [
        ("fast", "eu"), ("fast", "us"), ("slow", "eu"), ("slow", "us"),
    ]  # fmt: skip


def test_every_cuts_buckets_and_a_counters_rate_is_per_counted_second(run_dir) -> None:
    frame = query_run(run_dir, metric="detector.batch.items", group_by="model", every="10s")
    assert list(frame["model"]) == ["fast", "slow"] * 3
    assert list(frame["seconds"]) == [10, 10, 10, 10, 8, 8]  # 20–21 paused
    assert list(frame["total"]) == [30, 50, 30, 50, 24, 40]
    assert list(frame["rate"]) == [3.0, 5.0, 3.0, 5.0, 3.0, 5.0]
    assert list(frame["count"]) == [20, 20, 20, 20, 16, 16]


def test_a_gauge_is_time_weighted_carrying_each_value_until_the_next_set(run_dir) -> None:
    frame = query_run(run_dir, metric="detector.queue.depth", every="10s")
    # set to 0, 5, 10, 15, 20 (paused: never counts), 25 at those seconds
    first, second, third = frame.itertuples()
    assert first.mean == pytest.approx(2.5) and first.last == 5 and first.count == 2
    assert (first.min, first.max) == (0.0, 5.0)
    assert second.mean == pytest.approx(12.5)
    # 22–24 carry 15 (the set at 20 was in a paused second), 25–29 hold 25
    assert third.mean == pytest.approx((3 * 15 + 5 * 25) / 8) and third.last == 25


def test_a_bucket_without_records_is_a_row_with_count_0(run_dir) -> None:
    frame = query_run(run_dir, metric="detector.queue.depth", every="1s", start="1s", end="3s")
    assert list(frame["count"]) == [0, 0]
    assert np.isnan(frame["last"]).all() and list(frame["mean"]) == [0.0, 0.0]  # carried


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"metric": "detector.server_sm"}, ["unknown metric", "did you mean 'detector.server_ms'",
                                            "detector.batch.items"]),
        ({"metric": "detector.server_ms", "where": "modle=fast"},
         ["no dimension 'modle'", "did you mean 'model'", "model, region"]),
        ({"metric": "detector.server_ms", "group_by": "zone"}, ["--group-by 'zone'", "model"]),
        ({"metric": "detector.server_ms", "where": "model"}, ["DIMENSION=VALUE"]),
        ({"metric": "detector.server_ms", "where": "model=medium"}, ["fast, slow"]),
        ({"metric": "detector.queue.depth", "where": "model=fast"}, ["it has no dimensions"]),
        ({"where": "model=fast"}, ["--metric NAME"]),
        ({"metric": "detector.server_ms", "by": "name"}, ["--group-by"]),
        ({"metric": "detector.server_ms", "names": "GET*"}, ["--where"]),
    ],
)  # fmt: skip
def test_bad_input_is_a_usage_error_naming_what_is_known(run_dir, kwargs, words) -> None:
    with pytest.raises(UsageError) as caught:
        query_run(run_dir, **kwargs)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_cli_metric_name_gives_the_metrics_rows_and_figures_stay_figures(capsys, run_dir) -> None:
    code = main(["query", str(run_dir), "--metric", "detector.server_ms", "--where",
                 "model=fast", "--group-by", "region", "--format", "json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["region"] for r in rows] == ["eu", "us"]
    assert rows[0]["mean"] == pytest.approx(14.5)
    assert main(["query", str(run_dir), "--metric", "p95,rps", "--format", "json"]) == 0
    assert "p95_low" in json.loads(capsys.readouterr().out)[0]
    assert main(["query", str(run_dir), "--metric", "detector.batch.items", "--every", "15s"]) == 0
    table = capsys.readouterr().out
    assert "rate items/s" in table and "total items" in table and "counter in items" in table


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--metric", "detector.nothing"], ["unknown metric", "detector.server_ms"]),
        (["--metric", "detector.server_ms", "--where", "model:fast"], ["DIMENSION=VALUE"]),
        (["--metric", "detector.server_ms", "--group-by", "zone"], ["no dimension 'zone'"]),
        (["--metric", "p95,detector.server_ms"], ["unknown metric 'detector.server_ms'"]),
        (["--metric", "meen"], ["did you mean 'mean'? The custom metrics", "request figures"]),
    ],
)
def test_cli_errors_exit_2_with_the_message_and_no_traceback(capsys, run_dir, args, words) -> None:
    assert main(["query", str(run_dir), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    for word in words:
        assert word in err, err
