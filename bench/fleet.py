"""A simulated museum on one real mosquitto: 50–100 devices' real publisher code (each with its
own encrypted store and outbox) in a few worker processes, and one box's fleet view.

Prints: broker messages/s in and out (from mosquitto's own ``$SYS`` counters), session latency
from the end of a session to a subscriber (p50/p99), ``/api/fleet`` and ``/fleet`` response
times with every device listed, and whether the view shows exactly the killed worker's devices
offline after a SIGKILL (the broker publishes their last wills).

    .venv/bin/python bench/fleet.py --devices 100 --workers 4 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ROOT = "affectra"


def device_id(worker: int, i: int) -> str:
    return f"fleet-{worker:02d}-{i:03d}"


# ---- worker: N devices in one process --------------------------------------------------------
def run_worker(args: argparse.Namespace) -> int:
    import random

    from affectra_edge.config import DeviceConfig, MqttConfig, StorageConfig
    from affectra_edge.measures import attraction_power, holding_power, valence_arousal
    from affectra_edge.metrics import Registry
    from affectra_edge.publish.mqtt import MqttPublisher
    from affectra_edge.store import open_store
    from tests.mqtt.conftest import feed, make_session

    rng = random.Random(args.worker)
    tmp = Path(args.tmp) / f"w{args.worker}"
    tmp.mkdir(parents=True, exist_ok=True)
    devices = []
    for i in range(args.count):
        dev = device_id(args.worker, i)
        store = open_store(
            StorageConfig(path=str(tmp / f"{dev}.db"), key_file=str(tmp / f"{dev}.key")),
            device_id=dev,
            artwork=f"Work {args.worker}.{i}",
            min_dwell_s=1.0,
            registry=Registry(),
        )
        figures: dict = {"visitors_today": 0, "avg_dwell_s": 0.0, "dominant": None, "emotions": {}}
        pub = MqttPublisher(
            MqttConfig(
                enabled=True,
                host="127.0.0.1",
                port=args.port,
                keepalive_s=10,
                summary_interval_s=args.summary_s,
                discovery=False,
                fleet=False,
            ),
            DeviceConfig(id=dev, name=f"Room {args.worker}", artwork=f"Work {args.worker}.{i}"),
            store,
            registry=Registry(),
            summary_fn=lambda f=figures: dict(f),
            topic_prefix=f"{ROOT}/{dev}",
        )
        pub.start()
        devices.append((dev, store, pub, figures))
    print("ready", flush=True)
    n = 0
    end = time.time() + args.seconds
    while time.time() < end:
        # sessions end at random devices, ~rate per device per minute on average
        time.sleep(rng.expovariate(args.count * args.sessions_per_min / 60.0))
        dev, store, pub, figures = devices[rng.randrange(len(devices))]
        i = n
        n += 1
        dwell = 3.0 + (i % 5)
        session = make_session(i, t0=time.time() - 10.0 * i - dwell, device_id=dev)
        feed(store, session)
        figures["visitors_today"] += 1
        figures["avg_dwell_s"] = dwell
        figures["dominant"] = session.emotions.dominant
        figures["emotions"] = session.emotions.as_dict()
        # the day's measures as the appliance computes them (one passer-by per 3 viewers)
        passers = figures["visitors_today"] // 3
        figures["passers_by"] = passers
        figures["attraction_power"] = attraction_power(figures["visitors_today"], passers)
        figures["holding_power"] = holding_power(dwell, 30.0)
        figures["valence"], figures["arousal"] = valence_arousal(session.emotions.probs)
        pub.summary_changed()
    for _, store, _pub, _ in devices:
        store.flush()
    # stay connected until told to stop, so the fleet stays online
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for _, store, pub, _ in devices:
        pub.stop(timeout=2.0)
        store.close()
    return 0


def start_workers(
    counts: list[int], port: int, tmp: Path, *extra: str, first: int = 0
) -> list[subprocess.Popen]:
    """One worker process per entry of ``counts`` (its number of devices; worker indices
    from ``first``, which name the devices), all online when this returns; SIGTERM ends them
    cleanly, SIGKILL as a power cut would."""
    procs = []
    for k, count in enumerate(counts, start=first):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(k)]
        cmd += ["--count", str(count), "--port", str(port), "--tmp", str(tmp), *extra]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO))
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"fleet worker did not start (exit {p.poll()}): {line!r}")
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to the workers still running (they disconnect cleanly), then wait for all."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---- the lead: broker, workers, a subscriber and one box's fleet view ------------------------
class SysCounters:
    """mosquitto's ``$SYS/broker/messages/{received,sent}`` totals, as they are published."""

    def __init__(self, broker) -> None:
        from tests.mqtt.conftest import Subscriber

        self.sub = Subscriber(
            broker, ["$SYS/broker/messages/received", "$SYS/broker/messages/sent"]
        )

    def read(self) -> tuple[float, int, int] | None:
        rec = self.sub.last("$SYS/broker/messages/received")
        sent = self.sub.last("$SYS/broker/messages/sent")
        if rec is None or sent is None:
            return None
        return time.time(), int(rec.payload), int(sent.payload)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100.0 * (len(values) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long sessions are generated")
    ap.add_argument("--sessions-per-min", type=float, default=2.0, help="per device")
    ap.add_argument("--summary-s", type=float, default=60.0, help="[mqtt] summary_interval_s")
    ap.add_argument("--requests", type=int, default=50, help="fleet page/API requests timed")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        return run_worker(args)

    from tests.mqtt.conftest import Broker, Subscriber
    from tests.support import wait_for

    per = [
        args.devices // args.workers + (k < args.devices % args.workers)
        for k in range(args.workers)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "broker")
        broker.conf_path.write_text(broker.conf_path.read_text() + "sys_interval 1\n")
        broker.start()
        sessions: list[tuple[float, bytes]] = []
        lock = threading.Lock()
        sub = Subscriber(broker, [f"{ROOT}/+/session"])
        sub.client.on_message = lambda c, u, m: _record(lock, sessions, m)
        counters = SysCounters(broker)
        t_start = time.time()
        procs = start_workers(
            per,
            broker.port,
            Path(tmp),
            "--seconds",
            str(args.seconds),
            "--sessions-per-min",
            str(args.sessions_per_min),
            "--summary-s",
            str(args.summary_s),
        )
        print(
            f"{args.devices} devices in {args.workers} processes online in {time.time() - t_start:.1f} s"
        )
        box = fleet_box(broker, Path(tmp))
        try:
            wait_for(lambda: len(box.fleet.devices()) >= args.devices, timeout=30)
            first = counters.read()
            time.sleep(args.seconds)
            last = counters.read()
            if first and last and last[0] > first[0]:
                dt = last[0] - first[0]
                print(
                    f"broker: {(last[1] - first[1]) / dt:.0f} messages/s in, "
                    f"{(last[2] - first[2]) / dt:.0f} messages/s out "
                    f"(mosquitto $SYS over {dt:.0f} s, incl. {args.workers + 3} watching clients)"
                )
            with lock:
                lat = [recv - _ended(p) for recv, p in sessions]
            if lat:
                print(
                    f"sessions: {len(lat)} delivered, end-to-end latency p50 "
                    f"{statistics.median(lat) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms"
                )
            http = box.login()
            for path in ("/api/fleet?sort=visitors_today&order=desc", "/fleet?sort=avg_dwell_s"):
                times = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    r = http.get(box.url + path, timeout=30)
                    times.append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
                rows = (
                    len(r.json()["devices"])
                    if path.startswith("/api")
                    else len(re.findall("<tr data-device=", r.text))
                )
                print(
                    f"GET {path}: {rows} devices listed, p50 {statistics.median(times):.1f} ms, "
                    f"p99 {percentile(times, 99):.1f} ms ({args.requests} requests)"
                )
            victim = procs[-1]
            victim.send_signal(signal.SIGKILL)
            t_kill = time.time()
            killed = {device_id(len(procs) - 1, i) for i in range(per[-1])}

            def offline() -> set[str]:
                doc = http.get(box.url + "/api/fleet", timeout=30).json()
                return {d["device_id"] for d in doc["devices"] if d["online"] is False}

            wait_for(lambda: offline() >= killed, timeout=60)
            shown = offline()
            print(
                f"SIGKILL of one worker: {len(killed)} devices shown offline after "
                f"{time.time() - t_kill:.2f} s; exactly those: {shown == killed} "
                f"({len(shown)} offline, {args.devices - len(shown)} online)"
            )
        finally:
            box.stop()
            stop_workers(procs)
            sub.close()
            counters.sub.close()
            broker.stop()
    return 0


def _ended(payload: bytes) -> float:
    from affectra_edge.types import parse_iso_utc

    return parse_iso_utc(json.loads(payload)["ended_at"])


def _record(lock: threading.Lock, out: list, msg) -> None:
    with lock:
        out.append((time.time(), bytes(msg.payload)))


class _Box:
    def __init__(self, app, password: str) -> None:
        self.app = app
        self.fleet = app.fleet
        self.url = app.web.url
        self.password = password

    def login(self):
        from tests.web.conftest import login

        return login(self.url, "admin", self.password)

    def stop(self) -> None:
        self.app.web.stop()
        self.app.fleet.stop()


def fleet_box(broker, tmp: Path) -> _Box:
    """One more box (no camera running): its web UI and fleet watcher only."""
    import secrets

    from affectra_edge.app import Appliance
    from affectra_edge.config import Config

    cfg = Config()
    cfg = replace(
        cfg,
        device=replace(cfg.device, id="viewer-box", name="Front desk"),
        camera=replace(cfg.camera, type="demo"),
        storage=replace(cfg.storage, path=str(tmp / "box.db"), key_file=str(tmp / "box.key")),
        web=replace(cfg.web, host="127.0.0.1", port=0, users_file=str(tmp / "users.json")),
        mqtt=replace(cfg.mqtt, enabled=True, host=broker.host, port=broker.port),
    )
    app = Appliance.from_config(cfg)
    password = secrets.token_urlsafe(12)
    app.web.users.set_password("admin", password, role="admin")
    app.web.start()
    app.fleet.start()
    return _Box(app, password)


if __name__ == "__main__":
    sys.exit(main())
