"""The appliance: the composition root that ``run``, ``demo`` and the tests start.

Threads: one capture thread (:class:`CaptureRunner`), one pipeline thread (here), the store's
writer thread, the web server's worker pool and paho's network loop. Each part gets only the
configuration section it needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from affectra_edge.config import Config
from affectra_edge.live import LatestSlot
from affectra_edge.metrics import Registry
from affectra_edge.pipeline import Pipeline, build_pipeline
from affectra_edge.ports import EventSink
from affectra_edge.sources.runner import CaptureRunner
from affectra_edge.types import FaceObservation, Frame, SessionEvent

logger = logging.getLogger(__name__)


def local_day_start(now: float) -> float:
    """Epoch seconds of the last local midnight: "today" as gallery staff mean it."""
    lt = time.localtime(now)
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))


class _Rate:
    """Frames per second over a sliding window of wall time."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            while self._times and now - self._times[0] > self.window_s:
                self._times.popleft()

    def rate(self, now: float) -> float:
        with self._lock:
            while self._times and now - self._times[0] > self.window_s:
                self._times.popleft()
            if len(self._times) < 2:
                return 0.0
            # Over less than a second, two frames that happen to arrive close together
            # (the first inference is slow, the next frame is already waiting) would read as
            # a wild rate; count at least one second instead.
            span = max(now - self._times[0], 1.0)
            return (len(self._times) - 1) / span


