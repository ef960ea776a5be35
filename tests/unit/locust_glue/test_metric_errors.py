"""A MetricError raised in a plugin's listener is logged once, as one line, never as tracebacks."""

from __future__ import annotations

import logging
import traceback

from framework.locust_glue.metric_errors import MetricErrorsOnce
from framework.timeline.metric_recorder import MetricRecorder


def _locust_style_record(value: object) -> logging.LogRecord:
    """What Locust's EventHook logs when a listener raises: the traceback as an argument."""
    rec = MetricRecorder()
    number = rec.register("detector.score", "histogram", "1", {})
    try:
        rec.record_value(number, 100.0, value)
    except ValueError:
        text = traceback.format_exc()
    return logging.LogRecord(
        "root",
        logging.ERROR,
        __file__,
        1,
        "Uncaught exception in event handler: \n%s",
        (text,),
        None,
    )


def test_the_first_metric_error_becomes_one_line_and_repeats_are_dropped():
    errors = MetricErrorsOnce()
    first = _locust_style_record(-1)
    assert errors.filter(first) is True
    line = first.getMessage()
    assert line.startswith("swarm: metric 'detector.score' (histogram, 1): value must be")
    assert "Traceback" not in line and "\n" not in line
    assert errors.filter(_locust_style_record(-2)) is False  # the same error, another value
    assert errors.dropped == 1


def test_other_records_pass_untouched():
    errors = MetricErrorsOnce()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("ValueError: x",), None)
    assert errors.filter(record) is True and record.getMessage() == "boom ValueError: x"
