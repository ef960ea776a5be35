"""Compiled swarm scenario vs the same workload as a hand-written ``FastHttpUser`` locustfile.

Each run is one headless Locust process pinned to core 0 (``taskset``) against a fast local
server pinned to core 1: nginx when it is installed, else ``fixtures/asyncio_server.py``.
Runs alternate compiled / hand-written, so both sides of a pair see the same neighbours
on a shared machine, and the order flips each pair (A/B, B/A, ...) because even two
identical runs differ by position; the headline figure is the median of the per-pair ratios
compiled rps / hand-written rps (target: >= 0.95). Requests per CPU second of the Locust
process and an in-process interleaved check of the task path
(``fixtures/interleaved_cost.py``) are printed beside it: on a busy machine they are far
steadier than rps. ``--concurrent`` runs the two sides of a pair at the same time instead,
sharing core 0, and then holds requests per CPU second against the target.

Throughput is measured after spawning completes (``--reset-stats``): requests counted in
Locust's ``--json-file`` divided by the span from the stats reset to the last request.

    python benchmarks/compiled_vs_handwritten.py --seconds 10 --pairs 4 --users 50

Every process started here is stopped in a ``finally`` block; everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

__all__ = [
    "WORKLOADS",
    "Ratios",
    "RunResult",
    "Settings",
    "Workload",
    "locust_command",
    "main",
    "start_pinned",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = HERE / "fixtures"
SCENARIO_LOCUSTFILE = REPO / "locustfiles" / "scenario.py"

LOCUST_CPU = 0
SERVER_CPU = 1
TARGET_RATIO = 0.95
SAMPLE_S = 0.05
AGGREGATE_METHODS = ("TXN", "POLL")
SIDE_FILES = {"bare": "flow_bare.py", "generated": "flow_generated.py"}
"""The flow benchmark's other sides: the compiled user class alone, and a sketch of
generated straight-line code (``fixtures/``)."""

NGINX_CONF = """\
worker_processes 1;
worker_cpu_affinity {mask};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    default_type application/json;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{ return 200 '{{"ok":true}}'; }}
    }}
}}
"""


@dataclass(frozen=True)
class Workload:
    """One workload written twice: a scenario YAML and a hand-written locustfile."""

    name: str
    scenario: Path
    locustfile: Path


WORKLOADS = {
    "static": Workload(
        "static", FIXTURES / "compiled_static.yaml", FIXTURES / "handwritten_static.py"
    ),
    "templated": Workload(
        "templated", FIXTURES / "compiled_templated.yaml", FIXTURES / "handwritten_templated.py"
    ),
}


class InterleavedResult(TypedDict):
    """What ``fixtures/interleaved_cost.py`` prints: CPU us per request, per block."""

    compiled_us: list[float]
    handwritten_us: list[float]
    cost_ratios: list[float]
    median_cost_ratio: float
    failures: int


@dataclass(frozen=True)
class RunResult:
    """One Locust run: requests and failures after the stats reset, over ``measured_s``."""

    side: str
    requests: int
    failures: int
    measured_s: float
    cpu_s: float

    @property
    def rps(self) -> float:
        """Requests per wall-clock second: what the run achieved on a shared core."""
        return self.requests / self.measured_s if self.measured_s > 0 else 0.0

    @property
    def per_cpu_s(self) -> float:
        """Requests per CPU second of the Locust process: its cost, whatever the neighbours do."""
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def cpu_share(self) -> float:
        """Fraction of core ``LOCUST_CPU`` the Locust process got during the window."""
        return self.cpu_s / self.measured_s if self.measured_s > 0 else 0.0


# -- processes ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_pinned(
    core: int,
    command: list[str],
    *,
    stdout: Any,
    stderr: Any = subprocess.STDOUT,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` pinned to ``core`` (``taskset``), from the repository, in a session
    of its own so that ``_stop`` ends it with everything it started."""
    return subprocess.Popen(
        ["taskset", "-c", str(core), *command],
        stdout=stdout,
        stderr=stderr,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """Stop ``process`` and its process group (started with ``start_new_session``)."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {timeout_s:g} s")


@contextmanager
def fast_server(tmp: Path, kind: str) -> Iterator[tuple[str, str]]:
    """Start the target on core ``SERVER_CPU``; yield (base URL, server description)."""
    port = _free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if kind == "nginx" and nginx is None:
        raise RuntimeError("nginx not found (apt-get install nginx-light), or use --server asyncio")
    if kind != "asyncio" and nginx is not None:
        conf_dir = tmp / "nginx"
        (conf_dir / "body").mkdir(parents=True)
        for folder in (tmp, conf_dir, conf_dir / "body"):
            folder.chmod(0o755)  # a root master runs its worker as nobody
        conf = conf_dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(mask=f"{1 << SERVER_CPU:b}", tmp=conf_dir, port=port))
        command = [nginx, "-p", str(conf_dir), "-e", str(conf_dir / "error.log"), "-c", str(conf)]
        command += ["-g", "daemon off;"]
        description = "nginx (1 worker)"
    else:
        command = [sys.executable, str(FIXTURES / "asyncio_server.py"), str(port)]
        description = "asyncio fallback"
    with (tmp / "server.log").open("wb") as log:
        process = start_pinned(SERVER_CPU, command, stdout=log)
        try:
            _wait_for_port(port, process, timeout_s=10)
            yield f"http://127.0.0.1:{port}", description
        finally:
            _stop(process)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (``/proc/PID/stat``), ``None`` once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields 3.. ; utime and stime are 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_at(samples: Sequence[tuple[float, float]], at: float) -> float:
    """CPU seconds at wall time ``at``, interpolated between ``(time.time(), cpu_s)`` samples."""
    if at <= samples[0][0]:
        return samples[0][1]
    for (t0, c0), (t1, c1) in itertools.pairwise(samples):
        if t0 <= at <= t1:
            return c0 + (c1 - c0) * (at - t0) / (t1 - t0) if t1 > t0 else c1
    return samples[-1][1]


def locust_command(
    workload: Workload, side: str, host: str, seconds: int, users: int, prefix: Path
) -> tuple[list[str], dict[str, str]]:
    """The headless Locust command of one side (not yet pinned) and its environment; its
    results go to ``prefix.json``."""
    command = [sys.executable, "-m", "locust"]
    env = dict(os.environ)
    if side == "compiled":
        command += ["-f", str(SCENARIO_LOCUSTFILE), "--scenario", str(workload.scenario)]
        env |= {"BENCH_USERS": str(users), "BENCH_SECONDS": str(seconds)}
    else:  # "handwritten", or one of the flow benchmark's other locustfiles (SIDE_FILES)
        locustfile = workload.locustfile if side == "handwritten" else FIXTURES / SIDE_FILES[side]
        command += ["-f", str(locustfile), "-u", str(users), "-r", str(users)]
        command += ["-t", f"{seconds}s"]
        env |= {"BENCH_SCENARIO": str(workload.scenario), "PYTHONPATH": str(REPO)}
        env |= {"BENCH_USERS": str(users), "BENCH_SECONDS": str(seconds)}
    command += ["--headless", "--host", host, "--reset-stats", "--exit-code-on-error", "0"]
    command += ["--json-file", str(prefix), "--loglevel", "WARNING"]
    return command, env


def run_locust(
    workload: Workload,
    side: str,
    host: str,
    seconds: int,
    users: int,
    tmp: Path,
    index: int,
    *,
    cancel: threading.Event | None = None,
) -> RunResult:
    """One headless Locust process on core ``LOCUST_CPU``; raise if it fails or times out.

    While it runs, its CPU time is sampled every ``SAMPLE_S`` so that the CPU spent inside
    the measured window (stats reset to last request) can be told apart from start-up.
    """
    prefix = tmp / f"{workload.name}-{index:02d}-{side}"
    command, env = locust_command(workload, side, host, seconds, users, prefix)
    log_path = prefix.with_suffix(".log")
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds + 60
    with log_path.open("wb") as log:
        process = start_pinned(LOCUST_CPU, command, stdout=log, env=env)
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{side} run did not end within {seconds + 60} s")
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt(f"{side} run cancelled")
                cpu = _cpu_s(process.pid)
                if cpu is not None:
                    samples.append((time.time(), cpu))
                time.sleep(SAMPLE_S)
        finally:
            _stop(process)
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{side} run exited with code {process.returncode}; log:\n{tail}")
    # a flow's transactions (TXN) and polls' totals (POLL) time requests already counted
    entries = [
        e
        for e in json.loads(prefix.with_suffix(".json").read_text())
        if e.get("method") not in AGGREGATE_METHODS
    ]
    first = min(e["start_time"] for e in entries)
    last = max((e["last_request_timestamp"] or first) for e in entries)
    return RunResult(
        side=side,
        requests=sum(e["num_requests"] for e in entries),
        failures=sum(e["num_failures"] for e in entries),
        measured_s=last - first,
        cpu_s=cpu_at(samples, last) - cpu_at(samples, first) if samples else 0.0,
    )


def interleaved_cost(
    workload: Workload, host: str, blocks: int, tmp: Path, *, listeners: bool = False
) -> InterleavedResult:
    """Run ``fixtures/interleaved_cost.py`` on core ``LOCUST_CPU``; return its JSON result.

    ``listeners``: each side with its runner's request listeners (the compiled side with
    swarm's), not the task path alone."""
    command = [sys.executable, str(FIXTURES / "interleaved_cost.py")]
    command += [str(workload.scenario), str(workload.locustfile), host, "--blocks", str(blocks)]
    command += ["--listeners"] if listeners else []
    log_path = tmp / f"{workload.name}-interleaved.log"
    with log_path.open("wb") as log:
        env = {**os.environ, "BENCH_USERS": "1", "BENCH_SECONDS": "1", "PYTHONPATH": str(REPO)}
        process = start_pinned(LOCUST_CPU, command, stdout=subprocess.PIPE, stderr=log, env=env)
        try:
            out, _ = process.communicate(timeout=30 + 30 * blocks)
        finally:
            _stop(process)
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"interleaved run exited with code {process.returncode}; log:\n{tail}")
    result: InterleavedResult = json.loads(out)
    return result


