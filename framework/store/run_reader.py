"""Reading one run folder into the rows the results index keeps of it.

The index is a cache of the run folders, so this is its only way in: ``run.json`` and
``results.json`` become one ``runs`` row and one ``figures`` row per request name, with
every time normalised to UTC text that sorts, and every value of the wrong type stored as
unknown rather than refused (a folder of an older swarm still lists). It also holds what
tells the index a folder changed (``folder_signature``).

Example::

    run, figures = read_folder(Path("reports/20261127T094512Z-checkout"))
    run["scenario"], run["started_at"]      # ('checkout', '2026-11-27T09:45:12.000Z')
    [f["name"] for f in figures]            # ['overall', 'GET /item', ...]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from framework.run.folder import RUN_FILE, read_json_object, read_run_record
from framework.store.records import FIGURES
from framework.timeline.endpoints import OVERALL, endpoint_key

__all__ = [
    "folder_signature",
    "iso_time",
    "metric_rows",
    "now_iso",
    "read_folder",
]


def read_folder(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``runs`` row and the ``figures`` rows of one run folder.

    The ``runs`` row has every column but ``path``, which depends on where the index is,
    and under ``metrics`` the ``metric_figures`` rows: one per custom metric key and figure
    of results.json's ``metrics`` (``metric_rows``). ``ReportError`` when run.json is
    missing or either file is unreadable.
    """
    # Signed before reading: a rewrite meanwhile shows at the next sync.
    signature = folder_signature(run_dir)
    run = read_run_record(run_dir)
    results = _load_json(run_dir / "results.json", "run 'swarm report' on the folder again")
    started = run.started_at or _iso_from_mtime(run_dir / RUN_FILE)
    row = {
        "run_id": run_dir.name,
        "signature": signature,
        "scenario": run.scenario or "unnamed",
        "scenario_file": run.scenario_file,
        "started_at": iso_time(started),
        "ended_at": iso_time(run.ended_at) if run.ended_at else None,
        "status": run.status or "unknown",
        "exit_code": run.exit_code,
        "verdict": _verdict(run.exit_code, results),
        "git_revision": run.git_revision,
        "host": run.host,
        "tags": json.dumps(run.tags, sort_keys=True),
        "indexed_at": now_iso(),
        "metrics": metric_rows((results or {}).get("metrics")),
    }
    window = (results or {}).get("baseline") or {}
    figures = []
    if isinstance(window.get(OVERALL), dict):
        figures.append(_figure_row(OVERALL, window[OVERALL]))
    for endpoint in window.get("endpoints") or ():
        if isinstance(endpoint, dict):
            key = endpoint.get("key") or endpoint_key(
                str(endpoint.get("method") or ""), str(endpoint.get("name"))
            )
            figures.append(_figure_row(key.strip(), endpoint))
    return row, figures


def metric_rows(metrics: Any) -> list[dict[str, Any]]:
    """results.json's ``metrics`` as ``metric_figures`` rows: key, name, kind, unit, figure,
    value, low, high; entries or figures of the wrong shape are left out (an older or
    damaged results.json still indexes)."""
    rows: list[dict[str, Any]] = []
    for metric in metrics if isinstance(metrics, list) else ():
        if not isinstance(metric, dict) or not isinstance(metric.get("key"), str):
            continue
        figures = metric.get("figures")
        for figure, data in figures.items() if isinstance(figures, dict) else ():
            if not isinstance(data, dict) or not isinstance(data.get("value"), int | float):
                continue
            row = {
                "key": metric["key"],
                "name": str(metric.get("name") or metric["key"]),
                "kind": str(metric.get("kind") or ""),
                "unit": str(metric.get("unit") or ""),
                "figure": str(figure),
            }
            for part in ("value", "low", "high"):
                value = data.get(part)
                row[part] = float(value) if isinstance(value, int | float) else None
            rows.append(row)
    return rows


def _verdict(exit_code: int | None, results: Mapping[str, Any] | None) -> str | None:
    """results.json's verdict, but never ``passed`` for a run that exited non-zero.

    A report written before swarm judged lost workers could say ``passed`` for a run that
    exited 3; the index must not offer such a run as a good one.
    """
    verdict = results.get("verdict") if results else None
    if verdict == "passed" and exit_code not in (None, 0):
        return "failed"
    return verdict


def folder_signature(run_dir: Path) -> str:
    """Changes whenever run.json or results.json is rewritten (mtime and size of each).

    Starts with ``-`` when the folder holds no run.json, so it is no run folder (yet).
    """
    parts = []
    for name in (RUN_FILE, "results.json"):
        try:
            st = os.stat(os.path.join(run_dir, name))
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("-")
    return "/".join(parts)


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
        return read_json_object(path, advice=advice)
    except FileNotFoundError:
        return None


def _iso_from_mtime(path: Path) -> str:
    return iso_time(datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat())


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
