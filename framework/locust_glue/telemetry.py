"""Locust glue for the timeline: record every request, ship it, merge it, write it.

``install(environment, run_dir)`` adapts itself to the runner it finds:

- **worker**: every ``request`` goes into a ``SecondRecorder``, from the listener that also
  feeds Locust's own statistics (it takes the place of Locust's, see ``listen_to_requests``:
  one dispatch per request instead of two); each ``report_to_master``
  (every 3 s, plus the final one Locust sends on quit) carries ``recorder.drain()`` under
  ``PAYLOAD_KEY``. Riding in the same message as Locust's own stats is what makes the
  timeline's totals equal Locust's exactly.
- **master**: each ``worker_report`` is merged into a ``TimelineMerger``; a greenlet ticking
  twice a second samples users and live workers (a second keeps its last sample), writes
  the seconds the merger releases to ``run_dir/timeline.jsonl`` and flushes (fsync at most
  every 5 s).
- **local**: the recorder and the merger live in one process; the same greenlet drains one
  into the other.

Custom metrics (``framework.timeline.metrics_api``) are recorded into the process's
``default_recorder()``: a worker ships its drain with each report (``metrics`` in the
payload), a local run drains it with the request recorder, and the master drains its own
every tick (the scenario's ``gauges:`` poll from the master in a distributed run) and
merges it without counting itself as a reporting worker. It is cleared when each run
starts (a web-UI session's every start), so nothing recorded between runs lands in one.

Every second the master (or local process) closes also goes to the process's one
``LiveFeed`` (``feed_of(environment)``), with the run's state changes (``starting →
running`` on ``test_start``, ``stopping`` on ``test_stop``, ``finished`` on ``quit``): the
terminal progress, the web UI tab, the sinks and the abort guards all read it.

**Web-UI sessions** (``install(..., session_dir=...)``, what ``swarm run --web`` asks for):
each start in the UI is a run of its own. ``test_start`` opens the next run folder of the
session (``framework.locust_glue.session``), a new timeline in it and a fresh run of the
feed (``feed.start_run``), and announces ``run`` ``phase="started"``; Stop or the end of
the plan moves it to ``stopping``, and once the workers' last reports are in (their promises
pass the second after the stop, or ``grace_s`` + 2 s) its timeline gets its ``end`` line,
the feed ``finished``, and ``run`` ``phase="ended"`` is announced. A ``test_stop`` while the
feed is ``paused`` (users stopped by a pause) does not end the run, nor does the
``test_start`` of a resume open another.

The timeline is finished on Locust's ``quit`` event, which fires after the master has
waited for the workers' final reports (``quitting`` comes too early for that). Library
users that never fire ``quit`` call ``Telemetry.close()``.

Test hook: with ``SWARM_RAW_LATENCY_LOG=path`` in the environment, every load generator
appends each request as a JSON line ``[method, name, latency_ms, failed]`` to ``path``; the
exactness test compares percentiles against it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
from locust import __version__ as locust_version
from locust.env import Environment
from locust.event import EventHook
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from locust.stats import RequestStats

from framework.errors import ExitCode, RunError
from framework.live.announce import announcement
from framework.live.feed import LiveFeed
from framework.live.state import State
from framework.locust_glue.metric_errors import install_metric_error_filter
from framework.locust_glue.session import WebSession
from framework.timeline.metric_recorder import default_recorder
from framework.timeline.recorder import (
    PAYLOAD_VERSION,
    MergeResult,
    RecorderPayload,
    SecondRecorder,
    TimelineMerger,
    failure_kind,
    failure_message,
)
from framework.timeline.records import FILE_NAME
from framework.timeline.writer import WRITE_FAILURE_END, TimelineWriter

__all__ = [
    "ACTIVE_KEY",
    "DUE_KEY",
    "PAYLOAD_KEY",
    "RAW_LATENCY_LOG_ENV",
    "Telemetry",
    "feed_of",
    "install",
    "telemetry_of",
]

logger = logging.getLogger(__name__)


class _CpuMeter:
    """This process's CPU use since the previous reading, in percent of one core.

    Locust samples CPU only every 10 s and its first sample reads 0, so short runs would
    look idle; reading ``process_time`` against the wall clock costs nothing and is exact.
    """

    def __init__(self) -> None:
        self._wall, self._cpu = time.monotonic(), time.process_time()
        self._last: float | None = None

    def percent(self, *, min_interval_s: float = 0.0) -> float | None:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = wall - self._wall
        if elapsed <= 0 or elapsed < min_interval_s:
            return self._last
        self._last = round(100.0 * (cpu - self._cpu) / elapsed, 1)
        self._wall, self._cpu = wall, cpu
        return self._last


class Telemetry:
    """The timeline machinery attached to one Locust process; made by ``install``.

    ``role`` is ``"worker"``, ``"master"`` or ``"local"``. ``path`` is the timeline file
    (``None`` on workers, or when no run folder was given: seconds are then merged but not
    written).
    """

    def __init__(
        self,
        environment: Environment,
        role: str,
        *,
        path: Path | None,
        grace_s: float,
        tick_s: float,
        sync_every_s: float,
        meta: Mapping[str, Any] | None,
        session: WebSession | None = None,
    ) -> None:
        self.environment = environment
        self.session = session
        self.role = role
        self.path = path
        self.tick_s = tick_s
        self.recorder = SecondRecorder() if role in ("worker", "local") else None
        self.metrics = default_recorder()
        """The custom metrics' recorder this process's recording API writes into."""
        self._started = False
        self.merger = TimelineMerger(grace_s=grace_s) if role in ("master", "local") else None
        self.feed = LiveFeed(started_s=time.time()) if self.merger is not None else None
        if self.feed is not None:
            self.feed.state_changed.add_listener(_announce_state)
        self.closed = False
        self._end: tuple[State, str | None] = ("finished", None)
        self._cpu = _CpuMeter()
        self._worker_cpu: dict[str, float] = {}
        self._worker_active: dict[str, dict[str, int]] = {}
        self.active: Callable[[], Mapping[str, int]] | None = None
        """This load generator's engine's load per group (set by ``engine.install``)."""
        self.ticked: list[Callable[[float], None]] = []
        """Called with the time at the end of every tick (the engine's schedule message)."""
        self._writer: TimelineWriter | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._write_failed = False
        self._raw_fd: int | None = None
        self._raw_lines: list[str] = []
        self._writer_options = {
            "source": role,
            "grace_s": grace_s,
            "meta": {"locust_version": locust_version, **(meta or {})},
            "sync_every_s": sync_every_s,
        }
        self._stop_reason = "stopped"
        if path is not None and self.merger is not None and session is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = TimelineWriter(path, created_s=time.time(), **self._writer_options)
        raw_path = os.environ.get(RAW_LATENCY_LOG_ENV)
        if raw_path and self.recorder is not None:
            self._raw_fd = os.open(raw_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.on_request: Callable[..., None] | None = (
            self._request_listener(self.recorder) if self.recorder is not None else None
        )

    # -- listeners -------------------------------------------------------------------------

    def _request_listener(
        self, recorder: SecondRecorder, locust_stats: RequestStats | None = None
    ) -> Callable[..., None]:
        """The ``request`` listener, built as a closure over local names.

        It runs once per request, on the load generator's only core, so attribute lookups
        and a bound-method call are a visible share of its cost (a few µs against Locust's
        own ~20 µs stats listener). ``response_time`` None (hand-fired events only) counts
        as 0 ms, so that the histogram's count always equals ``count``.

        With ``locust_stats`` it also feeds Locust's statistics exactly as Locust's own
        listener does (``install`` puts it in that listener's place): one dispatch per
        request instead of two, about a point of a load generator's CPU.
        """
        record, succeeded, record_open, clock, perf = (
            recorder.record,
            recorder.successes.append,
            recorder.record_open,
            time.time,
            time.perf_counter,
        )
        raw_lines = self._raw_lines if self._raw_fd is not None else None

        def on_request(
            request_type: str,
            name: str,
            response_time: float | None,
            response_length: int | None,
            exception: object = None,
            response: object = None,
            context: object = None,
            start_time: float | None = None,
            url: str | None = None,
            **_kwargs: Any,
        ) -> None:
            if locust_stats is not None:  # what Locust's own listener does, in its order
                locust_stats.log_request(request_type, name, response_time, response_length)
                if exception:
                    locust_stats.log_error(request_type, name, exception)
            kind = message = None
            if exception is not None:
                kind = failure_kind(exception, getattr(response, "status_code", None))
                message = failure_message(exception)
            latency_ms = response_time or 0.0
            due = context.get(DUE_KEY) if context else None  # type: ignore[attr-defined]
            if due is None:
                if kind is None:  # counted in bulk when the recorder is drained
                    succeeded((clock(), request_type, name, latency_ms, response_length or 0))
                else:
                    record(
                        name, request_type, clock(), latency_ms, response_length or 0, kind, message
                    )
            else:  # open model: the latency runs from when the arrival was due
                service_ms = latency_ms
                latency_ms = max((perf() - due) * 1000.0, service_ms)
                record_open(
                    name,
                    request_type,
                    clock(),
                    latency_ms,
                    service_ms,
                    response_length or 0,
                    kind,
                    message,
                )
            if raw_lines is not None:
                raw_lines.append(
                    json.dumps([request_type, name, latency_ms, kind is not None]) + "\n"
                )

        return on_request

    def listen_to_requests(self, request: EventHook, stats: RequestStats) -> None:
        """Record every request (a process that runs users), in Locust's statistics
        listener's place when it can be found.

        Firing an event costs a call per listener, paid by every request on the load
        generator's core; feeding both from one listener keeps Locust's statistics the same
        (the same calls, in the same order) at one dispatch. A Locust whose listener is not
        where 2.x puts it keeps its own, and swarm's is added beside it.
        """
        if self.recorder is None:
            return
        handlers = request._handlers
        for index, handler in enumerate(handlers):
            if (
                getattr(handler, "__module__", None) == "locust.runners"
                and getattr(handler, "__qualname__", None) == LOCUST_STATS_LISTENER
            ):
                self.on_request = self._request_listener(self.recorder, stats)
                handlers[index] = self.on_request
                return
        request.add_listener(self.on_request)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        if self.recorder is None:
            return
        data[PAYLOAD_KEY] = self._drain(time.time())
        cpu = self._cpu.percent()
        if cpu is not None:
            data[CPU_KEY] = cpu
        if self.active is not None:
            data[ACTIVE_KEY] = dict(self.active())
        self._flush_raw()

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        if isinstance(data.get(CPU_KEY), int | float):
            self._worker_cpu[client_id] = float(data[CPU_KEY])
        active = data.get(ACTIVE_KEY)
        if isinstance(active, Mapping):
            self._worker_active[client_id] = {
                str(k): int(v) for k, v in active.items() if isinstance(v, int | float)
            }
        payload = data.get(PAYLOAD_KEY)
        if payload is None or self.merger is None:
            return
        if self.session is not None:
            payload = self._of_current_run(payload)
            if payload is None:
                return
        if payload.get("v") != PAYLOAD_VERSION:
            logger.error(
                "Worker %s sent timeline payload version %r, this master reads %r; "
                "its requests are missing from the timeline",
                client_id,
                payload.get("v"),
                PAYLOAD_VERSION,
            )
            return
        late = self.merger.add(client_id, payload, time.time())
        if late:
            logger.debug(
                "Worker %s: %d late timeline records (kept as corrections)", client_id, late
            )

    def on_test_start(self, **_kwargs: Any) -> None:
        # Start-up (imports, connecting) is not load generation: measure from here.
        if not self._started:  # a later start is a resume or a web-UI run: see _begin_run
            self._started = True
            self.metrics.clear()
        self._cpu = _CpuMeter()
        self._worker_cpu.clear()
        self._worker_active.clear()
        if self.closed or self.merger is None:
            return
        now = time.time()
        if self.session is not None and not self._resuming():
            if self._run_open:  # started again before the last run's final reports came
                self._end_run(now)
            self._begin_run(now)
        self._move("running", now)
        self._sample(now)
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._tick_forever)

    def on_test_stop(self, **_kwargs: Any) -> None:
        if self.closed or self.merger is None:
            return
        now = time.time()
        self.tick(now)
        self._move("stopping", now)
        run = self.session.current if self.session is not None else None
        if run is not None and run.open and run.stopped_s is None:
            run.stopped_s = now
            runner = self.environment.runner
            by_plan = runner is not None and runner.shape_greenlet is gevent.getcurrent()
            self._stop_reason = "the load plan ended" if by_plan else "stopped in the web UI"
            if self.role == "local":  # nothing to wait for: every request is recorded here
                self._end_run(now)

    def on_quit(self, **_kwargs: Any) -> None:
        self.close(reason="quit")

    # -- ticking and closing ---------------------------------------------------------------

    def tick(self, now_s: float) -> None:
        """Move finished seconds to disk: drain (local), sample load, release, write, flush."""
        if self.merger is None:
            return
        if self.session is not None and not self._run_open:
            if self.recorder is not None:
                self.recorder.drain(now_s)  # between runs nothing belongs to any run
            self.metrics.clear()
            return
        if self.recorder is not None:
            whole = math.floor(now_s)
            self.merger.add("local", self._drain(now_s, before_s=whole), now_s)
            self._flush_raw()
        else:  # the master's own metrics (a polled gauge): merged, promising nothing
            self.merger.add_metrics(self.metrics.drain(now_s))
        self._sample(now_s)
        self._emit(self.merger.close(now_s), now_s)
        for listener in self.ticked:
            listener(now_s)
        run = self.session.current if self.session is not None else None
        if run is not None and run.stopped_s is not None and run.open:
            # Locust fires test_stop once the workers report no users, or at once when none
            # had spawned yet: their last requests may complete a moment after it.
            last = math.floor(run.stopped_s) + 1
            if (
                self.merger.promised_through(last, now_s)
                or now_s >= run.stopped_s + self.merger.grace_s + 2
            ):
                self._end_run(now_s)

    def close(self, reason: str = "closed") -> None:
        """Write everything still held and the ``end`` line; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self._stop_ticking()
        now = time.time()
        if self.session is not None:
            run = self.session.current
            if run is not None and run.open:
                if run.stopped_s is None:  # quit while it ran: swarm run decides what that was
                    self._stop_reason = reason
                self._end_run(now)
        elif self.merger is not None:
            self._drain_into_merger(now)
            self._emit(self.merger.finish(), now)
            state, end_reason = self._end
            self._move("stopping", now)
            self._move(state, now, end_reason)
            if self._writer is not None:
                try:
                    self._writer.close(ended_s=now, reason=reason)
                except RunError as exc:
                    self._write_failed_with(exc)
        self._flush_raw()
        if self._raw_fd is not None:
            os.close(self._raw_fd)
            self._raw_fd = None

    def end_as(self, state: State, reason: str | None = None) -> None:
        """The state the run ends in when the timeline closes, instead of ``finished``
        (an abort guard that tripped ends it ``aborted``, with its reason)."""
        self._end = (state, reason)

    # -- the runs of a web-UI session ------------------------------------------------------

    @property
    def _run_open(self) -> bool:
        run = self.session.current if self.session is not None else None
        return run is not None and run.open

    def _resuming(self) -> bool:
        """A ``test_start`` that continues the open run (a resume after a pause)."""
        run = self.session.current if self.session is not None else None
        return run is not None and run.open and run.stopped_s is None

    def _begin_run(self, now_s: float) -> None:
        """Open the session's next run: its folder, a timeline in it, a fresh feed run."""
        assert self.session is not None and self.merger is not None
        try:
            run = self.session.open_run(now_s)
        except OSError as exc:
            self._write_failed_with(RunError(f"cannot create a run folder: {exc}"))
            return
        if self.recorder is not None:
            self.recorder.drain(now_s)
        self.metrics.clear()
        self.merger = self.merger.fresh()
        self._write_failed = False
        self._stop_reason = "stopped"
        self._end = ("finished", None)
        logger.info(
            announcement(
                "run",
                phase="started",
                run_id=run.run_id,
                run_dir=str(run.path.resolve()),
                at_s=round(now_s, 3),
            )
        )
        try:
            self._writer = TimelineWriter(
                run.path / FILE_NAME, created_s=now_s, **self._writer_options
            )
        except RunError as exc:
            self._writer = None
            self._write_failed_with(exc)
        if self.feed is not None:
            self.feed.start_run(now_s, run_id=run.run_id)

    def _end_run(self, now_s: float) -> None:
        """Close the open run: its last seconds, its timeline's ``end``, ``finished``."""
        assert self.session is not None and self.merger is not None
        run = self.session.current
        assert run is not None
        self._drain_into_merger(now_s)
        self._emit(self.merger.finish(), now_s)
        run.ended_s = now_s
        if run.stopped_s is None:
            run.stopped_s = now_s
        state, end_reason = self._end
        reason = end_reason or self._stop_reason  # an abort's, or the capacity search's
        self._move("stopping", now_s)
        self._move(state, now_s, reason)
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close(ended_s=now_s, reason=reason)
            except RunError as exc:
                self._write_failed_with(exc)
        self._flush_raw()
        logger.info(
            announcement(
                "run",
                phase="ended",
                run_id=run.run_id,
                run_dir=str(run.path.resolve()),
                at_s=round(now_s, 3),
                state=self.feed.state if self.feed is not None else "finished",
                reason=reason,
            )
        )

    def _drain(self, now_s: float, before_s: int | None = None) -> RecorderPayload:
        """The request recorder's drain with the custom metrics' of the same seconds."""
        assert self.recorder is not None
        payload = self.recorder.drain(now_s, before_s=before_s)
        payload["metrics"] = self.metrics.drain(now_s, before_s=before_s)
        return payload

    def _drain_into_merger(self, now_s: float) -> None:
        """Everything this process still holds, into the merger (the run ends)."""
        assert self.merger is not None
        if self.recorder is not None:
            self.merger.add("local", self._drain(now_s), now_s)
        else:
            self.merger.add_metrics(self.metrics.drain(now_s))

    def _of_current_run(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A worker's payload with only the open run's records and metrics (none between
        runs: a late report of a run already ended, or of idle workers)."""
        run = self.session.current if self.session is not None else None
        if run is None or not run.open:
            return None
        first = math.floor(run.started_s)
        kept = dict(payload)
        for key in ("records", "metrics"):
            found = payload.get(key) or []
            kept[key] = [r for r in found if isinstance(r, Mapping) and r.get("t", first) >= first]
        return kept

    def _stop_ticking(self) -> None:
        """End the tick greenlet before the writer closes, and wait until it has ended.

        A kill that does not wait only schedules the greenlet's exit: if its sleep is due
        in the same loop turn, it wakes first and ticks once more into the closed writer
        (the "I/O operation on closed file" that ended every distributed run).
        """
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=True)

    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(self.tick_s)
            if self.closed:
                return
            try:
                self.tick(time.time())
            except Exception:
                logger.exception("Timeline tick failed; will retry next second")

    def _sample(self, now_s: float) -> None:
        runner = self.environment.runner
        if self.merger is None or runner is None:
            return
        users = runner.user_count
        if isinstance(runner, MasterRunner):
            workers = runner.worker_count
            live = [self._worker_cpu[c] for c in runner.clients if c in self._worker_cpu]
            cpu = max(live) if live else None
            active: dict[str, int] = {}
            for client_id in runner.clients:  # the latest report of each worker still there
                for group, n in self._worker_active.get(client_id, {}).items():
                    active[group] = active.get(group, 0) + n
        else:
            workers = 1
            cpu = self._cpu.percent(min_interval_s=1.0)
            active = dict(self.active()) if self.active is not None else {}
        if active:  # engine mode: Locust runs no users of its own
            users = sum(active.values())
        self.merger.observe(
            now_s, users=users, workers=workers, cpu_percent=cpu, active=active or None
        )

    def _move(self, state: State, now_s: float, reason: str | None = None) -> None:
        """Move the feed's run to ``state`` if that is a step it can take from where it is
        (Locust's events arrive more than once: a test_stop per stop, a quit after it)."""
        if self.feed is not None and self.feed.run_state.allows(state):
            self.feed.move(state, now_s, reason)

    def _emit(self, result: MergeResult, now_s: float) -> None:
        seconds = result.seconds
        if self.feed is not None:
            # a second the run was paused in (even partly) is marked: the timeline keeps its
            # requests, and every statistic — live or in the report — leaves it out
            feed = self.feed
            seconds = [replace(s, paused=True) if feed.paused_in(s.t) else s for s in seconds]
            for second in seconds:
                feed.add_second(second)
            feed.add_late_arrivals(result.late_arrivals)  # after their seconds, as written
        if self._writer is None or self._write_failed:
            return
        try:
            for second in seconds:
                self._writer.write_second(second)
            for record in result.late:
                self._writer.write_late(record)
            for arrivals in result.late_arrivals:
                self._writer.write_late_arrival(arrivals)
            for metric in result.late_metrics:
                self._writer.write_late_metric(metric)
            self._writer.flush(now_s)
        except RunError as exc:
            self._write_failed_with(exc)

    def _write_failed_with(self, exc: RunError) -> None:
        """The timeline cannot be written (a full disk): say which file and why, and stop.

        A run whose timeline stops is measuring nothing, so the load ends at once and Locust
        exits 3; the one log line (ending in ``WRITE_FAILURE_END``) is how ``swarm run`` learns
        why, to record it in run.json. The timeline keeps every whole line written so far.
        """
        if self._write_failed:
            return
        self._write_failed = True
        logger.error("swarm: %s%s", exc, WRITE_FAILURE_END)
        self.environment.process_exit_code = int(ExitCode.RUN_FAILED)
        options = self.environment.parsed_options
        if options is not None and getattr(options, "html_file", None):
            options.html_file = None  # Locust's report would not fit either, and would crash it
        runner = self.environment.runner
        if runner is not None and not self.closed:
            gevent.spawn(runner.quit)

    def _flush_raw(self) -> None:
        if self._raw_fd is not None and self._raw_lines:
            data = "".join(self._raw_lines).encode()
            self._raw_lines.clear()  # in place: the request listener holds this list
            os.write(self._raw_fd, data)  # one O_APPEND write: lines never interleave


def _announce_state(*, state: str, at_s: float, reason: str | None, **_kwargs: Any) -> None:
    """Tell ``swarm run`` (reading this log) of the new state, to record it in run.json."""
    logger.info(announcement("state", state=state, at_s=round(at_s, 3), reason=reason))


def feed_of(environment: Environment) -> LiveFeed | None:
    """The live feed of ``environment``'s master or local runner (``None`` on workers, or
    before ``install``): where plugins, sinks and the web UI tab listen."""
    telemetry = telemetry_of(environment)
    return telemetry.feed if telemetry is not None else None


def telemetry_of(environment: Environment) -> Telemetry | None:
    """The ``Telemetry`` that ``install`` attached to ``environment`` (``None`` before)."""
    telemetry = getattr(environment, _ATTRIBUTE, None)
    return telemetry if isinstance(telemetry, Telemetry) else None


def install(
    environment: Environment,
    run_dir: Path | None,
    *,
    grace_s: float = 5.0,
    tick_s: float = 0.5,
    sync_every_s: float = 5.0,
    meta: Mapping[str, Any] | None = None,
    session_dir: Path | None = None,
) -> Telemetry:
    """Attach timeline recording to ``environment``'s runner; call it from the ``init`` event.

    The master or local runner writes ``run_dir/timeline.jsonl`` (``run_dir`` is created if
    needed, and ignored on workers). With ``session_dir`` instead (a web-UI session), every
    start writes a run folder of its own beside it (see the module docstring). Raises
    ``RunError`` if the runner does not exist yet, or the timeline file already exists.

    Example, in a locustfile::

        @events.init.add_listener
        def _(environment, **_kw):
            run_dir = environment.parsed_options.swarm_run_dir
            install(environment, Path(run_dir) if run_dir else None)
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        role = "worker"
    elif isinstance(runner, MasterRunner):
        role = "master"
    elif isinstance(runner, LocalRunner):
        role = "local"
    else:
        raise RunError(
            "telemetry.install: the environment has no runner yet; call it from the init "
            f"event or after create_*_runner() (found {type(runner).__name__})"
        )
    path = run_dir / FILE_NAME if run_dir is not None and role != "worker" else None
    session = WebSession(session_dir) if session_dir is not None and role != "worker" else None
    telemetry = Telemetry(
        environment,
        role,
        path=path,
        grace_s=grace_s,
        tick_s=tick_s,
        sync_every_s=sync_every_s,
        meta=meta,
        session=session,
    )
    setattr(environment, _ATTRIBUTE, telemetry)
    install_metric_error_filter()
    events = environment.events
    telemetry.listen_to_requests(events.request, environment.stats)
    if role == "worker":
        events.report_to_master.add_listener(telemetry.on_report_to_master)
    if role == "master":
        events.worker_report.add_listener(telemetry.on_worker_report)
    events.test_start.add_listener(telemetry.on_test_start)
    events.test_stop.add_listener(telemetry.on_test_stop)
    events.quit.add_listener(telemetry.on_quit)
    return telemetry


LOCUST_STATS_LISTENER = "Runner.__init__.<locals>.on_request"
"""The ``__qualname__`` of the ``request`` listener each Locust runner adds for its stats."""
PAYLOAD_KEY = "swarm_timeline"
CPU_KEY = "swarm_cpu_percent"
ACTIVE_KEY = "swarm_active"
"""A worker's report: its engine's load per group (arrivals in flight, users running)."""
DUE_KEY = "swarm_due"
"""An open-model request's context: the ``perf_counter`` value at which its arrival was due."""
RAW_LATENCY_LOG_ENV = "SWARM_RAW_LATENCY_LOG"
_ATTRIBUTE = "swarm_telemetry"
