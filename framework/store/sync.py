"""Bringing the results index up to date with the run folders it caches.

Every read of the store first syncs, so this has to be cheap when nothing changed: two
``stat`` calls per folder (``folder_signature``) decide which folders are new or rewritten,
and only those are read. Folders deleted by hand are dropped, folders removed with
``swarm runs remove`` (listed in store.json) are left out, and folders that cannot be read
yet (no run.json, broken JSON) are skipped and reported. A run still ``running`` (or in
another active phase) whose swarm process is gone — swarm was SIGKILLed — is recorded as
``interrupted`` in its run.json first (``settle_abandoned``), so it lists as what it is.
The writes go in batches of
``SYNC_BATCH`` runs, so each write transaction stays short even when a thousand folders
are new and other swarm processes are indexing at the same time.

Example::

    db = IndexDatabase(Path("reports"))
    result = sync_index(db, Path("reports/store.json"))
    result.indexed, result.skipped      # (3, ((Path('reports/half-written'), '...'),))
"""

from __future__ import annotations

import os
from pathlib import Path

from framework.errors import ReportError, StoreError
from framework.run.folder import ACTIVE_STATUSES, settle_abandoned
from framework.store.database import IndexDatabase, upsert_run
from framework.store.records import RebuildResult
from framework.store.run_reader import folder_signature, read_folder
from framework.store.state import read_state

__all__ = ["SYNC_BATCH", "sync_index"]

SYNC_BATCH = 200


def sync_index(db: IndexDatabase, state_path: Path, *, force: bool = False) -> RebuildResult:
    """Add new folders, re-read changed ones (every one with ``force``), drop gone ones.

    ``state_path`` is store.json, whose ``removed`` folders are left out. Returns how many
    runs were (re-)indexed and each folder skipped with the reason.
    """
    reports_dir = db.reports_dir
    if not reports_dir.is_dir():
        return RebuildResult(0, ())
    with db.transaction(write=False) as conn:
        rows = conn.execute("SELECT run_id, path, signature, status FROM runs").fetchall()
    known = {row[1]: (row[0], row[2]) for row in rows}
    active = {row[1] for row in rows if row[3] in ACTIVE_STATUSES}
    removed = read_state(state_path)["removed"]
    signatures = {}  # path as stored: signature, of every folder holding a run.json
    folders = {}
    try:
        with os.scandir(reports_dir) as entries:
            for entry in entries:
                if entry.is_dir() and not entry.name.startswith("."):
                    folders[entry.name] = Path(entry.path)
    except OSError as exc:
        raise StoreError(f"cannot list {reports_dir}: {exc.strerror}", path=reports_dir) from None
    # Folders indexed from outside the reports folder stay while they exist.
    folders.update({p: db.folder(p) for p in known if os.path.isabs(p)})
    for path, folder in folders.items():
        if path not in removed and (path not in known or path in active):
            settle_abandoned(folder)  # rewrites run.json, so its signature changes
        signature = folder_signature(folder)
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
            run, figures = read_folder(folder)
        except ReportError as exc:
            skipped.append((folder, str(exc)))
            continue
        run["path"] = path
        entries.append((run, figures))
    # Batches keep each write transaction short even when a thousand folders are new.
    for start in range(0, max(len(entries), 1 if gone else 0), SYNC_BATCH):
        with db.transaction(write=True) as conn:
            for run, figures in entries[start : start + SYNC_BATCH]:
                upsert_run(conn, run, figures)
            if start == 0:
                conn.executemany("DELETE FROM runs WHERE run_id = ?", gone)
    return RebuildResult(len(entries), tuple(skipped))
