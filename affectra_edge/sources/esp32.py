"""ESP32-CAM over Wi-Fi (``[camera] type = "esp32"``): the MJPEG stream its firmware serves.

Works with this project's firmware (``esp32_cam/``) and with Espressif's stock
CameraWebServer (``http://<camera>:81/stream``). Standard library only: ``http.client`` for
the request and the response headers, :mod:`affectra_edge.sources.mjpeg` for the body
(chunked or plain; ``http.client`` removes the chunk framing).

Loss handling: every failure (refused, reset, a silent stream for ``camera.timeout_s``, the
camera closing the stream) raises :class:`SourceError`; the capture runner reconnects with
backoff. Damaged JPEGs and damaged stretches of the stream are skipped and counted as
``corrupt``; the parser bounds memory when a boundary goes missing.
"""

from __future__ import annotations

import collections
import http.client
import logging
import socket
import time
import urllib.parse
from typing import NamedTuple

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource, SourceError, SourceUnavailable
from affectra_edge.sources.common import SourceCounters, jpeg_frame, jpeg_header
from affectra_edge.sources.mjpeg import (
    DEFAULT_MAX_PART_BYTES,
    MultipartParser,
    Part,
    boundary_from_content_type,
)
from affectra_edge.types import Frame

logger = logging.getLogger(__name__)

#: the stock firmware answers within a second when it is up; DNS/mDNS may take a little longer
CONNECT_TIMEOUT_S = 5.0
READ_SIZE = 64 << 10


class DeviceClock:
    """Turns a part's ``X-Timestamp`` into epoch seconds.

    The stock firmware stamps frames with the ESP32's ``gettimeofday``, which is seconds since
    boot unless the sketch synchronised the clock (ours does, via SNTP). A stamp within
    ``max_skew_s`` of the arrival time is taken as an epoch time; anything else is a device
    clock whose *spacing* is trusted but whose origin is anchored to the arrival time of the
    first frame (and re-anchored if it drifts by more than ``max_drift_s``). Stamps never run
    backwards within one connection.
    """

    def __init__(self, max_skew_s: float = 300.0, max_drift_s: float = 2.0):
        self.max_skew_s = max_skew_s
        self.max_drift_s = max_drift_s
        self.offset: float | None = None
        self._last = 0.0

    def map(self, stamp: float | None, arrival: float) -> float:
        if stamp is None:
            ts = arrival
        elif abs(stamp - arrival) <= self.max_skew_s:
            ts = stamp
        else:
            if self.offset is None or abs(stamp + self.offset - arrival) > self.max_drift_s:
                self.offset = arrival - stamp
            ts = stamp + self.offset
        ts = max(ts, self._last)
        self._last = ts
        return ts


class StreamUrl(NamedTuple):
    https: bool
    host: str
    port: int | None
    #: what the GET asks for: the path and the query
    target: str


def parse_stream_url(url: str) -> StreamUrl:
    """Validate ``[camera] url``; a URL that can never work is :class:`SourceUnavailable`."""
    if not url:
        raise SourceUnavailable(
            "[camera] url is empty: set it to the camera's stream URL, "
            "e.g. http://esp32cam.local:81/stream"
        )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceUnavailable(
            f"[camera] url {url!r} is not an http:// URL (expected e.g. http://esp32cam.local:81/stream)"
        )
    try:
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise SourceUnavailable(f"[camera] url {url!r}: {exc}") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StreamUrl(parts.scheme == "https", parts.hostname, port, target)


