"""The one TOML configuration file, validated strictly at start.

Every section is a frozen dataclass; every key has a default, so an empty file is valid.
Unknown sections or keys, wrong types and out-of-range values are errors that name the file,
the key and the problem. Secrets never live here: see :mod:`affectra_edge.secrets`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import socket
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from affectra_edge.errors import EXIT_CONFIG, AffectraError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path("/etc/affectra-edge/config.toml")
DEFAULT_STATE_DIR = Path("/var/lib/affectra-edge")


class ConfigError(AffectraError):
    """The configuration is invalid. ``str()`` is the message for the operator."""

    exit_code = EXIT_CONFIG

    def __init__(self, path: str | os.PathLike | None, key: str | None, problem: str):
        self.path = str(path) if path is not None else "<config>"
        self.key = key
        self.problem = problem
        where = f"{self.path}: [{key}]" if key and "." not in key else f"{self.path}: {key}"
        super().__init__(f"{where}: {problem}" if key else f"{self.path}: {problem}")


def _opt(
    minimum: float | None = None,
    maximum: float | None = None,
    pattern: str | None = None,
    allowed: str | None = None,
):
    """Field metadata: range, pattern and ``allowed``, the pattern in words for error messages."""
    return {"min": minimum, "max": maximum, "pattern": pattern, "allowed": allowed}


def _default_device_id() -> str:
    host = re.sub(r"[^a-z0-9_-]", "-", socket.gethostname().lower()).strip("-") or "device"
    return host[:48]


ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


@dataclass(frozen=True)
class DeviceConfig:
    id: str = field(
        default_factory=_default_device_id,
        metadata=_opt(pattern=ID_PATTERN, allowed="1–64 letters, digits, - and _"),
    )
    name: str = field(default="Affectra Edge", metadata=_opt(pattern=r"^.{1,100}$"))
    artwork: str = field(default="", metadata=_opt(pattern=r"^.{0,200}$"))
    #: the time the work needs (to look at it and read its label): holding power is the mean
    #: dwell divided by this. 30 s: about the mean time at a painting (Smith & Smith 2001)
    expected_dwell_s: float = field(default=30.0, metadata=_opt(0.1, 3600))


@dataclass(frozen=True)
class CameraConfig:
    type: Literal["demo", "file", "usb", "picamera", "esp32"] = "demo"
    #: video file or image folder (type = "file")
    path: str = ""
    #: USB camera: /dev/videoN path or index (type = "usb")
    device: str = "0"
    #: ESP32-CAM stream URL, e.g. http://esp32cam.local:81/stream (type = "esp32")
    url: str = ""
    width: int = field(default=640, metadata=_opt(16, 4096))
    height: int = field(default=480, metadata=_opt(16, 4096))
    fps: float = field(default=15.0, metadata=_opt(0.5, 120))
    #: frames wider than this are shrunk to this width for face detection (and the live
    #: view); emotion crops still come from the full frame. 0: detect on the full frame.
    detect_width: int = field(default=640, metadata=_opt(0, 4096))
    #: file sources: play again from the start at the end (for unattended demos)
    loop: bool = False
    #: file sources: pace frames at their native rate instead of as fast as possible
    realtime: bool = False
    #: seconds without a frame before a live source counts as lost
    timeout_s: float = field(default=10.0, metadata=_opt(0.5, 600))
    reconnect_min_s: float = field(default=0.5, metadata=_opt(0.05, 60))
    reconnect_max_s: float = field(default=30.0, metadata=_opt(0.1, 3600))


@dataclass(frozen=True)
class DetectorConfig:
    type: Literal["blazeface"] = "blazeface"
    #: BlazeFace variant: "full" (faces up to ~5 m; recall 0.98 on the dlib photos) or
    #: "short" (faces filling ≥ 1/8 of the frame width, within ~1.5 m; ~4× faster)
    model: Literal["short", "full"] = "full"
    min_score: float = field(default=0.5, metadata=_opt(0.0, 1.0))
    nms_iou: float = field(default=0.3, metadata=_opt(0.0, 1.0))
    #: faces smaller than this (shorter side, pixels) are ignored
    min_face_px: int = field(default=24, metadata=_opt(0, 4096))
    max_faces: int = field(default=16, metadata=_opt(1, 256))
    num_threads: int = field(default=1, metadata=_opt(1, 16))
    #: "adaptive": motion decides when the detector runs, tracks are carried in between,
    #: emotions are read at most classify_hz (the sessions agree with every-frame processing
    #: within the tolerances in bench/RESULTS.md); "every_frame": detect and classify every
    #: face on every frame
    schedule: Literal["every_frame", "adaptive"] = "adaptive"
    #: adaptive: how tracks are carried between full detections: "hold" (the last boxes
    #: stand; free), "template" (each face's picture matched near its last box; ~0.05 ms a
    #: face) or "region" (short-range BlazeFace around each face; ~3 ms a face)
    carry: Literal["hold", "template", "region"] = "template"
    #: adaptive: full detection at least every Nth frame while somebody is tracked
    detect_every: int = field(default=5, metadata=_opt(1, 1000))
    #: adaptive: full detection this often in a still, empty scene (seconds)
    idle_detect_s: float = field(default=2.0, metadata=_opt(0.1, 3600))
    #: adaptive: grey levels (of 255) a pixel must change by to count as motion
    motion_threshold: int = field(default=20, metadata=_opt(1, 255))
    #: adaptive: share of the picture that must change before an empty scene is looked at
    motion_area: float = field(default=0.002, metadata=_opt(0.0, 1.0))
    #: adaptive: emotion classifications per viewer per second; the last one is reused between
    classify_hz: float = field(default=5.0, metadata=_opt(0.1, 120))
    #: adaptive: while a viewer has had fewer than N readings, every frame is a full
    #: detection and every face is read (a session's mix is the mean of its readings; a short
    #: visit has few), then classify_hz
    classify_first: int = field(default=50, metadata=_opt(0, 100000))


@dataclass(frozen=True)
class ClassifierConfig:
    backend: Literal["tflite", "deepface"] = "tflite"
    #: tflite back-end: "affectra" (our low-resolution-robust int8 model) or "fer" (the
    #: reference model from the fer package)
    model: Literal["affectra", "fer"] = "affectra"
    #: frames whose top probability is below this do not count toward a session's distribution
    threshold: float = field(default=0.0, metadata=_opt(0.0, 1.0))
    #: exponential smoothing of per-frame probabilities per track (0 = off, 0.9 = heavy)
    smoothing: float = field(default=0.0, metadata=_opt(0.0, 0.99))
    num_threads: int = field(default=1, metadata=_opt(1, 16))


@dataclass(frozen=True)
class SessionsConfig:
    #: a face must be seen this long before it counts as a viewer
    min_dwell_s: float = field(default=1.0, metadata=_opt(0.0, 3600))
    #: a viewer gone for longer than this has left; the session ends at their last sighting
    gap_s: float = field(default=2.0, metadata=_opt(0.0, 3600))
    #: minimum IoU for a detection to continue a track (centre distance is the fallback)
    match_iou: float = field(default=0.2, metadata=_opt(0.0, 1.0))
    #: how often an open session is checkpointed to the store (crash safety)
    update_interval_s: float = field(default=5.0, metadata=_opt(0.5, 3600))


@dataclass(frozen=True)
class StorageConfig:
    path: str = str(DEFAULT_STATE_DIR / "affectra.db")
    #: 256-bit key, hex; created with mode 0600 on first start unless it exists.
    #: $CREDENTIALS_DIRECTORY/db-key takes precedence when set. The default is the file the
    #: installed unit passes as that credential, so the CLI and the service share one key.
    key_file: str = str(DEFAULT_CONFIG_PATH.parent / "db.key")
    retention_days: int = field(default=365, metadata=_opt(0, 36500))
    max_sessions: int = field(default=1_000_000, metadata=_opt(0, 1_000_000_000))
    retention_interval_s: float = field(default=3600.0, metadata=_opt(1, 86400 * 7))
    outbox_max: int = field(default=100_000, metadata=_opt(1, 10_000_000))


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = field(default=8080, metadata=_opt(0, 65535))
    tls_cert: str = ""
    tls_key: str = ""
    privacy: Literal["off", "boxes", "blurred", "full"] = "blurred"
    #: the staff UI's language; ``auto`` follows the browser's Accept-Language
    language: Literal["auto", "en", "de"] = "auto"
    session_ttl_s: int = field(default=12 * 3600, metadata=_opt(60, 30 * 86400))
    max_upload_mb: float = field(default=5.0, metadata=_opt(0.1, 50))
    threads: int = field(default=16, metadata=_opt(2, 256))
    #: web users (scrypt hashes only), written by ``affectra-edge set-password``
    users_file: str = str(DEFAULT_STATE_DIR / "users.json")
    #: token that lets a Prometheus scraper read /metrics (``Authorization: Bearer …``);
    #: $CREDENTIALS_DIRECTORY/metrics-token takes precedence. Empty: /metrics needs a login.
    metrics_token_file: str = ""
    #: the web UI's address as people on the network reach it (Home Assistant's "Visit
    #: device" link); empty: http(s)://<host name>:<port>/
    public_url: str = field(
        default="",
        metadata=_opt(pattern=r"^(https?://\S{1,300})?$", allowed="empty or an http(s):// URL"),
    )


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = field(default=1883, metadata=_opt(1, 65535))
    client_id: str = ""
    #: default affectra/<device id>
    topic_prefix: str = ""
    username: str = ""
    #: file holding the password; $CREDENTIALS_DIRECTORY/mqtt-password takes precedence
    password_file: str = ""
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    qos: int = field(default=1, metadata=_opt(0, 2))
    keepalive_s: int = field(default=30, metadata=_opt(5, 3600))
    summary_interval_s: float = field(default=60.0, metadata=_opt(1, 86400))
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    #: watch every box under the topic prefix's parent for the museum view (/fleet)
    fleet: bool = True


@dataclass(frozen=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    web: WebConfig = field(default_factory=WebConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    #: where the configuration came from (None: built-in defaults)
    source: str | None = None
    #: sections present in the file (``replay``/``demo`` use the store only when configured)
    present: frozenset[str] = frozenset()

    @property
    def topic_prefix(self) -> str:
        return (self.mqtt.topic_prefix or f"affectra/{self.device.id}").rstrip("/")

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


_HINTS = typing.get_type_hints(Config)
#: section name → its dataclass
SECTIONS: dict[str, type] = {
    f.name: _HINTS[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("source", "present")
}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, str(tp)
    )


def _coerce(value: Any, tp: Any, where: str, path: str | None, meta: dict) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(path, where, f"must be {_type_name(tp)}, not {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, args[0], where, path, meta)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, where, f"must be true or false, not {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, where, f"must be an integer, not {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, where, f"must be a number, not {value!r}")
        value = float(value)
        # TOML allows nan and inf; neither is a duration, a rate or a threshold, and nan
        # slips through every range check below (all comparisons are false)
        if not math.isfinite(value):
            raise ConfigError(path, where, f"must be a finite number, not {value!r}")
    elif tp is str:
        # A USB device may be written as an index; keep it as text like a path.
        if where == "camera.device" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(path, where, f"must be a string, not {value!r}")
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ConfigError(path, where, _pattern_problem(value, pattern, meta.get("allowed")))
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        raise ConfigError(path, where, f"must be ≥ {lo}, not {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(path, where, f"must be ≤ {hi}, not {value!r}")
    return value


def length_limits(pattern: str) -> tuple[int, int] | None:
    """``(min, max)`` characters when ``pattern`` is only a length limit (``^.{m,n}$``)."""
    m = re.fullmatch(r"\^\.\{(\d+),(\d+)\}\$", pattern)
    return (int(m[1]), int(m[2])) if m else None


def _pattern_problem(value: str, pattern: str, allowed: str | None) -> str:
    """What is wrong with ``value``, in words rather than as a regular expression."""
    if allowed:
        return f"must be {allowed}, not {value!r}"
    limits = length_limits(pattern)
    if limits:
        return f"must be {limits[0]}–{limits[1]} characters long (it is {len(value)})"
    return f"{value!r} does not match {pattern}"


#: keys people put in the TOML that belong elsewhere: the hint their error gives
MISPLACED_KEYS = {
    "mqtt.password": "passwords never go in the TOML: use password_file or the mqtt-password "
    "credential",
}


def build_section(cls: type, data: dict[str, Any], name: str, path: str | None = None):
    """Validate one section's table into its dataclass (also used for run-time changes)."""
    if not isinstance(data, dict):
        raise ConfigError(path, name, "must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            where = f"{name}.{key}"
            if where in MISPLACED_KEYS:
                raise ConfigError(path, where, f"unknown key: {MISPLACED_KEYS[where]}")
            known = ", ".join(sorted(fields))
            raise ConfigError(path, where, f"unknown key (known keys: {known})")
        kwargs[key] = _coerce(value, hints[key], f"{name}.{key}", path, dict(fields[key].metadata))
    return cls(**kwargs)


@dataclass(frozen=True)
class FieldSpec:
    """One key of one section as the schema declares it (run-time settings and the web UI
    read types, ranges and choices from here instead of restating them)."""

    section: str
    name: str
    #: str, int, float or bool (a Literal's choices are strings)
    type: type
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None

    @property
    def length(self) -> tuple[int, int] | None:
        """``(min, max)`` characters when the pattern is only a length limit (``^.{m,n}$``)."""
        return length_limits(self.pattern or "")


def _field(section: str, name: str) -> tuple[Any, dataclasses.Field]:
    cls = SECTIONS[section]
    field_ = next(f for f in dataclasses.fields(cls) if f.name == name)
    return typing.get_type_hints(cls)[name], field_


def field_spec(section: str, name: str) -> FieldSpec:
    tp, f = _field(section, name)
    meta = dict(f.metadata)
    choices = typing.get_args(tp) if typing.get_origin(tp) is Literal else ()
    return FieldSpec(
        section,
        name,
        str if choices else tp,
        tuple(choices),
        meta.get("min"),
        meta.get("max"),
        meta.get("pattern"),
    )


def check_value(section: str, name: str, value: Any) -> Any:
    """``value`` for ``[section] name`` after the same checks a configuration file gets;
    :class:`ConfigError` (``key`` = ``section.name``) when the file would be refused."""
    tp, f = _field(section, name)
    return _coerce(value, tp, f"{section}.{name}", None, dict(f.metadata))


def _cross_checks(cfg: Config, path: str | None) -> None:
    cam = cfg.camera
    if cam.type == "file" and not cam.path:
        raise ConfigError(path, "camera.path", 'is required when camera.type = "file"')
    if cam.type == "esp32":
        if not cam.url:
            raise ConfigError(path, "camera.url", 'is required when camera.type = "esp32"')
        if not re.match(r"^https?://[^\s/]+", cam.url):
            raise ConfigError(
                path, "camera.url", f"must be an http:// or https:// URL, not {cam.url!r}"
            )
    if cam.reconnect_min_s > cam.reconnect_max_s:
        raise ConfigError(path, "camera.reconnect_min_s", "must not exceed camera.reconnect_max_s")
    if bool(cfg.web.tls_cert) != bool(cfg.web.tls_key):
        raise ConfigError(path, "web.tls_cert", "tls_cert and tls_key must be given together")
    if cfg.mqtt.topic_prefix and not re.fullmatch(r"[^#+\s]+", cfg.mqtt.topic_prefix):
        raise ConfigError(path, "mqtt.topic_prefix", "must not contain spaces, '#' or '+'")
    if bool(cfg.mqtt.cert_file) != bool(cfg.mqtt.key_file):
        raise ConfigError(path, "mqtt.cert_file", "cert_file and key_file must be given together")


def parse_config(data: dict[str, Any], path: str | None = None) -> Config:
    """Validate an already-parsed TOML document."""
    sections = {}
    for name, value in data.items():
        if name not in SECTIONS:
            known = ", ".join(sorted(SECTIONS))
            raise ConfigError(path, name, f"unknown section (known sections: {known})")
        sections[name] = build_section(SECTIONS[name], value, name, path)
    cfg = Config(**sections, source=path, present=frozenset(data))
    _cross_checks(cfg, path)
    return cfg


def load_config(path: str | os.PathLike | None) -> Config:
    """Read and validate a TOML file; ``None`` gives the built-in defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, None, "file not found") from None
    except OSError as exc:
        raise ConfigError(p, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(p, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(p, None, f"invalid TOML: {exc}") from None
    return parse_config(data, str(p))


def config_as_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """The effective configuration, section by section (for ``check-config --show``)."""
    return {name: dataclasses.asdict(getattr(cfg, name)) for name in SECTIONS}
