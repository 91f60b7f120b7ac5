"""Web users: a small JSON file of scrypt hashes with roles ``admin`` and ``viewer``.

The file holds only salted hashes, is replaced atomically (write to a temporary file in the
same directory, fsync, rename) and is created with mode 0600, so a power cut never leaves a
half-written user list and other local users cannot read the hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from affectra_edge.errors import AffectraError
from affectra_edge.fsutil import write_private_file

logger = logging.getLogger(__name__)

Role = Literal["admin", "viewer"]
ROLES: tuple[str, ...] = ("admin", "viewer")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

# scrypt cost: n=2**14, r=8, p=1 needs 16 MiB and ~50 ms on a Pi 4 core — memory-hard enough
# to make offline guessing expensive, cheap enough for a login page.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024


class UserStoreError(AffectraError):
    """The users file cannot be read or written, or a user/password is not acceptable."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    #: :meth:`UserStore.stamp` of the record this was read from ("" when not read from a file)
    stamp: str = field(default="", compare=False, repr=False)


def _stamp(rec: dict[str, str]) -> str:
    """What a login session remembers of its user's record: it changes with the role and
    with every new password (a new salt each time), and tells nothing about the hash."""
    digest = hashlib.sha256(f"{rec['role']}\0{rec['hash']}".encode())
    return digest.hexdigest()[:32]


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        kind, n, r, p, salt, dk = encoded.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(dk)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# Checked against when the user does not exist, so a login for an unknown name costs the same
# time as one for a known name (no user enumeration by timing).
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_username(name: str) -> str:
    if not isinstance(name, str) or not USERNAME_RE.fullmatch(name):
        raise UserStoreError(
            f"invalid user name {name!r}: 1–64 characters of letters, digits and _ . @ -"
        )
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise UserStoreError(f"the password must be {MIN_PASSWORD}–{MAX_PASSWORD} characters long")
    return password


class UserStore:
    """Users in a JSON file: ``{"version": 1, "users": {name: {"role", "hash"}}}``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, str]] = {}
        # what the file looked like when it was last read: a change of any of these means
        # another process (``set-password``) replaced it
        self._seen: tuple[int, int, int] | None = None
        # the same for a file that was refused, and why: not parsed (nor logged) again
        self._refused: tuple[tuple[int, int, int], str] | None = None
        self._load()

    # ---- file ------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._users, self._seen = {}, None
            return
        except OSError as exc:
            raise UserStoreError(f"{self.path}: cannot read users file: {exc}") from None
        seen = (st.st_mtime_ns, st.st_ino, st.st_size)
        if self._seen == seen:
            return
        if self._refused is not None and self._refused[0] == seen:
            raise UserStoreError(self._refused[1])
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            users = doc["users"]
            if not isinstance(users, dict):
                raise TypeError("users must be an object")
            for name, rec in users.items():
                check_username(name)
                if rec.get("role") not in ROLES or not isinstance(rec.get("hash"), str):
                    raise ValueError(f"bad record for {name!r}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UserStoreError) as exc:
            self._refused = (seen, f"{self.path}: not a valid users file: {exc}")
            raise UserStoreError(self._refused[1]) from None
        self._users, self._seen = users, seen

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": 1, "users": self._users}
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        # The new version keeps the old one's owner, group and mode (never readable by
        # others); a first one takes the owner of its directory, the service's state
        # directory, so that `sudo affectra-edge set-password` leaves it readable by the daemon.
        try:
            mode, owner_from = stat.S_IMODE(self.path.stat().st_mode) & 0o660, self.path
        except FileNotFoundError:
            mode, owner_from = 0o600, self.path.parent
        write_private_file(
            self.path, text.encode("utf-8"), mode=mode or 0o600, owner_from=owner_from
        )
        st = self.path.stat()
        self._seen = (st.st_mtime_ns, st.st_ino, st.st_size)

    def reload(self) -> None:
        """Pick up changes made by ``affectra-edge set-password`` while the daemon runs."""
        with self._lock:
            refused = self._refused
            try:
                self._load()
            except UserStoreError:
                if self._refused is not refused:  # once per bad version of the file
                    logger.exception("keeping the previous user list")

    # ---- users -----------------------------------------------------------------------------
    def set_password(self, name: str, password: str, role: Role | None = None) -> User:
        check_username(name)
        check_password(password)
        if role is not None and role not in ROLES:
            raise UserStoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._lock:
            self._load()
            old = self._users.get(name)
            new_role = role or (old["role"] if old else "viewer")
            self._users = {**self._users, name: {"role": new_role, "hash": hash_password(password)}}
            self._save()
        logger.info("password set for web user %s (%s)", name, new_role)
        return User(name, new_role)  # type: ignore[arg-type]

    def delete(self, name: str) -> bool:
        with self._lock:
            self._load()
            if name not in self._users:
                return False
            self._users = {k: v for k, v in self._users.items() if k != name}
            self._save()
            return True

    def get(self, name: str) -> User | None:
        self.reload()
        rec = self._users.get(name)
        return User(name, rec["role"], _stamp(rec)) if rec else None  # type: ignore[arg-type]

    def stamp(self, name: str) -> str | None:
        """A fingerprint of the user's record as the file says now (None: no such user).
        Login sessions compare it on every request, so deleting a user, changing their role
        or setting a new password ends their logins, even when another process did it."""
        self.reload()
        rec = self._users.get(name)
        return _stamp(rec) if rec else None

    def list(self) -> list[User]:
        self.reload()
        return [User(n, r["role"]) for n, r in sorted(self._users.items())]  # type: ignore[arg-type]

    def __len__(self) -> int:
        self.reload()
        return len(self._users)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches; None otherwise (always costs one scrypt)."""
        self.reload()
        rec = self._users.get(name) if isinstance(name, str) else None
        ok = verify_password(password, rec["hash"] if rec else _DUMMY_HASH)
        if rec is None or not ok:
            return None
        return User(name, rec["role"], _stamp(rec))  # type: ignore[arg-type]


def ensure_demo_admin(users: UserStore) -> str:
    """Give ``admin`` a fresh random password (the demo prints it once) and return it."""
    password = secrets.token_urlsafe(12)
    users.set_password("admin", password, role="admin")
    return password