# -- report ---------------------------------------------------------------------------------


def _line(index: int, result: RunResult) -> str:
    return (
        f"  run {index:2d}  {result.side:<11} {result.rps:7.0f} rps  "
        f"{result.per_cpu_s:7.0f} req/cpu-s  "
        f"({result.requests} req in {result.measured_s:.2f} s, "
        f"cpu share {100 * result.cpu_share:.0f}%, {result.failures} failed)"
    )


@dataclass(frozen=True)
class Ratios:
    """Per-pair ratios compiled / hand-written, of rps and of requests per CPU second."""

    rps: tuple[float, ...]
    per_cpu_s: tuple[float, ...]
    interleaved_cost: float | None = None
    concurrent: bool = False

    @property
    def median_rps(self) -> float:
        return statistics.median(self.rps)

    @property
    def median_per_cpu_s(self) -> float:
        return statistics.median(self.per_cpu_s)

    @property
    def headline(self) -> tuple[str, float]:
        """The figure held against the target: rps, or req/cpu-s when run concurrently.

        Side by side, the side that starts later (the compiled one imports more) also ends
        later and has the core to itself for a moment, which flatters its rps.
        """
        if self.concurrent:
            return "req/cpu-s", self.median_per_cpu_s
        return "rps", self.median_rps


