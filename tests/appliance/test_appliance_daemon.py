"""The real daemon (`python -m affectra_edge run`) under a real NOTIFY_SOCKET, as systemd runs it.

The camera is the ESP32-CAM simulator (a real HTTP MJPEG server) so that the test can make the
source stall exactly like a wedged camera: the connection stays open and no frame arrives.
``camera.timeout_s`` is set far beyond the test so the capture thread really hangs in its read
(the case the watchdog exists for) instead of declaring the camera lost and reconnecting.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from affectra_edge.config import StorageConfig
from tests.support import free_port

WATCHDOG_USEC = 2_000_000  # WatchdogSec=2s → pet every 1 s, stall after 2 s without progress


def _viewers(status: str) -> int:
    m = re.search(r"(\d+) viewers?", status)
    return int(m.group(1)) if m else 0


def _quiet_window(listener, since: float, window: float, timeout: float) -> bool:
    """True once ``window`` seconds pass with no WATCHDOG=1 (after ``since``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pets = listener.with_key("WATCHDOG", "1", since=since)
        last = pets[-1][0] if pets else since
        if time.monotonic() - last >= window:
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def _daemon(config: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """``python -m affectra_edge run`` with its output in ``log``; killed if still running."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "affectra_edge", "run", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def esp32_sim():
    from affectra_edge.esp32_sim import Esp32Simulator, SimOptions

    sim = Esp32Simulator(None, options=SimOptions(size=(640, 480))).start()
    yield sim
    sim.stop()


def test_daemon_ready_watchdog_stall_and_clean_stop(tmp_path, esp32_sim, notify_socket, cli_env):
    # Secrets as systemd's LoadCredential= hands them over: a private credentials directory.
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    key_hex = secrets.token_hex(32)
    (creds / "db-key").write_text(key_hex + "\n")
    (creds / "mqtt-password").write_text("\n")  # the unit's SetCredential= default: "none"
    for f in creds.iterdir():
        f.chmod(0o600)  # as systemd hands them over: readable by the service user only
    db = tmp_path / "state" / "affectra.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[device]
id = "watchdog-test"
[camera]
type = "esp32"
url = "{esp32_sim.stream_url}"
fps = 10.0
timeout_s = 600.0
[storage]
path = "{db}"
key_file = "{tmp_path / "state" / "unused.key"}"
[web]
enabled = false
[mqtt]
enabled = false
"""
    )
    env = dict(
        cli_env,
        NOTIFY_SOCKET=notify_socket.address,
        WATCHDOG_USEC=str(WATCHDOG_USEC),
        CREDENTIALS_DIRECTORY=str(creds),
    )
    log = tmp_path / "daemon.log"
    with _daemon(config, env, log) as proc:
        # READY=1 only once a frame went through the pipeline.
        t_ready, ready = notify_socket.wait_for("READY", "1", timeout=60)
        assert esp32_sim.frames_sent >= 1
        assert ready["STATUS"].startswith("camera streaming"), ready
        assert not notify_socket.with_key("WATCHDOG"), "petted before READY"
        assert proc.poll() is None

        # WATCHDOG=1 keeps coming while frames flow.
        notify_socket.wait_for("WATCHDOG", "1", since=t_ready + 2.5, timeout=30)
        assert len(notify_socket.with_key("WATCHDOG", "1")) >= 3

        # The camera stalls (connection open, no frames): the petting stops.
        t_stall = time.monotonic()
        esp32_sim.stall()
        assert _quiet_window(notify_socket, t_stall, window=4.0, timeout=30), (
            "WATCHDOG=1 kept coming while the source was stalled"
        )
        stalled = notify_socket.with_key("STATUS", since=t_stall)
        assert any(m["STATUS"].startswith("stalled:") for _, m in stalled), stalled
        assert proc.poll() is None  # it is systemd's job to kill it, not ours

        # Frames again: petting resumes.
        t_resume = time.monotonic()
        esp32_sim.resume()
        notify_socket.wait_for("WATCHDOG", "1", since=t_resume, timeout=30)

        # Stop while someone is in front of the artwork: their session must not be lost.
        deadline = time.monotonic() + 40
        viewers = 0
        while time.monotonic() < deadline and viewers == 0:
            pets = notify_socket.with_key("WATCHDOG", "1", since=t_resume)
            viewers = _viewers(pets[-1][1].get("STATUS", "")) if pets else 0
            time.sleep(0.2)
        assert viewers >= 1, "the demo scene never showed a viewer"
        t_term = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stopping = notify_socket.wait_for("STOPPING", "1", since=t_term, timeout=15)
        assert stopping["STATUS"].startswith("stopping"), stopping
        rc = proc.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert rc == 0, output
    assert "Traceback" not in output, output

    from affectra_edge.store import open_store

    storage = replace(StorageConfig(), path=str(db), key_file=str(creds / "db-key"))
    store = open_store(storage, device_id="watchdog-test", readonly=True)
    try:
        assert store.viewers_now() == 0, "a session was left open"
        closed = store.count_sessions()
        assert closed >= viewers, (closed, viewers, output)
        recent = store.recent_sessions(limit=50)
        assert all(s["ended_at"] and s["duration_s"] > 0 for s in recent), recent
    finally:
        store.close()
    # the key came from the credential: no key file was created next to the database
    assert not (tmp_path / "state" / "unused.key").exists()


def test_daemon_with_unreachable_camera_is_ready_and_keeps_reconnecting(
    tmp_path, notify_socket, cli_env
):
    """An ESP32-CAM that is switched off: READY=1 with the error in STATUS (no start timeout),
    and the watchdog keeps being petted while the capture thread cycles through reconnects —
    restarting the daemon would not bring the camera back."""
    port = free_port()  # a port nobody listens on
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[camera]
type = "esp32"
url = "http://127.0.0.1:{port}/stream"
timeout_s = 2.0
reconnect_min_s = 0.2
reconnect_max_s = 1.0
[storage]
path = "{tmp_path / "affectra.db"}"
key_file = "{tmp_path / "db.key"}"
[web]
enabled = false
"""
    )
    env = dict(cli_env, NOTIFY_SOCKET=notify_socket.address, WATCHDOG_USEC=str(WATCHDOG_USEC))
    log = tmp_path / "daemon.log"
    with _daemon(config, env, log) as proc:
        t_ready, ready = notify_socket.wait_for("READY", "1", timeout=60)
        assert ready["STATUS"].startswith("camera lost"), ready
        assert "refused" in ready["STATUS"].lower(), ready
        # petted across several reconnect cycles
        notify_socket.wait_for("WATCHDOG", "1", since=t_ready + 3.0, timeout=30)
        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING", "1", timeout=15)
        rc = proc.wait(timeout=30)
    assert rc == 0, log.read_text(errors="replace")
