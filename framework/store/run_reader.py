"""Reading one run folder into the rows the results index keeps of it.

The index is a cache of the run folders, so this is its only way in: ``run.json`` and
``results.json`` become one ``runs`` row and one ``figures`` row per request name, with
every time normalised to UTC text that sorts, and every value of the wrong type stored as
unknown rather than refused (a folder of an older swarm still lists). It also holds what
tells the index a folder changed (``folder_signature``) and the git revision a run was made
from, read from the scenario's repository when run.json has none.

Example::

    run, figures = read_folder(Path("reports/20261127T094512Z-checkout"))
    run["scenario"], run["started_at"]      # ('checkout', '2026-11-27T09:45:12.000Z')
    [f["name"] for f in figures]            # ['overall', 'GET /item', ...]
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from framework.errors import ReportError
from framework.store.records import FIGURES, OVERALL

__all__ = [
    "GIT_TIMEOUT_S",
    "folder_signature",
    "git_revision",
    "iso_time",
    "now_iso",
    "read_folder",
    "recorded_revision",
]

GIT_TIMEOUT_S = 5.0


def read_folder(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``runs`` row and the ``figures`` rows of one run folder.

    The ``runs`` row has every column but ``path``, which depends on where the index is;
    ``ReportError`` when run.json is missing or either file is unreadable.
    """
    # Signed before reading: a rewrite meanwhile shows at the next sync.
    signature = folder_signature(run_dir)
    run = _load_json(run_dir / "run.json", f"is {run_dir} a swarm run folder?")
    if run is None:
        raise ReportError(f"{run_dir / 'run.json'}: missing; is {run_dir} a swarm run folder?")
    results = _load_json(run_dir / "results.json", "run 'swarm report' on the folder again")
    started = run.get("started_at") or _iso_from_mtime(run_dir / "run.json")
    row = {
        "run_id": run_dir.name,
        "signature": signature,
        "scenario": str(run.get("scenario") or "unnamed"),
        "scenario_file": run.get("scenario_file"),
        "started_at": iso_time(started),
        "ended_at": iso_time(run["ended_at"]) if run.get("ended_at") else None,
        "status": str(run.get("status") or "unknown"),
        "exit_code": run.get("exit_code") if isinstance(run.get("exit_code"), int) else None,
        "verdict": results.get("verdict") if results else None,
        "git_revision": recorded_revision(run),
        "host": run.get("host"),
        "tags": json.dumps(run.get("tags") or {}, sort_keys=True),
        "indexed_at": now_iso(),
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


def recorded_revision(run: Mapping[str, Any]) -> str | None:
    """The git revision a run.json records: ``git_revision``, or ``git.revision`` or
    ``git.commit`` as some older records and CI wrappers write it; ``None`` if none."""
    git = run.get("git") if isinstance(run.get("git"), Mapping) else {}
    return run.get("git_revision") or git.get("revision") or git.get("commit")


def folder_signature(run_dir: Path) -> str:
    """Changes whenever run.json or results.json is rewritten (mtime and size of each).

    Starts with ``-`` when the folder holds no run.json, so it is no run folder (yet).
    """
    parts = []
    for name in ("run.json", "results.json"):
        try:
            st = os.stat(os.path.join(run_dir, name))
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("-")
    return "/".join(parts)


def git_revision(scenario_file: str | None) -> str | None:
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


def iso_time(text: Any) -> str:
    """An ISO-8601 time as ``2026-11-27T09:45:12.000Z``, so stored times sort as text.

    A time without a zone is taken as UTC; text that is no time is returned as it is.
    """
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current time as ``iso_time`` writes it (when a run was indexed or removed)."""
    return iso_time(datetime.now(UTC).isoformat())


def _figure_row(name: str, endpoint: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name,
        "count": _int(endpoint.get("count")),
        "failures": _int(endpoint.get("failures")),
        "grade": (endpoint.get("quality") or {}).get("grade"),
    }
    for figure in FIGURES:
        data = endpoint.get(figure) or {}
        for part in ("value", "low", "high"):
            value = data.get(part) if isinstance(data, dict) else None
            column = figure if part == "value" else f"{figure}_{part}"
            row[column] = float(value) if isinstance(value, int | float) else None
    return row


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


def _iso_from_mtime(path: Path) -> str:
    return iso_time(datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat())


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
