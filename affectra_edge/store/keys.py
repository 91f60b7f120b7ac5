"""The database key: 256 random bits, hex, from a systemd credential or a private key file.

The key never appears in the TOML. ``$CREDENTIALS_DIRECTORY/db-key`` (``LoadCredential=``)
wins when present and is never written. Otherwise ``[storage] key_file`` is read, or created
on the very first start — only when the database does not exist yet, because a new key for an
existing database would only lock it for good.

On an installed box both read the same file: ``/etc/affectra-edge/db.key`` (root:affectra,
0640) is the unit's ``db-key`` credential and the default ``key_file`` of the CLI, so
``export``, ``db`` and ``rekey`` work as root and as the service user alike.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from affectra_edge.errors import StoreError
from affectra_edge.fsutil import write_private_file
from affectra_edge.secrets import credential_path

logger = logging.getLogger(__name__)

CREDENTIAL_NAME = "db-key"
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class DbKey:
    hex: str
    #: where it came from, for messages: the key file or the credential path
    source: Path
    from_credential: bool = False

    def __repr__(self) -> str:  # never print the key itself
        return f"DbKey(source={str(self.source)!r}, from_credential={self.from_credential})"


def new_key_hex() -> str:
    return secrets.token_hex(32)


def parse_key(text: str, source: str | os.PathLike) -> str:
    value = text.strip()
    if not _HEX.fullmatch(value):
        raise StoreError(f"{source}: expected 64 hex digits (a 256-bit key)")
    return value.lower()


def read_key_file(path: str | os.PathLike) -> str:
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except FileNotFoundError:
        raise StoreError(f"{p}: key file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"{p}: cannot read key file: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    return parse_key(text, p)


def write_key_file(
    path: str | os.PathLike,
    key_hex: str,
    *,
    replace: bool = False,
    like: str | os.PathLike | None = None,
) -> None:
    """Write ``key_hex`` to ``path`` (mode 0600 unless ``like``), durably and atomically.

    The key goes to a temporary file first (fsync'd) and is then linked into place, so a power
    cut leaves either no key file or a complete one. ``replace=False`` never overwrites: if the
    file appeared meanwhile, that one wins (``FileExistsError``).

    ``like``: an existing key file whose mode (at most 0640) the new one takes, and its owner
    and group too when run as root. ``rekey`` passes the live key, so the installed layout
    (root:affectra 0640, see docs/appliance.md) survives a ``sudo affectra-edge rekey``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = 0o600
    if like is not None:
        try:
            mode = (stat.S_IMODE(Path(like).stat().st_mode) & 0o640) | 0o600
        except FileNotFoundError:
            like = None
    write_private_file(
        p, (key_hex + "\n").encode("ascii"), mode=mode, replace=replace, owner_from=like
    )


def load_key(key_file: str | os.PathLike, *, may_create: bool) -> DbKey:
    """The key to use: the credential, else the key file (created when ``may_create``)."""
    cred = credential_path(CREDENTIAL_NAME)
    if cred is not None:
        return DbKey(read_key_file(cred), cred, from_credential=True)
    p = Path(key_file)
    if p.exists():
        _warn_if_readable(p)
        return DbKey(read_key_file(p), p)
    if not may_create:
        raise StoreError(
            f"{p}: key file not found (and no $CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME}); "
            "the database cannot be opened without the key it was created with"
        )
    key = new_key_hex()
    try:
        write_key_file(p, key)
    except FileExistsError:
        return DbKey(read_key_file(p), p)  # another process created it first: use theirs
    except OSError as exc:
        raise StoreError(f"{p}: cannot create key file: {exc.strerror or exc}") from None
    logger.info("store: created a new database key in %s (mode 0600)", p)
    return DbKey(key, p)


def _warn_if_readable(p: Path) -> None:
    try:
        mode = p.stat().st_mode
    except OSError:
        return
    # Group read is the installed layout: root:affectra 0640, so that the service user's CLI
    # finds the same key as the service's credential. Anything more is a leak.
    if mode & (stat.S_IRWXO | stat.S_IWGRP | stat.S_IXGRP):
        logger.warning(
            "store: key file %s is accessible to others (mode %o); chmod 640 or 600 it",
            p,
            stat.S_IMODE(mode),
        )


def staged_key_path(key_file: str | os.PathLike) -> Path:
    """Where ``rekey`` stages the new key until the database has been re-encrypted with it."""
    p = Path(key_file)
    return p.with_name(p.name + ".new")
