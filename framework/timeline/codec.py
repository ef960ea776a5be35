"""The timeline's histogram encoding, both ways: HdrHistogram V2 blobs, and their fast decoding.

Every timeline histogram has one layout (µs, 3 significant digits, up to an hour), encoded
with HdrHistogram's compressed V2 format as base64 text. Writing goes through HdrHistogram;
reading a whole run does not: decoding one blob into an HdrHistogram costs a 185 KB counts
array and ~0.1 ms, so reports decode batches of blobs straight into sparse bucket counts
(``decode_buckets``) and per-second rows (``BucketRows``), exactly as HdrHistogram would add
them.
"""

from __future__ import annotations

import binascii
import itertools
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

from framework.timeline.histograms import BucketLayout, BucketRows, SparseHistogram

__all__ = [
    "HISTOGRAM_HIGHEST_US",
    "HISTOGRAM_LOWEST_US",
    "HISTOGRAM_SIGNIFICANT_DIGITS",
    "LAYOUT",
    "decode_buckets",
    "decode_histogram",
    "encode_histogram",
    "merged_rows",
    "new_histogram",
    "one_blob",
    "rows_from_blobs",
    "sum_blobs",
]

HISTOGRAM_LOWEST_US = 1
HISTOGRAM_HIGHEST_US = 3_600_000_000  # one hour
HISTOGRAM_SIGNIFICANT_DIGITS = 3
LAYOUT = BucketLayout.of(
    HdrHistogram(HISTOGRAM_LOWEST_US, HISTOGRAM_HIGHEST_US, HISTOGRAM_SIGNIFICANT_DIGITS)
)
"""The bucket layout of every timeline histogram (µs, 3 significant digits, up to 1 hour)."""


def new_histogram() -> HdrHistogram:
    """An empty latency histogram with the timeline's fixed range and precision."""
    return HdrHistogram(HISTOGRAM_LOWEST_US, HISTOGRAM_HIGHEST_US, HISTOGRAM_SIGNIFICANT_DIGITS)


def encode_histogram(histogram: HdrHistogram, *, release: bool = False) -> str:
    """HdrHistogram's compressed V2 encoding as ASCII text (JSON- and msgpack-friendly).

    ``release=True`` frees the histogram's ~185 KB counts array at once (the histogram is
    unusable afterwards): hdrh's histogram and encoder point at each other, so otherwise
    only the cyclic garbage collector reclaims it, and temporaries pile up in between.
    """
    text = histogram.encode().decode("ascii")
    if release:
        _release(histogram)
    return text


def decode_histogram(blob: str) -> HdrHistogram:
    """Inverse of ``encode_histogram``; an empty blob gives an empty histogram."""
    return HdrHistogram.decode(blob) if blob else new_histogram()


def _add_encoded(target: HdrHistogram, blob: str) -> None:
    """``target.decode_and_add(blob)``, minus the garbage cycle it leaves behind."""
    other = HdrHistogram.decode(blob)
    target.add(other)
    _release(other)


def _release(histogram: HdrHistogram) -> None:
    encoder = getattr(histogram, "encoder", None)
    if encoder is not None and getattr(encoder, "histogram", None) is histogram:
        encoder.histogram = None


# --------------------------------------------------------------------------- fast reads
#
# Reports read every histogram of a run, often more than once (the whole run's series, the
# steady window, each step). Decoding each blob into an HdrHistogram costs a 185 KB counts
# array and ~0.1 ms; here the V2 encoding (zlib-compressed ZigZag LEB128 varints, a negative
# number being a run of empty buckets) is decoded straight into (bucket index, count) pairs,
# a whole batch of blobs in one pass of numpy, giving the exact counts HdrHistogram would.

_COMPRESSION_COOKIE = 0x1C849304
_ENCODING_COOKIE = 0x1C849303
_PAYLOAD_HEADER = struct.Struct(
    ">IIIIqqd"
)  # cookie, length, offset, digits, lowest, highest, ratio
_MAX_VARINT_BYTES = 8  # 56 bits: any count or run of empty buckets a timeline holds


