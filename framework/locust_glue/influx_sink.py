"""The InfluxDB sink: every second the master closes, written with influxdb-client's v2 API
from a native thread, so a slow or dead server never holds up the master.

The master's event loop only turns each closed second into points
(``framework.live.influx.second_points``, well under a millisecond) and appends them to a
bounded buffer. A native OS thread (``_thread.start_new_thread`` as it was before gevent
patched it: Locust patches ``threading``, whose threads would be greenlets on the same
loop) takes up to ``BATCH_POINTS`` at a time and writes them with a synchronous
``WriteApi``. A failed write puts its points back and waits (0.5 s, doubling to 5 s)
before the next try; beyond ``BUFFER_POINTS`` the oldest points are dropped and counted.
A point the server refuses as malformed (HTTP 400) is dropped and counted at once.

The thread never logs (Locust's logging locks are gevent locks): it leaves notes that a
greenlet turns into log lines — one warning when writing starts failing (a wrong URL,
token or bucket shows at start, when the first point is written), one line when it
recovers — and ``announcement("sink", ...)`` lines that ``swarm run`` records in
run.json's ``sinks`` block. When the run ends the sink writes what it holds (up to
``FLUSH_S``, or one more try when the server is failing), counts the rest as dropped and
announces the totals.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent import monkey
from locust.env import Environment

from framework.live.announce import announcement
from framework.live.feed import LiveFeed
from framework.live.influx import (
    BUFFER_POINTS,
    ArrivalSeconds,
    InfluxSettings,
    PointBuffer,
    arrival_point,
    influx_settings,
    second_points,
    state_point,
)
from framework.timeline.records import ArrivalSecond, Second

__all__ = ["BATCH_POINTS", "FLUSH_S", "InfluxSink", "install_influx_sink"]

logger = logging.getLogger(__name__)

BATCH_POINTS = 5_000  # InfluxDB's advice for one write
FLUSH_S = 15.0  # at the end of a run: time to write what is held while the server answers
TIMEOUT_S = 5.0  # one write, connecting included
_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 5.0
_POLL_S = 0.2  # the thread looks for new points this often
_NOTE_S = 0.5  # the greenlet turns the thread's notes into log lines this often

_start_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")
_sleep = monkey.get_original("time", "sleep")

Writer = Callable[[list[str]], None]


def _influx_writer(settings: InfluxSettings, timeout_s: float) -> tuple[Writer, Callable[[], None]]:
    """A synchronous influxdb-client writer of line-protocol points (precision s), and how
    to close it. Its own retries are off: the sink retries with back-off and a bound."""
    from influxdb_client import InfluxDBClient, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS

    client = InfluxDBClient(
        url=settings.url,
        token=settings.token,
        org=settings.org or None,
        timeout=int(timeout_s * 1000),
        retries=False,
    )
    api = client.write_api(write_options=SYNCHRONOUS)

    def write(points: list[str]) -> None:
        api.write(
            bucket=settings.bucket,
            org=settings.org or None,
            record=points,
            write_precision=WritePrecision.S,
        )

    return write, client.close


def _describe(exc: BaseException, settings: InfluxSettings, timeout_s: float) -> tuple[str, bool]:
    """What went wrong, in a user's words, and whether trying again may help."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        detail = str(getattr(exc, "message", None) or getattr(exc, "reason", "") or "").strip()
        detail = f": {detail[:200]}" if detail else ""
        if status in (401, 403):
            return f"the token was refused (HTTP {status}{detail})", True
        if status == 404:
            return (
                f"bucket {settings.bucket!r} or org {settings.org!r} not found (HTTP 404{detail})",
                True,
            )
        if status in (400, 413, 422):
            return f"the server refused the points (HTTP {status}{detail})", False
        return f"HTTP {status}{detail}", True
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the cause
    cause = reason if isinstance(reason, BaseException) else exc
    name = type(cause).__name__
    if "Timeout" in name:
        return f"no answer within {timeout_s:g} s ({name})", True
    text = str(cause)
    if "Connection refused" in text or isinstance(cause, ConnectionRefusedError):
        return "connection refused", True
    return f"{name}: {text[:200]}", True


