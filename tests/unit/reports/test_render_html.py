"""report.html: self-contained, escaped, every section filled, small for an hour-long run."""

from __future__ import annotations

import re

import pytest

from framework.reports.html import render_html
from tests.fixtures.results import result_builders as rb
from tests.html_page import parse

_EXTERNAL = re.compile(r"^\s*(https?:|//|ftp:)", re.IGNORECASE)


@pytest.fixture(scope="module")
def sample_html() -> str:
    return render_html(rb.sample_results())


def test_page_loads_nothing_from_anywhere(sample_html):
    page = parse(sample_html)
    assert all(link.startswith("#") for link in page.loads), page.loads
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", sample_html)
    assert "<link" not in sample_html and "<iframe" not in sample_html
    assert not [u for u in re.findall(r"https?://[^\s\"'<>]+", sample_html)
                if not u.startswith(("http://www.w3.org/", "http://127.0.0.1"))]  # fmt: skip


def test_request_names_from_the_scenario_are_escaped_everywhere(sample_html):
    assert rb.HOSTILE not in sample_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sample_html
    assert sample_html.count("<script>") == 1  # the report's own, at the end
    page = parse(sample_html)
    assert f"GET {rb.HOSTILE}" in page.plain
    assert f"worker-{rb.HOSTILE}" in page.plain


def test_every_section_is_there(sample_html):
    page = parse(sample_html)
    assert {
        "summary", "charts", "requests", "budgets", "comparison", "errors", "quality",
        "validation", "recommendations", "run",
    } <= page.ids  # fmt: skip
    assert "steps" not in page.ids
    stepped = parse(render_html(rb.stepped_results()))
    assert "steps" in stepped.ids and "comparison" not in stepped.ids


def test_summary_banner_shows_verdict_and_reasons(sample_html):
    assert 'class="banner verdict-failed"' in sample_html
    plain = parse(sample_html).plain
    assert "FAILED" in plain
    assert "/detect p95_ms: 140 [134.4, 145.6] vs budget 100 (limit ≤ 110): fail" in plain
    assert "verdict-passed" in render_html(rb.passing_results())


def test_figures_are_shown_with_interval_and_censored_with_ge(sample_html):
    plain = parse(sample_html).plain
    assert "140.0 ms [134.4, 145.6]" in plain
    assert "≥ 1,440 ms" in plain
    assert "30.0 req/s [29.1, 30.9]" in plain


def test_charts_are_inline_svg_with_axes_and_legends(sample_html):
    page = parse(sample_html)
    assert page.tags.get("svg", 0) >= 4  # load, latency, errors, errors by kind
    assert len(page.svg_paths) >= 7
    for label in ("requests per second", "users", "response time (ms)", "time since start"):
        assert f">{label}" in sample_html
    for legend in ("throughput (req/s)", "p50", "p95", "p99", "steady-state p95 95% CI"):
        assert f">{legend}<" in sample_html


def test_p95_band_spans_the_steady_state_interval():
    html = render_html(rb.sample_results())
    band = re.search(r'<rect class="band"[^>]*><title>steady-state p95 95% CI</title>', html)
    assert band, "p95 confidence band missing"


def test_steps_show_the_knee():
    page = parse(render_html(rb.stepped_results()))
    assert "Knee: step 3 (30 users) is the highest step meeting every budget" in page.plain
    assert "knee" in page.plain


def test_run_details_list_phases_plan_and_workers(sample_html):
    plain = parse(sample_html).plain
    for expected in ("running", "ramp-up", "plateau", "worker-1", "missing", "recovered",
                     "2.47.0", "payments"):  # fmt: skip
        assert expected in plain


def test_an_hour_long_run_stays_small_and_charts_are_downsampled():
    html = render_html(rb.hour_results(n_endpoints=50))
    assert len(html.encode()) < 2_000_000
    for d in parse(html).svg_paths:
        assert d.count("L") + d.count("H") + d.count("M") <= 1000 * 2


def test_empty_run_renders_without_charts():
    page = parse(render_html(rb.empty_results()))
    assert "The timeline has no seconds to chart." in page.plain
    assert "target unreachable" in page.plain
