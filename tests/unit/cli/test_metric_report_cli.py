"""``swarm report`` on a synthetic run folder whose timeline holds custom metrics (``met``
lines): results.json, report.md and junit.xml show them, and a failed metric budget fails
the run (exit 1)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from framework.cli.main import main
from framework.timeline.codec import encode_histogram, new_histogram
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME
from framework.timeline.writer import TimelineWriter
from tests.synthetic import write_run

SECONDS = 120


def server_ms(t: int, rng: np.random.Generator, model: str) -> MetricSecond:
    """About 20 values a second around 100 ms (fast) or 200 ms (slow)."""
    values = rng.normal(100.0 if model == "fast" else 200.0, 10.0, size=20).clip(1)
    hist = new_histogram()
    for v in values:
        hist.record_value(round(v * METRIC_SCALE))
    return MetricSecond(
        t=t, name="detector.server_ms", kind="histogram", unit="ms", dims=(("model", model),),
        count=len(values), sum=float(values.sum()), sumsq=float((values**2).sum()),
        min=float(values.min()), max=float(values.max()), hist_blobs=(encode_histogram(hist),),
        missing=1 if t % 10 == 0 else 0,
    )  # fmt: skip


def with_metrics(folder: Path) -> Path:
    """Rewrite the run's timeline with custom metrics in every second."""
    path = folder / FILE_NAME
    timeline = read_timeline(path)
    rng = np.random.default_rng(3)
    with TimelineWriter(path.with_suffix(".new"), created_s=float(timeline.start_s)) as writer:
        for i, second in enumerate(timeline.seconds):
            t = second.t
            records = [
                MetricSecond(t=t, name="detector.alerts", kind="counter", unit="alerts",
                             count=2, sum=2),
                MetricSecond(t=t, name="detector.queue.depth", kind="gauge", unit="jobs",
                             count=1, sum=i % 7, min=i % 7, max=i % 7, last=i % 7,
                             last_at=t + 0.5),
                server_ms(t, rng, "fast"),
                server_ms(t, rng, "slow"),
            ]  # fmt: skip
            writer.write_second(
                replace(second, metrics=tuple(sorted(records, key=lambda m: m.key)))
            )
        writer.close(ended_s=timeline.end_s + 0.2, reason="quit")
    path.with_suffix(".new").replace(path)
    return folder


@pytest.fixture
def run(tmp_path):
    return lambda budgets: with_metrics(
        write_run(tmp_path / "run", seconds=SECONDS, rps=20.0, budgets=budgets)
    )


def test_report_shows_metrics_and_a_met_metric_budget_passes(run, tmp_path):
    folder = run({"metrics": {"detector.server_ms{model=fast}": {"p95": 200, "mean": 150},
                              "detector.alerts": {"min_rate": 1}}})  # fmt: skip
    assert main(["report", str(folder)]) == 0
    results = json.loads((folder / "results.json").read_text())
    metrics = {m["key"]: m for m in results["metrics"]}
    assert set(metrics) == {
        "detector.alerts",
        "detector.queue.depth",
        "detector.server_ms",
        "detector.server_ms{model=fast}",
        "detector.server_ms{model=slow}",
    }
    fast = metrics["detector.server_ms{model=fast}"]
    assert fast["dims"] == {"model": "fast"} and fast["kind"] == "histogram"
    assert fast["figures"]["mean"]["low"] < 100 < fast["figures"]["mean"]["high"] + 1
    assert metrics["detector.alerts"]["figures"]["rate"]["value"] == pytest.approx(2.0)
    assert metrics["detector.server_ms"]["missing"] > 0
    assert [b["verdict"] for b in results["budgets"]] == ["pass", "pass", "pass"]
    markdown = (folder / "report.md").read_text()
    assert "### Custom metrics" in markdown
    assert "detector.server\\_ms{model=fast} | histogram" in markdown
    assert "rate 2.0 alerts/s" in markdown
    assert "metric detector.alerts" in markdown  # the budgets table


def test_failed_metric_budget_fails_the_run_with_a_junit_case(run):
    folder = run({"metrics": {"detector.server_ms{model=slow}": {"p95": 150},
                              "detector.alerts": {"p95": 3}}})  # fmt: skip
    assert main(["report", str(folder)]) == 1
    results = json.loads((folder / "results.json").read_text())
    assert results["verdict"] == "failed"
    assert any("metric detector.server_ms{model=slow} p95" in r for r in results["reasons"])
    assert any("p95 does not fit a counter" in r for r in results["reasons"])
    root = ET.parse(folder / "junit.xml").getroot()
    suite = next(s for s in root if s.get("name") == "swarm.budgets")
    cases = {(c.get("classname"), c.get("name")): c for c in suite}
    slow = cases[("swarm.budgets.metrics.detector_server_ms{model=slow}", "p95")]
    assert slow.find("failure") is not None and "ms" in slow.find("failure").get("message")
    assert cases[("swarm.budgets.metrics.detector_alerts", "p95")].find("failure") is not None


def test_budgets_file_with_metrics_judges_them(run, tmp_path):
    folder = run(None)
    file = tmp_path / "budgets.yaml"
    file.write_text(yaml.safe_dump({"metrics": {"detector.nothing": {"max": 1}}}))
    assert main(["report", str(folder), "--budgets", str(file)]) == 1
    results = json.loads((folder / "results.json").read_text())
    assert "never recorded a metric named 'detector.nothing'" in results["reasons"][0]


def test_budgets_file_with_a_malformed_metric_key_exits_2(run, tmp_path, capsys):
    folder = run(None)
    file = tmp_path / "budgets.yaml"
    file.write_text("metrics:\n  'detector server{x}': {p95: 1}\n")
    assert main(["report", str(folder), "--budgets", str(file)]) == 2
    err = capsys.readouterr().err
    assert f"{file}:2:" in err and "metrics.detector server{x}" in err
    assert "Traceback" not in err
