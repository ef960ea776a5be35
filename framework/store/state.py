"""``reports/store.json``: the two things the results store knows that no run folder holds.

The SQLite index can be deleted and re-created from the folders at any time, so what
cannot be re-read from them lives beside it in a small JSON file: the pinned run of each
scenario, and the runs removed from the index whose folders were kept (so a re-sync leaves
them out). It is rewritten atomically, and only while the index's write lock is held.

Example::

    state = read_state(Path("reports/store.json"))   # {"pins": {...}, "removed": {...}}
    state["pins"]["checkout"] = "20261127T094512Z-checkout"
    write_state(Path("reports/store.json"), state)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from framework.errors import StoreError
from framework.limits import JSON_BYTES, read_bytes

__all__ = ["STATE_FILE", "read_state", "write_state"]

STATE_FILE = "store.json"


def read_state(path: Path) -> dict[str, dict[str, str]]:
    """``pins`` (scenario to run id) and ``removed`` (folder as stored to when); both empty
    when the file does not exist yet."""
    try:
        data = json.loads(read_bytes(path, JSON_BYTES))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError, RecursionError) as exc:  # InputRefused is a ValueError
        raise _unreadable(path, str(exc)) from None
    if not isinstance(data, dict):
        raise _unreadable(path, f"expected a JSON object, found {type(data).__name__}")
    state = {part: data.get(part, {}) for part in ("pins", "removed")}
    for part, value in state.items():
        if not isinstance(value, dict):
            raise _unreadable(path, f"{part} must be an object, found {type(value).__name__}")
    return {part: dict(value) for part, value in state.items()}


def _unreadable(path: Path, reason: str) -> StoreError:
    return StoreError(
        f"{path}: unreadable ({reason}); it holds the pinned runs; fix or "
        "delete it (deleting forgets the pins)",
        path=path,
    )


def write_state(path: Path, state: Mapping[str, Any]) -> None:
    """Write ``path`` atomically; call it inside a write transaction (the lock)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"version": 1, **state}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}", path=path) from None
