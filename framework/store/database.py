"""The SQLite file behind the results store: its schema, connections, transactions and rows.

``reports/index.sqlite`` is a cache of the run folders, so everything about keeping it
usable by many swarm processes at once lives here, apart from what the store asks of it:
WAL mode and short ``BEGIN IMMEDIATE`` transactions (runs ending at the same moment index
concurrently), one kept-open connection per thread and process (closing checkpoints the
WAL, which is slow), a schema that is dropped and re-created rather than migrated when its
version changes (the next sync reads every folder again: an index of a swarm before custom
metrics, version 1, gets its ``metric_figures`` that way), and sqlite's errors turned
into a ``StoreError`` that says whether the file is damaged (``rebuild`` cures that) or only locked.

Example::

    db = IndexDatabase(Path("reports"))
    with db.transaction(write=True) as conn:
        upsert_run(conn, run, figures)        # rows from run_reader.read_folder
    with db.transaction(write=False) as conn:
        conn.execute("SELECT count(*) FROM runs").fetchone()
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from framework.errors import StoreError
from framework.store.records import FIGURES, KeyFigures, RunSummary
from framework.timeline.endpoints import OVERALL
from framework.verdicts.results import Figure

__all__ = [
    "BUSY_TIMEOUT_S",
    "FIGURE_COLUMNS",
    "INDEX_FILE",
    "METRIC_COLUMNS",
    "SCHEMA_VERSION",
    "SUMMARY_QUERY",
    "IndexDatabase",
    "key_figures",
    "run_summary",
    "upsert_run",
]

SCHEMA_VERSION = 2
"""1: runs and figures; 2: and ``metric_figures``, each run's custom metrics by key and figure."""
METRIC_COLUMNS = ("key", "name", "kind", "unit", "figure", "value", "low", "high")
"""The ``metric_figures`` columns besides ``run_id``, as ``run_reader.metric_rows`` fills them."""
INDEX_FILE = "index.sqlite"
BUSY_TIMEOUT_S = 30.0
FIGURE_COLUMNS = [f"{f}{part}" for f in FIGURES for part in ("", "_low", "_high")]
"""The ``figures`` columns of the estimates: ``p95_ms``, ``p95_ms_low``, ``p95_ms_high``, …"""

SUMMARY_QUERY = (
    "SELECT r.*, f.name AS f_name, f.count, f.failures, f.grade, "
    + ", ".join(f"f.{c}" for c in FIGURE_COLUMNS)
    + f" FROM runs r LEFT JOIN figures f ON f.run_id = r.run_id AND f.name = '{OVERALL}'"
)
"""Every run with its overall figures, as ``run_summary`` reads them; append a ``WHERE``."""

_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
"""sqlite's codes for "another connection holds the lock", which waiting may cure."""

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
        {", ".join(f"{c} REAL" for c in FIGURE_COLUMNS)},
        PRIMARY KEY (run_id, name))""",
    """CREATE TABLE metric_figures (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        key TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL,
        figure TEXT NOT NULL, value REAL, low REAL, high REAL,
        PRIMARY KEY (run_id, key, figure))""",
    "CREATE INDEX metric_figures_by_key ON metric_figures (key, figure)",
)


class IndexDatabase:
    """``INDEX_FILE`` in ``reports_dir``: this thread's connection and short transactions."""

    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = Path(reports_dir).resolve()
        self.path = self.reports_dir / INDEX_FILE
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"IndexDatabase({str(self.path)!r})"

    def stored_path(self, run_dir: Path) -> str:
        """Where the index keeps a folder: relative to the reports folder, so it can move."""
        resolved = run_dir.resolve()
        if resolved.parent == self.reports_dir:
            return resolved.name
        return str(resolved)

    def folder(self, stored: str) -> Path:
        """The folder of a ``path`` column value (the inverse of ``stored_path``)."""
        return Path(stored) if os.path.isabs(stored) else self.reports_dir / stored

    def close(self) -> None:
        """Close this thread's connection to the index; the next transaction opens another."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            self._forget(conn)

    def move_aside(self) -> Path:
        """Close, and rename a damaged index to ``index.sqlite.corrupt`` (its WAL dropped),
        so the next transaction creates an empty one; returns where the old file went."""
        self.close()
        target = self.path.with_name(INDEX_FILE + ".corrupt")
        os.replace(self.path, target)
        for suffix in ("-wal", "-shm"):
            self.path.with_name(INDEX_FILE + suffix).unlink(missing_ok=True)
        return target

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One short transaction; sqlite errors become ``StoreError``.

        ``write`` takes the write lock at once (``BEGIN IMMEDIATE``), so a read-then-write
        cannot deadlock with another process; the store also holds it while it rewrites
        ``store.json``.
        """
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
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of extended ones
        if isinstance(exc, sqlite3.OperationalError) and code in _LOCKED:
            return StoreError(
                f"{self.path}: still locked by another swarm process after {BUSY_TIMEOUT_S:.0f} s;"
                " try again when it has finished",
                path=self.path,
            )
        corrupt = isinstance(exc, sqlite3.DatabaseError) and not isinstance(
            exc, sqlite3.OperationalError
        )
        return StoreError(
            f"{self.path}: unreadable ({exc}); re-create it from the run folders with "
            f"'swarm runs rebuild --out {self.reports_dir}'",
            path=self.path,
            corrupt=corrupt,
        )


def upsert_run(conn: sqlite3.Connection, run: Mapping[str, Any], figures: list[dict]) -> None:
    """Insert or update one run and replace its figures and its custom metrics' figures
    (rows as ``read_folder`` makes them, with ``path`` set; ``run["metrics"]`` optional).

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
    columns = ["run_id", "name", "count", "failures", "grade", *FIGURE_COLUMNS]
    conn.executemany(
        f"INSERT OR REPLACE INTO figures ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [(run["run_id"], *(f[c] for c in columns[1:])) for f in figures],
    )
    conn.execute("DELETE FROM metric_figures WHERE run_id = ?", (run["run_id"],))
    conn.executemany(
        f"INSERT OR REPLACE INTO metric_figures (run_id, {', '.join(METRIC_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in range(len(METRIC_COLUMNS) + 1))})",
        [(run["run_id"], *(m[c] for c in METRIC_COLUMNS)) for m in run.get("metrics") or ()],
    )


def key_figures(row: sqlite3.Row) -> KeyFigures:
    """A ``figures`` row as ``KeyFigures``; the name is read from ``f_name`` when the row
    was joined to ``runs`` (whose columns would otherwise hide it)."""

    def stored(figure: str) -> Figure:
        return Figure(row[figure], row[f"{figure}_low"], row[f"{figure}_high"])

    keys = row.keys()
    return KeyFigures(
        name=row["f_name"] if "f_name" in keys else row["name"],
        count=row["count"],
        failures=row["failures"],
        grade=row["grade"],
        **{figure: stored(figure) for figure in FIGURES},
    )


def run_summary(row: sqlite3.Row, path: Path, *, pinned: bool) -> RunSummary:
    """A row of ``SUMMARY_QUERY`` as ``RunSummary``; ``path`` is the folder, made absolute."""
    return RunSummary(
        run_id=row["run_id"],
        scenario=row["scenario"],
        path=path,
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        status=row["status"],
        exit_code=row["exit_code"],
        verdict=row["verdict"],
        git_revision=row["git_revision"],
        host=row["host"],
        tags=json.loads(row["tags"]),
        pinned=pinned,
        overall=key_figures(row) if row["f_name"] is not None else None,
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


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
