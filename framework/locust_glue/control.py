"""Pause, resume and stop a run while it goes on: the gate, the endpoints, the signals.

``install(environment)`` (from the locustfile's ``init``) adapts itself to the runner:

- **master / local**: a :class:`Controller` moves the live feed's run state (``running ⇄
  paused``, ``stopping``) and refuses what the state machine refuses. It answers

  ======================  =====================================================================
  ``POST /swarm/pause``   200 ``{"state": "paused"}``, or 409 ``{"error": reason}``
  ``POST /swarm/resume``  200 ``{"state": "running"}``, or 409
  ``POST /swarm/stop``    200 ``{"state": "stopping"}`` (the run ends ``finished``), or 409
  ``GET /swarm/state``    ``{"state", "run_id", "plan_elapsed_s", "paused_s", "transitions"}``
  ======================  =====================================================================

  on the web UI's Flask app in ``--web`` mode, and headless on a small control server of
  its own (gevent's WSGI server on ``127.0.0.1``, an ephemeral port). The address is
  announced (``swarm-event: {"event": "control", "url": ...}``) for ``run.json``'s
  ``control``, which ``swarm ctl`` reads. ``SIGUSR1`` pauses and ``SIGUSR2`` resumes.
- **worker**: a gate, opened and closed by the master's ``swarm_gate`` message.

Pausing closes the gate: every swarm task waits at it before sending its request, so no
request starts while paused, while one already in flight completes and is recorded (Locust
stopping the users instead — a shape asking for 0 users — kills them mid-request, and
those requests are never recorded). The users stay, with their sessions and data rows; the
plan's clock stands still (``LiveFeed.plan_elapsed_s``), and resuming opens the gate and
continues the plan where it stopped.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import gevent
from flask import Flask, Response, jsonify, request
from gevent.event import Event
from gevent.pywsgi import WSGIServer
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from framework.live.announce import announcement
from framework.live.feed import LiveFeed
from framework.live.state import IllegalTransition, State
from framework.locust_glue.telemetry import feed_of

__all__ = [
    "GATE_MESSAGE",
    "PAUSE_GATE",
    "PAUSE_SIGNAL",
    "RESUME_SIGNAL",
    "ControlServer",
    "Controller",
    "add_routes",
    "controller_of",
    "install",
    "wait_while_paused",
]

logger = logging.getLogger(__name__)

GATE_MESSAGE = "swarm_gate"
"""The master → worker message that opens (``{"open": true}``) or closes the gate."""
PAUSE_SIGNAL = signal.SIGUSR1
RESUME_SIGNAL = signal.SIGUSR2
PAUSE_GATE = "swarm_pause_gate"
"""The environment attribute holding the process's gate (a gevent ``Event``; set = open)."""
_CONTROLLER = "swarm_controller"
_REASON_CHARS = 200


def _gate(environment: Environment) -> Event:
    """The process's gate (set = open), made on first use."""
    gate = getattr(environment, PAUSE_GATE, None)
    if gate is None:
        gate = Event()
        gate.set()
        setattr(environment, PAUSE_GATE, gate)
    return gate


def _set(gate: Event, *, open_: bool) -> None:
    if open_:
        gate.set()
    else:
        gate.clear()


def wait_while_paused(environment: Environment) -> None:
    """Block the calling user while the run is paused; return at once otherwise.

    Called by every swarm task before it sends its request: an attribute read and a flag
    test when open, so it costs nothing measurable on the hot path.
    """
    gate = getattr(environment, PAUSE_GATE, None)
    if gate is not None and not gate.is_set():
        gate.wait()


