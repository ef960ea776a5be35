"""``python -m framework.locust_glue.worker_main``: Locust's ``main`` for swarm workers.

Locust workers give up on a silent master only after 60 s (``MASTER_HEARTBEAT_TIMEOUT``),
which leaves orphaned load generators running for a minute after a master crash. swarm
workers give up after ``$SWARM_MASTER_TIMEOUT`` seconds (default 15): the master sends a
heartbeat every second, so 15 missed ones is a dead master, not a slow one.

Each worker also gets a temporary folder of its own (``use_private_tempdir``): Locust writes
the locustfile a worker downloads from its master (``-f -``) to
``tempfile.gettempdir()/<the master's file name>``, one path for every worker on a host.
Two workers starting together then truncate and import the same ``swarm_bundle.py`` (one
found "No User class" in the other's half-written copy), and two runs on one host could
load each other's scenario.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

import locust.runners
from locust.main import main

DEFAULT_MASTER_TIMEOUT_S = 15
MASTER_TIMEOUT_ENV_VAR = "SWARM_MASTER_TIMEOUT"


def _master_timeout_s() -> int:
    text = os.environ.get(MASTER_TIMEOUT_ENV_VAR, str(DEFAULT_MASTER_TIMEOUT_S))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        sys.stderr.write(
            f"swarm worker: {MASTER_TIMEOUT_ENV_VAR} must be an integer >= 2 (seconds), "
            f"got {text!r}\n"
        )
        sys.exit(2)
    return value


def use_private_tempdir() -> str:
    """Point ``tempfile`` at a new folder of this process's own, removed at exit; return it."""
    folder = tempfile.mkdtemp(prefix="swarm-worker-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    tempfile.tempdir = folder
    return folder


if __name__ == "__main__":
    locust.runners.MASTER_HEARTBEAT_TIMEOUT = _master_timeout_s()
    use_private_tempdir()
    sys.argv[0] = "locust"
    sys.exit(main())
