"""``swarm ctl pause|resume|stop|status RUN``: steer a run that is going on.

RUN is a run folder, a run id in ``--out``, or ``latest`` (the run started last there). The
run's ``run.json`` holds its master's control endpoint (``control``, recorded when the
master announced it); ``ctl`` calls it and prints the answer. Exit codes: 0 done; 2 refused
(the state machine's reason, as the endpoint's HTTP 409 gives it: pausing a paused run) or
the run is not going on (ended, or no control endpoint yet); 3 the endpoint does not
answer although ``run.json`` says the run is going on.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from framework.errors import ExitCode, ReportError, RunError, UsageError
from framework.live.state import IllegalTransition
from framework.run.folder import (
    ACTIVE_STATUSES,
    RUN_FILE,
    RunRecord,
    read_run_record,
    settle_abandoned,
)

__all__ = ["ACTIONS", "add_command", "run_ctl"]

ACTIONS = ("pause", "resume", "stop", "status")
_TIMEOUT_S = 10.0


def add_command(commands: argparse._SubParsersAction) -> None:
    """Add ``swarm ctl`` to the ``swarm`` parser's commands."""
    ctl = commands.add_parser(
        "ctl",
        help="pause, resume, stop or show a run that is going on",
        description="Steer a run that is going on through its control endpoint (run.json "
        "'control'). Exit codes: 0 done; 2 refused (e.g. pausing a paused run) or the run "
        "is not going on; 3 its control endpoint does not answer.",
    )
    ctl.add_argument("action", choices=ACTIONS, help="what to do")
    ctl.add_argument("run", help="run folder, run id in --out, or 'latest'")
    ctl.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    ctl.add_argument("--reason", help="why (recorded with the transition in run.json)")


def _latest(reports_dir: Path) -> Path:
    """The run folder in ``reports_dir`` whose run started last."""
    found: list[tuple[str, str, Path]] = []
    if reports_dir.is_dir():
        for run_json in reports_dir.glob(f"*/{RUN_FILE}"):
            try:
                record = read_run_record(run_json.parent)
            except ReportError:
                continue
            found.append((record.started_at, run_json.parent.name, run_json.parent))
    if not found:
        raise UsageError(
            f"ctl: no run folder in {reports_dir}; give a run folder or id",
            value="latest",
        )
    return max(found)[2]


def _run_dir(reference: str, reports_dir: Path) -> Path:
    if reference == "latest" and not Path(reference).is_dir():
        return _latest(reports_dir)
    for folder in (Path(reference), reports_dir / reference):
        if (folder / RUN_FILE).is_file():
            return folder
    raise UsageError(
        f"ctl: no run folder {reference!r} (looked at {reference} and "
        f"{reports_dir / reference}); give a run folder, a run id in --out, or 'latest'",
        value=reference,
    )


def _not_going_on(record: RunRecord, action: str) -> str | None:
    """Why ``action`` cannot reach the run, or ``None`` when it can."""
    if record.status not in ACTIVE_STATUSES:
        ended = f" at {record.ended_at}" if record.ended_at else ""
        return f"run {record.run_id} is not going on: it ended {record.status or '?'}{ended}"
    if not record.control:
        return (
            f"run {record.run_id} is {record.status} but has no control endpoint yet "
            "(its master has not started, or it predates swarm ctl); try again in a moment"
        )
    return None


def _call(url: str, action: str, reason: str | None) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, JSON answer)`` of the control endpoint."""
    if action == "status":
        sent = urllib.request.Request(f"{url}/swarm/state", method="GET")
    else:
        body = json.dumps({"reason": reason or "swarm ctl"}).encode()
        sent = urllib.request.Request(
            f"{url}/swarm/{action}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
    try:
        with urllib.request.urlopen(sent, timeout=_TIMEOUT_S) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


def run_ctl(args: argparse.Namespace) -> int:
    """Do ``args.action`` on ``args.run``; print the outcome; return the exit code."""
    run_dir = _run_dir(args.run, Path(args.out))
    settle_abandoned(run_dir)  # a run whose swarm was killed reads as interrupted
    record = read_run_record(run_dir)
    why_not = _not_going_on(record, args.action)
    if why_not is not None:
        if args.action == "status":
            print(f"{record.run_id}: {record.status or 'unknown'} (not going on)")
        raise UsageError(f"ctl {args.action}: {why_not}", value=args.run)
    assert record.control is not None
    try:
        status, answer = _call(record.control, args.action, args.reason)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RunError(
            f"ctl {args.action}: run {record.run_id} is {record.status} in run.json, but "
            f"its control endpoint {record.control} does not answer ({reason})",
            path=run_dir,
        ) from None
    if status == 409:
        raise IllegalTransition(f"ctl {args.action}: {answer.get('error', 'refused')}")
    if status != 200:
        raise RunError(f"ctl {args.action}: {record.control} answered HTTP {status}", path=run_dir)
    if args.action == "status":
        _print_status(record, answer)
    else:
        print(f"swarm ctl: run {record.run_id} {answer.get('state', '?')}")
    return ExitCode.OK


def _print_status(record: RunRecord, answer: dict[str, Any]) -> None:
    elapsed, paused = answer.get("plan_elapsed_s"), answer.get("paused_s")
    plan = record.plan.duration_s
    where = f", plan at {elapsed:.0f} s" if isinstance(elapsed, int | float) else ""
    where += f" of {plan:g} s" if where and isinstance(plan, int | float) else ""
    where += f", paused {paused:.0f} s in all" if isinstance(paused, int | float) and paused else ""
    print(f"{record.run_id}: {answer.get('state')}{where}")
    for t in answer.get("transitions") or []:
        reason = f" ({t['reason']})" if t.get("reason") else ""
        print(f"  {t.get('at')}  {t.get('state')}{reason}", file=sys.stdout)
