"""compare.html and compare.md on a hand-built comparison: no runs, no statistics."""

from __future__ import annotations

import dataclasses
import re

import pytest

from framework.errors import UsageError
from framework.reports.chart_comparison import forest_plot
from framework.reports.compare import (
    ComparedRun,
    Comparison,
    _lines,
    build_comparison,
    render_compare_html,
    render_compare_markdown,
    summarise_comparison,
    write_comparison,
)
from framework.reports.markdown import MAX_BYTES
from framework.verdicts.builder import ReportOptions
from framework.verdicts.results import ComparisonRow
from tests.fixtures.results import result_builders as rb
from tests.html_page import parse

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def row(scope: str, metric: str, ratio: float | None, verdict: str) -> ComparisonRow:
    return ComparisonRow(
        scope=scope, metric=metric, baseline=100.0,
        candidate=None if ratio is None else 100.0 * ratio, ratio=ratio,
        low=None if ratio is None else ratio * 0.95, high=None if ratio is None else ratio * 1.05,
        p_value=0.001, adjusted_p_value=0.004, verdict=verdict,  # type: ignore[arg-type]
        message=f"{scope} {metric}: candidate/baseline {ratio}: {verdict}",
    )  # fmt: skip


def run(role: str, run_id: str, rows=(), *, git: str | None = None, verdict: str = "passed"):
    results = rb.passing_results()
    record = {**results.run, "run_id": run_id, "git_revision": git}
    results = dataclasses.replace(results, run=record, verdict=verdict)
    return ComparedRun(role, run_id, results, tuple(rows))


def comparison(*candidates: ComparedRun) -> Comparison:
    return Comparison(
        baseline=run("baseline", "20270101T100000Z-checkout", git="0123456789abcdef"),
        candidates=candidates,
        confidence=0.95,
        min_effect=0.05,
        correction="holm",
        created_at="2027-01-15T10:05:00Z",
    )


@pytest.fixture(scope="module")
def regressed() -> Comparison:
    first = run("candidate 1", f"cand-{rb.HOSTILE}", [
        row("overall", "p95", 1.25, "regression"),
        row(f"GET {rb.HOSTILE}", "mean", 0.7, "improvement"),
        row("overall", "error_rate", None, "no detectable change"),
    ], git="fedcba9876543210", verdict="failed")  # fmt: skip
    second = run("candidate 2", "20270103T100000Z-checkout", [
        row("overall", "p95", 1.01, "no detectable change"),
    ])  # fmt: skip
    return comparison(first, second)


@pytest.fixture(scope="module")
def regressed_html(regressed) -> str:
    return render_compare_html(regressed)


def test_page_loads_nothing_from_anywhere(regressed_html):
    page = parse(regressed_html)
    assert all(link.startswith("#") for link in page.loads), page.loads
    assert "<link" not in regressed_html and "@import" not in regressed_html
    assert not [u for u in re.findall(r"https?://[^\s\"'<>]+", regressed_html)
                if not u.startswith(("http://www.w3.org/", "http://127.0.0.1"))]  # fmt: skip


def test_names_and_run_ids_are_escaped_everywhere(regressed_html):
    assert rb.HOSTILE not in regressed_html
    assert ESCAPED in regressed_html
    assert regressed_html.count("<script>") == 1  # the page's own, at the end
    plain = parse(regressed_html).plain
    assert f"GET {rb.HOSTILE}" in plain and f"cand-{rb.HOSTILE}" in plain


def test_every_section_is_there(regressed_html):
    assert {"summary", "runs", "overview", "changes", "forest"} <= parse(regressed_html).ids


def test_banner_says_regressed_and_names_each_regression(regressed_html):
    assert 'class="banner verdict-failed"' in regressed_html
    plain = parse(regressed_html).plain
    assert "REGRESSED" in plain
    assert "candidate 1 (cand-" in plain and "overall p95: candidate/baseline 1.25" in plain


def test_no_regression_makes_a_green_banner():
    calm = comparison(
        run("candidate 1", "c1", [row("overall", "p95", 0.99, "no detectable change")])
    )
    html = render_compare_html(calm)
    assert "verdict-passed" in html and "NO REGRESSION" in parse(html).plain
    assert not calm.regressed


