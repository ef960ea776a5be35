"""``compare.html`` and ``compare.md``: one baseline run against one or more candidates.

``swarm report --compare BASE CAND [CAND …]`` analyses every run once from its timeline,
compares each candidate with the baseline on every shared request name and metric (the
ratio candidate ÷ baseline with its interval, false alarms controlled across all of one
candidate's rows, exactly as ``swarm compare`` does), and renders the lot as one
self-contained HTML page and a Markdown file for pull requests. The page reuses the
single-run report's stylesheet, script, figure cells and charts, and like it is autoescaped
and loads nothing: a request named ``<script>`` comes out as text.

Example::

    runs = [load_run(Path("reports") / r) for r in ("base", "cand")]
    comparison = build_comparison(runs, ReportOptions(), created_at="2026-01-02T10:00:00Z")
    html, md = write_comparison(comparison, runs[-1].path / "compare.html")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from framework.errors import UsageError
from framework.reports.chart_categories import Interval, IntervalSeries, interval_chart
from framework.reports.chart_comparison import ComparedLine, forest_plot, ratio_marker
from framework.reports.formatting import (
    COMPARED_UNITS,
    VERDICT_ORDER,
    format_figure,
    format_percent,
    format_ratio,
    format_value,
    metric_unit,
)
from framework.reports.html_templates import render_page
from framework.reports.markdown import ICONS, MAX_BYTES, escape_markdown, markdown_table
from framework.run.folder import RunRecord
from framework.timeline.endpoints import OVERALL
from framework.verdicts.builder import ReportOptions, RunData, build_results
from framework.verdicts.metric_comparison import budget_directions, compare_metrics
from framework.verdicts.results import ComparisonRow, MetricComparisonRow, Results
from framework.verdicts.rules import compare_windows

__all__ = [
    "ComparedRun",
    "Comparison",
    "build_comparison",
    "render_compare_html",
    "render_compare_markdown",
    "summarise_comparison",
    "write_comparison",
]


@dataclass(frozen=True)
class ComparedRun:
    """One run of a comparison: its own analysed results and, for a candidate, its rows
    against the baseline (none for the baseline itself). ``role`` names it in tables and
    charts ("baseline", "candidate 1", …), which stay unique when a run is given twice."""

    role: str
    run_id: str
    results: Results
    rows: tuple[ComparisonRow, ...] = ()
    path: Path | None = None

    @property
    def git_revision(self) -> str | None:
        return RunRecord.from_record(self.results.run).git_revision

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict)


@dataclass(frozen=True)
class Comparison:
    """A baseline and its candidates, with the settings every row was judged with."""

    baseline: ComparedRun
    candidates: tuple[ComparedRun, ...]
    confidence: float
    min_effect: float
    correction: str
    created_at: str
    min_effect_ms: float = 1.0

    @property
    def runs(self) -> tuple[ComparedRun, ...]:
        return (self.baseline, *self.candidates)

    @property
    def regressions(self) -> list[tuple[ComparedRun, ComparisonRow]]:
        return [(c, r) for c in self.candidates for r in c.rows if r.verdict == "regression"]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    @property
    def scenario(self) -> str:
        names = dict.fromkeys(
            RunRecord.from_record(r.results.run).scenario or "?" for r in self.runs
        )
        return ", ".join(names)


def build_comparison(
    runs: Sequence[RunData], options: ReportOptions, *, created_at: str
) -> Comparison:
    """Analyse each run once and compare every later run with the first.

    The rows are ``compare_windows`` on each run's steady-state estimates, which is what
    ``comparison.compare_runs`` computes, without analysing the baseline again for every
    candidate (the bootstrap takes seconds per run), then the custom metrics both runs
    recorded (``metric_comparison.compare_metrics``, keyed by metric and figure).
    """
    if len(runs) < 2:
        raise UsageError(
            f"--compare needs a baseline and at least one candidate run, got {len(runs)}",
            flag="--compare",
        )
    analysed = [build_results(data, options, created_at=created_at) for data in runs]
    base_results, base = analysed[0]

    def run_id(data: RunData) -> str:
        return data.record.run_id or data.path.name

    candidates = []
    for i, (data, (results, estimates)) in enumerate(zip(runs[1:], analysed[1:], strict=True)):
        rows = compare_windows(
            base.estimates,
            estimates.estimates,
            min_effect=options.min_effect,
            min_effect_ms=options.min_effect_ms,
            confidence=options.analysis.confidence,
            correction=options.correction,
        )
        rows += compare_metrics(
            base_results.metrics,
            results.metrics,
            min_effect=options.min_effect,
            confidence=options.analysis.confidence,
            correction=options.correction,
            directions=budget_directions(options.budgets.metrics if options.budgets else None),
        )
        candidates.append(
            ComparedRun(f"candidate {i + 1}", run_id(data), results, tuple(rows), data.path)
        )
    return Comparison(
        baseline=ComparedRun("baseline", run_id(runs[0]), base_results, (), runs[0].path),
        candidates=tuple(candidates),
        confidence=options.analysis.confidence,
        min_effect=options.min_effect,
        correction=options.correction,
        created_at=created_at,
        min_effect_ms=options.min_effect_ms,
    )


def _lines(comparison: Comparison) -> list[ComparedLine]:
    keys: dict[tuple[str, str], None] = {}
    found: dict[tuple[str, str, int], ComparisonRow] = {}
    for k, candidate in enumerate(comparison.candidates):
        for row in candidate.rows:
            keys.setdefault((row.scope, row.metric))
            found[(row.scope, row.metric, k)] = row
    lines = []
    for scope, metric in keys:
        cells = tuple(found.get((scope, metric, k)) for k in range(len(comparison.candidates)))
        base = next((c.baseline for c in cells if c is not None), None)
        lines.append(ComparedLine(scope, metric, base, cells))
    return lines


# -- HTML -----------------------------------------------------------------------------------

_FOREST_ROWS = 60
_REASONS = 8


def _unit(line: ComparedLine) -> str:
    """The unit of a line's values: a custom metric's own, else the key metric's."""
    row = next((c for c in line.cells if c is not None), None)
    if isinstance(row, MetricComparisonRow):
        return metric_unit(row.unit, row.metric)
    return COMPARED_UNITS.get(line.metric, "")


