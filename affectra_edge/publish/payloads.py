"""MQTT topics and payload builders (pure functions: no network, easy to test).

Every JSON payload carries ``device_id``, the schema ``version`` and ISO-8601 UTC times, so
a subscriber can tell devices and payload generations apart without knowing the topic.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affectra_edge import __version__
from affectra_edge.types import EMOTIONS, SCHEMA_VERSION, iso_utc

STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names for one device (``prefix`` has no trailing slash)."""

    prefix: str
    discovery_prefix: str = "homeassistant"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def session(self) -> str:
        return f"{self.prefix}/session"

    @property
    def summary(self) -> str:
        return f"{self.prefix}/summary"

    @property
    def viewers(self) -> str:
        """Retained: how many people are in front of the artwork, on every change."""
        return f"{self.prefix}/viewers"

    @property
    def event(self) -> str:
        """Not retained: a viewer arrived or left (what lighting and audio automate on)."""
        return f"{self.prefix}/event"

    @property
    def ha_status(self) -> str:
        """Home Assistant announces ``online`` here when it (re)starts."""
        return f"{self.discovery_prefix}/status"


def _number(value: Any, digits: int | None = None) -> float | int:
    """A JSON-safe number (NaN/inf/None → 0) so HA templates never see ``NaN``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(v):
        return 0
    if digits is None:
        return int(v) if v.is_integer() else v
    return round(v, digits)


#: today's measures in the summary that may be null (``LiveFigures.summary`` names them)
MEASURE_FIELDS: tuple[str, ...] = (
    "median_dwell_s",
    "attraction_power",
    "holding_power",
    "valence",
    "arousal",
    "expected_dwell_s",
)


def _number_or_none(value: Any, digits: int) -> float | int | None:
    """Like :func:`_number`, but null stays null ("nothing to measure yet", not 0)."""
    return None if value is None else _number(value, digits)


def emotion_fractions(distribution: Mapping[str, Any] | None) -> dict[str, float]:
    """Each emotion's share as a fraction (sums to 1, or all 0 when nothing was seen).

    ``distribution`` may hold fractions, percentages or counts per emotion: it is normalised
    here so subscribers get the same meaning whatever the store reports.
    """
    values = {e: 0.0 for e in EMOTIONS}
    if isinstance(distribution, Mapping):
        for e in EMOTIONS:
            values[e] = max(0.0, float(_number(distribution.get(e, 0))))
    total = sum(values.values())
    if total <= 0:
        return {e: 0.0 for e in EMOTIONS}
    return {e: v / total for e, v in values.items()}


def emotion_shares_pct(distribution: Mapping[str, Any] | None) -> dict[str, float]:
    """Each emotion's share in percent, one decimal (what the Home Assistant sensors show)."""
    return {e: round(100.0 * v, 1) for e, v in emotion_fractions(distribution).items()}


