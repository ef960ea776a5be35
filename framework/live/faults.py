"""Scheduled faults while a run goes: which start and end at a plan time, and doing it.

``FaultRunner`` is handed the plan's elapsed seconds (the live feed's clock, frozen while
paused) and starts and ends each ``PlannedFault`` as the clock passes its times; what it
does to a mock or a command is ``FaultActions``, so the stepping is tested on literals and
the actions against a real mock. A mock fault is a ``PUT /admin/faults`` whose
``duration_s`` is what is left of the fault (so the mock reverts by itself if swarm dies)
and a ``DELETE`` at its end; a command fault runs ``start``, then ``stop`` (each in a shell,
within its timeout). A failure is recorded (status ``failed`` with the error), never
raised: a fault that cannot be injected must not end the load test.

The runner lives in the Locust master (or the one local process), which announces every
change to ``swarm run`` (``framework.locust_glue.faults``); ``swarm run`` checks the admin
APIs before the load starts and ends what is still in force if the master could not.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from framework.plan.faults import PlannedFault

__all__ = [
    "ADMIN_TIMEOUT_S",
    "FAULTS_ENV",
    "TOKEN_ENV",
    "FaultActionError",
    "FaultActions",
    "FaultChange",
    "FaultRunner",
    "admin_request",
    "mock_body",
    "run_command",
]

FAULTS_ENV = "SWARM_FAULTS"
"""The environment variable that hands the master its planned faults (JSON)."""
TOKEN_ENV = "SWARM_MOCKS_ADMIN_TOKEN"
"""The mocks' admin token (as ``swarm mocks`` reads it), sent when set."""
ADMIN_TIMEOUT_S = 5.0
"""Longest one admin API request may take."""
_ERROR_TEXT = 300


class FaultActionError(Exception):
    """An action on a fault failed; the message says what and why. A signal between the
    actions and the runner, which records it: never shown as a traceback."""


