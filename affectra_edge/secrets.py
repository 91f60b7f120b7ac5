"""Secrets (DB key, MQTT password) come from systemd credentials or files, never the TOML."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def credential_path(name: str) -> Path | None:
    """``$CREDENTIALS_DIRECTORY/<name>`` when systemd passed that credential (LoadCredential=)."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    p = Path(directory) / name
    # An empty credential means "not given": the unit's SetCredential= default for an optional
    # secret whose LoadCredential= file does not exist (then the configured file applies).
    try:
        return p if p.is_file() and p.read_bytes().strip() else None
    except OSError:
        return None


def read_secret(name: str, file: str | os.PathLike | None) -> str | None:
    """The secret ``name`` from the credentials directory, else from ``file``, else None.

    Surrounding whitespace (a trailing newline from ``echo``) is stripped.
    """
    p = credential_path(name) or (Path(file) if file else None)
    if p is None:
        return None
    return p.read_text(encoding="utf-8").strip()
