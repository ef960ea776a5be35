"""``swarm runs ...`` and ``swarm history`` through framework.cli.store_commands, on run folders.

The commands are parsed by a small parser built with ``add_commands``, exactly as
``framework.cli.main`` builds its own, and run with ``dispatch``; nothing starts a process.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from framework.cli.store_commands import (
    NoBaselineError,
    add_commands,
    dispatch,
    record_run,
    resolve_baseline,
    resolve_baseline_for_run,
)
from framework.errors import UnknownRunError
from framework.store.results_store import ResultsStore
from framework.verdicts.results import EndpointResult, Figure, QualityResult, Results, Window


def _endpoint(name: str, method: str, p95: float) -> EndpointResult:
    def fig(value: float) -> Figure:
        return Figure(value, value * 0.97, value * 1.03, n=60)

    return EndpointResult(
        name, method, 1200, 6, {"http_500": 6}, 0, 0, 1.0, p95 * 2, p95 * 0.9,
        fig(p95 / 2), fig(p95 / 3), fig(p95), fig(p95 * 1.5), fig(20.0), fig(0.005),
        QualityResult("warn"),
    )  # fmt: skip


def make_run(
    reports: Path,
    run_id: str,
    started: str,
    *,
    scenario: str = "checkout",
    p95: float = 100.0,
    status: str = "finished",
    exit_code: int = 0,
) -> Path:
    """A run folder with run.json and results.json, as ``swarm run`` leaves it."""
    folder = reports / run_id
    folder.mkdir(parents=True)
    run = {"run_id": run_id, "scenario": scenario, "scenario_file": "scenario.yaml",
           "host": "http://shop.local", "started_at": started, "ended_at": started,
           "status": status, "exit_code": exit_code, "tags": {"env": "ci"}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    window = Window("steady", 0, 60, 4, _endpoint("Aggregated", "", p95),
                    (_endpoint("/", "GET", p95 * 0.8),))  # fmt: skip
    results = Results("x", started, run, {}, window)
    (folder / "results.json").write_text(json.dumps(results.to_dict()), encoding="utf-8")
    return folder


def swarm(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="swarm")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


@pytest.fixture
def reports(tmp_path, monkeypatch) -> Path:
    """A reports folder holding three runs of checkout and one of search; cwd is its parent."""
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    make_run(reports, "20261101T090000Z-checkout", "2026-11-01T09:00:00.000Z", p95=100.0)
    make_run(reports, "20261102T090000Z-checkout", "2026-11-02T09:00:00.000Z", p95=101.0)
    make_run(reports, "20261103T090000Z-checkout", "2026-11-03T09:00:00.000Z", status="failed")
    make_run(reports, "20261104T090000Z-search", "2026-11-04T09:00:00.000Z", scenario="search")
    return reports


def test_runs_list_prints_the_newest_runs_first(reports, capsys):
    assert swarm("runs", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["run", "scenario", "started", "(UTC)", "status"]
    assert [line.split()[0] for line in lines[1:]] == [
        "20261104T090000Z-search", "20261103T090000Z-checkout",
        "20261102T090000Z-checkout", "20261101T090000Z-checkout",
    ]  # fmt: skip
    assert lines[3].split()[1:9] == [
        "checkout", "2026-11-02", "09:00", "finished", "passed", "101.0", "20.0", "0.50%",
    ]  # fmt: skip
    assert swarm("runs", "list", "--scenario", "checkout", "--limit", "1") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_runs_list_of_an_empty_folder_says_so(tmp_path, capsys):
    assert swarm("runs", "list", "--out", str(tmp_path / "none")) == 0
    assert capsys.readouterr().out.startswith("no runs in ")
    assert not (tmp_path / "none").exists()


def test_runs_show_prints_the_run_and_its_figures(reports, capsys):
    assert swarm("runs", "show", "20261102T090000Z-checkout") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "run 20261102T090000Z-checkout"
    assert "  status    finished (exit 0), verdict passed" in out
    assert "  tags      env=ci" in out
    overall = next(line for line in out if line.strip().startswith("overall"))
    assert overall.split()[:4] == ["overall", "1200", "50.5", "33.7"]
    assert "101.0 [98.0, 104.0]" in overall
    assert any(line.strip().startswith("GET /") for line in out)


def test_an_unknown_run_id_exits_2_and_suggests_the_closest(reports, capsys):
    assert swarm("runs", "show", "20261102T090000Z-chekout") == 2
    err = capsys.readouterr().err
    assert err.startswith("swarm: no run '20261102T090000Z-chekout' in ")
    assert "did you mean '20261102T090000Z-checkout'" in err


def test_pin_then_unpin(reports, capsys):
    assert swarm("runs", "pin", "20261101T090000Z-checkout") == 0
    assert capsys.readouterr().out == (
        "swarm: pinned 20261101T090000Z-checkout as the baseline of scenario 'checkout'\n"
    )
    swarm("runs", "list")
    pinned = [line for line in capsys.readouterr().out.splitlines() if line.endswith("pinned")]
    assert [line.split()[0] for line in pinned] == ["20261101T090000Z-checkout"]
    assert swarm("runs", "unpin", "20261101T090000Z-checkout") == 0
    assert swarm("runs", "unpin", "20261101T090000Z-checkout") == 2
    assert "is not pinned" in capsys.readouterr().err


def test_rm_keeps_the_folder_unless_asked_to_delete_it(reports, capsys):
    assert swarm("runs", "rm", "20261101T090000Z-checkout") == 0
    assert "is kept" in capsys.readouterr().out
    assert (reports / "20261101T090000Z-checkout").is_dir()
    assert swarm("runs", "rm", "20261102T090000Z-checkout", "--delete") == 0
    assert not (reports / "20261102T090000Z-checkout").exists()
    swarm("runs", "list", "--scenario", "checkout")
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["20261103T090000Z-checkout"]


def test_rebuild_reports_what_it_indexed_and_skipped(reports, capsys):
    (reports / "broken").mkdir()
    (reports / "broken" / "run.json").write_text("[", encoding="utf-8")
    assert swarm("runs", "rebuild") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"swarm: indexed 4 run(s) into {reports.resolve() / 'index.sqlite'}"
    assert out[1].startswith(f"swarm: skipped {reports.resolve() / 'broken'}: ")


def test_an_unreadable_index_exits_3_and_says_how_to_rebuild(reports, capsys):
    (reports / "index.sqlite").write_bytes(b"garbage" * 1000)
    assert swarm("runs", "list") == 3
    assert "swarm runs rebuild --out" in capsys.readouterr().err
    assert swarm("runs", "rebuild") == 0
    assert swarm("runs", "list") == 0


def test_a_mistyped_action_lists_the_actions(reports, capsys):
    with pytest.raises(SystemExit) as exited:
        swarm("runs", "lst")
    assert exited.value.code == 2
    assert "invalid choice: 'lst' (choose from 'list', 'show'" in capsys.readouterr().err


def test_history_draws_the_trend_and_marks_the_step(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    for i in range(30):
        p95 = (100.0 if i < 15 else 108.0) * (1 + 0.01 * rng.standard_normal())
        make_run(tmp_path / "reports", f"run-{i:02d}", f"2026-11-{i + 1:02d}T09:00:00Z", p95=p95)
    assert swarm("history", "checkout", "--metric", "p95") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "checkout · overall · p95 (ms): 30 runs, 1 change point"
    assert out[2] == "  " + " " * 15 + "^"
    assert out[3].startswith("  +") and " at run run-15 (2026-11-16 09:00): " in out[3]
    assert swarm("history", "checkout", "--name", "/", "--metric", "throughput") == 0
    assert capsys.readouterr().out.startswith("checkout · / · throughput (req/s): 30 runs, 0 ")


def test_history_of_an_unknown_scenario_or_name_exits_2(reports, capsys):
    assert swarm("history", "chekout") == 2
    assert "did you mean 'checkout'?" in capsys.readouterr().err
    assert swarm("history", "checkout", "--name", "GET /nope") == 2
    assert "did you mean 'GET /'?" in capsys.readouterr().err
    assert swarm("history", "checkout", "--metric", "p59") == 2  # a custom metric's key?
    err = capsys.readouterr().err
    assert "unknown --metric 'p59'" in err and "'p95'" in err


def test_baseline_latest_is_the_newest_finished_run_of_the_scenario(reports):
    newest = reports / "20261102T090000Z-checkout"
    assert resolve_baseline("latest", "checkout", reports) == newest.resolve()
    older = resolve_baseline(
        "latest", "checkout", reports, exclude_run_id="20261102T090000Z-checkout"
    )
    assert older.name == "20261101T090000Z-checkout"
    with pytest.raises(NoBaselineError, match="no finished run of scenario 'nothing'"):
        resolve_baseline("latest", "nothing", reports)


def test_baseline_latest_skips_a_run_that_lost_a_worker(reports, capsys):
    """Finished with exit code 3: listed as failed, and no baseline for ``latest``."""
    lost = make_run(reports, "20261105T090000Z-checkout", "2026-11-05T09:00:00.000Z", exit_code=3)
    assert resolve_baseline("latest", "checkout", reports).name == "20261102T090000Z-checkout"
    assert swarm("runs", "list", "--scenario", "checkout", "--limit", "1") == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:6] == [lost.name, "checkout", "2026-11-05", "09:00", "finished", "failed"]


def test_baseline_latest_for_a_re_reported_run_is_the_one_before_it(reports):
    run_dir = reports / "20261102T090000Z-checkout"
    assert resolve_baseline_for_run("latest", run_dir, reports).name == (
        "20261101T090000Z-checkout"
    )
    with pytest.raises(NoBaselineError):
        resolve_baseline_for_run("latest", reports / "20261101T090000Z-checkout", reports)


def test_baseline_pinned_needs_a_pin(reports):
    with pytest.raises(NoBaselineError) as caught:
        resolve_baseline("pinned", "checkout", reports)
    assert str(caught.value) == (
        "no pinned run for scenario 'checkout'; pin one with swarm runs pin RUN"
    )
    assert caught.value.exit_code == 2
    ResultsStore(reports).pin("20261101T090000Z-checkout")
    assert resolve_baseline("pinned", "checkout", reports).name == "20261101T090000Z-checkout"


def test_baseline_by_run_id_or_folder(reports):
    folder = reports / "20261101T090000Z-checkout"
    assert resolve_baseline("20261101T090000Z-checkout", "checkout", reports) == folder
    assert resolve_baseline(str(folder), "checkout", reports) == folder
    with pytest.raises(UnknownRunError, match="did you mean '20261101T090000Z-checkout'"):
        resolve_baseline("20261101T090000Z-checkot", "checkout", reports)


def test_record_run_indexes_and_only_warns_when_the_store_fails(reports, tmp_path, capsys):
    folder = make_run(tmp_path / "elsewhere", "far", "2026-11-05T09:00:00Z")
    assert record_run(folder, reports)
    assert ResultsStore(reports).show("far").run.path == folder.resolve()
    (tmp_path / "blocked").write_text("a file, not a folder", encoding="utf-8")
    assert not record_run(folder, tmp_path / "blocked")
    assert capsys.readouterr().err.startswith("swarm: warning: run not indexed: ")


def test_record_run_of_a_folder_that_is_not_a_run_only_warns(reports, tmp_path, capsys):
    assert not record_run(tmp_path, reports)
    assert "run.json: missing" in capsys.readouterr().err
