"""Faults apply until their expiry and then revert on their own; times are passed in."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from mock_detectors.faults import FaultBoard, FaultSpec


def test_fault_is_active_until_expiry_then_gone() -> None:
    board = FaultBoard()
    spec = FaultSpec(duration_s=2, error_rate=0.5)
    board.set(spec, now=100.0)
    fault = board.current(101.9)
    assert fault is not None and fault.spec == spec
    assert fault.remaining_s(101.0) == pytest.approx(1.0)
    assert board.current(102.0) is None


def test_clear_ends_the_fault_and_bumps_generation() -> None:
    board = FaultBoard()
    board.set(FaultSpec(duration_s=60, outage=True), now=0.0)
    generation = board.generation()
    board.clear()
    assert board.current(1.0) is None
    assert board.generation() == generation + 1


def test_set_replaces_previous_fault() -> None:
    board = FaultBoard()
    board.set(FaultSpec(duration_s=60, outage=True), now=0.0)
    board.set(FaultSpec(duration_s=60, added_latency_ms=50), now=1.0)
    fault = board.current(2.0)
    assert fault is not None and fault.spec.kinds() == ["latency"]


def test_fault_set_in_one_process_is_seen_by_a_forked_one() -> None:
    board = FaultBoard()
    board.current(0.0)  # the parent has read generation 0
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        board.set(FaultSpec(duration_s=10, error_rate=1.0), now=0.0)
        os.write(write, b"x")
        os._exit(0)
    os.read(read, 1)
    os.waitpid(child, 0)
    fault = board.current(1.0)
    assert fault is not None and fault.spec.error_rate == 1.0


def test_kinds_name_each_change() -> None:
    spec = FaultSpec(
        duration_s=1, error_rate=0.1, latency_multiplier=2, timeout_probability=0.2, outage=True
    )
    assert spec.kinds() == ["error_rate", "latency", "timeout", "outage"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"duration_s": 5}, "a fault must change something"),
        ({"error_rate": 0.5}, "duration_s"),
        ({"duration_s": 0, "outage": True}, "greater than 0"),
        ({"duration_s": 5, "error_rate": 2}, "less than or equal to 1"),
        ({"duration_s": 5, "error_status": 200, "error_rate": 1}, "greater than or equal to 400"),
        ({"duration_s": 5, "outages": True}, "Extra inputs"),
    ],
)
def test_bad_fault_specs_are_refused(data: dict, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        FaultSpec.model_validate(data)
