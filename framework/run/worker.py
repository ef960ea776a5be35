"""``swarm worker``: Locust worker processes that take their scenario from the master.

A worker host needs swarm installed, the master's address and, in its own environment,
the values of the scenario's secret ``${VAR}``s; nothing else is copied to it. Workers
exit when the master tells them to quit; if the master dies instead, they give up after
``$SWARM_MASTER_TIMEOUT`` seconds (default 15) without a master heartbeat. Like the
children of ``swarm run``, they take SIGINT even when ``swarm worker`` was started with it
ignored, and die with ``swarm worker`` (``framework.run.processes.child_setup``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

from framework.run.processes import child_setup
from framework.run.runner import worker_command

__all__ = ["run_workers"]


def run_workers(master_host: str, master_port: int, processes: int = 1) -> int:
    """Start ``processes`` workers and wait for all; returns the worst exit code."""
    children = [
        subprocess.Popen(
            worker_command(master_host, master_port),
            start_new_session=True,
            preexec_fn=child_setup(),
        )
        for _ in range(processes)
    ]
    print(
        f"swarm worker: {processes} worker process(es) connecting to {master_host}:{master_port}",
        file=sys.stderr,
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while any(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return max(abs(child.returncode or 0) for child in children)
