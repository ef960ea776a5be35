"""The terminal progress of a headless ``swarm run``: a thread in the parent process.

The Locust master is a child process, so its ``LiveFeed`` is out of reach here; this thread
follows the seconds the master appends to the run folder's ``timeline.jsonl`` (it flushes
every second) with a ``TimelineTail``, feeds them to a ``LiveFeed`` of its own (the same
statistics code as the master's), hears the run's state from the master's announcements
(``on_state``), and shows ``framework.live.progress``'s figures:

- on a terminal, a live display (``rich.live.Live``) refreshed about once a second.
  Locust's log then goes only to ``locust.log``, except its warnings, errors and
  tracebacks (``LocustLogFilter``), which are printed above the display (a terminal is
  a TTY whose ``TERM`` is not ``dumb``: ``is_terminal``);
- elsewhere (CI, a pipe), one plain line every ``interval_s`` seconds (10 by default,
  ``SWARM_PROGRESS_INTERVAL_S``), between Locust's log lines as today.

The thread only reads the run folder and writes to the terminal: it never writes the run
folder, and a failure of its own ends the display, not the run. ``stop`` ends it (the
run's end, Ctrl-C, the master's death) within about a second.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from framework.errors import UsageError
from framework.live.budget_status import BudgetLimit
from framework.live.feed import LiveFeed
from framework.live.progress import (
    ProgressTable,
    ProgressView,
    progress_line,
    progress_table,
)
from framework.live.state import STATES
from framework.live.timeline_tail import TimelineTail
from framework.plan.rates import RatePlan
from framework.plan.shapes import LoadPlan
from framework.timeline.records import FILE_NAME

__all__ = [
    "DEFAULT_INTERVAL_S",
    "INTERVAL_ENV",
    "LocustLogFilter",
    "TerminalProgress",
    "is_terminal",
    "progress_interval_s",
]

logger = logging.getLogger(__name__)

INTERVAL_ENV = "SWARM_PROGRESS_INTERVAL_S"
DEFAULT_INTERVAL_S = 10.0
_TICK_S = 1.0
_STOP_WAIT_S = 5.0
_SHOWN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
# Locust's log format: "[2026-12-06 01:00:00,000] host/LEVEL/logger: message"
_RECORD = re.compile(r"^\[[^\]]*\] \S*/(?P<level>[A-Z]+)/")
_STATUS_STYLES = {"failing": "bold red", "at risk": "yellow", "passing": "green", "pending": "dim"}


def progress_interval_s(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between two progress lines without a terminal: ``SWARM_PROGRESS_INTERVAL_S``
    (for tests and very long or very short runs), 10 when unset."""
    raw = environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.1 <= value <= 86_400):
        raise UsageError(
            f"{INTERVAL_ENV}={raw[:40]!r}: must be a number of seconds from 0.1 to 86400 "
            f"(default {DEFAULT_INTERVAL_S:g})",
            flag=INTERVAL_ENV,
            value=raw,
        )
    return value


