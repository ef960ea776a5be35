"""The scenario's ``gauges:`` polled while the run goes, on the master (or the local process).

Each gauge gets a greenlet that asks its endpoint every ``every`` (on the grid of
``plan.polling``) and records the value it reads through the recording API's gauge
(``framework.timeline.metrics_api``); a poll that fails (no answer within its timeout, an
error status, nothing found, not a number) records ``missing``. A target that is down
must not fill the log: each gauge logs one warning, the first time a poll fails, and
counts the rest.

Polling follows the feed's run (``telemetry.feed_of``): it starts when the run is
``running``, keeps going through a pause (the target's state is still worth knowing),
and stops when the run stops, ends, or Locust quits; a new run in the web UI starts it
again. Workers have no feed and poll nothing, so a gauge is polled once per run whatever
the number of workers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
from locust.env import Environment

from framework.live.feed import LiveFeed
from framework.locust_glue.response_metrics import ResponseBody, header_value, number
from framework.locust_glue.telemetry import feed_of
from framework.plan.polling import next_poll_s
from framework.scenario.custom_metrics import GaugeSpec
from framework.scenario.flows import compile_json_path

__all__ = ["GaugePoller", "PollFailed", "gauge_value", "install_gauge_poller"]

logger = logging.getLogger(__name__)

_ENDING = ("stopping", "finished", "failed", "aborted", "interrupted")
_USER_AGENT = "swarm-gauge-poller"


class PollFailed(Exception):
    """One poll of a gauge found no value; the message says why (logged once per gauge)."""


def gauge_value(gauge: GaugeSpec, status: int, headers: Mapping[str, Any], body: bytes) -> float:
    """The value ``gauge`` reads from an answer; ``PollFailed`` saying why when there is none.

    >>> spec = GaugeSpec.model_validate(
    ...     {"name": "q", "unit": "jobs", "path": "/q", "json_path": "$.depth"}
    ... )
    >>> gauge_value(spec, 200, {}, b'{"depth": 7}')
    7.0
    """
    if not 200 <= status < 300:
        raise PollFailed(f"status {status}")
    found: Any
    if gauge.header is not None:
        values = header_value(headers, gauge.header)
        if not values:
            raise PollFailed(f"no header {gauge.header}")
        found = values[0].strip()
    elif gauge.regex is not None:
        text = body.decode("utf-8", "replace")
        match = re.search(gauge.regex, text)
        if match is None:
            raise PollFailed(f"regex {gauge.regex!r} found nothing")
        found = match.group(1) if match.re.groups else match.group(0)
    else:
        assert gauge.json_path is not None
        document = ResponseBody(body).document
        if not isinstance(document, dict | list):
            raise PollFailed("the answer is not JSON")
        matches = compile_json_path(gauge.json_path).find(document)
        if not matches:
            raise PollFailed(f"{gauge.json_path} found nothing")
        found = matches[0].value
    value = number(found)
    if value is None:
        raise PollFailed(f"{gauge.source} is not a number: {str(found)[:40]!r}")
    return value


def _handle(gauge: GaugeSpec) -> Any:
    from framework.timeline import metrics_api

    return metrics_api.gauge(gauge.name, unit=gauge.unit, **dict(gauge.dims))


class GaugePoller:
    """Polls every gauge of a scenario, one greenlet each, between ``start`` and ``stop``."""

    def __init__(
        self,
        gauges: Sequence[GaugeSpec],
        host: str | None,
        *,
        handle: Callable[[GaugeSpec], Any] = _handle,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gauges = tuple(gauges)
        self.host = host
        self._handle = handle
        self._clock = clock
        self._greenlets: list[gevent.Greenlet] = []
        self.warned: set[str] = set()

    @property
    def running(self) -> bool:
        return bool(self._greenlets)

    def start(self) -> None:
        """Start polling (nothing when it already is)."""
        if self._greenlets:
            return
        for gauge in self.gauges:
            url = gauge.target(self.host)
            if url is None:
                logger.warning(
                    "swarm: gauge %s is not polled: its path %s needs a host (set host, "
                    "pass --host, or give url:)",
                    gauge.name,
                    gauge.path,
                )
                continue
            self._greenlets.append(gevent.spawn(self._poll_forever, gauge, url))

    def stop(self) -> None:
        """Stop every greenlet (a poll under way is abandoned, nothing recorded for it)."""
        greenlets, self._greenlets = self._greenlets, []
        current = gevent.getcurrent()
        gevent.killall([g for g in greenlets if g is not current], block=True)

    def _poll_forever(self, gauge: GaugeSpec, url: str) -> None:
        handle = self._handle(gauge)
        parsed = URL(url)
        client: HTTPClient | None = None
        started = self._clock()
        try:
            while True:
                if client is None:
                    client = HTTPClient.from_url(
                        parsed,
                        connection_timeout=gauge.timeout_s,
                        network_timeout=gauge.timeout_s,
                        concurrency=1,
                        headers={"User-Agent": _USER_AGENT},
                    )
                try:
                    with gevent.Timeout(
                        gauge.timeout_s, PollFailed(f"no answer within {gauge.timeout_s:g} s")
                    ):
                        response = client.get(parsed.request_uri)
                        body = response.read()
                    handle.set(gauge_value(gauge, response.status_code, response, body))
                except Exception as exc:  # any failure of one poll is one missing value
                    handle.missing()
                    self._warn_once(gauge, url, exc)
                    client.close()
                    client = None
                now = self._clock()
                gevent.sleep(max(0.0, next_poll_s(started, gauge.every, now) - now))
        finally:
            if client is not None:
                client.close()

    def _warn_once(self, gauge: GaugeSpec, url: str, exc: Exception) -> None:
        if gauge.name in self.warned:
            return
        self.warned.add(gauge.name)
        why = str(exc) if isinstance(exc, PollFailed) else f"{type(exc).__name__}: {exc}"
        logger.warning(
            "swarm: gauge %s: GET %s failed (%s); it is counted as missing, and further "
            "failures of this gauge are not logged",
            gauge.name,
            url,
            why,
        )


class _Glue:
    """The poller of the feed's current run, started and stopped with it."""

    def __init__(self, poller: GaugePoller) -> None:
        self.poller = poller

    def on_run_started(self, **_kwargs: Any) -> None:
        self.poller.stop()

    def on_state(self, *, state: str, **_kwargs: Any) -> None:
        if state == "running":
            self.poller.start()
        elif state in _ENDING:
            self.poller.stop()

    def on_quit(self, **_kwargs: Any) -> None:
        self.poller.stop()


def install_gauge_poller(
    environment: Environment, gauges: Sequence[GaugeSpec], host: str | None
) -> GaugePoller | None:
    """Poll ``gauges`` during each run of ``environment``'s feed; nothing on a worker (no
    feed) or without gauges. ``host`` is the target a gauge's ``path`` is on; Locust's
    ``--host`` wins over it."""
    feed: LiveFeed | None = feed_of(environment)
    if feed is None or not gauges:
        return None
    poller = GaugePoller(gauges, environment.host or host)
    glue = _Glue(poller)
    feed.state_changed.add_listener(glue.on_state)
    feed.run_started.add_listener(glue.on_run_started)
    environment.events.quit.add_listener(glue.on_quit)
    return poller