def admin_request(
    method: str, base_url: str, body: dict[str, Any] | None = None, *, timeout_s: float = 5.0
) -> dict[str, Any]:
    """``method`` ``<base_url>/admin/faults`` with a JSON ``body``; the JSON answer, or
    ``FaultActionError`` naming the URL and the cause (refused, timed out, a status)."""
    url = f"{base_url.rstrip('/')}/admin/faults"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    token = os.environ.get(TOKEN_ENV)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            text = answer.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace").strip()
        raise FaultActionError(
            f"{method} {url} answered {exc.code}: {detail[:_ERROR_TEXT]}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = getattr(reason, "strerror", None) or str(reason)
        raise FaultActionError(f"{method} {url}: {str(why).lower()}") from None
    except (OSError, ValueError) as exc:  # a timeout, a reset, a malformed URL
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise FaultActionError(f"{method} {url}: {why}") from None
    try:
        found = json.loads(text or b"{}")
    except ValueError:
        raise FaultActionError(f"{method} {url}: the answer is not JSON") from None
    return found if isinstance(found, dict) else {}


def mock_body(action: dict[str, Any] | Any, duration_s: float) -> dict[str, Any]:
    """The ``PUT /admin/faults`` body of a mock fault's settings for ``duration_s``
    (``hang: true`` is every request hanging: ``timeout_probability`` 1)."""
    body: dict[str, Any] = {"duration_s": round(max(duration_s, 0.001), 3)}
    for key, value in dict(action).items():
        if key == "hang":
            if value:
                body["timeout_probability"] = 1.0
        elif key == "outage":
            if value:
                body["outage"] = True
        else:
            body[key] = value
    return body


def run_command(command: str, timeout_s: float) -> None:
    """Run ``command`` in a shell; ``FaultActionError`` if it fails or outlives
    ``timeout_s`` (it is then killed)."""
    try:
        done = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise FaultActionError(f"command timed out after {timeout_s:g} s: {command}") from None
    except OSError as exc:
        raise FaultActionError(f"command could not start: {exc.strerror or exc}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip()
        tail = f": {said[-_ERROR_TEXT:]}" if said else ""
        raise FaultActionError(f"command exited with code {done.returncode}{tail}")


class FaultActions:
    """What starting, renewing and ending a fault does (overridable for tests)."""

    def start(self, fault: PlannedFault, remaining_s: float) -> None:
        """Put ``fault`` in force for ``remaining_s`` more seconds."""
        if fault.kind == "mock":
            admin_request(
                "PUT", fault.target, mock_body(fault.action, remaining_s), timeout_s=ADMIN_TIMEOUT_S
            )
        else:
            run_command(str(fault.action.get("start") or fault.target), _timeout(fault))

    def renew(self, fault: PlannedFault, remaining_s: float) -> None:
        """After a pause: a mock's fault may have reverted by itself meanwhile (its
        duration runs on the wall clock), so it is put again for what is left."""
        if fault.kind == "mock":
            self.start(fault, remaining_s)

    def end(self, fault: PlannedFault) -> None:
        """End ``fault`` now."""
        if fault.kind == "mock":
            admin_request("DELETE", fault.target, timeout_s=ADMIN_TIMEOUT_S)
        elif fault.action.get("stop"):
            run_command(str(fault.action["stop"]), _timeout(fault))


def _timeout(fault: PlannedFault) -> float:
    value = fault.action.get("timeout_s")
    return float(value) if isinstance(value, int | float) and value > 0 else 10.0


@dataclass(frozen=True)
class FaultChange:
    """A fault moved to ``status`` at plan second ``plan_s``; ``error`` says why it failed
    (or how it ended, when the run ended it)."""

    name: str
    status: str
    plan_s: float
    error: str | None = None


class FaultRunner:
    """Starts and ends faults as the plan's clock passes their times; ``on_change`` hears
    every change (to announce and record it)."""

    def __init__(
        self,
        faults: Sequence[PlannedFault],
        *,
        actions: FaultActions | None = None,
        on_change: Callable[[FaultChange], None] = lambda change: None,
    ) -> None:
        self.faults = tuple(faults)
        self.actions = actions or FaultActions()
        self.on_change = on_change
        self.status = {fault.name: "planned" for fault in self.faults}

    def __repr__(self) -> str:
        return f"FaultRunner({self.status!r})"

    @property
    def active(self) -> list[PlannedFault]:
        """The faults in force (or being put in force)."""
        return [f for f in self.faults if self.status[f.name] in ("active", "starting")]

    @property
    def done(self) -> bool:
        """Nothing is left to start or end."""
        return all(s in ("ended", "failed", "skipped") for s in self.status.values())

    def step(self, plan_s: float) -> None:
        """Start the faults due by ``plan_s`` and end those whose end has passed."""
        for fault in self.faults:
            if self.status[fault.name] == "planned" and fault.start_s <= plan_s:
                self.status[fault.name] = "starting"
                try:
                    self.actions.start(fault, fault.end_s - plan_s)
                except FaultActionError as exc:
                    self._change(fault, "failed", plan_s, str(exc))
                    continue
                self._change(fault, "active", plan_s)
            if self.status[fault.name] == "active" and fault.end_s <= plan_s:
                self._end(fault, plan_s)

    def resume(self, plan_s: float) -> None:
        """The run resumed after a pause at ``plan_s``: renew what is in force."""
        for fault in self.active:
            try:
                self.actions.renew(fault, fault.end_s - plan_s)
            except FaultActionError as exc:
                self._change(fault, "failed", plan_s, f"renewing after a pause: {exc}")

    def finish(self, plan_s: float, why: str = "the run ended") -> None:
        """The run is ending: end every fault in force; those never started are skipped."""
        for fault in self.faults:
            status = self.status[fault.name]
            if status in ("active", "starting"):
                self._end(fault, plan_s, note=f"ended early: {why}")
            elif status == "planned":
                self._change(fault, "skipped", plan_s, f"not started: {why}")

    def _end(self, fault: PlannedFault, plan_s: float, note: str | None = None) -> None:
        try:
            self.actions.end(fault)
        except FaultActionError as exc:
            prefix = f"{note}; " if note else ""
            self._change(fault, "failed", plan_s, f"{prefix}ending it: {exc}")
            return
        self._change(fault, "ended", plan_s, note)

    def _change(self, fault: PlannedFault, status: str, plan_s: float, error: str | None = None):
        self.status[fault.name] = status
        self.on_change(FaultChange(fault.name, status, round(plan_s, 3), error))
