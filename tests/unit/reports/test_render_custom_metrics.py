"""report.html's custom metrics: the section with each figure and its interval, the charts,
the comparison rows, and every dimension value escaped."""

from __future__ import annotations

import re

import pytest

from framework.reports.html import render_html
from tests.fixtures.results import metric_builders as mb
from tests.fixtures.results import result_builders as rb
from tests.html_page import parse


@pytest.fixture(scope="module")
def page_html() -> str:
    return render_html(mb.results_with_metrics())


def _section(html: str, ident: str) -> str:
    return html.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]


def test_custom_metrics_section_lists_each_key_with_kind_unit_count_and_missing(page_html):
    assert "custom-metrics" in parse(page_html).ids
    assert 'href="#custom-metrics"' in page_html
    section = parse(_section(page_html, "custom-metrics")).plain
    for key in ("detector.server_ms", "detector.server_ms{model=fast}",
                f"detector.server_ms{{model={mb.HOSTILE_DIM}}}", "detector.batch.items",
                "detector.queue.depth"):  # fmt: skip
        assert key in section, key
    rows = re.findall(r"<tr class=\"(total|dims)\">", _section(page_html, "custom-metrics"))
    assert rows.count("total") == 3 and rows.count("dims") == 2
    whole = _section(page_html, "custom-metrics").split('data-metric="detector.server_ms"')[1]
    whole = whole.split("</tr>", 1)[0]
    assert ">histogram<" in whole and ">ms<" in whole and ">900<" in whole and ">7<" in whole


def test_each_figure_is_shown_with_its_interval_in_its_unit(page_html):
    section = parse(_section(page_html, "custom-metrics")).plain
    assert "p95 40.0 ms [38.4, 41.6]" in section
    assert "rate 25.0 items/s [24.2, 25.8]" in section
    assert "mean 4.0 jobs [3.8, 4.2]" in section
    assert "last 4.0 jobs ·" not in section and "last 4.0 jobs" in section
    assert "total 2,750 items" in section and "no CI" not in section


def test_a_chart_per_metric_reads_its_series(page_html):
    section = _section(page_html, "custom-metrics")
    charts = re.findall(r'<svg[^>]*class="chart line-chart"', section)
    assert len(charts) == 3
    for title in ("detector.server_ms p95 per second", "detector.batch.items per second",
                  "detector.queue.depth last value"):  # fmt: skip
        assert f">{title}<" in section, title
    assert ">p95 (ms)<" in section and ">rate (items/s)<" in section


def test_dimension_values_are_escaped_everywhere(page_html):
    assert mb.HOSTILE_DIM not in page_html
    assert "&lt;img src=x onerror=alert(2)&gt;" in page_html
    assert page_html.count("<script>") == 1


def test_comparison_shows_metric_rows_with_their_verdicts(page_html):
    section = _section(page_html, "comparison")
    table = section.split('id="metric-comparison-table"', 1)[1]
    plain = parse(table).plain
    assert "detector.server_ms" in plain and "20.0 ms" in plain and "40.0 ms" in plain
    assert re.search(r"detector\.batch\.items.*?changed", plain, re.S)
    assert "regression" in plain and "no detectable change" in plain
    assert table.index("regression") < table.index("changed") < table.index("no detectable")
    assert "1 changed" in parse(page_html).plain


def test_a_run_without_custom_metrics_has_no_section():
    html = render_html(rb.sample_results())
    assert "custom-metrics" not in parse(html).ids
    assert "metric-comparison-table" not in html