def _iso(at_s: float) -> str:
    return (
        datetime.fromtimestamp(at_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class Controller:
    """Moves the run of ``environment`` (its master or local process) between states.

    ``pause``, ``resume`` and ``stop`` return the new state or raise ``IllegalTransition``
    with the reason (the endpoints answer it as HTTP 409); ``stop`` ends the run gracefully,
    as the end of the plan does: the run is complete, ``finished``.
    """

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def __repr__(self) -> str:
        feed = self.feed
        return f"Controller(state={feed.state if feed else None!r})"

    @property
    def feed(self) -> LiveFeed | None:
        return feed_of(self.environment)

    def _feed(self, verb: str) -> LiveFeed:
        feed = self.feed
        if feed is None:
            raise IllegalTransition(f"cannot {verb}: no swarm run in this process")
        return feed

    def pause(self, reason: str | None = None) -> State:
        """Close the gate and freeze the plan's clock."""
        self._feed("pause").move("paused", time.time(), reason)
        self._set_gate(open_=False)
        logger.info("swarm: run paused%s", f" ({reason})" if reason else "")
        return "paused"

    def resume(self, reason: str | None = None) -> State:
        """Open the gate; the plan continues where it stopped."""
        self._feed("resume").move("running", time.time(), reason)
        self._set_gate(open_=True)
        logger.info("swarm: run resumed%s", f" ({reason})" if reason else "")
        return "running"

    def stop(self, reason: str | None = None) -> State:
        """End the run now, as if its plan had ended (headless: quit; web UI: stop)."""
        self._feed("stop").move("stopping", time.time(), reason)
        self._set_gate(open_=True)
        logger.info("swarm: run stopping%s", f" ({reason})" if reason else "")
        runner = self.environment.runner
        options = self.environment.parsed_options
        if runner is not None:
            headless = options is None or getattr(options, "headless", True)
            # after the answer has gone out: quitting ends this process
            gevent.spawn_later(0.2, runner.quit if headless else runner.stop)
        return "stopping"

    def state(self) -> dict[str, Any]:
        """What ``GET /swarm/state`` answers."""
        feed = self.feed
        if feed is None:
            return {"state": None, "run_id": None, "transitions": []}
        now = time.time()
        history = feed.run_state.history
        return {
            "state": feed.state,
            "run_id": feed.run_id,
            "plan_elapsed_s": round(feed.plan_elapsed_s(now), 3),
            "paused_s": round(feed.run_state.seconds_in("paused", now), 3),
            "transitions": [
                {"state": t.state, "at": _iso(t.at_s), "reason": t.reason} for t in history
            ],
        }

    def _set_gate(self, *, open_: bool) -> None:
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            runner.send_message(GATE_MESSAGE, {"open": open_})
        _set(_gate(self.environment), open_=open_)

    def on_worker_connect(self, client_id: str, **_kwargs: Any) -> None:
        """A worker that joins while the run is paused starts with its gate closed."""
        feed = self.feed
        runner = self.environment.runner
        if feed is not None and feed.state == "paused" and isinstance(runner, MasterRunner):
            runner.send_message(GATE_MESSAGE, {"open": False}, client_id=client_id)


def controller_of(environment: Environment) -> Controller | None:
    """The controller of ``environment``'s master or local process (``None`` on workers)."""
    found = getattr(environment, _CONTROLLER, None)
    return found if isinstance(found, Controller) else None


def _reason(default: str) -> str:
    """The ``reason`` of a JSON body (``{"reason": "deploy"}``), else ``default``."""
    body = request.get_json(silent=True)
    given = body.get("reason") if isinstance(body, dict) else None
    if isinstance(given, str) and given.strip():
        return given.strip()[:_REASON_CHARS]
    return default


def add_routes(
    app: Flask,
    controller: Controller,
    *,
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    default_reason: str = "HTTP request",
) -> None:
    """Add the four ``/swarm/...`` endpoints to ``app`` (``wrap``: e.g. the web UI's login)."""

    def move(action: Callable[[str | None], State]) -> tuple[Response, int]:
        try:
            state = action(_reason(default_reason))
        except IllegalTransition as exc:
            return jsonify({"error": str(exc)}), 409
        return jsonify({"state": state}), 200

    views: dict[str, tuple[str, Callable[[], Any]]] = {
        "pause": ("POST", lambda: move(controller.pause)),
        "resume": ("POST", lambda: move(controller.resume)),
        "stop": ("POST", lambda: move(controller.stop)),
        "state": ("GET", lambda: jsonify(controller.state())),
    }
    for name, (method, view) in views.items():
        view.__name__ = f"swarm_{name}"
        app.add_url_rule(
            f"/swarm/{name}",
            endpoint=f"swarm_{name}",
            view_func=wrap(view) if wrap else view,
            methods=[method],
        )


class ControlServer:
    """The headless run's control endpoints: a tiny Flask app on gevent's WSGI server,
    bound to ``127.0.0.1`` on a free port (only this host may pause the run)."""

    def __init__(self, controller: Controller, host: str = "127.0.0.1", port: int = 0) -> None:
        app = Flask("swarm-control")
        add_routes(app, controller, default_reason="swarm control endpoint")
        self.server = WSGIServer((host, port), app, log=None, error_log=logger)
        self.server.start()
        self.url = f"http://{host}:{self.server.server_port}"

    def __repr__(self) -> str:
        return f"ControlServer({self.url!r})"

    def close(self) -> None:
        self.server.stop(timeout=1)


def _web_url(environment: Environment) -> str | None:
    options = environment.parsed_options
    if options is None:
        return None
    host = getattr(options, "web_host", "") or ""
    port = getattr(options, "web_port", None)
    if port is None:
        return None
    host = "127.0.0.1" if host in ("", "*", "0.0.0.0") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _on_gate_message(environment: Environment, msg: Any, **_kwargs: Any) -> None:
    open_ = bool((msg.data or {}).get("open", True))
    _set(_gate(environment), open_=open_)
    logger.info("swarm: %s by the master", "resumed" if open_ else "paused")


def _by_signal(controller: Controller, action: str, name: str) -> Callable[[], None]:
    def handle() -> None:
        try:
            getattr(controller, action)(f"signal {name}")
        except IllegalTransition as exc:
            logger.warning("swarm: %s refused: %s", name, exc)

    return handle


def install(environment: Environment, *, signals: bool = True) -> Controller | None:
    """Attach pause / resume / stop to ``environment``; call it from the ``init`` event,
    after ``telemetry.install``. Returns the controller (``None`` on a worker)."""
    runner = environment.runner
    _gate(environment)
    if isinstance(runner, WorkerRunner):
        runner.register_message(GATE_MESSAGE, _on_gate_message)
        return None
    controller = Controller(environment)
    setattr(environment, _CONTROLLER, controller)
    web_ui = environment.web_ui
    if web_ui is not None:
        add_routes(web_ui.app, controller, wrap=web_ui.auth_required_if_enabled)
        url = _web_url(environment)
    else:
        server = ControlServer(controller)
        environment.events.quit.add_listener(lambda **_kw: server.close())
        url = server.url
    if isinstance(runner, MasterRunner):
        environment.events.worker_connect.add_listener(controller.on_worker_connect)
    if signals:
        gevent.signal_handler(PAUSE_SIGNAL, _by_signal(controller, "pause", PAUSE_SIGNAL.name))
        gevent.signal_handler(RESUME_SIGNAL, _by_signal(controller, "resume", RESUME_SIGNAL.name))
    if url is not None:
        logger.info(announcement("control", url=url))
    return controller
