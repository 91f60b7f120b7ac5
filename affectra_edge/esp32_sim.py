"""An ESP32-CAM simulator: a real HTTP server speaking the firmware's exact wire format.

For tests and for trying the appliance without hardware (``affectra-edge esp32-sim``). It
serves the frames of a video file, an image folder, or the demo scene as

* ``/stream`` — ``multipart/x-mixed-replace;boundary=123456789000000000000987654321``; every
  frame is ``"\\r\\n--" BOUNDARY "\\r\\n"``, then ``Content-Type: image/jpeg``,
  ``Content-Length`` and (optionally) ``X-Timestamp: <sec>.<usec>`` part headers, then the
  JPEG — exactly what Espressif's CameraWebServer ``app_httpd.cpp`` sends. Either chunked
  like esp_http_server (one chunk per ``httpd_resp_send_chunk`` call) or a plain body that
  ends when the connection closes. ``legacy_order`` sends headers first and the delimiter
  after the JPEG, as many tutorial sketches do.
* ``/capture`` — one JPEG; ``/status`` — JSON like the firmware's.
* ``/control?action=stall|resume|drop|garbage|truncate|badlength`` — fault injection, accepted
  from loopback only; the same controls exist as methods for tests.

Each ``/stream`` client gets its own playback from the first frame (deterministic for tests).
Timestamps follow the frame schedule: frame *i* of a connection opened at wall time ``t0`` is
stamped ``t0 + i / native_fps`` (``epoch``) or that minus the simulator's start
(``uptime``, like the stock firmware without SNTP), so a fast-forwarded stream still carries
the video's own timing.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from affectra_edge.sources.mjpeg import ESP32_BOUNDARY

logger = logging.getLogger(__name__)

Timestamps = Literal["epoch", "uptime", "none"]


@dataclass(frozen=True)
class SimOptions:
    #: chunked transfer encoding (esp_http_server) or a plain body closed by the server
    chunked: bool = True
    timestamps: Timestamps = "epoch"
    #: frames per second sent; None = the video's own rate, 0 = as fast as the client reads
    fps: float | None = None
    #: OpenCV JPEG quality 1–100
    quality: int = 85
    #: start the video again at its end (a camera never ends); else the stream closes
    loop: bool = True
    boundary: str = ESP32_BOUNDARY
    #: headers first, delimiter after the JPEG (tutorial sketches) instead of the stock order
    legacy_order: bool = False
    content_length: bool = True
    #: resize frames to (width, height); the demo scene is rendered at this size
    size: tuple[int, int] | None = None


@dataclass
class _Faults:
    """Pending fault injections, consumed by whichever stream sends next."""

    garbage: list[bytes] = field(default_factory=list)
    truncate: int = 0
    bad_length: int = 0


class FrameFeed:
    """BGR frames of a video, an image folder or the demo scene, with their native rate."""

    def __init__(self, video: str | os.PathLike | None, size: tuple[int, int] | None = None):
        self.video = None if video in (None, "", "demo") else Path(video)
        self.size = size
        if self.video is not None and not self.video.exists():
            raise FileNotFoundError(f"{self.video}: no such video file or image folder")
        self.fps = 10.0 if self.video is None else self._probe_fps()

    def _probe_fps(self) -> float:
        import cv2

        from affectra_edge.sources.file import video_fps

        assert self.video is not None
        if self.video.is_dir():
            return 10.0
        cap = cv2.VideoCapture(str(self.video))
        try:
            if not cap.isOpened():
                raise ValueError(f"{self.video}: cannot open as a video")
            fps = video_fps(cap)
        finally:
            cap.release()
        return 10.0 if fps is None else fps

    def frames(self, loop: bool) -> Iterator[np.ndarray]:
        import cv2

        while True:
            count = 0
            for img in self._once():
                count += 1
                if self.size and (img.shape[1], img.shape[0]) != self.size:
                    img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
                yield img
            if not loop or count == 0:
                return

    def _once(self) -> Iterator[np.ndarray]:
        import cv2

        from affectra_edge.sources.file import image_files, read_image, video_frames

        if self.video is None:
            from affectra_edge.sources.demo import CYCLE_S, DemoScene

            w, h = self.size or (640, 480)
            scene = DemoScene(w, h)
            for i in range(int(CYCLE_S * self.fps)):
                yield scene.render(i / self.fps)
        elif self.video.is_dir():
            for f in image_files(self.video):
                img = read_image(f)
                if img is not None:
                    yield img
        else:
            yield from video_frames(cv2.VideoCapture(str(self.video)))


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # a restarted simulator must get its port back while old sockets sit in TIME_WAIT
    allow_reuse_address = True
    sim: Esp32Simulator


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "esp32-sim"

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        sim = self.server.sim
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/stream":
                sim._serve_stream(self)
            elif url.path == "/capture":
                self._send(200, "image/jpeg", sim.capture())
            elif url.path == "/status":
                self._send(200, "application/json", json.dumps(sim.status()).encode())
            elif url.path == "/control":
                if not _is_loopback(self.client_address[0]):
                    self._send(403, "text/plain", b"control is loopback-only\n")
                    return
                query = dict(urllib.parse.parse_qsl(url.query))
                try:
                    result = sim.control(query)
                except (KeyError, ValueError) as exc:
                    self._send(400, "text/plain", f"{exc}\n".encode())
                    return
                self._send(200, "application/json", json.dumps(result).encode())
            elif url.path == "/":
                body = (
                    b"<!doctype html><title>ESP32-CAM simulator</title>"
                    b'<img src="/stream" alt="stream">'
                )
                self._send(200, "text/html", body)
            else:
                self._send(404, "text/plain", b"not found\n")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            pass  # the client went away (or we dropped it on purpose)

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")


class Esp32Simulator:
    """The simulated camera. ``start()`` binds (port 0 = a free port), ``stop()`` kills it."""

    def __init__(
        self,
        video: str | os.PathLike | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: SimOptions | None = None,
    ):
        self.options = options or SimOptions()
        self.feed = FrameFeed(video, self.options.size)
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running = threading.Event()  # set = streaming, clear = stalled
        self._running.set()
        self._stall_timer: threading.Timer | None = None
        self._faults = _Faults()
        self._clients: set[socket.socket] = set()
        self._last_jpeg: bytes | None = None
        self._boot = time.time()
        self._boot_mono = time.monotonic()
        self.frames_sent = 0
        self.connections = 0

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> Esp32Simulator:
        server = _Server((self.host, self.port), _Handler)
        server.sim = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="esp32-sim",
            daemon=True,
        )
        self._thread.start()
        logger.info("ESP32-CAM simulator on %s", self.stream_url)
        return self

    def stop(self) -> None:
        """Kill the camera: stop accepting, drop every client, release the port."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        self.drop_connections()
        self._running.set()  # release stalled handlers so their threads end
        if self._stall_timer is not None:
            self._stall_timer.cancel()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Esp32Simulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"{self.base_url}/stream"

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    # ---- fault injection -------------------------------------------------------------------
    def stall(self, seconds: float | None = None) -> None:
        """Stop sending (connections stay open) for ``seconds``, or until :meth:`resume`."""
        self._running.clear()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if seconds is not None:
            self._stall_timer = threading.Timer(seconds, self.resume)
            self._stall_timer.daemon = True
            self._stall_timer.start()

    def resume(self) -> None:
        self._running.set()

    @property
    def stalled(self) -> bool:
        return not self._running.is_set()

    def drop_connections(self) -> int:
        """Cut every open connection abruptly (like the camera's Wi-Fi dropping)."""
        with self._lock:
            socks = list(self._clients)
            self._clients.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(socks)

    def inject_garbage(self, nbytes: int = 512, *, count: int = 1, seed: int | None = None) -> None:
        """Send ``nbytes`` of random bytes (no boundary inside) before each of the next parts."""
        rng = np.random.default_rng(seed)
        delim = b"--" + self.options.boundary.encode()
        with self._lock:
            for _ in range(count):
                junk = rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes()
                self._faults.garbage.append(junk.replace(delim, b"x" * len(delim)))

    def inject_truncated(self, count: int = 1) -> None:
        """The next parts carry a truncated JPEG (Content-Length matches the cut bytes)."""
        with self._lock:
            self._faults.truncate += count

    def inject_bad_length(self, count: int = 1) -> None:
        """The next parts are cut short but their Content-Length claims the full JPEG."""
        with self._lock:
            self._faults.bad_length += count

    def control(self, query: dict[str, str]) -> dict:
        """``/control`` on loopback: the methods above by name."""
        action = query["action"]
        count = int(query.get("count", "1"))
        if action == "stall":
            self.stall(float(query["seconds"]) if "seconds" in query else None)
        elif action == "resume":
            self.resume()
        elif action == "drop":
            return {"ok": True, "dropped": self.drop_connections()}
        elif action == "garbage":
            self.inject_garbage(int(query.get("bytes", "512")), count=count)
        elif action == "truncate":
            self.inject_truncated(count)
        elif action == "badlength":
            self.inject_bad_length(count)
        else:
            raise ValueError(f"unknown action {action!r}")
        return {"ok": True, "action": action}

    # ---- endpoints -------------------------------------------------------------------------
    def capture(self) -> bytes:
        """One JPEG: the frame most recently streamed, or the first frame of the feed."""
        with self._lock:
            last = self._last_jpeg
        if last is not None:
            return last
        for img in self.feed.frames(loop=False):
            return encode_jpeg(img, self.options.quality)
        raise ValueError("the video holds no frames")

    def status(self) -> dict:
        w, h = self.options.size or (0, 0)
        return {
            "device": "esp32-cam",
            "simulator": True,
            "hostname": "esp32cam-sim",
            "width": w,
            "height": h,
            "quality": self.options.quality,
            "fps": self.options.fps if self.options.fps is not None else self.feed.fps,
            "uptime_s": round(time.monotonic() - self._boot_mono, 1),
            "rssi": -55,
            "clients": self.clients,
            "frames_sent": self.frames_sent,
            "chunked": self.options.chunked,
            "timestamps": self.options.timestamps,
            "stalled": self.stalled,
        }

    def _take_faults(self) -> tuple[bytes, str | None]:
        with self._lock:
            junk = self._faults.garbage.pop(0) if self._faults.garbage else b""
            fault = None
            if self._faults.truncate:
                self._faults.truncate -= 1
                fault = "truncate"
            elif self._faults.bad_length:
                self._faults.bad_length -= 1
                fault = "badlength"
            return junk, fault

    def _serve_stream(self, handler: _Handler) -> None:
        opts = self.options
        sock = handler.connection
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={opts.boundary}")
        handler.send_header("Access-Control-Allow-Origin", "*")
        handler.send_header("X-Framerate", f"{self.feed.fps:g}")
        if opts.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.flush()
        with self._lock:
            self._clients.add(sock)
            self.connections += 1
        wfile = handler.wfile

        def send(data: bytes) -> None:
            if not data:
                return
            if opts.chunked:  # one chunk per httpd_resp_send_chunk() call, like the firmware
                wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            else:
                wfile.write(data)

        delimiter = f"\r\n--{opts.boundary}\r\n".encode()
        native = self.feed.fps
        pace = native if opts.fps is None else opts.fps
        t0 = time.time()
        start = time.monotonic()
        shift = 0.0  # stalls push the schedule (and the capture times) later
        try:
            for i, img in enumerate(self.feed.frames(opts.loop)):
                if pace > 0:
                    delay = start + shift + i / pace - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                if not self._running.is_set():
                    stalled_at = time.monotonic()
                    while not self._running.wait(0.1):
                        if sock not in self._clients:
                            return
                    shift += time.monotonic() - stalled_at
                with self._lock:
                    if sock not in self._clients:
                        return  # dropped
                jpeg = encode_jpeg(img, opts.quality)
                with self._lock:
                    self._last_jpeg = jpeg
                junk, fault = self._take_faults()
                body, length = jpeg, len(jpeg)
                if fault == "truncate":
                    body = jpeg[: len(jpeg) // 2]
                    length = len(body)
                elif fault == "badlength":
                    body = jpeg[: len(jpeg) // 2]
                headers = "Content-Type: image/jpeg\r\n"
                if opts.content_length:
                    headers += f"Content-Length: {length}\r\n"
                ts = t0 + shift + i / native
                if opts.timestamps != "none":
                    if opts.timestamps == "uptime":
                        ts -= self._boot
                    sec = int(ts)
                    headers += f"X-Timestamp: {sec}.{int((ts - sec) * 1e6):06d}\r\n"
                headers += "\r\n"
                send(junk)
                if opts.legacy_order:
                    send(headers.encode())
                    send(body)
                    send(delimiter)
                else:
                    send(delimiter)
                    send(headers.encode())
                    send(body)
                wfile.flush()
                with self._lock:
                    self.frames_sent += 1
            # the feed ended (loop off): finish the response properly
            if opts.chunked:
                wfile.write(b"0\r\n\r\n")
                wfile.flush()
            handler.close_connection = True
        finally:
            with self._lock:
                self._clients.discard(sock)
