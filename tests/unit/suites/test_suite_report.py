"""suite.json, suite.md and suite.html from run folders: each test's status from its run's
exit code or its folder, figures with intervals, relative report links, skipped tests,
the exit code; ``--report-only`` reading the folders again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.cli.main import main
from framework.plan import shapes
from framework.suites import latest_suite_dir, rebuild_suite_report
from framework.suites.report import write_suite_report
from framework.suites.results import SuiteResult, TestResult, read_run
from framework.verdicts.builder import ReportOptions, build_results, load_run
from tests.synthetic import Latency, write_run


def figure(value, low, high):
    return {"value": value, "low": low, "high": high, "confidence": 0.95, "n": 100}


def run_folder(reports: Path, run_id: str, *, verdict="passed", status="finished",
               exit_code=0, reasons=(), results=True) -> Path:  # fmt: skip
    """A run folder as ``swarm run`` leaves it: run.json and (unless not) results.json."""
    folder = reports / run_id
    folder.mkdir(parents=True)
    run = {"run_id": run_id, "scenario": "probe", "status": status, "exit_code": exit_code,
           "message": "cannot start locust: boom" if status == "failed" else None}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    if results:
        overall = {
            "count": 1234,
            "throughput_rps": figure(20.5, 19.5, 21.5),
            "p95_ms": figure(475.0, 454.0, 478.6),
            "error_rate": figure(0.01, 0.005, 0.02),
        }
        document = {"verdict": verdict, "reasons": list(reasons),
                    "baseline": {"overall": overall}}  # fmt: skip
        (folder / "results.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


def suite_result(reports: Path, tests, *, interrupted=False) -> SuiteResult:
    folder = reports / "suites" / "20270101T000000Z-nightly"
    folder.mkdir(parents=True, exist_ok=True)
    return SuiteResult(
        name="nightly",
        description="<b>escaped</b> & shown",
        suite_file="/x/suite.yaml",
        suite_dir=folder,
        started_at="2027-01-01T00:00:00.000Z",
        selected_type="all",
        tests=tuple(tests),
        duration_s=12.5,
        ended_at="2027-01-01T00:00:12.500Z",
        interrupted=interrupted,
    )


def test_a_run_passes_fails_or_errs_by_its_exit_code_and_its_folder(tmp_path):
    ok = read_run(run_folder(tmp_path, "ok", verdict="inconclusive"), workers=0, exit_code=0)
    failed = read_run(
        run_folder(tmp_path, "bad", verdict="failed", reasons=["p95 over budget"]),
        workers=0,
        exit_code=1,
    )
    broken = read_run(
        run_folder(tmp_path, "broken", status="failed", exit_code=3, results=False),
        workers=0,
        exit_code=3,
    )
    never = read_run(tmp_path / "never", workers=0, exit_code=2)
    assert (ok.status, ok.verdict) == ("passed", "inconclusive")
    assert (failed.status, failed.reasons) == ("failed", ("p95 over budget",))
    assert broken.status == "error"
    assert broken.reasons == ("no results.json: the run ended failed (cannot start locust: boom)",)
    assert never.status == "error" and "the run never started" in never.reasons[0]
    # read back without the exit code the suite saw: from run.json and results.json
    assert read_run(tmp_path / "bad", workers=0).status == "failed"
    assert read_run(tmp_path / "broken", workers=0).status == "error"
    interrupted = run_folder(tmp_path, "int", verdict="failed", status="interrupted",
                             exit_code=130)  # fmt: skip
    assert read_run(interrupted, workers=0).status == "error"


def test_suite_json_counts_groups_by_type_and_links_reports_relatively(tmp_path):
    reports = tmp_path / "reports"
    smoke = TestResult(
        "smoke-a",
        "smoke",
        "s.yaml",
        (read_run(run_folder(reports, "r-smoke"), workers=0, exit_code=0),),
    )
    load = TestResult("load-a", "load", "l.yaml", (read_run(
        run_folder(reports, "r-load", verdict="failed", reasons=["error rate 5% > 1%"]),
        workers=2, exit_code=1),))  # fmt: skip
    skipped = TestResult("stress-a", "stress", "x.yaml", skipped_because="not run: load-a failed")
    result = suite_result(reports, [load, smoke, skipped])
    document = result.to_dict()
    assert document["format_version"] == 1 and document["test_suite"] == "nightly"
    assert document["summary"] == {"total": 3, "passed": 1, "failed": 1, "errors": 0,
                                   "skipped": 1, "success_rate": 0.333333,
                                   "duration_seconds": 12.5}  # fmt: skip
    assert document["exit_code"] == 1
    assert list(document["results"]) == ["smoke", "load", "stress"]
    assert document["order"] == ["load-a", "smoke-a", "stress-a"]
    (entry,) = document["results"]["load"]
    assert entry["status"] == "failed" and entry["exit_code"] == 1
    assert entry["verdict"] == "failed" and entry["reasons"] == ["error rate 5% > 1%"]
    assert entry["report"] == "../../r-load/report.html"
    assert entry["run_dir"] == "../../r-load" and entry["runs"][0]["workers"] == 2
    assert entry["figures"] == {
        "requests": {"value": 1234, "low": None, "high": None},
        "throughput_rps": {"value": 20.5, "low": 19.5, "high": 21.5},
        "p95_ms": {"value": 475.0, "low": 454.0, "high": 478.6},
        "error_rate": {"value": 0.01, "low": 0.005, "high": 0.02},
    }
    (skip,) = document["results"]["stress"]
    assert skip["status"] == "skipped" and skip["exit_code"] is None and skip["report"] is None
    assert skip["reasons"] == ["not run: load-a failed"]
    assert suite_result(reports, [smoke]).exit_code == 0
    assert suite_result(reports, [smoke], interrupted=True).exit_code == 130
    error = TestResult("e", "load", "l.yaml", (read_run(reports / "none", workers=0,
                                                        exit_code=3),))  # fmt: skip
    assert suite_result(reports, [smoke, error]).exit_code == 3


def test_suite_md_and_html_show_each_test_with_its_figures_and_link(tmp_path):
    reports = tmp_path / "reports"
    ok = TestResult(
        "smoke-a",
        "smoke",
        "s.yaml",
        (read_run(run_folder(reports, "r-smoke"), workers=0, exit_code=0),),
    )
    bad = TestResult("load-a", "load", "l.yaml", (read_run(
        run_folder(reports, "r-load", verdict="failed", reasons=["<script>alert(1)</script>"]),
        workers=0, exit_code=1),))  # fmt: skip
    result = suite_result(reports, [ok, bad])
    files = write_suite_report(result, result.suite_dir)
    assert sorted(files) == ["suite.html", "suite.json", "suite.md"]
    md = files["suite.md"].read_text()
    assert md.startswith("# Suite nightly: failed: 1 of 2 tests passed")
    assert ("| smoke-a | ✅ passed | passed | 1,234 | 20.5 rps [19.5, 21.5] | "
            "475.0 ms [454.0, 478.6] | 1.00% [0.50, 2.00] | [report](../../r-smoke/report.html) |"
            ) in md  # fmt: skip
    assert "**load-a** (failed):" in md
    html = files["suite.html"].read_text()
    assert '<a href="../../r-smoke/report.html">report</a>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;escaped&lt;/b&gt; &amp; shown" in html
    assert "<link" not in html and 'src="http' not in html  # self-contained
    # every link resolves from the suite folder
    assert (result.suite_dir / "../../r-smoke").resolve() == (reports / "r-smoke").resolve()


def _synthetic_run(reports: Path, run_id: str, *, rps: float, users: int) -> Path:
    folder = write_run(
        reports / run_id,
        seconds=60,
        latency=Latency(median_ms=20),
        rps=rps,
        plan=shapes.constant(users=users, spawn_rate=users, duration_s=60),
        run_id=run_id,
    )
    results, _ = build_results(load_run(folder), ReportOptions(), created_at="2027-01-01T00:00:00Z")
    (folder / "results.json").write_text(json.dumps(results.to_dict()), encoding="utf-8")
    return folder


def test_report_only_reads_the_run_folders_again_and_analyses_the_scaling(tmp_path, capsys):
    reports = tmp_path / "reports"
    one = _synthetic_run(reports, "r-w1", rps=50.0, users=10)
    two = _synthetic_run(reports, "r-w2", rps=100.0, users=20)
    smoke = run_folder(reports, "r-smoke")
    runs = (read_run(one, workers=1, exit_code=0), read_run(two, workers=2, exit_code=0))
    scale = TestResult("scale-a", "scalability", "s.yaml", runs)
    first = suite_result(
        reports,
        [
            TestResult("smoke-a", "smoke", "s.yaml", (read_run(smoke, workers=0, exit_code=0),)),
            scale,
        ],
    )
    write_suite_report(first, first.suite_dir)
    # older and other suites' folders are not picked
    (reports / "suites" / "20260101T000000Z-nightly").mkdir()
    (reports / "suites" / "20260101T000000Z-nightly" / "suite.json").write_text("{}")
    (reports / "suites" / "20280101T000000Z-nightly-peak").mkdir()
    (reports / "suites" / "20280101T000000Z-nightly-peak" / "suite.json").write_text("{}")
    assert latest_suite_dir(reports, "nightly") == first.suite_dir
    # the smoke run is analysed again since: now it failed
    document = json.loads((smoke / "results.json").read_text())
    document.update(verdict="failed", reasons=["re-analysed: p95 over budget"])
    (smoke / "results.json").write_text(json.dumps(document))
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: nightly\ntests:\n  - {name: a, type: smoke, scenario: gone.yaml}\n")
    code = main(["suite", str(suite), "--report-only", "--out", str(reports)])
    assert code == 1
    assert "suite.html" in capsys.readouterr().out
    rebuilt = json.loads((first.suite_dir / "suite.json").read_text())
    (smoke_entry,) = rebuilt["results"]["smoke"]
    assert smoke_entry["status"] == "failed"
    assert smoke_entry["reasons"] == ["re-analysed: p95 over budget"]
    (scale_entry,) = rebuilt["results"]["scalability"]
    assert scale_entry["status"] == "passed" and scale_entry["run_id"] == "r-w2"
    points = scale_entry["scaling"]["points"]
    assert [p["workers"] for p in points] == [1, 2]
    assert points[1]["efficiency"]["value"] == pytest.approx(1.0, abs=0.15)
    assert "scaling" in (first.suite_dir / "suite.md").read_text()
    assert rebuild_suite_report(first.suite_dir).result.count("failed") == 1


def test_report_only_without_a_suite_folder_is_invalid_input(tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: nightly\ntests:\n  - {name: a, type: smoke, scenario: gone.yaml}\n")
    assert main(["suite", str(suite), "--report-only", "--out", str(tmp_path / "r")]) == 2
    assert "no suite folder of 'nightly'" in capsys.readouterr().err


def test_an_entry_carries_its_faults_recovery_and_capacity_as_the_report_words_them(tmp_path):
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"status": "finished", "exit_code": 0}))
    results = {
        "verdict": "passed",
        "reasons": [],
        "faults": [{"name": "outage", "message": "recovered in 0.2 s [0.0, 0.2]; SLA 2 s: pass"}],
        "capacity": {"message": "capacity 30 users, 243 req/s (231–255)"},
    }
    (run_dir / "results.json").write_text(json.dumps(results))
    run = read_run(run_dir, workers=0, exit_code=0)
    assert run.findings == (
        "fault outage: recovered in 0.2 s [0.0, 0.2]; SLA 2 s: pass",
        "capacity: capacity 30 users, 243 req/s (231–255)",
    )
    (run_dir / "results.json").write_text(json.dumps({"verdict": "passed"}))
    assert read_run(run_dir, workers=0, exit_code=0).findings == ()
