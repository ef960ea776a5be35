"""Response expectations (status, JSON fields, body text, latency) as pure functions.

A check returns ``None`` when the response is acceptable, else a short message that
becomes the failure's text in every statistic, so it must name what was expected — and
never echo request headers, which may hold secrets. Locust groups failures by message, so
messages leave out continuous values (latencies, scores) that would make every failure a
row of its own; statuses and short JSON values, which repeat, are kept.

A target may echo a secret back (``{"error": "bad key k-123"}``), so every value quoted from
a response is masked before it is shortened (a key cut in half would no longer be found)
and the whole message once more before it is returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from framework.scenario.interpolation import Redactor
from framework.scenario.model import Expect, JsonCheck

__all__ = ["ResponseCheck", "compile_expect", "lookup"]

_MISSING = object()
ResponseCheck = Callable[[int, str, float], str | None]


def lookup(document: Any, path: str) -> Any:
    """Follow a dotted path (``verdict.labels.0``) into parsed JSON; ``_MISSING`` if absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


_NO_SECRETS = Redactor()


def _short(value: Any, redactor: Redactor = _NO_SECRETS) -> str:
    """A response value as it may appear in a message: secrets masked, then cut to 40."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    text = redactor.text(text)
    return text if len(text) <= 40 else text[:37] + "..."


def _same(value: Any, expected: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python says ``True == 1``)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    return bool(value == expected)


def _check_field(check: JsonCheck, document: Any, redactor: Redactor = _NO_SECRETS) -> str | None:
    value = lookup(document, check.path)
    where = f"json {check.path}"
    if check.exists is not None:
        if check.exists and value is _MISSING:
            return f"{where} is missing"
        if not check.exists and value is not _MISSING:
            return f"{where} should be absent, found {_short(value, redactor)}"
    if value is _MISSING:
        if check.exists is False:
            return None
        return f"{where} is missing"
    if "equals" in check.model_fields_set and not _same(value, check.equals):
        return f"{where} = {_short(value, redactor)}, expected {_short(check.equals)}"
    if check.one_of is not None and not any(_same(value, item) for item in check.one_of):
        return f"{where} = {_short(value, redactor)}, expected one of {_short(check.one_of)}"
    if check.matches is not None and not re.search(check.matches, str(value)):
        return f"{where} = {_short(value, redactor)}, expected to match {check.matches!r}"
    for bound, op, ok in (
        (check.gte, ">=", lambda v, b: v >= b),
        (check.lte, "<=", lambda v, b: v <= b),
    ):
        if bound is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{where} = {_short(value, redactor)}, expected a number {op} {bound:g}"
        if not ok(value, bound):
            return f"{where} not {op} {bound:g}"
    return None


def compile_expect(expect: Expect, redactor: Redactor = _NO_SECRETS) -> ResponseCheck:
    """A function of (status, body text, latency ms) → failure message or ``None``.

    Without ``status`` the Locust rule stays: below 400 is success. ``redactor`` masks the
    scenario's secrets in every message.
    """
    allowed = frozenset(expect.status) if expect.status else None
    if allowed is not None:
        codes = sorted(allowed)
        wanted = (
            str(codes[0])
            if len(codes) == 1
            else f"{codes[0]}-{codes[-1]}"
            if codes == list(range(codes[0], codes[-1] + 1))
            else ", ".join(map(str, codes))
        )
    field_checks = list(expect.json_checks)
    contains = expect.body_contains
    max_ms = expect.max_ms

    def check(status: int, text: str, latency_ms: float) -> str | None:
        if allowed is not None and status not in allowed:
            return f"status {status}, expected {wanted}"
        if allowed is None and status >= 400:
            return f"status {status}"
        if max_ms is not None and latency_ms > max_ms:
            return f"slower than {max_ms:g} ms"
        if contains is not None and contains not in text:
            return f"body does not contain {contains!r}"
        if field_checks:
            try:
                document = json.loads(text)
            except ValueError:
                return "response is not JSON"
            for field_check in field_checks:
                problem = _check_field(field_check, document, redactor)
                if problem:
                    return problem
        return None

    if not redactor:
        return check

    def redacted_check(status: int, text: str, latency_ms: float) -> str | None:
        problem = check(status, text, latency_ms)
        return None if problem is None else redactor.text(problem)

    return redacted_check
