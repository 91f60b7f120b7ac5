"""The multipart parser on its own: wire variants, damage, memory bounds, fuzzing."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectra_edge.sources.mjpeg import (
    ESP32_BOUNDARY,
    MultipartParser,
    boundary_from_content_type,
    is_complete_jpeg,
)

B = ESP32_BOUNDARY.encode()


def fake_jpeg(i: int, n: int = 300) -> bytes:
    rng = random.Random(i)
    body = bytes(rng.randrange(256) for _ in range(n)).replace(b"\xff\xd9", b"\xff\x00")
    return b"\xff\xd8" + body + b"\xff\xd9"


def part_headers(payload: bytes, length: bool = True, ts: str | None = "12.000345") -> bytes:
    h = b"Content-Type: image/jpeg\r\n"
    if length:
        h += b"Content-Length: %d\r\n" % len(payload)
    if ts is not None:
        h += b"X-Timestamp: " + ts.encode() + b"\r\n"
    return h + b"\r\n"


def stock_stream(payloads, length=True, ts="12.000345") -> bytes:
    """app_httpd.cpp order: "\\r\\n--BOUNDARY\\r\\n", part headers, JPEG; repeated."""
    return b"".join(b"\r\n--" + B + b"\r\n" + part_headers(p, length, ts) + p for p in payloads)


def legacy_stream(payloads, length=False) -> bytes:
    """Tutorial order: part headers, JPEG, then the delimiter."""
    return b"".join(part_headers(p, length, None) + p + b"\r\n--" + B + b"\r\n" for p in payloads)


def feed_in_pieces(parser: MultipartParser, data: bytes, sizes) -> list:
    out, pos = [], 0
    sizes = list(sizes) or [len(data) or 1]
    k = 0
    while pos < len(data):
        n = max(1, sizes[k % len(sizes)])
        out += parser.feed(data[pos : pos + n])
        pos += n
        k += 1
    return out


PAYLOADS = [fake_jpeg(i) for i in range(6)]


@pytest.mark.parametrize("piece", [1, 2, 7, 64, 100_000])
@pytest.mark.parametrize(
    "stream",
    [
        stock_stream(PAYLOADS),
        stock_stream(PAYLOADS, length=False),
        stock_stream(PAYLOADS, ts=None),
        # stock order, but the final part is followed by the next delimiter only
        stock_stream(PAYLOADS, length=False) + b"\r\n--" + B + b"\r\n",
    ],
    ids=["length+ts", "no-length", "no-ts", "trailing-delimiter"],
)
def test_stock_order_any_chunking(stream, piece):
    parser = MultipartParser(ESP32_BOUNDARY)
    parts = feed_in_pieces(parser, stream, [piece])
    # without Content-Length the last part is only complete once the next delimiter arrives
    expected = (
        PAYLOADS if b"Content-Length" in stream or stream.endswith(B + b"\r\n") else PAYLOADS[:-1]
    )
    assert [p.payload for p in parts] == expected
    assert parser.stats.resyncs == 0
    assert all(p.content_type == "image/jpeg" for p in parts)


def test_timestamps_and_headers():
    parser = MultipartParser(ESP32_BOUNDARY)
    parts = parser.feed(stock_stream(PAYLOADS[:2], ts="1700000000.250000"))
    assert [p.timestamp for p in parts] == [1700000000.25, 1700000000.25]
    assert parts[0].headers["content-length"] == str(len(PAYLOADS[0]))
    parts = MultipartParser(ESP32_BOUNDARY).feed(stock_stream(PAYLOADS[:1], ts="not-a-number"))
    assert parts[0].timestamp is None


@pytest.mark.parametrize("piece", [1, 5, 1000])
def test_legacy_order_body_starts_with_headers(piece):
    parser = MultipartParser(ESP32_BOUNDARY)
    parts = feed_in_pieces(parser, legacy_stream(PAYLOADS), [piece])
    assert [p.payload for p in parts] == PAYLOADS
    assert parser.stats.resyncs == 0


def test_boundary_from_content_type_variants():
    assert (
        boundary_from_content_type(f"multipart/x-mixed-replace;boundary={ESP32_BOUNDARY}")
        == ESP32_BOUNDARY
    )
    assert boundary_from_content_type('multipart/x-mixed-replace; boundary="frame"') == "frame"
    assert boundary_from_content_type("multipart/x-mixed-replace;boundary=--frame") == "frame"
    assert boundary_from_content_type("multipart/x-mixed-replace") is None


def test_boundary_learned_from_the_stream_when_undeclared():
    data = b"".join(
        b"--myboundary\r\n" + part_headers(p, False, None) + p + b"\r\n" for p in PAYLOADS
    )
    data += b"--myboundary\r\n"
    parser = MultipartParser(None)
    assert [p.payload for p in parser.feed(data)] == PAYLOADS
    assert parser.boundary == b"myboundary"


def test_close_delimiter_ends_the_stream():
    parser = MultipartParser("frame")
    data = b"--frame\r\n" + part_headers(PAYLOADS[0]) + PAYLOADS[0] + b"\r\n--frame--\r\n"
    assert [p.payload for p in parser.feed(data)] == [PAYLOADS[0]]
    assert parser.finished
    assert parser.feed(stock_stream(PAYLOADS)) == []


def test_garbage_between_parts_is_skipped_and_counted():
    junk = bytes(random.Random(1).randrange(256) for _ in range(5000)).replace(b"--" + B, b"")
    data = stock_stream(PAYLOADS[:3]) + junk + stock_stream(PAYLOADS[3:])
    parser = MultipartParser(ESP32_BOUNDARY)
    parts = feed_in_pieces(parser, data, [333])
    assert [p.payload for p in parts] == PAYLOADS
    assert parser.stats.resyncs == 1
    assert parser.stats.skipped_bytes >= len(junk)


def test_lying_content_length_the_delimiter_wins():
    short = PAYLOADS[1][:100]  # truncated on the wire, header still claims the full size
    data = (
        stock_stream(PAYLOADS[:1])
        + b"\r\n--"
        + B
        + b"\r\n"
        + part_headers(PAYLOADS[1])
        + short
        + stock_stream(PAYLOADS[2:])
    )
    parser = MultipartParser(ESP32_BOUNDARY)
    parts = parser.feed(data)
    assert [p.payload for p in parts] == [PAYLOADS[0], short, *PAYLOADS[2:]]
    assert parser.stats.length_mismatches == 1
    assert not is_complete_jpeg(parts[1].payload)
    assert all(is_complete_jpeg(p.payload) for i, p in enumerate(parts) if i != 1)


def test_missing_boundary_is_bounded_and_recovers():
    limit = 64 * 1024
    parser = MultipartParser(ESP32_BOUNDARY, max_part_bytes=limit)
    # a part without Content-Length whose delimiter never comes: 1 MB of payload
    parser.feed(b"\r\n--" + B + b"\r\n" + part_headers(b"", length=False, ts=None))
    peak = 0
    blob = bytes(random.Random(2).randrange(256) for _ in range(4096)).replace(b"--", b"-x")
    for _ in range(256):
        parser.feed(blob)
        peak = max(peak, parser.buffered)
    assert peak <= parser.max_buffered
    assert parser.stats.overflows >= 1
    parts = parser.feed(stock_stream(PAYLOADS[:2]) + b"\r\n--" + B + b"\r\n")
    assert [p.payload for p in parts][-2:] == PAYLOADS[:2]


def test_huge_content_length_is_not_waited_for():
    parser = MultipartParser(ESP32_BOUNDARY, max_part_bytes=10_000)
    bad = b"\r\n--" + B + b"\r\nContent-Type: image/jpeg\r\nContent-Length: 999999999\r\n\r\n"
    parts = parser.feed(bad + b"x" * 500 + stock_stream(PAYLOADS[:2]))
    assert [p.payload for p in parts] == PAYLOADS[:2]
    assert parser.stats.overflows == 1


def test_endless_header_block_is_dropped():
    parser = MultipartParser(ESP32_BOUNDARY, max_header_bytes=1024)
    parser.feed(b"\r\n--" + B + b"\r\n" + b"X-Junk: " + b"a" * 50_000)
    assert parser.buffered <= parser.max_buffered
    assert parser.stats.bad_headers == 1
    assert [p.payload for p in parser.feed(stock_stream(PAYLOADS[:1]))] == PAYLOADS[:1]


def test_is_complete_jpeg():
    assert is_complete_jpeg(PAYLOADS[0])
    assert is_complete_jpeg(PAYLOADS[0] + b"\x00\x00")  # sensor padding after EOI
    assert not is_complete_jpeg(PAYLOADS[0][:-10])
    assert not is_complete_jpeg(b"GIF89a" + PAYLOADS[0])
    assert not is_complete_jpeg(b"")


# ---- fuzzing -------------------------------------------------------------------------------
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMIT = 32 * 1024


def _check_bounded(parser: MultipartParser, data: bytes, sizes) -> list:
    parts, pos, k = [], 0, 0
    while pos < len(data):
        n = sizes[k % len(sizes)]
        parts += parser.feed(data[pos : pos + n])
        assert parser.buffered <= parser.max_buffered
        pos += n
        k += 1
    for p in parts:
        assert len(p.payload) <= LIMIT + 8
    return parts


@FUZZ
@given(
    data=st.binary(max_size=20_000),
    sizes=st.lists(st.integers(1, 4096), min_size=1, max_size=8),
    boundary=st.sampled_from([ESP32_BOUNDARY, "frame", None]),
)
def test_fuzz_random_bytes_never_crash_or_grow(data, sizes, boundary):
    parser = MultipartParser(boundary, max_part_bytes=LIMIT, max_header_bytes=2048)
    _check_bounded(parser, data, sizes)
    parser.close()
    assert parser.buffered == 0


@FUZZ
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1, 2048), min_size=1, max_size=8),
    length=st.booleans(),
    mutations=st.integers(0, 12),
)
def test_fuzz_mutated_valid_streams(seed, sizes, length, mutations):
    """Flip, delete, insert and duplicate random spans of a valid stream: the parser must keep
    going, stay bounded, and keep most untouched parts intact."""
    rng = random.Random(seed)
    payloads = [fake_jpeg(seed + i, rng.randrange(50, 3000)) for i in range(8)]
    data = bytearray(stock_stream(payloads, length=length))
    for _ in range(mutations):
        op = rng.randrange(4)
        i = rng.randrange(len(data))
        n = rng.randrange(1, 200)
        if op == 0:
            data[i : i + n] = bytes(rng.randrange(256) for _ in range(min(n, len(data) - i)))
        elif op == 1:
            del data[i : i + n]
        elif op == 2:
            data[i:i] = bytes(rng.randrange(256) for _ in range(n))
        else:
            data[i:i] = data[i : i + n]
        if not data:
            data = bytearray(b"\r\n")
    parser = MultipartParser(ESP32_BOUNDARY, max_part_bytes=LIMIT, max_header_bytes=2048)
    parts = _check_bounded(parser, bytes(data) + b"\r\n--" + B + b"\r\n", sizes)
    if mutations == 0:
        assert [p.payload for p in parts] == payloads
    intact = sum(p.payload in payloads for p in parts)
    # each mutation can destroy at most two parts (the one it hits and a neighbour)
    assert intact >= len(payloads) - 2 * mutations


@FUZZ
@given(sizes=st.lists(st.integers(1, 512), min_size=1, max_size=16), length=st.booleans())
def test_fuzz_chunking_invariance(sizes, length):
    data = stock_stream(PAYLOADS, length=length) + b"\r\n--" + B + b"\r\n"
    parser = MultipartParser(ESP32_BOUNDARY)
    assert [p.payload for p in _check_bounded(parser, data, sizes)] == PAYLOADS
