"""What ``swarm try`` prints and which exit code it ends with, on literal exchanges."""

from __future__ import annotations

import pytest

from framework.errors import ExitCode
from framework.run.try_flow import TryPrinter, cut_body, describe_expect, try_exit_code
from framework.scenario.interpolation import Redactor
from framework.scenario.model import Expect

KEY = "k-live-9f2c"
TOKEN = "tok-abcdef-123"
STEP = "users[0].flow[0]"


def printer(
    secrets: set[str] | None = None, body_limit: int = 500, secret_vars: tuple[str, ...] = ()
) -> tuple[TryPrinter, list[str]]:
    lines: list[str] = []
    return (
        TryPrinter(
            lambda text: lines.append(text.plain),
            Redactor(secrets or set()),
            body_limit=body_limit,
            secret_vars=secret_vars,
        ),
        lines,
    )


def exchange(p: TryPrinter, status: int = 200, body: str = '{"ok": true}', reached: bool = True):
    p.request(STEP, "POST", "/login", {"X-API-Key": KEY}, '{"user": "bob"}')
    p.response(STEP, status, 12.345, {"Content-Type": "application/json"}, body)
    p.recorded("POST", "login", 12.3, sent=True, reached=reached)


def test_a_request_and_its_response_are_shown_with_the_host_joined_and_the_time():
    p, lines = printer()
    p.user("shopper", "http://api:8001", {"login": Expect.model_validate({"status": 200})})
    exchange(p)
    p.check("login", True, None)
    tally = p.finish()
    assert lines == [
        "── users entry 'shopper' → http://api:8001",
        f"{STEP}  POST http://api:8001/login",
        f"  X-API-Key: {KEY}",
        '  {"user": "bob"}',
        "← 200  12.3 ms",
        "  Content-Type: application/json",
        '  {"ok": true}',
        "  ✓ login: status 200",
        "swarm try: 1 request sent, 1 answered, 0 captures, 1 check held: all held",
    ]
    assert tally.exit_code is ExitCode.OK


def test_a_secret_is_masked_in_headers_url_bodies_and_failure_messages():
    p, lines = printer({KEY})
    p.user("u", f"http://user:{KEY}@api", {})
    p.request(STEP, "GET", f"/items?key={KEY}", {"Authorization": f"Bearer {KEY}"}, {"k": KEY})
    p.response(STEP, 401, 1.0, [("X-Echo", KEY)], f'{{"error": "bad key {KEY}"}}')
    p.recorded("GET", "items", 1.0, sent=True, reached=True)
    p.check("items", False, f"status 401: bad key {KEY}")
    tally = p.finish()
    text = "\n".join(lines)
    assert KEY not in text
    assert "Authorization: Bearer ***" in text and "X-Echo: ***" in text
    assert '"error": "bad key ***"' in text and "?key=***" in text
    assert tally.failures == ["status 401: bad key ***"]


def test_a_value_captured_into_a_secret_variable_is_masked_everywhere_even_its_own_body():
    p, lines = printer(secret_vars=("token",))
    p.user("u", "http://api", {})
    p.request(STEP, "POST", "/login", {}, None)
    p.response(STEP, 200, 1.0, {}, f'{{"token": "{TOKEN}"}}')
    p.capture("token", TOKEN, "$.token")
    p.request("users[0].flow[1]", "GET", "/me", {"Authorization": f"Bearer {TOKEN}"}, None)
    p.finish()
    text = "\n".join(lines)
    assert TOKEN not in text
    assert '{"token": "***"}' in text
    assert 'capture token = "***"  ($.token)' in text
    assert "Authorization: Bearer ***" in text


def test_a_capture_that_is_not_secret_shows_its_value_and_counts():
    p, lines = printer()
    exchange(p)
    p.capture("item_id", 42, "$.items[0].id")
    tally = p.finish()
    assert "  capture item_id = 42  ($.items[0].id)" in lines
    assert tally.captures == 1 and tally.exit_code is ExitCode.OK


