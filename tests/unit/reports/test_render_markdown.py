"""report.md: the tables a pull-request reader needs, escaped, and small enough to post."""

from __future__ import annotations

import dataclasses
import re

import pytest

from framework.reports.formatting import format_figure, format_value
from framework.reports.markdown import (
    MAX_BYTES,
    append_step_summary,
    escape_markdown,
    render_markdown,
)
from framework.verdicts.results import Figure
from tests.fixtures.results import result_builders as rb

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every GFM table under its ``###`` heading, as rows of header → cell."""
    found: dict[str, list[dict[str, str]]] = {}
    heading, block = "", []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in _CELL_SPLIT.split(line.strip())[1:-1]])
            continue
        if block:
            header, marks, *rows = block
            assert all(re.fullmatch(r":?-{3,}:?", m) for m in marks), marks
            assert all(len(r) == len(header) for r in rows), (heading, rows)
            found[heading] = [dict(zip(header, r, strict=True)) for r in rows]
            block = []
        if line.startswith("### "):
            heading = line[4:]
    return found


def test_figures_are_shown_with_their_interval():
    assert format_figure(Figure(12.34, 11.8, 12.9)) == "12.3 ms [11.8, 12.9]"
    assert format_figure(Figure(1234.5, 1200, 1300)) == "1,234 ms [1,200, 1,300]"
    assert format_figure(Figure(0.0125, 0.01, 0.015), "%") == "1.25% [1.00, 1.50]"
    assert format_figure(Figure(10000.0, 9000, 11000, censored=True)) == "≥ 10,000 ms"
    assert format_figure(Figure(5.0)) == "5.0 ms (no CI)"
    assert format_figure(Figure(None)) == "–"
    assert format_value(300, compact=True) == "300 ms"


def test_summary_states_the_verdict_and_every_reason():
    text = render_markdown(rb.sample_results())
    assert text.startswith("## ❌ swarm: FAILED — checkout")
    why = text.split("**Why:**", 1)[1].split("###", 1)[0]
    assert why.count("\n- ") == 3
    assert "/detect p95\\_ms: 140 \\[134.4, 145.6\\]" in why


def test_request_table_has_every_request_with_intervals_and_budget_status():
    found = tables(render_markdown(rb.sample_results()))
    rows = {r["Request"]: r for r in found["Requests"]}
    assert set(rows) == {
        "**All requests**",
        "POST /detect",
        "GET &lt;script&gt;alert(1)&lt;/script&gt;",
        escape_markdown(f"PUT {rb.QUOTED}"),
    }
    detect = rows["POST /detect"]
    assert detect["p95"] == "140.0 ms [134.4, 145.6]"
    assert detect["Requests"] == "3,000"
    assert "❌ p95\\_ms" in detect["Budgets"]
    assert rows[escape_markdown(f"PUT {rb.QUOTED}")]["p99"] == "≥ 1,440 ms"


def test_budget_comparison_and_step_tables_are_there():
    found = tables(render_markdown(rb.sample_results()))
    verdicts = [r["Verdict"] for r in found["Budgets"]]
    assert verdicts[0] == "❌ fail"  # failures first
    assert len(verdicts) == 6
    compared = found["Compared with 20270101T100000Z-checkout"]
    assert compared[0]["Verdict"] == "🔺 regression"
    assert compared[0]["Ratio [CI]"] == "1.250 [1.188, 1.312]"
    steps = tables(render_markdown(rb.stepped_results()))["Steps"]
    assert [r["Step"] for r in steps] == ["step 1", "step 2", "step 3 ⬅ knee", "step 4"]


def test_validation_and_recommendations_are_listed():
    text = render_markdown(rb.sample_results())
    validation = text.split("### Validation", 1)[1].split("###", 1)[0]
    assert validation.count("- ✅") == 3 and validation.count("- ❌") == 1
    assert "### Recommendations" in text


def test_names_from_the_scenario_cannot_inject_markup_or_mentions():
    text = render_markdown(rb.sample_results())
    assert rb.HOSTILE not in text
    assert "<script" not in text
    assert "@team" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert escape_markdown("a|b\nc") == "a\\|b c"


def test_long_runs_are_cut_to_fit_a_pull_request_comment():
    results = rb.sample_results(n_endpoints=3000)
    many = tuple(
        dataclasses.replace(results.comparison[0], scope=f"GET /item/{i}") for i in range(3000)
    )
    text = render_markdown(dataclasses.replace(results, comparison=many))
    assert len(text.encode()) < MAX_BYTES
    assert "more requests: see report.html" in text
    assert "more comparisons" in text


def test_empty_run_renders():
    text = render_markdown(rb.empty_results())
    assert "FAILED" in text and "target unreachable" in text


def test_step_summary_is_appended_when_github_sets_it(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    written = append_step_summary(rb.passing_results(), {"GITHUB_STEP_SUMMARY": str(summary)})
    assert written == summary
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## ✅ swarm: PASSED")


@pytest.mark.parametrize("environ", [{}, {"GITHUB_STEP_SUMMARY": ""}])
def test_step_summary_is_skipped_outside_github_actions(environ):
    assert append_step_summary(rb.passing_results(), environ) is None