def _forest_lines(lines: list[ComparedLine]) -> tuple[list[ComparedLine], int]:
    """At most ``_FOREST_ROWS`` lines, keeping every overall line and every change first."""
    if len(lines) <= _FOREST_ROWS:
        return lines, 0

    def rank(i: int) -> tuple[bool, int, int]:
        return lines[i].scope != OVERALL, VERDICT_ORDER[lines[i].worst], i

    ranked = sorted(range(len(lines)), key=rank)
    keep = set(ranked[:_FOREST_ROWS])
    return [ln for i, ln in enumerate(lines) if i in keep], len(lines) - _FOREST_ROWS


def _overview_charts(comparison: Comparison) -> dict[str, Markup]:
    roles = [r.role for r in comparison.runs]

    def chart(attr: str, label: str, color: str) -> Markup:
        values = [getattr(r.results.baseline.overall, attr) for r in comparison.runs]
        series = IntervalSeries(label, [Interval(f.value, f.low, f.high) for f in values], color)
        svg = interval_chart(
            roles, [series], x_label="run", y_label=label, highlight="baseline",
            highlight_label="baseline", title=f"Overall {label} of each run", width=560,
            height=260,
        )  # fmt: skip
        return Markup(svg)

    return {
        "p95": chart("p95_ms", "p95 (ms)", "#f59e0b"),
        "throughput": chart("throughput_rps", "throughput (req/s)", "#2563eb"),
    }


def _view(comparison: Comparison) -> dict[str, Any]:
    lines = _lines(comparison)
    labels = [f"{c.role} ({c.run_id})" for c in comparison.candidates]
    shown, left = _forest_lines(lines)
    table = []
    for line in lines:
        unit = _unit(line)
        cells = []
        for cell in line.cells:
            marker = ""
            if cell is not None:
                marker = ratio_marker(cell.ratio, cell.low, cell.high,
                                      min_effect=comparison.min_effect,
                                      verdict=cell.verdict)  # fmt: skip
            cells.append({"c": cell, "marker": Markup(marker)})
        table.append({"line": line, "unit": unit, "cells": cells})
    regressions = comparison.regressions
    return {
        "cmp": comparison,
        "base": comparison.baseline,
        "reasons": regressions[:_REASONS],
        "reasons_left": max(len(regressions) - _REASONS, 0),
        "lines": table,
        "forest": Markup(forest_plot(shown, labels, min_effect=comparison.min_effect)),
        "forest_left": left,
        "overview": _overview_charts(comparison),
        "slug": lambda verdict: str(verdict).replace(" ", "-"),
        "percent": format_percent,
        "ratio": format_ratio,
    }


def render_compare_html(comparison: Comparison) -> str:
    """The comparison as one HTML page (no external resources, everything escaped)."""
    return render_page("compare.html.j2", _view(comparison))


# -- Markdown and terminal ------------------------------------------------------------------

_MD_ROWS = 40


