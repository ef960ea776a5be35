"""Capacity from a real stepped run: ``swarm run`` against a real mock detector, bounded.

Five 4-second steps of 2 … 26 closed users with no think time against one mock-detector
process answering in 10 ms: throughput rises with the users until the single process (and
the generator beside it) runs out of CPU. Whatever the machine makes of the last steps, the
run's results.json, report.html, report.md, junit.xml and console must carry the capacity
section: every step with its load and throughput interval, the USL fit or why none, and the
highest step meeting the (error-rate) budget. ``swarm report`` recomputes it identically.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from framework.verdicts.builder import ReportOptions, build_results, load_run
from tests.integration.test_cli_run import _run_id, _swarm_run, _write
from tests.mock_detectors.conftest import free_ports, start_service, write_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCENARIO = """
    name: capacity probe
    host: {url}
    users:
      - name: caller
        requests:
          - {{name: detect, method: POST, path: /detect, json: {{content: hi}}}}
    load: {{shape: stepped, start_users: 2, step_users: 6, step_duration: 4s, steps: 5,
           spawn_rate: 100}}
    budgets:
      overall: {{error_rate: 5%}}
"""
USERS = [2, 8, 14, 20, 26]


@pytest.fixture(scope="module")
def stepped_run(tmp_path_factory, module_child_processes):
    folder = tmp_path_factory.mktemp("capacity")
    (port,) = free_ports(1)
    config = write_config(
        folder / "detectors.yaml",
        f"detectors:\n  steady:\n    port: {port}\n    latency: {{model: fixed, ms: 10}}\n",
    )
    service = start_service(config, "--processes", "1")
    try:
        scenario = _write(folder, SCENARIO.format(url=service.urls["steady"]))
        yield _swarm_run(module_child_processes, folder, [str(scenario)], _run_id("capacity"))
    finally:
        service.stop()


def test_results_json_carries_every_step_and_the_fit_or_why_none(stepped_run):
    assert stepped_run.returncode == 0, stepped_run.stderr
    results = json.loads((stepped_run.run_dir / "results.json").read_text())
    capacity = results["capacity"]
    assert capacity["shape"] == "stepped" and capacity["load_unit"] == "users"
    assert [p["step"] for p in capacity["points"]] == [f"step {i}" for i in range(1, 6)]
    assert [p["load"]["value"] for p in capacity["points"]] == USERS
    for point in capacity["points"]:
        through = point["throughput"]
        assert through["low"] <= through["value"] <= through["high"]
        assert point["budgets"] == "pass"  # the mock never fails
    assert (capacity["fit"] is not None) or capacity["no_fit_reason"]
    if capacity["no_fit_reason"] is None:
        assert all(p["fitted"] > 0 for p in capacity["points"])
        assert capacity["fit"]["points"] == 5
    assert capacity["highest_passing_step"] == "step 5"
    assert capacity["message"].startswith("capacity 26 users, ")
    assert results["knee"] is not None  # the knee still stands beside it


def test_every_report_shows_the_capacity(stepped_run):
    run_dir = stepped_run.run_dir
    page = (run_dir / "report.html").read_text()
    section = page[page.index('<section id="capacity"') :]
    section = section[: section.index("</section>")]
    assert 'class="chart capacity-chart"' in section
    assert section.count('class="point"') == 5
    assert "### Capacity" in (run_dir / "report.md").read_text()
    root = ET.fromstring((run_dir / "junit.xml").read_bytes())
    assert any(s.get("name") == "swarm.capacity" for s in root.iter("testsuite"))
    assert "capacity 26 users, " in stepped_run.stdout


def test_swarm_report_recomputes_the_same_capacity(stepped_run):
    data = load_run(stepped_run.run_dir)
    first, _ = build_results(data, ReportOptions(), created_at="a")
    second, _ = build_results(data, ReportOptions(), created_at="b")
    assert first.capacity == second.capacity
    saved = json.loads((stepped_run.run_dir / "results.json").read_text())["capacity"]
    assert json.loads(json.dumps(first.to_dict()["capacity"])) == saved
