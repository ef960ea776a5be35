"""``report.md``: the run's verdict and key tables as GitHub-flavoured Markdown.

Made to be pasted into a pull-request comment or a job summary, so it stays well under
GitHub's limits (``MAX_BYTES``; long tables are cut, largest problems first) and everything
that came from the scenario — request names, messages — is escaped, so a name like
``<script>`` or ``@team`` shows as text and pings no one. Numbers and figures are
formatted by ``framework.reports.formatting``, as in every other format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from framework.reports.capacity import capacity_headline, capacity_rows, fit_lines
from framework.reports.faults import (
    FAULTS_NOTE,
    figure_text,
    in_force_text,
    recovery_text,
    sla_text,
)
from framework.reports.formatting import (
    COMPARED_UNITS,
    VERDICT_ORDER,
    format_figure,
    format_ratio,
    format_time,
    format_value,
    metric_unit,
)
from framework.reports.headline import headline
from framework.reports.metric_figures import (
    budget_verdict_unit,
    figures_text,
    is_lower_limit,
)
from framework.reports.open_model import (
    OPEN_MODEL_NOTE,
    latency_pairs,
    missed_notes,
    missed_text,
    name_rows,
    phase_load,
    planned_text,
    run_start,
)
from framework.timeline.endpoints import OVERALL, selects
from framework.verdicts.metric_budgets import is_metric_budget
from framework.verdicts.results import (
    BudgetVerdict,
    ComparisonRow,
    EndpointResult,
    MetricComparisonRow,
    MetricResult,
    Results,
)

__all__ = [
    "ICONS",
    "MAX_BYTES",
    "append_step_summary",
    "budgets_for",
    "escape_markdown",
    "markdown_table",
    "render_markdown",
]

MAX_BYTES = 60_000
ICONS = {
    "passed": "✅",
    "failed": "❌",
    "inconclusive": "⚠️",
    "pass": "✅",
    "fail": "❌",
    "warn": "⚠️",
    "regression": "🔺",
    "improvement": "🟢",
    "changed": "🔸",
    "no detectable change": "➖",
}
"""The emoji shown before a run verdict, a check grade, a budget or a comparison verdict."""

_CAPS = {
    "requests": 40, "budgets": 40, "comparison": 30, "steps": 20, "lines": 15, "messages": 40,
}  # fmt: skip


def budgets_for(endpoint: EndpointResult, results: Results) -> list[BudgetVerdict]:
    """The budget verdicts judged on this endpoint (``overall`` ones for ``Aggregated``);
    budgets on custom metrics are never an endpoint's, whatever their names."""
    requests = [b for b in results.budgets if not is_metric_budget(b)]
    if endpoint is results.baseline.overall:
        return [b for b in requests if b.scope == OVERALL]
    return [b for b in requests if selects(b.scope, endpoint.method, endpoint.name)]


def escape_markdown(text: object, limit: int = 300) -> str:
    """Text from the scenario or a message, safe inside a Markdown table cell.

    HTML is neutralised as entities, Markdown punctuation is backslash-escaped, ``@`` is
    an entity (no mentions), and the text is cut to ``limit`` characters on one line.
    """
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace("@", "&#64;")
    for char in "\\`*_[]|~":
        value = value.replace(char, "\\" + char)
    return value


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """The lines of a GFM table; ``align`` has one letter per column, ``l`` or ``r``.

    The cells are put in as they are: escape text from the scenario with ``escape_markdown``.
    """
    marks = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cut(rows: list, cap: int) -> tuple[list, int]:
    return rows[:cap], max(len(rows) - cap, 0)


def _more(left: int, what: str) -> list[str]:
    return ["", f"_… and {left} more {what}: see report.html or results.json._"] if left else []


def _when(text: str | None) -> str:
    return escape_markdown(format_time(text))


def _budget_cell(verdicts: Sequence[BudgetVerdict]) -> str:
    return " ".join(f"{ICONS[b.verdict]} {escape_markdown(b.metric)}" for b in verdicts) or "–"


