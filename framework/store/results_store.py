"""The results store: an SQLite index of every run folder, for listings, baselines and history.

The run folders are the truth; ``reports/index.sqlite`` is a cache of what they hold
(scenario, times, status, verdict, git revision, key figures per request name), so that
listing runs, finding the latest or pinned baseline and drawing a metric's history never
re-read hundreds of JSON files.  Delete the index and the next command re-creates it; an
index of another schema version is re-created the same way.  Two things are not in the
folders, so they live beside the index in ``reports/store.json``: the pinned run of each
scenario, and the runs removed from the index whose folders were kept.

Every read first *syncs* the index with the folders (two ``stat`` calls per folder): new
folders are indexed, changed ones re-read, folders deleted by hand dropped.  Writes are short
``BEGIN IMMEDIATE`` transactions in WAL mode, so runs that end at the same moment (CI jobs
sharing one reports folder) can index concurrently.  A run's id is its folder's name, which
is what ``swarm report RUN`` and ``--baseline RUN`` take.

This module answers the questions; the parts it builds on live beside it:
``run_records`` (the values it returns), ``run_reader`` (one folder to rows),
``index_database`` (the SQLite file), ``index_sync`` (folders to index) and
``store_state`` (store.json).

Example::

    store = ResultsStore(Path("reports"))
    store.index(Path("reports/20261127T094512Z-checkout"))   # after the run's report
    store.latest("checkout")                  # RunSummary of the newest finished run (exit 0)
    store.history("checkout", metric="p95")   # HistoryPoint(run_id, started_at, value, low, high)s
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from framework.errors import StoreError, UnknownRunError, UsageError
from framework.run.revision import git_revision
from framework.scenario.metrics import FIGURE_FIELDS
from framework.store.database import (
    SUMMARY_QUERY,
    IndexDatabase,
    key_figures,
    run_summary,
    upsert_run,
)
from framework.store.records import (
    HistoryPoint,
    MetricHistory,
    RebuildResult,
    RunDetails,
    RunSummary,
)
from framework.store.run_reader import iso_time, now_iso, read_folder
from framework.store.state import STATE_FILE, read_state, write_state
from framework.store.sync import sync_index
from framework.suggestions import closest, unknown_text
from framework.timeline.endpoints import OVERALL, request_name

__all__ = ["DEFAULT_METRIC_FIGURES", "METRICS", "ResultsStore"]


# Metric names of ``history`` (and ``swarm history --metric``) to results.json figure names:
# the key metrics, and ``median`` for p50.
METRICS = {
    metric: FIGURE_FIELDS["p50" if metric == "median" else metric]
    for metric in ("p50", "median", "p95", "p99", "mean", "throughput", "error_rate")
}


DEFAULT_METRIC_FIGURES = {"histogram": "p95", "timer": "p95", "counter": "rate",
                          "meter": "rate", "gauge": "mean"}  # fmt: skip
"""The figure ``metric_history`` follows for each kind of custom metric unless told."""


class ResultsStore:
    """The index of the run folders in ``reports_dir`` (see the module docstring)."""

    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = Path(reports_dir).resolve()
        self._db = IndexDatabase(self.reports_dir)
        self.path = self._db.path
        self.state_path = self.reports_dir / STATE_FILE

    def close(self) -> None:
        """Close this thread's connection to the index; the next call opens another."""
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.reports_dir)!r})"

    # -- writing ---------------------------------------------------------------------------

    def index(self, run_dir: Path, *, capture_git: bool = True) -> RunSummary:
        """Read ``run_dir``'s run.json and results.json into the index and return its summary.

        The git revision is taken from run.json when it has one; else kept from an earlier
        index of the same run; else, with ``capture_git``, read now from the repository of
        the scenario file, which is right only just after the run (so ``sync`` and
        ``rebuild`` never capture).  Indexing a run that was removed brings it back.
        """
        run_dir = Path(run_dir).resolve()
        run, figures = read_folder(run_dir)
        run["path"] = self._db.stored_path(run_dir)
        if run["git_revision"] is None:
            with self._db.transaction(write=False) as conn:
                old = conn.execute(
                    "SELECT git_revision FROM runs WHERE run_id = ?", (run["run_id"],)
                ).fetchone()
            if old is not None and old[0]:
                run["git_revision"] = old[0]
            elif capture_git:
                run["git_revision"] = git_revision(run["scenario_file"])
        with self._db.transaction(write=True) as conn:
            upsert_run(conn, run, figures)
            state = self._state()
            if state["removed"].pop(run["path"], None) is not None:
                self._save_state(state)
        return self._summary(run["run_id"])

    def pin(self, run_id: str) -> RunSummary:
        """Make ``run_id`` the pinned baseline of its scenario (replacing any other pin)."""
        self.sync()
        self._require_folder(run_id)
        with self._db.transaction(write=True) as conn:  # the write lock also guards store.json
            scenario = self._column(conn, run_id, "scenario")
            state = self._state()
            state["pins"][scenario] = run_id
            self._save_state(state)
        return self._summary(run_id)

    def unpin(self, run_id: str) -> RunSummary:
        """Remove ``run_id``'s pin; its scenario then has no pinned run."""
        self.sync()
        self._require_folder(run_id)
        with self._db.transaction(write=True) as conn:
            scenario = self._column(conn, run_id, "scenario")
            state = self._state()
            if state["pins"].get(scenario) != run_id:
                raise UsageError(
                    f"run {run_id!r} is not pinned (scenario {scenario!r})", value=run_id
                )
            del state["pins"][scenario]
            self._save_state(state)
        return self._summary(run_id)

    def remove(self, run_id: str, *, delete_folder: bool = False) -> Path:
        """Drop ``run_id`` from the index (and its pin); return its folder.

        Without ``delete_folder`` the folder stays and is remembered as removed, so ``sync``
        and ``rebuild`` leave it out (``index`` brings it back); with it the folder is deleted.
        """
        self.sync()
        self._require_folder(run_id)
        with self._db.transaction(write=True) as conn:
            stored = self._column(conn, run_id, "path")
            folder = self._db.folder(stored)
            if delete_folder and not (folder / "run.json").is_file():
                raise StoreError(f"{folder} holds no run.json; not deleting it", path=folder)
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            state = self._state()
            state["pins"] = {s: r for s, r in state["pins"].items() if r != run_id}
            if not delete_folder:
                state["removed"][stored] = now_iso()
            self._save_state(state)
        if delete_folder:  # after the commit: a long delete must not hold the write lock
            try:
                shutil.rmtree(folder)
            except OSError as exc:
                raise StoreError(f"cannot delete {folder}: {exc.strerror}", path=folder) from None
        return folder

    def sync(self) -> None:
        """Bring the index up to date with the folders: add new, re-read changed, drop gone.

        Folders that cannot be read (no run.json yet, broken JSON) are left out until they
        can; ``rebuild`` reports them.
        """
        sync_index(self._db, self.state_path)

    def rebuild(self) -> RebuildResult:
        """Re-create the index from every run folder (pins and removals are kept).

        A corrupt index file is moved aside to ``index.sqlite.corrupt`` first, so this is also
        the cure for "the index is unreadable".
        """
        try:
            with self._db.transaction(write=True) as conn:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StoreError("; ".join(problems), path=self.path, corrupt=True)
        except StoreError as exc:
            if not exc.corrupt or not self.path.exists():
                raise
            self._db.move_aside()
        result = sync_index(self._db, self.state_path, force=True)
        with self._db.transaction(write=True):
            state = self._state()
            state["removed"] = {
                path: when
                for path, when in state["removed"].items()
                if (self._db.folder(path) / "run.json").is_file()
            }
            self._save_state(state)
        return result

    # -- reading ---------------------------------------------------------------------------

    def show(self, run_id: str) -> RunDetails:
        """Everything indexed about ``run_id``; ``UnknownRunError`` suggests close ids."""
        self.sync()
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT scenario_file, indexed_at FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            endpoints = tuple(
                key_figures(r)
                for r in conn.execute(
                    "SELECT * FROM figures WHERE run_id = ? AND name != ? ORDER BY name",
                    (run_id, OVERALL),
                )
            )
        return RunDetails(self._summary(run_id), row[0], row[1], endpoints)

    def list(
        self, scenario: str | None = None, *, limit: int | None = 20, status: str | None = None
    ) -> tuple[RunSummary, ...]:
        """Indexed runs, newest first, optionally of one ``scenario`` and ``status``."""
        self.sync()
        where, params = _filters(scenario=scenario, status=status)
        tail = where + " ORDER BY r.started_at DESC, r.run_id DESC"
        if limit is not None:
            tail += " LIMIT ?"
            params.append(limit)
        return self._summaries(tail, params)

    def latest(
        self,
        scenario: str,
        *,
        before: str | None = None,
        status: str | None = "finished",
        exclude_run_id: str | None = None,
    ) -> RunSummary | None:
        """The newest run of ``scenario`` (started before ``before``, an ISO time) or ``None``.

        A ``finished`` run counts only if it exited 0: one that finished with exit code 3
        (a worker was lost) is no baseline.
        """
        self.sync()
        where, params = _filters(scenario=scenario, status=status)
        if status == "finished":
            where += " AND COALESCE(r.exit_code, 0) = 0"
        if before is not None:
            where += " AND r.started_at < ?"
            params.append(iso_time(before))
        if exclude_run_id is not None:
            where += " AND r.run_id != ?"
            params.append(exclude_run_id)
        newest = " ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1"
        found = self._summaries(where + newest, params)
        return found[0] if found else None

    def pinned(self, scenario: str) -> RunSummary | None:
        """The pinned run of ``scenario``, or ``None`` (also when its folder is gone)."""
        self.sync()
        run_id = self._state()["pins"].get(scenario)
        if run_id is None:
            return None
        found = self._summaries(" WHERE r.run_id = ?", [run_id])
        return found[0] if found else None

    def scenarios(self) -> tuple[str, ...]:
        """Every scenario with at least one indexed run, sorted."""
        self.sync()
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT DISTINCT scenario FROM runs ORDER BY scenario")
            return tuple(r[0] for r in rows)

    def history(
        self,
        scenario: str,
        name: str = OVERALL,
        metric: str = "p95",
        *,
        status: str | None = "finished",
    ) -> tuple[HistoryPoint, ...]:
        """``metric`` of request ``name`` in each run of ``scenario``, oldest first.

        ``metric`` is one of ``METRICS``; ``name`` is ``overall``, a key such as ``GET /item``
        or a bare request name that only one method uses.  Runs without that figure (not
        analysed, no requests of that name) are left out.
        """
        column = METRICS.get(metric)
        if column is None:
            raise UsageError(unknown_text("metric", metric, sorted(METRICS)), value=metric)
        self.sync()
        with self._db.transaction(write=False) as conn:
            scenarios = [r[0] for r in conn.execute("SELECT DISTINCT scenario FROM runs")]
            if scenario not in scenarios:
                raise UsageError(
                    unknown_text("scenario", scenario, scenarios, self.reports_dir), value=scenario
                )
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT f.name FROM figures f JOIN runs r USING (run_id) "
                    "WHERE r.scenario = ?",
                    (scenario,),
                )
            ]
            key = _match_name(name, names, scenario)
            where, params = _filters(scenario=scenario, status=status)
            rows = conn.execute(
                f"SELECT r.run_id, r.started_at, f.{column}, f.{column}_low, f.{column}_high "
                f"FROM runs r JOIN figures f ON f.run_id = r.run_id AND f.name = ?{where} "
                f"AND f.{column} IS NOT NULL ORDER BY r.started_at, r.run_id",
                (key, *params),
            )
            return tuple(HistoryPoint(*row) for row in rows)

    def metric_history(
        self,
        scenario: str,
        key: str,
        figure: str | None = None,
        *,
        status: str | None = "finished",
    ) -> MetricHistory:
        """``figure`` of custom metric ``key`` in each run of ``scenario``, oldest first.

        ``key`` is a metric's name (all its dimension sets together) or one dimension set
        (``detector.score{model=fast}``); ``figure`` defaults to the kind's
        (``DEFAULT_METRIC_FIGURES``). An unknown key or figure is a ``UsageError`` naming
        those that were recorded.
        """
        self.sync()
        with self._db.transaction(write=False) as conn:
            recorded = [r[0] for r in conn.execute("SELECT DISTINCT key FROM metric_figures")]
            if key not in recorded:
                raise UsageError(
                    unknown_text("--metric", key, [*METRICS, *recorded]),
                    flag="--metric",
                    value=key,
                )
            scenarios = [r[0] for r in conn.execute("SELECT DISTINCT scenario FROM runs")]
            if scenario not in scenarios:
                raise UsageError(
                    unknown_text("scenario", scenario, scenarios, self.reports_dir), value=scenario
                )
            where, params = _filters(scenario=scenario, status=status)
            kinds = conn.execute(
                "SELECT m.key, m.name, m.kind, m.unit, m.figure FROM metric_figures m "
                f"JOIN runs r USING (run_id){where} ORDER BY r.started_at DESC, r.run_id DESC",
                params,
            ).fetchall()
            keys = list(dict.fromkeys(row["key"] for row in kinds))
            if key not in keys:
                raise UsageError(
                    unknown_text(f"--metric of scenario {scenario!r}:", key, keys),
                    flag="--metric",
                    value=key,
                )
            newest = next(row for row in kinds if row["key"] == key)
            figures = sorted({row["figure"] for row in kinds if row["key"] == key})
            chosen = figure or DEFAULT_METRIC_FIGURES.get(newest["kind"], figures[0])
            if chosen not in figures:
                raise UsageError(
                    unknown_text(f"--figure of {key!r}:", chosen, figures),
                    flag="--figure",
                    value=chosen,
                )
            rows = conn.execute(
                "SELECT r.run_id, r.started_at, m.value, m.low, m.high FROM runs r "
                "JOIN metric_figures m ON m.run_id = r.run_id AND m.key = ? AND m.figure = ?"
                f"{where.replace(' WHERE ', ' AND ', 1)} AND m.value IS NOT NULL "
                "ORDER BY r.started_at, r.run_id",
                (key, chosen, *params),
            )
            points = tuple(HistoryPoint(*row) for row in rows)
        return MetricHistory(key, newest["name"], newest["kind"], newest["unit"], chosen, points)

    # -- internals -------------------------------------------------------------------------

    def _summary(self, run_id: str) -> RunSummary:
        found = self._summaries(" WHERE r.run_id = ?", [run_id])
        if not found:
            raise StoreError(
                f"run {run_id!r} vanished from {self.path} while being read", path=self.path
            )
        return found[0]

    def _summaries(self, tail: str, params: Any) -> tuple[RunSummary, ...]:
        pins = set(self._state()["pins"].values())
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(SUMMARY_QUERY + tail, tuple(params)).fetchall()
        return tuple(
            run_summary(row, self._db.folder(row["path"]), pinned=row["run_id"] in pins)
            for row in rows
        )

    def _require_folder(self, run_id: str) -> None:
        """Before a write that names a run: no reports folder, no run (and nothing created)."""
        if not self.reports_dir.is_dir():
            raise UnknownRunError(run_id=run_id, reports_dir=self.reports_dir)

    def _column(self, conn: sqlite3.Connection, run_id: str, column: str) -> Any:
        """``column`` of run ``run_id``; ``UnknownRunError`` suggesting close ids if none."""
        row = conn.execute(f"SELECT {column} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise self._unknown(conn, run_id)
        return row[0]

    def _unknown(self, conn: sqlite3.Connection, run_id: str) -> UnknownRunError:
        ids = [r[0] for r in conn.execute("SELECT run_id FROM runs")]
        return UnknownRunError(
            run_id=run_id, suggestions=closest(run_id, ids), reports_dir=self.reports_dir
        )

    def _state(self) -> dict[str, dict[str, str]]:
        """``store.json``: ``pins`` (scenario to run id), ``removed`` (folder to when)."""
        return read_state(self.state_path)

    def _save_state(self, state: Mapping[str, Any]) -> None:
        """Write ``store.json``; call it inside a write transaction (the lock)."""
        write_state(self.state_path, state)


def _filters(*, scenario: str | None, status: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if scenario is not None:
        clauses.append("r.scenario = ?")
        params.append(scenario)
    if status is not None:
        clauses.append("r.status = ?")
        params.append(status)
    return (" WHERE " + " AND ".join(clauses) if clauses else " WHERE 1"), params


def _match_name(name: str, names: list[str], scenario: str) -> str:
    """``name`` as stored: exact, else the one key whose request name (after the method) it is."""
    if name in names:
        return name
    matches = [key for key in names if request_name(key) == name]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(
            f"request name {name!r} of scenario {scenario!r} is used by several methods; "
            f"give one of {', '.join(map(repr, sorted(matches)))}",
            flag="--name",
            value=name,
        )
    raise UsageError(
        unknown_text(f"request name in scenario {scenario!r}:", name, names),
        flag="--name",
        value=name,
    )
