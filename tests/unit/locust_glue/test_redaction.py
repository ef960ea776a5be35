"""Secrets are masked in what Locust is handed: request events, task exceptions, log records."""

from __future__ import annotations

import io
import logging

import pytest
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.exception import CatchResponseError, StopUser

from framework.locust_glue.checks import compile_expect
from framework.locust_glue.redaction import (
    RedactedError,
    RedactingLogFilter,
    RedactingRequestEvent,
    guard_task,
    install_log_redaction,
    redact_exception,
)
from framework.scenario.interpolation import Redactor
from framework.scenario.model import Expect

KEY = "sk-live-0123456789abcdef"
REDACTOR = Redactor({KEY})


class _Hook:
    def __init__(self) -> None:
        self.fired: list[dict] = []

    def fire(self, **kwargs):
        self.fired.append(kwargs)


def test_an_exception_without_a_secret_is_passed_through_unchanged():
    exc = ConnectionRefusedError(111, "Connection refused")
    assert redact_exception(exc, REDACTOR) is exc


def test_a_bad_status_keeps_its_type_and_loses_the_key_in_its_url():
    exc = LocustBadStatusCode(f"http://h/x?key={KEY}", code=401)
    clean = redact_exception(exc, REDACTOR)
    assert type(clean) is LocustBadStatusCode
    assert KEY not in str(clean) + repr(clean) + repr(vars(clean))
    assert repr(clean) == repr(exc)  # Locust groups failures by this


def test_an_exception_that_cannot_be_cleaned_in_place_is_replaced():
    exc = OSError(5, f"bad key {KEY}")
    clean = redact_exception(exc, REDACTOR)
    assert KEY not in str(clean) + repr(clean)
    assert isinstance(clean, OSError | RedactedError)


def test_the_request_event_hands_listeners_a_clean_name_url_and_failure():
    hook = _Hook()
    event = RedactingRequestEvent(hook, REDACTOR)
    event.fire(
        request_type="GET",
        name=f"/x/{KEY}",
        url=f"http://h/x?k={KEY}",
        exception=CatchResponseError(f"json error = 'bad {KEY}'"),
        response_time=1.0,
    )
    (fired,) = hook.fired
    assert KEY not in repr(fired)
    assert fired["name"] == "/x/***" and fired["response_time"] == 1.0
    assert type(fired["exception"]) is CatchResponseError


def test_a_task_exception_with_a_secret_is_raised_as_a_clean_copy():
    def task(_user):
        raise ValueError(f"cannot render {KEY}")

    with pytest.raises(ValueError) as caught:
        guard_task(task, REDACTOR)(None)
    assert KEY not in str(caught.value)
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_control_flow_exceptions_pass_a_guarded_task_unchanged():
    stop = StopUser()

    def task(_user):
        raise stop

    with pytest.raises(StopUser) as caught:
        guard_task(task, REDACTOR)(None)
    assert caught.value is stop
    assert guard_task(task, Redactor()) is task


def test_log_records_are_masked_in_message_and_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingLogFilter(REDACTOR))
    logger = logging.getLogger("test_redaction_log")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"boom {KEY}")
        except RuntimeError:
            logger.exception("request to %s failed", f"http://h/?k={KEY}")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert KEY not in text
    assert "request to http://h/?k=*** failed" in text and "RuntimeError: boom ***" in text


def test_install_adds_one_filter_per_handler():
    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("test_redaction_install")
    logger.addHandler(handler)
    try:
        install_log_redaction(REDACTOR)
        install_log_redaction(REDACTOR)
        assert sum(isinstance(f, RedactingLogFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)
        known = logging.root.manager.loggerDict.values()
        for each in [logging.getLogger(), *(i for i in known if isinstance(i, logging.Logger))]:
            for other in each.handlers:
                for added in [f for f in other.filters if isinstance(f, RedactingLogFilter)]:
                    other.removeFilter(added)


def test_a_check_masks_an_echoed_secret_before_it_shortens_the_value():
    expect = Expect.model_validate({"json": [{"path": "error", "equals": "fine"}]})
    check = compile_expect(expect, REDACTOR)
    body = '{"error": "invalid key ' + KEY + ' for /a/long/path"}'
    problem = check(200, body, 1.0)
    assert problem is not None and "***" in problem
    assert KEY[:8] not in problem  # no half of the key left by the cut at 40 characters


def test_a_check_masks_a_secret_quoted_from_the_scenario():
    expect = Expect.model_validate({"body_contains": f"hello {KEY}"})
    assert compile_expect(expect, REDACTOR)(200, "nope", 1.0) == "body does not contain 'hello ***'"
