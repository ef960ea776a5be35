"""Run the detectors: each on its own port, in one process or in N that share the ports.

With ``processes == 1`` everything runs on one asyncio loop in this process. With
more, the parent builds the shared fault and metrics boards, forks N children that
each bind every port with ``SO_REUSEPORT`` (the kernel spreads connections across
them), waits for all to report ready, and on SIGTERM or Ctrl-C stops them. Either
way ``run`` returns 0 after a clean stop and raises ``RunError`` when a port cannot
be bound or a child dies. Before serving it lifts the file-descriptor limit to the
hard limit and bounds each process's connections below it (see ``connections.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from framework.errors import ConfigError, RunError
from framework.suggestions import did_you_mean, nearest
from mock_detectors.config import DetectorConfig, MocksConfig
from mock_detectors.connections import (
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    ConnectionLimits,
    ConnectionTable,
    backlog_for,
    fd_reserve,
    raise_fd_limit,
)
from mock_detectors.detector import DetectorApp
from mock_detectors.faults import FaultBoard
from mock_detectors.metrics import MetricsBoard, render
from mock_detectors.protocol import HttpProtocol
from mock_detectors.stall import StallClock

__all__ = ["Listener", "Service", "is_loopback", "plan_listeners"]

log = logging.getLogger("mock_detectors")

_READY_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Listener:
    """One detector bound to one address; ``port`` 0 asks the OS for a free port."""

    name: str
    host: str
    port: int
    detector: DetectorConfig
    max_body_bytes: int

    def url(self, port: int | None = None) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}"


def is_loopback(host: str) -> bool:
    """True if ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_listeners(
    config: MocksConfig,
    *,
    host: str | None = None,
    only: list[str] | None = None,
    port_offset: int = 0,
) -> list[Listener]:
    """The detectors to start, in config order, after ``--host``/``--only``/``--port-offset``."""
    names = list(config.detectors)
    if only:
        unknown = [name for name in only if name not in config.detectors]
        if unknown:
            hints = []
            for name in unknown:
                near = nearest(name, names)
                hints.append(f"{name!r}" + (f" ({did_you_mean([near])})" if near else ""))
            raise ConfigError(
                f"--only names unknown detector(s) {', '.join(hints)}; "
                f"the config has: {', '.join(names)}",
                flag="--only",
            )
        names = [name for name in names if name in only]
    listeners = []
    for name in names:
        port = config.port_of(name)
        if port:
            port += port_offset
        if not 0 <= port <= 65535:
            raise ConfigError(
                f"detector {name!r}: port {port} after --port-offset is out of range",
                flag="--port-offset",
            )
        listeners.append(
            Listener(
                name,
                host or config.host,
                port,
                config.detectors[name],
                config.body_limit_of(name),
            )
        )
    return listeners


@dataclass
class _Shared:
    """What every process of one detector shares; built before forking."""

    faults: FaultBoard
    metrics: MetricsBoard


