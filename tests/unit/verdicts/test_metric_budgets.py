"""Budgets on custom metrics: judged by interval like request budgets, misfits and unknown
metrics failing with a message that says so."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from framework.scenario.budgets import Budgets, parse_metric_key
from framework.timeline.metric_records import METRIC_NAME
from framework.verdicts.budgets import OBSERVED
from framework.verdicts.metric_budgets import is_metric_budget, metric_budget_verdicts
from framework.verdicts.results import BudgetVerdict, Figure, MetricResult


def histogram(key_dims: dict[str, str] | None = None, **figures: Figure) -> MetricResult:
    dims = key_dims or {}
    key = "detector.server_ms" + (
        "{" + ",".join(f"{k}={v}" for k, v in sorted(dims.items())) + "}" if dims else ""
    )
    return MetricResult("detector.server_ms", "histogram", "ms", dims, key, 100, 0, figures)


def counter(**figures: Figure) -> MetricResult:
    return MetricResult(
        "detector.alerts", "counter", "alerts", {}, "detector.alerts", 50, 0, figures
    )


def judged(budgets: dict, metrics: list[MetricResult]) -> list[BudgetVerdict]:
    return metric_budget_verdicts(metrics, Budgets.model_validate(budgets))


P95 = Figure(value=250.0, low=240.0, high=260.0)


@pytest.mark.parametrize(
    ("budget", "verdict"),
    # limits with the default 10% tolerance: 330 above [240, 260], 220 below, 253 inside
    [(300, "pass"), (200, "fail"), (230, "inconclusive")],
)
def test_interval_decides_with_tolerance(budget, verdict):
    found = judged({"metrics": {"detector.server_ms": {"p95": budget}}}, [histogram(p95=P95)])
    assert [v.verdict for v in found] == [verdict]
    assert found[0].scope == "detector.server_ms" and found[0].metric == "p95"
    assert found[0].message.startswith("metric detector.server_ms p95: 250 ms [240 ms, 260 ms]")


def test_tolerance_widens_the_limit():
    found = judged(
        {"tolerance": "0%", "metrics": {"detector.server_ms": {"p95": 255, "tolerance": "5%"}}},
        [histogram(p95=P95)],
    )
    assert found[0].limit == pytest.approx(267.75) and found[0].verdict == "pass"


def test_lower_limit_on_a_rate():
    rate = Figure(value=2.0, low=1.5, high=2.5)
    found = judged(
        {"metrics": {"detector.alerts": {"min_rate": 1.0, "max_rate": 2.2}}}, [counter(rate=rate)]
    )
    assert [v.verdict for v in found] == ["pass", "inconclusive"]
    assert "alerts/s" in found[0].message


def test_observed_figure_is_judged_by_its_value():
    total = Figure(value=120.0, n=50, method=OBSERVED)
    found = judged({"metrics": {"detector.alerts": {"max_total": 100}}}, [counter(total=total)])
    assert found[0].verdict == "fail" and "120 alerts (observed)" in found[0].message
    found = judged({"metrics": {"detector.alerts": {"max_total": 110}}}, [counter(total=total)])
    assert found[0].verdict == "pass"  # 110 + 10%


def test_limit_that_does_not_fit_the_kind_fails_saying_so():
    found = judged({"metrics": {"detector.alerts": {"p95": 3}}}, [counter()])
    assert found[0].verdict == "fail"
    assert "p95 does not fit a counter" in found[0].message
    assert "min_rate, max_rate, max_total" in found[0].message


def test_metric_never_recorded_fails_naming_what_was():
    found = judged({"metrics": {"detector.server_mss": {"p95": 3}}}, [histogram(p95=P95)])
    assert found[0].verdict == "fail"
    assert "never recorded a metric named 'detector.server_mss'" in found[0].message
    assert "did you mean 'detector.server_ms'" in found[0].message


def test_dimension_set_budget_reads_that_set_in_any_key_order():
    fast = histogram({"model": "fast", "region": "eu"}, p95=P95)
    found = judged(
        {"metrics": {"detector.server_ms{region=eu, model=fast}": {"p95": 300}}},
        [histogram(p95=Figure(value=900.0, low=890.0, high=910.0)), fast],
    )
    assert found[0].verdict == "pass"
    found = judged({"metrics": {"detector.server_ms{model=slow}": {"p95": 300}}}, [fast])
    assert found[0].verdict == "fail"
    assert "its dimension sets: detector.server_ms{model=fast,region=eu}" in found[0].message


def test_figure_without_value_fails_with_its_note():
    empty = Figure(value=None, notes=("no values in the analysed window",))
    found = judged({"metrics": {"detector.server_ms": {"p95": 300}}}, [histogram(p95=empty)])
    assert found[0].verdict == "fail" and "no values in the analysed window" in found[0].message


def test_no_interval_is_inconclusive():
    bare = Figure(value=250.0, notes=("too few",))
    found = judged({"metrics": {"detector.server_ms": {"p95": 300}}}, [histogram(p95=bare)])
    assert found[0].verdict == "inconclusive"


def test_metric_budgets_are_told_apart_from_request_budgets():
    found = judged({"metrics": {"detector.server_ms": {"p95": 300}}}, [histogram(p95=P95)])
    assert is_metric_budget(found[0])
    assert not is_metric_budget(BudgetVerdict("GET /", "p95_ms", 1, 0.1, 1.1, P95, "pass", ""))


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("bad name", "identifiers joined by dots"),
        ("x{model}", "is not dim=value"),
        ("x{model=fast", "missing the closing }"),
        ("x{a=1,a=2}", "given twice"),
    ],
)
def test_malformed_key_is_refused(key, why):
    with pytest.raises(ValidationError, match=why):
        Budgets.model_validate({"metrics": {key: {"p95": 1}}})


def test_unknown_limit_is_refused():
    with pytest.raises(ValidationError, match="p90"):
        Budgets.model_validate({"metrics": {"x": {"p90": 1}}})


def test_budget_key_name_rule_is_the_timelines():
    for name in ("a", "a.b_c", "_x.y1"):
        assert METRIC_NAME.fullmatch(name) and parse_metric_key(name) == (name, {})
    for name in ("1a", "a..b", "a.", "a-b"):
        assert not METRIC_NAME.fullmatch(name)
        with pytest.raises(ValueError):
            parse_metric_key(name)
