"""The "Open model" and "Phases per load group" sections of every report format."""

from __future__ import annotations

import json

import pytest

from framework.reports.console import summarise
from framework.reports.html import render_html
from framework.reports.markdown import render_markdown
from framework.reports.run_report import report_run
from framework.verdicts.builder import ReportOptions
from tests.html_page import parse
from tests.open_model_runs import write_open_run
from tests.unit.verdicts.test_group_phases import GROUPS, USERS

HOSTILE = "/<script>alert(1)</script>"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """An open-model run that fell behind (a stall, drops, 97 % CPU) with a hostile request
    name, and a second load group: every report written by ``report_run``."""
    folder = write_open_run(
        tmp_path_factory.mktemp("reports") / "open",
        names=("POST /orders", f"POST {HOSTILE}"),
        groups={"writers": ("POST /orders", f"POST {HOSTILE}")},
        closed_names=("GET /catalog",),
        stalled=range(20, 23),
        dropped=2,
        cpu=97.0,
        plan_groups=GROUPS,
        scenario={
            "users": [
                USERS[0],
                {
                    **USERS[1],
                    "requests": [*USERS[1]["requests"], {"method": "POST", "path": HOSTILE}],
                },
            ]
        },
    )
    outcome = report_run(folder, ReportOptions())
    return folder, outcome.results


def test_results_json_holds_both_latencies_the_groups_and_the_group_phases(reported):
    folder, _ = reported
    data = json.loads((folder / "results.json").read_text())
    names = {row["key"]: row for row in data["open_model"]["names"]}
    row = names["POST /orders"]
    assert row["response"]["p99_ms"]["value"] > 10 * row["service"]["p99_ms"]["value"]
    assert row["service"]["p99_ms"]["low"] is not None
    (group,) = data["open_model"]["groups"]
    assert (group["group"], group["dropped"]) == ("writers", 118)
    assert group["lag_p99_ms"]["value"] > 50
    assert data["open_model"]["cpu_percent_max"] == 97.0
    assert [g["name"] for g in data["group_phases"]] == ["scenario", "writers"]
    spike = data["group_phases"][1]["phases"][1]
    assert (spike["kind"], spike["rate"], spike["window"]["name"]) == ("spike", 50.0, "spike")


def test_markdown_shows_the_two_latencies_side_by_side_and_lag_and_drops_per_group(reported):
    folder, results = reported
    md = (folder / "report.md").read_text()
    assert md == render_markdown(results)
    section = md[md.index("### Open model") :]
    assert "| Request | Service-timed | Response p50 | Service p50 |" in section
    row = next(line for line in section.splitlines() if line.startswith("| POST /orders |"))
    open_row = results.open_model.names[0]
    assert f"{open_row.response.p99_ms.value:.1f} ms" in row
    assert f"{open_row.service.p99_ms.value:.1f} ms" in row
    assert "| writers | 11,918 | 11,800 | 118 | 0.99% |" in section
    assert "up to 97 %" in section
    assert "<script>" not in md and "&lt;script&gt;" in md
    phases = md[md.index("### Phases per load group") :]
    assert "**writers** (open; users writers;" in phases
    assert "| spike | spike | 50 arrivals/s |" in phases
    assert "| steady | plateau | 5 users |" in phases


def test_html_has_an_escaped_open_model_section_and_the_group_phases(reported):
    folder, _ = reported
    html = (folder / "report.html").read_text()
    page = parse(html)
    assert {"open-model", "open-model-table", "load-groups-table", "group-phases"} <= page.ids
    assert html.count("<script>") == 1  # the page's own script only
    assert f"POST {HOSTILE}" in page.plain
    assert '<a href="#open-model">Open model</a>' in html
    start = page.plain.index("Open model response time")
    section = page.plain[start : page.plain.index("Phases per load group", start)]
    assert "the coordinated omission a closed model hides" in section
    assert "writers 11,918 11,800 118 0.99%" in section
    assert "50 arrivals/s" in page.plain
    assert "Arrivals/s" in page.plain  # the load plan's phases show their rate


def test_the_terminal_summary_shows_both_p99s_and_the_groups_lag(reported):
    _, results = reported
    text = summarise(results)
    assert "open model: p99 from the intended start vs from the send" in text
    line = next(
        x for x in text.splitlines() if x.strip().startswith("POST /orders") and "service" in x
    )
    assert "response p99" in line and "service p99" in line
    assert "load group writers" in text and "118 dropped (0.99%)" in text


def test_a_closed_run_renders_no_open_model_section(tmp_path):
    from tests.fixtures.results import result_builders as rb

    results = rb.sample_results()
    assert "Open model" not in render_markdown(results)
    assert "Phases per load group" not in render_markdown(results)
    html = render_html(results)
    assert 'id="open-model"' not in html and 'id="group-phases"' not in html
    assert "Arrivals/s" not in html
    assert "open model" not in summarise(results)


def test_hostile_group_and_request_names_are_escaped_in_every_format():
    from tests.fixtures.results import result_builders as rb

    results = rb.open_model_results()
    html = render_html(results)
    assert rb.HOSTILE not in html and html.count("<script>") == 1
    page = parse(html)
    assert f"GET {rb.HOSTILE}" in page.plain and "84.0 ms" in page.plain
    md = render_markdown(results)
    assert rb.HOSTILE not in md and "&lt;script&gt;" in md
    assert "| writers | 3,060 | 3,000 | 60 | 1.96% |" in md
