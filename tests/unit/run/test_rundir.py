"""Run folders: safe run ids, one fresh folder per run, run.json valid at every phase."""

from __future__ import annotations

import json
import resource
import signal
from datetime import UTC, datetime, timedelta, timezone

import pytest
import yaml

from framework.errors import RunError, UsageError
from framework.run.folder import (
    RUN_FORMAT_VERSION,
    RunRecord,
    create_run_folder,
    new_run_id,
    validate_run_id,
)

T0 = datetime(2026, 11, 27, 9, 45, 12, 345678, tzinfo=UTC)


def _record(run_id: str = "r1") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        scenario="smoke",
        scenario_file="scenarios/smoke.yaml",
        host="http://127.0.0.1:8001",
        started_at="",
    )


@pytest.mark.parametrize(
    "run_id", ["r1", "20261127T094512Z-smoke", "a.b_c-d", "A" * 128, "9", "v1.2"]
)
def test_plain_folder_names_are_valid_run_ids(run_id):
    assert validate_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id",
    ["../x", "/abs", ".", "..", "a/b", "a\\b", "a..b", "", "-x", ".hidden", "a b", "A" * 129, "é"],
)
def test_run_ids_that_could_name_another_path_are_refused(run_id):
    with pytest.raises(ValueError) as info:
        validate_run_id(run_id)
    assert str(info.value) == (
        f"invalid run id {run_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit, and no '..'"
    )


def test_run_id_with_trailing_newline_is_refused():
    with pytest.raises(ValueError):
        validate_run_id("abc\n")


def test_new_run_id_sorts_by_utc_time_and_names_the_scenario():
    assert new_run_id("Detectors: Peak!", T0) == "20261127T094512Z-detectors-peak"
    paris = datetime(2026, 11, 27, 11, 45, 12, tzinfo=timezone(timedelta(hours=1)))
    assert new_run_id("x", paris) == "20261127T104512Z-x"
    assert new_run_id("***", T0) == "20261127T094512Z-run"
    assert len(new_run_id("y" * 300, T0)) == len("20261127T094512Z-") + 60
    validate_run_id(new_run_id("any name at all", T0))


def test_run_folder_is_created_inside_the_reports_folder(tmp_path):
    reports = tmp_path / "reports"
    folder = create_run_folder(reports, "r1", _record(), started=T0)
    assert folder.path == (reports / "r1").resolve()
    assert folder.path.is_dir()
    assert sorted(p.name for p in folder.path.iterdir()) == [".swarm-reserve", "run.json"]


@pytest.mark.parametrize("run_id", ["../outside", "/tmp/abs", "a/b", "."])
def test_run_folder_is_never_created_outside_the_reports_folder(tmp_path, run_id):
    reports = tmp_path / "reports"
    with pytest.raises(UsageError, match="invalid run id"):
        create_run_folder(reports, run_id, _record(), started=T0)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_symlink_run_id_pointing_outside_is_refused(tmp_path):
    reports = tmp_path / "reports"
    outside = tmp_path / "outside"
    reports.mkdir()
    outside.mkdir()
    (reports / "r1").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RunError, match=r"run id 'r1' would leave the reports folder"):
        create_run_folder(reports, "r1", _record(), started=T0)
    assert list(outside.iterdir()) == []


def test_existing_run_folder_is_not_reused(tmp_path):
    reports = tmp_path / "reports"
    (reports / "r1").mkdir(parents=True)
    (reports / "r1" / "keep.txt").write_text("earlier run", encoding="utf-8")
    with pytest.raises(RunError) as info:
        create_run_folder(reports, "r1", _record(), started=T0)
    assert str(info.value) == (
        f"run folder {(reports / 'r1').resolve()} already exists; choose another --run-id"
    )
    assert sorted(p.name for p in (reports / "r1").iterdir()) == ["keep.txt"]


def _run_json(folder) -> dict:
    return json.loads(folder.run_json.read_text(encoding="utf-8"))


def test_run_json_is_valid_after_every_phase(tmp_path):
    folder = create_run_folder(tmp_path, "r1", _record(), started=T0)
    first = _run_json(folder)
    assert first["status"] == "starting"
    assert first["started_at"] == "2026-11-27T09:45:12.345Z"
    assert first["format_version"] == RUN_FORMAT_VERSION
    assert first["phases"] == []

    folder.phase("running", T0 + timedelta(seconds=2))
    assert _run_json(folder)["status"] == "running"

    folder.phase("stopping", T0 + timedelta(seconds=62))
    folder.finish("passed", 0, T0 + timedelta(seconds=63, milliseconds=500))
    last = _run_json(folder)
    assert last["phases"] == [
        {"name": "running", "at": "2026-11-27T09:45:14.345Z"},
        {"name": "stopping", "at": "2026-11-27T09:46:14.345Z"},
        {"name": "passed", "at": "2026-11-27T09:46:15.845Z"},
    ]
    assert (last["status"], last["exit_code"], last["ended_at"], last["message"]) == (
        "passed",
        0,
        "2026-11-27T09:46:15.845Z",
        None,
    )
    assert sorted(p.name for p in folder.path.iterdir()) == ["run.json"]


def test_finish_records_why_a_run_failed(tmp_path):
    folder = create_run_folder(tmp_path, "r1", _record(), started=T0)
    folder.finish("error", 3, T0, message="locust exited with code 1")
    saved = _run_json(folder)
    assert (saved["status"], saved["exit_code"], saved["message"]) == (
        "error",
        3,
        "locust exited with code 1",
    )


def test_non_utc_times_are_saved_in_utc(tmp_path):
    paris = datetime(2026, 11, 27, 11, 45, 12, tzinfo=timezone(timedelta(hours=1)))
    folder = create_run_folder(tmp_path, "r1", _record(), started=paris)
    assert _run_json(folder)["started_at"] == "2026-11-27T10:45:12.000Z"


def test_scenario_is_saved_as_yaml_in_the_run_folder(tmp_path):
    folder = create_run_folder(tmp_path, "r1", _record(), started=T0)
    redacted = {"name": "smoke", "headers": {"X-API-Key": "${API_KEY}"}, "note": "café"}
    target = folder.write_scenario(redacted)
    assert target == folder.path / "scenario.yaml"
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == redacted


def test_a_run_json_that_cannot_be_saved_names_itself_and_leaves_no_tmp(tmp_path):
    """RLIMIT_FSIZE (SIGXFSZ ignored) makes the write fail for real; the space the reserve
    gives back is proved on a full tmpfs in tests/integration/test_faults.py."""
    folder = create_run_folder(tmp_path / "reports", "r1", _record(), started=T0)
    assert (folder.path / ".swarm-reserve").stat().st_size == 256 * 1024
    limit = folder.path.stat().st_size  # any file size: RLIMIT_FSIZE stands in for the disk
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (min(limit, 64), hard))
    try:
        with pytest.raises(RunError) as caught:
            folder.phase("stopping", T0)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert str(caught.value) == f"cannot write {folder.run_json}: file too large"
    assert folder.write_failures == [str(caught.value)]
    assert sorted(p.name for p in folder.path.iterdir()) == [".swarm-reserve", "run.json"]
    folder.finish("failed", 3, T0, folder.write_failures[0])
    assert sorted(p.name for p in folder.path.iterdir()) == ["run.json"]
    saved = json.loads(folder.run_json.read_text())
    assert (saved["status"], saved["exit_code"]) == ("failed", 3)
    assert saved["message"].endswith("run.json: file too large")
