"""The appliance: the composition root that ``run``, ``demo`` and the tests start.

It builds the parts and wires them together, and runs the pipeline thread. It serves no data
itself: the web UI, MQTT and systemd read the figures from :class:`LiveFigures` and change
settings through :class:`RuntimeSettings`.

Threads: one capture thread (:class:`CaptureRunner`), one pipeline thread (here), the store's
writer thread, the web server's worker pool and paho's network loop. Each part gets only the
configuration section it needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from affectra_edge.analysis import Analyzer
from affectra_edge.config import Config
from affectra_edge.figures import LiveFigures
from affectra_edge.live import LatestSlot
from affectra_edge.metrics import Registry
from affectra_edge.pipeline import Pipeline, build_pipeline
from affectra_edge.ports import EventSink
from affectra_edge.settings import RuntimeSettings, SettingsChange
from affectra_edge.sources.runner import CaptureRunner
from affectra_edge.types import Frame, FrameDecodeError, FrameResult, SessionEvent

if TYPE_CHECKING:  # built in from_config only when asked for (SQLCipher, paho, Bottle)
    import paho.mqtt.client as mqtt

    from affectra_edge.config import MqttConfig
    from affectra_edge.publish.fleet import FleetWatcher
    from affectra_edge.publish.mqtt import MqttPublisher
    from affectra_edge.store.store import Store
    from affectra_edge.webui import WebServer
    from affectra_edge.webui.deps import WebDeps

logger = logging.getLogger(__name__)


class Appliance:
    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        sinks: list[EventSink] | None = None,
        registry: Registry | None = None,
        pipeline: Pipeline | None = None,
        capture: CaptureRunner | None = None,
    ):
        self.registry = registry or Registry()
        self.live = LatestSlot()
        self.store = store
        self.publisher: MqttPublisher | None = None
        self.fleet: FleetWatcher | None = None
        self.web: WebServer | None = None
        self.pipeline = pipeline or build_pipeline(config)
        self.capture = capture or CaptureRunner(config.camera)
        self.settings = RuntimeSettings(config, store)
        self.figures = LiveFigures(
            self.capture,
            store,
            self.registry,
            expected_dwell_s=lambda: self.config.device.expected_dwell_s,
        )
        self.settings.subscribe(self._settings_changed)
        self.settings.subscribe(self.figures.invalidate)
        # Built from the effective configuration when first used.
        self.analyzer = Analyzer(lambda: build_pipeline(self.config))
        self.sinks: list[EventSink] = ([store] if store is not None else []) + list(sinks or [])
        self._session_listeners: list[Callable[[SessionEvent], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.first_frame = threading.Event()

    @property
    def config(self) -> Config:
        """The effective configuration (the file's, with the run-time settings applied)."""
        return self.settings.config

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
            app.settings.load_stored()
            if store is not None and not config.mqtt.enabled:
                # the configured intent, not this run's with_mqtt: docs/mqtt.md, "MQTT disabled"
                store.outbox_off()
            if (config.mqtt.enabled if with_mqtt is None else with_mqtt) and store is not None:
                from affectra_edge.publish.discovery import configuration_url
                from affectra_edge.publish.mqtt import MqttPublisher

                publisher = app.publisher = MqttPublisher(
                    config.mqtt,
                    config.device,
                    store,
                    registry=registry,
                    summary_fn=app.mqtt_summary,
                    topic_prefix=config.topic_prefix,
                    configuration_url=configuration_url(config.web),
                )
                app.figures.attach_mqtt(publisher)
                # on the pipeline thread, so the viewer count is read where it is written
                app.add_session_listener(
                    lambda ev: publisher.session_event(ev, app.pipeline.sessions.open_sessions)
                )
                if config.mqtt.fleet:
                    app.fleet = _fleet_watcher(config)
            if config.web.enabled if with_web is None else with_web:
                from affectra_edge.webui import UserStore, WebServer, create_app

                users = UserStore(users_file or config.web.users_file)
                web_app = create_app(app.web_deps(), users, config.web)
                app.web = WebServer(web_app, config.web, users=users)
        except BaseException:
            if store is not None:
                store.close()
            raise
        return app

    def web_deps(self) -> WebDeps:
        """What the web UI gets: the read model, the settings, the store, the camera, the
        live-frame slot, the metrics and the picture analyzer."""
        from affectra_edge.webui.deps import WebDeps

        return WebDeps(
            figures=self.figures,
            settings=self.settings,
            store=self.store,
            camera=self.capture,
            live=self.live,
            registry=self.registry,
            analyze=self.analyzer.observe,
            fleet=self.fleet,
            topic_prefix=self.config.topic_prefix,
        )

    def mqtt_summary(self) -> dict:
        """The figures for the retained MQTT summary, with the room and artwork as they are
        now (both can change at run time)."""
        device = self.config.device
        return {**self.figures.summary(), "room": device.name, "artwork": device.artwork}

    def add_session_listener(self, fn: Callable[[SessionEvent], None]) -> None:
        """Called on the pipeline thread for every session event (must be quick)."""
        self._session_listeners.append(fn)

    def _settings_changed(self, change: SettingsChange) -> None:
        sessions = self.pipeline.sessions
        if "threshold" in change.keys:
            sessions.threshold = change.config.classifier.threshold
        if "artwork" in change.keys:
            sessions.artwork = change.config.device.artwork

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Web port, camera, pipeline, then MQTT: the store is open and the models are loaded
        (``from_config``) and the port is bound before the device announces itself ``online``,
        so a port clash publishes nothing."""
        self._stop.clear()
        if self.web is not None:
            self.web.start()
        self.capture.start()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._thread.start()
        if self.publisher is not None:
            self.publisher.start()
        if self.fleet is not None:
            self.fleet.start()

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
        self._count_passers_by()
        self.live.close()
        # The store is flushed and MQTT says `offline` before the web server stops: a request
        # still running there (a picture being decoded) must not hold the goodbye up.
        flushed = self.store.flush(timeout) if self.store is not None else True
        if self.publisher is not None:
            deadline = time.monotonic() + drain_outbox_s
            store = self.store  # the publisher is only built with a store
            while store is not None and store.outbox_depth() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.publisher.stop(timeout)
        if self.fleet is not None:
            self.fleet.stop()
        if self.web is not None:
            self.web.stop()
        if self.store is not None:
            # bounded: with the disk full, what cannot be written is reported, not waited for
            # a second time (the whole stop stays within systemd's TimeoutStopSec)
            self.store.close(timeout if flushed else 1.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the pipeline thread ends (end of a file) or ``timeout``."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- pipeline thread -------------------------------------------------------------------
    def _dispatch(self, events: Iterable[SessionEvent]) -> None:
        for ev in events:
            if ev.kind == "end":
                self.figures.session_ended()
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

    def _count_passers_by(self) -> None:
        passed = self.pipeline.sessions.take_passers_by()
        if passed and self.store is not None:
            try:
                self.store.count_passers_by(passed)
            except Exception:
                logger.exception("counting passers-by failed")

    def process_frame(self, frame: Frame, decode_ms: float = 0.0) -> FrameResult:
        result = self.pipeline.process(frame, decode_ms)
        self._dispatch(result.events)
        self._count_passers_by()
        self.figures.frame_done(result, self.pipeline.sessions.open_sessions)
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
            except FrameDecodeError as exc:
                self.figures.frame_failed()
                logger.warning("%s", exc)
            except Exception:
                # One bad frame must not end the daemon; the watchdog notices if all fail.
                self.figures.frame_failed()
                logger.exception("pipeline failed on frame %d", frame.index)


def _fleet_watcher(config: Config) -> FleetWatcher | None:
    """The museum view's broker client, or None (with the reason logged) when this box's
    topic prefix has no shared root to watch."""
    from affectra_edge.publish.fleet import FleetWatcher
    from affectra_edge.publish.mqtt import configure_client, make_client, read_password

    def client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
        # the same credentials and TLS as the publisher: one ACL user per box
        c = make_client(cfg, client_id)
        configure_client(c, cfg, password=read_password(cfg))
        return c

    client_id = config.mqtt.client_id or f"affectra-edge-{config.device.id}"
    try:
        return FleetWatcher(config.mqtt, client_id, config.topic_prefix, make_client=client)
    except ValueError as exc:
        logger.warning("fleet view off: %s", exc)
        return None