def test_a_capture_that_found_nothing_fails_once_though_its_check_reports_it_again():
    p, lines = printer()
    exchange(p)
    p.capture("token", None, "$.token")
    p.check("login", False, "capture 'token': $.token found nothing")
    tally = p.finish()
    assert lines.count("  ✗ capture 'token': $.token found nothing") == 1
    assert tally.failures == ["capture 'token': $.token found nothing"]
    assert tally.exit_code is ExitCode.CHECK_FAILED


def test_bodies_are_cut_to_the_limit_saying_how_much_was_left_out():
    p, lines = printer(body_limit=10)
    exchange(p, body="x" * 25)
    p.finish()
    assert "  xxxxxxxxxx… (15 more chars)" in lines
    assert cut_body("abc", 3) == "abc"
    assert cut_body("abcd", 0) == "… (4 chars)"


def test_a_secret_cut_in_half_by_the_limit_is_still_masked():
    p, lines = printer({KEY}, body_limit=6)
    exchange(p, body=f"ab{KEY}{'z' * 20}")
    p.finish()
    assert "  ab***z… (19 more chars)" in lines
    assert not any(KEY[:4] in line for line in lines)


def test_no_response_is_shown_as_such_and_every_request_unanswered_exits_3():
    p, lines = printer()
    for _ in range(2):
        p.request(STEP, "GET", "/ok", {}, None)
        p.response(STEP, 0, 0.5, {}, "")
        p.recorded("GET", "ok", 0.5, sent=True, reached=False)
        p.check("ok", False, "no response: ConnectionRefusedError")
    tally = p.finish()
    assert "← no response  0.5 ms" in lines
    assert tally.exit_code is ExitCode.RUN_FAILED
    assert lines[-1].endswith("the target could not be reached (no request got a response)")
    assert tally.no_response == "no response: ConnectionRefusedError"


def test_a_transaction_gets_a_line_with_its_time_and_is_not_a_request_sent():
    p, lines = printer()
    exchange(p)
    p.recorded("TXN", "checkout", 45.67, sent=False, reached=False)
    p.check("checkout", True, None)
    tally = p.finish()
    assert "transaction checkout: 45.7 ms" in lines and "  ✓ checkout" in lines
    assert tally.sent == 1 and tally.checks_held == 1


def test_notes_and_errors_are_printed_and_an_error_fails_the_try():
    p, lines = printer()
    exchange(p)
    p.note("think 500 ms")
    p.error("RuntimeError: boom")
    tally = p.finish()
    assert "  · think 500 ms" in lines and "✗ RuntimeError: boom" in lines
    assert tally.exit_code is ExitCode.CHECK_FAILED


def test_an_unsent_request_does_not_count_as_unreachable():
    p, _lines = printer()
    p.recorded("GET", "ok", 0.0, sent=False, reached=False)
    p.check("ok", False, "template error in users[0].flow[0].path: 'vars' has no attribute 'x'")
    assert p.finish().exit_code is ExitCode.CHECK_FAILED


def test_geventhttpclient_header_pairs_are_shown_with_their_names_as_sent():
    p, lines = printer()
    p.request(STEP, "GET", "http://h/x", {}, None)
    p.response(STEP, 200, 1.0, {"etag": ("ETag", '"v1"')}, "")
    p.finish()
    assert '  ETag: "v1"' in lines


@pytest.mark.parametrize(
    ("sent", "reached", "failures", "code"),
    [
        (0, 0, 0, ExitCode.OK),
        (2, 2, 0, ExitCode.OK),
        (2, 1, 1, ExitCode.CHECK_FAILED),
        (2, 2, 1, ExitCode.CHECK_FAILED),
        (2, 0, 2, ExitCode.RUN_FAILED),
        (0, 0, 1, ExitCode.CHECK_FAILED),
    ],
)
def test_exit_code_rules(sent, reached, failures, code):
    assert try_exit_code(sent, reached, failures) is code


def test_held_checks_are_worded_from_expect():
    expect = Expect.model_validate(
        {
            "status": [200, 201],
            "max_ms": 250,
            "body_contains": "ok",
            "json": [{"path": "n", "gte": 1, "lte": 9}, {"path": "id", "exists": True}],
        }
    )
    assert describe_expect(expect) == [
        "status 200 or 201",
        "within 250 ms",
        "body contains 'ok'",
        "json n >= 1",
        "json n <= 9",
        "json id exists",
    ]