def _request_rows(results: Results, cap: int) -> tuple[list[list[str]], int]:
    endpoints = sorted(results.baseline.endpoints, key=lambda e: -e.count)
    shown, left = _cut(endpoints, cap)
    rows = []
    for e in [results.baseline.overall, *shown]:
        label = "**All requests**" if e is results.baseline.overall else escape_markdown(e.key)
        rows.append(
            [
                label,
                f"{e.count:,}",
                f"{e.failures:,}",
                format_figure(e.error_rate, "%"),
                format_figure(e.mean_ms),
                format_figure(e.median_ms),
                format_figure(e.p95_ms),
                format_figure(e.p99_ms),
                format_figure(e.throughput_rps, "req/s"),
                f"{ICONS[e.quality.grade]} {e.quality.grade}",
                _budget_cell(budgets_for(e, results)),
            ]
        )
    return rows, left


def _budget_rows(
    budgets: Sequence[BudgetVerdict], cap: int, metrics: Sequence[MetricResult] = ()
) -> tuple[list[list[str]], int]:
    order = {"fail": 0, "inconclusive": 1, "pass": 2}
    shown, left = _cut(sorted(budgets, key=lambda b: order[b.verdict]), cap)
    rows = []
    for b in shown:
        unit = budget_verdict_unit(b, metrics)
        relation = "≥" if is_lower_limit(b) else "≤"
        scope = f"metric {b.scope}" if is_metric_budget(b) else b.scope
        rows.append(
            [
                escape_markdown(scope),
                escape_markdown(b.metric),
                format_figure(b.figure, unit),
                format_value(b.budget, unit, compact=True),
                f"{relation} {format_value(b.limit, unit, compact=True)}",
                f"{ICONS[b.verdict]} {b.verdict}",
            ]
        )
    return rows, left


def _custom_metrics(results: Results, cap: int) -> list[str]:
    """The custom metrics over the steady state: each metric as a whole, then its
    dimension sets, every figure with its interval (observed ones without)."""
    if not results.metrics:
        return []
    shown, left = _cut(list(results.metrics), cap)
    rows = [
        [
            escape_markdown(m.key) if m.dims else f"**{escape_markdown(m.key)}**",
            escape_markdown(m.kind),
            escape_markdown(m.unit, 40),
            f"{m.count:,}",
            figures_text(m, "<br>"),
            f"{m.missing:,}" if m.missing else "–",
        ]
        for m in shown
    ]
    out = ["", "### Custom metrics", ""]
    out += markdown_table(
        ["Metric", "Kind", "Unit", "Count", "Figures [CI]", "Missing"], rows, "lllrll"
    )
    out += _more(left, "custom metrics")
    out += [
        "",
        "_Over the steady state. A rate is per second; a gauge's mean is time-weighted (each "
        "value held until the next); max, min, last and total are observed, without interval; "
        "Missing counts values looked for and not found._",
    ]
    return out


def _comparison_rows(rows: Sequence[ComparisonRow], cap: int) -> tuple[list[list[str]], int]:
    shown, left = _cut(sorted(rows, key=lambda r: VERDICT_ORDER[r.verdict]), cap)
    out = []
    for r in shown:
        unit = (
            metric_unit(r.unit, r.metric)
            if isinstance(r, MetricComparisonRow)
            else COMPARED_UNITS.get(r.metric, "")
        )
        p = "–" if r.adjusted_p_value is None else f"{r.adjusted_p_value:.3g}"
        out.append(
            [
                escape_markdown(r.scope),
                escape_markdown(r.metric),
                format_value(r.baseline, unit),
                format_value(r.candidate, unit),
                format_ratio(r),
                p,
                f"{ICONS[r.verdict]} {r.verdict}",
            ]
        )
    return out, left


