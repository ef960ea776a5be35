"""Prometheus alerting rules from a scenario's budgets, over the live ``/metrics``.

``swarm alerts SCENARIO`` writes one rule per budget and one for a stalled run, in the
rule-file format ``promtool check rules`` reads; a scenario with open-model load groups gets
one more, ``SwarmGeneratorBehind`` (below). Each budget rule:

- computes the budget's figure from the live series (``framework.live.metrics``) over a
  ``rate()`` window: p50 / p95 / p99 by ``histogram_quantile`` over the rate of the
  ``le`` buckets, the mean as rate of ``_sum`` over rate of ``_count``, the error rate as
  failed over all requests, throughput as the rate of ``swarm_requests_total``;
- compares it with the budget's limit (the budget plus its tolerance, as the verdict does);
- holds only while that master's run is ``running`` and is of this scenario
  (``swarm_run_info{scenario=...}``), grouped by ``instance`` and ``job``;
- fires after ``for:``, with labels and annotations that name the budget.

These are point figures over a window, as alerting needs; the run's verdict (and
``swarm_budget_status``) judge the whole confidence interval instead.

``SwarmGeneratorBehind`` fires, per load group, when over the window the schedule lag p99
(``swarm_schedule_lag_seconds``) is above the scenario's ``validation.max_lag_p99_ms`` or
the share of arrivals dropped (``swarm_arrivals_total``) is above ``validation.max_dropped``:
the load generators no longer keep the open model's schedule, and the report's data quality
will say so. Its ``reason`` label says which (``schedule lag`` or ``dropped``); its value is
the lag p99 in ms or the dropped share in percent.

    >>> from framework.scenario.budgets import Budgets, ValidationRules
    >>> rules = alert_rules("shop", Budgets.model_validate({"overall": {"p95_ms": 200}}))
    >>> [r["alert"] for r in rules["groups"][0]["rules"]]
    ['SwarmLatencyP95Budget', 'SwarmRunStalled']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from framework.live.budget_status import BudgetLimit, budget_limits
from framework.scenario.budgets import Budgets, ValidationRules
from framework.scenario.model import METHODS
from framework.timeline.endpoints import OVERALL, selects

__all__ = ["alert_rules", "render_alert_rules"]

_BY = "instance, job"
_ALERTS = {
    "p50_ms": "SwarmLatencyP50Budget",
    "p95_ms": "SwarmLatencyP95Budget",
    "p99_ms": "SwarmLatencyP99Budget",
    "mean_ms": "SwarmLatencyMeanBudget",
    "error_rate": "SwarmErrorRateBudget",
    "min_throughput": "SwarmThroughputBelowFloor",
}
_QUANTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
_RUNNING = f'max by ({_BY}) (swarm_run_state{{state="running"}})'


def _duration(seconds: float) -> str:
    """Prometheus's duration syntax: ``90s``, ``2m``, ``1500ms``."""
    ms = round(seconds * 1000)
    if ms % 60_000 == 0 and ms:
        return f"{ms // 60_000}m"
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _quote(value: str) -> str:
    """A PromQL string literal (JSON's escapes are PromQL's)."""
    return json.dumps(value, ensure_ascii=False)


def _selector(scope: str, endpoints: Iterable[tuple[str, str]]) -> str:
    """The label matchers of a budget's scope: none overall, ``name`` for a bare name (every
    method), ``method`` and ``name`` for a key such as ``"POST /detect"``."""
    if scope == OVERALL:
        return ""
    chosen = [(m, n) for m, n in endpoints if selects(scope, m, n)]
    if any(n == scope for _m, n in chosen) or not chosen:
        method, _, rest = scope.partition(" ")
        if chosen or method not in METHODS or not rest:
            return f"name={_quote(scope)}"
        return f"method={_quote(method)},name={_quote(rest)}"
    method, name = chosen[0]
    return f"method={_quote(method)},name={_quote(name)}"


