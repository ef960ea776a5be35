"""A scenario the command line changed (``--set``, ``--time-scale``): what the run records and
what its Locust processes are given, so every process runs the same changed scenario."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from framework.plan.load_plan import plan_for
from framework.plan.summary import describe_scenario
from framework.run.bundle import bundle_source
from framework.run.folder import RunRecord, create_run_folder, read_run_record
from framework.run.runner import RunOptions, _changes_comment, locust_command
from framework.scenario.loader import load_scenario, load_scenario_data
from framework.scenario.overrides import parse_override

SCENARIO = """\
name: soak
host: http://127.0.0.1:9
headers: {X-Key: "${API_KEY}"}
users:
  - name: u
    requests: [{path: /}]
load: {shape: constant, users: "${USERS:-2}", spawn_rate: 1, duration: 1h}
"""
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def changed(tmp_path: Path):
    path = tmp_path / "soak.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    sets = [parse_override("load.users=3"), parse_override("tags.key=${API_KEY}")]
    return load_scenario(path, env={"API_KEY": "key-789"}, overrides=sets, time_scale=0.1)


def _constants(source: str) -> dict[str, Any]:
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def test_the_bundle_carries_the_overridden_data_and_the_time_scale(changed, tmp_path):
    source = bundle_source(changed)
    constants = _constants(source)
    assert constants["TIME_SCALE"] == 0.1
    data = json.loads(constants["SCENARIO_JSON"])
    assert data["load"]["users"] == 3
    assert data["tags"] == {"key": "${API_KEY}"}
    assert "key-789" not in source
    worker = load_scenario_data(
        data, tmp_path / "w" / "soak.yaml", env={"API_KEY": "w"}, time_scale=0.1
    )
    here = plan_for(changed.scenario.load, time_scale=changed.time_scale)
    assert plan_for(worker.scenario.load, time_scale=worker.time_scale) == here
    assert here.duration_s == 360.0 and here.peak_users == 3


def test_a_changed_scenario_runs_from_its_bundle_even_in_one_process(changed, tmp_path):
    command = locust_command(changed, tmp_path, RunOptions())
    assert command[command.index("-f") + 1] == str(tmp_path / "swarm_bundle.py")
    assert "--scenario" not in command and "--master" not in command


def test_an_unchanged_scenario_still_runs_from_its_file(tmp_path):
    path = tmp_path / "soak.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    loaded = load_scenario(path, env={"API_KEY": "k"})
    assert not loaded.modified
    command = locust_command(loaded, tmp_path, RunOptions())
    assert command[command.index("--scenario") + 1] == str(loaded.path)


def test_run_json_records_the_overrides_and_the_time_scale(tmp_path):
    record = RunRecord(
        run_id="r1",
        scenario="soak",
        scenario_file="soak.yaml",
        host=None,
        started_at="",
        overrides=["load.users=3", "tags.key=${API_KEY}"],
        time_scale=0.1,
    )
    folder = create_run_folder(tmp_path, "r1", record, started=T0)
    saved = json.loads(folder.run_json.read_text(encoding="utf-8"))
    assert saved["overrides"] == ["load.users=3", "tags.key=${API_KEY}"]
    assert saved["time_scale"] == 0.1
    assert read_run_record(folder.path) == folder.record


def test_an_older_run_json_reads_as_run_unchanged(tmp_path):
    (tmp_path / "run.json").write_text(
        json.dumps({"run_id": "old", "time_scale": "fast", "overrides": "x"}), encoding="utf-8"
    )
    record = read_run_record(tmp_path)
    assert (record.overrides, record.time_scale) == ([], 1.0)


def test_the_saved_scenario_says_how_the_command_line_changed_it(changed, tmp_path):
    record = RunRecord("r1", "soak", None, None, "")
    folder = create_run_folder(tmp_path, "r1", record, started=T0)
    text = folder.write_scenario(changed.redacted, _changes_comment(changed)).read_text()
    assert text.splitlines()[:4] == [
        "# The scenario as this run used it: soak.yaml with",
        "#   --set load.users=3",
        "#   --set tags.key=${API_KEY}",
        "#   --time-scale 0.1 (every duration of load below times 0.1, its spawn rates divided "
        "by it; run.json's plan is the plan that ran)",
    ]
    saved = yaml.safe_load(text)
    assert saved == changed.redacted
    assert saved["load"]["users"] == 3 and saved["tags"] == {"key": "${API_KEY}"}
    assert "key-789" not in text


def test_a_comment_line_cannot_break_out_into_the_yaml(tmp_path):
    record = RunRecord("r1", "soak", None, None, "")
    folder = create_run_folder(tmp_path, "r1", record, started=T0)
    text = folder.write_scenario({"name": "x"}, ["--set tags.a=1\nname: injected"]).read_text()
    assert yaml.safe_load(text) == {"name": "x"}


def test_validate_says_what_the_command_line_changed(changed):
    summary = describe_scenario(changed)
    assert "load: constant, peak 3 users, 6m in 2 phases (time scaled by 0.1)" in summary
    assert "overrides: --set load.users=3, --set tags.key=${API_KEY}" in summary


def test_validate_shows_a_sub_second_pacing_in_milliseconds(tmp_path):
    path = tmp_path / "paced.yaml"
    path.write_text(
        "name: paced\nhost: http://127.0.0.1:9\nusers:\n  - name: u\n"
        "    think_time: {pacing: 40ms}\n    requests: [{path: /}]\n"
        "load: {shape: constant, users: 1, duration: 1m}\n"
    )
    summary = describe_scenario(load_scenario(path))
    assert "one request every 40 ms" in summary
    assert "1m in 2 phases" in summary or "1m in 1 phase" in summary