def test_runs_table_shows_id_start_git_revision_and_verdict(regressed_html):
    plain = parse(regressed_html).plain
    for expected in ("baseline", "20270101T100000Z-checkout", "0123456789ab", "fedcba987654",
                     "2027-01-15 07:59:57 UTC", "failed", "passed"):  # fmt: skip
        assert expected in plain
    assert "80.0 ms [76.8, 83.2]" in plain  # each run's overall p95 with its interval


def test_change_cells_are_coloured_by_verdict_with_ratio_and_interval(regressed_html):
    page = parse(regressed_html)
    assert "cmp regression" in page.cells and "cmp improvement" in page.cells
    assert "cmp no-detectable-change" in page.cells
    assert "1.250 [1.188, 1.312]" in page.plain and "0.700 [0.665, 0.735]" in page.plain
    assert "not measured" in page.plain  # candidate 2 has no row for the hostile name
    assert regressed_html.count('class="ratio"') == 3  # a marker for each cell with a ratio


def test_forest_plot_draws_every_ratio_with_its_band():
    comparison_ = comparison(
        run("candidate 1", "c1", [row("overall", "p95", 1.25, "regression"),
                                  row("GET /a", "p95", 0.96, "no detectable change")]),
        run("candidate 2", "c2", [row("overall", "p95", 1.01, "no detectable change")]),
    )  # fmt: skip
    svg = forest_plot(_lines(comparison_), ["candidate 1 (c1)", "candidate 2 (c2)"],
                      min_effect=0.05)  # fmt: skip
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title>±5%: no practical change</title>" in svg
    assert ">1×</text>" in svg
    assert svg.count('class="whisker"') == 3
    assert "candidate 1 (c1): overall · p95: ratio 1.250 [1.188, 1.312], regression" in svg
    assert 'fill="#dc2626"' in svg  # the regression in red
    assert "<rect" in svg and "not measured" in svg  # candidate 2: squares; no GET /a row


def test_forest_plot_clamps_extreme_ratios():
    extreme = comparison(run("candidate 1", "c1", [row("overall", "p99", 400.0, "regression")]))
    svg = forest_plot(_lines(extreme), ["c1"], min_effect=0.05)
    numbers = [float(v) for v in re.findall(r'cx="([-\d.]+)"', svg)]
    assert numbers and all(0 <= v <= 960 for v in numbers)


def test_markdown_lists_runs_then_changes_with_regressions_first(regressed):
    text = render_compare_markdown(regressed)
    assert text.startswith("## swarm compare: 🔺 1 regression")
    assert rb.HOSTILE not in text and ESCAPED in text
    changes = text.split("### Changes")[1]
    assert changes.index("1.250 [1.188, 1.312] 🔺") < changes.index("🟢")
    assert "| baseline | 20270101T100000Z-checkout |" in text


def test_markdown_stays_under_the_size_limit_with_many_rows():
    rows = [row(f"GET /item/{i}-" + "x" * 200, m, 1.0, "no detectable change")
            for i in range(300) for m in ("mean", "p95")]  # fmt: skip
    text = render_compare_markdown(comparison(run("candidate 1", "c1", rows)))
    assert len(text.encode()) <= MAX_BYTES
    assert "more rows: see compare.html" in text


def test_summary_has_a_line_per_candidate_and_each_change(regressed):
    lines = summarise_comparison(regressed).splitlines()
    assert lines[0].startswith("swarm report --compare: REGRESSED")
    assert any(line.startswith("  candidate 1 cand-") and "1 regression(s)" in line
               for line in lines)  # fmt: skip
    # each change once: its message, which ends with the verdict, not the verdict twice
    changes = [line for line in lines if "overall p95" in line]
    assert len(changes) == 1 and changes[0].startswith("    overall p95"), changes
    assert changes[0].count("regression") == 1, changes
    assert "  candidate 2 20270103T100000Z-checkout: 0 regression(s)" in "\n".join(lines)


def test_write_puts_the_markdown_beside_the_html(tmp_path, regressed):
    html, md = write_comparison(regressed, tmp_path / "deep" / "cmp.html")
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert md == tmp_path / "deep" / "cmp.md" and md.read_text(encoding="utf-8").startswith("##")
    assert not list(tmp_path.glob("deep/*.tmp"))


def test_a_comparison_needs_at_least_two_runs():
    with pytest.raises(UsageError, match="at least one candidate"):
        build_comparison([object()], ReportOptions(), created_at="x")  # type: ignore[list-item]
