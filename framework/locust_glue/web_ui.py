"""swarm's additions to the Locust web UI: a start form without the fields the plan decides,
and, in a ``swarm run --web`` session, the session's runs and their reports.

- **The start form.** Locust shows "Number of users", "Ramp up" and "Run time" even for a
  shape whose ``use_common_options`` is false (``template_args["hide_common_options"]``):
  disabled, at 0, marked required. The shape (the scenario's load plan) decides all three,
  so the index page gets a small stylesheet that hides those fields and says, above the
  form, which plan will run. Only CSS: nothing is added to the page's React tree.
- ``GET /swarm/runs``: ``{"session": id, "runs": [{run_id, state, started_at, ended_at,
  exit_code, message, folder, report}]}``, the runs of this session in order, as their
  ``run.json`` (written by ``swarm run``) says; ``report`` is the path of the run's
  ``report.html`` once it exists, else ``null``. A run whose ``run.json`` is not written yet
  shows the live feed's state.
- ``GET /swarm/reports/<run_id>/<file>``: a file of that run's folder (``report.html``,
  ``report.md``, ``results.json``, …). Only runs of this session, and only files directly
  inside their folder: the id is looked up, never joined into a path, and the file name goes
  through Flask's ``send_from_directory`` (which refuses ``..`` and absolute names).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, jsonify, request, send_from_directory
from locust.web import WebUI

from framework.limits import JSON_BYTES, read_bytes
from framework.locust_glue.session import SessionRun, WebSession
from framework.locust_glue.telemetry import Telemetry

__all__ = ["REPORTS_PATH", "RUNS_PATH", "install_web_ui", "plan_fields_style"]

RUNS_PATH = "/swarm/runs"
REPORTS_PATH = "/swarm/reports"


def install_web_ui(web_ui: WebUI, telemetry: Telemetry) -> None:
    """Add the form stylesheet, and the run routes when ``telemetry`` runs a web session;
    call it from the ``init`` event (Locust starts serving after it)."""
    _patch_start_form(web_ui)
    if telemetry.session is not None:
        _add_run_routes(web_ui, telemetry, telemetry.session)


def plan_fields_style(plan_text: str) -> str:
    """The ``<style>`` that hides the users, ramp-up and run-time fields and says, above the
    form, that ``plan_text`` decides them (``plan_text`` is escaped for CSS)."""
    note = f"Users, ramp-up and run time follow the scenario's load plan: {plan_text}"
    escaped = "".join(c if c.isalnum() or c in " .,:;()-_/'%" else f"\\{ord(c):x} " for c in note)
    fields = ", ".join(
        f'.MuiFormControl-root:has(input[name="{name}"]):not(:has(.MuiFormControl-root))'
        for name in ("userCount", "spawnRate", "runTime")
    )
    return (
        '<style data-swarm="plan-fields">\n'
        f"{fields} {{ display: none !important; }}\n"
        'form:has(input[name="userCount"])::before '
        f'{{ content: "{escaped}"; display: block; opacity: 0.8; }}\n'
        "</style>\n"
    )


def _plan_text(web_ui: WebUI) -> str:
    shape = web_ui.environment.shape_class
    plan = getattr(shape, "plan", None)
    if plan is None:
        return type(shape).__name__
    rates = [p.rate for p in plan.phases if p.rate is not None]
    if rates:  # open load groups: the engine starts arrivals, Locust's shape no users
        users = f" and {plan.peak_users} users" if plan.peak_users else ""
        return f"{plan.name}, {plan.duration_s:g} s, up to {max(rates):g} arrivals/s{users}"
    return f"{plan.name}, {plan.duration_s:g} s, up to {plan.peak_users} users"


def _patch_start_form(web_ui: WebUI) -> None:
    @web_ui.app.after_request
    def _hide_plan_fields(response: Response) -> Response:
        if (
            request.endpoint != "locust.index"
            or response.status_code != 200
            or response.mimetype != "text/html"
            or not web_ui.template_args.get("hide_common_options")
        ):
            return response
        page = response.get_data(as_text=True)
        if "</head>" in page:
            style = plan_fields_style(_plan_text(web_ui))
            response.set_data(page.replace("</head>", style + "</head>", 1))
        return response


def _add_run_routes(web_ui: WebUI, telemetry: Telemetry, session: WebSession) -> None:
    @web_ui.app.route(RUNS_PATH)
    @web_ui.auth_required_if_enabled
    def swarm_runs() -> Response:
        return jsonify(
            {
                "session": session.session_id,
                "runs": [_run_entry(run, telemetry) for run in session.runs],
            }
        )

    @web_ui.app.route(f"{REPORTS_PATH}/<run_id>/<name>")
    @web_ui.auth_required_if_enabled
    def swarm_report(run_id: str, name: str) -> Response:
        run = session.find(run_id)
        if run is None:
            abort(404)
        return send_from_directory(run.path.resolve(), name, max_age=0)


def _run_entry(run: SessionRun, telemetry: Telemetry) -> dict[str, Any]:
    """One run as ``/swarm/runs`` lists it: its run.json's word, else the live feed's."""
    record = _run_json(run)
    state = record.get("status")
    if not isinstance(state, str) or not state:
        feed = telemetry.feed
        current = run is (telemetry.session.current if telemetry.session else None)
        state = feed.state if feed is not None and current else "starting"
    report = run.path / "report.html"
    return {
        "run_id": run.run_id,
        "state": state,
        "started_at": record.get("started_at"),
        "ended_at": record.get("ended_at"),
        "exit_code": record.get("exit_code"),
        "message": record.get("message"),
        "folder": str(run.path.resolve()),
        "report": f"{REPORTS_PATH}/{run.run_id}/report.html" if report.is_file() else None,
    }


def _run_json(run: SessionRun) -> dict[str, Any]:
    try:
        data = json.loads(read_bytes(run.path / "run.json", JSON_BYTES))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
