"""Build a run's ``Results`` from its folder: the timeline, ``run.json`` and the scenario copy.

Everything is recomputed from the timeline, so ``swarm report RUN_DIR`` gives the same
answer offline, later, or with other settings (warm-up, confidence, budgets).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from framework.errors import ConfigError, ExitCode, ReportError
from framework.limits import YAML_BYTES, read_text
from framework.run.folder import RunRecord, read_run_json
from framework.scenario.budgets import Budgets, ValidationRules
from framework.scenario.yaml_source import load_located
from framework.timeline.columns import TimelineColumns
from framework.timeline.gc_pause import collector_paused
from framework.timeline.reader import read_timeline
from framework.timeline.records import Timeline
from framework.verdicts.analysis import (
    Analysed,
    AnalysisSettings,
    analyse_window,
    planned_windows,
    steady_window,
)
from framework.verdicts.capacity import capacity
from framework.verdicts.custom_metrics import metric_results
from framework.verdicts.faults import fault_results
from framework.verdicts.group_phases import group_phases
from framework.verdicts.metric_budgets import metric_budget_verdicts
from framework.verdicts.metric_comparison import budget_directions, compare_metrics
from framework.verdicts.metric_series import metric_series
from framework.verdicts.planned_arrivals import arrival_plan
from framework.verdicts.results import (
    BudgetVerdict,
    ComparisonRow,
    MetricComparisonRow,
    Results,
    SeriesPoint,
    Window,
)
from framework.verdicts.rules import (
    budget_verdicts,
    compare_windows,
    evidence_problems,
    find_knee,
    validate,
)

__all__ = ["ReportOptions", "RunData", "build_results", "load_run"]


@dataclass(frozen=True)
class ReportOptions:
    """How to judge a run: analysis settings, budgets policy, comparison settings."""

    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    budgets: Budgets | None = None
    inconclusive: Literal["pass", "fail"] | None = None
    min_effect: float = 0.05
    min_effect_ms: float = 1.0
    correction: Literal["holm", "bh"] = "holm"
    gate_on_validation: bool = False


@dataclass(frozen=True)
class RunData:
    """What a run folder holds that the analysis reads.

    ``record`` is ``run.json`` read into its type, which the analysis uses; ``run`` is the
    same file as written, only to be copied verbatim into ``results.json``.
    """

    path: Path
    run: Mapping[str, Any]
    timeline: Timeline
    scenario: Mapping[str, Any]
    record: RunRecord


def load_run(run_dir: Path, *, scenario: Mapping[str, Any] | None = None) -> RunData:
    """Read a run folder; ``ReportError`` says which file is missing or broken.

    ``scenario`` is the saved scenario when the caller holds it already (``swarm run`` does),
    so ``scenario.yaml`` is not parsed a second time in that process.
    """
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder", path=run_dir)
    run = read_run_json(run_dir)
    timeline_file = run_dir / "timeline.jsonl"
    if not timeline_file.exists():
        raise ReportError(
            f"{timeline_file}: missing; the run recorded no timeline", path=timeline_file
        )
    timeline = read_timeline(timeline_file)
    record = RunRecord.from_record(run)
    if scenario is not None:
        return RunData(run_dir, run, timeline, scenario, record)
    scenario = {}
    scenario_file = run_dir / "scenario.yaml"
    if scenario_file.exists():
        try:
            loaded = load_located(read_text(scenario_file, YAML_BYTES)).data
        except (OSError, ValueError) as exc:  # YamlSyntaxError and InputRefused too
            raise ReportError(f"{scenario_file}: unreadable ({exc})", path=scenario_file) from None
        scenario = loaded if isinstance(loaded, dict) else {}
    return RunData(run_dir, run, timeline, scenario, record)


def _section(data: Mapping[str, Any], key: str, model: type, where: str) -> Any:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = ".".join(str(p) for p in (key, *first["loc"]))
        raise ConfigError(f"{where}: {path}: {first['msg']}", file=where) from None


def _analysis_id(run_id: str, options: ReportOptions) -> str:
    digest = hashlib.sha256(repr((run_id, options)).encode()).hexdigest()[:12]
    return f"{run_id}-{digest}"


def _series(timeline: Timeline, columns: TimelineColumns) -> tuple[SeriesPoint, ...]:
    points = []
    totals = columns.counters(None)
    percentiles = columns.buckets(None).percentiles_us((50, 95, 99))  # NaN: no latencies
    requests, failures = totals.count.tolist(), totals.failures.tolist()
    for i, (second, row) in enumerate(zip(timeline.seconds, percentiles.tolist(), strict=True)):
        p50, p95, p99 = (None if math.isnan(v) else v / 1000 for v in row)
        points.append(
            SeriesPoint(
                t=second.t,
                users=second.users,
                workers=second.workers,
                requests=requests[i],
                failures=failures[i],
                p50_ms=p50 if requests[i] else None,
                p95_ms=p95 if requests[i] else None,
                p99_ms=p99 if requests[i] else None,
            )
        )
    return tuple(points)


def _damage_warnings(timeline: Timeline) -> list[str]:
    """The warning every report shows when the reader skipped damaged timeline lines."""
    if not timeline.damaged_records:
        return []
    first = timeline.damaged[0] if timeline.damaged else None
    return [
        f"{timeline.damaged_records} damaged timeline line(s) skipped; their requests are in "
        "no figure" + (f" (first: {first})" if first else "")
    ]


def _recommendations(window: Window, run: RunRecord, target: float) -> list[str]:
    advice = []
    for endpoint in (window.overall, *window.endpoints):
        label = "all requests" if endpoint is window.overall else endpoint.key
        width = endpoint.p95_ms.relative_half_width
        factor = endpoint.quality.run_longer_factor
        if width is not None and width > target and factor:
            advice.append(
                f"p95 of {label} is known only to ±{width:.0%}: run {factor:.1f}× longer "
                f"for a ±{target:.0%} interval"
            )
        if endpoint.p95_ms.censored or endpoint.p99_ms.censored:
            advice.append(
                f"{label}: percentiles fall among timed-out requests (reported as ≥ timeout); "
                "fix the timeouts or raise the timeout to measure them"
            )
    rate = window.overall.error_rate.value
    if rate is not None and rate > 0.01:
        advice.append(f"{rate:.1%} of requests failed: fix errors before trusting latency figures")
    if run.worker_events:
        advice.append("workers were lost or went missing during the run: check worker_events")
    advice += _sink_advice(run)
    return advice


_SINK_LABELS = {"influxdb": "InfluxDB"}


def _sink_advice(run: RunRecord) -> list[str]:
    """A live sink that failed or dropped points: what the live view missed, and why."""
    advice = []
    for name, sink in run.sinks.items():
        dropped = sink.get("dropped") if isinstance(sink.get("dropped"), int) else 0
        if sink.get("status") not in ("failed", "failing") and not dropped:
            continue
        error = sink.get("error") or "no reason recorded"
        where = f" {sink['url']}" if isinstance(sink.get("url"), str) else ""
        advice.append(
            f"the {_SINK_LABELS.get(name, name)} sink{where} failed ({error}): {dropped} "
            f"points dropped, {sink.get('written') or 0} written; the live view missed "
            "them, this report and the timeline have every second"
        )
    return advice


def build_results(
    data: RunData,
    options: ReportOptions,
    *,
    created_at: str,
    baseline: RunData | None = None,
) -> tuple[Results, Analysed]:
    """Analyse the run (and compare it with ``baseline`` when given); pure but for reading
    histograms. Returns the results and the steady-state estimates (for further comparisons).
    """
    with collector_paused():
        return _build_results(data, options, created_at=created_at, baseline=baseline)


def _build_results(
    data: RunData, options: ReportOptions, *, created_at: str, baseline: RunData | None
) -> tuple[Results, Analysed]:
    where = str(data.path / "scenario.yaml")
    budgets = options.budgets or _section(data.scenario, "budgets", Budgets, where)
    rules = _section(data.scenario, "validation", ValidationRules, where) or ValidationRules()
    timeouts = data.scenario.get("timeout")
    analysis = options.analysis
    if analysis.timeout_s is None and isinstance(timeouts, int | float):
        analysis = AnalysisSettings(
            confidence=analysis.confidence,
            warmup_s=analysis.warmup_s,
            target_half_width=analysis.target_half_width,
            timeout_s=float(timeouts),
        )
    steady = steady_window(data.record, data.timeline, analysis.warmup_s)
    # the run's records as arrays, each name's histograms decoded once: every window
    # analysed below and the per-second series read them
    columns = TimelineColumns(data.timeline)
    # the open groups' plans, rebuilt from the saved scenario: arrivals never due show
    # only against them
    plan = arrival_plan(data.record, data.timeline, data.scenario)
    analysed = analyse_window(
        data.timeline, steady, analysis, columns=columns, rules=rules, plan=plan
    )
    steps = tuple(
        analyse_window(data.timeline, w, analysis, columns=columns, rules=rules, plan=plan).window
        for w in planned_windows(data.record, data.timeline)
    )
    groups = group_phases(
        data.record,
        data.timeline,
        data.scenario,
        analysis,
        columns=columns,
        rules=rules,
        plan=plan,
    )
    faults = fault_results(
        data.record.faults,
        data.timeline,
        columns=columns,
        settings=analysis,
        earliest_s=steady.start_s,
    )
    # the custom metrics over the same steady state as the requests (paused seconds out)
    metrics = metric_results(
        data.timeline, steady.start_s, steady.end_s, confidence=analysis.confidence
    )
    verdicts: tuple[BudgetVerdict, ...] = ()
    if budgets is not None:
        verdicts = tuple(budget_verdicts(analysed.window, budgets))
        verdicts += tuple(metric_budget_verdicts(metrics, budgets))
    knee, knee_reason = find_knee(steps, budgets)
    found = capacity(steps, budgets, data.run, analysis.confidence)
    # a find_capacity run steps the load up until a budget fails, so its steady state
    # fails them by design: it is judged on the capacity found (contracts §4)
    searching = found is not None and found.verdict is not None
    validation = tuple(validate(analysed.window, rules, analysed.open_model))

    comparison: tuple[ComparisonRow, ...] = ()
    metric_comparison: tuple[MetricComparisonRow, ...] = ()
    compared_to = None
    if baseline is not None:
        base_window = steady_window(baseline.record, baseline.timeline, analysis.warmup_s)
        base = analyse_window(baseline.timeline, base_window, analysis)
        comparison = tuple(
            compare_windows(
                base.estimates,
                analysed.estimates,
                min_effect=options.min_effect,
                min_effect_ms=options.min_effect_ms,
                confidence=analysis.confidence,
                correction=options.correction,
            )
        )
        compared_to = baseline.record.run_id or baseline.path.name
        if metrics:
            base_metrics = metric_results(
                baseline.timeline,
                base_window.start_s,
                base_window.end_s,
                confidence=analysis.confidence,
            )
            metric_comparison = tuple(
                compare_metrics(
                    base_metrics,
                    metrics,
                    min_effect=options.min_effect,
                    confidence=analysis.confidence,
                    correction=options.correction,
                    directions=budget_directions(budgets.metrics if budgets else None),
                )
            )

    policy = options.inconclusive or (budgets.inconclusive if budgets else "pass")
    evidence = evidence_problems(analysed.window)
    reasons = list(evidence)
    if searching and found is not None:
        if found.verdict == "fail" or (found.verdict == "inconclusive" and policy == "fail"):
            reasons.append(found.message)
    else:
        reasons += [v.message for v in verdicts if v.verdict == "fail"]
        reasons += [v.message for v in verdicts if v.verdict == "inconclusive" and policy == "fail"]
    reasons += [r.message for r in comparison if r.verdict == "regression"]
    reasons += [r.message for r in metric_comparison if r.verdict == "regression"]
    reasons += [f"fault {f.name}: {f.message}" for f in faults if f.verdict == "fail"]
    reasons += [
        f"fault {f.name}: {f.message}"
        for f in faults
        if f.verdict == "inconclusive" and policy == "fail"
    ]
    if options.gate_on_validation:
        reasons += [v.message for v in validation if not v.passed]
    if data.record.status == "aborted":
        # first: why the run stopped early explains the figures that follow
        detail = data.record.message or (data.record.abort or {}).get("message")
        reasons.insert(0, "the run was aborted" + (f": {detail}" if detail else ""))
    elif data.record.status in ("failed", "interrupted"):
        detail = data.record.message
        reasons.append(f"the run {data.record.status}" + (f": {detail}" if detail else ""))
    elif data.record.exit_code not in (None, ExitCode.OK):
        # A run that finished but exited non-zero (3: a worker was lost) never passes.
        detail = data.record.message
        reasons.append(
            f"the run exited {data.record.exit_code}" + (f": {detail}" if detail else "")
        )
    inconclusive = [v.message for v in verdicts if v.verdict == "inconclusive"]
    if searching and found is not None:
        inconclusive = [found.message] if found.verdict == "inconclusive" else []
    inconclusive += [f"fault {f.name}: {f.message}" for f in faults if f.verdict == "inconclusive"]
    if reasons:
        verdict: Literal["passed", "failed", "inconclusive"] = "failed"
    elif inconclusive:
        verdict, reasons = "inconclusive", inconclusive
    else:
        verdict = "passed"
    run_id = data.record.run_id or data.path.name
    results = Results(
        analysis_id=_analysis_id(run_id, options),
        created_at=created_at,
        run=dict(data.run),
        settings={
            "confidence": analysis.confidence,
            "warmup_s": analysis.warmup_s,
            "window": {"start_s": steady.start_s, "end_s": steady.end_s},
            "target_half_width": analysis.target_half_width,
            "min_effect": options.min_effect,
            "min_effect_ms": options.min_effect_ms,
            "correction": options.correction,
            "inconclusive_budgets": policy,
            "timeline_complete": data.timeline.complete,
            "late_records": data.timeline.late_records,
            "damaged_records": data.timeline.damaged_records,
            "damaged_lines": [str(d) for d in data.timeline.damaged],
            "failures_in_latency": data.timeline.failures_in_latency,
        },
        baseline=analysed.window,
        steps=steps,
        knee=knee,
        knee_reason=knee_reason,
        budgets=verdicts,
        validation=validation,
        comparison=comparison,
        metric_comparison=metric_comparison,
        compared_to=compared_to,
        series=_series(data.timeline, columns),
        metric_series=metric_series(data.timeline.seconds),
        failures_by_kind=dict(analysed.window.overall.failures_by_kind),
        recommendations=tuple(
            _damage_warnings(data.timeline)
            + _recommendations(analysed.window, data.record, analysis.target_half_width)
        ),
        verdict=verdict,
        reasons=tuple(reasons),
        evidence=tuple(evidence),
        open_model=analysed.open_model,
        group_phases=groups,
        faults=faults,
        capacity=found,
        metrics=metrics,
    )
    return results, analysed
