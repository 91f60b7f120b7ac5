"""``affectra-edge mqtt-check`` and an end-to-end ``replay`` with [storage] and [mqtt]."""

from __future__ import annotations

import json

import pytest

from tests.mqtt.conftest import DEVICE_ID, PREFIX, Subscriber, retained
from tests.mqtt.schemas import validate
from tests.support import run_cli, wait_for

pytestmark = pytest.mark.broker

WATCHER = {"username": "watcher", "password": "w4tch"}


def _config(tmp_path, broker, **mqtt) -> str:
    lines = ["[device]", f'id = "{DEVICE_ID}"', "", "[mqtt]", "enabled = true"]
    lines.append(f'host = "{broker.host}"')
    lines.append(f"port = {broker.port}")
    for k, v in mqtt.items():
        lines.append(f"{k} = {json.dumps(v)}")
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_mqtt_check_reports_connected_and_refused(auth_broker, tmp_path, cli_env, make_publisher):
    good = tmp_path / "good"
    good.write_text("s3cret-Pa55")
    # The daemon's publisher is online: the check shows its retained status and leaves it be.
    pub = make_publisher(auth_broker, None, username="gallery", password_file=str(good))
    pub.start()
    wait_for(lambda: pub.state == "connected", timeout=10)
    wait_for(lambda: retained(auth_broker, f"{PREFIX}/summary", **WATCHER), timeout=10)
    cfg = _config(tmp_path, auth_broker, username="gallery", password_file=str(good))
    everything = Subscriber(auth_broker, ["#"], **WATCHER)
    ok = run_cli("mqtt-check", "--config", cfg, env=cli_env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "connected" in ok.stdout and f"{PREFIX}/status: online" in ok.stdout
    assert f"{PREFIX}/summary: " in ok.stdout and "visitor(s) on 20" in ok.stdout
    assert pub.state == "connected"  # its own client id: the daemon was not kicked off
    everything.close()
    # "publishes nothing", as its documentation says (it used to publish a marker message)
    assert not [m.topic for m in everything.messages if "check" in m.topic]

    bad = tmp_path / "bad"
    bad.write_text("nope")
    (tmp_path / "b").mkdir()
    cfg = _config(tmp_path / "b", auth_broker, username="gallery", password_file=str(bad))
    refused = run_cli("mqtt-check", "--config", cfg, env=cli_env, timeout=60)
    assert refused.returncode == 1
    assert "auth_failed" in refused.stderr and "refused" in refused.stderr


def test_mqtt_check_unreachable_broker(tmp_path, cli_env, broker):
    cfg = _config(tmp_path, broker)
    broker.stop()
    res = run_cli("mqtt-check", "--config", cfg, "--timeout", "5", env=cli_env, timeout=60)
    assert res.returncode == 1 and "refused" in res.stderr


def test_replay_publishes_one_message_per_stored_session(broker, tmp_path, demo_clip, cli_env):
    cfg = _config(tmp_path, broker)
    with open(cfg, "a") as f:
        f.write(
            f'\n[storage]\npath = "{tmp_path / "affectra.db"}"\n'
            f'key_file = "{tmp_path / "db.key"}"\n'
        )
    sub = Subscriber(broker, [f"{PREFIX}/#", "homeassistant/#"])
    res = run_cli("replay", str(demo_clip), "--config", cfg, "--json", env=cli_env, timeout=120)
    assert res.returncode == 0, res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    sessions = [d for d in docs if d.get("type") == "session"]
    assert sessions, res.stdout  # the demo clip has viewers
    # replay exits after the outbox drained; the subscriber may still be reading its socket
    wait_for(lambda: len(sub.on(f"{PREFIX}/session")) >= len(sessions), timeout=10)
    published = [m.json() for m in sub.on(f"{PREFIX}/session")]
    assert sorted(d["session_id"] for d in published) == sorted(d["session_id"] for d in sessions)
    by_id = {d["session_id"]: d for d in published}
    for s in sessions:
        assert by_id[s["session_id"]] == s  # same document on stdout, in the store and on MQTT
    # ... and exactly the sessions the store holds, its outbox empty (all acknowledged).
    from affectra_edge.config import StorageConfig
    from affectra_edge.store import open_store

    storage = StorageConfig(path=str(tmp_path / "affectra.db"), key_file=str(tmp_path / "db.key"))
    db = open_store(storage, device_id=DEVICE_ID, readonly=True)
    try:
        stored = db.recent_sessions(limit=10_000)
        assert db.outbox_depth() == 0
    finally:
        db.close()
    assert sorted(d["session_id"] for d in stored) == sorted(by_id)
    assert len(published) == len(stored)  # one message per stored session, no duplicates
    assert sub.last(f"{PREFIX}/status").payload == b"offline"  # clean shutdown said goodbye
    assert sub.last(f"{PREFIX}/summary").json()["device_id"] == DEVICE_ID
    sub.close()
    # Every message a real pipeline run made, as mosquitto delivered it, matches its schema.
    kinds = {validate(m.topic, m.payload) for m in sub.messages}
    assert {"session", "summary", "viewers", "status", "ha-discovery"} <= kinds, kinds
