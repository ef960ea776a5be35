"""Scheduled faults through ``swarm report``: results.json, report.md, report.html (a
section, and each fault's span shaded and named on every time chart), junit.xml and the
terminal summary, from a run folder whose faults and timeline are known."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from framework.cli.main import main
from framework.timeline.records import RequestSecond, Second
from framework.timeline.writer import TimelineWriter
from tests.fixtures.results import result_builders as rb
from tests.html_page import parse
from tests.synthetic import START_S, write_run

SECONDS = 90
HEALTHY = [10.0 + (i % 5) for i in range(40)]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _second(offset: int) -> Second:
    """Healthy but for an outage 30–40 s (every request fails) and 60–65 s (slow), whose
    latency stays high 5 s after it ends."""
    t = START_S + offset
    if 30 <= offset < 40:
        record = RequestSecond.from_latencies(
            t, "GET", "/detect", [], failures={"HTTP 503": 40}, failed_ms=[1.0] * 40
        )
    elif 60 <= offset < 70:
        record = RequestSecond.from_latencies(t, "GET", "/detect", [300.0] * 40)
    else:
        record = RequestSecond.from_latencies(t, "GET", "/detect", HEALTHY)
    return Second(t=t, users=10, workers=1, requests=(record,))


def _fault(name: str, start: float, end: float, sla: float | None) -> dict:
    return {
        "name": name, "kind": "mock", "target": "http://127.0.0.1:1/admin/faults",
        "action": {"outage": True}, "planned_start_s": start, "planned_end_s": end,
        "recovery_sla_s": sla, "started_at": _iso(START_S + start),
        "ended_at": _iso(START_S + end), "status": "ended", "error": None,
    }  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    found = write_run(tmp_path_factory.mktemp("faults") / "run", seconds=SECONDS)
    (found / "timeline.jsonl").unlink()
    with TimelineWriter(found / "timeline.jsonl", created_s=float(START_S)) as writer:
        for offset in range(SECONDS):
            writer.write_second(_second(offset))
        writer.close(ended_s=START_S + SECONDS + 0.2, reason="quit")
    run = json.loads((found / "run.json").read_text())
    run["faults"] = [_fault("outage", 30, 40, 2.0), _fault("<slow>", 60, 65, 2.0)]
    (found / "run.json").write_text(json.dumps(run))
    return found


@pytest.fixture(scope="module")
def reported(folder):
    return main(["report", str(folder)])


def test_a_missed_recovery_sla_fails_the_run_with_a_reason(folder, reported):
    assert reported == 1
    results = json.loads((folder / "results.json").read_text())
    assert results["verdict"] == "failed"
    outage, slow = results["faults"]
    assert outage["recovered"] and outage["verdict"] == "pass"
    assert outage["recovery_s"]["value"] == 0.0
    assert outage["during"]["error_rate"]["value"] == 1.0
    assert (slow["recovery_s"]["value"], slow["recovery_s"]["low"]) == (5.0, 4.0)
    assert slow["verdict"] == "fail"
    assert any(r.startswith("fault <slow>: recovered in 5.0 s [4.0, 5.0]") for r in
               results["reasons"])  # fmt: skip


def test_results_json_has_no_faults_key_without_faults():
    assert "faults" not in rb.sample_results().to_dict()


def test_markdown_has_a_faults_section(folder, reported):
    text = (folder / "report.md").read_text()
    assert "### Faults" in text
    row = next(line for line in text.splitlines() if line.startswith("| &lt;slow&gt;"))
    assert "5.0 s [4.0, 5.0]" in row and "≤ 2 s" in row and "❌ fail" in row
    assert "0:30–0:40 (10 s)" in text


def test_every_time_chart_shades_and_names_each_fault(folder, reported):
    html = (folder / "report.html").read_text()
    page = parse(html)
    assert "faults" in page.ids
    charts = re.findall(r"<svg[^>]*line-chart.*?</svg>", html, flags=re.S)
    assert len(charts) == 3
    for chart in charts:
        captions = re.findall(r'class="band-caption"[^>]*>([^<]*)<', chart)
        assert captions == ["outage", "&lt;slow&gt;"]
        assert chart.count('class="legend">faults (shaded, named)') == 1  # one legend entry for all
    assert "<slow>" not in html


def test_junit_has_one_case_per_fault_with_an_sla(folder, reported):
    root = ET.fromstring((folder / "junit.xml").read_text())
    suite = next(s for s in root if s.get("name") == "swarm.faults")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"outage", "<slow>"}
    assert cases["outage"].find("failure") is None
    assert cases["<slow>"].find("failure").get("type") == "recovery"


def test_the_terminal_summary_lists_each_fault(folder, capsys):
    main(["report", str(folder)])
    out = capsys.readouterr().out
    assert "fault outage: errors 100.00%" in out
    assert "recovery 5.0 s [4.0, 5.0] → SLA ≤ 2 s: fail" in out