def _capacity(results: Results, cap: int) -> list[str]:
    """The capacity section: what was found, each step against the fitted curve, the fit."""
    found = results.capacity
    if found is None:
        return []
    out = ["", "### Capacity", ""]
    out += [f"- {escape_markdown(line, 500)}" for line in capacity_headline(found)]
    rows, left = _cut(capacity_rows(found), cap)
    load = {"users": "Users", "concurrency": "Concurrency (X·R)"}.get(found.load_unit, "Load")
    header = ["Step", load, "Throughput", "Fitted", "Budgets"]
    align = "lrrrl"
    if found.load_unit != "users":
        header.insert(1, "Arrivals/s")
        align = "lrrrrl"
    table = []
    for r in rows:
        mark = " ⬅ capacity" if r.passing else ""
        cells = [escape_markdown(r.step) + mark, r.load, r.throughput, r.fitted]
        cells.append(f"{ICONS[r.budgets]} {r.budgets}" if r.budgets else "–")
        if found.load_unit != "users":
            cells.insert(1, r.offered)
        table.append(cells)
    out += ["", *markdown_table(header, table, align)]
    out += _more(left, "steps")
    out += [""] + [f"- {escape_markdown(line, 500)}" for line in fit_lines(found)]
    if found.verdict is not None and results.budgets:
        out += [
            "",
            "<sub>A find_capacity run steps the load up until a budget fails, so its steady "
            "state fails them by design: the budgets above are reported, the run is judged "
            "on the capacity found.</sub>",
        ]
    return out


def _step_rows(results: Results, cap: int) -> tuple[list[list[str]], int]:
    shown, left = _cut(list(results.steps), cap)
    rows = []
    for s in shown:
        o = s.overall
        mark = " ⬅ knee" if s.name == results.knee else ""
        rows.append(
            [
                escape_markdown(s.name) + mark,
                "–" if s.users is None else str(s.users),
                f"{o.count:,}",
                format_figure(o.throughput_rps, "req/s"),
                format_figure(o.p95_ms),
                format_figure(o.error_rate, "%"),
                f"{ICONS[o.quality.grade]} {o.quality.grade}",
            ]
        )
    return rows, left


def _open_model(results: Results, cap: int) -> list[str]:
    """The "Open model" section: each name's two latencies side by side, then each load
    group's schedule lag and dropped arrivals (nothing for a closed-model run)."""
    found = results.open_model
    if found is None:
        return []
    out = ["", "### Open model", "", f"_{escape_markdown(OPEN_MODEL_NOTE, 500)}_"]
    rows, left = _cut(name_rows(found), cap)
    if rows:
        header = ["Request", "Service-timed"]
        for level in ("p50", "p95", "p99"):
            header += [f"Response {level}", f"Service {level}"]
        cells = []
        for label, row in rows:
            name = "**All requests**" if row is found.overall else escape_markdown(label)
            pairs = latency_pairs(row)
            figures = [format_figure(f) for p in pairs for f in (p.response, p.service)]
            cells.append([name, f"{row.service_count:,}", *figures])
        out += ["", *markdown_table(header, cells, "lrrrrrrr"), *_more(left, "requests")]
    if found.groups:
        cells = [
            [
                escape_markdown(g.group, 80),
                f"{g.due:,}",
                f"{g.started:,}",
                f"{g.dropped:,}",
                format_value(g.dropped_fraction, "%"),
                planned_text(g),
                missed_text(g),
                format_figure(g.lag_p50_ms),
                format_figure(g.lag_p99_ms),
                f"{g.in_flight_max:,}",
            ]
            for g in found.groups
        ]
        out += [
            "",
            "**Schedule kept by each load group** (lag = actual start − due; missed ="
            " planned but due on no load generator):",
            "",
        ]
        out += markdown_table(
            ["Load group", "Due", "Started", "Dropped", "Dropped share", "Planned", "Missed",
             "Lag p50", "Lag p99", "Max in flight"],
            cells, "lrrrrrrrrr",
        )  # fmt: skip
        notes = missed_notes(found, run_start(results))
        out += ["", *(f"- ⚠ {escape_markdown(note, 500)}" for note in notes)] if notes else []
    if found.cpu_percent_max is not None:
        out += ["", f"Busiest load generator's CPU: up to {found.cpu_percent_max:.0f} %."]
    return out


