"""MQTT topics and payload builders (pure functions: no network, easy to test).

Every JSON payload carries ``device_id``, the schema ``version`` and ISO-8601 UTC times, so
a subscriber can tell devices and payload generations apart without knowing the topic.
"""

from __future__ import annotations

import json
import math
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


def summary_payload(summary: Mapping[str, Any], device_id: str, ts: float | None = None) -> dict:
    """The retained ``<prefix>/summary`` document built from ``LiveFigures.summary()``.

    The core fields are always present (0 / null when unknown), because Home Assistant value
    templates point at them; ``emotions`` becomes ``distribution`` and ``shares_pct``.
    """
    ts = time.time() if ts is None else ts
    distribution = summary.get("emotions")
    dominant = summary.get("dominant")
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
    }
    # Anything else the appliance reports rides along, without overriding the fields above.
    for k, v in summary.items():
        if k not in payload and k != "emotions":
            payload[k] = v
    return payload


def dumps(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"), default=str)


def origin_block() -> dict:
    return {"name": "affectra-edge", "sw_version": __version__}
