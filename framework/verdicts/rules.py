"""Verdicts on analysed windows: budgets, validation rules, the knee, comparisons.

Each is a pure function of results (and, for comparisons, of the estimates behind them),
so reports only render what is decided here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Literal

from framework.scenario.budgets import BUDGET_METRICS, Budgets, LimitSet, ValidationRules
from framework.scenario.grades import grade_rank
from framework.scenario.metrics import FIGURE_FIELDS, KEY_METRICS, LATENCY_METRICS
from framework.stats.estimators import Estimate
from framework.stats.significance import Comparison, adjust, compare_estimates
from framework.timeline.endpoints import OVERALL, selects
from framework.verdicts.budgets import judge
from framework.verdicts.results import (
    BudgetVerdict,
    ComparisonRow,
    EndpointResult,
    Figure,
    OpenModel,
    ValidationMessage,
    Window,
)

__all__ = [
    "COMPARED_METRICS",
    "budget_verdicts",
    "compare_windows",
    "evidence_problems",
    "find_knee",
    "validate",
]

COMPARED_METRICS = KEY_METRICS


def _limits(limits: LimitSet) -> list[tuple[str, float]]:
    return [(m, getattr(limits, m)) for m in BUDGET_METRICS if getattr(limits, m) is not None]


def _endpoints_named(window: Window, name: str) -> list[EndpointResult]:
    return [e for e in window.endpoints if selects(name, e.method, e.name)]


def budget_verdicts(window: Window, budgets: Budgets) -> list[BudgetVerdict]:
    """Every budget judged on the window's intervals; a budget for an unknown name is
    inconclusive with a message naming the names that exist."""
    verdicts = []
    scopes: list[tuple[str, LimitSet, list[EndpointResult]]] = []
    if budgets.overall is not None:
        scopes.append((OVERALL, budgets.overall, [window.overall]))
    for name, limits in budgets.requests.items():
        scopes.append((name, limits, _endpoints_named(window, name)))
    for scope, limits, endpoints in scopes:
        tolerance = limits.tolerance if limits.tolerance is not None else budgets.tolerance
        for metric, budget in _limits(limits):
            if not endpoints:
                known = ", ".join(e.name for e in window.endpoints) or "none"
                verdicts.append(
                    BudgetVerdict(
                        scope, metric, budget, tolerance, budget, Figure(value=None),
                        "inconclusive",
                        f"{scope} {metric}: no requests named {scope!r} ran (names: {known})",
                    )
                )  # fmt: skip
                continue
            for endpoint in endpoints:
                figure = getattr(endpoint, BUDGET_METRICS[metric][0])
                label = endpoint.key if len(endpoints) > 1 else scope
                missing = _why_no_value(endpoint, metric)
                if endpoint.successes == 0 and BUDGET_METRICS[metric][0] in _LATENCY_FIELDS:
                    # a version-1 timeline mixed failures into the latencies: a figure it
                    # shows without one success measures only how fast requests failed
                    figure = Figure(value=None)
                verdicts.append(judge(label, metric, budget, tolerance, figure, missing=missing))
    return verdicts


def _why_no_value(endpoint: EndpointResult, metric: str) -> str:
    """Why a budget's figure can have no value: what the window holds of that name."""
    if endpoint.count == 0:
        return "no requests in the analysed window"
    if BUDGET_METRICS[metric][0] in _LATENCY_FIELDS and endpoint.successes == 0:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(endpoint.failures_by_kind.items()))
        return f"no successful request to measure (all {endpoint.count} failed; {kinds})"
    return "too few requests for an estimate"


def evidence_problems(window: Window) -> list[str]:
    """Why the window holds no evidence a verdict could rest on (empty when it does).

    Design contract 6: a run that sent nothing, measured nothing in its window, or whose
    requests all failed cannot pass, budgets or not.
    """
    overall = window.overall
    if window.end_s <= window.start_s:
        return [
            "the analysed window is empty (0 s): the run ended before its warm-up did; "
            "run longer or lower --warmup"
        ]
    if overall.count == 0:
        return [
            f"no request completed in the analysed window ({window.duration_s:g} s): "
            "nothing was measured"
        ]
    if overall.successes == 0:
        kinds = ", ".join(
            f"{kind}: {n}" for kind, n in sorted(overall.failures_by_kind.items(), key=_most)
        )
        return [f"no request succeeded: all {overall.count} requests failed ({kinds})"]
    return []


