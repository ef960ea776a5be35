"""Validation rules, the knee of a stepped run, and many-metric comparisons."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from framework.plan import shapes
from framework.scenario.budgets import Budgets, ValidationRules
from framework.stats.estimators import Estimate
from framework.verdicts.analysis import AnalysisSettings, analyse_window, planned_windows
from framework.verdicts.builder import load_run
from framework.verdicts.results import EndpointResult, Figure, QualityCheck, QualityResult, Window
from framework.verdicts.rules import compare_windows, find_knee, validate
from tests.literals import literal
from tests.synthetic import Latency, write_run


def overall(
    *,
    count: int = 5000,
    p95: Figure | None = None,
    error_rate: float | None = 0.001,
    grade: str = "pass",
    checks: tuple[QualityCheck, ...] = (),
    run_longer: float | None = 1.0,
) -> EndpointResult:
    empty = Figure(value=None)
    return EndpointResult(
        name="Aggregated",
        method="",
        count=count,
        failures=0,
        failures_by_kind={},
        timeouts=0,
        bytes=0,
        min_ms=1.0,
        max_ms=100.0,
        p90_ms=50.0,
        mean_ms=empty,
        median_ms=empty,
        p95_ms=p95 if p95 is not None else Figure(100.0, 98.0, 102.0),
        p99_ms=empty,
        throughput_rps=empty,
        error_rate=Figure(error_rate, 0.0, 0.01) if error_rate is not None else empty,
        quality=QualityResult(grade=grade, checks=checks, run_longer_factor=run_longer),
    )


def messages(result: EndpointResult, **rules) -> dict[str, tuple[bool, str]]:
    w = Window("steady state", 0, 300, 10, result, ())
    return {m.rule: (m.passed, m.message) for m in validate(w, ValidationRules(**rules))}


# --------------------------------------------------------------------------- validation


def test_a_good_run_passes_every_rule_with_its_figures():
    assert messages(overall()) == {
        "min_samples": (True, "5000 requests analysed"),
        "max_ci_half_width": (True, "p95 known to ±2.0%"),
        "min_quality": (True, "data quality pass"),
        "max_error_rate": (True, "error rate 0.10%"),
    }


def test_too_few_samples_says_how_much_longer_to_run():
    assert messages(overall(count=300))["min_samples"] == (
        False,
        "300 requests analysed, below the minimum 1000: run 4× longer or with more users",
    )
    assert messages(overall(count=0))["min_samples"][1].endswith(
        "run 1000× longer or with more users"
    )


def test_a_wide_p95_interval_says_how_much_longer_to_run():
    wide = overall(p95=Figure(100.0, 80.0, 120.0), run_longer=4.0)
    assert messages(wide)["max_ci_half_width"] == (
        False,
        "p95 known to ±20.0%, above the target ±10%: run 4.0× longer",
    )
    assert messages(wide, max_ci_half_width="25%")["max_ci_half_width"][0]


def test_a_wide_p95_interval_without_a_factor_still_says_run_longer():
    passed, text = messages(overall(p95=Figure(100.0, 80.0, 120.0), run_longer=None))[
        "max_ci_half_width"
    ]
    assert not passed
    assert text.endswith("run longer")


def test_a_p95_without_interval_fails_with_advice():
    assert messages(overall(p95=Figure(100.0)))["max_ci_half_width"] == (
        False,
        "p95 has no confidence interval: run longer",
    )


def test_low_quality_lists_the_checks_that_did_not_pass():
    checks = (
        QualityCheck("precision p95", "fail", "±30%"),
        QualityCheck("errors", "pass", "fine"),
        QualityCheck("stationarity mean", "warn", "drift"),
    )
    result = overall(grade="fail", checks=checks)
    assert messages(result)["min_quality"] == (
        False,
        "data quality fail, below warn: precision p95 (fail); stationarity mean (warn)",
    )
    assert messages(result, min_quality="fail")["min_quality"][0]
    assert not messages(overall(grade="warn"), min_quality="pass")["min_quality"][0]


def test_too_many_errors_says_what_to_do():
    assert messages(overall(error_rate=0.08))["max_error_rate"] == (
        False,
        "error rate 8.00%, above 5.00%: fix the errors or lower the load",
    )
    assert messages(overall(error_rate=None))["max_error_rate"] == (
        False,
        "error rate unknown, above 5.00%: fix the errors or lower the load",
    )


# --------------------------------------------------------------------------- knee

STEPPED = shapes.stepped(start_users=10, step_users=10, step_duration_s=60, steps=5, spawn_rate=10)


def _saturating_rps(name: str, second: int, users: int) -> float:
    """10 rps per user up to 30 users: the system saturates at step 3."""
    return 10.0 * min(users, 30)


def _slowing_down(second: int, users: int) -> float:
    """Latency four times higher once more than 30 users run."""
    return 1.0 if users <= 30 else 4.0


@pytest.fixture(scope="module")
def stepped_steps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stepped") / "run"
    write_run(
        folder,
        seconds=301,
        names=("GET /a",),
        latency=Latency(median_ms=20, sigma=0.4, scale=_slowing_down),
        rps=_saturating_rps,
        plan=STEPPED,
        seed=3,
    )
    data = load_run(folder)
    windows = planned_windows(data.run, data.timeline)
    return [analyse_window(data.timeline, w, AnalysisSettings()).window for w in windows]


def test_knee_without_budgets_is_the_last_step_that_raised_throughput(stepped_steps):
    assert [s.name for s in stepped_steps] == ["step 1", "step 2", "step 3", "step 4", "step 5"]
    knee, reason = find_knee(stepped_steps, None)
    assert knee == "step 3"
    assert reason == (
        "step 3 (30 users): the last step whose throughput rose measurably over the previous one"
    )


def test_knee_with_budgets_is_the_highest_step_meeting_them(stepped_steps):
    p95_truth = Latency(median_ms=20, sigma=0.4).p(95)
    budgets = Budgets.model_validate({"overall": {"p95_ms": 2 * p95_truth}})
    knee, reason = find_knee(stepped_steps, budgets)
    assert knee == "step 3"
    assert reason == "step 3 (30 users) is the highest step meeting every budget"


def test_knee_with_budgets_no_step_meets(stepped_steps):
    budgets = Budgets.model_validate({"overall": {"p95_ms": 1.0}})
    assert find_knee(stepped_steps, budgets) == (None, "no step met the budgets")


def test_knee_with_empty_budgets_falls_back_to_throughput(stepped_steps):
    assert find_knee(stepped_steps, Budgets.model_validate({}))[0] == "step 3"


def test_no_steps_no_knee():
    assert find_knee((), None) == (None, None)


# --------------------------------------------------------------------------- comparisons


def est(metric: str, value: float, se: float, batches: int = 20) -> Estimate:
    half = 2.09 * se
    return literal(
        value,
        se,
        batches,
        metric,
        low=value - half,
        high=value + half,
        effective_n=1_000.0,
        block_s=1.0,
    )


def family(p95: float, throughput: float = 100.0) -> dict[str, dict[str, Estimate]]:
    return {
        "": {"p95": est("p95", p95, 1.0), "throughput": est("throughput", throughput, 0.5)},
        "GET /a": {"p95": est("p95", p95, 1.0)},
    }


def test_a_clear_latency_rise_is_a_regression_with_its_ratio_and_adjusted_p():
    rows = compare_windows(family(100.0), family(120.0))
    by = {(r.scope, r.metric): r for r in rows}
    # one request name: its p95 is the overall p95, compared once (overall has throughput
    # only because these literals give the name none)
    assert set(by) == {("overall", "throughput"), ("GET /a", "p95")}
    row = by[("GET /a", "p95")]
    assert row.verdict == "regression"
    assert row.ratio == pytest.approx(1.2)
    assert row.low < 1.2 < row.high
    assert row.adjusted_p_value >= row.p_value
    assert "adjusted p=" in row.message and "(holm)" in row.message
    assert by[("overall", "throughput")].verdict == "no detectable change"


def test_lower_throughput_is_a_regression_and_higher_an_improvement():
    down = {r.metric: r.verdict for r in compare_windows(family(100.0), family(100.0, 80.0))}
    up = {r.metric: r.verdict for r in compare_windows(family(100.0), family(100.0, 120.0))}
    assert down["throughput"] == "regression"
    assert up["throughput"] == "improvement"


def test_a_significant_change_smaller_than_min_effect_is_no_detectable_change():
    rows = compare_windows(family(100.0), family(104.0), min_effect=0.05)
    assert all(r.verdict == "no detectable change" for r in rows)


def test_holm_adjustment_can_remove_a_marginal_single_finding():
    # p95 +3% at se 1%: significant alone (p ~ 0.04), not once Holm allows for two tests
    base = {"": {"p95": est("p95", 100.0, 1.0), "mean": est("mean", 50, 0.5)}}
    cand = {"": {"p95": est("p95", 103.0, 1.0), "mean": est("mean", 50, 0.5)}}
    (p95_row, *_) = [r for r in compare_windows(base, cand, min_effect=0.01) if r.metric == "p95"]
    assert p95_row.p_value < 0.05 <= p95_row.adjusted_p_value
    assert p95_row.verdict == "no detectable change"


def test_names_in_only_one_run_are_not_compared():
    base = family(100.0)
    cand = {"": base[""], "GET /b": {"p95": est("p95", 500.0, 1.0)}}
    assert {r.scope for r in compare_windows(base, cand)} == {"overall"}


def test_estimates_without_interval_give_no_ratio_and_no_verdict():
    base = {"": {"p95": replace(est("p95", 100.0, 1.0), se=math.nan)}}
    (row,) = compare_windows(base, {"": {"p95": est("p95", 200.0, 1.0)}})
    assert (row.verdict, row.ratio, row.low) == ("no detectable change", None, None)
    assert "no ratio" in row.message


def test_with_one_request_name_each_figure_is_compared_once():
    def run(p95: float) -> dict[str, dict[str, Estimate]]:
        figures = {"p95": est("p95", p95, 1.0), "throughput": est("throughput", 100.0, 0.5)}
        return {"": dict(figures), "GET /a": dict(figures)}

    rows = compare_windows(run(100.0), run(103.0), min_effect=0.01)
    assert {(r.scope, r.metric) for r in rows} == {("GET /a", "p95"), ("GET /a", "throughput")}
    # two tests, not four: Holm multiplies the smaller p-value by 2
    p95 = next(r for r in rows if r.metric == "p95")
    assert p95.adjusted_p_value == pytest.approx(2 * p95.p_value)


def test_two_names_keep_the_overall_row():
    base = {"": {"p95": est("p95", 100.0, 1.0)}, "GET /a": {"p95": est("p95", 100.0, 1.0)},
            "GET /b": {"p95": est("p95", 100.0, 1.0)}}  # fmt: skip
    assert {r.scope for r in compare_windows(base, base)} == {"overall", "GET /a", "GET /b"}


def test_min_effect_ms_applies_to_latency_only():
    # µs estimates: p95 100 -> 120 µs is +20% but 0.02 ms; throughput -20% is unaffected
    rows = compare_windows(family(100.0), family(120.0, 80.0), min_effect_ms=1.0)
    by = {(r.scope, r.metric): r.verdict for r in rows}
    assert by[("GET /a", "p95")] == "no detectable change"
    assert by[("overall", "throughput")] == "regression"
    assert "(a change under 1 ms)" in next(r.message for r in rows if r.metric == "p95")
