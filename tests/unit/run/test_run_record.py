"""run.json read back into RunRecord: the same record the runner wrote, and older files too."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from framework.errors import ReportError
from framework.plan import shapes
from framework.plan.record import PlanRecord
from framework.run.folder import (
    RunRecord,
    create_run_folder,
    read_run_json,
    read_run_record,
)

T0 = datetime(2026, 11, 27, 9, 45, 12, tzinfo=UTC)
PLAN = shapes.stepped(start_users=5, step_users=5, step_duration_s=20, steps=2, spawn_rate=5)


def _record() -> RunRecord:
    return RunRecord(
        run_id="r1",
        scenario="smoke",
        scenario_file="scenarios/smoke.yaml",
        host="http://127.0.0.1:8001",
        started_at="",
        tags={"env": "ci"},
        git_revision="abc123",
        plan=PlanRecord.from_plan(PLAN),
        mode="web",
        workers=2,
        master="127.0.0.1:5557",
        worker_events=[{"at": "2026-11-27T09:45:20.000Z", "worker": "w1", "event": "missing"}],
        worker_processes=[{"name": "worker-1", "pid": 12, "exit_code": 0}],
        locust_args=["--headless"],
        swarm_version="1.0",
        locust_version="2.47.0",
    )


def test_the_record_the_runner_writes_reads_back_equal(tmp_path):
    folder = create_run_folder(tmp_path, "r1", _record(), started=T0)
    folder.phase("running", T0)
    folder.finish("finished", 0, T0, "done")
    read = read_run_record(folder.path)
    assert read == folder.record
    assert read.plan.phases == PLAN.phases
    assert isinstance(read.plan, PlanRecord)


def test_run_json_is_the_record_s_json_layout(tmp_path):
    folder = create_run_folder(tmp_path, "r1", _record(), started=T0)
    text = (folder.path / "run.json").read_text(encoding="utf-8")
    assert text == json.dumps(folder.record.to_record(), indent=2) + "\n"
    assert json.loads(text)["plan"]["phases"][0] == {
        "name": "ramp-up",
        "kind": "ramp",
        "start_s": 0.0,
        "end_s": 1.0,
        "users": 5,
    }
    assert read_run_json(folder.path) == json.loads(text)


def test_an_old_partial_run_json_reads_with_empty_values(tmp_path):
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "run_id": "old",
                "scenario": "checkout",
                "started_at": "2025-01-01T00:00:00Z",
                "git": {"commit": "feedbeef"},
                "exit_code": "0",
                "tags": ["not", "a", "mapping"],
                "phases": [{"name": "running", "at": "2025-01-01T00:00:01Z"}, "junk"],
                "something_new": True,
            }
        ),
        encoding="utf-8",
    )
    record = read_run_record(tmp_path)
    assert (record.run_id, record.scenario, record.started_at) == (
        "old",
        "checkout",
        "2025-01-01T00:00:00Z",
    )
    assert record.git_revision == "feedbeef"
    assert record.status == ""  # unknown, not the writer's "starting"
    assert record.exit_code is None
    assert record.tags == {}
    assert record.phases == [{"name": "running", "at": "2025-01-01T00:00:01Z"}]
    assert record.plan == PlanRecord() and record.scenario_file is None and record.host is None
    assert record.worker_events == [] and record.ended_at is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"run\.json: missing; is .* a swarm run folder\?"),
        ("{not json", r"run\.json: unreadable"),
        ("[1, 2]", r"run\.json: expected a JSON object, found list"),
    ],
)
def test_a_missing_or_broken_run_json_names_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "run.json").write_text(content, encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        read_run_record(tmp_path)
