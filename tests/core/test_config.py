from __future__ import annotations

import dataclasses
import typing

import pytest

from affectra_edge.config import Config, ConfigError, load_config, parse_config
from affectra_edge.errors import EXIT_CONFIG, EXIT_USAGE
from tests.support import run_cli


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
        ({"device": {"id": "has space"}}, "device.id", "does not match"),
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
    good.write_text('[camera]\ntype = "demo"\n[web]\nport = 9000\n')
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
