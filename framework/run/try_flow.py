"""What ``swarm try`` prints: every request and response of one pass through the flows,
the captures and each check's outcome, and the exit code that follows from them.

Pure: it takes the exchanges as plain values (the executor in
``framework.locust_glue.try_session`` calls a ``TryPrinter`` as the ``FlowTracer`` of the
flow runner, and once per request Locust records) and gives ``rich`` texts to a writer, so
it is tested on literal exchanges, and the terminal decides the colours (none when the
output is not a terminal).

Secrets: the flow runner masks the scenario's secrets before it calls a tracer; the printer
masks every text once more with the scenario's ``Redactor`` (a target can echo a key back in
a body or a header) plus the values captured into variables the scenario lists under
``secrets:``. A response is printed when its step is over (the next request, the end of the
user), so a token captured from a body is masked in that same body too.

    >>> lines = []
    >>> printer = TryPrinter(lambda text: lines.append(text.plain), Redactor({"k-123"}))
    >>> printer.request("flow[0]", "GET", "http://h/items", {"X-Key": "k-123"}, None)
    >>> printer.response("flow[0]", 200, 3.2, {"Content-Type": "text/plain"}, "ok")
    >>> printer.recorded("GET", "/items", 3.2, None, reached=True)
    >>> printer.finish().exit_code
    <ExitCode.OK: 0>
    >>> lines[:2]
    ['flow[0]  GET http://h/items', '  X-Key: ***']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from framework.errors import ExitCode
from framework.scenario.interpolation import Redactor, mask_url_password
from framework.scenario.problems import format_path

__all__ = [
    "AGGREGATE_KINDS",
    "DEFAULT_BODY_LIMIT",
    "TryPrinter",
    "TryTally",
    "cut_body",
    "show_body",
    "try_exit_code",
]

DEFAULT_BODY_LIMIT = 500
"""Characters of a body ``swarm try`` shows unless ``--body-limit`` says otherwise."""

AGGREGATE_KINDS = frozenset({"TXN", "POLL"})
"""Request types that time a group of requests (a transaction, a poll), not one request:
printed as their own line and never counted as a request sent."""

_STYLE = {
    "title": "bold",
    "request": "bold cyan",
    "detail": "dim",
    "ok": "green",
    "bad": "bold red",
    "capture": "magenta",
    "note": "yellow",
}


def try_exit_code(sent: int, reached: int, failures: int) -> ExitCode:
    """The exit code of a try: 3 when requests were sent and none got any response (the
    target is down or the host is wrong), else 1 when a request, check or capture failed,
    else 0.

    >>> try_exit_code(3, 0, 3), try_exit_code(3, 1, 2), try_exit_code(3, 3, 0)
    (<ExitCode.RUN_FAILED: 3>, <ExitCode.CHECK_FAILED: 1>, <ExitCode.OK: 0>)
    """
    if sent and not reached:
        return ExitCode.RUN_FAILED
    if failures:
        return ExitCode.CHECK_FAILED
    return ExitCode.OK


def show_body(body: Any) -> str:
    """A request or response body as text: JSON values compact, bytes decoded (invalid
    UTF-8 replaced), ``None`` empty."""
    if body is None:
        return ""
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        return body
    try:
        return json.dumps(body, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(body)


def cut_body(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out.

    >>> cut_body("abcdef", 4), cut_body("abc", 4), cut_body("abc", 0)
    ('abcd… (2 more chars)', 'abc', '… (3 chars)')
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return f"… ({len(text)} chars)"
    return f"{text[:limit]}… ({len(text) - limit} more chars)"


def _step_label(step_path: Any) -> str:
    if isinstance(step_path, tuple | list):
        return format_path(step_path)
    return str(step_path)


def _header_items(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _shown_value(value: Any) -> str:
    return value if isinstance(value, str) else show_body(value)


@dataclass
class TryTally:
    """What one try did: requests sent and answered, captures made, checks that held, and
    each failure's message (masked)."""

    sent: int = 0
    reached: int = 0
    captures: int = 0
    checks_held: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return try_exit_code(self.sent, self.reached, len(self.failures))

    def summary(self) -> str:
        """One line: the counts and the outcome."""
        counts = (
            f"{self.sent} request{'s' if self.sent != 1 else ''} sent, "
            f"{self.reached} answered, {self.captures} capture{'s' if self.captures != 1 else ''}"
            f", {self.checks_held} check{'s' if self.checks_held != 1 else ''} held"
        )
        code = self.exit_code
        if code is ExitCode.RUN_FAILED:
            return f"{counts}: the target could not be reached (no request got a response)"
        if code is ExitCode.CHECK_FAILED:
            return f"{counts}, {len(self.failures)} failed"
        return f"{counts}: all held"


