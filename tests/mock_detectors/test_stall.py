"""A stalling detector holds what arrives in its windows to their end, and only that.

Pure parts (the clock, the config, the arithmetic of what a load model must see) are
checked on literals; one real service then holds 300 concurrent connections through a
stall and answers each at the window's end.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from mock_detectors.config import describe_detector
from mock_detectors.loader import DEFAULT_CONFIG_PATH, load_config
from mock_detectors.stall import (
    StallClock,
    StallConfig,
    closed_model_pacing_s,
    closed_model_rate,
    open_model_percentile_s,
)
from tests.mock_detectors.conftest import free_ports, request, start_service, write_config
from tests.mock_detectors.test_config import problems_of

STALLING_CONFIG = Path(DEFAULT_CONFIG_PATH).with_name("stalling.yaml")

# --- the clock ------------------------------------------------------------------------------


def test_requests_in_a_window_wait_to_its_end_and_others_not_at_all() -> None:
    clock = StallClock(every_s=10, for_s=2, offset_s=8, started_at=100.0)
    assert clock.wait_s(100.0) == 0.0  # before the first window
    assert clock.wait_s(107.999) == 0.0
    assert clock.wait_s(108.0) == 2.0  # a window starts: held for all of it
    assert clock.wait_s(109.25) == pytest.approx(0.75)
    assert clock.wait_s(110.0) == 0.0  # the window has ended
    assert clock.wait_s(118.5) == pytest.approx(1.5)  # the next cycle
    assert clock.wait_s(1008.5) == pytest.approx(1.5)  # and the hundredth


def test_next_stall_counts_down_to_each_window() -> None:
    clock = StallClock(every_s=10, for_s=2, offset_s=8, started_at=0.0)
    assert clock.next_stall_in_s(3.0) == 5.0
    assert clock.next_stall_in_s(9.0) == 0.0
    assert clock.next_stall_in_s(10.5) == pytest.approx(7.5)


def test_an_offset_of_zero_stalls_from_the_start() -> None:
    clock = StallClock.of(StallConfig(every_s=1, for_s=0.5, offset_s=0), started_at=50.0)
    assert clock.wait_s(50.0) == 0.5 and clock.wait_s(50.6) == 0.0
    assert clock.wait_s(51.1) == pytest.approx(0.4)


def test_health_state_places_a_client_against_the_windows() -> None:
    clock = StallClock(every_s=10, for_s=2, offset_s=8, started_at=0.0)
    assert clock.state(18.5) == {
        "every_s": 10,
        "for_s": 2,
        "offset_s": 8,
        "since_start_s": 18.5,
        "stalled": True,
        "ends_in_s": 1.5,
        "next_stall_in_s": 0.0,
    }


# --- the config -----------------------------------------------------------------------------


def test_offset_defaults_to_serving_first_then_stalling() -> None:
    assert StallConfig(every_s=10, for_s=2).first_s == 8
    assert StallConfig(every_s=10, for_s=2, offset_s=3).first_s == 3


def test_a_stall_as_long_as_its_period_is_refused_with_its_line() -> None:
    text = (
        "detectors:\n  a:\n    latency: {model: fixed, ms: 1}\n    stall: {every_s: 2, for_s: 2}\n"
    )
    found = problems_of(text)
    assert any(
        p.startswith("d.yaml:4:") and "for_s (2) must be < every_s (2)" in p for p in found
    ), found


def test_a_misspelt_stall_field_suggests_the_real_one() -> None:
    found = problems_of(
        "detectors:\n  a:\n    latency: {model: fixed, ms: 1}\n    stall: {every: 10, for_s: 2}\n"
    )
    assert any("unknown field 'every'" in p and "every_s" in p for p in found), found


def test_the_shipped_stalling_profiles_stall_2_s_every_10_s_and_not_at_all() -> None:
    config = load_config(STALLING_CONFIG)
    stalling, steady = config.detectors["stalling"], config.detectors["steady"]
    assert stalling.stall == StallConfig(every_s=10, for_s=2)
    assert steady.stall is None and steady.latency == stalling.latency
    assert describe_detector(stalling).endswith("stalls 2 s every 10 s (first after 8 s)")


# --- what a load model must see -------------------------------------------------------------


def test_open_model_p99_is_the_last_tenth_of_a_second_of_the_stall_plus_service() -> None:
    assert open_model_percentile_s(0.99, every_s=10, for_s=2) == pytest.approx(1.9)
    assert open_model_percentile_s(0.99, every_s=10, for_s=2, service_s=0.01) == pytest.approx(1.91)
    assert open_model_percentile_s(0.9, every_s=10, for_s=2) == pytest.approx(1.0)
    assert open_model_percentile_s(0.5, every_s=10, for_s=2, service_s=0.01) == 0.01


def test_open_model_percentile_matches_a_simulated_uniform_schedule() -> None:
    every_s, for_s, rate = 10.0, 2.0, 1000.0
    clock = StallClock(every_s, for_s, offset_s=4.0, started_at=0.0)
    waits = sorted(clock.wait_s(i / rate) for i in range(int(3 * every_s * rate)))
    p99 = waits[int(0.99 * len(waits))]
    assert p99 == pytest.approx(
        open_model_percentile_s(0.99, every_s=every_s, for_s=for_s), abs=2e-3
    )


def test_closed_pacing_and_rate_are_inverse_and_catch_one_request_per_stall() -> None:
    pacing = closed_model_pacing_s(rate=50, users=2, every_s=10, for_s=2)
    assert closed_model_rate(users=2, pacing_s=pacing, every_s=10, for_s=2) == pytest.approx(50)
    # 8 s of 1/pacing requests plus the one the stall catches, per user and cycle
    assert closed_model_rate(users=1, pacing_s=0.5, every_s=10, for_s=2) == pytest.approx(1.7)


@pytest.mark.parametrize(
    "call",
    [
        lambda: open_model_percentile_s(1.0, every_s=10, for_s=2),
        lambda: open_model_percentile_s(0.99, every_s=2, for_s=2),
        lambda: closed_model_pacing_s(rate=0.1, users=2, every_s=10, for_s=2),
        lambda: closed_model_rate(users=0, pacing_s=0.1, every_s=10, for_s=2),
    ],
)
def test_impossible_arguments_raise_naming_the_function(call) -> None:
    with pytest.raises(ValueError, match=r"^(open_model_percentile_s|closed_model_\w+): "):
        call()


# --- the running service --------------------------------------------------------------------

HOLD_CONFIG = """
detectors:
  stalling:
    port: {port}
    latency: {{model: fixed, ms: 5}}
    stall: {{every_s: 2, for_s: 1, offset_s: 0.5}}