def _figure(limit: BudgetLimit, selector: str, window: str) -> str:
    """The PromQL of the budget's figure, per ``instance`` and ``job``."""
    sel = f"{{{selector}}}" if selector else ""

    def rate(series: str) -> str:
        return f"sum by ({_BY}) (rate({series}{sel}[{window}]))"

    if limit.metric in _QUANTILES:
        buckets = (
            f"sum by ({_BY}, le) (rate(swarm_request_duration_milliseconds_bucket{sel}[{window}]))"
        )
        return f"histogram_quantile({_QUANTILES[limit.metric]}, {buckets})"
    if limit.metric == "mean_ms":
        return (
            f"{rate('swarm_request_duration_milliseconds_sum')} / "
            f"{rate('swarm_request_duration_milliseconds_count')}"
        )
    if limit.metric == "error_rate":
        return f"{rate('swarm_requests_failed_total')} / {rate('swarm_requests_total')}"
    # a floor: no requests at all is 0 rps, not "no data" (which never alerts)
    return f"({rate('swarm_requests_total')} or on ({_BY}) (0 * {_RUNNING}))"


def _while_running(scenario: str) -> str:
    return (
        f"and on ({_BY}) ({_RUNNING} == 1) "
        f"and on ({_BY}) max by ({_BY}) (swarm_run_info{{scenario={_quote(scenario)}}})"
    )


def _shown(value: float, unit: str) -> str:
    if unit == "":
        return f"{value * 100:.4g}%"
    return f"{value:.6g} {unit}"


def _budget_rule(
    scenario: str, limit: BudgetLimit, selector: str, window: str, for_: str
) -> dict[str, Any]:
    relation = ">" if limit.kind == "upper" else "<"
    expr = f"{_figure(limit, selector, window)} {relation} {limit.limit:.12g} {_while_running(scenario)}"  # noqa: E501
    what = f"{limit.scope} {limit.metric}"
    bound = "≤" if limit.kind == "upper" else "≥"
    value = (
        "{{ $value | humanizePercentage }}"
        if limit.unit == ""
        else f'{{{{ $value | printf "%.4g" }}}} {limit.unit}'
    )
    tolerance = (
        ""
        if limit.limit == limit.budget
        else f" (budget {_shown(limit.budget, limit.unit)} with its tolerance)"
    )
    return {
        "alert": _ALERTS[limit.metric],
        "expr": expr,
        "for": for_,
        "labels": {
            "severity": "warning",
            "scenario": scenario,
            "budget_scope": limit.scope,
            "budget_metric": limit.metric,
        },
        "annotations": {
            "summary": f"{scenario}: budget {what} {bound} {_shown(limit.budget, limit.unit)} "
            f"is {'exceeded' if limit.kind == 'upper' else 'not reached'}",
            "description": f"Budget {what} of scenario {scenario}: over the last {window} it "
            f"is {value}, {'above' if limit.kind == 'upper' else 'below'} the limit "
            f"{_shown(limit.limit, limit.unit)}{tolerance}, for {for_} on {{{{ $labels.instance }}}}. "  # noqa: E501
            "The run's verdict judges the whole confidence interval; see "
            f'swarm_budget_status{{scope="{limit.scope}",metric="{limit.metric}"}}.',
        },
    }


def _stalled_rule(scenario: str, window: str, for_: str) -> dict[str, Any]:
    expr = (
        f"{_RUNNING} == 1 "
        f"and on ({_BY}) max by ({_BY}) (swarm_run_info{{scenario={_quote(scenario)}}}) "
        f"unless on ({_BY}) (sum by ({_BY}) (rate(swarm_requests_total[{window}])) > 0)"
    )
    return {
        "alert": "SwarmRunStalled",
        "expr": expr,
        "for": for_,
        "labels": {"severity": "critical", "scenario": scenario},
        "annotations": {
            "summary": f"{scenario}: the run is running but sends no requests",
            "description": f"The master {{{{ $labels.instance }}}} says its run of {scenario} "
            f"is running, yet no request has completed in the last {window} (for {for_}): "
            "workers lost, users stuck, or the master no longer merges their reports.",
        },
    }


