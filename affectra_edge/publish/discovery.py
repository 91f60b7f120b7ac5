"""Home Assistant MQTT discovery: one retained config per entity.

Per-component configs (``<discovery_prefix>/<component>/<device_id>/<object>/config``) rather
than one device-based config, because every Home Assistant release since 2019 understands them
and an integrator can delete a single entity by clearing one retained topic. The sensors read
the retained summary (``<prefix>/summary``) or viewer count (``<prefix>/viewers``) through a
``value_template``; a ``binary_sensor`` says whether someone is viewing and an ``event`` entity
fires on arrivals and departures (``<prefix>/event``). All share one ``device`` block, so they
appear together as one device in the area named after the room; availability follows
``<prefix>/status`` (the last will makes them unavailable when the box dies).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Literal

from affectra_edge import __version__
from affectra_edge.config import WebConfig
from affectra_edge.publish.payloads import (
    EVENT_TYPES,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    Topics,
    origin_block,
)
from affectra_edge.types import EMOTIONS


@dataclass(frozen=True, slots=True)
class SensorSpec:
    object_id: str
    name: str
    #: dotted path into the payload of ``topic``, e.g. ``shares_pct.happy``
    field: str
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    icon: str | None = None
    entity_category: str | None = None
    #: which retained document the sensor reads
    topic: Literal["summary", "viewers"] = "summary"


def sensor_specs() -> list[SensorSpec]:
    specs = [
        SensorSpec(
            "visitors_today",
            "Visitors today",
            "visitors_today",
            unit="visitors",
            # HA treats a drop (midnight) as a reset of a total_increasing sensor.
            state_class="total_increasing",
            icon="mdi:account-group",
        ),
        SensorSpec(
            "viewers_now",
            "Viewers now",
            "viewers_now",
            unit="viewers",
            state_class="measurement",
            icon="mdi:eye",
            topic="viewers",
        ),
        SensorSpec(
            "average_dwell",
            "Average dwell today",
            "avg_dwell_s",
            unit="s",
            device_class="duration",
            state_class="measurement",
        ),
        SensorSpec(
            "dominant_emotion",
            "Dominant emotion today",
            "dominant",
            icon="mdi:emoticon-outline",
        ),
        *measure_sensor_specs(),
    ]
    for e in EMOTIONS:
        specs.append(
            SensorSpec(
                f"emotion_{e}_share",
                f"{e.capitalize()} share today",
                f"shares_pct.{e}",
                unit="%",
                state_class="measurement",
                icon="mdi:chart-pie",
            )
        )
    specs.append(
        SensorSpec(
            "fps",
            "Frames per second",
            "fps",
            unit="fps",
            state_class="measurement",
            icon="mdi:speedometer",
            entity_category="diagnostic",
        )
    )
    return specs


def measure_sensor_specs() -> list[SensorSpec]:
    """Today's visitor-studies measures (docs/measures.md). A null in the summary renders as
    ``None``, which Home Assistant shows as unknown (nothing to measure yet)."""
    return [
        SensorSpec(
            "passers_by",
            "Passers-by today",
            "passers_by",
            unit="people",
            state_class="total_increasing",
            icon="mdi:walk",
        ),
        SensorSpec(
            "attraction_power",
            "Attraction power today",
            "attraction_power",
            state_class="measurement",
            icon="mdi:magnet",
        ),
        SensorSpec(
            "holding_power",
            "Holding power today",
            "holding_power",
            state_class="measurement",
            icon="mdi:timer-sand",
        ),
        SensorSpec(
            "median_dwell",
            "Median dwell today",
            "median_dwell_s",
            unit="s",
            device_class="duration",
            state_class="measurement",
        ),
        SensorSpec(
            "valence",
            "Valence today",
            "valence",
            state_class="measurement",
            icon="mdi:emoticon-happy-outline",
        ),
        SensorSpec(
            "arousal",
            "Arousal today",
            "arousal",
            state_class="measurement",
            icon="mdi:lightning-bolt-outline",
        ),
    ]


def value_template(field: str) -> str:
    return "{{ value_json." + field + " }}"


#: the binary sensor's template: ON while anybody is in front of the artwork
VIEWING_TEMPLATE = "{{ 'ON' if value_json.viewers_now > 0 else 'OFF' }}"

_TEMPLATE_RE = re.compile(r"value_json\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def template_field(template: str) -> str | None:
    """The dotted payload field a discovery template reads."""
    m = _TEMPLATE_RE.search(template)
    return m.group(1) if m else None


def configuration_url(web: WebConfig) -> str | None:
    """The web UI's address for Home Assistant's "Visit device" link (None without a web UI)."""
    if web.public_url:
        return web.public_url
    if not web.enabled:
        return None
    scheme = "https" if web.tls_cert else "http"
    # A wildcard bind address is no address to visit: the host name is what the LAN knows.
    host = web.host if web.host not in ("", "0.0.0.0", "::") else socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{web.port}/"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What Home Assistant shows about the box."""

    device_id: str
    #: ``[device] name``: the room, used as the device name and its suggested area
    name: str
    configuration_url: str | None = None


