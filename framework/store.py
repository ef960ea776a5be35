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

Example::

    store = ResultsStore(Path("reports"))
    store.index(Path("reports/20261127T094512Z-checkout"))   # after the run's report
    store.latest("checkout")                  # RunSummary of the newest finished run
    store.history("checkout", metric="p95")   # HistoryPoint(run_id, started_at, value, low, high)s
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from framework.errors import ReportError, UsageError

__all__ = [
    "INDEX_FILE",
    "METRICS",
    "SCHEMA_VERSION",
    "STATE_FILE",
    "Estimate",
    "HistoryPoint",
    "KeyFigures",
    "RebuildResult",
    "ResultsStore",
    "RunDetails",
    "RunSummary",
    "StoreError",
    "UnknownRunError",
]


class StoreError(ReportError):
    """The index cannot be read or written (corrupt file, locked too long, no permission).

    ``corrupt`` is true when the file itself is damaged, which ``rebuild`` cures.
    """

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        self.corrupt = corrupt
        super().__init__(message)


class UnknownRunError(UsageError):
    """No indexed run has this id; ``suggestions`` holds the closest ids."""

    def __init__(self, run_id: str, suggestions: tuple[str, ...], where: Path) -> None:
        self.run_id = run_id
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(map(repr, suggestions))}?" if suggestions else ""
        super().__init__(
            f"no run {run_id!r} in {where}{hint} (swarm runs list --out {where} lists them)"
        )


class Estimate(NamedTuple):
    """A figure and its confidence interval; any part is ``None`` when it was not computed."""

    value: float | None
    low: float | None
    high: float | None


class HistoryPoint(NamedTuple):
    """One run's value of one metric: what ``ResultsStore.history`` returns, oldest first."""

    run_id: str
    started_at: str
    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class KeyFigures:
    """The key figures of one request name (``overall`` for all together) in a run's baseline."""

    name: str
    count: int
    failures: int
    mean_ms: Estimate
    median_ms: Estimate
    p95_ms: Estimate
    p99_ms: Estimate
    throughput_rps: Estimate
    error_rate: Estimate
    grade: str | None


@dataclass(frozen=True)
class RunSummary:
    """One indexed run; ``overall`` is ``None`` until the run has been analysed."""

    run_id: str
    scenario: str
    path: Path
    started_at: str
    ended_at: str | None
    status: str
    exit_code: int | None
    verdict: str | None
    git_revision: str | None
    host: str | None
    tags: Mapping[str, Any] = field(hash=False)
    pinned: bool
    overall: KeyFigures | None


@dataclass(frozen=True)
class RunDetails:
    """``swarm runs show``: the summary, where it came from, and every request name's figures."""

    run: RunSummary
    scenario_file: str | None
    indexed_at: str
    endpoints: tuple[KeyFigures, ...]


@dataclass(frozen=True)
class RebuildResult:
    """What ``rebuild`` indexed, and each folder it skipped with the reason."""

    indexed: int
    skipped: tuple[tuple[Path, str], ...]