class Esp32Source:
    live = True

    def __init__(
        self,
        camera: CameraConfig,
        counters: SourceCounters | None = None,
        *,
        max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ):
        self.camera = camera
        self.counters = counters or SourceCounters()
        self.url = camera.url
        self.max_part_bytes = max_part_bytes
        self.connect_timeout_s = min(connect_timeout_s, camera.timeout_s)
        self.parser: MultipartParser | None = None
        self.clock = DeviceClock()
        self._conn: http.client.HTTPConnection | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._sock: socket.socket | None = None
        self._pending: collections.deque[Part] = collections.deque()
        self._index = 0
        self._last_frame = 0.0
        self._seen = 0  # parser resyncs already counted as corrupt

    # ---- FrameSource -----------------------------------------------------------------------
    def open(self) -> None:
        url = parse_stream_url(self.url)
        cls = http.client.HTTPSConnection if url.https else http.client.HTTPConnection
        conn = cls(url.host, url.port, timeout=self.connect_timeout_s)
        try:
            conn.connect()
            self._sock = conn.sock
            conn.request("GET", url.target, headers={"Accept": "multipart/x-mixed-replace, */*"})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SourceError(f"{self.url}: cannot connect: {_describe(exc)}") from None
        if resp.status != 200:
            conn.close()
            raise SourceError(f"{self.url}: HTTP {resp.status} {resp.reason}")
        ctype = resp.getheader("Content-Type", "")
        if not ctype.lower().startswith("multipart/"):
            conn.close()
            raise SourceError(
                f"{self.url}: expected a multipart/x-mixed-replace MJPEG stream, got "
                f"{ctype or 'no Content-Type'} (the stock firmware streams on port 81 at /stream)"
            )
        if self._sock is not None:
            # from here on a silent camera is a lost camera
            self._sock.settimeout(self.camera.timeout_s)
        self._conn, self._resp = conn, resp
        self.parser = MultipartParser(
            boundary_from_content_type(ctype), max_part_bytes=self.max_part_bytes
        )
        self.clock = DeviceClock()
        self._pending.clear()
        self._seen = 0
        self._last_frame = time.monotonic()
        logger.info(
            "connected to %s (%s)",
            self.url,
            "chunked" if resp.getheader("Transfer-Encoding", "").lower() == "chunked" else "plain",
        )

    def read(self) -> Frame:
        if self._resp is None or self.parser is None:
            raise SourceError(f"{self.url}: not connected")
        while True:
            while not self._pending:
                self._fill()
            part = self._pending.popleft()
            head = jpeg_header(part.payload)
            if head is None:
                self.counters.inc("corrupt")
                logger.debug("%s: skipped a corrupt JPEG (%d bytes)", self.url, len(part.payload))
                continue
            # only a frame that is kept moves the device clock on
            ts = self.clock.map(part.timestamp, time.time())
            # Decoded in full only if the pipeline or the live view needs the picture.
            frame = jpeg_frame(part.payload, ts, self._index, self.camera.detect_width, head)
            assert frame is not None  # the header was checked
            self._last_frame = time.monotonic()
            self._index += 1
            return frame

    def close(self) -> None:
        conn, self._conn, self._resp, self._sock = self._conn, None, None, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def interrupt(self) -> None:
        """Unblock a ``read()`` waiting on the network (called from another thread on stop)."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---- internals -------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """The parser's view of the stream (for diagnostics)."""
        if self.parser is None:
            return {}
        s = self.parser.stats
        return {
            "parts": s.parts,
            "resyncs": s.resyncs,
            "skipped_bytes": s.skipped_bytes,
            "overflows": s.overflows,
            "bad_headers": s.bad_headers,
            "length_mismatches": s.length_mismatches,
            "buffered": self.parser.buffered,
        }

    def _fill(self) -> None:
        assert self._resp is not None and self.parser is not None
        silent = time.monotonic() - self._last_frame
        if silent > self.camera.timeout_s:
            # bytes may still trickle in (garbage, a stuck part), but no picture: lost
            raise SourceError(f"{self.url}: no frame for {silent:.1f} s")
        try:
            data = self._resp.read1(READ_SIZE)
        except TimeoutError:
            raise SourceError(
                f"{self.url}: stream silent for {self.camera.timeout_s:g} s (timeout_s)"
            ) from None
        except http.client.IncompleteRead:
            raise SourceError(f"{self.url}: the camera closed the stream mid-chunk") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # ValueError: http.client on a broken chunk size line
            raise SourceError(f"{self.url}: connection lost: {_describe(exc)}") from None
        if not data:
            raise SourceError(f"{self.url}: the camera closed the stream")
        self._pending.extend(self.parser.feed(data))
        # Damaged stretches of the stream (garbage, broken headers, a lost boundary) count
        # as corrupt like damaged JPEGs; each one is exactly one parser resync.
        resyncs = self.parser.stats.resyncs
        if resyncs > self._seen:
            self.counters.inc("corrupt", resyncs - self._seen)
        self._seen = resyncs


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, socket.gaierror):
        return f"host not found ({text})"
    return text


def create(camera: CameraConfig, counters: SourceCounters) -> FrameSource:
    return Esp32Source(camera, counters)
