"""SQLCipher connections: opening one, the per-thread readers, and the lock that keeps a
second writer away.

The key is handed over raw (``PRAGMA key = "x'…'"``): 256 random bits need no key derivation,
so opening a reader connection costs microseconds instead of a 256 000-round PBKDF2.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import sqlcipher3.dbapi2 as sqlcipher

from affectra_edge.errors import StoreError

logger = logging.getLogger(__name__)

SQLITE_NOTADB = 26
_HEX = re.compile(r"^[0-9a-f]{64}$")

DatabaseError = sqlcipher.DatabaseError
OperationalError = sqlcipher.OperationalError
if TYPE_CHECKING:
    # sqlcipher3 ships no type information; its connections have pysqlite's API, which the
    # standard library's stubs describe.
    from sqlite3 import Connection
else:
    Connection = sqlcipher.Connection

T = TypeVar("T")
#: ids per ``IN (…)``: SQLite before 3.32 allows at most 999 host parameters per statement
MAX_PARAMS = 500


def db_exists(path: Path) -> bool:
    """A database file with content (SQLite leaves an empty file behind a failed first open)."""
    try:
        return path.stat().st_size > 0
    except (FileNotFoundError, NotADirectoryError):
        return False


def chunks(items: Sequence[T]) -> Iterator[tuple[Sequence[T], str]]:
    """``items`` in slices that fit one ``IN (…)``, each with its ``?,?,…`` placeholders."""
    for i in range(0, len(items), MAX_PARAMS):
        part = items[i : i + MAX_PARAMS]
        yield part, ",".join("?" * len(part))


def wrong_key_error(path: str | os.PathLike) -> StoreError:
    return StoreError(f"cannot decrypt {path}: wrong key or not an Affectra database")


def _open_error(path: str | os.PathLike, exc: sqlcipher.DatabaseError) -> StoreError:
    if getattr(exc, "sqlite_errorcode", None) == SQLITE_NOTADB or "not a database" in str(exc):
        return wrong_key_error(path)
    return StoreError(f"cannot open {path}: {exc}")


def _use_key(conn: Connection, key_hex: str) -> None:
    try:
        # SQLCipher ≥ 4.5 logs HMAC failures to stderr; we report the error ourselves.
        conn.execute("PRAGMA cipher_log_level = NONE")
    except sqlcipher.Error:
        pass
    conn.execute(f"PRAGMA key = \"x'{key_hex}'\"")


def verify_key(path: str | os.PathLike, key_hex: str) -> None:
    """Check the key on an existing file through a read-only connection.

    A read-write connection that fails the key check would still checkpoint the WAL into the
    main file when it is closed (SQLite does that on the last close); a read-only one cannot
    write at all, so a wrong key leaves the database and its WAL byte-identical."""
    if not _HEX.fullmatch(key_hex):
        raise ValueError("key must be 64 lower-case hex digits")
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlcipher.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlcipher.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    try:
        _use_key(conn, key_hex)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher.DatabaseError as exc:
        raise _open_error(path, exc) from None
    finally:
        conn.close()


def connect(
    path: str | os.PathLike,
    key_hex: str | None,
    *,
    cache_kib: int = 4096,
    busy_timeout_ms: int = 5000,
) -> Connection:
    """An autocommit connection (``isolation_level=None``: we write our own BEGIN/COMMIT),
    keyed and checked: a wrong key raises :class:`StoreError` before anything is written.

    ``key_hex=None`` opens a plain SQLite file; only the benchmark does that, to show the cost
    of encryption."""
    if key_hex is not None and not _HEX.fullmatch(key_hex):
        raise ValueError("key must be 64 lower-case hex digits")
    try:
        conn = sqlcipher.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
    except sqlcipher.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    try:
        if key_hex is not None:
            _use_key(conn, key_hex)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Reading page 1 is the key check; nothing is written before it succeeds.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # Sorts and temporary indexes stay in memory: no plaintext temp files, ever.
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
    except sqlcipher.DatabaseError as exc:
        conn.close()
        raise _open_error(path, exc) from None
    return conn


class WriterLock:
    """An exclusive ``flock`` on ``<db>.lock``: one writing process per database.

    Recovery closes the sessions it finds open, which would be wrong while another daemon is
    still tracking them, and ``rekey`` must not run under a live writer. The kernel drops the
    lock when the process dies, so a crash never leaves it behind."""

    def __init__(self, db_path: str | os.PathLike):
        p = Path(db_path)
        self.path = p.with_name(p.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = ""
            try:
                other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            except OSError:
                pass
            os.close(fd)
            who = f" (pid {other})" if other else ""
            raise StoreError(
                f"{self.path.with_suffix('')}: in use by another affectra-edge process{who}; "
                "stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


class ReaderPool:
    """One reader connection per thread (web workers, MQTT, the CLI), seeing committed data
    only; WAL lets them read while the writer writes."""

    def __init__(self, path: Path, key_hex: str | None, *, cache_kib: int = 4096):
        self.path = path
        self._key = key_hex
        self._cache_kib = cache_kib
        self._local = threading.local()
        self._conns: list[tuple[threading.Thread, Connection]] = []
        self._lock = threading.Lock()
        self.closed = False

    def get(self) -> Connection:
        if self.closed:
            raise StoreError(f"{self.path}: store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._key, cache_kib=self._cache_kib)
            self._local.conn = conn
            with self._lock:
                # Threads come and go (test clients, a server that spawns per request): close
                # the connections of threads that have ended, so they cannot pile up.
                alive = []
                for thread, c in self._conns:
                    if thread.is_alive():
                        alive.append((thread, c))
                    else:
                        c.close()
                alive.append((threading.current_thread(), conn))
                self._conns = alive
        return conn

    def snapshot(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(conn, *args)``: several SELECTs on one snapshot (a deferred read transaction)."""
        conn = self.get()
        conn.execute("BEGIN")
        try:
            return fn(conn, *args)
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        self.closed = True
        with self._lock:
            conns, self._conns = self._conns, []
        for _thread, c in conns:
            try:
                c.close()
            except Exception:
                pass
