"""Budgets are judged on confidence intervals: pass, fail or inconclusive, on hand-built figures."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from framework.scenario.budgets import Budgets, LimitSet, parse_percent
from framework.verdicts.budgets import judge
from framework.verdicts.results import EndpointResult, Figure, QualityResult, Window
from framework.verdicts.rules import budget_verdicts


def fig(value: float | None, low: float | None = None, high: float | None = None, **kw) -> Figure:
    return Figure(value=value, low=low, high=high, **kw)


def endpoint(name: str = "/detect", method: str = "POST", **figures: Figure) -> EndpointResult:
    """An endpoint whose every figure is empty unless given."""
    empty = Figure(value=None)
    names = ("mean_ms", "median_ms", "p95_ms", "p99_ms", "throughput_rps", "error_rate")
    return EndpointResult(
        name=name,
        method=method,
        count=1000,
        failures=0,
        failures_by_kind={},
        timeouts=0,
        bytes=0,
        min_ms=1.0,
        max_ms=100.0,
        p90_ms=50.0,
        quality=QualityResult(grade="pass"),
        **{n: figures.get(n, empty) for n in names},
    )


def window(*endpoints: EndpointResult, overall: EndpointResult | None = None) -> Window:
    overall = overall or endpoint("Aggregated", "")
    return Window("steady state", 0, 300, 10, overall, tuple(endpoints))


# --------------------------------------------------------------------------- judge


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (90.0, 109.0, "pass"),  # whole interval within 100 ms + 10%
        (90.0, 100 * 1.1, "pass"),  # touching the limit still passes
        (111.0, 130.0, "fail"),  # whole interval beyond the limit
        (105.0, 115.0, "inconclusive"),  # straddles the limit
        (100 * 1.1, 115.0, "inconclusive"),  # low on the limit: not wholly beyond
    ],
)
def test_upper_budget_is_judged_on_the_whole_interval(low, high, verdict):
    v = judge("overall", "p95_ms", 100.0, 0.10, fig((low + high) / 2, low, high))
    assert v.verdict == verdict
    assert v.limit == pytest.approx(110.0)
    assert v.message.endswith(f": {verdict}")


def test_a_value_over_budget_with_an_interval_inside_the_tolerance_passes():
    # 105 ms is above the 100 ms budget, but within the 10% tolerance
    assert judge("overall", "p95_ms", 100.0, 0.10, fig(105.0, 104.0, 106.0)).verdict == "pass"


def test_zero_tolerance_makes_the_budget_itself_the_limit():
    assert judge("overall", "p95_ms", 100.0, 0.0, fig(99.0, 98.0, 101.0)).verdict == "inconclusive"
    assert judge("overall", "p95_ms", 100.0, 0.0, fig(99.0, 98.0, 100.0)).verdict == "pass"


def test_fail_message_names_the_figure_its_interval_budget_and_limit():
    v = judge("POST /detect", "p95_ms", 200.0, 0.10, fig(250.0, 240.0, 260.0))
    assert v.verdict == "fail"
    assert v.message == (
        "POST /detect p95_ms: 250 ms [240 ms, 260 ms] vs budget 200 ms "
        "(limit ≤ 220 ms with 10% tolerance): fail"
    )


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (95.0, 120.0, "pass"),  # at least 100 rps - 10% = 90 over the whole interval
        (90.0, 120.0, "pass"),  # touching the lower limit passes
        (70.0, 85.0, "fail"),  # wholly below 90
        (85.0, 95.0, "inconclusive"),  # straddles 90
    ],
)
def test_throughput_budget_is_a_lower_bound(low, high, verdict):
    v = judge("overall", "min_throughput", 100.0, 0.10, fig((low + high) / 2, low, high))
    assert v.verdict == verdict
    assert v.limit == pytest.approx(90.0)
    assert "limit ≥ 90 rps" in v.message


def test_error_rate_budget_is_shown_in_percent():
    v = judge("overall", "error_rate", 0.01, 0.10, fig(0.02, 0.015, 0.025))
    assert v.verdict == "fail"
    assert "2.00% [1.50%, 2.50%] vs budget 1.00% (limit ≤ 1.10%" in v.message


def test_a_figure_without_data_fails_and_one_without_interval_is_inconclusive():
    # no verdict without evidence (design contract 6): a budget with nothing to measure fails
    assert judge("overall", "p95_ms", 100.0, 0.1, fig(None)).verdict == "fail"
    assert "no data" in judge("overall", "p95_ms", 100.0, 0.1, fig(None)).message
    no_ci = judge("overall", "p95_ms", 100.0, 0.1, fig(500.0))
    assert no_ci.verdict == "inconclusive"
    assert "500 ms has no confidence interval" in no_ci.message


def test_censored_percentile_above_the_limit_fails_even_when_its_interval_straddles():
    # a censored p99 is only a lower bound (>= timeout): above the limit is enough to fail
    v = judge("overall", "p99_ms", 1000.0, 0.10, fig(1200.0, 900.0, 1300.0, censored=True))
    assert v.verdict == "fail"


def test_censored_percentile_straddling_without_exceeding_stays_inconclusive():
    v = judge("overall", "p99_ms", 1000.0, 0.10, fig(1050.0, 900.0, 1300.0, censored=True))
    assert v.verdict == "inconclusive"


def test_censored_percentile_never_passes_an_upper_budget():
    v = judge("overall", "p99_ms", 60_000.0, 0.10, fig(30_000.0, 29_000.0, 31_000.0, censored=True))
    assert v.verdict == "inconclusive"


def test_censored_percentile_above_the_limit_fails_without_an_interval():
    v = judge("overall", "p99_ms", 1000.0, 0.10, fig(30_000.0, censored=True))
    assert v.verdict == "fail"


# --------------------------------------------------------------------------- budget_verdicts


def test_overall_and_per_name_budgets_are_each_judged():
    detect = endpoint(p95_ms=fig(80.0, 70.0, 90.0), error_rate=fig(0.0, 0.0, 0.001))
    overall = endpoint("Aggregated", "", p95_ms=fig(150.0, 140.0, 160.0))
    budgets = Budgets.model_validate(
        {"overall": {"p95_ms": 100}, "requests": {"/detect": {"p95_ms": 100, "error_rate": "1%"}}}
    )
    verdicts = budget_verdicts(window(detect, overall=overall), budgets)
    assert [(v.scope, v.metric, v.verdict) for v in verdicts] == [
        ("overall", "p95_ms", "fail"),
        ("/detect", "p95_ms", "pass"),
        ("/detect", "error_rate", "pass"),
    ]


def test_a_request_budget_may_name_the_endpoint_key_or_the_bare_name():
    detect = endpoint(p95_ms=fig(80.0, 70.0, 90.0))
    for name in ("/detect", "POST /detect"):
        budgets = Budgets.model_validate({"requests": {name: {"p95_ms": 100}}})
        (v,) = budget_verdicts(window(detect), budgets)
        assert (v.scope, v.verdict) == (name, "pass")


def test_a_bare_name_used_by_two_methods_gets_one_verdict_per_method():
    get = endpoint("/item", "GET", p95_ms=fig(50.0, 40.0, 60.0))
    post = endpoint("/item", "POST", p95_ms=fig(300.0, 250.0, 350.0))
    budgets = Budgets.model_validate({"requests": {"/item": {"p95_ms": 100}}})
    verdicts = budget_verdicts(window(get, post), budgets)
    assert [(v.scope, v.verdict) for v in verdicts] == [
        ("GET /item", "pass"),
        ("POST /item", "fail"),
    ]


def test_per_name_tolerance_overrides_the_budgets_tolerance():
    detect = endpoint(p95_ms=fig(112.0, 105.0, 118.0))
    default = Budgets.model_validate({"requests": {"/detect": {"p95_ms": 100}}})
    loose = Budgets.model_validate({"requests": {"/detect": {"p95_ms": 100, "tolerance": "20%"}}})
    (strict_v,) = budget_verdicts(window(detect), default)
    (loose_v,) = budget_verdicts(window(detect), loose)
    assert (strict_v.verdict, strict_v.tolerance) == ("inconclusive", pytest.approx(0.10))
    assert (loose_v.verdict, loose_v.tolerance) == ("pass", pytest.approx(0.20))
    assert "with 20% tolerance" in loose_v.message


def test_unknown_request_name_is_inconclusive_and_lists_the_names_that_ran():
    budgets = Budgets.model_validate({"requests": {"/detcet": {"p95_ms": 100, "p99_ms": 200}}})
    verdicts = budget_verdicts(window(endpoint("/detect"), endpoint("/health", "GET")), budgets)
    assert [v.verdict for v in verdicts] == ["inconclusive", "inconclusive"]
    assert verdicts[0].message == (
        "/detcet p95_ms: no requests named '/detcet' ran (names: /detect, /health)"
    )
    assert verdicts[0].figure.value is None


def test_censored_figure_carries_through_to_the_verdict():
    detect = endpoint(p99_ms=fig(30_000.0, 29_000.0, 31_000.0, censored=True))
    budgets = Budgets.model_validate({"requests": {"/detect": {"p99_ms": 5000}}})
    (v,) = budget_verdicts(window(detect), budgets)
    assert v.verdict == "fail"
    assert v.figure.censored


# --------------------------------------------------------------------------- the model


def test_percentages_are_fractions_or_percent_strings():
    assert parse_percent("10%") == pytest.approx(0.1)
    assert parse_percent(0.1) == 0.1
    assert LimitSet.model_validate({"error_rate": "0.5%"}).error_rate == pytest.approx(0.005)
    assert Budgets.model_validate({}).tolerance == pytest.approx(0.10)
    assert Budgets.model_validate({}).inconclusive == "pass"


@pytest.mark.parametrize(
    "raw",
    [
        {"overall": {"p95": 100}},  # unknown key
        {"overall": {"p95_ms": 0}},  # must be > 0
        {"tolerance": "ten%"},  # not a percentage
        {"inconclusive": "maybe"},
    ],
)
def test_malformed_budgets_are_rejected(raw):
    with pytest.raises(ValidationError):
        Budgets.model_validate(raw)