@dataclass(frozen=True)
class Settings:
    """How each workload is run (from the command line)."""

    seconds: int
    pairs: int
    users: int
    interleaved_blocks: int
    concurrent: bool


def _run_pair(
    workload: Workload, settings: Settings, host: str, tmp: Path, number: int
) -> list[RunResult]:
    """Both sides once: one after the other (order flips each pair), or at the same time."""
    # even two identical runs differ by position, so the order flips each pair (see README)
    order = ("compiled", "handwritten") if number % 2 == 0 else ("handwritten", "compiled")
    index = 2 * number
    args = (host, settings.seconds, settings.users, tmp)
    if not settings.concurrent:
        return [run_locust(workload, side, *args, index + i) for i, side in enumerate(order)]
    results: dict[str, RunResult] = {}
    errors: list[BaseException] = []
    cancel = threading.Event()

    def run(i: int, side: str) -> None:
        try:
            results[side] = run_locust(workload, side, *args, index + i, cancel=cancel)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(order)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        cancel.set()  # on an interrupt, each thread stops its own process
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return [results[side] for side in order]


def bench_workload(workload: Workload, settings: Settings, host: str, tmp: Path) -> Ratios:
    """Run the pairs and the interleaved check; print each run and the ratios."""
    how = "at the same time, sharing the core" if settings.concurrent else "alternating"
    print(
        f"workload {workload.name}: {settings.pairs} pairs x {settings.seconds} s, "
        f"{settings.users} users, {how}",
        flush=True,
    )
    rps: list[float] = []
    per_cpu: list[float] = []
    for number in range(settings.pairs):
        runs = _run_pair(workload, settings, host, tmp, number)
        for i, result in enumerate(runs):
            print(_line(2 * number + i + 1, result), flush=True)
            if result.failures:
                print(f"  warning: {result.failures} failed requests", flush=True)
        pair = {result.side: result for result in runs}
        compiled, handwritten = pair["compiled"], pair["handwritten"]
        rps.append(compiled.rps / handwritten.rps)
        per_cpu.append(compiled.per_cpu_s / handwritten.per_cpu_s)
        print(
            f"  pair ratio compiled/hand-written: rps {rps[-1]:.3f}, req/cpu-s {per_cpu[-1]:.3f}",
            flush=True,
        )
    cost: float | None = None
    if settings.interleaved_blocks:
        result = interleaved_cost(workload, host, settings.interleaved_blocks, tmp)
        cost = result["median_cost_ratio"]
        ratios_text = ", ".join(f"{r:.3f}" for r in result["cost_ratios"])
        print(
            f"  interleaved task path, CPU us/request compiled/hand-written: median {cost:.3f} "
            f"(blocks {ratios_text}; {result['failures']} failed)",
            flush=True,
        )
    ratios = Ratios(tuple(rps), tuple(per_cpu), cost, settings.concurrent)
    name, value = ratios.headline
    verdict = f"{name} ok" if value >= TARGET_RATIO else f"{name} BELOW target {TARGET_RATIO}"
    print(
        f"workload {workload.name}: median ratio rps {ratios.median_rps:.3f} "
        f"(pairs {', '.join(f'{r:.3f}' for r in rps)}); "
        f"req/cpu-s {ratios.median_per_cpu_s:.3f} (pairs {', '.join(f'{r:.3f}' for r in per_cpu)})"
        f"; {verdict}\n",
        flush=True,
    )
    return ratios


