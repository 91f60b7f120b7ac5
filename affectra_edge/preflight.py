"""What ``run`` needs besides a valid schema: the files and directories it will open.

:mod:`affectra_edge.config` checks the file on its own; :func:`check_runnable` checks it
against this machine — the certificate, the camera file, the database key, the state
directory. ``check-config`` (the unit's ``ExecStartPre``) and ``run`` both call it, so a
configuration that passes does not fail half-way through start-up, and ``run`` refuses one
that would before it opens the store or announces anything.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path

from affectra_edge.config import Config, ConfigError
from affectra_edge.errors import EXIT_CONFIG, EXIT_SOURCE, AffectraError, StoreError
from affectra_edge.secrets import credential_path


class SourceConfigError(ConfigError):
    """The configured camera can never work (a ``file`` camera whose path is missing):
    ``run`` exits 5, "camera source unusable"; ``check-config`` exits 2 as for any problem."""

    exit_code = EXIT_SOURCE


class NotRunnable(AffectraError):
    """Every problem :func:`check_runnable` found, one per line.

    The exit code is the problems' own when they all have the same one (5 for a missing
    camera file), else 2; ``exit_code`` overrides it (``check-config`` always exits 2)."""

    def __init__(self, errors: list[ConfigError], exit_code: int | None = None):
        self.errors = list(errors)
        codes = {e.exit_code for e in self.errors}
        self.exit_code = exit_code or (codes.pop() if len(codes) == 1 else EXIT_CONFIG)
        super().__init__("\n".join(str(e) for e in self.errors))


def check_runnable(cfg: Config) -> list[ConfigError]:
    """The problems ``run`` would meet with ``cfg`` on this machine (empty: none).

    Parts that are switched off are not checked. USB and ESP32 cameras are not checked: an
    unplugged camera or one that is switched off is retried at run time, not refused."""
    problems: list[ConfigError] = []

    def check(key: str, problem: str | None, kind: type[ConfigError] = ConfigError) -> bool:
        if problem:
            problems.append(kind(cfg.source, key, problem))
        return not problem

    def check_pair(cert_key: str, key_key: str, cert: str, key: str) -> None:
        cert_ok = check(cert_key, _file_problem(cert))
        if check(key_key, _file_problem(key)) and cert_ok:
            check(cert_key, _cert_problem(cert, key))

    if cfg.camera.type == "file":
        check("camera.path", _path_problem(Path(cfg.camera.path)), SourceConfigError)

    web = cfg.web
    if web.enabled:
        if web.tls_cert and web.tls_key:
            check_pair("web.tls_cert", "web.tls_key", web.tls_cert, web.tls_key)
        if web.metrics_token_file and credential_path("metrics-token") is None:
            check("web.metrics_token_file", _file_problem(web.metrics_token_file))
        if Path(web.users_file).exists():
            check("web.users_file", _file_problem(web.users_file))

    mqtt = cfg.mqtt
    if mqtt.enabled and mqtt.tls:
        if mqtt.ca_file and check("mqtt.ca_file", _file_problem(mqtt.ca_file)):
            check("mqtt.ca_file", _ca_problem(mqtt.ca_file))
        if mqtt.cert_file and mqtt.key_file:
            check_pair("mqtt.cert_file", "mqtt.key_file", mqtt.cert_file, mqtt.key_file)

    db = Path(cfg.storage.path)
    if db.is_dir():
        check("storage.path", f"{db}: is a directory, not a database file")
    elif db.exists():
        check("storage.path", None if os.access(db, os.R_OK | os.W_OK) else f"{db}: not writable")
    else:
        check("storage.path", _dir_problem(db.parent, "database"))
    check("storage.key_file", _key_problem(cfg))
    return problems


def require_runnable(cfg: Config, *, exit_code: int | None = None) -> None:
    """Raise :class:`NotRunnable` with every problem :func:`check_runnable` finds."""
    errors = check_runnable(cfg)
    if errors:
        raise NotRunnable(errors, exit_code)


# ---- the checks: each returns the problem in words, or None --------------------------------
def _file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a file."""
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except FileNotFoundError:
        return f"{path}: file not found"
    except IsADirectoryError:
        return f"{path}: is a directory, not a file"
    except OSError as exc:
        return f"{path}: cannot read: {exc.strerror or exc}"
    return None


def _path_problem(path: Path) -> str | None:
    """Why a video file or an image folder cannot be read."""
    if not path.exists():
        return f"{path}: no such file or folder"
    if path.is_dir():
        return None if os.access(path, os.R_OK | os.X_OK) else f"{path}: cannot read the folder"
    return _file_problem(path)


def _dir_problem(directory: Path, what: str) -> str | None:
    """Why the ``what`` file cannot be created in ``directory`` (made first when missing)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{directory}: cannot create the {what} here: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{directory}: cannot create the {what} here: {existing} is not writable"
    return None


def _cert_problem(cert: str, key: str) -> str | None:
    """Why a TLS server or client cannot use this certificate with this private key."""
    what = "a certificate and its private key"
    return _tls_problem(f"{cert} / {key}", what, lambda ctx: ctx.load_cert_chain(cert, key))


def _ca_problem(ca_file: str) -> str | None:
    return _tls_problem(ca_file, "a CA certificate", lambda ctx: ctx.load_verify_locations(ca_file))


def _tls_problem(files: str, what: str, load: Callable[[ssl.SSLContext], None]) -> str | None:
    """Why ``load(context)`` refuses the files (not PEM, a key that does not fit)."""
    try:
        load(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    except OSError as exc:  # ssl.SSLError is one
        if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
            return f"{files}: the private key does not belong to the certificate"
        return f"{files}: not {what} in PEM format"
    return None


def _key_problem(cfg: Config) -> str | None:
    """Why the database key cannot be had: the credential or key file is unreadable or not a
    key, or there is none and the first start could not create one."""
    from affectra_edge.store.db import db_exists
    from affectra_edge.store.keys import CREDENTIAL_NAME, load_key

    key_file = Path(cfg.storage.key_file)
    if (
        credential_path(CREDENTIAL_NAME) is None
        and not key_file.exists()
        and not db_exists(Path(cfg.storage.path))
    ):
        return _dir_problem(key_file.parent, "key file")  # created at the first start
    try:
        load_key(key_file, may_create=False)
    except StoreError as exc:
        return str(exc)
    return None