def device_block(info: DeviceInfo) -> dict:
    block = {
        "identifiers": [f"affectra_{info.device_id}"],
        "name": info.name,
        "manufacturer": "Affectra",
        "model": "Affectra Edge",
        "sw_version": __version__,
        # The room, not the artwork: HA creates an area of this name when none exists.
        "suggested_area": info.name[:100],
    }
    if info.configuration_url:
        block["configuration_url"] = info.configuration_url
    return block


def discovery_configs(
    topics: Topics, info: DeviceInfo, *, summary_interval_s: float = 60.0
) -> list[tuple[str, dict]]:
    """``(topic, config)`` for every entity; publish each retained."""
    device_id = info.device_id
    common = {
        "has_entity_name": True,
        "availability_topic": topics.status,
        "payload_available": STATUS_ONLINE,
        "payload_not_available": STATUS_OFFLINE,
        "device": device_block(info),
        "origin": origin_block(),
    }
    # The summary comes every interval while the box is up: three missed ones mean it is not.
    expire_after = int(max(60.0, 3 * summary_interval_s))
    out: list[tuple[str, dict]] = []
    for spec in sensor_specs():
        cfg: dict = {
            "name": spec.name,
            "unique_id": f"affectra_{device_id}_{spec.object_id}",
            "state_topic": topics.viewers if spec.topic == "viewers" else topics.summary,
            "value_template": value_template(spec.field),
            **common,
        }
        if spec.topic == "summary":
            cfg["expire_after"] = expire_after
        for key, value in (
            ("unit_of_measurement", spec.unit),
            ("device_class", spec.device_class),
            ("state_class", spec.state_class),
            ("icon", spec.icon),
            ("entity_category", spec.entity_category),
        ):
            if value:
                cfg[key] = value
        out.append((f"{topics.discovery_prefix}/sensor/{device_id}/{spec.object_id}/config", cfg))
    out.append(
        (
            f"{topics.discovery_prefix}/binary_sensor/{device_id}/viewing/config",
            {
                "name": "Someone viewing",
                "unique_id": f"affectra_{device_id}_viewing",
                "state_topic": topics.viewers,
                "value_template": VIEWING_TEMPLATE,
                "device_class": "occupancy",
                **common,
            },
        )
    )
    out.append(
        (
            f"{topics.discovery_prefix}/event/{device_id}/viewer/config",
            {
                "name": "Viewer",
                "unique_id": f"affectra_{device_id}_viewer",
                "state_topic": topics.event,
                # the payload's own "event_type" is what HA reads; the rest become attributes
                "event_types": list(EVENT_TYPES),
                "icon": "mdi:account-arrow-right",
                **common,
            },
        )
    )
    return out
