"""The parent's side of a web-UI session: run.json per start, how each run ends."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from framework.run.folder import RunRecord, SessionFolder, create_run_folder
from framework.run.web_session import RunEnd, WebRuns

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def _session(tmp_path: Path, ended: list[RunEnd], interrupted_at=lambda: None) -> WebRuns:
    record = RunRecord(
        run_id="s", scenario="demo", scenario_file="demo.yaml", host=None, started_at="",
        mode="web",
    )  # fmt: skip
    folder = create_run_folder(tmp_path, "s", record, started=T0, kind=SessionFolder)
    return WebRuns(
        folder,
        scenario={"name": "demo"},
        lock=threading.Lock(),
        on_run_end=lambda end: ended.append(end) or 0,
        out=io.StringIO(),
        interrupted_at=interrupted_at,
    )


def _announce(web: WebRuns, phase: str, run_id: str, at: datetime, **fields) -> None:
    web.on_run({"event": "run", "phase": phase, "run_id": run_id, "at_s": at.timestamp(), **fields})


def test_a_start_writes_run_json_into_the_folder_the_master_made(tmp_path):
    ended: list[RunEnd] = []
    web = _session(tmp_path, ended)
    (tmp_path / "s-1").mkdir()  # the master makes it, with the timeline
    _announce(web, "started", "s-1", T0)
    record = json.loads((tmp_path / "s-1" / "run.json").read_text())
    assert record["run_id"] == "s-1" and record["status"] == "starting"
    assert record["session"] == {"id": "s", "folder": str(tmp_path / "s"), "run": 1,
                                 "log": str(tmp_path / "s" / "locust.log")}  # fmt: skip
    assert (tmp_path / "s-1" / "scenario.yaml").is_file()
    assert not (tmp_path / "s" / "run.json").exists()


def test_a_run_that_ends_is_finished_and_handed_on_for_its_report(tmp_path):
    ended: list[RunEnd] = []
    web = _session(tmp_path, ended)
    _announce(web, "started", "s-1", T0)
    web.on_state("running", T0)
    web.on_state("stopping", T0 + timedelta(seconds=5))
    _announce(web, "ended", "s-1", T0 + timedelta(seconds=6), state="finished", reason="stopped")
    web.settle(T0 + timedelta(seconds=9), locust_code=0)
    record = json.loads((tmp_path / "s-1" / "run.json").read_text())
    assert (record["status"], record["exit_code"], record["message"]) == ("finished", 0, "stopped")
    assert [e.run_id for e in ended] == ["s-1"]
    session = json.loads((tmp_path / "s" / "session.json").read_text())
    assert session["session"]["runs"] == [
        {"run_id": "s-1", "status": "finished", "exit_code": 0, "report_exit_code": 0}
    ]


def test_a_signal_while_the_run_was_live_interrupts_it_even_if_its_end_came_first(tmp_path):
    signalled = T0 + timedelta(seconds=3)
    web = _session(tmp_path, [], interrupted_at=lambda: signalled)
    _announce(web, "started", "s-1", T0)
    web.on_state("running", T0)
    web.on_state("stopping", T0 + timedelta(seconds=3.2))  # the master stopping on SIGINT
    _announce(web, "ended", "s-1", T0 + timedelta(seconds=3.3), state="finished")
    record = json.loads((tmp_path / "s-1" / "run.json").read_text())
    assert (record["status"], record["exit_code"]) == ("interrupted", 130)
    assert web.interrupted_runs == ["s-1"]


def test_a_signal_after_the_run_stopped_leaves_it_finished(tmp_path):
    signalled = T0 + timedelta(seconds=8)
    web = _session(tmp_path, [], interrupted_at=lambda: signalled)
    _announce(web, "started", "s-1", T0)
    web.on_state("running", T0)
    web.on_state("stopping", T0 + timedelta(seconds=5))
    _announce(web, "ended", "s-1", T0 + timedelta(seconds=9), state="finished")
    assert json.loads((tmp_path / "s-1" / "run.json").read_text())["status"] == "finished"
    assert web.interrupted_runs == []


def test_run_ids_outside_the_session_are_ignored(tmp_path):
    web = _session(tmp_path, [])
    for run_id in ("../s-1", "other-1", "s-x", "s-1/../../etc"):
        _announce(web, "started", run_id, T0)
    assert web.runs == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_a_run_locust_left_open_fails_at_the_end_of_the_session(tmp_path):
    web = _session(tmp_path, [])
    _announce(web, "started", "s-1", T0)
    web.on_state("running", T0)
    web.settle(T0 + timedelta(seconds=4), locust_code=-9)
    record = json.loads((tmp_path / "s-1" / "run.json").read_text())
    assert (record["status"], record["exit_code"]) == ("failed", 3)
