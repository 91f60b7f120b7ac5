"""A real mosquitto broker for the MQTT tests, plus a recording subscriber.

The broker runs from Debian's ``/usr/sbin/mosquitto`` (installed by ``scripts/system-deps.sh``)
on a free loopback port with a configuration generated in ``tmp_path``; it can be stopped and
started again on the same port (with persistence, so a subscriber's session and its queued
QoS 1 messages survive like they do on a real installation). Optional: a password file made
with ``mosquitto_passwd`` and a TLS listener whose CA and server certificate are generated
here with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import free_port, wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def _require_mosquitto() -> None:
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.skip(f"mosquitto not installed at {MOSQUITTO} (run scripts/system-deps.sh)")


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_files(directory: Path, *, server_names: tuple[str, ...] = ("localhost",)) -> TlsFiles:
    """A self-signed CA and a server certificate it signed, for ``server_names`` + 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Affectra Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
    if "localhost" in server_names:
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    os.chmod(files.server_key, 0o600)
    return files


class Broker:
    """One mosquitto process; ``stop()`` / ``start()`` keep the port and the persistence."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
    ):
        _require_mosquitto()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.users = dict(users or {})
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "mosquitto.log"
        self.conf_path = self.dir / "mosquitto.conf"
        (self.dir / "data").mkdir(exist_ok=True)
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            # mosquitto drops root privileges to user "mosquitto", who cannot read tmp_path.
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {self.dir / 'data'}/",
            "autosave_interval 0",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"listener {self.port} {self.host}",
        ]
        if self.users:
            pw = self.dir / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(pw), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.tls.ca_cert}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
            ]
        self.conf_path.write_text("\n".join(lines) + "\n")

    def _accepting(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Broker:
        assert not self.running
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: self._accepting() or self.proc.poll() is not None, timeout=10)
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err}\n{self.log()}")
        return self

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def auth_broker(tmp_path):
    b = Broker(tmp_path / "broker", users={"gallery": "s3cret-Pa55", "watcher": "w4tch"}).start()
    yield b
    b.stop()


@pytest.fixture
def tls_broker(tmp_path):
    tls = make_tls_files(tmp_path / "pki")
    b = Broker(tmp_path / "broker", tls=tls).start()
    yield b
    b.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    def json(self):
        return json.loads(self.payload)


class Subscriber:
    """A paho client that records everything it receives (the integrator's side).

    ``persistent=True`` uses a fixed client id and a non-clean session with QoS 1, so the
    broker queues messages for it while it is reconnecting after a broker restart.
    """

    def __init__(
        self,
        broker: Broker,
        topics: list[str],
        *,
        persistent: bool = False,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
    ):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topics = topics
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{os.getpid()}-{id(self)}",
            clean_session=not persistent,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect_async(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            self.close()
            raise AssertionError("test subscriber could not connect and subscribe to mosquitto")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe([(t, 1) for t in self.topics])
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        got = self.on(topic)
        return got[-1] if got else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: Broker, topic: str, **kw) -> Received | None:
    """What a brand-new subscriber gets as the retained message on ``topic`` (None: nothing).

    No waiting for "long enough": the broker sends retained messages right after the SUBACK,
    so a marker we publish to ourselves afterwards arrives after them.
    """
    marker = f"affectra-test/marker/{os.getpid()}/{time.monotonic_ns()}"
    sub = Subscriber(broker, [topic, marker], **kw)
    try:
        sub.client.publish(marker, b"m", qos=1)
        wait_for(lambda: sub.on(marker), timeout=10)
        got = [m for m in sub.on(topic) if m.retain]
        return got[0] if got else None
    finally:
        sub.close()


# ---- the device side -------------------------------------------------------------------------

DEVICE_ID = "gallery-7"
PREFIX = f"affectra/{DEVICE_ID}"


def make_session(i: int, *, t0: float | None = None, device_id: str = DEVICE_ID):
    """A real finished viewer session (distinct id, plausible emotions)."""
    import uuid

    from affectra_edge.types import EMOTIONS, Emotions, ViewerSession

    t0 = time.time() - 3600 if t0 is None else t0
    probs = [0.02] * len(EMOTIONS)
    probs[i % len(EMOTIONS)] = 1.0 - 0.02 * (len(EMOTIONS) - 1)
    start = t0 + 10.0 * i
    return ViewerSession(
        session_id=str(uuid.uuid4()),
        track_id=i + 1,
        started_at=start,
        ended_at=start + 3.0 + (i % 5),
        frames=30 + i,
        emotions=Emotions(tuple(probs)),
        state="closed",
        device_id=device_id,
        artwork="Nighthawks",
    )


def feed(store, session) -> None:
    """What the pipeline does: a ``start`` event, then the ``end`` event of the same session."""
    from dataclasses import replace

    from affectra_edge.types import SessionEvent

    store.on_event(SessionEvent("start", replace(session, state="open")))
    store.on_event(SessionEvent("end", session))


@pytest.fixture
def store(tmp_path):
    """The real session store (SQLCipher file in tmp_path) with its outbox."""
    from affectra_edge.config import StorageConfig
    from affectra_edge.metrics import Registry
    from affectra_edge.store import open_store

    cfg = StorageConfig(path=str(tmp_path / "affectra.db"), key_file=str(tmp_path / "db.key"))
    s = open_store(
        cfg, device_id=DEVICE_ID, artwork="Nighthawks", min_dwell_s=1.0, registry=Registry()
    )
    yield s
    s.close()


@pytest.fixture
def make_publisher():
    """``make(broker, store, **mqtt_keys)`` → a started-later MqttPublisher; stopped at the end."""
    from affectra_edge.config import DeviceConfig, MqttConfig
    from affectra_edge.metrics import Registry
    from affectra_edge.publish.mqtt import MqttPublisher

    created = []

    def make(broker, store, *, registry=None, summary_fn=None, port=None, **mqtt_keys):
        mqtt_keys.setdefault("host", broker.host)
        cfg = MqttConfig(enabled=True, port=port or broker.port, **mqtt_keys)
        pub = MqttPublisher(
            cfg,
            DeviceConfig(id=DEVICE_ID, name="Gallery 7", artwork="Nighthawks"),
            store,
            registry=registry or Registry(),
            summary_fn=summary_fn or (lambda: {}),
            topic_prefix=PREFIX,
        )
        created.append(pub)
        return pub

    yield make
    for pub in created:
        pub.stop(timeout=3.0)