def _group_phases(results: Results, cap: int) -> list[str]:
    """Each load group's phases, over that group's request names (several groups only)."""
    if not results.group_phases:
        return []
    out = ["", "### Phases per load group"]
    for group in results.group_phases:
        requests = ", ".join(escape_markdown(k, 80) for k in group.requests[:10])
        more = f" and {len(group.requests) - 10} more" if len(group.requests) > 10 else ""
        out += [
            "",
            f"**{escape_markdown(group.name, 80)}** ({escape_markdown(group.model, 20)}; users "
            f"{escape_markdown(', '.join(group.users), 200)}; requests {requests}{more})",
            "",
        ]
        shown, left = _cut(list(group.phases), cap)
        rows = []
        for phase in shown:
            o = phase.window.overall
            rows.append(
                [
                    escape_markdown(phase.window.name),
                    escape_markdown(phase.kind, 20),
                    escape_markdown(phase_load(phase)),
                    f"{o.count:,}",
                    format_figure(o.throughput_rps, "req/s"),
                    format_figure(o.p95_ms),
                    format_figure(o.p99_ms),
                    format_figure(o.error_rate, "%"),
                    f"{ICONS[o.quality.grade]} {o.quality.grade}",
                ]
            )
        out += markdown_table(
            ["Phase", "Kind", "Load", "Requests", "Throughput", "p95", "p99", "Error rate",
             "Quality"],
            rows, "lllrrrrrl",
        )  # fmt: skip
        out += _more(left, "phases")
    return out


def _faults(results: Results, cap: int) -> list[str]:
    """The "Faults" section: each fault's figures during it, the baseline before it, its
    recovery and SLA verdict, then what each measurement says (nothing without faults)."""
    if not results.faults:
        return []
    origin = run_start(results)
    shown, left = _cut(list(results.faults), cap)
    rows = []
    for f in shown:
        during, before = f.during, f.before
        rows.append(
            [
                escape_markdown(f.name, 80),
                escape_markdown(f.kind, 20),
                escape_markdown(in_force_text(f, origin)),
                f"{during.requests:,}" if during else "–",
                figure_text(during and during.error_rate, "%"),
                figure_text(during and during.p95_ms),
                figure_text(during and during.throughput_rps, "req/s"),
                figure_text(before and before.error_rate, "%"),
                figure_text(before and before.p95_ms),
                recovery_text(f),
                sla_text(f),
                f"{ICONS[f.verdict]} {f.verdict}" if f.verdict else "–",
            ]
        )
    out = ["", "### Faults", ""]
    out += markdown_table(
        ["Fault", "Kind", "In force", "Requests", "Error rate", "p95", "Throughput",
         "Baseline error rate", "Baseline p95", "Recovery", "SLA", "Verdict"],
        rows, "lllrrrrrrrrl",
    )  # fmt: skip
    out += _more(left, "faults")
    out += [""] + [f"- **{escape_markdown(f.name, 80)}**: {escape_markdown(f.message, 500)}"
                   for f in shown]  # fmt: skip
    out += ["", f"_{escape_markdown(FAULTS_NOTE, 600)}_"]
    return out


def _failure_rows(results: Results, cap: int) -> tuple[list[list[str]], int]:
    """Per failing name: its failures' own latency, then each message with its count."""
    failing = sorted(
        (e for e in results.baseline.endpoints if e.failures), key=lambda e: (-e.failures, e.key)
    )
    rows = []
    for e in failing:
        fl = e.failure_latency
        latency = (
            "–"
            if fl is None
            else f"mean {format_value(fl.mean_ms)} · p50 {format_value(fl.p50_ms)} · "
            f"p95 {format_value(fl.p95_ms)} · max {format_value(fl.max_ms)}"
        )
        said = [(m.message, m.count) for m in e.failure_messages]
        if e.failure_messages_other:
            rest = "_other messages_" if said else "_messages not recorded_"
            said.append((rest, e.failure_messages_other))
        for i, (message, n) in enumerate(said or [("–", e.failures)]):
            first = i == 0
            rows.append(
                [
                    escape_markdown(e.key) if first else "",
                    f"{e.failures:,}" if first else "",
                    latency if first else "",
                    message if message.startswith("_") else escape_markdown(message, 200),
                    f"{n:,}",
                ]
            )
    return _cut(rows, cap)


