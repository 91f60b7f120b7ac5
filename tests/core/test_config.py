from __future__ import annotations

import dataclasses
import subprocess
import typing
from pathlib import Path

import pytest

from affectra_edge.config import Config, ConfigError, load_config, parse_config
from affectra_edge.errors import EXIT_CONFIG, EXIT_USAGE
from tests.support import run_cli

REPO = Path(__file__).resolve().parents[2]


def test_empty_file_is_valid_and_gives_defaults(tmp_path):
    p = tmp_path / "empty.toml"
    p.write_text("")
    cfg = load_config(p)
    assert cfg.camera.type == "demo"
    assert cfg.detector.model == "full" and cfg.detector.min_score == 0.5
    assert cfg.web.port == 8080 and cfg.web.privacy == "blurred"
    assert cfg.topic_prefix == f"affectra/{cfg.device.id}"
    assert cfg.present == frozenset()


def test_sections_and_keys_from_the_product_brief(tmp_path):
    cfg = parse_config(
        {
            "device": {"id": "gallery-3", "name": "Room 3", "artwork": "Nighthawks"},
            "camera": {"type": "usb", "device": 2},
            "classifier": {"backend": "deepface", "threshold": 0.4},
            "storage": {"path": "/x.db", "retention_days": 30},
            "web": {"port": 8443, "privacy": "boxes"},
            "mqtt": {"enabled": True, "host": "broker", "topic_prefix": "museum/room3"},
        }
    )
    assert cfg.camera.device == "2"  # an index is kept as text like a path
    assert cfg.classifier.backend == "deepface"
    assert cfg.topic_prefix == "museum/room3"
    assert "storage" in cfg.present and "detector" not in cfg.present


@pytest.mark.parametrize(
    ("doc", "key", "words"),
    [
        ({"camera": {"typ": "usb"}}, "camera.typ", "unknown key"),
        ({"kamera": {}}, "kamera", "unknown section"),
        ({"camera": {"type": "webcam"}}, "camera.type", "one of"),
        ({"web": {"port": "8080"}}, "web.port", "integer"),
        ({"web": {"port": 70000}}, "web.port", "≤ 65535"),
        ({"detector": {"min_score": -1}}, "detector.min_score", "≥ 0"),
        ({"mqtt": {"enabled": "yes"}}, "mqtt.enabled", "true or false"),
        ({"camera": {"type": "file"}}, "camera.path", "required"),
        ({"camera": {"type": "esp32", "url": "ftp://x"}}, "camera.url", "http"),
        ({"device": {"id": "has space"}}, "device.id", "must be 1–64 letters, digits, - and _"),
        ({"device": {"name": ""}}, "device.name", "must be 1–100 characters long (it is 0)"),
        (
            {"mqtt": {"password": "secret"}},
            "mqtt.password",
            "unknown key: passwords never go in the TOML: use password_file or the "
            "mqtt-password credential",
        ),
        ({"web": {"tls_cert": "/c.pem"}}, "web.tls_cert", "together"),
        ({"camera": "usb"}, "camera", "table"),
        ({"sessions": {"min_dwell_s": float("nan")}}, "sessions.min_dwell_s", "finite"),
        ({"web": {"max_upload_mb": float("inf")}}, "web.max_upload_mb", "finite"),
        ({"classifier": {"threshold": float("-inf")}}, "classifier.threshold", "finite"),
        ({"classifier": {"model": "vgg"}}, "classifier.model", "one of"),
        ({"camera": {"detect_width": -1}}, "camera.detect_width", "≥ 0"),
    ],
)
def test_errors_name_the_key_and_the_problem(doc, key, words):
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "/etc/affectra-edge/config.toml")
    msg = str(err.value)
    assert msg.startswith("/etc/affectra-edge/config.toml: ")
    assert key in msg and words in msg
    assert "^" not in msg  # words for people, not a regular expression
    assert err.value.exit_code == EXIT_CONFIG


def test_toml_syntax_error_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera\ntype = 'usb'\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_check_config_cli_exit_codes(tmp_path, cli_env):
    good = tmp_path / "good.toml"
    good.write_text(
        f'[camera]\ntype = "demo"\n[web]\nport = 9000\nusers_file = "{tmp_path / "u.json"}"\n'
        f'[storage]\npath = "{tmp_path / "state" / "a.db"}"\nkey_file = "{tmp_path / "k"}"\n'
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nprivacy = 'none'\n")
    ok = run_cli("check-config", str(good), env=cli_env, timeout=None)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    fail = run_cli("check-config", str(bad), env=cli_env, timeout=None)
    assert fail.returncode == EXIT_CONFIG
    assert "web.privacy" in fail.stderr and str(bad) in fail.stderr
    usage = run_cli("check-config", "--bogus", env=cli_env, timeout=None)
    assert usage.returncode == EXIT_USAGE


def test_every_float_key_refuses_nan_and_inf():
    from affectra_edge.config import SECTIONS

    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] is float:
                for bad in (float("nan"), float("inf")):
                    with pytest.raises(ConfigError, match="finite"):
                        parse_config({section: {f.name: bad}}, "c.toml")


