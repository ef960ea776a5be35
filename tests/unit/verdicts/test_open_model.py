"""Open-model figures from synthetic version-3 timelines whose truth is known by construction."""

from __future__ import annotations

import json

import pytest

from framework.cli.main import main
from framework.scenario.budgets import ValidationRules
from framework.stats.quality import GroupSchedule, check_schedule
from framework.verdicts.builder import ReportOptions, build_results, load_run
from tests.open_model_runs import write_open_run
from tests.synthetic import Latency, write_run

SERVICE_MS = 10.0  # service times spread over 8..12 ms


def results_for(folder, **options):
    results, _ = build_results(load_run(folder), ReportOptions(**options), created_at="now")
    return results


@pytest.fixture(scope="module")
def stalled(tmp_path_factory):
    """60 s at 100/s; in 3 seconds the generator fell behind by up to 800 ms; 2 of 102
    arrivals dropped every second; the busiest generator at 97 % CPU."""
    folder = write_open_run(
        tmp_path_factory.mktemp("open") / "stalled",
        stalled=range(20, 23),
        dropped=2,
        cpu=97.0,
        service_ms=SERVICE_MS,
    )
    return results_for(folder)


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    """The same load kept on schedule: 1 ms lag, nothing dropped, 30 % CPU."""
    folder = write_open_run(tmp_path_factory.mktemp("open") / "steady", service_ms=SERVICE_MS)
    return results_for(folder)


def schedule_check(endpoint):
    found = [c for c in endpoint.quality.checks if c.name == "schedule"]
    return found[0] if found else None


# ----------------------------------------------------------------- two latencies


def test_a_stalled_generator_shows_a_high_intended_start_p99_beside_a_low_service_p99(stalled):
    (row,) = stalled.open_model.names
    assert row.key == "GET /orders"
    response, service = row.response.p99_ms, row.service.p99_ms
    # 3 of 59 analysed seconds had up to 800 ms of lag: p99 of the response time lies
    # inside that stall, the service time never left 8..12 ms
    assert 500 < response.value < 810
    assert 11 < service.value < 12.5
    assert service.high is not None and service.high < 13
    assert response.low is not None and response.high is not None
    assert row.service_count == 59 * 100


def test_the_main_latency_of_an_open_model_name_is_the_intended_start_one(stalled):
    (endpoint,) = stalled.baseline.endpoints
    (row,) = stalled.open_model.names
    assert endpoint.p99_ms == row.response.p99_ms
    assert endpoint.median_ms == row.response.p50_ms
    assert stalled.open_model.overall.response.p99_ms == stalled.baseline.overall.p99_ms


def test_a_steady_schedule_gives_response_and_service_times_one_lag_apart(steady):
    (row,) = steady.open_model.names
    for found in ("p50_ms", "p95_ms", "p99_ms"):
        response = getattr(row.response, found).value
        service = getattr(row.service, found).value
        assert response - service == pytest.approx(1.0, abs=0.1)


# ----------------------------------------------------------------- schedule


def test_lag_and_drops_are_counted_per_group_over_the_steady_window(stalled):
    (group,) = stalled.open_model.groups
    assert group.group == "scenario"
    assert (group.due, group.started, group.dropped) == (59 * 102, 59 * 100, 59 * 2)
    assert group.dropped_fraction == pytest.approx(2 / 102)
    assert group.lag_p50_ms.value == pytest.approx(1.0, abs=0.01)
    assert 500 < group.lag_p99_ms.value < 801
    assert stalled.open_model.cpu_percent_max == 97.0


def test_a_generator_that_fell_behind_grades_warn_with_the_figures_and_its_cpu(stalled):
    check = schedule_check(stalled.baseline.overall)
    assert check.grade == "warn"
    assert check.reason.startswith("the generator fell behind: lag p99 ")
    assert "> 50 ms" in check.reason
    assert "2% of arrivals dropped (118 of 6,018) > 0.1%" in check.reason
    assert check.reason.endswith("; load generator CPU up to 97 %")
    assert schedule_check(stalled.baseline.endpoints[0]).grade == "warn"


def test_drops_alone_above_the_threshold_warn(tmp_path):
    results = results_for(write_open_run(tmp_path / "drops", dropped=1, cpu=40.0))
    check = schedule_check(results.baseline.overall)
    assert check.grade == "warn"
    assert "lag p99" not in check.reason.split(";")[0].split(":", 1)[1]
    assert "0.99% of arrivals dropped (59 of 5,959) > 0.1%" in check.reason
    failed = {v.rule for v in results.validation if not v.passed}
    assert "max_dropped" in failed and "max_lag_p99_ms" not in failed


def test_a_kept_schedule_passes_the_check_and_both_rules(steady):
    check = schedule_check(steady.baseline.overall)
    assert check.grade == "pass"
    assert "lag p99 1 ms, 0 of 5,900 arrivals dropped" in check.reason
    rules = {v.rule: v for v in steady.validation}
    assert rules["max_lag_p99_ms"].passed and rules["max_dropped"].passed


