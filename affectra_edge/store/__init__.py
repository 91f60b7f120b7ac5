"""The encrypted session store (SQLCipher): sessions, the MQTT outbox and settings.

``open_store`` is the one way in: it finds or creates the key, opens or creates the database
(never over an existing file it cannot decrypt), applies migrations, closes sessions that a
crash left open and starts the single writer thread. See :mod:`affectra_edge.store.store`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from affectra_edge.config import StorageConfig
from affectra_edge.errors import StoreError
from affectra_edge.metrics import Registry
from affectra_edge.store.keys import DbKey, load_key, read_key_file, staged_key_path
from affectra_edge.store.store import CSV_COLUMNS, OutboxItem, Store

logger = logging.getLogger(__name__)

__all__ = ["CSV_COLUMNS", "OutboxItem", "Store", "StoreError", "open_store"]


def _db_exists(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def open_store(
    storage: StorageConfig,
    *,
    device_id: str,
    artwork: str = "",
    min_dwell_s: float = 0.0,
    registry: Registry | None = None,
    readonly: bool = False,
) -> Store:
    """Open the store described by ``[storage]``.

    ``readonly=True`` (export, ``db check``) never creates a key or a database, runs no
    migration or recovery and starts no writer, so it is safe next to a running daemon."""
    path = Path(storage.path)
    exists = _db_exists(path)
    if readonly and not exists:
        raise StoreError(
            f"{path}: no database here (nothing recorded yet, or a wrong [storage] path)"
        )
    key = load_key(storage.key_file, may_create=not exists and not readonly)

    def make(k: DbKey) -> Store:
        store = Store(
            path,
            k.hex,
            device_id=device_id,
            artwork=artwork,
            min_dwell_s=min_dwell_s,
            retention_days=storage.retention_days,
            max_sessions=storage.max_sessions,
            retention_interval_s=storage.retention_interval_s,
            outbox_max=storage.outbox_max,
            registry=registry,
            readonly=readonly,
        )
        store._open()
        return store

    try:
        return make(key)
    except StoreError as exc:
        staged = staged_key_path(storage.key_file)
        if key.from_credential or not staged.exists() or "cannot decrypt" not in str(exc):
            raise
        # A rekey was interrupted after the database took the new key but before the key
        # file was replaced: the staged key opens it. Finish the job.
        new = DbKey(read_key_file(staged), staged)
        store = make(new)
        if not readonly:
            os.replace(staged, storage.key_file)
            logger.warning(
                "store: finished an interrupted rekey: %s now holds the new key", storage.key_file
            )
        return store