def _md(comparison: Comparison, cap: int) -> str:
    c = comparison
    count = len(c.regressions)
    head = f"🔺 {count} regression{'s' if count != 1 else ''}" if count else "✅ no regression"
    out = [
        f"## swarm compare: {head} — {escape_markdown(c.scenario, 80)}",
        "",
        f"Baseline **{escape_markdown(c.baseline.run_id, 80)}** against "
        f"{len(c.candidates)} candidate run{'s' if len(c.candidates) != 1 else ''} · "
        f"{c.confidence:.0%} intervals · {escape_markdown(c.correction)}-adjusted · "
        f"a change under ±{c.min_effect:.0%} or {c.min_effect_ms:g} ms is no practical change",
        "",
        "### Runs",
        "",
    ]
    rows = []
    for run in c.runs:
        o = run.results.baseline.overall
        changes = "–" if run is c.baseline else (
            f"{run.count('regression')} 🔺 · {run.count('improvement')} 🟢 · "
            + (f"{run.count('changed')} 🔸 · " if run.count("changed") else "")
            + f"{run.count('no detectable change')} ➖"
        )  # fmt: skip
        cells = [
            run.role, escape_markdown(run.run_id, 80),
            escape_markdown(str(run.results.run.get("started_at") or "–")[:16].replace("T", " ")),
            escape_markdown((run.git_revision or "–")[:10]), run.results.verdict,
            format_figure(o.p95_ms), format_figure(o.throughput_rps, "req/s"),
            format_figure(o.error_rate, "%"), changes,
        ]  # fmt: skip
        rows.append(cells)
    out += markdown_table(
        ["Role", "Run", "Started", "Git", "Verdict", "p95", "Throughput", "Error rate",
         "vs baseline"],
        rows, "lllllrrrl",
    )  # fmt: skip
    lines = sorted(_lines(c), key=lambda ln: VERDICT_ORDER[ln.worst])
    shown = lines[:cap]
    out += ["", "### Changes (candidate ÷ baseline)", ""]
    header = ["Request or custom metric", "Metric", "Baseline"] + [
        f"{r.role} ({escape_markdown(r.run_id, 40)})" for r in c.candidates
    ]
    rows = []
    for line in shown:
        unit = _unit(line)
        cells = [escape_markdown(line.scope), escape_markdown(line.metric),
                 format_value(line.baseline, unit)]  # fmt: skip
        for cell in line.cells:
            cells.append("–" if cell is None else f"{format_ratio(cell)} {ICONS[cell.verdict]}")
        rows.append(cells)
    out += markdown_table(header, rows, "llr" + "r" * len(c.candidates))
    if len(lines) > cap:
        out += ["", f"_… and {len(lines) - cap} more rows: see compare.html._"]
    out += ["", f"<sub>swarm compare · {escape_markdown(c.created_at, 40)}</sub>"]
    return "\n".join(out) + "\n"


def render_compare_markdown(comparison: Comparison) -> str:
    """The comparison as GitHub Markdown: runs, then the changes, largest problems first,
    cut until it fits in ``MAX_BYTES``."""
    cap = _MD_ROWS
    text = _md(comparison, cap)
    while len(text.encode("utf-8")) > MAX_BYTES and cap > 3:
        cap //= 2
        text = _md(comparison, cap)
    return text


def summarise_comparison(comparison: Comparison) -> str:
    """What ``swarm report --compare`` prints: one line per candidate and each change."""
    c = comparison
    lines = [
        f"swarm report --compare: {'REGRESSED' if c.regressed else 'NO REGRESSION'} — "
        f"{c.scenario} (baseline {c.baseline.run_id}; {c.confidence:.0%} intervals, "
        f"{c.correction}, min effect {c.min_effect:.0%} and {c.min_effect_ms:g} ms)"
    ]
    for run in c.candidates:
        changed = [r for r in run.rows if r.verdict != "no detectable change"]
        lines.append(
            f"  {run.role} {run.run_id}: {run.count('regression')} regression(s), "
            f"{run.count('improvement')} improvement(s), "
            f"{run.count('no detectable change')} unchanged; run verdict {run.results.verdict}"
        )
        lines += [f"    {r.message}" for r in changed]
    return "\n".join(lines)


def write_comparison(comparison: Comparison, html_path: Path) -> tuple[Path, Path]:
    """Write ``html_path`` and the Markdown beside it (same name, ``.md``), each atomically."""
    html_path = Path(html_path)
    md_path = html_path.with_suffix(".md")
    if md_path == html_path:
        md_path = html_path.with_name(html_path.name + ".md")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((html_path, render_compare_html(comparison)),
                       (md_path, render_compare_markdown(comparison))):  # fmt: skip
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return html_path, md_path
