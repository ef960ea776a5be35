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

import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from framework import charts
from framework.errors import UsageError
from framework.render_html import _asset, _environment
from framework.render_markdown import (
    COMPARED_UNITS,
    MAX_BYTES,
    escape_markdown,
    format_figure,
    format_value,
)
from framework.report import ReportOptions, RunData, build_results
from framework.results import ComparisonRow, Results
from framework.verdicts import compare_windows

__all__ = [
    "ComparedRun",
    "Comparison",
    "build_comparison",
    "forest_plot",
    "render_compare_html",
    "render_compare_markdown",
    "summarise_comparison",
    "write_comparison",
]

VERDICT_COLORS = {
    "regression": "#dc2626",
    "improvement": "#16a34a",
    "no detectable change": "#64748b",
}
_ORDER = {"regression": 0, "improvement": 1, "no detectable change": 2}
_ICON = {"regression": "🔺", "improvement": "🟢", "no detectable change": "➖"}
_RATIO_TICKS = (0.05, 0.1, 0.2, 0.25, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0,
                1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0,
                10.0, 20.0)  # fmt: skip
_SHAPES = ("circle", "square", "diamond", "triangle")


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
        run = self.results.run
        git = run.get("git") if isinstance(run.get("git"), Mapping) else {}
        return run.get("git_revision") or git.get("revision") or git.get("commit")

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
        names = dict.fromkeys(str(r.results.run.get("scenario") or "?") for r in self.runs)
        return ", ".join(names)


@dataclass(frozen=True)
class _Line:
    """One request name and metric across the candidates (``None`` where one lacks it)."""

    scope: str
    metric: str
    baseline: float | None
    cells: tuple[ComparisonRow | None, ...]

    @property
    def worst(self) -> str:
        found = [c.verdict for c in self.cells if c is not None]
        return min(found, key=_ORDER.__getitem__, default="no detectable change")


def build_comparison(
    runs: Sequence[RunData], options: ReportOptions, *, created_at: str
) -> Comparison:
    """Analyse each run once and compare every later run with the first.

    The rows are ``compare_windows`` on each run's steady-state estimates, which is what
    ``comparison.compare_runs`` computes, without analysing the baseline again for every
    candidate (the bootstrap takes seconds per run).
    """
    if len(runs) < 2:
        raise UsageError(
            f"--compare needs a baseline and at least one candidate run, got {len(runs)}"
        )
    analysed = [build_results(data, options, created_at=created_at) for data in runs]
    base_results, base = analysed[0]

    def run_id(data: RunData) -> str:
        return str(data.run.get("run_id") or data.path.name)

    candidates = []
    for i, (data, (results, estimates)) in enumerate(zip(runs[1:], analysed[1:], strict=True)):
        rows = compare_windows(
            base.estimates,
            estimates.estimates,
            min_effect=options.min_effect,
            confidence=options.analysis.confidence,
            correction=options.correction,
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
    )


def _lines(comparison: Comparison) -> list[_Line]:
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
        lines.append(_Line(scope, metric, base, cells))
    return lines


# -- the forest plot ------------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _marker(kind: int, cx: float, cy: float, color: str, tip: str, r: float = 4.5) -> str:
    """A filled marker of shape ``kind`` (one per candidate) with a hover title."""
    shape = _SHAPES[kind % len(_SHAPES)]
    title = f"<title>{_esc(tip)}</title>"
    fill = f'fill="{_esc(color)}"'
    if shape == "circle":
        return f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{r}" {fill}>{title}</circle>'
    if shape == "square":
        s = r * 0.9
        return (f'<rect x="{_f(cx - s)}" y="{_f(cy - s)}" width="{_f(2 * s)}" '
                f'height="{_f(2 * s)}" {fill}>{title}</rect>')  # fmt: skip
    if shape == "diamond":
        pts = [(cx, cy - r - 1), (cx + r + 1, cy), (cx, cy + r + 1), (cx - r - 1, cy)]
    else:
        pts = [(cx, cy - r - 1), (cx + r + 1, cy + r), (cx - r - 1, cy + r)]
    points = " ".join(f"{_f(x)},{_f(y)}" for x, y in pts)
    return f'<polygon points="{points}" {fill}>{title}</polygon>'


def _ratio_ticks(lo: float, hi: float, x: Any) -> list[float]:
    """Ratio ticks in ``[lo, hi]``, at least 44 px apart, always including 1."""
    inside = [t for t in _RATIO_TICKS if lo <= t <= hi]
    kept = [1.0]
    for side in (t for t in inside if t > 1), (t for t in reversed(inside) if t < 1):
        last = x(1.0)
        for tick in side:
            if abs(x(tick) - last) >= 44:
                kept.append(tick)
                last = x(tick)
    return sorted(kept)


