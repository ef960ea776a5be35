"""The mock detectors a suite names in ``mocks:``: started for the suite, stopped after it.

A detector that already answers ``GET /health`` (a ``swarm mocks`` left running, a compose
service) is used as it is and left alone; the others are started as one ``python -m
mock_detectors --only ...`` child, as ``swarm demo`` starts its mock, in a session of its
own (a terminal's Ctrl-C reaches the suite, which stops it in order) that dies with the
suite if the suite is killed. A detector that does not answer within the deadline is a
``RunError`` (exit 3) before any test runs.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from framework.errors import RunError
from framework.run.processes import child_setup

__all__ = ["READY_TIMEOUT_S", "answering", "detector_urls", "suite_mocks"]

READY_TIMEOUT_S = 20.0
"""How long started detectors have to answer ``/health``."""
_STOP_TIMEOUT_S = 10.0


def detector_urls(config_path: Path) -> dict[str, str]:
    """Each detector of the config and its base URL (a wildcard host asked on loopback)."""
    from mock_detectors.loader import load_config
    from mock_detectors.service import plan_listeners

    urls = {}
    for listener in plan_listeners(load_config(config_path)):
        host = "127.0.0.1" if listener.host in ("0.0.0.0", "") else listener.host
        host = "::1" if host == "::" else host
        urls[listener.name] = f"http://{f'[{host}]' if ':' in host else host}:{listener.port}"
    return urls


def answering(url: str, timeout_s: float = 1.0) -> bool:
    """Whether something answers HTTP at ``url``/health (any status: the port is served)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def suite_mocks(config_path: Path | None, *, out: TextIO = sys.stderr) -> Iterator[list[str]]:
    """Start the detectors of ``config_path`` that do not answer yet; yield their names;
    stop what was started on the way out (``None``: nothing to do)."""
    if config_path is None:
        yield []
        return
    urls = detector_urls(config_path)
    running = [name for name, url in urls.items() if answering(url)]
    missing = [name for name in urls if name not in running]
    if running:
        out.write(f"swarm suite: mock detectors already answering: {', '.join(running)}\n")
    if not missing:
        yield []
        return
    command = [
        sys.executable, "-m", "mock_detectors", "--config", str(config_path),
        "--only", ",".join(missing), "--log-level", "WARNING",
    ]  # fmt: skip
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=child_setup(),
            )
        except OSError as exc:
            raise RunError(f"cannot start the mock detectors: {exc}", path=config_path) from None
        try:
            _wait_ready({name: urls[name] for name in missing}, process, log, config_path)
            out.write(f"swarm suite: started mock detectors {', '.join(missing)} ({config_path})\n")
            yield missing
        finally:
            _stop(process)


def _wait_ready(
    urls: dict[str, str], process: subprocess.Popen[bytes], log: TextIO, config: Path
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = dict(urls)
    while waiting:
        if process.poll() is not None:
            log.seek(0)
            said = " ".join(log.read().split())[-300:]
            raise RunError(
                f"the mock detectors of {config} exited with code {process.returncode} "
                f"before answering: {said or 'no output'}",
                path=config,
            )
        waiting = {name: url for name, url in waiting.items() if not answering(url, 0.5)}
        if not waiting:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{name} at {url}" for name, url in waiting.items())
            raise RunError(
                f"mock detectors did not answer within {READY_TIMEOUT_S:g} s: {names}",
                path=config,
            )
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
