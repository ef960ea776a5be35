"""Per request name in report.html and report.md: latency figures with their intervals,
the failed requests' own latency, what the failures said and how often; and the link to
Locust's own report."""

from __future__ import annotations

import dataclasses
import json

from framework.reports.console import summarise
from framework.reports.formatting import format_figure, format_value
from framework.reports.html import render_html
from framework.reports.markdown import escape_markdown, render_markdown
from framework.reports.writer import write_reports
from framework.verdicts.results import FailureLatency, FailureMessage, Results
from tests.fixtures.results import result_builders as rb
from tests.html_page import parse


def _results() -> Results:
    base = rb.sample_results()
    detect, hostile, quoted = base.baseline.endpoints
    detect = dataclasses.replace(
        detect,
        failure_latency=FailureLatency(
            count=30, mean_ms=3.25, p50_ms=1.5, p95_ms=9.75, max_ms=31.0
        ),
        failure_messages=(
            FailureMessage("HTTP 500: upstream down", 18),
            FailureMessage(f"echoed {rb.HOSTILE}", 7),
        ),
        failure_messages_other=5,
    )
    hostile = dataclasses.replace(hostile, failures=4, failure_messages_other=4)
    window = dataclasses.replace(base.baseline, endpoints=(detect, hostile, quoted))
    return dataclasses.replace(base, baseline=window)


RESULTS = _results()


def _section(html: str, section_id: str) -> str:
    return html.split(f'id="{section_id}"', 1)[1].split("</section>", 1)[0]


def _rows(html: str, table_id: str) -> list[str]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [parse(row).plain for row in body.split("<tr>")[2:]]


def test_html_lists_failure_messages_with_counts_per_name():
    rows = _rows(render_html(RESULTS), "failure-messages-table")
    assert rows[:3] == [
        "POST /detect HTTP 500: upstream down 18",
        f"POST /detect echoed {rb.HOSTILE} 7",
        "POST /detect other messages 5",
    ]
    assert f"GET {rb.HOSTILE} messages not recorded 4" in rows
    assert rb.HOSTILE not in render_html(RESULTS).replace(f"GET {rb.HOSTILE}", "")


def test_html_shows_each_failing_names_own_latency():
    rows = _rows(render_html(RESULTS), "failure-latency-table")
    shown = " ".join(format_value(v) for v in (3.25, 1.5, 9.75, 31.0))
    assert rows[0] == f"POST /detect 30 {shown}"
    assert "not recorded apart" in rows[1]


def test_html_requests_table_has_every_names_latency_with_its_interval():
    table = parse(_section(render_html(RESULTS), "requests")).plain
    for e in RESULTS.baseline.endpoints:
        assert " ".join(e.key.split()) in table
        for fig in (e.median_ms, e.p95_ms, e.p99_ms):
            shown = format_figure(fig)
            assert shown.split(" [")[0] in table, (e.key, shown)
            if not fig.censored:
                low = format_value(fig.low, with_unit=False)
                assert f"[{low}," in table, (e.key, shown)


def test_markdown_lists_failures_per_name_with_latency_and_messages():
    text = render_markdown(RESULTS)
    failures = text.split("### Failures", 1)[1].split("###", 1)[0]
    lines = [line for line in failures.splitlines() if line.startswith("| ")][1:]
    assert lines[0].startswith("| POST /detect | 30 | mean ")
    assert f"p95 {format_value(9.75)}" in lines[0]
    assert lines[0].endswith("| HTTP 500: upstream down | 18 |")
    assert lines[1] == f"|  |  |  | echoed {escape_markdown(rb.HOSTILE)} | 7 |"
    assert lines[2] == "|  |  |  | _other messages_ | 5 |"
    assert any(line.endswith("| _messages not recorded_ | 4 |") for line in lines)


def test_markdown_requests_table_has_every_names_p95_with_its_interval():
    text = render_markdown(RESULTS)
    for e in RESULTS.baseline.endpoints:
        row = next(
            line for line in text.splitlines() if line.startswith(f"| {escape_markdown(e.key)} |")
        )
        assert format_figure(e.p95_ms) in row


def test_console_summary_lists_the_most_frequent_failure_messages():
    text = summarise(RESULTS)
    assert "failed     18× POST /detect: HTTP 500: upstream down" in text


def test_results_json_carries_failure_messages_per_name(tmp_path):
    write_reports(tmp_path, RESULTS)
    data = json.loads((tmp_path / "results.json").read_text())
    detect = next(e for e in data["baseline"]["endpoints"] if e["key"] == "POST /detect")
    assert detect["failure_messages"][0] == {"message": "HTTP 500: upstream down", "count": 18}
    assert detect["failure_messages_other"] == 5
    assert detect["failure_latency"]["p95_ms"] == 9.75


def test_report_html_links_locust_report_only_when_the_folder_has_one(tmp_path):
    write_reports(tmp_path, RESULTS)
    html = (tmp_path / "report.html").read_text()
    assert 'href="locust_report.html"' not in html
    assert "none in the run folder" in parse(_section(html, "run")).plain
    (tmp_path / "locust_report.html").write_text("<html>locust</html>")
    write_reports(tmp_path, RESULTS)
    html = (tmp_path / "report.html").read_text()
    assert html.count('href="locust_report.html"') >= 2  # in the header and the Run section
