"""Custom metrics in the results store: each run's figures indexed by key and figure, their
trend with change points (``swarm history --metric KEY``), and an index of the schema before
custom metrics brought up to date."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from framework.cli.store_commands import dispatch
from framework.errors import UsageError
from framework.store.database import SCHEMA_VERSION
from framework.store.history import render_trend, trend
from framework.store.history_page import render_history_html
from framework.store.results_store import ResultsStore
from tests.fixtures.results import metric_builders as mb
from tests.unit.store.test_store import write_run


def write_metric_run(reports: Path, run_id: str, day: int, *, server_ms: float, rate: float):
    folder = write_run(reports, run_id, started=f"2026-11-{day:02d}T09:00:00.000Z")
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    results = dataclasses.replace(
        mb.results_with_metrics(), metrics=mb.metrics(server_ms=server_ms, rate=rate)
    )
    data["metrics"] = results.to_dict()["metrics"]
    (folder / "results.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    for i in range(24):
        write_metric_run(reports, f"run{i:02d}", i + 1, server_ms=40.0 if i < 12 else 60.0,
                         rate=25.0 if i < 16 else 10.0)  # fmt: skip
    return reports


def test_each_runs_metric_figures_are_indexed_by_key_and_figure(reports):
    store = ResultsStore(reports)
    found = store.metric_history("checkout", "detector.server_ms")
    assert (found.kind, found.unit, found.figure) == ("histogram", "ms", "p95")
    assert [p.value for p in found.points] == [40.0] * 12 + [60.0] * 12
    first = found.points[0]
    assert (first.low, first.high) == pytest.approx((38.4, 41.6))
    one = store.metric_history("checkout", "detector.server_ms{model=fast}", "mean")
    assert one.points[0].value == pytest.approx(20.0)
    rate = store.metric_history("checkout", "detector.batch.items")
    assert (rate.figure, rate.points[0].value) == ("rate", 25.0)
    gauge = store.metric_history("checkout", "detector.queue.depth")
    assert gauge.figure == "mean"


def test_an_unknown_key_or_figure_names_those_recorded(reports):
    store = ResultsStore(reports)
    with pytest.raises(UsageError, match=r"--metric 'detector\.server_m'.*did you mean.*server_ms"):
        store.metric_history("checkout", "detector.server_m")
    with pytest.raises(
        UsageError, match=r"unknown --figure of 'detector\.batch\.items': 'p95'.*rate"
    ):
        store.metric_history("checkout", "detector.batch.items", "p95")


def test_the_trend_finds_where_a_metric_moved_and_says_which_way(reports):
    store = ResultsStore(reports)
    found = store.metric_history("checkout", "detector.server_ms")
    shown = trend(found.points, metric="p95", scenario="checkout", name=found.key, unit="ms")
    assert [s.describe() for s in shown.shifts] == ["+50.0% at run run12"]
    assert shown.shifts[0].judged == "worse"
    text = render_trend(shown)
    assert text.startswith("checkout · detector.server_ms · p95 (ms): 24 runs, 1 change point")
    rate = store.metric_history("checkout", "detector.batch.items")
    moved = trend(rate.points, metric="rate", name=rate.key, unit="items", worse="")
    assert [s.judged for s in moved.shifts] == ["changed"]
    assert "changed" in render_trend(moved)
    page = render_history_html(moved, created_at="2026-12-01T00:00:00Z")
    assert "no worse direction" in page and 'class="pill changed"' in page


def test_swarm_history_follows_a_custom_metric(reports, capsys):
    import argparse

    args = argparse.Namespace(command="history", out=str(reports), scenario="checkout",
                              name="overall", metric="detector.server_ms{model=fast}",
                              figure="p95", rows=30, html="")  # fmt: skip
    assert dispatch(args) == 0
    out = capsys.readouterr().out
    assert "detector.server_ms{model=fast} · p95 (ms): 24 runs, 1 change point" in out
    page = (reports / "history-checkout.html").read_text(encoding="utf-8")
    assert "detector.server_ms{model=fast}" in page and "lower is better" in page
    bad = argparse.Namespace(**{**vars(args), "metric": "detector.server_ms", "name": "GET home"})
    assert dispatch(bad) == 2
    assert "--name selects a request" in capsys.readouterr().err
    wrong = argparse.Namespace(**{**vars(args), "metric": "p95", "figure": "rate"})
    assert dispatch(wrong) == 2
    assert "--figure is for a custom metric" in capsys.readouterr().err
    odd = argparse.Namespace(**{**vars(args), "metric": "p 95", "figure": None})
    assert dispatch(odd) == 2
    assert "unknown --metric 'p 95'" in capsys.readouterr().err


def test_an_index_from_before_custom_metrics_is_brought_up_to_date(reports):
    """A version-1 index (no metric_figures table) is re-created and refilled by the sync."""
    path = reports / "index.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, scenario TEXT)")
        conn.execute("CREATE TABLE figures (run_id TEXT, name TEXT)")
        conn.execute("INSERT INTO runs VALUES ('run00', 'checkout')")
        conn.execute("PRAGMA user_version = 1")
    store = ResultsStore(reports)
    assert len(store.metric_history("checkout", "detector.server_ms").points) == 24
    assert len(store.list(limit=None)) == 24
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