def local_tz_name() -> str:
    """The device's time zone as an IANA name (``Europe/Paris``) when it can tell, otherwise
    the abbreviation (``CET``): ``TZ``, then the ``/etc/localtime`` link, then ``/etc/timezone``."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and not tz.startswith("/"):
        return tz
    try:
        target = os.path.realpath(tz or "/etc/localtime")
        if "/zoneinfo/" in target:
            return target.split("/zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        with open("/etc/timezone", encoding="utf-8") as f:
            name = f.read().strip()
        if name:
            return name
    except OSError:
        pass
    return time.strftime("%Z")


def local_day(ts: float) -> dict[str, Any]:
    """Which local day "today" is at ``ts``: ``date`` (YYYY-MM-DD), ``tz``, ``utc_offset_s``."""
    lt = time.localtime(ts)
    return {
        "date": time.strftime("%Y-%m-%d", lt),
        "tz": local_tz_name(),
        "utc_offset_s": int(lt.tm_gmtoff or 0),
    }


def _text(value: Any) -> str | None:
    return str(value)[:200] if value else None


def summary_payload(
    summary: Mapping[str, Any],
    device_id: str,
    ts: float | None = None,
    *,
    room: str = "",
    artwork: str = "",
    interval_s: float | None = None,
) -> dict:
    """The retained ``<prefix>/summary`` document built from ``LiveFigures.summary()``.

    The one place that shapes the summary: a new field is one more line below, plus its entry
    in ``docs/schemas/summary.schema.json`` (the tests refuse a field the schema lacks).
    The core fields are always present (0 / null when unknown), because Home Assistant value
    templates and fleet views point at them; ``emotions`` becomes ``distribution`` and
    ``shares_pct``. ``room`` and ``artwork`` come from ``summary`` when it has them (they can
    change at run time), otherwise from the arguments.
    """
    ts = time.time() if ts is None else ts
    distribution = summary.get("emotions")
    dominant = summary.get("dominant")
    day = local_day(ts)
    if summary.get("date"):  # the day the figures were counted for, when they say
        day["date"] = str(summary["date"])[:10]
    payload = {
        "type": "summary",
        "version": SCHEMA_VERSION,
        "device_id": device_id,
        "timestamp": iso_utc(ts),
        "visitors_today": int(_number(summary.get("visitors_today"))),
        "avg_dwell_s": _number(summary.get("avg_dwell_s"), 2),
        "dominant": dominant if dominant in EMOTIONS else None,
        "distribution": {e: round(v, 4) for e, v in emotion_fractions(distribution).items()},
        "shares_pct": emotion_shares_pct(distribution),
        "viewers_now": int(_number(summary.get("viewers_now"))),
        "fps": _number(summary.get("fps"), 2),
        # added in version 1 (additive): which day "today" is, and who is speaking, so a
        # fleet view can be built from the retained summaries alone
        **day,
        "room": _text(summary.get("room") or room),
        "artwork": _text(summary.get("artwork") or artwork),
        "interval_s": _number(interval_s) if interval_s else None,
        # added in version 1 (additive): the visitor-studies measures (docs/measures.md),
        # always present for the Home Assistant sensors, null where there is nothing to measure
        **{k: _number_or_none(summary.get(k), 4) for k in MEASURE_FIELDS},
        "passers_by": int(_number(summary.get("passers_by"))),
    }
    # Anything else the appliance reports rides along, without overriding the fields above.
    for k, v in summary.items():
        if k not in payload and k != "emotions":
            payload[k] = v
    return payload


def viewers_payload(viewers_now: int, device_id: str, ts: float | None = None) -> dict:
    """The retained ``<prefix>/viewers`` document."""
    return {
        "type": "viewers",
        "version": SCHEMA_VERSION,
        "device_id": device_id,
        "timestamp": iso_utc(time.time() if ts is None else ts),
        "viewers_now": max(0, int(viewers_now)),
    }


#: ``event_type`` values of ``<prefix>/event`` (also the Home Assistant event entity's types)
EVENT_TYPES = ("arrived", "left")


def event_payload(
    event_type: str,
    session: Mapping[str, Any],
    viewers_now: int,
    device_id: str,
    ts: float | None = None,
) -> dict:
    """One ``<prefix>/event`` message: a viewer ``arrived`` (their session started) or ``left``
    (it ended). ``session`` is ``ViewerSession.to_json()``."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {EVENT_TYPES}, not {event_type!r}")
    doc: dict[str, Any] = {
        "type": "event",
        "version": SCHEMA_VERSION,
        "event_type": event_type,
        "device_id": device_id,
        "timestamp": iso_utc(time.time() if ts is None else ts),
        "session_id": session.get("session_id"),
        "artwork": _text(session.get("artwork")),
        "started_at": session.get("started_at"),
        "viewers_now": max(0, int(viewers_now)),
    }
    if event_type == "left":
        doc["ended_at"] = session.get("ended_at")
        doc["duration_s"] = session.get("duration_s")
    return doc


def dumps(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"), default=str)


def origin_block() -> dict:
    return {"name": "affectra-edge", "sw_version": __version__}