def _most(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


_LATENCY_FIELDS = frozenset(FIGURE_FIELDS[m] for m in LATENCY_METRICS)


def validate(
    window: Window, rules: ValidationRules, open_model: OpenModel | None = None
) -> list[ValidationMessage]:
    """The validation rules on the steady-state window; each says what to do if it fails.

    With ``open_model`` (an open-model run's window) the schedule rules join them:
    ``max_lag_p99_ms`` and ``max_dropped`` (the dropped arrivals and, beyond their
    tolerance, the planned ones never due), judged on every load group.
    """
    overall = window.overall
    out = []
    n = overall.count
    enough = n >= rules.min_samples
    advice = (
        ""
        if enough
        else f", below the minimum {rules.min_samples}: run "
        f"{math.ceil(rules.min_samples / max(n, 1))}× longer or "
        + ("at a higher arrival rate" if open_model is not None else "with more users")
    )
    out.append(ValidationMessage("min_samples", enough, f"{n} requests analysed{advice}"))
    width = overall.p95_ms.relative_half_width
    factor = overall.quality.run_longer_factor
    if width is None:
        out.append(
            ValidationMessage(
                "max_ci_half_width", False, "p95 has no confidence interval: run longer"
            )
        )
    else:
        ok = width <= rules.max_ci_half_width
        advice = "" if ok else (
            f", above the target ±{rules.max_ci_half_width:.0%}: run "
            f"{factor:.1f}× longer" if factor else ", run longer"
        )  # fmt: skip
        out.append(ValidationMessage("max_ci_half_width", ok, f"p95 known to ±{width:.1%}{advice}"))
    grade = overall.quality.grade
    ok = grade_rank(grade) <= grade_rank(rules.min_quality)
    reasons = "; ".join(
        f"{c.name} ({c.grade})" for c in overall.quality.checks if c.grade != "pass"
    )
    out.append(
        ValidationMessage(
            "min_quality",
            ok,
            f"data quality {grade}" + ("" if ok else f", below {rules.min_quality}: {reasons}"),
        )
    )
    rate = overall.error_rate.value
    ok = rate is not None and rate <= rules.max_error_rate
    shown = "unknown" if rate is None else f"{rate:.2%}"
    out.append(
        ValidationMessage(
            "max_error_rate",
            ok,
            f"error rate {shown}"
            + (
                ""
                if ok
                else f", above {rules.max_error_rate:.2%}: fix the errors or lower the load"
            ),
        )
    )
    if open_model is not None and open_model.groups:
        out += _schedule_rules(open_model, rules)
    return out


def _schedule_rules(open_model: OpenModel, rules: ValidationRules) -> list[ValidationMessage]:
    """The open model's schedule rules: every group's lag p99 and dropped share within
    the limits, or the generator fell behind (the message names the group and the CPU)."""
    groups = open_model.groups
    named = len(groups) > 1
    cpu = (
        f"; load generator CPU up to {open_model.cpu_percent_max:.0f} %"
        if open_model.cpu_percent_max is not None
        else ""
    )
    advice = ": the generator fell behind; add workers or lower the rate"
    lags, drops = [], []
    lag_ok = drop_ok = True
    short = False
    for g in groups:
        label = f"{g.group} " if named else ""
        lag = g.lag_p99_ms.value
        if lag is None:
            lags.append(f"{label}no arrival started")
        else:
            lag_ok = lag_ok and lag <= rules.max_lag_p99_ms
            lags.append(f"{label}lag p99 {lag:.3g} ms")
        dropped = g.dropped_fraction or 0.0
        text = f"{label}{dropped:.2%} of arrivals dropped ({g.dropped:,} of {g.due:,})"
        missed = g.missed_counted
        if g.planned:
            share = (g.dropped + missed) / g.planned
            if g.missed:
                chance = "" if missed else f", within the {g.missed_tolerance or 0:,.0f} allowed"
                text += (
                    f", {g.missed_fraction or 0.0:.2%} of planned never due "
                    f"({g.missed:,} of {g.planned:,.0f}{chance})"
                )
        else:
            share = g.dropped_fraction or 0.0
        short = short or (bool(missed) and share > rules.max_dropped)
        drop_ok = drop_ok and share <= rules.max_dropped
        drops.append(text)
    limit = f"{rules.max_lag_p99_ms:.3g} ms"
    drop_advice = advice
    if short:
        drop_advice = (
            ": a load generator was lost; its share of the arrivals was never sent until "
            "the master noticed (rerun, or judge the seconds after it)"
            if open_model.workers_lost
            else ": the generator did not keep the schedule (a stalled clock or a late "
            "start); check the load generators"
        )
    return [
        ValidationMessage(
            "max_lag_p99_ms",
            lag_ok,
            ", ".join(lags) + ("" if lag_ok else f", above {limit}{advice}{cpu}"),
        ),
        ValidationMessage(
            "max_dropped",
            drop_ok,
            ", ".join(drops)
            + ("" if drop_ok else f", above {rules.max_dropped:.2%}{drop_advice}{cpu}"),
        ),
    ]


def find_knee(steps: Sequence[Window], budgets: Budgets | None) -> tuple[str | None, str | None]:
    """The highest step that still meets the SLOs, and why.

    With budgets, a step meets them when none of its budgets fails. Without budgets, the
    knee is the last step whose throughput is still measurably above the previous step's
    (its interval lies wholly above), i.e. where adding users stopped adding throughput.
    """
    if not steps:
        return None, None
    if budgets is not None and (budgets.overall or budgets.requests):
        passing = [
            s for s in steps if all(v.verdict != "fail" for v in budget_verdicts(s, budgets))
        ]
        if not passing:
            return None, "no step met the budgets"
        last = passing[-1]
        return (
            last.name,
            f"{last.name} ({last.users} users) is the highest step meeting every budget",
        )
    knee = steps[0]
    for previous, step in itertools.pairwise(steps):
        a, b = previous.overall.throughput_rps, step.overall.throughput_rps
        if a.high is not None and b.low is not None and b.low > a.high:
            knee = step
        else:
            break
    return knee.name, (
        f"{knee.name} ({knee.users} users): the last step whose throughput rose measurably "
        "over the previous one"
    )


def _unit(metric: str) -> float:
    """Estimates of latency are in µs; comparison rows, like all results, in ms."""
    return 1 / 1000 if metric in LATENCY_METRICS else 1.0


def _compared(
    baseline: Mapping[str, Mapping[str, Estimate]], candidate: Mapping[str, Mapping[str, Estimate]]
) -> list[tuple[str, str]]:
    """The (name, metric) pairs both runs have, each figure once: when each run has a single
    request name, "overall" is the same data as that name, so its figures are left out
    rather than tested twice (which would count them twice in the correction)."""
    keys = sorted(set(baseline) & set(candidate))
    names = [k for k in keys if k]
    one_name = len(names) == 1 and "" in keys and len(baseline) == len(candidate) == 2
    pairs = []
    for key in keys:
        for metric in COMPARED_METRICS:
            if baseline[key].get(metric) is None or candidate[key].get(metric) is None:
                continue
            if (
                key == ""
                and one_name
                and metric in baseline[names[0]]
                and metric in candidate[names[0]]
            ):
                continue
            pairs.append((key, metric))
    return pairs


def compare_windows(
    baseline: Mapping[str, Mapping[str, Estimate]],
    candidate: Mapping[str, Mapping[str, Estimate]],
    *,
    min_effect: float = 0.05,
    min_effect_ms: float = 0.0,
    confidence: float = 0.95,
    correction: Literal["holm", "bh"] = "holm",
) -> list[ComparisonRow]:
    """Candidate vs baseline for every shared name and metric, false alarms controlled
    across all of them (Holm by default, or Benjamini–Hochberg).

    A latency change counts only when it is at least ``min_effect`` (relative) and
    ``min_effect_ms`` (absolute; the CLI's default is 1 ms, none here); each row's interval
    is the one its adjusted test reads, and its verdict is read off that interval.
    """
    scopes, metrics, found = [], [], []
    for key, metric in _compared(baseline, candidate):
        scopes.append(key or OVERALL)
        metrics.append(metric)
        absolute = min_effect_ms * 1000 if metric in LATENCY_METRICS else 0.0
        found.append(
            compare_estimates(
                baseline[key][metric],
                candidate[key][metric],
                min_effect=min_effect,
                confidence=confidence,
                min_effect_abs=absolute,
            )
        )
    if not found:
        return []
    rows = []
    adjusted = adjust(found, correction)
    for scope, metric, raw, c in zip(scopes, metrics, found, adjusted, strict=True):
        rows.append(_row(scope, metric, raw, c, correction))
    return rows


def _row(scope: str, metric: str, raw: Comparison, c: Comparison, correction: str) -> ComparisonRow:
    unit = _unit(metric)
    finite = math.isfinite(c.low) and math.isfinite(c.high) and math.isfinite(c.ratio)
    base, cand = c.a.value * unit, c.b.value * unit
    suffix = " ms" if metric in LATENCY_METRICS else ""
    shown = f"×{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}]" if finite else "no ratio"
    why = ""
    if c.verdict == "no detectable change" and finite and (c.low > 1 or c.high < 1):
        lower, upper = c.effect_bounds
        small = f"within ±{c.min_effect:.0%}"
        if c.min_effect_abs > 0 and (upper > 1 + c.min_effect or lower < 1 / (1 + c.min_effect)):
            small = f"under {c.min_effect_abs * unit:g}{suffix}"
        why = f" (a change {small})"
    return ComparisonRow(
        scope=scope,
        metric=metric,
        baseline=base,
        candidate=cand,
        ratio=c.ratio if math.isfinite(c.ratio) else None,
        low=c.low if finite else None,
        high=c.high if finite else None,
        p_value=raw.p_value,
        adjusted_p_value=c.p_value,
        verdict=c.verdict,
        message=f"{scope} {metric}: {_value(base)} → {_value(cand)}{suffix}, {shown} "
        f"at {_level(c)}, adjusted p={c.p_value:.3g} ({correction}): {c.verdict}{why}",
        level=c.level if finite else None,
    )


def _value(v: float) -> str:
    return f"{v:.4g}"


def _level(c: Comparison) -> str:
    """The interval's level, to a digit that tells it from the nominal one."""
    level = c.level if math.isfinite(c.level) else c.confidence
    text = f"{level:.1%}" if level < 0.999 else f"{level:.3%}"
    return text.replace(".0%", "%")
