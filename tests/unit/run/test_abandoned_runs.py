"""A run whose swarm process died (SIGKILL) is told apart from one still going.

``run.json`` records the swarm process (pid, host, start time); ``settle_abandoned`` ends a
run still marked ``running`` as ``interrupted`` once that process is gone. The live process
is this test's own; a gone one is a pid no kernel hands out, or this pid with another start
time (a reused pid).
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

import pytest

from framework.run.folder import (
    RunRecord,
    create_run_folder,
    read_run_record,
    settle_abandoned,
    swarm_process,
    swarm_process_gone,
)

T0 = datetime(2026, 11, 27, 9, 45, 12, tzinfo=UTC)
NO_SUCH_PID = 2**31 - 1  # above any pid_max


def _running(tmp_path, owner: dict) -> RunRecord:
    record = RunRecord("r1", "smoke", None, None, "", swarm_process=owner)
    folder = create_run_folder(tmp_path, "r1", record, started=T0)
    folder.phase("running", T0)
    return folder.record


def _dead() -> dict:
    return {"pid": NO_SUCH_PID, "host": socket.gethostname(), "started": 1.0}


def test_run_json_records_this_swarm_process(tmp_path):
    owner = swarm_process()
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert abs(owner["started"] - datetime.now(UTC).timestamp()) < 24 * 3600
    _running(tmp_path, owner)
    assert read_run_record(tmp_path / "r1").swarm_process == owner


def test_a_run_of_a_live_swarm_process_is_left_running(tmp_path):
    record = _running(tmp_path, swarm_process())
    assert not swarm_process_gone(record)
    assert settle_abandoned(tmp_path / "r1") is None
    assert read_run_record(tmp_path / "r1").status == "running"


def test_a_run_whose_swarm_process_is_gone_ends_interrupted_at_its_last_write(tmp_path):
    _running(tmp_path, _dead())
    timeline = tmp_path / "r1" / "timeline.jsonl"
    timeline.write_text("{}\n", encoding="utf-8")
    last_write = T0.timestamp() + 30
    os.utime(timeline, (last_write, last_write))
    os.utime(tmp_path / "r1" / "run.json", (last_write - 30, last_write - 30))
    settled = settle_abandoned(tmp_path / "r1")
    assert settled is not None
    record = read_run_record(tmp_path / "r1")
    assert (record.status, record.exit_code) == ("interrupted", 130)
    assert record.ended_at == "2026-11-27T09:45:42.000Z"
    assert f"swarm (pid {NO_SUCH_PID}) ended without finishing the run" in record.message
    assert [p["name"] for p in record.phases] == ["running", "interrupted"]
    assert settle_abandoned(tmp_path / "r1") is None  # once only


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path):
    owner = {**swarm_process(), "started": swarm_process()["started"] - 3600}
    record = _running(tmp_path, owner)
    assert swarm_process_gone(record)
    assert settle_abandoned(tmp_path / "r1") is not None


@pytest.mark.parametrize(
    "owner",
    [
        {},  # an older run.json: no process recorded
        {"pid": NO_SUCH_PID, "host": "another-host.invalid", "started": 1.0},
        {"pid": "12", "host": socket.gethostname()},
    ],
)
def test_a_run_it_cannot_judge_is_left_as_it_is(tmp_path, owner):
    record = _running(tmp_path, owner)
    assert not swarm_process_gone(record)
    assert settle_abandoned(tmp_path / "r1") is None
    assert read_run_record(tmp_path / "r1").status == "running"


@pytest.mark.parametrize("status", ["finished", "failed", "interrupted"])
def test_an_ended_run_is_never_rewritten(tmp_path, status):
    record = RunRecord("r1", "smoke", None, None, "", swarm_process=_dead())
    folder = create_run_folder(tmp_path, "r1", record, started=T0)
    folder.finish(status, 0, T0)
    before = (tmp_path / "r1" / "run.json").read_text(encoding="utf-8")
    assert settle_abandoned(tmp_path / "r1") is None
    assert (tmp_path / "r1" / "run.json").read_text(encoding="utf-8") == before


def test_a_folder_without_a_readable_run_json_is_skipped(tmp_path):
    (tmp_path / "r1").mkdir()
    assert settle_abandoned(tmp_path / "r1") is None
    (tmp_path / "r1" / "run.json").write_text("{not json", encoding="utf-8")
    assert settle_abandoned(tmp_path / "r1") is None
