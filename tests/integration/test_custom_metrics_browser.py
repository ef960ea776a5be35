"""report.html with custom metrics in headless Chromium: no console error, no request, the
section and its three charts drawn with their pointer read-outs."""

from __future__ import annotations

import re

import pytest

from framework.reports.html import render_html
from tests.fixtures.results import metric_builders as mb
from tests.integration.test_report_browser import visit

pytestmark = pytest.mark.integration


def test_custom_metrics_section_renders_in_a_browser(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(mb.results_with_metrics()), encoding="utf-8")
    seen = visit(page, tmp_path)
    assert seen.console == [], seen.console
    assert seen.requests == [], seen.requests
    assert 'data-ready="true"' in seen.dom
    section = seen.dom.split('id="custom-metrics"', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r'<svg[^>]*class="chart line-chart"', section)) == 3
    assert section.count('class="cursor"') == 3, "pointer read-outs were not attached"
    assert len(re.findall(r'<path class="series" d="M[\d.]+ [\d.]+[LH]', section)) == 3
    assert "&lt;img src=x onerror=alert(2)&gt;" in section
    assert "<img" not in section
    assert 'id="metric-comparison-table"' in seen.dom