"""
CONCURRENT = 300


async def _detect_on(connections: list, body: bytes) -> list[tuple[float, int, dict]]:
    """Send one request on each open connection at once; return (answered at, status, body)."""
    head = (
        "POST /detect HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        return time.monotonic(), int(status_line.split()[1]), json.loads(payload)

    return await asyncio.gather(*(one(r, w) for r, w in connections))


async def _hold_through_a_stall(host: str, port: int, url: str) -> tuple[float, list, dict]:
    connections = [await asyncio.open_connection(host, port) for _ in range(CONCURRENT)]
    try:
        deadline = time.monotonic() + 10
        while True:  # wait (bounded) for a window with most of its second still ahead
            state = request(url, path="/health").json()["stall"]
            if state["stalled"] and state["ends_in_s"] > 0.6:
                break
            assert time.monotonic() < deadline, "no stall window seen in 10 s"
            await asyncio.sleep(0.02)
        window_end = time.monotonic() + state["ends_in_s"]
        answers = await asyncio.wait_for(_detect_on(connections, b'{"content": "x"}'), 10)
        after = request(url, "POST", "/detect", {"content": "after"}).json()
        return window_end, answers, after
    finally:
        for _, writer in connections:
            writer.close()


@pytest.mark.integration
def test_300_connections_that_arrive_in_a_stall_are_all_answered_when_it_ends(
    tmp_path: Path,
) -> None:
    (port,) = free_ports(1)
    config = write_config(tmp_path / "stall.yaml", HOLD_CONFIG.format(port=port))
    service = start_service(config)
    try:
        url = service.urls["stalling"]
        window_end, answers, after = asyncio.run(_hold_through_a_stall("127.0.0.1", port, url))
        health = request(url, path="/health").json()
    finally:
        assert service.stop() == 0, "\n".join(service.stderr)

    assert len(answers) == CONCURRENT
    assert {status for _, status, _ in answers} == {200}
    # each was held to the window's end (5 ms of service after it), none answered before
    assert min(at for at, _, _ in answers) >= window_end - 0.02
    assert all(0 < body["stalled_ms"] <= 1000 for _, _, body in answers)
    assert all(
        body["latency_ms"] == pytest.approx(body["stalled_ms"] + 5, abs=1e-3)
        for _, _, body in answers
    )
    # a request that arrives once the window is over (the next is 1 s away) is not held
    assert "stalled_ms" not in after and after["latency_ms"] == 5
    assert health["stall"]["every_s"] == 2 and health["status"] == "ok"
    assert any("stalls 1 s every 2 s (first after 0.5 s)" in line for line in service.lines)
