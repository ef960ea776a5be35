"""Scheduled faults as ``swarm run`` sees them: checked before the load, recorded as they go.

Before any load starts, every mock fault's admin API must answer ``GET /admin/faults``
(``check_admin_apis``): a fault that cannot be injected would make the run measure
something else than it says. While the run goes, the master announces each change
(``framework.locust_glue.faults``) and ``record_change`` writes it into run.json's
``faults``. After the master has exited, ``settle_faults`` ends what is still in force (a
master killed in the middle of a fault) and marks what never started ``skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from framework.errors import RunError
from framework.live.faults import FaultActionError, FaultActions, admin_request
from framework.plan.faults import PlannedFault, fault_record
from framework.scenario.faults import FaultSpec
from framework.scenario.interpolation import Redactor

__all__ = ["check_admin_apis", "fault_records", "record_change", "settle_faults"]


def check_admin_apis(
    faults: Sequence[PlannedFault], specs: Sequence[FaultSpec] = (), *, timeout_s: float = 3.0
) -> None:
    """``RunError`` (exit 3) naming the mock, its URL and the cause, unless every mock
    fault's admin API answers ``GET /admin/faults``; ``specs`` are the faults as written
    (same order), for the mock's name. Each URL is asked once."""
    names = {f.name: s.mock for f, s in zip(faults, specs, strict=False)}
    checked: set[str] = set()
    for fault in faults:
        if fault.kind != "mock" or fault.target in checked:
            continue
        checked.add(fault.target)
        try:
            admin_request("GET", fault.target, timeout_s=timeout_s)
        except FaultActionError as exc:
            mock = names.get(fault.name)
            which = f"mock {mock!r}" if mock else f"fault {fault.name!r}"
            raise RunError(
                f"cannot reach the admin API of {which} at {fault.target}: "
                f"{_cause(str(exc))}; start the mock detectors (swarm mocks) or fix the "
                "fault's target; nothing was run"
            ) from None


def _cause(message: str) -> str:
    """``GET http://…/admin/faults: connection refused`` → ``connection refused``."""
    return message.split(": ", 1)[1] if ": " in message else message


def fault_records(faults: Sequence[PlannedFault], redactor: Redactor) -> list[dict[str, Any]]:
    """run.json's ``faults`` before the run: every fault ``planned``, secret values in a
    command masked."""
    records = []
    for fault in faults:
        record = fault_record(fault)
        record["target"] = redactor.text(record["target"])
        record["action"] = {
            k: redactor.text(v) if isinstance(v, str) else v for k, v in record["action"].items()
        }
        records.append(record)
    return records


def record_change(
    records: list[dict[str, Any]], announced: Mapping[str, Any], at_iso: str, redactor: Redactor
) -> bool:
    """Apply one ``fault`` announcement (name, status, error) to run.json's ``faults``;
    ``False`` when it names no fault of the run."""
    name, status = announced.get("name"), announced.get("status")
    entry = next((r for r in records if r.get("name") == name), None)
    if entry is None or not isinstance(status, str):
        return False
    error = announced.get("error")
    if status == "active":
        entry["started_at"] = at_iso
    elif status in ("ended", "failed") and entry.get("started_at"):
        entry["ended_at"] = at_iso
    entry["status"] = status
    entry["error"] = redactor.text(error) if isinstance(error, str) else None
    return True


def settle_faults(
    records: list[dict[str, Any]],
    faults: Sequence[PlannedFault],
    at_iso: str,
    *,
    actions: FaultActions | None = None,
) -> bool:
    """After the master exited: end each fault run.json still has in force (the master
    could not: it was killed) and mark the planned ones ``skipped``; whether any changed."""
    actions = actions or FaultActions()
    by_name = {fault.name: fault for fault in faults}
    changed = False
    for entry in records:
        status = entry.get("status")
        if status == "planned":
            entry.update(status="skipped", error="not started: the run ended first")
            changed = True
        elif status == "active":
            fault = by_name.get(str(entry.get("name")))
            note = "ended by swarm after the Locust master stopped"
            try:
                if fault is not None:
                    actions.end(fault)
            except FaultActionError as exc:
                entry.update(status="failed", ended_at=at_iso, error=f"{note}; ending it: {exc}")
            else:
                entry.update(status="ended", ended_at=at_iso, error=note)
            changed = True
    return changed
