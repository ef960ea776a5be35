"""Keep secret values out of everything Locust records, inside the Locust process.

Locust keeps what it is handed: a request's name and failure become rows of its statistics
(the web UI, its CSVs and HTML report, the summary it prints), a task's exception becomes a
row of ``/exceptions``, and log records reach its console, log file and the web UI's log
tab. A target that echoes an API key back in an error, or an exception whose text holds a
URL with a key in its query, would put the key in all of them. So the secrets are masked
where those texts are made, before Locust sees them, in every process that runs users (a
local run, each worker) and in the master's log:

- ``RedactingRequestEvent`` wraps the ``request`` event each user's client fires, so the
  name, URL and exception every listener (Locust's statistics, the timeline) receives are
  already clean;
- ``guard_task`` re-raises an exception from a task as a clean copy when its text holds a
  secret, so Locust logs and lists only the copy;
- ``install_log_redaction`` masks every log record on every handler Locust set up.

Nothing is rewritten afterwards: what Locust writes is what it was given.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from framework.scenario.interpolation import Redactor

__all__ = [
    "RedactedError",
    "RedactingLogFilter",
    "RedactingRequestEvent",
    "guard_task",
    "install_log_redaction",
    "redact_exception",
]


class RedactedError(Exception):
    """Stands in for an exception whose text held a secret and could not be cleaned in place.

    Its message names the original type and carries the original text, masked.
    """


def _texts(exc: BaseException) -> list[str]:
    """Every text of ``exc`` that Locust or a log could show: str, repr, string attributes."""
    texts = []
    for show in (str, repr):
        try:
            texts.append(show(exc))
        except Exception:
            texts.append("")
    texts += [repr(value) for value in vars(exc).values() if isinstance(value, str | bytes)]
    return texts


def _shows_secret(exc: BaseException, redactor: Redactor) -> bool:
    return any(redactor.found_in(text) for text in _texts(exc))


def redact_exception(exc: BaseException, redactor: Redactor) -> BaseException:
    """``exc`` itself when no text of it holds a secret, else a clean copy of it.

    The copy keeps the type (so failure kinds and Locust's grouping by exception still
    work) with secrets masked in its arguments and string attributes; when that is not
    enough (an ``OSError`` keeps its own copy of ``strerror``), a ``RedactedError`` naming
    the type. The copy keeps the traceback but not the chained causes, which are not
    checked.

    >>> r = Redactor({"k-123456"})
    >>> redact_exception(ValueError("bad key k-123456"), r)
    ValueError('bad key ***')
    """
    if not redactor or not _shows_secret(exc, redactor):
        return exc
    clean: BaseException
    try:
        clean = copy.copy(exc)
        clean.args = tuple(redactor.value(arg) for arg in exc.args)
        for name, value in vars(exc).items():
            if isinstance(value, str | list | tuple | dict):
                setattr(clean, name, redactor.value(value))
    except Exception:
        clean = exc
    if clean is exc or _shows_secret(clean, redactor):
        clean = RedactedError(f"{type(exc).__name__}: {redactor.text(_texts(exc)[0])}")
    clean.__cause__ = None
    clean.__context__ = None
    clean.__suppress_context__ = True
    return clean.with_traceback(exc.__traceback__)


class RedactingRequestEvent:
    """A user's ``request`` event with the secrets taken out of what it carries.

    Locust's ``FastHttpSession`` fires ``request`` through the hook it was given; a user
    replaces that hook with this wrapper, so every listener — Locust's statistics first —
    receives a clean ``name``, ``url`` and ``exception``. Everything else is the hook's.
    """

    def __init__(self, hook: Any, redactor: Redactor) -> None:
        self._hook = hook
        self._redactor = redactor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)

    def __repr__(self) -> str:
        return f"RedactingRequestEvent({self._hook!r}, {self._redactor!r})"

    def fire(self, **kwargs: Any) -> Any:
        redactor = self._redactor
        name, url, exception = kwargs.get("name"), kwargs.get("url"), kwargs.get("exception")
        if isinstance(name, str):
            kwargs["name"] = redactor.text(name)
        if isinstance(url, str):
            kwargs["url"] = redactor.text(url)
        if isinstance(exception, BaseException):
            kwargs["exception"] = redact_exception(exception, redactor)
        elif isinstance(exception, str):
            kwargs["exception"] = redactor.text(exception)
        return self._hook.fire(**kwargs)


def guard_task(task: Callable[[Any], None], redactor: Redactor) -> Callable[[Any], None]:
    """``task`` whose exceptions reach Locust (its log, ``/exceptions``) without secrets.

    Locust's control-flow exceptions (``StopUser``, ``RescheduleTask`` ...) carry no secret
    and pass through unchanged, as does every exception whose text holds none.
    """
    if not redactor:
        return task

    def guarded(user: Any) -> None:
        try:
            task(user)
        except Exception as exc:
            clean = redact_exception(exc, redactor)
            if clean is exc:
                raise
            raise clean from None

    guarded.__name__ = task.__name__
    guarded.__qualname__ = task.__qualname__
    return guarded


class RedactingLogFilter(logging.Filter):
    """Masks secrets in a log record's message, exception text and stack before any handler
    formats it; the record is kept (a filter that drops records would hide errors)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self._redactor
        try:
            message = record.getMessage()
        except Exception:
            return True
        if redactor.found_in(message):
            record.msg, record.args = redactor.text(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.text(record.stack_info)
        return True


def install_log_redaction(redactor: Redactor) -> None:
    """Add a ``RedactingLogFilter`` to every handler of every logger that exists now.

    Call it after Locust has set up logging (on its ``init`` event): Locust's console, its
    ``--logfile`` and the web UI's log tab are handlers made then. Installing twice adds
    one filter per handler only.
    """
    if not redactor:
        return
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        item
        for item in logging.root.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingLogFilter) for f in handler.filters):
                handler.addFilter(RedactingLogFilter(redactor))