def forest_plot(
    lines: Sequence[_Line],
    labels: Sequence[str],
    *,
    min_effect: float,
    title: str = "Candidate ÷ baseline per request and metric",
    width: int = 960,
) -> str:
    """Every line's ratio with its interval, one marker shape per candidate, coloured by
    verdict, on a log scale around 1 with the ±``min_effect`` band of "no practical change".

    ``labels`` names the candidates (in the order of each line's cells).
    """
    count = max(len(labels), 1)
    left, right, top, bottom = 250, 24, 40, 46
    row_h = 8 + 10 * count
    height = top + row_h * max(len(lines), 1) + bottom
    values = [v for ln in lines for c in ln.cells if c is not None
              for v in (c.ratio, c.low, c.high) if v is not None and v > 0]  # fmt: skip
    values += [1 - 2 * min_effect, 1 + 2 * min_effect]
    a = math.log(min(max(min(values), 0.05), 0.98))
    b = math.log(max(min(max(values), 20.0), 1.02))
    pad = (b - a) * 0.05
    a, b = a - pad, b + pad
    plot_w = width - left - right

    def x(value: float) -> float:
        clamped = min(max(value, math.exp(a)), math.exp(b))
        return left + (math.log(clamped) - a) / (b - a) * plot_w

    bottom_y = top + row_h * max(len(lines), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart forest-plot" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">'
        f"<title>{_esc(title)}</title>"
    ]
    scope, shade = None, True
    for i, line in enumerate(lines):
        y0 = top + i * row_h
        if line.scope != scope:
            scope, shade = line.scope, not shade
        if shade:
            parts.append(f'<rect x="0" y="{_f(y0)}" width="{width}" height="{row_h}" '
                         f'fill="#f8fafc"/>')  # fmt: skip
    band_x0, band_x1 = x(1 - min_effect), x(1 + min_effect)
    parts.append(
        f'<rect class="band" x="{_f(band_x0)}" y="{top}" width="{_f(band_x1 - band_x0)}" '
        f'height="{_f(bottom_y - top)}" fill="#cbd5e1" fill-opacity="0.45">'
        f"<title>±{min_effect:.0%}: no practical change</title></rect>"
    )
    for tick in _ratio_ticks(math.exp(a), math.exp(b), x):
        px = x(tick)
        style = 'stroke="#64748b"' if tick == 1 else 'class="grid"'
        parts.append(
            f'<line x1="{_f(px)}" x2="{_f(px)}" y1="{top}" y2="{_f(bottom_y)}" {style}/>'
            f'<text x="{_f(px)}" y="{_f(bottom_y + 16)}" text-anchor="middle" class="tick">'
            f"{tick:g}×</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{_f(bottom_y)}" y2="{_f(bottom_y)}" '
        f'class="axis"/><text x="{_f(left + plot_w / 2)}" y="{height - 6}" '
        f'text-anchor="middle" class="axis-label">candidate ÷ baseline (log scale; '
        f"1× = no change)</text>"
    )
    for i, line in enumerate(lines):
        y0 = top + i * row_h
        label = f"{line.scope} · {line.metric}"
        shown = label if len(label) <= 36 else label[:35] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{_f(y0 + row_h / 2 + 4)}" text-anchor="end" '
            f'class="tick">{_esc(shown)}<title>{_esc(label)}</title></text>'
        )
        for k, cell in enumerate(line.cells):
            cy = y0 + 4 + 10 * k + 5
            if cell is None or cell.ratio is None:
                reason = "not measured" if cell is None else "no ratio"
                parts.append(f'<text x="{_f(x(1) + 6)}" y="{_f(cy + 3)}" class="tick" '
                             f'style="font-size:9px">{_esc(reason)}</text>')  # fmt: skip
                continue
            color = VERDICT_COLORS.get(cell.verdict, "#64748b")
            interval = ""
            if cell.low is not None and cell.high is not None:
                interval = f" [{cell.low:.3f}, {cell.high:.3f}]"
                parts.append(
                    f'<path class="whisker" d="M{_f(x(cell.low))} {_f(cy)}H{_f(x(cell.high))}'
                    f'M{_f(x(cell.low))} {_f(cy - 3)}v6M{_f(x(cell.high))} {_f(cy - 3)}v6" '
                    f'stroke="{color}" stroke-width="1.6" fill="none"/>'
                )
            tip = (f"{labels[k] if k < len(labels) else k}: {label}: ratio "
                   f"{cell.ratio:.3f}{interval}, {cell.verdict}")  # fmt: skip
            parts.append(_marker(k, x(cell.ratio), cy, color, tip))
    parts.append(_forest_legend(labels, min_effect, left, width - right))
    parts.append("</svg>")
    return "".join(parts)


def _forest_legend(labels: Sequence[str], min_effect: float, x0: float, right: float) -> str:
    items = [(_marker(k, 0, 0, "#334155", label), label) for k, label in enumerate(labels)]
    for verdict, color in VERDICT_COLORS.items():
        swatch = f'<rect x="-5" y="-4" width="10" height="8" fill="{color}"/>'
        items.append((swatch, verdict))
    band = '<rect x="-7" y="-5" width="14" height="10" fill="#cbd5e1" fill-opacity="0.6"/>'
    items.append((band, f"±{min_effect:.0%} no practical change"))
    parts, cx, cy = [], x0, 16.0
    for swatch, text in items:
        shown = text if len(text) <= 40 else text[:39] + "…"
        size = 24 + 6.6 * len(shown)
        if cx + size > right and cx > x0:
            cx, cy = x0, cy + 16
        parts.append(
            f'<g transform="translate({_f(cx + 6)},{_f(cy - 4)})">{swatch}</g>'
            f'<text x="{_f(cx + 16)}" y="{_f(cy)}" class="legend">{_esc(shown)}</text>'
        )
        cx += size + 12
    return '<g class="chart-legend">' + "".join(parts) + "</g>"


