"""What ``swarm try`` prints: every request and response of one pass through the flows,
the captures and each check's outcome, and the exit code that follows from them.

Pure: it takes the exchanges as plain values (``framework.locust_glue.try_session`` calls a
``TryPrinter`` as the flow runner's ``FlowTracer``, and once per request Locust records) and
gives ``rich`` texts to a writer, so it is tested on literal exchanges, and the terminal
decides the colours (none when the output is not a terminal).

Secrets: the flow runner masks the scenario's secrets before it calls a tracer; the printer
masks every text once more with the scenario's ``Redactor`` (a target can echo a key back in
a body or a header) and with the values captured into variables the scenario lists under
``secrets:``. A response is printed when its step is over (the next request, the end of the
entry), so a token captured from a body is masked in that very body too.

    >>> lines = []
    >>> printer = TryPrinter(lambda text: lines.append(text.plain), Redactor({"k-123"}))
    >>> printer.request("users[0].requests[0]", "GET", "http://h/items", {"X-Key": "k-123"}, None)
    >>> printer.response("users[0].requests[0]", 200, 3.2, {"Content-Type": "text/plain"}, "ok")
    >>> printer.recorded("GET", "/items", 3.2, sent=True, reached=True)
    >>> printer.check("/items", True, None)
    >>> printer.finish().exit_code
    <ExitCode.OK: 0>
    >>> lines[:2]
    ['users[0].requests[0]  GET http://h/items', '  X-Key: ***']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from framework.errors import ExitCode
from framework.scenario.interpolation import Redactor, mask_url_password
from framework.scenario.model import Expect

__all__ = [
    "AGGREGATE_KINDS",
    "DEFAULT_BODY_LIMIT",
    "TryPrinter",
    "TryTally",
    "cut_body",
    "describe_expect",
    "show_body",
    "try_exit_code",
]

DEFAULT_BODY_LIMIT = 500
"""Characters of a body ``swarm try`` shows unless ``--body-limit`` says otherwise."""

AGGREGATE_KINDS = frozenset({"TXN", "POLL"})
"""What Locust records for a transaction's or a poll's total time: a line of their own."""

_STYLES = {
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


def _codes(codes: Iterable[int]) -> str:
    ordered = sorted(codes)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return " or ".join(map(str, ordered))


def describe_expect(expect: Expect | None) -> list[str]:
    """Each check of a request's ``expect`` in words, as a check that held is shown;
    without ``expect``, Locust's rule (a status below 400).

    >>> expect = {"status": "2xx", "json": [{"path": "a", "in": [1]}]}
    >>> describe_expect(Expect.model_validate(expect)), describe_expect(None)
    (['status 200-299', 'json a in [1]'], ['status below 400'])
    """
    if expect is None:
        return ["status below 400"]
    held = [f"status {_codes(expect.status)}" if expect.status else "status below 400"]
    if expect.max_ms is not None:
        held.append(f"within {expect.max_ms:g} ms")
    if expect.body_contains is not None:
        held.append(f"body contains {expect.body_contains!r}")
    for check in expect.json_checks:
        where = f"json {check.path}"
        if check.exists is not None:
            held.append(f"{where} {'exists' if check.exists else 'is absent'}")
        if "equals" in check.model_fields_set:
            held.append(f"{where} = {json.dumps(check.equals)}")
        if check.one_of is not None:
            held.append(f"{where} in {json.dumps(check.one_of)}")
        if check.matches is not None:
            held.append(f"{where} matches {check.matches!r}")
        if check.gte is not None:
            held.append(f"{where} >= {check.gte:g}")
        if check.lte is not None:
            held.append(f"{where} <= {check.lte:g}")
    return held


def _header_items(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list:
    """``(name, value)`` pairs of a header mapping or list; a value that is itself a
    ``(name as sent, value)`` pair (geventhttpclient's ``dict(headers)``) is unpacked."""
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    items = []
    for key, value in pairs:
        if isinstance(value, tuple) and len(value) == 2:
            key, value = value
        items.append((str(key), str(value)))
    return items


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
        """One line: the counts and the outcome.

        >>> TryTally(sent=2, reached=2, captures=1, checks_held=2).summary()
        '2 requests sent, 2 answered, 1 capture, 2 checks held: all held'
        """

        def count(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        counts = (
            f"{count(self.sent, 'request')} sent, {self.reached} answered, "
            f"{count(self.captures, 'capture')}, {count(self.checks_held, 'check')} held"
        )
        code = self.exit_code
        if code is ExitCode.RUN_FAILED:
            return f"{counts}: the target could not be reached (no request got a response)"
        if code is ExitCode.CHECK_FAILED:
            return f"{counts}, {len(self.failures)} failed"
        return f"{counts}: all held"


@dataclass
class _Pending:
    """One response and what followed it, kept until its step is over."""

    status: int | None = None
    elapsed_ms: float = 0.0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)
    messages: set[str] = field(default_factory=set)


class TryPrinter:
    """The tracer of ``swarm try``: prints each exchange and tallies the outcome.

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
        self._captured_values: set[str] = set()
        self._captured = Redactor()
        self._body_limit = body_limit
        self._secret_vars = frozenset(secret_vars)
        self._expects: dict[str, list[str]] = {}
        self._host = ""
        self._pending: _Pending | None = None
        self.tally = TryTally()

    # -- lines ---------------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        return self._redactor.text(self._captured.text(text))

    def _emit(self, *parts: tuple[str, str]) -> None:
        text = Text()
        for chunk, style in parts:
            text.append(chunk, style=_STYLES.get(style, style) or None)
        self._write(text)

    def _emit_body(self, body: str) -> None:
        if body:
            for line in cut_body(self._mask(body), self._body_limit).splitlines():
                self._emit((f"  {line}", ""))

    def _step(self) -> _Pending:
        if self._pending is None:
            self._pending = _Pending()
        return self._pending

    def _fail(self, message: str) -> None:
        """A failure in the current step, shown and counted once however many reports
        of it come (a capture that found nothing, then its request's check)."""
        pending = self._step()
        if message in pending.messages:
            return
        pending.messages.add(message)
        pending.lines.append((f"  ✗ {message}", "bad"))
        self.tally.failures.append(message)

    # -- the tracer ----------------------------------------------------------------------

    def user(
        self, name: str, host: str | None, expects: Mapping[str, Expect | None] | None = None
    ) -> None:
        """A users entry starts: a title line naming it and its target. ``expects`` words
        the checks of each request name that held."""
        self._flush()
        self._expects = {k: describe_expect(v) for k, v in (expects or {}).items()}
        self._host = (host or "").rstrip("/")
        target = mask_url_password(self._mask(host)) if host else "(no host)"
        self._emit((f"── users entry {name!r} → {target}", "title"))

    def request(self, step_path: str, method: str, url: str, headers: Any, body: Any) -> None:
        """A rendered request, printed at once."""
        self._flush()
        if url.startswith("/") and self._host:
            url = self._host + url
        shown_url = mask_url_password(self._mask(url))
        self._emit((f"{step_path}  ", "detail"), (f"{method} {shown_url}", "request"))
        for key, value in _header_items(headers):
            self._emit((f"  {key}: {self._mask(value)}", "detail"))
        self._emit_body(show_body(body))
        self._pending = _Pending()

    def response(
        self, step_path: str, status: int, elapsed_ms: float, headers: Any, body: Any
    ) -> None:
        """The response to the last request (status 0: none came), shown when its step ends."""
        pending = self._step()
        pending.status = status
        pending.elapsed_ms = elapsed_ms
        pending.headers = _header_items(headers)
        pending.body = show_body(body)

    def capture(self, var: str, value: Any, source: str) -> None:
        """A capture: its value (masked when ``var`` is a secret), or that it found nothing."""
        if value is None:
            self._fail(f"capture {var!r}: {source} found nothing")
            return
        self.tally.captures += 1
        shown = value if isinstance(value, str) else show_body(value)
        if var in self._secret_vars and shown:
            self._captured_values.add(shown)
            self._captured = Redactor(self._captured_values)
        self._step().lines.append((f"  capture {var} = {json.dumps(shown)}  ({source})", "capture"))

    def check(self, what: str, ok: bool, message: str | None) -> None:
        """One check's outcome (``what``: a request, poll or transaction name)."""
        if not ok:
            self._fail(message or f"{what} failed")
            return
        self.tally.checks_held += 1
        held = self._expects.get(what)
        detail = f": {', '.join(held)}" if held else ""
        self._step().lines.append((f"  ✓ {what}{detail}", "ok"))

    def note(self, text: str) -> None:
        """Something the flow runner says (a think step, a poll's wait, a repeat's end)."""
        self._step().lines.append((f"  · {text}", "note"))

    def error(self, text: str) -> None:
        """An error outside any request (a step that raised): printed and counted."""
        self._flush()
        self._emit((f"✗ {self._mask(text)}", "bad"))
        self.tally.failures.append(text)

    def recorded(
        self, kind: str, name: str, elapsed_ms: float, *, sent: bool, reached: bool
    ) -> None:
        """Locust recorded a request (``kind``: its method) or an aggregate: counts the
        requests that left (``sent``) and were answered (``reached``); a transaction's or
        a poll's total time gets a line of its own."""
        if kind in AGGREGATE_KINDS:
            self._flush()
            what = "transaction" if kind == "TXN" else "poll"
            self._emit((f"{what} {name}: {elapsed_ms:.1f} ms", "title"))
            return
        self.tally.sent += sent
        self.tally.reached += reached
        if not sent:  # a template that failed to render: nothing was traced before it
            self._flush()

    def finish(self) -> TryTally:
        """Print what is pending and the summary line; the tally decides the exit code."""
        self._flush()
        tally = self.tally
        tally.failures = [self._mask(f) for f in tally.failures]
        style = "ok" if tally.exit_code is ExitCode.OK else "bad"
        self._emit((f"swarm try: {tally.summary()}", style))
        return tally

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
