"""The scalability fragments of a suite report: the verdict, one row per worker count, the
flag, and a chart of measured against ideal-linear throughput; everything escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from markupsafe import Markup

from framework.reports.scalability import scaling_chart, scaling_html, scaling_markdown
from framework.verdicts.scalability import scaling_of
from tests.unit.verdicts.test_scalability import point

SVG = "{http://www.w3.org/2000/svg}"


def _scaling(run_id="run-1w"):
    return scaling_of(
        [
            point(1, 100.0, 97.0, 103.0, run_id=run_id),
            point(2, 194.0, 188.0, 200.0, cpu=60.0),
            point(4, 248.0, 240.0, 256.0, cpu=98.0),
        ]
    )


def test_markdown_gives_the_verdict_and_a_row_per_worker_count():
    text = scaling_markdown(_scaling())
    lines = text.splitlines()
    assert lines[0].startswith("⚠ **generator-limited:** scales linearly to 2 workers")
    rows = [line for line in lines if line.startswith("| ") and "Workers" not in line]
    assert rows[0].startswith("| 1 | run-1w | 100.0 [97.0, 103.0] | 100.0 [97.0, 103.0] |")
    assert "| reference | 40 % |" in rows[0]
    assert "| 0.97 [0.93, 1.01] | 60 % |" in rows[1]
    assert "| 62.0 [60.0, 64.0] | 0.62 [0.59, 0.65] | 98 % ⚠ limit |" in rows[2]


def test_markdown_escapes_a_run_id_and_has_no_table_without_points():
    assert "run&lt;b&gt;\\|x" in scaling_markdown(_scaling("run<b>|x"))
    assert scaling_markdown(scaling_of([])) == "no runs to compare\n"


def test_html_is_escaped_markup_with_a_link_flag_and_chart():
    html = scaling_html(_scaling("<script>x</script>"), links={"run-2w": "../run-2w/report.html"})
    assert isinstance(html, Markup)
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert '<a href="../run-2w/report.html">run-2w</a>' in html
    assert 'class="pill warn"' in html and "generator-limited" in html
    assert "0.62 [0.59, 0.65]" in html
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    ET.fromstring(svg)  # well-formed


def test_chart_draws_measured_with_whiskers_beside_the_ideal_line():
    svg = scaling_chart(_scaling())
    root = ET.fromstring(svg)
    points = root.findall(f".//{SVG}circle")
    assert len(points) == 6  # measured and ideal at 1, 2, 4 workers
    titles = [p.find(f"{SVG}title").text for p in points]
    assert "ideal linear at 4 workers: 400" in titles  # 4 × the 1-worker run's 100 req/s
    assert "measured at 4 workers: 248" in titles
    assert svg.count('class="whisker"') == 6


def test_no_chart_for_one_worker_count():
    assert scaling_chart(scaling_of([point(1, 100.0, 97.0, 103.0)])) is None
    assert "<svg" not in scaling_html(scaling_of([point(1, 100.0, 97.0, 103.0)]))
