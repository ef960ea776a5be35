"""The run folder ``reports/<run_id>/``: the redacted scenario, ``run.json``, Locust's files.

``run.json`` is rewritten atomically at every phase change, so whatever stops the run —
the end of the plan, Ctrl-C, a crash of Locust — the folder always holds a valid record
of what ran. Run ids are checked so that no id can name a path outside the reports folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from framework.errors import RunError, UsageError

__all__ = [
    "RUN_FORMAT_VERSION",
    "RunFolder",
    "RunRecord",
    "create_run_folder",
    "new_run_id",
    "scrub_secrets",
    "validate_run_id",
]

RUN_FORMAT_VERSION = 1
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a plain folder name; raise ``ValueError`` otherwise."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ValueError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, and no '..'"
        )
    return run_id


def new_run_id(scenario_name: str, now: datetime) -> str:
    """``20261127T094512Z-detectors-peak``: sortable by time, readable by scenario."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", scenario_name).strip("-").lower()[:60] or "run"
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{slug}"


@dataclass
class RunRecord:
    """What ``run.json`` holds; ``phases`` lists each phase with its UTC start time."""

    run_id: str
    scenario: str
    scenario_file: str
    host: str | None
    started_at: str
    tags: dict[str, Any] = field(default_factory=dict)
    git_revision: str | None = None
    ended_at: str | None = None
    status: str = "starting"
    exit_code: int | None = None
    phases: list[dict[str, str]] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    mode: str = "headless"
    workers: int = 0
    master: str | None = None
    worker_events: list[dict[str, str]] = field(default_factory=list)
    worker_processes: list[dict[str, Any]] = field(default_factory=list)
    locust_args: list[str] = field(default_factory=list)
    message: str | None = None
    swarm_version: str = ""
    locust_version: str = ""
    format_version: int = RUN_FORMAT_VERSION


class RunFolder:
    """One run's folder; the only writer of ``run.json``."""

    def __init__(self, path: Path, record: RunRecord) -> None:
        self.path = path
        self.record = record

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    def phase(self, name: str, at: datetime) -> None:
        """Enter phase ``name`` at ``at`` and save ``run.json`` at once."""
        self.record.phases.append({"name": name, "at": _utc_iso(at)})
        self.record.status = name
        self.save()

    def finish(self, status: str, exit_code: int, at: datetime, message: str | None = None) -> None:
        """Record how the run ended."""
        self.record.ended_at = _utc_iso(at)
        self.record.exit_code = exit_code
        self.record.message = message
        self.phase(status, at)

    def save(self) -> None:
        tmp = self.run_json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self.record), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.run_json)

    def write_scenario(self, redacted: dict[str, Any]) -> Path:
        """Save the resolved scenario with secrets replaced by their ``${VAR}`` names."""
        target = self.path / "scenario.yaml"
        text = yaml.safe_dump(redacted, sort_keys=False, allow_unicode=True)
        target.write_text(text, encoding="utf-8")
        return target


def create_run_folder(
    reports_dir: Path, run_id: str, record: RunRecord, *, started: datetime
) -> RunFolder:
    """Make ``reports_dir/run_id`` (never outside ``reports_dir``, never reusing a folder)."""
    try:
        validate_run_id(run_id)
    except ValueError as exc:
        raise UsageError(str(exc), flag="--run-id", value=run_id) from None
    root = reports_dir.resolve()
    target = (root / run_id).resolve()
    if target.parent != root:
        raise RunError(f"run id {run_id!r} would leave the reports folder {root}", path=target)
    try:
        root.mkdir(parents=True, exist_ok=True)
        target.mkdir()
    except FileExistsError:
        raise RunError(
            f"run folder {target} already exists; choose another --run-id", path=target
        ) from None
    except OSError as exc:
        raise RunError(f"cannot create run folder {target}: {exc.strerror}", path=target) from None
    record.started_at = _utc_iso(started)
    folder = RunFolder(target, record)
    folder.save()
    return folder


def scrub_secrets(folder: Path, secrets: Iterable[str]) -> list[Path]:
    """Replace every secret value in the folder's text files by ``***``; return files changed.

    A last line of defence: swarm never writes secrets itself, but Locust's reports may echo
    a URL or an error text that contains one.
    """
    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    changed = []
    if not values:
        return changed
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        new = text
        for value in values:
            new = new.replace(value, "***")
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