def test_the_validation_rules_name_the_lag_the_drops_and_the_cpu(stalled):
    rules = {v.rule: v for v in stalled.validation}
    assert not rules["max_lag_p99_ms"].passed
    assert "above 50 ms: the generator fell behind" in rules["max_lag_p99_ms"].message
    assert rules["max_lag_p99_ms"].message.endswith("load generator CPU up to 97 %")
    assert not rules["max_dropped"].passed
    assert "118 of 6,018" in rules["max_dropped"].message
    assert not stalled.meets_requirements


def test_the_scenarios_validation_limits_are_used(tmp_path):
    folder = write_open_run(
        tmp_path / "lenient",
        stalled=range(20, 23),
        dropped=2,
        scenario={"validation": {"max_lag_p99_ms": 1000, "max_dropped": "5%"}},
    )
    results = results_for(folder)
    assert schedule_check(results.baseline.overall).grade == "pass"
    rules = {v.rule: v for v in results.validation}
    assert rules["max_lag_p99_ms"].passed and rules["max_dropped"].passed


def test_too_few_samples_of_an_open_run_ask_for_a_higher_arrival_rate(tmp_path):
    folder = write_open_run(tmp_path / "short", scenario={"validation": {"min_samples": 10**9}})
    (rule,) = [v for v in results_for(folder).validation if v.rule == "min_samples"]
    assert not rule.passed
    assert rule.message.endswith("longer or at a higher arrival rate")


def test_validation_defaults_are_50_ms_and_a_tenth_of_a_percent():
    rules = ValidationRules()
    assert (rules.max_lag_p99_ms, rules.max_dropped) == (50.0, 0.001)
    assert ValidationRules(max_dropped="1%").max_dropped == pytest.approx(0.01)
    with pytest.raises(ValueError, match="max_lag_p99_ms"):
        ValidationRules(max_lag_p99_ms=0)


def test_the_schedule_check_on_literals_names_each_group_when_there_are_several():
    groups = [GroupSchedule("readers", 1000, 0, 3.0), GroupSchedule("writers", 500, 10, 84.0)]
    check = check_schedule(groups, max_lag_p99_ms=50, max_dropped=0.001, cpu_peak=97.4)
    assert check.grade == "warn"
    assert check.reason == (
        "the generator fell behind: writers: lag p99 84 ms > 50 ms, 2% of arrivals dropped "
        "(10 of 500) > 0.1%; load generator CPU up to 97 %"
    )
    one = check_schedule(
        [GroupSchedule("scenario", 100, 0, 84.0)], max_lag_p99_ms=50, max_dropped=0.001
    )
    assert one.reason == (
        "the generator fell behind: lag p99 84 ms > 50 ms; load generator CPU not sampled"
    )


# ----------------------------------------------------------------- budgets


def test_a_budget_on_an_open_model_run_judges_the_intended_start_latency(tmp_path):
    # the service p99 (~12 ms) is far within 100 ms; the response p99 from the intended
    # start (~750 ms: every 5th second the generator fell up to 800 ms behind) is not
    folder = write_open_run(
        tmp_path / "budget",
        seconds=120,
        stalled=range(0, 120, 5),
        scenario={"budgets": {"requests": {"GET /orders": {"p99_ms": 100}}}},
    )
    results = results_for(folder)
    (verdict,) = results.budgets
    assert verdict.verdict == "fail"
    assert verdict.figure == results.open_model.names[0].response.p99_ms
    assert results.open_model.names[0].service.p99_ms.value < 100


# ----------------------------------------------------------------- closed and mixed runs


def test_a_closed_model_run_has_no_open_model_figures_in_results_json(tmp_path):
    folder = write_run(tmp_path / "closed", seconds=40, latency=Latency(median_ms=20), rps=50)
    assert main(["report", str(folder)]) in (0, 1)
    data = json.loads((folder / "results.json").read_text())
    assert "open_model" not in data and "group_phases" not in data
    assert "Open model" not in (folder / "report.md").read_text()
    assert 'id="open-model"' not in (folder / "report.html").read_text()
    rules = [v["rule"] for v in data["validation"]]
    assert rules == ["min_samples", "max_ci_half_width", "min_quality", "max_error_rate"]
    checks = [c["name"] for c in data["baseline"]["overall"]["quality"]["checks"]]
    assert "schedule" not in checks


def test_a_mixed_run_shows_service_time_only_for_its_open_model_names(tmp_path):
    folder = write_open_run(
        tmp_path / "mixed",
        names=("POST /orders",),
        closed_names=("GET /catalog",),
        groups={"writers": ("POST /orders",)},
    )
    results = results_for(folder)
    assert [r.key for r in results.open_model.names] == ["POST /orders"]
    assert results.open_model.overall is None  # the closed name has no service time
    by_key = {e.key: e for e in results.baseline.endpoints}
    assert schedule_check(by_key["POST /orders"]) is not None
    assert schedule_check(by_key["GET /catalog"]) is None