def _behind_rule(
    scenario: str, open_groups: Iterable[str], rules: ValidationRules, window: str, for_: str
) -> dict[str, Any]:
    """Lag p99 (ms) above ``max_lag_p99_ms`` or dropped share (%) above ``max_dropped``."""
    by = f"{_BY}, group"

    def rate(series: str) -> str:
        return f"sum by ({by}) (rate({series}[{window}]))"

    lag_ms = (
        f"1000 * histogram_quantile(0.99, sum by ({by}, le) "
        f"(rate(swarm_schedule_lag_seconds_bucket[{window}])))"
    )
    dropped_series = 'swarm_arrivals_total{outcome="dropped"}'
    dropped = f"100 * {rate(dropped_series)} / {rate('swarm_arrivals_total')}"
    expr = (
        f'(label_replace({lag_ms} > {rules.max_lag_p99_ms:.12g}, "reason", "schedule lag", '
        f'"", "") or label_replace({dropped} > {rules.max_dropped * 100:.12g}, "reason", '
        f'"dropped", "", "")) {_while_running(scenario)}'
    )
    groups = ", ".join(sorted(open_groups))
    limits = f"lag p99 {rules.max_lag_p99_ms:g} ms, dropped {_shown(rules.max_dropped, '')}"
    value = (
        '{{ $labels.reason }} {{ $value | printf "%.4g" }}'
        '{{ if eq $labels.reason "dropped" }}%{{ else }} ms{{ end }}'
    )
    return {
        "alert": "SwarmGeneratorBehind",
        "expr": expr,
        "for": for_,
        "labels": {"severity": "warning", "scenario": scenario},
        "annotations": {
            "summary": f"{scenario}: load group {{{{ $labels.group }}}} falls behind its "
            "open-model schedule",
            "description": f"Over the last {window}, load group {{{{ $labels.group }}}} of "
            f"{scenario} on {{{{ $labels.instance }}}} has {value}, beyond the scenario's "
            f"validation limits ({limits}), for {for_}: the load generators cannot start "
            "arrivals on time (busy CPU, too few workers, max_in_flight reached), so the "
            f"response times from the intended start include their delay. Open groups: {groups}.",
        },
    }


def alert_rules(
    scenario: str,
    budgets: Budgets | None,
    *,
    endpoints: Iterable[tuple[str, str]] = (),
    for_s: float = 60.0,
    window_s: float = 60.0,
    open_groups: Iterable[str] = (),
    validation: ValidationRules | None = None,
) -> dict[str, Any]:
    """The rule file as data: one group named after the scenario. ``endpoints`` are the
    scenario's ``(method, name)`` pairs, to tell a bare name from a ``"METHOD name"`` key;
    ``open_groups`` its open-model load groups (``SwarmGeneratorBehind`` when there are any),
    judged by ``validation``'s ``max_lag_p99_ms`` and ``max_dropped``."""
    open_groups = list(open_groups)
    endpoints = list(endpoints)
    window, for_ = _duration(window_s), _duration(for_s)
    rules = [
        _budget_rule(scenario, limit, _selector(limit.scope, endpoints), window, for_)
        for limit in budget_limits(budgets)
    ]
    rules.append(_stalled_rule(scenario, window, for_))
    if open_groups:
        rules.append(
            _behind_rule(scenario, open_groups, validation or ValidationRules(), window, for_)
        )
    return {"groups": [{"name": f"swarm-{scenario}", "rules": rules}]}


def render_alert_rules(
    scenario: str,
    budgets: Budgets | None,
    *,
    endpoints: Iterable[tuple[str, str]] = (),
    for_s: float = 60.0,
    window_s: float = 60.0,
    open_groups: Iterable[str] = (),
    validation: ValidationRules | None = None,
) -> str:
    """``alert_rules`` as the YAML of a Prometheus rule file, with a header that says how."""
    data = alert_rules(
        scenario,
        budgets,
        endpoints=endpoints,
        for_s=for_s,
        window_s=window_s,
        open_groups=open_groups,
        validation=validation,
    )
    head = (
        f"# Prometheus alerting rules for scenario {scenario!r}, written by `swarm alerts`.\n"
        "# They read a swarm master's live /metrics (swarm run --metrics-port, or the web UI's\n"
        "# port); load them with rule_files: in prometheus.yml. Check: promtool check rules.\n"
    )
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
    return head + body
