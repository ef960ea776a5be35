"""Unit tests of framework.store.results_store on run folders written here: run.json and Results."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from framework.errors import ReportError, StoreError, UnknownRunError, UsageError
from framework.store.database import SCHEMA_VERSION
from framework.store.records import HistoryPoint
from framework.store.results_store import ResultsStore
from framework.verdicts.results import EndpointResult, Figure, QualityResult, Results, Window
from framework.verdicts.results import Figure as Estimate


def figure(value: float, spread: float = 0.03) -> Figure:
    return Figure(value, value * (1 - spread), value * (1 + spread), n=60, method="batch means")


def endpoint(name: str, method: str, p95: float, *, rps: float = 50.0, errors: float = 0.0):
    return EndpointResult(
        name=name,
        method=method,
        count=3000,
        failures=int(3000 * errors),
        failures_by_kind={},
        timeouts=0,
        bytes=0,
        min_ms=1.0,
        max_ms=p95 * 2,
        p90_ms=p95 * 0.9,
        mean_ms=figure(p95 / 2),
        median_ms=figure(p95 / 3),
        p95_ms=figure(p95),
        p99_ms=figure(p95 * 1.5),
        throughput_rps=figure(rps),
        error_rate=figure(errors) if errors else Figure(0.0, 0.0, 0.001),
        quality=QualityResult("pass"),
    )


def write_run(
    reports: Path,
    run_id: str,
    *,
    scenario: str = "checkout",
    started: str = "2026-11-27T09:00:00.000Z",
    status: str = "finished",
    p95: float | None = 100.0,
    verdict: str = "passed",
    endpoints: dict[str, float] | None = None,
    **run_fields,
) -> Path:
    """A run folder as ``swarm run`` leaves it: run.json, and results.json unless p95 is None."""
    folder = reports / run_id
    folder.mkdir(parents=True)
    run = {
        "run_id": run_id,
        "scenario": scenario,
        "scenario_file": str(reports / "no-such-scenario.yaml"),
        "host": "http://shop.local",
        "started_at": started,
        "ended_at": started.replace("T09", "T10"),
        "status": status,
        "exit_code": 0 if status == "finished" else 130,
        "tags": {"env": "ci"},
        **run_fields,
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    if p95 is not None:
        named = endpoints if endpoints is not None else {"GET home": p95 * 0.8, "POST buy": p95}
        window = Window(
            "steady",
            10.0,
            70.0,
            4,
            endpoint("Aggregated", "", p95, rps=100.0),
            tuple(endpoint(k.split()[1], k.split()[0], v) for k, v in named.items()),
        )
        results = Results("a", started, run, {}, window, verdict=verdict)  # type: ignore[arg-type]
        (folder / "results.json").write_text(json.dumps(results.to_dict()), encoding="utf-8")
    return folder


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"


@pytest.fixture
def store(reports: Path) -> ResultsStore:
    return ResultsStore(reports)


def test_index_reads_run_json_and_results_into_a_summary(reports, store):
    folder = write_run(reports, "r1", endpoints={"GET home": 80.0})
    run = store.index(folder)
    assert (run.run_id, run.scenario, run.status, run.exit_code) == (
        "r1",
        "checkout",
        "finished",
        0,
    )
    assert run.started_at == "2026-11-27T09:00:00.000Z"
    assert run.ended_at == "2026-11-27T10:00:00.000Z"
    assert (run.verdict, run.host, dict(run.tags), run.pinned) == (
        "passed", "http://shop.local", {"env": "ci"}, False,
    )  # fmt: skip
    assert run.path == folder.resolve()
    assert run.git_revision is None  # the scenario file is in no repository
    assert run.overall is not None
    assert run.overall.name == "overall"
    assert run.overall.count == 3000
    assert run.overall.p95_ms == Estimate(100.0, 97.0, 103.0)
    assert run.overall.throughput_rps.value == 100.0
    assert run.overall.grade == "pass"
    details = store.show("r1")
    assert details.run == run
    assert details.scenario_file.endswith("no-such-scenario.yaml")
    assert [(f.name, f.p95_ms.value) for f in details.endpoints] == [("GET home", 80.0)]
    with sqlite3.connect(reports / "index.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_run_without_results_is_listed_without_figures(reports, store):
    write_run(reports, "crashed", status="failed", p95=None)
    (run,) = store.list()
    assert (run.run_id, run.status, run.verdict, run.overall) == ("crashed", "failed", None, None)
    assert store.show("crashed").endpoints == ()


def test_list_is_newest_first_and_filters_by_scenario_status_and_limit(reports, store):
    write_run(reports, "old", started="2026-11-01T09:00:00Z")
    write_run(reports, "new", started="2026-11-03T09:00:00+00:00")
    write_run(reports, "mid", started="2026-11-02T10:00:00.5+01:00", status="interrupted")
    write_run(reports, "other", scenario="search", started="2026-11-04T09:00:00Z")
    assert [r.run_id for r in store.list()] == ["other", "new", "mid", "old"]
    assert [r.run_id for r in store.list("checkout")] == ["new", "mid", "old"]
    assert [r.run_id for r in store.list("checkout", limit=2)] == ["new", "mid"]
    assert [r.run_id for r in store.list(status="interrupted")] == ["mid"]
    assert store.show("mid").run.started_at == "2026-11-02T09:00:00.500Z"  # normalised to UTC
    assert store.scenarios() == ("checkout", "search")


def test_latest_is_the_newest_finished_run_of_the_scenario(reports, store):
    write_run(reports, "a", started="2026-11-01T09:00:00Z")
    write_run(reports, "b", started="2026-11-02T09:00:00Z")
    write_run(reports, "c", started="2026-11-03T09:00:00Z", status="interrupted")
    write_run(reports, "d", scenario="search", started="2026-11-04T09:00:00Z")
    assert store.latest("checkout").run_id == "b"
    assert store.latest("checkout", exclude_run_id="b").run_id == "a"
    assert store.latest("checkout", before="2026-11-02T09:00:00Z").run_id == "a"
    assert store.latest("checkout", status=None).run_id == "c"
    assert store.latest("nothing") is None


def test_latest_skips_a_finished_run_that_exited_3(reports, store):
    """A run that lost a worker finishes with exit code 3: it is no baseline."""
    write_run(reports, "a", started="2026-11-01T09:00:00Z")
    write_run(reports, "lost", started="2026-11-02T09:00:00Z", exit_code=3)
    assert store.latest("checkout").run_id == "a"
    assert store.latest("checkout", status=None).run_id == "lost"


def test_a_run_that_exited_3_is_never_listed_as_passed(reports, store):
    """Even when its results.json (written by an older swarm) says passed."""
    write_run(reports, "lost", exit_code=3, verdict="passed")
    write_run(reports, "clean", started="2026-11-26T09:00:00Z", verdict="passed")
    assert {r.run_id: r.verdict for r in store.list()} == {"lost": "failed", "clean": "passed"}
    assert store.show("lost").run.verdict == "failed"


def test_a_running_run_whose_swarm_process_died_lists_as_interrupted(reports, store):
    """Indexed while its swarm lived, the run is re-checked at each sync until it ends."""
    swarm = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {
            "pid": swarm.pid,
            "host": socket.gethostname(),
            "started": psutil.Process(swarm.pid).create_time(),
        }
        write_run(reports, "r1", status="running", p95=None, exit_code=None, swarm_process=owner)
        assert [(r.run_id, r.status) for r in store.list()] == [("r1", "running")]
        assert [(r.run_id, r.status) for r in store.list()] == [("r1", "running")]
    finally:
        swarm.kill()
        swarm.wait(10)
    (run,) = store.list()
    assert (run.run_id, run.status, run.exit_code) == ("r1", "interrupted", 130)
    assert run.ended_at is not None
    record = json.loads((reports / "r1" / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "interrupted"
    assert f"swarm (pid {swarm.pid}) ended without finishing the run" in record["message"]
    assert store.list(status="interrupted")[0].run_id == "r1"


def test_pinning_replaces_the_scenarios_previous_pin(reports, store):
    write_run(reports, "a", started="2026-11-01T09:00:00Z")
    write_run(reports, "b", started="2026-11-02T09:00:00Z")
    write_run(reports, "s", scenario="search")
    assert store.pinned("checkout") is None
    assert store.pin("a").pinned
    assert store.pin("s").pinned
    assert store.pinned("checkout").run_id == "a"
    store.pin("b")
    assert store.pinned("checkout").run_id == "b"
    assert sorted(r.run_id for r in store.list() if r.pinned) == ["b", "s"]
    assert store.unpin("b").pinned is False
    assert store.pinned("checkout") is None
    with pytest.raises(UsageError, match="'a' is not pinned"):
        store.unpin("a")


def test_pins_survive_deleting_and_rebuilding_the_index(reports, store):
    write_run(reports, "a")
    store.pin("a")
    (reports / "index.sqlite").unlink()
    assert store.pinned("checkout").run_id == "a"
    store.rebuild()
    assert store.pinned("checkout").run_id == "a"


def test_an_unknown_run_id_suggests_the_closest_ids(reports, store):
    write_run(reports, "20261127T094512Z-checkout")
    write_run(reports, "20261128T101010Z-search", scenario="search")
    with pytest.raises(UnknownRunError) as caught:
        store.show("20261127T094521Z-checkout")
    assert caught.value.suggestions == ("20261127T094512Z-checkout",)
    assert caught.value.exit_code == 2
    assert "did you mean '20261127T094512Z-checkout'?" in str(caught.value)
    for action in (store.pin, store.unpin, store.remove):
        with pytest.raises(UnknownRunError):
            action("nope")


def test_a_folder_deleted_by_hand_disappears_from_listings(reports, store):
    store.index(write_run(reports, "a", started="2026-11-01T09:00:00Z"))
    store.index(write_run(reports, "b", started="2026-11-02T09:00:00Z"))
    store.pin("b")
    shutil.rmtree(reports / "b")
    assert [r.run_id for r in store.list()] == ["a"]
    assert store.latest("checkout").run_id == "a"
    assert store.pinned("checkout") is None
    with pytest.raises(UnknownRunError):
        store.show("b")


def test_new_and_rewritten_folders_are_indexed_without_being_asked(reports, store):
    store.index(write_run(reports, "a", started="2026-11-01T09:00:00Z"))
    write_run(reports, "b", started="2026-11-02T09:00:00Z", p95=None)
    assert [(r.run_id, r.verdict) for r in store.list()] == [("b", None), ("a", "passed")]
    shutil.rmtree(reports / "b")
    write_run(reports, "b", started="2026-11-02T09:00:00Z", verdict="failed", p95=120.0)
    assert store.show("b").run.verdict == "failed"
    assert store.show("b").run.overall.p95_ms.value == 120.0


def test_broken_folders_are_skipped_and_reported_by_rebuild(reports, store):
    write_run(reports, "good")
    (reports / "broken").mkdir()
    (reports / "broken" / "run.json").write_text("{not json", encoding="utf-8")
    (reports / "not-a-run").mkdir()
    (reports / "stray.txt").write_text("hello", encoding="utf-8")
    assert [r.run_id for r in store.list()] == ["good"]
    result = store.rebuild()
    assert result.indexed == 1
    ((folder, reason),) = result.skipped
    assert folder.name == "broken"
    assert "run.json: unreadable" in reason
    with pytest.raises(ReportError, match=r"run\.json: unreadable"):
        store.index(reports / "broken")
    with pytest.raises(ReportError, match=r"missing; is .* a swarm run folder"):
        store.index(reports / "not-a-run")


def test_remove_keeps_the_folder_out_of_the_index_until_it_is_indexed_again(reports, store):
    folder = write_run(reports, "a")
    store.pin("a")
    assert store.remove("a") == folder.resolve()
    assert folder.is_dir()
    assert store.list() == ()
    assert store.rebuild().indexed == 0
    assert store.pinned("checkout") is None
    store.index(folder)
    assert [r.run_id for r in store.list()] == ["a"]


def test_remove_with_delete_folder_deletes_it(reports, store):
    folder = write_run(reports, "a")
    store.remove("a", delete_folder=True)
    assert not folder.exists()
    assert store.list() == ()


def test_rebuild_re_creates_the_index_and_keeps_captured_git_revisions(reports, store):
    store.index(write_run(reports, "a", git_revision="abc123"))
    write_run(reports, "b")
    store.sync()
    with sqlite3.connect(reports / "index.sqlite") as conn:
        conn.execute("UPDATE runs SET git_revision = 'def456' WHERE run_id = 'b'")
    result = store.rebuild()
    assert (result.indexed, result.skipped) == (2, ())
    assert {r.run_id: r.git_revision for r in store.list()} == {"a": "abc123", "b": "def456"}


def test_a_corrupt_index_is_a_store_error_that_rebuild_repairs(reports, store):
    write_run(reports, "a")
    store.sync()
    for suffix in ("-wal", "-shm"):
        (reports / f"index.sqlite{suffix}").unlink(missing_ok=True)
    (reports / "index.sqlite").unlink()
    (reports / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"unreadable .* 'swarm runs rebuild") as caught:
        store.list()
    assert caught.value.exit_code == 3
    assert store.rebuild().indexed == 1
    assert [r.run_id for r in store.list()] == ["a"]
    assert (reports / "index.sqlite.corrupt").exists()


def test_a_locked_index_is_an_error_but_never_taken_for_a_corrupt_one(reports, store, monkeypatch):
    write_run(reports, "a")
    store.sync()
    monkeypatch.setattr("framework.store.database.BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(reports / "index.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="still locked by another swarm process") as caught:
            ResultsStore(reports).rebuild()
        assert caught.value.corrupt is False
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not (reports / "index.sqlite.corrupt").exists()
    assert [r.run_id for r in store.list()] == ["a"]


def test_an_index_of_another_schema_version_is_re_created(reports, store):
    write_run(reports, "a")
    store.sync()
    with sqlite3.connect(reports / "index.sqlite") as conn:
        conn.execute("CREATE TABLE leftovers (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    assert [r.run_id for r in store.list()] == ["a"]
    with sqlite3.connect(reports / "index.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"runs", "figures", "metric_figures"}


def test_reading_a_reports_folder_that_does_not_exist_creates_nothing(tmp_path):
    store = ResultsStore(tmp_path / "nowhere")
    assert store.list() == ()
    assert store.latest("checkout") is None
    assert store.pinned("checkout") is None
    for action in (store.show, store.pin, store.unpin, store.remove):
        with pytest.raises(UnknownRunError):
            action("a")
    assert not (tmp_path / "nowhere").exists()


def test_a_run_folder_outside_the_reports_folder_is_indexed_by_its_path(tmp_path, store):
    folder = write_run(tmp_path / "elsewhere", "far")
    store.index(folder)
    assert store.show("far").run.path == folder.resolve()
    shutil.rmtree(folder)
    assert store.list() == ()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_git_revision_of_the_scenario_repository_is_captured_at_index_time(reports, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "scenario.yaml").write_text("name: checkout\n", encoding="utf-8")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin:/usr/local/bin"}  # fmt: skip
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True, env=env)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = write_run(reports, "a", scenario_file=str(repo / "scenario.yaml"))
    write_run(reports, "b", scenario_file=str(repo / "scenario.yaml"))
    store = ResultsStore(reports)
    assert store.index(folder).git_revision == head
    # Found by a sync later, a run's revision is unknown: HEAD may have moved since.
    assert store.show("b").run.git_revision is None


def test_history_lists_one_metric_oldest_first(reports, store):
    for day, p95 in ((3, 103.0), (1, 101.0), (2, 102.0)):
        write_run(reports, f"r{day}", started=f"2026-11-0{day}T09:00:00Z", p95=p95)
    write_run(reports, "r4", started="2026-11-04T09:00:00Z", status="interrupted", p95=500.0)
    write_run(reports, "r5", started="2026-11-05T09:00:00Z", p95=None)
    write_run(reports, "s1", scenario="search", p95=1.0)
    assert store.history("checkout") == (
        HistoryPoint("r1", "2026-11-01T09:00:00.000Z", 101.0, 97.97, 104.03),
        HistoryPoint("r2", "2026-11-02T09:00:00.000Z", 102.0, 98.94, 105.06),
        HistoryPoint("r3", "2026-11-03T09:00:00.000Z", 103.0, 99.91, 106.09),
    )
    assert [p.value for p in store.history("checkout", metric="throughput")] == [100.0] * 3
    assert [p.run_id for p in store.history("checkout", status=None)] == ["r1", "r2", "r3", "r4"]
    assert [p.value for p in store.history("checkout", "POST buy")] == [101.0, 102.0, 103.0]
    assert [p.value for p in store.history("checkout", "home", "p50")] == pytest.approx(
        [v * 0.8 / 3 for v in (101.0, 102.0, 103.0)]
    )


def test_history_rejects_unknown_metrics_scenarios_and_names_with_suggestions(reports, store):
    write_run(reports, "a", endpoints={"GET item": 1.0, "POST item": 2.0, "GET home": 1.0})
    with pytest.raises(UsageError, match=r"unknown metric 'p59'; did you mean .*'p95'"):
        store.history("checkout", metric="p59")
    with pytest.raises(UsageError, match=r"unknown scenario 'chekout' .*did you mean 'checkout'"):
        store.history("chekout")
    with pytest.raises(UsageError, match=r"did you mean 'GET home'"):
        store.history("checkout", "GET hme")
    with pytest.raises(UsageError, match=r"several methods; give one of 'GET item', 'POST item'"):
        store.history("checkout", "item")


def _index_many(reports: str, run_ids: list[str]) -> int:
    store = ResultsStore(Path(reports))
    for run_id in run_ids:
        store.index(Path(reports) / run_id)
        store.list(limit=3)
    return len(run_ids)


def _assert_complete(reports: Path, count: int) -> None:
    with sqlite3.connect(reports / "index.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == count
        assert conn.execute("SELECT count(*) FROM figures").fetchone()[0] == count * 3
    assert len(ResultsStore(reports).list(limit=None)) == count


def test_threads_indexing_at_once_leave_a_complete_index(reports):
    groups = [[f"t{g}-{i}" for i in range(10)] for g in range(4)]
    for run_id in (run_id for ids in groups for run_id in ids):
        write_run(reports, run_id)
    errors = []

    def work(ids):
        try:
            _index_many(str(reports), ids)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids,)) for ids in groups]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_complete(reports, 40)


def test_processes_indexing_at_once_leave_a_complete_index(reports):
    groups = [[f"p{g}-{i}" for i in range(10)] for g in range(3)]
    for run_id in (run_id for ids in groups for run_id in ids):
        write_run(reports, run_id)
    # Plain child processes: a process pool's helper threads and semaphores block forever
    # once gevent has patched this process (any test module importing Locust does that).
    code = "import sys; from tests.unit.store.test_store import _index_many; "
    code += "print(_index_many(sys.argv[1], sys.argv[2:]))"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(reports), *ids],
            cwd=Path(__file__).resolve().parents[3],
            stdout=subprocess.PIPE,
            text=True,
        )
        for ids in groups
    ]
    done = [int(child.communicate(timeout=120)[0]) for child in children]
    assert done == [10, 10, 10]
    _assert_complete(reports, 30)
