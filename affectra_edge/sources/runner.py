"""The capture thread: owns one frame source, reconnects it with backoff, hands frames on.

Live sources write into a one-item slot (the newest frame wins and the overwritten one is
counted as dropped) so capture never waits for inference. File sources go through a short
blocking queue so that every frame is processed, in order. The source's own ``live`` attribute
(:class:`~affectra_edge.ports.FrameSource`) says which of the two it is; until a camera's first
source is built, the runner takes it for live.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Literal

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource, SourceError, SourceUnavailable
from affectra_edge.sources import SourceCounters, build_source
from affectra_edge.types import Frame

logger = logging.getLogger(__name__)

State = Literal["connecting", "streaming", "lost", "ended", "error", "stopped"]

_END = object()


class CaptureRunner:
    def __init__(
        self,
        camera: CameraConfig,
        *,
        factory: Callable[[CameraConfig, SourceCounters], FrameSource] = build_source,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._factory = factory
        self._clock = clock
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.camera = camera
        self.counters = SourceCounters()
        self.state: State = "stopped"
        self.error: str = ""
        self.state_since = clock()
        self.last_frame_at: float | None = None
        #: connection attempts since start (a camera that never answers still shows progress)
        self.attempts = 0
        #: why the camera the runner was started with can never work, when it failed with
        #: SourceUnavailable before its first frame ("" otherwise). Nothing to wait for: the
        #: daemon exits 5. A camera switched to at run time never sets it.
        self.unusable = ""
        self._switched = False
        self._last_warning: tuple[str, float] = ("", 0.0)
        self._latest: Frame | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._live = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0
        #: the source the capture thread currently owns (for interrupting a blocked read)
        self._source: FrameSource | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._generation += 1
        self._thread = threading.Thread(
            target=self._run, args=(self.camera, self._generation), name="capture", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        # A network read may block for up to timeout_s; sources that can be woken up from
        # another thread (ESP32: shut the socket down) are, so stop/switch stay prompt.
        source = self._source
        interrupt = getattr(source, "interrupt", None)
        if callable(interrupt):
            try:
                interrupt()
            except Exception:
                logger.debug("interrupting the source failed", exc_info=True)
        with self._cond:
            self._cond.notify_all()
        # unblock a producer waiting on a full queue
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                # its frames are ignored from now on (generation check in _deliver)
                logger.warning("capture thread did not stop within %.1f s", timeout)
        self._generation += 1
        self._set_state("stopped")

    def switch(self, camera: CameraConfig) -> None:
        """Replace the source at run time (from the UI/API); counters start again."""
        logger.info("switching camera to %s", camera.type)
        self.stop()
        self._switched = True
        self.camera = camera
        self.counters = SourceCounters()
        self._latest = None
        self._queue = queue.Queue(maxsize=4)
        self._live = True
        self.start()

    @property
    def live(self) -> bool:
        return self._live

    # ---- consumer side ---------------------------------------------------------------------
    def next_frame(self, timeout: float = 1.0) -> Frame | None:
        """The next frame for the pipeline, or None on timeout / end of a file."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._live:
                # also wakes when the source turns out not to be live (see _run)
                if not self._cond.wait_for(
                    lambda: self._latest is not None or self._stop.is_set() or not self._live,
                    timeout,
                ):
                    return None
                if self._live:
                    frame, self._latest = self._latest, None
                    return frame
        try:
            item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        return None if item is _END else item

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    def status(self) -> dict:
        with self._lock:
            return {
                "type": self.camera.type,
                "source": self._describe(self.camera),
                "state": self.state,
                "error": self.error,
                "since_s": round(self._clock() - self.state_since, 1),
                "last_frame_age_s": (
                    None
                    if self.last_frame_at is None
                    else round(self._clock() - self.last_frame_at, 2)
                ),
                "attempts": self.attempts,
                **self.counters.as_dict(),
            }

    @staticmethod
    def _describe(camera: CameraConfig) -> str:
        return {"file": camera.path, "usb": camera.device, "esp32": camera.url}.get(
            camera.type, camera.type
        )

    # ---- producer side ---------------------------------------------------------------------
    def _set_state(self, state: State, error: str = "") -> None:
        with self._lock:
            if state != self.state:
                self.state_since = self._clock()
            self.state = state
            self.error = error

    def _warn_lost(self, camera: CameraConfig, error: str, delay: float) -> None:
        """Warn on a new kind of loss; repeats of the same one only every few minutes, so a
        camera that stays unplugged for a month does not flood the journal."""
        now = self._clock()
        last_error, last_at = self._last_warning
        if error != last_error or now - last_at >= 300.0:
            logger.warning("camera %s lost: %s; retrying in %.1f s", camera.type, error, delay)
            self._last_warning = (error, now)
        else:
            logger.debug("camera %s still lost: %s; retrying in %.1f s", camera.type, error, delay)

    def _set_state_for(self, generation: int, state: State, error: str = "") -> None:
        if generation == self._generation:  # a stale thread must not overwrite the new state
            self._set_state(state, error)

    def _deliver(self, frame: Frame, generation: int) -> None:
        if generation != self._generation or self._stop.is_set():
            return  # a thread left over from before a switch: never mix two cameras' frames
        self.counters.inc("frames")
        self.last_frame_at = self._clock()
        if self._live:
            with self._cond:
                if self._latest is not None:
                    self.counters.inc("dropped")
                self._latest = frame
                self._cond.notify_all()
        else:
            self._put(frame)

    def _put(self, item: object) -> None:
        """Blocking put for file sources that gives up when the runner is stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self, camera: CameraConfig, generation: int) -> None:
        delay = camera.reconnect_min_s
        first = True
        while not self._stop.is_set():
            self._set_state_for(generation, "connecting")
            source: FrameSource | None = None
            if generation == self._generation:
                self.attempts += 1
            try:
                source = self._factory(camera, self.counters)
                self._source = source
                if generation == self._generation and source.live != self._live:
                    with self._cond:
                        self._live = source.live
                        self._cond.notify_all()
                source.open()
                if not first and generation == self._generation:
                    self.counters.inc("reconnects")
                first = False
                got_frame = False
                while not self._stop.is_set():
                    frame = source.read()
                    if frame is None:
                        self._set_state_for(generation, "ended")
                        if not self._live:
                            self._put(_END)
                        logger.info("source %s: end of stream", self._describe(camera))
                        return
                    if not got_frame:
                        got_frame = True
                        delay = camera.reconnect_min_s
                        self._set_state_for(generation, "streaming")
                        logger.info("source %s: streaming", self._describe(camera))
                    self._deliver(frame, generation)
            except SourceUnavailable as exc:
                logger.error("camera %s: %s", camera.type, exc)
                self._set_state_for(generation, "error", str(exc))
                current = generation == self._generation and not self._switched
                if current and self.counters.frames == 0:
                    self.unusable = str(exc)
                if not self._live:
                    self._put(_END)
                return
            except SourceError as exc:
                if self._stop.is_set():
                    break  # interrupted by stop(): not a loss
                self._warn_lost(camera, str(exc), delay)
                self._set_state_for(generation, "lost", str(exc))
            except Exception as exc:  # a source bug must not take the daemon down
                logger.exception("camera %s failed; retrying in %.1f s", camera.type, delay)
                self._set_state_for(generation, "lost", f"{type(exc).__name__}: {exc}")
            finally:
                if self._source is source:
                    self._source = None
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        logger.debug("closing source failed", exc_info=True)
            self._stop.wait(delay)
            delay = min(camera.reconnect_max_s, delay * 2)
