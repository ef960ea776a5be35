"""``swarm query`` on a real run folder: ``tests/fixtures/query_run`` is a 28 s stepped run
(3 steps of 8 s, POST /detect and GET /health) of a Locust master and 2 workers against the
``success`` mock detector, paused for 5.7 s in step 2 with ``swarm ctl``; its run.json and
timeline.jsonl are as the run wrote them (local paths and pids blanked).

The query must give the report's figures on it: the same folder, analysed by ``swarm
report``, is the reference.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from framework.cli.main import main
from framework.store.frame import run_frame
from framework.store.query import query_run
from framework.timeline.reader import read_timeline

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "query_run"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("real") / "walk-1"
    shutil.copytree(FIXTURE, folder)
    assert main(["report", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def results(run_dir) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_every_request_of_the_timeline_is_in_the_frame(run_dir) -> None:
    frame = run_frame(run_dir)
    timeline = read_timeline(run_dir / "timeline.jsonl")
    seconds = [*timeline.seconds, *timeline.paused]
    assert frame.requests.sum() == sum(s.count for s in seconds)
    assert len(frame) == len(seconds) * 2  # two names, every second
    assert (~frame.counted).sum() == len(timeline.paused) * 2 > 0


def test_each_step_gives_the_reports_figures(run_dir, results) -> None:
    rows = query_run(run_dir, by="phase")
    assert len(results["steps"]) == 3
    for step in results["steps"]:
        row = rows[rows.phase == step["name"]].iloc[0]
        overall = step["overall"]
        assert row["seconds"] == step["end_s"] - step["start_s"] - step["paused_s"]
        assert row["count"] == overall["count"]
        for metric, field in (("p95", "p95_ms"), ("rps", "throughput_rps"), ("mean", "mean_ms")):
            assert row[metric] == pytest.approx(overall[field]["value"], rel=1e-12)
            assert row[f"{metric}_low"] == pytest.approx(overall[field]["low"], rel=1e-12)
            assert row[f"{metric}_high"] == pytest.approx(overall[field]["high"], rel=1e-12)


def test_the_steady_window_by_name_gives_the_reports_figures(run_dir, results) -> None:
    steady = results["baseline"]
    start = json.loads((run_dir / "run.json").read_text())["phases"][1]["at"]
    began = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
    rows = query_run(
        run_dir, start=steady["start_s"] - began, end=steady["end_s"] - began, by="name"
    )
    for endpoint in steady["endpoints"]:
        row = rows[rows.name == endpoint["name"]].iloc[0]
        assert row["count"] == endpoint["count"]
        assert row["p99"] == pytest.approx(endpoint["p99_ms"]["value"], rel=1e-12)
        assert row["p99_low"] == pytest.approx(endpoint["p99_ms"]["low"], rel=1e-12)
