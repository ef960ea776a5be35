"""``metrics.prom``: the run's final figures in the Prometheus text exposition format.

For node_exporter's textfile collector or a Pushgateway, so runs can be graphed and
alerted on next to production metrics. Figures are of the steady-state window; every
estimate is one gauge per bound (``bound="estimate"|"low"|"high"``), so a dashboard can
draw the interval. Latency is in milliseconds (the unit is in each name).

    swarm_run_info{...} 1                                 the run, its scenario and verdict
    swarm_run_verdict                                     1 passed, 0 failed, -1 inconclusive
    swarm_requests_total, swarm_requests_failed_total, swarm_request_timeouts_total
    swarm_request_failures_by_kind_total{kind}
    swarm_request_duration_milliseconds                   histogram (needs latency buckets)
    swarm_latency_milliseconds{stat, bound}               mean, p50, p95, p99 with intervals
    swarm_throughput_rps / swarm_error_ratio {bound}
    swarm_budget_status{scope, metric}                    1 pass, 0 fail, -1 inconclusive
    swarm_validation_passed{rule}, swarm_comparison_ratio{scope, metric, bound}, ...

Label values are escaped as the format requires (backslash, double quote, newline), so any
request name is safe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from framework.scenario.grades import grade_rank
from framework.timeline.endpoints import AGGREGATED
from framework.verdicts.results import EndpointResult, Figure, Results

__all__ = ["render_prometheus"]

_BUDGETS = {"pass": 1, "fail": 0, "inconclusive": -1}
_VERDICTS = {"passed": 1, "failed": 0, "inconclusive": -1}
_CHANGES = {"improvement": 1, "no detectable change": 0, "changed": 0, "regression": -1}

Labels = Mapping[str, object]


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)


def _escape_label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return repr(float(value))


class _Exposition:
    """Metric families in the order first declared; samples grouped by family."""

    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}

    def family(self, name: str, kind: str, help_text: str) -> _Family:
        if name not in self.families:
            self.families[name] = _Family(name, kind, help_text)
        return self.families[name]

    def add(self, name: str, labels: Labels, value: float | None, suffix: str = "") -> None:
        if value is None or not math.isfinite(value):
            return
        self.families[name].samples.append((name + suffix, labels, value))

    def text(self) -> str:
        lines = []
        for fam in self.families.values():
            if not fam.samples:
                continue
            lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
            lines.append(f"# TYPE {fam.name} {fam.kind}")
            for sample, labels, value in fam.samples:
                shown = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                lines.append(f"{sample}{{{shown}}} {_number(value)}" if shown else
                             f"{sample} {_number(value)}")  # fmt: skip
        return "\n".join(lines) + "\n"


def _figure(out: _Exposition, name: str, labels: Labels, figure: Figure) -> None:
    out.add(name, {**labels, "bound": "estimate"}, figure.value)
    out.add(name, {**labels, "bound": "low"}, figure.low)
    out.add(name, {**labels, "bound": "high"}, figure.high)


def _buckets(endpoint: EndpointResult) -> Sequence[tuple[float, int]]:
    """Cumulative ``(le_ms, count)`` pairs, once ``EndpointResult`` carries them."""
    return tuple(getattr(endpoint, "latency_buckets_ms", None) or ())


def _histogram(out: _Exposition, labels: Labels, e: EndpointResult) -> None:
    name = "swarm_request_duration_milliseconds"
    seen = 0
    for le, count in sorted(_buckets(e)):
        seen = max(seen, int(count))
        out.add(name, {**labels, "le": _number(float(le))}, seen, "_bucket")
    total = max(e.count, seen)
    out.add(name, {**labels, "le": "+Inf"}, total, "_bucket")
    mean = e.mean_ms.value
    out.add(name, labels, mean * e.count if mean is not None else 0, "_sum")
    out.add(name, labels, total, "_count")


def _endpoints(out: _Exposition, endpoints: Iterable[tuple[Labels, EndpointResult]]) -> None:
    for labels, e in endpoints:
        out.add("swarm_requests_total", labels, e.count)
        out.add("swarm_requests_failed_total", labels, e.failures)
        for kind, n in sorted(e.failures_by_kind.items()):
            out.add("swarm_request_failures_by_kind_total", {**labels, "kind": kind}, n)
        out.add("swarm_request_timeouts_total", labels, e.timeouts)
        _histogram(out, labels, e)
        for stat, figure in (("mean", e.mean_ms), ("p50", e.median_ms),
                             ("p95", e.p95_ms), ("p99", e.p99_ms)):  # fmt: skip
            _figure(out, "swarm_latency_milliseconds", {**labels, "stat": stat}, figure)
            out.add("swarm_latency_censored", {**labels, "stat": stat}, int(figure.censored))
        for stat, value in (("min", e.min_ms), ("p90", e.p90_ms), ("max", e.max_ms)):
            out.add("swarm_latency_milliseconds", {**labels, "stat": stat, "bound": "estimate"},
                    value)  # fmt: skip
        _figure(out, "swarm_throughput_rps", labels, e.throughput_rps)
        _figure(out, "swarm_error_ratio", labels, e.error_rate)
        out.add("swarm_quality_grade", labels, grade_rank(e.quality.grade))


def _declare(out: _Exposition) -> None:
    for name, kind, text in (
        ("swarm_run_info", "gauge", "The analysed run; labels name it. Always 1."),
        ("swarm_run_verdict", "gauge", "The run's verdict: 1 passed, 0 failed, -1 inconclusive."),
        ("swarm_meets_requirements", "gauge", "1 when every validation rule holds, else 0."),
        ("swarm_window_seconds", "gauge", "Length of the analysed steady-state window."),
        ("swarm_window_users", "gauge", "Users during the analysed window."),
        ("swarm_requests_total", "counter", "Requests in the steady-state window."),
        ("swarm_requests_failed_total", "counter", "Failed requests in the steady-state window."),
        ("swarm_request_failures_by_kind_total", "counter", "Failed requests by kind."),
        ("swarm_request_timeouts_total", "counter", "Timed-out requests (steady state)."),
        ("swarm_request_duration_milliseconds", "histogram",
         "Response times in the steady-state window, in milliseconds."),
        ("swarm_latency_milliseconds", "gauge",
         "Response-time statistic (stat) with its confidence interval (bound), ms."),
        ("swarm_latency_censored", "gauge",
         "1 when the statistic falls among timed-out requests (true value is at least it)."),
        ("swarm_throughput_rps", "gauge", "Throughput in requests per second, with interval."),
        ("swarm_error_ratio", "gauge", "Fraction of requests that failed, with interval."),
        ("swarm_quality_grade", "gauge", "Data-quality grade: 0 pass, 1 warn, 2 fail."),
        ("swarm_budget_status", "gauge", "Budget verdict: 1 pass, 0 fail, -1 inconclusive."),
        ("swarm_budget_limit", "gauge", "The limit a budget was judged against (budget plus "
         "tolerance), in the metric's unit."),
        ("swarm_validation_passed", "gauge", "1 when the validation rule holds, else 0."),
        ("swarm_comparison_ratio", "gauge",
         "Candidate over baseline for a figure, with its confidence interval (bound)."),
        ("swarm_comparison_verdict", "gauge",
         "Comparison verdict: 1 improvement, 0 no detectable change, -1 regression."),
        ("swarm_step_throughput_rps", "gauge", "Throughput of each step of a stepped run."),
        ("swarm_step_latency_milliseconds", "gauge", "p95 of each step of a stepped run, ms."),
    ):  # fmt: skip
        out.family(name, kind, text)


def render_prometheus(results: Results) -> str:
    """The Prometheus text exposition of ``results``' final figures."""
    out = _Exposition()
    _declare(out)
    run = results.run
    info = {
        "analysis_id": results.analysis_id,
        "run_id": run.get("run_id") or "",
        "scenario": run.get("scenario") or "",
        "verdict": results.verdict,
        "compared_to": results.compared_to or "",
    }
    out.add("swarm_run_info", info, 1)
    out.add("swarm_run_verdict", {}, _VERDICTS[results.verdict])
    out.add("swarm_meets_requirements", {}, int(results.meets_requirements))
    window = results.baseline
    out.add("swarm_window_seconds", {}, window.duration_s)
    out.add("swarm_window_users", {}, window.users)
    overall = ({"method": "", "name": AGGREGATED}, window.overall)
    _endpoints(out, [overall, *(({"method": e.method, "name": e.name}, e)
                                for e in window.endpoints)])  # fmt: skip
    for b in results.budgets:
        labels = {"scope": b.scope, "metric": b.metric}
        out.add("swarm_budget_status", labels, _BUDGETS[b.verdict])
        out.add("swarm_budget_limit", labels, b.limit)
    for v in results.validation:
        out.add("swarm_validation_passed", {"rule": v.rule}, int(v.passed))
    for c in results.comparison:
        labels = {"scope": c.scope, "metric": c.metric}
        _figure(out, "swarm_comparison_ratio", labels, Figure(c.ratio, c.low, c.high))
        out.add("swarm_comparison_verdict", labels, _CHANGES[c.verdict])
    for step in results.steps:
        labels = {"step": step.name, "users": "" if step.users is None else step.users}
        _figure(out, "swarm_step_throughput_rps", labels, step.overall.throughput_rps)
        _figure(out, "swarm_step_latency_milliseconds", {**labels, "stat": "p95"},
                step.overall.p95_ms)  # fmt: skip
    return out.text()