def _bullets(items: Sequence[str], cap: int, what: str) -> list[str]:
    shown, left = _cut(list(items), cap)
    return [f"- {escape_markdown(item, 500)}" for item in shown] + _more(left, what)


def _headline(results: Results) -> list[str]:
    run: Mapping = results.run
    scenario = escape_markdown(run.get("scenario") or "scenario")
    window = results.baseline
    overall = window.overall
    users = f" at {window.users} users" if window.users is not None else ""
    head = headline(results)
    qualifier = f" — {escape_markdown(head.qualifier)}" if head.qualifier else ""
    lines = [
        f"## {ICONS[head.tone]} swarm: {head.word} — {scenario}{qualifier}",
        "",
        f"Run {escape_markdown(run.get('run_id') or '?', 80)} · "
        f"started {_when(run.get('started_at'))} · status {escape_markdown(run.get('status'))}"
        f" · {window.name} {window.duration_s:.0f} s{users} · "
        f"{results.settings.get('confidence', 0.95):.0%} intervals",
        "",
        f"**{overall.count:,}** requests · throughput "
        f"**{format_figure(overall.throughput_rps, 'req/s')}** · p95 "
        f"**{format_figure(overall.p95_ms)}** · errors **{format_figure(overall.error_rate, '%')}**"
        f" · data quality **{overall.quality.grade}** · meets requirements "
        f"**{'yes' if results.meets_requirements else 'no'}**",
    ]
    damaged = results.settings.get("damaged_records")
    if damaged:
        lines += [
            "",
            f"⚠️ **{damaged} damaged timeline line(s) skipped**: their requests are in no figure.",
        ]
    if results.reasons:
        lines += ["", "**Why:**", *_bullets(results.reasons, _CAPS["lines"], "reasons")]
    return lines


