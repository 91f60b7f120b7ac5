"""The ESP32-CAM client against the simulator (and hand-made servers) over real loopback HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest

from affectra_edge.esp32_sim import SimOptions
from affectra_edge.ports import SourceError, SourceUnavailable
from affectra_edge.sources import SourceCounters, build_source
from affectra_edge.sources.esp32 import DeviceClock, Esp32Source
from affectra_edge.sources.mjpeg import ESP32_BOUNDARY
from tests.sources.camera_support import CLIP_FPS, CLIP_FRAMES, esp32_camera
from tests.support import free_port, wait_for


def open_source(url: str, counters: SourceCounters | None = None, **kw) -> Esp32Source:
    src = build_source(esp32_camera(url, **kw), counters or SourceCounters())
    assert isinstance(src, Esp32Source)
    src.open()
    return src


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "plain"])
@pytest.mark.parametrize("legacy", [False, True], ids=["stock-order", "legacy-order"])
def test_frames_equal_the_files_frames(simulators, clip, chunked, legacy):
    path, file_frames = clip
    sim = simulators(
        path,
        options=SimOptions(chunked=chunked, legacy_order=legacy, fps=0, quality=95, loop=False),
    )
    src = open_source(sim.stream_url)
    try:
        # without Content-Length the legacy order needs the next delimiter: read all but the last
        got = [src.read() for _ in range(CLIP_FRAMES - 1)]
    finally:
        src.close()
    assert [f.index for f in got] == list(range(CLIP_FRAMES - 1))
    for f, ref in zip(got, file_frames, strict=False):
        assert f.image.dtype == np.uint8 and f.image.shape == ref.shape
        # the simulator re-encodes as JPEG: near-equal, not equal
        assert np.abs(f.image.astype(np.int16) - ref).mean() < 2.0
    # X-Timestamp carries the video's own timing even though frames arrived unpaced
    steps = np.diff([f.timestamp for f in got])
    assert np.allclose(steps, 1 / CLIP_FPS, atol=2e-6)
    assert abs(got[0].timestamp - time.time()) < 60


def test_reads_the_demo_scene_paced(simulators):
    sim = simulators(None, options=SimOptions(fps=20, size=(320, 240)))
    src = open_source(sim.stream_url)
    try:
        frames = [src.read() for _ in range(5)]
    finally:
        src.close()
    assert all(f.image.shape == (240, 320, 3) for f in frames)
    wait_for(lambda: sim.status()["frames_sent"] >= 5)


def test_without_x_timestamp_the_arrival_time_is_used(simulators, clip):
    sim = simulators(clip[0], options=SimOptions(fps=0, timestamps="none"))
    src = open_source(sim.stream_url)
    try:
        before = time.time()
        f = src.read()
        after = time.time()
    finally:
        src.close()
    assert before <= f.timestamp <= after


def test_uptime_timestamps_keep_their_spacing_anchored_to_arrival(simulators, clip):
    sim = simulators(clip[0], options=SimOptions(fps=0, timestamps="uptime"))
    src = open_source(sim.stream_url)
    try:
        frames = [src.read() for _ in range(10)]
    finally:
        src.close()
    ts = [f.timestamp for f in frames]
    assert abs(ts[0] - time.time()) < 5  # anchored, not "seconds since boot"
    assert np.allclose(np.diff(ts), 1 / CLIP_FPS, atol=2e-6)


def test_device_clock_mapping():
    clock = DeviceClock(max_skew_s=300, max_drift_s=2)
    assert clock.map(1_700_000_000.5, 1_700_000_001.0) == 1_700_000_000.5  # synced clock
    c2 = DeviceClock()
    assert c2.map(12.0, 1_700_000_000.0) == 1_700_000_000.0  # uptime: anchored
    assert c2.map(12.5, 1_700_000_000.6) == 1_700_000_000.5  # spacing kept
    assert c2.map(12.4, 1_700_000_000.7) == 1_700_000_000.5  # never backwards
    assert c2.map(500.0, 1_700_000_010.0) == 1_700_000_010.0  # device rebooted: re-anchored
    assert DeviceClock().map(None, 42.0) == 42.0


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "plain"])
def test_garbage_and_truncated_jpegs_are_counted_and_skipped(simulators, clip, chunked):
    sim = simulators(clip[0], options=SimOptions(chunked=chunked, fps=0))
    counters = SourceCounters()
    src = open_source(sim.stream_url, counters)
    try:
        first = [src.read() for _ in range(3)]
        sim.inject_garbage(3000, count=2, seed=7)
        sim.inject_truncated(count=2)
        sim.inject_bad_length(count=1)
        later = [src.read() for _ in range(15)]
    finally:
        src.close()
    stats = src.stats()
    assert stats["resyncs"] == 2  # the two garbage runs
    assert stats["length_mismatches"] == 1
    # 2 garbage runs + 2 truncated + 1 cut short behind a lying Content-Length
    assert counters.corrupt == 5
    frames = first + later
    # every delivered frame is a whole picture; 3 indices were never handed out
    assert all(f.image.shape == clip[1][0].shape for f in frames)
    assert all(np.abs(f.image.astype(np.int16) - clip[1][0]).mean() < 40 for f in frames)
    ts = [f.timestamp for f in frames]
    assert ts == sorted(ts)
    assert round((ts[-1] - ts[0]) * CLIP_FPS) == len(frames) - 1 + 3  # the 3 skipped frames


def test_silent_stream_times_out(simulators, clip):
    sim = simulators(clip[0], options=SimOptions(fps=0))
    src = open_source(sim.stream_url, timeout_s=0.8)
    try:
        src.read()
        sim.stall()
        # drain what was already in flight, then the silence must surface as a loss
        with pytest.raises(SourceError, match=r"silent|no frame"):
            for _ in range(10_000):
                src.read()
    finally:
        sim.resume()
        src.close()


def test_dropped_connection_is_a_loss(simulators, clip):
    sim = simulators(clip[0], options=SimOptions(fps=20))
    src = open_source(sim.stream_url)
    try:
        src.read()
        assert sim.drop_connections() == 1
        with pytest.raises(SourceError, match=r"closed|lost"):
            for _ in range(1000):
                src.read()
    finally:
        src.close()


def test_connection_refused_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/stream"
    with pytest.raises(SourceError, match="cannot connect") as err:
        open_source(url)
    assert url in str(err.value)
    assert not isinstance(err.value, SourceUnavailable)  # the camera may come back


@pytest.mark.parametrize("url", ["", "rtsp://cam/stream", "http:///stream", "http://cam:99999/"])
def test_bad_urls_can_never_work(url):
    with pytest.raises(SourceUnavailable, match=r"\[camera\] url"):
        open_source(url)


def test_wrong_path_and_wrong_content_type(simulators, clip):
    sim = simulators(clip[0])
    with pytest.raises(SourceError, match="HTTP 404"):
        open_source(f"{sim.base_url}/nope")
    with pytest.raises(SourceError, match="expected a multipart/x-mixed-replace"):
        open_source(f"{sim.base_url}/status")


def test_capture_status_and_control_endpoints(simulators, clip):
    import cv2

    sim = simulators(clip[0], options=SimOptions(fps=0))
    with urllib.request.urlopen(f"{sim.base_url}/capture", timeout=5) as r:
        assert r.headers["Content-Type"] == "image/jpeg"
        img = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == clip[1][0].shape
    with urllib.request.urlopen(f"{sim.base_url}/status", timeout=5) as r:
        status = json.load(r)
    assert {"width", "height", "quality", "uptime_s", "rssi"} <= status.keys()
    with urllib.request.urlopen(f"{sim.base_url}/control?action=stall", timeout=5) as r:
        assert json.load(r)["ok"]
    assert sim.stalled
    urllib.request.urlopen(f"{sim.base_url}/control?action=resume", timeout=5).close()
    assert not sim.stalled
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{sim.base_url}/control?action=explode", timeout=5)
    assert err.value.code == 400


class RawServer:
    """A real TCP server that answers one request with hand-written response bytes."""

    def __init__(self, head: bytes, body_parts, hold_open: float = 0.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/stream"
        self.head, self.body_parts, self.hold_open = head, body_parts, hold_open
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(4096)
            try:
                conn.sendall(self.head)
                for piece in self.body_parts:
                    conn.sendall(piece)
                time.sleep(self.hold_open)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


#: the response head of an ESP32-CAM stream, for the hand-written bodies below
MULTIPART_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary="
    + ESP32_BOUNDARY.encode()
    + b"\r\nConnection: close\r\n\r\n"
)


def jpeg_of(color: int) -> bytes:
    import cv2

    img = np.full((48, 64, 3), color, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def test_missing_boundary_bounds_memory_then_resyncs():
    """A part without Content-Length whose delimiter never comes is discarded at the cap."""
    head = MULTIPART_HEAD
    delim = b"\r\n--" + ESP32_BOUNDARY.encode() + b"\r\n"
    hdr = b"Content-Type: image/jpeg\r\n\r\n"
    noise = bytes(np.random.default_rng(3).integers(0, 256, 1 << 20, dtype=np.uint8))
    noise = noise.replace(b"--", b"-x")
    good = jpeg_of(200)
    body = [delim + hdr + noise, noise, noise, delim + hdr + good, delim + hdr + good, delim]
    server = RawServer(head, body, hold_open=1.0)
    counters = SourceCounters()
    src = Esp32Source(esp32_camera(server.url), counters, max_part_bytes=256 * 1024)
    try:
        src.open()
        frame = src.read()
        peak = src.parser.max_buffered
        assert src.parser.buffered <= peak
        assert src.stats()["overflows"] >= 1
        assert counters.corrupt >= 1
        assert frame.image.shape == (48, 64, 3) and abs(int(frame.image.mean()) - 200) <= 2
    finally:
        src.close()
        server.close()


def test_leading_crlf_quoted_boundary_and_headers_first():
    """Hand-written variants: quoted boundary parameter, body starting with headers."""
    head = b'HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary="frame"\r\n\r\n'
    a, b = jpeg_of(50), jpeg_of(150)
    body = [
        b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(a) + a,
        b"\r\n--frame\r\nContent-Type: image/jpeg\r\nX-Timestamp: 5.5\r\n\r\n" + b,
        b"\r\n--frame\r\n",
    ]
    server = RawServer(head, body, hold_open=0.5)
    src = Esp32Source(esp32_camera(server.url))
    try:
        src.open()
        f1, f2 = src.read(), src.read()
    finally:
        src.close()
        server.close()
    assert abs(int(f1.image.mean()) - 50) <= 2 and abs(int(f2.image.mean()) - 150) <= 2


def test_a_corrupt_jpeg_does_not_move_the_device_clock():
    """A damaged part's timestamp is not taken: the next good frame keeps its own."""
    head = MULTIPART_HEAD
    delim = b"\r\n--" + ESP32_BOUNDARY.encode() + b"\r\n"
    now = time.time()

    def hdr(ts: float) -> bytes:
        return f"Content-Type: image/jpeg\r\nX-Timestamp: {ts:.6f}\r\n\r\n".encode()

    good = jpeg_of(120)
    # stamped 200 s ahead (within the clock's skew, so it would be taken as epoch time)
    body = [delim + hdr(now + 200.0) + good[: len(good) // 2], delim + hdr(now) + good, delim]
    server = RawServer(head, body, hold_open=1.0)
    counters = SourceCounters()
    src = Esp32Source(esp32_camera(server.url), counters)
    try:
        src.open()
        frame = src.read()
        assert counters.corrupt == 1
        assert abs(frame.timestamp - now) < 5.0  # not clamped to the corrupt part's stamp
    finally:
        src.close()
        server.close()
