"""Custom metrics compared run against run from real run folders: the baseline comparison of
``swarm report --compare``/``swarm run --compare`` (results.json, report.md, report.html, the
run's verdict), ``swarm compare``, the multi-run compare pages, and the history after both
runs are indexed; plus the comparison rule on literals."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from framework.cli.main import main
from framework.reports.run_report import report_run
from framework.store.results_store import ResultsStore
from framework.timeline.codec import encode_histogram, new_histogram
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
from framework.verdicts.builder import ReportOptions
from framework.verdicts.metric_comparison import budget_directions, compare_metrics
from framework.verdicts.results import Figure, MetricResult
from tests.synthetic import write_run

SECONDS = 60


def _histogram(t: int, values: list[float], **dims: str) -> MetricSecond:
    hist = new_histogram()
    for v in values:
        hist.record_value(round(v * METRIC_SCALE))
    return MetricSecond(t, "detector.server_ms", "timer", "ms", tuple(sorted(dims.items())),
                        len(values), sum(values), sum(v * v for v in values), min(values),
                        max(values), (encode_histogram(hist),))  # fmt: skip


def metric_run(folder: Path, *, server_ms: float, items_per_s: int, seed: int) -> Path:
    """A synthetic run whose timeline also holds a timer (by model), a counter, a gauge."""
    run = write_run(folder, seconds=SECONDS, names=("GET /detect",), rps=20, seed=seed)
    rng = random.Random(seed)
    lines = []
    for line in (run / "timeline.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["type"] == "sec":
            t = record["t"]
            for model in ("fast", "slow"):
                scale = 1.0 if model == "fast" else 1.5
                values = [server_ms * scale * rng.uniform(0.8, 1.2) for _ in range(20)]
                met = _histogram(t, values, model=model).to_record()
                lines.append(json.dumps({"type": "met", **met}))
            counter = MetricSecond(t, "detector.items", "counter", "items", (), 4, items_per_s)
            gauge = MetricSecond(t, "detector.queue", "gauge", "jobs", (), 1, 3.0, 0, 3.0, 3.0,
                                 last=3.0, last_at=t + 0.5)  # fmt: skip
            lines += [json.dumps({"type": "met", **m.to_record()}) for m in (counter, gauge)]
        lines.append(line)
    (run / "timeline.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    reports = tmp_path_factory.mktemp("reports")
    base = metric_run(reports / "base", server_ms=20.0, items_per_s=40, seed=1)
    cand = metric_run(reports / "cand", server_ms=40.0, items_per_s=40, seed=2)
    return base, cand


def test_the_baseline_comparison_judges_each_metric_and_fails_the_run_on_a_regression(runs):
    base, cand = runs
    outcome = report_run(cand, ReportOptions(), baseline=base)
    rows = {(r.scope, r.metric): r for r in outcome.results.metric_comparison}
    assert rows[("detector.server_ms", "p95")].verdict == "regression"
    assert rows[("detector.server_ms{model=fast}", "mean")].ratio == pytest.approx(2.0, rel=0.05)
    assert rows[("detector.items", "rate")].verdict == "no detectable change"
    assert rows[("detector.queue", "mean")].verdict == "no detectable change"
    assert outcome.results.verdict == "failed"
    assert any(r.startswith("detector.server_ms p95: ") for r in outcome.results.reasons)
    data = json.loads((cand / "results.json").read_text(encoding="utf-8"))
    assert {r["scope"] for r in data["metric_comparison"]} >= {"detector.server_ms"}
    assert data["summary"]["regressions"] >= 9
    assert [s["name"] for s in data["metric_series"]] == [
        "detector.items", "detector.queue", "detector.server_ms",
    ]  # fmt: skip
    assert "#### Custom metrics compared" in (cand / "report.md").read_text(encoding="utf-8")
    html = (cand / "report.html").read_text(encoding="utf-8")
    assert 'id="metric-comparison-table"' in html and 'id="custom-metrics"' in html


def test_swarm_compare_and_the_compare_pages_list_the_metrics(runs, capsys, tmp_path):
    base, cand = runs
    assert main(["compare", str(base), str(cand)]) == 1
    out = capsys.readouterr().out
    assert "swarm compare: custom metrics" in out
    assert "detector.server_ms p95: " in out and ": regression" in out
    page = tmp_path / "compare.html"
    assert main(["report", "--compare", str(base), str(cand), "--output", str(page)]) == 1
    markdown = page.with_suffix(".md").read_text(encoding="utf-8")
    assert "| detector.server\\_ms{model=fast} | p95 |" in markdown
    assert " ms |" in markdown.split("detector.server\\_ms{model=fast} | p95 |")[1].split("\n")[0]
    assert "detector.server_ms{model=slow}" in page.read_text(encoding="utf-8")


def test_the_history_follows_a_metric_across_indexed_runs(runs, capsys):
    base, cand = runs
    store = ResultsStore(base.parent)
    for run in (base, cand):
        report_run(run, ReportOptions())
        store.index(run, capture_git=False)
    found = store.metric_history("synthetic", "detector.server_ms{model=slow}", "mean")
    assert [round(p.value) for p in found.points] == [30, 60]


def _rate(value: float) -> list[MetricResult]:
    figure = Figure(value, value * 0.97, value * 1.03)
    return [MetricResult("q.jobs", "counter", "jobs", {}, "q.jobs", 10, figures={"rate": figure})]


def test_a_counters_rate_is_only_changed_unless_a_budget_gives_its_direction():
    assert compare_metrics(_rate(10.0), _rate(5.0))[0].verdict == "changed"
    lower = budget_directions({"q.jobs": {"min_rate": 8.0}})
    assert compare_metrics(_rate(10.0), _rate(5.0), directions=lower)[0].verdict == "regression"
    assert compare_metrics(_rate(5.0), _rate(10.0), directions=lower)[0].verdict == "improvement"
    higher = budget_directions({"q.jobs": {"max_rate": 8.0}})
    assert compare_metrics(_rate(5.0), _rate(10.0), directions=higher)[0].verdict == "regression"
    assert budget_directions({"q.jobs": {"min_rate": 1, "max_rate": 9}}) == {}
    assert compare_metrics(_rate(10.0), _rate(10.2))[0].verdict == "no detectable change"


def test_a_metric_recorded_under_another_unit_is_not_compared_and_says_so():
    other = [MetricResult("q.jobs", "counter", "items", {}, "q.jobs", 10,
                          figures={"rate": Figure(5.0, 4.9, 5.1)})]  # fmt: skip
    (row,) = compare_metrics(_rate(10.0), other)
    assert row.ratio is None and "not compared" in row.message and "'jobs'" in row.message
    assert compare_metrics(_rate(10.0), []) == []