def is_terminal(out: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``out`` is a terminal that can redraw a live display: a TTY whose ``TERM``
    is not ``dumb``. Asked of the stream itself, so a ``FORCE_COLOR`` set for a CI log
    never turns a pipe into a live display."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
    return tty and environ.get("TERM", "").strip().lower() not in ("dumb", "unknown")


class LocustLogFilter:
    """Which lines of Locust's output still reach a terminal that shows the live display.

    Locust's records at WARNING or above, and the lines that continue them (a logged
    exception's traceback), are shown; so is a traceback the interpreter prints outside
    logging (a crash). INFO and DEBUG records and what continues them (Locust's closing
    statistics tables, which swarm's own summary replaces) go only to ``locust.log``.

        >>> shows = LocustLogFilter().shows
        >>> shows("[2026-12-06 01:00:00,000] vm/INFO/locust.runners: Ramping to 5 users")
        False
        >>> shows("[2026-12-06 01:00:00,000] vm/WARNING/root: CPU usage above 90%!")
        True
    """

    def __init__(self) -> None:
        self._showing = False

    def shows(self, line: str) -> bool:
        found = _RECORD.match(line)
        if found is not None:
            self._showing = found["level"] in _SHOWN_LEVELS
        elif line.startswith("Traceback (most recent call last):"):
            self._showing = True
        return self._showing


class _Echo(io.TextIOBase):
    """What ``LoggedProcess`` echoes Locust's output to while the progress is shown."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._write(text)
        return len(text)


class TerminalProgress:
    """The progress of one headless run; ``start`` it before Locust, ``stop`` it after.

    ``live`` forces the display kind (default: a live display when ``out`` is an
    interactive terminal); ``clock`` gives unix time (tests pass their own); ``rates`` are
    the open load groups' plans, against which their arrivals are shown.
    """

    def __init__(
        self,
        *,
        run_dir: Path,
        plan: LoadPlan,
        limits: Sequence[BudgetLimit] = (),
        out: TextIO,
        scenario: str | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        live: bool | None = None,
        clock: Callable[[], float] = time.time,
        rates: Mapping[str, RatePlan] | None = None,
    ) -> None:
        self.out = out
        self.live = is_terminal(out) if live is None else live
        self.console = Console(file=out, highlight=False, force_terminal=self.live)
        self.interval_s = interval_s
        self.scenario = scenario
        self.clock = clock
        self.feed = LiveFeed(started_s=clock())
        self.tail = TimelineTail(run_dir / FILE_NAME)
        self.view = ProgressView(plan, limits, rates=rates)
        self.echo: TextIO = _Echo(self._echo_line)  # type: ignore[assignment]
        self.lines_written = 0
        self._filter = LocustLogFilter()
        self._lock = threading.Lock()  # the feed and the view
        self._write_lock = threading.Lock()  # whole lines on ``out``
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._display: Live | None = None
        self._ended_as: str | None = None

    def __repr__(self) -> str:
        kind = "live" if self.live else f"a line every {self.interval_s:g} s"
        return f"TerminalProgress({kind}, {self.feed!r})"

    # -- what the runner calls ---------------------------------------------------------------

    def start(self) -> None:
        """Show the display (on a terminal) and start following the timeline."""
        if self._thread is not None:
            return
        if self.live:
            self._display = Live(
                self._renderable(),
                console=self.console,
                auto_refresh=False,  # this thread refreshes it, once a tick
                redirect_stdout=False,
                redirect_stderr=False,
                transient=False,
            )
            self._display.start(refresh=True)
        self._thread = threading.Thread(target=self._follow, name="swarm-progress", daemon=True)
        self._thread.start()

    def stop(self, ended_as: str | None = None) -> None:
        """End the thread and leave the display's last state on screen; safe to call twice.

        ``ended_as`` is how the run ended when the master's own last word would mislead:
        a master stopped by Ctrl-C, or one that died, never says ``interrupted`` or
        ``failed`` itself (it may even say ``finished``).
        """
        if ended_as in STATES:
            self._ended_as = ended_as
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(_STOP_WAIT_S)
        display, self._display = self._display, None
        if display is not None:
            try:
                self._poll()
                display.update(self._renderable(), refresh=True)
            finally:
                display.stop()

    def on_state(self, state: str, at_s: float | None, reason: str | None = None) -> None:
        """The master announced that the run moved to ``state`` at unix time ``at_s``."""
        if state not in STATES:
            return
        with self._lock:
            if self.feed.run_state.allows(state):  # type: ignore[arg-type]
                at = at_s if at_s is not None else self.clock()
                self.feed.move(state, at, reason)  # type: ignore[arg-type]

    def say(self, text: str) -> None:
        """A line of swarm's own (``swarm: SIGINT, stopping locust``), shown either way."""
        if self._display is not None:
            self.console.print(Text(text.rstrip("\n")), soft_wrap=True)
        else:
            self._write_line(text)

    # -- the thread --------------------------------------------------------------------------

    def _follow(self) -> None:
        next_line = time.monotonic() + self.interval_s
        tick_s = _TICK_S if self._display is not None else min(_TICK_S, self.interval_s)
        while not self._stopping.wait(tick_s):
            try:
                self._poll()
                display = self._display
                if display is not None:
                    display.update(self._renderable(), refresh=True)
                elif time.monotonic() >= next_line:
                    next_line = time.monotonic() + self.interval_s
                    with self._lock:
                        line = progress_line(self.view.figures(self.feed, self.clock()))
                    self._write_line(line + "\n")
                    self.lines_written += 1
            except Exception as exc:  # the display must never end the run it shows
                logger.debug("progress display failed", exc_info=True)
                self.say(f"swarm: progress display stopped: {type(exc).__name__}: {exc}\n")
                return

    def _poll(self) -> None:
        seconds = self.tail.read()
        late = self.tail.late_arrivals()
        with self._lock:
            for second in seconds:
                self.feed.add_second(second)  # paused: marked, or by the states heard
            self.feed.add_late_arrivals(late)

    def _renderable(self) -> RenderableType:
        with self._lock:
            figures = self.view.figures(self.feed, self.clock())
        if self._ended_as is not None:
            figures = dataclasses.replace(figures, state=self._ended_as)
        return _render(progress_table(figures, scenario=self.scenario))

    # -- output ------------------------------------------------------------------------------

    def _echo_line(self, line: str) -> None:
        if self._display is None:
            self._write_line(line)
        elif self._filter.shows(line):
            self.console.print(Text(line.rstrip("\n")), soft_wrap=True)

    def _write_line(self, text: str) -> None:
        with self._write_lock:
            self.out.write(text)
            self.out.flush()


def _render(table: ProgressTable) -> RenderableType:
    """The rich renderable of one refresh: a bar of the plan and the title, the figures,
    one line per budget."""
    head = Table.grid(padding=(0, 1))
    head.add_row(
        ProgressBar(total=1.0, completed=table.fraction_done, width=24),
        Text(table.title, style="bold"),
    )
    figures = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, column in enumerate(table.columns):
        figures.add_column(
            column, style="bold" if i == 0 else "", justify="left" if i == 0 else "right"
        )
    for row in table.rows:
        figures.add_row(*row)
    parts: list[RenderableType] = [head, figures]
    for status, text in table.budgets:
        parts.append(Text(f"budget {text}", style=_STATUS_STYLES.get(status, "")))
    return Group(*parts)
