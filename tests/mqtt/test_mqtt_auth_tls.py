"""Credentials, TLS, MQTT 5 and the last will, against a real mosquitto."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap

import pytest

from affectra_edge.metrics import Registry
from tests.mqtt.conftest import (
    PREFIX,
    Broker,
    Subscriber,
    feed,
    make_session,
    make_tls_files,
    retained,
)
from tests.support import PYTHON, wait_for

pytestmark = pytest.mark.broker


def test_username_and_password_from_file(auth_broker, store, make_publisher, tmp_path):
    pw = tmp_path / "mqtt-password"
    pw.write_text("s3cret-Pa55\n")  # a trailing newline (echo) must not matter
    sub = Subscriber(auth_broker, [f"{PREFIX}/session"], username="watcher", password="w4tch")
    pub = make_publisher(auth_broker, store, username="gallery", password_file=str(pw))
    pub.start()
    s = make_session(0)
    feed(store, s)
    store.flush()
    wait_for(lambda: sub.on(f"{PREFIX}/session"), timeout=10)
    assert sub.on(f"{PREFIX}/session")[0].json()["session_id"] == s.session_id
    assert pub.state == "connected"
    sub.close()


def test_password_from_systemd_credentials(
    auth_broker, store, make_publisher, tmp_path, monkeypatch
):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("s3cret-Pa55")
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    # $CREDENTIALS_DIRECTORY wins over password_file
    pub = make_publisher(auth_broker, store, username="gallery", password_file=str(wrong))
    pub.start()
    wait_for(lambda: pub.state == "connected", timeout=10)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_wrong_credentials_are_a_state_not_a_crash(
    auth_broker, store, make_publisher, tmp_path, protocol
):
    pw = tmp_path / "pw"
    pw.write_text("wrong")
    registry = Registry()
    pub = make_publisher(
        auth_broker,
        store,
        registry=registry,
        username="gallery",
        password_file=str(pw),
        protocol=protocol,
    )
    pub.start()
    wait_for(lambda: pub.state == "auth_failed", timeout=10)
    st = pub.status()
    assert "credentials" in st["last_error"] and "gallery" in st["last_error"]
    assert registry.gauge("mqtt_connected", "").value() == 0
    # Sessions keep being stored; nothing is lost while the credentials are wrong.
    feed(store, make_session(0))
    store.flush()
    wait_for(lambda: store.outbox_depth() == 1, timeout=10)
    assert pub.status()["outbox_depth"] == 1
    pub.stop(timeout=2.0)
    assert pub.state == "stopped"


def test_mqtt5_delivers_sessions(broker, store, make_publisher):
    sub = Subscriber(broker, [f"{PREFIX}/session"])
    pub = make_publisher(broker, store, protocol="5")
    pub.start()
    sessions = [make_session(i) for i in range(3)]
    for s in sessions:
        feed(store, s)
    store.flush()
    wait_for(lambda: len(sub.on(f"{PREFIX}/session")) == 3, timeout=10)
    assert [m.json()["session_id"] for m in sub.on(f"{PREFIX}/session")] == [
        s.session_id for s in sessions
    ]
    wait_for(lambda: store.outbox_depth() == 0, timeout=10)
    sub.close()


def test_tls_with_a_private_ca(tls_broker, store, make_publisher):
    pub = make_publisher(
        tls_broker,
        store,
        host="localhost",
        port=tls_broker.tls_port,
        tls=True,
        ca_file=str(tls_broker.tls.ca_cert),
    )
    assert pub.status()["broker"].startswith("mqtts://")
    sub = Subscriber(tls_broker, [f"{PREFIX}/session"])  # plain listener, same broker
    pub.start()
    wait_for(lambda: pub.state == "connected", timeout=10)
    s = make_session(0)
    feed(store, s)
    store.flush()
    wait_for(lambda: sub.on(f"{PREFIX}/session"), timeout=10)
    assert sub.on(f"{PREFIX}/session")[0].json()["session_id"] == s.session_id
    assert retained(tls_broker, f"{PREFIX}/status").payload == b"online"
    sub.close()


def test_tls_refuses_an_unknown_ca_and_a_wrong_hostname(tmp_path, make_publisher):
    # The server certificate names only broker.example: connecting to 127.0.0.1 must fail
    # the hostname check even though the CA is trusted.
    tls = make_tls_files(tmp_path / "pki", server_names=("broker.example",))
    other = make_tls_files(tmp_path / "other-pki")
    b = Broker(tmp_path / "broker", tls=tls).start()
    try:
        wrong_name = make_publisher(
            b, None, port=b.tls_port, tls=True, ca_file=str(tls.ca_cert), client_id="a"
        )
        wrong_ca = make_publisher(
            b, None, port=b.tls_port, tls=True, ca_file=str(other.ca_cert), client_id="b"
        )
        wrong_name.start()
        wrong_ca.start()
        wait_for(lambda: wrong_name.state == "error" and wrong_ca.state == "error", timeout=10)
        assert "certificate" in wrong_name.status()["last_error"]
        assert (
            "127.0.0.1" in wrong_name.status()["last_error"]
            or "mismatch" in (wrong_name.status()["last_error"])
        )
        assert "certificate" in wrong_ca.status()["last_error"]
    finally:
        wrong_name.stop(timeout=2.0)
        wrong_ca.stop(timeout=2.0)
        b.stop()


CHILD = textwrap.dedent(
    """
    import sys, time
    from affectra_edge.config import DeviceConfig, MqttConfig
    from affectra_edge.metrics import Registry
    from affectra_edge.publish.mqtt import MqttPublisher

    port, device = int(sys.argv[1]), sys.argv[2]
    pub = MqttPublisher(
        MqttConfig(enabled=True, host="127.0.0.1", port=port, discovery=False),
        DeviceConfig(id=device), None, registry=Registry(), summary_fn=dict,
        topic_prefix="affectra/" + device,
    )
    pub.start()
    while pub.state != "connected":
        time.sleep(0.05)
    print("connected", flush=True)
    time.sleep(600)
    """
)


def test_sigkill_leaves_the_last_will_offline(broker):
    device = "killed-box"
    proc = subprocess.Popen(
        [PYTHON, "-c", CHILD, str(broker.port), device],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline().decode().strip()
        assert line == "connected", proc.stderr.read().decode() if proc.poll() else line
        wait_for(lambda: retained(broker, f"affectra/{device}/status"), timeout=10)
        assert retained(broker, f"affectra/{device}/status").payload == b"online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # No goodbye was possible: the broker publishes the will, retained.
        wait_for(
            lambda: (
                getattr(retained(broker, f"affectra/{device}/status"), "payload", 0) == b"offline"
            ),
            timeout=20,
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