@dataclass
class Service:
    """The running mock detectors. ``admin_token`` is masked in the repr.

    ``max_connections`` bounds the open connections of each process (``None``: as
    many as the file-descriptor limit leaves room for); the timeouts are in seconds.
    """

    listeners: list[Listener]
    processes: int = 1
    admin_token: str | None = field(default=None, repr=False)
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_connections: int | None = None
    _fd_limit: int = field(default=1024, init=False, repr=False)  # set by ``run``
    _limits: ConnectionLimits = field(
        default_factory=lambda: ConnectionLimits(1), init=False, repr=False
    )
    _started_at: float = field(default=0.0, init=False, repr=False)  # the stall clock's start

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ConfigError(f"--processes must be >= 1, got {self.processes}", flag="--processes")
        for flag, value in (
            ("--header-timeout", self.header_timeout_s),
            ("--idle-timeout", self.idle_timeout_s),
        ):
            if not (math.isfinite(value) and 0 < value <= 86_400):
                raise ConfigError(f"{flag} must be > 0 and <= 86400 s, got {value}", flag=flag)
        if self.max_connections is not None and self.max_connections < 1:
            raise ConfigError(
                f"--max-connections must be >= 1, got {self.max_connections}",
                flag="--max-connections",
            )
        if self.processes > 1 and any(item.port == 0 for item in self.listeners):
            raise ConfigError(
                "port 0 (any free port) cannot be shared by --processes > 1", flag="--processes"
            )
        for item in self.listeners:
            if not is_loopback(item.host) and not self.admin_token:
                raise ConfigError(
                    f"host {item.host!r} listens beyond loopback, so the admin API needs a "
                    "token: pass --admin-token TOKEN or set SWARM_MOCKS_ADMIN_TOKEN",
                    flag="--admin-token",
                )

    def run(self, on_ready: Callable[[list[tuple[Listener, int]]], None]) -> int:
        """Serve until SIGTERM/SIGINT; call ``on_ready`` with each bound port; return 0."""
        self._fd_limit = raise_fd_limit()[0]
        self._limits = self.connection_limits(self._fd_limit)
        log.info(
            "at most %d open connections per process (file-descriptor limit %d); "
            "header timeout %g s, idle timeout %g s",
            self._limits.max_connections,
            self._fd_limit,
            self._limits.header_timeout_s,
            self._limits.idle_timeout_s,
        )
        shared = {
            item.name: _Shared(FaultBoard(), MetricsBoard(self.processes))
            for item in self.listeners
        }
        # One start for every process (time.monotonic is system-wide, and asyncio's
        # loop.time reads it), so their stall windows coincide.
        self._started_at = time.monotonic()
        if self.processes == 1:
            return asyncio.run(self._run_here(shared, on_ready))
        return self._run_forked(shared, on_ready)

    def connection_limits(self, fd_limit: int) -> ConnectionLimits:
        """The bound and timeouts for a process allowed ``fd_limit`` file descriptors.

        Raises ``ConfigError`` if ``max_connections`` would not fit: a process out of
        descriptors cannot accept even a health check.
        """
        room = max(1, fd_limit - fd_reserve(fd_limit) - len(self.listeners))
        bound = self.max_connections
        if bound is None:
            bound = room
        elif bound > room:
            raise ConfigError(
                f"--max-connections {bound} does not fit the file-descriptor limit of "
                f"{fd_limit} (at most {room}, keeping {fd_limit - room} spare): raise the "
                "hard limit (ulimit -Hn, LimitNOFILE=, docker --ulimit nofile=) or lower "
                "--max-connections",
                flag="--max-connections",
            )
        return ConnectionLimits(bound, self.header_timeout_s, self.idle_timeout_s)

    async def _run_here(
        self,
        shared: dict[str, _Shared],
        on_ready: Callable[[list[tuple[Listener, int]]], None],
    ) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        servers, table, ports = await _start(self, shared, 0)
        on_ready(list(zip(self.listeners, ports, strict=True)))
        await stop.wait()
        await _stop(servers, table)
        return 0

    def _run_forked(
        self,
        shared: dict[str, _Shared],
        on_ready: Callable[[list[tuple[Listener, int]]], None],
    ) -> int:
        context = multiprocessing.get_context("fork")
        reports, report_end = context.Pipe(duplex=False)
        stopping: list[int] = []

        def request_stop(signum: int, _frame: object) -> None:
            stopping.append(signum)

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        children = [
            context.Process(
                target=_child_main,
                args=(self, shared, index, report_end),
                name=f"mock-detectors-{index}",
            )
            for index in range(self.processes)
        ]
        try:
            for child in children:
                child.start()
            ready = self._await_ready(children, reports, stopping)
            if ready:
                on_ready([(item, item.port) for item in self.listeners])
                while not stopping:
                    dead = multiprocessing.connection.wait(
                        [child.sentinel for child in children], timeout=0.5
                    )
                    if dead and not stopping:
                        codes = ", ".join(f"{c.name}: {c.exitcode}" for c in children if c.exitcode)
                        raise RunError(f"a mock-detector process died ({codes})")
            return 0
        finally:
            _end(children)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _await_ready(
        self,
        children: list[multiprocessing.process.BaseProcess],
        reports: multiprocessing.connection.Connection,
        stopping: list[int],
    ) -> bool:
        pending = set(range(len(children)))
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while pending and not stopping:
            if time.monotonic() > deadline:
                raise RunError(f"mock-detector processes {sorted(pending)} did not start in time")
            if not reports.poll(0.2):
                if any(not children[i].is_alive() for i in pending):
                    raise RunError("a mock-detector process exited while starting")
                continue
            kind, index, message = reports.recv()
            if kind == "error":
                raise RunError(message)
            pending.discard(index)
        return not pending


