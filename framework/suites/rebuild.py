"""``swarm suite --report-only``: the suite report again, from the run folders it lists.

The newest suite folder of the suite (or ``--suite-dir``) says which tests ran, in which
runs; each run's ``results.json`` and ``run.json`` are read again (a ``swarm report`` with
other settings since shows), scalability tests are analysed again, and suite.json,
suite.md and suite.html are rewritten in that folder. Nothing is run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from framework.errors import UsageError
from framework.run.folder import new_run_id
from framework.suites.report import write_suite_report
from framework.suites.results import SuiteResult, TestResult, entries_of, read_run
from framework.suites.runner import SUITES_FOLDER, SuiteOutcome
from framework.suites.scaling import scaling_of

__all__ = ["latest_suite_dir", "rebuild_suite_report"]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def latest_suite_dir(reports_dir: Path, suite_name: str) -> Path:
    """The newest ``<reports_dir>/suites/<UTC time>-<name>`` holding a suite.json."""
    slug = new_run_id(suite_name, _EPOCH).partition("-")[2]  # the name as folders have it
    base = reports_dir / SUITES_FOLDER
    found = sorted(
        p
        for p in (base.iterdir() if base.is_dir() else ())
        if _stem_matches(p.name, slug) and (p / "suite.json").is_file()
    )
    if not found:
        raise UsageError(
            f"no suite folder of {suite_name!r} in {base} (run 'swarm suite FILE' first, or "
            "give --suite-dir DIR)",
            flag="--report-only",
        )
    return found[-1]


def _stem_matches(name: str, slug: str) -> bool:
    """``20261127T094512Z-detectors`` or ``...-detectors-2``, not ``...-detectors-peak``."""
    rest = name.split("-", 1)[1] if "-" in name else ""
    if rest == slug:
        return True
    head, _, tail = rest.rpartition("-")
    return head == slug and tail.isdigit()


def rebuild_suite_report(suite_dir: Path, *, confidence: float = 0.95) -> SuiteOutcome:
    """Rewrite the suite report in ``suite_dir`` from its runs; ``UsageError`` when the
    folder holds no readable suite.json."""
    path = suite_dir / "suite.json"
    if not suite_dir.is_dir():
        raise UsageError(
            f"{path}: {suite_dir} is not a suite folder (one of <out>/suites/<UTC time>-<name>)",
            flag="--suite-dir",
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no suite.json, so {suite_dir} is not a suite folder", flag="--suite-dir"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}", flag="--suite-dir") from None
    if not isinstance(document, dict) or document.get("format_version") != 1:
        raise UsageError(f"{path}: not a suite.json of format_version 1", flag="--suite-dir")
    t0 = time.monotonic()
    tests = []
    for entry in entries_of(document):
        runs = []
        for run in entry.get("runs") or ():
            if not isinstance(run, dict) or not isinstance(run.get("run_dir"), str):
                continue
            runs.append(
                read_run(
                    (suite_dir / run["run_dir"]).resolve(),
                    workers=int(run.get("workers") or 0),
                    duration_s=run.get("duration_seconds"),
                )
            )
        scaling = error = None
        if len(runs) > 1:
            scaling, error = scaling_of(runs, confidence=confidence)
        reasons = entry.get("reasons") or []
        tests.append(
            TestResult(
                str(entry.get("name")),
                str(entry.get("type")),
                str(entry.get("scenario") or ""),
                tuple(runs),
                skipped_because=(reasons[0] if reasons else "not run") if not runs else None,
                scaling=scaling,
                scaling_error=error,
            )
        )
    summary = document.get("summary") or {}
    result = SuiteResult(
        name=str(document.get("test_suite")),
        description=str(document.get("description") or ""),
        suite_file=str(document.get("suite_file") or ""),
        suite_dir=suite_dir.resolve(),
        started_at=str(document.get("timestamp")),
        selected_type=str(document.get("selected_type") or "all"),
        tests=tuple(tests),
        duration_s=float(summary.get("duration_seconds") or (time.monotonic() - t0)),
        ended_at=document.get("ended_at"),
        interrupted=bool(document.get("interrupted")),
    )
    files = write_suite_report(result, suite_dir.resolve())
    return SuiteOutcome(result, suite_dir.resolve(), files)
