"""A custom metric used wrongly by a plugin or locustfile: one clear line, not tracebacks.

``MetricError`` (``framework.timeline.metrics_api``) is raised where the metric is recorded,
in the user's code: a request listener, a task. Locust logs every exception raised there
with its traceback, so a metric with too many dimension sets, recorded on every request,
would bury the log under thousands of identical tracebacks. ``MetricErrorsOnce`` rewrites
the first log record of each distinct ``MetricError`` into one line naming the metric, and
drops the repeats (the same error with another value or dimension set); every other record
passes untouched.
"""

from __future__ import annotations

import logging
import re

__all__ = ["MetricErrorsOnce", "install_metric_error_filter"]

_MARK = "framework.errors.MetricError: "
_DETAIL = re.compile(r" \(the new one is .*?\)|, got .*$")
"""What varies between repeats of one error: the value or dimension set found."""
_LINE = (
    "swarm: %s (raised where the value was recorded: the value was not recorded, and this "
    "error is not shown again)"
)


class MetricErrorsOnce(logging.Filter):
    """A handler filter: each distinct ``MetricError`` once, as one line; repeats dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: not ours to judge
            return True
        at = text.rfind(_MARK)
        if at < 0:
            return True
        message = text[at + len(_MARK) :].strip().splitlines()[0]
        key = _DETAIL.sub("", message)
        if key in self.seen:
            self.dropped += 1
            return False
        self.seen.add(key)
        record.msg = _LINE
        record.args = (message,)
        record.exc_info = record.exc_text = None
        return True


def install_metric_error_filter() -> MetricErrorsOnce:
    """Put one ``MetricErrorsOnce`` on every handler of the root logger (Locust's console,
    log file and web UI log), once per process."""
    found = next(
        (
            f
            for h in logging.getLogger().handlers
            for f in h.filters
            if isinstance(f, MetricErrorsOnce)
        ),
        None,
    )
    errors = found or MetricErrorsOnce()
    for handler in logging.getLogger().handlers:
        if errors not in handler.filters:
            handler.addFilter(errors)
    return errors
