"""Fault analysis on literal timelines: figures during a fault, the baseline before it, and
the recovery time with its interval at the timeline's 1 s resolution, against the SLA."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from framework.timeline.columns import TimelineColumns
from framework.timeline.records import RequestSecond, Second, Timeline
from framework.verdicts.analysis import AnalysisSettings
from framework.verdicts.faults import (
    BASELINE_MAX_S,
    FaultResult,
    fault_results,
    fault_verdict,
)
from framework.verdicts.results import Figure

T0 = 1_700_000_000
HEALTHY = [10.0 + (i % 5) for i in range(50)]  # 50 requests a second, 10–14 ms


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def second(t: int, *, slow_ms: float | None = None, failed: int = 0, slow: int = 50) -> Second:
    """One second of 50 requests: healthy, slow (``slow`` of them take ``slow_ms``) or with
    ``failed`` of them failing."""
    ok = [slow_ms] * slow + HEALTHY[slow:] if slow_ms is not None else HEALTHY
    ok = ok[failed:]
    record = RequestSecond.from_latencies(
        t, "GET", "/x", ok,
        failures={"HTTP 500": failed} if failed else None,
        failed_ms=[1.0] * failed,
    )  # fmt: skip
    return Second(t=t, users=5, workers=1, requests=(record,))


def timeline(seconds: int, shape: Callable[[int], dict] = lambda s: {}) -> Timeline:
    """``seconds`` seconds from T0; ``shape(offset)`` gives a second's ``slow_ms``/``failed``."""
    return Timeline(None, {}, tuple(second(T0 + s, **shape(s)) for s in range(seconds)))


def fault(start: float, end: float | None, *, name: str = "outage", sla: float | None = 2.0,
          status: str = "ended") -> dict:  # fmt: skip
    return {
        "name": name, "kind": "mock", "target": "http://127.0.0.1:1/admin/faults",
        "action": {"outage": True}, "planned_start_s": start, "planned_end_s": end,
        "recovery_sla_s": sla, "started_at": _iso(T0 + start),
        "ended_at": None if end is None else _iso(T0 + end), "status": status, "error": None,
    }  # fmt: skip


def analyse(tl: Timeline, *faults: dict, earliest: float = 0.0) -> tuple[FaultResult, ...]:
    return fault_results(
        faults, tl, columns=TimelineColumns(tl), settings=AnalysisSettings(),
        earliest_s=T0 + earliest,
    )  # fmt: skip


def outage(start: int, end: int, lingering: int = 0, what: str = "failed") -> Callable:
    """Every request fails from ``start`` to ``end`` (and ``lingering`` s after, when
    ``what`` is ``failed``; ``slow``: p95 stays high that long)."""

    def shape(s: int) -> dict:
        if start <= s < end:
            return {"failed": 50}
        if end <= s < end + lingering:
            return {"failed": 50} if what == "failed" else {"slow_ms": 400.0}
        return {}

    return shape


def test_errors_that_stop_at_once_recover_in_under_a_second() -> None:
    (found,) = analyse(timeline(60, outage(30, 40)), fault(30, 40))
    assert found.recovered and found.measured
    assert found.recovery_s == Figure(0.0, 0.0, 0.0, method=found.recovery_s.method)
    assert found.verdict == "pass"
    assert found.during.error_rate.value == pytest.approx(1.0)
    assert found.before.error_rate.value == 0.0
    assert found.before.p95_ms.value < 20
    assert (found.before.start_s, found.before.end_s) == (T0, T0 + 30)


def test_a_fault_ending_mid_second_measures_from_its_end() -> None:
    (found,) = analyse(timeline(60, outage(30, 40)), fault(30, 39.4))
    assert found.recovery_s.value == pytest.approx(0.6, abs=0.01)
    assert found.recovery_s.low == 0.0


def test_p95_that_stays_high_five_seconds_recovers_in_five_seconds() -> None:
    (found,) = analyse(timeline(60, outage(30, 40, 5, "slow")), fault(30, 40))
    assert found.recovered
    assert (found.recovery_s.value, found.recovery_s.low, found.recovery_s.high) == (5.0, 4.0, 5.0)
    assert found.verdict == "fail"  # even its low end is past the 2 s SLA
    assert "recovered in 5.0 s [4.0, 5.0]" in found.message
    assert found.p95_limit_ms < 400


def test_a_bad_second_hidden_by_the_pooled_window_widens_the_interval() -> None:
    """3 of 50 requests still slow in the first second after the fault: its own p95 is
    slow, the 3 s window's is not. A later second alike, after a good one, is chance."""

    def shape(s: int) -> dict:
        if 30 <= s < 40:
            return {"failed": 50}
        return {"slow_ms": 400.0, "slow": 3} if s in (40, 42) else {}

    (found,) = analyse(timeline(60, shape), fault(30, 40))
    assert (found.recovery_s.value, found.recovery_s.low, found.recovery_s.high) == (0.0, 0.0, 1.0)
    assert found.verdict == "pass"


def test_errors_lingering_two_seconds_meet_a_two_second_sla() -> None:
    (found,) = analyse(timeline(60, outage(30, 40, 2)), fault(30, 40, sla=2))
    assert (found.recovery_s.value, found.recovery_s.low, found.recovery_s.high) == (2.0, 1.0, 2.0)
    assert found.verdict == "pass"


