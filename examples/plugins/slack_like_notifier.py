"""A swarm plugin: post a run's lifecycle to a Slack-style incoming webhook.

    SWARM_NOTIFY_URL=https://hooks.slack.com/services/... \\
        swarm run scenarios/load.yaml --plugin examples/plugins/slack_like_notifier.py

Locust imports a plugin file beside the scenario, in the master (and, harmlessly, in each
worker: there ``feed_of`` is ``None``). On Locust's ``init`` it finds the run's live feed
and listens to its hooks — keyword-only payloads, as Locust's ``EventHook``:

- ``state_changed(state, previous, at_s, reason, feed)``: a message per state change
  (running, paused, running again, stopping, finished);
- ``second_closed(second, counted, feed)``: every closed second of the merged timeline;
  ``counted`` is false for a paused one. Here: a warning when a counted second's failures
  pass ``SWARM_NOTIFY_ERROR_RATE`` (default 50%), at most once a minute;
- ``run_finished(state, feed)``: the final figures of the counted seconds.

Each message is a JSON ``{"text": ...}`` POST, as Slack, Mattermost and Teams accept. It is
sent from a greenlet of its own with a short timeout, so a slow or dead webhook never
holds up the run (only its end waits, at most ``TIMEOUT_S``, for the last posts to go
out); a failure is logged. Without ``SWARM_NOTIFY_URL`` the messages are only
logged.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

from gevent.pool import Group
from locust import events
from locust.env import Environment

from framework.live.feed import LiveFeed
from framework.locust_glue.telemetry import feed_of

logger = logging.getLogger("swarm.plugins.notifier")

URL_ENV = "SWARM_NOTIFY_URL"
ERROR_RATE_ENV = "SWARM_NOTIFY_ERROR_RATE"
TIMEOUT_S = 5.0
QUIET_S = 60.0  # at most one error-rate warning a minute


class Notifier:
    """Turns the feed's events into short messages and posts them."""

    def __init__(self, url: str | None, error_rate: float) -> None:
        self.url = url
        self.error_rate = error_rate
        self.seconds = 0
        self.counted = 0
        self._last_warning_t: int | None = None
        self.pending = Group()

    def post(self, text: str) -> None:
        logger.info("notify: %s", text)
        if self.url:
            self.pending.spawn(self._send, text)

    def _send(self, text: str) -> None:
        body = json.dumps({"text": text}).encode()
        sent = urllib.request.Request(
            self.url or "", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(sent, timeout=TIMEOUT_S):
                pass
        except OSError as exc:
            logger.warning("notify: could not post to the webhook: %s", exc)

    def on_state_changed(
        self, *, state: str, previous: str, reason: str | None, feed: LiveFeed, **_kw: Any
    ) -> None:
        why = f" ({reason})" if reason else ""
        self.post(f"swarm run {feed.run_id or ''}: {previous} → {state}{why}".replace("  ", " "))

    def on_second_closed(self, *, second: Any, counted: bool, **_kw: Any) -> None:
        self.seconds += 1
        if not counted:
            return
        self.counted += 1
        count = second.count
        if not count or second.failure_count / count < self.error_rate:
            return
        if self._last_warning_t is not None and second.t - self._last_warning_t < QUIET_S:
            return
        self._last_warning_t = second.t
        self.post(f"swarm: {second.failure_count} of {count} requests failed in second {second.t}")

    def on_run_finished(self, *, state: str, feed: LiveFeed, **_kw: Any) -> None:
        figures = feed.statistics.snapshot()
        p95 = "–" if figures.p95_ms is None else f"{figures.p95_ms:.1f} ms"
        errors = "–" if figures.error_rate is None else f"{figures.error_rate:.2%}"
        self.post(
            f"swarm run {state}: {figures.count} requests in {figures.seconds} s counted "
            f"({self.seconds} seconds closed, {self.seconds - self.counted} paused), "
            f"{figures.rps:.1f} rps, p95 {p95}, errors {errors}"
        )
        self.pending.join(timeout=TIMEOUT_S)  # the process ends soon: let the posts go out


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    feed = feed_of(environment)
    if feed is None:  # a worker: the run's feed lives in the master
        return
    notifier = Notifier(os.environ.get(URL_ENV), float(os.environ.get(ERROR_RATE_ENV, "0.5")))
    feed.state_changed.add_listener(notifier.on_state_changed)
    feed.second_closed.add_listener(notifier.on_second_closed)
    feed.run_finished.add_listener(notifier.on_run_finished)
