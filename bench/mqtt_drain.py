"""MQTT delivery figures against a real mosquitto on loopback: how fast a backlog in the outbox
drains after an outage, and how long a session takes from ``store.on_event(end)`` to a
subscriber. Prints figures; asserts nothing.

    .venv/bin/python bench/mqtt_drain.py [--backlog 5000] [--live 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from affectra_edge.config import DeviceConfig, MqttConfig, StorageConfig
from affectra_edge.metrics import Registry
from affectra_edge.publish.mqtt import MqttPublisher
from affectra_edge.store import open_store
from tests.mqtt.conftest import (
    DEVICE_ID,
    PREFIX,
    Broker,
    Subscriber,
    feed,
    make_session,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backlog", type=int, default=5000, help="sessions queued before start")
    ap.add_argument("--live", type=int, default=200, help="sessions timed one by one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        broker = Broker(tmp_path / "broker").start()
        store = open_store(
            StorageConfig(path=str(tmp_path / "a.db"), key_file=str(tmp_path / "db.key")),
            device_id=DEVICE_ID,
            artwork="bench",
            min_dwell_s=1.0,
            registry=Registry(),
        )
        try:
            sub = Subscriber(broker, [f"{PREFIX}/session"])
            t0 = time.perf_counter()
            for i in range(args.backlog):
                feed(store, make_session(i))
            store.flush()
            t_fill = time.perf_counter() - t0
            pub = MqttPublisher(
                MqttConfig(enabled=True, host=broker.host, port=broker.port),
                DeviceConfig(id=DEVICE_ID),
                store,
                registry=Registry(),
                summary_fn=dict,
                topic_prefix=PREFIX,
            )
            t0 = time.perf_counter()
            pub.start()
            while store.outbox_depth() > 0 or len(sub.on(f"{PREFIX}/session")) < args.backlog:
                time.sleep(0.01)
            t_drain = time.perf_counter() - t0
            print(f"backlog: {args.backlog} sessions stored in {t_fill:.2f} s")
            print(
                f"backlog drain: {args.backlog} sessions delivered and acked in {t_drain:.2f} s "
                f"({args.backlog / t_drain:.0f} sessions/s, window 20 in flight)"
            )
            latencies = []
            for i in range(args.live):
                n = len(sub.messages)
                t0 = time.perf_counter()
                feed(store, make_session(args.backlog + i))
                while len(sub.messages) == n:
                    time.sleep(0.0005)
                latencies.append((time.perf_counter() - t0) * 1000.0)
            latencies.sort()
            p95 = latencies[int(0.95 * (len(latencies) - 1))]
            print(
                f"live: end event → subscriber, {args.live} sessions: median "
                f"{statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms"
            )
            pub.stop()
            sub.close()
        finally:
            store.close()
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