class Appliance:
    def __init__(
        self,
        config: Config,
        *,
        store=None,
        sinks: list[EventSink] | None = None,
        registry: Registry | None = None,
        pipeline: Pipeline | None = None,
        capture: CaptureRunner | None = None,
    ):
        self.config = config
        self.registry = registry or Registry()
        self.live = LatestSlot()
        self.store = store
        self.publisher = None
        self.web = None
        self.pipeline = pipeline or build_pipeline(config)
        self.capture = capture or CaptureRunner(config.camera)
        self.sinks: list[EventSink] = ([store] if store is not None else []) + list(sinks or [])
        self._session_listeners: list[Callable[[SessionEvent], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._analyze_lock = threading.Lock()
        self._analyzer: Pipeline | None = None
        self._rate = _Rate()
        self._lock = threading.Lock()
        self.first_frame = threading.Event()
        self.processed_at: float | None = None
        self._faces_now = 0
        self._viewers_now = 0
        self._inference_ms = 0.0
        r = self.registry
        self._m_frames = r.counter("frames_processed_total", "frames through the pipeline")
        self._m_faces = r.counter("faces_detected_total", "face detections")
        self._m_sessions = r.counter("sessions_total", "viewer sessions ended")
        self._m_errors = r.counter("pipeline_errors_total", "frames the pipeline failed on")
        self._m_stage = r.gauge("stage_ms", "milliseconds per pipeline stage (last frame)")
        r.gauge("fps", "frames processed per second", fn=lambda: self._rate.rate(time.monotonic()))
        r.gauge(
            "inference_ms",
            "detect + classify milliseconds (last frame)",
            fn=lambda: self._inference_ms,
        )
        r.gauge("faces", "faces in the last frame", fn=lambda: self._faces_now)
        r.gauge("viewers_now", "viewers in front of the artwork now", fn=lambda: self._viewers_now)
        r.gauge(
            "source_frames",
            "frames captured by the source",
            fn=lambda: self.capture.counters.frames,
        )
        r.gauge(
            "dropped_frames",
            "frames dropped because the pipeline was busy",
            fn=lambda: self.capture.counters.dropped,
        )
        r.gauge(
            "corrupt_frames", "corrupt frames skipped", fn=lambda: self.capture.counters.corrupt
        )
        r.gauge(
            "source_reconnects", "camera reconnects", fn=lambda: self.capture.counters.reconnects
        )

    # ---- composition -----------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        with_store: bool = True,
        with_mqtt: bool | None = None,
        with_web: bool | None = None,
        users_file: str | Path | None = None,
    ) -> Appliance:
        """Build every part the configuration asks for (store, MQTT, web)."""
        registry = Registry()
        store = None
        if with_store:
            from affectra_edge.store import open_store

            store = open_store(
                config.storage,
                device_id=config.device.id,
                artwork=config.device.artwork,
                min_dwell_s=config.sessions.min_dwell_s,
                registry=registry,
            )
        try:
            app = cls(config, store=store, registry=registry)
            app._apply_stored_settings()
            if (config.mqtt.enabled if with_mqtt is None else with_mqtt) and store is not None:
                from affectra_edge.publish.mqtt import MqttPublisher

                app.publisher = MqttPublisher(
                    config.mqtt,
                    config.device,
                    store,
                    registry=registry,
                    summary_fn=app.summary,
                    topic_prefix=config.topic_prefix,
                )
                app.add_session_listener(lambda ev: app.publisher.summary_changed())
            if config.web.enabled if with_web is None else with_web:
                from affectra_edge.webui import UserStore, WebServer, create_app

                users = UserStore(users_file or config.web.users_file)
                app.web = WebServer(create_app(app, users=users), config.web)
        except BaseException:
            if store is not None:
                store.close()
            raise
        return app

    def add_session_listener(self, fn: Callable[[SessionEvent], None]) -> None:
        """Called on the pipeline thread for every session event (must be quick)."""
        self._session_listeners.append(fn)

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self.capture.start()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._thread.start()
        if self.publisher is not None:
            self.publisher.start()
        if self.web is not None:
            self.web.start()

    def stop(self, timeout: float = 5.0, *, drain_outbox_s: float = 0.0) -> None:
        """Stop capture and pipeline, close open sessions, flush the store, say goodbye.

        ``drain_outbox_s``: give the MQTT publisher that long to deliver what is queued (the
        outbox survives a restart anyway; this is for one-shot runs like ``replay``)."""
        self._stop.set()
        self.capture.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        # Viewers still in front of the camera at shutdown end at their last sighting.
        self._dispatch(self.pipeline.finish())
        self.live.close()
        if self.web is not None:
            self.web.stop()
        if self.store is not None:
            self.store.flush(timeout)
        if self.publisher is not None:
            deadline = time.monotonic() + drain_outbox_s
            while self.store.outbox_depth() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.publisher.stop(timeout)
        if self.store is not None:
            self.store.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the pipeline thread ends (end of a file) or ``timeout``."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- pipeline thread -------------------------------------------------------------------
    def _dispatch(self, events) -> None:
        for ev in events:
            if ev.kind == "end":
                self._m_sessions.inc()
            for sink in self.sinks:
                try:
                    sink.on_event(ev)
                except Exception:
                    logger.exception("session sink %s failed", type(sink).__name__)
            for fn in self._session_listeners:
                try:
                    fn(ev)
                except Exception:
                    logger.exception("session listener failed")

    def process_frame(self, frame: Frame, decode_ms: float = 0.0):
        self.captured_at = time.monotonic()
        result = self.pipeline.process(frame, decode_ms)
        self._dispatch(result.events)
        self.processed_at = time.monotonic()
        self._rate.tick(self.processed_at)
        visible = sum(1 for f in result.faces if f.visible)
        self._faces_now = visible
        self._viewers_now = self.pipeline.sessions.open_sessions
        self._inference_ms = result.stage_ms.get("detect", 0.0) + result.stage_ms.get(
            "classify", 0.0
        )
        for stage, ms in result.stage_ms.items():
            self._m_stage.set(ms, stage=stage)
        self._m_frames.inc()
        self._m_faces.inc(visible)
        self.live.publish(frame, result)
        self.first_frame.set()
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.capture.next_frame(timeout=0.5)
            if frame is None:
                if self.capture.ended and not self.capture.live:
                    break
                continue
            try:
                self.process_frame(frame)
            except Exception:
                # One bad frame must not end the daemon; the watchdog notices if all fail.
                self._m_errors.inc()
                logger.exception("pipeline failed on frame %d", frame.index)

    # ---- what the web UI, MQTT and systemd read --------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {
            "fps": round(self._rate.rate(time.monotonic()), 2),
            "inference_ms": round(self._inference_ms, 2),
            "faces": self._faces_now,
            "viewers_now": self._viewers_now,
            "frames": int(self._m_frames.value()),
            "sessions": int(self._m_sessions.value()),
        }

    def progress(self) -> dict[str, Any]:
        mqtt = self.publisher.state if self.publisher is not None else "disabled"
        return {
            "captured_at": self.capture.last_frame_at,
            "processed_at": self.processed_at,
            "state": self.capture.state,
            "error": self.capture.error,
            "fps": self.stats()["fps"],
            "viewers": self._viewers_now,
            "mqtt": mqtt,
        }

    def summary(self) -> dict[str, Any]:
        """Today's figures (local day) and the live state, as MQTT and the dashboard show them."""
        now = time.time()
        base: dict[str, Any] = {
            "visitors_today": 0,
            "avg_dwell_s": 0.0,
            "dominant": None,
            "emotions": {},
        }
        if self.store is not None:
            s = self.store.summary(local_day_start(now), now)
            base.update(
                visitors_today=s["visitors"],
                avg_dwell_s=s["avg_dwell_s"],
                dominant=s["dominant"],
                emotions=s["emotions"],
            )
        stats = self.stats()
        base.update(viewers_now=stats["viewers_now"], fps=stats["fps"])
        return base

    def mqtt_status(self) -> dict[str, Any]:
        if self.publisher is None:
            return {"state": "disabled"}
        return self.publisher.status()

    # ---- run-time settings -----------------------------------------------------------------
    SETTINGS = ("threshold", "retention_days", "max_sessions", "artwork", "device_name")

    def _apply_stored_settings(self) -> None:
        if self.store is None:
            return
        stored = {k: self.store.get_setting(k) for k in self.SETTINGS}
        self._apply({k: v for k, v in stored.items() if v is not None})

    def _apply(self, settings: dict[str, Any]) -> None:
        sessions = self.pipeline.sessions
        cfg = self.config
        if "threshold" in settings:
            sessions.threshold = float(settings["threshold"])
            cfg = replace(
                cfg, classifier=replace(cfg.classifier, threshold=float(settings["threshold"]))
            )
        if "artwork" in settings:
            sessions.artwork = str(settings["artwork"])
            cfg = replace(cfg, device=replace(cfg.device, artwork=str(settings["artwork"])))
        if "device_name" in settings:
            cfg = replace(cfg, device=replace(cfg.device, name=str(settings["device_name"])))
        storage = cfg.storage
        if "retention_days" in settings:
            storage = replace(storage, retention_days=int(settings["retention_days"]))
        if "max_sessions" in settings:
            storage = replace(storage, max_sessions=int(settings["max_sessions"]))
        if storage is not cfg.storage:
            cfg = replace(cfg, storage=storage)
            if self.store is not None and hasattr(self.store, "set_retention"):
                self.store.set_retention(storage.retention_days, storage.max_sessions)
        self.config = cfg

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Apply validated run-time settings now and persist them in the store."""
        unknown = set(settings) - set(self.SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        self._apply(settings)
        if self.store is not None:
            for k, v in settings.items():
                self.store.set_setting(k, v)

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "threshold": c.classifier.threshold,
            "retention_days": c.storage.retention_days,
            "max_sessions": c.storage.max_sessions,
            "artwork": c.device.artwork,
            "device_name": c.device.name,
        }

    # ---- one-off analysis (web upload, CLI) ------------------------------------------------
    def analyze_image(self, image: np.ndarray) -> list[FaceObservation]:
        """Faces and emotions in one picture; nothing is kept. A separate model instance, so the
        live pipeline's interpreters are never shared across threads."""
        with self._analyze_lock:
            if self._analyzer is None:
                self._analyzer = build_pipeline(self.config)
            obs, _ = self._analyzer.observe(Frame(image, time.time(), 0))
            return obs
