"""``swarm report`` end to end on synthetic run folders whose truth is known."""

from __future__ import annotations

import itertools
import json
import math
import socket

import pytest
import yaml

from framework.cli.main import main
from framework.plan import shapes
from framework.verdicts.analysis import AnalysisSettings, analyse_window, steady_window
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.results import RESULTS_VERSION
from framework.verdicts.rules import compare_windows
from tests.synthetic import Latency, write_run

PLAN = shapes.constant(users=10, spawn_rate=1, duration_s=150)  # 10 s ramp-up
NAMES = ("GET /health", "POST /detect")
MODEL = {"GET /health": Latency(median_ms=5, sigma=0.3), "POST /detect": Latency(median_ms=50)}
RATES = {"GET /health": 20.0, "POST /detect": 60.0}
P95_DETECT = MODEL["POST /detect"].p(95)  # about 114 ms


def run(folder, *, seed=0, model=MODEL, **kw):
    kw.setdefault("rps", RATES)
    return write_run(folder, seconds=151, names=NAMES, latency=model, plan=PLAN, seed=seed, **kw)


def results_of(folder) -> dict:
    """results.json, refusing NaN and infinity (JSON has neither)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"results.json holds {constant}")

    return json.loads((folder / "results.json").read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return run(tmp_path_factory.mktemp("base") / "baseline", seed=1)


# --------------------------------------------------------------------------- budgets


def test_a_clearly_met_p95_budget_passes_with_exit_0(tmp_path, capsys):
    folder = run(tmp_path / "ok", budgets={"requests": {"/detect": {"p95_ms": 2 * P95_DETECT}}})
    assert main(["report", str(folder)]) == 0
    results = results_of(folder)
    assert results["verdict"] == "passed"
    assert results["reasons"] == []
    (verdict,) = results["budgets"]
    assert (verdict["scope"], verdict["metric"], verdict["verdict"]) == (
        "/detect",
        "p95_ms",
        "pass",
    )
    out = capsys.readouterr().out
    assert out.startswith("swarm report: PASSED")
    assert f"swarm: wrote {folder / 'results.json'}" in out


def test_a_clearly_violated_p95_budget_fails_with_exit_1_naming_the_figure_and_ci(tmp_path, capsys):
    folder = run(tmp_path / "slow", budgets={"overall": {"p95_ms": 40}})
    assert main(["report", str(folder)]) == 1
    results = results_of(folder)
    assert results["verdict"] == "failed"
    (reason,) = results["reasons"]
    figure = results["budgets"][0]["figure"]
    value, low, high = (f"{figure[k]:.4g} ms" for k in ("value", "low", "high"))
    assert reason == (
        f"overall p95_ms: {value} [{low}, {high}] vs budget 40 ms "
        "(limit ≤ 44 ms with 10% tolerance): fail"
    )
    assert figure["low"] > 44
    out = capsys.readouterr().out
    assert out.startswith("swarm report: FAILED")
    assert f"→ {reason}" in out


def test_an_inconclusive_budget_passes_unless_told_to_fail(tmp_path):
    found = run(tmp_path / "probe")
    assert main(["report", str(found)]) == 0
    p95 = results_of(found)["baseline"]["endpoints"][1]["p95_ms"]["value"]
    folder = run(tmp_path / "edge", budgets={"requests": {"POST /detect": {"p95_ms": p95 / 1.1}}})
    assert main(["report", str(folder)]) == 0
    results = results_of(folder)
    assert results["verdict"] == "inconclusive"
    assert results["budgets"][0]["verdict"] == "inconclusive"
    assert results["reasons"] == [results["budgets"][0]["message"]]
    assert main(["report", str(folder), "--inconclusive", "fail"]) == 1
    assert results_of(folder)["settings"]["inconclusive_budgets"] == "fail"


def test_the_scenarios_inconclusive_setting_is_used(tmp_path):
    budgets = {"inconclusive": "fail", "overall": {"p95_ms": 1000, "min_throughput": 1e6}}
    folder = run(tmp_path / "run", budgets=budgets)
    assert main(["report", str(folder)]) == 1  # 1e6 rps wholly missed: fail anyway
    assert results_of(folder)["settings"]["inconclusive_budgets"] == "fail"


def test_a_budgets_file_replaces_the_scenarios_budgets(tmp_path):
    folder = run(tmp_path / "run", budgets={"overall": {"p95_ms": 1}})
    loose = tmp_path / "budgets.yaml"
    loose.write_text(yaml.safe_dump({"overall": {"p95_ms": 10_000}}), encoding="utf-8")
    assert main(["report", str(folder)]) == 1
    assert main(["report", str(folder), "--budgets", str(loose)]) == 0


def test_malformed_budgets_in_the_scenario_exit_2_naming_file_and_key(tmp_path, capsys):
    folder = run(tmp_path / "run", budgets={"overall": {"p95": 100}})
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(folder / "scenario.yaml") in err
    assert "budgets.overall.p95" in err


def test_validation_failures_gate_only_with_require_valid(tmp_path):
    folder = run(tmp_path / "run", validation={"min_samples": 10_000_000})
    assert main(["report", str(folder)]) == 0
    results = results_of(folder)
    assert not results["meets_requirements"]
    count = results["baseline"]["overall"]["count"]
    assert results["validation_errors"][0].startswith(f"{count} requests analysed, ")
    assert "below the minimum 10000000" in results["validation_errors"][0]
    assert main(["report", str(folder), "--require-valid"]) == 1
    assert results_of(folder)["reasons"] == results["validation_errors"]


def test_an_interrupted_run_is_reported_as_failed(tmp_path):
    folder = run(tmp_path / "run", status="interrupted")
    assert main(["report", str(folder)]) == 1
    (reason,) = results_of(folder)["reasons"]
    assert reason.startswith("the run interrupted")


def test_an_interrupted_run_without_message_has_a_clean_reason(tmp_path):
    folder = run(tmp_path / "run", status="interrupted")
    results, _ = build_results(load_run(folder), ReportOptions(), created_at="2024-01-01T00:00:00Z")
    assert results.reasons == ("the run interrupted",)


def test_a_run_that_lost_a_worker_is_reported_as_failed_with_its_worker_events(tmp_path):
    """Finished, but exit code 3: the figures are there, the verdict is never passed."""
    folder = run(tmp_path / "run")
    record = json.loads((folder / "run.json").read_text())
    record.update(
        exit_code=3,
        message="lost 1 worker(s) during the run; see worker_events",
        worker_events=[
            {"at": "2026-11-27T09:45:20.000Z", "worker": "worker-1", "event": "process exited"},
            {"at": "2026-11-27T09:45:24.000Z", "worker": "vm-1f2e", "event": "missing"},
        ],
    )
    (folder / "run.json").write_text(json.dumps(record))
    assert main(["report", str(folder)]) == 1
    results = results_of(folder)
    assert results["verdict"] == "failed"
    assert results["reasons"] == [
        "the run exited 3: lost 1 worker(s) during the run; see worker_events"
    ]
    markdown = (folder / "report.md").read_text()
    events = markdown.split("### Worker events", 1)[1]
    assert "| worker-1 | process exited |" in events and "| vm-1f2e | missing |" in events
    assert "vm-1f2e" in (folder / "report.html").read_text()


def test_a_run_whose_swarm_was_killed_is_reported_interrupted_not_passed(tmp_path):
    """run.json still says running, but the swarm process it names is gone."""
    folder = run(tmp_path / "run", status="running")
    record = json.loads((folder / "run.json").read_text())
    record.update(
        exit_code=None,
        swarm_process={"pid": 2**31 - 1, "host": socket.gethostname(), "started": 1.0},
    )
    (folder / "run.json").write_text(json.dumps(record))
    assert main(["report", str(folder)]) == 1
    results = results_of(folder)
    assert (results["run"]["status"], results["run"]["exit_code"]) == ("interrupted", 130)
    (reason,) = results["reasons"]
    assert reason.startswith(f"the run interrupted: swarm (pid {2**31 - 1}) ended without")


def test_warmup_moves_the_analysed_window(tmp_path):
    folder = run(tmp_path / "run")
    assert main(["report", str(folder), "--warmup", "1m"]) == 0
    settings = results_of(folder)["settings"]
    start = settings["window"]["start_s"]
    assert settings["warmup_s"] == 60
    assert main(["report", str(folder)]) == 0
    assert results_of(folder)["settings"]["window"]["start_s"] == start - 50  # ramp-up: 10 s


# --------------------------------------------------------------------------- baselines


def test_a_20_percent_p95_regression_fails_against_its_baseline(tmp_path, baseline, capsys):
    slower = {k: Latency(median_ms=m.median_ms * 1.2, sigma=m.sigma) for k, m in MODEL.items()}
    folder = run(tmp_path / "slower", seed=2, model=slower)
    assert main(["report", str(folder), "--baseline", str(baseline)]) == 1
    results = results_of(folder)
    assert results["compared_to"] == "baseline"
    rows = {(r["scope"], r["metric"]): r for r in results["comparison"]}
    for scope in ("overall", "POST /detect"):
        row = rows[(scope, "p95")]
        assert row["verdict"] == "regression"
        assert row["low"] < 1.2 < row["high"]
        assert row["message"] in results["reasons"]
    assert rows[("overall", "throughput")]["verdict"] == "no detectable change"
    assert "regression" in capsys.readouterr().out


def test_a_run_equal_to_its_baseline_passes(tmp_path, baseline, capsys):
    folder = run(tmp_path / "same", seed=3)
    assert main(["report", str(folder), "--baseline", str(baseline)]) == 0
    results = results_of(folder)
    assert {r["verdict"] for r in results["comparison"]} == {"no detectable change"}
    assert "no detectable change against baseline" in capsys.readouterr().out


def test_identical_distributions_rarely_raise_a_false_alarm(tmp_path):
    """Holm keeps the chance of any false regression among all names and metrics near 5%,
    so at most a few of 21 equal pairs (every pair of 7 runs) may show one."""
    settings = AnalysisSettings()
    found = []
    for seed in range(7):
        data = load_run(
            write_run(
                tmp_path / f"run{seed}",
                seconds=121,
                names=NAMES,
                latency=MODEL,
                rps=RATES,
                plan=shapes.constant(users=10, spawn_rate=10, duration_s=120),
                seed=100 + seed,
            )
        )
        w = steady_window(data.run, data.timeline, None)
        found.append(analyse_window(data.timeline, w, settings).estimates)
    alarms = []
    for a, b in itertools.combinations(found, 2):
        rows = compare_windows(a, b)
        assert len(rows) == 18  # 3 scopes x 6 metrics
        alarms.append(any(r.verdict == "regression" for r in rows))
    assert len(alarms) == 21
    assert sum(alarms) <= 3


# --------------------------------------------------------------------------- results.json

TOP_LEVEL = {
    "analysis_id", "baseline", "budgets", "compared_to", "comparison", "created_at",
    "failures_by_kind", "knee", "knee_reason", "meets_requirements", "reasons",
    "recommendations", "run", "series", "settings", "steps", "validation", "validation_errors",
    "verdict", "version",
}  # fmt: skip
FIGURE = {
    "value", "low", "high", "confidence", "n", "effective_n", "method", "censored", "notes",
    "relative_half_width",
}  # fmt: skip
ENDPOINT = {
    "name", "method", "key", "count", "failures", "failures_by_kind", "timeouts", "bytes",
    "min_ms", "max_ms", "p90_ms", "mean_ms", "median_ms", "p95_ms", "p99_ms", "throughput_rps",
    "error_rate", "quality",
}  # fmt: skip


def test_results_json_holds_every_field_and_no_nan(tmp_path, baseline):
    folder = run(
        tmp_path / "run",
        seed=4,
        error_rate={"GET /health": 0.0, "POST /detect": 0.05},
        budgets={"overall": {"p95_ms": 1000}, "requests": {"/nope": {"p99_ms": 5}}},
    )
    # the 5% errors of POST /detect against none in the baseline are a regression
    assert main(["report", str(folder), "--baseline", str(baseline)]) == 1
    results = results_of(folder)
    assert set(results) >= TOP_LEVEL
    assert results["version"] == RESULTS_VERSION
    assert results["run"]["run_id"] == "run"
    assert set(results["settings"]) >= {"confidence", "warmup_s", "window", "late_records"}
    window = results["baseline"]
    assert window["name"] == "steady state"
    assert [e["key"] for e in window["endpoints"]] == list(NAMES)
    for e in (*window["endpoints"], window["overall"]):
        assert set(e) >= ENDPOINT
        for name in ("mean_ms", "median_ms", "p95_ms", "p99_ms", "throughput_rps", "error_rate"):
            assert set(e[name]) >= FIGURE
            assert e[name]["low"] <= e[name]["value"] <= e[name]["high"]
        assert set(e["quality"]) >= {
            "grade", "checks", "detectable_p95_change", "run_longer_factor",
        }  # fmt: skip
    assert len(results["series"]) == 151
    point = results["series"][20]
    assert set(point) >= {
        "t",
        "users",
        "workers",
        "requests",
        "failures",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    }
    assert point["users"] == 10 and point["requests"] > 0
    assert results["failures_by_kind"] == {"HTTP 500": window["overall"]["failures"]}
    assert [v["scope"] for v in results["budgets"]] == ["overall", "/nope"]
    assert "names: /health, /detect" in results["budgets"][1]["message"]
    assert {v["rule"] for v in results["validation"]} == {
        "min_samples", "max_ci_half_width", "min_quality", "max_error_rate",
    }  # fmt: skip
    assert len(results["comparison"]) == 18
    assert any("failed" in r for r in results["recommendations"])


def test_series_percentiles_are_each_seconds_own(tmp_path):
    folder = run(tmp_path / "run")
    data = load_run(folder)
    results, _ = build_results(data, ReportOptions(), created_at="2024-01-01T00:00:00Z")
    from framework.timeline.histograms import percentiles_us

    for point, second in zip(results.series, data.timeline.series(None), strict=True):
        assert point.t == second.t and point.requests == second.count
        if second.count:
            p50, p95, p99 = percentiles_us(second.histogram, (50, 95, 99))
            assert (point.p50_ms, point.p95_ms, point.p99_ms) == (
                p50 / 1000,
                p95 / 1000,
                p99 / 1000,
            )
        else:
            assert point.p95_ms is None
    assert not any(
        isinstance(v, float) and not math.isfinite(v)
        for p in results.series
        for v in vars(p).values()
    )


def test_damaged_timeline_lines_are_skipped_counted_and_warned_about_in_every_report(tmp_path):
    folder = run(tmp_path / "run")
    timeline = folder / "timeline.jsonl"
    lines = timeline.read_text().splitlines()
    requests = [i for i, line in enumerate(lines) if '"type":"req"' in line]
    damaged = json.loads(lines[requests[40]]) | {"count": -1000}
    lines[requests[40]] = json.dumps(damaged)
    lines[requests[41]] = "garbage"
    timeline.write_text("\n".join(lines) + "\n")
    assert main(["report", str(folder)]) in (0, 1)
    results = results_of(folder)
    assert results["settings"]["damaged_records"] == 2
    assert results["settings"]["damaged_lines"][0].startswith(f"line {requests[40] + 1}: req: ")
    assert results["settings"]["late_records"] == 0
    assert results["recommendations"][0].startswith("2 damaged timeline line(s) skipped")
    assert all(p["requests"] >= 0 for p in results["series"])
    assert results["baseline"]["overall"]["throughput_rps"]["value"] > 0
    assert "2 damaged timeline line(s) skipped" in (folder / "report.md").read_text()
    assert "2 damaged timeline line(s) were skipped" in (folder / "report.html").read_text()