SCHEMA_VERSION = 1
INDEX_FILE = "index.sqlite"
STATE_FILE = "store.json"
BUSY_TIMEOUT_S = 30.0
GIT_TIMEOUT_S = 5.0
SYNC_BATCH = 200
OVERALL = "overall"
# Metric names of ``history`` (and ``swarm history --metric``) to results.json figure names.
METRICS = {
    "p50": "median_ms",
    "median": "median_ms",
    "p95": "p95_ms",
    "p99": "p99_ms",
    "mean": "mean_ms",
    "throughput": "throughput_rps",
    "error_rate": "error_rate",
}
_FIGURES = ("mean_ms", "median_ms", "p95_ms", "p99_ms", "throughput_rps", "error_rate")
_FIGURE_COLUMNS = [f"{f}{part}" for f in _FIGURES for part in ("", "_low", "_high")]
_RUN_COLUMNS = (
    "run_id", "path", "signature", "scenario", "scenario_file", "started_at", "ended_at",
    "status", "exit_code", "verdict", "git_revision", "host", "tags", "indexed_at",
)  # fmt: skip
_SCHEMA = (
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, path TEXT NOT NULL, signature TEXT NOT NULL,
        scenario TEXT NOT NULL, scenario_file TEXT, started_at TEXT NOT NULL, ended_at TEXT,
        status TEXT NOT NULL, exit_code INTEGER, verdict TEXT, git_revision TEXT, host TEXT,
        tags TEXT NOT NULL, indexed_at TEXT NOT NULL)""",
    "CREATE INDEX runs_by_scenario ON runs (scenario, started_at)",
    f"""CREATE TABLE figures (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        name TEXT NOT NULL, count INTEGER NOT NULL, failures INTEGER NOT NULL, grade TEXT,
        {", ".join(f"{c} REAL" for c in _FIGURE_COLUMNS)},
        PRIMARY KEY (run_id, name))""",
)


class ResultsStore:
    """The index of the run folders in ``reports_dir`` (see the module docstring)."""

    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = Path(reports_dir).resolve()
        self.path = self.reports_dir / INDEX_FILE
        self.state_path = self.reports_dir / STATE_FILE
        self._local = threading.local()

    def close(self) -> None:
        """Close this thread's connection to the index; the next call opens another."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            self._forget(conn)

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
        run, figures = _read_folder(run_dir)
        run["path"] = self._relative(run_dir)
        if run["git_revision"] is None:
            with self._transaction(write=False) as conn:
                old = conn.execute(
                    "SELECT git_revision FROM runs WHERE run_id = ?", (run["run_id"],)
                ).fetchone()
            if old is not None and old[0]:
                run["git_revision"] = old[0]
            elif capture_git:
                run["git_revision"] = _git_revision(run["scenario_file"])
        with self._transaction(write=True) as conn:
            _upsert(conn, run, figures)
            state = self._state()
            if state["removed"].pop(run["path"], None) is not None:
                self._save_state(state)
        return self._summary(run["run_id"])

    def pin(self, run_id: str) -> RunSummary:
        """Make ``run_id`` the pinned baseline of its scenario (replacing any other pin)."""
        self.sync()
        self._require_folder(run_id)
        with self._transaction(write=True) as conn:  # the write lock also guards store.json
            row = conn.execute("SELECT scenario FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            state = self._state()
            state["pins"][row[0]] = run_id
            self._save_state(state)
        return self._summary(run_id)

    def unpin(self, run_id: str) -> RunSummary:
        """Remove ``run_id``'s pin; its scenario then has no pinned run."""
        self.sync()
        self._require_folder(run_id)
        with self._transaction(write=True) as conn:
            row = conn.execute("SELECT scenario FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            state = self._state()
            if state["pins"].get(row[0]) != run_id:
                raise UsageError(f"run {run_id!r} is not pinned (scenario {row[0]!r})")
            del state["pins"][row[0]]
            self._save_state(state)
        return self._summary(run_id)

    def remove(self, run_id: str, *, delete_folder: bool = False) -> Path:
        """Drop ``run_id`` from the index (and its pin); return its folder.

        Without ``delete_folder`` the folder stays and is remembered as removed, so ``sync``
        and ``rebuild`` leave it out (``index`` brings it back); with it the folder is deleted.
        """
        self.sync()
        self._require_folder(run_id)
        with self._transaction(write=True) as conn:
            row = conn.execute("SELECT path FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            folder = self._absolute(row[0])
            if delete_folder and not (folder / "run.json").is_file():
                raise StoreError(f"{folder} holds no run.json; not deleting it")
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            state = self._state()
            state["pins"] = {s: r for s, r in state["pins"].items() if r != run_id}
            if not delete_folder:
                state["removed"][row[0]] = _now()
            self._save_state(state)
        if delete_folder:  # after the commit: a long delete must not hold the write lock
            try:
                shutil.rmtree(folder)
            except OSError as exc:
                raise StoreError(f"cannot delete {folder}: {exc.strerror}") from None
        return folder

    def sync(self) -> None:
        """Bring the index up to date with the folders: add new, re-read changed, drop gone.

        Folders that cannot be read (no run.json yet, broken JSON) are left out until they
        can; ``rebuild`` reports them.
        """
        self._sync()

    def rebuild(self) -> RebuildResult:
        """Re-create the index from every run folder (pins and removals are kept).

        A corrupt index file is moved aside to ``index.sqlite.corrupt`` first, so this is also
        the cure for "the index is unreadable".
        """
        try:
            with self._transaction(write=True) as conn:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StoreError("; ".join(problems), corrupt=True)
        except StoreError as exc:
            if not exc.corrupt or not self.path.exists():
                raise
            self.close()
            os.replace(self.path, self.path.with_name(INDEX_FILE + ".corrupt"))
            for suffix in ("-wal", "-shm"):
                self.path.with_name(INDEX_FILE + suffix).unlink(missing_ok=True)
        result = self._sync(force=True)
        with self._transaction(write=True):
            state = self._state()
            state["removed"] = {
                path: when
                for path, when in state["removed"].items()
                if (self._absolute(path) / "run.json").is_file()
            }
            self._save_state(state)
        return result

    # -- reading ---------------------------------------------------------------------------

    def show(self, run_id: str) -> RunDetails:
        """Everything indexed about ``run_id``; ``UnknownRunError`` suggests close ids."""
        self.sync()
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT scenario_file, indexed_at FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            endpoints = tuple(
                _key_figures(r)
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
        """The newest run of ``scenario`` (started before ``before``, an ISO time) or ``None``."""
        self.sync()
        where, params = _filters(scenario=scenario, status=status)
        if before is not None:
            where += " AND r.started_at < ?"
            params.append(_iso(before))
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
        with self._transaction(write=False) as conn:
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
            raise UsageError(_unknown_text("metric", metric, sorted(METRICS)))
        self.sync()
        with self._transaction(write=False) as conn:
            scenarios = [r[0] for r in conn.execute("SELECT DISTINCT scenario FROM runs")]
            if scenario not in scenarios:
                raise UsageError(_unknown_text("scenario", scenario, scenarios, self.reports_dir))
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

    # -- internals -------------------------------------------------------------------------

    def _sync(self, *, force: bool = False) -> RebuildResult:
        if not self.reports_dir.is_dir():
            return RebuildResult(0, ())
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT run_id, path, signature FROM runs").fetchall()
        known = {row[1]: (row[0], row[2]) for row in rows}
        removed = self._state()["removed"]
        signatures = {}  # path as stored: signature, of every folder holding a run.json
        folders = {}
        try:
            with os.scandir(self.reports_dir) as entries:
                for entry in entries:
                    if entry.is_dir() and not entry.name.startswith("."):
                        folders[entry.name] = Path(entry.path)
        except OSError as exc:
            raise StoreError(f"cannot list {self.reports_dir}: {exc.strerror}") from None
        # Folders indexed from outside the reports folder stay while they exist.
        folders.update({p: self._absolute(p) for p in known if os.path.isabs(p)})
        for path, folder in folders.items():
            signature = _signature(folder)
            if not signature.startswith("-"):
                signatures[path] = signature
        folders = {path: folders[path] for path in signatures}
        ids = {run_id: path for path, (run_id, _) in known.items()}
        gone = [(run_id,) for path, (run_id, _) in known.items() if path not in folders]
        entries, skipped = [], []
        for path, folder in sorted(folders.items()):
            if path in removed:
                continue
            if not force and path in known and known[path][1] == signatures[path]:
                continue
            if path not in known and ids.get(folder.name) in folders:
                continue  # same folder name indexed from elsewhere: the first one wins
            try:
                run, figures = _read_folder(folder)
            except ReportError as exc:
                skipped.append((folder, str(exc)))
                continue
            run["path"] = path
            entries.append((run, figures))
        # Batches keep each write transaction short even when a thousand folders are new.
        for start in range(0, max(len(entries), 1 if gone else 0), SYNC_BATCH):
            with self._transaction(write=True) as conn:
                for run, figures in entries[start : start + SYNC_BATCH]:
                    _upsert(conn, run, figures)
                if start == 0:
                    conn.executemany("DELETE FROM runs WHERE run_id = ?", gone)
        return RebuildResult(len(entries), tuple(skipped))

    def _summary(self, run_id: str) -> RunSummary:
        found = self._summaries(" WHERE r.run_id = ?", [run_id])
        if not found:
            raise StoreError(f"run {run_id!r} vanished from {self.path} while being read")
        return found[0]

    def _summaries(self, tail: str, params: Any) -> tuple[RunSummary, ...]:
        pins = set(self._state()["pins"].values())
        query = (
            "SELECT r.*, f.name AS f_name, f.count, f.failures, f.grade, "
            + ", ".join(f"f.{c}" for c in _FIGURE_COLUMNS)
            + " FROM runs r LEFT JOIN figures f ON f.run_id = r.run_id AND f.name = 'overall'"
            + tail
        )
        with self._transaction(write=False) as conn:
            rows = conn.execute(query, tuple(params)).fetchall()
        return tuple(
            RunSummary(
                run_id=row["run_id"],
                scenario=row["scenario"],
                path=self._absolute(row["path"]),
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                status=row["status"],
                exit_code=row["exit_code"],
                verdict=row["verdict"],
                git_revision=row["git_revision"],
                host=row["host"],
                tags=json.loads(row["tags"]),
                pinned=row["run_id"] in pins,
                overall=_key_figures(row) if row["f_name"] is not None else None,
            )
            for row in rows
        )

    def _require_folder(self, run_id: str) -> None:
        """Before a write that names a run: no reports folder, no run (and nothing created)."""
        if not self.reports_dir.is_dir():
            raise UnknownRunError(run_id, (), self.reports_dir)

    def _unknown(self, conn: sqlite3.Connection, run_id: str) -> UnknownRunError:
        ids = [r[0] for r in conn.execute("SELECT run_id FROM runs")]
        return UnknownRunError(run_id, _closest(run_id, ids), self.reports_dir)

    def _relative(self, run_dir: Path) -> str:
        """Where the index keeps a folder: relative to the reports folder, so it can move."""
        resolved = run_dir.resolve()
        if resolved.parent == self.reports_dir:
            return resolved.name
        return str(resolved)

    def _absolute(self, stored: str) -> Path:
        return Path(stored) if os.path.isabs(stored) else self.reports_dir / stored

    def _state(self) -> dict[str, dict[str, str]]:
        """``store.json``: ``pins`` (scenario to run id), ``removed`` (folder to when)."""
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"{self.state_path}: unreadable ({exc}); it holds the pinned runs; fix or "
                "delete it (deleting forgets the pins)"
            ) from None
        return {"pins": dict(data.get("pins", {})), "removed": dict(data.get("removed", {}))}

    def _save_state(self, state: Mapping[str, Any]) -> None:
        """Write ``store.json`` atomically; call it inside a write transaction (the lock)."""
        tmp = self.state_path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"version": 1, **state}, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.state_path)
        except OSError as exc:
            raise StoreError(f"cannot write {self.state_path}: {exc.strerror}") from None

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One short transaction; sqlite errors become ``StoreError``."""
        conn, shared = self._connection(write=write)
        failed = False
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            failed = True
            raise self._error(exc) from None
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if failed or not shared:
                self._forget(conn)

    def _connection(self, *, write: bool) -> tuple[sqlite3.Connection, bool]:
        """This thread's connection (kept open: closing checkpoints the WAL, which is slow).

        Reading a reports folder that does not exist reads an empty index in memory, so
        ``swarm runs list`` in the wrong directory creates nothing.
        """
        cached = getattr(self._local, "conn", None)
        if cached is not None and self._local.pid == os.getpid():
            if self._local.inode == _inode(self.path):
                try:
                    if cached.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                        return cached, True
                except sqlite3.Error:
                    pass
            self._forget(cached)  # the file was deleted, replaced or re-created meanwhile
        if not write and not self.reports_dir.is_dir():
            return self._open(":memory:"), False
        try:
            self.reports_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from None
        conn = self._open(str(self.path))
        self._local.conn, self._local.pid, self._local.inode = conn, os.getpid(), _inode(self.path)
        return conn, True

    def _open(self, target: str) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            # A cache of the folders: losing the last commits to a power cut costs a re-sync,
            # so the WAL need not be flushed to disk at every commit.
            conn.execute("PRAGMA synchronous = NORMAL")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                _create_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._error(exc) from None
        return conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        conn.close()

    def _error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return StoreError(
                f"{self.path}: still locked by another swarm process after {BUSY_TIMEOUT_S:.0f} s;"
                " try again when it has finished"
            )
        corrupt = isinstance(exc, sqlite3.DatabaseError) and not isinstance(
            exc, sqlite3.OperationalError
        )
        return StoreError(
            f"{self.path}: unreadable ({exc}); re-create it from the run folders with "
            f"'swarm runs rebuild --out {self.reports_dir}'",
            corrupt=corrupt,
        )


def _create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables, or re-create them over an index of another schema version.

    The index is a cache of the folders, so a version change needs no migration: the tables
    are dropped and the next sync fills them again.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for (table,) in tables.fetchall():
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _upsert(conn: sqlite3.Connection, run: Mapping[str, Any], figures: list[dict]) -> None:
    """Insert or update one run and replace its figures.

    A known git revision is never overwritten by "unknown": a sync that read the folder
    before ``index`` captured the revision may commit after it.
    """
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c not in ("run_id", "git_revision")
    )
    conn.execute(
        f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _RUN_COLUMNS)}) "
        f"ON CONFLICT (run_id) DO UPDATE SET {updates}, "
        "git_revision = COALESCE(excluded.git_revision, runs.git_revision)",
        tuple(run[c] for c in _RUN_COLUMNS),
    )
    conn.execute("DELETE FROM figures WHERE run_id = ?", (run["run_id"],))
    columns = ["run_id", "name", "count", "failures", "grade", *_FIGURE_COLUMNS]
    conn.executemany(
        f"INSERT OR REPLACE INTO figures ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [(run["run_id"], *(f[c] for c in columns[1:])) for f in figures],
    )


def _read_folder(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``runs`` row and the ``figures`` rows of one run folder."""
    signature = _signature(run_dir)  # before reading: a rewrite meanwhile shows at next sync
    run = _load_json(run_dir / "run.json", f"is {run_dir} a swarm run folder?")
    if run is None:
        raise ReportError(f"{run_dir / 'run.json'}: missing; is {run_dir} a swarm run folder?")
    results = _load_json(run_dir / "results.json", "run 'swarm report' on the folder again")
    git = run.get("git") if isinstance(run.get("git"), dict) else {}
    started = run.get("started_at") or _iso_from_mtime(run_dir / "run.json")
    row = {
        "run_id": run_dir.name,
        "signature": signature,
        "scenario": str(run.get("scenario") or "unnamed"),
        "scenario_file": run.get("scenario_file"),
        "started_at": _iso(started),
        "ended_at": _iso(run["ended_at"]) if run.get("ended_at") else None,
        "status": str(run.get("status") or "unknown"),
        "exit_code": run.get("exit_code") if isinstance(run.get("exit_code"), int) else None,
        "verdict": results.get("verdict") if results else None,
        "git_revision": run.get("git_revision") or git.get("revision") or git.get("commit"),
        "host": run.get("host"),
        "tags": json.dumps(run.get("tags") or {}, sort_keys=True),
        "indexed_at": _now(),
    }
    window = (results or {}).get("baseline") or {}
    figures = []
    if isinstance(window.get("overall"), dict):
        figures.append(_figure_row(OVERALL, window["overall"]))
    for endpoint in window.get("endpoints") or ():
        if isinstance(endpoint, dict):
            key = endpoint.get("key") or f"{endpoint.get('method', '')} {endpoint.get('name')}"
            figures.append(_figure_row(key.strip(), endpoint))
    return row, figures


def _figure_row(name: str, endpoint: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name,
        "count": _int(endpoint.get("count")),
        "failures": _int(endpoint.get("failures")),
        "grade": (endpoint.get("quality") or {}).get("grade"),
    }
    for figure in _FIGURES:
        data = endpoint.get(figure) or {}
        for part in ("value", "low", "high"):
            value = data.get(part) if isinstance(data, dict) else None
            column = figure if part == "value" else f"{figure}_{part}"
            row[column] = float(value) if isinstance(value, int | float) else None
    return row


def _key_figures(row: sqlite3.Row) -> KeyFigures:
    def estimate(figure: str) -> Estimate:
        return Estimate(row[figure], row[f"{figure}_low"], row[f"{figure}_high"])

    keys = row.keys()
    return KeyFigures(
        name=row["f_name"] if "f_name" in keys else row["name"],
        count=row["count"],
        failures=row["failures"],
        grade=row["grade"],
        **{figure: estimate(figure) for figure in _FIGURES},
    )


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
    matches = [key for key in names if key.split(" ", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(
            f"request name {name!r} of scenario {scenario!r} is used by several methods; "
            f"give one of {', '.join(map(repr, sorted(matches)))}"
        )
    raise UsageError(_unknown_text(f"request name in scenario {scenario!r}:", name, names))


def _closest(given: str, known: list[str]) -> tuple[str, ...]:
    """Up to three of ``known`` most like ``given``, or containing it.

    Run ids share their shape (``<UTC time>-<scenario>``), so any two look alike; only the
    ids nearly as close as the closest one are kept.
    """
    ratios = {k: difflib.SequenceMatcher(None, given, k).ratio() for k in known}
    best = max(ratios.values(), default=0.0)
    close = sorted((k for k, r in ratios.items() if r >= max(0.6, best - 0.1)), key=ratios.get)
    close = close[::-1][:3]
    containing = [k for k in known if given and given in k and k not in close]
    return tuple(close + containing[: 3 - len(close)])


def _unknown_text(what: str, given: str, known: Any, where: Path | None = None) -> str:
    known = sorted(known)
    close = _closest(given, known)
    text = f"unknown {what} {given!r}" + (f" in {where}" if where else "")
    if close:
        text += f"; did you mean {' or '.join(map(repr, close))}?"
    if not known:
        return text + " (nothing indexed yet)"
    shown = ", ".join(map(repr, known[:12])) + (", ..." if len(known) > 12 else "")
    return text + f" (known: {shown})"


def _load_json(path: Path, advice: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable ({exc}); {advice}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _signature(run_dir: Path) -> str:
    """Changes whenever run.json or results.json is rewritten (mtime and size of each)."""
    parts = []
    for name in ("run.json", "results.json"):
        try:
            st = os.stat(os.path.join(run_dir, name))
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("-")
    return "/".join(parts)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _git_revision(scenario_file: str | None) -> str | None:
    """``git rev-parse HEAD`` of the repository holding the scenario file, if there is one."""
    if not scenario_file:
        return None
    folder = Path(scenario_file).parent
    if not folder.is_dir():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and revision else None


def _iso(text: Any) -> str:
    """An ISO-8601 time as ``2026-11-27T09:45:12.000Z``, so stored times sort as text."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_from_mtime(path: Path) -> str:
    return _iso(datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat())


def _now() -> str:
    return _iso(datetime.now(UTC).isoformat())


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
