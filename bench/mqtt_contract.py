"""MQTT contract figures against a real mosquitto on loopback: what a storm of Home Assistant
``online`` announcements costs, and how many messages a busy gallery makes per topic. Prints
figures; asserts nothing.

    .venv/bin/python bench/mqtt_contract.py [--storm 10000] [--visitors 300] [--seconds 30]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from affectra_edge.config import DeviceConfig, MqttConfig
from affectra_edge.metrics import Registry
from affectra_edge.publish import mqtt as mqtt_mod
from affectra_edge.publish.mqtt import MqttPublisher
from affectra_edge.types import SessionEvent
from tests.mqtt.conftest import DEVICE_ID, PREFIX, Broker, Subscriber, make_session


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1


def _publisher(broker: Broker, **mqtt: object) -> MqttPublisher:
    return MqttPublisher(
        MqttConfig(enabled=True, host=broker.host, port=broker.port, **mqtt),  # type: ignore[arg-type]
        DeviceConfig(id=DEVICE_ID, name="Gallery 7", artwork="bench"),
        None,
        registry=Registry(),
        summary_fn=lambda: {"visitors_today": 1, "fps": 15.0},
        topic_prefix=PREFIX,
    )


def storm(broker: Broker, n: int) -> None:
    counter = _Count()
    logging.getLogger(mqtt_mod.__name__).addHandler(counter)
    logging.getLogger(mqtt_mod.__name__).setLevel(logging.INFO)
    ha = Subscriber(broker, ["homeassistant/+/+/+/config"])
    pub = _publisher(broker)
    pub.start()
    per_round = len(mqtt_mod.discovery_configs(pub.topics, pub.device_info))
    while len(ha.messages) < per_round:
        time.sleep(0.05)
    counter.lines = 0
    t0 = time.monotonic()
    for _ in range(n):
        ha.client.publish("homeassistant/status", "online", qos=0)
    # one full coalescing interval and a bit: every round the storm can cause has happened
    time.sleep(mqtt_mod.DISCOVERY_MIN_INTERVAL_S + 3.0)
    rounds = len(ha.messages) / per_round - 1
    print(
        f"HA storm: {n} 'online' messages -> {rounds:.0f} discovery round(s) "
        f"({len(ha.messages) - per_round} config publishes), {counter.lines} log line(s) "
        f"in {time.monotonic() - t0:.0f} s (at most one round per "
        f"{mqtt_mod.DISCOVERY_MIN_INTERVAL_S:g} s)"
    )
    pub.stop()
    ha.close()


def busy_gallery(broker: Broker, visitors: int, seconds: float) -> None:
    """``visitors`` arrive and leave over ``seconds``, up to 5 in front of the work at once."""
    sub = Subscriber(broker, [f"{PREFIX}/#"])
    pub = _publisher(broker, summary_interval_s=10.0)
    pub.start()
    while pub.state != "connected":
        time.sleep(0.05)
    t0 = time.monotonic()
    open_: list = []
    for i in range(visitors):
        s = make_session(i)
        open_.append(s)
        pub.session_event(SessionEvent("start", replace(s, state="open")), len(open_))
        if len(open_) >= 5:
            pub.session_event(SessionEvent("end", open_.pop(0)), len(open_))
        time.sleep(seconds / visitors)
    for s in list(open_):
        open_.remove(s)
        pub.session_event(SessionEvent("end", s), len(open_))
    time.sleep(2.0)
    span = time.monotonic() - t0
    counts = {leaf: len(sub.on(f"{PREFIX}/{leaf}")) for leaf in ("summary", "viewers", "event")}
    print(
        f"busy gallery: {visitors} visitors in {span:.0f} s, summary_interval_s 10 -> "
        f"summary {counts['summary']} (periodic + at most ~1/s after departures), "
        f"viewers {counts['viewers']} (at most 1/s), event {counts['event']} "
        f"(one per arrival and departure)"
    )
    pub.stop()
    sub.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storm", type=int, default=10_000, help="HA 'online' messages")
    ap.add_argument("--visitors", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "broker").start()
        try:
            storm(broker, args.storm)
            busy_gallery(broker, args.visitors, args.seconds)
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
