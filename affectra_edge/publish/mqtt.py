"""The MQTT publisher: sessions from the store's outbox (at least once, in order), the retained
status, summary and viewer count, viewer arrival/departure events, and Home Assistant
discovery.

Threads: paho's network loop (``loop_start``) runs the callbacks; one sender thread of ours
reads the outbox, publishes, acknowledges to the store and refreshes the summary. The store
wakes the sender after each commit that added outbox rows (:meth:`Store.on_outbox`). Nothing
here is ever called from the pipeline except :meth:`MqttPublisher.session_event`, which only
queues and sets an event, so a dead broker can never slow the pipeline down.

Cadence (docs/mqtt.md): the summary every ``summary_interval_s`` and about a second after a
session ends, never on a mere change of the viewer count (that has its own retained topic,
at most once a second); discovery at most once per :data:`DISCOVERY_MIN_INTERVAL_S`, however
often Home Assistant announces itself.

Delivery: an outbox row is handed to paho while connected, at most ``WINDOW`` at a time, and
deleted from the store only when paho's ``on_publish`` reports the broker's PUBACK for its
message id. paho keeps unacknowledged QoS 1 messages across reconnects and re-sends them
(with DUP) in their original order before anything newer; rows handed out before a process
restart are simply read again from the outbox. Either way a subscriber may see a session
twice and must de-duplicate by ``session_id``; it never misses one.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from affectra_edge.config import DeviceConfig, MqttConfig
from affectra_edge.metrics import Registry
from affectra_edge.publish.discovery import DeviceInfo, discovery_configs
from affectra_edge.publish.payloads import (
    STATUS_OFFLINE,
    STATUS_ONLINE,
    Topics,
    dumps,
    event_payload,
    summary_payload,
    viewers_payload,
)
from affectra_edge.secrets import read_secret
from affectra_edge.store.outbox import OutboxItem, register_depth_gauge
from affectra_edge.types import SessionEvent, iso_utc

logger = logging.getLogger(__name__)

#: session messages handed to paho and not yet PUBACKed (paho's own in-flight cap matches)
WINDOW = 20
#: at most one summary per this many seconds when sessions end in a burst
SUMMARY_DEBOUNCE_S = 1.0
#: at most one retained viewer count per this many seconds (the event topic is immediate)
VIEWERS_DEBOUNCE_S = 1.0
#: Home Assistant re-discovery at most this often (one HA restart announces itself once; a
#: looping or hostile client must not turn each "online" into 18 retained publishes)
DISCOVERY_MIN_INTERVAL_S = 30.0
#: arrival/departure events waiting for the sender; beyond this the oldest are dropped
EVENT_QUEUE = 1000
#: CONNACK reason codes that mean "your credentials are not accepted" (v3 rc 4/5 map here)
AUTH_REASONS = {0x86, 0x87, 0x8C}  # bad user name or password, not authorized, bad auth method


def configure_client(client: mqtt.Client, cfg: MqttConfig, *, password: str | None = None) -> None:
    """Credentials and TLS exactly as the configuration asks (shared with ``mqtt-check``)."""
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    if cfg.tls:
        # tls_set with CERT_REQUIRED turns hostname checking on: a certificate for another
        # name is refused like an untrusted one.
        client.tls_set(
            ca_certs=cfg.ca_file or None,
            certfile=cfg.cert_file or None,
            keyfile=cfg.key_file or None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        client.tls_insecure_set(False)


def make_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    protocol = mqtt.MQTTv5 if cfg.protocol == "5" else mqtt.MQTTv311
    kwargs: dict[str, Any] = {
        "callback_api_version": CallbackAPIVersion.VERSION2,
        "client_id": client_id,
        "protocol": protocol,
    }
    if protocol == mqtt.MQTTv311:
        # The outbox, not the broker session, is what survives a restart of either side.
        kwargs["clean_session"] = True
    return mqtt.Client(**kwargs)


def read_password(cfg: MqttConfig) -> str | None:
    """The MQTT password from ``$CREDENTIALS_DIRECTORY/mqtt-password`` or ``password_file``."""
    try:
        return read_secret("mqtt-password", cfg.password_file or None)
    except OSError as exc:
        # The broker will refuse us and the state says so; a crash loop would not help.
        logger.error("mqtt: cannot read password file %s: %s", cfg.password_file, exc)
        return None


def describe_connect_error(exc: BaseException | None) -> tuple[str, str]:
    """``(state, message)`` for an exception raised while connecting."""
    if exc is None:
        return "disconnected", "connection failed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "error", f"TLS certificate not accepted: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return "error", f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "disconnected", "connection refused (is the broker running?)"
    if isinstance(exc, TimeoutError):
        return "disconnected", "connection timed out"
    if isinstance(exc, socket.gaierror):
        return "disconnected", f"cannot resolve the broker's host name ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return "disconnected", f"cannot reach the broker: {exc.strerror}"
    return "disconnected", f"{type(exc).__name__}: {exc}"


def describe_refusal(reason_code: ReasonCode) -> str:
    """A CONNACK refusal in words (paho says "Unspecified error" for MQTT 5's 0x80)."""
    text = str(reason_code)
    if reason_code.value == 0x80:
        text = "unspecified error (0x80): see the broker's log"
    return f"broker refused the connection: {text}"


def no_connack_message(keepalive_s: float) -> str:
    return (
        f"the broker accepted the TCP connection but sent no CONNACK within {keepalive_s:g} s "
        "(not an MQTT listener, a TLS port without tls = true, or an overloaded broker)"
    )


class OutboxStore(Protocol):
    """What the publisher needs from the store: the outbox."""

    @property
    def outbox_dropped(self) -> int: ...
    def outbox_depth(self) -> int: ...
    def outbox_peek(self, limit: int = 100) -> list[OutboxItem]: ...
    def outbox_ack(self, ids: Sequence[int]) -> None: ...
    def on_outbox(self, fn: Callable[[], None]) -> Callable[[], None]: ...


class MqttPublisher:
    """See the module docstring. ``start()`` once, ``stop()`` once."""

    def __init__(
        self,
        mqtt_cfg: MqttConfig,
        device: DeviceConfig,
        store: OutboxStore | None,
        *,
        registry: Registry,
        summary_fn: Callable[[], Mapping[str, Any]],
        topic_prefix: str,
        configuration_url: str | None = None,
    ):
        self.cfg = mqtt_cfg
        self.device = device
        self.device_info = DeviceInfo(device.id, device.name, configuration_url)
        self.store = store
        self.summary_fn = summary_fn
        self.topics = Topics(topic_prefix.rstrip("/"), mqtt_cfg.discovery_prefix.rstrip("/"))
        self.client_id = mqtt_cfg.client_id or f"affectra-edge-{device.id}"
        self.broker = f"{'mqtts' if mqtt_cfg.tls else 'mqtt'}://{mqtt_cfg.host}:{mqtt_cfg.port}"

        self._lock = threading.Lock()
        self._state = "stopped"
        self._last_error: str | None = None
        self._connected = False
        self._ever_connected = False
        self._sent = 0
        #: when the broker last acknowledged a message of any kind (the staff UI shows it)
        self._last_ack_at: float | None = None
        self._reconnects = 0
        # message id → (kind, outbox id or None); ids acked by on_publish before the
        # publishing thread recorded them land in _early (paho calls on_publish under its
        # own lock, so we may never hold ours while calling paho).
        self._pending: dict[int, tuple[str, int | None]] = {}
        self._early: dict[int, int] = {}
        #: outbox id → message id, for rows handed to paho and not yet deleted from the store
        self._handed: dict[int, int] = {}
        self._inflight = 0
        self._acked: list[int] = []
        self._rejected = 0

        self._wake = threading.Event()
        self._stop = threading.Event()
        self._need_discovery = False
        self._last_discovery = float("-inf")
        self._ha_announced = 0
        self._need_summary = False
        self._summary_dirty = False
        self._next_summary = 0.0
        self._last_summary = 0.0
        self._viewers = 0
        self._viewers_sent: int | None = None
        self._last_viewers = 0.0
        self._events: deque[tuple[str, dict, int, float]] = deque(maxlen=EVENT_QUEUE)
        self._sender: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

        r = registry
        self._m_connected = r.gauge("mqtt_connected", "1 while connected to the MQTT broker")
        self._m_sent = r.counter(
            "mqtt_messages_sent_total", "MQTT messages acknowledged", labels=("kind",)
        )
        self._m_reconnects = r.counter("mqtt_reconnects_total", "MQTT reconnections")
        register_depth_gauge(r, self._depth)
        self._m_rejected = r.counter(
            "mqtt_publish_rejected_total", "session messages the broker refused (MQTT 5)"
        )
        self._m_connected.set(0)

        self.client = make_client(mqtt_cfg, self.client_id)
        configure_client(self.client, mqtt_cfg, password=read_password(mqtt_cfg))
        self.client.will_set(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=15)
        self.client.max_inflight_messages_set(WINDOW)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

    # ---- public ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def status(self) -> dict[str, Any]:
        # The store is queried outside our lock: paho's thread takes it in on_publish.
        depth = self._depth()
        dropped = self.store.outbox_dropped if self.store is not None else 0
        with self._lock:
            return {
                "state": self._state,
                "broker": self.broker,
                "client_id": self.client_id,
                "topic_prefix": self.topics.prefix,
                "last_error": self._last_error,
                "outbox_depth": depth,
                "outbox_dropped": dropped,
                "in_flight": self._inflight,
                "sent": self._sent,
                "last_sent_at": None if self._last_ack_at is None else iso_utc(self._last_ack_at),
                "rejected": self._rejected,
                "reconnects": self._reconnects,
            }

    def summary_changed(self) -> None:
        """Refresh the retained summary soon (debounced); safe and instant from any thread."""
        self._summary_dirty = True
        self._wake.set()

    def session_event(self, event: SessionEvent, viewers_now: int) -> None:
        """A session started (a viewer arrived) or ended (left): queue the event message,
        refresh the viewer count and, after an end, the summary. Instant; any thread."""
        if event.kind == "update":
            return
        self._viewers = max(0, int(viewers_now))
        if self._connected:
            # An arrival announced minutes late would switch the lights on for nobody:
            # events are for now, so none are kept for a later connection.
            kind = "arrived" if event.kind == "start" else "left"
            self._events.append((kind, event.session.to_json(), self._viewers, time.time()))
        if event.kind == "end":
            self._summary_dirty = True
        self._wake.set()

    def start(self) -> None:
        if self._sender is not None:
            raise RuntimeError("MqttPublisher.start() called twice")
        self._set_state("connecting")
        self._stop.clear()
        kwargs: dict[str, Any] = {"keepalive": self.cfg.keepalive_s}
        if self.cfg.protocol == "5":
            kwargs["clean_start"] = True
        logger.info("mqtt: connecting to %s as %s", self.broker, self.client_id)
        self.client.connect_async(self.cfg.host, self.cfg.port, **kwargs)
        self.client.loop_start()
        self._sender = threading.Thread(target=self._run_sender, name="mqtt-sender", daemon=True)
        self._sender.start()
        if self.store is not None:
            self._unsubscribe = self.store.on_outbox(self._wake.set)

    def stop(self, timeout: float = 5.0) -> None:
        """Say ``offline`` (retained) and wait for the broker to take it, then disconnect.

        Unacknowledged sessions stay in the outbox for the next start."""
        if self._sender is None:
            return
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._sender.join(max(0.1, deadline - time.monotonic()))
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._connected:
            # Leave the retained state true for a stopped box: departures already queued go
            # out, nobody is viewing, and nothing is being analysed.
            self._send_events()
            self._viewers = 0
            self._send_viewers(force=True)
            self._send_summary(force=True, final=True)
            info = self.client.publish(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
            self._track(info.mid, "status")
            try:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                logger.warning("mqtt: could not publish offline status: %s", exc)
            if not info.is_published():
                logger.warning("mqtt: broker did not acknowledge the offline status in time")
        self.client.disconnect()
        self.client.loop_stop()
        self._flush_acks()
        self._connected = False
        self._m_connected.set(0)
        self._set_state("stopped")
        self._sender = None
        logger.info("mqtt: stopped (%d sessions sent)", self._sent)

    # ---- paho callbacks (network thread) ---------------------------------------------------
    # paho's callback API version 2 hands ReasonCode objects for MQTT 3.1.1 and 5 alike.
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            if reason_code.value in AUTH_REASONS:
                msg = f"broker refused the credentials ({reason_code}) for user {self.cfg.username or '(none)'!r}"
                if self._state != "auth_failed":
                    logger.error("mqtt: %s at %s; retrying with backoff", msg, self.broker)
                self._set_state("auth_failed", msg)
            else:
                msg = describe_refusal(reason_code)
                if self._state != "error":
                    logger.error("mqtt: %s (%s)", msg, self.broker)
                self._set_state("error", msg)
            return
        with self._lock:
            if self._ever_connected:
                self._reconnects += 1
                self._m_reconnects.inc()
            self._ever_connected = True
            self._last_error = None
        self._connected = True
        self._m_connected.set(1)
        self._set_state("connected")
        logger.info("mqtt: connected to %s", self.broker)
        info = client.publish(self.topics.status, STATUS_ONLINE, qos=1, retain=True)
        self._track(info.mid, "status")
        if self.cfg.discovery:
            client.subscribe(self.topics.ha_status, qos=1)
        self._need_discovery = self.cfg.discovery
        self._need_summary = True
        self._viewers_sent = None
        self._wake.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its ``except OSError`` block: the exception is still current.
        exc = sys.exc_info()[1]
        state, msg = describe_connect_error(exc)
        if self._state == "auth_failed" and state == "disconnected":
            state = "auth_failed"  # a refused socket after a refused login says nothing new
        if msg != self._last_error:
            logger.warning(
                "mqtt: cannot connect to %s: %s; retrying with backoff", self.broker, msg
            )
        self._set_state(state, msg)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was = self._connected
        self._connected = False
        self._m_connected.set(0)
        self._events.clear()
        if self._stop.is_set() or self._state in ("auth_failed", "error", "stopped"):
            return
        if was:
            msg = f"connection lost: {reason_code}"
            logger.warning("mqtt: %s; reconnecting with backoff", msg)
            self._set_state("disconnected", msg)
            return
        # Never connected on this socket: the broker took the TCP connection and then said
        # nothing (paho gives up after keepalive_s), or hung up before its CONNACK.
        if reason_code.value == 0x8D:  # keep alive timeout
            msg = no_connack_message(self.cfg.keepalive_s)
        else:
            msg = f"the broker closed the connection before its CONNACK ({reason_code})"
        if msg != self._last_error:
            logger.warning("mqtt: %s at %s; retrying with backoff", msg, self.broker)
        self._set_state("disconnected", msg)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        with self._lock:
            entry = self._pending.pop(mid, None)
            if entry is None:
                self._early[mid] = reason_code.value
                return
        self._published(mid, entry, reason_code.value)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.ha_status and msg.payload.strip() == b"online":
            # Home Assistant restarted: announce ourselves again, coalesced in _send_discovery
            # (and logged there, once per re-send rather than once per message).
            with self._lock:
                self._ha_announced += 1
            self._need_discovery = True
            self._wake.set()

    # ---- bookkeeping -----------------------------------------------------------------------
    def _set_state(self, state: str, error: str | None = None) -> None:
        with self._lock:
            self._state = state
            if error is not None:
                self._last_error = error

    def _track(self, mid: int, kind: str, outbox_id: int | None = None) -> None:
        with self._lock:
            reason = self._early.pop(mid, None)
            if reason is None:
                self._pending[mid] = (kind, outbox_id)
                return
        self._published(mid, (kind, outbox_id), reason)

    def _published(self, mid: int, entry: tuple[str, int | None], reason: int) -> None:
        kind, outbox_id = entry
        # 0x10 "no matching subscribers" is a success; other codes ≥ 0x80 are refusals.
        refused = reason >= 0x80
        if refused:
            logger.error(
                "mqtt: broker refused a %s message (reason 0x%02x); check its ACL for %s",
                kind,
                reason,
                self.topics.prefix,
            )
        else:
            self._m_sent.inc(kind=kind)
        with self._lock:
            if not refused:
                self._last_ack_at = time.time()
            if outbox_id is not None:
                self._inflight -= 1
                # A refused row is dropped too: re-sending it would block every later
                # session behind an ACL that will not change by itself. It stays in the
                # sessions table and the API.
                self._acked.append(outbox_id)
                if refused:
                    self._rejected += 1
                else:
                    self._sent += 1
        if refused and outbox_id is not None:
            self._m_rejected.inc()
        if outbox_id is not None:
            self._wake.set()

    def _depth(self) -> int:
        if self.store is None:
            return 0
        try:
            return int(self.store.outbox_depth())
        except Exception:  # a closed store during shutdown must not break /api/status
            return 0

    # ---- sender thread ---------------------------------------------------------------------
    def _run_sender(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._flush_acks()
                if self._connected:
                    self._send_discovery()
                    self._send_events()
                    self._send_viewers()
                    self._send_summary()
                    self._fill_window()
            except Exception:
                logger.exception("mqtt: sender step failed; retrying")
                self._stop.wait(1.0)
            self._wake.wait(self._next_wait(time.monotonic()))

    def _next_wait(self, now: float) -> float:
        """Seconds until the next thing falls due (at most 1 s, for the outbox acks)."""
        if not self._connected:
            return 1.0
        due = [self._next_summary]
        if self._summary_dirty:
            due.append(self._last_summary + SUMMARY_DEBOUNCE_S)
        if self._viewers != self._viewers_sent:
            due.append(self._last_viewers + VIEWERS_DEBOUNCE_S)
        if self._need_discovery:
            due.append(self._last_discovery + DISCOVERY_MIN_INTERVAL_S)
        return min(1.0, max(0.05, min(due) - now))

    def _flush_acks(self) -> None:
        with self._lock:
            ids, self._acked = self._acked, []
        if not ids or self.store is None:
            return
        try:
            self.store.outbox_ack(ids)
        except Exception as exc:
            logger.error("mqtt: could not remove %d sent rows from the outbox: %s", len(ids), exc)
            with self._lock:
                self._acked = ids + self._acked
            return
        with self._lock:
            for i in ids:
                self._handed.pop(i, None)

    def _fill_window(self) -> None:
        if self.store is None:
            return
        with self._lock:
            free = WINDOW - self._inflight
            handed = set(self._handed)
        if free <= 0:
            return
        # Rows already handed out are the oldest ones still in the outbox: skip past them.
        items = self.store.outbox_peek(len(handed) + free)
        for item in items:
            if item.id in handed:
                continue
            if not self._connected or self._stop.is_set() or free <= 0:
                break
            # The outbox holds ViewerSession.to_json() as compact text: published as-is.
            info = self.client.publish(self.topics.session, item.payload, qos=max(1, self.cfg.qos))
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                # NO_CONN still queues the message inside paho; anything else did not.
                logger.warning("mqtt: publish of outbox row %s failed: %s", item.id, info.rc)
                break
            with self._lock:
                self._handed[item.id] = info.mid
                self._inflight += 1
            self._track(info.mid, "session", item.id)
            free -= 1

    def _send_discovery(self) -> None:
        now = time.monotonic()
        if not self._need_discovery or now < self._last_discovery + DISCOVERY_MIN_INTERVAL_S:
            return
        self._need_discovery = False
        self._last_discovery = now
        with self._lock:
            announced, self._ha_announced = self._ha_announced, 0
        for topic, config in discovery_configs(
            self.topics, self.device_info, summary_interval_s=self.cfg.summary_interval_s
        ):
            info = self.client.publish(topic, dumps(config), qos=1, retain=True)
            self._track(info.mid, "discovery")
        if announced:
            logger.info(
                "mqtt: Home Assistant announced itself online (%d message(s)); discovery re-sent",
                announced,
            )
            # It restarted and may have missed changes while down: refresh the state too.
            self._need_summary = True
            self._viewers_sent = None
        logger.debug("mqtt: discovery configs published under %s", self.topics.discovery_prefix)

    def _send_events(self) -> None:
        while self._events and self._connected:
            kind, session, viewers, ts = self._events.popleft()
            doc = event_payload(kind, session, viewers, self.device.id, ts)
            info = self.client.publish(self.topics.event, dumps(doc), qos=max(1, self.cfg.qos))
            self._track(info.mid, "event")

    def _send_viewers(self, *, force: bool = False) -> None:
        now = time.monotonic()
        viewers = self._viewers
        if not force and (
            viewers == self._viewers_sent or now < self._last_viewers + VIEWERS_DEBOUNCE_S
        ):
            return
        self._viewers_sent = viewers
        self._last_viewers = now
        doc = viewers_payload(viewers, self.device.id)
        info = self.client.publish(self.topics.viewers, dumps(doc), qos=1, retain=True)
        self._track(info.mid, "viewers")

    def _send_summary(self, *, force: bool = False, final: bool = False) -> None:
        now = time.monotonic()
        due = now >= self._next_summary
        debounced = self._summary_dirty and now >= self._last_summary + SUMMARY_DEBOUNCE_S
        if not (force or self._need_summary or due or debounced):
            return
        self._need_summary = False
        self._summary_dirty = False
        self._last_summary = now
        self._next_summary = now + self.cfg.summary_interval_s
        try:
            summary = dict(self.summary_fn() or {})
        except Exception:
            logger.exception("mqtt: summary function failed; summary not refreshed")
            return
        if final:
            # the box stops: no one is being counted and no frame analysed any more
            summary.update(viewers_now=0, fps=0)
        doc = summary_payload(
            summary,
            self.device.id,
            room=self.device.name,
            artwork=self.device.artwork,
            interval_s=self.cfg.summary_interval_s,
        )
        info = self.client.publish(self.topics.summary, dumps(doc), qos=1, retain=True)
        self._track(info.mid, "summary")
