"""Everything that leaves the device over MQTT: sessions (from the store's outbox), the
retained summary and status, and Home Assistant discovery configs.

The appliance builds the publisher with :func:`build_publisher` (or the
:class:`~affectra_edge.publish.mqtt.MqttPublisher` constructor directly).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # paho is imported only when MQTT is actually used
    from affectra_edge.config import Config
    from affectra_edge.metrics import Registry
    from affectra_edge.publish.mqtt import MqttPublisher


def build_publisher(
    cfg: Config,
    store: Any,
    *,
    registry: Registry,
    summary_fn: Callable[[], dict],
) -> MqttPublisher | None:
    """The MQTT publisher for ``cfg``, or None when ``[mqtt] enabled = false``."""
    if not cfg.mqtt.enabled:
        return None
    from affectra_edge.publish.mqtt import MqttPublisher

    return MqttPublisher(
        cfg.mqtt,
        cfg.device,
        store,
        registry=registry,
        summary_fn=summary_fn,
        topic_prefix=cfg.topic_prefix,
    )