def _render(results: Results, scale: float) -> str:
    caps = {k: max(3, int(v * scale)) for k, v in _CAPS.items()}
    out = _headline(results)
    rows, left = _request_rows(results, caps["requests"])
    out += ["", "### Requests", ""]
    out += markdown_table(
        ["Request", "Requests", "Failures", "Error rate", "Mean", "p50", "p95", "p99",
         "Throughput", "Quality", "Budgets"],
        rows, "lrrrrrrrrll",
    )  # fmt: skip
    out += _more(left, "requests")
    out += [
        "",
        "_Latency figures are those of the successful requests; the failed requests' own "
        "latency is under Failures._",
    ]
    out += _open_model(results, caps["requests"])
    out += _custom_metrics(results, caps["requests"])
    out += _faults(results, caps["budgets"])
    rows, left = _failure_rows(results, caps["messages"])
    if rows:
        out += ["", "### Failures", ""]
        out += markdown_table(
            ["Request", "Failures", "Failed requests' latency", "Message", "Count"],
            rows, "lrllr",
        )  # fmt: skip
        out += _more(left, "failure messages")
    if results.budgets:
        rows, left = _budget_rows(results.budgets, caps["budgets"], results.metrics)
        out += ["", "### Budgets", ""]
        out += markdown_table(
            ["Scope", "Metric", "Figure [CI]", "Budget", "Limit", "Verdict"], rows, "llrrrl"
        )
        out += _more(left, "budgets")
    if results.comparison:
        rows, left = _comparison_rows(results.comparison, caps["comparison"])
        against = escape_markdown(results.compared_to or "the baseline", 80)
        out += ["", f"### Compared with {against}", ""]
        out += markdown_table(
            ["Scope", "Metric", "Baseline", "Candidate", "Ratio [CI]", "Adjusted p", "Verdict"],
            rows, "llrrrrl",
        )  # fmt: skip
        out += _more(left, "comparisons")
    if results.metric_comparison:
        rows, left = _comparison_rows(results.metric_comparison, caps["comparison"])
        out += ["", "#### Custom metrics compared", ""]
        out += markdown_table(
            ["Metric", "Figure", "Baseline", "Candidate", "Ratio [CI]", "Adjusted p", "Verdict"],
            rows, "llrrrrl",
        )  # fmt: skip
        out += [
            "",
            "_Higher is worse for histograms, timers and gauges; a counter's or "
            'meter\'s rate is only "changed" unless a budget says which way is worse._',
        ]
        out += _more(left, "metric comparisons")
    if results.steps:
        rows, left = _step_rows(results, caps["steps"])
        out += ["", "### Steps", ""]
        out += markdown_table(
            ["Step", "Users", "Requests", "Throughput", "p95", "Error rate", "Quality"],
            rows, "lrrrrrl",
        )  # fmt: skip
        out += _more(left, "steps")
        knee = escape_markdown(results.knee_reason or "no knee found")
        out += ["", f"**Knee:** {knee}"]
    out += _capacity(results, caps["steps"])
    out += _group_phases(results, caps["steps"])
    if results.validation:
        out += ["", "### Validation", ""]
        out += [
            f"- {ICONS['pass' if v.passed else 'fail']} **{escape_markdown(v.rule, 60)}**: "
            f"{escape_markdown(v.message, 500)}"
            for v in results.validation[: caps["lines"] * 2]
        ]
    events = [e for e in results.run.get("worker_events") or () if isinstance(e, Mapping)]
    if events:
        shown, left = _cut(events, caps["lines"])
        out += ["", "### Worker events", ""]
        out += markdown_table(
            ["When", "Worker", "Event"],
            (
                [
                    _when(e.get("at")),
                    escape_markdown(e.get("worker"), 80),
                    escape_markdown(e.get("event")),
                ]
                for e in shown
            ),
            "lll",
        )
        out += _more(left, "worker events")
    sinks = results.run.get("sinks")
    if isinstance(sinks, Mapping) and sinks:
        out += ["", "### Live sinks", ""]
        out += markdown_table(
            ["Sink", "Where", "Status", "Written", "Dropped", "Error"],
            (
                [
                    escape_markdown(name, 40),
                    escape_markdown(sink.get("url"), 120),
                    escape_markdown(sink.get("status"), 20),
                    escape_markdown(sink.get("written"), 20),
                    escape_markdown(sink.get("dropped"), 20),
                    escape_markdown(sink.get("error") or "", 300),
                ]
                for name, sink in sinks.items()
                if isinstance(sink, Mapping)
            ),
            "lllrrl",
        )
    if results.recommendations:
        out += ["", "### Recommendations", ""]
        out += _bullets(results.recommendations, caps["lines"], "recommendations")
    out += [
        "",
        f"<sub>swarm {escape_markdown(results.run.get('swarm_version') or '')} · analysis "
        f"{escape_markdown(results.analysis_id, 80)} · {_when(results.created_at)}</sub>",
    ]
    return "\n".join(out) + "\n"


def render_markdown(results: Results) -> str:
    """The Markdown report; tables are cut further until it fits in ``MAX_BYTES``."""
    scale = 1.0
    text = _render(results, scale)
    while len(text.encode("utf-8")) > MAX_BYTES and scale > 0.05:
        scale /= 2
        text = _render(results, scale)
    return text


def append_step_summary(results: Results, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append the Markdown report to ``$GITHUB_STEP_SUMMARY`` when it is set (in GitHub
    Actions); returns the file written, or ``None`` outside Actions."""
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as summary:
        summary.write(render_markdown(results) + "\n")
    return path