# -- HTML -----------------------------------------------------------------------------------

_FOREST_ROWS = 60
_REASONS = 8


def _forest_lines(lines: list[_Line]) -> tuple[list[_Line], int]:
    """At most ``_FOREST_ROWS`` lines, keeping every overall line and every change first."""
    if len(lines) <= _FOREST_ROWS:
        return lines, 0
    ranked = sorted(range(len(lines)), key=lambda i: (lines[i].scope != "overall",
                                                      _ORDER[lines[i].worst], i))  # fmt: skip
    keep = set(ranked[:_FOREST_ROWS])
    return [ln for i, ln in enumerate(lines) if i in keep], len(lines) - _FOREST_ROWS


def _overview_charts(comparison: Comparison) -> dict[str, Markup]:
    roles = [r.role for r in comparison.runs]

    def chart(attr: str, label: str, color: str) -> Markup:
        values = [getattr(r.results.baseline.overall, attr) for r in comparison.runs]
        series = charts.IntervalSeries(
            label, [charts.Interval(f.value, f.low, f.high) for f in values], color
        )
        svg = charts.interval_chart(
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
        unit = COMPARED_UNITS.get(line.metric, "")
        cells = []
        for cell in line.cells:
            marker = ""
            if cell is not None:
                marker = charts.ratio_marker(cell.ratio, cell.low, cell.high,
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
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "slug": lambda verdict: str(verdict).replace(" ", "-"),
        "percent": lambda v: "–" if v is None or not math.isfinite(v) else f"{v:.0%}",
        "ratio": _ratio_text,
    }


def _ratio_text(row: ComparisonRow | None) -> str:
    if row is None or row.ratio is None:
        return "–"
    if row.low is None or row.high is None:
        return f"{row.ratio:.3f}"
    return f"{row.ratio:.3f} [{row.low:.3f}, {row.high:.3f}]"


def render_compare_html(comparison: Comparison) -> str:
    """The comparison as one HTML page (no external resources, everything escaped)."""
    template = _environment().get_template("compare.html.j2")
    return template.render(**_view(comparison))


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
        f"±{c.min_effect:.0%} is no practical change",
        "",
        "### Runs",
        "",
        "| Role | Run | Started | Git | Verdict | p95 | Throughput | Error rate | vs baseline |",
        "|:---|:---|:---|:---|:---|---:|---:|---:|:---|",
    ]
    for run in c.runs:
        o = run.results.baseline.overall
        changes = "–" if run is c.baseline else (
            f"{run.count('regression')} 🔺 · {run.count('improvement')} 🟢 · "
            f"{run.count('no detectable change')} ➖"
        )  # fmt: skip
        cells = [
            run.role, escape_markdown(run.run_id, 80),
            escape_markdown(str(run.results.run.get("started_at") or "–")[:16].replace("T", " ")),
            escape_markdown((run.git_revision or "–")[:10]), run.results.verdict,
            format_figure(o.p95_ms), format_figure(o.throughput_rps, "req/s"),
            format_figure(o.error_rate, "%"), changes,
        ]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    lines = sorted(_lines(c), key=lambda ln: _ORDER[ln.worst])
    shown = lines[:cap]
    out += ["", "### Changes (candidate ÷ baseline)", ""]
    header = ["Request", "Metric", "Baseline"] + [
        f"{r.role} ({escape_markdown(r.run_id, 40)})" for r in c.candidates
    ]
    out.append("| " + " | ".join(header) + " |")
    out.append("|:---|:---|---:|" + "---:|" * len(c.candidates))
    for line in shown:
        unit = COMPARED_UNITS.get(line.metric, "")
        cells = [escape_markdown(line.scope), escape_markdown(line.metric),
                 format_value(line.baseline, unit)]  # fmt: skip
        for cell in line.cells:
            cells.append("–" if cell is None else f"{_ratio_text(cell)} {_ICON[cell.verdict]}")
        out.append("| " + " | ".join(cells) + " |")
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
        f"{c.correction}, min effect {c.min_effect:.0%})"
    ]
    for run in c.candidates:
        changed = [r for r in run.rows if r.verdict != "no detectable change"]
        lines.append(
            f"  {run.role} {run.run_id}: {run.count('regression')} regression(s), "
            f"{run.count('improvement')} improvement(s), "
            f"{run.count('no detectable change')} unchanged; run verdict {run.results.verdict}"
        )
        lines += [f"    {r.verdict:<12} {r.message}" for r in changed]
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