@dataclass
class _Pending:
    """One response's lines, kept until its step is over."""

    status: int | None = None
    elapsed_ms: float = 0.0
    headers: list = field(default_factory=list)
    body: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)
    messages: set[str] = field(default_factory=set)


class TryPrinter:
    """The ``FlowTracer`` of ``swarm try``: prints each exchange and tallies the outcome.

    ``write`` receives one ``rich.text.Text`` per line; ``redactor`` masks the scenario's
    secrets; ``secret_vars`` are captured variables whose values are masked too (the names
    the scenario lists under ``secrets:``); ``body_limit`` cuts every body shown.
    """

    def __init__(
        self,
        write: Callable[[Text], None],
        redactor: Redactor,
        *,
        body_limit: int = DEFAULT_BODY_LIMIT,
        secret_vars: Collection[str] = (),
    ) -> None:
        self._write = write
        self._redactor = redactor
        self._captured = Redactor()
        self._captured_values: set[str] = set()
        self._body_limit = body_limit
        self._secret_vars = frozenset(secret_vars)
        self._pending: _Pending | None = None
        self.tally = TryTally()

    # -- masking -------------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        return self._redactor.text(self._captured.text(text))

    def _emit(self, *parts: tuple[str, str]) -> None:
        text = Text()
        for chunk, style in parts:
            text.append(chunk, style=_STYLE.get(style, style) if style else None)
        self._write(text)

    def _emit_body(self, body: str) -> None:
        if not body:
            return
        for line in cut_body(self._mask(body), self._body_limit).splitlines() or [""]:
            self._emit((f"  {line}", ""))

    # -- the FlowTracer protocol -----------------------------------------------------------

    def user(self, name: str, host: str | None) -> None:
        """A users entry starts: a title line naming it and its target."""
        self._flush()
        target = mask_url_password(self._mask(host)) if host else "(no host)"
        self._emit((f"── users entry {name!r} → {target}", "title"))

    def request(self, step_path: Any, method: str, url: str, headers: Any, body: Any) -> None:
        """A rendered request, printed at once (secrets masked)."""
        self._flush()
        shown_url = mask_url_password(self._mask(url))
        self._emit((f"{_step_label(step_path)}  ", "detail"), (f"{method} {shown_url}", "request"))
        for key, value in _header_items(headers):
            self._emit((f"  {key}: {self._mask(value)}", "detail"))
        self._emit_body(show_body(body))
        self._pending = _Pending()

    def response(
        self, step_path: Any, status: int, elapsed_ms: float, headers: Any, body: Any
    ) -> None:
        """The response to the last request (status 0: none came), printed when its step ends."""
        pending = self._pending if self._pending is not None else _Pending()
        pending.status = status
        pending.elapsed_ms = elapsed_ms
        pending.headers = _header_items(headers)
        pending.body = show_body(body)
        self._pending = pending

    def capture(self, var: str, value: Any, source: str) -> None:
        """A capture: its value (masked when ``var`` is a secret), or that it found nothing."""
        pending = self._pending if self._pending is not None else _Pending()
        self._pending = pending
        if value is None:
            message = f"capture {var!r}: {source} found nothing"
            pending.lines.append((f"  ✗ {message}", "bad"))
            pending.messages.add(message)
            self.tally.failures.append(message)
            return
        self.tally.captures += 1
        shown = _shown_value(value)
        if var in self._secret_vars and shown:
            self._captured_values.add(shown)
            self._captured = Redactor(self._captured_values)
        pending.lines.append((f"  capture {var} = {json.dumps(shown)}  ({source})", "capture"))

    def check(self, what: str, ok: bool, message: str) -> None:
        """One check's outcome; a failed one counts as a failure."""
        pending = self._pending if self._pending is not None else _Pending()
        self._pending = pending
        if ok:
            self.tally.checks_held += 1
            pending.lines.append((f"  ✓ {what}", "ok"))
            return
        text = message or what
        pending.lines.append((f"  ✗ {text}", "bad"))
        pending.messages.add(text)
        self.tally.failures.append(text)

    def note(self, text: str) -> None:
        """Something the flow runner says (a think step skipped, the iteration ended)."""
        pending = self._pending
        if pending is not None:
            pending.lines.append((f"  · {text}", "note"))
        else:
            self._emit((f"· {text}", "note"))

    def error(self, text: str) -> None:
        """An error outside any request (a step that raised): printed and counted."""
        self._flush()
        self._emit((f"✗ {self._mask(text)}", "bad"))
        self.tally.failures.append(text)

    # -- what Locust recorded --------------------------------------------------------------

    def recorded(
        self,
        kind: str,
        name: str,
        elapsed_ms: float,
        failure: str | None,
        *,
        reached: bool,
        sent: bool = True,
    ) -> None:
        """One request as Locust recorded it (``kind`` is its method, or ``TXN``/``POLL``
        for a transaction's or a poll's total time): the source of truth for failures, so
        a failure no check reported (a status of 500 without ``expect``) still counts.
        ``reached``: an HTTP response came; ``sent``: the request left (a template that
        failed to render sends nothing)."""
        if kind in AGGREGATE_KINDS:
            self._flush()
            what = "transaction" if kind == "TXN" else "poll"
            verdict = ("  ✓", "ok") if failure is None else (f"  ✗ {failure}", "bad")
            self._emit((f"{what} {name}: {elapsed_ms:.1f} ms", "title"), verdict)
            return
        if sent:
            self.tally.sent += 1
        if reached:
            self.tally.reached += 1
        if failure is None:
            return
        if not sent:  # nothing was traced for it: a line of its own
            self._flush()
            self._emit((f"✗ {name}: {self._mask(failure)}", "bad"))
            self.tally.failures.append(failure)
            return
        pending = self._pending if self._pending is not None else _Pending()
        self._pending = pending
        if failure not in pending.messages:
            pending.lines.append((f"  ✗ {failure}", "bad"))
            pending.messages.add(failure)
            self.tally.failures.append(failure)

    def finish(self) -> TryTally:
        """Print what is pending and the summary line; the tally decides the exit code."""
        self._flush()
        tally = self.tally
        tally.failures = [self._mask(f) for f in tally.failures]
        style = "ok" if tally.exit_code is ExitCode.OK else "bad"
        self._emit((f"swarm try: {tally.summary()}", style))
        return tally

    # -- internals -------------------------------------------------------------------------

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if pending.status is not None:
            if pending.status:
                style = "ok" if pending.status < 400 else "bad"
                self._emit((f"← {pending.status}", style), (f"  {pending.elapsed_ms:.1f} ms", ""))
            else:
                self._emit((f"← no response  {pending.elapsed_ms:.1f} ms", "bad"))
            for key, value in pending.headers:
                self._emit((f"  {key}: {self._mask(value)}", "detail"))
            self._emit_body(pending.body)
        for text, style in pending.lines:
            self._emit((self._mask(text), style))
