"""The swarm tab in Locust's web UI, and ``GET /swarm/live``, the JSON it renders.

Locust's React UI takes extra tabs from its template arguments (``extended_tabs``); their
content can only be a plain table, and the tab needs more (the plan's position, pause and
resume buttons, report links). So the tab is registered there, and a small script of ours
(``web_tab.js``, added to the index page) draws its content from ``GET /swarm/live``: the
dict ``framework.live.tab_view.TabView`` assembles from the master's ``LiveFeed`` — never
Locust's own statistics (design contract 7). The script builds every element with
``textContent``, so request names and failure messages (which may hold HTML) are shown as
text; secrets never reach it, as the feed carries names already redacted.

Installed from the ``init`` event, on the master or local runner only, and only when the
web UI exists (Locust creates it before firing ``init``); workers have no feed.

Pause and resume (``POST /swarm/pause``, ``/swarm/resume``) and the finished runs
(``GET /swarm/runs``) are other routes on the same app; the script uses them if they are
there and says so, or shows nothing, if they are not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify, request
from locust.env import Environment
from locust.runners import WorkerRunner

from framework.live.budget_status import BudgetLimit
from framework.live.tab_view import TabView
from framework.locust_glue.telemetry import feed_of
from framework.plan.rates import RatePlan
from framework.plan.record import PlanRecord

__all__ = ["SCRIPT_PATH", "TAB_KEY", "TAB_TITLE", "install"]

logger = logging.getLogger(__name__)

TAB_KEY = "swarm"
TAB_TITLE = "Swarm"
SCRIPT_PATH = "swarm/tab.js"
"""Where the tab's script is served, relative to the web UI's base path."""

_ATTRIBUTE = "swarm_tab_view"


def _script() -> bytes:
    return resources.files("framework.locust_glue").joinpath("web_tab.js").read_bytes()


def install(
    environment: Environment,
    *,
    plan: PlanRecord | None,
    limits: Sequence[BudgetLimit],
    rates: Mapping[str, RatePlan] | None = None,
) -> TabView | None:
    """Add the swarm tab to ``environment``'s web UI; call it from the ``init`` event after
    the telemetry is installed. ``None`` (nothing done) without a web UI, on a worker, or
    without a live feed. ``rates``: the open load groups' plans, for their arrivals table."""
    web_ui = environment.web_ui
    if web_ui is None or isinstance(environment.runner, WorkerRunner):
        return None
    feed = feed_of(environment)
    if feed is None:
        return None
    view = TabView(plan=plan, limits=limits, rates=rates)
    view.attach(feed)
    setattr(environment, _ATTRIBUTE, view)

    options = environment.parsed_options
    base = (getattr(options, "web_base_path", None) or "").rstrip("/")
    blueprint = Blueprint("swarm_tab", __name__, url_prefix=f"{base}/swarm")
    script = _script()

    @blueprint.route("/live")
    @web_ui.auth_required_if_enabled
    def live() -> Response:
        current = feed_of(environment)
        if current is None:
            response = jsonify({"error": "no live feed in this process"})
            response.status_code = 503
            return response
        response = jsonify(view.data(current, time.time()))
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.route("/tab.js")
    @web_ui.auth_required_if_enabled
    def tab_script() -> Response:
        response = Response(script, mimetype="application/javascript")
        response.headers["Cache-Control"] = "no-cache"
        return response

    web_ui.app.register_blueprint(blueprint)

    @web_ui.app.after_request
    def add_script(response: Response) -> Response:
        """Load the tab's script on Locust's index page (the only page with the tabs)."""
        if request.endpoint != "locust.index" or response.status_code != 200:
            return response
        if response.mimetype != "text/html" or response.direct_passthrough:
            return response
        page = response.get_data(as_text=True)
        tag = f'<script src="./{SCRIPT_PATH}" defer></script>'
        if tag not in page and "</body>" in page:
            response.set_data(page.replace("</body>", f"{tag}\n</body>", 1))
        return response

    args: dict[str, Any] = web_ui.template_args
    tabs = [t for t in args.get("extended_tabs") or [] if t.get("key") != TAB_KEY]
    args["extended_tabs"] = [*tabs, {"title": TAB_TITLE, "key": TAB_KEY}]
    logger.debug("swarm: the Swarm tab reads /swarm/live")
    return view