def test_config_is_immutable():
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.camera.type = "usb"  # type: ignore[misc]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("affectra-edge: error: ")]


def test_check_config_refuses_what_run_cannot_open(tmp_path, cli_env):
    """check-config (the unit's ExecStartPre) also checks the files and directories `run` will
    open: exit 2, one line per problem naming the key and the file; --schema-only skips that."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    not_a_key = tmp_path / "shadow"
    not_a_key.write_text("root:*:19000:0:99999:7:::\n")
    blocker = tmp_path / "blocker"  # a file where the state directory should be
    blocker.write_text("")
    (tmp_path / "ca").mkdir()
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
[camera]
type = "file"
path = "{tmp_path / "nope.mp4"}"
[storage]
path = "{blocker / "affectra.db"}"
key_file = "{not_a_key}"
[web]
tls_cert = "{tmp_path / "cert.pem"}"
tls_key = "{junk}"
metrics_token_file = "{tmp_path / "token"}"
[mqtt]
enabled = true
tls = true
ca_file = "{tmp_path / "ca"}"
cert_file = "{junk}"
key_file = "{junk}"
"""
    )
    out = run_cli("check-config", str(cfg), env=cli_env, timeout=None)
    assert out.returncode == EXIT_CONFIG, out.stderr
    assert "Traceback" not in out.stderr
    expected = [
        f"camera.path: {tmp_path / 'nope.mp4'}: no such file or folder",
        f"web.tls_cert: {tmp_path / 'cert.pem'}: file not found",
        f"web.metrics_token_file: {tmp_path / 'token'}: file not found",
        f"mqtt.ca_file: {tmp_path / 'ca'}: is a directory, not a file",
        f"mqtt.cert_file: {junk} / {junk}: not a certificate and its private key in PEM format",
        f"storage.path: {blocker}: cannot create the database here: {blocker} is not a directory",
        f"storage.key_file: {not_a_key}: expected 64 hex digits (a 256-bit key)",
    ]
    assert _error_lines(out.stderr) == [f"affectra-edge: error: {cfg}: {e}" for e in expected]

    schema = run_cli("check-config", str(cfg), "--schema-only", env=cli_env, timeout=None)
    assert schema.returncode == 0, schema.stderr


def test_check_config_tls_pair_key_and_credential(tmp_path, cli_env):
    from tests.support import PYTHON

    for d in ("a", "b"):  # two real self-signed pairs
        subprocess.run(
            [PYTHON, str(REPO / "scripts/make-cert.py"), "--out", str(tmp_path / d)],
            check=True,
            capture_output=True,
        )
    state = tmp_path / "state"
    state.mkdir()
    (state / "affectra.db").write_bytes(b"\0" * 4096)  # a database whose key is missing
    cfg = tmp_path / "c.toml"

    def write(cert: str, key: str) -> None:
        cfg.write_text(
            f'[web]\ntls_cert = "{tmp_path / cert}"\ntls_key = "{tmp_path / key}"\n'
            f'users_file = "{state / "users.json"}"\n'
            f'[storage]\npath = "{state / "affectra.db"}"\nkey_file = "{state / "db.key"}"\n'
        )

    write("a/web-cert.pem", "b/web-key.pem")
    out = run_cli("check-config", str(cfg), env=cli_env, timeout=None)
    assert out.returncode == EXIT_CONFIG
    cert, key = tmp_path / "a/web-cert.pem", tmp_path / "b/web-key.pem"
    lines = _error_lines(out.stderr)
    assert lines[0] == (
        f"affectra-edge: error: {cfg}: web.tls_cert: {cert} / {key}: the private key does not "
        "belong to the certificate"
    )
    assert lines[1].startswith(f"affectra-edge: error: {cfg}: storage.key_file: ")
    assert "key file not found" in lines[1] and "cannot be opened without the key" in lines[1]
    assert len(lines) == 2

    # the pair fits, and the key comes from the systemd credential, as under the unit
    write("a/web-cert.pem", "a/web-key.pem")
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "db-key").write_text("ab" * 32 + "\n")
    env = dict(cli_env, CREDENTIALS_DIRECTORY=str(creds))
    ok = run_cli("check-config", str(cfg), env=env, timeout=None)
    assert ok.returncode == 0, ok.stderr
    (creds / "db-key").write_text("not a key\n")
    bad = run_cli("check-config", str(cfg), env=env, timeout=None)
    assert bad.returncode == EXIT_CONFIG
    assert _error_lines(bad.stderr) == [
        f"affectra-edge: error: {cfg}: storage.key_file: {creds / 'db-key'}: expected 64 hex "
        "digits (a 256-bit key)"
    ]
