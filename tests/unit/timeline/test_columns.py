"""TimelineColumns: each endpoint's histograms decoded once, whatever asks first, all
requests merged from them, and nothing kept on the frozen Timeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import framework.timeline.columns as columns_module
from framework.timeline.codec import rows_from_blobs
from framework.timeline.columns import TimelineColumns
from framework.timeline.reader import read_timeline
from framework.timeline.records import RequestSecond, Second, Timeline
from framework.timeline.writer import TimelineWriter


@pytest.fixture(scope="module")
def timeline(tmp_path_factory) -> Timeline:
    """Two methods on one name, an idle second, a second without /a, a late correction."""
    rng = np.random.default_rng(11)
    path = tmp_path_factory.mktemp("columns") / "timeline.jsonl"
    with TimelineWriter(path, created_s=100.0) as writer:
        for t in range(100, 140):
            requests = [
                RequestSecond.from_latencies(t, method, name, rng.lognormal(3, 1, 30))
                for method, name in (("GET", "/a"), ("GET", "/b"), ("POST", "/b"))
                if t != 120 and (t, name) != (125, "/a")
            ]
            writer.write_second(Second(t=t, users=3, workers=1, requests=tuple(requests)))
        writer.write_late(RequestSecond.from_latencies(130, "GET", "/b", [1.0, 2.0]))
    # without the histograms the reader decoded to check them, so the columns decode
    return dataclasses.replace(read_timeline(path), decoded_rows={})


@pytest.fixture
def decodings(monkeypatch):
    """The number of rows each call of ``rows_from_blobs`` decoded, in order."""
    made: list[int] = []
    original = columns_module.rows_from_blobs

    def counted(blob_rows, blobs, rows, **kwargs):
        made.append(rows)
        return original(blob_rows, blobs, rows, **kwargs)

    monkeypatch.setattr(columns_module, "rows_from_blobs", counted)
    return made


def _same(a, b) -> bool:
    return (a.indptr.tolist(), a.index.tolist(), a.counts.tolist()) == (
        b.indptr.tolist(),
        b.index.tolist(),
        b.counts.tolist(),
    )


@pytest.mark.parametrize("all_first", [True, False])
def test_each_endpoint_is_decoded_once_whatever_is_asked_first(timeline, decodings, all_first):
    columns = TimelineColumns(timeline)
    keys = columns.names()
    asks = [None, *keys] if all_first else [*keys, None]
    for _ in range(2):
        for key in asks:
            columns.buckets(key, 105, 130)
            columns.buckets(key)
    assert decodings == [len(timeline.seconds)] * len(keys)


def test_all_requests_are_the_endpoints_merged_equal_to_decoding_every_blob(timeline):
    columns = TimelineColumns(timeline)
    blobs = [
        (row, b) for row, s in enumerate(timeline.seconds) for r in s.requests for b in r.hist_blobs
    ]
    rows = np.array([row for row, _ in blobs], dtype=np.int64)
    direct = rows_from_blobs(rows, [b for _, b in blobs], len(timeline.seconds))
    assert _same(columns.buckets(None), direct)
    assert _same(columns.buckets(None, 105, 130), direct.slice(5, 30))


def test_a_bare_name_of_several_endpoints_is_read_and_not_kept(timeline, decodings):
    columns = TimelineColumns(timeline)
    both = columns.buckets("/b", 105, 130)
    assert decodings == [25]
    merged = [columns.buckets(key, 105, 130) for key in ("GET /b", "POST /b")]
    assert both.total().counts_nonzero.sum() == sum(m.total().counts_nonzero.sum() for m in merged)
    columns.buckets("/b", 105, 130)
    assert decodings == [25, len(timeline.seconds), len(timeline.seconds), 25]


def test_columns_answer_as_the_timeline_does(timeline):
    columns = TimelineColumns(timeline)
    assert columns.names() == timeline.names() == ["GET /a", "GET /b", "POST /b"]
    assert columns.endpoints() == timeline.endpoints()
    assert columns.endpoint("POST /b") == timeline.endpoint("POST /b") == ("POST", "/b")
    for name in (None, "/b", "GET /a", "/nope"):
        found, expected = columns.counters(name, 110, 131), timeline.series(name, 110, 131)
        assert found.count.tolist() == [r.count for r in expected]
        assert found.sum_us.tolist() == [float(r.sum_us) for r in expected]
        assert found.t.tolist() == [r.t for r in expected]


def test_reading_leaves_the_timeline_as_it_was(timeline):
    before = dict(vars(timeline))
    columns = TimelineColumns(timeline)
    for key in (*columns.names(), None):
        columns.buckets(key, 105, 130)
        columns.counters(key, 105, 130)
    timeline.buckets(None)
    timeline.counters("/b")
    assert set(vars(timeline)) == {f.name for f in dataclasses.fields(Timeline)}
    assert all(vars(timeline)[name] is value for name, value in before.items())
