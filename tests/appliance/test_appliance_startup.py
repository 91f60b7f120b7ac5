"""`run` refuses what it cannot start before it starts anything, with the README's exit codes.

Real child processes of ``python -m affectra_edge`` and real files; the daemon's MQTT side of
start-up (nothing announced on a port clash, ``offline`` on an unusable camera) is in
``tests/mqtt/test_mqtt_startup.py``.
"""

from __future__ import annotations

from pathlib import Path

from affectra_edge.errors import EXIT_CONFIG, EXIT_SOURCE, EXIT_STORE
from tests.support import free_port, run_cli


def _config(tmp_path: Path, camera: str, web: str = "enabled = false") -> Path:
    state = tmp_path / "state"
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[camera]
{camera}
[storage]
path = "{state / "affectra.db"}"
key_file = "{state / "db.key"}"
[web]
{web}
"""
    )
    return path


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("affectra-edge: error: ")]


def test_run_refuses_what_check_config_refuses_before_starting(tmp_path, cli_env):
    """A missing TLS pair: the same lines from check-config and run, exit 2, and run has not
    created the key or the database (it used to, and then exit 1)."""
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    web = f'port = {free_port()}\ntls_cert = "{cert}"\ntls_key = "{key}"'
    cfg = _config(tmp_path, 'type = "demo"', web)
    check = run_cli("check-config", str(cfg), env=cli_env)
    run = run_cli("run", "--config", str(cfg), "--duration", "30", env=cli_env)
    assert check.returncode == run.returncode == EXIT_CONFIG, run.stderr
    assert (
        _errors(run.stderr)
        == _errors(check.stderr)
        == [
            f"affectra-edge: error: {cfg}: web.tls_cert: {cert}: file not found",
            f"affectra-edge: error: {cfg}: web.tls_key: {key}: file not found",
        ]
    )
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "state").exists()


def test_run_with_a_missing_camera_file_exits_5_before_starting(tmp_path, cli_env):
    """A `file` camera whose path is missing can never work: `run` exits 5 ("camera source
    unusable") at once, instead of running on with the watchdog unpetted; check-config, a
    configuration check, says the same with exit 2."""
    video = tmp_path / "nope.mp4"
    cfg = _config(tmp_path, f'type = "file"\npath = "{video}"')
    line = f"affectra-edge: error: {cfg}: camera.path: {video}: no such file or folder"
    run = run_cli("run", "--config", str(cfg), "--duration", "30", env=cli_env)
    assert run.returncode == EXIT_SOURCE, run.stderr
    assert _errors(run.stderr) == [line]
    check = run_cli("check-config", str(cfg), env=cli_env)
    assert check.returncode == EXIT_CONFIG and _errors(check.stderr) == [line]
    assert not (tmp_path / "state").exists()


def test_run_lock_file_that_cannot_be_taken_is_one_line_exit_4(tmp_path, cli_env):
    """An OSError while the store opens (here a directory where the lock file goes: refused
    even for root) is one line naming the file, exit 4, not a traceback."""
    lock = tmp_path / "state" / "affectra.db.lock"
    lock.mkdir(parents=True)
    cfg = _config(tmp_path, 'type = "demo"')
    run = run_cli("run", "--config", str(cfg), "--duration", "30", env=cli_env)
    assert run.returncode == EXIT_STORE, run.stderr
    assert "Traceback" not in run.stderr
    assert _errors(run.stderr) == [
        f"affectra-edge: error: cannot open {tmp_path / 'state' / 'affectra.db'}: {lock}: "
        "Is a directory"
    ]
