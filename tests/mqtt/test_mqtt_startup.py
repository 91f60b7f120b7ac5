"""What the daemon says on MQTT when it cannot start: never a retained ``online``.

The real daemon (``python -m affectra_edge run``) against a real mosquitto. The web port is
bound, the store opened and the models loaded before the device announces itself; a camera
that can never work ends the run with exit 5 after a clean stop (``offline`` if anything was
announced).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from affectra_edge.errors import EXIT_FAILURE, EXIT_SOURCE
from tests.mqtt.conftest import DEVICE_ID, PREFIX, Subscriber, retained
from tests.support import run_cli, wait_for

pytestmark = pytest.mark.broker


def _config(tmp_path: Path, broker, camera: str, web: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[device]
id = "{DEVICE_ID}"
[camera]
{camera}
[storage]
path = "{tmp_path / "state" / "affectra.db"}"
key_file = "{tmp_path / "state" / "db.key"}"
[web]
{web}
[mqtt]
enabled = true
host = "{broker.host}"
port = {broker.port}
"""
    )
    return path


def _everything_received(sub: Subscriber) -> list[str]:
    """Topics ``sub`` got, once a marker published after them has come back."""
    marker = f"affectra-test/marker/{os.getpid()}/{time.monotonic_ns()}"
    sub.client.publish(marker, b"m", qos=1)
    wait_for(lambda: sub.on(marker), timeout=10)
    return [m.topic for m in sub.messages if m.topic != marker]


def test_port_clash_announces_nothing(broker, tmp_path, cli_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = _config(tmp_path, broker, 'type = "demo"', f'host = "127.0.0.1"\nport = {port}')
        sub = Subscriber(broker, ["#"])
        try:
            res = run_cli("run", "--config", str(cfg), "--duration", "60", env=cli_env)
            assert res.returncode == EXIT_FAILURE, res.stderr
            assert f"web: cannot listen on 127.0.0.1:{port}" in res.stderr
            assert "Traceback" not in res.stderr
            # not online, not 13 discovery configs and a summary followed by offline: nothing
            assert _everything_received(sub) == []
        finally:
            sub.close()
    assert retained(broker, f"{PREFIX}/status") is None


def test_camera_unusable_at_start_exits_5_after_a_clean_stop(broker, tmp_path, cli_env):
    video = tmp_path / "broken.mp4"
    video.write_text("not a video\n")  # exists (check-config passes), can never be played
    cfg = _config(tmp_path, broker, f'type = "file"\npath = "{video}"', "enabled = false")
    res = run_cli("run", "--config", str(cfg), "--duration", "60", env=cli_env)
    assert res.returncode == EXIT_SOURCE, res.stderr
    assert "Traceback" not in res.stderr
    assert f"affectra-edge: error: camera file: {video}: cannot open as a video" in res.stderr
    # whatever was announced was taken back: the retained status is never left "online"
    status = retained(broker, f"{PREFIX}/status")
    assert status is None or status.payload == b"offline"
    # the store was flushed and closed: its lock is free and it reads back intact
    check = run_cli("db", "check", "--json", "--config", str(cfg), env=cli_env)
    assert check.returncode == 0, check.stderr
    doc = json.loads(check.stdout)
    assert doc["integrity"] == ["ok"] and doc["open_sessions"] == 0