class InfluxSink:
    """Points of one master's live feed, on their way to one InfluxDB bucket.

    ``attach(feed)`` listens to the feed; ``start()`` starts the writing thread and writes
    the first point at once (the check that URL, token, org and bucket work).
    ``summary()`` is what run.json records.
    """

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        scenario: str,
        run_id: str,
        bound: int = BUFFER_POINTS,
        flush_s: float = FLUSH_S,
        timeout_s: float = TIMEOUT_S,
        writer: Callable[[], tuple[Writer, Callable[[], None]]] | None = None,
    ) -> None:
        self.settings = settings
        self.scenario = scenario
        self.run_id = run_id
        self.flush_s = flush_s
        self.timeout_s = timeout_s
        self._writer = writer or (lambda: _influx_writer(settings, timeout_s))
        self._lock = _allocate_lock()
        self.buffer = PointBuffer(bound)
        self.written = 0
        self.failed_writes = 0
        self.in_flight = 0
        self._written_off = False  # the batch in flight was counted as dropped: the run ended
        self.error: str | None = None
        self.failing = False
        self._notes: list[tuple[str, str]] = []
        self._abandon = False
        self.done = False
        self._started = False
        self._greenlet: gevent.Greenlet | None = None
        self._last_t: int | None = None
        self._arrivals = ArrivalSeconds()

    def __repr__(self) -> str:
        return f"InfluxSink({self.settings!r}, held={len(self.buffer)}, written={self.written})"

    # -- the master's side (greenlets) ----------------------------------------------------

    def attach(self, feed: LiveFeed) -> None:
        feed.second_closed.add_listener(self.on_second)
        feed.run_finished.add_listener(self.on_run_finished)
        feed.run_started.add_listener(self.on_run_started)
        feed.arrival_late.add_listener(self.on_arrival_late)

    def start(self, now_s: float, state: str = "starting") -> None:
        """Start the writing thread; the first point (the run's state now) is the check."""
        if self._started:
            return
        self._started = True
        self._state_point(int(now_s), state)
        _start_thread(self._run, ())
        self._greenlet = gevent.spawn(self._note_loop)
        self._announce("writing")

    def on_second(self, *, second: Second, counted: bool, feed: LiveFeed, **_kw: Any) -> None:
        lines = second_points(
            second,
            run_id=feed.run_id or self.run_id,
            scenario=self.scenario,
            state=feed.state,
            counted=counted,
        )
        self._last_t = second.t
        self._arrivals.note(second)
        with self._lock:
            self.buffer.add(lines)

    def on_arrival_late(self, *, arrival: ArrivalSecond, feed: LiveFeed, **_kw: Any) -> None:
        """Arrivals due in a second already written: its ``swarm_arrivals`` point again,
        with every arrival of that second."""
        whole = self._arrivals.amended(arrival)
        if whole is None:
            return
        line = arrival_point(whole, run_id=feed.run_id or self.run_id, scenario=self.scenario)
        with self._lock:
            self.buffer.add([line])

    def on_run_started(self, *, run_id: str | None, feed: LiveFeed, **_kw: Any) -> None:
        """Another run in this process (web UI): its own totals from here."""
        with self._lock:
            self.written = self.failed_writes = 0
            self.buffer.dropped = 0
            self.error = None
        self._last_t = None
        self._arrivals = ArrivalSeconds()
        if run_id:
            self.run_id = run_id
        self._state_point(int(time.time()), feed.state)

    def on_run_finished(self, *, state: str, feed: LiveFeed, **_kw: Any) -> None:
        """The run has ended: write its last state, everything held, and tell run.json."""
        t = int(time.time())
        if self._last_t is not None:
            t = max(t, self._last_t + 1)  # after the last second, never over its totals
        self._state_point(t, state)
        self.flush()
        with self._lock:
            self.buffer.drop_all()
            if self.in_flight:  # not confirmed: dropped, unless the write yet succeeds
                self.buffer.dropped += self.in_flight
                self._written_off = True
        self._log_notes()
        self._announce("finished")

    def flush(self) -> None:
        """Wait (letting other greenlets run) until everything held is written, for at most
        ``flush_s`` while the server answers, or one more try while it fails."""
        if not self._started:
            return
        deadline = time.monotonic() + self.flush_s
        with self._lock:
            attempts = self.failed_writes
        while time.monotonic() < deadline and not self.done:
            with self._lock:
                idle = not self.buffer and not self.in_flight
                gave_up = self.failing and self.failed_writes > attempts
            if idle or gave_up:
                return
            gevent.sleep(0.05)

    def close(self) -> None:
        """Stop the thread (the process is quitting); points still held are dropped."""
        with self._lock:
            self._abandon = True
        deadline = time.monotonic() + self.timeout_s + 1.0
        while not self.done and time.monotonic() < deadline:
            gevent.sleep(0.05)
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self._log_notes()

    def summary(self, status: str | None = None) -> dict[str, Any]:
        """The sink's line in run.json: where it wrote, how it went, what it dropped."""
        with self._lock:
            dropped, written, failed, error = (
                self.buffer.dropped,
                self.written,
                self.failed_writes,
                self.error,
            )
            failing = self.failing
        if status is None:
            status = "failing" if failing else "writing"
        if status == "finished":
            status = "failed" if dropped or (failed and not written) else "ok"
        return {
            "sink": "influxdb",
            "url": self.settings.shown_url,
            "org": self.settings.org,
            "bucket": self.settings.bucket,
            "status": status,
            "written": written,
            "dropped": dropped,
            "failed_writes": failed,
            "error": error,
        }

    def _state_point(self, t: int, state: str) -> None:
        point = state_point(t, run_id=self.run_id, scenario=self.scenario, state=state)
        with self._lock:
            self.buffer.add([point])

    def _announce(self, status: str) -> None:
        logger.info(announcement("sink", **self.summary(status)))

    def _note_loop(self) -> None:
        while not self.done:
            gevent.sleep(_NOTE_S)
            self._log_notes()

    def _log_notes(self) -> None:
        with self._lock:
            notes, self._notes = self._notes, []
        for kind, message in notes:
            where = f"{self.settings.shown_url} (bucket {self.settings.bucket!r})"
            if kind == "failing":
                logger.warning(
                    "swarm: InfluxDB sink cannot write to %s: %s; the run goes on, keeping up "
                    "to %d points and retrying",
                    where,
                    message,
                    self.buffer.bound,
                )
                self._announce("failing")
            else:
                logger.info("swarm: InfluxDB sink writes to %s again; %s", where, message)

    # -- the writing thread (native: no gevent, no logging) ---------------------------------

    def _run(self) -> None:
        close: Callable[[], None] = lambda: None  # noqa: E731
        try:
            write, close = self._writer()
            backoff = 0.0
            failing_since: float | None = None
            while True:
                with self._lock:
                    if self._abandon:
                        return
                    batch = self.buffer.take(BATCH_POINTS)
                    self.in_flight = len(batch)
                if not batch:
                    _sleep(_POLL_S)
                    continue
                try:
                    write(batch)
                except Exception as exc:
                    message, retriable = _describe(exc, self.settings, self.timeout_s)
                    with self._lock:
                        self.in_flight = 0
                        self.failed_writes += 1
                        self.error = self.error or message
                        if self._written_off:
                            self._written_off = False
                        elif retriable:
                            self.buffer.put_back(batch)
                        else:
                            self.buffer.dropped += len(batch)
                        if not self.failing:
                            self.failing = True
                            self._notes.append(("failing", message))
                    failing_since = failing_since or time.monotonic()
                    backoff = min(_BACKOFF_MAX_S, max(_BACKOFF_FIRST_S, backoff * 2))
                    self._wait(backoff)
                else:
                    with self._lock:
                        self.in_flight = 0
                        self.written += len(batch)
                        if self._written_off:
                            self._written_off = False
                            self.buffer.dropped -= len(batch)
                        if self.failing:
                            self.failing = False
                            down = time.monotonic() - (failing_since or time.monotonic())
                            self._notes.append(
                                ("recovered", f"it failed for {down:.0f} s, {len(self.buffer)} "
                                 f"points still to send, {self.buffer.dropped} dropped")
                            )  # fmt: skip
                    failing_since = None
                    backoff = 0.0
        except Exception as exc:  # the client itself could not be made
            with self._lock:
                self.error = self.error or f"{type(exc).__name__}: {exc}"
                self.failing = True
                self._notes.append(("failing", self.error))
        finally:
            try:
                close()
            finally:
                with self._lock:
                    self.in_flight = 0
                self.done = True

    def _wait(self, seconds: float) -> None:
        """Sleep in short steps, so that a quitting process is not held up."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with self._lock:
                if self._abandon:
                    return
            _sleep(min(_POLL_S, max(0.0, end - time.monotonic())))


def install_influx_sink(
    environment: Environment, feed: LiveFeed | None, *, scenario: str
) -> InfluxSink | None:
    """Start the InfluxDB sink on a master or local runner when ``INFLUXDB_V2_URL`` is set.

    Settings come from influxdb-client's variables (``INFLUXDB_V2_URL``, ``_TOKEN``,
    ``_ORG``, ``_BUCKET``; ``swarm run --influx-*`` sets them for Locust). Settings that
    cannot work give one warning and no sink: the run goes on.
    """
    if feed is None:
        return None
    try:
        settings = influx_settings(os.environ)
    except ValueError as exc:
        logger.warning("swarm: InfluxDB sink off: %s", exc)
        logger.info(announcement("sink", sink="influxdb", status="failed", error=str(exc)))
        return None
    if settings is None:
        return None
    options = environment.parsed_options
    run_dir = getattr(options, "swarm_run_dir", None) if options is not None else None
    run_id = feed.run_id or (Path(run_dir).name if run_dir else "locust")
    sink = InfluxSink(settings, scenario=scenario, run_id=run_id)
    sink.attach(feed)
    sink.start(time.time(), feed.state)
    environment.events.quit.add_listener(lambda **_kw: sink.close())
    return sink
