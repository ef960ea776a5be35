"""One mock detector: routes, outcomes (success, error, hang) and the answers' bodies.

Each request is decided the moment it arrives — outcome, latency and body — and the
server writes the answer when its latency has passed, so the only work per request
is a few random draws and one ``json.dumps``.

Routes (anything else is a 404 JSON; a known path with the wrong method is a 405):

    POST /detect          {"content": str, "metadata": {...}?} -> verdict after the latency
    POST /detect/batch    [item, ...] or {"items": [...]}; latency = base + per_item_ms * n
    GET  /health          200, or 503 while an outage is injected
    GET  /metrics         Prometheus text
    GET|PUT|DELETE /admin/faults   see ``admin.py``
    GET  /admin/queue     {"detector": name, "depth": N}: requests in flight, this one not counted

Every answer of ``/detect`` and ``/detect/batch`` says how long the detector "processed"
it — the latency it drew, stall included — in ``Server-Timing: app;dur=<ms>`` and
``X-Processing-Ms: <ms>``, as a real service would, for a scenario's ``metrics:``.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import zlib
from collections.abc import Callable
from typing import Any

from mock_detectors.admin import AdminApi
from mock_detectors.config import DetectorConfig
from mock_detectors.faults import ActiveFault, FaultBoard
from mock_detectors.latency import make_sampler
from mock_detectors.metrics import ENDPOINTS, MetricsWriter
from mock_detectors.protocol import Request, Response, json_response
from mock_detectors.stall import StallClock

__all__ = ["DetectorApp"]

_DETECT, _BATCH, _HEALTH, _METRICS, _ADMIN, _OTHER = range(len(ENDPOINTS))
_ROUTES: dict[str, tuple[int, tuple[str, ...]]] = {
    "/detect": (_DETECT, ("POST",)),
    "/detect/batch": (_BATCH, ("POST",)),
    "/health": (_HEALTH, ("GET",)),
    "/metrics": (_METRICS, ("GET",)),
    "/admin/faults": (_ADMIN, ("GET", "PUT", "DELETE")),
    "/admin/queue": (_ADMIN, ("GET",)),
}
_ERROR_NAMES = {
    429: ("rate_limited", "too many requests"),
    500: ("internal_error", "internal server error"),
    502: ("bad_gateway", "bad gateway"),
    503: ("unavailable", "service unavailable"),
    504: ("timeout", "upstream timed out"),
}
_RETRY_AFTER = (("Retry-After", "1"),)
_REFUSALS = {  # the server's own refusals, before a request reaches a route
    408: "request_timeout",
    413: "payload_too_large",
    431: "headers_too_large",
    501: "not_implemented",
    503: "too_many_connections",
    505: "http_version_not_supported",
}


class DetectorApp:
    """The ``protocol.Application`` of one detector in one process.

    ``rng`` decides outcomes and latencies; seed it (the service uses the detector's
    ``seed`` plus the process index) to replay the same sequence. ``metrics_text``
    renders ``/metrics``; it is passed in because the text covers every process.
    """

    def __init__(
        self,
        name: str,
        config: DetectorConfig,
        *,
        max_body_bytes: int,
        faults: FaultBoard,
        metrics: MetricsWriter,
        metrics_text: Callable[[], bytes],
        clock: Callable[[], float],
        rng: random.Random,
        admin_token: str | None,
        call_at: Callable[[float, Callable[[], None]], object] | None = None,
        stall: StallClock | None = None,
        in_flight: Callable[[], int] | None = None,
    ) -> None:
        self.name = name
        self._in_flight = in_flight
        self._stall = stall
        self.max_body_bytes = max_body_bytes
        self._config = config
        self._faults = faults
        self._metrics = metrics
        self._metrics_text = metrics_text
        self._clock = clock
        self._rng = rng
        self._latency = make_sampler(config.latency, rng)
        self._hang = make_sampler(config.timeouts.hang, rng)
        self._error_rate = config.errors.rate
        self._timeout_rate = config.timeouts.rate
        statuses = list(config.errors.statuses.items())
        self._statuses = [status for status, _ in statuses]
        self._status_cumulative = list(itertools.accumulate(weight for _, weight in statuses))
        self._admin = AdminApi(name, faults, clock, admin_token, call_at)
        self._ids = itertools.count(1)
        self._id_prefix = f"{name}-{os.getpid():x}-"

    # -- protocol.Application ---------------------------------------------

    def handle(self, request: Request) -> Response:
        route = _ROUTES.get(request.path)
        if route is None:
            return json_response(
                404,
                {
                    "error": "not_found",
                    "message": f"no route {request.method} {request.path}",
                    "routes": sorted(_ROUTES),
                },
                _OTHER,
            )
        endpoint, methods = route
        if request.method not in methods:
            return json_response(
                405,
                {
                    "error": "method_not_allowed",
                    "message": f"{request.path} accepts {', '.join(methods)}, not {request.method}",
                },
                endpoint,
                headers=(("Allow", ", ".join(methods)),),
            )
        if endpoint == _DETECT:
            return self._detect(request)
        if endpoint == _BATCH:
            return self._batch(request)
        if endpoint == _HEALTH:
            return self._health()
        if endpoint == _METRICS:
            return Response(
                200,
                self._metrics_text(),
                "text/plain; version=0.0.4; charset=utf-8",
                endpoint=_METRICS,
            )
        if request.path == "/admin/queue":
            return self._queue()
        return self._admin.handle(request, _ADMIN)

    def reject(self, status: int, message: str, path: str) -> Response:
        endpoint = _ROUTES.get(path, (_OTHER, ()))[0]
        error = _REFUSALS.get(status, "bad_request")
        headers = _RETRY_AFTER if status == 503 else ()
        return json_response(
            status, {"error": error, "message": message}, endpoint, headers=headers
        )

    def started(self) -> None:
        self._metrics.started()

    def finished(self, response: Response, elapsed_s: float) -> None:
        self._metrics.finished(response.endpoint, response.status, elapsed_s)

    def abandoned(self, response: Response, elapsed_s: float) -> None:
        self._metrics.finished(response.endpoint, 499, elapsed_s)

    # -- routes ------------------------------------------------------------

    def _detect(self, request: Request) -> Response:
        payload, problem = _parse_json(request.body)
        if problem is None:
            problem = _item_problem(payload, "body")
        if problem is not None:
            return _bad_request(problem, _DETECT)
        request_id = self._request_id(request)
        result = {"detector": self.name, "request_id": request_id}
        return self._answer(
            _DETECT, request, request_id, 0.0, lambda: result | self._verdict(payload)
        )

    def _batch(self, request: Request) -> Response:
        batch = self._config.batch
        if batch is None:
            return json_response(
                404,
                {
                    "error": "not_found",
                    "message": f"detector {self.name!r} has no batch endpoint "
                    "(set `batch:` in its config)",
                },
                _BATCH,
            )
        payload, problem = _parse_json(request.body)
        items = payload.get("items") if isinstance(payload, dict) else payload
        if problem is None:
            if not isinstance(items, list) or not items:
                problem = 'expected a non-empty JSON list of items, or {"items": [...]}'
            elif len(items) > batch.max_items:
                problem = f"batch has {len(items)} items; at most {batch.max_items} allowed"
            else:
                problem = next(
                    (
                        p
                        for i, item in enumerate(items)
                        if (p := _item_problem(item, f"items[{i}]")) is not None
                    ),
                    None,
                )
        if problem is not None:
            return _bad_request(problem, _BATCH)
        request_id = self._request_id(request)

        def body() -> dict[str, Any]:
            results = [{"index": i} | self._verdict(item) for i, item in enumerate(items)]
            return {
                "detector": self.name,
                "request_id": request_id,
                "count": len(items),
                "results": results,
            }

        return self._answer(_BATCH, request, request_id, batch.per_item_ms * len(items), body)

    def _health(self) -> Response:
        now = self._clock()
        fault = self._faults.current(now)
        if fault is not None and fault.spec.outage:
            return json_response(
                503,
                {
                    "status": "outage",
                    "detector": self.name,
                    "message": "an outage is injected through /admin/faults",
                    "expires_in_s": round(fault.remaining_s(now), 3),
                },
                _HEALTH,
                headers=_RETRY_AFTER,
            )
        body: dict[str, Any] = {
            "status": "ok",
            "detector": self.name,
            "faults": [] if fault is None else fault.spec.kinds(),
        }
        if self._stall is not None:
            body["stall"] = self._stall.state(now)
        return json_response(200, body, _HEALTH)

    def _queue(self) -> Response:
        """The queue's depth: requests read and not answered yet, over every process of the
        service, without this one. Read-only, so it needs no admin token (as ``/metrics``)."""
        depth = 0 if self._in_flight is None else max(0, self._in_flight() - 1)
        return json_response(200, {"detector": self.name, "depth": depth}, _ADMIN)

    # -- outcomes ----------------------------------------------------------

    def _answer(
        self,
        endpoint: int,
        request: Request,
        request_id: str,
        extra_ms: float,
        success_body: Callable[[], dict[str, Any]],
    ) -> Response:
        """Draw the outcome and latency, applying any injected fault and the stall.

        A request that arrives during a stall window is held to the window's end, and
        its drawn latency counts from there (``stall.py``); the body's ``latency_ms`` is
        the whole delay and ``stalled_ms`` the part of it spent held.
        """
        fault = self._faults.current(self._clock())
        if fault is not None and fault.spec.outage:
            return json_response(
                503,
                self._error_body(503, request_id, "an outage is injected through /admin/faults"),
                endpoint,
                headers=_RETRY_AFTER,
            )
        error_rate, timeout_rate = self._error_rate, self._timeout_rate
        if fault is not None:
            spec = fault.spec
            if spec.error_rate is not None:
                error_rate = spec.error_rate
            if spec.timeout_probability is not None:
                timeout_rate = spec.timeout_probability
        held_ms = 0.0 if self._stall is None else self._stall.wait_s(request.arrived) * 1000
        draw = self._rng.random()
        if error_rate <= draw < error_rate + timeout_rate:
            latency_ms = self._adjust(self._hang(), fault) + held_ms
            status = self._config.timeouts.status
            payload = self._error_body(
                status, request_id, f"simulated hang of {latency_ms:.0f} ms before answering"
            )
            if status < 400:
                payload = success_body()
            _stamp(payload, latency_ms, held_ms)
            return json_response(
                status, payload, endpoint, delay_s=latency_ms / 1000, headers=_timing(latency_ms)
            )
        latency_ms = self._adjust(self._latency() + extra_ms, fault) + held_ms
        if draw < error_rate:
            status, why = self._error_status(fault, error_rate)
            payload = self._error_body(status, request_id, why)
            headers = _RETRY_AFTER if status in (429, 503) else ()
        else:
            status, payload, headers = 200, success_body(), ()
        _stamp(payload, latency_ms, held_ms)
        return json_response(
            status,
            payload,
            endpoint,
            delay_s=latency_ms / 1000,
            headers=(*headers, *_timing(latency_ms)),
        )

    def _adjust(self, latency_ms: float, fault: ActiveFault | None) -> float:
        if fault is None:
            return latency_ms
        return latency_ms * fault.spec.latency_multiplier + fault.spec.added_latency_ms

    def _error_status(self, fault: ActiveFault | None, rate: float) -> tuple[int, str]:
        if fault is not None and fault.spec.error_rate is not None:
            return fault.spec.error_status, (
                f"simulated failure: a fault injected through /admin/faults fails "
                f"{rate:.0%} of requests"
            )
        pick = self._rng.random() * self._status_cumulative[-1]
        status = self._statuses[bisect.bisect_right(self._status_cumulative, pick)]
        return status, (
            f"simulated failure: detector {self.name!r} is configured to fail "
            f"{rate:.0%} of requests (errors.rate)"
        )

    def _error_body(self, status: int, request_id: str, why: str) -> dict[str, Any]:
        error, phrase = _ERROR_NAMES.get(status, ("error", "error"))
        return {
            "detector": self.name,
            "request_id": request_id,
            "error": error,
            "status": status,
            "message": f"{phrase}: {why}",
        }

    def _verdict(self, item: dict[str, Any]) -> dict[str, Any]:
        """A verdict that depends only on the content: the same text always gets the same one."""
        digest = zlib.crc32(item["content"].encode("utf-8", "surrogatepass"))
        score = round(digest / 0xFFFFFFFF, 4)
        if score >= self._config.flag_threshold:
            labels = self._config.labels
            return {
                "verdict": "flagged",
                "labels": [labels[(digest >> 8) % len(labels)]],
                "score": score,
            }
        return {"verdict": "clean", "labels": [], "score": score}

    def _request_id(self, request: Request) -> str:
        given = request.headers.get("x-request-id")
        if given:
            return given[:128]
        return f"{self._id_prefix}{next(self._ids):06x}"


def _timing(latency_ms: float) -> tuple[tuple[str, str], ...]:
    """The processing-time headers of an answer that waited ``latency_ms``."""
    ms = f"{latency_ms:.3f}"
    return (("Server-Timing", f"app;dur={ms}"), ("X-Processing-Ms", ms))


def _stamp(payload: dict[str, Any], latency_ms: float, held_ms: float) -> None:
    payload["latency_ms"] = round(latency_ms, 3)
    if held_ms:
        payload["stalled_ms"] = round(held_ms, 3)


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    if not body:
        return None, "empty body; expected JSON"
    try:
        return json.loads(body), None
    except UnicodeDecodeError:
        return None, "invalid JSON: the body is not UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc}"


def _item_problem(item: Any, where: str) -> str | None:
    if not isinstance(item, dict):
        return f'{where} must be a JSON object like {{"content": "...", "metadata": {{}}}}'
    if not isinstance(item.get("content"), str):
        return f"{where}.content is required and must be a string"
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return f"{where}.metadata must be a JSON object"
    return None


def _bad_request(message: str, endpoint: int) -> Response:
    return json_response(400, {"error": "bad_request", "message": message}, endpoint)
