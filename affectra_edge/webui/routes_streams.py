"""The long-lived responses: the MJPEG live view and the dashboard's server-sent events.

Each holds one of the server's worker threads, so routes marked ``stream=True`` take a slot
from :class:`StreamSlots` (503 when none is free) and give it back when the response ends;
closing the app (``WebServer.stop``) ends every stream within a second or two.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import bottle

from affectra_edge.live import LiveItem
from affectra_edge.types import FrameDecodeError
from affectra_edge.webui import render
from affectra_edge.webui.auth import LoginSession, SessionTable
from affectra_edge.webui.deps import WebDeps

logger = logging.getLogger(__name__)

STREAM_MAX_S = 300.0  # SSE/MJPEG responses end after this; browsers reconnect by themselves
BOUNDARY = "affectraframe"


class StreamSlots:
    """A Bottle plugin: at most ``n`` open streams, and a stop signal for all of them."""

    name = "affectra_streams"
    api = 2

    def __init__(self, n: int):
        self._slots = threading.BoundedSemaphore(max(1, n))
        self.stopping = threading.Event()

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        if not route.config.get("stream"):
            return callback

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Iterator:
            if not self._slots.acquire(blocking=False):
                raise bottle.HTTPError(503, "Too many live streams open; close another tab")
            try:
                body = callback(*args, **kwargs)
            except BaseException:
                self._slots.release()
                raise
            return self._release_after(body)

        return wrapper

    def _release_after(self, body: Iterator) -> Iterator:
        try:
            yield from body
        finally:
            self._slots.release()

    def close(self) -> None:
        self.stopping.set()


class _JpegCache:
    """The annotated JPEG of the newest frame, encoded once for all viewers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[int, str, bytes] | None = None

    def get(self, item: LiveItem, privacy: str) -> bytes:
        with self._lock:
            if self._last is not None and self._last[:2] == (item.seq, privacy):
                return self._last[2]
        try:
            data = render.encode(render.annotate(item.frame.image, item.result, privacy))
        except FrameDecodeError:
            # a JPEG whose preview decoded but whose full picture does not (rare)
            data = _placeholder("Camera frame did not decode")
        with self._lock:
            self._last = (item.seq, privacy, data)
        return data


@functools.lru_cache(maxsize=4)
def _placeholder(text: str = "Live image disabled") -> bytes:
    return render.placeholder(text=text)


def _part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


def register(app: bottle.Bottle, deps: WebDeps, sessions: SessionTable, *, threads: int) -> None:
    # Long-lived streams may hold at most half of the server's worker threads.
    slots = app.install(StreamSlots(threads // 2))
    stopping = slots.stopping
    jpegs = _JpegCache()

    @app.get("/stream.mjpg", stream=True)
    def stream(session: LoginSession) -> Iterator[bytes]:
        bottle.response.content_type = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        bottle.response.set_header("X-Accel-Buffering", "no")
        return _mjpeg(session)

    def _mjpeg(session: LoginSession) -> Iterator[bytes]:
        seq = 0
        t_end = time.monotonic() + STREAM_MAX_S
        last_sent = 0.0
        while not stopping.is_set() and time.monotonic() < t_end:
            if sessions.get(session.token) is None:
                return
            privacy = deps.settings.get("privacy")
            if privacy == "off":
                # No camera image at all, not even blurred: a placeholder card.
                yield _part(_placeholder())
                stopping.wait(2.0)
                continue
            item = deps.live.wait_newer(seq, timeout=1.0)
            if item is None:
                if time.monotonic() - last_sent > 5 and seq == 0:
                    yield _part(_placeholder("Waiting for the camera…"))
                    last_sent = time.monotonic()
                continue
            seq = item.seq
            yield _part(jpegs.get(item, privacy))
            last_sent = time.monotonic()
            # at most ~15 frames a second per viewer: a phone needs no more
            time.sleep(max(0.0, 1 / 15 - (time.monotonic() - last_sent)))

    @app.get("/api/events", stream=True)
    def api_events(session: LoginSession) -> Iterator[str]:
        bottle.response.content_type = "text/event-stream; charset=utf-8"
        bottle.response.set_header("X-Accel-Buffering", "no")
        return _events(session)

    def _events(session: LoginSession) -> Iterator[str]:
        yield "retry: 2000\n\n"
        t_end = time.monotonic() + STREAM_MAX_S
        while not stopping.is_set() and time.monotonic() < t_end:
            if sessions.get(session.token) is None:
                yield "event: logout\ndata: {}\n\n"
                return
            try:
                snap = deps.figures.now()
            except Exception:
                logger.exception("live figures failed")
                snap = {"error": "figures unavailable"}
            yield f"event: stats\ndata: {json.dumps(snap)}\n\n"
            stopping.wait(1.0)
