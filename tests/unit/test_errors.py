"""The error tree: each error keeps what it is about as attributes, and one table maps each
family to the exit code the README promises."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from framework import errors
from framework.cli import commands, main
from framework.cli.store_commands import resolve_baseline
from framework.errors import (
    EXIT_CODES,
    ConfigError,
    DetectorConfigError,
    ExitCode,
    NoBaselineError,
    Problem,
    ReportError,
    RunError,
    ScenarioError,
    StoreError,
    SwarmError,
    UnknownRunError,
    UnresolvedVariableError,
    UsageError,
    exit_code_for,
)
from framework.run.folder import RunRecord, create_run_folder
from framework.scenario.loader import load_budgets, load_scenario
from framework.store.database import IndexDatabase
from framework.store.results_store import ResultsStore
from framework.store.state import read_state
from framework.timeline.reader import read_timeline
from mock_detectors.loader import parse_config

SCENARIO = """\
name: checkout
host: http://localhost:8001
headers:
  Authorization: Bearer ${API_KEY}
users:
  - name: shopper
    requests:
      - path: /items/${ITEM}
load: {shape: constant, users: 1, duration: 5s}
"""

# The README's "Exit codes" table, by family.
DOCUMENTED = {
    ScenarioError: 2,
    ConfigError: 2,
    UsageError: 2,
    RunError: 3,
    ReportError: 3,
    KeyboardInterrupt: 130,
}


def _run_folder(reports: Path, run_id: str, scenario: str = "checkout") -> None:
    folder = reports / run_id
    folder.mkdir(parents=True)
    run = {"run_id": run_id, "scenario": scenario, "status": "finished",
           "started_at": "2026-11-27T09:00:00.000Z"}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


def _record() -> RunRecord:
    return RunRecord("r1", "checkout", "s.yaml", None, "")


def test_each_family_maps_to_its_documented_exit_code():
    assert {
        family: int(code) for family, code in EXIT_CODES.items() if family is not SwarmError
    } == (DOCUMENTED)
    assert EXIT_CODES[SwarmError] == ExitCode.RUN_FAILED
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 130]


@pytest.mark.parametrize(
    "leaf",
    [UnresolvedVariableError, DetectorConfigError, UnknownRunError, NoBaselineError, StoreError],
)
def test_a_leaf_ends_with_the_code_of_its_family(leaf):
    family = next(f for f in leaf.__mro__ if f in DOCUMENTED)
    assert exit_code_for(leaf.__new__(leaf)) == DOCUMENTED[family]


def test_no_error_class_states_its_own_exit_code():
    stated = [
        name
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, SwarmError) and "exit_code" in vars(cls)
        and cls is not SwarmError
    ]  # fmt: skip
    assert stated == []


def test_something_not_in_the_tree_has_no_exit_code():
    with pytest.raises(KeyError, match="ValueError has no exit code"):
        exit_code_for(ValueError("x"))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ScenarioError([]), 2),
        (ConfigError("bad budgets", file="b.yaml"), 2),
        (UsageError("bad flag", flag="--metric", value="p42"), 2),
        (RunError("no locust"), 3),
        (ReportError("no timeline"), 3),
        (StoreError("locked"), 3),
        (KeyboardInterrupt(), 130),
    ],
)
def test_the_swarm_command_exits_with_the_code_of_the_error_family(
    monkeypatch, capsys, error, code
):
    def fail(*_args):
        raise error

    monkeypatch.setattr("framework.cli.main.dispatch", fail)
    assert main.main(["schema"]) == code
    assert capsys.readouterr().err.startswith("swarm: ")


def test_dispatch_keeps_no_exit_code_table_of_its_own():
    assert not [name for name in vars(commands) if name.startswith("EXIT_")]


def test_a_scenario_error_names_its_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nusers: 5\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    assert caught.value.file == str(path)
    assert type(caught.value) is ScenarioError


def test_unset_variables_are_named_on_the_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    with pytest.raises(UnresolvedVariableError) as caught:
        load_scenario(path, env={})
    assert caught.value.variables == ("API_KEY", "ITEM")
    assert caught.value.file == str(path)


def test_unset_variables_beside_other_problems_are_a_plain_scenario_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("users: 1,", "users: -1,"), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    assert type(caught.value) is ScenarioError


def test_a_budgets_file_error_names_the_file(tmp_path):
    path = tmp_path / "budgets.yaml"
    path.write_text("p95: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_budgets(path)
    assert (caught.value.file, caught.value.flag) == (str(path), None)


def test_a_detector_config_error_names_the_file_and_its_problems():
    with pytest.raises(DetectorConfigError) as caught:
        parse_config("detectors: 5\n", "d.yaml")
    assert caught.value.file == "d.yaml"
    assert caught.value.problems and all(p.file == "d.yaml" for p in caught.value.problems)


def test_a_bad_run_id_names_the_flag_and_the_value(tmp_path):
    with pytest.raises(UsageError) as caught:
        create_run_folder(tmp_path, "../x", _record(), started=datetime.now(UTC))
    assert (caught.value.flag, caught.value.value) == ("--run-id", "../x")


def test_a_taken_run_folder_names_its_path(tmp_path):
    (tmp_path / "r1").mkdir()
    with pytest.raises(RunError) as caught:
        create_run_folder(tmp_path, "r1", _record(), started=datetime.now(UTC))
    assert caught.value.path == (tmp_path / "r1").resolve()


def test_a_timeline_of_an_unknown_version_names_the_file_and_line(tmp_path):
    path = tmp_path / "timeline.jsonl"
    path.write_text('{"type": "header", "format": "swarm-timeline", "version": 7}\n[]\n{}\n')
    with pytest.raises(ReportError) as caught:
        read_timeline(path)
    assert (caught.value.path, caught.value.line) == (path, 1)


def test_an_unknown_run_names_the_id_the_folder_and_the_closest_ids(tmp_path):
    _run_folder(tmp_path, "20261127T094512Z-checkout")
    with pytest.raises(UnknownRunError) as caught:
        ResultsStore(tmp_path).show("20261127T094521Z-checkout")
    error = caught.value
    assert error.run_id == error.value == "20261127T094521Z-checkout"
    assert error.suggestions == ("20261127T094512Z-checkout",)
    assert error.reports_dir == tmp_path.resolve()


def test_no_baseline_names_the_scenario_and_the_reference(tmp_path):
    _run_folder(tmp_path, "r1")
    for reference in ("latest", "pinned"):
        with pytest.raises(NoBaselineError) as caught:
            resolve_baseline(reference, "search", tmp_path)
        error = caught.value
        assert (error.scenario, error.reference) == ("search", reference)
        assert (error.flag, error.value) == ("--baseline", reference)


def test_an_unreadable_store_file_names_its_path(tmp_path):
    path = tmp_path / "store.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError) as caught:
        read_state(path)
    assert (caught.value.path, caught.value.corrupt) == (path, False)


def test_a_locked_index_is_told_by_sqlite_s_error_code_not_its_text(tmp_path):
    db = IndexDatabase(tmp_path)
    with db.transaction(write=True) as conn:
        conn.execute("SELECT 1")
    holder = sqlite3.connect(db.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        waiter = sqlite3.connect(db.path, timeout=0)
        with pytest.raises(sqlite3.OperationalError) as locked:
            waiter.execute("BEGIN IMMEDIATE")
        waiter.close()
    finally:
        holder.rollback()
        holder.close()
    error = db._error(locked.value)
    assert "still locked" in str(error)
    assert (error.path, error.corrupt) == (db.path, False)
    renamed = sqlite3.OperationalError("the database is locked up")  # no sqlite error code
    assert "still locked" not in str(db._error(renamed))


def test_a_damaged_index_is_a_corrupt_store_error(tmp_path):
    db = IndexDatabase(tmp_path)
    error = db._error(sqlite3.DatabaseError("file is not a database"))
    assert (error.path, error.corrupt) == (db.path, True)


def test_distributed_error_is_gone():
    assert not hasattr(errors, "DistributedError")


def test_a_problem_from_a_flag_names_the_flag_instead_of_a_line():
    at_flag = Problem("s.yaml", None, None, "load.users", "must be >= 1", "--set load.users")
    assert str(at_flag) == "s.yaml: --set load.users: must be >= 1"
    below = Problem("s.yaml", None, None, "load.steps", "required field is missing", "--set load")
    assert str(below) == "s.yaml: --set load: load.steps: required field is missing"
    assert str(Problem("s.yaml", 3, 7, "load.users", "must be >= 1")) == (
        "s.yaml:3:7: load.users: must be >= 1"
    )