def _stream(blob: str, layout: BucketLayout) -> bytes | None:
    """The varint stream of one blob, or ``None`` if it is not in ``layout`` (or not V2)."""
    raw = binascii.a2b_base64(blob)
    if len(raw) < 8 or int.from_bytes(raw[:4], "big") & ~0xF0 != _COMPRESSION_COOKIE:
        return None
    data = zlib.decompress(raw[8:])
    if len(data) < _PAYLOAD_HEADER.size:
        return None
    cookie, length, offset, digits, lowest, _highest, _ratio = _PAYLOAD_HEADER.unpack_from(data)
    if (
        cookie & ~0xF0 != _ENCODING_COOKIE
        or offset != 0
        or digits != layout.significant_figures
        or lowest != layout.lowest_trackable_value
    ):
        return None
    return data[_PAYLOAD_HEADER.size : _PAYLOAD_HEADER.size + length]


def _decode_varints(streams: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(indptr, index, counts) of the non-empty buckets of each stream; ``None`` if a varint
    is longer than this decoder reads (then the caller falls back to HdrHistogram)."""
    sizes = np.fromiter((len(s) for s in streams), dtype=np.int64, count=len(streams))
    data = np.frombuffer(b"".join(streams), dtype=np.uint8)
    indptr = np.zeros(len(streams) + 1, dtype=np.int64)
    if data.size == 0:
        return indptr, _NO_BUCKETS[0], _NO_BUCKETS[1]
    ends = np.flatnonzero(data < 0x80)
    if ends.size == 0 or ends[-1] != data.size - 1:
        return None  # a truncated varint
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    longest = int(lengths.max())
    if longest > _MAX_VARINT_BYTES:
        return None
    wide = np.int64 if longest > 4 else np.int32  # 4 bytes hold 28 bits
    raw = (data[starts] & 0x7F).astype(wide)
    for k in range(1, longest):  # most varints are one byte: add the rest where there is one
        more = np.flatnonzero(lengths > k)
        raw[more] |= (data[starts[more] + k] & 0x7F).astype(wide) << (7 * k)
    # ZigZag: an even number 2n is a bucket count n; an odd one 2n - 1 a run of n empty buckets
    half = raw >> 1
    run = raw & 1
    step = run * half + 1  # buckets each varint moves past: n for a run, 1 for a count
    position = np.cumsum(step, dtype=np.int64)  # one past the bucket(s) each varint covers
    first = np.searchsorted(starts, np.cumsum(sizes) - sizes)  # each stream's first varint
    # every stream counts its buckets from 0: subtract the position it starts at, which only
    # grows from stream to stream (empty streams share their successor's)
    base = np.zeros(starts.size, dtype=np.int64)
    inside = first < starts.size
    base[first[inside]] = np.concatenate([[0], position])[first[inside]]
    np.maximum.accumulate(base, out=base)
    keep = np.flatnonzero((run == 0) & (half > 0))
    index = position[keep] - 1 - base[keep]
    indptr[1:] = np.searchsorted(keep, np.append(first[1:], starts.size))
    return indptr, index, half[keep].astype(np.int64)


def _decode_chunked(
    streams: list[bytes], chunk_bytes: int = 1 << 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``_decode_varints`` on pieces of about ``chunk_bytes``, so temporaries stay in cache."""
    pieces, first, size = [], 0, 0
    for i, stream in enumerate(streams):
        size += len(stream)
        if size >= chunk_bytes or i == len(streams) - 1:
            decoded = _decode_varints(streams[first : i + 1])
            if decoded is None:
                return None
            pieces.append(decoded)
            first, size = i + 1, 0
    if len(pieces) == 1:
        return pieces[0]
    if not pieces:
        return np.zeros(1, dtype=np.int64), _NO_BUCKETS[0], _NO_BUCKETS[1]
    offsets = np.cumsum([0] + [p[0][-1] for p in pieces[:-1]])
    indptr = np.concatenate([[0]] + [p[0][1:] + o for p, o in zip(pieces, offsets, strict=True)])
    index = np.concatenate([p[1] for p in pieces])
    counts = np.concatenate([p[2] for p in pieces])
    return indptr, index, counts


def decode_buckets(
    blobs: Sequence[str], layout: BucketLayout | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-empty buckets of each encoded histogram, as CSR arrays (indptr, index, counts).

    Blob ``i`` holds buckets ``index[indptr[i]:indptr[i + 1]]`` (ascending; counts alike) of
    ``layout`` (default: the timeline's). The counts are exactly what ``decode_histogram``
    and adding into a histogram of ``layout`` give, but without building any HdrHistogram;
    a blob recorded with another layout is converted through HdrHistogram, as ``add`` does.
    """
    layout = layout or LAYOUT
    streams: list[bytes] = []
    odd: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, blob in enumerate(blobs):
        stream = _stream(blob, layout) if blob else b""
        if stream is None:
            odd[i] = _buckets_via_hdrh(blob, layout)
            stream = b""
        streams.append(stream)
    decoded = _decode_chunked(streams)
    if decoded is None:  # fall back, blob by blob
        parts = [_buckets_via_hdrh(b, layout) if b else _NO_BUCKETS for b in blobs]
        return _stack(parts)
    indptr, index, counts = decoded
    if index.size and int(index.max()) >= layout.counts_len:
        raise IndexError(f"a histogram holds bucket {int(index.max())}, beyond {layout}")
    if not odd:
        return indptr, index, counts
    parts = [
        odd[i]
        if i in odd
        else (index[indptr[i] : indptr[i + 1]], counts[indptr[i] : indptr[i + 1]])
        for i in range(len(blobs))
    ]
    return _stack(parts)


_NO_BUCKETS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _stack(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    indptr = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([p[0].size for p in parts], out=indptr[1:])
    if not parts:
        return indptr, _NO_BUCKETS[0], _NO_BUCKETS[1]
    index = np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False)
    counts = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
    return indptr, index, counts


def _buckets_via_hdrh(blob: str, layout: BucketLayout) -> tuple[np.ndarray, np.ndarray]:
    """The slow, general way: decode with HdrHistogram and add into a ``layout`` histogram."""
    target = HdrHistogram(
        layout.lowest_trackable_value, layout.highest_trackable_value, layout.significant_figures
    )
    _add_encoded(target, blob)
    counts = np.ctypeslib.as_array(target.counts)[: target.counts_len]
    index = np.flatnonzero(counts)
    found = index.astype(np.int64), counts[index].astype(np.int64)
    _release(target)
    return found


def sum_blobs(blobs: Sequence[str]) -> SparseHistogram:
    """Every blob added together, as one sparse histogram of the timeline's layout."""
    _indptr, index, counts = decode_buckets(blobs)
    if len(blobs) > 1 and index.size:
        summed = np.bincount(index, weights=counts, minlength=0).astype(np.int64)
        index = np.flatnonzero(summed)
        counts = summed[index]
    return SparseHistogram(index, counts, LAYOUT)


def one_blob(blobs: Sequence[str]) -> str:
    """Several encoded histograms as one blob ("" for none): what a record writes when it
    holds the histograms of several merged records."""
    if len(blobs) == 1:
        return blobs[0]
    if blobs:
        return encode_histogram(sum_blobs(blobs).to_hdrhistogram(), release=True)
    return ""


def _narrow(index: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest integer types that hold these values, for arrays that are kept: bucket
    indexes of the timeline layout fit 16 bits, and so do almost all counts of one bucket in
    one second -- a quarter of the memory of 64-bit arrays."""
    return index.astype(_smallest(LAYOUT.counts_len - 1)), counts.astype(
        _smallest(int(counts.max()) if counts.size else 0)
    )


def _smallest(largest: int) -> type[np.integer]:
    for kind in (np.uint16, np.uint32):
        if largest <= np.iinfo(kind).max:
            return kind
    return np.int64


_CHUNK_ROWS = 64  # rows merged at once: a dense block of 64 x the buckets in use


def rows_from_blobs(
    blob_rows: np.ndarray,
    blobs: Sequence[str],
    rows: int,
    *,
    narrow: bool = False,
    decoded: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> BucketRows:
    """Per-row histograms from blobs (each tagged with its row, rows ascending), adding the
    blobs that share a row. ``narrow`` keeps the result in the smallest integer types.
    ``decoded`` is ``decode_buckets(blobs)`` when the caller has it already (the reader
    decodes every blob once to check it), used when there is one blob per row at most."""
    if len(blobs) == 0:
        return BucketRows(np.zeros(rows + 1, dtype=np.int64), *_NO_BUCKETS, LAYOUT)
    if np.all(np.diff(blob_rows) > 0):  # one blob per row at most
        indptr, index, counts = decoded if decoded is not None else decode_buckets(blobs)
        row_indptr = np.zeros(rows + 1, dtype=np.int64)
        row_indptr[blob_rows + 1] = np.diff(indptr)
        if narrow:
            index, counts = _narrow(index, counts)
        return BucketRows(np.cumsum(row_indptr), index, counts, LAYOUT)

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        bounds = np.searchsorted(blob_rows, np.arange(0, rows + _CHUNK_ROWS, _CHUNK_ROWS))
        for c, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            indptr, index, counts = decode_buckets(blobs[lo:hi])
            local = np.repeat(blob_rows[lo:hi] - c * _CHUNK_ROWS, np.diff(indptr))
            yield local, index, counts

    merged = _merge(chunks(), rows, _Growing())
    return (
        BucketRows(merged.indptr, *_narrow(merged.index, merged.counts), LAYOUT)
        if narrow
        else merged
    )


def merged_rows(parts: Sequence[BucketRows], rows: int, *, narrow: bool = False) -> BucketRows:
    """Several row sets of the same rows added together, row by row.

    The result is written straight into arrays sized for the parts' entries (a bound on
    its own): pages never written are never resident, and there is no second copy to
    concatenate. ``narrow`` keeps it in 16-bit indexes and the smallest counts type.
    """

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for first in range(0, rows, _CHUNK_ROWS):
            last = min(first + _CHUNK_ROWS, rows)
            pieces = [part.slice(first, last) for part in parts]
            local = [np.repeat(np.arange(last - first), np.diff(p.indptr)) for p in pieces]
            yield (
                np.concatenate(local),
                np.concatenate([p.index for p in pieces]).astype(np.int64),
                np.concatenate([p.counts for p in pieces]).astype(np.int64),
            )

    bound = sum(p.index.size for p in parts)
    largest = sum(int(p.counts.max()) for p in parts if p.counts.size)
    counts_type = _smallest(largest) if narrow else np.int64
    index_type = _smallest(LAYOUT.counts_len - 1) if narrow else np.int64
    out = _Preallocated(bound, index_type, counts_type)
    return _merge(chunks(), rows, out)


class _Preallocated:
    """Output arrays of a known maximum size, filled in order."""

    def __init__(self, capacity: int, index_type: type, counts_type: type) -> None:
        self.index = np.empty(capacity, dtype=index_type)
        self.counts = np.empty(capacity, dtype=counts_type)
        self.size = 0

    def add(self, index: np.ndarray, counts: np.ndarray) -> None:
        end = self.size + index.size
        self.index[self.size : end] = index
        self.counts[self.size : end] = counts
        self.size = end

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.index[: self.size], self.counts[: self.size]


class _Growing:
    """Output pieces of unknown total size, joined at the end."""

    def __init__(self) -> None:
        self.pieces: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, index: np.ndarray, counts: np.ndarray) -> None:
        self.pieces.append((index, counts))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.pieces:
            return _NO_BUCKETS
        return (
            np.concatenate([p[0] for p in self.pieces]),
            np.concatenate([p[1] for p in self.pieces]),
        )


def _merge(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    rows: int,
    out: _Preallocated | _Growing,
) -> BucketRows:
    """Rows from chunks of ``_CHUNK_ROWS`` rows, each given as (row in chunk, bucket index,
    count) triples in any order, duplicates added."""
    sizes = np.zeros(rows, dtype=np.int64)
    for c, (local, index, counts) in enumerate(chunks):
        if not index.size:
            continue
        # each (row, bucket) is a cell of a dense block; mark the cells in use (bytes, so
        # the scan stays in cache), number them, and add the counts into their numbers
        low = int(index.min())
        width = int(index.max()) + 1 - low
        cell = local * width + (index - low)
        used = np.zeros((int(local.max()) + 1) * width, dtype=bool)
        used[cell] = True
        cells = np.flatnonzero(used)
        number = np.empty(used.size, dtype=np.int64)
        number[cells] = np.arange(cells.size)
        sums = np.bincount(number[cell], weights=counts, minlength=cells.size)
        row_of = cells // width
        per_row = np.bincount(row_of, minlength=0)
        sizes[c * _CHUNK_ROWS : c * _CHUNK_ROWS + per_row.size] = per_row
        out.add(cells - row_of * width + low, sums.astype(np.int64))
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    return BucketRows(indptr, *out.arrays(), LAYOUT)