def test_an_interval_straddling_the_sla_is_inconclusive() -> None:
    (found,) = analyse(timeline(60, outage(30, 40, 3)), fault(30, 40, sla=2.5))
    assert (found.recovery_s.low, found.recovery_s.high) == (2.0, 3.0)
    assert found.verdict == "inconclusive"


def test_a_fault_never_recovered_before_the_run_ended() -> None:
    (found,) = analyse(timeline(60, outage(30, 40, 100)), fault(30, 40))
    assert not found.recovered and found.measured and found.recovery_s is None
    assert found.not_recovered_after_s == pytest.approx(59 - 3 - 40)
    assert found.verdict == "fail"  # 16 s known without recovery, SLA 2 s
    assert "not recovered before the run ended" in found.message


def test_not_recovered_with_too_few_seconds_to_reach_the_sla_is_inconclusive() -> None:
    (found,) = analyse(timeline(45, outage(30, 40, 100)), fault(30, 40, sla=10))
    assert not found.recovered and found.verdict == "inconclusive"


def test_a_fault_ending_with_the_run_cannot_be_measured() -> None:
    (found,) = analyse(timeline(41, outage(30, 41)), fault(30, 40.5))
    assert not found.measured and found.verdict == "inconclusive"
    assert "too little data after the fault's end" in found.message


def test_no_baseline_before_the_fault_says_so() -> None:
    (found,) = analyse(timeline(60, outage(2, 10)), fault(2, 10))
    assert not found.measured and found.recovery_s is None and found.before is not None
    assert "no baseline before the fault" in found.message
    assert found.verdict == "inconclusive"
    (after_warmup,) = analyse(timeline(60, outage(30, 40)), fault(30, 40), earliest=27)
    assert "no baseline" in after_warmup.message


def test_the_baseline_is_the_last_minute_before_the_fault() -> None:
    (found,) = analyse(timeline(200, outage(150, 160)), fault(150, 160))
    assert (found.before.start_s, found.before.end_s) == (T0 + 150 - BASELINE_MAX_S, T0 + 150)


def test_a_second_fault_takes_its_baseline_after_the_first_ones_recovery() -> None:
    shape = outage(30, 40, 5, "slow")
    tl = timeline(120, lambda s: shape(s) or outage(80, 90)(s))
    first, second_ = analyse(tl, fault(30, 40, name="a"), fault(80, 90, name="b"))
    assert first.recovery_s.high == 5.0
    assert second_.before.start_s == T0 + 45  # after a's end and its recovery's latest bound
    assert second_.before.end_s == T0 + 80
    assert second_.recovery_s.value == 0.0


def test_after_an_unmeasured_fault_its_span_and_one_window_are_left_out() -> None:
    tl = timeline(120, outage(70, 80))
    a, b = analyse(tl, fault(2, 10, name="a"), fault(70, 80, name="b"))
    assert not a.measured  # no baseline before a: its recovery is unknown, not "never"
    assert (b.before.start_s, b.before.end_s) == (T0 + 13, T0 + 70)
    assert b.recovered


def test_overlapping_faults_the_one_ending_last_carries_the_recovery() -> None:
    tl = timeline(90, outage(30, 50, 3))
    a, b = analyse(tl, fault(30, 45, name="a"), fault(40, 50, name="b"))
    assert not a.measured and "fault b was still in force" in a.message
    assert b.measured and b.recovered
    assert b.before.end_s == T0 + 30  # b's baseline ends where a began
    assert b.recovery_s.value == 3.0


def test_a_fault_interrupted_by_the_next_stops_measuring_there() -> None:
    tl = timeline(120, outage(30, 60, 100))
    a, _ = analyse(tl, fault(30, 40, name="a", sla=30), fault(50, 60, name="b"))
    assert not a.recovered and "before fault b began" in a.message
    assert a.verdict == "inconclusive"  # 7 s seen, SLA 30 s


def test_a_fault_that_never_took_effect_is_inconclusive_under_an_sla() -> None:
    entry = fault(30, 40, status="failed") | {"started_at": None, "ended_at": None,
                                              "error": "connection refused"}  # fmt: skip
    (found,) = analyse(timeline(60), entry)
    assert found.verdict == "inconclusive" and "connection refused" in found.message
    no_sla = fault(30, 40, sla=None, status="skipped") | {"started_at": None, "ended_at": None}
    assert analyse(timeline(60), no_sla)[0].verdict is None


def test_without_an_sla_recovery_is_measured_but_not_judged() -> None:
    (found,) = analyse(timeline(60, outage(30, 40, 5, "slow")), fault(30, 40, sla=None))
    assert found.recovery_s.value == 5.0 and found.verdict is None


def test_a_fault_still_in_force_when_the_data_ends() -> None:
    (found,) = analyse(timeline(60, outage(30, 60)), fault(30, None, status="active"))
    assert not found.measured and found.verdict == "inconclusive"


def test_the_verdict_reads_the_interval() -> None:
    assert fault_verdict(Figure(1.0, 0.0, 2.0), 2.0) == "pass"
    assert fault_verdict(Figure(3.0, 2.0, 3.0), 2.0) == "fail"
    assert fault_verdict(Figure(2.0, 1.0, 3.0), 2.0) == "inconclusive"
    assert fault_verdict(None, 2.0, not_recovered_after_s=1.0) == "inconclusive"
    assert fault_verdict(None, 2.0, not_recovered_after_s=2.0) == "fail"
    assert fault_verdict(Figure(5.0, 4.0, 5.0), None) is None
