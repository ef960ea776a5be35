"""Two Locust processes at once on one core, each measured over the window they share.

Run one after the other, two identical processes on this shared VM differ by ±10 % in
requests per CPU second (the core's own speed wanders over seconds). Run at the same time
on the same core, both see the same neighbours and the same core speed, so their ratio is
steady (an A/A pair agrees within a few per cent per round). What makes that fair is the
window: the compiled side starts about a second later (it compiles its scenario), so each
side's own start-to-end window would give the later one the core to itself at the end.
Here both are sampled together (every ``SAMPLE_S``) and counted only from ``WARMUP_S``
after the later one's first request to the last moment both were still sending.

Each side talks to a target of its own (``fixtures/asyncio_server.py`` on the other core),
whose ``GET /__count`` tells how many requests it answered: the requests are counted where
they arrive, so a transaction record (``TXN``) is never one, and Locust's statistics need
not be read mid-run. CPU seconds come from ``/proc/PID/stat``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from compiled_vs_handwritten import (
    AGGREGATE_METHODS,
    LOCUST_CPU,
    RunResult,
    Workload,
    _cpu_s,
    _stop,
    fast_server,
    locust_command,
    start_pinned,
)

__all__ = ["SAMPLE_S", "WARMUP_S", "counting_server", "run_shared"]

SAMPLE_S = 0.2
WARMUP_S = 2.0
MIN_WINDOW_S = 3.0


@contextmanager
def counting_server(tmp: Path, label: str) -> Iterator[tuple[str, int]]:
    """An asyncio target on core ``SERVER_CPU`` for one side; yield (base URL, port)."""
    folder = tmp / f"target-{label}"
    folder.mkdir(exist_ok=True)
    with fast_server(folder, "asyncio") as (url, _description):
        yield url, int(url.rsplit(":", 1)[1])


def _answered(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__count", timeout=5) as response:
        return int(json.load(response)["requests"])


def _failures(json_file: Path) -> int:
    entries = json.loads(json_file.read_text())
    return sum(e["num_failures"] for e in entries if e.get("method") not in AGGREGATE_METHODS)


@dataclass(frozen=True)
class _Sample:
    at: float
    cpu_s: tuple[float, ...]
    answered: tuple[int, ...]


def _window(samples: Sequence[_Sample]) -> tuple[int, int]:
    """Indexes of the first and last sample of the common window (see the module)."""
    sides = range(len(samples[0].answered))
    started = [next((s.at for s in samples if s.answered[i] > 0), None) for i in sides]
    if any(at is None for at in started):
        raise RuntimeError("a side sent no request; see its log")
    begin_at = max(at for at in started if at is not None) + WARMUP_S
    first = next((k for k, s in enumerate(samples) if s.at >= begin_at), None)
    both_sending = [
        k
        for k in range(1, len(samples))
        if all(samples[k].answered[i] > samples[k - 1].answered[i] for i in sides)
    ]
    last = both_sending[-1] - 1 if both_sending else None
    if first is None or last is None or samples[last].at - samples[first].at < MIN_WINDOW_S:
        raise RuntimeError(
            f"the two sides overlapped for less than {MIN_WINDOW_S:g} s after their warm-up; "
            "give each run more --seconds"
        )
    return first, last


def run_shared(
    workload: Workload,
    sides: tuple[str, str],
    seconds: int,
    users: int,
    tmp: Path,
    index: int,
) -> tuple[RunResult, RunResult]:
    """Start both sides together on core ``LOCUST_CPU``; measure them over the common window.

    ``sides`` are ``"compiled"`` or ``"handwritten"`` (the same twice for an A/A pair).
    Raises ``RuntimeError`` if a side fails or the runs overlap too little.
    """
    deadline = time.monotonic() + seconds + 60
    with ExitStack() as stack:
        targets = [stack.enter_context(counting_server(tmp, f"{index}-{i}")) for i in range(2)]
        processes, prefixes = [], []
        for i, side in enumerate(sides):
            prefix = tmp / f"shared-{workload.name}-{index:02d}-{i}-{side}"
            command, env = locust_command(workload, side, targets[i][0], seconds, users, prefix)
            log = stack.enter_context(prefix.with_suffix(".log").open("wb"))
            process = start_pinned(LOCUST_CPU, command, stdout=log, env=env)
            stack.callback(_stop, process)
            processes.append(process)
            prefixes.append(prefix)
        samples: list[_Sample] = []
        while all(p.poll() is None for p in processes):
            if time.monotonic() > deadline:
                raise RuntimeError(f"a shared-core run did not end within {seconds + 60} s")
            cpus = [_cpu_s(p.pid) for p in processes]
            at = time.time()
            answered = tuple(_answered(port) for _url, port in targets)
            if all(cpu is not None for cpu in cpus):
                samples.append(_Sample(at, tuple(c for c in cpus if c is not None), answered))
            time.sleep(SAMPLE_S)
        for process, prefix in zip(processes, prefixes, strict=True):
            if process.wait(timeout=seconds + 60) != 0:
                tail = prefix.with_suffix(".log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"a run exited with code {process.returncode}; log:\n{tail}")
    first, last = _window(samples)
    begin, end = samples[first], samples[last]
    runs = [
        RunResult(
            side=side,
            requests=end.answered[i] - begin.answered[i],
            failures=_failures(prefixes[i].with_suffix(".json")),
            measured_s=end.at - begin.at,  # the common window
            cpu_s=end.cpu_s[i] - begin.cpu_s[i],
        )
        for i, side in enumerate(sides)
    ]
    return runs[0], runs[1]
