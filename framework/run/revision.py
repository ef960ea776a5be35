"""The git revision a run was made from: asked of git as the run starts, read back later.

``run.json`` records it as ``git_revision``; older records and CI wrappers wrote
``git.revision`` or ``git.commit``, which are read the same way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["GIT_TIMEOUT_S", "git_revision", "recorded_revision"]

GIT_TIMEOUT_S = 5.0


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


def recorded_revision(run: Mapping[str, Any]) -> str | None:
    """The git revision a run.json records: ``git_revision``, or ``git.revision`` or
    ``git.commit`` as some older records and CI wrappers write it; ``None`` if none."""
    git = run.get("git") if isinstance(run.get("git"), Mapping) else {}
    return run.get("git_revision") or git.get("revision") or git.get("commit")