def _whole_number(minimum: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=_whole_number(1), default=10, help="per run (default 10)")
    parser.add_argument(
        "--pairs", type=_whole_number(1), default=4, help="run pairs, order flipping (default 4)"
    )
    parser.add_argument("--users", type=_whole_number(1), default=50, help="users (default 50)")
    parser.add_argument(
        "--workload",
        choices=[*WORKLOADS, "all"],
        default="all",
        help="which workload to run (default: all, each reported separately)",
    )
    parser.add_argument(
        "--interleaved-blocks",
        type=_whole_number(0),
        default=10,
        help="blocks of the in-process interleaved CPU-cost check per workload (0: skip)",
    )
    parser.add_argument(
        "--concurrent",
        action="store_true",
        help="run the two sides of a pair at the same time, both on core 0 (they share it)",
    )
    parser.add_argument(
        "--server",
        choices=["auto", "nginx", "asyncio"],
        default="auto",
        help="target server (default: nginx if installed, else asyncio)",
    )
    return parser


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM, and SIGINT even when started as a background job (which ignores it), unwind
    # through the finally blocks that stop the server and the current Locust run
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    cpus = os.sched_getaffinity(0)
    if not {LOCUST_CPU, SERVER_CPU} <= cpus:
        print(f"needs cores {LOCUST_CPU} and {SERVER_CPU}; available: {sorted(cpus)}")
        return 2
    if shutil.which("taskset") is None:
        print("needs taskset (util-linux)")
        return 2
    workloads = list(WORKLOADS.values()) if args.workload == "all" else [WORKLOADS[args.workload]]
    try:
        results = _bench(workloads, args)
    except KeyboardInterrupt:
        print("interrupted; every process started here has been stopped")
        return 130
    except RuntimeError as exc:  # a run that failed or could not be measured: say which
        print(f"compiled_vs_handwritten: cannot measure: {exc}")
        return 2
    print(
        "summary (median compiled/hand-written): "
        + "; ".join(
            f"{name} rps {r.median_rps:.3f}, req/cpu-s {r.median_per_cpu_s:.3f}"
            + ("" if r.interleaved_cost is None else f", task-path cost {r.interleaved_cost:.3f}")
            for name, r in results.items()
        )
    )
    return 0 if all(r.headline[1] >= TARGET_RATIO for r in results.values()) else 1


def _bench(workloads: list[Workload], args: argparse.Namespace) -> dict[str, Ratios]:
    """Start the server, run every workload against it, stop the server."""
    settings = Settings(
        seconds=args.seconds,
        pairs=args.pairs,
        users=args.users,
        interleaved_blocks=args.interleaved_blocks,
        concurrent=args.concurrent,
    )
    results: dict[str, Ratios] = {}
    with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with fast_server(tmp, args.server) as (host, description):
            print(
                f"server: {description} on {host}, core {SERVER_CPU}; locust on core {LOCUST_CPU}",
                flush=True,
            )
            for workload in workloads:
                results[workload.name] = bench_workload(workload, settings, host, tmp)
    return results


if __name__ == "__main__":
    sys.exit(main())
