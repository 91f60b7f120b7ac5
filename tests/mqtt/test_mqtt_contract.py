"""The MQTT contract (docs/mqtt.md) against a real mosquitto: what goes out when, the retained
viewer count and the arrival/departure events, Home Assistant re-discovery coalescing, the
outbox with MQTT disabled, a broker that never answers, and every payload against its JSON
Schema in docs/schemas/."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from affectra_edge.publish import mqtt as mqtt_mod
from affectra_edge.types import SessionEvent
from tests.mqtt.conftest import PREFIX, Subscriber, feed, make_session, retained
from tests.mqtt.schemas import validate
from tests.support import run_cli, wait_for

pytestmark = pytest.mark.broker

FIGURES = {
    "visitors_today": 4,
    "avg_dwell_s": 12.5,
    "dominant": "happy",
    "emotions": {"happy": 3, "neutral": 1},
    "viewers_now": 0,
    "fps": 14.9,
}


def _kinds(sub: Subscriber, leaf: str) -> list:
    return sub.on(f"{PREFIX}/{leaf}")


def test_summary_is_periodic_viewers_and_events_have_their_own_topics(
    broker, store, make_publisher
):
    """Arrivals move the retained viewer count and announce themselves on the event topic;
    they do not re-publish the summary. A departure (a finished session) does."""
    sub = Subscriber(broker, [f"{PREFIX}/#"])
    pub = make_publisher(broker, store, summary_fn=lambda: dict(FIGURES), summary_interval_s=3600)
    pub.start()
    wait_for(lambda: _kinds(sub, "summary") and _kinds(sub, "viewers"), timeout=10)
    sessions = [make_session(i) for i in range(8)]
    for n, s in enumerate(sessions, start=1):
        pub.session_event(SessionEvent("start", replace(s, state="open")), viewers_now=n)
        pub.session_event(SessionEvent("update", replace(s, state="open")), viewers_now=n)
    wait_for(lambda: len(_kinds(sub, "event")) == len(sessions), timeout=10)
    wait_for(lambda: _kinds(sub, "viewers")[-1].json()["viewers_now"] == 8, timeout=10)
    assert len(_kinds(sub, "summary")) == 1  # eight arrivals, no summary

    pub.session_event(SessionEvent("end", sessions[0]), viewers_now=7)
    wait_for(lambda: len(_kinds(sub, "summary")) == 2, timeout=10)
    wait_for(lambda: _kinds(sub, "viewers")[-1].json()["viewers_now"] == 7, timeout=10)
    events = [m.json() for m in _kinds(sub, "event")]
    assert [e["event_type"] for e in events] == ["arrived"] * 8 + ["left"]
    assert [e["session_id"] for e in events[:8]] == [s.session_id for s in sessions]
    assert events[-1]["viewers_now"] == 7 and events[-1]["duration_s"] == pytest.approx(3.0)
    assert all(not m.retain and m.qos == 1 for m in _kinds(sub, "event"))
    # the viewer count is coalesced (at most one a second), never more than one per change
    assert len(_kinds(sub, "viewers")) <= 1 + 9
    summary = _kinds(sub, "summary")[-1].json()
    assert summary["room"] == "Gallery 7" and summary["artwork"] == "Nighthawks"
    assert summary["interval_s"] == 3600 and len(summary["date"]) == 10 and summary["tz"]

    # A clean stop leaves the retained state true: nobody viewing, nothing analysed.
    pub.stop()
    assert retained(broker, f"{PREFIX}/viewers").json()["viewers_now"] == 0
    last = retained(broker, f"{PREFIX}/summary").json()
    assert last["fps"] == 0 and last["viewers_now"] == 0 and last["visitors_today"] == 4
    assert retained(broker, f"{PREFIX}/status").payload == b"offline"
    sub.close()
    for m in sub.messages:  # real payloads, as mosquitto delivered them
        validate(m.topic, m.payload)


def test_home_assistant_announcing_itself_repeatedly_is_coalesced(
    broker, store, make_publisher, monkeypatch, caplog
):
    """10,000 ``homeassistant/status online`` once made 7,600 discovery rounds and as many log
    lines; now they make at most one round (and one log line) per interval."""
    monkeypatch.setattr(mqtt_mod, "DISCOVERY_MIN_INTERVAL_S", 2.0)
    caplog.set_level(logging.INFO, logger="affectra_edge.publish.mqtt")
    ha = Subscriber(broker, ["homeassistant/+/+/+/config"])
    pub = make_publisher(broker, store)
    pub.start()
    per_round = len(mqtt_mod.discovery_configs(pub.topics, pub.device_info))
    wait_for(lambda: len(ha.messages) == per_round, timeout=10)
    storm = 3000
    for _ in range(storm):
        ha.client.publish("homeassistant/status", "online", qos=0)
    # The round that answers the storm comes once the interval since the first has passed.
    wait_for(lambda: len(ha.messages) >= 2 * per_round, timeout=15)
    # Afterwards nothing more: a second interval passes without another round.
    time.sleep(2 * mqtt_mod.DISCOVERY_MIN_INTERVAL_S + 0.5)
    assert len(ha.messages) == 2 * per_round
    lines = [r for r in caplog.records if "announced itself online" in r.getMessage()]
    assert len(lines) == 1 and f"({storm} message(s))" in lines[0].getMessage()
    ha.close()


def test_mqtt_disabled_queues_nothing_and_drops_the_leftovers(store):
    """With [mqtt] disabled the outbox does not grow (it used to reach its 100 k cap), and
    rows left from when MQTT was on are discarded, so enabling it later sends no flood."""
    left = [make_session(i) for i in range(3)]
    for s in left:
        feed(store, s)
    store.flush()
    assert store.outbox_depth() == 3
    store.outbox_off()
    more = [make_session(i) for i in range(3, 8)]
    for s in more:
        feed(store, s)
    store.flush()
    assert store.outbox_depth() == 0 and store.outbox_peek(10) == []
    assert store.count_sessions() == 8  # the sessions themselves all stay


def test_the_appliance_turns_the_outbox_off_when_mqtt_is_disabled(tmp_path):
    """The daemon's wiring (``Appliance.from_config``) applies it from [mqtt] enabled."""
    from affectra_edge.app import Appliance
    from affectra_edge.config import Config, DeviceConfig, MqttConfig, StorageConfig

    storage = StorageConfig(path=str(tmp_path / "affectra.db"), key_file=str(tmp_path / "db.key"))

    def run(enabled: bool, session) -> int:
        config = Config(
            device=DeviceConfig(id="gallery-7"), storage=storage, mqtt=MqttConfig(enabled=enabled)
        )
        app = Appliance.from_config(config, with_mqtt=False, with_web=False)
        assert app.store is not None
        try:
            feed(app.store, session)
            app.store.flush()
            return app.store.outbox_depth()
        finally:
            app.store.close()

    assert run(True, make_session(0)) == 1  # enabled (this run publishes nothing): queued
    # disabled: the row left over is discarded and the new session queues nothing
    assert run(False, make_session(1)) == 0


@pytest.fixture
def silent_broker():
    """A TCP listener that accepts connections and never says a word (no CONNACK)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield SimpleNamespace(host="127.0.0.1", port=srv.getsockname()[1])
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_a_broker_that_never_answers_is_a_warning_with_the_reason(
    silent_broker, make_publisher, caplog, tmp_path, cli_env
):
    caplog.set_level(logging.WARNING, logger="affectra_edge.publish.mqtt")
    pub = make_publisher(silent_broker, None, keepalive_s=5)
    pub.start()
    wait_for(lambda: "no CONNACK" in (pub.status()["last_error"] or ""), timeout=20)
    assert pub.state == "disconnected"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no CONNACK within 5 s" in r.getMessage() for r in warnings)

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[device]\nid = "gallery-7"\n\n[mqtt]\nenabled = true\nhost = "{silent_broker.host}"\n'
        f"port = {silent_broker.port}\n"
    )
    res = run_cli("mqtt-check", "--config", str(cfg), "--timeout", "2", env=cli_env, timeout=60)
    assert res.returncode == 1 and "no CONNACK" in res.stderr, res.stderr
