"""The museum view from the broker alone: every device under the shared topic root, read from
their retained ``status`` and ``summary`` messages.

There is no central server. Each box subscribes (with its own read-only client, no last will,
publishing nothing) to ``<root>/+/status`` and ``<root>/+/summary``, where ``<root>`` is the
parent of its own topic prefix (``affectra`` for the default ``affectra/<device id>``). The
broker hands over every device's retained messages on subscribe and every change afterwards, so
a freshly started box knows the whole fleet within a round trip, and a device that dies shows
``offline`` as soon as the broker publishes its last will.

:class:`FleetBook` is the pure part (messages in, rows out); :class:`FleetWatcher` connects it
to the broker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import paho.mqtt.client as mqtt

from affectra_edge.config import MqttConfig
from affectra_edge.types import EMOTIONS, parse_iso_utc

logger = logging.getLogger(__name__)

#: a hostile or misconfigured broker cannot make the book grow without bound
MAX_DEVICES = 2000
#: retained summaries larger than this are not ours (ours are well under 2 KB)
MAX_PAYLOAD = 16 * 1024
#: what ``/api/fleet?sort=`` accepts
SORT_KEYS = (
    "room",
    "artwork",
    "device_id",
    "online",
    "last_seen",
    "visitors_today",
    "avg_dwell_s",
    "dominant",
    "attraction_power",
    "holding_power",
    "valence",
)


def fleet_root(prefix: str) -> str | None:
    """The shared root of a device's topic prefix (its parent), or None when it has none."""
    head, sep, _ = prefix.strip("/").rpartition("/")
    return head if sep and head else None


@dataclass(frozen=True, slots=True)
class FleetDevice:
    """One device as its retained messages describe it (None: not reported yet)."""

    device_id: str
    #: the device's topic prefix: unique in the fleet even if two boxes share a device id
    prefix: str
    online: bool | None = None
    room: str | None = None
    artwork: str | None = None
    #: the device's own clock at its newest summary (epoch seconds)
    last_seen: float | None = None
    #: the local day the summary counts (``date`` in the summary), e.g. "2026-11-30"
    day: str | None = None
    visitors_today: int | None = None
    avg_dwell_s: float | None = None
    dominant: str | None = None
    viewers_now: int | None = None
    #: the visitor-study measures of the day (docs/measures.md), None until computable
    attraction_power: float | None = None
    holding_power: float | None = None
    valence: float | None = None
    arousal: float | None = None

    def as_json(self, today: str | None = None) -> dict[str, Any]:
        doc = asdict(self)
        # A summary from an earlier day (a box that went offline yesterday) does not count
        # today's visitors; say so rather than show yesterday's number as today's.
        doc["stale"] = bool(today and self.day and self.day != today)
        return doc


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if v == v and abs(v) != float("inf") else None


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return parse_iso_utc(iso)
    except ValueError:
        return None


