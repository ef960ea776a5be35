"""The admin API of one detector: read, inject and clear faults while it runs.

    GET    /admin/faults   the fault in force, or {"active": false}
    PUT    /admin/faults   a ``FaultSpec`` JSON body; replaces any fault in force
    DELETE /admin/faults   end the fault now

A fault reverts by itself after ``duration_s``; there is nothing to undo. When the
service listens beyond loopback the admin API needs a token (the CLI refuses to
start without one), sent as ``Authorization: Bearer TOKEN`` or ``X-Admin-Token``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from mock_detectors.faults import FaultBoard, FaultSpec
from mock_detectors.protocol import Request, Response, json_response

__all__ = ["AdminApi"]

log = logging.getLogger("mock_detectors")


class AdminApi:
    """Serves ``/admin/faults`` for detector ``name`` against its ``FaultBoard``."""

    def __init__(
        self,
        name: str,
        faults: FaultBoard,
        clock: Callable[[], float],
        token: str | None,
        call_at: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self._name = name
        self._call_at = call_at
        self._faults = faults
        self._clock = clock
        self._token = token.encode() if token else None

    def handle(self, request: Request, endpoint: int) -> Response:
        """Answer one admin request; ``endpoint`` is the metrics label to report under."""
        refusal = self._refuse_unauthorised(request)
        if refusal is not None:
            status, payload, headers = refusal
            return json_response(status, payload, endpoint, headers=headers)
        if request.method == "GET":
            return json_response(200, self._state(), endpoint)
        if request.method == "DELETE":
            self._faults.clear()
            log.info("[%s] fault cleared through the admin API", self._name)
            return json_response(200, self._state(), endpoint)
        return self._put(request, endpoint)

    def _put(self, request: Request, endpoint: int) -> Response:
        try:
            spec = FaultSpec.model_validate_json(request.body or b"{}")
        except ValidationError as exc:
            return json_response(
                400, {"error": "bad_request", "problems": _problems(exc)}, endpoint
            )
        now = self._clock()
        fault = self._faults.set(spec, now)
        log.info(
            "[%s] fault injected for %g s: %s",
            self._name,
            spec.duration_s,
            spec.model_dump_json(exclude_defaults=True),
        )
        if self._call_at is not None:
            generation = self._faults.generation()
            self._call_at(fault.expires_at, lambda: self._log_reverted(generation))
        return json_response(
            200, {"detector": self._name, "active": True} | fault.to_json(now), endpoint
        )

    def _log_reverted(self, generation: int) -> None:
        if self._faults.generation() == generation:  # not replaced or cleared meanwhile
            log.info("[%s] fault expired; back to the configured behaviour", self._name)

    def _state(self) -> dict[str, Any]:
        now = self._clock()
        fault = self._faults.current(now)
        if fault is None:
            return {"detector": self._name, "active": False}
        return {"detector": self._name, "active": True} | fault.to_json(now)

    def _refuse_unauthorised(
        self, request: Request
    ) -> tuple[int, dict[str, Any], tuple[tuple[str, str], ...]] | None:
        if self._token is None:
            return None
        given = request.headers.get("x-admin-token")
        authorization = request.headers.get("authorization", "")
        if given is None and authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        if given is None:
            return (
                401,
                {
                    "error": "unauthorized",
                    "message": "the admin API needs a token: "
                    "send 'Authorization: Bearer TOKEN' or 'X-Admin-Token: TOKEN'",
                },
                (("WWW-Authenticate", 'Bearer realm="swarm-mocks"'),),
            )
        if not hmac.compare_digest(given.encode(), self._token):
            return 403, {"error": "forbidden", "message": "wrong admin token"}, ()
        return None


_EXPECTED = {
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "finite_number": "a finite number",
    "model_type": "a JSON object",
}
_RANGES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic errors as ``{"field", "message"}``; unknown fields list the allowed ones,
    and a value of the wrong JSON type says what was expected and what came."""
    out = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        kind = error["type"]
        if kind == "extra_forbidden":
            message = f"unknown field; allowed: {', '.join(FaultSpec.model_fields)}"
        elif kind in _EXPECTED:
            message = f"must be {_EXPECTED[kind]}, got {_describe(error.get('input'))}"
        elif kind in _RANGES:
            message = f"{message}, got {_describe(error.get('input'))}"
        out.append({"field": field, "message": message})
    return out


def _describe(value: object) -> str:
    """A JSON value as the client sent it, with its JSON type: ``"yes" (a string)``."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    kind = {bool: "a boolean", str: "a string"}.get(type(value), "a number")
    return f"{json.dumps(value)[:60]} ({kind})"
