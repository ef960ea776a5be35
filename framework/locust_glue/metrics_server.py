"""Serve the run's live ``/metrics`` from the Locust master (or the single local process).

Two places, one registry: with the web UI, ``GET /metrics`` is a route of Locust's own
Flask app (the web UI's port); with ``--swarm-metrics-port`` (``swarm run --metrics-port``)
a small gevent WSGI server answers on that port as well, which is how a headless run is
scraped. The registry is this process's own ``CollectorRegistry`` holding only
``LiveMetrics`` (no process or Python GC metrics mixed in), fed by ``feed_of(environment)``.

A port that cannot be bound (taken since ``swarm run`` checked it) is logged as one error
line and the run goes on without ``/metrics``: the load is already on its way.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gevent.pywsgi import WSGIServer
from locust.env import Environment
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import choose_encoder

from framework.live.arrivals import open_rates
from framework.live.budget_status import budget_limits
from framework.live.metrics import LiveMetrics
from framework.locust_glue.telemetry import feed_of
from framework.plan.groups import LoadSchedule
from framework.scenario.budgets import Budgets

__all__ = ["HOST_OPTION", "METRICS_PATH", "PORT_OPTION", "add_options", "install"]

logger = logging.getLogger(__name__)

HOST_OPTION = "--swarm-metrics-host"
PORT_OPTION = "--swarm-metrics-port"
METRICS_PATH = "/metrics"
_ATTRIBUTE = "swarm_metrics"


def add_options(parser: argparse.ArgumentParser) -> None:
    """Locust options of the master: where to serve ``/metrics`` besides the web UI."""
    parser.add_argument(
        HOST_OPTION,
        default="127.0.0.1",
        help="swarm: address of the /metrics server (default 127.0.0.1)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        PORT_OPTION,
        type=int,
        default=0,
        help="swarm: serve Prometheus /metrics on this port (default 0: only on the web UI)",
        include_in_web_ui=False,
    )


def install(
    environment: Environment,
    *,
    scenario: str,
    budgets: Budgets | None,
    schedule: LoadSchedule | None = None,
) -> LiveMetrics | None:
    """Make this process's metrics and serve them; ``None`` on a worker (no feed there).
    ``schedule`` gives the open load groups' planned rates (``swarm_planned_arrival_rate``).

    Call it from the ``init`` event, after the telemetry is installed.
    """
    feed = feed_of(environment)
    if feed is None:
        return None
    options = environment.parsed_options
    run_dir = getattr(options, "swarm_run_dir", None) if options else None
    run_id = run_dir.rstrip("/").rsplit("/", 1)[-1] if run_dir else None
    metrics = LiveMetrics(
        feed,
        scenario=scenario,
        limits=budget_limits(budgets),
        run_id=run_id,
        rates=open_rates(schedule),
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    setattr(environment, _ATTRIBUTE, metrics)
    if environment.web_ui is not None:
        _add_route(environment.web_ui.app, registry)
    port = getattr(options, "swarm_metrics_port", 0) if options else 0
    if port:
        host = getattr(options, "swarm_metrics_host", "127.0.0.1")
        _serve(registry, host, port)
    return metrics


def _add_route(app: Any, registry: CollectorRegistry) -> None:
    """``GET /metrics`` on the web UI's Flask app (the format the scraper asks for)."""
    from flask import Response, request

    def metrics() -> Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(registry), content_type=content_type)

    app.add_url_rule(METRICS_PATH, "swarm_metrics", metrics, methods=["GET"])


def _serve(registry: CollectorRegistry, host: str, port: int) -> WSGIServer | None:
    """A gevent WSGI server of ``registry`` at ``host:port`` (``/metrics``, ``/`` too)."""
    inner = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in (METRICS_PATH, "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"not found; metrics are at {METRICS_PATH}\n".encode()]
        return inner(environ, start_response)  # type: ignore[no-any-return]

    server = WSGIServer((host, port), app, log=None, error_log=logger)
    try:
        server.start()
    except OSError as exc:
        logger.error("swarm: cannot serve /metrics at %s:%s: %s; running without", host, port, exc)
        return None
    logger.info("swarm: Prometheus metrics at http://%s:%s%s", host, port, METRICS_PATH)
    return server
