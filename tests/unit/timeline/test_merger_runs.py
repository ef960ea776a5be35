"""The merger across the runs of one process (each start in the web UI is a run)."""

from __future__ import annotations

from framework.timeline.recorder import PAYLOAD_VERSION, TimelineMerger


def _empty(mark: int) -> dict:
    return {"v": PAYLOAD_VERSION, "complete_before_s": mark, "records": []}


def test_promised_through_waits_for_every_reporting_worker_to_pass_the_second():
    merger = TimelineMerger(grace_s=5)
    merger.add("a", _empty(101), 101.0)
    merger.add("b", _empty(100), 101.0)
    assert not merger.promised_through(100, 101.5)
    merger.add("b", _empty(102), 102.0)
    assert merger.promised_through(100, 102.5)


def test_promised_through_ignores_a_silent_worker_after_the_grace():
    merger = TimelineMerger(grace_s=5)
    merger.add("a", _empty(101), 101.0)
    merger.add("dead", _empty(90), 90.0)
    assert merger.promised_through(100, 101.5)


def test_fresh_merger_keeps_the_workers_promises_but_no_seconds():
    merger = TimelineMerger(grace_s=5)
    merger.add("a", _empty(100), 100.0)
    merger.observe(100.2, users=1, workers=1)
    fresh = merger.fresh()
    assert fresh.next_s is None and fresh.open_seconds == 0
    # the worker promised only up to 100: the fresh merger waits for it, as the old one would
    fresh.observe(101.2, users=1, workers=1)
    assert fresh.close(102.0).seconds == ()
    assert not fresh.promised_through(100, 102.0)
