"""Send one scenario request from a Locust user and record it: the pieces every task shares.

A weighted request's task (``compiler``) and a flow's request step (``flows``) render,
check, time out and record a request in the same way, so both go through these functions
and a request's name, failure kinds and messages are the same wherever it is written.
Everything is fired through the user's client's ``request_event``, which masks a
scenario's secrets (``redaction.RedactingRequestEvent``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
from locust import FastHttpUser

from framework.scenario.templates import TemplateRenderError

__all__ = [
    "TEMPLATE_FAILURE_PAUSE_S",
    "RequestTimeout",
    "fire_timeout",
    "rendered",
    "send",
    "template_failure",
]


class RequestTimeout(Exception):
    """No complete response within the request's ``timeout``; counted as a failure.

    Not a ``SwarmError``: it is the exception ``gevent.Timeout`` raises inside a task,
    caught there and reported to Locust as the request's failure (kind ``timeout``).
    """


def rendered(where: str, field: str, renderer: Callable[[Any], Any], ctx: Any) -> Any:
    """``renderer(ctx)``; any error it raises becomes the request's ``TemplateRenderError``."""
    try:
        return renderer(ctx)
    except Exception as exc:  # whatever a template raises fails this request, not the user
        raise TemplateRenderError(f"{where}.{field}", exc) from None


TEMPLATE_FAILURE_PAUSE_S = 0.1
"""How long a user waits after a request whose template failed: that request costs no
network time, so a template that always fails would otherwise spin its worker's CPU."""


def template_failure(
    user: FastHttpUser, method: str, name: str, error: TemplateRenderError
) -> None:
    """Report an unsent request as failed (kind ``template``), then pause the user a little.

    Fired through the client's request event, so a scenario's secrets are masked in it as in
    every other request."""
    user.client.request_event.fire(
        request_type=method,
        name=name,
        response_time=0.0,
        response_length=0,
        response=None,
        context=user.context(),
        exception=error,
        start_time=time.time(),
        url="",
    )
    gevent.sleep(TEMPLATE_FAILURE_PAUSE_S)


def fire_timeout(
    user: FastHttpUser,
    method: str,
    name: str,
    url: str,
    timeout_s: float,
    started_perf: float,
    started_at: float,
) -> None:
    """Report a request that had no complete response within ``timeout_s`` (kind ``timeout``)."""
    user.client.request_event.fire(
        request_type=method,
        name=name,
        response_time=(time.perf_counter() - started_perf) * 1000,
        response_length=0,
        response=None,
        context=user.context(),
        exception=RequestTimeout(f"no response within {timeout_s:g} s"),
        start_time=started_at,
        url=url,
    )


def send(
    user: FastHttpUser,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    check: Callable[[int, str, float], str | None] | None,
    needs_body: bool,
) -> Any:
    """Send one request and record it; ``check`` (status, body, ms) decides its outcome.
    The response is returned for a request's ``metrics:`` (``response_metrics``)."""
    if check is None:
        return user.client.request(method, url, **kwargs)
    with user.client.request(method, url, catch_response=True, **kwargs) as response:
        status = response.status_code or 0
        if status == 0:
            return response
        text = (response.text or "") if needs_body else ""
        problem = check(status, text, response.request_meta["response_time"])
        if problem is None:
            response.success()
        else:
            response.failure(problem)
    return response
