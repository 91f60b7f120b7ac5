"""Opening the store: key → lock → connect → WAL → migrate → recover → writer, in one place.

Never over an existing file it cannot decrypt: a wrong key is found by a read-only connection
before anything is written, and a key is created only for a database that does not exist yet.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from affectra_edge.config import StorageConfig
from affectra_edge.errors import StoreError
from affectra_edge.metrics import Registry
from affectra_edge.store import schema
from affectra_edge.store.db import (
    Connection,
    DatabaseError,
    WriterLock,
    connect,
    db_exists,
    verify_key,
    wrong_key_error,
)
from affectra_edge.store.keys import load_key, read_key_file, staged_key_path
from affectra_edge.store.store import Store

logger = logging.getLogger(__name__)


def open_store(
    storage: StorageConfig,
    *,
    min_dwell_s: float = 0.0,
    registry: Registry | None = None,
    readonly: bool = False,
    device_id: str = "",
    artwork: str = "",
) -> Store:
    """Open the store described by ``[storage]``.

    ``min_dwell_s``: crash recovery discards open sessions shorter than this, as the session
    builder would have. ``device_id`` and ``artwork`` only fill in sessions that arrive
    without their own.

    ``readonly=True`` (export, ``db check``) never creates a key or a database, runs no
    migration or recovery and starts no writer, so it is safe next to a running daemon."""
    path = Path(storage.path)
    try:
        exists = db_exists(path)
    except OSError as exc:
        raise _os_error(path, exc) from None
    if readonly and not exists:
        raise StoreError(
            f"{path}: no database here (nothing recorded yet, or a wrong [storage] path)"
        )
    key = load_key(storage.key_file, may_create=not exists and not readonly)

    def open_with(key_hex: str) -> Store:
        if readonly:
            return _open_readonly(storage, key_hex)
        return open_database(
            storage,
            key_hex,
            min_dwell_s=min_dwell_s,
            registry=registry,
            device_id=device_id,
            artwork=artwork,
        )

    try:
        return open_with(key.hex)
    except StoreError as exc:
        staged = staged_key_path(storage.key_file)
        if key.from_credential or not staged.exists() or "cannot decrypt" not in str(exc):
            raise
        # A rekey was interrupted after the database took the new key but before the key
        # file was replaced: the staged key opens it. Finish the job.
        store = open_with(read_key_file(staged))
        if not readonly:
            try:
                os.replace(staged, storage.key_file)
            except OSError as err:
                store.close()
                raise _os_error(path, err) from None
            logger.warning(
                "store: finished an interrupted rekey: %s now holds the new key", storage.key_file
            )
        return store


def _os_error(path: Path, exc: OSError) -> StoreError:
    """One line naming the file the operating system refused (read-only file system, no
    permission on the state directory, a lock file that is not a file)."""
    what = exc.filename or path
    # mkdir(exist_ok=True) says "File exists" when a file stands where the directory goes
    why = "not a directory" if isinstance(exc, FileExistsError) else exc.strerror or exc
    return StoreError(f"cannot open {path}: {what}: {why}")


def open_database(
    storage: StorageConfig,
    key_hex: str | None,
    *,
    min_dwell_s: float = 0.0,
    registry: Registry | None = None,
    device_id: str = "",
    artwork: str = "",
) -> Store:
    """Open ``storage.path`` for writing with this key (creating or migrating it), recover the
    sessions a crash left open and start the writer.

    ``key_hex=None`` opens a plain SQLite file; only the benchmark does that, to show the cost
    of encryption."""
    path = Path(storage.path)
    existed = db_exists(path)
    lock = WriterLock(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock.acquire()
    except OSError as exc:
        raise _os_error(path, exc) from None
    conn = None
    try:
        if not existed:
            # SQLite would create it 0644; the -wal and -shm files inherit this mode.
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        if existed and key_hex:
            verify_key(path, key_hex)
        conn = connect(path, key_hex, cache_kib=8192)
        version = schema.current_version(conn)
        if existed and version == 0:
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            if tables:
                raise wrong_key_error(path)
        _check_version(path, version, readonly=False)
        if existed:
            quick_check(conn, path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        if schema.migrate(conn):
            logger.info("store: %s at schema version %d", path, schema.LATEST)
        store = Store(
            storage,
            key_hex,
            conn,
            lock=lock,
            registry=registry,
            device_id=device_id,
            artwork=artwork,
        )
    except BaseException as exc:
        if conn is not None:
            conn.close()
        lock.release()
        if isinstance(exc, OSError):
            raise _os_error(path, exc) from None
        if isinstance(exc, DatabaseError):  # e.g. a read-only file system refusing WAL
            raise StoreError(f"cannot open {path}: {exc}") from None
        raise
    try:
        store.recover(min_dwell_s)
    except BaseException:
        store.close()
        raise
    store.start()
    return store


def quick_check(conn: Connection, path: Path) -> None:
    """Refuse a damaged database before anything is written to it.

    The key check reads the first page only, so a file with one bad page used to open as
    "ready", and then every write failed and stayed queued until shutdown dropped them all.
    ``quick_check`` reads every page (seconds for a year of sessions on a Pi): a damaged file
    stops the start with exit 4 and is left as it is for ``db check`` and a backup."""
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    except DatabaseError as exc:
        rows = [str(exc)]
    if rows != ["ok"]:
        more = f" (and {len(rows) - 1} more problem(s))" if len(rows) > 1 else ""
        raise StoreError(
            f"{path}: the database is damaged: {rows[0]}{more}; nothing was started or "
            "changed. Keep the file, restore a backup, or move it aside to start a new one"
        )


def _open_readonly(storage: StorageConfig, key_hex: str) -> Store:
    path = Path(storage.path)
    verify_key(path, key_hex)
    store = Store(storage, key_hex)
    try:
        _check_version(path, store.schema_version(), readonly=True)
    except BaseException:
        store.close()
        raise
    return store


def _check_version(path: Path, version: int, *, readonly: bool) -> None:
    if version > schema.LATEST:
        raise StoreError(
            f"{path}: database schema version {version} is newer than this software "
            f"(version {schema.LATEST}); upgrade affectra-edge"
        )
    # the daemon migrates on start; a reader next to it must not
    if readonly and version < schema.LATEST:
        raise StoreError(
            f"{path}: database schema version {version}, this software reads version "
            f"{schema.LATEST}; start the daemon once to upgrade it"
        )