class FleetBook:
    """Devices by topic prefix, updated from ``(topic, payload)`` pairs; thread-safe."""

    def __init__(self, root: str) -> None:
        self.root = root.strip("/")
        self._devices: dict[str, FleetDevice] = {}
        self._summarised: set[str] = set()
        self._lock = threading.Lock()
        self._full_warned = False
        self.ignored = 0

    def ingest(self, topic: str, payload: bytes) -> bool:
        """Apply one message; False (and counted in ``ignored``) when it is not a fleet
        status/summary we understand. An empty retained payload removes that fact."""
        head, _, leaf = topic.rpartition("/")
        parent, _, name = head.rpartition("/")
        if parent != self.root or not name or leaf not in ("status", "summary"):
            self.ignored += 1
            return False
        if len(payload) > MAX_PAYLOAD:
            self.ignored += 1
            return False
        if leaf == "status":
            text = payload.decode("utf-8", "replace").strip()
            if text not in ("online", "offline", ""):
                self.ignored += 1
                return False
            return self._update(head, name, online=None if not text else text == "online")
        if not payload:
            return self._update(head, name, summary=True)
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            self.ignored += 1
            return False
        if not isinstance(doc, Mapping) or doc.get("type") != "summary":
            self.ignored += 1
            return False
        return self._update(head, name, summary=True, doc=doc)

    def _update(
        self,
        prefix: str,
        name: str,
        *,
        online: bool | None = None,
        summary: bool = False,
        doc: Mapping[str, Any] | None = None,
    ) -> bool:
        with self._lock:
            current = self._devices.get(prefix)
            if current is None:
                if len(self._devices) >= MAX_DEVICES:
                    if not self._full_warned:
                        logger.warning(
                            "fleet view: more than %d devices under %s/; ignoring the rest",
                            MAX_DEVICES,
                            self.root,
                        )
                        self._full_warned = True
                    self.ignored += 1
                    return False
                current = FleetDevice(device_id=name, prefix=prefix)
            if not summary:
                current = replace(current, online=online)
            elif doc is None:
                current = FleetDevice(
                    device_id=current.device_id, prefix=prefix, online=current.online
                )
            else:
                dominant = doc.get("dominant")
                visitors = _num(doc.get("visitors_today"))
                viewers = _num(doc.get("viewers_now"))
                current = replace(
                    current,
                    device_id=_text(doc.get("device_id"), 64) or current.device_id,
                    room=_text(doc.get("room")),
                    artwork=_text(doc.get("artwork")),
                    last_seen=_epoch(doc.get("timestamp")),
                    day=_text(doc.get("date"), 10),
                    visitors_today=None if visitors is None else int(visitors),
                    avg_dwell_s=_num(doc.get("avg_dwell_s")),
                    dominant=dominant if dominant in EMOTIONS else None,
                    viewers_now=None if viewers is None else int(viewers),
                    attraction_power=_num(doc.get("attraction_power")),
                    holding_power=_num(doc.get("holding_power")),
                    valence=_num(doc.get("valence")),
                    arousal=_num(doc.get("arousal")),
                )
            if summary:
                if doc is None:
                    self._summarised.discard(prefix)
                else:
                    self._summarised.add(prefix)
            if current.online is None and prefix not in self._summarised:
                # both retained messages were cleared: the device has been retired
                self._devices.pop(prefix, None)
            else:
                self._devices[prefix] = current
            return True

    def devices(self, sort: str = "room", descending: bool = False) -> list[FleetDevice]:
        """Every known device, sorted by ``sort`` (one of :data:`SORT_KEYS`); unknown values
        always sort last, whichever the direction, so a comparison is never led by blanks."""
        if sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}")
        with self._lock:
            rows = list(self._devices.values())
        known = [d for d in rows if getattr(d, sort) is not None]
        unknown = [d for d in rows if getattr(d, sort) is None]

        def key(d: FleetDevice) -> Any:
            v = getattr(d, sort)
            return v.casefold() if isinstance(v, str) else v

        known.sort(key=lambda d: (d.room or "", d.artwork or "", d.prefix))
        known.sort(key=key, reverse=descending)
        unknown.sort(key=lambda d: (d.room or "", d.artwork or "", d.prefix))
        return known + unknown

    def __len__(self) -> int:
        with self._lock:
            return len(self._devices)


class FleetWatcher:
    """A read-only MQTT client keeping a :class:`FleetBook` current (paho's network thread)."""

    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        prefix: str,
        *,
        make_client: Callable[[MqttConfig, str], mqtt.Client],
    ) -> None:
        root = fleet_root(prefix)
        if root is None:
            raise ValueError(
                f"topic prefix {prefix!r} has no parent topic, so there is no fleet root to "
                "watch; use a prefix like 'affectra/<device id>'"
            )
        self.book = FleetBook(root)
        self._cfg = cfg
        # A distinct client id: the broker would otherwise disconnect the publisher.
        self._client = make_client(cfg, f"{client_id}-fleet")
        self._client.reconnect_delay_set(1, 15)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._connected = threading.Event()
        self._since: float | None = None

    @property
    def root(self) -> str:
        return self.book.root

    def status(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "connected": self._connected.is_set(),
            "connected_since": self._since,
            "devices": len(self.book),
        }

    def devices(self, sort: str = "room", descending: bool = False) -> list[FleetDevice]:
        return self.book.devices(sort, descending)

    def start(self) -> None:
        self._client.connect_async(self._cfg.host, self._cfg.port, self._cfg.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        if getattr(reason, "is_failure", False):
            logger.warning("fleet view: broker refused the connection: %s", reason)
            return
        # Subscriptions do not survive a clean session: renew them on every connection.
        client.subscribe([(f"{self.root}/+/status", 1), (f"{self.root}/+/summary", 1)])
        self._since = time.time()
        self._connected.set()
        logger.info("fleet view: watching %s/+ on %s:%d", self.root, self._cfg.host, self._cfg.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        self._connected.clear()
        self._since = None

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.book.ingest(msg.topic, bytes(msg.payload))