async def _start(
    service: Service, shared: dict[str, _Shared], index: int
) -> tuple[list[asyncio.Server], ConnectionTable, list[int]]:
    """Bind every listener in this process; return the servers, their connections and ports."""
    loop = asyncio.get_running_loop()
    table = ConnectionTable(service._limits, loop)
    table.start()
    servers: list[asyncio.Server] = []
    ports: list[int] = []
    try:
        for item in service.listeners:
            app = _make_app(
                item, shared[item.name], index, service.admin_token, loop, service._started_at
            )
            try:
                server = await loop.create_server(
                    lambda app=app: HttpProtocol(app, loop, table, time.time),
                    item.host,
                    item.port,
                    reuse_port=service.processes > 1,
                    backlog=backlog_for(service._fd_limit),
                )
            except OSError as exc:
                raise RunError(
                    f"detector {item.name!r} cannot listen on {item.url()}: {exc.strerror or exc}"
                ) from exc
            servers.append(server)
            ports.append(server.sockets[0].getsockname()[1])
    except BaseException:
        await _stop(servers, table)
        raise
    return servers, table, ports


def _make_app(
    item: Listener,
    shared: _Shared,
    index: int,
    admin_token: str | None,
    loop: asyncio.AbstractEventLoop,
    started_at: float,
) -> DetectorApp:
    seed = item.detector.seed
    stall = item.detector.stall
    name = item.name

    def metrics_text() -> bytes:
        def faults(_: str) -> tuple[list[str], float]:
            now = loop.time()
            fault = shared.faults.current(now)
            return ([], 0.0) if fault is None else (fault.spec.kinds(), fault.remaining_s(now))

        return render([(name, shared.metrics)], faults)

    return DetectorApp(
        name,
        item.detector,
        max_body_bytes=item.max_body_bytes,
        faults=shared.faults,
        metrics=shared.metrics.writer(index),
        metrics_text=metrics_text,
        clock=loop.time,
        rng=random.Random(None if seed is None else seed + index),
        admin_token=admin_token,
        call_at=lambda when, callback: loop.call_at(when, callback),
        stall=None if stall is None else StallClock.of(stall, started_at),
        in_flight=shared.metrics.in_flight,
    )


async def _stop(servers: list[asyncio.Server], table: ConnectionTable) -> None:
    for server in servers:
        server.close()
    table.stop()
    for server in servers:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), _STOP_TIMEOUT_S)


def _child_main(
    service: Service,
    shared: dict[str, _Shared],
    index: int,
    reports: multiprocessing.connection.Connection,
) -> None:
    """One forked serving process: ignores Ctrl-C (the parent relays it as SIGTERM)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            servers, table, _ = await _start(service, shared, index)
        except RunError as exc:
            reports.send(("error", index, str(exc)))
            return
        reports.send(("ready", index, ""))
        await stop.wait()
        await _stop(servers, table)

    asyncio.run(serve())


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if the parent dies, so no server is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os.kill(os.getpid(), signal.SIGTERM)


def _end(children: list[multiprocessing.process.BaseProcess]) -> None:
    for child in children:
        if child.is_alive():
            child.terminate()
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(1.0)
